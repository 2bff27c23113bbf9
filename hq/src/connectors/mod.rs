//! Contact-centre connectors (issue 14): HQ sets each agent's state on the platform the site
//! takes calls on, from what the workstation measured.
//!
//! Semantics: signed in and meeting the site's readiness bar → the site's *available* state;
//! an open incident that blocks calls (`block_on`) → *not ready* with that incident's mapped
//! state; recovered → available; signed out for any reason (`lost_contact` too) → *offline*.
//! [`decide::after_events`] decides this inside the ingest transaction (and the lost-contact sweep's)
//! and writes a change to the [`crate::outbox`] when the decided state moves; [`Connectors`]
//! delivers it with the site's connector. A person's choice stands
//! ([`config::ConnectorConfig::may_move`]).

pub mod api;
pub mod config;
pub mod connect;
pub mod decide;
pub mod genesys;
pub mod push;
pub mod twilio;
pub mod webhook;

use crate::db::Db;
use crate::metrics::Metrics;
use crate::outbox::{self, Verdict};
use config::{ConnectorConfig, Kind};
use decide::destination;
use push::{Change, Failure, PushError, Pushed};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Delivers the outbox's connector changes.
pub struct Connectors {
    db: Db,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    tokens: genesys::Tokens,
}

/// The HTTP client connectors use: rustls, bounded times (a delivery never outlives its lease).
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .user_agent(concat!("shiftready-hq/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()?)
}

/// Starts this process's delivery worker; it ends when `stop` fires.
pub fn start(
    db: Db,
    metrics: Arc<Metrics>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let c = Arc::new(Connectors {
        db: db.clone(),
        http: http_client()?,
        metrics,
        tokens: genesys::Tokens::default(),
    });
    let postgres = db.backend == crate::db::Backend::Postgres;
    Ok(tokio::spawn(outbox::run_for(
        db.pool,
        postgres,
        "connector:",
        c,
        stop,
    )))
}

impl outbox::Deliver for Connectors {
    fn deliver(&self, row: outbox::Row) -> impl Future<Output = Verdict> + Send {
        self.deliver_row(row)
    }
}

/// A site's connector, as stored.
pub async fn load(db: &Db, site: &str) -> anyhow::Result<Option<ConnectorConfig>> {
    let row = sqlx::query("SELECT config FROM connectors WHERE site = $1")
        .bind(site)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("config")?)?))
        .transpose()
}

