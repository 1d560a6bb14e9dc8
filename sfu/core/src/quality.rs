//! Link quality from RTCP reception reports (RFC 3550 §6.4): loss, jitter and round-trip time
//! of one connection's streams, sans-IO.
//!
//! A connection's reports come in two directions. Reports *we send* describe the streams we
//! receive (a publisher's uplink: our receiver measured it). Reports *we receive* describe the
//! streams we send (a subscriber's downlink: their receiver measured it); for those, the
//! round-trip time follows from the report's LSR/DLSR fields and the moment we sent the sender
//! report it echoes. Each report block becomes a [`Sample`]; [`LinkQuality::summary`] folds the
//! latest sample of every stream into one reading.
//!
//! Nothing here panics on input: reports for unknown streams use the default clock rate, echoes
//! of sender reports we never sent give no round-trip time, and counters that go backwards or
//! leap (a restarted sender) restart the stream's baseline instead of counting nonsense.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The fields of one RTCP reception report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256ths.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire; as decoded).
    pub total_lost: u32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, in the stream's RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last sender report received (0: none yet).
    pub lsr: u32,
    /// Delay since that sender report, in 1/65536 s.
    pub dlsr: u32,
}

/// What one report block says about one stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ssrc: u32,
    /// 0.0 to 1.0.
    pub loss_fraction: f64,
    pub jitter: Duration,
    pub rtt: Option<Duration>,
    /// Packets expected and lost since this stream's previous report (0 and 0 for the first
    /// report, which only sets the baseline).
    pub expected: u64,
    pub lost: u64,
}

/// One connection's quality, folded over its streams' latest samples.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Loss over the latest report interval, weighted by each stream's expected packets.
    pub loss_fraction: Option<f64>,
    /// The largest jitter among the streams.
    pub jitter: Option<Duration>,
    /// The latest round-trip time measured on any stream.
    pub rtt: Option<Duration>,
}

/// A clock rate for streams whose rate was never bound (the video rate, RFC 7741).
pub const DEFAULT_CLOCK_RATE: u32 = 90_000;
/// Sender reports remembered for round-trip times: a few seconds' worth for a dozen streams.
const SENT_REPORTS: usize = 64;
/// A jump in the highest sequence number larger than this is a restart, not traffic.
const MAX_STEP: u32 = 1 << 20;

#[derive(Debug, Default)]
struct Stream {
    clock_rate: u32,
    /// (extended highest sequence number, cumulative lost) of the previous report.
    baseline: Option<(u32, u32)>,
    latest: Option<Sample>,
}

/// The quality state of one connection.
#[derive(Debug, Default)]
pub struct LinkQuality {
    streams: HashMap<u32, Stream>,
    /// Sender reports we sent: (SSRC, middle 32 bits of their NTP time, when).
    sent: VecDeque<(u32, u32, Instant)>,
    rtt: Option<Duration>,
}

/// The middle 32 bits of a 64-bit NTP timestamp, as echoed in LSR.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

impl LinkQuality {
    pub fn new() -> Self {
        Self::default()
    }

    /// A stream of this connection and its RTP clock rate (needed to turn jitter into time).
    pub fn bind(&mut self, ssrc: u32, clock_rate: u32) {
        self.streams.entry(ssrc).or_default().clock_rate = clock_rate;
    }

    /// The stream is gone; its latest sample no longer counts.
    pub fn unbind(&mut self, ssrc: u32) {
        self.streams.remove(&ssrc);
        self.sent.retain(|(s, _, _)| *s != ssrc);
    }

    /// We sent a sender report for `ssrc` with NTP time `ntp` at `at`.
    pub fn sender_report_sent(&mut self, ssrc: u32, ntp: u64, at: Instant) {
        if self.sent.len() == SENT_REPORTS {
            self.sent.pop_front();
        }
        self.sent.push_back((ssrc, ntp_middle(ntp), at));
    }

