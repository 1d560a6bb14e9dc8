//! The benchmark's report: reads the JSON of every case and target that `loadtest/bench.sh`
//! wrote, and makes the side-by-side table (Markdown) and the plots (SVG).

pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::scenario::{Report, Target};
use crate::stats::Millis;
use svg::{Chart, Series};

/// One case, with the report of each target that ran it.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub cohort: Option<Report>,
    pub janus: Option<Report>,
}

/// The matrix's order: one room by size, many rooms, listeners by count.
fn order(name: &str) -> (u8, u32) {
    let n = name
        .rsplit(['-', 'x'])
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let group = if name.starts_with("room-") {
        0
    } else if name.starts_with("rooms-") {
        1
    } else {
        2
    };
    (group, n)
}

/// Reads `<case>-<target>.json` files from `dir`.
pub fn load(dir: &Path) -> Result<Vec<Case>, String> {
    let mut cases: BTreeMap<(u8, u32, String), Case> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some((name, target)) = stem.rsplit_once('-') else {
            continue;
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report: Report =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let (g, n) = order(name);
        let case = cases
            .entry((g, n, name.to_owned()))
            .or_insert_with(|| Case {
                name: name.to_owned(),
                cohort: None,
                janus: None,
            });
        match (target, report.target) {
            ("cohort", Target::Cohort) => case.cohort = Some(report),
            ("janus", Target::Janus) => case.janus = Some(report),
            _ => {
                return Err(format!(
                    "{}: the file name and its target disagree",
                    path.display()
                ));
            }
        }
    }
    if cases.is_empty() {
        return Err(format!(
            "no <case>-<target>.json reports in {}",
            dir.display()
        ));
    }
    Ok(cases.into_values().collect())
}

fn cpu_us(r: &Report) -> Option<f64> {
    r.server.as_ref().map(|s| s.cpu_us_per_forwarded_packet)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.digits$}"))
}

/// "p50 / p95", or a dash for a report without the figure.
fn p50_p95(m: &Millis) -> String {
    if m.samples == 0 {
        "—".into()
    } else {
        format!("{:.0} / {:.0}", m.p50, m.p95)
    }
}

/// The side-by-side table, one row per case and target.
pub fn table(cases: &[Case]) -> String {
    let mut o = String::from(
        "| case | server | participants (publishing) | forwarded pkt/s | server cores | CPU µs / fwd pkt | fwd pkt / core-s | Cohort ÷ Janus CPU per pkt | loss | latency p50 / p99 ms | RSS / participant KiB | audio join p50 / p95 ms | first picture p50 / p95 ms | load generator | \n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in cases {
        let ratio = match (
            c.cohort.as_ref().and_then(cpu_us),
            c.janus.as_ref().and_then(cpu_us),
        ) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        for (who, r) in [("Cohort", &c.cohort), ("Janus", &c.janus)] {
            let Some(r) = r else { continue };
            let s = r.server.as_ref();
            let _ = writeln!(
                o,
                "| {} | {who} | {} ({}) | {:.0} | {} | {} | {} | {} | {:.3}% | {:.2} / {:.2} | {} | {} | {} | {:.0}%{} |",
                c.name,
                r.joined,
                r.publishers,
                r.forwarded_packets_per_second,
                opt(s.map(|s| s.cpu_cores_used), 2),
                opt(s.map(|s| s.cpu_us_per_forwarded_packet), 1),
                opt(s.map(|s| s.forwarded_packets_per_core_second), 0),
                if who == "Cohort" {
                    opt(ratio, 2)
                } else {
                    String::new()
                },
                r.loss * 100.0,
                r.latency_ms.p50,
                r.latency_ms.p99,
                opt(s.map(|s| s.rss_bytes_per_participant / 1024.0), 0),
                p50_p95(&r.join_audio_ms),
                p50_p95(&r.first_picture_ms),
                r.loadgen_cpu_share.unwrap_or(0.0) * 100.0,
                if r.saturated { " **saturated**" } else { "" },
            );
        }
    }
    o
}

const COHORT: &str = "#1f6feb";
const JANUS: &str = "#c2410c";

fn series(
    cases: &[Case],
    name: &str,
    colour: &'static str,
    (dashed, line): (bool, bool),
    f: impl Fn(&Case) -> Option<(f64, f64)>,
) -> Series {
    Series {
        name: name.into(),
        colour,
        dashed,
        line,
        points: cases.iter().filter_map(f).collect(),
    }
}

/// Server CPU against participants (the one-room cases), both systems.
pub fn cpu_chart(cases: &[Case]) -> Chart {
    let one_room: Vec<Case> = cases
        .iter()
        .filter(|c| c.name.starts_with("room-"))
        .cloned()
        .collect();
    let point = |r: &Option<Report>| {
        let r = r.as_ref()?;
        Some((r.joined as f64, r.server.as_ref()?.cpu_cores_used * 100.0))
    };
    Chart {
        title: "Server CPU, one room, everyone publishing 500 kbit/s video + audio".into(),
        x_label: "participants".into(),
        y_label: "server CPU, % of one core".into(),
        series: vec![
            series(&one_room, "Cohort", COHORT, (false, true), |c| {
                point(&c.cohort)
            }),
            series(&one_room, "Janus", JANUS, (false, true), |c| {
                point(&c.janus)
            }),
        ],
    }
}

/// One-way latency (p50 filled, p99 hollow) against forwarded packets per second, one point per
/// case (the cases are different shapes of load, so no line joins them).
pub fn latency_chart(cases: &[Case]) -> Chart {
    let at = |r: &Option<Report>, p99: bool| {
        let r = r.as_ref()?;
        let l = if p99 {
            r.latency_ms.p99
        } else {
            r.latency_ms.p50
        };
        Some((r.forwarded_packets_per_second, l))
    };
    Chart {
        title: "One-way latency through the server against load".into(),
        x_label: "packets forwarded per second".into(),
        y_label: "latency, ms".into(),
        series: vec![
            series(cases, "Cohort p50", COHORT, (false, false), |c| {
                at(&c.cohort, false)
            }),
            series(cases, "Cohort p99", COHORT, (true, false), |c| {
                at(&c.cohort, true)
            }),
            series(cases, "Janus p50", JANUS, (false, false), |c| {
                at(&c.janus, false)
            }),
            series(cases, "Janus p99", JANUS, (true, false), |c| {
                at(&c.janus, true)
            }),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_sort_as_the_matrix_reads() {
        let mut names = vec![
            "listeners-200",
            "room-16",
            "rooms-20x4",
            "room-4",
            "listeners-50",
            "room-12",
        ];
        names.sort_by_key(|n| order(n));
        assert_eq!(
            names,
            vec![
                "room-4",
                "room-12",
                "room-16",
                "rooms-20x4",
                "listeners-50",
                "listeners-200"
            ]
        );
    }

    #[test]
    fn join_figures_show_as_p50_and_p95_or_a_dash_when_absent() {
        let m = Millis::from_micros(vec![100_000, 200_000, 300_000, 400_000]);
        assert_eq!(p50_p95(&m), "200 / 400");
        // A report written before the figure existed reads it as empty.
        assert_eq!(p50_p95(&Millis::default()), "—");
    }
}
