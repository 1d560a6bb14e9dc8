//! How a connection looks to the people on the call: good, fair or poor, from what its RTCP
//! reports measured and from whether its link holds back what it is sent. Each participant has
//! two grades: its uplink (what it sends us, which is what everyone else sees of it) and its
//! downlink (what we send it). A client shows the first on each person's tile and tells its user
//! when either of its own is not good.

use crate::quality::Summary;
use std::time::Duration;

/// A connection's quality, as a user is told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    Good,
    /// Noticeable: some loss or delay, or (a downlink) lower layers or paused videos because
    /// the link carries no more.
    Fair,
    /// Breaking up: heavy loss or a long delay.
    Poor,
}

/// Loss at or above this is fair; at or above `POOR_LOSS`, poor. A few percent is what Opus
/// and VP8 conceal or NACK repairs without a user noticing; a tenth is not.
pub const FAIR_LOSS: f64 = 0.02;
pub const POOR_LOSS: f64 = 0.10;
/// Round trips at or above these make a conversation awkward, then hard (ITU-T G.114 puts
/// the one-way limit for interactive speech near 150-400 ms).
pub const FAIR_RTT: Duration = Duration::from_millis(300);
pub const POOR_RTT: Duration = Duration::from_millis(600);

/// The grade of one connection from its latest reports; `limited` says its link holds back
/// what it is sent (a downlink whose estimate paused or lowered some video). A connection with
/// no report yet is good: there is nothing against it.
pub fn grade(summary: &Summary, limited: bool) -> Grade {
    let loss = summary.loss_fraction.unwrap_or(0.0);
    let rtt = summary.rtt.unwrap_or(Duration::ZERO);
    if loss >= POOR_LOSS || rtt >= POOR_RTT {
        Grade::Poor
    } else if loss >= FAIR_LOSS || rtt >= FAIR_RTT || limited {
        Grade::Fair
    } else {
        Grade::Good
    }
}

/// Readings in a row that must be better before a told grade improves.
pub const RECOVER_AFTER: u8 = 3;

/// The grade a user is told, steadied: it worsens at once, and improves only after
/// [`RECOVER_AFTER`] better readings in a row, so one clean report interval in a bad minute
/// does not flip the indicator back and forth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told {
    grade: Grade,
    better: u8,
}

impl Default for Told {
    fn default() -> Self {
        Told {
            grade: Grade::Good,
            better: 0,
        }
    }
}

impl Told {
    /// Takes one reading; the grade to tell now.
    pub fn update(&mut self, reading: Grade) -> Grade {
        if reading >= self.grade {
            self.grade = reading;
            self.better = 0;
        } else {
            self.better += 1;
            if self.better >= RECOVER_AFTER {
                self.grade = reading;
                self.better = 0;
            }
        }
        self.grade
    }

    pub fn grade(&self) -> Grade {
        self.grade
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(loss: Option<f64>, rtt_ms: Option<u64>) -> Summary {
        Summary {
            loss_fraction: loss,
            jitter: None,
            rtt: rtt_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn no_report_is_good() {
        assert_eq!(grade(&Summary::default(), false), Grade::Good);
    }

    #[test]
    fn loss_grades_by_its_thresholds() {
        assert_eq!(grade(&summary(Some(0.019), None), false), Grade::Good);
        assert_eq!(grade(&summary(Some(0.02), None), false), Grade::Fair);
        assert_eq!(grade(&summary(Some(0.099), None), false), Grade::Fair);
        assert_eq!(grade(&summary(Some(0.10), None), false), Grade::Poor);
        assert_eq!(grade(&summary(Some(1.0), None), false), Grade::Poor);
    }

    #[test]
    fn round_trips_grade_by_their_thresholds() {
        assert_eq!(grade(&summary(None, Some(299)), false), Grade::Good);
        assert_eq!(grade(&summary(None, Some(300)), false), Grade::Fair);
        assert_eq!(grade(&summary(Some(0.0), Some(600)), false), Grade::Poor);
    }

    #[test]
    fn a_limited_link_is_at_best_fair_and_the_worst_signal_wins() {
        assert_eq!(grade(&summary(Some(0.0), Some(20)), true), Grade::Fair);
        assert_eq!(grade(&summary(Some(0.5), Some(20)), true), Grade::Poor);
        assert_eq!(grade(&summary(Some(0.03), Some(700)), false), Grade::Poor);
    }

    #[test]
    fn a_told_grade_worsens_at_once_and_recovers_after_better_readings_in_a_row() {
        let mut t = Told::default();
        assert_eq!(t.update(Grade::Poor), Grade::Poor);
        assert_eq!(t.update(Grade::Good), Grade::Poor);
        assert_eq!(t.update(Grade::Good), Grade::Poor);
        // A bad reading in between starts the count again.
        assert_eq!(t.update(Grade::Poor), Grade::Poor);
        for _ in 1..RECOVER_AFTER {
            assert_eq!(t.update(Grade::Fair), Grade::Poor);
        }
        assert_eq!(t.update(Grade::Fair), Grade::Fair);
        assert_eq!(t.update(Grade::Poor), Grade::Poor);
    }
}
