//! A recurrence rule as calendar arithmetic on local wall-clock times, with bounded work.
//!
//! The `rrule` crate expands the rule on naive local times (it is handed them as UTC, so it never
//! meets a clock change); [`super::expand`] then places each local time in the room's zone by
//! RFC 5545's rules. Two things keep the work of an expansion bounded, whatever the rule:
//! - **Re-anchoring.** A rule without `COUNT` repeats on a grid of periods (years, months, weeks,
//!   days, hours, minutes or seconds, `INTERVAL` apart) counted from the period of its start. The
//!   crate fills every `BY…` part that the start implied, so expanding the same rule from the start
//!   of a later grid period gives exactly the occurrences from that period on. An expansion that
//!   begins far from the start therefore starts at the last grid period before it, and walks at
//!   most one period before its range instead of every occurrence since the start.
//! - **A budget.** Every expansion counts the local times it is handed and stops with an error past
//!   [`EXPANSION_BUDGET`]; the crate's own loop limit bounds the work between two of them.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use rrule::{Frequency, RRule, RRuleSet, Unvalidated, Validated};

use crate::error::{FieldError, field};

/// Most local times one expansion may walk through, before and inside its range. A rule that
/// passed [`super::Schedule::new`] needs at most one period's worth before its range (a year of
/// at most [`super::MAX_PER_WEEK`] a week is 5 300), plus [`super::MAX_OCCURRENCES`] inside it.
pub const EXPANSION_BUDGET: u32 = 20_000;
/// Largest `COUNT`: a counted rule is always expanded from its start, so its length is its cost.
pub const MAX_COUNT: u32 = 5_000;

/// A checked rule, ready to expand from its start or from any later grid period.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    rule: RRule<Validated>,
    /// The local start, which is the first grid period's anchor.
    start: NaiveDateTime,
}

fn as_utc(t: NaiveDateTime) -> chrono::DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&t)
}

impl Rule {
    /// Parses `text` (one rule, `RRULE:` optional) for a series starting at local `start`;
    /// `local_until` turns the rule's UTC `UNTIL` into local time in the schedule's zone.
    pub fn parse(
        text: &str,
        start: NaiveDateTime,
        local_until: impl Fn(chrono::DateTime<chrono::Utc>) -> NaiveDateTime,
    ) -> Result<Rule, FieldError> {
        let text = text.strip_prefix("RRULE:").unwrap_or(text);
        if text.is_empty() || text.contains(['\n', '\r']) || text.contains("DTSTART") {
            return Err(field(
                "rrule",
                "one RFC 5545 rule, for example FREQ=WEEKLY;BYDAY=TU",
            ));
        }
        let mut rule: RRule<Unvalidated> = text
            .parse()
            .map_err(|e| field("rrule", format!("not a valid RFC 5545 rule: {e}")))?;
        if rule.get_interval() == 0 {
            return Err(field("rrule", "INTERVAL must be a positive number"));
        }
        if rule.get_count().is_some_and(|c| c == 0 || c > MAX_COUNT) {
            return Err(field(
                "rrule",
                format!("COUNT must be from 1 to {MAX_COUNT}"),
            ));
        }
        if let Some(until) = rule.get_until().copied() {
            if until.timezone() != rrule::Tz::UTC {
                return Err(field(
                    "rrule",
                    "UNTIL must be a UTC date-time, like UNTIL=20270630T220000Z",
                ));
            }
            let local = local_until(until.with_timezone(&chrono::Utc));
            rule = rule.until(as_utc(local));
        }
        let rule = as_hourly(rule, start)?
            .validate(as_utc(start))
            .map_err(|e| field("rrule", format!("not a valid rule for this start: {e}")))?;
        Ok(Rule { rule, start })
    }

    pub fn freq(&self) -> Frequency {
        self.rule.get_freq()
    }

    pub fn interval(&self) -> u16 {
        self.rule.get_interval()
    }

    /// The local start of the series.
    pub fn start(&self) -> NaiveDateTime {
        self.start
    }

    fn counted(&self) -> bool {
        self.rule.get_count().is_some()
    }

    /// The local times of the rule's occurrences from the latest grid period that starts at or
    /// before `not_after` (from the rule's start when that is later, or when the rule counts),
    /// in increasing order, at most [`EXPANSION_BUDGET`] of them before it gives up.
    pub fn walk(&self, not_after: NaiveDateTime) -> Walk {
        let anchor = if self.counted() {
            self.start
        } else {
            self.anchor(not_after).unwrap_or(self.start).max(self.start)
        };
        self.walk_from(anchor, EXPANSION_BUDGET)
    }

    /// The local times of the rule's occurrences from its start, at most `budget` of them.
    pub fn walk_within(&self, budget: u32) -> Walk {
        self.walk_from(self.start, budget)
    }

