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
    let at = |t: &str| s.window(utc(t), early, grace).unwrap();
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
        done.window(utc("2026-12-01T00:00:00Z"), early, grace)
            .unwrap(),
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
    let next = s.next(utc("2036-06-02T12:10:00Z")).unwrap().unwrap();
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
        s.next(now).unwrap().unwrap().start.to_rfc3339(),
        "2026-10-13T18:00:00+02:00"
    );
    // Just after it: next week's.
    let later = utc("2026-10-13T17:31:00Z");
    assert_eq!(
        s.next(later).unwrap().unwrap().start.to_rfc3339(),
        "2026-10-20T18:00:00+02:00"
    );
    // A rule that has ended has no next meeting.
    let done = Schedule::new("FREQ=WEEKLY;COUNT=2", "2026-10-06T18:00", 60, "UTC", &[]).unwrap();
    assert!(done.next(utc("2026-12-01T00:00:00Z")).unwrap().is_none());
}

fn starts(s: &Schedule, from: &str, to: &str) -> Vec<String> {
    s.occurrences(utc(from), utc(to))
        .unwrap()
        .occurrences
        .iter()
        .map(|o| o.start.to_rfc3339())
        .collect()
}

/// The proptest's find (`FREQ=HOURLY;BYDAY=SU` from 10 June 2026 in Berlin): on 28 March 2027
/// the clocks skip 02:00-03:00. The skipped 02:00 is read with the offset before the gap, which
/// is the instant of 03:00, and that start is counted once.
#[test]
fn an_hourly_rule_across_the_spring_change_in_berlin_counts_each_start_once() {
    let s = Schedule::new(
        "FREQ=HOURLY;BYDAY=SU",
        "2026-06-10T00:00",
        1,
        "Europe/Berlin",
        &[],
    )
    .unwrap();
    let got = starts(&s, "2027-03-27T23:30:00Z", "2027-03-28T03:30:00Z");
    assert_eq!(
        got,
        vec![
            "2027-03-28T01:00:00+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-03-28T04:00:00+02:00",
            "2027-03-28T05:00:00+02:00",
        ]
    );
    // The autumn change: the repeated 02:00 hour is there once (the first), then 03:00 CET.
    let autumn = starts(&s, "2026-10-24T22:30:00Z", "2026-10-25T02:30:00Z");
    assert_eq!(
        autumn,
        vec![
            "2026-10-25T01:00:00+02:00",
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T03:00:00+01:00",
        ]
    );
}

