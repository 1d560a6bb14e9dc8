//! Whatever joins and leaves a meeting sees (reconnects, several tabs, intervals out of order or
//! backwards), merging them covers exactly the same moments once, and a summary never counts
//! more time than the meeting had; the register's CSV reads back cell for cell, with formulas
//! neutralised. Cases: 256, or `PROPTEST_CASES`; scripts/test.sh prints the seed.

use proptest::prelude::*;
use signaling::attendance::csv::{document, neutralise};
use signaling::attendance::{Interval, Status, Thresholds, merge, summarise};

fn intervals() -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::vec((-50i64..200, -20i64..120), 0..12).prop_map(|v| {
        v.into_iter()
            .map(|(s, len)| Interval {
                start: s,
                end: s + len,
            })
            .collect()
    })
}

fn covered(set: &[Interval], t: i64) -> bool {
    set.iter().any(|i| i.start <= t && t < i.end)
}

proptest! {
    #[test]
    fn merged_intervals_cover_the_same_moments_once(v in intervals()) {
        let m = merge(&v);
        for w in m.windows(2) {
            prop_assert!(w[0].end < w[1].start, "not disjoint and apart: {m:?}");
        }
        prop_assert!(m.iter().all(|i| i.start < i.end));
        for t in -60..330 {
            prop_assert_eq!(covered(&v, t), covered(&m, t), "moment {} of {:?} -> {:?}", t, v, m);
        }
        prop_assert_eq!(merge(&m), m.clone(), "merging again changes nothing");
        let mut reversed = v.clone();
        reversed.reverse();
        prop_assert_eq!(merge(&reversed), m, "the order they came in does not matter");
    }

    #[test]
    fn a_summary_never_counts_more_than_the_meeting(
        v in intervals(), start in -20i64..50, len in 1i64..150, late in 0i64..30, share in 0i64..100,
    ) {
        let t = Thresholds { late_after_minutes: late, min_present_percent: share };
        let s = summarise(start, start + len, i64::MAX, &v, t);
        prop_assert!(s.present_ms >= 0 && s.present_ms <= len, "{s:?}");
        prop_assert!(s.minutes_late >= 0);
        let inside = (start..start + len).filter(|&m| covered(&v, m)).count() as i64;
        prop_assert_eq!(s.present_ms, inside, "present time is the moments covered within the meeting");
        if inside == 0 {
            prop_assert_eq!(s.status, Status::Absent);
        }
        prop_assert!(s.status != Status::Excused, "only a host excuses");
    }

    #[test]
    fn the_register_reads_back_cell_for_cell(cells in prop::collection::vec("[=+@a-z\"\\-,\n\t ]{0,12}", 1..6)) {
        let doc = document(&["a"], &cells.iter().map(|c| vec![c.clone()]).collect::<Vec<_>>());
        let mut r = csv::ReaderBuilder::new().from_reader(doc.as_bytes());
        let back: Vec<String> = r.records().map(|r| r.map(|r| r[0].to_owned())).collect::<Result<_, _>>().unwrap();
        let want: Vec<String> = cells.iter().map(|c| neutralise(c)).collect();
        prop_assert_eq!(&back, &want);
        for c in &back {
            prop_assert!(!matches!(c.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r')), "{c:?}");
        }
    }
}
