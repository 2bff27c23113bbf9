//! `GET /api/v1/call-drops` and `/api/v1/call-drops.csv` (issue 15): the fleet's dropped calls
//! with HQ's verdict, newest first, and how many there are per verdict kind. The dashboard's
//! `/call-drops` reads through [`resolve`] and [`crate::drops`] as these do.

use super::csv::{csv_field, csv_response};
use super::it::{parse_time, resolve_agent_query, rfc3339};
use crate::auth::ItAuth;
use crate::db;
use crate::drops::{self, DropRow, Kind};
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

const DAY: i64 = 86_400_000;
/// The range without `from`: the last 7 days.
pub const DEFAULT_DAYS: i64 = 7;
/// The most drops one answer lists.
pub const MAX_ROWS: i64 = 10_000;

/// `?from=&to=&site=&kind=&agent=` (and the page's `page=`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub from: Option<String>,
    pub to: Option<String>,
    pub site: Option<String>,
    /// A verdict kind: `home_network`, `beyond_home`, `headset`, `none`, `unknown`.
    pub kind: Option<String>,
    /// A device id or hostname.
    pub agent: Option<String>,
    pub page: Option<i64>,
}

/// The filter a query asks for (400 with the reason for a bad date, kind or agent).
pub async fn resolve(st: &AppState, q: &Query, now: i64) -> Result<drops::Filter, AppError> {
    let to = parse_time("to", q.to.as_deref(), true)?.unwrap_or(now + 1);
    let from = parse_time("from", q.from.as_deref(), false)?.unwrap_or(to - DEFAULT_DAYS * DAY);
    if to < from {
        return Err(AppError::BadRequest("`to` is before `from`".into()));
    }
    let kind = q.kind.as_deref().map(str::trim).unwrap_or("");
    if !kind.is_empty() && Kind::parse(kind).is_none() {
        return Err(AppError::BadRequest(format!(
            "`kind` must be one of {}, not '{}'",
            Kind::ALL.map(Kind::as_str).join(", "),
            kind.chars().take(40).collect::<String>()
        )));
    }
    let agent = resolve_agent_query(st, q.agent.as_deref()).await?;
    Ok(drops::Filter {
        from,
        to,
        site: q.site.as_deref().map(str::trim).unwrap_or("").to_string(),
        kind: kind.to_string(),
        agent: agent.unwrap_or_default(),
    })
}

/// Every drop of the filter, or 422 when there are more than [`MAX_ROWS`].
async fn all_rows(st: &AppState, f: &drops::Filter) -> Result<Vec<DropRow>, AppError> {
    let rows = drops::list(&st.db, f, MAX_ROWS + 1, 0).await?;
    if rows.len() as i64 > MAX_ROWS {
        return Err(AppError::Unprocessable(format!(
            "more than {MAX_ROWS} call drops in that range; ask for a shorter range, one site or one agent"
        )));
    }
    Ok(rows)
}

fn no_page(q: &Query) -> Result<(), AppError> {
    if q.page.is_some() {
        return Err(AppError::BadRequest(
            "the API lists the whole range (at most 10000); `page` is the dashboard's".into(),
        ));
    }
    Ok(())
}

fn row_json(r: &DropRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "agent_id": r.agent_id,
        "hostname": r.hostname,
        "site": r.site,
        "at": r.at,
        "at_rfc3339": rfc3339(r.at),
        "received_at": r.received_at,
        "received_at_rfc3339": rfc3339(r.received_at),
        "verdict": r.verdict,
        "verdict_kind": r.kind,
        "note": r.note,
    })
}

/// `GET /api/v1/call-drops`.
pub async fn call_drops(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<Json<serde_json::Value>, AppError> {
    no_page(&q)?;
    let f = resolve(&st, &q, db::now_ms()).await?;
    let rows = all_rows(&st, &f).await?;
    let counts: serde_json::Map<String, serde_json::Value> = drops::counts(&st.db, &f)
        .await?
        .into_iter()
        .map(|(k, n)| (k.as_str().to_string(), n.into()))
        .collect();
    Ok(Json(serde_json::json!({
        "from": rfc3339(f.from),
        "to": rfc3339(f.to),
        "counts": counts,
        "call_drops": rows.iter().map(row_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/call-drops.csv`: the same rows (times in RFC 3339, UTC).
pub async fn call_drops_csv(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<Response, AppError> {
    no_page(&q)?;
    let f = resolve(&st, &q, db::now_ms()).await?;
    let mut out =
        String::from("agent_id,hostname,site,at,received_at,verdict_kind,verdict,note,id\n");
    for r in all_rows(&st, &f).await? {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.agent_id),
            csv_field(&r.hostname),
            csv_field(&r.site),
            rfc3339(r.at),
            rfc3339(r.received_at),
            r.kind,
            csv_field(&r.verdict),
            csv_field(&r.note),
            r.id,
        ));
    }
    Ok(csv_response("call-drops.csv", out))
}