    /// A reception report block, sent or received at `at`.
    pub fn report(&mut self, block: &ReportBlock, at: Instant) -> Sample {
        let rtt = self.round_trip(block, at);
        if rtt.is_some() {
            self.rtt = rtt;
        }
        let stream = self.streams.entry(block.ssrc).or_default();
        let rate = if stream.clock_rate == 0 {
            DEFAULT_CLOCK_RATE
        } else {
            stream.clock_rate
        };
        let (expected, lost) = match stream.baseline {
            Some((seq, total)) => {
                let step = block.highest_seq.wrapping_sub(seq);
                if step > MAX_STEP {
                    (0, 0)
                } else {
                    let lost = block.total_lost.saturating_sub(total).min(step);
                    (u64::from(step), u64::from(lost))
                }
            }
            None => (0, 0),
        };
        stream.baseline = Some((block.highest_seq, block.total_lost));
        let sample = Sample {
            ssrc: block.ssrc,
            loss_fraction: f64::from(block.fraction_lost) / 256.0,
            jitter: Duration::from_secs_f64(f64::from(block.jitter) / f64::from(rate)),
            rtt,
            expected,
            lost,
        };
        stream.latest = Some(sample);
        sample
    }

    fn round_trip(&self, block: &ReportBlock, at: Instant) -> Option<Duration> {
        if block.lsr == 0 {
            return None;
        }
        let (_, _, sent) = self
            .sent
            .iter()
            .rev()
            .find(|(ssrc, middle, _)| *ssrc == block.ssrc && *middle == block.lsr)?;
        let held = Duration::from_secs_f64(f64::from(block.dlsr) / 65536.0);
        Some(at.saturating_duration_since(*sent).saturating_sub(held))
    }

    /// The latest samples of every stream, folded.
    pub fn summary(&self) -> Summary {
        let latest: Vec<&Sample> = self
            .streams
            .values()
            .filter_map(|s| s.latest.as_ref())
            .collect();
        if latest.is_empty() {
            return Summary {
                rtt: self.rtt,
                ..Summary::default()
            };
        }
        let weight: u64 = latest.iter().map(|s| s.expected).sum();
        let loss = if weight > 0 {
            latest
                .iter()
                .map(|s| s.loss_fraction * s.expected as f64)
                .sum::<f64>()
                / weight as f64
        } else {
            latest.iter().map(|s| s.loss_fraction).sum::<f64>() / latest.len() as f64
        };
        Summary {
            loss_fraction: Some(loss),
            jitter: latest.iter().map(|s| s.jitter).max(),
            rtt: self.rtt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(ssrc: u32, fraction: u8, total: u32, seq: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: fraction,
            total_lost: total,
            highest_seq: seq,
            ..ReportBlock::default()
        }
    }

    #[test]
    fn loss_counts_from_the_second_report_on() {
        let t0 = Instant::now();
        let mut q = LinkQuality::new();
        q.bind(7, 48_000);
        let first = q.report(&block(7, 0, 0, 1000), t0);
        assert_eq!((first.expected, first.lost), (0, 0));
        let second = q.report(&block(7, 64, 12, 1050), t0 + Duration::from_secs(1));
        assert_eq!((second.expected, second.lost), (50, 12));
        assert_eq!(second.loss_fraction, 0.25);
    }

    #[test]
    fn jitter_is_converted_with_the_stream_clock_rate() {
        let mut q = LinkQuality::new();
        q.bind(1, 48_000);
        q.bind(2, 90_000);
        let now = Instant::now();
        let audio = q.report(
            &ReportBlock {
                ssrc: 1,
                jitter: 480,
                ..ReportBlock::default()
            },
            now,
        );
        assert_eq!(audio.jitter, Duration::from_millis(10));
        let video = q.report(
            &ReportBlock {
                ssrc: 2,
                jitter: 1800,
                ..ReportBlock::default()
            },
            now,
        );
        assert_eq!(video.jitter, Duration::from_millis(20));
        assert_eq!(q.summary().jitter, Some(Duration::from_millis(20)));
    }

    #[test]
    fn round_trip_time_comes_from_the_echoed_sender_report() {
        let t0 = Instant::now();
        let mut q = LinkQuality::new();
        let ntp: u64 = 0x0001_2345_6789_0000;
        q.sender_report_sent(9, ntp, t0);
        // The receiver held the report 250 ms and answered; it arrives 330 ms after we sent it.
        let echo = ReportBlock {
            ssrc: 9,
            lsr: ntp_middle(ntp),
            dlsr: 65536 / 4,
            ..ReportBlock::default()
        };
        let s = q.report(&echo, t0 + Duration::from_millis(330));
        let rtt = s.rtt.expect("an echoed report gives a round trip");
        assert!(
            (rtt.as_secs_f64() - 0.080).abs() < 1e-3,
            "round trip {rtt:?}"
        );
        assert_eq!(q.summary().rtt, Some(rtt));
    }

    #[test]
    fn an_echo_of_an_unknown_report_gives_no_round_trip() {
        let t0 = Instant::now();
        let mut q = LinkQuality::new();
        q.sender_report_sent(9, 1 << 32, t0);
        let other_stream = ReportBlock {
            ssrc: 10,
            lsr: ntp_middle(1 << 32),
            ..ReportBlock::default()
        };
        assert_eq!(q.report(&other_stream, t0).rtt, None);
        let never_sent = ReportBlock {
            ssrc: 9,
            lsr: 12345,
            ..ReportBlock::default()
        };
        assert_eq!(q.report(&never_sent, t0).rtt, None);
        assert_eq!(q.summary().rtt, None);
    }

    #[test]
    fn summary_weights_loss_by_expected_packets() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let mut q = LinkQuality::new();
        // Audio: 50 packets, none lost. Video: 150 packets, a quarter lost.
        q.report(&block(1, 0, 0, 0), t0);
        q.report(&block(2, 0, 0, 0), t0);
        q.report(&block(1, 0, 0, 50), t1);
        q.report(&block(2, 64, 37, 150), t1);
        let loss = q.summary().loss_fraction.expect("two streams reported");
        assert!((loss - 0.1875).abs() < 1e-9, "loss {loss}");
        q.unbind(2);
        assert_eq!(q.summary().loss_fraction, Some(0.0));
    }

