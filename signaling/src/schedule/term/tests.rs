//! Terms as the form states them, against the schedules they compose: every meeting a term
//! should have, on its days at its local time across clock changes, and no other.

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::schedule::Schedule;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn physics() -> Term {
    Term {
        weekdays: vec![Weekday::Tue],
        time: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        duration_minutes: 60,
        first: date("2026-09-01"),
        last: Some(date("2026-11-17")),
        every_weeks: 1,
    }
}

/// Every meeting of the composed schedule, as local date-times in `zone`.
fn meetings(c: &Composed, minutes: u32, zone: Tz) -> Vec<NaiveDateTime> {
    let s = Schedule::new(
        &c.rrule,
        &crate::schedule::format_local(c.start),
        minutes,
        zone.name(),
        &[],
    )
    .unwrap_or_else(|e| panic!("{} from {}: {e}", c.rrule, c.start));
    let from = place(zone, c.start).with_timezone(&Utc) - Duration::days(1);
    let to = from + Duration::days(MAX_TERM_DAYS + 10);
    let got = s.occurrences(from, to).unwrap();
    assert!(!got.truncated);
    got.occurrences
        .iter()
        .map(|o| o.start.with_timezone(&zone).naive_local())
        .collect()
}

#[test]
fn year_10_physics_is_twelve_tuesdays_at_six_across_the_clock_change() {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let c = physics().compose(zone).unwrap();
    assert_eq!(c.rrule, "FREQ=WEEKLY;BYDAY=TU;UNTIL=20261117T225959Z");
    assert_eq!(c.start, date("2026-09-01").and_hms_opt(18, 0, 0).unwrap());
    let got = meetings(&c, 60, zone);
    assert_eq!(got.len(), 12);
    assert!(
        got.iter()
            .all(|t| t.time() == physics().time && t.weekday() == Weekday::Tue)
    );
    assert_eq!(got.last().unwrap().date(), date("2026-11-17"));
    // 18:00 in Berlin is 16:00 UTC in summer time and 17:00 after 25 October.
    let utc = |t: NaiveDateTime| zone.from_local_datetime(&t).unwrap().with_timezone(&Utc);
    assert_eq!(utc(got[0]).to_rfc3339(), "2026-09-01T16:00:00+00:00");
    assert_eq!(utc(got[11]).to_rfc3339(), "2026-11-17T17:00:00+00:00");
    assert_eq!(Term::read(&c.rrule, c.start, 60, zone), Some(physics()));
}

#[test]
fn fields_that_do_not_fit_are_named() {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let bad = |t: Term| t.compose(zone).unwrap_err().field;
    assert_eq!(
        bad(Term {
            weekdays: vec![],
            ..physics()
        }),
        "term.weekdays"
    );
    assert_eq!(
        bad(Term {
            every_weeks: 3,
            ..physics()
        }),
        "term.every_weeks"
    );
    assert_eq!(
        bad(Term {
            duration_minutes: 0,
            ..physics()
        }),
        "term.duration_minutes"
    );
    assert_eq!(
        bad(Term {
            last: Some(date("2026-08-31")),
            ..physics()
        }),
        "term.last"
    );
    // The first is a Wednesday: the first Tuesday after it is past the last date.
    let t = Term {
        first: date("2026-09-02"),
        last: Some(date("2026-09-07")),
        ..physics()
    };
    assert_eq!(bad(t), "term.last");
    assert_eq!(
        bad(Term {
            last: Some(date("2028-09-01")),
            ..physics()
        }),
        "term.last"
    );
    // 02:30 on 29 March 2026 does not exist in Berlin.
    let gap = Term {
        weekdays: vec![Weekday::Sun],
        time: NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        first: date("2026-03-29"),
        last: None,
        ..physics()
    };
    assert_eq!(bad(gap), "term.time");
}