#[test]
fn a_daily_meeting_at_a_skipped_time_in_new_york_moves_by_the_gap_and_keeps_its_address() {
    // 02:30 does not exist on 14 March 2027 in New York: that day it is 03:30 EDT.
    let mut s = Schedule::new(
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        "2026-11-01T02:30",
        30,
        "America/New_York",
        &[],
    )
    .unwrap();
    // On 1 November 2026 the repeated hour is 01:00-02:00, so 02:30 is once, in EST.
    assert_eq!(
        starts(&s, "2026-11-01T00:00:00Z", "2026-11-02T12:00:00Z"),
        vec!["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]
    );
    assert_eq!(
        starts(&s, "2027-03-13T00:00:00Z", "2027-03-16T00:00:00Z"),
        vec![
            "2027-03-13T02:30:00-05:00",
            "2027-03-14T03:30:00-04:00",
            "2027-03-15T02:30:00-04:00",
        ]
    );
    // That meeting is addressed by its local start as it is held.
    let local = |t: &str| parse_local("t", t).unwrap();
    assert!(s.has_occurrence(local("2027-03-14T03:30")).unwrap());
    assert!(!s.has_occurrence(local("2027-03-14T02:30")).unwrap());
    s.set_cancelled(local("2027-03-14T03:30"), true).unwrap();
    let got = s
        .occurrences(utc("2027-03-14T00:00:00Z"), utc("2027-03-15T00:00:00Z"))
        .unwrap();
    assert_eq!(got.occurrences[0].status, Status::Cancelled);
}

/// Every frequency, across both changes of 2026-2027 in Berlin and New York: starts strictly
/// increase, and each falls on a whole minute of the rule.
#[test]
fn starts_strictly_increase_for_every_frequency_across_both_changes() {
    let rules = [
        "FREQ=MINUTELY;INTERVAL=30;BYDAY=SU",
        "FREQ=MINUTELY;INTERVAL=105",
        "FREQ=MINUTELY;INTERVAL=20;BYHOUR=0,1,2,3,4;BYDAY=SA,SU",
        "FREQ=HOURLY;INTERVAL=1;BYDAY=SU",
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30",
        "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=15",
        "FREQ=MONTHLY;BYDAY=-1SU,2SU;BYHOUR=2",
        "FREQ=YEARLY;BYMONTH=3,10,11;BYDAY=SU;BYHOUR=1,2,3",
    ];
    for zone in ["Europe/Berlin", "America/New_York"] {
        for rule in rules {
            let s = Schedule::new(rule, "2026-01-01T00:00", 10, zone, &[])
                .unwrap_or_else(|e| panic!("{rule} in {zone}: {e}"));
            for (from, to) in [
                ("2026-03-07T00:00:00Z", "2026-03-31T00:00:00Z"),
                ("2026-10-24T00:00:00Z", "2026-11-02T00:00:00Z"),
                ("2027-03-13T00:00:00Z", "2027-03-29T00:00:00Z"),
                ("2027-10-30T00:00:00Z", "2027-11-08T00:00:00Z"),
            ] {
                let got = s.occurrences(utc(from), utc(to)).unwrap();
                assert!(!got.occurrences.is_empty(), "{rule} in {zone} from {from}");
                for w in got.occurrences.windows(2) {
                    assert!(
                        w[0].start < w[1].start,
                        "{rule} in {zone}: {} then {}",
                        w[0].start,
                        w[1].start
                    );
                }
            }
        }
    }
}

/// The campaign's stall: every second of December, from 2000. Refused before anything is stored,
/// and cheaply: the density check stops at the first week that is too full.
#[test]
fn a_rule_dense_only_later_in_the_year_is_refused() {
    let err = Schedule::new(
        "FREQ=SECONDLY;BYMONTH=12",
        "2000-01-01T00:00",
        1,
        "UTC",
        &[],
    )
    .unwrap_err();
    assert_eq!(err.field, "rrule");
    assert!(err.message.contains("2000-12-01T00:00:00"), "{err}");
    // Dense only in ISO week 53, which 2026 has and 2027 to 2031 do not.
    let err = Schedule::new(
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO,TU,WE,TH,FR,SA,SU;\
         BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
        "2027-01-05T00:00",
        1,
        "UTC",
        &[],
    )
    .unwrap_err();
    assert!(err.message.contains("2032-12-27"), "{err}");
    // A rule that never meets is refused too.
    let err = Schedule::new(
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30",
        "2026-01-01T00:00",
        1,
        "UTC",
        &[],
    )
    .unwrap_err();
    assert!(err.message.contains("no meeting"), "{err}");
}

#[test]
fn far_from_its_start_a_schedule_still_expands_moves_and_checks_cheaply() {
    let hours = "FREQ=HOURLY;BYHOUR=8,9,10,11,12,13,14,15,16,17,18,19,20,21";
    let mut s = Schedule::new(hours, "2000-01-01T08:00", 30, "UTC", &[]).unwrap();
    let local = |t: &str| parse_local("t", t).unwrap();
    // A move in 2199 on a rule from 2000: one period's walk, not two centuries'.
    s.move_occurrence(local("2199-06-03T09:00"), local("2199-06-03T22:00"), 45)
        .unwrap();
    let got = s
        .occurrences(utc("2199-06-03T08:00:00Z"), utc("2199-06-03T23:00:00Z"))
        .unwrap();
    assert_eq!(got.occurrences.len(), 14);
    assert_eq!(got.occurrences[1].status, Status::Scheduled);
    assert_eq!(got.occurrences[13].status, Status::Moved);
    assert!(matches!(
        s.window(
            utc("2199-06-03T22:10:00Z"),
            Duration::zero(),
            Duration::zero()
        )
        .unwrap(),
        Window::Open { .. }
    ));
}

#[test]
fn a_stored_rule_that_no_longer_passes_reports_its_problem_and_costs_nothing() {
    let s = Schedule::stored(
        "FREQ=SECONDLY;INTERVAL=0",
        "2000-01-01T00:00",
        1,
        "UTC",
        &[],
        Vec::new(),
    )
    .unwrap();
    assert_eq!(s.problem().unwrap().field, "rrule");
    let now = utc("2026-12-01T00:00:00Z");
    assert!(s.next(now).is_err());
    assert!(s.window(now, Duration::zero(), Duration::zero()).is_err());
    // A dense rule stored before the density check: bounded, and an error, not a hang.
    let dense = Schedule::stored(
        "FREQ=SECONDLY;BYMONTH=12",
        "2000-01-01T00:00",
        1,
        "UTC",
        &[],
        Vec::new(),
    )
    .unwrap();
    assert!(dense.problem().is_none());
    let got = dense
        .occurrences(utc("2026-12-01T00:00:00Z"), utc("2026-12-02T00:00:00Z"))
        .unwrap();
    assert_eq!(got.occurrences.len(), usize::from(MAX_OCCURRENCES));
    assert!(got.truncated, "cut at MAX_OCCURRENCES within the range");
    assert!(dense.next(now).unwrap().is_some());
    // A counted rule is walked from its start: past the budget it is an error, not a hang.
    let counted = Schedule::stored(
        "FREQ=SECONDLY;COUNT=5000",
        "2026-12-01T00:00",
        1,
        "UTC",
        &[],
        Vec::new(),
    )
    .unwrap();
    assert!(counted.next(utc("2026-12-01T01:00:00Z")).unwrap().is_some());
}

#[test]
fn the_earliest_meeting_may_be_one_moved_before_the_first() {
    let mut s = tuesdays_in_berlin();
    let local = |t: &str| parse_local("t", t).unwrap();
    assert_eq!(s.earliest(), local("2026-10-06T18:00"));
    s.move_occurrence(local("2026-10-13T18:00"), local("2026-10-14T18:00"), 90)
        .unwrap();
    assert_eq!(s.earliest(), local("2026-10-06T18:00"), "moved later");
    s.move_occurrence(local("2026-10-06T18:00"), local("2026-10-01T09:00"), 90)
        .unwrap();
    assert_eq!(
        s.earliest(),
        local("2026-10-01T09:00"),
        "moved before the first"
    );
}
