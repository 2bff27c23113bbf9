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
    let (agents, total) = st.db.fleet(now, &q.filter(1_000_000)?).await?;
    let summary = st.db.fleet_summary(now).await?;
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
    v["shifts"] = serde_json::Value::Array(shifts);
    Ok(Json(v))
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

/// `?from=&to=` (RFC 3339) of the shift log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub agent: Option<String>,
}

pub fn parse_range(q: &RangeQuery) -> Result<(i64, i64), AppError> {
    let now = db::now_ms();
    let parse = |name: &str, v: &Option<String>, default: i64| -> Result<i64, AppError> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .map_err(|e| {
                    AppError::BadRequest(format!(
                        "`{name}` must be an RFC 3339 time like 2026-01-31T08:00:00Z ({e})"
                    ))
                }),
        }
    };
    let from = parse("from", &q.from, now - 86_400_000)?;
    let to = parse("to", &q.to, now + 1)?;
    if to < from {
        return Err(AppError::BadRequest("`to` is before `from`".into()));
    }
    Ok((from, to))
}

pub async fn shifts(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (from, to) = parse_range(&q)?;
    let log = st
        .db
        .shift_log(from, to, q.agent.as_deref(), 1_000_000)
        .await?;
    Ok(Json(serde_json::json!({
        "from": rfc3339(from),
        "to": rfc3339(to),
        "shifts": log.into_iter().map(shift_json).collect::<Vec<_>>(),
    })))
}
