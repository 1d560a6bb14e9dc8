//! What a subscription sent recently, so that its NACKs can be answered from the SFU.
//!
//! Each video subscription keeps its last packets as sent (rewritten header and payload), indexed
//! by outgoing sequence number. A NACK names outgoing sequence numbers, so the lookup is direct;
//! the payload is shared with every other subscriber of the track (for `Bytes`, a reference count).

use crate::RtpOut;

/// How often one packet may be sent again; past that the subscriber needs a keyframe anyway.
pub const MAX_RESENDS: u8 = 2;

#[derive(Debug, Clone)]
struct Sent<P> {
    header: RtpOut,
    marker: bool,
    payload: P,
    resent: u8,
}

/// A ring of the last `capacity` packets sent on one subscription.
#[derive(Debug, Clone)]
pub struct SentHistory<P> {
    slots: Vec<Option<Sent<P>>>,
}

impl<P: Clone> SentHistory<P> {
    /// Holds the last `capacity` packets (rounded up to a power of two, at least 16).
    pub fn new(capacity: usize) -> Self {
        let n = capacity.clamp(16, 1 << 15).next_power_of_two();
        SentHistory {
            slots: vec![None; n],
        }
    }

    fn index(&self, seq: u16) -> usize {
        usize::from(seq) & (self.slots.len() - 1)
    }

    /// Remembers a packet as it was sent.
    pub fn record(&mut self, header: RtpOut, marker: bool, payload: &P) {
        let i = self.index(header.seq);
        self.slots[i] = Some(Sent {
            header,
            marker,
            payload: payload.clone(),
            resent: 0,
        });
    }

    /// The packet sent as `seq`, if it is still held and has not been sent again too often.
    pub fn resend(&mut self, seq: u16) -> Option<(RtpOut, bool, P)> {
        let i = self.index(seq);
        let sent = self.slots[i].as_mut()?;
        if sent.header.seq != seq || sent.resent >= MAX_RESENDS {
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

    #[test]
    fn resends_what_it_holds_a_limited_number_of_times() {
        let mut h = SentHistory::new(16);
        for s in 65530..=65535u16 {
            h.record(out(s), false, &vec![s as u8]);
        }
        h.record(out(0), true, &vec![0]);
        let (hdr, marker, p) = h.resend(0).expect("held");
        assert_eq!(hdr, out(0));
        assert!(marker);
        assert_eq!(p, vec![0]);
        assert!(h.resend(0).is_some());
        assert!(h.resend(0).is_none(), "at most {MAX_RESENDS} resends");
        assert_eq!(h.resend(65533).map(|r| r.0.seq), Some(65533));
        // Never sent, or overwritten by a newer packet in the same slot.
        assert!(h.resend(100).is_none());
        h.record(out(65530u16.wrapping_add(16)), false, &vec![9]);
        assert!(h.resend(65530).is_none());
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
