//! What the room does with the core's outputs: forward into the subscribers' queues, open and
//! close subscriptions, ask publishers for keyframes, tell everyone who is speaking and keep
//! each participant's talk time; and the subscription gauges.

use protocol::{ServerMessage, TrackKind};
use sfu_core::{Input, Output};
use tracing::warn;

use super::{RoomTask, now};
use crate::egress::OutPacket;
use crate::participant::PeerCmd;

impl RoomTask {
    pub(super) fn drain_outputs(&mut self) {
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
                    let Some(egress) = self.egress.get(&(subscriber, track)) else {
                        continue;
                    };
                    let bytes = payload.len();
                    let pushed = egress.push(OutPacket {
                        header,
                        marker,
                        payload,
                    });
                    if retransmission {
                        // A lost retransmission needs nothing more: the subscriber asks again
                        // or, failing that, for a keyframe.
                        if pushed {
                            self.registry.retransmitted();
                        }
                    } else if pushed {
                        self.registry.forwarded(&self.meters, kind, bytes);
                        if !self.awaiting_media.is_empty() {
                            self.first_media(subscriber);
                        }
                    } else {
                        self.registry.dropped_queue_full(&self.meters);
                        self.core
                            .handle_input(now(), Input::QueueFull { subscriber, track });
                    }
                }
                Output::Subscribe {
                    subscriber,
                    track,
                    publisher,
                    codec: _,
                } => {
                    let (Some(t), Some(p), Some(s)) = (
                        self.tracks.get(&track),
                        self.members.get(&publisher),
                        self.members.get(&subscriber),
                    ) else {
                        continue;
                    };
                    // For someone who joined before this track existed, media could only
                    // start once it was published.
                    if let Some((asked, available)) = self.awaiting_media.get_mut(&subscriber) {
                        let since = t.published_at.max(*asked);
                        *available = Some(available.map_or(since, |a| a.min(since)));
                    }
                    let cmd = PeerCmd::AddTrack {
                        track,
                        stream_id: p.wire_id.clone(),
                        track_id: t.info.id.clone(),
                        codec: t.codec.clone(),
                    };
                    if s.peer.try_send(cmd).is_err() {
                        warn!("participant task is not keeping up; subscription not offered");
                    }
                }
                Output::Unsubscribe { subscriber, track } => {
                    if let Some(e) = self.egress.remove(&(subscriber, track)) {
                        e.close();
                        self.count_subscriptions();
                    }
                    if let Some(s) = self.members.get(&subscriber) {
                        let _ = s.peer.try_send(PeerCmd::RemoveTrack { track });
                    }
                }
                Output::ActiveSpeakers(speakers) => {
                    let participant_ids = self.wire_ids(&speakers);
                    self.broadcast(None, ServerMessage::ActiveSpeakers { participant_ids });
                }
                Output::TalkTime { participant, talk } => {
                    if let Some(m) = self.members.get(&participant) {
                        m.links.set_talk_time(talk);
                    }
                }
                Output::RequestKeyframe { track } => {
                    if let Some(t) = self.tracks.get(&track)
                        && t.keyframes.try_send(()).is_ok()
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

    /// A subscriber's first forwarded packet: how long it took goes to the observer.
    fn first_media(&mut self, subscriber: sfu_core::ParticipantId) {
        if let Some((asked, available)) = self.awaiting_media.remove(&subscriber)
            && let Some(observer) = self.registry.observer()
        {
            observer
                .join_to_first_media(now().saturating_duration_since(available.unwrap_or(asked)));
        }
    }

    /// Recounts the subscriptions by kind, after any change to the sending queues (control
    /// messages only; never per packet).
    pub(super) fn count_subscriptions(&self) {
        let mut by_kind = [0i64; 2];
        for (_, track) in self.egress.keys() {
            if let Some(t) = self.tracks.get(track) {
                by_kind[usize::from(t.info.kind == TrackKind::Video)] += 1;
            }
        }
        for (gauge, n) in self.meters.subscriptions.iter().zip(by_kind) {
            gauge.store(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
