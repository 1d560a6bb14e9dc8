//! What the room does with the core's outputs: forward into the subscribers' queues, open and
//! close subscriptions, ask publishers for keyframes, tell everyone who is speaking and keep
//! each participant's talk time; and the subscription gauges.

use protocol::{ServerMessage, TrackKind};
use sfu_core::{MediaKind, Output};
use tracing::debug;

use super::{Room, now};
use crate::engine::conns::Conns;

impl Room {
    pub(super) fn drain_outputs(&mut self, conns: &mut Conns) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Forward {
                    subscriber,
                    track,
                    kind,
                    header,
                    marker,
                    payload,
                    retransmission,
                } => {
                    let Some(m) = self.members.get(&subscriber) else {
                        continue;
                    };
                    let Some(conn) = m.subscribe.and_then(|id| conns.get(id)) else {
                        continue;
                    };
                    let bytes = payload.len();
                    if !conn.send_rtp(now(), track, header, marker, payload) {
                        continue;
                    }
                    m.links.add_out(bytes as u64);
                    if retransmission {
                        self.registry.retransmitted();
                    } else {
                        self.registry.forwarded(&self.meters, kind, bytes);
                        if !self.awaiting_media.is_empty() {
                            self.first_media(subscriber);
                        }
                        if kind == MediaKind::Video && !self.awaiting_video.is_empty() {
                            self.first_video(subscriber);
                        }
                    }
                }
                Output::Subscribe {
                    subscriber,
                    track,
                    publisher,
                    codec: _,
                } => {
                    let (Some(t), Some(p)) =
                        (self.tracks.get(&track), self.members.get(&publisher))
                    else {
                        continue;
                    };
                    if !self.members.contains_key(&subscriber) {
                        continue;
                    }
                    // For someone who joined before this track existed, media could only
                    // start once it was published.
                    let video =
                        (t.info.kind == TrackKind::Video).then_some(&mut self.awaiting_video);
                    for awaiting in [Some(&mut self.awaiting_media), video]
                        .into_iter()
                        .flatten()
                    {
                        if let Some((asked, available)) = awaiting.get_mut(&subscriber) {
                            let since = t.published_at.max(*asked);
                            *available = Some(available.map_or(since, |a| a.min(since)));
                        }
                    }
                    let stream_id = p.wire_id.clone();
                    self.add_subscription(subscriber, track, stream_id, conns);
                }
                Output::Unsubscribe { subscriber, track } => {
                    self.remove_subscription(subscriber, track, conns);
                    self.count_subscriptions();
                    self.unavailable(subscriber);
                }
                Output::ActiveSpeakers(speakers) => {
                    let participant_ids = self.wire_ids(&speakers);
                    self.broadcast(None, ServerMessage::ActiveSpeakers { participant_ids });
                }
                Output::PublisherLayers { track, active } => {
                    debug!(track = track.0, ?active, "core sets layers");
                    let Some(t) = self.tracks.get(&track) else {
                        continue;
                    };
                    if let Some(m) = self.members.get(&t.publisher) {
                        let track_id = t.msid.clone();
                        let _ = m
                            .events
                            .try_send(ServerMessage::SetEncodings { track_id, active });
                    }
                }
                Output::TalkTime { participant, talk } => {
                    if let Some(m) = self.members.get(&participant) {
                        m.links.set_talk_time(talk);
                    }
                }
                Output::RequestKeyframe { track, layer } => {
                    debug!(track = track.0, layer, "core asks a keyframe");
                    let Some(t) = self.tracks.get(&track) else {
                        continue;
                    };
                    let publish = self.members.get(&t.publisher).and_then(|m| m.publish);
                    if let Some(conn) = publish.and_then(|id| conns.get(id))
                        && conn.request_keyframe(now(), track, layer)
                    {
                        self.registry.count(|c| &c.keyframe_requests_sent);
                    }
                }
            }
        }
    }

    pub(super) fn wire_ids(&self, ids: &[sfu_core::ParticipantId]) -> Vec<String> {
        ids.iter()
            .filter_map(|p| self.members.get(p))
            .map(|m| m.wire_id.clone())
            .collect()
    }

    /// Tells a newcomer who is speaking already: the others were told when it began.
    pub(super) fn tell_speakers(&self, newcomer: sfu_core::ParticipantId) {
        let participant_ids = self.wire_ids(&self.core.speakers());
        if !participant_ids.is_empty()
            && let Some(m) = self.members.get(&newcomer)
        {
            let _ = m
                .events
                .try_send(ServerMessage::ActiveSpeakers { participant_ids });
        }
    }

    /// A subscriber still waiting for its first media lost a subscription: if none is left (of
    /// video, for the first video), its wait starts again with the next track published, not
    /// with the one that went away before sending it anything.
    fn unavailable(&mut self, subscriber: sfu_core::ParticipantId) {
        if !self.awaiting_media.contains_key(&subscriber)
            && !self.awaiting_video.contains_key(&subscriber)
        {
            return;
        }
        let left: Vec<TrackKind> = (self.core.subscriptions_of(subscriber).iter())
            .filter_map(|t| self.tracks.get(t).map(|p| p.info.kind))
            .collect();
        if left.is_empty()
            && let Some((_, available)) = self.awaiting_media.get_mut(&subscriber)
        {
            *available = None;
        }
        if !left.contains(&TrackKind::Video)
            && let Some((_, available)) = self.awaiting_video.get_mut(&subscriber)
        {
            *available = None;
        }
    }

    /// A subscriber's first forwarded packet: how long it took goes to the observer.
    fn first_media(&mut self, subscriber: sfu_core::ParticipantId) {
        if let Some((asked, available)) = self.awaiting_media.remove(&subscriber)
            && let Some(observer) = self.registry.observer()
        {
            observer
                .join_to_first_media(now().saturating_duration_since(available.unwrap_or(asked)));
        }
    }

    /// A subscriber's first forwarded video packet (a keyframe's).
    fn first_video(&mut self, subscriber: sfu_core::ParticipantId) {
        if let Some((asked, available)) = self.awaiting_video.remove(&subscriber)
            && let Some(observer) = self.registry.observer()
        {
            observer
                .join_to_first_video(now().saturating_duration_since(available.unwrap_or(asked)));
        }
    }

    /// Recounts the subscriptions by kind, after any change to the sending queues (control
    /// messages only; never per packet).
    pub(super) fn count_subscriptions(&self) {
        let mut by_kind = [0i64; 2];
        for (_, track) in &self.ready {
            if let Some(t) = self.tracks.get(track) {
                by_kind[usize::from(t.info.kind == TrackKind::Video)] += 1;
            }
        }
        for (gauge, n) in self.meters.subscriptions.iter().zip(by_kind) {
            gauge.store(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
