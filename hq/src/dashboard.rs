//! The dashboard for IT: plain, server-rendered, semantic HTML that refreshes itself. States
//! are told by a word and a symbol, never by colour alone.

use crate::auth::{
    DashAuth, ItAuth, SESSION_COOKIE, check_csrf, request_csrf_token, session_cookie,
};
use crate::db::{self, AgentRow, Role, Sample, Sort};
use crate::error::{ApiPath, ApiQuery, AppError};
use crate::server::{AppState, FleetQuery};
use axum::Router;
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::fmt::Write;

/// Rows per page of the fleet table.
pub const PAGE_SIZE: i64 = 50;
/// Seconds between the pages' automatic refreshes.
const REFRESH_SECONDS: u32 = 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(fleet))
        .route("/agents/{id}", get(agent_page))
        .route("/agents/{id}/revoke", get(confirm_revoke).post(post_revoke))
        .route(
            "/agents/{id}/reenroll",
            get(confirm_reenroll).post(post_reenroll),
        )
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn url_enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|x| x.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;background:#f6f7f9;line-height:1.4}
header.top{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1.2rem;background:#16324f;color:#fff}
header.top a{color:#fff;font-weight:600;text-decoration:none;font-size:1.1rem}
header.top form{display:inline}
header.top button{background:none;border:1px solid #fff;color:#fff;border-radius:4px;padding:.2rem .6rem;cursor:pointer}
main{padding:1rem 1.2rem;max-width:1200px}
h1{font-size:1.5rem;margin:.2rem 0 .8rem}
h2{font-size:1.15rem;margin:1.4rem 0 .5rem}
ul.summary{list-style:none;display:flex;flex-wrap:wrap;gap:.6rem;padding:0;margin:0 0 1rem}
ul.summary li a{display:block;min-width:7.5rem;padding:.5rem .8rem;border-radius:6px;background:#fff;border:1px solid #ccd3db;text-decoration:none;color:inherit}
ul.summary .n{display:block;font-size:1.6rem;font-weight:700}
.ready{color:#11612b}.degraded{color:#8a5a00}.not_ready{color:#a4161a}.offline,.unknown,.revoked,.reenroll{color:#555}
form.filter{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin-bottom:.8rem}
form.filter label{display:flex;flex-direction:column;font-size:.85rem}
input,select,button{font:inherit;padding:.25rem .4rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35rem .55rem;border-bottom:1px solid #e1e5ea;vertical-align:top}
thead th{background:#eef1f4;font-size:.9rem}
caption{text-align:left;padding:.2rem 0}
td.state{white-space:nowrap;font-weight:600}
nav.pages{margin:.8rem 0;display:flex;gap:1rem;align-items:center}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;background:#fff;padding:.8rem;border:1px solid #e1e5ea}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
dl.figs{margin:0;display:grid;grid-template-columns:max-content auto;gap:0 .6rem;font-size:.85rem}
dl.figs dd{margin:0;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:.8rem}
figure{margin:0;background:#fff;border:1px solid #e1e5ea;padding:.4rem}
figcaption{font-size:.9rem;font-weight:600}
.login{max-width:22rem;margin:3rem auto;background:#fff;padding:1.2rem;border:1px solid #ccd3db;border-radius:6px}
.login label{display:block;margin:.6rem 0}.login input{width:100%;box-sizing:border-box}
.error{color:#a4161a;font-weight:600}
.muted{color:#555;font-size:.9rem}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center}
a.button,button.danger,button.plain{display:inline-block;padding:.3rem .8rem;border-radius:4px;border:1px solid #16324f;background:#fff;color:#16324f;text-decoration:none;cursor:pointer}
a.button.danger,button.danger{border-color:#a4161a;color:#fff;background:#a4161a}
.confirm{max-width:36rem;background:#fff;padding:1rem 1.2rem;border:1px solid #ccd3db;border-radius:6px}
"#;

fn page(title: &str, who: Option<&str>, body: &str, refresh: bool) -> Html<String> {
    let refresh = if refresh {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">")
    } else {
        String::new()
    };
    let user = match who {
        Some(w) => format!(
            "<div><span>Signed in as {}</span> <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form></div>",
            esc(w)
        ),
        None => String::new(),
    };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>{} · ShiftReady HQ</title><style>{CSS}</style></head><body>\
         <header class=\"top\"><a href=\"/\">ShiftReady HQ</a>{user}</header>\
         <main>{body}</main></body></html>",
        esc(title)
    ))
}

/// The word and symbol for a state.
pub fn state_label(state: &str) -> (&'static str, &'static str) {
    match state {
        "ready" => ("✓", "Ready"),
        "degraded" => ("!", "Degraded"),
        "not_ready" => ("✗", "Not ready"),
        "offline" => ("⌁", "Offline"),
        "revoked" => ("⊘", "Revoked"),
        "reenroll" => ("↻", "Must re-enroll"),
        _ => ("?", "Unknown"),
    }
}

fn ago(now: i64, t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let Some(t) = t else { return "never".into() };
    let s = (now - t.timestamp_millis()).max(0) / 1000;
    let rel = match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    };
    format!(
        "<time datetime=\"{}\">{rel}</time>",
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

fn skew_text(ms: Option<i64>) -> String {
    match ms {
        None => "–".into(),
        Some(ms) if ms.abs() < 1000 => format!("{ms:+} ms"),
        Some(ms) => format!("{:+.1} s", ms as f64 / 1000.0),
    }
}

async fn fleet(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> Result<Html<String>, AppError> {
    let now = db::now_ms();
    let mut filter = q.filter(PAGE_SIZE)?;
    filter.limit = filter.limit.min(500);
    let (summary, (agents, total)) =
        tokio::try_join!(st.db.fleet_summary(now), st.db.fleet(now, &filter))?;
    let mut b = String::with_capacity(32 * 1024);
    b.push_str("<h1>Fleet</h1><section aria-labelledby=\"sum\"><h2 id=\"sum\" class=\"muted\">Summary</h2><ul class=\"summary\">");
    for (state, n, label) in [
        ("ready", summary.ready, "Ready"),
        ("degraded", summary.degraded, "Degraded"),
        ("not_ready", summary.not_ready, "Not ready"),
        ("unknown", summary.unknown, "Unknown"),
        ("offline", summary.offline, "Offline"),
        ("signed_in", summary.signed_in, "Signed in now"),
    ] {
        let sym = if state == "signed_in" {
            "→"
        } else {
            state_label(state).0
        };
        let _ = write!(
            b,
            "<li><a href=\"/?state={state}\" class=\"{state}\" data-count=\"{state}\"><span class=\"n\">{n}</span> <span aria-hidden=\"true\">{sym}</span> {label}</a></li>"
        );
    }
    let _ = write!(
        b,
        "<li><a href=\"/\" data-count=\"total\"><span class=\"n\">{}</span> All agents</a></li></ul></section>",
        summary.total
    );

    // Search, filter and sort.
    let cur_q = filter.q.clone().unwrap_or_default();
    let cur_state = filter.state.clone().unwrap_or_default();
    let _ = write!(
        b,
        "<form class=\"filter\" method=\"get\" action=\"/\" role=\"search\">\
         <label>Search agent<input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"hostname or id\"></label>\
         <label>State<select name=\"state\"><option value=\"\">Any</option>",
        esc(&cur_q)
    );
    for s in [
        "not_ready",
        "degraded",
        "ready",
        "unknown",
        "offline",
        "signed_in",
        "revoked",
        "reenroll",
    ] {
        let label = if s == "signed_in" {
            "Signed in now"
        } else {
            state_label(s).1
        };
        let sel = if s == cur_state { " selected" } else { "" };
        let _ = write!(b, "<option value=\"{s}\"{sel}>{label}</option>");
    }
    b.push_str("</select></label><label>Sort by<select name=\"sort\">");
    for (v, label, s) in [
        ("name", "Name", Sort::Name),
        ("state", "State (worst first)", Sort::State),
        ("last_seen", "Last seen", Sort::LastSeen),
    ] {
        let sel = if s == filter.sort { " selected" } else { "" };
        let _ = write!(b, "<option value=\"{v}\"{sel}>{label}</option>");
    }
    let _ = write!(
        b,
        "</select></label><label><span>Descending</span><input type=\"checkbox\" name=\"desc\" value=\"true\"{}></label>\
         <button type=\"submit\">Apply</button></form>",
        if filter.desc { " checked" } else { "" }
    );

    b.push_str(&agent_table(now, &agents));
    let first = if total == 0 { 0 } else { filter.offset + 1 };
    let last = (filter.offset + agents.len() as i64).min(total);
    let page_no = filter.offset / filter.limit + 1;
    let base = format!(
        "/?q={}&state={}&sort={}&desc={}",
        url_enc(&cur_q),
        url_enc(&cur_state),
        match filter.sort {
            Sort::Name => "name",
            Sort::State => "state",
            Sort::LastSeen => "last_seen",
        },
        filter.desc
    );
    let _ = write!(
        b,
        "<nav class=\"pages\" aria-label=\"Pages\"><span>Agents {first}–{last} of {total}</span>"
    );
    if filter.offset > 0 {
        let _ = write!(
            b,
            "<a href=\"{}&page={}\" rel=\"prev\">← Previous</a>",
            esc(&base),
            page_no - 1
        );
    }
    if last < total {
        let _ = write!(
            b,
            "<a href=\"{}&page={}\" rel=\"next\">Next →</a>",
            esc(&base),
            page_no + 1
        );
    }
    let _ = write!(
        b,
        "</nav><p class=\"muted\">Refreshes every {REFRESH_SECONDS} s. Export: <a href=\"/api/v1/agents.csv\">agents.csv</a>, <a href=\"/api/v1/shifts.csv\">shift log (last day).csv</a></p>"
    );
    Ok(page("Fleet", Some(&it.who), &b, true))
}

fn agent_table(now: i64, agents: &[AgentRow]) -> String {
    let mut b = String::with_capacity(agents.len() * 400);
    b.push_str(
        "<table id=\"agents\"><caption class=\"muted\">Agents</caption><thead><tr>\
         <th scope=\"col\">Agent</th><th scope=\"col\">State</th><th scope=\"col\">What to fix</th>\
         <th scope=\"col\">Signed in</th><th scope=\"col\">Last seen</th><th scope=\"col\">Clock skew</th>\
         <th scope=\"col\">Site</th></tr></thead><tbody>",
    );
    if agents.is_empty() {
        b.push_str("<tr><td colspan=\"7\">No agents match.</td></tr>");
    }
    for a in agents {
        let (sym, label) = state_label(&a.state);
        let problem = if a.state == "ready" {
            String::new()
        } else {
            a.problem.as_deref().map(esc).unwrap_or_default()
        };
        let _ = write!(
            b,
            "<tr data-agent=\"{id}\" data-state=\"{state}\"><th scope=\"row\"><a href=\"/agents/{id}\">{name}</a></th>\
             <td class=\"state {state}\"><span aria-hidden=\"true\">{sym}</span> {label}</td><td>{problem}</td>\
             <td>{signed}</td><td>{seen}</td><td>{skew}</td><td>{site}</td></tr>",
            id = esc(&a.id),
            state = esc(&a.state),
            name = esc(&a.name),
            signed = if a.signed_in { "Yes" } else { "No" },
            seen = ago(now, a.last_seen),
            skew = skew_text(a.clock_skew_ms),
            site = esc(&a.site),
        );
    }
    b.push_str("</tbody></table>");
    b
}

async fn agent_page(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let Some(d) = st.db.agent(now, &id).await? else {
        let body = "<h1>No such agent</h1><p><a href=\"/\">Back to the fleet</a></p>";
        return Ok((
            StatusCode::NOT_FOUND,
            page("No such agent", Some(&it.who), body, false),
        )
            .into_response());
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

/// What an admin can do to a device. Each action is a link to a confirmation page; only that
/// page's form changes anything.
fn device_actions(id: &str, state: &str) -> String {
    let id_u = url_enc(id);
    let mut b = String::from(
        "<section aria-labelledby=\"device-actions\"><h2 id=\"device-actions\">Device key</h2><p class=\"actions\">",
    );
    if state != "reenroll" {
        let _ = write!(
            b,
            "<a class=\"button\" href=\"/agents/{id_u}/reenroll\" data-action=\"reenroll\">Force re-enrollment…</a>"
        );
    }
    if state != "revoked" {
        let _ = write!(
            b,
            "<a class=\"button danger\" href=\"/agents/{id_u}/revoke\" data-action=\"revoke\">Revoke…</a>"
        );
    }
    b.push_str("<span class=\"muted\">Each asks for confirmation first.</span></p></section>");
    b
}

/// A device action of the dashboard.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DeviceAction {
    Revoke,
    Reenroll,
}

impl DeviceAction {
    fn status(self) -> &'static str {
        match self {
            DeviceAction::Revoke => "revoked",
            DeviceAction::Reenroll => "reenroll",
        }
    }
    fn path(self) -> &'static str {
        match self {
            DeviceAction::Revoke => "revoke",
            DeviceAction::Reenroll => "reenroll",
        }
    }
}

/// The 403 page for a viewer who reached an admin action.
fn viewer_refused(it: &ItAuth) -> Response {
    let body = "<h1>Not allowed</h1><p class=\"error\" role=\"alert\">Revoking a device or forcing it to enroll again needs the admin role; a viewer can only read.</p><p><a href=\"/\">Back to the fleet</a></p>";
    (
        StatusCode::FORBIDDEN,
        page("Not allowed", Some(&it.who), body, false),
    )
        .into_response()
}

fn no_such_agent(it: &ItAuth) -> Response {
    let body = "<h1>No such agent</h1><p><a href=\"/\">Back to the fleet</a></p>";
    (
        StatusCode::NOT_FOUND,
        page("No such agent", Some(&it.who), body, false),
    )
        .into_response()
}

async fn confirm_page(
    st: &AppState,
    it: &ItAuth,
    id: &str,
    action: DeviceAction,
    req: Request,
) -> Result<Response, AppError> {
    if it.role != Role::Admin {
        return Ok(viewer_refused(it));
    }
    let Some(d) = st.db.agent(db::now_ms(), id).await? else {
        return Ok(no_such_agent(it));
    };
    let (parts, _) = req.into_parts();
    let csrf = request_csrf_token(&parts).unwrap_or_default();
    let name = esc(&d.agent.name);
    let (title, what, button) = match action {
        DeviceAction::Revoke => (
            "Revoke this device?",
            format!(
                "<p>The device key of <strong>{name}</strong> stops working at once: HQ refuses its \
                 reports, heartbeats and sign-ins from now on, and the agent on that computer is \
                 told that IT revoked it. Enrolling it again needs the site's enrollment secret.</p>"
            ),
            "Yes, revoke the key",
        ),
        DeviceAction::Reenroll => (
            "Force this device to enroll again?",
            format!(
                "<p>The device key of <strong>{name}</strong> stops working at once, and the agent \
                 is told to run <code>shiftready enroll</code> again. It keeps its id and its \
                 history at HQ.</p>"
            ),
            "Yes, force re-enrollment",
        ),
    };
    let id_u = url_enc(id);
    let body = format!(
        "<p><a href=\"/agents/{id_u}\">← {name}</a></p><section class=\"confirm\"><h1>{title}</h1>{what}\
         <form method=\"post\" action=\"/agents/{id_u}/{path}\" class=\"actions\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" class=\"danger\" id=\"confirm\">{button}</button>\
         <a class=\"button\" href=\"/agents/{id_u}\">Cancel</a></form></section>",
        path = action.path(),
        csrf = esc(&csrf),
    );
    Ok(page(title, Some(&it.who), &body, false).into_response())
}

#[derive(serde::Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

async fn do_action(
    st: &AppState,
    it: &ItAuth,
    id: &str,
    action: DeviceAction,
    req: Request,
) -> Result<Response, AppError> {
    if it.role != Role::Admin {
        return Ok(viewer_refused(it));
    }
    let (parts, body) = req.into_parts();
    let form = match Form::<ActionForm>::from_request(Request::from_parts(parts.clone(), body), st)
        .await
    {
        Ok(Form(f)) => f,
        Err(_) => ActionForm {
            csrf: None,
            confirm: None,
        },
    };
    check_csrf(&parts, form.csrf.as_deref())?;
    if form.confirm.as_deref() != Some("yes") {
        // Not confirmed: show the confirmation page instead of acting.
        return confirm_page(
            st,
            it,
            id,
            action,
            Request::from_parts(parts, Default::default()),
        )
        .await;
    }
    if !st.db.set_device_status(id, action.status()).await? {
        return Ok(no_such_agent(it));
    }
    tracing::info!(
        device_id = id,
        by = it.who,
        status = action.status(),
        "device status changed from the dashboard"
    );
    Ok(Redirect::to(&format!("/agents/{}", url_enc(id))).into_response())
}

async fn confirm_revoke(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiPath(id): ApiPath<String>,
    req: Request,
) -> Result<Response, AppError> {
    confirm_page(&st, &it, &id, DeviceAction::Revoke, req).await
}

async fn confirm_reenroll(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiPath(id): ApiPath<String>,
    req: Request,
) -> Result<Response, AppError> {
    confirm_page(&st, &it, &id, DeviceAction::Reenroll, req).await
}

async fn post_revoke(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiPath(id): ApiPath<String>,
    req: Request,
) -> Result<Response, AppError> {
    do_action(&st, &it, &id, DeviceAction::Revoke, req).await
}

async fn post_reenroll(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiPath(id): ApiPath<String>,
    req: Request,
) -> Result<Response, AppError> {
    do_action(&st, &it, &id, DeviceAction::Reenroll, req).await
}

/// Where to go after signing in: a local path only (never another site).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 500 =>
        {
            n
        }
        _ => "/",
    }
}

fn login_page(error: Option<&str>, next: Option<&str>) -> Html<String> {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<section class=\"login\"><h1>Sign in</h1>{err}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>User name<input name=\"user\" autocomplete=\"username\" required autofocus></label>\
         <label>Password<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"muted\">Scripts can send an API token as <code>Authorization: Bearer</code> instead.</p></section>",
        next = esc(safe_next(next))
    );
    page("Sign in", None, &body, false)
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(ApiQuery(q): ApiQuery<NextQuery>) -> Html<String> {
    login_page(None, q.next.as_deref())
}

#[derive(serde::Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

async fn login(State(st): State<AppState>, req: Request) -> Result<Response, AppError> {
    let form = match Form::<LoginForm>::from_request(req, &st).await {
        Ok(Form(f)) => f,
        Err(_) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                login_page(Some("Enter a user name and a password."), None),
            )
                .into_response());
        }
    };
    if form.user.len() > 200 || form.password.len() > 1000 {
        return Ok((
            StatusCode::BAD_REQUEST,
            login_page(Some("That user name or password is too long."), None),
        )
            .into_response());
    }
    let Some(role) = st.db.check_user(&form.user, &form.password).await? else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_page(Some("Wrong user name or password."), form.next.as_deref()),
        )
            .into_response());
    };
    let id = st.db.create_session(&form.user, role).await?;
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}");
    let next = safe_next(form.next.as_deref()).to_string();
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

async fn logout(State(st): State<AppState>, req: Request) -> Result<Response, AppError> {
    let (parts, _) = req.into_parts();
    if let Some(id) = session_cookie(&parts) {
        st.db.delete_session(&id).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<b a=\"1\">&'"), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
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
}
