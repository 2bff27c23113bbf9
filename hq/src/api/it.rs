//! IT's API: the fleet, one agent, device status, schedules and the shift log (JSON).

use crate::auth::{Admin, ItAuth};
use crate::db;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::state::{AppState, FleetQuery};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

pub async fn agents(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let now = db::now_ms();
    let filter = q.filter_checked(&st.db, 1_000_000).await?;
    // With the counts of the site asked for (of the whole fleet without one).
    let (agents, total, summary) = st.db.fleet_with_summary(now, &filter).await?;
    Ok(Json(
        serde_json::json!({"total": total, "summary": summary, "agents": agents}),
    ))
}

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub async fn agent(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let now = db::now_ms();
    let Some(detail) = st.db.agent(now, &id).await? else {
        return Err(AppError::NotFound(format!(
            "there is no agent with the id '{}'",
            id.chars().take(64).collect::<String>()
        )));
    };
    let shifts = st
        .db
        .shift_log(now - 7 * 86_400_000, now + 1, Some(&id), 500)
        .await?;
    let shifts: Vec<_> = shifts.into_iter().map(shift_json).collect();
    let mut v = serde_json::to_value(&detail).map_err(anyhow::Error::from)?;
    // The times in ms stay (clients read them); each gets its RFC 3339 twin.
    let a = &detail.agent;
    v["report_at"] = serde_json::json!(a.report_at_ms);
    v["report_received_at"] = serde_json::json!(a.report_received_at_ms);
    v["enrolled_at_rfc3339"] = serde_json::json!(rfc3339(detail.enrolled_at));
    v["report_at_rfc3339"] = serde_json::json!(a.report_at_ms.map(rfc3339));
    v["report_received_at_rfc3339"] = serde_json::json!(a.report_received_at_ms.map(rfc3339));
    if let Some(checks) = v
        .pointer_mut("/last_report/checks")
        .and_then(|c| c.as_object_mut())
    {
        for check in checks.values_mut() {
            if let Some(m) = check.get_mut("metrics").and_then(|m| m.as_object_mut()) {
                for (k, x) in m.iter_mut() {
                    if let Some(f) = x.as_f64().filter(|_| x.is_f64()) {
                        *x = serde_json::json!(round_metric(k, f));
                    }
                }
            }
        }
    }
    v["shifts"] = serde_json::Value::Array(shifts);
    Ok(Json(v))
}

/// The decimals a figure is measured to, by its name: MOS and percentages 2, milliseconds,
/// decibels and the rest 1 (`0.30000000000000004` is noise, not precision).
pub fn decimals(metric: &str) -> i32 {
    if metric == "mos" || metric.ends_with("_pct") || metric.contains("ratio") {
        2
    } else {
        1
    }
}

/// A figure rounded to what was measured ([`decimals`]).
pub fn round_metric(metric: &str, v: f64) -> f64 {
    let p = 10f64.powi(decimals(metric));
    (v * p).round() / p
}

fn shift_json(s: db::ShiftEntry) -> serde_json::Value {
    serde_json::json!({
        "agent_id": s.agent_id,
        "hostname": s.hostname,
        "kind": s.kind,
        "reason": s.reason,
        "at": rfc3339(s.at),
        "received_at": s.received_at.map(rfc3339),
        "readiness": s.readiness,
        "flags": s.flags,
    })
}

async fn set_status(
    st: &AppState,
    id: &str,
    status: &str,
) -> Result<Json<serde_json::Value>, AppError> {
    if st.db.set_device_status(id, status).await? {
        Ok(Json(serde_json::json!({"id": id, "status": status})))
    } else {
        Err(AppError::NotFound("there is no agent with that id".into()))
    }
}

pub async fn revoke(
    State(st): State<AppState>,
    Admin(_): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    set_status(&st, &id, proto::DeviceStatus::Revoked.as_str()).await
}

