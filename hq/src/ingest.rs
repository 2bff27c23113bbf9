//! Event ingestion: each event checked on its own, then one writer task per process that
//! gathers the batches of many requests into one transaction (group commit), so thousands of
//! agents' heartbeats a second cost a few commits, not thousands of fsyncs.
//!
//! Idempotent on each event's id: `INSERT ... ON CONFLICT (id) DO NOTHING`, and only newly
//! inserted events change an agent's state. Every event gets its own answer (`stored`,
//! `duplicate`, or `rejected` with the reason): an event HQ cannot take (unknown kind, bad
//! field, an id held by another device, a reason only HQ may record) never blocks the ones
//! after it. HQ orders an agent's state by when it received events, never by the agent's
//! clock: a shift event dated before the device's previous one is stored, flagged
//! `out_of_order`, and changes nothing; one from a clock more than five minutes off HQ's is
//! flagged `clock_off`.

use crate::db::{Backend, Db};
use crate::error::AppError;
use crate::metrics::Metrics;
use proto::api::{EventOutcome, EventResult};
use proto::event::{Event, EventBody, ShiftReason};
use proto::{Readiness, Report};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Most events in one batch.
pub const MAX_EVENTS: usize = 1000;
/// Most requests gathered into one transaction.
const MAX_JOBS: usize = 1000;
/// Writer tasks (each with its own connection) on PostgreSQL.
const PG_WRITERS: usize = 4;
/// The shortest time between the starts of two of the writer's transactions.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);
/// Largest report, serialized.
const MAX_REPORT_BYTES: usize = 64 * 1024;
/// Longest hint or incident detail kept, in characters; longer ones are cut to this.
const MAX_TEXT_CHARS: usize = 1000;
/// How far ahead of HQ's clock an event may claim to have happened.
const MAX_FUTURE_MS: i64 = 24 * 3_600_000;
/// How old an event may be (a spool kept for a long holiday).
const MAX_AGE_MS: i64 = 400 * 24 * 3_600_000;
/// How far a device's clock may be off HQ's before its shift events are flagged `clock_off`.
pub const CLOCK_TOLERANCE_MS: i64 = 5 * 60_000;
/// The event kinds this HQ reads (the original five and [`EXTRA_EVENT_KINDS`]).
const KINDS: [&str; 7] = [
    "report",
    "heartbeat",
    "sign_in",
    "sign_out",
    "incident",
    "sample",
    "call_drop",
];

/// What HQ now holds of a batch, and the answer for each of its events in batch order.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The ids HQ holds (stored now or before), each once.
    pub accepted: Vec<Uuid>,
    /// How many of `accepted` HQ had already.
    pub duplicates: usize,
    pub results: Vec<EventResult>,
    /// When IT asked the device to run its check now, while that request waits (answered
    /// in the same transaction: a report in this batch dated after it drops it).
    pub check_requested_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One event of a batch after checking: ready to store, or rejected for good.
// Most are valid: boxing them would cost an allocation each for the rare rejection's sake.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Checked {
    Valid(Event),
    Rejected { id: Option<Uuid>, error: String },
}

/// The writer's answer for one event of a job: new now, held already, or refused (its id
/// belongs to another device).
type Stored = Result<bool, String>;

/// The writer's answer for a job: each event's, and when a check the device was asked to run
/// was requested, if that request still waits.
type Written = (Vec<Stored>, Option<i64>);

struct Job {
    /// The SHA-256 of the bearer key; the writer resolves it to a device with the batch.
    key_hash: String,
    /// Filled in by the writer once the key is checked.
    device_id: String,
    /// Filled in with `device_id`: the device is signed out for `lost_contact` (so a heartbeat
    /// saying it is signed in restores it), as step 0 read it; step 5 reads it again under
    /// the row lock, which catches a sweep that committed in between.
    lost_contact: bool,
    received_at: i64,
    skew_ms: Option<i64>,
    /// Checked events, each id once.
    events: Vec<Event>,
    reply: oneshot::Sender<Result<Written, AppError>>,
}

/// The handle to this process's writer.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    gate: Arc<crate::quota::Gate>,
}

