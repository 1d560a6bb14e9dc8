//! What a subscription sent recently, so that its NACKs can be answered from the SFU.
//!
//! Each video subscription keeps its last packets as sent (rewritten header and payload), indexed
//! by outgoing sequence number. A NACK names outgoing sequence numbers, so the lookup is direct;
//! the payload is shared with every other subscriber of the track (for `Bytes`, a reference count).
//!
//! The history is bounded twice: by age (a packet older than `max_age` would reach the subscriber
//! after its jitter buffer gave the frame up, and by then it has asked for a keyframe) and by
//! count. The age bound is what keeps memory flat: at 500 kbit/s a count of 512 held nine seconds
//! of video per track alive, the largest share of a publishing participant's memory.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::RtpOut;

/// How often one packet may be sent again; past that the subscriber needs a keyframe anyway.
pub const MAX_RESENDS: u8 = 2;

#[derive(Debug, Clone)]
struct Sent<P> {
    header: RtpOut,
    marker: bool,
    resent: u8,
    at: Instant,
    payload: P,
}

/// The packets sent on one subscription in the last `max_age`, at most `capacity` of them,
/// in sequence-number order from `base` (a gap in the numbers is a hole).
#[derive(Debug, Clone)]
pub struct SentHistory<P> {
    base: u16,
    ring: VecDeque<Option<Sent<P>>>,
    capacity: usize,
    max_age: Duration,
}

impl<P: Clone> SentHistory<P> {
    /// Holds what was sent in the last `max_age`, and at most the last `capacity` packets
    /// (at least 16, at most 32 768: half the sequence space, so that "behind" is defined).
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        SentHistory {
            base: 0,
            ring: VecDeque::new(),
            capacity: capacity.clamp(16, 1 << 15),
            max_age,
        }
    }

    /// How many slots (held packets and holes) the history spans now.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Remembers a packet as it was sent at `now`, and forgets what fell out of either bound.
    pub fn record(&mut self, now: Instant, header: RtpOut, marker: bool, payload: &P) {
        let sent = Sent {
            header,
            marker,
            resent: 0,
            at: now,
            payload: payload.clone(),
        };
        self.forget(now);
        let offset = usize::from(header.seq.wrapping_sub(self.base));
        if self.ring.is_empty() || (offset >= self.ring.len() + self.capacity && offset < 1 << 15) {
            // The first packet (or the first after everything held aged out), or a jump past
            // everything held: start again from here.
            self.ring.clear();
            self.base = header.seq;
            self.ring.push_back(Some(sent));
        } else if offset >= 1 << 15 {
            // Behind the oldest packet held (a late reordered packet): too old to keep.
            return;
        } else if offset < self.ring.len() {
            self.ring[offset] = Some(sent);
        } else {
            // A gap (packets the rewriter never sent) is kept as holes.
            self.ring.resize(offset, None);
            self.ring.push_back(Some(sent));
        }
        self.forget(now);
    }

    /// Drops from the front whatever is past the count, too old, or a hole.
    fn forget(&mut self, now: Instant) {
        while let Some(front) = self.ring.front() {
            let stale = match front {
                Some(s) => now.saturating_duration_since(s.at) > self.max_age,
                None => true,
            };
            if !stale && self.ring.len() <= self.capacity {
                break;
            }
            self.ring.pop_front();
            self.base = self.base.wrapping_add(1);
        }
    }

    /// The packet sent as `seq`, if it is still held, is not older than `max_age` at `now`, and
    /// has not been sent again too often.
    pub fn resend(&mut self, now: Instant, seq: u16) -> Option<(RtpOut, bool, P)> {
        self.forget(now);
        let offset = usize::from(seq.wrapping_sub(self.base));
        let sent = self.ring.get_mut(offset)?.as_mut()?;
        // `forget` stops at the first fresh packet; one behind it may be older (a late packet
        // re-recorded the front).
        if sent.resent >= MAX_RESENDS || now.saturating_duration_since(sent.at) > self.max_age {
            return None;
        }
        sent.resent += 1;
        Some((sent.header, sent.marker, sent.payload.clone()))
    }
}

