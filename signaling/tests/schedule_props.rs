//! Whatever an organiser sends as a schedule, checking it and expanding it never panics, never
//! returns more than the cap, and keeps occurrences in strictly increasing order inside the asked
//! range, across clock changes; every occurrence is addressed by its local start.
//!
//! Cases: 256, or `PROPTEST_CASES`. A failure prints the minimal input; `scripts/test.sh` prints
//! the run's `PROPTEST_RNG_SEED`, which replays the same cases.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use signaling::schedule::{MAX_OCCURRENCES, Schedule};

fn rule() -> impl Strategy<Value = String> {
    prop_oneof![
        // Arbitrary text.
        1 => ".{0,60}",
        // Well-formed pieces in any combination.
        4 => (
            prop::sample::select(vec![
                "SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "BOGUS"
            ]),
            prop::option::of(1u32..400),
            prop::option::of(prop::sample::select(vec![
                "MO", "TU", "WE,FR", "SU", "1MO", "-1FR", "XX"
            ])),
            prop::option::of(0u32..50),
        )
            .prop_map(|(f, i, d, c)| {
                let mut r = format!("FREQ={f}");
                if let Some(i) = i {
                    r.push_str(&format!(";INTERVAL={i}"));
                }
                if let Some(d) = d {
                    r.push_str(&format!(";BYDAY={d}"));
                }
                if let Some(c) = c {
                    r.push_str(&format!(";COUNT={c}"));
                }
                r
            }),
    ]
}

proptest! {
    #[test]
    fn schedules_never_panic_and_stay_bounded(
        rrule in rule(),
        start in prop_oneof![
            3 => "20[0-3][0-9]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]",
            1 => "2026-0[1-9]-1[0-9]T[01][0-9]:[0-5][0-9]",
            1 => ".{0,20}",
        ],
        minutes in prop_oneof![1u32..240, 0u32..2000],
        tz in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Nowhere/Else"]),
        days in 1i64..800,
        from_day in 0i64..20_000,
    ) {
        if let Ok(s) = Schedule::new(&rrule, &start, minutes, tz, &[]) {
            let base: DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
            let from = base + Duration::days(from_day);
            let to = from + Duration::days(days);
            let got = s.occurrences(from, to).unwrap();
            prop_assert!(got.occurrences.len() <= usize::from(MAX_OCCURRENCES));
            for w in got.occurrences.windows(2) {
                prop_assert!(w[0].start < w[1].start);
            }
            for o in &got.occurrences {
                prop_assert!(o.start >= from && o.start < to);
                prop_assert_eq!(o.end - o.start, Duration::minutes(i64::from(minutes)));
            }
            for o in got.occurrences.iter().take(20) {
                let local = o.start.with_timezone(&s.time_zone).naive_local();
                prop_assert!(s.has_occurrence(local).unwrap(), "{} is not addressed by {}", o.start, local);
            }
        }
    }
}