impl Ingest {
    /// Starts the writer task.
    pub fn start(db: Db, metrics: Arc<Metrics>) -> Ingest {
        let (tx, rx) = mpsc::channel(20_000);
        tokio::spawn(checkpointer(db.clone(), std::time::Duration::from_secs(1)));
        // SQLite has one writer at a time anyway. On PostgreSQL a transaction spends most of
        // its time waiting for its commit to reach the disk, so several writers overlap those
        // waits (and PostgreSQL flushes their commits together).
        let writers = match db.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => PG_WRITERS,
        };
        let rx = Arc::new(tokio::sync::Mutex::new((rx, tokio::time::Instant::now())));
        for _ in 0..writers {
            tokio::spawn(writer(db.clone(), metrics.clone(), rx.clone()));
        }
        Ingest {
            tx,
            metrics,
            gate: Arc::default(),
        }
    }

    /// What a request may cost before it is stored: known keys, per-device quotas, the
    /// queue's byte budget, and the retention the sweeper prunes by ([`crate::quota`]).
    pub fn gate(&self) -> &crate::quota::Gate {
        &self.gate
    }

    /// Stores events (taken as checked) for the device holding `key`; see [`Self::submit_checked`].
    pub async fn submit(
        &self,
        key: &str,
        received_at: i64,
        skew_ms: Option<i64>,
        events: Vec<Event>,
    ) -> Result<Outcome, AppError> {
        let checked = events.into_iter().map(Checked::Valid).collect();
        let key_hash = crate::crypto::hash_secret(key);
        self.submit_checked(key_hash, received_at, skew_ms, checked)
            .await
    }

    /// Stores the valid events of a batch for the device whose key hashes to `key_hash`
    /// ([`crate::crypto::hash_secret`]); resolves once they are
    /// committed, with an answer per event in batch order. The key is checked by the writer,
    /// for the whole batch at once, so a request costs no database round trip of its own; a
    /// bad key is the only error for the whole batch. An id repeated in the batch is stored
    /// once; its repeats get the first one's answer (`duplicate` where it was `stored`).
    pub async fn submit_checked(
        &self,
        key_hash: String,
        received_at: i64,
        skew_ms: Option<i64>,
        checked: Vec<Checked>,
    ) -> Result<Outcome, AppError> {
        enum Slot {
            Rejected(Option<Uuid>, String),
            Job(usize),
            Repeat(usize),
        }
        let mut slots = Vec::with_capacity(checked.len());
        let mut events = Vec::with_capacity(checked.len());
        let mut first: HashMap<Uuid, usize> = HashMap::with_capacity(checked.len());
        for c in checked {
            slots.push(match c {
                Checked::Rejected { id, error } => Slot::Rejected(id, error),
                Checked::Valid(e) => match first.get(&e.id) {
                    Some(&i) => Slot::Repeat(i),
                    None => {
                        first.insert(e.id, events.len());
                        events.push(e);
                        Slot::Job(events.len() - 1)
                    }
                },
            });
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let invalid = slots
            .iter()
            .filter(|s| matches!(s, Slot::Rejected(..)))
            .count();
        self.metrics
            .events_rejected
            .fetch_add(invalid as u64, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        let job = Job {
            key_hash,
            device_id: String::new(),
            lost_contact: false,
            received_at,
            skew_ms,
            events,
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| AppError::Unavailable("HQ is shutting down; try again".into()))?;
        let (stored, check_requested_at) = rx
            .await
            .map_err(|_| AppError::Unavailable("HQ is shutting down; try again".into()))??;
        let answer = |i: usize, repeat: bool| -> EventResult {
            let (outcome, error) = match &stored[i] {
                Ok(true) if !repeat => (EventOutcome::Stored, None),
                Ok(_) => (EventOutcome::Duplicate, None),
                Err(m) => (EventOutcome::Rejected, Some(m.clone())),
            };
            EventResult {
                id: Some(ids[i]),
                outcome,
                error,
            }
        };
        let results: Vec<EventResult> = slots
            .into_iter()
            .map(|s| match s {
                Slot::Rejected(id, error) => EventResult {
                    id,
                    outcome: EventOutcome::Rejected,
                    error: Some(error),
                },
                Slot::Job(i) => answer(i, false),
                Slot::Repeat(i) => answer(i, true),
            })
            .collect();
        let accepted: Vec<Uuid> = ids
            .iter()
            .zip(&stored)
            .filter(|(_, s)| s.is_ok())
            .map(|(id, _)| *id)
            .collect();
        let new = stored.iter().filter(|s| matches!(s, Ok(true))).count();
        Ok(Outcome {
            duplicates: accepted.len() - new,
            accepted,
            results,
            check_requested_at: check_requested_at
                .and_then(chrono::DateTime::from_timestamp_millis),
        })
    }
}

/// Parses and checks each event of a batch on its own, in batch order.
pub fn check_batch(events: Vec<serde_json::Value>, now: i64) -> Vec<Checked> {
    events
        .into_iter()
        .map(|v| match check_event(v, now) {
            Ok(e) => Checked::Valid(e),
            Err((id, error)) => Checked::Rejected { id, error },
        })
        .collect()
}

/// Checks events built in this process (the simulator's) as the handler checks an agent's:
/// the first rejection, naming its index, as the error.
pub fn validate(events: &[Event], now: i64) -> Result<(), AppError> {
    for (i, e) in events.iter().enumerate() {
        let v = serde_json::to_value(e).map_err(anyhow::Error::from)?;
        check_event(v, now)
            .map_err(|(_, m)| AppError::Unprocessable(format!("events[{i}]: {m}")))?;
    }
    Ok(())
}

/// Parses one event from JSON and checks its times and every field's range. A hint or
/// incident detail longer than [`MAX_TEXT_CHARS`] is cut to it. The error names the field at
/// fault, with the event's id when it could be read.
pub fn check_event(v: serde_json::Value, now: i64) -> Result<Event, (Option<Uuid>, String)> {
    let id = v
        .get("id")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| s.parse::<Uuid>().ok());
    let bad = |msg: String| (id, msg);
    match v.get("kind") {
        _ if !v.is_object() => return Err(bad("the event is not a JSON object".into())),
        None => return Err(bad("`kind` is missing".into())),
        Some(serde_json::Value::String(k)) if KINDS.contains(&k.as_str()) => {}
        Some(serde_json::Value::String(k)) => {
            return Err(bad(format!(
                "`kind` '{}' is not an event kind this HQ knows ({})",
                truncate(k, 40),
                KINDS.join(", ")
            )));
        }
        Some(_) => return Err(bad("`kind` must be a string".into())),
    }
    let mut e: Event = serde_path_to_error::deserialize(&v).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path.is_empty() || path == "." {
            // The kind's own fields are read through `flatten`, which loses the path: find
            // the field at fault by reading each on its own.
            match field_at_fault(&v) {
                Some(field) => bad(format!("{field}: {inner}")),
                None => bad(format!("{inner}")),
            }
        } else {
            bad(format!("`{path}`: {inner}"))
        }
    })?;
    check_fields(&mut e, now).map_err(|m| (Some(e.id), m))?;
    Ok(e)
}

/// The first field of an event that does not read as its type, as `` `field` `` (with the
/// path inside it, e.g. `` `report.checks.os.status` ``).
fn field_at_fault(v: &serde_json::Value) -> Option<String> {
    fn bad<T: serde::de::DeserializeOwned>(v: &serde_json::Value, field: &str) -> Option<String> {
        let f = v.get(field)?;
        let err = serde_path_to_error::deserialize::<_, T>(f).err()?;
        let path = err.path().to_string();
        Some(if path.is_empty() || path == "." {
            format!("`{field}`")
        } else {
            format!("`{field}.{path}`")
        })
    }
    bad::<Readiness>(v, "readiness")
        .or_else(|| bad::<ShiftReason>(v, "reason"))
        .or_else(|| bad::<bool>(v, "signed_in"))
        .or_else(|| bad::<proto::event::IncidentState>(v, "state"))
        .or_else(|| bad::<String>(v, "name"))
        .or_else(|| bad::<String>(v, "detail"))
        .or_else(|| bad::<Report>(v, "report"))
}

/// The checks of one parsed event (see [`check_event`]).
fn check_fields(e: &mut Event, now: i64) -> Result<(), String> {
    if e.id.is_nil() {
        return Err("`id` must not be the nil UUID".into());
    }
    let at = e.at.timestamp_millis();
    if at > now + MAX_FUTURE_MS {
        return Err(format!(
            "`at` ({}) is far in the future; check the computer's clock",
            e.at
        ));
    }
    if at < now - MAX_AGE_MS {
        return Err(format!("`at` ({}) is more than 400 days ago", e.at));
    }
    if let Some(sent) = e.sent_at {
        let sent = sent.timestamp_millis();
        if sent > now + MAX_FUTURE_MS || sent < now - MAX_AGE_MS {
            return Err("`sent_at` is far from HQ's clock; check the computer's clock".into());
        }
    }
    match &mut e.body {
        EventBody::Report { report } => check_report(report),
        EventBody::Incident { name, detail, .. } => {
            if !is_name(name) {
                return Err(
                    "`name`: an incident name is 1 to 64 characters of a-z, 0-9 and _".into(),
                );
            }
            cut(detail);
            Ok(())
        }
        EventBody::SignIn { reason, .. } | EventBody::SignOut { reason, .. }
            if reason.is_hq_only() =>
        {
            Err(format!(
                "`reason` {} is recorded only by HQ; a device may not claim it",
                reason.as_str()
            ))
        }
        EventBody::CallDrop { call_drop } => {
            let s = &call_drop.seconds;
            if !s.is_well_formed() || s.len() > proto::sample::CALL_DROP_MAX_SECONDS {
                return Err(format!(
                    "`call_drop.seconds`: every column must have the same length, at most {}",
                    proto::sample::CALL_DROP_MAX_SECONDS
                ));
            }
            // The history ends at the report: a start far from the event's own time is not
            // a daemon's (and far enough out of range, it would overflow the pages' clock
            // arithmetic).
            let lag = e.at.signed_duration_since(s.start).num_seconds();
            if !s.is_empty() && !(-60..=3600).contains(&lag) {
                return Err(
                    "`call_drop.seconds.start` must be within the hour before the event's `at`"
                        .into(),
                );
            }
            if call_drop.note.chars().count() > proto::sample::CALL_DROP_MAX_NOTE {
                return Err(format!(
                    "`call_drop.note` is longer than {} characters",
                    proto::sample::CALL_DROP_MAX_NOTE
                ));
            }
            Ok(())
        }
        EventBody::Sample { sample } => crate::samples::check(sample),
        EventBody::Heartbeat { .. } | EventBody::SignIn { .. } | EventBody::SignOut { .. } => {
            Ok(())
        }
    }
}

