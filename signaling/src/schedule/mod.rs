//! Meeting schedules: an RFC 5545 recurrence rule anchored at a local start time in a room's time
//! zone, checked field by field, and expanded into occurrences that keep their local wall-clock
//! time across daylight-saving changes. Single occurrences can be cancelled (`exdates`) or moved.
//! Expansion is always bounded.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};
use serde::{Deserialize, Serialize};

pub use crate::error::FieldError;
use crate::error::field;

/// Most occurrences one expansion returns; a wider request is cut short and says so.
pub const MAX_OCCURRENCES: u16 = 1000;
/// Longest meeting, in minutes.
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;
/// Most meetings in the first week of a schedule. Denser rules (`FREQ=SECONDLY`) are refused:
/// expanding them far from their start would cost time in proportion to the distance.
pub const MAX_PER_WEEK: u16 = 100;
/// Years a schedule may start in.
pub const START_YEARS: std::ops::RangeInclusive<i32> = 2000..=2200;
/// How far ahead the next meeting is looked for.
const LOOKAHEAD_DAYS: i64 = 10 * 366;

/// One occurrence held at another time or for another length.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// Local start of the occurrence as the rule places it.
    pub occurrence: NaiveDateTime,
    /// Its new local start.
    pub start: NaiveDateTime,
    pub duration_minutes: u32,
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
    /// Occurrences held at another time.
    pub moves: Vec<Move>,
}

/// What became of one occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Held as the rule says.
    Scheduled,
    /// Cancelled; listed so that calendars can show it.
    Cancelled,
    /// Held at another time than the rule says.
    Moved,
}

/// One meeting, with UTC offsets as they are on that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub status: Status,
    /// For a moved occurrence, where the rule placed it.
    pub original_start: Option<DateTime<FixedOffset>>,
}

/// What an expansion found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub occurrences: Vec<Occurrence>,
    /// More occurrences fall in the range than were returned.
    pub truncated: bool,
}

/// Whether a room is open for participants at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// Open at all times (no schedule, or a host).
    Always,
    /// Open until `closes_at` (the meeting's end plus the grace period).
    Open { closes_at: DateTime<FixedOffset> },
    /// Closed; opens at `opens_at`, or never again when `None`.
    Closed {
        opens_at: Option<DateTime<FixedOffset>>,
    },
}

/// Parses a local date-time such as `2026-10-20T18:00` or `2026-10-20T18:00:00`.
pub fn parse_local(name: &str, text: &str) -> Result<NaiveDateTime, FieldError> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| field(name, "a local date-time like 2026-10-20T18:00 (no offset)"))
}

/// Formats a local date-time the way [`parse_local`] reads it.
pub fn format_local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
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

