//! The durable outbox: changes for outside systems (a contact-centre platform, alert messages),
//! written in the same transaction as the event that caused them, then delivered by a worker.
//!
//! A row is `(destination, ordering_key, kind, payload)`. Rows with the same ordering key (an
//! agent) are delivered one after another in the order they were written: a row is claimed
//! only when no earlier row of its key is still pending. A process claims rows with a lease
//! (`lease_owner`, `lease_until`; on PostgreSQL inside `FOR UPDATE SKIP LOCKED`, so several HQ
//! processes on one database never take the same row) and marks each done, or due again after
//! a backoff, when its delivery ends. HQ killed mid-delivery leaves the row leased: the next
//! process takes it again once the lease ran out (on SQLite, the only process, at once), so a
//! change is never lost; a receiver sees it again at most with the same idempotency key.
//! Delivery runs apart from ingest: a slow or failing destination never slows `/api/v1/events`.

use sqlx::AnyPool;
use sqlx::Row as _;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a claim holds a row: longer than any delivery may take (requests time out first).
pub const LEASE_MS: i64 = 60_000;
/// Rows delivered at the same time, at most, per process.
const IN_FLIGHT: usize = 32;
/// Delivered rows are kept this long (to see what was sent), then deleted.
const KEEP_DONE_MS: i64 = 7 * 86_400_000;
/// How often an idle worker looks for due rows.
const POLL: Duration = Duration::from_millis(200);
/// The first retry's delay and the longest one.
const BACKOFF_BASE_MS: f64 = 500.0;
const BACKOFF_CAP_MS: f64 = 300_000.0;

/// One claimed row.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub destination: String,
    pub ordering_key: String,
    pub kind: String,
    pub payload: String,
    /// Deliveries tried before this one.
    pub attempts: i64,
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Finished for good, with its outcome (`ok`, `skipped`, `rejected`) and a note.
    Done { outcome: &'static str, note: String },
    /// Try again after `after` (the destination's `Retry-After`, else [`backoff`]).
    Retry { after: Duration, error: String },
}

/// Delivers rows of the destinations it serves.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(&self, row: Row) -> impl Future<Output = Verdict> + Send;
}

/// Writes one row inside the caller's transaction (the one storing the event that caused it);
/// returns the row's id.
pub async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    destination: &str,
    ordering_key: &str,
    kind: &str,
    payload: &str,
    now: i64,
) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO outbox (destination, ordering_key, kind, payload, created_at, next_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(destination)
    .bind(ordering_key)
    .bind(kind)
    .bind(payload)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    Ok(id)
}

/// Claims up to `limit` due rows, each the oldest pending row of its ordering key, for
/// `owner` until `now + LEASE_MS`.
pub async fn claim(
    pool: &AnyPool,
    postgres: bool,
    owner: &str,
    now: i64,
    limit: i64,
) -> anyhow::Result<Vec<Row>> {
    claim_for(pool, postgres, "", owner, now, limit).await
}

