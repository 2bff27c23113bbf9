//! One agent's page: its facts, last report, charts of the last day, shift log and incidents.

use super::actions::device_actions;
use super::layout::{ago, esc, no_such_agent, page, skew_text, state_label};
use crate::auth::DashAuth;
use crate::db::{self, Role, Sample};
use crate::error::{ApiPath, AppError};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

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
    let mut b = String::with_capacity(32 * 1024);
    let _ = write!(
        b,
        "<p><a href=\"/\">← Fleet</a></p><h1>{name} <span class=\"{state}\"><span aria-hidden=\"true\">{sym}</span> {label}</span></h1>\
         <dl class=\"facts\"><dt>State</dt><dd class=\"{state}\">{label}</dd>\
         <dt>Last reported readiness</dt><dd>{readiness}</dd>\
         <dt>Signed in</dt><dd>{signed}</dd><dt>Last seen</dt><dd>{seen}</dd>\
         <dt>Clock skew (agent − HQ)</dt><dd>{skew}</dd><dt>Site</dt><dd>{site}</dd>\
         <dt>Operating system</dt><dd>{os}</dd><dt>Agent version</dt><dd>{ver}</dd>\
         <dt>Device id</dt><dd><code>{id}</code></dd></dl>",
        name = esc(&a.name),
        state = esc(&a.state),
        readiness = a
            .readiness
            .as_deref()
            .map(|r| state_label(r).1)
            .unwrap_or("none yet"),
        signed = if a.signed_in { "Yes" } else { "No" },
        seen = ago(now, a.last_seen),
        skew = skew_text(a.clock_skew_ms),
        site = esc(&a.site),
        os = esc(&d.os),
        ver = esc(&d.agent_version),
        id = esc(&a.id),
    );

    if it.role == Role::Admin {
        b.push_str(&device_actions(&a.id, &a.state));
    }

    b.push_str("<h2 id=\"report\">Last report</h2>");
    match &d.last_report {
        None => b.push_str("<p>This agent has not sent a report yet.</p>"),
        Some(r) => {
            let taken = d
                .report_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| ago(now, Some(t)))
                .unwrap_or_default();
            let (rsym, rlabel) = state_label(r.readiness.as_str());
            let _ = write!(
                b,
                "<p>Taken {taken}: <strong class=\"{}\"><span aria-hidden=\"true\">{rsym}</span> {rlabel}</strong></p>\
                 <table id=\"checks\"><thead><tr><th scope=\"col\">Check</th><th scope=\"col\">Status</th>\
                 <th scope=\"col\">What to do</th><th scope=\"col\">Figures</th></tr></thead><tbody>",
                r.readiness.as_str()
            );
            let mut names: Vec<&String> = r.checks.keys().collect();
            names.sort_by_key(|n| {
                proto::report::CHECK_NAMES
                    .iter()
                    .position(|c| c == n)
                    .unwrap_or(99)
            });
            for name in names {
                let c = &r.checks[name];
                let (cls, ssym, slabel) = match c.status {
                    proto::Status::Pass => ("ready", "✓", "Pass"),
                    proto::Status::Warn => ("degraded", "!", "Warning"),
                    proto::Status::Fail => ("not_ready", "✗", "Fail"),
                    proto::Status::Error => ("unknown", "?", "Could not run"),
                };
                let mut figs = String::from("<dl class=\"figs\">");
                for (k, v) in &c.metrics {
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => match n.as_f64() {
                            Some(f) if n.is_f64() => format!("{}", (f * 100.0).round() / 100.0),
                            _ => n.to_string(),
                        },
                        serde_json::Value::Null => "–".into(),
                        other => other.to_string(),
                    };
                    let v: String = v.chars().take(200).collect();
                    let _ = write!(figs, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
                }
                figs.push_str("</dl>");
                let _ = write!(
                    b,
                    "<tr data-check=\"{n}\"><th scope=\"row\">{n}</th><td class=\"state {cls}\"><span aria-hidden=\"true\">{ssym}</span> {slabel}</td><td>{hint}</td><td>{figs}</td></tr>",
                    n = esc(name),
                    hint = esc(&c.hint),
                );
            }
            b.push_str("</tbody></table>");
        }
    }

    b.push_str("<h2>Last 24 hours</h2>");
    if samples.is_empty() {
        b.push_str("<p>No network or noise figures in the last day.</p>");
    } else {
        b.push_str("<div class=\"charts\">");
        let series: [Series; 5] = [
            ("Round-trip time", "ms", |s| s.rtt_ms, None),
            ("Jitter", "ms", |s| s.jitter_ms, None),
            ("Packet loss", "%", |s| s.loss_pct, None),
            ("MOS (call quality)", "", |s| s.mos, Some((1.0, 5.0))),
            ("Background noise", "dBFS(A)", |s| s.noise_dbfs, None),
        ];
        for (title, unit, f, range) in series {
            let pts: Vec<(i64, f64)> = samples
                .iter()
                .filter_map(|s| f(s).filter(|v| v.is_finite()).map(|v| (s.at, v)))
                .collect();
            b.push_str(&chart(title, unit, &pts, now - 86_400_000, now, range));
        }
        b.push_str("</div>");
    }

    b.push_str("<h2>Shift log (last 7 days)</h2>");
    if shifts.is_empty() {
        b.push_str("<p>No sign-ins or sign-outs in the last 7 days.</p>");
    } else {
        b.push_str("<table id=\"shifts\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">What</th><th scope=\"col\">Why</th><th scope=\"col\">Readiness then</th></tr></thead><tbody>");
        for s in shifts.iter().rev() {
            let at = chrono::DateTime::from_timestamp_millis(s.at)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default();
            let what = if s.kind == "sign_in" {
                "Signed in"
            } else {
                "Signed out"
            };
            let why = s.reason.replace('_', " ");
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{what}</td><td>{}</td><td>{}</td></tr>",
                esc(&at),
                esc(&why),
                s.readiness
                    .as_deref()
                    .map(|r| state_label(r).1)
                    .unwrap_or("–")
            );
        }
        b.push_str("</tbody></table>");
    }
    if !incidents.is_empty() {
        b.push_str("<h2>Recent incidents</h2><ul>");
        for (at, body) in &incidents {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let when = chrono::DateTime::from_timestamp_millis(*at)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            let _ = write!(
                b,
                "<li>{}: {} {} {}</li>",
                esc(&when),
                esc(v["name"].as_str().unwrap_or("")),
                esc(v["state"].as_str().unwrap_or("")),
                esc(v["detail"].as_str().unwrap_or(""))
            );
        }
        b.push_str("</ul>");
    }
    Ok(page(&a.name, Some(&it.who), &b, true).into_response())
}

