//! The estimator each subscribe connection runs: rtc's GCC, with its climb damped.
//!
//! GCC here raises both of its halves whenever nothing is lost and no queue builds: the loss
//! half by 5% every 200 ms, a quarter a second. A subscriber's link carries only what the
//! allocator sends it, and after congestion that is less than the link holds, so nothing is
//! lost and the estimate climbs far past the link (in a shaped test, from 250 kbit/s to
//! 1.8 Mbit/s in 8 s), and every raise it allows fails. libwebrtc's AIMD climbs at most 8% a
//! second; [`Damped`] holds GCC's estimate to that climb, and passes every fall at once.
//!
//! GCC's own state goes on climbing meanwhile, so when a raise then overfills the link its loss
//! half comes down from far above and takes seconds to reach the link. So while the loss GCC
//! averages is 2% or more, [`Damped`] does not climb, and at 10% or more it cuts its own
//! estimate as GCC's loss half would (by half the loss, every 200 ms).

use std::time::{Duration, Instant};

use rtc::interceptor::{BandwidthEstimator, EstimatorStats, Gcc, PacketReport};

/// The most the estimate rises in a second.
pub(crate) const GROWTH_PER_SECOND: f64 = 1.08;
/// Average loss at which the estimate stops climbing, and at which it is cut (GCC's own).
const LOW_LOSS: f64 = 0.02;
const HIGH_LOSS: f64 = 0.10;
/// The least time between two cuts for loss.
const CUT_INTERVAL: Duration = Duration::from_millis(200);

pub(crate) struct Damped {
    gcc: Gcc,
    target: f64,
    min: f64,
    at: Option<Instant>,
    cut_at: Option<Instant>,
}

impl Damped {
    /// GCC as configured; `min` is the floor it was given.
    pub(crate) fn new(gcc: Gcc, min: f64) -> Damped {
        Damped {
            target: gcc.target_bitrate(),
            gcc,
            min,
            at: None,
            cut_at: None,
        }
    }
}

impl BandwidthEstimator for Damped {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.gcc.on_reports(now, reports);
        let wanted = self.gcc.target_bitrate();
        let loss = self.gcc.stats().packet_loss.unwrap_or(0.0);
        if wanted <= self.target {
            self.target = wanted;
        } else if loss >= LOW_LOSS {
            // No climbing while packets are being lost.
        } else {
            // At most a second's climb at a time, however long since the last feedback.
            let secs = self.at.map_or(0.0, |t| {
                now.saturating_duration_since(t).as_secs_f64().min(1.0)
            });
            self.target = wanted.min(self.target * GROWTH_PER_SECOND.powf(secs));
        }
        let cut_due = self
            .cut_at
            .is_none_or(|t| now.saturating_duration_since(t) >= CUT_INTERVAL);
        if loss >= HIGH_LOSS && cut_due && !reports.is_empty() {
            self.target = (self.target * (1.0 - 0.5 * loss)).max(self.min);
            self.cut_at = Some(now);
        }
        self.at = Some(now);
    }

    fn target_bitrate(&self) -> f64 {
        self.target
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.gcc.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.gcc.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.gcc.stats()
    }
}
