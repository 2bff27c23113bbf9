//! One agent's page (`templates/agent.html`): what matters first (readiness, what to fix, the
//! headline figures), the last report with its raw figures folded away, charts over 24 h, 7 d
//! or 30 d (`templates/chart.html`), the shift log, incidents, and the device actions last.

use super::actions::DeviceActions;
use super::figures::{fixed, nice_ceil};
use super::layout::{Ago, Frame, ago, no_such_agent, render, skew_text, state_label};
use crate::auth::DashAuth;
use crate::db::{self, Role, Sample};
use crate::error::{ApiPath, ApiQuery, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentPage<'a> {
    frame: Frame<'a>,
    name: &'a str,
    state: &'a str,
    sym: &'static str,
    label: &'static str,
    /// The one truth ([`crate::readiness`]): readiness, when and from what, what to fix.
    readiness: &'static str,
    readiness_class: &'a str,
    readiness_when: Ago,
    readiness_source: &'static str,
    fix: Option<&'a str>,
    /// MOS, loss, jitter, RTT, noise and headset of the last report.
    headline: Vec<Headline>,
    signed: &'static str,
    seen: Ago,
    skew: String,
    site: &'a str,
    os: &'a str,
    version: &'a str,
    id: &'a str,
    actions: Option<DeviceActions>,
    /// The contact-centre platform: the state ShiftReady last set there, when, and how the
    /// last delivery went (issue 14); `None` when the agent has no platform user.
    connector: Option<ConnectorLine>,
    report: Option<ReportView<'a>>,
    /// The chart's window and the links to the others.
    range: Range,
    ranges: Vec<(&'static str, &'static str, bool)>,
    /// Rendered `chart.html`s.
    charts: Vec<String>,
    shifts: Vec<ShiftRow>,
    incidents: Vec<IncidentRow>,
    /// "Dropped calls" (`agent_drops.html`, issue 15).
    drops: super::drops::AgentDrops,
    /// The timeline section (`timeline.html`, issue 15) over the charts' window.
    timeline: String,
}

/// One figure of the page's top: what it is, its value, and the site's limits for it (the
/// check's own verdict is the report's, below: the page does not judge again).
struct Headline {
    name: &'static str,
    value: String,
    limits: String,
}

/// The last report: when, the readiness, and each check.
struct ReportView<'a> {
    taken: Ago,
    readiness: &'static str,
    sym: &'static str,
    label: &'static str,
    checks: Vec<CheckRow<'a>>,
}

struct CheckRow<'a> {
    name: &'a str,
    class: &'static str,
    sym: &'static str,
    label: &'static str,
    hint: &'a str,
    figures: Vec<(&'a str, String)>,
}

struct ShiftRow {
    at: String,
    /// When HQ received it, and how far that is from the agent's `at` (say, "+3 s").
    received: String,
    what: &'static str,
    why: String,
    readiness: &'static str,
    /// HQ's doubts about the event in words ("dated before the previous shift event").
    flags: String,
}

struct IncidentRow {
    when: String,
    name: String,
    state: String,
    detail: String,
}

/// The charts' window: `?range=24h|7d|30d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Range {
    #[default]
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Range {
    const ALL: [Range; 3] = [Range::Day, Range::Week, Range::Month];
    fn ms(self) -> i64 {
        match self {
            Range::Day => 86_400_000,
            Range::Week => 7 * 86_400_000,
            Range::Month => 30 * 86_400_000,
        }
    }
    fn param(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }
    /// "24 hours", "7 days", "30 days".
    fn words(self) -> &'static str {
        match self {
            Range::Day => "24 hours",
            Range::Week => "7 days",
            Range::Month => "30 days",
        }
    }
    fn short(self) -> &'static str {
        match self {
            Range::Day => "24 h",
            Range::Week => "7 d",
            Range::Month => "30 d",
        }
    }
}

/// `?range=` of the agent page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentQuery {
    range: Option<Range>,
}

