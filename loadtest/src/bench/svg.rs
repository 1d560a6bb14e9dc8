//! A small SVG line chart: two or more named series over numeric axes, with ticks, a legend and
//! titles. (plotters needs a font backend to lay out text, which is more than these charts
//! need: SVG renders its own text.)

use std::fmt::Write;

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    /// Dashed, to tell a second measure of the same system apart.
    pub dashed: bool,
    /// Points joined by a line (false: markers only, for points of unrelated cases).
    pub line: bool,
    pub points: Vec<(f64, f64)>,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 62.0;

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" tick step for a range, and the ticks from 0 (or the lowest) up to the highest.
fn ticks(max: f64) -> Vec<f64> {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let n = (max / step).ceil() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

fn label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        format!("{}k", trim(v / 1000.0))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl Chart {
    pub fn render(&self) -> String {
        let points = self.series.iter().flat_map(|s| s.points.iter());
        let (mut xmax, mut ymax) = (0f64, 0f64);
        for &(x, y) in points {
            xmax = xmax.max(x);
            ymax = ymax.max(y);
        }
        let (xt, yt) = (ticks(xmax), ticks(ymax));
        let (xtop, ytop) = (*xt.last().unwrap_or(&1.0), *yt.last().unwrap_or(&1.0));
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let sx = |x: f64| LEFT + x / xtop * pw;
        let sy = |y: f64| TOP + ph - y / ytop * ph;
        let mut o = String::new();
        let _ = write!(
            o,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12" role="img" aria-label="{t}">
<title>{t}</title>
<rect width="{W}" height="{H}" fill="#ffffff"/>
<text x="{cx}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{t}</text>
"##,
            t = esc(&self.title),
            cx = LEFT + pw / 2.0
        );
        for &y in &yt {
            let py = sy(y);
            let _ = writeln!(
                o,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{x2:.1}" y2="{py:.1}" stroke="#e3e3e3"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{l}</text>"##,
                x2 = LEFT + pw,
                tx = LEFT - 8.0,
                ty = py + 4.0,
                l = label(y)
            );
        }
        for &x in &xt {
            let px = sx(x);
            let _ = writeln!(
                o,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{y2:.1}" stroke="#efefef"/><text x="{px:.1}" y="{ty:.1}" text-anchor="middle">{l}</text>"##,
                y2 = TOP + ph,
                ty = TOP + ph + 18.0,
                l = label(x)
            );
        }
        let _ = writeln!(
            o,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>
<text x="{cx:.1}" y="{xy:.1}" text-anchor="middle">{xl}</text>
<text transform="translate(18 {cy:.1}) rotate(-90)" text-anchor="middle">{yl}</text>"##,
            cx = LEFT + pw / 2.0,
            xy = H - 16.0,
            xl = esc(&self.x_label),
            cy = TOP + ph / 2.0,
            yl = esc(&self.y_label)
        );
        for (i, s) in self.series.iter().enumerate() {
            let mut pts = s.points.clone();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let path: Vec<String> = pts
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let dash = if s.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            if s.line {
                let _ = writeln!(
                    o,
                    r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"{dash}/>"#,
                    path.join(" "),
                    c = s.colour
                );
            }
            // Markers: filled, or hollow for a dashed (second) measure.
            let fill = if s.dashed { "#ffffff" } else { s.colour };
            for p in &path {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(
                    o,
                    r#"<circle cx="{x}" cy="{y}" r="4" fill="{fill}" stroke="{c}" stroke-width="1.5"/>"#,
                    c = s.colour
                );
            }
            let ly = TOP + 14.0 + i as f64 * 20.0;
            let lx = W - RIGHT + 16.0;
            if s.line {
                let _ = writeln!(
                    o,
                    r#"<line x1="{lx}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="{c}" stroke-width="2"{dash}/>"#,
                    x2 = lx + 24.0,
                    c = s.colour,
                );
            }
            let _ = writeln!(
                o,
                r#"<circle cx="{cx}" cy="{ly}" r="4" fill="{fill}" stroke="{c}" stroke-width="1.5"/><text x="{tx}" y="{ty}">{n}</text>"#,
                cx = lx + 12.0,
                c = s.colour,
                tx = lx + 30.0,
                ty = ly + 4.0,
                n = esc(&s.name)
            );
        }
        o.push_str("</svg>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let near = |a: Vec<f64>, b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
        };
        assert!(near(ticks(10.0), &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]));
        assert!(near(ticks(0.0), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]));
        assert_eq!(label(0.6000000000000001), "0.6");
        assert_eq!(label(25_000.0), "25k");
        let t = ticks(173.0);
        assert!(*t.last().unwrap() >= 173.0 && t.len() <= 7, "{t:?}");
    }

    #[test]
    fn a_chart_has_every_series_and_escapes_names() {
        let c = Chart {
            title: "CPU <per> packet".into(),
            x_label: "participants".into(),
            y_label: "µs".into(),
            series: vec![
                Series {
                    name: "Cohort".into(),
                    colour: "#1f6feb",
                    dashed: false,
                    line: true,
                    points: vec![(4.0, 20.0), (8.0, 18.0)],
                },
                Series {
                    name: "Janus & co".into(),
                    colour: "#d1242f",
                    dashed: true,
                    line: true,
                    points: vec![(4.0, 30.0)],
                },
            ],
        };
        let svg = c.render();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(
            svg.matches("<circle").count(),
            3 + 2,
            "points and legend markers"
        );
        assert!(svg.contains("CPU &lt;per&gt; packet") && svg.contains("Janus &amp; co"));
    }
}
