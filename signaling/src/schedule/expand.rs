//! Local times placed in a zone by RFC 5545's rules, and the checks that need a walk.
//!
//! RFC 5545 (3.3.5) reads a local time that occurs twice (clocks going back) as the first of the
//! two, and one that the clocks skip with the UTC offset in force before the gap: 02:30 on the
//! March change in Berlin is 01:30 UTC, which is 03:30 CEST. Two local times of a rule can so land
//! on one instant (02:30 and 03:30 there); the recurrence set counts it once (3.8.5.3). A skipped
//! time lands up to the gap's length after later local times, so [`Instants`] holds each instant
//! back until no later local time can come before it: by the zone's forward jumps in the two
//! days around it, nothing at all where the clocks do not change.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::Frequency;

use super::rule::{Rule, Walk};
use crate::error::{FieldError, field};

/// The first years of a schedule that are checked for density and for having meetings at all.
/// Rules repeat in at most a year, except through ISO week 53, which comes every 5 or 6 years.
pub const SCAN_YEARS: i64 = 7;

/// How far apart the zone's UTC offsets are in the two days either side of `at`: how much
/// earlier than a local time there a later local time can be placed (by a gap), and how far
/// before `at`'s own local time a local time placed after `at` can be.
fn forward_jumps(tz: Tz, at: DateTime<Utc>) -> Duration {
    let offset = |u: DateTime<Utc>| {
        let o = tz.offset_from_utc_datetime(&u.naive_utc());
        i64::from(chrono::Offset::fix(&o).local_minus_utc())
    };
    let (least, most) = (-8..=8)
        .map(|k| offset(at + Duration::hours(6 * k)))
        .fold((i64::MAX, i64::MIN), |(lo, hi), o| (lo.min(o), hi.max(o)));
    Duration::seconds(most - least)
}

/// The instant of local time `t` in `tz`, by RFC 5545 3.3.5.
pub fn place(tz: Tz, t: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(d) => d,
        LocalResult::Ambiguous(first, _) => first,
        LocalResult::None => {
            // Step back to a time that exists: it is just before the gap, so its offset is the
            // one in force before it. Gaps are at most a day (Samoa skipped 30 December 2011).
            let mut probe = t;
            for _ in 0..(2 * 24 * 4) {
                probe -= Duration::minutes(15);
                if let Some(before) = tz.from_local_datetime(&probe).earliest() {
                    let offset = chrono::Offset::fix(before.offset());
                    let utc = t - Duration::seconds(i64::from(offset.local_minus_utc()));
                    return tz.from_utc_datetime(&utc);
                }
            }
            // No zone has a gap of two days; read it as UTC rather than fail.
            tz.from_utc_datetime(&t)
        }
    }
}

/// The instants of a rule's occurrences that start in `[from, to)`, earliest first, each once,
/// with the local time that names it (the instant read in the zone).
pub struct Instants {
    walk: Walk,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    held: BTreeMap<DateTime<Utc>, DateTime<Tz>>,
    /// No instant still to come is earlier than this.
    settled: DateTime<Utc>,
    done: bool,
}

impl Instants {
    pub fn new(rule: &Rule, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Instants {
        // The earliest local time that can be placed at or after `from`.
        let first = from.with_timezone(&tz).naive_local() - forward_jumps(tz, from);
        Instants {
            walk: rule.walk(first - Duration::seconds(1)),
            tz,
            from,
            to,
            held: BTreeMap::new(),
            settled: DateTime::<Utc>::MIN_UTC,
            done: false,
        }
    }
}

impl Iterator for Instants {
    type Item = Result<DateTime<Tz>, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.held.first_entry()
                && (self.done || *entry.key() < self.settled)
            {
                return Some(Ok(entry.remove()));
            }
            if self.done {
                return None;
            }
            let local = match self.walk.next() {
                None => {
                    self.done = true;
                    continue;
                }
                Some(Err(e)) => {
                    self.done = true;
                    self.held.clear();
                    return Some(Err(e));
                }
                Some(Ok(local)) => local,
            };
            let at = place(self.tz, local);
            let utc = at.with_timezone(&Utc);
            // Every later local time is placed at or after this.
            self.settled = utc - forward_jumps(self.tz, utc);
            if self.settled >= self.to {
                self.done = true;
                continue;
            }
            if utc >= self.from && utc < self.to {
                self.held.entry(utc).or_insert(at);
            }
        }
    }
}

/// Length of `n` grid steps of the rule's frequency, at their longest.
fn grid(freq: Frequency, n: i64) -> Duration {
    match freq {
        Frequency::Yearly => Duration::days(366 * n),
        Frequency::Monthly => Duration::days(31 * n),
        Frequency::Weekly => Duration::weeks(n),
        Frequency::Daily => Duration::days(n),
        Frequency::Hourly => Duration::hours(n),
        Frequency::Minutely => Duration::minutes(n),
        Frequency::Secondly => Duration::seconds(n),
    }
}

/// Checks that a rule meets at all, and never more than `per_week` times in any seven days,
/// over its first [`SCAN_YEARS`] years or its first two periods, whichever is longer.
pub fn check_density(rule: &Rule, per_week: u16) -> Result<(), FieldError> {
    let steps = 2 * i64::from(rule.interval());
    let horizon = grid(rule.freq(), steps).max(Duration::days(366 * SCAN_YEARS));
    let end = rule.start() + horizon;
    let weeks = horizon.num_weeks() + 1;
    // A rule that never passes `per_week` has at most this many in the horizon.
    let budget = u32::try_from(weeks * i64::from(per_week)).unwrap_or(u32::MAX);
    let mut week: VecDeque<NaiveDateTime> = VecDeque::new();
    let mut any = false;
    for local in rule.walk_within(budget) {
        let local = local?;
        if local >= end {
            break;
        }
        any = true;
        while week
            .front()
            .is_some_and(|f| local - *f >= Duration::days(7))
        {
            week.pop_front();
        }
        week.push_back(local);
        if week.len() > usize::from(per_week) {
            return Err(field(
                "rrule",
                format!(
                    "more than {per_week} meetings in the week from {}; a schedule meets at \
                     most that often",
                    super::format_local(week[0])
                ),
            ));
        }
    }
    if !any {
        return Err(field(
            "rrule",
            format!("the rule has no meeting in the first {SCAN_YEARS} years from its start"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(t: &str) -> NaiveDateTime {
        crate::schedule::parse_local("t", t).unwrap()
    }

    #[test]
    fn times_the_clocks_skip_take_the_offset_from_before_the_gap() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let at = |t: &str| place(berlin, local(t)).to_rfc3339();
        assert_eq!(at("2027-03-28T02:00"), "2027-03-28T03:00:00+02:00");
        assert_eq!(at("2027-03-28T02:30"), "2027-03-28T03:30:00+02:00");
        // The repeated hour in October: the first of the two.
        assert_eq!(at("2027-10-31T02:30"), "2027-10-31T02:30:00+02:00");
        let apia: Tz = "Pacific/Apia".parse().unwrap();
        assert_eq!(
            place(apia, local("2011-12-30T12:00")).to_rfc3339(),
            "2011-12-31T12:00:00+14:00"
        );
    }
}
