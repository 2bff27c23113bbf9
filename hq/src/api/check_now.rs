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

/// In the ingest writer's transaction, for the devices of a batch (each with the latest
/// report date its requests brought, if any): drops a device's pending request when a report
/// dated after it arrived, and returns the requests still pending (device id, when asked),
/// for the answers. One statement for the whole batch (one more when a request is answered),
/// so a heartbeat costs no lookup of its own; committed with the events that answer it.
pub async fn after_events(
    tx: &mut sqlx::AnyConnection,
    postgres: bool,
    devices: &[(&str, Option<i64>)],
) -> anyhow::Result<std::collections::HashMap<String, i64>> {
    let mut pending = std::collections::HashMap::new();
    if devices.is_empty() {
        return Ok(pending);
    }
    let ids: Vec<&str> = devices.iter().map(|(d, _)| *d).collect();
    let sql = if postgres {
        "SELECT c.device_id, c.requested_at FROM json_array_elements_text($1::json) AS j(v) \
         JOIN check_requests c ON c.device_id = j.v"
    } else {
        "SELECT c.device_id, c.requested_at FROM json_each($1) AS j \
         CROSS JOIN check_requests c ON c.device_id = j.value"
    };
    for r in sqlx::query(sql)
        .bind(serde_json::to_string(&ids)?)
        .fetch_all(&mut *tx)
        .await?
    {
        pending.insert(
            r.try_get::<String, _>("device_id")?,
            r.try_get::<i64, _>("requested_at")?,
        );
    }
    for (device, report_at) in devices {
        let Some(&at) = pending.get(*device) else {
            continue;
        };
        if report_at.is_some_and(|r| r >= at - CLOCK_SLACK_MS) {
            sqlx::query("DELETE FROM check_requests WHERE device_id = $1 AND requested_at = $2")
                .bind(*device)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            tracing::info!(device_id = *device, "the requested check's report arrived");
            pending.remove(*device);
        }
    }
    Ok(pending)
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