    fn walk_from(&self, anchor: NaiveDateTime, budget: u32) -> Walk {
        let set = RRuleSet::new(as_utc(anchor))
            .limit()
            .rrule(self.rule.clone());
        Walk {
            iter: (&set).into_iter(),
            walked: 0,
            budget,
        }
    }

    /// The start of the latest grid period that begins at or before `t`, if after the start.
    fn anchor(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        if t <= self.start {
            return None;
        }
        let step = i64::from(self.rule.get_interval());
        let s = self.start;
        let steps = |n: i64| n.div_euclid(step) * step;
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
        match self.freq() {
            Frequency::Yearly => {
                let n = steps(i64::from(t.year() - s.year()));
                let year = s.year() + i32::try_from(n).ok()?;
                midnight(NaiveDate::from_ymd_opt(year, 1, 1)?)
            }
            Frequency::Monthly => {
                let months = |d: NaiveDateTime| i64::from(d.year()) * 12 + i64::from(d.month0());
                let n = steps(months(t) - months(s));
                let first = NaiveDate::from_ymd_opt(s.year(), s.month(), 1)?;
                midnight(first.checked_add_months(Months::new(u32::try_from(n).ok()?))?)
            }
            Frequency::Weekly => {
                let wkst = self.rule.get_week_start().num_days_from_monday();
                let back = (s.weekday().num_days_from_monday() + 7 - wkst) % 7;
                let week0 = s.date() - Duration::days(i64::from(back));
                let n = steps((t.date() - week0).num_days().div_euclid(7));
                midnight(week0 + Duration::weeks(n))
            }
            Frequency::Daily => {
                let n = steps((t.date() - s.date()).num_days());
                midnight(s.date() + Duration::days(n))
            }
            Frequency::Hourly => {
                let hour0 = s.with_minute(0)?.with_second(0)?;
                let n = steps((t - hour0).num_hours());
                Some(hour0 + Duration::hours(n))
            }
            Frequency::Minutely => {
                let minute0 = s.with_second(0)?;
                let n = steps((t - minute0).num_minutes());
                Some(minute0 + Duration::minutes(n))
            }
            Frequency::Secondly => {
                let n = steps((t - s).num_seconds());
                Some(s + Duration::seconds(n))
            }
        }
    }
}

/// Whether a minutely or secondly rule has `BY…` parts.
fn filtered(rule: &RRule<Unvalidated>) -> bool {
    !(rule.get_by_month().is_empty()
        && rule.get_by_month_day().is_empty()
        && rule.get_by_year_day().is_empty()
        && rule.get_by_week_no().is_empty()
        && rule.get_by_weekday().is_empty()
        && rule.get_by_set_pos().is_empty()
        && rule.get_by_hour().is_empty()
        && rule.get_by_minute().is_empty()
        && rule.get_by_second().is_empty())
}

/// A minutely or secondly rule with `BY…` parts, as the hourly rule with the same meetings.
///
/// The `rrule` crate walks such rules off their grid: to reach an allowed hour or day it adds
/// whole hours, so where the walk starts changes what it finds (from a start in 2001,
/// `FREQ=MINUTELY;INTERVAL=15;BYHOUR=9,10;BYDAY=MO` meets on some Mondays only), and the rule
/// could neither be re-anchored nor trusted. When `INTERVAL` divides 60 the minutes (or seconds)
/// of the grid are the same in every hour, so `FREQ=MINUTELY;INTERVAL=15;BYHOUR=9,10` from 09:05
/// is `FREQ=HOURLY;BYMINUTE=5,20,35,50;BYSECOND=0;BYHOUR=9,10`, which RFC 5545 expands the same
/// way and the crate walks on its grid. Other intervals, and `BYSETPOS` (whose set would change
/// with the period), are refused with such parts. Rules without `BY…` parts are walked as given.
fn as_hourly(
    rule: RRule<Unvalidated>,
    start: NaiveDateTime,
) -> Result<RRule<Unvalidated>, FieldError> {
    let freq = rule.get_freq();
    if !matches!(freq, Frequency::Minutely | Frequency::Secondly) || !filtered(&rule) {
        return Ok(rule);
    }
    let step = u32::from(rule.get_interval());
    if 60 % step != 0 {
        return Err(field(
            "rrule",
            format!("with BY… parts, a {freq} rule needs an INTERVAL that divides 60"),
        ));
    }
    if !rule.get_by_set_pos().is_empty() {
        return Err(field(
            "rrule",
            format!("BYSETPOS is not supported with FREQ={freq}; use HOURLY or a longer one"),
        ));
    }
    // The values of the grid from `first`, within `allowed` when it lists any.
    let grid = |allowed: &[u8], first: u32| -> Vec<u8> {
        (0u8..60)
            .filter(|v| (u32::from(*v) + 60 - first % step).is_multiple_of(step))
            .filter(|v| allowed.is_empty() || allowed.contains(v))
            .collect()
    };
    let given = |values: &[u8], otherwise: Vec<u8>| {
        if values.is_empty() {
            otherwise
        } else {
            values.to_vec()
        }
    };
    let (minutes, seconds) = match freq {
        Frequency::Minutely => (
            grid(rule.get_by_minute(), start.minute()),
            given(rule.get_by_second(), vec![start.second() as u8]),
        ),
        _ => (
            given(rule.get_by_minute(), (0u8..60).collect()),
            grid(rule.get_by_second(), start.second()),
        ),
    };
    if minutes.is_empty() || seconds.is_empty() {
        return Err(field(
            "rrule",
            "its BYMINUTE or BYSECOND never falls on its INTERVAL from the start",
        ));
    }
    let months: Vec<chrono::Month> = rule
        .get_by_month()
        .iter()
        .filter_map(|m| chrono::Month::try_from(*m).ok())
        .collect();
    let mut hourly = RRule::new(Frequency::Hourly)
        .week_start(rule.get_week_start())
        .by_month(&months)
        .by_month_day(rule.get_by_month_day().to_vec())
        .by_year_day(rule.get_by_year_day().to_vec())
        .by_weekday(rule.get_by_weekday().to_vec())
        .by_hour(rule.get_by_hour().to_vec())
        .by_minute(minutes)
        .by_second(seconds);
    if let Some(count) = rule.get_count() {
        hourly = hourly.count(count);
    }
    if let Some(until) = rule.get_until() {
        hourly = hourly.until(*until);
    }
    Ok(hourly)
}