/// The event kinds HQ stores beyond the original five, listed in the policy answer so that
/// agents record them only for an HQ that keeps them.
pub const EXTRA_EVENT_KINDS: &[&str] = &["sample", "call_drop"];

/// A check, incident or metric name: 1 to 64 characters of a-z, 0-9 and _. Names this build
/// does not know are fine (a newer agent's); they are stored and shown, not judged.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Cuts a text to [`MAX_TEXT_CHARS`] characters.
fn cut(s: &mut String) {
    if let Some((i, _)) = s.char_indices().nth(MAX_TEXT_CHARS) {
        s.truncate(i);
    }
}

fn check_report(r: &mut Report) -> Result<(), String> {
    if r.schema != proto::SCHEMA {
        return Err(format!(
            "`report.schema` {} is not supported (HQ reads schema {})",
            r.schema,
            proto::SCHEMA
        ));
    }
    if r.checks.is_empty() {
        return Err("`report.checks`: the report has no checks".into());
    }
    if r.checks.len() > 64 {
        return Err("`report.checks`: the report has more than 64 checks".into());
    }
    for (name, c) in r.checks.iter_mut() {
        if !is_name(name) {
            return Err(format!(
                "`report.checks`: the check name '{}' is not 1 to 64 characters of a-z, 0-9 and _",
                truncate(name, 40)
            ));
        }
        cut(&mut c.hint);
        if c.metrics.len() > 100 {
            return Err(format!(
                "`report.checks.{name}.metrics`: more than 100 metrics"
            ));
        }
        for k in c.metrics.keys() {
            if k.is_empty() || k.len() > 64 {
                return Err(format!(
                    "`report.checks.{name}.metrics`: a metric name of {} bytes (1 to 64)",
                    k.len()
                ));
            }
        }
    }
    let derived = Readiness::from_statuses(r.checks.values().map(|c| c.status));
    if derived != r.readiness {
        return Err(format!(
            "`report.readiness`: the report says {} but its checks make it {}",
            r.readiness.as_str(),
            derived.as_str()
        ));
    }
    let size = serde_json::to_vec(r).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_REPORT_BYTES {
        return Err(format!(
            "`report`: the report is {size} bytes; the limit is {MAX_REPORT_BYTES}"
        ));
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

async fn writer(
    db: Db,
    metrics: Arc<Metrics>,
    rx: Arc<tokio::sync::Mutex<(mpsc::Receiver<Job>, tokio::time::Instant)>>,
) {
    let mut batch = Vec::with_capacity(MAX_JOBS);
    // One connection kept for writing: its statement cache stays warm and, on SQLite, nothing
    // else contends for the write lock in the common case.
    let mut conn: Option<sqlx::pool::PoolConnection<sqlx::Any>> = None;
    loop {
        // The writer holding the receiver gathers the next batch; the others wait their turn.
        let mut guard = rx.lock().await;
        let (rx, last_start) = &mut *guard;
        let Some(job) = rx.recv().await else { return };
        batch.push(job);
        // At most one transaction starts per LINGER (over all writers): under load, requests
        // gather for a moment so a transaction carries many of them (fewer statements,
        // commits and thread wake-ups per heartbeat); when the last one began long ago, this
        // one starts at once.
        let next = *last_start + LINGER;
        if tokio::time::Instant::now() < next {
            tokio::time::sleep_until(next).await;
        }
        *last_start = tokio::time::Instant::now();
        while batch.len() < MAX_JOBS {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        drop(guard);
        let mut jobs = std::mem::take(&mut batch);
        let written = match conn.take() {
            Some(c) => Ok(c),
            None => writer_connection(&db).await,
        };
        let results = match written {
            Ok(mut c) => {
                let r = write_batch_retrying(&mut c, db.backend, &mut jobs).await;
                if r.is_ok() {
                    conn = Some(c);
                } else {
                    // Its state is unknown: let it go rather than back to the pool.
                    drop(c.detach());
                }
                r
            }
            Err(e) => Err(e),
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
            let (mut new, mut held, mut refused) = (0, 0, job.events.len());
            if let Ok((stored, _)) = &result {
                new = stored.iter().filter(|s| matches!(s, Ok(true))).count();
                held = stored.iter().filter(|s| matches!(s, Ok(false))).count();
                refused = stored.len() - new - held;
            }
            metrics
                .events_accepted
                .fetch_add(new as u64, Ordering::Relaxed);
            metrics
                .events_duplicate
                .fetch_add(held as u64, Ordering::Relaxed);
            metrics
                .events_rejected
                .fetch_add(refused as u64, Ordering::Relaxed);
            let _ = job.reply.send(result);
        }
    }
}

/// The writer's own connection. On SQLite it leaves checkpoints (and their fsyncs) to
/// [`checkpointer`], so a commit never waits for one, and it commits with
/// `synchronous = FULL`: HQ acknowledges only events whose WAL frames are on the disk (with
/// the readers' NORMAL, a power loss could drop batches the agent had already deleted). Group
/// commit keeps that to one fsync per transaction, not per request.
async fn writer_connection(db: &Db) -> anyhow::Result<sqlx::pool::PoolConnection<sqlx::Any>> {
    use sqlx::Executor;
    let mut c = db.pool.acquire().await?;
    if db.backend == Backend::Sqlite {
        // This connection checkpoints no more, so it never goes back to the pool: the writer
        // keeps it, or detaches it when it fails.
        c.execute("PRAGMA wal_autocheckpoint = 0").await?;
        c.execute(writer_sync()).await?;
    }
    Ok(c)
}

/// The SQLite writer's `synchronous` pragma: FULL, unless `SHIFTREADY_HQ_WRITER_SYNC=normal`
/// asks for NORMAL, which exists only to measure what durability costs
/// (`scripts/bench_hq.sh`); HQ then warns that a power loss can drop acknowledged events.
fn writer_sync() -> &'static str {
    static SYNC: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    SYNC.get_or_init(
        || match std::env::var("SHIFTREADY_HQ_WRITER_SYNC").as_deref() {
            Ok(v) if v.eq_ignore_ascii_case("normal") => {
                tracing::warn!(
                    "SHIFTREADY_HQ_WRITER_SYNC=normal: the SQLite writer commits with \
                     synchronous=NORMAL; a power loss can drop events HQ acknowledged"
                );
                "PRAGMA synchronous = NORMAL"
            }
            _ => "PRAGMA synchronous = FULL",
        },
    )
}

/// SQLite only: checkpoints the WAL into the database file every `every`, off the writer's
/// path (PASSIVE: it never blocks the writer or readers). Runs until the pool is closed.
pub async fn checkpointer(db: Db, every: std::time::Duration) {
    if db.backend != Backend::Sqlite {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if db.pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&db.pool)
            .await
        {
            tracing::debug!("WAL checkpoint: {e:#}");
        }
    }
}

/// Why a batch must be written again.
#[derive(Debug)]
struct ForeignEvents;

impl std::fmt::Display for ForeignEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a batch held another device's events")
    }
}