impl Connectors {
    async fn deliver_row(&self, row: outbox::Row) -> Verdict {
        match self.try_deliver(&row).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("connector delivery {}: {e:#}", row.id);
                Verdict::Retry {
                    after: outbox::backoff(row.attempts),
                    error: format!("{e:#}"),
                }
            }
        }
    }

    async fn try_deliver(&self, row: &outbox::Row) -> anyhow::Result<Verdict> {
        let done = |outcome, note: String| Verdict::Done { outcome, note };
        let Some(site) = row.destination.strip_prefix("connector:") else {
            return Ok(done(
                "rejected",
                format!("unknown destination {}", row.destination),
            ));
        };
        let Some(cfg) = load(&self.db, site).await? else {
            return Ok(done(
                "rejected",
                format!("site '{site}' has no connector any more"),
            ));
        };
        let change: Change = match serde_json::from_str(&row.payload) {
            Ok(c) => c,
            Err(e) => return Ok(done("rejected", format!("unreadable change: {e}"))),
        };
        let last_set: Option<String> =
            sqlx::query("SELECT set_state FROM connector_users WHERE device_id = $1")
                .bind(&change.device_id)
                .fetch_optional(&self.db.pool)
                .await?
                .map(|r| r.try_get("set_state"))
                .transpose()?
                .flatten();
        let last = last_set.as_deref();
        let r = match cfg.kind {
            Kind::Webhook => webhook::push(&self.http, &cfg, &change, last).await,
            Kind::Twilio => twilio::push(&self.http, &cfg, &change, last).await,
            Kind::AmazonConnect => connect::push(&self.http, &cfg, &change).await,
            Kind::Genesys => genesys::push(&self.http, &cfg, &self.tokens, &change, last).await,
        };
        let platform = cfg.kind.as_str();
        let now = crate::db::now_ms();
        let state_id = cfg.state_id(change.state, &change.reason);
        let what = match change.reason.as_str() {
            "" => change.state.as_str().to_string(),
            r => format!("{} ({r})", change.state.as_str()),
        };
        let (outcome, verdict) = match r {
            Ok(Pushed::Set) => {
                sqlx::query(
                    "UPDATE connector_users SET set_state = $2, set_at = $3, result = $4, \
                     result_at = $3 WHERE device_id = $1",
                )
                .bind(&change.device_id)
                .bind(&state_id)
                .bind(now)
                .bind(format!("set {what}: delivered"))
                .execute(&self.db.pool)
                .await?;
                self.health(site, None, now).await?;
                ("ok", done("ok", String::new()))
            }
            Ok(Pushed::LeftAlone(current)) => {
                let note = format!(
                    "left alone: the agent is in '{current}', which ShiftReady did not set \
                     (wanted {what})"
                );
                self.note_user(&change.device_id, &note, now).await?;
                ("skipped", done("skipped", note))
            }
            Err(PushError { failure, message }) => {
                tracing::warn!(site, platform, "connector: {message}");
                match failure {
                    Failure::Rejected => {
                        self.note_user(&change.device_id, &format!("refused: {message}"), now)
                            .await?;
                        self.health(site, Some(&message), now).await?;
                        ("rejected", done("rejected", message))
                    }
                    Failure::Retry(after) => {
                        self.note_user(&change.device_id, &format!("retrying: {message}"), now)
                            .await?;
                        self.health(site, Some(&message), now).await?;
                        let after = after.unwrap_or_else(|| outbox::backoff(row.attempts));
                        (
                            "retry",
                            Verdict::Retry {
                                after,
                                error: message,
                            },
                        )
                    }
                    Failure::Auth => {
                        self.note_user(&change.device_id, &format!("waiting: {message}"), now)
                            .await?;
                        self.health(site, Some(&message), now).await?;
                        let after = outbox::backoff(row.attempts).max(Duration::from_secs(2));
                        (
                            "auth_failed",
                            Verdict::Retry {
                                after,
                                error: message,
                            },
                        )
                    }
                }
            }
        };
        self.metrics.connector_pushes.add(platform, outcome);
        Ok(verdict)
    }

    async fn note_user(&self, device: &str, result: &str, now: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE connector_users SET result = $2, result_at = $3 WHERE device_id = $1")
            .bind(device)
            .bind(result)
            .bind(now)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// The connector's health: `ok`, or `failing` with the last error in words.
    async fn health(&self, site: &str, error: Option<&str>, now: i64) -> anyhow::Result<()> {
        match error {
            None => {
                sqlx::query("UPDATE connectors SET health = 'ok', last_ok_at = $2 WHERE site = $1")
                    .bind(site)
                    .bind(now)
            }
            Some(e) => sqlx::query(
                "UPDATE connectors SET health = 'failing', last_error = $2, last_error_at = $3 \
                 WHERE site = $1",
            )
            .bind(site)
            .bind(e)
            .bind(now),
        }
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }
}

