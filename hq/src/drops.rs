//! Dropped calls (issue 15): each `call_drop` an agent reports is stored once, in the ingest
//! transaction, with HQ's verdict in words ([`verdict`], pure) beside the note and the
//! per-second history, in the `call_drops` table (migration 0009). The pages
//! ([`crate::dashboard::drops`], the agent page) and the API ([`crate::api::drops`]) read it
//! from here. Rows are pruned with their events by `serve --keep-call-drops-days`.

pub mod verdict;

pub use verdict::{Kind, Verdict};

use crate::db::Db;
use proto::event::Event;
use proto::sample::CallDrop;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Stores one new call drop with its verdict. Called by ingest for each newly stored
/// `call_drop` event, inside the batch's transaction; a retry of the same event changes
/// nothing.
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    device: &str,
    e: &Event,
    drop: &CallDrop,
    received_at: i64,
) -> anyhow::Result<()> {
    let v = verdict::verdict(drop, e.at);
    sqlx::query(
        "INSERT INTO call_drops (event_id, device_id, at, received_at, note, verdict_kind, \
         verdict, link, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(e.id.to_string())
    .bind(device)
    .bind(e.at.timestamp_millis())
    .bind(received_at)
    .bind(drop.note.as_str())
    .bind(v.kind.as_str())
    .bind(v.text)
    .bind(drop.link.as_deref())
    .bind(serde_json::to_string(&drop.seconds)?)
    .execute(conn)
    .await?;
    Ok(())
}

/// One dropped call as the lists show it.
#[derive(Debug, Clone)]
pub struct DropRow {
    /// The `call_drop` event's id.
    pub id: String,
    pub agent_id: String,
    /// Empty when the device is gone.
    pub hostname: String,
    pub site: String,
    /// When the agent reported it (its clock), ms.
    pub at: i64,
    /// When HQ received it (HQ's clock), ms.
    pub received_at: i64,
    pub note: String,
    /// [`Kind::as_str`].
    pub kind: String,
    pub verdict: String,
}

impl DropRow {
    fn from_row(r: &AnyRow) -> anyhow::Result<DropRow> {
        Ok(DropRow {
            id: r.try_get("event_id")?,
            agent_id: r.try_get("device_id")?,
            hostname: r
                .try_get::<Option<String>, _>("hostname")?
                .unwrap_or_default(),
            site: r.try_get::<Option<String>, _>("site")?.unwrap_or_default(),
            at: r.try_get("at")?,
            received_at: r.try_get("received_at")?,
            note: r.try_get("note")?,
            kind: r.try_get("verdict_kind")?,
            verdict: r.try_get("verdict")?,
        })
    }
}

/// Which drops: `[from, to)` by the agent's `at`; an empty string is "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: i64,
    pub to: i64,
    pub site: String,
    pub kind: String,
    pub agent: String,
}

const COLUMNS: &str = "c.event_id, c.device_id, d.hostname, d.site, c.at, c.received_at, \
    c.note, c.verdict_kind, c.verdict";
const WHERE: &str = "FROM call_drops c LEFT JOIN devices d ON d.id = c.device_id \
    WHERE c.at >= $1 AND c.at < $2 AND ($3 = '' OR d.site = $3) \
    AND ($4 = '' OR c.verdict_kind = $4) AND ($5 = '' OR c.device_id = $5)";

/// The drops matching `f`, newest first, `limit` from `offset`.
pub async fn list(db: &Db, f: &Filter, limit: i64, offset: i64) -> anyhow::Result<Vec<DropRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {WHERE} ORDER BY c.at DESC, c.event_id DESC LIMIT $6 OFFSET $7"
    )))
    .bind(f.from)
    .bind(f.to)
    .bind(f.site.as_str())
    .bind(f.kind.as_str())
    .bind(f.agent.as_str())
    .bind(limit)
    .bind(offset.max(0))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(DropRow::from_row).collect()
}

/// How many drops match `f` per verdict kind (any kind: the filter's `kind` is ignored), in
/// [`Kind::ALL`]'s order, every kind listed.
pub async fn counts(db: &Db, f: &Filter) -> anyhow::Result<Vec<(Kind, i64)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT c.verdict_kind, COUNT(*) AS n {WHERE} GROUP BY c.verdict_kind"
    )))
    .bind(f.from)
    .bind(f.to)
    .bind(f.site.as_str())
    .bind("")
    .bind(f.agent.as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut out: Vec<(Kind, i64)> = Kind::ALL.iter().map(|k| (*k, 0)).collect();
    for r in &rows {
        let kind: String = r.try_get("verdict_kind")?;
        if let Some(slot) = out.iter_mut().find(|(k, _)| k.as_str() == kind) {
            slot.1 += r.try_get::<i64, _>("n")?;
        }
    }
    Ok(out)
}

/// One agent's drop with what its strip needs.
#[derive(Debug, Clone)]
pub struct AgentDrop {
    pub row: DropRow,
    /// The link kind when reported.
    pub link: Option<String>,
    /// The per-second history (`None` if it no longer reads).
    pub seconds: Option<proto::sample::Seconds>,
}

/// An agent's latest drops since `since` (ms), newest first.
pub async fn of_agent(
    db: &Db,
    agent: &str,
    since: i64,
    limit: i64,
) -> anyhow::Result<Vec<AgentDrop>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, c.link, c.seconds FROM call_drops c \
         LEFT JOIN devices d ON d.id = c.device_id \
         WHERE c.device_id = $1 AND c.at >= $2 ORDER BY c.at DESC, c.event_id DESC LIMIT $3"
    )))
    .bind(agent)
    .bind(since)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AgentDrop {
                row: DropRow::from_row(r)?,
                link: r.try_get("link")?,
                seconds: serde_json::from_str(&r.try_get::<String, _>("seconds")?).ok(),
            })
        })
        .collect()
}