fn status_words(s: proto::Status) -> (&'static str, &'static str, &'static str) {
    match s {
        proto::Status::Pass => ("ready", "✓", "Pass"),
        proto::Status::Warn => ("degraded", "!", "Warning"),
        proto::Status::Fail => ("not_ready", "✗", "Fail"),
        proto::Status::Error => ("unknown", "?", "Could not run"),
    }
}

/// A raw figure as a person reads it: numbers rounded to what was measured.
fn figure_text(k: &str, v: &serde_json::Value) -> String {
    let v = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => fixed(f, crate::api::it::decimals(k) as usize),
            _ => n.to_string(),
        },
        serde_json::Value::Null => "–".into(),
        other => other.to_string(),
    };
    v.chars().take(200).collect()
}

fn report_view(now: i64, d: &db::AgentDetail) -> Option<ReportView<'_>> {
    let r = d.last_report.as_ref()?;
    let taken = d
        .agent
        .report_at_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| ago(now, Some(t)))
        .unwrap_or_else(Ago::blank);
    let (sym, label) = state_label(r.readiness.as_str());
    let mut names: Vec<&String> = r.checks.keys().collect();
    names.sort_by_key(|n| {
        proto::report::CHECK_NAMES
            .iter()
            .position(|c| c == n)
            .unwrap_or(99)
    });
    let checks = names
        .into_iter()
        .map(|name| {
            let c = &r.checks[name];
            let (class, sym, label) = status_words(c.status);
            let figures = c
                .metrics
                .iter()
                .map(|(k, v)| (k.as_str(), figure_text(k, v)))
                .collect();
            CheckRow {
                name,
                class,
                sym,
                label,
                hint: &c.hint,
                figures,
            }
        })
        .collect();
    Some(ReportView {
        taken,
        readiness: r.readiness.as_str(),
        sym,
        label,
        checks,
    })
}

/// "pass ≤ 150 ms · warn ≤ 300 ms" (or ≥ for a figure where higher is better).
fn limits_text(band: proto::policy::Band, unit: &str, d: usize) -> String {
    let op = if band.higher_is_better() {
        "≥"
    } else {
        "≤"
    };
    let u = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    format!(
        "pass {op} {}{u} · warn {op} {}{u}",
        fixed(band.pass, d),
        fixed(band.warn, d)
    )
}

/// The figures that matter first, from the last report, with the site's limits.
fn headline(r: Option<&proto::Report>, policy: &proto::Policy) -> Vec<Headline> {
    let Some(r) = r else { return Vec::new() };
    let [rtt, jitter, loss, mos, noise] = crate::ingest::sample_of(r);
    let n = &policy.network;
    let fig = |name: &'static str, v: Option<f64>, band, unit: &str, d: usize| Headline {
        name,
        value: match v.filter(|v| v.is_finite()) {
            None => "not measured".into(),
            Some(v) if unit.is_empty() => fixed(v, d),
            Some(v) => format!("{} {unit}", fixed(v, d)),
        },
        limits: limits_text(band, unit, d),
    };
    let mut out = vec![
        fig("MOS (call quality)", mos, n.mos, "", 2),
        fig("Packet loss", loss, n.loss_pct, "%", 2),
        fig("Jitter", jitter, n.jitter_ms, "ms", 1),
        fig("Round-trip time", rtt, n.rtt_ms, "ms", 1),
        fig(
            "Background noise",
            noise,
            policy.noise.laeq_dbfs_a,
            "dBFS(A)",
            1,
        ),
    ];
    if let Some(class) = r
        .checks
        .get("noise")
        .and_then(|c| c.metrics.get("classification"))
        .and_then(|v| v.as_str())
    {
        out[4].value = format!("{} ({})", out[4].value, class.replace('_', " "));
    }
    if let Some(c) = r.checks.get("headset") {
        let device = c
            .metrics
            .get("device")
            .and_then(|v| v.as_str())
            .filter(|d| !d.is_empty())
            .unwrap_or("none found");
        out.push(Headline {
            name: "Headset",
            value: device.chars().take(80).collect(),
            limits: format!("check: {}", status_words(c.status).2),
        });
    }
    out
}

