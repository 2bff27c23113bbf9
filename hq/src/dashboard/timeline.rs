//! The agent page's timeline (issue 15, `templates/timeline.html`): RTT p95, loss per
//! direction and the lowest MOS on one time axis, with the agent's incidents as shaded bands
//! with their names, its sign-ins (solid) and sign-outs (dashed) as vertical lines, the minutes
//! with no line to HQ marked at the foot of each panel, and a gap where no sample came (never
//! a line drawn across). It follows the charts' conventions (`templates/chart.html`): axes from
//! 0 (MOS 1 to 5), the site's pass and warn limits as labelled lines with their own dash
//! patterns, and everything said again in words, so it reads without colour.

use super::figures::{fixed, nice_ceil};
use crate::api::timeline::Timeline;
use crate::samples::{Resolution, Row};
use askama::Template;
use std::fmt::Write;

const W: f64 = 480.0;
/// Left margin (the values of the axis), right margin.
const L: f64 = 42.0;
const R: f64 = 10.0;
/// A panel: its title row, its plot, the space after it.
const TITLE: f64 = 18.0;
const PLOT: f64 = 92.0;
const AFTER: f64 = 10.0;
/// The foot: time labels, sign-in/out labels.
const FOOT: f64 = 34.0;
/// Height of an outage mark at the foot of a plot.
const MARK: f64 = 7.0;