impl std::error::Error for ForeignEvents {}

/// Writes a batch optimistically (insert first, expecting every event to be new); if some
/// were held already (a retry) or a request held another device's event, the transaction is
/// rolled back and the batch written again with every id's owner looked up first.
async fn write_batch_retrying(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    jobs: &mut [Job],
) -> anyhow::Result<Vec<Result<Written, AppError>>> {
    let mut precheck = false;
    for _ in 0..4 {
        match write_batch(conn, backend, jobs, precheck).await {
            Err(e) if e.is::<ForeignEvents>() => precheck = true,
            r => return r,
        }
    }
    Err(ForeignEvents.into())
}

/// The SQL of one batch statement, per backend. Every statement's rows arrive as one JSON
/// array parameter, so the text never changes with the batch's size: each is prepared once
/// per connection, and SQLite never numbers thousands of parameters.
struct Sql {
    devices_by_key: &'static str,
    owners: &'static str,
    insert_events: &'static str,
    insert_events_counted: &'static str,
    update_devices: &'static str,
    lost_contact: &'static str,
}

/// The SET clause of the devices update: a device's state moves only forward in time.
macro_rules! update_devices_set {
    () => {
        "UPDATE devices SET \
         last_seen = CASE WHEN devices.last_seen IS NULL OR devices.last_seen < v.last_seen \
             THEN v.last_seen ELSE devices.last_seen END, \
         skew_ms = COALESCE(v.skew_ms, devices.skew_ms), \
         readiness = CASE WHEN v.readiness_at IS NOT NULL AND (devices.readiness_at IS NULL \
             OR devices.readiness_at <= v.readiness_at) THEN v.readiness ELSE devices.readiness END, \
         readiness_at = CASE WHEN v.readiness_at IS NOT NULL AND (devices.readiness_at IS NULL \
             OR devices.readiness_at <= v.readiness_at) THEN v.readiness_at ELSE devices.readiness_at END "
    };
}

const SQLITE: Sql = Sql {
    devices_by_key: "SELECT d.id, d.status, d.key_hash, d.signed_in, d.shift_reason \
         FROM json_each($1) AS j \
         CROSS JOIN devices AS d ON d.key_hash = j.value",
    owners: "SELECT e.id, e.device_id FROM json_each($1) AS j \
         CROSS JOIN events AS e ON e.id = j.value",
    insert_events: "INSERT INTO events (id, device_id, kind, at, received_at, body) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each($1) WHERE true ON CONFLICT (id) DO NOTHING RETURNING id",
    insert_events_counted: "INSERT INTO events (id, device_id, kind, at, received_at, body) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each($1) WHERE true ON CONFLICT (id) DO NOTHING",
    update_devices: concat!(
        update_devices_set!(),
        "FROM (SELECT value ->> 0 AS id, value ->> 1 AS last_seen, value ->> 2 AS skew_ms, \
             value ->> 3 AS readiness, value ->> 4 AS readiness_at FROM json_each($1)) AS v \
         WHERE devices.id = v.id"
    ),
    lost_contact: "SELECT d.id FROM json_each($1) AS j CROSS JOIN devices AS d ON d.id = j.value \
         WHERE d.signed_in = 0 AND d.shift_reason = $2",
};

const PG: Sql = Sql {
    devices_by_key: "SELECT d.id, d.status, d.key_hash, d.signed_in, d.shift_reason \
         FROM json_array_elements_text($1::json) AS j(v) \
         JOIN devices AS d ON d.key_hash = j.v",
    owners: "SELECT e.id, e.device_id FROM json_array_elements_text($1::json) AS j(v) \
         JOIN events AS e ON e.id = j.v",
    insert_events: "INSERT INTO events (id, device_id, kind, at, received_at, body) \
         SELECT r ->> 0, r ->> 1, r ->> 2, (r ->> 3)::bigint, (r ->> 4)::bigint, r ->> 5 \
         FROM json_array_elements($1::json) AS r ON CONFLICT (id) DO NOTHING RETURNING id",
    insert_events_counted: "INSERT INTO events (id, device_id, kind, at, received_at, body) \
         SELECT r ->> 0, r ->> 1, r ->> 2, (r ->> 3)::bigint, (r ->> 4)::bigint, r ->> 5 \
         FROM json_array_elements($1::json) AS r ON CONFLICT (id) DO NOTHING",
    update_devices: concat!(
        update_devices_set!(),
        "FROM (SELECT r ->> 0 AS id, (r ->> 1)::bigint AS last_seen, (r ->> 2)::bigint AS skew_ms, \
             r ->> 3 AS readiness, (r ->> 4)::bigint AS readiness_at \
             FROM json_array_elements($1::json) AS r) AS v \
         WHERE devices.id = v.id"
    ),
    lost_contact: "SELECT d.id FROM json_array_elements_text($1::json) AS j(v) \
         JOIN devices AS d ON d.id = j.v WHERE d.signed_in = 0 AND d.shift_reason = $2",
};

/// Per-device state changes gathered from a batch.
#[derive(Default)]
struct DeviceDelta {
    last_seen: i64,
    skew_ms: Option<i64>,
    readiness: Option<(i64, Readiness)>,
}

/// Who holds each of these event ids already.
async fn owners(
    tx: &mut Tx<'_>,
    sql: &Sql,
    ids: &[String],
) -> anyhow::Result<HashMap<Uuid, String>> {
    let mut owner = HashMap::new();
    if ids.is_empty() {
        return Ok(owner);
    }
    for r in sqlx::query(sql.owners)
        .bind(json_list(ids.iter().map(String::as_str))?)
        .fetch_all(&mut **tx)
        .await?
    {
        let id: String = r.try_get("id")?;
        owner.insert(id.parse()?, r.try_get("device_id")?);
    }
    Ok(owner)
}

/// One JSON array of the strings, for a statement of [`Sql`].
fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> anyhow::Result<String> {
    Ok(serde_json::to_string(
        &items.into_iter().collect::<Vec<_>>(),
    )?)
}

