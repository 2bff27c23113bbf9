//! Event ingestion: strict validation, then one writer task per process that gathers the
//! batches of many requests into one transaction (group commit), so thousands of agents'
//! heartbeats a second cost a few commits, not thousands of fsyncs.
//!
//! Idempotent on each event's id: `INSERT ... ON CONFLICT (id) DO NOTHING`, and only newly
//! inserted events change an agent's state. An id already held for another device is refused.

use crate::db::{Backend, Db};
use crate::error::AppError;
use crate::metrics::Metrics;
use proto::event::{Event, EventBody};
use proto::{Readiness, Report};
use sqlx::{AssertSqlSafe, Row};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most events in one batch.
pub const MAX_EVENTS: usize = 1000;
/// Most requests gathered into one transaction.
const MAX_JOBS: usize = 1000;
/// Largest report, serialized.
const MAX_REPORT_BYTES: usize = 64 * 1024;
/// How far ahead of HQ's clock an event may claim to have happened.
const MAX_FUTURE_MS: i64 = 24 * 3_600_000;
/// How old an event may be (a spool kept for a long holiday).
const MAX_AGE_MS: i64 = 400 * 24 * 3_600_000;

/// What HQ now holds of a batch.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub accepted: Vec<Uuid>,
    pub duplicates: usize,
}

struct Job {
    /// The SHA-256 of the bearer key; the writer resolves it to a device with the batch.
    key_hash: String,
    /// Filled in by the writer once the key is checked.
    device_id: String,
    received_at: i64,
    skew_ms: Option<i64>,
    events: Vec<Event>,
    reply: oneshot::Sender<Result<Outcome, AppError>>,
}

/// The handle to this process's writer.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Job>,
}

impl Ingest {
    /// Starts the writer task.
    pub fn start(db: Db, metrics: Arc<Metrics>) -> Ingest {
        let (tx, rx) = mpsc::channel(20_000);
        tokio::spawn(writer(db, metrics, rx));
        Ingest { tx }
    }

    /// Stores validated events for the device holding `key`; resolves once they are
    /// committed. The key is checked by the writer, for the whole batch at once, so a request
    /// costs no database round trip of its own.
    pub async fn submit(
        &self,
        key: &str,
        received_at: i64,
        skew_ms: Option<i64>,
        events: Vec<Event>,
    ) -> Result<Outcome, AppError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            key_hash: crate::crypto::hash_secret(key),
            device_id: String::new(),
            received_at,
            skew_ms,
            events,
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| AppError::Unavailable("HQ is shutting down; try again".into()))?;
        rx.await
            .map_err(|_| AppError::Unavailable("HQ is shutting down; try again".into()))?
    }
}

/// Checks a batch: size, unique ids, times, and every field's range.
pub fn validate(events: &[Event], now: i64) -> Result<(), AppError> {
    let bad = |i: usize, msg: String| AppError::Unprocessable(format!("events[{i}]: {msg}"));
    if events.is_empty() {
        return Err(AppError::Unprocessable("the batch has no events".into()));
    }
    if events.len() > MAX_EVENTS {
        return Err(AppError::TooLarge(format!(
            "the batch has {} events; send at most {MAX_EVENTS} at a time",
            events.len()
        )));
    }
    let mut seen = HashSet::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        if !seen.insert(e.id) {
            return Err(bad(
                i,
                format!("the id {} appears twice in the batch", e.id),
            ));
        }
        if e.id.is_nil() {
            return Err(bad(i, "the id must not be the nil UUID".into()));
        }
        let at = e.at.timestamp_millis();
        if at > now + MAX_FUTURE_MS {
            return Err(bad(
                i,
                format!(
                    "`at` ({}) is far in the future; check the computer's clock",
                    e.at
                ),
            ));
        }
        if at < now - MAX_AGE_MS {
            return Err(bad(i, format!("`at` ({}) is more than 400 days ago", e.at)));
        }
        if let Some(sent) = e.sent_at {
            let sent = sent.timestamp_millis();
            if sent > now + MAX_FUTURE_MS || sent < now - MAX_AGE_MS {
                return Err(bad(
                    i,
                    "`sent_at` is far from HQ's clock; check the computer's clock".into(),
                ));
            }
        }
        match &e.body {
            EventBody::Report { report } => validate_report(report).map_err(|m| bad(i, m))?,
            EventBody::Incident { name, detail, .. } => {
                if name.is_empty()
                    || name.len() > 64
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(bad(
                        i,
                        "the incident name must be 1 to 64 characters of a-z, 0-9 and _".into(),
                    ));
                }
                if detail.chars().count() > 1000 {
                    return Err(bad(
                        i,
                        "the incident detail is longer than 1000 characters".into(),
                    ));
                }
            }
            EventBody::Heartbeat { .. } | EventBody::SignIn { .. } | EventBody::SignOut { .. } => {}
        }
    }
    Ok(())
}