/// The figure of a sample a chart plots.
type Figure = fn(&Sample) -> Option<f64>;

/// What each chart plots: its title, unit, figure, the policy's band, and where its axis must
/// start (`Some(0)` for figures that cannot go below zero; MOS spans 1 to 5).
fn charts(now: i64, range: Range, samples: &[Sample], policy: &proto::Policy) -> Vec<String> {
    if samples.is_empty() {
        return Vec::new();
    }
    let n = &policy.network;
    let series: [(ChartSpec<'_>, Figure); 5] = [
        (
            ChartSpec::new("Round-trip time", "ms", 1, n.rtt_ms).from_zero(),
            |s| s.rtt_ms,
        ),
        (
            ChartSpec::new("Jitter", "ms", 1, n.jitter_ms).from_zero(),
            |s| s.jitter_ms,
        ),
        (
            ChartSpec::new("Packet loss", "%", 2, n.loss_pct).from_zero(),
            |s| s.loss_pct,
        ),
        (
            ChartSpec::new("MOS (call quality)", "", 2, n.mos).span(1.0, 5.0),
            |s| s.mos,
        ),
        (
            ChartSpec::new("Background noise", "dBFS(A)", 1, policy.noise.laeq_dbfs_a),
            |s| s.noise_dbfs,
        ),
    ];
    series
        .into_iter()
        .map(|(mut spec, f)| {
            let pts: Vec<(i64, f64)> = samples
                .iter()
                .filter_map(|s| f(s).filter(|v| v.is_finite()).map(|v| (s.at, v)))
                .collect();
            spec.window = range;
            chart(&spec, &pts, now - range.ms(), now)
        })
        .collect()
}

/// "14:02:07 UTC (+3 s)": when HQ received an event and how long after the agent's `at`; "–"
/// for events stored before HQ recorded it.
fn received_cell(at_ms: i64, received_ms: Option<i64>) -> String {
    let Some(r) = received_ms else {
        return "–".into();
    };
    let time = chrono::DateTime::from_timestamp_millis(r)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let secs = (r - at_ms) as f64 / 1000.0;
    let delta = if secs.abs() < 1.0 {
        "at once".to_string()
    } else if secs.abs() < 120.0 {
        format!("{secs:+.0} s")
    } else {
        format!("{:+.0} min", secs / 60.0)
    };
    format!("{time} ({delta})")
}

fn shift_rows(shifts: &[db::ShiftEntry]) -> Vec<ShiftRow> {
    shifts
        .iter()
        .rev()
        .map(|s| ShiftRow {
            at: chrono::DateTime::from_timestamp_millis(s.at)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            what: if s.kind == "sign_in" {
                "Signed in"
            } else {
                "Signed out"
            },
            received: received_cell(s.at, s.received_at),
            why: s.reason.replace('_', " "),
            flags: s
                .flags
                .iter()
                .map(|f| match f.as_str() {
                    "out_of_order" => "dated before the previous shift event: not applied",
                    "clock_off" => "the computer's clock was more than 5 minutes off",
                    other => other,
                })
                .collect::<Vec<_>>()
                .join("; "),
            readiness: s
                .readiness
                .as_deref()
                .map(|r| state_label(r).1)
                .unwrap_or("–"),
        })
        .collect()
}

fn incident_rows(incidents: &[(i64, String)]) -> Vec<IncidentRow> {
    incidents
        .iter()
        .map(|(at, body)| {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
            IncidentRow {
                when: chrono::DateTime::from_timestamp_millis(*at)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default(),
                name: text("name"),
                state: text("state"),
                detail: text("detail"),
            }
        })
        .collect()
}

/// The agent's line on the contact-centre platform, as the agent page shows it.
struct ConnectorLine {
    user: String,
    /// The platform state ShiftReady last set (`available`, `not ready`, `offline`).
    state: Option<String>,
    set: Ago,
    /// The last delivery's result in words, and when.
    result: String,
    result_at: Ago,
}

impl ConnectorLine {
    fn new(now: i64, c: crate::connectors::AgentLine) -> ConnectorLine {
        let at = |ms: Option<i64>| match ms.and_then(chrono::DateTime::from_timestamp_millis) {
            Some(t) => ago(now, Some(t)),
            None => Ago::blank(),
        };
        ConnectorLine {
            user: c.platform_user,
            state: c.set_state.map(|s| s.replace('_', " ")),
            set: at(c.set_at),
            result: c.result.unwrap_or_default(),
            result_at: at(c.result_at),
        }
    }
}

pub async fn agent_page(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AgentQuery>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let Some(d) = st.db.agent(now, &id).await? else {
        return Ok(no_such_agent(&it));
    };
    let range = q.range.unwrap_or_default();
    let (samples, shifts, incidents, policy, connector, timeline) = tokio::try_join!(
        st.db.samples(&id, now - range.ms()),
        st.db
            .shift_log(now - 7 * 86_400_000, now + 1, Some(&id), 200),
        st.db.incidents(&id, 20),
        st.db.site_policy(&d.agent.site),
        crate::connectors::agent_line(&st.db, &id),
        crate::api::timeline::read(&st.db, &id, now - range.ms(), now + 1),
    )?;
    let drops = super::drops::agent_drops(&st.db, &id, now).await?;
    let a = &d.agent;
    let (sym, label) = state_label(&a.state);
    let page = AgentPage {
        frame: Frame::new(&a.name, Some(&it.who), true),
        name: &a.name,
        state: &a.state,
        sym,
        label,
        readiness: a
            .readiness
            .as_deref()
            .map(|r| state_label(r).1)
            .unwrap_or("not checked yet"),
        readiness_class: a.readiness.as_deref().unwrap_or("unknown"),
        readiness_when: match a.readiness_at {
            Some(t) => ago(now, Some(t)),
            None => Ago::blank(),
        },
        readiness_source: match a.readiness_source {
            Some(crate::readiness::Source::Report) => "its last report",
            Some(crate::readiness::Source::Heartbeat) => "a heartbeat",
            None => "",
        },
        fix: a.fix.as_deref(),
        headline: headline(d.last_report.as_ref(), &policy),
        signed: if a.signed_in { "Yes" } else { "No" },
        seen: ago(now, a.last_seen),
        skew: skew_text(a.clock_skew_ms),
        site: &a.site,
        os: &d.os,
        version: &d.agent_version,
        id: &a.id,
        actions: (it.role == Role::Admin).then(|| DeviceActions::new(&a.id, &a.state)),
        connector: connector.map(|c| ConnectorLine::new(now, c)),
        report: report_view(now, &d),
        range,
        ranges: Range::ALL
            .iter()
            .map(|r| (r.param(), r.short(), *r == range))
            .collect(),
        charts: charts(now, range, &samples, &policy),
        shifts: shift_rows(&shifts),
        incidents: incident_rows(&incidents),
        drops,
        timeline: super::timeline::render(&timeline, &policy, range.words()),
    };
    Ok(render(&page))
}

/// What a chart shows besides its points.
pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    /// Decimals the figure is measured to.
    pub decimals: usize,
    /// The policy's limits, drawn as labelled lines.
    pub band: Option<proto::policy::Band>,
    /// Where the axis must reach whatever the data: `(0, _)` for a figure that is never
    /// negative, `(1, 5)` for MOS.
    pub floor: Option<f64>,
    pub ceil: Option<f64>,
    pub window: Range,
}

