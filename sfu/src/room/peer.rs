//! A member's two peer connections as the room drives them: the publish side answers the
//! client's offers and reads its tracks; the subscribe side offers what the room forwards, one
//! offer at a time, a burst of changes folded into the next one.

use std::sync::Arc;

use protocol::{IceCandidate, PcTarget, ServerMessage, TrackIds, TrackMeta};
use rtc::peer_connection::transport::RTCIceCandidateInit;
use sfu_core::{Input, ParticipantId, TrackId};
use tracing::{debug, warn};

use super::{Member, Room, now};
use crate::engine::conn::ConnEvent;
use crate::engine::conns::{Conns, Owner};
use crate::engine::demux::ConnId;
use crate::error::{Result, SfuError};
use crate::links::{LinkState, LinkStats};
use crate::media::quality::QualityCtx;
use crate::media::{check_codecs, check_sections, sending_track_ids};

/// The subscribe side's negotiation.
#[derive(Debug, Default)]
pub(super) struct Offers {
    /// Added since the last offer was sent.
    pending: Vec<TrackId>,
    /// In the offer now awaiting its answer.
    offered: Vec<TrackId>,
    awaiting_answer: bool,
    /// Something changed since the last offer.
    dirty: bool,
}

const NO_OFFER: &str = "no subscribe offer is awaiting an answer";
const NO_SUBSCRIBE: &str = "no subscribe connection to restart yet";

impl Room {
    fn quality(&self, stats: &Arc<LinkStats>) -> QualityCtx {
        QualityCtx {
            stats: Arc::clone(stats),
            room: Arc::clone(&self.meters),
            observer: self.registry.observer().cloned(),
        }
    }

    /// The member's connection on `target`, opened if it has none.
    fn conn_of(
        &mut self,
        participant: ParticipantId,
        target: PcTarget,
        conns: &mut Conns,
    ) -> Result<ConnId> {
        let m = self.members.get(&participant).ok_or(SfuError::Closed)?;
        let (have, stats) = match target {
            PcTarget::Publish => (m.publish, &m.links.publish),
            PcTarget::Subscribe => (m.subscribe, &m.links.subscribe),
        };
        if let Some(id) = have {
            return Ok(id);
        }
        let quality = self.quality(stats);
        let owner = Owner {
            room: self.key,
            participant,
            target,
        };
        let id = conns.open(owner, quality, now())?;
        // Invariant: looked up above, and nothing removed it since.
        let m = self.members.get_mut(&participant).expect("member exists");
        match target {
            PcTarget::Publish => m.publish = Some(id),
            PcTarget::Subscribe => m.subscribe = Some(id),
        }
        Ok(id)
    }

    pub(super) fn publish_offer(
        &mut self,
        participant: ParticipantId,
        sdp: &str,
        tracks: Vec<TrackMeta>,
        conns: &mut Conns,
    ) -> Result<()> {
        check_sections(sdp, self.registry.config.max_tracks_per_participant)?;
        check_codecs(sdp)?;
        let id = self.conn_of(participant, PcTarget::Publish, conns)?;
        let sending = sending_track_ids(sdp);
        if let Some(m) = self.members.get_mut(&participant) {
            for t in tracks {
                m.meta.insert(t.track_id.clone(), t);
            }
            m.ids.retain(|msid, _| sending.contains(msid));
            for msid in &sending {
                m.ids.entry(msid.clone()).or_insert_with(crate::wire_id);
            }
        }
        let answer = conns.answer_on(id, sdp, now())?;
        let ended = conns.get(id).ok_or(SfuError::Closed)?.ended_tracks();
        for track in ended {
            self.track_ended(track, conns);
        }
        let m = self.members.get(&participant).ok_or(SfuError::Closed)?;
        let tracks = sending
            .into_iter()
            .filter_map(|track_id| {
                let id = m.ids.get(&track_id)?.clone();
                Some(TrackIds { track_id, id })
            })
            .collect();
        m.events
            .try_send(ServerMessage::PublishAnswer {
                sdp: crate::media::with_opus_dtx(&answer),
                tracks,
            })
            .map_err(|_| SfuError::Closed)
    }

    /// The client restarts ICE on its subscribe connection (its network changed): the next
    /// subscribe offer, sent as the room settles, carries new credentials.
    pub(super) fn restart_ice(
        &mut self,
        participant: ParticipantId,
        conns: &mut Conns,
    ) -> Result<()> {
        let m = self.members.get(&participant).ok_or(SfuError::Closed)?;
        let id = m.subscribe.ok_or(SfuError::OutOfOrder(NO_SUBSCRIBE))?;
        conns.get(id).ok_or(SfuError::Closed)?.restart_ice();
        self.changed(participant, |_| {});
        Ok(())
    }