/// The sequence numbers a NACK's (packet id, bitmask) pair names (RFC 4585 §6.2.1).
pub fn nack_seqs(packet_id: u16, lost_bitmask: u16) -> impl Iterator<Item = u16> {
    std::iter::once(packet_id).chain(
        (0..16u16)
            .filter(move |i| lost_bitmask & (1 << i) != 0)
            .map(move |i| packet_id.wrapping_add(i + 1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(seq: u16) -> RtpOut {
        RtpOut {
            ssrc: 1,
            seq,
            timestamp: u32::from(seq) * 3000,
        }
    }

    const AGE: Duration = Duration::from_secs(1);

    #[test]
    fn resends_what_it_holds_a_limited_number_of_times() {
        let t0 = Instant::now();
        let mut h = SentHistory::new(16, AGE);
        for s in 65530..=65535u16 {
            h.record(t0, out(s), false, &vec![s as u8]);
        }
        h.record(t0, out(0), true, &vec![0]);
        let (hdr, marker, p) = h.resend(t0, 0).expect("held");
        assert_eq!(hdr, out(0));
        assert!(marker);
        assert_eq!(p, vec![0]);
        assert!(h.resend(t0, 0).is_some());
        assert!(h.resend(t0, 0).is_none(), "at most {MAX_RESENDS} resends");
        assert_eq!(h.resend(t0, 65533).map(|r| r.0.seq), Some(65533));
        // Never sent, or pushed out by newer packets past the count.
        assert!(h.resend(t0, 100).is_none());
        h.record(t0, out(65530u16.wrapping_add(16)), false, &vec![9]);
        assert!(h.resend(t0, 65530).is_none());
        assert_eq!(h.resend(t0, 65531).map(|r| r.2), Some(vec![251]));
        assert_eq!(h.len(), 16);
    }

    #[test]
    fn forgets_what_is_older_than_its_age() {
        let t0 = Instant::now();
        let mut h = SentHistory::new(512, AGE);
        let ms = Duration::from_millis;
        for s in 0..100u16 {
            h.record(t0 + ms(u64::from(s) * 20), out(s), false, &vec![0; 1200]);
        }
        // 2 s of packets, 20 ms apart: only the last second's are still held.
        assert!(h.len() <= 51, "{} slots held", h.len());
        let last = t0 + ms(99 * 20);
        assert!(h.resend(last, 40).is_none(), "1.18 s old");
        assert!(h.resend(last, 60).is_some(), "0.78 s old");
        // Nothing sent for a while: a NACK finds nothing, and the next packet starts afresh.
        assert!(h.resend(last + ms(1500), 99).is_none());
        assert!(h.is_empty());
        h.record(last + ms(1500), out(100), false, &vec![1]);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn gaps_are_holes_and_late_packets_are_not_kept() {
        let t0 = Instant::now();
        let mut h = SentHistory::new(64, AGE);
        h.record(t0, out(10), false, &vec![10]);
        h.record(t0, out(14), false, &vec![14]);
        assert_eq!(h.len(), 5);
        assert!(h.resend(t0, 12).is_none(), "a hole");
        // A late packet inside the span fills its hole; one from before it is not kept.
        h.record(t0, out(12), false, &vec![12]);
        assert_eq!(h.resend(t0, 12).map(|r| r.2), Some(vec![12]));
        h.record(t0, out(9), false, &vec![9]);
        assert!(h.resend(t0, 9).is_none());
        assert_eq!(h.resend(t0, 10).map(|r| r.2), Some(vec![10]));
        // A jump past everything held starts again from the new packet.
        h.record(t0, out(5000), false, &vec![50]);
        assert_eq!(h.len(), 1);
        assert!(h.resend(t0, 14).is_none());
        assert_eq!(h.resend(t0, 5000).map(|r| r.2), Some(vec![50]));
    }

    proptest::proptest! {
        /// Whatever is recorded, in whatever order: the history spans at most its capacity, and
        /// a resend returns the payload last recorded for that number, never older than the
        /// age, never more than MAX_RESENDS times; a packet sent in order within both bounds is
        /// always found.
        #[test]
        fn holds_only_what_its_bounds_allow(
            steps in proptest::collection::vec((0u64..40, -3i32..6, proptest::bool::ANY), 1..400),
            start in proptest::num::u16::ANY,
        ) {
            let t0 = Instant::now();
            let capacity = 32;
            let mut h = SentHistory::new(capacity, Duration::from_millis(300));
            let mut model = std::collections::HashMap::new();
            let age = Duration::from_millis(300);
            let (mut now, mut seq) = (t0, start);
            // The furthest number recorded, and whether the newest record was the furthest.
            let (mut furthest, mut newest_in_order) = (None::<u16>, None::<u16>);
            for (i, (dt, dseq, nack)) in steps.into_iter().enumerate() {
                now += Duration::from_millis(dt);
                seq = seq.wrapping_add_signed(dseq as i16);
                if nack {
                    let got = h.resend(now, seq);
                    if let Some((hdr, _, p)) = &got {
                        let (at, payload, resent) = model.get_mut(&seq).expect("only what was sent");
                        proptest::prop_assert_eq!(hdr.seq, seq);
                        proptest::prop_assert_eq!(p, payload);
                        proptest::prop_assert!(now.duration_since(*at) <= age);
                        *resent += 1;
                        proptest::prop_assert!(*resent <= MAX_RESENDS);
                    } else if let (Some(n), Some((at, _, resent))) = (newest_in_order, model.get(&seq)) {
                        let findable = n == seq && now.duration_since(*at) <= age && *resent < MAX_RESENDS;
                        proptest::prop_assert!(!findable, "the newest packet, sent in order, not found");
                    }
                } else {
                    h.record(now, out(seq), false, &vec![i as u8]);
                    model.insert(seq, (now, vec![i as u8], 0u8));
                    let ahead = furthest.is_none_or(|f| (seq.wrapping_sub(f) as i16) > 0);
                    newest_in_order = ahead.then_some(seq);
                    if ahead {
                        furthest = Some(seq);
                    }
                }
                proptest::prop_assert!(h.len() <= capacity);
            }
        }
    }

    #[test]
    fn nack_bitmasks_expand() {
        assert_eq!(nack_seqs(10, 0).collect::<Vec<_>>(), vec![10]);
        assert_eq!(
            nack_seqs(65535, 0b101).collect::<Vec<_>>(),
            vec![65535, 0, 2]
        );
        assert_eq!(nack_seqs(1, 0x8000).collect::<Vec<_>>(), vec![1, 17]);
    }
}
