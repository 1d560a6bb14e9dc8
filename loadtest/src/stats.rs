//! The statistics a load test reports: percentiles, loss, and RFC 3550 interarrival jitter.

use serde::{Deserialize, Serialize};

/// The value at percentile `p` (0–100) of `sorted` (ascending), by the nearest-rank method:
/// the smallest value with at least p% of the samples at or below it. None when empty.
pub fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Lost over expected, 0 to 1; zero when nothing was expected. Packets received more than once
/// (retransmissions) never make loss negative.
pub fn loss_fraction(expected: u64, received: u64) -> f64 {
    if expected == 0 {
        0.0
    } else {
        expected.saturating_sub(received) as f64 / expected as f64
    }
}

/// A distribution in milliseconds, from samples in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Millis {
    pub samples: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Millis {
    /// Sorts `us` and summarises it; all zeros when empty.
    pub fn from_micros(mut us: Vec<u32>) -> Millis {
        if us.is_empty() {
            return Millis::default();
        }
        us.sort_unstable();
        let ms = |v: Option<u32>| f64::from(v.unwrap_or(0)) / 1000.0;
        let sum: u64 = us.iter().map(|&v| u64::from(v)).sum();
        Millis {
            samples: us.len(),
            p50: ms(percentile(&us, 50.0)),
            p95: ms(percentile(&us, 95.0)),
            p99: ms(percentile(&us, 99.0)),
            max: ms(us.last().copied()),
            mean: sum as f64 / us.len() as f64 / 1000.0,
        }
    }
}

/// RFC 3550 §6.4.1 interarrival jitter on one stream: the mean deviation of the difference in
/// transit time between consecutive packets, smoothed by 1/16. Sender and receiver share one
/// clock here (one machine), so transit times are real one-way delays.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Jitter {
    estimate_us: f64,
    last_transit_us: Option<i64>,
}

impl Jitter {
    /// A packet sent at `sent_us` arrived at `arrived_us` (microseconds, one clock).
    pub fn arrival(&mut self, sent_us: u64, arrived_us: u64) {
        let transit = arrived_us as i64 - sent_us as i64;
        if let Some(last) = self.last_transit_us {
            let d = (transit - last).unsigned_abs() as f64;
            self.estimate_us += (d - self.estimate_us) / 16.0;
        }
        self.last_transit_us = Some(transit);
    }

    pub fn micros(&self) -> f64 {
        self.estimate_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 51.0), Some(3));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn millis_summarise_unsorted_micros() {
        let m = Millis::from_micros(vec![4000, 1000, 3000, 2000]);
        assert_eq!(m.samples, 4);
        assert_eq!((m.p50, m.p95, m.p99, m.max), (2.0, 4.0, 4.0, 4.0));
        assert_eq!(m.mean, 2.5);
        assert_eq!(Millis::from_micros(vec![]), Millis::default());
    }

    #[test]
    fn loss_is_missing_over_expected() {
        assert_eq!(loss_fraction(1000, 990), 0.01);
        assert_eq!(loss_fraction(1000, 1000), 0.0);
        assert_eq!(
            loss_fraction(10, 12),
            0.0,
            "duplicates never make loss negative"
        );
        assert_eq!(loss_fraction(0, 0), 0.0);
        assert_eq!(loss_fraction(4, 0), 1.0);
    }

    #[test]
    fn steady_transit_has_no_jitter_and_alternating_transit_converges() {
        let mut j = Jitter::default();
        for i in 0..100u64 {
            j.arrival(i * 20_000, i * 20_000 + 500);
        }
        assert_eq!(j.micros(), 0.0);
        // Transit alternating 0 and 1000 us: |D| is always 1000, so J tends to 1000.
        let mut j = Jitter::default();
        for i in 0..500u64 {
            j.arrival(i * 20_000, i * 20_000 + (i % 2) * 1000);
        }
        assert!((j.micros() - 1000.0).abs() < 1.0, "{}", j.micros());
        // One step of 1600 us from zero moves the estimate by 1/16 of it.
        let mut j = Jitter::default();
        j.arrival(0, 0);
        j.arrival(20_000, 21_600);
        assert_eq!(j.micros(), 100.0);
    }
}
