//! Adherence (`GET /api/v1/adherence`, `/api/v1/adherence.csv`) and the fleet-wide shift log
//! with filters and pages (the dashboard's `/shifts`): reading the database for them. The
//! adherence computation itself is pure, in [`crate::adherence`].

use super::csv::{csv_field, csv_response};
use super::it::rfc3339;
use crate::adherence::{self, Adherence, Mark, Observation};
use crate::auth::ItAuth;
use crate::db::{self, Db, ShiftEntry};
use crate::error::{ApiQuery, AppError};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use sqlx::Row as _;
use std::collections::BTreeMap;

const DAY: i64 = 86_400_000;

/// The most scheduled shifts one adherence answer covers.
pub const MAX_SHIFTS: i64 = 10_000;

/// `?from=&to=&site=&agent=` of adherence (and, with `reason=` and `page=`, of the shift log).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub site: Option<String>,
    pub agent: Option<String>,
    pub reason: Option<String>,
    pub page: Option<i64>,
}

/// A time bound: an RFC 3339 time, or a date (`2026-12-01`, UTC) meaning that day's start
/// (`from`) or the end of that day (`to`, so `from=2026-12-01&to=2026-12-01` is the whole day).
pub fn parse_bound(name: &str, v: Option<&str>, end_of_day: bool) -> Result<Option<i64>, AppError> {
    let Some(s) = v.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.timestamp_millis()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(Some(
            d.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_millis(),
        ));
    }
    Err(AppError::BadRequest(format!(
        "`{name}` must be a date like 2026-12-01 or an RFC 3339 time like 2026-12-01T08:00:00Z, not '{}'",
        s.chars().take(40).collect::<String>()
    )))
}

/// The range `[from, to)` of a filter; without bounds, the `default_days` up to now.
pub fn range(f: &Filter, default_days: i64, now: i64) -> Result<(i64, i64), AppError> {
    let to = parse_bound("to", f.to.as_deref(), true)?.unwrap_or(now + 1);
    let from = parse_bound("from", f.from.as_deref(), false)?.unwrap_or(to - default_days * DAY);
    if to < from {
        return Err(AppError::BadRequest("`to` is before `from`".into()));
    }
    Ok((from, to))
}

/// The agent filter as a device id (an id or a hostname, as `shifts import` takes).
async fn agent_id(db: &Db, f: &Filter) -> Result<Option<String>, AppError> {
    match f.agent.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => Ok(Some(
            db.resolve_agent(a).await?.map_err(AppError::NotFound)?,
        )),
    }
}

/// One scheduled shift with its adherence.
#[derive(Debug, Clone)]
pub struct Row {
    pub agent_id: String,
    pub hostname: String,
    pub site: String,
    pub a: Adherence,
}

impl Row {
    pub fn json(&self) -> serde_json::Value {
        let a = &self.a;
        serde_json::json!({
            "agent_id": self.agent_id,
            "hostname": self.hostname,
            "site": self.site,
            "start": rfc3339(a.start),
            "end": rfc3339(a.end),
            "phase": a.phase,
            "first_sign_in": a.first_in.map(rfc3339),
            "last_sign_out": a.last_out.map(rfc3339),
            "scheduled_minutes": a.scheduled_minutes,
            "signed_in_minutes": a.signed_in_minutes,
            "late_minutes": a.late_minutes,
            "early_leave_minutes": a.early_leave_minutes,
            "no_show": a.no_show,
            "not_ready_minutes": a.not_ready_minutes,
        })
    }
}