/// The transaction the writer holds over one batch.
type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Per job: `None` while it may still be stored, else its refusal (an unknown or inactive
/// key), answered before anything is written.
type Verdicts = Vec<Option<AppError>>;

/// Per job: the events refused because their id is held by (or claimed in this transaction
/// for) another device.
type Foreign = Vec<HashSet<Uuid>>;

/// Writes the jobs in one transaction, one step per function below: resolve the keys, check
/// the event ids' owners (only when `precheck`), claim the new events, insert them, make sure
/// no id was already held for another device, then update the devices, reports and shift log.
async fn write_batch(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    jobs: &mut [Job],
    precheck: bool,
) -> anyhow::Result<Vec<Result<Written, AppError>>> {
    use sqlx::Connection;
    let sql = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &PG,
    };
    let mut tx = conn
        .begin_with(match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        })
        .await?;
    let verdicts = resolve_keys(&mut tx, sql, jobs).await?;
    let jobs: &[Job] = jobs;
    let owner = if precheck {
        owners(&mut tx, sql, &pending_event_ids(jobs, &verdicts)).await?
    } else {
        HashMap::new()
    };
    let (fresh, foreign) = claim_fresh(jobs, &owner, &verdicts);
    // Optimistic: every fresh event is new (the common case), so the insert answers a count,
    // not a row per event; when fewer went in (a retry of events HQ holds), the batch is
    // written again with the owners looked up first and the inserted ids returned.
    let inserted = match insert_events(&mut tx, sql, jobs, &fresh, precheck).await? {
        Some(ids) => ids,
        None => {
            tx.rollback().await?;
            return Err(ForeignEvents.into());
        }
    };
    if held_by_another_device(&mut tx, sql, jobs, &fresh, &inserted).await? {
        tx.rollback().await?;
        return Err(ForeignEvents.into());
    }
    let new_here = NewHere::new(&fresh, &inserted);
    let changes = gather_changes(jobs, &verdicts, &new_here);
    let lost = update_devices(&mut tx, sql, changes.deltas).await?;
    store_reports(&mut tx, &changes.reports).await?;
    store_shift_events(&mut tx, jobs, &changes.shift_events, &lost).await?;
    store_call_drops(&mut tx, jobs, &verdicts, &new_here).await?;
    let nh = &new_here;
    let new: Vec<(&str, &Event)> = (jobs.iter().enumerate())
        .filter(|(ji, _)| verdicts[*ji].is_none())
        .flat_map(|(ji, j)| {
            let new_of_job = j.events.iter().filter(move |e| nh.is(ji, e));
            new_of_job.map(move |e| (j.device_id.as_str(), e))
        })
        .collect();
    crate::samples::store(&mut tx, &new).await?;
    let postgres = backend == Backend::Postgres;
    crate::connectors::decide::after_events(&mut tx, postgres, &[], &new, crate::db::now_ms())
        .await?;
    let checks = check_requests(&mut tx, postgres, jobs, &verdicts).await?;
    tx.commit().await?;
    Ok(outcomes(jobs, verdicts, &foreign, &new_here, &checks))
}

/// Step 0. Whose keys are these? One query for the whole batch. Fills in each job's
/// `device_id` (and whether the device is signed out for lost contact); a job with an
/// unknown or inactive key gets its 401 here.
async fn resolve_keys(tx: &mut Tx<'_>, sql: &Sql, jobs: &mut [Job]) -> anyhow::Result<Verdicts> {
    let mut hashes: Vec<&str> = jobs.iter().map(|j| j.key_hash.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let mut devices: HashMap<String, (String, String, bool)> = HashMap::with_capacity(hashes.len());
    for r in sqlx::query(sql.devices_by_key)
        .bind(json_list(hashes)?)
        .fetch_all(&mut **tx)
        .await?
    {
        let lost = r.try_get::<i64, _>("signed_in")? == 0
            && r.try_get::<Option<String>, _>("shift_reason")?.as_deref()
                == Some(ShiftReason::LostContact.as_str());
        devices.insert(
            r.try_get("key_hash")?,
            (r.try_get("id")?, r.try_get("status")?, lost),
        );
    }
    let mut verdicts: Verdicts = Vec::with_capacity(jobs.len());
    for job in jobs.iter_mut() {
        verdicts.push(match devices.get(&job.key_hash) {
            None => Some(AppError::unknown_key()),
            Some((_, status, _)) if status != proto::DeviceStatus::Active.as_str() => {
                Some(AppError::inactive(status))
            }
            Some((id, _, lost)) => {
                job.device_id = id.clone();
                job.lost_contact = *lost;
                None
            }
        });
    }
    Ok(verdicts)
}

/// Step 1 (only when a batch must be checked first; the optimistic path learns the owners
/// from the insert): the ids of every event of the jobs still pending.
fn pending_event_ids(jobs: &[Job], verdicts: &Verdicts) -> Vec<String> {
    jobs.iter()
        .zip(verdicts)
        .filter(|(_, v)| v.is_none())
        .flat_map(|(j, _)| j.events.iter().map(|e| e.id.to_string()))
        .collect()
}

/// Step 2. Picks the new events, each claimed by the first job that carries it, as (job
/// index, event); an event whose id another device holds (or claimed first here) is refused
/// alone, and the job's other events go on.
fn claim_fresh<'j>(
    jobs: &'j [Job],
    owner: &HashMap<Uuid, String>,
    verdicts: &Verdicts,
) -> (Vec<(usize, &'j Event)>, Foreign) {
    let mut fresh: Vec<(usize, &Event)> = Vec::new();
    let mut foreign: Foreign = vec![HashSet::new(); jobs.len()];
    let mut claimed: HashMap<&Uuid, &str> = HashMap::new();
    for (ji, job) in jobs.iter().enumerate() {
        if verdicts[ji].is_some() {
            continue;
        }
        for e in &job.events {
            let held_by = owner
                .get(&e.id)
                .map(String::as_str)
                .or_else(|| claimed.get(&e.id).copied());
            match held_by {
                Some(d) if d != job.device_id => {
                    foreign[ji].insert(e.id);
                }
                Some(_) => {}
                None => {
                    claimed.insert(&e.id, &job.device_id);
                    fresh.push((ji, e));
                }
            }
        }
    }
    // Rows go in id order (and devices in id order), so concurrent writers take their locks
    // in the same order and cannot deadlock.
    fresh.sort_unstable_by_key(|(_, e)| e.id);
    (fresh, foreign)
}

/// Step 3. Inserts the new events in one statement; ids HQ already held are skipped. Returns
/// the ids actually inserted: with `returning`, as the database answers them; else only when
/// every one went in (the database answers a count), `None` when some did not.
async fn insert_events(
    tx: &mut Tx<'_>,
    sql: &Sql,
    jobs: &[Job],
    fresh: &[(usize, &Event)],
    returning: bool,
) -> anyhow::Result<Option<HashSet<Uuid>>> {
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(fresh.len());
    if fresh.is_empty() {
        return Ok(Some(inserted));
    }
    let mut rows = String::with_capacity(fresh.len() * 256);
    rows.push('[');
    for (n, (ji, e)) in fresh.iter().enumerate() {
        if n > 0 {
            rows.push(',');
        }
        let job = &jobs[*ji];
        let row = (
            e.id,
            job.device_id.as_str(),
            e.kind(),
            e.at.timestamp_millis(),
            job.received_at,
            serde_json::to_string(e)?,
        );
        rows.push_str(&serde_json::to_string(&row)?);
    }
    rows.push(']');
    if !returning {
        let n = sqlx::query(sql.insert_events_counted)
            .bind(rows)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if n as usize != fresh.len() {
            return Ok(None);
        }
        inserted.extend(fresh.iter().map(|(_, e)| e.id));
        return Ok(Some(inserted));
    }
    for r in sqlx::query(sql.insert_events)
        .bind(rows)
        .fetch_all(&mut **tx)
        .await?
    {
        let id: String = r.try_get("id")?;
        inserted.insert(id.parse()?);
    }
    Ok(Some(inserted))
}

/// Step 3b. Ids that were not inserted were held already (a retry, or another HQ process won a
/// race): fine if they are this device's own. True when one is another device's: the caller
/// then starts again, checking first.
async fn held_by_another_device(
    tx: &mut Tx<'_>,
    sql: &Sql,
    jobs: &[Job],
    fresh: &[(usize, &Event)],
    inserted: &HashSet<Uuid>,
) -> anyhow::Result<bool> {
    if inserted.len() >= fresh.len() {
        return Ok(false);
    }
    let held: Vec<String> = fresh
        .iter()
        .filter(|(_, e)| !inserted.contains(&e.id))
        .map(|(_, e)| e.id.to_string())
        .collect();
    let held_by = owners(tx, sql, &held).await?;
    Ok(fresh.iter().any(|(ji, e)| {
        !inserted.contains(&e.id)
            && held_by
                .get(&e.id)
                .is_some_and(|d| *d != jobs[*ji].device_id)
    }))
}

/// Whether an event is new for a job: inserted now, by the job that claimed it (a twin
/// request in the same transaction counts it a duplicate).
struct NewHere<'a> {
    inserted: &'a HashSet<Uuid>,
    claimed_by: HashMap<Uuid, usize>,
}

