//! One agent's page (`templates/agent.html`): its facts, last report, charts of the last day
//! (`templates/chart.html`), shift log and incidents.

use super::actions::DeviceActions;
use super::layout::{Ago, Frame, ago, no_such_agent, render, skew_text, state_label};
use crate::auth::DashAuth;
use crate::db::{self, Role, Sample};
use crate::error::{ApiPath, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentPage<'a> {
    frame: Frame<'a>,
    name: &'a str,
    state: &'a str,
    sym: &'static str,
    label: &'static str,
    readiness: &'static str,
    signed: &'static str,
    seen: Ago,
    skew: String,
    site: &'a str,
    os: &'a str,
    version: &'a str,
    id: &'a str,
    actions: Option<DeviceActions>,
    report: Option<ReportView<'a>>,
    /// Rendered `chart.html`s.
    charts: Vec<String>,
    shifts: Vec<ShiftRow>,
    incidents: Vec<IncidentRow>,
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

fn report_view(now: i64, d: &db::AgentDetail) -> Option<ReportView<'_>> {
    let r = d.last_report.as_ref()?;
    let taken = d
        .report_at
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
            let (class, sym, label) = match c.status {
                proto::Status::Pass => ("ready", "✓", "Pass"),
                proto::Status::Warn => ("degraded", "!", "Warning"),
                proto::Status::Fail => ("not_ready", "✗", "Fail"),
                proto::Status::Error => ("unknown", "?", "Could not run"),
            };
            let figures = c
                .metrics
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => match n.as_f64() {
                            Some(f) if n.is_f64() => format!("{}", (f * 100.0).round() / 100.0),
                            _ => n.to_string(),
                        },
                        serde_json::Value::Null => "–".into(),
                        other => other.to_string(),
                    };
                    (k.as_str(), v.chars().take(200).collect())
                })
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

fn charts(now: i64, samples: &[Sample]) -> Vec<String> {
    if samples.is_empty() {
        return Vec::new();
    }
    let series: [Series; 5] = [
        ("Round-trip time", "ms", |s| s.rtt_ms, None),
        ("Jitter", "ms", |s| s.jitter_ms, None),
        ("Packet loss", "%", |s| s.loss_pct, None),
        ("MOS (call quality)", "", |s| s.mos, Some((1.0, 5.0))),
        ("Background noise", "dBFS(A)", |s| s.noise_dbfs, None),
    ];
    series
        .into_iter()
        .map(|(title, unit, f, range)| {
            let pts: Vec<(i64, f64)> = samples
                .iter()
                .filter_map(|s| f(s).filter(|v| v.is_finite()).map(|v| (s.at, v)))
                .collect();
            chart(title, unit, &pts, now - 86_400_000, now, range)
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

pub async fn agent_page(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let Some(d) = st.db.agent(now, &id).await? else {
        return Ok(no_such_agent(&it));
    };
    let (samples, shifts, incidents) = tokio::try_join!(
        st.db.samples(&id, now - 86_400_000),
        st.db
            .shift_log(now - 7 * 86_400_000, now + 1, Some(&id), 200),
        st.db.incidents(&id, 20),
    )?;
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
            .unwrap_or("none yet"),
        signed: if a.signed_in { "Yes" } else { "No" },
        seen: ago(now, a.last_seen),
        skew: skew_text(a.clock_skew_ms),
        site: &a.site,
        os: &d.os,
        version: &d.agent_version,
        id: &a.id,
        actions: (it.role == Role::Admin).then(|| DeviceActions::new(&a.id, &a.state)),
        report: report_view(now, &d),
        charts: charts(now, &samples),
        shifts: shift_rows(&shifts),
        incidents: incident_rows(&incidents),
    };
    Ok(render(&page))
}

/// A chart: title, unit, the figure it plots, and a range it always shows.
type Series = (
    &'static str,
    &'static str,
    fn(&Sample) -> Option<f64>,
    Option<(f64, f64)>,
);

#[derive(Template)]
#[template(path = "chart.html")]
struct Chart<'a> {
    title: &'a str,
    empty: bool,
    latest: String,
    unit_sp: String,
    desc: String,
    w: f64,
    h: f64,
    l: f64,
    t: f64,
    yb: String,
    xr: String,
    lx: String,
    ty: String,
    bt: String,
    hi: String,
    lo: String,
    path: String,
    dots: Vec<(String, String)>,
}

/// An inline SVG line chart over `[t0, t1]`, described in words for screen readers.
pub fn chart(
    title: &str,
    unit: &str,
    pts: &[(i64, f64)],
    t0: i64,
    t1: i64,
    range: Option<(f64, f64)>,
) -> String {
    use std::fmt::Write;
    const W: f64 = 360.0;
    const H: f64 = 120.0;
    const L: f64 = 44.0;
    const R: f64 = 8.0;
    const T: f64 = 8.0;
    const B: f64 = 20.0;
    let unit_sp = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let mut c = Chart {
        title,
        empty: pts.is_empty(),
        latest: String::new(),
        unit_sp,
        desc: String::new(),
        w: W,
        h: H,
        l: L,
        t: T,
        yb: format!("{:.1}", H - B),
        xr: format!("{:.1}", W - R),
        lx: format!("{:.1}", L - 4.0),
        ty: format!("{:.1}", T + 8.0),
        bt: format!("{:.1}", H - 5.0),
        hi: String::new(),
        lo: String::new(),
        path: String::new(),
        dots: Vec::new(),
    };
    if !pts.is_empty() {
        let (mut lo, mut hi) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
        let (min_v, max_v, last_v) = (lo, hi, pts[pts.len() - 1].1);
        if let Some((a, b)) = range {
            lo = lo.min(a);
            hi = hi.max(b);
        }
        if (hi - lo).abs() < 1e-9 {
            lo -= 1.0;
            hi += 1.0;
        }
        let x = |t: i64| L + (t - t0) as f64 / (t1 - t0).max(1) as f64 * (W - L - R);
        let y = |v: f64| T + (hi - v) / (hi - lo) * (H - T - B);
        for (i, (t, v)) in pts.iter().enumerate() {
            let _ = write!(
                c.path,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(*t),
                y(*v)
            );
        }
        if pts.len() <= 60 {
            c.dots = pts
                .iter()
                .map(|(t, v)| (format!("{:.1}", x(*t)), format!("{:.1}", y(*v))))
                .collect();
        }
        let u = &c.unit_sp;
        c.desc = format!(
            "{title} over the last 24 hours: {} readings, lowest {min_v:.1}{u}, highest {max_v:.1}{u}, latest {last_v:.1}{u}.",
            pts.len()
        );
        c.latest = format!("{last_v:.1}");
        c.hi = format!("{hi:.1}");
        c.lo = format!("{lo:.1}");
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

    #[test]
    fn chart_describes_its_data() {
        let svg = chart("Jitter", "ms", &[(0, 1.0), (50, 3.0)], 0, 100, None);
        assert!(
            svg.contains("2 readings, lowest 1.0 ms, highest 3.0 ms, latest 3.0 ms"),
            "{svg}"
        );
        assert!(svg.contains("<path d=\"M44.0,"), "{svg}");
    }

    #[test]
    fn chart_escapes_its_title() {
        let svg = chart("<x>", "&", &[(0, 1.0)], 0, 100, None);
        assert!(!svg.contains("<x>") && svg.contains("&#60;x&#62;"), "{svg}");
    }
}
