//! A room: one task that solely owns its `sfu_core::Room` and its members' channels. Peers,
//! ingress readers and egress writers talk to it through one bounded channel of [`RoomMsg`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use protocol::{ChatMessage, LeaveReason, ParticipantInfo, ServerMessage, TrackInfo, TrackMeta};
use sfu_core::{Codec, Input, ParticipantId, TrackId};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::Registry;
use crate::egress::Egress;
use crate::error::{Result, SfuError};
use crate::links::ParticipantLinks;
use crate::media::CodecSpec;
use crate::meters::RoomMeters;
use crate::participant::PeerCmd;

pub(crate) const ROOM_QUEUE: usize = 4096;

mod health;
mod msg;
mod outputs;
pub(crate) use msg::{JoinOk, RoomMsg};

struct Member {
    wire_id: String,
    name: String,
    events: mpsc::Sender<ServerMessage>,
    peer: mpsc::Sender<PeerCmd>,
    /// Declared by the publisher for tracks not yet open, by `a=msid` track id.
    meta: HashMap<String, TrackMeta>,
    links: Arc<ParticipantLinks>,
}

struct Published {
    publisher: ParticipantId,
    published_at: Instant,
    msid: String,
    info: TrackInfo,
    codec: CodecSpec,
    keyframes: mpsc::Sender<()>,
}

pub(crate) struct RoomTask {
    name: String,
    core: sfu_core::Room<Bytes>,
    members: HashMap<ParticipantId, Member>,
    tracks: HashMap<TrackId, Published>,
    egress: HashMap<(ParticipantId, TrackId), Arc<Egress>>,
    registry: Arc<Registry>,
    meters: Arc<RoomMeters>,
    /// Members still waiting for their first media packet: when they asked to join, and when a
    /// track first became available to them.
    awaiting_media: HashMap<ParticipantId, (Instant, Option<Instant>)>,
    generation: u64,
    /// Recent chat, oldest first, handed to whoever joins.
    chat: VecDeque<ChatMessage>,
    /// RTCP (lost, expected) totals at the last few ticks, oldest first.
    loss_window: VecDeque<(u64, u64)>,
}

/// Chat messages a room keeps for later joiners.
const CHAT_HISTORY: usize = 100;

impl RoomTask {
    /// Starts a room task; it ends, and leaves the registry, when its last member leaves.
    pub(crate) fn spawn(
        name: String,
        registry: Arc<Registry>,
        generation: u64,
        meters: Arc<RoomMeters>,
    ) -> mpsc::Sender<RoomMsg> {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        let task = RoomTask {
            core: sfu_core::Room::new(registry.config.room.clone()),
            name: name.clone(),
            members: HashMap::new(),
            tracks: HashMap::new(),
            egress: HashMap::new(),
            registry,
            meters,
            awaiting_media: HashMap::new(),
            generation,
            chat: VecDeque::new(),
            loss_window: VecDeque::new(),
        };
        tokio::spawn(task.run(rx).instrument(info_span!("room", room = %name)));
        tx
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoomMsg>) {
        info!("room opened");
        self.registry.rooms_open_delta(1);
        let mut ticks = tokio::time::interval(health::TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.core.poll_timeout();
            let msg = tokio::select! {
                msg = rx.recv() => msg,
                _ = sleep_until(deadline) => {
                    self.core.handle_input(now(), Input::Timeout);
                    self.drain_outputs();
                    continue;
                }
                _ = ticks.tick() => {
                    self.tick();
                    continue;
                }
            };
            let Some(msg) = msg else { break };
            self.handle(msg);
            if self.members.is_empty() && self.tracks.is_empty() {
                // Leave the registry first, so no new join can find this task, then refuse
                // whatever joins raced in.
                self.registry.remove_room(&self.name, self.generation);
                rx.close();
                while let Some(msg) = rx.recv().await {
                    if let RoomMsg::Join { reply, .. } = msg {
                        let _ = reply.send(Err(SfuError::Closed));
                    }
                }
                break;
            }
        }
        for e in self.egress.values() {
            e.close();
        }
        self.publish_core_drops();
        self.registry.rooms_open_delta(-1);
        info!("room closed");
    }

