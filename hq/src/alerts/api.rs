//! `GET /api/v1/alerts?from=&to=&site=`: the alerts opened in the range or open during it,
//! newest first, each with its rule, site, subject, opened and resolved times and every
//! delivery with its outcome. Never a secret: receivers are shown by name and kind only.

use crate::api::shifts::parse_bound;
use crate::auth::ItAuth;
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

/// The most alerts one answer lists.
pub const MAX_ALERTS: i64 = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub site: Option<String>,
}

/// The range `[from, to)` of a query: dates or RFC 3339 times; default the last 7 days.
pub fn range(q: &AlertQuery, now: i64) -> Result<(i64, i64), AppError> {
    let to = parse_bound("to", q.to.as_deref(), true)?.unwrap_or(now + 1);
    let from = parse_bound("from", q.from.as_deref(), false)?.unwrap_or(to - 7 * 86_400_000);
    if to < from {
        return Err(AppError::BadRequest("`to` is before `from`".into()));
    }
    Ok((from, to))
}

/// `GET /api/v1/alerts`.
pub async fn alerts(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (from, to) = range(&q, crate::db::now_ms())?;
    let site = q.site.as_deref().filter(|s| !s.is_empty());
    let rows = super::store::history(&st.db, from, to, site, MAX_ALERTS).await?;
    let iso = |ms: i64| crate::api::it::rfc3339(ms);
    Ok(Json(serde_json::json!({
        "from": iso(from),
        "to": iso(to),
        "alerts": rows,
    })))
}

/// The incidents of a checked batch, with their times (the correlated rule groups them by the
/// address they came from).
pub fn incident_ids(checked: &[crate::ingest::Checked]) -> Vec<(uuid::Uuid, i64)> {
    checked
        .iter()
        .filter_map(|c| match c {
            crate::ingest::Checked::Valid(e) if e.kind() == "incident" => {
                Some((e.id, e.at.timestamp_millis()))
            }
            _ => None,
        })
        .collect()
}

/// After a batch is stored: records the address prefix HQ saw for each incident stored now
/// (`addr` is the client as [`crate::server`] resolved it, behind `--trusted-proxy` the
/// forwarded one). A batch without incidents costs nothing.
pub async fn note_incident_addresses(
    db: &crate::db::Db,
    addr: &str,
    incidents: &[(uuid::Uuid, i64)],
    results: &[proto::api::EventResult],
) -> anyhow::Result<()> {
    if incidents.is_empty() {
        return Ok(());
    }
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return Ok(());
    };
    let stored: Vec<(uuid::Uuid, i64)> = incidents
        .iter()
        .filter(|(id, _)| {
            results
                .iter()
                .any(|r| r.id == Some(*id) && r.outcome == proto::api::EventOutcome::Stored)
        })
        .copied()
        .collect();
    if stored.is_empty() {
        return Ok(());
    }
    super::store::note_addresses(db, ip, &stored).await
}