#[derive(Template)]
#[template(path = "timeline.html")]
struct Section {
    window: &'static str,
    empty: bool,
    resolution: &'static str,
    desc: String,
    w: f64,
    h: f64,
    /// The plot's left and right edges.
    l: String,
    xr: String,
    bands: Vec<Band>,
    panels: Vec<Panel>,
    marks: Vec<Mark>,
    /// The foot's time labels: (x, text, anchor).
    ticks: Vec<(String, String, &'static str)>,
    foot_y: String,
    outages: Vec<String>,
    incidents: Vec<String>,
    /// When the range held more incident events than one read takes: from when the list of
    /// incidents is whole.
    incidents_cut: Option<String>,
    shifts: Vec<String>,
}

/// An incident's span, shaded over every panel.
struct Band {
    x: String,
    width: String,
    y: String,
    height: String,
    label: String,
    label_x: String,
    label_y: String,
    /// `end` when the band is near the right edge (its name then ends at the band's end).
    anchor: &'static str,
}

/// A sign-in or sign-out.
struct Mark {
    x: String,
    y1: String,
    y2: String,
    dash: &'static str,
    label: &'static str,
    label_y: String,
}

struct Panel {
    title: String,
    title_y: String,
    top: String,
    bottom: String,
    hi: String,
    lo: String,
    hi_y: String,
    rules: Vec<Rule>,
    series: Vec<Series>,
    /// Outage marks at the foot of the plot: (x, y, width).
    outages: Vec<(String, String, String)>,
}

struct Rule {
    y: String,
    label: String,
    /// Where its words start: right of the axis, the second one further right when the two
    /// lines are too close for both.
    label_x: String,
    dash: &'static str,
}

struct Series {
    d: String,
    dash: &'static str,
    width: &'static str,
    /// Points with no neighbour to join (drawn as dots, else a lone minute would vanish).
    dots: Vec<(String, String)>,
}

/// A figure of a row.
type Figure = fn(&Row) -> Option<f64>;

/// What a panel plots.
struct Spec<'a> {
    title: &'a str,
    unit: &'a str,
    decimals: usize,
    band: proto::policy::Band,
    /// MOS spans 1 to 5; the others start at 0 and end at a round number.
    span: Option<(f64, f64)>,
    /// The series: the figure of a row and its dash pattern ("" solid).
    series: Vec<(Figure, &'static str)>,
}

/// Renders the timeline section over `[t.from, t.to)` (`window` in words: "24 hours").
pub fn render(t: &Timeline, policy: &proto::Policy, window: &'static str) -> String {
    let n = &policy.network;
    let specs = [
        Spec {
            title: "Round-trip time to HQ, 95th percentile (ms)",
            unit: "ms",
            decimals: 0,
            band: n.rtt_ms,
            span: None,
            series: vec![(|r| r.rtt_p95_ms, "")],
        },
        Spec {
            title: "Packet loss (%): up, agent → HQ (solid); down, HQ → agent (dashed)",
            unit: "%",
            decimals: 1,
            band: n.loss_pct,
            span: None,
            series: vec![(|r| r.loss_up_pct, ""), (|r| r.loss_down_pct, "5 3")],
        },
        Spec {
            title: "Call quality, lowest MOS of the minute",
            unit: "",
            decimals: 2,
            band: n.mos,
            span: Some((1.0, 5.0)),
            series: vec![(|r| r.mos_min, "")],
        },
    ];
    let (t0, t1) = (t.from, t.to);
    let step = t.resolution.ms();
    let x =
        |ms: i64| L + (ms - t0).clamp(0, t1 - t0) as f64 / (t1 - t0).max(1) as f64 * (W - L - R);
    let fx = |v: f64| format!("{v:.1}");
    let panels_h = specs.len() as f64 * (TITLE + PLOT + AFTER);
    let h = panels_h + FOOT;
    let plot_top = TITLE;
    let plot_bottom = panels_h - AFTER;

    let outage_rows: Vec<&Row> = t.rows.iter().filter(|r| r.outage()).collect();
    let mut panels = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let top = i as f64 * (TITLE + PLOT + AFTER) + TITLE;
        let bottom = top + PLOT;
        let values: Vec<f64> = spec
            .series
            .iter()
            .flat_map(|(f, _)| t.rows.iter().filter_map(f))
            .filter(|v| v.is_finite())
            .collect();
        let (lo, hi) = match spec.span {
            Some(s) => s,
            None => {
                let top_v = values
                    .iter()
                    .copied()
                    .fold(spec.band.pass.max(spec.band.warn), f64::max);
                let hi = nice_ceil(top_v * 1.08);
                // Loss never passes 100 %: the axis ends there.
                (0.0, if spec.unit == "%" { hi.min(100.0) } else { hi })
            }
        };
        let y = |v: f64| bottom - (v.clamp(lo, hi) - lo) / (hi - lo).max(1e-9) * PLOT;
        let op = if spec.band.higher_is_better() {
            "≥"
        } else {
            "≤"
        };
        let close = (y(spec.band.pass) - y(spec.band.warn)).abs() < 11.0;
        let rules = [
            ("pass", spec.band.pass, "6 3"),
            ("warn", spec.band.warn, "2 3"),
        ]
        .into_iter()
        .filter(|(_, v, _)| (lo..=hi).contains(v))
        .map(|(name, v, dash)| Rule {
            y: fx(y(v)),
            label: format!("{name} {op} {}", fixed(v, spec.decimals)),
            label_x: fx(L + 3.0 + if close && name == "warn" { 70.0 } else { 0.0 }),
            dash,
        })
        .collect();
        let series = spec
            .series
            .iter()
            .map(|(f, dash)| path(&t.rows, *f, step, &x, &y, dash))
            .collect();
        let width = (x(t0 + step) - x(t0)).max(2.0);
        panels.push(Panel {
            title: spec.title.to_string(),
            title_y: fx(top - 5.0),
            top: fx(top),
            bottom: fx(bottom),
            hi: fixed(
                hi,
                if hi < 10.0 && spec.span.is_none() {
                    1
                } else {
                    0
                },
            ),
            lo: fixed(lo, 0),
            hi_y: fx(top + 8.0),
            rules,
            series,
            outages: outage_rows
                .iter()
                .map(|r| (fx(x(r.at)), fx(bottom - MARK), fx(width)))
                .collect(),
        });
    }

