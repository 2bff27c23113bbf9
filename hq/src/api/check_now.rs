//! "Run the check now": an admin's request (from the agent's page) that a device run its full
//! check. HQ keeps one pending request per device (`check_requests`), hands it to the daemon in
//! the answer to its next `POST /events` (`check_requested_at`), and drops it when a report
//! from the device arrives.

use crate::db::Db;
use sqlx::Row as _;

/// How much earlier than the request (by HQ's clock) a report may be dated (by the device's)
/// and still answer it: device clocks are off by seconds, not minutes (HQ flags more).
const CLOCK_SLACK_MS: i64 = 60_000;

/// Records the request; a second one while one waits keeps the first time. Returns when the
/// pending request was made.
pub async fn request(db: &Db, device_id: &str, by: &str, now: i64) -> anyhow::Result<i64> {
    sqlx::query(
        "INSERT INTO check_requests (device_id, requested_at, requested_by) VALUES ($1, $2, $3) \
         ON CONFLICT (device_id) DO NOTHING",
    )
    .bind(device_id)
    .bind(now)
    .bind(by)
    .execute(&db.pool)
    .await?;
    Ok(pending(db, device_id).await?.unwrap_or(now))
}

/// When the device's pending request was made, if one waits.
pub async fn pending(db: &Db, device_id: &str) -> anyhow::Result<Option<i64>> {
    Ok(
        sqlx::query("SELECT requested_at FROM check_requests WHERE device_id = $1")
            .bind(device_id)
            .fetch_optional(&db.pool)
            .await?
            .map(|r| r.try_get("requested_at"))
            .transpose()?,
    )
}

/// After a batch from the device with this key was stored: drops its request if the batch
/// brought a report dated after it (`report_at`, the latest), else returns the pending
/// request's time for the answer. One indexed lookup per batch.
pub async fn after_batch(
    db: &Db,
    device_key: &str,
    report_at: Option<i64>,
) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let row = sqlx::query(
        "SELECT c.device_id, c.requested_at FROM check_requests c \
         JOIN devices d ON d.id = c.device_id WHERE d.key_hash = $1",
    )
    .bind(crate::crypto::hash_secret(device_key))
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let device: String = row.try_get("device_id")?;
    let at: i64 = row.try_get("requested_at")?;
    if report_at.is_some_and(|r| r >= at - CLOCK_SLACK_MS) {
        sqlx::query("DELETE FROM check_requests WHERE device_id = $1 AND requested_at = $2")
            .bind(&device)
            .bind(at)
            .execute(&db.pool)
            .await?;
        tracing::info!(device_id = device, "the requested check's report arrived");
        return Ok(None);
    }
    Ok(chrono::DateTime::from_timestamp_millis(at))
}

/// When HQ received the device's latest report, if any.
pub async fn last_report_received(db: &Db, device_id: &str) -> anyhow::Result<Option<i64>> {
    Ok(sqlx::query(
        "SELECT MAX(received_at) AS t FROM events WHERE device_id = $1 AND kind = 'report'",
    )
    .bind(device_id)
    .fetch_one(&db.pool)
    .await?
    .try_get("t")?)
}
