//! An agent's timeline (issue 15): `GET /api/v1/agents/{id}/timeline` (JSON: the samples, the
//! incidents and the sign-ins/outs in a range) and `.../timeline.csv` (the samples).
//!
//! `?from=&to=` are RFC 3339 times or dates, as the shift log and adherence take them
//! (default: the last 24 hours). Up to 2 days are answered per minute, longer ranges per hour
//! (the `resolution` key says which; [`crate::samples`] says what an hour's figures mean).

use super::csv::csv_response;
use super::it::rfc3339;
use super::shifts::parse_bound;
use crate::auth::ItAuth;
use crate::db;
use crate::error::{ApiPath, ApiQuery, AppError};
use crate::samples::{self, Incident, Resolution, Row};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

/// The longest range one answer covers (a year and a day, of hours).
const MAX_RANGE_MS: i64 = 367 * 86_400_000;

/// `?from=&to=` of the timeline.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One agent's timeline over a range.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub from: i64,
    pub to: i64,
    pub resolution: Resolution,
    pub rows: Vec<Row>,
    pub incidents: Vec<Incident>,
    /// Set when the range held more incident events than one read takes
    /// ([`samples::Incidents::cut_before`]): the incidents are whole from then on.
    pub incidents_cut_before: Option<i64>,
    pub shifts: Vec<db::ShiftEntry>,
}

/// Reads an agent's timeline over `[from, to)`: the samples at the range's resolution, the
/// incidents overlapping it, and its sign-ins and sign-outs in it.
pub async fn read(db: &db::Db, id: &str, from: i64, to: i64) -> anyhow::Result<Timeline> {
    let resolution = Resolution::for_range(from, to);
    let (rows, incidents, shifts) = tokio::try_join!(
        samples::read(db, id, from, to, resolution),
        samples::incidents(db, id, from, to),
        db.shift_log(from, to, Some(id), 2000),
    )?;
    Ok(Timeline {
        from,
        to,
        resolution,
        rows,
        incidents: incidents.list,
        incidents_cut_before: incidents.cut_before,
        shifts,
    })
}

/// The range asked for: `[from, to)`, by default the 24 hours up to now.
fn range(q: &TimelineQuery, now: i64) -> Result<(i64, i64), AppError> {
    let to = parse_bound("to", q.to.as_deref(), true)?.unwrap_or(now + 1);
    let from = parse_bound("from", q.from.as_deref(), false)?.unwrap_or(to - 86_400_000);
    if to <= from {
        return Err(AppError::BadRequest("`to` must be after `from`".into()));
    }
    if to - from > MAX_RANGE_MS {
        return Err(AppError::BadRequest(
            "the range is longer than 367 days; ask for a shorter one".into(),
        ));
    }
    Ok((from, to))
}

/// The agent and range of a request, checked: a 404 naming an unknown agent.
async fn timeline_of(st: &AppState, id: &str, q: &TimelineQuery) -> Result<Timeline, AppError> {
    let now = db::now_ms();
    let (from, to) = range(q, now)?;
    if st.db.agent(now, id).await?.is_none() {
        return Err(AppError::NotFound(format!(
            "there is no agent with the id '{}'",
            id.chars().take(64).collect::<String>()
        )));
    }
    Ok(read(&st.db, id, from, to).await?)
}

/// A row as JSON: its figures (see [`Row`]) with its time in RFC 3339; an hour's with its
/// outage minutes (null when not known).
fn row_json(r: &Row) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["at"] = serde_json::json!(rfc3339(r.at));
    if r.hour {
        v["outage_minutes"] = serde_json::json!(r.outage_minutes);
    }
    v
}

pub async fn timeline(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let t = timeline_of(&st, &id, &q).await?;
    let incidents: Vec<serde_json::Value> = t
        .incidents
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            v["started_at"] = serde_json::json!(rfc3339(i.start));
            v["ended_at"] = serde_json::json!(i.end.map(rfc3339));
            v
        })
        .collect();
    let shifts: Vec<serde_json::Value> = t
        .shifts
        .iter()
        .map(|s| {
            serde_json::json!({"kind": s.kind, "reason": s.reason, "at": rfc3339(s.at),
                "readiness": s.readiness, "flags": s.flags})
        })
        .collect();
    Ok(Json(serde_json::json!({
        "agent": id,
        "from": rfc3339(t.from),
        "to": rfc3339(t.to),
        "resolution": t.resolution.as_str(),
        "samples": t.rows.iter().map(row_json).collect::<Vec<_>>(),
        "incidents": incidents,
        "incidents_cut_before": t.incidents_cut_before.map(rfc3339),
        "shifts": shifts,
    })))
}

/// The columns of the CSV: both resolutions' (a column a resolution does not have is empty).
pub const CSV_HEADER: &str = "resolution,at,minutes,seconds,rtt_p50_ms,rtt_p95_ms,jitter_up_ms,\
    jitter_down_ms,loss_up_pct,loss_down_pct,loss_up_mean_pct,loss_down_mean_pct,mos_min,\
    gateway_rtt_p50_ms,gateway_loss_pct,link,link_down_seconds,wifi_signal_dbm,headset,\
    headset_missing_minutes,noise_dba,noise_class,outage_minutes";

pub async fn timeline_csv(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> Result<Response, AppError> {
    let t = timeline_of(&st, &id, &q).await?;
    let mut out = String::with_capacity(64 + t.rows.len() * 120);
    out.push_str(CSV_HEADER);
    out.push('\n');
    let n = |v: Option<f64>, d: i32| v.map(|v| round(v, d).to_string()).unwrap_or_default();
    let i = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in &t.rows {
        // link and noise_class are checked words (a-z and _): no quoting needed.
        let fields = [
            t.resolution.as_str().to_string(),
            rfc3339(r.at),
            r.minutes.to_string(),
            r.seconds.to_string(),
            n(r.rtt_p50_ms, 1),
            n(r.rtt_p95_ms, 1),
            n(r.jitter_up_ms, 1),
            n(r.jitter_down_ms, 1),
            n(r.loss_up_pct, 2),
            n(r.loss_down_pct, 2),
            n(r.loss_up_mean_pct, 2),
            n(r.loss_down_mean_pct, 2),
            n(r.mos_min, 2),
            n(r.gateway_rtt_p50_ms, 1),
            n(r.gateway_loss_pct, 2),
            r.link.clone().unwrap_or_default(),
            r.link_down_seconds.to_string(),
            i(r.wifi_signal_dbm),
            r.headset.map(|h| h.to_string()).unwrap_or_default(),
            i(r.headset_missing_minutes),
            n(r.noise_dba, 1),
            r.noise_class.clone().unwrap_or_default(),
            i(r.outage_minutes),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    Ok(csv_response(
        &format!("timeline-{}.csv", safe_name(&id)),
        out,
    ))
}

/// `v` to `d` decimals (an f32 figure stored as f64 prints as 23.399999618530273 otherwise).
fn round(v: f64, d: i32) -> f64 {
    let p = 10f64.powi(d);
    (v * p).round() / p
}

/// The agent id as it may appear in a file name.
fn safe_name(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}
