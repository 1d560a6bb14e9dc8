//! Unwrapping 16-bit sequence numbers into a monotonic 64-bit space.

/// Turns wrapping 16-bit sequence numbers into 64-bit ones, taking each new number as the
/// nearest (forward or backward) to the highest seen so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqUnwrapper {
    highest: Option<u64>,
}

impl SeqUnwrapper {
    /// Extended value of `seq`; updates the highest seen when it moves forward.
    pub(crate) fn unwrap(&mut self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            // Start well above zero so that a few packets from "before" the first stay positive.
            let ext = (1u64 << 32) + u64::from(seq);
            self.highest = Some(ext);
            return ext;
        };
        let high16 = highest as u16;
        let diff = seq.wrapping_sub(high16) as i16;
        let ext = highest.wrapping_add_signed(i64::from(diff));
        if ext > highest {
            self.highest = Some(ext);
        }
        ext
    }

    pub(crate) fn highest(&self) -> Option<u64> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_across_the_16_bit_boundary() {
        let mut u = SeqUnwrapper::default();
        let a = u.unwrap(65534);
        let b = u.unwrap(65535);
        let c = u.unwrap(0);
        let d = u.unwrap(1);
        assert_eq!(b, a + 1);
        assert_eq!(c, a + 2);
        assert_eq!(d, a + 3);
        // A late packet from before the wrap stays below.
        assert_eq!(u.unwrap(65533), a - 1);
        assert_eq!(u.highest(), Some(d));
    }
}