/// Local times of a rule's occurrences, in increasing order, within the budget.
pub struct Walk {
    iter: rrule::RRuleSetIter,
    walked: u32,
    budget: u32,
}

impl Iterator for Walk {
    type Item = Result<NaiveDateTime, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.walked >= self.budget {
            return Some(Err(field(
                "rrule",
                format!(
                    "the rule is too dense to expand: more than {} meetings in one expansion",
                    self.budget
                ),
            )));
        }
        let next = self.iter.next()?;
        self.walked += 1;
        Some(Ok(next.naive_utc()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(t: &str) -> NaiveDateTime {
        crate::schedule::parse_local("t", t).unwrap()
    }

    fn rule(text: &str, start: &str) -> Rule {
        Rule::parse(text, local(start), |u| u.naive_utc()).unwrap()
    }

    /// The first `n` local times from the start, and from the anchor for `from`, agree on
    /// everything at or after `from`.
    fn same_from(text: &str, start: &str, from: &str, n: usize) {
        let r = rule(text, start);
        let from = local(from);
        let full: Vec<_> = RRuleSet::new(as_utc(r.start))
            .rrule(r.rule.clone())
            .into_iter()
            .map(|d| d.naive_utc())
            .skip_while(|d| *d < from)
            .take(n)
            .collect();
        let anchored: Vec<_> = r
            .walk(from)
            .map(Result::unwrap)
            .skip_while(|d| *d < from)
            .take(n)
            .collect();
        assert_eq!(anchored, full, "{text} from {start}, expanded from {from}");
        assert_eq!(anchored.len(), n, "{text}: enough occurrences to compare");
    }

    #[test]
    fn expanding_from_a_later_period_gives_the_same_occurrences() {
        same_from(
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,SA",
            "2001-02-03T18:00",
            "2031-07-04T00:00",
            50,
        );
        same_from(
            "FREQ=WEEKLY;INTERVAL=2;WKST=SU",
            "2001-02-07T09:30",
            "2027-01-01T00:00",
            50,
        );
        same_from(
            "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR",
            "2000-03-31T12:00",
            "2050-01-01T00:00",
            30,
        );
        same_from("FREQ=MONTHLY", "2000-01-31T12:00", "2040-02-15T00:00", 30);
        same_from(
            "FREQ=YEARLY;INTERVAL=4;BYWEEKNO=1,53;BYDAY=MO",
            "2000-06-01T08:00",
            "2061-12-30T00:00",
            10,
        );
        same_from(
            "FREQ=DAILY;INTERVAL=9;BYSETPOS=1",
            "2000-01-01T07:15",
            "2100-03-01T00:00",
            50,
        );
        same_from(
            "FREQ=HOURLY;INTERVAL=7;BYDAY=SU",
            "2000-01-01T00:20",
            "2044-05-05T05:05",
            100,
        );
        // The expansion from the start, the reference here, is as slow as the distance.
        same_from(
            "FREQ=SECONDLY;INTERVAL=7",
            "2000-01-01T00:00:03",
            "2000-01-03T11:00",
            100,
        );
        same_from(
            "FREQ=MINUTELY;INTERVAL=15;BYHOUR=9,10;BYDAY=MO",
            "2026-01-01T03:05",
            "2027-06-01T10:17",
            30,
        );
        same_from(
            "FREQ=MINUTELY;INTERVAL=20",
            "2001-01-01T03:05",
            "2001-06-01T10:17",
            100,
        );
    }

    /// Minutely and secondly rules with BY parts mean what RFC 5545 says: every INTERVAL from
    /// the start, limited by the parts, on every allowed day.
    #[test]
    fn filtered_minutely_rules_meet_on_every_allowed_day() {
        let r = rule(
            "FREQ=MINUTELY;INTERVAL=15;BYHOUR=9,10;BYDAY=MO",
            "2001-01-01T03:05",
        );
        let got: Vec<String> = r
            .walk(local("2045-06-01T00:00"))
            .map(Result::unwrap)
            .skip_while(|t| *t < local("2045-06-01T00:00"))
            .take(10)
            .map(|t| t.to_string())
            .collect();
        // 5 June 2045 is a Monday; 20 minutes past 9 and 10 are on the grid from 03:05.
        assert_eq!(got[0], "2045-06-05 09:05:00");
        assert_eq!(got[7], "2045-06-05 10:50:00");
        assert_eq!(got[8], "2045-06-12 09:05:00");
        let secs = rule(
            "FREQ=SECONDLY;INTERVAL=20;BYMINUTE=0;BYHOUR=12",
            "2026-01-01T00:00:10",
        );
        let got: Vec<_> = r_all(&secs, 4);
        assert_eq!(
            got,
            [
                "2026-01-01 12:00:10",
                "2026-01-01 12:00:30",
                "2026-01-01 12:00:50",
                "2026-01-02 12:00:10"
            ]
        );
        for (text, says) in [
            ("FREQ=MINUTELY;INTERVAL=97;BYHOUR=9", "divides 60"),
            ("FREQ=SECONDLY;INTERVAL=7;BYMONTH=12", "divides 60"),
            ("FREQ=MINUTELY;BYSETPOS=1;BYHOUR=9", "BYSETPOS"),
            ("FREQ=MINUTELY;INTERVAL=20;BYMINUTE=7", "never falls"),
        ] {
            let err = Rule::parse(text, local("2026-01-01T00:00"), |u| u.naive_utc()).unwrap_err();
            assert!(err.message.contains(says), "{text}: {}", err.message);
        }
    }

    fn r_all(r: &Rule, n: usize) -> Vec<String> {
        r.walk_within(EXPANSION_BUDGET)
            .take(n)
            .map(|t| t.unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_dense_rule_far_from_its_start_costs_one_period() {
        let r = rule("FREQ=SECONDLY", "2000-01-01T00:00");
        let from = local("2199-12-31T23:59:00");
        let mut walk = r.walk(from);
        let first = walk.next().unwrap().unwrap();
        assert!(first <= from && from - first <= Duration::seconds(1));
        assert_eq!(walk.walked, 1);
    }

    #[test]
    fn a_counted_rule_walks_from_its_start_within_the_budget() {
        let r = rule("FREQ=HOURLY;COUNT=5000", "2000-01-01T00:00");
        let all: Vec<_> = r.walk(local("2100-01-01T00:00")).collect();
        assert_eq!(all.len(), 5000);
        assert!(all.iter().all(Result::is_ok));
    }

    #[test]
    fn a_walk_stops_at_its_budget() {
        let r = rule("FREQ=MINUTELY", "2000-01-01T00:00");
        let mut walk = r.walk(local("2000-01-01T00:00"));
        let fine = walk.by_ref().take(EXPANSION_BUDGET as usize).count();
        assert_eq!(fine, EXPANSION_BUDGET as usize);
        assert_eq!(walk.next().unwrap().unwrap_err().field, "rrule");
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let start = local("2026-01-01T10:00");
        for (text, says) in [
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
            ("FREQ=DAILY;COUNT=0", "COUNT"),
            ("FREQ=DAILY;COUNT=5001", "COUNT"),
            ("FREQ=DAILY;UNTIL=20270101T000000", "UNTIL"),
            ("FREQ=DAILY\nFREQ=WEEKLY", "one RFC 5545 rule"),
            ("FREQ=NEVER", "not a valid"),
        ] {
            let err = Rule::parse(text, start, |u| u.naive_utc()).unwrap_err();
            assert_eq!(err.field, "rrule");
            assert!(err.message.contains(says), "{text}: {}", err.message);
        }
    }
}
