//! A participant's task: owns its publish and subscribe peer connections, negotiates them, and
//! keeps the subscribe side in step with the room's routing decisions.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use protocol::{IceCandidate, PcTarget, ServerMessage, TrackMeta};
use sfu_core::{ParticipantId, TrackId};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::Registry;
use crate::egress::Egress;
use crate::error::{Result, SfuError};
use crate::links::{LinkStats, ParticipantLinks};
use crate::media::{
    CodecSpec, ForwardTrack, IngressCtx, MediaPeer, PeerEvent, QualityCtx, spawn_writer,
};
use crate::meters::RoomMeters;
use crate::room::RoomMsg;

pub(crate) const PEER_QUEUE: usize = 1024;

/// Commands a participant task receives, from its session and from its room.
pub(crate) enum PeerCmd {
    PublishOffer {
        sdp: String,
        tracks: Vec<TrackMeta>,
        reply: oneshot::Sender<Result<()>>,
    },
    SubscribeAnswer {
        sdp: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Candidate {
        target: PcTarget,
        candidate: IceCandidate,
        reply: oneshot::Sender<Result<()>>,
    },
    AddTrack {
        track: TrackId,
        stream_id: String,
        track_id: String,
        codec: CodecSpec,
    },
    RemoveTrack {
        track: TrackId,
    },
    /// The room has removed this participant.
    RoomGone,
    /// The client leaves.
    Leave,
}

pub(crate) struct ParticipantTask {
    pub(crate) id: ParticipantId,
    pub(crate) room: mpsc::Sender<RoomMsg>,
    pub(crate) events: mpsc::Sender<ServerMessage>,
    pub(crate) registry: Arc<Registry>,
    links: Arc<ParticipantLinks>,
    meters: Arc<RoomMeters>,
    publish: Option<MediaPeer>,
    subscribe: Option<MediaPeer>,
    peer_tx: mpsc::Sender<PeerEvent>,
    peer_rx: mpsc::Receiver<PeerEvent>,
    forwards: HashMap<TrackId, (ForwardTrack, Arc<Egress>)>,
    /// Added since the last offer was sent.
    pending: Vec<TrackId>,
    /// In the offer now awaiting its answer.
    offered: Vec<TrackId>,
    awaiting_answer: bool,
    dirty: bool,
    /// Shared with the ingress readers: see [`IngressCtx::audio_level_id`].
    audio_level_id: Arc<AtomicU8>,
}

impl ParticipantTask {
    pub(crate) fn new(
        id: ParticipantId,
        room: mpsc::Sender<RoomMsg>,
        events: mpsc::Sender<ServerMessage>,
        registry: Arc<Registry>,
        links: Arc<ParticipantLinks>,
        meters: Arc<RoomMeters>,
    ) -> Self {
        let (peer_tx, peer_rx) = mpsc::channel(256);
        ParticipantTask {
            id,
            room,
            events,
            registry,
            links,
            meters,
            publish: None,
            subscribe: None,
            peer_tx,
            peer_rx,
            forwards: HashMap::new(),
            pending: Vec::new(),
            offered: Vec::new(),
            awaiting_answer: false,
            dirty: false,
            audio_level_id: Arc::default(),
        }
    }

    pub(crate) async fn run(
        mut self,
        mut cmds: mpsc::Receiver<PeerCmd>,
        mut session_gone: oneshot::Receiver<()>,
    ) {
        'outer: loop {
            tokio::select! {
                cmd = cmds.recv() => {
                    let Some(cmd) = cmd else { break };
                    if !self.handle(cmd).await {
                        break;
                    }
                }
                Some(ev) = self.peer_rx.recv() => {
                    if !self.peer_event(ev).await {
                        break;
                    }
                }
                _ = &mut session_gone => break,
            }
            // Take everything already queued before renegotiating, so that a burst of room
            // changes costs one offer.
            while let Ok(cmd) = cmds.try_recv() {
                if !self.handle(cmd).await {
                    break 'outer;
                }
            }
            if self.dirty
                && !self.awaiting_answer
                && let Err(e) = self.send_offer().await
            {
                warn!("subscribe offer failed: {e}");
                break;
            }
        }
        self.shutdown().await;
    }

