//! Meeting schedules: an RFC 5545 recurrence rule anchored at a local start time in a room's time
//! zone, checked field by field, and expanded into occurrences that keep their local wall-clock
//! time across daylight-saving changes. Expansion is always bounded.

use chrono::{DateTime, Duration, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};

/// Most occurrences one expansion returns; a wider request is cut short and says so.
pub const MAX_OCCURRENCES: u16 = 1000;
/// Longest meeting, in minutes.
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;

/// A problem with one field of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn field(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// A checked schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The rule as given, for example `FREQ=WEEKLY;BYDAY=TU`.
    pub rrule: String,
    /// Local start of the first occurrence, in `time_zone`.
    pub start: NaiveDateTime,
    pub duration_minutes: u32,
    pub time_zone: Tz,
    /// Local starts of cancelled occurrences.
    pub exdates: Vec<NaiveDateTime>,
}

/// One meeting, with UTC offsets as they are on that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
}

/// What an expansion found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub occurrences: Vec<Occurrence>,
    /// More occurrences fall in the range than were returned.
    pub truncated: bool,
}

/// Parses a local date-time such as `2026-10-20T18:00` or `2026-10-20T18:00:00`.
pub fn parse_local(name: &'static str, text: &str) -> Result<NaiveDateTime, FieldError> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| field(name, "a local date-time like 2026-10-20T18:00 (no offset)"))
}

/// Parses an IANA time zone name such as `Europe/Berlin`.
pub fn parse_time_zone(text: &str) -> Result<Tz, FieldError> {
    text.parse::<Tz>().map_err(|_| {
        field(
            "time_zone",
            "an IANA time zone name, for example Europe/Berlin",
        )
    })
}

fn localize(tz: Tz, name: &'static str, t: NaiveDateTime) -> Result<DateTime<Tz>, FieldError> {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(d) => Ok(d),
        // A repeated hour (clocks going back): the first of the two.
        LocalResult::Ambiguous(first, _) => Ok(first),
        LocalResult::None => Err(field(
            name,
            format!("{t} does not exist in {tz}: the clocks skip it"),
        )),
    }
}

impl Schedule {
    /// Checks every field; the first problem found is returned with its field name.
    pub fn new(
        rrule: &str,
        start: &str,
        duration_minutes: u32,
        time_zone: &str,
        exdates: &[String],
    ) -> Result<Schedule, FieldError> {
        let time_zone = parse_time_zone(time_zone)?;
        let start = parse_local("start", start)?;
        if duration_minutes == 0 || duration_minutes > MAX_DURATION_MINUTES {
            return Err(field(
                "duration_minutes",
                format!("1 to {MAX_DURATION_MINUTES} minutes"),
            ));
        }
        let exdates = exdates
            .iter()
            .map(|e| parse_local("exdates", e))
            .collect::<Result<Vec<_>, _>>()?;
        let schedule = Schedule {
            rrule: rrule.trim().to_owned(),
            start,
            duration_minutes,
            time_zone,
            exdates,
        };
        // Building the set checks the rule against its start.
        schedule.rule_set()?;
        Ok(schedule)
    }

    fn rule_set(&self) -> Result<RRuleSet, FieldError> {
        let text = self.rrule.strip_prefix("RRULE:").unwrap_or(&self.rrule);
        if text.is_empty() || text.contains('\n') || text.contains("DTSTART") {
            return Err(field(
                "rrule",
                "one RFC 5545 rule, for example FREQ=WEEKLY;BYDAY=TU",
            ));
        }
        let rule: RRule<Unvalidated> = text
            .parse()
            .map_err(|e| field("rrule", format!("not a valid RFC 5545 rule: {e}")))?;
        let tz = rrule::Tz::Tz(self.time_zone);
        let start = localize(self.time_zone, "start", self.start)?.with_timezone(&tz);
        let mut set = rule
            .build(start)
            .map_err(|e| field("rrule", format!("not a valid rule for this start: {e}")))?;
        for ex in &self.exdates {
            set = set.exdate(localize(self.time_zone, "exdates", *ex)?.with_timezone(&tz));
        }
        Ok(set)
    }

    /// Occurrences that start in `[from, to)`, at most [`MAX_OCCURRENCES`].
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Expansion, FieldError> {
        if to <= from {
            return Err(field("to", "must be after from"));
        }
        let tz = rrule::Tz::Tz(self.time_zone);
        // `after`/`before` are inclusive; a start exactly at `to` is outside the range.
        let set = self
            .rule_set()?
            .after(from.with_timezone(&tz))
            .before((to - Duration::milliseconds(1)).with_timezone(&tz));
        let result = set.all(MAX_OCCURRENCES);
        let length = Duration::minutes(i64::from(self.duration_minutes));
        let occurrences = result
            .dates
            .into_iter()
            .map(|d| {
                let start = d.fixed_offset();
                let end = (d + length).fixed_offset();
                Occurrence { start, end }
            })
            .collect::<Vec<_>>();
        Ok(Expansion {
            truncated: result.limited && occurrences.len() >= usize::from(MAX_OCCURRENCES),
            occurrences,
        })
    }

