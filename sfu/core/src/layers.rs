//! Simulcast layers of a published track, and what a subscriber shows of a track.
//!
//! A simulcast publisher sends the same camera several times, at rising resolutions (for
//! example 180p, 360p and 720p, RIDs `q`, `h`, `f`). The room's owner numbers them 0 (lowest)
//! up, from the RIDs it negotiated, and tags each packet with its layer ([`crate::RtpMeta::layer`]).
//! A track that is not simulcast has one layer, 0.
//!
//! Each layer keeps:
//! - its measured bitrate, over whole windows of [`RATE_WINDOW`], which is what the allocator
//!   ([`crate::allocator`]) fits into a subscriber's estimate;
//! - when it last carried a packet, so that a layer the publisher stopped sending on its own
//!   (a small camera, a starved uplink) is not chosen;
//! - whether the room asked the publisher to stop encoding it (dynacast), so that a layer
//!   nobody receives is still known to be there when someone wants it again.

use std::time::{Duration, Instant};

use crate::keyframe::KeyframeThrottle;

/// At most this many layers per track; further ones a publisher declares are ignored.
pub const MAX_LAYERS: usize = 4;

/// The window over which a layer's bitrate is measured.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// What a track carries, for the order in which the allocator serves a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Source {
    Microphone,
    #[default]
    Camera,
    /// A screen share: served before any camera.
    Screen,
}

/// One layer as the publisher declared it. Zeroes mean "not known".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerSpec {
    /// Nominal picture height in pixels.
    pub height: u32,
    /// Nominal bitrate in bits per second (the encoding's `maxBitrate`).
    pub bitrate: u64,
}

/// What a subscriber shows of one remote video, as its client reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// No layout reported: the best layer the link carries.
    #[default]
    Unknown,
    /// Not on screen (a hidden tile, a tile scrolled out of view, a name tile): receives
    /// nothing, and the subscription stays in place.
    Hidden,
    /// Rendered at this size, in device pixels.
    Shown { width: u32, height: u32 },
}

impl View {
    /// The highest layer worth sending for this view, among `specs`; `None` when hidden.
    ///
    /// That is the lowest layer at least as tall as the rendered picture, since a smaller one
    /// would be scaled up. With heights unknown, or no layer tall enough, it is the top layer.
    pub fn cap(self, specs: &[LayerSpec]) -> Option<u8> {
        let top = specs.len().saturating_sub(1).min(MAX_LAYERS - 1) as u8;
        match self {
            View::Hidden => None,
            View::Unknown => Some(top),
            View::Shown { height, .. } => {
                if specs.iter().any(|s| s.height == 0) {
                    return Some(top);
                }
                let fit = specs
                    .iter()
                    .take(MAX_LAYERS)
                    .position(|s| s.height >= height);
                Some(fit.map_or(top, |i| i as u8))
            }
        }
    }
}

/// Guessed bitrates by layer index, for a layer never measured and declared without one.
const GUESSED_BITRATE: [u64; MAX_LAYERS] = [150_000, 500_000, 1_500_000, 2_500_000];
/// Guessed bitrate of an audio track not yet measured.
pub const GUESSED_AUDIO_BITRATE: u64 = 40_000;

/// What a forwarded packet costs beyond its payload, as send-side estimation counts it (the
/// RTP packet, without transport headers): the fixed header (12 bytes) and the header
/// extension carrying the transport-wide sequence number (8). For audio's small packets this
/// is a third of the cost; a budget of payload rates alone would overfill a narrow link.
pub const RTP_OVERHEAD: usize = 20;

/// Bits per second over whole windows.
#[derive(Debug, Clone, Default)]
pub struct RateMeter {
    window_start: Option<Instant>,
    bytes: u64,
    /// The rate over the last complete window, once there was one.
    rate: Option<u64>,
}

impl RateMeter {
    pub fn add(&mut self, now: Instant, bytes: usize) {
        self.roll(now);
        self.bytes += bytes as u64;
    }