    /// Handles one command; false when the participant is done.
    async fn handle(&mut self, cmd: PeerCmd) -> bool {
        match cmd {
            PeerCmd::PublishOffer { sdp, tracks, reply } => {
                let r = self.publish_offer(&sdp, tracks).await;
                let _ = reply.send(r);
            }
            PeerCmd::SubscribeAnswer { sdp, reply } => {
                let r = self.subscribe_answer(&sdp).await;
                let _ = reply.send(r);
            }
            PeerCmd::Candidate {
                target,
                candidate,
                reply,
            } => {
                let peer = match target {
                    PcTarget::Publish => self.publish.as_ref(),
                    PcTarget::Subscribe => self.subscribe.as_ref(),
                };
                let r = match peer {
                    Some(p) => p.add_candidate(&candidate).await,
                    None => Err(SfuError::OutOfOrder(
                        "a candidate came before its connection was negotiated",
                    )),
                };
                let _ = reply.send(r);
            }
            PeerCmd::AddTrack {
                track,
                stream_id,
                track_id,
                codec,
            } => {
                if let Err(e) = self.add_track(track, &stream_id, &track_id, &codec).await {
                    warn!(track = track.0, "could not add a subscription: {e}");
                }
            }
            PeerCmd::RemoveTrack { track } => {
                if let Some((ft, egress)) = self.forwards.remove(&track) {
                    egress.close();
                    if let Some(sub) = &self.subscribe
                        && let Err(e) = sub.remove_forward_track(&ft).await
                    {
                        warn!(track = track.0, "could not remove a subscription: {e}");
                    }
                    self.pending.retain(|t| *t != track);
                    self.dirty = true;
                }
            }
            PeerCmd::RoomGone | PeerCmd::Leave => return false,
        }
        true
    }

    async fn publish_offer(&mut self, sdp: &str, tracks: Vec<TrackMeta>) -> Result<()> {
        crate::media::check_sections(sdp, self.registry.config.max_tracks_per_participant)?;
        let level_id = crate::media::audio_level_id(sdp).unwrap_or(0);
        self.audio_level_id.store(level_id, Ordering::Relaxed);
        if self.publish.is_none() {
            let ingress = IngressCtx {
                room: self.room.clone(),
                participant: self.id,
                links: Arc::clone(&self.links),
                audio_level_id: Arc::clone(&self.audio_level_id),
            };
            let peer = MediaPeer::new(
                &self.registry.config,
                &self.registry.ports,
                &self.registry.counters,
                PcTarget::Publish,
                self.peer_tx.clone(),
                Some(ingress),
                self.quality(&self.links.publish),
            )
            .await?;
            self.publish = Some(peer);
        }
        if !tracks.is_empty() {
            let msg = RoomMsg::TrackMeta {
                participant: self.id,
                tracks,
            };
            self.room.send(msg).await.map_err(|_| SfuError::Closed)?;
        }
        // Invariant: set just above when it was None.
        let peer = self.publish.as_ref().expect("publish peer exists");
        let answer = peer.answer(sdp).await?;
        // Sent from here, ahead of any trickled candidate, so the client sees them in order.
        self.events
            .send(ServerMessage::PublishAnswer { sdp: answer })
            .await
            .map_err(|_| SfuError::Closed)
    }

