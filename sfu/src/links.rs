//! One participant's connections as an admin sees them: each connection's state and RTCP
//! quality, and the participant's bitrates. Written by the peer connections' handlers and
//! quality probes, the ingress readers and the egress writers; sampled once a second by the
//! room task; read at any time by whoever asks for a room snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use sfu_core::quality::Summary;

/// A peer connection's state, as webrtc reports it; `None` before the connection exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinkState {
    #[default]
    None,
    New,
    Connecting,
    Connected,
    Disconnected,
    Failed,
    Closed,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::None => "none",
            LinkState::New => "new",
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Disconnected => "disconnected",
            LinkState::Failed => "failed",
            LinkState::Closed => "closed",
        }
    }
}

/// One connection at one moment: its state, the quality of what it receives (upstream, from
/// the reports we send) and of what it sends (downstream, from the reports we receive).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkReading {
    pub state: LinkState,
    pub upstream: Summary,
    pub downstream: Summary,
    /// What the connection's link is estimated to carry toward the client, in bits per
    /// second (a subscribe connection's send-side estimate), once there is one.
    pub estimate: Option<u64>,
}

/// A connection's reading, shared between its writers and readers.
#[derive(Debug, Default)]
pub struct LinkStats {
    inner: Mutex<LinkReading>,
    /// The latest estimate in bits per second, 0 before there is one: written by the
    /// connection's congestion controller stage, and read by the connection after every
    /// datagram, so it is an atomic beside the lock, not under it.
    estimate: AtomicU64,
}

impl LinkStats {
    pub fn read(&self) -> LinkReading {
        // Invariant: nothing panics while holding this lock (plain copies only).
        let mut r = *self.inner.lock().expect("link stats lock poisoned");
        r.estimate = self.estimate();
        r
    }

    /// The latest send-side estimate, in bits per second.
    pub fn estimate(&self) -> Option<u64> {
        Some(self.estimate.load(Ordering::Relaxed)).filter(|&e| e > 0)
    }

    pub(crate) fn set_estimate(&self, bits_per_second: u64) {
        self.estimate
            .store(bits_per_second.max(1), Ordering::Relaxed);
    }

    pub(crate) fn set_state(&self, state: LinkState) {
        // Invariant: as in `read`.
        self.inner.lock().expect("link stats lock poisoned").state = state;
    }

    pub(crate) fn set_quality(&self, upstream: Summary, downstream: Summary) {
        // Invariant: as in `read`.
        let mut r = self.inner.lock().expect("link stats lock poisoned");
        r.upstream = upstream;
        r.downstream = downstream;
    }
}

#[derive(Debug, Default)]
struct Rates {
    last: Option<(Instant, u64, u64)>,
    inbound_bps: u64,
    outbound_bps: u64,
}

/// A participant's two connections and the media bytes it sent and was sent.
#[derive(Debug, Default)]
pub struct ParticipantLinks {
    pub publish: Arc<LinkStats>,
    pub subscribe: Arc<LinkStats>,
    /// RTP payload bytes received from this participant's tracks.
    pub(crate) bytes_in: AtomicU64,
    /// RTP payload bytes sent to this participant.
    pub(crate) bytes_out: AtomicU64,
    /// Talk time in the room so far, in milliseconds, as the room's speaker detection counts it.
    talk_ms: AtomicU64,
    rates: Mutex<Rates>,
}

/// A participant's links at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinksReading {
    pub publish: LinkReading,
    pub subscribe: LinkReading,
    /// Over the last sampling interval (about a second), in bits per second of RTP payload.
    pub inbound_bps: u64,
    pub outbound_bps: u64,
    /// Talk time in the room so far, as its speaker detection counts it.
    pub talk_ms: u64,
}

impl ParticipantLinks {
    pub(crate) fn add_in(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_out(&self, bytes: u64) {
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn set_talk_time(&self, talk: std::time::Duration) {
        let ms = u64::try_from(talk.as_millis()).unwrap_or(u64::MAX);
        self.talk_ms.store(ms, Ordering::Relaxed);
    }

    /// Talk time in the room so far.
    pub fn talk_time(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.talk_ms.load(Ordering::Relaxed))
    }

    /// Turns the bytes counted since the previous call into bitrates.
    pub(crate) fn sample(&self, now: Instant) {
        let bytes_in = self.bytes_in.load(Ordering::Relaxed);
        let bytes_out = self.bytes_out.load(Ordering::Relaxed);
        // Invariant: nothing panics while holding this lock (arithmetic on copies only).
        let mut r = self.rates.lock().expect("rates lock poisoned");
        if let Some((at, was_in, was_out)) = r.last {
            let secs = now.saturating_duration_since(at).as_secs_f64();
            if secs > 0.0 {
                let bps = |now: u64, was: u64| (now.saturating_sub(was) as f64 * 8.0 / secs) as u64;
                r.inbound_bps = bps(bytes_in, was_in);
                r.outbound_bps = bps(bytes_out, was_out);
            }
        }
        r.last = Some((now, bytes_in, bytes_out));
    }

    pub fn read(&self) -> LinksReading {
        // Invariant: as in `sample`.
        let (inbound_bps, outbound_bps) = {
            let r = self.rates.lock().expect("rates lock poisoned");
            (r.inbound_bps, r.outbound_bps)
        };
        LinksReading {
            publish: self.publish.read(),
            subscribe: self.subscribe.read(),
            inbound_bps,
            outbound_bps,
            talk_ms: self.talk_ms.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bitrates_come_from_bytes_between_samples() {
        let links = ParticipantLinks::default();
        let t0 = Instant::now();
        links.sample(t0);
        links.add_in(62_500);
        links.add_out(125_000);
        links.sample(t0 + Duration::from_millis(500));
        let r = links.read();
        assert_eq!(r.inbound_bps, 1_000_000);
        assert_eq!(r.outbound_bps, 2_000_000);
        links.sample(t0 + Duration::from_millis(1500));
        assert_eq!(links.read().inbound_bps, 0, "nothing since the last sample");
    }

    #[test]
    fn state_and_quality_are_kept_apart_per_connection() {
        let links = ParticipantLinks::default();
        links.subscribe.set_state(LinkState::Connected);
        let q = Summary {
            loss_fraction: Some(0.1),
            ..Summary::default()
        };
        links.subscribe.set_quality(Summary::default(), q);
        let r = links.read();
        assert_eq!(r.subscribe.state, LinkState::Connected);
        assert_eq!(r.subscribe.downstream.loss_fraction, Some(0.1));
        assert_eq!(r.publish, LinkReading::default());
    }
}
