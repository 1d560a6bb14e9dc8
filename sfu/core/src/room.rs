//! One room's routing table and forwarding decisions. See the crate docs for the shape.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::codec::Codec;
use crate::history::{SentHistory, nack_seqs};
use crate::keyframe::KeyframeThrottle;
use crate::rewriter::{Rewrite, RtpRewriter};
use crate::speakers::{SpeakerChange, SpeakerConfig, Speakers};
use crate::{MediaKind, ParticipantId, RtpMeta, TrackId};

mod io;
pub use io::{Input, Output};

/// Tunables of a room's forwarding.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Upstream keyframe requests for one track are at least this far apart.
    pub keyframe_min_interval: Duration,
    /// While a subscriber still waits for a keyframe, the request is repeated this often.
    pub keyframe_retry_interval: Duration,
    /// Packets each video subscription keeps at most for answering NACKs.
    pub nack_history: usize,
    /// How long a sent video packet is kept for a NACK. Later, the subscriber's jitter buffer
    /// has given its frame up (and asked for a keyframe), so a resend would only cost bandwidth.
    pub nack_max_age: Duration,
    pub speakers: SpeakerConfig,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            keyframe_min_interval: Duration::from_millis(100),
            keyframe_retry_interval: Duration::from_millis(1000),
            nack_history: 512,
            nack_max_age: Duration::from_secs(1),
            speakers: SpeakerConfig::default(),
        }
    }
}

/// Counters a room keeps. Per-kind arrays are indexed by [`MediaKind::index`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomStats {
    pub received_packets: [u64; 2],
    pub forwarded_packets: [u64; 2],
    pub forwarded_bytes: [u64; 2],
    /// Packets for a track the room does not know.
    pub dropped_no_route: u64,
    /// Packets older than their subscription's current segment.
    pub dropped_too_old: u64,
    /// Packets a subscriber's full queue refused (reported by the owner).
    pub dropped_queue_full: u64,
    /// Packets held back from a subscriber that is waiting for a keyframe.
    pub skipped_waiting_keyframe: u64,
    /// Packets not sent because the track is muted.
    pub skipped_muted: u64,
    /// Padding-only packets, which are never forwarded.
    pub skipped_padding: u64,
    /// Packets that arrived before a subscription's sending side was ready.
    pub skipped_not_ready: u64,
    pub keyframe_requests_received: u64,
    pub keyframe_requests_sent: u64,
    /// Sequence numbers subscribers reported lost.
    pub nacked_packets: u64,
    /// Packets sent again in answer.
    pub retransmitted_packets: u64,
}

#[derive(Debug)]
struct Subscription<P> {
    subscriber: ParticipantId,
    rewriter: Option<RtpRewriter>,
    waiting_keyframe: bool,
    history: Option<SentHistory<P>>,
}

impl<P> Subscription<P> {
    fn new(subscriber: ParticipantId) -> Self {
        Subscription {
            subscriber,
            rewriter: None,
            waiting_keyframe: false,
            history: None,
        }
    }
}

#[derive(Debug)]
struct Track<P> {
    publisher: ParticipantId,
    codec: Codec,
    muted: bool,
    subs: Vec<Subscription<P>>,
    keyframes: KeyframeThrottle,
}

impl<P> Track<P> {
    fn kind(&self) -> MediaKind {
        if self.codec.is_video() {
            MediaKind::Video
        } else {
            MediaKind::Audio
        }
    }
}

/// One room's forwarding state. `P` is the packet payload type (for example `bytes::Bytes`); it
/// is cloned once per subscriber, so it should be cheap to clone.
#[derive(Debug)]
pub struct Room<P> {
    config: RoomConfig,
    participants: BTreeSet<ParticipantId>,
    tracks: BTreeMap<TrackId, Track<P>>,
    outputs: VecDeque<Output<P>>,
    stats: RoomStats,
    speakers: Speakers,
}

impl<P: Clone + AsRef<[u8]>> Room<P> {
    pub fn new(config: RoomConfig) -> Self {
        Room {
            speakers: Speakers::new(config.speakers),
            config,
            participants: BTreeSet::new(),
            tracks: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: RoomStats::default(),
        }
    }

