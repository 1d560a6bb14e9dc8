//! A room's schedule as an RFC 5545 calendar: one recurring VEVENT (RRULE, EXDATE for cancelled
//! meetings, an overriding VEVENT with RECURRENCE-ID for each moved one) with a stable UID and
//! the join link, and a VTIMEZONE built from the IANA database for the years the schedule spans.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use icalendar::{Calendar, CalendarDateTime, Component, EventLike, Property};

use crate::schedule::Schedule;

/// What the calendar says about its room.
pub struct CalendarRoom<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// Where people join; may carry an invite token.
    pub join_url: &'a str,
}

/// Years of time-zone rules the VTIMEZONE covers beyond the later of the schedule's start and
/// now; later meetings keep the last rules, as RFC 5545 says.
const ZONE_YEARS_AHEAD: i32 = 10;

fn local(tz: &Tz, t: NaiveDateTime) -> CalendarDateTime {
    CalendarDateTime::WithTimezone {
        date_time: t,
        tzid: tz.name().to_owned(),
    }
}

fn duration(minutes: u32) -> String {
    format!("PT{minutes}M")
}

fn ical_local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn base_event(room: &CalendarRoom, schedule: &Schedule) -> icalendar::Event {
    let mut text = String::new();
    if let Some(d) = room.description {
        text.push_str(d);
        text.push_str("\n\n");
    }
    text.push_str("Join: ");
    text.push_str(room.join_url);
    let mut event = icalendar::Event::new();
    event
        .uid(&format!("{}@cohort", room.id))
        .summary(room.name)
        .description(&text)
        .location(room.join_url)
        .url(room.join_url);
    event.add_property("DURATION", duration(schedule.duration_minutes));
    event
}

/// The calendar of `room`'s `schedule`, as of `now`.
pub fn render(room: &CalendarRoom, schedule: &Schedule, now: DateTime<Utc>) -> String {
    let tz = schedule.time_zone;
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new(
            "PRODID",
            "-//Cohort//Cohort meeting rooms//EN",
        ))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .name(room.name)
        .timezone(tz.name());

    let mut series = base_event(room, schedule);
    series.starts(local(&tz, schedule.start));
    let rule = schedule
        .rrule
        .strip_prefix("RRULE:")
        .unwrap_or(&schedule.rrule);
    series.add_property("RRULE", rule);
    for ex in &schedule.exdates {
        let mut p = Property::new("EXDATE", ical_local(*ex));
        p.add_parameter("TZID", tz.name());
        series.append_multi_property(p);
    }
    calendar.push(series.done());

    for m in &schedule.moves {
        if schedule.exdates.contains(&m.occurrence) {
            continue;
        }
        let mut moved = base_event(room, schedule);
        moved.starts(local(&tz, m.start));
        moved.add_property("DURATION", duration(m.duration_minutes));
        let mut id = Property::new("RECURRENCE-ID", ical_local(m.occurrence));
        id.add_parameter("TZID", tz.name());
        moved.append_property(id);
        calendar.push(moved.done());
    }

    let first = schedule.start.year() - 1;
    let last = schedule.start.year().max(now.year()) + ZONE_YEARS_AHEAD;
    let text = calendar.to_string();
    // icalendar has no VTIMEZONE component: it goes in before the first event.
    match text.find("BEGIN:VEVENT") {
        Some(at) => format!(
            "{}{}{}",
            &text[..at],
            vtimezone(tz, first, last),
            &text[at..]
        ),
        None => text,
    }
}

/// One change of a zone's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observance {
    /// Onset, as local time in the offset before it.
    onset: NaiveDateTime,
    from: i32,
    to: i32,
    name: String,
    daylight: bool,
}

fn offset_at(tz: Tz, t: NaiveDateTime) -> (i32, String, bool) {
    let o = tz.offset_from_utc_datetime(&t);
    let total = o.fix().local_minus_utc();
    let name = o.abbreviation().unwrap_or("").to_owned();
    (total, name, !o.dst_offset().is_zero())
}