impl<'a> NewHere<'a> {
    fn new(fresh: &[(usize, &Event)], inserted: &'a HashSet<Uuid>) -> NewHere<'a> {
        NewHere {
            inserted,
            claimed_by: fresh.iter().map(|(ji, e)| (e.id, *ji)).collect(),
        }
    }

    fn is(&self, ji: usize, e: &Event) -> bool {
        self.inserted.contains(&e.id) && self.claimed_by.get(&e.id) == Some(&ji)
    }
}

/// What the new events change, per device.
struct Changes<'j> {
    deltas: HashMap<&'j str, DeviceDelta>,
    /// Per job, its new sign-ins, sign-outs and heartbeats in batch order.
    shift_events: Vec<(usize, Vec<&'j Event>)>,
    reports: Vec<(&'j Job, &'j Event, &'j Report)>,
}

/// Step 4. Gathers each device's new state from the jobs still pending. Readiness is the
/// latest event's, in the order HQ received them, except that an event dated before the one
/// that set it (a late arrival from a spool) does not override it; a date ahead of HQ's clock
/// counts as HQ's clock, so a future-dated event cannot freeze it.
fn gather_changes<'j>(jobs: &'j [Job], verdicts: &Verdicts, new_here: &NewHere) -> Changes<'j> {
    let mut c = Changes {
        deltas: HashMap::new(),
        shift_events: Vec::new(),
        reports: Vec::new(),
    };
    for (ji, job) in jobs.iter().enumerate() {
        if verdicts[ji].is_some() {
            continue;
        }
        let d = c.deltas.entry(job.device_id.as_str()).or_default();
        d.last_seen = d.last_seen.max(job.received_at);
        if job.skew_ms.is_some() {
            d.skew_ms = job.skew_ms;
        }
        let mut shift = Vec::new();
        for e in job.events.iter().filter(|e| new_here.is(ji, e)) {
            let readiness = match &e.body {
                EventBody::Report { report } => {
                    c.reports.push((job, e, report));
                    Some(report.readiness)
                }
                EventBody::Heartbeat { readiness, .. } => {
                    shift.push(e);
                    Some(*readiness)
                }
                EventBody::SignIn { readiness, .. } | EventBody::SignOut { readiness, .. } => {
                    shift.push(e);
                    Some(*readiness)
                }
                EventBody::Incident { .. }
                | EventBody::Sample { .. }
                | EventBody::CallDrop { .. } => None,
            };
            // Its time for ordering: the agent's, but never later than HQ's clock.
            let at = e.at.timestamp_millis().min(job.received_at);
            if let Some(r) = readiness {
                if d.readiness.is_none_or(|(t, _)| t <= at) {
                    d.readiness = Some((at, r));
                }
            }
        }
        if !shift.is_empty() {
            c.shift_events.push((ji, shift));
        }
    }
    c
}

/// Step 5. One UPDATE for every device touched, in id order.
async fn update_devices(
    tx: &mut Tx<'_>,
    sql: &Sql,
    deltas: HashMap<&str, DeviceDelta>,
) -> anyhow::Result<HashSet<String>> {
    if deltas.is_empty() {
        return Ok(HashSet::new());
    }
    let mut deltas: Vec<_> = deltas.into_iter().collect();
    deltas.sort_unstable_by_key(|(id, _)| *id);
    let rows: Vec<_> = deltas
        .iter()
        .map(|(id, d)| {
            (
                *id,
                d.last_seen,
                d.skew_ms,
                d.readiness.map(|(_, r)| r.as_str()),
                d.readiness.map(|(t, _)| t),
            )
        })
        .collect();
    sqlx::query(sql.update_devices)
        .bind(serde_json::to_string(&rows)?)
        .execute(&mut **tx)
        .await?;
    // The rows as they are now, under the row locks this transaction took with the update:
    // which devices are signed out for lost contact (rarely any, so the answer is a row or
    // none rather than one per device). Read here rather than from step 0's lookup, which a
    // lost-contact sweep committing in between (another HQ process on PostgreSQL) would leave
    // stale, making `contact_restored` one heartbeat late.
    let mut lost = HashSet::new();
    for r in sqlx::query(sql.lost_contact)
        .bind(json_list(deltas.iter().map(|(id, _)| *id))?)
        .bind(ShiftReason::LostContact.as_str())
        .fetch_all(&mut **tx)
        .await?
    {
        lost.insert(r.try_get("id")?);
    }
    Ok(lost)
}

