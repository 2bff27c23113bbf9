//! The durable event spool: every event is committed to a local SQLite file (WAL) before any
//! send and leaves it only when HQ acknowledged its id, so nothing measured is lost when HQ or
//! the connection is down, or when the daemon is killed.
//!
//! Delivery is at least once; HQ ingestion is idempotent on the event id, so HQ holds every
//! event exactly once. The spool is bounded in bytes: when full, heartbeats are thinned first
//! (every other one, oldest first), then the oldest reports and incidents go; sign-in and
//! sign-out events are never dropped. A spool file that SQLite finds corrupt is moved aside
//! (kept for inspection) and a fresh one started, so a bad file never makes a crash loop.

use anyhow::Context;
use proto::Event;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// The spool's default bound: 16 MiB holds weeks of heartbeats and hundreds of reports.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The durable spool.
#[derive(Debug, Clone)]
pub struct Spool {
    pool: SqlitePool,
    path: PathBuf,
    max_bytes: u64,
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
    pub heartbeats: u64,
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
";

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
                let aside = aside_name(path);
                std::fs::rename(path, &aside).with_context(|| {
                    format!("moving the corrupt spool {} aside", path.display())
                })?;
                let wal = sidecar(path, "-wal");
                if wal.exists() {
                    let _ = std::fs::rename(&wal, sidecar(&aside, "-wal"));
                }
                let _ = std::fs::remove_file(sidecar(path, "-shm"));
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
                pool,
                path: path.to_path_buf(),
                max_bytes,
            },
            opened,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits an event (idempotent on its id) and applies the bound.
    pub async fn push(&self, event: &Event) -> anyhow::Result<Dropped> {
        self.record(event, None).await
    }

    /// Commits an event together with the daemon's shift state, in one transaction: after a
    /// crash, the state and the events agree.
    pub async fn record(&self, event: &Event, state: Option<&str>) -> anyhow::Result<Dropped> {
        let body = serde_json::to_string(event)?;
        let mut tx = self.pool.begin().await.context("spool: begin")?;
        sqlx::query(
            "INSERT OR IGNORE INTO events (id, kind, shift, body, bytes) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(event.id.to_string())
        .bind(event.kind())
        .bind(event.body.is_shift_event())
        .bind(&body)
        .bind(body.len() as i64)
        .execute(&mut *tx)
        .await
        .context("spool: writing an event")?;
        if let Some(state) = state {
            sqlx::query("INSERT OR REPLACE INTO state (key, value) VALUES ('shift', ?)")
                .bind(state)
                .execute(&mut *tx)
                .await
                .context("spool: writing the shift state")?;
        }
        let dropped = self.enforce_bound(&mut tx).await?;
        tx.commit().await.context("spool: commit")?;
        if dropped != Dropped::default() {
            tracing::warn!(
                heartbeats = dropped.heartbeats,
                others = dropped.others,
                "the event spool is full ({} bytes): dropped old events; shift events are kept",
                self.max_bytes
            );
        }
        Ok(dropped)
    }

    async fn enforce_bound(&self, tx: &mut Transaction<'_, Sqlite>) -> anyhow::Result<Dropped> {
        let mut dropped = Dropped::default();
        let mut total: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(bytes), 0) FROM events")
            .fetch_one(&mut **tx)
            .await?;
        let max = self.max_bytes as i64;
        if total <= max {
            return Ok(dropped);
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
        // Then reports, then incidents, oldest first; never sign-in or sign-out.
        for kind in ["report", "incident"] {
            while total > max {
                let row = sqlx::query(
                    "SELECT seq, bytes FROM events WHERE kind = ? AND shift = 0 ORDER BY seq LIMIT 1",
                )
                .bind(kind)
                .fetch_optional(&mut **tx)
                .await?;
                let Some(row) = row else { break };
                let seq: i64 = row.get(0);
                let bytes: i64 = row.get(1);
                sqlx::query("DELETE FROM events WHERE seq = ?")
                    .bind(seq)
                    .execute(&mut **tx)
                    .await?;
                total -= bytes;
                dropped.others += 1;
            }
        }
        Ok(dropped)
    }

    /// The oldest `limit` events, oldest first.
    pub async fn peek(&self, limit: usize) -> anyhow::Result<Vec<Event>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM events ORDER BY seq LIMIT ?")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .context("spool: reading events")?;
        let mut out = Vec::with_capacity(rows.len());
        for body in rows {
            match serde_json::from_str::<Event>(&body) {
                Ok(e) => out.push(e),
                // Unreadable rows are logged and skipped, never a reason to stop delivery.
                Err(e) => tracing::error!("spool: an event could not be read back ({e}); skipped"),
            }
        }
        Ok(out)
    }

    /// Removes the events HQ acknowledged. Returns how many were removed.
    pub async fn ack(&self, ids: &[Uuid]) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for id in ids {
            n += sqlx::query("DELETE FROM events WHERE id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit()
            .await
            .context("spool: removing acknowledged events")?;
        Ok(n)
    }

    /// Events waiting.
    pub async fn len(&self) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Bytes of event bodies waiting (what the bound counts).
    pub async fn bytes(&self) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(bytes), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// The shift state last recorded with [`Spool::record`].
    pub async fn state(&self) -> anyhow::Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM state WHERE key = 'shift'")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn close(&self) {
        self.pool.close().await;
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