/// The adherence of every shift scheduled to start in the filter's range, by start time.
pub async fn adherence(db: &Db, f: &Filter, now: i64) -> Result<(i64, i64, Vec<Row>), AppError> {
    let (from, to) = range(f, 7, now)?;
    let agent = agent_id(db, f).await?;
    let rows = sqlx::query(
        "SELECT s.device_id, d.hostname, d.site, s.start_at, s.end_at FROM schedules s \
         JOIN devices d ON d.id = s.device_id \
         WHERE s.start_at >= $1 AND s.start_at < $2 AND ($3 = '' OR d.site = $3) \
         AND ($4 = '' OR s.device_id = $4) ORDER BY s.start_at, d.hostname, s.device_id LIMIT $5",
    )
    .bind(from)
    .bind(to)
    .bind(f.site.as_deref().map(str::trim).unwrap_or(""))
    .bind(agent.as_deref().unwrap_or(""))
    .bind(MAX_SHIFTS + 1)
    .fetch_all(&db.pool)
    .await?;
    if rows.len() as i64 > MAX_SHIFTS {
        return Err(AppError::Unprocessable(format!(
            "more than {MAX_SHIFTS} shifts are scheduled in that range; ask for a shorter range, one site or one agent"
        )));
    }
    let mut shifts = Vec::with_capacity(rows.len());
    // Per device: the span its shifts cover.
    let mut span: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in &rows {
        let (id, start, end): (String, i64, i64) = (
            r.try_get("device_id")?,
            r.try_get("start_at")?,
            r.try_get("end_at")?,
        );
        let e = span.entry(id.clone()).or_insert((start, end));
        *e = (e.0.min(start), e.1.max(end));
        shifts.push((
            id,
            r.try_get::<String, _>("hostname")?,
            r.try_get::<String, _>("site")?,
            start,
            end,
        ));
    }
    let mut timelines = BTreeMap::new();
    for (id, (lo, hi)) in &span {
        timelines.insert(id.clone(), timeline(db, id, *lo, (*hi).min(now + 1)).await?);
    }
    let out = shifts
        .into_iter()
        .map(|(agent_id, hostname, site, start, end)| {
            let (marks, obs) = &timelines[&agent_id];
            Row {
                a: adherence::compute(start, end, marks, obs, now),
                agent_id,
                hostname,
                site,
            }
        })
        .collect();
    Ok((from, to, out))
}

/// How far before a shift HQ looks for the sign-in, readiness and incidents standing at its
/// start (a shift is at most 24 hours; a pre-shift check comes shortly before it).
const LOOKBACK: i64 = 2 * DAY;

/// A device's shift-log marks and readiness observations over `[lo - LOOKBACK, hi)`, in time
/// order.
async fn timeline(
    db: &Db,
    device: &str,
    lo: i64,
    hi: i64,
) -> Result<(Vec<Mark>, Vec<Observation>), AppError> {
    let lo = lo - LOOKBACK;
    let log = sqlx::query(
        "SELECT kind, at, readiness, flags FROM shift_log WHERE device_id = $1 AND at >= $2 \
         AND at < $3 ORDER BY at, id",
    )
    .bind(device)
    .bind(lo)
    .bind(hi)
    .fetch_all(&db.pool)
    .await?;
    let mut marks = Vec::new();
    let mut obs = Vec::new();
    for r in &log {
        let flags: String = r.try_get("flags")?;
        if flags.split(',').any(|f| f == "out_of_order") {
            continue;
        }
        let at: i64 = r.try_get("at")?;
        let kind: String = r.try_get("kind")?;
        marks.push(Mark {
            at,
            signed_in: kind == "sign_in",
        });
        if let Some(rd) = r.try_get::<Option<String>, _>("readiness")? {
            obs.push(Observation::Readiness {
                at,
                not_ready: rd == "not_ready",
            });
        }
    }
    let events = sqlx::query(
        "SELECT kind, at, body FROM events WHERE device_id = $1 AND kind = 'report' \
         AND at >= $2 AND at < $3 \
         UNION ALL SELECT kind, at, body FROM events WHERE device_id = $1 \
         AND kind = 'incident' AND at >= $2 AND at < $3",
    )
    .bind(device)
    .bind(lo)
    .bind(hi)
    .fetch_all(&db.pool)
    .await?;
    for r in &events {
        let at: i64 = r.try_get("at")?;
        let kind: String = r.try_get("kind")?;
        let body: String = r.try_get("body")?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
            continue;
        };
        if kind == "report" {
            if let Some(rd) = v["report"]["readiness"].as_str() {
                obs.push(Observation::Readiness {
                    at,
                    not_ready: rd == "not_ready",
                });
            }
        } else if let Some(name) = v["name"].as_str() {
            obs.push(Observation::Incident {
                at,
                name: name.to_string(),
                open: v["state"] == "started",
            });
        }
    }
    // A stable order: by time; at one time, shift-log readiness first, then reports/incidents.
    obs.sort_by_key(|o| match o {
        Observation::Readiness { at, .. } | Observation::Incident { at, .. } => *at,
    });
    Ok((marks, obs))
}

