//! One room's routing table and forwarding decisions. See the crate docs for the shape.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::allocator::AllocConfig;
use crate::codec::Codec;
use crate::history::{SentHistory, nack_seqs};
use crate::keyframe::KeyframeThrottle;
use crate::layers::{Layer, LayerSpec, MAX_LAYERS, Source, View};
use crate::rewriter::RtpRewriter;
use crate::speakers::{SpeakerChange, SpeakerConfig, Speakers};
use crate::{MediaKind, ParticipantId, TrackId};

mod alloc;
mod forward;
mod io;
mod keyframes;
pub use alloc::Reception;
use alloc::{Due, Link};
pub use io::{Input, Output};

/// Tunables of a room's forwarding.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Upstream keyframe requests for one track are at least this far apart. libwebrtc
    /// (Chrome, Firefox, Safari) ignores a request within 300 ms of the last one it acted on,
    /// so a request sooner than that would be lost and the subscriber left to the retry.
    pub keyframe_min_interval: Duration,
    /// While a subscriber still waits for a keyframe, the request is repeated this often.
    pub keyframe_retry_interval: Duration,
    /// Packets each video subscription keeps at most for answering NACKs.
    pub nack_history: usize,
    /// How long a sent video packet is kept for a NACK. Later, the subscriber's jitter buffer
    /// has given its frame up (and asked for a keyframe), so a resend would only cost bandwidth.
    pub nack_max_age: Duration,
    pub speakers: SpeakerConfig,
    /// How subscribers' tracks are fitted into their estimates.
    pub alloc: AllocConfig,
    /// A simulcast layer that carried no packet for this long is taken to have stopped.
    pub layer_timeout: Duration,
    /// After asking a publisher to encode a layer again, how long it is given to come back.
    pub layer_resume_timeout: Duration,
    /// Dynacast: a layer nobody has received for this long is no longer encoded. `None`
    /// keeps every layer encoded.
    pub dynacast_delay: Option<Duration>,
    /// While a room has simulcast tracks or estimates, allocations are redone this often (the
    /// layers' measured bitrates move).
    pub realloc_interval: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            keyframe_min_interval: Duration::from_millis(300),
            keyframe_retry_interval: Duration::from_millis(1000),
            nack_history: 512,
            nack_max_age: Duration::from_secs(1),
            speakers: SpeakerConfig::default(),
            alloc: AllocConfig::default(),
            layer_timeout: Duration::from_secs(1),
            layer_resume_timeout: Duration::from_secs(2),
            dynacast_delay: Some(Duration::from_secs(3)),
            realloc_interval: Duration::from_millis(500),
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
    /// Packets of a simulcast layer a subscriber does not receive (counted once per packet).
    pub skipped_other_layer: u64,
    /// Subscriptions that moved from one simulcast layer to another.
    pub layer_switches: u64,
    /// What the video subscriptions would have carried at the track's top flowing layer, in
    /// bytes: less `forwarded_bytes[1]`, what layer selection and pausing saved.
    pub video_bytes_at_full: u64,
    /// Packets not sent because the track is muted.
    pub skipped_muted: u64,
    /// Padding-only packets, which are never forwarded.
    pub skipped_padding: u64,
    /// Packets that arrived before a subscription's sending side was ready, or its
    /// subscriber's path was up.
    pub skipped_not_ready: u64,
    pub keyframe_requests_received: u64,
    pub keyframe_requests_sent: u64,
    /// Sequence numbers subscribers reported lost.
    pub nacked_packets: u64,
    /// Packets sent again in answer.
    pub retransmitted_packets: u64,
}

/// One subscriber's reception of one track.
///
/// `target` is the layer chosen for it (by its view and its link); `current` is the layer it
/// receives. They differ while a switch waits for a keyframe of the target layer, during which
/// the current layer goes on. A video subscription with no current layer but a target waits for
/// a keyframe (at first, and after a gap: a full queue, a reconnect, an unmute); one with no
/// target is paused.
///
/// Nothing is asked for a subscriber whose path is not up yet (`reachable`): a keyframe
/// forwarded before it has its keys is lost, and browsers ignore a second request within
/// 300 ms of the first, so the request made when the path comes up would be ignored too,
/// leaving a new subscriber a second of black tile until the retry.
#[derive(Debug)]
struct Subscription<P> {
    subscriber: ParticipantId,
    /// The subscriber's path is up ([`Input::SubscriberConnected`]).
    reachable: bool,
    rewriter: Option<RtpRewriter>,
    history: Option<SentHistory<P>>,
    view: View,
    current: Option<u8>,
    target: Option<u8>,
}

impl<P> Subscription<P> {
    fn new(subscriber: ParticipantId, reachable: bool) -> Self {
        Subscription {
            subscriber,
            reachable,
            rewriter: None,
            history: None,
            view: View::Unknown,
            current: None,
            target: None,
        }
    }

    /// Waits for a keyframe of its target layer (it has a target it does not receive yet, and
    /// could receive it).
    fn waiting(&self) -> bool {
        self.reachable && self.target.is_some() && self.current != self.target
    }
}

#[derive(Debug)]
struct Track<P> {
    publisher: ParticipantId,
    codec: Codec,
    source: Source,
    muted: bool,
    subs: Vec<Subscription<P>>,
    /// At least one; one unless the publisher sends simulcast.
    layers: Vec<Layer>,
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
    /// Participants whose subscribe path is up (see [`Subscription`]).
    reachable: BTreeSet<ParticipantId>,
    tracks: BTreeMap<TrackId, Track<P>>,
    outputs: VecDeque<Output<P>>,
    stats: RoomStats,
    speakers: Speakers,
    /// Each subscriber's link: its estimate and the allocator's memory.
    links: BTreeMap<ParticipantId, Link>,
    /// Something changed that allocations depend on: redo them before the input returns.
    realloc_due: Due,
    /// The next periodic allocation, while the room has simulcast tracks or estimates.
    next_realloc: Option<Instant>,
}