    let bands = t
        .incidents
        .iter()
        .map(|i| {
            let (a, b) = (x(i.start), x(i.end.unwrap_or(t1)));
            let right = a > W - R - 110.0;
            Band {
                x: fx(a),
                width: fx((b - a).max(2.0)),
                y: fx(plot_top),
                height: fx(plot_bottom - plot_top),
                label: i.name.replace('_', " "),
                label_x: fx(if right { b.max(a + 2.0) - 2.0 } else { a + 2.0 }),
                label_y: fx(plot_top + 11.0),
                anchor: if right { "end" } else { "start" },
            }
        })
        .collect();
    // A label too close to the previous one goes a line lower.
    let mut last_label: Option<(f64, u8)> = None;
    let marks = t
        .shifts
        .iter()
        .map(|s| {
            let sign_in = s.kind == "sign_in";
            let mx = x(s.at);
            let row = match last_label {
                Some((px, r)) if mx - px < 18.0 => (r + 1) % 2,
                _ => 0,
            };
            last_label = Some((mx, row));
            Mark {
                x: fx(mx),
                y1: fx(plot_top),
                y2: fx(plot_bottom + 4.0),
                dash: if sign_in { "" } else { "4 3" },
                label: if sign_in { "in" } else { "out" },
                label_y: fx(plot_bottom + 13.0 + 10.0 * f64::from(row)),
            }
        })
        .collect();
    let foot_y = h - 4.0;
    let mid = t0 + (t1 - t0) / 2;
    let ticks = vec![
        (fx(L), format!("{window} ago"), "start"),
        (fx(x(mid)), clock(mid, t.resolution), "middle"),
        (fx(W - R), "now".to_string(), "end"),
    ];

    let outages = spans(&outage_rows, step)
        .into_iter()
        .map(|(a, b)| {
            // An hour says how many of its minutes had no line (when HQ counted them).
            let minutes: Option<i64> = (t.resolution == Resolution::Hour)
                .then(|| {
                    outage_rows
                        .iter()
                        .filter(|r| r.at >= a && r.at < b)
                        .map(|r| r.outage_minutes)
                        .sum::<Option<i64>>()
                })
                .flatten();
            match minutes {
                Some(n) => format!(
                    "{} to {} ({n} minute{} with no line)",
                    when(a),
                    when(b),
                    if n == 1 { "" } else { "s" }
                ),
                None => format!("{} to {}", when(a), when(b)),
            }
        })
        .collect::<Vec<_>>();
    let incidents: Vec<String> = t
        .incidents
        .iter()
        .map(|i| {
            let end = i.end.map(when).unwrap_or_else(|| "still open".into());
            let scope = match i.scope.as_deref() {
                Some("home") => " (in the home network)",
                Some("beyond_home") => " (beyond the home network)",
                _ => "",
            };
            let detail = if i.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", i.detail)
            };
            format!(
                "{}{scope} from {} to {end}{detail}",
                i.name.replace('_', " "),
                when(i.start)
            )
        })
        .collect();
    let shifts: Vec<String> = t
        .shifts
        .iter()
        .map(|s| {
            format!(
                "{} {} ({})",
                if s.kind == "sign_in" {
                    "Signed in"
                } else {
                    "Signed out"
                },
                when(s.at),
                s.reason.replace('_', " ")
            )
        })
        .collect();

    let worst = |f: fn(&Row) -> Option<f64>, max: bool| {
        t.rows
            .iter()
            .filter_map(f)
            .reduce(|a, b| if (b > a) == max { b } else { a })
    };
    let said = |v: Option<f64>, d: usize, u: &str| match v {
        Some(v) => format!("{}{u}", fixed(v, d)),
        None => "not measured".into(),
    };
    let desc = format!(
        "Timeline over the last {window}, {}: {} {} with samples; round-trip time (95th \
         percentile) highest {}; loss highest {} up and {} down; lowest MOS {}; {} outage{}; \
         {} incident{}; {} sign-in or sign-out{}.",
        resolution_words(t.resolution),
        t.rows.len(),
        match t.resolution {
            Resolution::Minute => "minutes",
            Resolution::Hour => "hours",
        },
        said(worst(|r| r.rtt_p95_ms, true), 0, " ms"),
        said(worst(|r| r.loss_up_pct, true), 1, " %"),
        said(worst(|r| r.loss_down_pct, true), 1, " %"),
        said(worst(|r| r.mos_min, false), 2, ""),
        outages.len(),
        if outages.len() == 1 { "" } else { "s" },
        incidents.len(),
        if incidents.len() == 1 { "" } else { "s" },
        shifts.len(),
        if shifts.len() == 1 { "" } else { "s" },
    );
    let s = Section {
        window,
        empty: t.rows.is_empty() && t.incidents.is_empty() && t.shifts.is_empty(),
        resolution: resolution_words(t.resolution),
        desc,
        w: W,
        h,
        l: fx(L),
        xr: fx(W - R),
        bands,
        panels,
        marks,
        ticks,
        foot_y: fx(foot_y),
        outages,
        incidents,
        incidents_cut: t.incidents_cut_before.map(when),
        shifts,
    };
    s.render().unwrap_or_else(|e| {
        tracing::error!("the timeline did not render: {e}");
        String::new()
    })
}

