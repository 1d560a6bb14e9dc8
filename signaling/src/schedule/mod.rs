//! Meeting schedules: an RFC 5545 recurrence rule anchored at a local start time in a room's time
//! zone, checked field by field, and expanded into occurrences that keep their local wall-clock
//! time across daylight-saving changes. Single occurrences can be cancelled (`exdates`) or moved.
//!
//! The work of every expansion is bounded, not only its output ([`rule`] says how), and a rule is
//! checked in full before it is stored: its density over its first years ([`expand`]), `INTERVAL`,
//! `COUNT` and `UNTIL`. A schedule read back from the store is trusted as written, moves
//! included; if its rule no longer passes, the schedule carries the error ([`Schedule::problem`])
//! and every expansion returns it, so a bad stored rule costs nothing and hangs nothing.

mod expand;
mod rule;
pub mod term;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use crate::error::FieldError;
use crate::error::field;
use expand::{Instants, check_density};
use rule::Rule;
pub use rule::{EXPANSION_BUDGET, MAX_COUNT};

/// Most occurrences one expansion returns; a wider request is cut short and says so.
pub const MAX_OCCURRENCES: u16 = 1000;
/// Longest meeting, in minutes.
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;
/// Most meetings in any seven days of a schedule's first years. Denser rules (`FREQ=SECONDLY`)
/// are refused.
pub const MAX_PER_WEEK: u16 = 100;
/// Most cancelled and most moved meetings one schedule keeps.
pub const MAX_EXCEPTIONS: usize = 500;
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

/// A schedule: checked in full by [`Schedule::new`], or read back by [`Schedule::stored`].
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
    /// The parsed rule, or why it cannot be used.
    rule: Result<Rule, FieldError>,
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

/// The instant local time `t` names in `zone` (a time the clocks skip is read as RFC 5545 says).
pub fn place_utc(zone: Tz, t: NaiveDateTime) -> DateTime<Utc> {
    expand::place(zone, t).with_timezone(&Utc)
}

/// Formats a local date-time the way [`parse_local`] reads it.
pub fn format_local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// How a meeting is named wherever it is kept (chat tags, board items, attendance): its start
/// in the room's zone, RFC 3339, as the occurrences list it.
pub fn meeting_name(start: DateTime<Utc>, zone: Tz) -> String {
    start.with_timezone(&zone).to_rfc3339()
}

/// Reads a meeting given in any RFC 3339 spelling of its start: the moment, and its name
/// ([`meeting_name`]). A bad one is an error on `param`.
pub fn parse_meeting(
    text: &str,
    zone: Tz,
    param: &str,
) -> Result<(DateTime<Utc>, String), FieldError> {
    let start = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            field(
                param,
                "a meeting's start, RFC 3339, as the occurrences list it",
            )
        })?
        .with_timezone(&Utc);
    Ok((start, meeting_name(start, zone)))
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

fn parse_exdates(exdates: &[String]) -> Result<Vec<NaiveDateTime>, FieldError> {
    exdates
        .iter()
        .enumerate()
        .map(|(i, e)| parse_local(&format!("exdates[{i}]"), e))
        .collect()
}

