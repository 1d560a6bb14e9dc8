//! A term of weekly meetings as a teacher says it: these weekdays at this time, for so long,
//! from the first meeting to the last, every week or every other week. [`Term::compose`] makes
//! the RFC 5545 rule and local start that a schedule stores; [`Term::read`] gives the form
//! back for a stored rule when, and only when, composing that form gives the same rule again,
//! so the console's form never shows a schedule other than the one stored.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::expand::place;
use super::{FieldError, START_YEARS, check_duration};
use crate::error::field;

/// Longest term the form makes: a school year and a half.
pub const MAX_TERM_DAYS: i64 = 550;

/// A term, as the form states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The days of the week it meets, Monday first, each once.
    pub weekdays: Vec<Weekday>,
    /// Local start time of each meeting.
    pub time: NaiveTime,
    pub duration_minutes: u32,
    /// The first meeting is on this date, or on the first of `weekdays` after it.
    pub first: NaiveDate,
    /// No meeting after this date (the term's end, stored as `UNTIL`); `None`: no end.
    pub last: Option<NaiveDate>,
    /// 1: every week; 2: every other week.
    pub every_weeks: u8,
}

/// What a term is stored as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub rrule: String,
    /// Local start of the first meeting.
    pub start: NaiveDateTime,
}

/// `MO`, `TU`, … as RFC 5545 names weekdays.
pub fn day_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

/// The weekday an RFC 5545 code names.
pub fn parse_day(code: &str) -> Option<Weekday> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|d| day_code(*d).eq_ignore_ascii_case(code))
}

const UNTIL_FORMAT: &str = "%Y%m%dT%H%M%SZ";

impl Term {
    /// The rule and start of this term in `zone`; a field that does not fit is named.
    pub fn compose(&self, zone: Tz) -> Result<Composed, FieldError> {
        if self.weekdays.is_empty() {
            return Err(field("term.weekdays", "pick at least one day of the week"));
        }
        let mut days = self.weekdays.clone();
        days.sort_by_key(Weekday::num_days_from_monday);
        days.dedup();
        if !matches!(self.every_weeks, 1 | 2) {
            return Err(field(
                "term.every_weeks",
                "1 (every week) or 2 (every other week)",
            ));
        }
        check_duration("term.duration_minutes", self.duration_minutes)?;
        if !START_YEARS.contains(&self.first.year()) {
            return Err(field(
                "term.first",
                format!(
                    "a year from {} to {}",
                    START_YEARS.start(),
                    START_YEARS.end()
                ),
            ));
        }
        let first_day = (0..7)
            .map(|i| self.first + Duration::days(i))
            .find(|d| days.contains(&d.weekday()))
            .expect("one of seven days in a row falls on any weekday given");
        let start = first_day.and_time(self.time);
        if zone.from_local_datetime(&start).earliest().is_none() {
            return Err(field(
                "term.time",
                format!("{start} does not exist in {zone}: the clocks skip it"),
            ));
        }
        let mut rrule = String::from("FREQ=WEEKLY");
        if self.every_weeks == 2 {
            rrule.push_str(";INTERVAL=2");
        }
        rrule.push_str(";BYDAY=");
        rrule.push_str(
            &days
                .iter()
                .map(|d| day_code(*d))
                .collect::<Vec<_>>()
                .join(","),
        );
        if let Some(last) = self.last {
            if last < self.first {
                return Err(field("term.last", "on or after the first meeting"));
            }
            if (last - self.first).num_days() > MAX_TERM_DAYS {
                return Err(field(
                    "term.last",
                    format!("at most {MAX_TERM_DAYS} days after the first meeting"),
                ));
            }
            if last < first_day {
                return Err(field(
                    "term.last",
                    "no meeting falls between the first and the last date",
                ));
            }
            rrule.push_str(";UNTIL=");
            rrule.push_str(&until(last, zone).format(UNTIL_FORMAT).to_string());
        }
        Ok(Composed { rrule, start })
    }

    /// The form of a stored rule, if it is one the form makes exactly (see the module).
    pub fn read(
        rrule: &str,
        start: NaiveDateTime,
        duration_minutes: u32,
        zone: Tz,
    ) -> Option<Term> {
        let rule = rrule.strip_prefix("RRULE:").unwrap_or(rrule);
        let mut weekdays = None;
        let mut every_weeks = 1;
        let mut last = None;
        let mut weekly = false;
        for part in rule.split(';') {
            let (key, value) = part.split_once('=')?;
            match key.to_ascii_uppercase().as_str() {
                "FREQ" if value.eq_ignore_ascii_case("WEEKLY") => weekly = true,
                "INTERVAL" => every_weeks = value.parse::<u8>().ok()?,
                "BYDAY" => {
                    weekdays = Some(
                        value
                            .split(',')
                            .map(parse_day)
                            .collect::<Option<Vec<_>>>()?,
                    )
                }
                "UNTIL" => {
                    let utc = NaiveDateTime::parse_from_str(value, UNTIL_FORMAT).ok()?;
                    last = Some(utc.and_utc().with_timezone(&zone).date_naive());
                }
                _ => return None,
            }
        }
        let term = Term {
            weekdays: weekdays?,
            time: start.time(),
            duration_minutes,
            first: start.date(),
            last,
            every_weeks,
        };
        let again = term.compose(zone).ok()?;
        (weekly && again.rrule == rule && again.start == start).then_some(term)
    }
}

/// The last moment of local day `last` in `zone`, in UTC: the rule's `UNTIL`.
fn until(last: NaiveDate, zone: Tz) -> chrono::DateTime<Utc> {
    let end = last.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time"));
    place(zone, end).with_timezone(&Utc)
}

#[cfg(test)]
mod tests;