    pub(super) fn subscribe_answer(
        &mut self,
        participant: ParticipantId,
        sdp: &str,
        conns: &mut Conns,
    ) -> Result<()> {
        let m = self.members.get_mut(&participant).ok_or(SfuError::Closed)?;
        let (Some(id), true) = (m.subscribe, m.offers.awaiting_answer) else {
            return Err(SfuError::OutOfOrder(NO_OFFER));
        };
        let conn = conns.get(id).ok_or(SfuError::Closed)?;
        conn.apply_answer(sdp, now())?;
        m.offers.awaiting_answer = false;
        let offered = std::mem::take(&mut m.offers.offered);
        if m.offers.dirty {
            self.unsettled.push(participant);
        }
        for track in offered {
            let Some(ssrc) = conn.send_ssrc(track) else {
                continue;
            };
            if conn.payload_type(track).is_none() {
                warn!(
                    track = track.0,
                    "subscriber accepted no codec for this track"
                );
                continue;
            }
            if self.tracks.contains_key(&track) {
                self.ready.insert((participant, track));
                self.core.handle_input(
                    now(),
                    Input::SubscriptionReady {
                        subscriber: participant,
                        track,
                        ssrc,
                    },
                );
            }
        }
        self.count_subscriptions();
        Ok(())
    }

    pub(super) fn candidate(
        &mut self,
        participant: ParticipantId,
        target: PcTarget,
        cand: &IceCandidate,
        conns: &mut Conns,
    ) -> Result<()> {
        let m = self.members.get(&participant).ok_or(SfuError::Closed)?;
        let id = match target {
            PcTarget::Publish => m.publish,
            PcTarget::Subscribe => m.subscribe,
        };
        let conn = id.and_then(|id| conns.get(id)).ok_or(SfuError::OutOfOrder(
            "a candidate came before its connection was negotiated",
        ))?;
        if !conn.has_remote_description() {
            return Err(SfuError::OutOfOrder(
                "a candidate came before the description it belongs to",
            ));
        }
        if let Some(mid) = &cand.sdp_mid
            && !conn.has_mid(mid)
        {
            let shown: String = mid.chars().take(32).collect();
            return Err(SfuError::InvalidCandidate(format!(
                "no transceiver with mid {shown:?} on the {target:?} connection"
            )));
        }
        if cand.candidate.trim().is_empty() {
            // End-of-candidates: nothing to add.
            return Ok(());
        }
        conn.add_remote_candidate(RTCIceCandidateInit {
            candidate: cand.candidate.clone(),
            sdp_mid: cand.sdp_mid.clone(),
            sdp_mline_index: cand.sdp_m_line_index,
            username_fragment: cand.username_fragment.clone(),
            url: None,
        })
    }

    /// Adds a sending track toward `subscriber` for `track`, offered with its next offer.
    pub(super) fn add_subscription(
        &mut self,
        subscriber: ParticipantId,
        track: TrackId,
        stream_id: String,
        conns: &mut Conns,
    ) {
        let Some(t) = self.tracks.get(&track) else {
            return;
        };
        let (track_id, codec) = (t.info.id.clone(), t.codec.clone());
        let added = self
            .conn_of(subscriber, PcTarget::Subscribe, conns)
            .and_then(|id| {
                conns
                    .get(id)
                    .ok_or(SfuError::Closed)?
                    .add_send_track(track, &stream_id, &track_id, &codec)
            });
        match added {
            Ok(()) => self.changed(subscriber, |o| o.pending.push(track)),
            Err(e) => warn!(track = track.0, "could not add a subscription: {e}"),
        }
    }

    pub(super) fn remove_subscription(
        &mut self,
        subscriber: ParticipantId,
        track: TrackId,
        conns: &mut Conns,
    ) {
        self.ready.remove(&(subscriber, track));
        let Some(id) = self.members.get(&subscriber).and_then(|m| m.subscribe) else {
            return;
        };
        if let Some(conn) = conns.get(id)
            && let Err(e) = conn.remove_send_track(track)
        {
            warn!(track = track.0, "could not remove a subscription: {e}");
        }
        self.changed(subscriber, |o| o.pending.retain(|t| *t != track));
    }

    fn changed(&mut self, subscriber: ParticipantId, f: impl FnOnce(&mut Offers)) {
        if let Some(m) = self.members.get_mut(&subscriber) {
            f(&mut m.offers);
            if !m.offers.dirty {
                m.offers.dirty = true;
                self.unsettled.push(subscriber);
            }
        }
    }