    #[test]
    fn a_restarted_sender_resets_the_baseline() {
        let t0 = Instant::now();
        let mut q = LinkQuality::new();
        q.report(&block(3, 0, 500, 70_000), t0);
        // The sequence went backwards: a new baseline, nothing counted.
        let s = q.report(&block(3, 0, 0, 10), t0);
        assert_eq!((s.expected, s.lost), (0, 0));
        let s = q.report(&block(3, 0, 2, 110), t0);
        assert_eq!((s.expected, s.lost), (100, 2));
    }

    #[test]
    fn sender_reports_remembered_are_bounded() {
        let t0 = Instant::now();
        let mut q = LinkQuality::new();
        for i in 0..1000u64 {
            q.sender_report_sent(1, i << 16, t0);
        }
        assert_eq!(q.sent.len(), SENT_REPORTS);
    }

    proptest! {
        #[test]
        fn any_report_sequence_gives_sane_figures(
            blocks in proptest::collection::vec(
                (0u32..4, any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
                0..50),
        ) {
            let t0 = Instant::now();
            let mut q = LinkQuality::new();
            q.sender_report_sent(1, 0xFFFF_FFFF_FFFF_FFFF, t0);
            for (i, (ssrc, fraction, total, seq, jitter, lsr, dlsr)) in blocks.into_iter().enumerate() {
                let b = ReportBlock { ssrc, fraction_lost: fraction, total_lost: total,
                    highest_seq: seq, jitter, lsr, dlsr };
                let s = q.report(&b, t0 + Duration::from_millis(i as u64));
                prop_assert!((0.0..1.0).contains(&s.loss_fraction));
                prop_assert!(s.lost <= s.expected);
                prop_assert!(s.expected <= u64::from(MAX_STEP));
            }
            let sum = q.summary();
            if let Some(l) = sum.loss_fraction {
                prop_assert!((0.0..1.0).contains(&l));
            }
        }
    }
}