    fn handle(&mut self, msg: RoomMsg) {
        match msg {
            RoomMsg::Rtp {
                track,
                kind,
                mut meta,
                payload,
            } => {
                self.registry.received(&self.meters, kind, payload.len());
                // A shared screen's sound is not its presenter talking.
                if meta.audio_level.is_some()
                    && self
                        .tracks
                        .get(&track)
                        .is_some_and(|t| t.info.source == protocol::TrackSource::ScreenAudio)
                {
                    meta.audio_level = None;
                }
                self.core.handle_input(
                    now(),
                    Input::Rtp {
                        track,
                        meta,
                        payload,
                    },
                );
            }
            RoomMsg::Join {
                name,
                capacity,
                requested_at,
                events,
                peer,
                links,
                reply,
            } => {
                let member = Member {
                    wire_id: crate::wire_id(),
                    name,
                    events,
                    peer,
                    meta: HashMap::new(),
                    links,
                };
                let _ = reply.send(self.join(member, capacity, requested_at));
            }
            RoomMsg::Leave { participant } => self.leave(participant),
            RoomMsg::TrackMeta {
                participant,
                tracks,
            } => {
                if let Some(m) = self.members.get_mut(&participant) {
                    for t in tracks {
                        m.meta.insert(t.track_id.clone(), t);
                    }
                }
            }
            RoomMsg::TrackOpened {
                publisher,
                track,
                msid,
                codec,
                keyframes,
            } => self.track_opened(publisher, track, msid, codec, keyframes),
            RoomMsg::TrackEnded { track } => self.track_ended(track),
            RoomMsg::Mute {
                participant,
                msid,
                muted,
            } => self.mute(participant, msid, muted, false),
            RoomMsg::AdminMute { track, reply } => {
                let found = self
                    .tracks
                    .values()
                    .find(|t| t.info.id == track)
                    .map(|t| (t.publisher, t.msid.clone()));
                if let Some((publisher, msid)) = &found {
                    info!(%track, "track muted by an admin");
                    self.mute(*publisher, msid.clone(), true, true);
                }
                let _ = reply.send(found.is_some());
            }
            RoomMsg::Unpublish { participant, msid } => {
                let found = self
                    .tracks
                    .iter()
                    .find(|(_, t)| t.publisher == participant && t.msid == msid)
                    .map(|(id, _)| *id);
                if let Some(id) = found {
                    self.track_ended(id);
                }
            }
            RoomMsg::Chat { participant, text } => self.chat(participant, text),
            RoomMsg::SubscriptionReady {
                subscriber,
                track,
                ssrc,
                egress,
            } => {
                if self.tracks.contains_key(&track) && self.members.contains_key(&subscriber) {
                    self.egress.insert((subscriber, track), egress);
                    self.count_subscriptions();
                    self.core.handle_input(
                        now(),
                        Input::SubscriptionReady {
                            subscriber,
                            track,
                            ssrc,
                        },
                    );
                } else {
                    egress.close();
                }
            }
            RoomMsg::KeyframeRequest { subscriber, track } => {
                self.registry.count(|c| &c.keyframe_requests_received);
                self.core
                    .handle_input(now(), Input::KeyframeRequest { subscriber, track })
            }
            RoomMsg::Nack {
                subscriber,
                track,
                pairs,
            } => {
                self.registry.count(|c| &c.nacks_received);
                self.core.handle_input(
                    now(),
                    Input::Nack {
                        subscriber,
                        track,
                        pairs,
                    },
                )
            }
            RoomMsg::Close { reason } => {
                let ids: Vec<ParticipantId> = self.members.keys().copied().collect();
                for id in ids {
                    self.kick(id, reason);
                }
            }
            RoomMsg::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            RoomMsg::Remove { participant, reply } => {
                let found = self
                    .members
                    .iter()
                    .find(|(_, m)| m.wire_id == participant)
                    .map(|(id, _)| *id);
                if let Some(id) = found {
                    info!(%participant, "removed by an admin");
                    self.kick(id, LeaveReason::Removed);
                }
                let _ = reply.send(found.is_some());
            }
        }
        self.drain_outputs();
    }