impl Schedule {
    /// Checks every field, the rule in full; the first problem found is returned with its
    /// field name. The work is bounded (see [`expand::check_density`]) but not small: call it
    /// off the async threads.
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
        localize(time_zone, "start", start)?;
        check_duration("duration_minutes", duration_minutes)?;
        if exdates.len() > MAX_EXCEPTIONS {
            return Err(field(
                "exdates",
                format!("at most {MAX_EXCEPTIONS} cancelled meetings"),
            ));
        }
        let schedule = Self::stored(
            rrule,
            &format_local(start),
            duration_minutes,
            time_zone.name(),
            exdates,
            Vec::new(),
        )?;
        for (i, e) in schedule.exdates.iter().enumerate() {
            localize(time_zone, &format!("exdates[{i}]"), *e)?;
        }
        check_density(schedule.rule()?, MAX_PER_WEEK)?;
        Ok(schedule)
    }

    /// A schedule as it was stored: checked when it was written, so neither its density nor its
    /// moves are checked again. A rule that no longer parses is kept as [`Schedule::problem`].
    pub fn stored(
        rrule: &str,
        start: &str,
        duration_minutes: u32,
        time_zone: &str,
        exdates: &[String],
        moves: Vec<Move>,
    ) -> Result<Schedule, FieldError> {
        let time_zone = parse_time_zone(time_zone)?;
        let start = parse_local("start", start)?;
        let exdates = parse_exdates(exdates)?;
        let rule = Self::parse_rule(rrule, start, time_zone);
        Ok(Schedule {
            rrule: rrule.trim().to_owned(),
            start,
            duration_minutes,
            time_zone,
            exdates,
            moves,
            rule,
        })
    }

    fn parse_rule(rrule: &str, start: NaiveDateTime, tz: Tz) -> Result<Rule, FieldError> {
        localize(tz, "start", start)?;
        Rule::parse(rrule.trim(), start, |until| {
            until.with_timezone(&tz).naive_local()
        })
    }

    /// Why the stored rule cannot be expanded, if it cannot.
    pub fn problem(&self) -> Option<&FieldError> {
        self.rule.as_ref().err()
    }

    fn rule(&self) -> Result<&Rule, FieldError> {
        self.rule.as_ref().map_err(Clone::clone)
    }

    /// The rule's meetings (before exceptions) that start in `[from, to)`.
    fn instants(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Instants, FieldError> {
        Ok(Instants::new(self.rule()?, self.time_zone, from, to))
    }

    /// Whether the rule places an occurrence at this local start (cancelled or not).
    pub fn has_occurrence(&self, local: NaiveDateTime) -> Result<bool, FieldError> {
        let Ok(at) = localize(self.time_zone, "occurrence", local) else {
            return Ok(false);
        };
        let at = at.with_timezone(&Utc);
        match self.instants(at, at + Duration::seconds(1))?.next() {
            Some(found) => Ok(found?.naive_local() == local),
            None => Ok(false),
        }
    }

    fn require_occurrence(&self, occurrence: NaiveDateTime) -> Result<(), FieldError> {
        if self.has_occurrence(occurrence)? {
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
        if self.moves.len() >= MAX_EXCEPTIONS {
            return Err(field(
                "moves",
                format!("at most {MAX_EXCEPTIONS} moved meetings"),
            ));
        }
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
            if self.exdates.len() >= MAX_EXCEPTIONS {
                return Err(field(
                    "exdates",
                    format!("at most {MAX_EXCEPTIONS} cancelled meetings"),
                ));
            }
            self.exdates.push(occurrence);
            self.exdates.sort();
        }
        Ok(())
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

    /// A meeting the rule places at `at`, with its exceptions applied; `None` when it moved.
    fn as_meeting(&self, at: DateTime<Tz>) -> Option<Occurrence> {
        let local = at.naive_local();
        let status = if self.exdates.contains(&local) {
            Status::Cancelled
        } else if self.moves.iter().any(|m| m.occurrence == local) {
            return None;
        } else {
            Status::Scheduled
        };
        Some(Occurrence {
            start: at.fixed_offset(),
            end: (at + minutes(self.duration_minutes)).fixed_offset(),
            status,
            original_start: None,
        })
    }

    /// Moved meetings, as occurrences, whose start passes `keep`.
    fn moved(&self, keep: impl Fn(DateTime<FixedOffset>) -> bool) -> Vec<Occurrence> {
        self.moves
            .iter()
            .filter(|m| !self.exdates.contains(&m.occurrence))
            .filter_map(|m| {
                let start = self.at(m.start)?;
                let original = self.at(m.occurrence)?;
                keep(start).then(|| Occurrence {
                    start,
                    end: start + minutes(m.duration_minutes),
                    status: Status::Moved,
                    original_start: Some(original),
                })
            })
            .collect()
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
        let max = usize::from(MAX_OCCURRENCES);
        let mut occurrences = Vec::new();
        let mut rule_cut = None;
        let mut seen = 0;
        for at in self.instants(from, to)? {
            let at = at?;
            seen += 1;
            if seen > max {
                rule_cut = Some(at.fixed_offset());
                break;
            }
            occurrences.extend(self.as_meeting(at));
        }
        // Moved meetings past where the rule's were cut off are left out with them.
        occurrences.extend(self.moved(|s| s >= from && s < to && rule_cut.is_none_or(|c| s < c)));
        occurrences.sort_by_key(|o| o.start);
        let truncated = rule_cut.is_some() || occurrences.len() > max;
        occurrences.truncate(max);
        Ok(Expansion {
            occurrences,
            truncated,
        })
    }

    /// Meetings, cancelled ones left out, that end after `now - slack`, earliest first, up to and
    /// including the first that starts after `now + early`.
    fn upcoming(
        &self,
        now: DateTime<Utc>,
        early: Duration,
        slack: Duration,
    ) -> Result<Vec<Occurrence>, FieldError> {
        let from = now - self.longest() - slack;
        let to = now + Duration::days(LOOKAHEAD_DAYS);
        let live = |o: &Occurrence| o.status != Status::Cancelled && o.end + slack > now;
        let mut found = Vec::new();
        for at in self.instants(from, to)? {
            let Some(o) = self.as_meeting(at?).filter(live) else {
                continue;
            };
            let last = o.start - early > now;
            found.push(o);
            if last {
                break;
            }
        }
        found.extend(self.moved(|s| s < to).into_iter().filter(live));
        found.sort_by_key(|o| o.start);
        Ok(found)
    }

    /// The local start of the earliest meeting it can hold: the rule's first, or a meeting
    /// moved before it.
    pub fn earliest(&self) -> NaiveDateTime {
        self.moves
            .iter()
            .map(|m| m.start)
            .fold(self.start, NaiveDateTime::min)
    }

    /// The first meeting still running or yet to start at `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Result<Option<Occurrence>, FieldError> {
        Ok(self
            .upcoming(now, Duration::zero(), Duration::zero())?
            .into_iter()
            .next())
    }

    /// Whether participants may be in the room at `now`: from `early` before a meeting starts
    /// until `grace` after it ends.
    pub fn window(
        &self,
        now: DateTime<Utc>,
        early: Duration,
        grace: Duration,
    ) -> Result<Window, FieldError> {
        let upcoming = self.upcoming(now, early, grace)?;
        // Meetings can overlap (a moved one, a dense rule): any window around `now` counts.
        let open = upcoming
            .iter()
            .filter(|o| o.start - early <= now)
            .map(|o| o.end + grace)
            .max();
        if let Some(closes_at) = open {
            return Ok(Window::Open { closes_at });
        }
        Ok(Window::Closed {
            opens_at: upcoming.iter().map(|o| o.start - early).min(),
        })
    }
}

#[cfg(test)]
mod tests;