    /// Feeds one input. `now` is the caller's clock; the room never reads one.
    pub fn handle_input(&mut self, now: Instant, input: Input<P>) {
        match input {
            Input::Join(p) => self.join(p),
            Input::Leave(p) => self.leave(p),
            Input::Publish {
                publisher,
                track,
                codec,
            } => self.publish(publisher, track, codec),
            Input::Unpublish(track) => self.unpublish(track),
            Input::SetMuted { track, muted } => self.set_muted(now, track, muted),
            Input::SubscriptionReady {
                subscriber,
                track,
                ssrc,
            } => self.subscription_ready(now, subscriber, track, ssrc),
            Input::Rtp {
                track,
                meta,
                payload,
            } => self.rtp(now, track, meta, payload),
            Input::KeyframeRequest { subscriber, track } => {
                self.keyframe_request(now, subscriber, track)
            }
            Input::Nack {
                subscriber,
                track,
                pairs,
            } => self.nack(now, subscriber, track, &pairs),
            Input::PublisherConnected(p) => self.resync(now, |t, _| t.publisher == p),
            Input::SubscriberConnected(p) => self.resync(now, |_, s| s.subscriber == p),
            Input::QueueFull { subscriber, track } => self.queue_full(now, subscriber, track),
            Input::Timeout => self.timeout(now),
        }
        for change in self.speakers.changes() {
            self.outputs.push_back(match change {
                SpeakerChange::Active(speakers) => Output::ActiveSpeakers(speakers),
                SpeakerChange::TalkTime(participant, talk) => {
                    Output::TalkTime { participant, talk }
                }
            });
        }
    }

    /// The next decision, if any.
    pub fn poll_output(&mut self) -> Option<Output<P>> {
        self.outputs.pop_front()
    }