    async fn subscribe_answer(&mut self, sdp: &str) -> Result<()> {
        let Some(sub) = self.subscribe.as_ref() else {
            return Err(SfuError::OutOfOrder(
                "no subscribe offer is awaiting an answer",
            ));
        };
        if !self.awaiting_answer {
            return Err(SfuError::OutOfOrder(
                "no subscribe offer is awaiting an answer",
            ));
        }
        sub.apply_answer(sdp).await?;
        self.awaiting_answer = false;
        for track in std::mem::take(&mut self.offered) {
            let Some((ft, egress)) = self.forwards.get(&track) else {
                continue;
            };
            match sub.payload_type(ft).await {
                Some(pt) => {
                    egress.set_payload_type(pt);
                    let msg = RoomMsg::SubscriptionReady {
                        subscriber: self.id,
                        track,
                        ssrc: ft.ssrc,
                        egress: Arc::clone(egress),
                    };
                    self.room.send(msg).await.map_err(|_| SfuError::Closed)?;
                }
                None => warn!(
                    track = track.0,
                    "subscriber accepted no codec for this track"
                ),
            }
        }
        Ok(())
    }

    async fn add_track(
        &mut self,
        track: TrackId,
        stream_id: &str,
        track_id: &str,
        codec: &CodecSpec,
    ) -> Result<()> {
        if self.subscribe.is_none() {
            let peer = MediaPeer::new(
                &self.registry.config,
                &self.registry.ports,
                &self.registry.counters,
                PcTarget::Subscribe,
                self.peer_tx.clone(),
                None,
                self.quality(&self.links.subscribe),
            )
            .await?;
            self.subscribe = Some(peer);
        }
        // Invariant: set just above when it was None.
        let sub = self.subscribe.as_ref().expect("subscribe peer exists");
        let ft = sub.add_forward_track(stream_id, track_id, codec).await?;
        let egress = Arc::new(Egress::new(self.registry.config.egress_queue_packets));
        spawn_writer(
            Arc::clone(&ft.local),
            Arc::clone(&egress),
            self.room.clone(),
            self.id,
            track,
            Arc::clone(&self.links),
        );
        self.forwards.insert(track, (ft, egress));
        self.pending.push(track);
        self.dirty = true;
        Ok(())
    }

    fn quality(&self, stats: &Arc<LinkStats>) -> QualityCtx {
        QualityCtx {
            stats: Arc::clone(stats),
            room: Arc::clone(&self.meters),
            observer: self.registry.observer().cloned(),
        }
    }

    async fn send_offer(&mut self) -> Result<()> {
        let Some(sub) = self.subscribe.as_ref() else {
            self.dirty = false;
            return Ok(());
        };
        let sdp = sub.offer().await?;
        self.offered.append(&mut self.pending);
        self.awaiting_answer = true;
        self.dirty = false;
        self.events
            .send(ServerMessage::SubscribeOffer { sdp })
            .await
            .map_err(|_| SfuError::Closed)
    }

    /// Handles a peer connection's report; false when the participant is done.
    async fn peer_event(&mut self, ev: PeerEvent) -> bool {
        match ev {
            PeerEvent::Candidate(target, candidate) => {
                let _ = self
                    .events
                    .send(ServerMessage::Candidate { target, candidate })
                    .await;
                true
            }
            PeerEvent::Connected(target) => {
                debug!(?target, "connected");
                if target == PcTarget::Subscribe {
                    // Packets sent before the connection's keys were ready are lost, the first
                    // keyframe among them: ask for fresh ones now that it can receive.
                    for (track, (ft, _)) in &self.forwards {
                        if ft.is_video() {
                            let msg = RoomMsg::KeyframeRequest {
                                subscriber: self.id,
                                track: *track,
                            };
                            let _ = self.room.try_send(msg);
                        }
                    }
                }
                true
            }
            PeerEvent::Down(target) => {
                debug!(?target, "connection down");
                false
            }
        }
    }

    async fn shutdown(&mut self) {
        for (_, (_, egress)) in self.forwards.drain() {
            egress.close();
        }
        if let Some(p) = self.publish.take() {
            p.close().await;
        }
        if let Some(s) = self.subscribe.take() {
            s.close().await;
        }
        let _ = self
            .room
            .send(RoomMsg::Leave {
                participant: self.id,
            })
            .await;
        debug!("participant task ended");
    }
}
