//! What every dashboard page shares: the page frame with its style sheet, escaping, and the
//! words and symbols for states and times.

use crate::auth::ItAuth;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Seconds between the pages' automatic refreshes.
pub const REFRESH_SECONDS: u32 = 30;

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

pub fn url_enc(s: &str) -> String {
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

pub fn page(title: &str, who: Option<&str>, body: &str, refresh: bool) -> Html<String> {
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

pub fn ago(now: i64, t: Option<chrono::DateTime<chrono::Utc>>) -> String {
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

pub fn skew_text(ms: Option<i64>) -> String {
    match ms {
        None => "–".into(),
        Some(ms) if ms.abs() < 1000 => format!("{ms:+} ms"),
        Some(ms) => format!("{:+.1} s", ms as f64 / 1000.0),
    }
}

/// The 404 page for an agent id HQ does not know.
pub fn no_such_agent(it: &ItAuth) -> Response {
    let body = "<h1>No such agent</h1><p><a href=\"/\">Back to the fleet</a></p>";
    (
        StatusCode::NOT_FOUND,
        page("No such agent", Some(&it.who), body, false),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<b a=\"1\">&'"), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
    }
}