/// Marks the device for re-enrollment and answers its one-time code (`reenroll_code`, shown
/// this once; the enrollment must present it) and when the code expires.
pub async fn reenroll(
    State(st): State<AppState>,
    Admin(_): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let Some((code, expires)) = st.db.issue_reenroll_code(&id).await? else {
        return Err(AppError::NotFound("there is no agent with that id".into()));
    };
    Ok(Json(serde_json::json!({
        "id": id,
        "status": proto::DeviceStatus::Reenroll.as_str(),
        "reenroll_code": code,
        "reenroll_code_expires_at": chrono::DateTime::from_timestamp_millis(expires),
    })))
}

/// `POST /api/v1/schedules`: `{"shifts": [{"agent", "start", "end"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    shifts: Vec<ScheduleItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleItem {
    agent: String,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
}

pub async fn add_schedules(
    State(st): State<AppState>,
    Admin(_): Admin,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<Json<serde_json::Value>, AppError> {
    if body.shifts.len() > 10_000 {
        return Err(AppError::TooLarge(
            "send at most 10000 shifts at a time".into(),
        ));
    }
    let mut resolved = Vec::with_capacity(body.shifts.len());
    for (i, s) in body.shifts.iter().enumerate() {
        if s.end <= s.start {
            return Err(AppError::Unprocessable(format!(
                "shifts[{i}]: end must be after start"
            )));
        }
        if s.end - s.start > chrono::Duration::hours(24) {
            return Err(AppError::Unprocessable(format!(
                "shifts[{i}]: a shift is at most 24 hours"
            )));
        }
        let id = st
            .db
            .resolve_agent(&s.agent)
            .await?
            .map_err(|m| AppError::Unprocessable(format!("shifts[{i}]: {m}")))?;
        resolved.push((id, s.start.timestamp_millis(), s.end.timestamp_millis()));
    }
    for (id, s, e) in &resolved {
        st.db.add_schedule(id, *s, *e).await?;
    }
    Ok(Json(serde_json::json!({"added": resolved.len()})))
}

/// `?from=&to=&agent=` of the shift log: times in RFC 3339 or dates (`2026-12-01`, UTC: `from`
/// its start, `to` its end); `agent` a device id or a hostname, as `shifts import` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub agent: Option<String>,
}

pub fn parse_range(q: &RangeQuery) -> Result<(i64, i64), AppError> {
    let now = db::now_ms();
    let from = parse_time("from", q.from.as_deref(), false)?.unwrap_or(now - 86_400_000);
    let to = parse_time("to", q.to.as_deref(), true)?.unwrap_or(now + 1);
    if to < from {
        return Err(AppError::BadRequest("`to` is before `from`".into()));
    }
    Ok((from, to))
}

/// A time of a query (ms): RFC 3339, or a date in UTC (its start, or with `end` the start of
/// the next day, so `from=2026-12-01&to=2026-12-01` is that whole day).
pub fn parse_time(name: &str, v: Option<&str>, end: bool) -> Result<Option<i64>, AppError> {
    let Some(s) = v.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.timestamp_millis()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(Some(
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis(),
        ));
    }
    Err(AppError::BadRequest(format!(
        "`{name}` must be a date like 2026-01-31 or an RFC 3339 time like 2026-01-31T08:00:00Z, \
         not '{}'",
        s.chars().take(64).collect::<String>()
    )))
}

/// The device id of `?agent=` (an id or a hostname); `None` without one.
pub async fn resolve_agent_query(
    st: &AppState,
    agent: Option<&str>,
) -> Result<Option<String>, AppError> {
    match agent.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => {
            let a: String = a.chars().take(256).collect();
            st.db
                .resolve_agent(&a)
                .await?
                .map(Some)
                .map_err(|m| AppError::BadRequest(format!("`agent`: {m}")))
        }
    }
}

pub async fn shifts(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (from, to) = parse_range(&q)?;
    let agent = resolve_agent_query(&st, q.agent.as_deref()).await?;
    let log = st
        .db
        .shift_log(from, to, agent.as_deref(), 1_000_000)
        .await?;
    Ok(Json(serde_json::json!({
        "from": rfc3339(from),
        "to": rfc3339(to),
        "shifts": log.into_iter().map(shift_json).collect::<Vec<_>>(),
    })))
}