fn resolution_words(r: Resolution) -> &'static str {
    match r {
        Resolution::Minute => "per minute",
        Resolution::Hour => "per hour (each hour's worst minute)",
    }
}

/// A series as an SVG path that breaks where a figure is missing or the next row is more than
/// one step away (no sample: a gap, not a line across it), with its lone points as dots.
fn path(
    rows: &[Row],
    f: fn(&Row) -> Option<f64>,
    step: i64,
    x: &dyn Fn(i64) -> f64,
    y: &dyn Fn(f64) -> f64,
    dash: &'static str,
) -> Series {
    let mut d = String::new();
    let mut dots = Vec::new();
    // The current run of joined points.
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut last_at: Option<i64> = None;
    let mut flush = |run: &mut Vec<(f64, f64)>, d: &mut String| {
        match run.as_slice() {
            [] => {}
            [(px, py)] => dots.push((format!("{px:.1}"), format!("{py:.1}"))),
            pts => {
                for (i, (px, py)) in pts.iter().enumerate() {
                    let _ = write!(d, "{}{px:.1},{py:.1}", if i == 0 { "M" } else { " L" });
                }
            }
        }
        run.clear();
    };
    for r in rows {
        let joined = last_at.is_some_and(|l| r.at - l <= step + step / 2);
        match f(r).filter(|v| v.is_finite()) {
            Some(v) => {
                if !joined {
                    flush(&mut run, &mut d);
                }
                run.push((x(r.at), y(v)));
                last_at = Some(r.at);
            }
            None => {
                flush(&mut run, &mut d);
                last_at = None;
            }
        }
    }
    flush(&mut run, &mut d);
    Series {
        d,
        dash,
        width: if dash.is_empty() { "1.6" } else { "1.4" },
        dots,
    }
}

/// Consecutive rows (at most one step apart) merged into spans `[start, end)`.
fn spans(rows: &[&Row], step: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for r in rows {
        match out.last_mut() {
            Some((_, end)) if r.at <= *end => *end = r.at + step,
            _ => out.push((r.at, r.at + step)),
        }
    }
    out
}

/// "2026-12-02 14:32 UTC".
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A time on the axis: "14:32 UTC" per minute, "Dec 02 14:00 UTC" per hour.
fn clock(ms: i64, r: Resolution) -> String {
    let f = match r {
        Resolution::Minute => "%H:%M UTC",
        Resolution::Hour => "%b %d %H:%M UTC",
    };
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format(f).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at_min: i64, rtt: Option<f64>) -> Row {
        Row {
            at: at_min * 60_000,
            minutes: 1,
            rtt_p95_ms: rtt,
            ..Default::default()
        }
    }

    #[test]
    fn a_missing_minute_breaks_the_line() {
        let rows = [
            row(0, Some(10.0)),
            row(1, Some(12.0)),
            // minute 2: no sample
            row(3, Some(11.0)),
            row(4, Some(13.0)),
            row(5, None),
            row(6, Some(9.0)),
        ];
        let s = path(
            &rows,
            |r| r.rtt_p95_ms,
            60_000,
            &|t| t as f64 / 60_000.0,
            &|v| v,
            "",
        );
        assert_eq!(s.d.matches('M').count(), 2, "two runs: {}", s.d);
        assert_eq!(s.d, "M0.0,10.0 L1.0,12.0M3.0,11.0 L4.0,13.0");
        assert_eq!(
            s.dots,
            [("6.0".to_string(), "9.0".to_string())],
            "a lone point"
        );
    }

    #[test]
    fn outage_minutes_merge_into_spans() {
        let a = row(10, None);
        let b = row(11, None);
        let c = row(20, None);
        assert_eq!(
            spans(&[&a, &b, &c], 60_000),
            [(600_000, 720_000), (1_200_000, 1_260_000)]
        );
    }
}
