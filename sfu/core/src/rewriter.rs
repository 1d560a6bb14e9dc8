//! Per-subscription RTP header rewriting.
//!
//! A subscriber sees one continuous stream per track: one SSRC, sequence numbers with no gaps of
//! our making, and timestamps that keep advancing. Underneath, the source may pause (mute), lose
//! packets we chose not to forward (waiting for a keyframe, a full queue) or switch to another
//! SSRC (a publisher's restart, later a simulcast layer). Each of these starts a new *segment*:
//! the offsets are re-based so that the next packet out continues exactly one after the last one
//! sent, and, on a source switch, its timestamp follows the last one by the wall time that passed.
//!
//! Losses upstream inside a segment keep their gaps, so the subscriber's NACKs and jitter buffer
//! see them as they were.

use std::time::Instant;

use crate::seq::SeqUnwrapper;
use crate::{RtpMeta, RtpOut};

/// What became of a packet offered to [`RtpRewriter::rewrite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Send it with these header fields.
    Forward(RtpOut),
    /// It is older than the current segment began; sending it would collide with packets
    /// already sent.
    TooOld,
}

#[derive(Debug, Clone)]
struct Segment {
    ssrc: u32,
    unwrapper: SeqUnwrapper,
    /// Extended input sequence number of the segment's first packet.
    first_ext: u64,
    seq_delta: u16,
    ts_delta: u32,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    seq: u16,
    timestamp: u32,
    at: Instant,
}

/// Rewrites one subscription's packets. See the module docs.
#[derive(Debug, Clone)]
pub struct RtpRewriter {
    out_ssrc: u32,
    clock_rate: u32,
    segment: Option<Segment>,
    last: Option<LastOut>,
    /// A packet newer than any sent was held back: the next one sent starts a new segment.
    resync: bool,
}

impl RtpRewriter {
    /// A rewriter that sends as `out_ssrc`, for a codec with `clock_rate` ticks per second.
    pub fn new(out_ssrc: u32, clock_rate: u32) -> Self {
        RtpRewriter {
            out_ssrc,
            clock_rate: clock_rate.max(1),
            segment: None,
            last: None,
            resync: false,
        }
    }

    pub fn out_ssrc(&self) -> u32 {
        self.out_ssrc
    }

    /// Rewrites a packet that will be sent.
    pub fn rewrite(&mut self, now: Instant, pkt: &RtpMeta) -> Rewrite {
        let switched = self.segment.as_ref().is_none_or(|s| s.ssrc != pkt.ssrc);
        if switched {
            self.start_segment(now, pkt, true);
        }
        // Invariant: start_segment above ran whenever no segment existed.
        let Some(seg) = self.segment.as_mut() else {
            return Rewrite::TooOld;
        };
        let ext = seg.unwrapper.unwrap(pkt.seq);
        if ext < seg.first_ext {
            return Rewrite::TooOld;
        }
        let newest = Some(ext) == seg.unwrapper.highest();
        if self.resync && newest {
            self.resync = false;
            self.start_segment(now, pkt, false);
            return self.rewrite(now, pkt);
        }
        let Some(seg) = self.segment.as_ref() else {
            return Rewrite::TooOld;
        };
        let out = RtpOut {
            ssrc: self.out_ssrc,
            seq: pkt.seq.wrapping_add(seg.seq_delta),
            timestamp: pkt.timestamp.wrapping_add(seg.ts_delta),
        };
        // Remember the highest sequence number sent (a late packet can be it, after a skip).
        let ahead = self
            .last
            .is_none_or(|l| (1..0x8000).contains(&out.seq.wrapping_sub(l.seq)));
        if ahead {
            self.last = Some(LastOut {
                seq: out.seq,
                timestamp: out.timestamp,
                at: now,
            });
        }
        Rewrite::Forward(out)
    }

    /// Notes a packet that will not be sent (muted, waiting for a keyframe, queue full). When it
    /// is newer than anything sent, the next packet sent starts a new segment, so the subscriber
    /// sees no gap where it was.
    pub fn skip(&mut self, pkt: &RtpMeta) {
        match self.segment.as_mut() {
            Some(seg) if seg.ssrc == pkt.ssrc => {
                let ext = seg.unwrapper.unwrap(pkt.seq);
                if Some(ext) == seg.unwrapper.highest() {
                    self.resync = true;
                }
            }
            // A different source: the next packet sent switches anyway.
            _ => {}
        }
    }