#[test]
fn rules_the_form_does_not_make_are_not_read_as_a_form() {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let start = date("2026-09-01").and_hms_opt(18, 0, 0).unwrap();
    for rule in [
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=TU;COUNT=10",
        "FREQ=WEEKLY;BYDAY=1TU",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU",
        "FREQ=WEEKLY;BYDAY=TU;UNTIL=20261117T120000Z",
        "FREQ=WEEKLY;BYDAY=WE",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9",
    ] {
        assert_eq!(Term::read(rule, start, 60, zone), None, "{rule}");
    }
    assert!(Term::read("FREQ=WEEKLY;BYDAY=TU", start, 60, zone).is_some());
    assert!(Term::read("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", start, 60, zone).is_some());
}

fn zones() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        "Europe/Berlin",
        "America/New_York",
        "Australia/Sydney",
        "Pacific/Auckland",
        "Asia/Kolkata",
        "UTC",
    ])
    .prop_map(|z| z.parse().unwrap())
}

fn terms() -> impl Strategy<Value = Term> {
    (
        prop::collection::vec(0u8..7, 1..4),
        (6u32..22, prop::sample::select(vec![0u32, 15, 30, 45])),
        30u32..180,
        0i64..730,
        prop::option::of(0i64..400),
        1u8..=2,
    )
        .prop_map(|(days, (h, m), minutes, offset, length, every)| Term {
            weekdays: days
                .into_iter()
                .map(|d| Weekday::try_from(d).unwrap())
                .collect(),
            time: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
            duration_minutes: minutes,
            first: date("2026-01-01") + Duration::days(offset),
            last: length.map(|l| date("2026-01-01") + Duration::days(offset + l)),
            every_weeks: every,
        })
}

proptest! {
    /// A composed term meets on exactly the days a calendar walk says: its weekdays, in the
    /// weeks it meets (every or every other Monday-started week from the first meeting's), from
    /// the first meeting to the last date, each at its local time; and it reads back as the form.
    #[test]
    fn a_term_meets_when_the_calendar_says(t in terms(), zone in zones()) {
        let Ok(c) = t.compose(zone) else {
            // Only a term with no meeting before its end may be refused here.
            let e = t.compose(zone).unwrap_err();
            prop_assert_eq!(e.field.as_str(), "term.last", "{:?}: {}", t, e);
            return Ok(());
        };
        let got = meetings(&c, t.duration_minutes, zone);
        let monday = |d: NaiveDate| d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
        let week0 = monday(c.start.date());
        let end = t.last.unwrap_or(t.first + Duration::days(MAX_TERM_DAYS));
        let mut want = Vec::new();
        let mut d = c.start.date();
        while d <= end && want.len() < 1000 {
            let weeks = (monday(d) - week0).num_days() / 7;
            if t.weekdays.contains(&d.weekday()) && weeks % i64::from(t.every_weeks) == 0 {
                want.push(d);
            }
            d += Duration::days(1);
        }
        let got_days: Vec<NaiveDate> = got.iter().map(|g| g.date()).filter(|g| *g <= end).collect();
        prop_assert_eq!(&got_days, &want, "{:?} in {} as {} from {}", t, zone, c.rrule, c.start);
        if t.last.is_some() {
            prop_assert_eq!(got.len(), want.len(), "no meeting after the last date: {}", c.rrule);
        }
        // Each at its local time, but for a time the clocks skip that day (moved past the gap).
        for g in &got {
            let exists = zone.from_local_datetime(&g.date().and_time(t.time)).earliest().is_some();
            if exists {
                prop_assert_eq!(g.time(), t.time, "{:?} in {}", g, zone);
            }
        }
        let mut days = t.weekdays.clone();
        days.sort_by_key(Weekday::num_days_from_monday);
        days.dedup();
        let read = Term::read(&c.rrule, c.start, t.duration_minutes, zone);
        let expected = Term { weekdays: days, first: c.start.date(), ..t.clone() };
        prop_assert_eq!(read, Some(expected), "{}", c.rrule);
    }
}