    fn join(
        &mut self,
        member: Member,
        capacity: Option<usize>,
        requested_at: Instant,
    ) -> Result<JoinOk> {
        let server_max = self.registry.config.max_participants_per_room;
        let max = capacity.map_or(server_max, |c| c.min(server_max));
        self.meters
            .capacity
            .store(max as u64, std::sync::atomic::Ordering::Relaxed);
        if self.members.len() >= max {
            return Err(SfuError::RoomFull(max));
        }
        let participant = crate::next_participant_id();
        let wire_id = member.wire_id.clone();
        let others: Vec<ParticipantInfo> = self
            .members
            .keys()
            .map(|id| self.participant_info(*id))
            .collect();
        let info = ParticipantInfo {
            id: wire_id.clone(),
            name: member.name.clone(),
            tracks: vec![],
        };
        self.broadcast(None, ServerMessage::ParticipantJoined { participant: info });
        self.members.insert(participant, member);
        self.registry.participants_delta(&self.meters, 1);
        self.awaiting_media
            .insert(participant, (requested_at, None));
        self.core.handle_input(now(), Input::Join(participant));
        self.tell_speakers(participant);
        debug!(participant = %wire_id, "joined");
        Ok(JoinOk {
            participant,
            wire_id,
            others,
            chat: self.chat.iter().cloned().collect(),
        })
    }

    /// Relays a chat message to everyone, its sender included, and keeps it for later joiners.
    fn chat(&mut self, participant: ParticipantId, text: String) {
        let Some(m) = self.members.get(&participant) else {
            return;
        };
        let message = ChatMessage {
            id: crate::wire_id(),
            participant_id: m.wire_id.clone(),
            name: m.name.clone(),
            text,
            sent_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            ..ChatMessage::default()
        };
        if self.chat.len() >= CHAT_HISTORY {
            self.chat.pop_front();
        }
        self.chat.push_back(message.clone());
        self.broadcast(None, ServerMessage::Chat { message });
    }

