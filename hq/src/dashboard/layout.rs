//! What every dashboard page shares: the frame of `templates/base.html` that each page's
//! template extends, rendering a template into a response, and the words and symbols for
//! states and times. The templates (askama, compiled in) escape every value they print.

use crate::auth::ItAuth;
use crate::error::AppError;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub use crate::readiness::state_label;

/// Seconds between the pages' automatic refreshes.
pub const REFRESH_SECONDS: u32 = 30;

/// What `base.html` needs of every page: its title, who is signed in, whether it refreshes.
pub struct Frame<'a> {
    pub title: &'a str,
    pub who: Option<&'a str>,
    pub refresh: bool,
    pub refresh_seconds: u32,
}

impl<'a> Frame<'a> {
    pub fn new(title: &'a str, who: Option<&'a str>, refresh: bool) -> Frame<'a> {
        Frame {
            title,
            who,
            refresh,
            refresh_seconds: REFRESH_SECONDS,
        }
    }
}

/// A page as an HTML response (a template that does not render is a 500, logged).
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::Internal(e.into()).into_response(),
    }
}

/// A short page with a heading, an optional alert and a link back to the fleet.
#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    frame: Frame<'a>,
    alert: Option<&'a str>,
}

/// The 404 page for an agent id HQ does not know.
pub fn no_such_agent(it: &ItAuth) -> Response {
    let page = Message {
        frame: Frame::new("No such agent", Some(&it.who), false),
        alert: None,
    };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}

/// The 403 page for a viewer who reached an admin action.
pub fn viewer_refused(it: &ItAuth) -> Response {
    let page = Message {
        frame: Frame::new("Not allowed", Some(&it.who), false),
        alert: Some(
            "Revoking a device or forcing it to enroll again needs the admin role; a viewer can only read.",
        ),
    };
    (StatusCode::FORBIDDEN, render(&page)).into_response()
}

pub fn url_enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|x| x.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// A time as people read it ("5 min ago") and as machines do (RFC 3339, in `<time>`);
/// `macros.html`'s `ago` prints it.
pub struct Ago {
    pub iso: Option<String>,
    pub rel: String,
}

impl Ago {
    /// No time at all, printed as nothing.
    pub fn blank() -> Ago {
        Ago {
            iso: None,
            rel: String::new(),
        }
    }
}

pub fn ago(now: i64, t: Option<chrono::DateTime<chrono::Utc>>) -> Ago {
    let Some(t) = t else {
        return Ago {
            iso: None,
            rel: "never".into(),
        };
    };
    let s = (now - t.timestamp_millis()).max(0) / 1000;
    let rel = match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    };
    Ago {
        iso: Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        rel,
    }
}

pub fn skew_text(ms: Option<i64>) -> String {
    match ms {
        None => "–".into(),
        Some(ms) if ms.abs() < 1000 => format!("{ms:+} ms"),
        Some(ms) => format!("{:+.1} s", ms as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_print() {
        let page = Message {
            frame: Frame::new("<b a=\"1\">&'", Some("<i>"), false),
            alert: Some("<script>x</script>"),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<b a="), "{html}");
        assert!(!html.contains("<i>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&#60;b a=&#34;1&#34;&#62;&#38;&#39;"),
            "{html}"
        );
    }
}
