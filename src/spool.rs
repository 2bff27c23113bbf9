//! The durable event spool: every event is committed to a local SQLite file (WAL) before any
//! send and leaves it only when HQ acknowledged its id, so nothing measured is lost when HQ or
//! the connection is down, or when the daemon is killed.
//!
//! Delivery is at least once; HQ ingestion is idempotent on the event id, so HQ holds every
//! event exactly once. The spool is bounded in bytes: when full, the per-minute `sample`s go
//! first (oldest first: the timeline loses its oldest minutes, never its newest), then
//! heartbeats are thinned (every other one, oldest first), then the oldest reports and
//! incidents go; sign-in and sign-out events and the `call_drop`s an agent reported are never
//! dropped. A spool file that SQLite finds corrupt is moved aside
//! (kept for inspection) and a fresh one started, so a bad file never makes a crash loop.

use anyhow::Context;
use proto::Event;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use uuid::Uuid;

/// The spool's default bound: 16 MiB holds weeks of heartbeats and hundreds of reports.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The durable spool. Clones share one file: when SQLite finds the file corrupt while the
/// daemon runs, every clone moves on to the fresh spool together.
#[derive(Debug, Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    max_bytes: u64,
    /// The open file and its generation (bumped each time a corrupt file is replaced).
    pool: RwLock<(u64, SqlitePool)>,
    /// Held while a corrupt file is being replaced, so only one caller replaces it.
    recovering: tokio::sync::Mutex<()>,
    /// A copy in memory of the events not yet acknowledged (those recorded by this process and
    /// those delivery read back), newest kept when over [`HELD_BYTES`]: recorded again into a
    /// fresh spool if the file goes bad before HQ has them.
    held: Mutex<Held>,
    /// The shift state last recorded, recorded again into a fresh spool.
    last_state: Mutex<Option<String>>,
    /// How many times a corrupt file was replaced while running.
    replaced: AtomicU64,
}

/// How much of the unacknowledged events the spool also keeps in memory (serialized bytes):
/// a few thousand heartbeats, more than a whole shift of them at one every 30 s.
pub const HELD_BYTES: usize = 1 << 20;

/// The in-memory copy of unacknowledged events, oldest first, bounded by [`HELD_BYTES`].
#[derive(Debug, Default)]
struct Held {
    events: std::collections::VecDeque<(Event, usize)>,
    ids: std::collections::HashSet<Uuid>,
    bytes: usize,
}

impl Held {
    fn add(&mut self, e: &Event) {
        if !self.ids.insert(e.id) {
            return;
        }
        let size = serde_json::to_string(e).map_or(0, |b| b.len());
        self.events.push_back((e.clone(), size));
        self.bytes += size;
        while self.bytes > HELD_BYTES {
            match self.events.pop_front() {
                Some((old, n)) => {
                    self.bytes -= n;
                    self.ids.remove(&old.id);
                }
                None => break,
            }
        }
    }

    fn remove(&mut self, ids: &[Uuid]) {
        let (bytes, held) = (&mut self.bytes, &mut self.ids);
        self.events.retain(|(e, n)| {
            let keep = !ids.contains(&e.id);
            if !keep {
                *bytes -= n;
                held.remove(&e.id);
            }
            keep
        });
    }

    fn events(&self) -> Vec<Event> {
        self.events.iter().map(|(e, _)| e.clone()).collect()
    }
}

/// What opening found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The file was there and sound (or did not exist yet).
    Fine,
    /// The file was corrupt and was moved to this path; the spool starts empty.
    MovedAside(PathBuf),
}

/// Why the drop policy removed events (for the log and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Per-minute `sample` events.
    pub samples: u64,
    pub heartbeats: u64,
    /// Reports and incidents.
    pub others: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    id    TEXT NOT NULL UNIQUE,
    kind  TEXT NOT NULL,
    shift INTEGER NOT NULL,
    body  TEXT NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id     TEXT PRIMARY KEY,
    body   TEXT NOT NULL,
    reason TEXT NOT NULL,
    at     TEXT NOT NULL
);
";