/// Stores a site's connector (replacing its old one).
pub async fn set(db: &Db, site: &str, cfg: &ConnectorConfig) -> anyhow::Result<()> {
    db.ensure_site(site).await?;
    sqlx::query(
        "INSERT INTO connectors (site, kind, config, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (site) DO UPDATE SET kind = $2, config = $3, updated_at = $4, \
         health = 'unknown', last_error = NULL, last_error_at = NULL",
    )
    .bind(site)
    .bind(cfg.kind.as_str())
    .bind(serde_json::to_string(cfg)?)
    .bind(crate::db::now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// `connector test`: one harmless authenticated call; what is wrong in words.
pub async fn test(db: &Db, site: &str) -> anyhow::Result<Result<String, String>> {
    let Some(cfg) = load(db, site).await? else {
        return Ok(Err(format!(
            "site '{site}' has no connector; set one with `shiftready-hq connector set --site {site} FILE.toml`"
        )));
    };
    let http = http_client()?;
    let r = match cfg.kind {
        Kind::Webhook => webhook::test(&http, &cfg).await,
        Kind::Twilio => twilio::test(&http, &cfg).await,
        Kind::AmazonConnect => connect::test(&http, &cfg).await,
        Kind::Genesys => genesys::test(&http, &cfg, &genesys::Tokens::default()).await,
    };
    Ok(r.map_err(|e| e.message))
}

/// `connector users import`: `agent,platform_user` lines (agent = device id or hostname of a
/// device of the site; a first line `agent,platform_user` is a header). Every bad line is
/// reported with its number and nothing is imported; else all lines in one transaction.
pub async fn import_users(
    db: &Db,
    site: &str,
    file: &std::path::Path,
    text: &str,
) -> anyhow::Result<Result<usize, String>> {
    let mut problems = Vec::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if n == 1 && fields.first() == Some(&"agent") {
            continue;
        }
        let bad = |m: String| format!("  {}:{n}: {m}", file.display());
        let [agent, user] = fields[..] else {
            problems.push(bad(format!(
                "expected 2 fields (agent,platform_user), found {}",
                fields.len()
            )));
            continue;
        };
        if agent.is_empty() || user.is_empty() || user.len() > 256 {
            problems.push(bad(
                "the agent and the platform user must not be empty (user: at most 256 characters)"
                    .into(),
            ));
            continue;
        }
        let found =
            sqlx::query("SELECT id, site FROM devices WHERE id = $1 OR hostname = $1 LIMIT 2")
                .bind(agent)
                .fetch_all(&db.pool)
                .await?;
        let id = match &found[..] {
            [] => {
                problems.push(bad(format!(
                    "no enrolled agent has the id or hostname '{agent}'"
                )));
                continue;
            }
            [one] => {
                let s: String = one.try_get("site")?;
                if s != site {
                    problems.push(bad(format!(
                        "agent '{agent}' belongs to site '{s}', not '{site}'"
                    )));
                    continue;
                }
                one.try_get::<String, _>("id")?
            }
            _ => {
                problems.push(bad(format!(
                    "several agents have the hostname '{agent}'; use the device id"
                )));
                continue;
            }
        };
        if let Some(first) = seen.insert(id.clone(), n) {
            problems.push(bad(format!("agent '{agent}' is already on line {first}")));
            continue;
        }
        rows.push((id, user.to_string()));
    }
    if !problems.is_empty() {
        return Ok(Err(problems.join("\n")));
    }
    let mut tx = db.pool.begin().await?;
    for (id, user) in &rows {
        sqlx::query(
            "INSERT INTO connector_users (device_id, site, platform_user) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id) DO UPDATE SET site = $2, platform_user = $3",
        )
        .bind(id)
        .bind(site)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Ok(rows.len()))
}

/// What the agent page shows: the platform user, the state ShiftReady last set and when, and
/// the last delivery's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentLine {
    pub platform_user: String,
    pub set_state: Option<String>,
    pub set_at: Option<i64>,
    pub result: Option<String>,
    pub result_at: Option<i64>,
}

pub async fn agent_line(db: &Db, device: &str) -> anyhow::Result<Option<AgentLine>> {
    let row = sqlx::query(
        "SELECT platform_user, set_state, set_at, result, result_at FROM connector_users \
         WHERE device_id = $1",
    )
    .bind(device)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(AgentLine {
            platform_user: r.try_get("platform_user")?,
            set_state: r.try_get("set_state")?,
            set_at: r.try_get("set_at")?,
            result: r.try_get("result")?,
            result_at: r.try_get("result_at")?,
        })
    })
    .transpose()
}

/// A connector's health, for the dashboard and `connector status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    pub site: String,
    pub kind: String,
    pub health: String,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub pending: i64,
}

pub async fn health(db: &Db) -> anyhow::Result<Vec<Health>> {
    let pending = outbox::pending(&db.pool).await?;
    let rows = sqlx::query(
        "SELECT site, kind, health, last_error, last_error_at, last_ok_at FROM connectors \
         ORDER BY site",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let site: String = r.try_get("site")?;
            Ok(Health {
                pending: pending.get(&destination(&site)).copied().unwrap_or(0),
                site,
                kind: r.try_get("kind")?,
                health: r.try_get("health")?,
                last_error: r.try_get("last_error")?,
                last_error_at: r.try_get("last_error_at")?,
                last_ok_at: r.try_get("last_ok_at")?,
            })
        })
        .collect()
}
