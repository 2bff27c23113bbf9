//! The alert history page (`/alerts`, `templates/alerts.html`): each alert of the range with its
//! rule, site, what it said, when it opened and resolved, and every message's delivery to each
//! receiver with its outcome in words (a failed one with the receiver's answer). Receivers are
//! named, never their URLs or secrets. The data is [`crate::alerts::store::history`], as the
//! API's.

use super::layout::{Frame, render};
use crate::alerts::api::{AlertQuery, MAX_ALERTS, range};
use crate::alerts::store::{AlertRow, history};
use crate::auth::DashAuth;
use crate::db;
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

struct SiteChoice {
    value: String,
    selected: bool,
}

/// One alert in words.
struct Line {
    rule: &'static str,
    site: String,
    summary: String,
    details: Vec<String>,
    opened: String,
    /// "Open" or the resolution time and how long it lasted.
    state: String,
    open: bool,
    deliveries: Vec<Delivery>,
}

/// One message to one receiver, in words; a failed one is marked on its own line (found in
/// review: one "(a message failed)" after the last line read as if that receiver had failed).
struct Delivery {
    text: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage<'a> {
    frame: Frame<'a>,
    from: String,
    to: String,
    sites: Vec<SiteChoice>,
    alert: Option<String>,
    lines: Vec<Line>,
    open_count: usize,
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn lasted(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// A rule's name in words.
fn rule_words(rule: &str) -> &'static str {
    match rule {
        "incident_open" => "Incident open too long",
        "lost_contact" => "Lost contact",
        "not_ready_share" => "Many agents not ready",
        "correlated" => "Many agents at once (HQ or ISP side)",
        _ => "Other",
    }
}

fn line(a: AlertRow, now: i64) -> Line {
    let deliveries = a
        .deliveries
        .iter()
        .map(|d| {
            let what = match d.state.as_str() {
                "sent" => "sent".to_string(),
                "pending" => "waiting to be sent".to_string(),
                "retrying" => format!(
                    "not delivered yet, retrying (attempt {}): {}",
                    d.attempts,
                    d.last_error.as_deref().unwrap_or("")
                ),
                "failed" => format!("FAILED: {}", d.last_error.as_deref().unwrap_or("")),
                s => s.to_string(),
            };
            Delivery {
                text: format!(
                    "{} → {} ({}): {what}",
                    d.message, d.receiver, d.receiver_kind
                ),
                failed: d.state == "failed",
            }
        })
        .collect();
    let (state, open) = match a.resolved_ms {
        Some(r) => (
            format!("Resolved {} (lasted {})", when(r), lasted(r - a.opened_ms)),
            false,
        ),
        None => (format!("Open for {}", lasted(now - a.opened_ms)), true),
    };
    Line {
        rule: rule_words(&a.rule),
        site: a.site,
        summary: a.summary,
        details: a.details,
        opened: when(a.opened_ms),
        state,
        open,
        deliveries,
    }
}

/// `GET /alerts?from=&to=&site=`: the alert history, newest first (default: the last 7 days).
pub async fn alerts_page(
    State(st): State<AppState>,
    DashAuth(it): DashAuth,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Response, AppError> {
    let now = db::now_ms();
    let site = q.site.clone().unwrap_or_default();
    let (alert, from, to) = match range(&q, now) {
        Ok((f, t)) => (None, f, t),
        Err(AppError::BadRequest(m)) => (Some(m), now - 7 * 86_400_000, now + 1),
        Err(e) => return Err(e),
    };
    let rows = history(
        &st.db,
        from,
        to,
        Some(site.as_str()).filter(|s| !s.is_empty()),
        MAX_ALERTS,
    )
    .await?;
    let lines: Vec<Line> = rows.into_iter().map(|a| line(a, now)).collect();
    let sites = st
        .db
        .sites()
        .await?
        .into_iter()
        .map(|(name, _)| SiteChoice {
            selected: name == site,
            value: name,
        })
        .collect();
    let page = AlertsPage {
        frame: Frame::new("Alerts", Some(&it.who), true),
        from: q.from.clone().unwrap_or_else(|| date(from)),
        to: q.to.clone().unwrap_or_else(|| date(to - 1)),
        sites,
        alert,
        open_count: lines.iter().filter(|l| l.open).count(),
        lines,
    };
    Ok(render(&page))
}