/// The zone's rules from the start of `first` to the end of `last`: the observance in force at
/// the start, then every change, found day by day and then to the second.
fn observances(tz: Tz, first: i32, last: i32) -> Vec<Observance> {
    let day = |y: i32| {
        NaiveDate::from_ymd_opt(y, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
    };
    let (start, end) = (day(first), day(last + 1));
    let (offset, name, daylight) = offset_at(tz, start);
    let mut out = vec![Observance {
        onset: start + Duration::seconds(i64::from(offset)),
        from: offset,
        to: offset,
        name,
        daylight,
    }];
    let mut t = start;
    let mut current = offset;
    while t < end {
        let next = t + Duration::days(1);
        let (o, _, _) = offset_at(tz, next);
        if o != current {
            // The change lies in (t, next]: narrow it to the second.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid).0 == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let (to, name, daylight) = offset_at(tz, hi);
            out.push(Observance {
                onset: hi + Duration::seconds(i64::from(current)),
                from: current,
                to,
                name,
                daylight,
            });
            current = to;
        }
        t = next;
    }
    out
}

fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// A VTIMEZONE for `tz` over the years `first..=last`, lines ended with CRLF.
fn vtimezone(tz: Tz, first: i32, last: i32) -> String {
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", tz.name());
    for o in observances(tz, first, last) {
        let kind = if o.daylight { "DAYLIGHT" } else { "STANDARD" };
        out.push_str(&format!(
            "BEGIN:{kind}\r\nDTSTART:{}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\n",
            ical_local(o.onset),
            utc_offset(o.from),
            utc_offset(o.to)
        ));
        // Abbreviations are letters, digits, '+' and '-': nothing to escape.
        if !o.name.is_empty() {
            out.push_str(&format!("TZNAME:{}\r\n", o.name));
        }
        out.push_str(&format!("END:{kind}\r\n"));
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berlin_changes_twice_a_year_at_the_right_local_times() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let obs = observances(tz, 2026, 2026);
        let summary: Vec<(String, String, String, bool)> = obs
            .iter()
            .map(|o| {
                (
                    ical_local(o.onset),
                    utc_offset(o.from),
                    utc_offset(o.to),
                    o.daylight,
                )
            })
            .collect();
        let row = |a: &str, b: &str, c: &str, d| (a.to_owned(), b.to_owned(), c.to_owned(), d);
        assert_eq!(
            summary,
            vec![
                row("20260101T010000", "+0100", "+0100", false),
                row("20260329T020000", "+0100", "+0200", true),
                row("20261025T030000", "+0200", "+0100", false),
            ]
        );
        assert_eq!(obs[1].name, "CEST");
    }

    #[test]
    fn zones_without_daylight_saving_have_one_observance() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let obs = observances(tz, 2025, 2035);
        assert_eq!(obs.len(), 1);
        assert_eq!(utc_offset(obs[0].to), "+0530");
        assert_eq!(utc_offset(-(3 * 3600 + 30 * 60)), "-0330");
    }

    #[test]
    fn the_calendar_carries_rule_exceptions_zone_and_link() {
        let mut s = Schedule::new(
            "FREQ=WEEKLY;BYDAY=TU",
            "2026-10-06T18:00",
            90,
            "Europe/Berlin",
            &["2026-10-20T18:00".into()],
        )
        .unwrap();
        let at = |t: &str| crate::schedule::parse_local("t", t).unwrap();
        s.move_occurrence(at("2026-10-27T18:00"), at("2026-10-28T17:00"), 60)
            .unwrap();
        let room = CalendarRoom {
            id: "r1",
            name: "Maths; Tuesdays, 9B",
            description: None,
            join_url: "http://127.0.0.1:8080/r/maths",
        };
        let now = "2026-11-27T00:00:00Z".parse().unwrap();
        let ics = render(&room, &s, now);
        for line in [
            "BEGIN:VTIMEZONE",
            "TZID:Europe/Berlin",
            "UID:r1@cohort",
            "DTSTART;TZID=Europe/Berlin:20261006T180000",
            "RRULE:FREQ=WEEKLY;BYDAY=TU",
            "EXDATE;TZID=Europe/Berlin:20261020T180000",
            "RECURRENCE-ID;TZID=Europe/Berlin:20261027T180000",
            "DTSTART;TZID=Europe/Berlin:20261028T170000",
            "DURATION:PT90M",
            "SUMMARY:Maths\\; Tuesdays\\, 9B",
            "URL:http://127.0.0.1:8080/r/maths",
        ] {
            assert!(
                ics.contains(&format!("{line}\r\n")),
                "missing {line}:\n{ics}"
            );
        }
        // The zone comes before the events that use it, and the file is one calendar.
        assert!(ics.find("BEGIN:VTIMEZONE") < ics.find("BEGIN:VEVENT"));
        assert_eq!(ics.matches("BEGIN:VCALENDAR").count(), 1);
        // Properties that RFC 5545 allows once appear once.
        for once in [
            "\r\nVERSION:",
            "\r\nPRODID:",
            "\r\nCALSCALE:",
            "\r\nMETHOD:",
        ] {
            assert_eq!(ics.matches(once).count(), 1, "{once:?}\n{ics}");
        }
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 2);
    }
}
