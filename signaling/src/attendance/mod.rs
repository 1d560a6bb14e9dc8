//! Who came to a meeting, free of HTTP and SQL: each identity's join and leave intervals,
//! merged so that reconnects and two tabs never count twice; the first join, the last leave,
//! the time present within the meeting, minutes late, and a suggested status by the room's
//! thresholds; and the register as CSV that a spreadsheet cannot mistake for formulas.

pub mod csv;
pub mod register;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const MINUTE_MS: i64 = 60_000;

/// A stretch of presence, in Unix milliseconds, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: i64,
    pub end: i64,
}

/// The intervals' union: sorted, disjoint, with overlapping or touching ones joined. Empty and
/// backwards intervals are dropped.
pub fn merge(intervals: &[Interval]) -> Vec<Interval> {
    let mut sorted: Vec<Interval> = intervals
        .iter()
        .copied()
        .filter(|i| i.end > i.start)
        .collect();
    sorted.sort_unstable();
    let mut out: Vec<Interval> = Vec::with_capacity(sorted.len());
    for i in sorted {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// One person's stretches in one meeting, with the name they used last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub identity: String,
    pub name: String,
    pub intervals: Vec<Interval>,
    /// Talk time over the stretches, in milliseconds (0 where the room does not keep it).
    pub talk_ms: i64,
}

/// What a room records of who came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing: joins and leaves are not kept.
    Off,
    /// Who came, when, and for how long.
    Attendance,
    /// Attendance, and how long each person spoke (the server's speaker detection).
    TalkTime,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Attendance => "attendance",
            Mode::TalkTime => "talk_time",
        }
    }

    /// Joins and leaves are kept.
    pub fn records_attendance(self) -> bool {
        self != Mode::Off
    }

    /// Talk time is kept too.
    pub fn records_talk_time(self) -> bool {
        self == Mode::TalkTime
    }

    /// A stored mode; anything unknown records nothing.
    pub fn parse(s: &str) -> Mode {
        match s {
            "attendance" => Mode::Attendance,
            "talk_time" => Mode::TalkTime,
            _ => Mode::Off,
        }
    }
}

/// Longest lateness allowance, in minutes.
pub const LATE_MAX_MINUTES: i64 = 240;

impl Thresholds {
    /// Checks a room's thresholds: 0 to [`LATE_MAX_MINUTES`] minutes, 0 to 100 percent.
    pub fn check(self) -> Result<Thresholds, Vec<crate::error::FieldError>> {
        let mut errors = Vec::new();
        if !(0..=LATE_MAX_MINUTES).contains(&self.late_after_minutes) {
            errors.push(crate::error::field(
                "late_after_minutes",
                format!("from 0 to {LATE_MAX_MINUTES}"),
            ));
        }
        if !(0..=100).contains(&self.min_present_percent) {
            errors.push(crate::error::field("min_present_percent", "from 0 to 100"));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// What a room counts as late and as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Thresholds {
    /// Arriving more than this many minutes after the start is late.
    pub late_after_minutes: i64,
    /// Present for less than this share of the meeting (percent) is absent.
    pub min_present_percent: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            late_after_minutes: 5,
            min_present_percent: 25,
        }
    }
}

/// A suggested (or a host's) status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Present,
    Late,
    Absent,
    /// Only a host sets this.
    Excused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Present => "present",
            Status::Late => "late",
            Status::Absent => "absent",
            Status::Excused => "excused",
        }
    }

    /// A stored status; `None` for anything else.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Present,
            Status::Late,
            Status::Absent,
            Status::Excused,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// Longest note a host may give with an override, in characters.
pub const NOTE_MAX: usize = 500;

/// A host's note, trimmed: up to [`NOTE_MAX`] characters, no control characters but line
/// breaks and tabs.
pub fn check_note(note: &str) -> Result<String, crate::error::FieldError> {
    let note = note.trim();
    if note.chars().count() > NOTE_MAX {
        return Err(crate::error::field(
            "note",
            format!("at most {NOTE_MAX} characters"),
        ));
    }
    if note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(crate::error::field(
            "note",
            "no control characters but line breaks and tabs",
        ));
    }
    Ok(note.to_owned())
}

/// One identity's attendance of one meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub intervals: Vec<Interval>,
    pub first_join: Option<i64>,
    pub last_leave: Option<i64>,
    /// Time present between the meeting's start and end.
    pub present_ms: i64,
    /// Whole minutes between the start and the first join within the meeting (0 when on time).
    pub minutes_late: i64,
    pub status: Status,
}