fn localize(tz: Tz, name: &str, t: NaiveDateTime) -> Result<DateTime<Tz>, FieldError> {
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

fn check_duration(name: &str, minutes: u32) -> Result<(), FieldError> {
    if minutes == 0 || minutes > MAX_DURATION_MINUTES {
        return Err(field(name, format!("1 to {MAX_DURATION_MINUTES} minutes")));
    }
    Ok(())
}

fn minutes(m: u32) -> Duration {
    Duration::minutes(i64::from(m))
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
        if !START_YEARS.contains(&start.year()) {
            return Err(field(
                "start",
                format!(
                    "a year from {} to {}",
                    START_YEARS.start(),
                    START_YEARS.end()
                ),
            ));
        }
        check_duration("duration_minutes", duration_minutes)?;
        let exdates = exdates
            .iter()
            .enumerate()
            .map(|(i, e)| parse_local(&format!("exdates[{i}]"), e))
            .collect::<Result<Vec<_>, _>>()?;
        let schedule = Schedule {
            rrule: rrule.trim().to_owned(),
            start,
            duration_minutes,
            time_zone,
            exdates,
            moves: Vec::new(),
        };
        // Building the set checks the rule against its start.
        let set = schedule.rule_set()?;
        let tz = rrule::Tz::Tz(time_zone);
        let first = localize(time_zone, "start", start)?.with_timezone(&tz);
        let week = set.before(first + Duration::days(7)).all(MAX_PER_WEEK + 1);
        if week.dates.len() > usize::from(MAX_PER_WEEK) {
            return Err(field(
                "rrule",
                format!(
                    "more than {MAX_PER_WEEK} meetings a week; a schedule recurs at most that often"
                ),
            ));
        }
        for (i, e) in schedule.exdates.iter().enumerate() {
            localize(time_zone, &format!("exdates[{i}]"), *e)?;
        }
        Ok(schedule)
    }

    /// Whether the rule places an occurrence at this local start (cancelled or not).
    pub fn has_occurrence(&self, local: NaiveDateTime) -> bool {
        let Ok(at) = localize(self.time_zone, "occurrence", local) else {
            return false;
        };
        let at = at.with_timezone(&Utc);
        let Ok(set) = self.rule_set() else {
            return false;
        };
        let tz = rrule::Tz::Tz(self.time_zone);
        let found = set
            .after(at.with_timezone(&tz))
            .before(at.with_timezone(&tz))
            .all(1);
        !found.dates.is_empty()
    }

    fn require_occurrence(&self, occurrence: NaiveDateTime) -> Result<(), FieldError> {
        if self.has_occurrence(occurrence) {
            return Ok(());
        }
        Err(field(
            "occurrence",
            format!(
                "the schedule has no meeting at {}",
                format_local(occurrence)
            ),
        ))
    }

    /// Holds the occurrence that the rule places at `occurrence` at `start` instead, for
    /// `duration_minutes`; replaces an earlier move of the same occurrence.
    pub fn move_occurrence(
        &mut self,
        occurrence: NaiveDateTime,
        start: NaiveDateTime,
        duration_minutes: u32,
    ) -> Result<(), FieldError> {
        self.require_occurrence(occurrence)?;
        localize(self.time_zone, "start", start)?;
        check_duration("duration_minutes", duration_minutes)?;
        self.moves.retain(|m| m.occurrence != occurrence);
        self.moves.push(Move {
            occurrence,
            start,
            duration_minutes,
        });
        self.moves.sort_by_key(|m| m.occurrence);
        Ok(())
    }

    /// Cancels the occurrence at `occurrence` (`true`) or restores it as the rule has it.
    pub fn set_cancelled(
        &mut self,
        occurrence: NaiveDateTime,
        cancelled: bool,
    ) -> Result<(), FieldError> {
        self.require_occurrence(occurrence)?;
        self.exdates.retain(|e| *e != occurrence);
        self.moves.retain(|m| m.occurrence != occurrence);
        if cancelled {
            self.exdates.push(occurrence);
            self.exdates.sort();
        }
        Ok(())
    }

    /// The rule without its exceptions.
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
        rule.build(start)
            .map_err(|e| field("rrule", format!("not a valid rule for this start: {e}")))
    }

    /// The longest meeting, moved ones included.
    fn longest(&self) -> Duration {
        let most = self
            .moves
            .iter()
            .map(|m| m.duration_minutes)
            .chain([self.duration_minutes])
            .max()
            .unwrap_or(self.duration_minutes);
        minutes(most)
    }

    fn at(&self, local: NaiveDateTime) -> Option<DateTime<FixedOffset>> {
        localize(self.time_zone, "start", local)
            .ok()
            .map(|d| d.fixed_offset())
    }

    /// Occurrences that start in `[from, to)`, cancelled ones included, at most
    /// [`MAX_OCCURRENCES`].
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
        let max = usize::from(MAX_OCCURRENCES);
        let rule_cut = result.limited && result.dates.len() >= max;
        let length = minutes(self.duration_minutes);
        let mut occurrences = Vec::with_capacity(result.dates.len());
        for d in result.dates {
            let local = d.naive_local();
            let status = if self.exdates.contains(&local) {
                Status::Cancelled
            } else if self.moves.iter().any(|m| m.occurrence == local) {
                continue;
            } else {
                Status::Scheduled
            };
            occurrences.push(Occurrence {
                start: d.fixed_offset(),
                end: (d + length).fixed_offset(),
                status,
                original_start: None,
            });
        }
        for m in &self.moves {
            if self.exdates.contains(&m.occurrence) {
                continue;
            }
            let (Some(start), Some(original)) = (self.at(m.start), self.at(m.occurrence)) else {
                continue;
            };
            if start >= from && start < to {
                occurrences.push(Occurrence {
                    start,
                    end: start + minutes(m.duration_minutes),
                    status: Status::Moved,
                    original_start: Some(original),
                });
            }
        }
        occurrences.sort_by_key(|o| o.start);
        let truncated = rule_cut || occurrences.len() > max;
        occurrences.truncate(max);
        Ok(Expansion {
            occurrences,
            truncated,
        })
    }

    /// Meetings still running or yet to start at `now`, cancelled ones left out, earliest first.
    /// Every meeting returned ends after `now - slack`.
    fn upcoming(&self, now: DateTime<Utc>, slack: Duration) -> Vec<Occurrence> {
        let from = now - self.longest() - slack;
        let to = now + Duration::days(LOOKAHEAD_DAYS);
        let Ok(found) = self.occurrences(from, to) else {
            return Vec::new();
        };
        found
            .occurrences
            .into_iter()
            .filter(|o| o.status != Status::Cancelled && o.end + slack > now)
            .collect()
    }

    /// The first meeting still running or yet to start at `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<Occurrence> {
        self.upcoming(now, Duration::zero()).into_iter().next()
    }

    /// Whether participants may be in the room at `now`: from `early` before a meeting starts
    /// until `grace` after it ends.
    pub fn window(&self, now: DateTime<Utc>, early: Duration, grace: Duration) -> Window {
        let upcoming = self.upcoming(now, grace);
        // Meetings can overlap (a moved one, a dense rule): any window around `now` counts.
        let open = upcoming
            .iter()
            .filter(|o| o.start - early <= now)
            .map(|o| o.end + grace)
            .max();
        if let Some(closes_at) = open {
            return Window::Open { closes_at };
        }
        Window::Closed {
            opens_at: upcoming.iter().map(|o| o.start - early).min(),
        }
    }
}

#[cfg(test)]
mod tests;