/// `GET /api/v1/adherence`.
pub async fn adherence_json(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(f): ApiQuery<Filter>,
) -> Result<Json<serde_json::Value>, AppError> {
    no_page_params(&f)?;
    let (from, to, rows) = adherence(&st.db, &f, db::now_ms()).await?;
    Ok(Json(serde_json::json!({
        "from": rfc3339(from),
        "to": rfc3339(to),
        "shifts": rows.iter().map(Row::json).collect::<Vec<_>>(),
    })))
}

fn no_page_params(f: &Filter) -> Result<(), AppError> {
    if f.reason.is_some() || f.page.is_some() {
        return Err(AppError::BadRequest(
            "adherence takes from, to, site and agent (not reason or page)".into(),
        ));
    }
    Ok(())
}

fn opt(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// `GET /api/v1/adherence.csv`: the same rows as CSV.
pub async fn adherence_csv(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(f): ApiQuery<Filter>,
) -> Result<Response, AppError> {
    no_page_params(&f)?;
    let (_, _, rows) = adherence(&st.db, &f, db::now_ms()).await?;
    let mut out = String::from(
        "agent_id,hostname,site,start,end,phase,first_sign_in,last_sign_out,scheduled_minutes,\
         signed_in_minutes,late_minutes,early_leave_minutes,no_show,not_ready_minutes\n",
    );
    for r in rows {
        let a = &r.a;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.agent_id),
            csv_field(&r.hostname),
            csv_field(&r.site),
            rfc3339(a.start),
            rfc3339(a.end),
            a.phase.as_str(),
            a.first_in.map(rfc3339).unwrap_or_default(),
            a.last_out.map(rfc3339).unwrap_or_default(),
            a.scheduled_minutes,
            a.signed_in_minutes,
            opt(a.late_minutes),
            opt(a.early_leave_minutes),
            a.no_show,
            a.not_ready_minutes,
        ));
    }
    Ok(csv_response("adherence.csv", out))
}

/// One page of the fleet-wide shift log, newest first: the lines and how many match.
pub async fn shift_log_page(
    db: &Db,
    f: &Filter,
    now: i64,
    page_size: i64,
) -> Result<(i64, i64, Vec<ShiftEntry>, i64), AppError> {
    let (from, to) = range(f, 1, now)?;
    let agent = agent_id(db, f).await?;
    let page = f.page.unwrap_or(1).max(1);
    let site = f.site.as_deref().map(str::trim).unwrap_or("");
    let reason = f.reason.as_deref().map(str::trim).unwrap_or("");
    const WHERE: &str = "FROM shift_log l LEFT JOIN devices d ON d.id = l.device_id \
        WHERE l.at >= $1 AND l.at < $2 AND ($3 = '' OR l.device_id = $3) \
        AND ($4 = '' OR d.site = $4) AND ($5 = '' OR l.reason = $5)";
    let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n {WHERE}")))
        .bind(from)
        .bind(to)
        .bind(agent.as_deref().unwrap_or(""))
        .bind(site)
        .bind(reason)
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT l.device_id, d.hostname, l.kind, l.reason, l.at, l.readiness, l.received_at, \
         l.flags {WHERE} ORDER BY l.at DESC, l.id DESC LIMIT $6 OFFSET $7"
    )))
    .bind(from)
    .bind(to)
    .bind(agent.as_deref().unwrap_or(""))
    .bind(site)
    .bind(reason)
    .bind(page_size)
    .bind((page - 1).saturating_mul(page_size))
    .fetch_all(&db.pool)
    .await?;
    let entries = rows
        .iter()
        .map(ShiftEntry::from_row)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((from, to, entries, total))
}