    /// When to feed [`Input::Timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.tracks
            .values()
            .filter_map(|t| t.keyframes.poll_timeout())
            .chain(self.speakers.poll_timeout())
            .min()
    }

    /// `p`'s talk time in this room so far.
    pub fn talk_time(&self, p: ParticipantId) -> Duration {
        self.speakers.talk_time(p)
    }

    /// Who is speaking now, loudest first.
    pub fn speakers(&self) -> Vec<ParticipantId> {
        self.speakers.speaking()
    }

    pub fn stats(&self) -> &RoomStats {
        &self.stats
    }

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    pub fn participant_count(&self) -> usize {
        self.participants.len()
    }

    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }

    /// Subscriptions in the routing table, ready or not.
    pub fn subscription_count(&self) -> usize {
        self.tracks.values().map(|t| t.subs.len()).sum()
    }

    /// Tracks `subscriber` is subscribed to, in id order.
    pub fn subscriptions_of(&self, subscriber: ParticipantId) -> Vec<TrackId> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.subs.iter().any(|s| s.subscriber == subscriber))
            .map(|(id, _)| *id)
            .collect()
    }

    fn join(&mut self, p: ParticipantId) {
        if !self.participants.insert(p) {
            return;
        }
        for (id, track) in self.tracks.iter_mut() {
            if track.publisher == p {
                continue;
            }
            track.subs.push(Subscription::new(p));
            self.outputs.push_back(Output::Subscribe {
                subscriber: p,
                track: *id,
                publisher: track.publisher,
                codec: track.codec,
            });
        }
    }

    fn leave(&mut self, p: ParticipantId) {
        if !self.participants.remove(&p) {
            return;
        }
        let owned: Vec<TrackId> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.publisher == p)
            .map(|(id, _)| *id)
            .collect();
        for id in owned {
            self.unpublish(id);
        }
        for track in self.tracks.values_mut() {
            track.subs.retain(|s| s.subscriber != p);
        }
        self.speakers.remove(p);
    }

    fn publish(&mut self, publisher: ParticipantId, id: TrackId, codec: Codec) {
        if !self.participants.contains(&publisher) || self.tracks.contains_key(&id) {
            return;
        }
        let mut track = Track {
            publisher,
            codec,
            muted: false,
            subs: Vec::new(),
            keyframes: KeyframeThrottle::new(
                self.config.keyframe_min_interval,
                self.config.keyframe_retry_interval,
            ),
        };
        for &p in self.participants.iter().filter(|&&p| p != publisher) {
            track.subs.push(Subscription::new(p));
            self.outputs.push_back(Output::Subscribe {
                subscriber: p,
                track: id,
                publisher,
                codec,
            });
        }
        self.tracks.insert(id, track);
    }

    fn unpublish(&mut self, id: TrackId) {
        let Some(track) = self.tracks.remove(&id) else {
            return;
        };
        if !track.codec.is_video() {
            self.speakers.silence(track.publisher);
        }
        for sub in track.subs {
            self.outputs.push_back(Output::Unsubscribe {
                subscriber: sub.subscriber,
                track: id,
            });
        }
    }

    fn set_muted(&mut self, now: Instant, id: TrackId, muted: bool) {
        let Some(track) = self.tracks.get_mut(&id) else {
            return;
        };
        if track.muted == muted {
            return;
        }
        track.muted = muted;
        if muted && !track.codec.is_video() {
            self.speakers.silence(track.publisher);
        }
        if !muted && track.codec.is_video() {
            let mut any = false;
            for sub in track.subs.iter_mut().filter(|s| s.rewriter.is_some()) {
                sub.waiting_keyframe = true;
                any = true;
            }
            if any {
                self.request_keyframe(now, id);
            }
        }
    }

    fn subscription_ready(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        id: TrackId,
        ssrc: u32,
    ) {
        let Some(track) = self.tracks.get_mut(&id) else {
            return;
        };
        let clock_rate = track.codec.clock_rate();
        let video = track.codec.is_video();
        let Some(sub) = track.subs.iter_mut().find(|s| s.subscriber == subscriber) else {
            return;
        };
        sub.rewriter = Some(RtpRewriter::new(ssrc, clock_rate));
        sub.waiting_keyframe = video;
        sub.history =
            video.then(|| SentHistory::new(self.config.nack_history, self.config.nack_max_age));
        if video {
            self.request_keyframe(now, id);
        }
    }

    fn rtp(&mut self, now: Instant, id: TrackId, meta: RtpMeta, payload: P) {
        let Some(track) = self.tracks.get_mut(&id) else {
            self.stats.dropped_no_route += 1;
            return;
        };
        let kind = track.kind();
        let k = kind.index();
        self.stats.received_packets[k] += 1;
        let keyframe = kind == MediaKind::Video && track.codec.is_keyframe_start(payload.as_ref());
        if keyframe {
            track.keyframes.keyframe_received();
        }
        if let (MediaKind::Audio, Some(level), false) = (kind, meta.audio_level, track.muted) {
            self.speakers.level(now, track.publisher, level);
        }
        if track.muted {
            for rw in track.subs.iter_mut().filter_map(|s| s.rewriter.as_mut()) {
                rw.skip(&meta);
                self.stats.skipped_muted += 1;
            }
            return;
        }
        let len = payload.as_ref().len() as u64;
        if len == 0 {
            // Padding only (bandwidth probes): nothing to decode, so nothing to send, and no gap.
            for rw in track.subs.iter_mut().filter_map(|s| s.rewriter.as_mut()) {
                rw.skip(&meta);
            }
            self.stats.skipped_padding += 1;
            return;
        }
        for sub in track.subs.iter_mut() {
            let Some(rw) = sub.rewriter.as_mut() else {
                self.stats.skipped_not_ready += 1;
                continue;
            };
            if sub.waiting_keyframe {
                if keyframe {
                    sub.waiting_keyframe = false;
                } else {
                    rw.skip(&meta);
                    self.stats.skipped_waiting_keyframe += 1;
                    continue;
                }
            }
            match rw.rewrite(now, &meta) {
                Rewrite::Forward(header) => {
                    self.stats.forwarded_packets[k] += 1;
                    self.stats.forwarded_bytes[k] += len;
                    if let Some(h) = sub.history.as_mut() {
                        h.record(now, header, meta.marker, &payload);
                    }
                    self.outputs.push_back(Output::Forward {
                        subscriber: sub.subscriber,
                        track: id,
                        kind,
                        header,
                        marker: meta.marker,
                        payload: payload.clone(),
                        retransmission: false,
                    });
                }
                Rewrite::TooOld => self.stats.dropped_too_old += 1,
            }
        }
    }

    fn keyframe_request(&mut self, now: Instant, subscriber: ParticipantId, id: TrackId) {
        let Some(track) = self.tracks.get(&id) else {
            return;
        };
        if !track.codec.is_video() || !track.subs.iter().any(|s| s.subscriber == subscriber) {
            return;
        }
        self.stats.keyframe_requests_received += 1;
        self.request_keyframe(now, id);
    }

    fn nack(&mut self, now: Instant, subscriber: ParticipantId, id: TrackId, pairs: &[(u16, u16)]) {
        let Some(track) = self.tracks.get_mut(&id) else {
            return;
        };
        let kind = track.kind();
        let Some(history) = track
            .subs
            .iter_mut()
            .find(|s| s.subscriber == subscriber)
            .and_then(|s| s.history.as_mut())
        else {
            return;
        };
        for &(packet_id, bitmask) in pairs {
            for seq in nack_seqs(packet_id, bitmask) {
                self.stats.nacked_packets += 1;
                if let Some((header, marker, payload)) = history.resend(now, seq) {
                    self.stats.retransmitted_packets += 1;
                    self.outputs.push_back(Output::Forward {
                        subscriber,
                        track: id,
                        kind,
                        header,
                        marker,
                        payload,
                        retransmission: true,
                    });
                }
            }
        }
    }

    /// Every ready video subscription `which` picks waits for a keyframe, and its track asks
    /// for one: after a gap the stream is undecodable until then.
    fn resync(&mut self, now: Instant, which: impl Fn(&Track<P>, &Subscription<P>) -> bool) {
        let mut asks = Vec::new();
        for (id, track) in &mut self.tracks {
            if !track.codec.is_video() {
                continue;
            }
            let mut any = false;
            for i in 0..track.subs.len() {
                if track.subs[i].rewriter.is_some() && which(track, &track.subs[i]) {
                    track.subs[i].waiting_keyframe = true;
                    any = true;
                }
            }
            if any {
                asks.push(*id);
            }
        }
        for id in asks {
            self.request_keyframe(now, id);
        }
    }

    fn queue_full(&mut self, now: Instant, subscriber: ParticipantId, id: TrackId) {
        self.stats.dropped_queue_full += 1;
        let Some(track) = self.tracks.get_mut(&id) else {
            return;
        };
        if !track.codec.is_video() {
            return;
        }
        // A video stream with a hole in it is undecodable until the next keyframe.
        if let Some(sub) = track.subs.iter_mut().find(|s| s.subscriber == subscriber)
            && !sub.waiting_keyframe
        {
            sub.waiting_keyframe = true;
            self.request_keyframe(now, id);
        }
    }

    fn request_keyframe(&mut self, now: Instant, id: TrackId) {
        if let Some(track) = self.tracks.get_mut(&id)
            && track.keyframes.request(now)
        {
            self.stats.keyframe_requests_sent += 1;
            self.outputs
                .push_back(Output::RequestKeyframe { track: id });
        }
    }

    fn timeout(&mut self, now: Instant) {
        self.speakers.handle_timeout(now);
        for (id, track) in self.tracks.iter_mut() {
            let waiting = track.subs.iter().any(|s| s.waiting_keyframe);
            if !waiting {
                track.keyframes.stop_waiting();
            }
            if track.keyframes.handle_timeout(now) {
                self.stats.keyframe_requests_sent += 1;
                self.outputs
                    .push_back(Output::RequestKeyframe { track: *id });
            }
        }
    }
}

#[cfg(test)]
mod tests;