    fn start_segment(&mut self, now: Instant, pkt: &RtpMeta, new_source: bool) {
        if new_source {
            self.resync = false;
        }
        let mut unwrapper = match (&self.segment, new_source) {
            (Some(seg), false) => seg.unwrapper.clone(),
            _ => SeqUnwrapper::default(),
        };
        let first_ext = unwrapper.unwrap(pkt.seq);
        let (seq_delta, ts_delta) = match (self.last, &self.segment) {
            (None, _) => (0, 0),
            (Some(last), Some(seg)) if !new_source => {
                // Same source after a hold-back: timestamps are already continuous.
                (last.seq.wrapping_add(1).wrapping_sub(pkt.seq), seg.ts_delta)
            }
            (Some(last), _) => {
                let elapsed = now.saturating_duration_since(last.at);
                let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000)
                    .clamp(1, u128::from(u32::MAX / 2)) as u32;
                let first_ts = last.timestamp.wrapping_add(ticks);
                (
                    last.seq.wrapping_add(1).wrapping_sub(pkt.seq),
                    first_ts.wrapping_sub(pkt.timestamp),
                )
            }
        };
        self.segment = Some(Segment {
            ssrc: pkt.ssrc,
            unwrapper,
            first_ext,
            seq_delta,
            ts_delta,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn meta(ssrc: u32, seq: u16, ts: u32) -> RtpMeta {
        RtpMeta {
            ssrc,
            seq,
            timestamp: ts,
            marker: false,
            audio_level: None,
            layer: 0,
        }
    }

    fn fwd(r: Rewrite) -> RtpOut {
        match r {
            Rewrite::Forward(o) => o,
            Rewrite::TooOld => panic!("expected forward"),
        }
    }

    #[test]
    fn passes_a_plain_stream_through_with_the_new_ssrc() {
        let t0 = Instant::now();
        let mut r = RtpRewriter::new(77, 90_000);
        for i in 0..10u16 {
            let o = fwd(r.rewrite(t0, &meta(5, 100 + i, 3000 * u32::from(i))));
            assert_eq!(o.ssrc, 77);
            assert_eq!(o.seq, 100 + i);
            assert_eq!(o.timestamp, 3000 * u32::from(i));
        }
    }

    #[test]
    fn sequence_and_timestamp_wrap_around() {
        let t0 = Instant::now();
        let mut r = RtpRewriter::new(1, 90_000);
        let mut outs = Vec::new();
        for i in 0..6u16 {
            let seq = 65533u16.wrapping_add(i);
            let ts = (u32::MAX - 5000).wrapping_add(3000 * u32::from(i));
            outs.push(fwd(r.rewrite(t0, &meta(9, seq, ts))));
        }
        for w in outs.windows(2) {
            assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
            assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(3000));
        }
    }

    #[test]
    fn upstream_loss_keeps_its_gap() {
        let t0 = Instant::now();
        let mut r = RtpRewriter::new(1, 48_000);
        let a = fwd(r.rewrite(t0, &meta(9, 10, 0)));
        let b = fwd(r.rewrite(t0, &meta(9, 13, 2880)));
        assert_eq!(b.seq.wrapping_sub(a.seq), 3);
        // The late packet fills the gap with its own number.
        let late = fwd(r.rewrite(t0, &meta(9, 11, 960)));
        assert_eq!(late.seq, a.seq.wrapping_add(1));
    }

    #[test]
    fn held_back_packets_leave_no_gap() {
        let t0 = Instant::now();
        let mut r = RtpRewriter::new(1, 48_000);
        let a = fwd(r.rewrite(t0, &meta(9, 100, 0)));
        for s in 101..150u16 {
            r.skip(&meta(9, s, 960 * u32::from(s - 100)));
        }
        let b = fwd(r.rewrite(t0, &meta(9, 150, 960 * 50)));
        assert_eq!(b.seq, a.seq.wrapping_add(1));
        // The timestamp keeps the media clock (same source).
        assert_eq!(b.timestamp.wrapping_sub(a.timestamp), 960 * 50);
        // A straggler from the held-back range would collide: refused.
        assert_eq!(r.rewrite(t0, &meta(9, 120, 0)), Rewrite::TooOld);
    }

    #[test]
    fn source_switch_continues_seq_and_advances_ts_by_wall_time() {
        let t0 = Instant::now();
        let mut r = RtpRewriter::new(1, 90_000);
        let a = fwd(r.rewrite(t0, &meta(9, 65535, 4_000_000_000)));
        let t1 = t0 + Duration::from_millis(100);
        let b = fwd(r.rewrite(t1, &meta(10, 7, 123)));
        assert_eq!(b.ssrc, 1);
        assert_eq!(b.seq, a.seq.wrapping_add(1));
        assert_eq!(b.timestamp.wrapping_sub(a.timestamp), 9000);
        let c = fwd(r.rewrite(t1, &meta(10, 8, 3123)));
        assert_eq!(c.seq, b.seq.wrapping_add(1));
        assert_eq!(c.timestamp.wrapping_sub(b.timestamp), 3000);
        // A packet of the new source from before the switch point would collide: refused.
        assert_eq!(r.rewrite(t1, &meta(10, 6, 0)), Rewrite::TooOld);
    }

    #[test]
    fn switch_with_no_time_passed_still_advances_timestamp() {
        let t0 = Instant::now();
        let mut r = RtpRewriter::new(1, 90_000);
        let a = fwd(r.rewrite(t0, &meta(9, 1, 500)));
        let b = fwd(r.rewrite(t0, &meta(10, 1, 500)));
        assert_ne!(a.timestamp, b.timestamp);
        assert_eq!(b.seq, a.seq.wrapping_add(1));
    }
}