fn validate_report(r: &Report) -> Result<(), String> {
    if r.schema != proto::SCHEMA {
        return Err(format!(
            "report schema {} is not supported (HQ reads schema {})",
            r.schema,
            proto::SCHEMA
        ));
    }
    if r.checks.is_empty() {
        return Err("the report has no checks".into());
    }
    for (name, c) in &r.checks {
        if !proto::report::CHECK_NAMES.contains(&name.as_str()) {
            return Err(format!(
                "the report has an unknown check '{}'",
                truncate(name, 40)
            ));
        }
        if c.hint.chars().count() > 1000 {
            return Err(format!(
                "the {name} check's hint is longer than 1000 characters"
            ));
        }
        if c.metrics.len() > 100 {
            return Err(format!("the {name} check has more than 100 metrics"));
        }
        for k in c.metrics.keys() {
            if k.is_empty() || k.len() > 64 {
                return Err(format!(
                    "the {name} check has a metric name of {} bytes",
                    k.len()
                ));
            }
        }
    }
    let derived = Readiness::from_statuses(r.checks.values().map(|c| c.status));
    if derived != r.readiness {
        return Err(format!(
            "the report says {} but its checks make it {}",
            r.readiness.as_str(),
            derived.as_str()
        ));
    }
    let size = serde_json::to_vec(r).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_REPORT_BYTES {
        return Err(format!(
            "the report is {size} bytes; the limit is {MAX_REPORT_BYTES}"
        ));
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

async fn writer(db: Db, metrics: Arc<Metrics>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_JOBS);
    // One connection kept for writing: its cache stays warm and, on SQLite, nothing else
    // contends for the write lock in the common case.
    let mut conn: Option<sqlx::pool::PoolConnection<sqlx::Any>> = None;
    while let Some(job) = rx.recv().await {
        batch.push(job);
        while batch.len() < MAX_JOBS {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut jobs = std::mem::take(&mut batch);
        let written = match conn.take() {
            Some(c) => Ok(c),
            None => db.pool.acquire().await,
        };
        let results = match written {
            Ok(mut c) => {
                let r = write_batch(&mut c, db.backend, &mut jobs).await;
                if r.is_ok() {
                    conn = Some(c);
                }
                r
            }
            Err(e) => Err(e.into()),
        };
        let results = match results {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("writing {} event batches failed: {e:#}", jobs.len());
                jobs.iter()
                    .map(|_| {
                        Err(AppError::Unavailable(
                            "HQ could not store the events just now; send them again".into(),
                        ))
                    })
                    .collect()
            }
        };
        metrics.batches_written.fetch_add(1, Ordering::Relaxed);
        for (job, result) in jobs.into_iter().zip(results) {
            match &result {
                Ok(o) => {
                    metrics
                        .events_accepted
                        .fetch_add((o.accepted.len() - o.duplicates) as u64, Ordering::Relaxed);
                    metrics
                        .events_duplicate
                        .fetch_add(o.duplicates as u64, Ordering::Relaxed);
                }
                Err(_) => {
                    metrics
                        .events_rejected
                        .fetch_add(job.events.len() as u64, Ordering::Relaxed);
                }
            }
            let _ = job.reply.send(result);
        }
    }
}

/// Per-device state changes gathered from a batch.
#[derive(Default)]
struct DeviceDelta {
    last_seen: i64,
    skew_ms: Option<i64>,
    readiness: Option<(i64, Readiness)>,
}

fn placeholders(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            n += 1;
            s.push('$');
            s.push_str(&n.to_string());
        }
        s.push(')');
    }
    s
}