/// An event HQ refused for good, set aside by [`Spool::quarantine`]: kept (never sent again,
/// never dropped) for IT, with HQ's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub id: Uuid,
    /// The event as it was spooled (JSON).
    pub body: String,
    /// Why HQ refused it, in HQ's words.
    pub reason: String,
    /// When it was set aside (RFC 3339).
    pub at: String,
}

fn is_corruption(e: &sqlx::Error) -> bool {
    match e {
        // SQLITE_CORRUPT (11), SQLITE_NOTADB (26), and their extended codes.
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
            matches!(code & 0xff, 11 | 26)
                || db.message().contains("malformed")
                || db.message().contains("not a database")
        }
        _ => false,
    }
}

async fn open_pool(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .connect_with(opts)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&pool)
        .await?;
    if check != "ok" {
        pool.close().await;
        // Report it the way SQLite reports corruption, so the caller moves the file aside.
        return Err(sqlx::Error::Protocol(format!("quick_check: {check}")));
    }
    Ok(pool)
}

fn aside_name(path: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".corrupt-{stamp}-{}", std::process::id()));
    path.with_file_name(name)
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// How often a running daemon looks at its spool file with fresh eyes ([`Spool::verify`]).
pub const VERIFY_EVERY: Duration = Duration::from_secs(15);

