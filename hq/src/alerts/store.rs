//! The alert tables (migration 0010): a site's alert file, the alerts with their deliveries for
//! the history page and API, and the address prefixes incidents came from.

use super::config::AlertConfig;
use crate::db::Db;
use serde::Serialize;
use sqlx::Row as _;
use std::collections::BTreeMap;

/// Stores a site's alert file (replacing its old one).
pub async fn set(db: &Db, site: &str, cfg: &AlertConfig) -> anyhow::Result<()> {
    db.ensure_site(site).await?;
    sqlx::query(
        "INSERT INTO alert_configs (site, config, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (site) DO UPDATE SET config = $2, updated_at = $3",
    )
    .bind(site)
    .bind(serde_json::to_string(cfg)?)
    .bind(crate::db::now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// What [`unset`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unset {
    /// The site had an alert file (else nothing changed).
    pub had_rules: bool,
    /// Its open alerts, closed without a resolved message (no receiver is left to tell).
    pub closed: u64,
}

/// Removes a site's alert file (`alert unset`): its rules stop being evaluated, its open
/// alerts are closed (resolved now: with no rules none would ever resolve), and what its
/// conditions were waiting for is forgotten. The history stays (until `--keep-alerts-days`);
/// messages still in the outbox end `failed` ("no longer in the alert file") as after a
/// receiver is removed.
pub async fn unset(db: &Db, site: &str, now: i64) -> anyhow::Result<Unset> {
    let mut tx = db.pool.begin().await?;
    let had_rules = sqlx::query("DELETE FROM alert_configs WHERE site = $1")
        .bind(site)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    let closed =
        sqlx::query("UPDATE alerts SET resolved_at = $2 WHERE site = $1 AND resolved_at IS NULL")
            .bind(site)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    sqlx::query("DELETE FROM alert_pending WHERE site = $1")
        .bind(site)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Unset { had_rules, closed })
}

/// A site's alert file, as stored.
pub async fn load(db: &Db, site: &str) -> anyhow::Result<Option<AlertConfig>> {
    let row = sqlx::query("SELECT config FROM alert_configs WHERE site = $1")
        .bind(site)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("config")?)?))
        .transpose()
}

/// Every site's alert file, by site.
pub async fn all(db: &Db) -> anyhow::Result<Vec<(String, AlertConfig, i64)>> {
    let rows = sqlx::query("SELECT site, config, updated_at FROM alert_configs ORDER BY site")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("site")?,
                serde_json::from_str(&r.try_get::<String, _>("config")?)?,
                r.try_get("updated_at")?,
            ))
        })
        .collect()
}