/// Summarises `intervals` against the meeting `[start, end)` at `now`. While the meeting runs,
/// the share present is of the part that has passed, and someone in it now is not absent.
pub fn summarise(start: i64, end: i64, now: i64, intervals: &[Interval], t: Thresholds) -> Summary {
    let intervals = merge(intervals);
    let within: Vec<Interval> = intervals
        .iter()
        .map(|i| Interval {
            start: i.start.max(start),
            end: i.end.min(end),
        })
        .filter(|i| i.end > i.start)
        .collect();
    let present_ms: i64 = within.iter().map(|i| i.end - i.start).sum();
    let arrived = within.first().map(|i| i.start);
    let minutes_late = arrived.map_or(0, |a| (a - start).max(0) / MINUTE_MS);
    let length = (end.min(now) - start).max(1);
    let here_now = now < end && intervals.iter().any(|i| i.start <= now && now <= i.end);
    let status = match arrived {
        None => Status::Absent,
        Some(_)
            if !here_now
                && present_ms.saturating_mul(100)
                    < length.saturating_mul(t.min_present_percent) =>
        {
            Status::Absent
        }
        Some(_) if minutes_late > t.late_after_minutes => Status::Late,
        Some(_) => Status::Present,
    };
    Summary {
        first_join: intervals.first().map(|i| i.start),
        last_leave: intervals.last().map(|i| i.end),
        intervals,
        present_ms,
        minutes_late,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = MINUTE_MS;

    fn iv(a: i64, b: i64) -> Interval {
        Interval {
            start: a * M,
            end: b * M,
        }
    }

    #[test]
    fn statuses_round_trip_and_notes_are_checked() {
        for s in [
            Status::Present,
            Status::Late,
            Status::Absent,
            Status::Excused,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("Present"), None);
        assert_eq!(check_note("  ill, told us  ").unwrap(), "ill, told us");
        assert_eq!(check_note("line\nbreak").unwrap(), "line\nbreak");
        assert!(check_note(&"x".repeat(NOTE_MAX + 1)).is_err());
        assert!(check_note("bell\u{7}").is_err());
        assert_eq!(Mode::parse("talk_time"), Mode::TalkTime);
        assert!(Mode::TalkTime.records_attendance() && Mode::TalkTime.records_talk_time());
        assert!(!Mode::Attendance.records_talk_time() && !Mode::Off.records_attendance());
    }

    #[test]
    fn two_tabs_and_a_reconnect_count_once() {
        // Joined at 0, a second tab 10-20, a drop at 30 and back at 31, left at 60.
        let merged = merge(&[iv(0, 30), iv(10, 20), iv(31, 60), iv(30, 30), iv(50, 40)]);
        assert_eq!(merged, [iv(0, 30), iv(31, 60)]);
        assert_eq!(
            merge(&[iv(0, 10), iv(10, 20)]),
            [iv(0, 20)],
            "touching intervals join"
        );
    }

    #[test]
    fn statuses_follow_the_thresholds() {
        let t = Thresholds::default();
        let on_time = summarise(0, 60 * M, i64::MAX, &[iv(-5, 60)], t);
        assert_eq!(
            (on_time.status, on_time.minutes_late, on_time.present_ms),
            (Status::Present, 0, 60 * M)
        );
        assert_eq!(
            on_time.first_join,
            Some(-5 * M),
            "the first join is kept as it was"
        );
        let late = summarise(0, 60 * M, i64::MAX, &[iv(12, 60)], t);
        assert_eq!((late.status, late.minutes_late), (Status::Late, 12));
        let five = summarise(0, 60 * M, i64::MAX, &[iv(5, 60)], t);
        assert_eq!(five.status, Status::Present, "5 minutes is not yet late");
        let brief = summarise(0, 60 * M, i64::MAX, &[iv(0, 10)], t);
        assert_eq!(
            brief.status,
            Status::Absent,
            "10 of 60 minutes is under 25%"
        );
        let away = summarise(0, 60 * M, i64::MAX, &[], t);
        assert_eq!(
            (away.status, away.first_join, away.present_ms),
            (Status::Absent, None, 0)
        );
        let after = summarise(0, 60 * M, i64::MAX, &[iv(70, 80)], t);
        assert_eq!(
            (after.status, after.present_ms),
            (Status::Absent, 0),
            "only time within the meeting counts"
        );
        let back = summarise(0, 60 * M, i64::MAX, &[iv(0, 20), iv(40, 60)], t);
        // While the meeting runs: 7 minutes late and here now is late, not absent; gone after 2
        // of the 20 minutes so far is absent.
        let running = summarise(0, 60 * M, 20 * M, &[iv(7, 20)], t);
        assert_eq!((running.status, running.minutes_late), (Status::Late, 7));
        let gone = summarise(0, 60 * M, 20 * M, &[iv(0, 2)], t);
        assert_eq!(gone.status, Status::Absent);
        assert_eq!(
            (back.status, back.present_ms, back.last_leave),
            (Status::Present, 40 * M, Some(60 * M))
        );
    }
}