    /// The first occurrence still running or yet to start at `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<Occurrence> {
        let length = Duration::minutes(i64::from(self.duration_minutes));
        let from = now - length;
        let to = now + Duration::days(366 * 2);
        self.occurrences(from, to)
            .ok()?
            .occurrences
            .into_iter()
            .find(|o| o.end > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Tuesdays at 18:00 in Berlin, 90 minutes, from 6 October 2026.
    fn tuesdays_in_berlin() -> Schedule {
        Schedule::new(
            "FREQ=WEEKLY;BYDAY=TU",
            "2026-10-06T18:00",
            90,
            "Europe/Berlin",
            &[],
        )
        .unwrap()
    }

    #[test]
    fn a_tuesday_evening_meeting_keeps_its_local_time_across_the_october_change() {
        let s = tuesdays_in_berlin();
        let got = s
            .occurrences(utc("2026-10-13T00:00:00Z"), utc("2026-11-04T00:00:00Z"))
            .unwrap();
        let starts: Vec<String> = got
            .occurrences
            .iter()
            .map(|o| o.start.to_rfc3339())
            .collect();
        assert_eq!(
            starts,
            vec![
                "2026-10-13T18:00:00+02:00",
                "2026-10-20T18:00:00+02:00",
                "2026-10-27T18:00:00+01:00",
                "2026-11-03T18:00:00+01:00",
            ]
        );
        assert_eq!(
            got.occurrences[2].end.to_rfc3339(),
            "2026-10-27T19:30:00+01:00"
        );
        assert!(!got.truncated);
    }

    #[test]
    fn cancelled_occurrences_are_left_out() {
        let s = Schedule::new(
            "FREQ=WEEKLY;BYDAY=TU",
            "2026-10-06T18:00",
            60,
            "Europe/Berlin",
            &["2026-10-20T18:00".to_string()],
        )
        .unwrap();
        let got = s
            .occurrences(utc("2026-10-13T00:00:00Z"), utc("2026-10-28T00:00:00Z"))
            .unwrap();
        assert_eq!(got.occurrences.len(), 2);
        assert!(got.occurrences.iter().all(|o| o.start.day() != 20));
    }

    #[test]
    fn expansion_is_bounded_even_every_second() {
        let s = Schedule::new("FREQ=SECONDLY", "2026-01-01T00:00", 1, "UTC", &[]).unwrap();
        let got = s
            .occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
            .unwrap();
        assert_eq!(got.occurrences.len(), usize::from(MAX_OCCURRENCES));
        assert!(got.truncated);
    }

    #[test]
    fn each_bad_field_is_named() {
        let w = "FREQ=WEEKLY";
        let t = "2026-10-06T18:00";
        // rrule, start, minutes, time zone, exdates, the field named.
        type Case<'a> = (&'a str, &'a str, u32, &'a str, &'a [&'a str], &'a str);
        let cases: &[Case] = &[
            (w, t, 60, "Mars/Olympus", &[], "time_zone"),
            (w, "next tuesday", 60, "UTC", &[], "start"),
            (w, "2026-10-06T18:00+02:00", 60, "UTC", &[], "start"),
            ("FREQ=FORTNIGHTLY", t, 60, "UTC", &[], "rrule"),
            ("", t, 60, "UTC", &[], "rrule"),
            ("FREQ=WEEKLY;BYDAY=XX", t, 60, "UTC", &[], "rrule"),
            (w, t, 0, "UTC", &[], "duration_minutes"),
            (w, t, 60, "UTC", &["soon"], "exdates"),
            // 02:30 on the March change does not exist in Berlin.
            (w, "2026-03-29T02:30", 60, "Europe/Berlin", &[], "start"),
        ];
        for (rule, start, minutes, tz, ex, want) in cases {
            let ex: Vec<String> = ex.iter().map(|e| e.to_string()).collect();
            let err = Schedule::new(rule, start, *minutes, tz, &ex).unwrap_err();
            assert_eq!(err.field, *want, "{rule} {start} {minutes} {tz}: {err}");
        }
    }

    #[test]
    fn the_next_meeting_is_the_one_still_running_or_coming() {
        let s = tuesdays_in_berlin();
        // During a meeting: that meeting.
        let now = utc("2026-10-13T16:30:00Z");
        assert_eq!(
            s.next(now).unwrap().start.to_rfc3339(),
            "2026-10-13T18:00:00+02:00"
        );
        // Just after it: next week's.
        let later = utc("2026-10-13T17:31:00Z");
        assert_eq!(
            s.next(later).unwrap().start.to_rfc3339(),
            "2026-10-20T18:00:00+02:00"
        );
        // A rule that has ended has no next meeting.
        let done =
            Schedule::new("FREQ=WEEKLY;COUNT=2", "2026-10-06T18:00", 60, "UTC", &[]).unwrap();
        assert!(done.next(utc("2026-12-01T00:00:00Z")).is_none());
    }
}