async fn write_batch(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    jobs: &mut [Job],
) -> anyhow::Result<Vec<Result<Outcome, AppError>>> {
    use sqlx::Connection;
    let mut tx = conn
        .begin_with(match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        })
        .await?;

    // 0. Whose keys are these? One query for the whole batch.
    let mut hashes: Vec<&str> = jobs.iter().map(|j| j.key_hash.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let mut devices: HashMap<String, (String, String)> = HashMap::new();
    for chunk in hashes.chunks(500) {
        let sql = format!(
            "SELECT id, status, key_hash FROM devices WHERE key_hash IN ({})",
            (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for h in chunk {
            q = q.bind(*h);
        }
        for r in q.fetch_all(&mut *tx).await? {
            devices.insert(
                r.try_get("key_hash")?,
                (r.try_get("id")?, r.try_get("status")?),
            );
        }
    }
    let mut results: Vec<Option<Result<Outcome, AppError>>> = Vec::with_capacity(jobs.len());
    for job in jobs.iter_mut() {
        results.push(match devices.get(&job.key_hash) {
            None => Some(Err(crate::auth::unknown_key())),
            Some((_, status)) if status != "active" => Some(Err(crate::auth::inactive(status))),
            Some((id, _)) => {
                job.device_id = id.clone();
                None
            }
        });
    }
    let jobs: &[Job] = jobs;

    // 1. Which ids does HQ hold already, and for whom?
    let all_ids: Vec<String> = jobs
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .flat_map(|(j, _)| j.events.iter().map(|e| e.id.to_string()))
        .collect();
    let mut owner: HashMap<String, String> = HashMap::new();
    for chunk in all_ids.chunks(500) {
        let sql = format!(
            "SELECT id, device_id FROM events WHERE id IN ({})",
            (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.as_str());
        }
        for r in q.fetch_all(&mut *tx).await? {
            owner.insert(r.try_get("id")?, r.try_get("device_id")?);
        }
    }

    // 2. Refuse a job holding another device's event; pick the new events.
    let mut fresh: Vec<(usize, &Event)> = Vec::new();
    let mut claimed: HashMap<&Uuid, &str> = HashMap::new();
    for (ji, job) in jobs.iter().enumerate() {
        if results[ji].is_some() {
            continue;
        }
        let foreign = job.events.iter().find(|e| {
            let id = e.id.to_string();
            owner.get(&id).is_some_and(|d| *d != job.device_id)
                || claimed.get(&e.id).is_some_and(|d| *d != job.device_id)
        });
        if let Some(e) = foreign {
            results[ji] = Some(Err(AppError::Forbidden(format!(
                "the event {} belongs to another device; a device may send only its own events",
                e.id
            ))));
            continue;
        }
        for e in &job.events {
            if !owner.contains_key(&e.id.to_string()) && !claimed.contains_key(&e.id) {
                claimed.insert(&e.id, &job.device_id);
                fresh.push((ji, e));
            }
        }
    }

    // 3. Insert the new events; another HQ process may have won a race for some.
    let mut inserted: HashSet<Uuid> = HashSet::new();
    let bodies: Vec<String> = fresh
        .iter()
        .map(|(_, e)| serde_json::to_string(e))
        .collect::<Result<_, _>>()?;
    for (chunk, body_chunk) in fresh.chunks(400).zip(bodies.chunks(400)) {
        let sql = format!(
            "INSERT INTO events (id, device_id, kind, at, received_at, body) VALUES {} \
             ON CONFLICT (id) DO NOTHING RETURNING id",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for ((ji, e), body) in chunk.iter().zip(body_chunk) {
            let job = &jobs[*ji];
            q = q
                .bind(e.id.to_string())
                .bind(job.device_id.as_str())
                .bind(e.kind())
                .bind(e.at.timestamp_millis())
                .bind(job.received_at)
                .bind(body.as_str());
        }
        for r in q.fetch_all(&mut *tx).await? {
            let id: String = r.try_get("id")?;
            inserted.insert(id.parse()?);
        }
    }

    // 4. Gather each device's new state.
    let mut deltas: HashMap<&str, DeviceDelta> = HashMap::new();
    let mut shift_events: Vec<(&str, &Event)> = Vec::new();
    let mut reports: Vec<(&str, &Event, &Report)> = Vec::new();
    for (ji, job) in jobs.iter().enumerate() {
        if results[ji].is_some() {
            continue;
        }
        let d = deltas.entry(job.device_id.as_str()).or_default();
        d.last_seen = d.last_seen.max(job.received_at);
        if job.skew_ms.is_some() {
            d.skew_ms = job.skew_ms;
        }
        for e in job.events.iter().filter(|e| inserted.contains(&e.id)) {
            let at = e.at.timestamp_millis();
            let readiness = match &e.body {
                EventBody::Report { report } => {
                    reports.push((job.device_id.as_str(), e, report));
                    Some(report.readiness)
                }
                EventBody::Heartbeat { readiness, .. } => Some(*readiness),
                EventBody::SignIn { readiness, .. } | EventBody::SignOut { readiness, .. } => {
                    shift_events.push((job.device_id.as_str(), e));
                    Some(*readiness)
                }
                EventBody::Incident { .. } => None,
            };
            if let Some(r) = readiness {
                if d.readiness.is_none_or(|(t, _)| t <= at) {
                    d.readiness = Some((at, r));
                }
            }
        }
    }

    // 5. One UPDATE for every device touched.
    let deltas: Vec<(&str, DeviceDelta)> = deltas.into_iter().collect();
    for chunk in deltas.chunks(400) {
        let sql = format!(
            "UPDATE devices SET \
             last_seen = CASE WHEN devices.last_seen IS NULL OR devices.last_seen < v.column2 \
                 THEN v.column2 ELSE devices.last_seen END, \
             skew_ms = COALESCE(v.column3, devices.skew_ms), \
             readiness = CASE WHEN v.column5 IS NOT NULL AND (devices.readiness_at IS NULL \
                 OR devices.readiness_at <= v.column5) THEN v.column4 ELSE devices.readiness END, \
             readiness_at = CASE WHEN v.column5 IS NOT NULL AND (devices.readiness_at IS NULL \
                 OR devices.readiness_at <= v.column5) THEN v.column5 ELSE devices.readiness_at END \
             FROM (VALUES {}) AS v WHERE devices.id = v.column1",
            placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, d) in chunk {
            q = q
                .bind(*id)
                .bind(d.last_seen)
                .bind(d.skew_ms)
                .bind(d.readiness.map(|(_, r)| r.as_str()))
                .bind(d.readiness.map(|(t, _)| t));
        }
        q.execute(&mut *tx).await?;
    }

    // 6. Reports: the latest is kept on the device; figures go to the charts.
    for (device, e, report) in &reports {
        let at = e.at.timestamp_millis();
        sqlx::query(
            "UPDATE devices SET last_report = $2, report_at = $3, problem = $4 \
             WHERE id = $1 AND (report_at IS NULL OR report_at <= $3)",
        )
        .bind(*device)
        .bind(serde_json::to_string(report)?)
        .bind(at)
        .bind(problem_of(report))
        .execute(&mut *tx)
        .await?;
        let s = sample_of(report);
        if s.iter().any(Option::is_some) {
            sqlx::query(
                "INSERT INTO samples (event_id, device_id, at, rtt_ms, jitter_ms, loss_pct, mos, \
                 noise_dbfs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(e.id.to_string())
            .bind(*device)
            .bind(at)
            .bind(s[0])
            .bind(s[1])
            .bind(s[2])
            .bind(s[3])
            .bind(s[4])
            .execute(&mut *tx)
            .await?;
        }
    }

    // 7. Shift events: the log, and the agent's signed-in state if this is its latest change.
    shift_events.sort_by_key(|(_, e)| e.at);
    for (device, e) in &shift_events {
        let (signed_in, reason, readiness) = match &e.body {
            EventBody::SignIn { reason, readiness } => (1i64, reason, readiness),
            EventBody::SignOut { reason, readiness } => (0i64, reason, readiness),
            _ => continue,
        };
        let at = e.at.timestamp_millis();
        sqlx::query(
            "INSERT INTO shift_log (device_id, kind, reason, at, readiness, event_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(*device)
        .bind(e.kind())
        .bind(reason.as_str())
        .bind(at)
        .bind(readiness.as_str())
        .bind(e.id.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE devices SET signed_in = $2, shift_at = $3 \
             WHERE id = $1 AND (shift_at IS NULL OR shift_at <= $3)",
        )
        .bind(*device)
        .bind(signed_in)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }

    tx.commit().await?;

    Ok(jobs
        .iter()
        .zip(results)
        .map(|(job, r)| {
            r.unwrap_or_else(|| {
                let new = job
                    .events
                    .iter()
                    .filter(|e| inserted.contains(&e.id))
                    .count();
                Ok(Outcome {
                    accepted: job.events.iter().map(|e| e.id).collect(),
                    duplicates: job.events.len() - new,
                })
            })
        })
        .collect())
}

/// The most serious problem of a report, as IT reads it in the fleet table: the first check
/// that failed (else could not run, else warned) and its hint.
pub fn problem_of(r: &Report) -> Option<String> {
    use proto::Status;
    for wanted in [Status::Fail, Status::Error, Status::Warn] {
        for name in proto::report::CHECK_NAMES {
            if let Some(c) = r.checks.get(name).filter(|c| c.status == wanted) {
                let hint: String = c.hint.chars().take(300).collect();
                return Some(format!("{name} {}: {hint}", wanted.as_str()));
            }
        }
    }
    None
}

/// The chart figures of a report: RTT (median), jitter and loss (worse direction), MOS and
/// the A-weighted noise level.
pub fn sample_of(r: &Report) -> [Option<f64>; 5] {
    let net = r.checks.get("network");
    let noise = r.checks.get("noise");
    let get = |c: Option<&proto::CheckResult>, k: &str| c.and_then(|c| c.metric_f64(k));
    let worse = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    [
        get(net, "rtt_ms_median"),
        worse(get(net, "jitter_up_ms"), get(net, "jitter_down_ms")),
        worse(get(net, "loss_up_pct"), get(net, "loss_down_pct")),
        get(net, "mos"),
        get(noise, "laeq_dbfs"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::event::ShiftReason;

    fn hb() -> Event {
        Event::now(EventBody::Heartbeat {
            readiness: Readiness::Ready,
            signed_in: false,
        })
    }

    #[test]
    fn rejects_empty_duplicate_and_future() {
        let now = crate::db::now_ms();
        assert!(validate(&[], now).is_err());
        let e = hb();
        let err = validate(&[e.clone(), e.clone()], now).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        let mut f = hb();
        f.at += chrono::Duration::days(2);
        let err = validate(&[f], now).unwrap_err();
        assert!(err.to_string().contains("future"), "{err}");
        assert!(validate(&[hb()], now).is_ok());
    }

    #[test]
    fn rejects_inconsistent_or_unknown_report() {
        let now = crate::db::now_ms();
        let mut checks = std::collections::BTreeMap::new();
        checks.insert(
            "os".to_string(),
            proto::CheckResult::new(proto::Status::Fail, "Update Windows."),
        );
        let mut report = Report::new(checks.clone());
        report.readiness = Readiness::Ready;
        let e = Event::now(EventBody::Report { report });
        assert!(
            validate(&[e], now)
                .unwrap_err()
                .to_string()
                .contains("says ready")
        );
        checks.insert(
            "bogus".into(),
            proto::CheckResult::new(proto::Status::Pass, ""),
        );
        let e = Event::now(EventBody::Report {
            report: Report::new(checks),
        });
        assert!(
            validate(&[e], now)
                .unwrap_err()
                .to_string()
                .contains("unknown check")
        );
    }

    #[test]
    fn incident_names_are_restricted() {
        let now = crate::db::now_ms();
        let e = Event::now(EventBody::Incident {
            name: "x'; DROP TABLE events; --".into(),
            state: proto::event::IncidentState::Started,
            detail: String::new(),
        });
        assert!(validate(&[e], now).is_err());
        let e = Event::now(EventBody::SignIn {
            reason: ShiftReason::Auto,
            readiness: Readiness::Ready,
        });
        assert!(validate(&[e], now).is_ok());
    }

    #[test]
    fn placeholders_number_rows() {
        assert_eq!(placeholders(2, 3), "($1,$2,$3),($4,$5,$6)");
    }
}