/// A chart: title, unit, the figure it plots, and a range it always shows.
type Series = (
    &'static str,
    &'static str,
    fn(&Sample) -> Option<f64>,
    Option<(f64, f64)>,
);

/// An inline SVG line chart over `[t0, t1]`, described in words for screen readers.
pub fn chart(
    title: &str,
    unit: &str,
    pts: &[(i64, f64)],
    t0: i64,
    t1: i64,
    range: Option<(f64, f64)>,
) -> String {
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
    if pts.is_empty() {
        return format!(
            "<figure><figcaption>{}</figcaption><p class=\"muted\">No data.</p></figure>",
            esc(title)
        );
    }
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
    let mut path = String::new();
    for (i, (t, v)) in pts.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { " L" },
            x(*t),
            y(*v)
        );
    }
    let dots: String = if pts.len() <= 60 {
        pts.iter()
            .map(|(t, v)| {
                format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                    x(*t),
                    y(*v)
                )
            })
            .collect()
    } else {
        String::new()
    };
    let desc = format!(
        "{title} over the last 24 hours: {} readings, lowest {min_v:.1}{unit_sp}, highest {max_v:.1}{unit_sp}, latest {last_v:.1}{unit_sp}.",
        pts.len()
    );
    format!(
        "<figure><figcaption>{t} <span class=\"muted\">latest {last_v:.1}{u}</span></figcaption>\
         <svg viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"{d}\"><title>{d}</title>\
         <line x1=\"{L}\" y1=\"{yb:.1}\" x2=\"{xr:.1}\" y2=\"{yb:.1}\" stroke=\"#99a\" />\
         <line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{yb:.1}\" stroke=\"#99a\" />\
         <text x=\"{lx:.1}\" y=\"{ty:.1}\" font-size=\"10\" text-anchor=\"end\">{hi:.1}</text>\
         <text x=\"{lx:.1}\" y=\"{yb:.1}\" font-size=\"10\" text-anchor=\"end\">{lo:.1}</text>\
         <text x=\"{L}\" y=\"{bt:.1}\" font-size=\"10\">24 h ago</text>\
         <text x=\"{xr:.1}\" y=\"{bt:.1}\" font-size=\"10\" text-anchor=\"end\">now</text>\
         <path d=\"{path}\" fill=\"none\" stroke=\"#16324f\" stroke-width=\"1.6\"/><g fill=\"#16324f\">{dots}</g></svg></figure>",
        t = esc(title),
        u = esc(&unit_sp),
        d = esc(&desc),
        yb = H - B,
        xr = W - R,
        lx = L - 4.0,
        ty = T + 8.0,
        bt = H - 5.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_describes_its_data() {
        let svg = chart("Jitter", "ms", &[(0, 1.0), (50, 3.0)], 0, 100, None);
        assert!(
            svg.contains("2 readings, lowest 1.0 ms, highest 3.0 ms, latest 3.0 ms"),
            "{svg}"
        );
        assert!(svg.contains("<path d=\"M44.0,"), "{svg}");
    }
}