/// Step 6. Reports: the latest received is kept on the device; figures go to the charts.
async fn store_reports(tx: &mut Tx<'_>, reports: &[(&Job, &Event, &Report)]) -> anyhow::Result<()> {
    for (job, e, report) in reports {
        let at = e.at.timestamp_millis();
        // The report itself lives in device_reports (migration 0012: the fleet's scans read
        // narrow device rows); the device keeps its readiness for the fleet's state.
        let newer = sqlx::query(
            "UPDATE devices SET report_readiness = $2, report_at = $3, problem = $4, \
             report_received_at = $5 \
             WHERE id = $1 AND (report_received_at IS NULL OR report_received_at <= $5)",
        )
        .bind(job.device_id.as_str())
        .bind(report.readiness.as_str())
        .bind(at)
        .bind(problem_of(report))
        .bind(job.received_at)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            > 0;
        if newer {
            sqlx::query(
                "INSERT INTO device_reports (device_id, report) VALUES ($1, $2) \
                 ON CONFLICT (device_id) DO UPDATE SET report = excluded.report",
            )
            .bind(job.device_id.as_str())
            .bind(serde_json::to_string(report)?)
            .execute(&mut **tx)
            .await?;
        }
        let s = sample_of(report);
        if s.iter().any(Option::is_some) {
            sqlx::query(
                "INSERT INTO samples (event_id, device_id, at, rtt_ms, jitter_ms, loss_pct, mos, \
                 noise_dbfs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(e.id.to_string())
            .bind(job.device_id.as_str())
            .bind(at)
            .bind(s[0])
            .bind(s[1])
            .bind(s[2])
            .bind(s[3])
            .bind(s[4])
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// The call-drop step (issue 15): each new `call_drop` into `call_drops` with HQ's verdict
/// ([`crate::drops`]).
async fn store_call_drops(
    tx: &mut Tx<'_>,
    jobs: &[Job],
    verdicts: &Verdicts,
    new_here: &NewHere<'_>,
) -> anyhow::Result<()> {
    for (ji, job) in jobs.iter().enumerate() {
        if verdicts[ji].is_some() {
            continue;
        }
        for e in job.events.iter().filter(|e| new_here.is(ji, e)) {
            if let EventBody::CallDrop { call_drop } = &e.body {
                crate::drops::insert(tx, &job.device_id, e, call_drop, job.received_at).await?;
            }
        }
    }
    Ok(())
}

/// Step 7. Shift events, per job in the order HQ received them: each goes in the log; it
/// changes the agent's signed-in state only when it is not dated before the device's previous
/// shift event (else it is flagged `out_of_order`). One from a clock more than
/// [`CLOCK_TOLERANCE_MS`] off HQ's is flagged `clock_off`, and its date never moves the
/// device's last shift time past HQ's clock, so a future date cannot freeze the state. A
/// job's last heartbeat saying "signed in" after a `lost_contact` sign-out signs the agent in
/// again, with reason `contact_restored`.
async fn store_shift_events(
    tx: &mut Tx<'_>,
    jobs: &[Job],
    shift_events: &[(usize, Vec<&Event>)],
    lost: &HashSet<String>,
) -> anyhow::Result<()> {
    for (ji, events) in shift_events {
        let job = &jobs[*ji];
        let device = job.device_id.as_str();
        let received = job.received_at;
        let skewed = job.skew_ms.is_some_and(|s| s.abs() > CLOCK_TOLERANCE_MS);
        let mut last_heartbeat = None;
        for e in events {
            let (signed_in, reason, readiness) = match &e.body {
                EventBody::SignIn { reason, readiness } => (1i64, reason, readiness),
                EventBody::SignOut { reason, readiness } => (0i64, reason, readiness),
                EventBody::Heartbeat {
                    readiness,
                    signed_in,
                } => {
                    last_heartbeat = Some((*e, *signed_in, *readiness));
                    continue;
                }
                _ => continue,
            };
            last_heartbeat = None;
            let at = e.at.timestamp_millis();
            let applied = sqlx::query(
                "UPDATE devices SET signed_in = $2, shift_at = $3, shift_reason = $4 \
                 WHERE id = $1 AND (shift_at IS NULL OR shift_at <= $5) RETURNING id",
            )
            .bind(device)
            .bind(signed_in)
            .bind(at.min(received))
            .bind(reason.as_str())
            .bind(at)
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
            let mut flags = Vec::new();
            if !applied {
                flags.push("out_of_order");
            }
            if skewed || at > received + CLOCK_TOLERANCE_MS {
                flags.push("clock_off");
            }
            sqlx::query(
                "INSERT INTO shift_log (device_id, kind, reason, at, readiness, event_id, \
                 received_at, flags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(device)
            .bind(e.kind())
            .bind(reason.as_str())
            .bind(at)
            .bind(readiness.as_str())
            .bind(e.id.to_string())
            .bind(received)
            .bind(flags.join(","))
            .execute(&mut **tx)
            .await?;
        }
        if let Some((hb, true, readiness)) =
            last_heartbeat.filter(|_| job.lost_contact || lost.contains(device))
        {
            restore_contact(
                tx,
                device,
                hb.at.timestamp_millis().min(received),
                received,
                readiness,
            )
            .await?;
        }
    }
    Ok(())
}

/// Signs an agent in again, with reason `contact_restored`, if it is still signed out for lost
/// contact (the conditional UPDATE claims it, so with several HQ processes it happens once).
/// `at` is its heartbeat's time, never before the lost-contact sign-out.
async fn restore_contact(
    tx: &mut Tx<'_>,
    device: &str,
    at: i64,
    received: i64,
    readiness: Readiness,
) -> anyhow::Result<()> {
    let row = sqlx::query(
        "UPDATE devices SET signed_in = 1, shift_reason = $3, \
         shift_at = CASE WHEN shift_at IS NULL OR shift_at < $2 THEN $2 ELSE shift_at END \
         WHERE id = $1 AND signed_in = 0 AND shift_reason = $4 RETURNING shift_at",
    )
    .bind(device)
    .bind(at)
    .bind(ShiftReason::ContactRestored.as_str())
    .bind(ShiftReason::LostContact.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let at: i64 = row.try_get("shift_at")?;
    sqlx::query(
        "INSERT INTO shift_log (device_id, kind, reason, at, readiness, received_at, flags) \
         VALUES ($1, 'sign_in', $2, $3, $4, $5, '')",
    )
    .bind(device)
    .bind(ShiftReason::ContactRestored.as_str())
    .bind(at)
    .bind(readiness.as_str())
    .bind(received)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Step 8. "Run the check now" ([`crate::api::check_now`]): the pending requests of the
/// batch's devices, each dropped when the device's report dated after it came with the batch
/// (its latest report, new or a retry), in one statement for the batch.
async fn check_requests(
    tx: &mut Tx<'_>,
    postgres: bool,
    jobs: &[Job],
    verdicts: &Verdicts,
) -> anyhow::Result<HashMap<String, i64>> {
    let mut report_at: HashMap<&str, Option<i64>> = HashMap::new();
    for (job, _) in jobs.iter().zip(verdicts).filter(|(_, v)| v.is_none()) {
        let latest = (job.events.iter())
            .filter(|e| matches!(e.body, EventBody::Report { .. }))
            .map(|e| e.at.timestamp_millis())
            .max();
        let r = report_at.entry(job.device_id.as_str()).or_default();
        *r = (*r).max(latest);
    }
    let mut devices: Vec<(&str, Option<i64>)> = report_at.into_iter().collect();
    devices.sort_unstable();
    crate::api::check_now::after_events(tx, postgres, &devices).await
}

/// Each job's answer: its refusal, or per event whether it is new, held already, or refused,
/// with the device's pending check request.
fn outcomes(
    jobs: &[Job],
    verdicts: Verdicts,
    foreign: &Foreign,
    new_here: &NewHere,
    checks: &HashMap<String, i64>,
) -> Vec<Result<Written, AppError>> {
    jobs.iter()
        .zip(verdicts)
        .enumerate()
        .map(|(ji, (job, v))| match v {
            Some(err) => Err(err),
            None => Ok((
                job.events
                    .iter()
                    .map(|e| {
                        if foreign[ji].contains(&e.id) {
                            Err(format!(
                                "`id`: the event {} belongs to another device; a device may send \
                             only its own events",
                                e.id
                            ))
                        } else {
                            Ok(new_here.is(ji, e))
                        }
                    })
                    .collect(),
                checks.get(&job.device_id).copied(),
            )),
        })
        .collect()
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
    use serde_json::json;

    fn hb() -> Event {
        Event::now(EventBody::Heartbeat {
            readiness: Readiness::Ready,
            signed_in: false,
        })
    }

    fn check(e: &Event) -> Result<Event, (Option<Uuid>, String)> {
        check_event(serde_json::to_value(e).unwrap(), crate::db::now_ms())
    }

    #[test]
    fn rejects_far_future_and_nil_alone() {
        let mut f = hb();
        f.at += chrono::Duration::days(2);
        let (id, err) = check(&f).unwrap_err();
        assert_eq!(id, Some(f.id));
        assert!(err.contains("`at`") && err.contains("future"), "{err}");
        let mut n = hb();
        n.id = Uuid::nil();
        assert!(check(&n).unwrap_err().1.contains("nil"));
        assert!(check(&hb()).is_ok());
    }

    #[test]
    fn a_call_drop_history_must_end_near_its_report() {
        let drop = |start: chrono::DateTime<chrono::Utc>, n: usize| {
            let mut s = proto::sample::Seconds {
                start,
                ..Default::default()
            };
            s.rtt_ms = vec![None; n];
            s.loss_up_pct = vec![None; n];
            s.loss_down_pct = vec![None; n];
            s.jitter_ms = vec![None; n];
            s.gateway_rtt_ms = vec![None; n];
            s.gateway_ok = vec![None; n];
            s.link_up = vec![None; n];
            s.wifi_signal_dbm = vec![None; n];
            s.headset = vec![None; n];
            Event::now(EventBody::CallDrop {
                call_drop: Box::new(proto::sample::CallDrop {
                    seconds: s,
                    ..Default::default()
                }),
            })
        };
        let now = chrono::Utc::now();
        assert!(check(&drop(now - chrono::Duration::seconds(900), 900)).is_ok());
        let far = check(&drop(chrono::DateTime::<chrono::Utc>::MAX_UTC, 1)).unwrap_err();
        assert!(far.1.contains("`call_drop.seconds.start`"), "{far:?}");
        assert!(check(&drop(now - chrono::Duration::hours(2), 10)).is_err());
        // No seconds at all (the daemon had nothing): its start is not judged.
        assert!(check(&drop(now - chrono::Duration::days(2), 0)).is_ok());
    }

    #[test]
    fn names_the_field_of_an_unreadable_event() {
        let now = crate::db::now_ms();
        let id = Uuid::new_v4();
        let (got, err) = check_event(
            json!({"id": id, "at": chrono::Utc::now(), "kind": "drop_tables"}),
            now,
        )
        .unwrap_err();
        assert_eq!(got, Some(id));
        assert!(
            err.contains("`kind`") && err.contains("drop_tables"),
            "{err}"
        );
        let (_, err) = check_event(
            json!({"id": id, "at": chrono::Utc::now(), "kind": "heartbeat",
                   "readiness": "bogus", "signed_in": true}),
            now,
        )
        .unwrap_err();
        assert!(
            err.starts_with("`readiness`: ") && err.contains("bogus"),
            "{err}"
        );
        let (_, err) = check_event(
            json!({"id": id, "at": chrono::Utc::now(), "kind": "report",
                   "report": {"schema": 1, "readiness": "ready",
                              "checks": {"os": {"status": "fine"}}}}),
            now,
        )
        .unwrap_err();
        assert!(err.starts_with("`report.checks.os.status`: "), "{err}");
        let (got, err) =
            check_event(json!({"id": "not-a-uuid", "kind": "heartbeat"}), now).unwrap_err();
        assert_eq!(got, None);
        assert!(err.contains("id"), "{err}");
        assert!(check_event(json!([1, 2]), now).is_err());
    }

    #[test]
    fn unknown_checks_and_metrics_are_kept_long_hints_cut() {
        let mut checks = std::collections::BTreeMap::new();
        checks.insert(
            "vpn".to_string(),
            proto::CheckResult::new(proto::Status::Warn, "x".repeat(5000)).with("tunnel_mtu", 1380),
        );
        let e = Event::now(EventBody::Report {
            report: Report::new(checks),
        });
        let got = check(&e).unwrap();
        let EventBody::Report { report } = got.body else {
            panic!()
        };
        assert_eq!(report.checks["vpn"].hint.chars().count(), MAX_TEXT_CHARS);
        assert_eq!(report.checks["vpn"].metric_f64("tunnel_mtu"), Some(1380.0));
    }

    #[test]
    fn rejects_inconsistent_report() {
        let mut checks = std::collections::BTreeMap::new();
        checks.insert(
            "os".to_string(),
            proto::CheckResult::new(proto::Status::Fail, "Update Windows."),
        );
        let mut report = Report::new(checks);
        report.readiness = Readiness::Ready;
        let e = Event::now(EventBody::Report { report });
        assert!(check(&e).unwrap_err().1.contains("says ready"));
    }

    #[test]
    fn incident_names_are_restricted_and_hq_reasons_refused() {
        let e = Event::now(EventBody::Incident {
            name: "x'; DROP TABLE events; --".into(),
            state: proto::event::IncidentState::Started,
            detail: String::new(),
            scope: None,
        });
        assert!(check(&e).is_err());
        let e = Event::now(EventBody::Incident {
            name: "vpn_down".into(),
            state: proto::event::IncidentState::Started,
            detail: String::new(),
            scope: None,
        });
        assert!(
            check(&e).is_ok(),
            "an incident name HQ does not know is kept"
        );
        let e = Event::now(EventBody::SignIn {
            reason: ShiftReason::Auto,
            readiness: Readiness::Ready,
        });
        assert!(check(&e).is_ok());
        for reason in [ShiftReason::LostContact, ShiftReason::ContactRestored] {
            let e = Event::now(EventBody::SignOut {
                reason,
                readiness: Readiness::Ready,
            });
            let err = check(&e).unwrap_err().1;
            assert!(
                err.contains("`reason`") && err.contains("only by HQ"),
                "{err}"
            );
        }
    }
}