    /// Closes the windows that ended by `now`. An empty window measures 0.
    pub fn roll(&mut self, now: Instant) {
        let Some(start) = self.window_start else {
            self.window_start = Some(now);
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < RATE_WINDOW {
            return;
        }
        let windows = (elapsed.as_nanos() / RATE_WINDOW.as_nanos()) as u32;
        // A packet-free window after the one just closed measures nothing.
        self.rate = Some(if windows == 1 {
            self.bytes * 8 * 1_000_000_000 / RATE_WINDOW.as_nanos() as u64
        } else {
            0
        });
        self.bytes = 0;
        self.window_start = Some(start + RATE_WINDOW * windows);
    }

    pub fn rate(&self) -> Option<u64> {
        self.rate
    }
}

/// One layer's state in a room.
#[derive(Debug, Clone)]
pub struct Layer {
    pub spec: LayerSpec,
    pub meter: RateMeter,
    /// The last rate measured while the layer carried packets (kept across a pause).
    pub last_rate: Option<u64>,
    pub last_packet: Option<Instant>,
    pub keyframes: KeyframeThrottle,
    /// The room asked the publisher to stop encoding this layer.
    pub paused: bool,
    /// The room asked the publisher to encode it again, and expects packets by then.
    pub resume_by: Option<Instant>,
    /// Since when nobody has wanted this layer (the room pauses it after a delay).
    pub unwanted_since: Option<Instant>,
}

impl Layer {
    pub fn new(spec: LayerSpec, keyframes: KeyframeThrottle) -> Self {
        Layer {
            spec,
            meter: RateMeter::default(),
            last_rate: None,
            last_packet: None,
            keyframes,
            paused: false,
            resume_by: None,
            unwanted_since: None,
        }
    }

    /// A packet of `bytes` of payload arrived on this layer. It is metered at what it costs a
    /// subscriber's link as the estimate counts it: with its RTP header.
    pub fn packet(&mut self, now: Instant, bytes: usize) {
        self.meter.add(now, bytes + RTP_OVERHEAD);
        self.last_packet = Some(now);
        self.resume_by = None;
        if let Some(r) = self.meter.rate().filter(|&r| r > 0) {
            self.last_rate = Some(r);
        }
    }

    /// Carried a packet within `timeout` of `now`.
    pub fn live(&self, now: Instant, timeout: Duration) -> bool {
        self.last_packet
            .is_some_and(|t| now.saturating_duration_since(t) <= timeout)
    }

    /// May be chosen for a subscriber: it flowed within `timeout` of the track's `latest`
    /// packet (of any layer), or the room paused it and can resume it, or it was resumed and
    /// has not yet had time to come back.
    pub fn eligible(&self, now: Instant, latest: Option<Instant>, timeout: Duration) -> bool {
        let flowed = match (self.last_packet, latest) {
            (Some(t), Some(latest)) => latest.saturating_duration_since(t) <= timeout,
            _ => false,
        };
        flowed || self.paused || self.resume_by.is_some_and(|t| now < t)
    }

    /// What sending this layer to one subscriber costs, in bits per second.
    pub fn cost(&self, index: usize) -> u64 {
        self.meter
            .rate()
            .filter(|&r| r > 0)
            .or(self.last_rate)
            .or((self.spec.bitrate > 0).then_some(self.spec.bitrate))
            .unwrap_or(GUESSED_BITRATE[index.min(MAX_LAYERS - 1)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(heights: &[u32]) -> Vec<LayerSpec> {
        heights
            .iter()
            .map(|&height| LayerSpec { height, bitrate: 0 })
            .collect()
    }

    #[test]
    fn a_view_caps_at_the_lowest_layer_as_tall_as_the_tile() {
        let s = specs(&[180, 360, 720]);
        let shown = |height| View::Shown { width: 0, height };
        assert_eq!(shown(120).cap(&s), Some(0));
        assert_eq!(shown(180).cap(&s), Some(0));
        assert_eq!(shown(181).cap(&s), Some(1));
        assert_eq!(shown(540).cap(&s), Some(2));
        assert_eq!(shown(2160).cap(&s), Some(2), "nothing taller: the top");
        assert_eq!(View::Hidden.cap(&s), None);
        assert_eq!(View::Unknown.cap(&s), Some(2));
        assert_eq!(shown(100).cap(&specs(&[0, 0])), Some(1), "heights unknown");
        assert_eq!(shown(100).cap(&[]), Some(0), "one undeclared layer");
    }

    #[test]
    fn the_meter_measures_whole_windows() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        for i in 0..10 {
            m.add(t0 + Duration::from_millis(100 * i), 1250);
        }
        assert_eq!(m.rate(), None, "no window closed yet");
        m.roll(t0 + Duration::from_millis(1000));
        assert_eq!(m.rate(), Some(100_000));
        m.roll(t0 + Duration::from_millis(3500));
        assert_eq!(m.rate(), Some(0), "silent windows measure nothing");
    }

    #[test]
    fn a_layer_is_eligible_while_it_flows_or_the_room_paused_it() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(1);
        let kf = KeyframeThrottle::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut l = Layer::new(LayerSpec::default(), kf);
        assert!(!l.eligible(t0, None, timeout), "never seen");
        l.packet(t0, 100);
        let late = t0 + timeout * 2;
        assert!(
            l.eligible(late, Some(t0), timeout),
            "the track is silent: as it was"
        );
        assert!(
            !l.eligible(late, Some(late), timeout),
            "stopped on its own while another layer flows"
        );
        l.paused = true;
        assert!(l.eligible(late, Some(late), timeout));
        assert_eq!(l.cost(1), 500_000, "guessed until measured");
    }
}