/// Records the public address prefix HQ saw each of these newly stored incident events come
/// from (a batch's incidents: few; heartbeats never write here).
pub async fn note_addresses(
    db: &Db,
    ip: std::net::IpAddr,
    events: &[(uuid::Uuid, i64)],
) -> anyhow::Result<()> {
    let prefix = super::rules::address_prefix(ip);
    for (id, at) in events {
        sqlx::query(
            "INSERT INTO event_addrs (event_id, prefix, at) VALUES ($1, $2, $3) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(&prefix)
        .bind(*at)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// One delivery of a message to a receiver.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    /// `firing`, `resolved` or `test`.
    pub message: String,
    pub receiver: String,
    pub receiver_kind: String,
    /// `pending`, `sent`, `retrying` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: String,
}

/// One alert with its deliveries.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub id: String,
    pub key: String,
    pub rule: String,
    pub site: String,
    pub subject: String,
    pub summary: String,
    pub details: Vec<String>,
    pub agents: Vec<super::rules::AgentRef>,
    pub opened_at: String,
    pub resolved_at: Option<String>,
    pub deliveries: Vec<Delivery>,
    #[serde(skip)]
    pub opened_ms: i64,
    #[serde(skip)]
    pub resolved_ms: Option<i64>,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The stored detail of an alert: its lines and agents.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Detail {
    #[serde(default)]
    pub lines: Vec<String>,
    #[serde(default)]
    pub agents: Vec<super::rules::AgentRef>,
}

/// Alerts opened in `[from, to)` or still open then (newest first, at most `limit`), optionally
/// of one site, with every delivery of each.
pub async fn history(
    db: &Db,
    from: i64,
    to: i64,
    site: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<AlertRow>> {
    let rows = sqlx::query(
        "SELECT id, alert_key, rule, site, subject, summary, detail, opened_at, resolved_at \
         FROM alerts WHERE opened_at < $2 AND (resolved_at IS NULL OR resolved_at >= $1) \
         AND ($3 = '' OR site = $3) ORDER BY opened_at DESC, id LIMIT $4",
    )
    .bind(from)
    .bind(to)
    .bind(site.unwrap_or(""))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut index = BTreeMap::new();
    for r in &rows {
        let detail: Detail =
            serde_json::from_str(&r.try_get::<String, _>("detail")?).unwrap_or_default();
        let opened: i64 = r.try_get("opened_at")?;
        let resolved: Option<i64> = r.try_get("resolved_at")?;
        let id: String = r.try_get("id")?;
        index.insert(id.clone(), out.len());
        out.push(AlertRow {
            id,
            key: r.try_get("alert_key")?,
            rule: r.try_get("rule")?,
            site: r.try_get("site")?,
            subject: r.try_get("subject")?,
            summary: r.try_get("summary")?,
            details: detail.lines,
            agents: detail.agents,
            opened_at: rfc3339(opened),
            resolved_at: resolved.map(rfc3339),
            deliveries: vec![],
            opened_ms: opened,
            resolved_ms: resolved,
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = out.iter().map(|a| a.id.as_str()).collect();
    let list = match db.backend {
        crate::db::Backend::Postgres => "SELECT json_array_elements_text($1::json)",
        crate::db::Backend::Sqlite => "SELECT value FROM json_each($1)",
    };
    let sql = format!(
        "SELECT id, alert_id, message, receiver, receiver_kind, state, attempts, last_error, \
         updated_at FROM alert_deliveries WHERE alert_id IN ({list}) ORDER BY created_at, receiver"
    );
    let ds = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(&ids)?)
        .fetch_all(&db.pool)
        .await?;
    for d in &ds {
        let alert: String = d.try_get("alert_id")?;
        if let Some(&i) = index.get(&alert) {
            out[i].deliveries.push(Delivery {
                id: d.try_get("id")?,
                message: d.try_get("message")?,
                receiver: d.try_get("receiver")?,
                receiver_kind: d.try_get("receiver_kind")?,
                state: d.try_get("state")?,
                attempts: d.try_get("attempts")?,
                last_error: d.try_get("last_error")?,
                updated_at: rfc3339(d.try_get("updated_at")?),
            });
        }
    }
    Ok(out)
}

/// Records how a delivery attempt ended.
pub async fn note_delivery(
    db: &Db,
    id: &str,
    state: &str,
    error: Option<&str>,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE alert_deliveries SET state = $2, last_error = $3, attempts = attempts + 1, \
         updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Marks failed, with `note`, the delivery whose outbox row's payload cannot be read: found
/// by the row's id (recorded with each delivery since migration 0013), else by the
/// `delivery_id` the payload still shows when it is JSON of another shape.
pub async fn fail_unreadable(
    db: &Db,
    row: &crate::outbox::Row,
    note: &str,
    now: i64,
) -> anyhow::Result<u64> {
    let n = sqlx::query(
        "UPDATE alert_deliveries SET state = 'failed', last_error = $2, \
         attempts = attempts + 1, updated_at = $3 \
         WHERE outbox_id = $1 AND state IN ('pending', 'retrying')",
    )
    .bind(row.id)
    .bind(note)
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if n > 0 {
        return Ok(n);
    }
    let id = serde_json::from_str::<serde_json::Value>(&row.payload)
        .ok()
        .and_then(|v| v["delivery_id"].as_str().map(str::to_string));
    let Some(id) = id else {
        return Ok(0);
    };
    Ok(sqlx::query(
        "UPDATE alert_deliveries SET state = 'failed', last_error = $2, \
         attempts = attempts + 1, updated_at = $3 \
         WHERE id = $1 AND state IN ('pending', 'retrying')",
    )
    .bind(id)
    .bind(note)
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected())
}

/// Deletes address prefixes older than `keep_ms` (the correlated rule looks at open incidents
/// of today's shifts only).
pub async fn prune(db: &Db, now: i64, keep_ms: i64) -> anyhow::Result<u64> {
    let r = sqlx::query("DELETE FROM event_addrs WHERE at < $1")
        .bind(now - keep_ms)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}

/// Rows deleted by one [`prune_alerts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunedAlerts {
    pub alerts: u64,
    pub deliveries: u64,
}

/// The deliveries of the oldest alerts resolved before `$1`, `$2` alerts at a time; then those
/// alerts (the same ones: the same order).
const PRUNE_DELIVERIES: &str = "DELETE FROM alert_deliveries WHERE alert_id IN (SELECT id \
    FROM alerts WHERE resolved_at < $1 ORDER BY resolved_at, id LIMIT $2)";
const PRUNE_ALERTS: &str = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts \
    WHERE resolved_at < $1 ORDER BY resolved_at, id LIMIT $2)";

/// Deletes the alerts resolved before `now - keep_ms` (`serve --keep-alerts-days`) with their
/// deliveries; an open alert is never deleted, however old. [`crate::db::PRUNE_BATCH`] alerts a
/// statement, yielding between batches, as `Db::prune_retention` does for events.
pub async fn prune_alerts(db: &Db, now: i64, keep_ms: i64) -> anyhow::Result<PrunedAlerts> {
    use crate::db::{PRUNE_BATCH, PRUNE_BATCHES};
    let cutoff = now - keep_ms;
    let mut out = PrunedAlerts::default();
    for _ in 0..PRUNE_BATCHES {
        // Deliveries first: an alert is never left without the messages it had while it
        // stays (a process stopped between the two leaves the alert, taken next time).
        out.deliveries += sqlx::query(PRUNE_DELIVERIES)
            .bind(cutoff)
            .bind(PRUNE_BATCH)
            .execute(&db.pool)
            .await?
            .rows_affected();
        let n = sqlx::query(PRUNE_ALERTS)
            .bind(cutoff)
            .bind(PRUNE_BATCH)
            .execute(&db.pool)
            .await?
            .rows_affected();
        out.alerts += n;
        if n < PRUNE_BATCH as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Ok(out)
}