impl<P: Clone + AsRef<[u8]>> Room<P> {
    pub fn new(config: RoomConfig) -> Self {
        Room {
            speakers: Speakers::new(config.speakers),
            config,
            participants: BTreeSet::new(),
            reachable: BTreeSet::new(),
            tracks: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: RoomStats::default(),
            links: BTreeMap::new(),
            realloc_due: Due::Nothing,
            next_realloc: None,
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
                source,
                layers,
            } => self.publish(publisher, track, codec, source, layers),
            Input::Unpublish(track) => self.unpublish(track),
            Input::SetMuted { track, muted } => self.set_muted(now, track, muted),
            Input::SubscriptionReady {
                subscriber,
                track,
                ssrc,
            } => self.subscription_ready(subscriber, track, ssrc),
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
            Input::PublisherConnected(p) => self.publisher_connected(now, p),
            Input::SubscriberConnected(p) => self.subscriber_connected(now, p),
            Input::QueueFull { subscriber, track } => self.queue_full(now, subscriber, track),
            Input::Layout { subscriber, views } => self.layout(subscriber, &views),
            Input::Estimate {
                subscriber,
                bitrate,
            } => self.set_estimate(subscriber, bitrate),
            Input::Timeout => self.timeout(now),
        }
        for change in self.speakers.changes() {
            // Speakers' videos come before the rest.
            if matches!(change, SpeakerChange::Active(_)) {
                self.realloc_due = Due::All;
            }
            self.outputs.push_back(match change {
                SpeakerChange::Active(speakers) => Output::ActiveSpeakers(speakers),
                SpeakerChange::TalkTime(participant, talk) => {
                    Output::TalkTime { participant, talk }
                }
            });
        }
        match std::mem::take(&mut self.realloc_due) {
            Due::Nothing => {}
            Due::One(p) => self.reallocate(now, Some(p)),
            Due::All => self.reallocate(now, None),
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
            .flat_map(|t| t.layers.iter().filter_map(|l| l.keyframes.poll_timeout()))
            .chain(self.speakers.poll_timeout())
            .chain(self.next_realloc)
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
            track.subs.push(Subscription::new(p, false));
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
        self.links.remove(&p);
        self.reachable.remove(&p);
        self.speakers.remove(p);
        // What it received is no longer wanted (dynacast).
        self.realloc_due = Due::All;
    }

    fn publish(
        &mut self,
        publisher: ParticipantId,
        id: TrackId,
        codec: Codec,
        source: Source,
        mut specs: Vec<LayerSpec>,
    ) {
        if !self.participants.contains(&publisher) || self.tracks.contains_key(&id) {
            return;
        }
        if specs.is_empty() || !codec.is_video() {
            specs = vec![specs.first().copied().unwrap_or_default()];
        }
        specs.truncate(MAX_LAYERS);
        let keyframes = KeyframeThrottle::new(
            self.config.keyframe_min_interval,
            self.config.keyframe_retry_interval,
        );
        let mut track = Track {
            publisher,
            codec,
            source,
            muted: false,
            subs: Vec::new(),
            layers: specs
                .into_iter()
                .map(|spec| Layer::new(spec, keyframes.clone()))
                .collect(),
        };
        for &p in self.participants.iter().filter(|&&p| p != publisher) {
            track
                .subs
                .push(Subscription::new(p, self.reachable.contains(&p)));
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
        // Its subscribers' budgets are freed for the rest.
        self.realloc_due = Due::All;
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
            // What is sent after an unmute starts with a keyframe.
            for sub in track.subs.iter_mut().filter(|s| s.rewriter.is_some()) {
                sub.current = None;
            }
            self.request_waited_keyframes(now, id);
        }
        self.realloc_due = Due::All;
    }

    fn subscription_ready(&mut self, subscriber: ParticipantId, id: TrackId, ssrc: u32) {
        let Some(track) = self.tracks.get_mut(&id) else {
            return;
        };
        let clock_rate = track.codec.clock_rate();
        let video = track.codec.is_video();
        let Some(sub) = track.subs.iter_mut().find(|s| s.subscriber == subscriber) else {
            return;
        };
        sub.rewriter = Some(RtpRewriter::new(ssrc, clock_rate));
        sub.history =
            video.then(|| SentHistory::new(self.config.nack_history, self.config.nack_max_age));
        // Audio flows at once; video waits for the allocation to choose its layer, and for a
        // keyframe of it.
        sub.current = (!video).then_some(0);
        sub.target = sub.current;
        self.links.entry(subscriber).or_default();
        if video {
            self.realloc_due.add(subscriber);
        }
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

    fn timeout(&mut self, now: Instant) {
        self.speakers.handle_timeout(now);
        for (id, track) in self.tracks.iter_mut() {
            for (i, layer) in track.layers.iter_mut().enumerate() {
                let i = i as u8;
                if !track
                    .subs
                    .iter()
                    .any(|s| s.waiting() && s.target == Some(i))
                {
                    layer.keyframes.stop_waiting();
                }
                if layer.keyframes.handle_timeout(now) {
                    self.stats.keyframe_requests_sent += 1;
                    self.outputs.push_back(Output::RequestKeyframe {
                        track: *id,
                        layer: i,
                    });
                }
            }
        }
        if self.next_realloc.is_some_and(|t| now >= t) {
            self.realloc_due = Due::All;
        }
    }
}

#[cfg(test)]
mod join_tests;
#[cfg(test)]
mod simulcast_tests;
#[cfg(test)]
mod tests;