impl<'a> ChartSpec<'a> {
    pub fn new(
        title: &'a str,
        unit: &'a str,
        decimals: usize,
        band: proto::policy::Band,
    ) -> ChartSpec<'a> {
        ChartSpec {
            title,
            unit,
            decimals,
            band: Some(band),
            floor: None,
            ceil: None,
            window: Range::Day,
        }
    }
    /// The axis starts at 0.
    pub fn from_zero(mut self) -> Self {
        self.floor = Some(0.0);
        self
    }
    /// The axis spans at least `lo..hi`.
    pub fn span(mut self, lo: f64, hi: f64) -> Self {
        self.floor = Some(lo);
        self.ceil = Some(hi);
        self
    }
}

/// A labelled horizontal line of a chart (a policy limit).
struct Rule {
    y: String,
    label: String,
    /// The dash pattern that tells pass from warn without colour.
    dash: &'static str,
}

#[derive(Template)]
#[template(path = "chart.html")]
struct Chart<'a> {
    title: &'a str,
    empty: bool,
    window: &'static str,
    latest: String,
    unit_sp: String,
    desc: String,
    w: f64,
    h: f64,
    l: f64,
    t: f64,
    yb: String,
    xr: String,
    /// Where the limits' words start: just right of the axis.
    rl: String,
    lx: String,
    ty: String,
    bt: String,
    hi: String,
    lo: String,
    rules: Vec<Rule>,
    path: String,
    dots: Vec<(String, String)>,
    /// A lone point's value, printed beside it: (x, y, text, text-anchor).
    lone: Option<(String, String, String, &'static str)>,
}