/// [`claim`] of the rows whose destination starts with `prefix` (`connector:`, `alert:`): each
/// kind of destination has its own worker and deliverer.
pub async fn claim_for(
    pool: &AnyPool,
    postgres: bool,
    prefix: &str,
    owner: &str,
    now: i64,
    limit: i64,
) -> anyhow::Result<Vec<Row>> {
    let lock = if postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2 WHERE id IN (\
           SELECT o.id FROM outbox o WHERE o.done_at IS NULL AND o.next_at <= $3 \
           AND (o.lease_until IS NULL OR o.lease_until < $3) \
           AND substr(o.destination, 1, length($5)) = $5 \
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.ordering_key = o.ordering_key \
               AND p.done_at IS NULL AND p.id < o.id) \
           ORDER BY o.id LIMIT $4 {lock}) \
         RETURNING id, destination, ordering_key, kind, payload, attempts"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(now + LEASE_MS)
        .bind(now)
        .bind(limit)
        .bind(prefix)
        .fetch_all(pool)
        .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(Row {
                id: r.try_get("id")?,
                destination: r.try_get("destination")?,
                ordering_key: r.try_get("ordering_key")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<anyhow::Result<Vec<Row>>>()?;
    out.sort_by_key(|r| r.id);
    Ok(out)
}

/// Records how a claimed row's delivery ended (only while `owner` still holds it).
pub async fn finish(
    pool: &AnyPool,
    row: &Row,
    owner: &str,
    v: &Verdict,
    now: i64,
) -> anyhow::Result<()> {
    match v {
        Verdict::Done { outcome, note } => {
            sqlx::query(
                "UPDATE outbox SET done_at = $3, outcome = $4, last_error = $5, \
                 attempts = attempts + 1, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(row.id)
            .bind(owner)
            .bind(now)
            .bind(*outcome)
            .bind((!note.is_empty()).then_some(note.as_str()))
            .execute(pool)
            .await?;
        }
        Verdict::Retry { after, error } => {
            sqlx::query(
                "UPDATE outbox SET next_at = $3, last_error = $4, attempts = attempts + 1, \
                 lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(row.id)
            .bind(owner)
            .bind(now + after.as_millis() as i64)
            .bind(error.as_str())
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// SQLite has one HQ process: rows a killed process left leased (of destinations starting with
/// `prefix`, the ones this worker serves) are free again at its start.
pub async fn release_stale(pool: &AnyPool, postgres: bool, prefix: &str) -> anyhow::Result<u64> {
    if postgres {
        return Ok(0);
    }
    let r = sqlx::query(
        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL \
         WHERE done_at IS NULL AND lease_owner IS NOT NULL \
         AND substr(destination, 1, length($1)) = $1",
    )
    .bind(prefix)
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes rows delivered (or given up) more than `keep_ms` ago; pending rows are never deleted.
pub async fn prune(pool: &AnyPool, now: i64, keep_ms: i64) -> anyhow::Result<u64> {
    let r = sqlx::query("DELETE FROM outbox WHERE done_at IS NOT NULL AND done_at < $1")
        .bind(now - keep_ms)
        .execute(pool)
        .await?;
    Ok(r.rows_affected())
}

/// Rows not yet delivered, per destination.
pub async fn pending(pool: &AnyPool) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows = sqlx::query(
        "SELECT destination, COUNT(*) AS n FROM outbox WHERE done_at IS NULL GROUP BY destination",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("destination")?, r.try_get("n")?)))
        .collect()
}

/// The delay before retry number `attempts + 1`: exponential from 0.5 s, capped at 5 min,
/// with jitter (a random 50 to 100 % of it) so many rows failing together do not retry in step.
pub fn backoff(attempts: i64) -> Duration {
    let exp = BACKOFF_BASE_MS * 2f64.powi(attempts.clamp(0, 30) as i32);
    let full = exp.min(BACKOFF_CAP_MS);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let r = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX);
    Duration::from_millis((full * (0.5 + 0.5 * r)) as u64)
}

/// Delivers due rows of every destination with `deliverer` until `stop` fires: see [`run_for`].
pub async fn run<D: Deliver>(
    pool: AnyPool,
    postgres: bool,
    deliverer: Arc<D>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    run_for(pool, postgres, "", deliverer, stop).await
}

/// Delivers due rows whose destination starts with `prefix` with `deliverer` until `stop`
/// fires: claims what is due (never more than [`IN_FLIGHT`] at once), delivers each on its own
/// task, records the verdicts. One worker per kind of destination (`connector:`, `alert:`),
/// each with its deliverer, so neither takes the other's rows.
pub async fn run_for<D: Deliver>(
    pool: AnyPool,
    postgres: bool,
    prefix: &'static str,
    deliverer: Arc<D>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let owner = uuid::Uuid::new_v4().to_string();
    match release_stale(&pool, postgres, prefix).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "outbox: taking up changes left mid-delivery"),
        Err(e) => tracing::warn!("outbox: releasing old claims failed: {e:#}"),
    }
    let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_prune = 0;
    loop {
        while tasks.try_join_next().is_some() {}
        if now_ms() - last_prune > 3_600_000 {
            last_prune = now_ms();
            if let Err(e) = prune(&pool, last_prune, KEEP_DONE_MS).await {
                tracing::warn!("outbox: deleting old delivered changes failed: {e:#}");
            }
        }
        let free = IN_FLIGHT.saturating_sub(tasks.len());
        let mut claimed = 0;
        if free > 0 {
            match claim_for(&pool, postgres, prefix, &owner, now_ms(), free as i64).await {
                Ok(rows) => {
                    claimed = rows.len();
                    for row in rows {
                        if !busy
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(row.id)
                        {
                            continue;
                        }
                        let (pool, d, owner, busy) =
                            (pool.clone(), deliverer.clone(), owner.clone(), busy.clone());
                        tasks.spawn(async move {
                            let id = row.id;
                            let v = d.deliver(row.clone()).await;
                            if let Err(e) = finish(&pool, &row, &owner, &v, now_ms()).await {
                                tracing::warn!("outbox: recording delivery {id} failed: {e:#}");
                            }
                            busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                        });
                    }
                }
                Err(e) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!("outbox: claiming changes failed: {e:#}");
                }
            }
        }
        if claimed == 0 || tasks.len() >= IN_FLIGHT {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = stop.changed() => break,
            }
        } else if *stop.borrow() {
            break;
        }
    }
    // Deliveries under way finish (each is bounded by its request timeout), so nothing is left
    // leased on a clean stop.
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `shiftready_connector_pushes_total{platform,outcome}`: this process's deliveries.
#[derive(Debug, Default)]
pub struct PushCounts(Mutex<BTreeMap<(String, String), u64>>);

impl PushCounts {
    pub fn add(&self, platform: &str, outcome: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((platform.to_string(), outcome.to_string()))
            .or_default() += 1;
    }

    /// The counter in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        out.push_str(
            "# HELP shiftready_connector_pushes_total Agent states sent to contact-centre \
             platforms, by platform and outcome.\n\
             # TYPE shiftready_connector_pushes_total counter\n",
        );
        for ((platform, outcome), n) in self.0.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "shiftready_connector_pushes_total{{platform=\"{platform}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for a in 0..40 {
            let full = (BACKOFF_BASE_MS * 2f64.powi(a.min(30) as i32)).min(BACKOFF_CAP_MS);
            let b = backoff(a).as_millis() as f64;
            assert!(b >= full * 0.5 - 1.0 && b <= full + 1.0, "attempt {a}: {b}");
        }
        let spread: HashSet<u128> = (0..20).map(|_| backoff(6).as_millis()).collect();
        assert!(spread.len() > 1, "no jitter: {spread:?}");
    }
}