/// Looks at the spool file as a new process would: its header, then its schema and the ends of
/// the events table through a new connection. The daemon's own connection serves pages from
/// its cache and its WAL, so damage to the file itself can stay invisible to it for a long
/// time; this finds it within [`VERIFY_EVERY`]. Cheap (a few pages), whatever the spool holds.
/// Returns only corruption; anything else (the file busy, say) is not this check's business.
async fn check_file(path: &Path) -> Result<(), sqlx::Error> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    match read {
        Ok(()) if &head == b"SQLite format 3\0" => {}
        Ok(()) => {
            return Err(sqlx::Error::Protocol(
                "the file no longer starts with SQLite's header".into(),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(sqlx::Error::Protocol(
                "the file is shorter than SQLite's header".into(),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(sqlx::Error::Protocol("the file is gone".into()));
        }
        Err(_) => return Ok(()),
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(1));
    let result = async {
        let mut c = sqlx::ConnectOptions::connect(&opts).await?;
        let r = async {
            let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master")
                .fetch_one(&mut c)
                .await?;
            let _: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events")
                .fetch_one(&mut c)
                .await?;
            let _: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
                .fetch_one(&mut c)
                .await?;
            let _: Option<String> =
                sqlx::query_scalar("SELECT value FROM state WHERE key = 'shift'")
                    .fetch_optional(&mut c)
                    .await?;
            Ok::<(), sqlx::Error>(())
        }
        .await;
        let _ = sqlx::Connection::close(c).await;
        r
    }
    .await;
    match result {
        Err(e) if is_corruption(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Moves a corrupt spool file (and its WAL) aside, keeping it for IT; returns the new name.
fn move_aside(path: &Path) -> anyhow::Result<PathBuf> {
    let aside = aside_name(path);
    if !path.exists() {
        // Deleted under us: nothing to keep, the fresh spool takes its place.
        let _ = std::fs::remove_file(sidecar(path, "-wal"));
        let _ = std::fs::remove_file(sidecar(path, "-shm"));
        return Ok(aside);
    }
    std::fs::rename(path, &aside)
        .with_context(|| format!("moving the corrupt spool {} aside", path.display()))?;
    let wal = sidecar(path, "-wal");
    if wal.exists() {
        let _ = std::fs::rename(&wal, sidecar(&aside, "-wal"));
    }
    let _ = std::fs::remove_file(sidecar(path, "-shm"));
    Ok(aside)
}

async fn insert_event(tx: &mut Transaction<'_, Sqlite>, event: &Event) -> Result<(), sqlx::Error> {
    let body = serde_json::to_string(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT OR IGNORE INTO events (id, kind, shift, body, bytes) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(event.id.to_string())
    .bind(event.kind())
    .bind(event.body.is_shift_event())
    .bind(&body)
    .bind(body.len() as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_state(tx: &mut Transaction<'_, Sqlite>, state: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT OR REPLACE INTO state (key, value) VALUES ('shift', ?)")
        .bind(state)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The oldest event of `kind` that the bound may drop: its sequence number and size.
async fn oldest(
    tx: &mut Transaction<'_, Sqlite>,
    kind: &str,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT seq, bytes FROM events WHERE kind = ? AND shift = 0 ORDER BY seq LIMIT 1",
    )
    .bind(kind)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

async fn delete_seq(tx: &mut Transaction<'_, Sqlite>, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM events WHERE seq = ?")
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Spool {
    /// Opens (or creates) the spool at `path`. A corrupt file is moved aside with a clear
    /// log line and a fresh spool is started; only errors that a new file cannot fix (no
    /// permission, disk full) are returned.
    pub async fn open(path: &Path, max_bytes: u64) -> anyhow::Result<(Spool, Opened)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the spool directory {}", dir.display()))?;
        }
        let (pool, opened) = match open_pool(path).await {
            Ok(pool) => (pool, Opened::Fine),
            Err(e) if is_corruption(&e) || matches!(e, sqlx::Error::Protocol(_)) => {
                let aside = move_aside(path)?;
                tracing::error!(
                    "the event spool {} was corrupt ({e}); moved it to {} and started a fresh \
                     one. Events in it that HQ had not acknowledged are lost unless IT recovers \
                     them from that file.",
                    path.display(),
                    aside.display()
                );
                let pool = open_pool(path)
                    .await
                    .with_context(|| format!("starting a fresh spool at {}", path.display()))?;
                (pool, Opened::MovedAside(aside))
            }
            Err(e) => {
                return Err(e).with_context(|| format!("opening the spool {}", path.display()));
            }
        };
        Ok((
            Spool {
                inner: Arc::new(Inner {
                    path: path.to_path_buf(),
                    max_bytes,
                    pool: RwLock::new((0, pool)),
                    recovering: tokio::sync::Mutex::new(()),
                    held: Mutex::new(Held::default()),
                    last_state: Mutex::new(None),
                    replaced: AtomicU64::new(0),
                }),
            },
            opened,
        ))
    }

    fn current(&self) -> (u64, SqlitePool) {
        let g = self.inner.pool.read().unwrap_or_else(|p| p.into_inner());
        (g.0, g.1.clone())
    }

    /// How many times a file found corrupt while running was replaced by a fresh one.
    pub fn replaced(&self) -> u64 {
        self.inner.replaced.load(Ordering::Relaxed)
    }

    /// Replaces the file of generation `failed` (which SQLite just found corrupt) by a fresh
    /// spool holding what this process still has in memory: the shift state and its copy of
    /// the unacknowledged events (up to [`HELD_BYTES`]). Never panics; an error here means no spool file can be created.
    async fn replace_corrupt(&self, failed: u64, cause: &sqlx::Error) -> anyhow::Result<()> {
        let _one = self.inner.recovering.lock().await;
        let (generation, old) = self.current();
        if generation != failed {
            return Ok(()); // another caller already replaced it
        }
        old.close().await;
        let path = &self.inner.path;
        let aside = move_aside(path)?;
        let pool = open_pool(path)
            .await
            .with_context(|| format!("starting a fresh spool at {}", path.display()))?;
        let state = self
            .inner
            .last_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let held: Vec<Event> = self.held().events();
        let mut tx = pool.begin().await?;
        for e in &held {
            insert_event(&mut tx, e).await?;
        }
        if let Some(state) = &state {
            insert_state(&mut tx, state).await?;
        }
        tx.commit().await?;
        *self.inner.pool.write().unwrap_or_else(|p| p.into_inner()) = (generation + 1, pool);
        self.inner.replaced.fetch_add(1, Ordering::Relaxed);
        let moved = if aside.exists() {
            format!("moved it to {}", aside.display())
        } else {
            "it was gone".to_string()
        };
        tracing::error!(
            "the event spool {} became corrupt while running ({cause}); {moved} and started a \
             fresh one, recording again the {} events and the shift state held in memory. \
             Other events in the old file that HQ had not acknowledged are lost unless IT \
             recovers them from it.",
            path.display(),
            held.len()
        );
        Ok(())
    }

    /// Checks the file with fresh eyes (see [`check_file`]) and, when it is damaged, replaces
    /// it by a fresh spool holding what is in memory. Returns whether it replaced the file.
    pub async fn verify(&self) -> anyhow::Result<bool> {
        let (generation, _) = self.current();
        match check_file(&self.inner.path).await {
            Ok(()) => Ok(false),
            Err(e) => {
                self.replace_corrupt(generation, &e).await?;
                Ok(true)
            }
        }
    }

    /// Runs [`Spool::verify`] every [`VERIFY_EVERY`], for as long as the daemon runs.
    pub async fn watch(self) {
        let mut tick = tokio::time::interval(VERIFY_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = self.verify().await {
                tracing::error!("spool: {e:#}");
            }
        }
    }

    /// Runs `op` on the spool; when SQLite says the file is corrupt, replaces it by a fresh one
    /// (see [`Spool::replace_corrupt`]) and runs `op` once more there.
    async fn with_recovery<T, F, Fut>(&self, what: &'static str, op: F) -> anyhow::Result<T>
    where
        F: Fn(SqlitePool) -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        let (generation, pool) = self.current();
        match op(pool).await {
            Ok(v) => Ok(v),
            // Another caller replaced a corrupt file while this one waited on the old one.
            Err(_) if self.current().0 != generation => {
                let (_, pool) = self.current();
                op(pool)
                    .await
                    .with_context(|| format!("spool: {what} (in the fresh spool)"))
            }
            Err(e) if is_corruption(&e) => {
                self.replace_corrupt(generation, &e)
                    .await
                    .with_context(|| format!("spool: {what}: the file is corrupt ({e})"))?;
                let (_, pool) = self.current();
                op(pool)
                    .await
                    .with_context(|| format!("spool: {what} (in the fresh spool)"))
            }
            Err(e) => Err(e).with_context(|| format!("spool: {what}")),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.inner.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits an event (idempotent on its id) and applies the bound.
    pub async fn push(&self, event: &Event) -> anyhow::Result<Dropped> {
        self.record(event, None).await
    }

    /// Commits an event together with the daemon's shift state, in one transaction: after a
    /// crash, the state and the events agree.
    pub async fn record(&self, event: &Event, state: Option<&str>) -> anyhow::Result<Dropped> {
        let dropped = self
            .with_recovery("writing an event", move |pool: SqlitePool| async move {
                let mut tx = pool.begin().await?;
                insert_event(&mut tx, event).await?;
                if let Some(state) = state {
                    insert_state(&mut tx, state).await?;
                }
                let dropped = self.enforce_bound(&mut tx).await?;
                tx.commit().await?;
                Ok(dropped)
            })
            .await?;
        self.held().add(event);
        if let Some(state) = state {
            *self
                .inner
                .last_state
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(state.to_string());
        }
        if dropped != Dropped::default() {
            tracing::warn!(
                samples = dropped.samples,
                heartbeats = dropped.heartbeats,
                others = dropped.others,
                "the event spool is full ({} bytes): dropped old events; shift events are kept",
                self.inner.max_bytes
            );
        }
        Ok(dropped)
    }

    async fn enforce_bound(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
    ) -> Result<Dropped, sqlx::Error> {
        let mut dropped = Dropped::default();
        let mut total: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(bytes), 0) FROM events")
            .fetch_one(&mut **tx)
            .await?;
        let max = self.inner.max_bytes as i64;
        if total <= max {
            return Ok(dropped);
        }
        // Samples first, oldest first: the most recent minutes of the timeline are the ones
        // IT looks at.
        while total > max {
            let Some((seq, bytes)) = oldest(tx, "sample").await? else {
                break;
            };
            delete_seq(tx, seq).await?;
            total -= bytes;
            dropped.samples += 1;
        }
        // Heartbeats: drop every other one, oldest first, pass after pass.
        loop {
            let rows =
                sqlx::query("SELECT seq, bytes FROM events WHERE kind = 'heartbeat' ORDER BY seq")
                    .fetch_all(&mut **tx)
                    .await?;
            if rows.is_empty() || total <= max {
                break;
            }
            let step = if rows.len() == 1 { 1 } else { 2 };
            for row in rows.iter().step_by(step) {
                if total <= max {
                    break;
                }
                let seq: i64 = row.get(0);
                let bytes: i64 = row.get(1);
                sqlx::query("DELETE FROM events WHERE seq = ?")
                    .bind(seq)
                    .execute(&mut **tx)
                    .await?;
                total -= bytes;
                dropped.heartbeats += 1;
            }
        }
        // Then reports, then incidents, oldest first; never sign-in or sign-out, never a
        // `call_drop` (the agent asked for it to reach IT).
        for kind in ["report", "incident"] {
            while total > max {
                let Some((seq, bytes)) = oldest(tx, kind).await? else {
                    break;
                };
                delete_seq(tx, seq).await?;
                total -= bytes;
                dropped.others += 1;
            }
        }
        Ok(dropped)
    }

    /// The oldest `limit` events, oldest first.
    pub async fn peek(&self, limit: usize) -> anyhow::Result<Vec<Event>> {
        let rows: Vec<String> = self
            .with_recovery("reading events", move |pool: SqlitePool| async move {
                sqlx::query_scalar("SELECT body FROM events ORDER BY seq LIMIT ?")
                    .bind(limit as i64)
                    .fetch_all(&pool)
                    .await
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for body in rows {
            match serde_json::from_str::<Event>(&body) {
                Ok(e) => out.push(e),
                // Unreadable rows are logged and skipped, never a reason to stop delivery.
                Err(e) => tracing::error!("spool: an event could not be read back ({e}); skipped"),
            }
        }
        let mut held = self.held();
        for e in &out {
            held.add(e);
        }
        drop(held);
        Ok(out)
    }

    /// Removes the events HQ acknowledged. Returns how many were removed.
    pub async fn ack(&self, ids: &[Uuid]) -> anyhow::Result<u64> {
        // HQ holds these now: a fresh spool need not record them again.
        self.held().remove(ids);
        self.with_recovery(
            "removing acknowledged events",
            move |pool: SqlitePool| async move {
                let mut tx = pool.begin().await?;
                let mut n = 0;
                for id in ids {
                    n += sqlx::query("DELETE FROM events WHERE id = ?")
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(n)
            },
        )
        .await
    }

    /// Moves events HQ refused for good (`id`, HQ's reason) from the queue to the quarantine
    /// table, in one transaction: they are no longer sent, and kept with the reason. Returns
    /// how many were moved (an id no longer queued is skipped).
    pub async fn quarantine(&self, refused: &[(Uuid, String)]) -> anyhow::Result<u64> {
        let ids: Vec<Uuid> = refused.iter().map(|(id, _)| *id).collect();
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let n = self
            .with_recovery("setting refused events aside", move |pool: SqlitePool| {
                let at = at.clone();
                async move {
                    let mut tx = pool.begin().await?;
                    let mut n = 0;
                    for (id, reason) in refused {
                        let moved = sqlx::query(
                            "INSERT OR REPLACE INTO quarantine (id, body, reason, at) \
                                 SELECT id, body, ?, ? FROM events WHERE id = ?",
                        )
                        .bind(reason)
                        .bind(&at)
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        sqlx::query("DELETE FROM events WHERE id = ?")
                            .bind(id.to_string())
                            .execute(&mut *tx)
                            .await?;
                        n += moved;
                    }
                    tx.commit().await?;
                    Ok(n)
                }
            })
            .await?;
        self.held().remove(&ids);
        Ok(n)
    }

    /// How many events are set aside in the quarantine.
    pub async fn quarantined(&self) -> anyhow::Result<u64> {
        self.count("counting refused events", "SELECT COUNT(*) FROM quarantine")
            .await
    }

    /// One number from the spool (`sql` selects a single integer), as the recovery wrapper
    /// runs every read.
    async fn count(&self, what: &'static str, sql: &'static str) -> anyhow::Result<u64> {
        let n: i64 = self
            .with_recovery(what, move |pool: SqlitePool| async move {
                sqlx::query_scalar(sql).fetch_one(&pool).await
            })
            .await?;
        Ok(n as u64)
    }

    /// The events set aside, oldest first.
    pub async fn quarantined_events(&self) -> anyhow::Result<Vec<Quarantined>> {
        let rows = self
            .with_recovery(
                "reading refused events",
                move |pool: SqlitePool| async move {
                    sqlx::query("SELECT id, body, reason, at FROM quarantine ORDER BY at, rowid")
                        .fetch_all(&pool)
                        .await
                },
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(Quarantined {
                    id: r.get::<String, _>(0).parse().ok()?,
                    body: r.get(1),
                    reason: r.get(2),
                    at: r.get(3),
                })
            })
            .collect())
    }

    /// Events waiting.
    pub async fn len(&self) -> anyhow::Result<u64> {
        self.count("counting events", "SELECT COUNT(*) FROM events")
            .await
    }

    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Bytes of event bodies waiting (what the bound counts).
    pub async fn bytes(&self) -> anyhow::Result<u64> {
        self.count(
            "counting bytes",
            "SELECT COALESCE(SUM(bytes), 0) FROM events",
        )
        .await
    }

    /// The shift state last recorded with [`Spool::record`].
    pub async fn state(&self) -> anyhow::Result<Option<String>> {
        let state: Option<String> = self
            .with_recovery(
                "reading the shift state",
                move |pool: SqlitePool| async move {
                    sqlx::query_scalar("SELECT value FROM state WHERE key = 'shift'")
                        .fetch_optional(&pool)
                        .await
                },
            )
            .await?;
        if state.is_some() {
            self.inner
                .last_state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone_from(&state);
        }
        Ok(state)
    }

    pub async fn close(&self) {
        self.current().1.close().await;
    }
}

/// Retry delay after `attempt` failures (0-based): exponential from `base`, capped at `cap`,
/// with "equal jitter" (half fixed, half random by `unit` in `0..1`) so that many agents
/// coming back after an HQ outage do not retry in lockstep.
pub fn backoff_delay(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(20)).min(cap);
    let half = exp / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// Backoff state for the delivery loop.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub attempt: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            attempt: 0,
            base,
            cap,
        }
    }

    /// The delay before the next try after a failure.
    pub fn fail(&mut self) -> Duration {
        let d = backoff_delay(self.attempt, self.base, self.cap, fastrand::f64());
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    pub fn succeed(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_in_memory_is_bounded_keeps_the_newest_and_forgets_acknowledged_ones() {
        use proto::Readiness;
        use proto::event::EventBody;
        let mut held = Held::default();
        let events: Vec<Event> = (0..10_000)
            .map(|_| {
                Event::now(EventBody::Heartbeat {
                    readiness: Readiness::Ready,
                    signed_in: true,
                })
            })
            .collect();
        for e in &events {
            held.add(e);
            held.add(e); // twice: kept once
        }
        assert!(held.bytes <= HELD_BYTES, "{}", held.bytes);
        let kept = held.events();
        assert!(
            kept.len() > 1000 && kept.len() < events.len(),
            "{}",
            kept.len()
        );
        assert_eq!(kept.len(), held.ids.len());
        // The newest ones, in order.
        assert_eq!(kept[..], events[events.len() - kept.len()..]);
        let gone = [kept[0].id, kept[kept.len() - 1].id];
        let before = held.bytes;
        held.remove(&gone);
        assert_eq!(held.events().len(), kept.len() - 2);
        assert!(held.bytes < before);
        assert!(!held.ids.contains(&gone[0]) && !held.ids.contains(&gone[1]));
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn sample() -> Event {
        Event::now(proto::EventBody::Sample {
            sample: proto::sample::MinuteSample {
                seconds: 60,
                rtt_p50_ms: Some(21.5),
                rtt_p95_ms: Some(30.25),
                link: Some("wifi".into()),
                wifi_signal_dbm: Some(-61),
                headset: Some(true),
                noise_class: Some("quiet".into()),
                ..Default::default()
            },
        })
    }

    fn heartbeat() -> Event {
        Event::now(proto::EventBody::Heartbeat {
            readiness: proto::Readiness::Ready,
            signed_in: true,
        })
    }

    /// A `call_drop` carrying `n` seconds of history (about 20 KB for 900).
    fn call_drop(n: usize) -> Event {
        let s = proto::sample::Seconds {
            start: chrono::Utc::now(),
            rtt_ms: vec![Some(20.5); n],
            loss_up_pct: vec![Some(0.0); n],
            loss_down_pct: vec![Some(0.0); n],
            jitter_ms: vec![Some(1.25); n],
            gateway_rtt_ms: vec![Some(1.5); n],
            gateway_ok: vec![Some(true); n],
            link_up: vec![Some(true); n],
            wifi_signal_dbm: vec![Some(-60); n],
            headset: vec![Some(true); n],
        };
        Event::now(proto::EventBody::CallDrop {
            call_drop: Box::new(proto::sample::CallDrop {
                note: "customer cut off".into(),
                seconds: s,
                ..Default::default()
            }),
        })
    }

    /// Full: the per-minute samples go first, oldest first (the newest minutes survive, in a
    /// row), and only once none is left are heartbeats thinned; a `call_drop` and the shift
    /// events are never dropped, even when only they are left over the bound.
    #[test]
    fn a_full_spool_drops_samples_oldest_first_then_heartbeats_never_call_drops() {
        let dir = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let max = 64 * 1024;
            let (spool, _) = Spool::open(&dir.path().join("spool.db"), max)
                .await
                .unwrap();
            let sign_in = Event::now(proto::EventBody::SignIn {
                reason: proto::ShiftReason::Auto,
                readiness: proto::Readiness::Ready,
            });
            let drop = call_drop(900);
            spool.push(&sign_in).await.unwrap();
            spool.push(&drop).await.unwrap();
            let samples: Vec<Event> = (0..60).map(|_| sample()).collect();
            for e in &samples {
                spool.push(e).await.unwrap();
            }
            let mut hb = 0;
            // Heartbeats until the bound starts dropping: only samples go.
            let first = loop {
                let d = spool.push(&heartbeat()).await.unwrap();
                hb += 1;
                assert!(hb < 10_000, "the bound was never reached");
                if d != Dropped::default() {
                    break d;
                }
            };
            assert!(first.samples > 0 && first.heartbeats == 0, "{first:?}");
            let held = spool.peek(100_000).await.unwrap();
            let ids: Vec<Uuid> = held
                .iter()
                .filter(|e| e.kind() == "sample")
                .map(|e| e.id)
                .collect();
            let kept: Vec<Uuid> = samples[samples.len() - ids.len()..]
                .iter()
                .map(|e| e.id)
                .collect();
            assert_eq!(ids, kept, "the newest samples survive, in order");
            assert_eq!(held.iter().filter(|e| e.kind() == "heartbeat").count(), hb);
            // More heartbeats: every sample goes before the first heartbeat does.
            loop {
                let d = spool.push(&heartbeat()).await.unwrap();
                if d.heartbeats > 0 {
                    let held = spool.peek(100_000).await.unwrap();
                    assert!(!held.iter().any(|e| e.kind() == "sample"), "{d:?}");
                    break;
                }
            }
            // call_drops beyond the bound: the other events go, every call_drop stays.
            let drops: Vec<Event> = (0..5).map(|_| call_drop(900)).collect();
            for e in &drops {
                spool.push(e).await.unwrap();
            }
            let held = spool.peek(100_000).await.unwrap();
            for e in drops.iter().chain([&drop, &sign_in]) {
                assert!(held.iter().any(|h| h.id == e.id), "{} dropped", e.kind());
            }
            assert!(
                spool.bytes().await.unwrap() > max,
                "only kept kinds are left"
            );
            assert!(
                held.iter()
                    .all(|e| matches!(e.kind(), "call_drop" | "sign_in")),
                "{:?}",
                held.iter().map(Event::kind).collect::<Vec<_>>()
            );
        });
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let b = Duration::from_secs(1);
        let cap = Duration::from_secs(300);
        assert_eq!(backoff_delay(0, b, cap, 0.0), Duration::from_millis(500));
        assert_eq!(backoff_delay(0, b, cap, 1.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(3, b, cap, 0.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(3, b, cap, 1.0), Duration::from_secs(8));
        assert_eq!(backoff_delay(30, b, cap, 1.0), cap);
        assert_eq!(backoff_delay(30, b, cap, 0.0), cap / 2);
    }
}