/// At most this many points are drawn; more are merged, keeping each bucket's worst.
const MAX_POINTS: usize = 300;

/// The points merged into at most [`MAX_POINTS`] buckets of time, each keeping its worst value
/// (the highest, or the lowest where higher is better), so no spike disappears.
fn thin(pts: &[(i64, f64)], t0: i64, t1: i64, higher_is_better: bool) -> Vec<(i64, f64)> {
    if pts.len() <= MAX_POINTS {
        return pts.to_vec();
    }
    let span = (t1 - t0).max(1);
    let mut out: Vec<(i64, f64, usize)> = Vec::new();
    for &(t, v) in pts {
        let b = (((t - t0).max(0) as i128 * MAX_POINTS as i128) / span as i128) as usize;
        match out.last_mut() {
            Some((bt, bv, bb)) if *bb == b => {
                let worse = if higher_is_better { v < *bv } else { v > *bv };
                if worse {
                    (*bt, *bv) = (t, v);
                }
            }
            _ => out.push((t, v, b)),
        }
    }
    out.into_iter().map(|(t, v, _)| (t, v)).collect()
}

/// An inline SVG line chart over `[t0, t1]`: the axis from where the reader expects it, the
/// policy's pass and warn limits as labelled dashed lines, a lone point as a point with its
/// value; described in words for screen readers.
pub fn chart(spec: &ChartSpec<'_>, pts: &[(i64, f64)], t0: i64, t1: i64) -> String {
    use std::fmt::Write;
    const W: f64 = 360.0;
    const H: f64 = 140.0;
    const L: f64 = 44.0;
    const R: f64 = 8.0;
    const T: f64 = 10.0;
    const B: f64 = 20.0;
    let title = spec.title;
    let d = spec.decimals;
    let unit_sp = if spec.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", spec.unit)
    };
    let mut c = Chart {
        title,
        empty: pts.is_empty(),
        window: spec.window.words(),
        latest: String::new(),
        unit_sp,
        desc: String::new(),
        w: W,
        h: H,
        l: L,
        t: T,
        yb: format!("{:.1}", H - B),
        xr: format!("{:.1}", W - R),
        rl: format!("{:.1}", L + 3.0),
        lx: format!("{:.1}", L - 4.0),
        ty: format!("{:.1}", T + 4.0),
        bt: format!("{:.1}", H - 5.0),
        hi: String::new(),
        lo: String::new(),
        rules: Vec::new(),
        path: String::new(),
        dots: Vec::new(),
        lone: None,
    };
    if !pts.is_empty() {
        let higher_better = spec.band.is_some_and(|b| b.higher_is_better());
        let (min_v, max_v) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
        let last_v = pts[pts.len() - 1].1;
        let (mut lo, mut hi) = (min_v, max_v);
        for v in spec
            .band
            .iter()
            .flat_map(|b| [b.pass, b.warn])
            .chain(spec.floor)
            .chain(spec.ceil)
        {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if let Some(f) = spec.floor {
            lo = f;
        }
        if hi - lo < 1e-9 {
            hi = lo + 1.0;
        }
        if spec.ceil.is_none_or(|c| hi > c) {
            // Room above the highest line for its words, up to a round number.
            hi = if lo == 0.0 {
                nice_ceil(hi * 1.08)
            } else {
                hi + (hi - lo) * 0.08
            };
        }
        let x = |t: i64| L + (t - t0).max(0) as f64 / (t1 - t0).max(1) as f64 * (W - L - R);
        let y = |v: f64| T + (hi - v) / (hi - lo) * (H - T - B);
        let drawn = thin(pts, t0, t1, higher_better);
        for (i, (t, v)) in drawn.iter().enumerate() {
            let _ = write!(
                c.path,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(*t),
                y(*v)
            );
        }
        if drawn.len() <= 60 {
            c.dots = drawn
                .iter()
                .map(|(t, v)| (format!("{:.1}", x(*t)), format!("{:.1}", y(*v))))
                .collect();
        }
        if drawn.len() == 1 {
            let (t, v) = drawn[0];
            let right = x(t) > W - 80.0;
            c.lone = Some((
                format!("{:.1}", if right { x(t) - 6.0 } else { x(t) + 6.0 }),
                format!("{:.1}", y(v) - 6.0),
                format!("{}{}", fixed(v, d), c.unit_sp),
                if right { "end" } else { "start" },
            ));
        }
        if let Some(b) = spec.band {
            let op = if b.higher_is_better() { "≥" } else { "≤" };
            for (name, v, dash) in [("pass", b.pass, "6 3"), ("warn", b.warn, "2 3")] {
                c.rules.push(Rule {
                    y: format!("{:.1}", y(v)),
                    label: format!("{name} {op} {}", fixed(v, d)),
                    dash,
                });
            }
        }
        let u = &c.unit_sp;
        let limits = spec
            .band
            .map(|b| {
                format!(
                    " The site's limits: pass {}{u}, warn {}{u}.",
                    fixed(b.pass, d),
                    fixed(b.warn, d)
                )
            })
            .unwrap_or_default();
        c.desc = format!(
            "{title} over the last {}: {} reading{}, lowest {}{u}, highest {}{u}, latest {}{u}.{limits}",
            spec.window.words(),
            pts.len(),
            if pts.len() == 1 { "" } else { "s" },
            fixed(min_v, d),
            fixed(max_v, d),
            fixed(last_v, d),
        );
        c.latest = fixed(last_v, d);
        c.hi = fixed(hi, d);
        c.lo = fixed(lo, d);
    }
    c.render().unwrap_or_else(|e| {
        tracing::error!("the chart {title} did not render: {e}");
        String::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_row_shows_when_hq_received_it_and_its_flags_in_words() {
        let at = 1_764_633_600_000; // 2025-12-02 00:00:00 UTC
        let entry = db::ShiftEntry {
            agent_id: "d1".into(),
            hostname: "pc-1".into(),
            kind: "sign_out".into(),
            reason: "manual".into(),
            at,
            received_at: Some(at + 3_000),
            readiness: Some("ready".into()),
            flags: vec!["out_of_order".into()],
        };
        let rows = shift_rows(std::slice::from_ref(&entry));
        assert_eq!(rows[0].received, "2025-12-02 00:00:03 UTC (+3 s)");
        assert_eq!(
            rows[0].flags,
            "dated before the previous shift event: not applied"
        );
        assert_eq!(
            received_cell(at, Some(at - 600_000)),
            "2025-12-01 23:50:00 UTC (-10 min)"
        );
        assert_eq!(received_cell(at, None), "–");
    }

    fn band(pass: f64, warn: f64) -> proto::policy::Band {
        proto::policy::Band { pass, warn }
    }

    #[test]
    fn chart_describes_its_data() {
        let spec = ChartSpec::new("Jitter", "ms", 1, band(20.0, 40.0)).from_zero();
        let svg = chart(&spec, &[(0, 1.0), (50, 3.0)], 0, 100);
        assert!(
            svg.contains("2 readings, lowest 1.0 ms, highest 3.0 ms, latest 3.0 ms"),
            "{svg}"
        );
        assert!(svg.contains("<path d=\"M44.0,"), "{svg}");
    }

    #[test]
    fn chart_escapes_its_title() {
        let spec = ChartSpec::new("<x>", "&", 1, band(1.0, 2.0));
        let svg = chart(&spec, &[(0, 1.0)], 0, 100);
        assert!(!svg.contains("<x>") && svg.contains("&#60;x&#62;"), "{svg}");
    }

    /// Text of the `<text>` elements of an SVG.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .map(|t| {
                t.split('>')
                    .nth(1)
                    .unwrap()
                    .split('<')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn loss_that_never_moved_starts_at_zero_with_its_limits_drawn() {
        // Before: all-zero loss drew an axis from -1.0 to 1.0.
        let spec = ChartSpec::new("Packet loss", "%", 2, band(1.0, 3.0)).from_zero();
        let svg = chart(&spec, &[(0, 0.0), (50, 0.0)], 0, 100);
        let t = texts(&svg);
        assert!(t.contains(&"0.00".to_string()), "{t:?}");
        assert!(!t.iter().any(|x| x.starts_with('-')), "{t:?}");
        assert!(t.contains(&"pass ≤ 1.00".to_string()), "{t:?}");
        assert!(t.contains(&"warn ≤ 3.00".to_string()), "{t:?}");
        assert!(svg.contains("stroke-dasharray=\"6 3\""), "{svg}");
        assert!(svg.contains("stroke-dasharray=\"2 3\""), "{svg}");
        // MOS: higher is better, the axis spans 1 to 5.
        let spec = ChartSpec::new("MOS", "", 2, band(4.0, 3.6)).span(1.0, 5.0);
        let t = texts(&chart(&spec, &[(0, 4.3)], 0, 100));
        assert!(t.contains(&"1.00".to_string()), "{t:?}");
        assert!(t.contains(&"pass ≥ 4.00".to_string()), "{t:?}");
    }

    #[test]
    fn a_single_reading_is_a_point_with_its_value() {
        let spec = ChartSpec::new("Round-trip time", "ms", 1, band(150.0, 300.0)).from_zero();
        let svg = chart(&spec, &[(50, 23.46)], 0, 100);
        assert!(svg.contains("<circle"), "{svg}");
        assert!(texts(&svg).contains(&"23.5 ms".to_string()), "{svg}");
        assert!(svg.contains("1 reading, "), "{svg}");
    }

    #[test]
    fn axes_end_at_round_numbers() {
        assert_eq!(nice_ceil(432.0), 500.0);
        assert_eq!(nice_ceil(64.8), 80.0);
        assert_eq!(nice_ceil(2.7), 3.0);
        assert_eq!(nice_ceil(1.08), 1.5);
        assert_eq!(nice_ceil(0.0), 1.0);
        let spec = ChartSpec::new("Round-trip time", "ms", 1, band(200.0, 400.0)).from_zero();
        let t = texts(&chart(&spec, &[(0, 31.0), (60, 35.0)], 0, 100));
        assert!(
            t.contains(&"500.0".to_string()) && t.contains(&"0.0".to_string()),
            "{t:?}"
        );
    }

    #[test]
    fn many_readings_are_thinned_keeping_the_worst() {
        let mut pts: Vec<(i64, f64)> = (0..10_000).map(|i| (i, 1.0)).collect();
        pts[5_000].1 = 90.0;
        let thinned = thin(&pts, 0, 10_000, false);
        assert!(thinned.len() <= MAX_POINTS + 1, "{}", thinned.len());
        assert!(thinned.iter().any(|(_, v)| *v == 90.0));
        pts[5_000].1 = -5.0;
        assert!(thin(&pts, 0, 10_000, true).iter().any(|(_, v)| *v == -5.0));
    }
}
