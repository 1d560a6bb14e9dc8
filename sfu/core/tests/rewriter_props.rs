//! Property tests of the RTP rewriter: whatever the source does, the subscriber's stream keeps
//! one SSRC, never repeats a sequence number, and has no gaps of our making.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sfu_core::rewriter::{Rewrite, RtpRewriter};
use sfu_core::{RtpMeta, RtpOut};

#[derive(Debug, Clone)]
enum Op {
    /// Send the next packet of the current source.
    Send,
    /// Hold the next packet back (muted, waiting for a keyframe).
    Skip,
    /// Switch to a new source with this SSRC, starting sequence number and timestamp.
    Switch(u32, u16, u32),
    /// Let time pass.
    Wait(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Send),
        2 => Just(Op::Skip),
        1 => (any::<u32>(), any::<u16>(), any::<u32>()).prop_map(|(s, q, t)| Op::Switch(s, q, t)),
        1 => (1u16..500).prop_map(Op::Wait),
    ]
}

struct Source {
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl Source {
    fn next(&mut self) -> RtpMeta {
        let m = RtpMeta {
            ssrc: self.ssrc,
            seq: self.seq,
            timestamp: self.ts,
            marker: false,
            audio_level: None,
            layer: 0,
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(960);
        m
    }
}

proptest! {
    #[test]
    fn in_order_streams_come_out_gap_free(
        start_seq in any::<u16>(),
        start_ts in any::<u32>(),
        out_ssrc in any::<u32>(),
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut rw = RtpRewriter::new(out_ssrc, 48_000);
        let mut src = Source { ssrc: 1, seq: start_seq, ts: start_ts };
        let mut prev: Option<RtpOut> = None;
        for op in ops {
            match op {
                Op::Send => {
                    let m = src.next();
                    let Rewrite::Forward(out) = rw.rewrite(now, &m) else {
                        return Err(TestCaseError::fail("an in-order packet was refused"));
                    };
                    prop_assert_eq!(out.ssrc, out_ssrc);
                    if let Some(p) = prev {
                        prop_assert_eq!(out.seq, p.seq.wrapping_add(1));
                        let step = out.timestamp.wrapping_sub(p.timestamp);
                        prop_assert!(step > 0 && step < (1 << 31), "timestamp went back: {}", step);
                    }
                    prev = Some(out);
                }
                Op::Skip => rw.skip(&src.next()),
                Op::Switch(ssrc, seq, ts) => {
                    // A new source needs a different SSRC to be a switch at all.
                    src = Source { ssrc: if ssrc == src.ssrc { ssrc ^ 1 } else { ssrc }, seq, ts };
                }
                Op::Wait(ms) => now += Duration::from_millis(u64::from(ms)),
            }
        }
    }

    #[test]
    fn reordered_streams_never_repeat_a_sequence_number(
        start_seq in any::<u16>(),
        swaps in proptest::collection::vec((0usize..300, 1usize..4), 0..60),
        skips in proptest::collection::vec(0usize..300, 0..30),
    ) {
        let t0 = Instant::now();
        let mut rw = RtpRewriter::new(9, 90_000);
        let mut order: Vec<u16> = (0..300u16).collect();
        for (i, d) in swaps {
            let j = (i + d).min(order.len() - 1);
            order.swap(i, j);
        }
        let skip: HashSet<usize> = skips.into_iter().collect();
        let mut seen = HashSet::new();
        for (n, k) in order.into_iter().enumerate() {
            let m = RtpMeta {
                ssrc: 3,
                seq: start_seq.wrapping_add(k),
                timestamp: 3000 * u32::from(k),
                marker: false,
                audio_level: None,
                layer: 0,
            };
            if skip.contains(&n) {
                rw.skip(&m);
                continue;
            }
            if let Rewrite::Forward(out) = rw.rewrite(t0, &m) {
                prop_assert!(seen.insert(out.seq), "sequence number {} sent twice", out.seq);
            }
        }
    }
}
