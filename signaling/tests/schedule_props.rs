//! Whatever an organiser sends as a schedule, checking it and expanding it never panics, never
//! returns more than the cap, and keeps occurrences in order inside the asked range.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use signaling::schedule::{MAX_OCCURRENCES, Schedule};

fn rule() -> impl Strategy<Value = String> {
    prop_oneof![
        // Arbitrary text.
        ".{0,60}",
        // Well-formed pieces in any combination.
        (
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
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn schedules_never_panic_and_stay_bounded(
        rrule in rule(),
        start in prop_oneof!["2026-0[1-9]-1[0-9]T[01][0-9]:[0-5][0-9]", ".{0,20}"],
        minutes in 0u32..2000,
        tz in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Nowhere/Else"]),
        days in 1i64..800,
    ) {
        if let Ok(s) = Schedule::new(&rrule, &start, minutes, tz, &[]) {
            let from: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
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
        }
    }
}
