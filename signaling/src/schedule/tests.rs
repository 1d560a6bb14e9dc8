//! Schedule expansion, exceptions and meeting windows, on fixed instants.

use super::*;

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
fn cancelled_and_moved_occurrences_are_marked() {
    let mut s = Schedule::new(
        "FREQ=WEEKLY;BYDAY=TU",
        "2026-10-06T18:00",
        60,
        "Europe/Berlin",
        &["2026-10-20T18:00".to_string()],
    )
    .unwrap();
    let local = |t: &str| parse_local("t", t).unwrap();
    // The 27th (after the clock change) is held on Wednesday at 17:00 for 2 hours.
    s.move_occurrence(local("2026-10-27T18:00"), local("2026-10-28T17:00"), 120)
        .unwrap();
    // Only real occurrences can move or be cancelled.
    let err = s
        .move_occurrence(local("2026-10-28T18:00"), local("2026-10-29T18:00"), 60)
        .unwrap_err();
    assert_eq!(err.field, "occurrence");
    assert!(s.set_cancelled(local("2026-10-21T18:00"), true).is_err());
    let got = s
        .occurrences(utc("2026-10-13T00:00:00Z"), utc("2026-11-04T00:00:00Z"))
        .unwrap();
    let seen: Vec<(String, String, Status)> = got
        .occurrences
        .iter()
        .map(|o| (o.start.to_rfc3339(), o.end.to_rfc3339(), o.status))
        .collect();
    let row = |a: &str, b: &str, st| (a.to_string(), b.to_string(), st);
    assert_eq!(
        seen,
        vec![
            row(
                "2026-10-13T18:00:00+02:00",
                "2026-10-13T19:00:00+02:00",
                Status::Scheduled
            ),
            row(
                "2026-10-20T18:00:00+02:00",
                "2026-10-20T19:00:00+02:00",
                Status::Cancelled
            ),
            row(
                "2026-10-28T17:00:00+01:00",
                "2026-10-28T19:00:00+01:00",
                Status::Moved
            ),
            row(
                "2026-11-03T18:00:00+01:00",
                "2026-11-03T19:00:00+01:00",
                Status::Scheduled
            ),
        ]
    );
    assert_eq!(
        got.occurrences[2].original_start.unwrap().to_rfc3339(),
        "2026-10-27T18:00:00+01:00"
    );
    // Restoring puts the 20th back as the rule has it.
    s.set_cancelled(local("2026-10-20T18:00"), false).unwrap();
    assert!(s.exdates.is_empty());
}

#[test]
fn the_room_opens_early_and_closes_after_the_grace_period() {
    let s = tuesdays_in_berlin(); // 18:00-19:30 Berlin, 16:00-17:30 UTC on 13 October.
    let early = Duration::minutes(10);
    let grace = Duration::minutes(15);
    let at = |t: &str| s.window(utc(t), early, grace);
    let opens = DateTime::parse_from_rfc3339("2026-10-13T17:50:00+02:00").unwrap();
    assert_eq!(
        at("2026-10-13T15:49:59Z"),
        Window::Closed {
            opens_at: Some(opens)
        }
    );
    let closes = DateTime::parse_from_rfc3339("2026-10-13T19:45:00+02:00").unwrap();
    for open in [
        "2026-10-13T15:50:00Z",
        "2026-10-13T17:00:00Z",
        "2026-10-13T17:44:59Z",
    ] {
        assert_eq!(at(open), Window::Open { closes_at: closes }, "{open}");
    }
    // After the grace period: closed until ten minutes before next week's meeting.
    let next = DateTime::parse_from_rfc3339("2026-10-20T17:50:00+02:00").unwrap();
    assert_eq!(
        at("2026-10-13T17:45:00Z"),
        Window::Closed {
            opens_at: Some(next)
        }
    );
    // A rule that has ended never opens again.
    let done = Schedule::new("FREQ=WEEKLY;COUNT=1", "2026-10-06T18:00", 60, "UTC", &[]).unwrap();
    assert_eq!(
        done.window(utc("2026-12-01T00:00:00Z"), early, grace),
        Window::Closed { opens_at: None }
    );
}

#[test]
fn expansion_is_bounded_and_dense_rules_are_refused() {
    // Every second, minute or hour: refused with the rule named, before any expansion.
    for rule in ["FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=HOURLY"] {
        let err = Schedule::new(rule, "2026-01-01T00:00", 1, "UTC", &[]).unwrap_err();
        assert_eq!(err.field, "rrule", "{rule}");
    }
    // The densest rule allowed (14 a day), over five years: cut at the bound, and said so.
    let hours = "FREQ=HOURLY;BYHOUR=8,9,10,11,12,13,14,15,16,17,18,19,20,21";
    let s = Schedule::new(hours, "2026-01-01T08:00", 30, "UTC", &[]).unwrap();
    let got = s
        .occurrences(utc("2026-01-01T00:00:00Z"), utc("2031-01-01T00:00:00Z"))
        .unwrap();
    assert_eq!(got.occurrences.len(), usize::from(MAX_OCCURRENCES));
    assert!(got.truncated);
    // Far from its start, the next meeting is still found.
    let next = s.next(utc("2036-06-02T12:10:00Z")).unwrap();
    assert_eq!(next.start.to_rfc3339(), "2036-06-02T12:00:00+00:00");
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
        (w, "1969-07-20T20:17", 60, "UTC", &[], "start"),
        (w, t, 60, "UTC", &["soon"], "exdates[0]"),
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
    let done = Schedule::new("FREQ=WEEKLY;COUNT=2", "2026-10-06T18:00", 60, "UTC", &[]).unwrap();
    assert!(done.next(utc("2026-12-01T00:00:00Z")).is_none());
}