    /// Sends a subscribe offer to each member whose subscriptions changed and who is not
    /// waiting on an answer already.
    pub(super) fn send_offers(&mut self, conns: &mut Conns) {
        let mut failed = Vec::new();
        for p in std::mem::take(&mut self.unsettled) {
            let Some(m) = self.members.get_mut(&p) else {
                continue;
            };
            if !m.offers.dirty || m.offers.awaiting_answer {
                continue;
            }
            let Some(id) = m.subscribe.filter(|id| conns.owner(*id).is_some()) else {
                m.offers.dirty = false;
                continue;
            };
            match conns.offer_on(id, now()) {
                Ok(sdp) => {
                    let o = &mut m.offers;
                    o.offered.append(&mut o.pending);
                    o.awaiting_answer = true;
                    o.dirty = false;
                    if m.events
                        .try_send(ServerMessage::SubscribeOffer { sdp })
                        .is_err()
                    {
                        failed.push(p);
                    }
                }
                Err(e) => {
                    warn!(participant = %m.wire_id, "subscribe offer failed: {e}");
                    failed.push(p);
                }
            }
        }
        for p in failed {
            self.leave(p, conns);
        }
    }

    /// Takes in what its members' connections `ready` have to tell, each
    /// `(participant, side, connection)`, then settles once.
    pub(crate) fn on_conns(
        &mut self,
        ready: impl IntoIterator<Item = (ParticipantId, PcTarget, ConnId)>,
        conns: &mut Conns,
    ) {
        let _entered = self.span.clone().entered();
        for (participant, target, id) in ready {
            while let Some(event) = conns.get(id).and_then(|c| c.poll()) {
                if !self.members.contains_key(&participant) {
                    break;
                }
                self.conn_event(participant, target, event, conns);
            }
        }
        self.settle(conns);
    }

    fn conn_event(
        &mut self,
        participant: ParticipantId,
        target: PcTarget,
        event: ConnEvent,
        conns: &mut Conns,
    ) {
        match event {
            ConnEvent::Rtp {
                track,
                kind,
                mut meta,
                payload,
            } => {
                self.registry.received(&self.meters, kind, payload.len());
                if let Some(m) = self.members.get(&participant) {
                    m.links.add_in(payload.len());
                }
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
                self.drain_outputs(conns);
            }
            ConnEvent::TrackOpened {
                track,
                msid,
                codec,
                rids,
            } => {
                self.track_opened(participant, track, msid, codec, rids);
            }
            ConnEvent::TrackEnded { track } => self.track_ended(track, conns),
            ConnEvent::KeyframeRequest { track } => self.wants_keyframe(participant, track),
            ConnEvent::Nack { track, pairs } => {
                self.registry.count(|c| &c.nacks_received);
                self.core.handle_input(
                    now(),
                    Input::Nack {
                        subscriber: participant,
                        track,
                        pairs,
                    },
                );
            }
            ConnEvent::Estimate { bitrate } => {
                if target == PcTarget::Subscribe {
                    self.core.handle_input(
                        now(),
                        Input::Estimate {
                            subscriber: participant,
                            bitrate,
                        },
                    );
                    self.drain_outputs(conns);
                }
            }
            ConnEvent::State(LinkState::Connected) => {
                debug!(?target, "connected");
                // What was sent before the path was up (before the keys were ready, or during
                // the gap an ICE restart mended) is lost, keyframes among it: video waits for,
                // and asks for, fresh ones.
                let input = match target {
                    PcTarget::Publish => Input::PublisherConnected(participant),
                    PcTarget::Subscribe => Input::SubscriberConnected(participant),
                };
                self.core.handle_input(now(), input);
                self.drain_outputs(conns);
            }
            ConnEvent::State(LinkState::Failed | LinkState::Closed) => {
                debug!(?target, "connection down");
                self.leave(participant, conns);
            }
            ConnEvent::State(_) => {}
        }
    }
}

impl Room {
    /// A subscriber asks for a keyframe of a track (merged and throttled by the core).
    fn wants_keyframe(&mut self, subscriber: ParticipantId, track: TrackId) {
        self.registry.count(|c| &c.keyframe_requests_received);
        self.core
            .handle_input(now(), Input::KeyframeRequest { subscriber, track });
    }
}

impl Member {
    /// Both connections, publish first.
    pub(super) fn conns(&self) -> impl Iterator<Item = ConnId> {
        [self.publish, self.subscribe].into_iter().flatten()
    }
}