    fn participant_info(&self, id: ParticipantId) -> ParticipantInfo {
        let m = &self.members[&id];
        let mut tracks: Vec<(TrackId, TrackInfo)> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.publisher == id)
            .map(|(tid, t)| (*tid, t.info.clone()))
            .collect();
        tracks.sort_by_key(|(tid, _)| *tid);
        ParticipantInfo {
            id: m.wire_id.clone(),
            name: m.name.clone(),
            tracks: tracks.into_iter().map(|(_, t)| t).collect(),
        }
    }

    fn leave(&mut self, id: ParticipantId) {
        if !self.members.contains_key(&id) {
            return;
        }
        // The leaver's tracks end first, while it is still a member, so that everyone is told
        // `track_unpublished` for each whether its media stopped before or after the leave.
        let owned: Vec<TrackId> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.publisher == id)
            .map(|(tid, _)| *tid)
            .collect();
        for t in owned {
            self.track_ended(t);
        }
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        self.registry.participants_delta(&self.meters, -1);
        self.awaiting_media.remove(&id);
        self.core.handle_input(now(), Input::Leave(id));
        self.egress.retain(|(sub, _), e| {
            if *sub == id {
                e.close();
            }
            *sub != id
        });
        self.count_subscriptions();
        let _ = member.peer.try_send(PeerCmd::RoomGone);
        self.broadcast(
            None,
            ServerMessage::ParticipantLeft {
                participant_id: member.wire_id.clone(),
            },
        );
        debug!(participant = %member.wire_id, "left");
    }

    /// Removes a member on the server's initiative, telling it why.
    fn kick(&mut self, id: ParticipantId, reason: LeaveReason) {
        if let Some(m) = self.members.get(&id) {
            let _ = m.events.try_send(ServerMessage::Leave { reason });
        }
        self.leave(id);
    }

    fn track_opened(
        &mut self,
        publisher: ParticipantId,
        track: TrackId,
        msid: String,
        codec: CodecSpec,
        keyframes: mpsc::Sender<()>,
    ) {
        let Some(member) = self.members.get(&publisher) else {
            return;
        };
        let max = self.registry.config.max_tracks_per_participant;
        let count = self
            .tracks
            .values()
            .filter(|t| t.publisher == publisher)
            .count();
        if count >= max {
            let err = SfuError::TooManyTracks(max);
            let _ = member
                .events
                .try_send(ServerMessage::error(err.code(), err.to_string()));
            return;
        }
        let meta = member.meta.get(&msid).cloned();
        let kind = codec.kind();
        let info = TrackInfo {
            id: crate::wire_id(),
            kind,
            source: meta.as_ref().map(|m| m.source).unwrap_or_default(),
            muted: meta.as_ref().is_some_and(|m| m.muted),
            codec: codec.mime_type.clone(),
        };
        let participant_id = member.wire_id.clone();
        let core_codec = Codec::from_mime(&codec.mime_type, codec.clock_rate);
        self.tracks.insert(
            track,
            Published {
                publisher,
                published_at: now(),
                msid,
                info: info.clone(),
                codec,
                keyframes,
            },
        );
        self.registry.tracks_delta(&self.meters, kind, 1);
        self.core.handle_input(
            now(),
            Input::Publish {
                publisher,
                track,
                codec: core_codec,
            },
        );
        if info.muted {
            self.core
                .handle_input(now(), Input::SetMuted { track, muted: true });
        }
        self.broadcast(
            Some(publisher),
            ServerMessage::TrackPublished {
                participant_id,
                track: info,
            },
        );
    }

    fn track_ended(&mut self, track: TrackId) {
        let Some(t) = self.tracks.remove(&track) else {
            return;
        };
        self.registry.tracks_delta(&self.meters, t.info.kind, -1);
        self.core.handle_input(now(), Input::Unpublish(track));
        self.egress.retain(|(_, tid), e| {
            if *tid == track {
                e.close();
            }
            *tid != track
        });
        self.count_subscriptions();
        if let Some(m) = self.members.get(&t.publisher) {
            let msg = ServerMessage::TrackUnpublished {
                participant_id: m.wire_id.clone(),
                track_id: t.info.id.clone(),
            };
            self.broadcast(Some(t.publisher), msg);
        }
    }

    /// Mutes or unmutes a track; everyone else is told, and the publisher too when it was not
    /// their own doing (`tell_publisher`: an admin muted it), by its own id for the track.
    fn mute(
        &mut self,
        participant: ParticipantId,
        msid: String,
        muted: bool,
        tell_publisher: bool,
    ) {
        let found = self
            .tracks
            .iter_mut()
            .find(|(_, t)| t.publisher == participant && t.msid == msid);
        let Some((id, t)) = found else {
            // Not open yet: remember it for when it opens.
            if let Some(m) = self.members.get_mut(&participant) {
                let entry = m.meta.entry(msid.clone()).or_insert(TrackMeta {
                    track_id: msid,
                    source: Default::default(),
                    muted,
                });
                entry.muted = muted;
            }
            return;
        };
        let id = *id;
        t.info.muted = muted;
        let msg = ServerMessage::TrackMuted {
            participant_id: self
                .members
                .get(&participant)
                .map(|m| m.wire_id.clone())
                .unwrap_or_default(),
            track_id: t.info.id.clone(),
            muted,
        };
        self.core
            .handle_input(now(), Input::SetMuted { track: id, muted });
        self.broadcast(Some(participant), msg);
        if tell_publisher && let Some(m) = self.members.get(&participant) {
            let _ = m
                .events
                .try_send(ServerMessage::MutedByAdmin { track_id: msid });
        }
    }

    /// Sends an event to every member but `except`. A member whose event queue is full is too
    /// far behind to follow the room, and is removed.
    fn broadcast(&mut self, except: Option<ParticipantId>, msg: ServerMessage) {
        let mut stuck = Vec::new();
        for (id, m) in &self.members {
            if Some(*id) == except {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = m.events.try_send(msg.clone()) {
                stuck.push(*id);
            }
        }
        for id in stuck {
            warn!("participant's event queue is full; removing it");
            self.leave(id);
        }
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
