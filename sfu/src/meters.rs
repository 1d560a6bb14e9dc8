//! What one room does, counted as it happens by the room task and read at any time (by the
//! metrics exporter) without asking the task. Index 0 is audio, 1 is video.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

pub use sfu_core::quality::Sample;

/// Receives timings as they happen (the metrics exporter's histograms); the SFU itself knows no
/// metrics library.
pub trait Observer: Send + Sync {
    /// From a join request (or, for someone who joined an empty room, from when the first
    /// track became available to them) to the first media packet forwarded to them.
    fn join_to_first_media(&self, took: Duration);

    /// The same, to the first video packet: a keyframe, asked for once the participant's path
    /// is up.
    fn join_to_first_video(&self, _took: Duration) {}

    /// One RTCP reception report block: about a publisher's stream, as our receiver measured
    /// it (upstream), or about a stream we send, as the subscriber measured it (downstream).
    fn rtcp_report(&self, _direction: Direction, _sample: &Sample) {}
}

/// Which way the media of a reception report went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Publisher to server: reports the server sends.
    Upstream,
    /// Server to subscriber: reports the subscriber sends.
    Downstream,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
        }
    }
}

#[derive(Debug, Default)]
pub struct RoomMeters {
    pub participants: AtomicI64,
    /// Published tracks, by kind.
    pub tracks: [AtomicI64; 2],
    /// Subscriptions with a sending queue, by kind.
    pub subscriptions: [AtomicI64; 2],
    /// RTP packets and payload bytes received from publishers, by kind.
    pub received_packets: [AtomicU64; 2],
    pub received_bytes: [AtomicU64; 2],
    /// RTP packets and payload bytes queued to subscribers, by kind.
    pub forwarded_packets: [AtomicU64; 2],
    pub forwarded_bytes: [AtomicU64; 2],
    /// Packets dropped because a subscriber's queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Packets for a track the room no longer knows, and packets too old for their
    /// subscription (published by the room task once a second).
    pub dropped_no_route: AtomicU64,
    pub dropped_too_old: AtomicU64,
    /// Packets expected and lost according to RTCP reception reports, both directions.
    pub rtcp_expected: AtomicU64,
    pub rtcp_lost: AtomicU64,
    /// The most participants the room admits.
    pub capacity: AtomicU64,
    /// Video subscriptions sent nothing by choice (hidden, or no room in the link), and the
    /// core's layer counters (published by the room task once a second).
    pub paused_subscriptions: AtomicI64,
    pub layer_switches: AtomicU64,
    /// Video bytes the top flowing layers would have cost the subscriptions, less those sent.
    pub video_bytes_saved: AtomicU64,
    /// Subscribers' bandwidth estimates, one sample per subscriber with an estimate each
    /// second: how many fell in each bucket of [`ESTIMATE_BOUNDS`] (the last counts those
    /// above them all), and their sum in bits per second.
    pub estimate_buckets: [AtomicU64; ESTIMATE_BUCKETS],
    pub estimate_sum: AtomicU64,
}

/// Upper bounds, in bits per second, of the buckets subscribers' estimates are counted in.
pub const ESTIMATE_BOUNDS: [u64; 8] = [
    250_000, 500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000, 32_000_000,
];
/// The buckets: one per bound, and one above them all.
pub const ESTIMATE_BUCKETS: usize = ESTIMATE_BOUNDS.len() + 1;

impl RoomMeters {
    /// Counts one subscriber's estimate, in bits per second.
    pub(crate) fn observe_estimate(&self, bits_per_second: u64) {
        let bucket = ESTIMATE_BOUNDS
            .iter()
            .position(|&b| bits_per_second <= b)
            .unwrap_or(ESTIMATE_BOUNDS.len());
        self.estimate_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.estimate_sum
            .fetch_add(bits_per_second, Ordering::Relaxed);
    }
}

/// A plain copy of [`RoomMeters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomReading {
    pub participants: i64,
    pub tracks: [i64; 2],
    pub subscriptions: [i64; 2],
    pub received_packets: [u64; 2],
    pub received_bytes: [u64; 2],
    pub forwarded_packets: [u64; 2],
    pub forwarded_bytes: [u64; 2],
    pub dropped_queue_full: u64,
    pub dropped_no_route: u64,
    pub dropped_too_old: u64,
    pub rtcp_expected: u64,
    pub rtcp_lost: u64,
    pub capacity: u64,
    pub paused_subscriptions: i64,
    pub layer_switches: u64,
    pub video_bytes_saved: u64,
    /// As in [`RoomMeters::estimate_buckets`]: per bucket, not cumulative.
    pub estimate_buckets: [u64; ESTIMATE_BUCKETS],
    pub estimate_sum: u64,
}

fn pair<T, A>(a: &[A; 2], load: impl Fn(&A) -> T) -> [T; 2] {
    [load(&a[0]), load(&a[1])]
}

impl RoomMeters {
    pub fn read(&self) -> RoomReading {
        let i = |a: &AtomicI64| a.load(Ordering::Relaxed);
        let u = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RoomReading {
            participants: i(&self.participants),
            tracks: pair(&self.tracks, i),
            subscriptions: pair(&self.subscriptions, i),
            received_packets: pair(&self.received_packets, u),
            received_bytes: pair(&self.received_bytes, u),
            forwarded_packets: pair(&self.forwarded_packets, u),
            forwarded_bytes: pair(&self.forwarded_bytes, u),
            dropped_queue_full: u(&self.dropped_queue_full),
            dropped_no_route: u(&self.dropped_no_route),
            dropped_too_old: u(&self.dropped_too_old),
            rtcp_expected: u(&self.rtcp_expected),
            rtcp_lost: u(&self.rtcp_lost),
            capacity: u(&self.capacity),
            paused_subscriptions: i(&self.paused_subscriptions),
            layer_switches: u(&self.layer_switches),
            video_bytes_saved: u(&self.video_bytes_saved),
            estimate_buckets: std::array::from_fn(|i| u(&self.estimate_buckets[i])),
            estimate_sum: u(&self.estimate_sum),
        }
    }
}

impl RoomReading {
    /// Adds another room's reading to this one (for rooms shown together).
    pub fn add(&mut self, o: &RoomReading) {
        self.participants += o.participants;
        for k in 0..2 {
            self.tracks[k] += o.tracks[k];
            self.subscriptions[k] += o.subscriptions[k];
            self.received_packets[k] += o.received_packets[k];
            self.received_bytes[k] += o.received_bytes[k];
            self.forwarded_packets[k] += o.forwarded_packets[k];
            self.forwarded_bytes[k] += o.forwarded_bytes[k];
        }
        self.dropped_queue_full += o.dropped_queue_full;
        self.dropped_no_route += o.dropped_no_route;
        self.dropped_too_old += o.dropped_too_old;
        self.rtcp_expected += o.rtcp_expected;
        self.rtcp_lost += o.rtcp_lost;
        self.capacity += o.capacity;
        self.paused_subscriptions += o.paused_subscriptions;
        self.layer_switches += o.layer_switches;
        self.video_bytes_saved += o.video_bytes_saved;
        for (mine, theirs) in self.estimate_buckets.iter_mut().zip(&o.estimate_buckets) {
            *mine += theirs;
        }
        self.estimate_sum += o.estimate_sum;
    }

    /// Packets dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_no_route + self.dropped_too_old
    }
}
