//! Storage: one SQL dialect for SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! Queries use `$N` parameters (SQLite reads them as positional too), BIGINT milliseconds since
//! the epoch for times and TEXT for everything else, so both databases run the same statements.
//! Everything that must be correct lives here, never only in one process's memory: several HQ
//! processes can share one PostgreSQL database.

use crate::crypto;
use anyhow::Context;
use proto::Policy;
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AssertSqlSafe, Executor, Row};
use std::path::PathBuf;
use std::time::Duration;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: a pool and its kind.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The HQ's data directory (`$XDG_DATA_HOME/shiftready-hq` on Linux).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("shiftready-hq");
    }
    if let Some(d) = dirs_next::data_dir() {
        return d.join("shiftready-hq");
    }
    PathBuf::from(".shiftready-hq")
}

/// The default database: a SQLite file in the data directory.
pub fn default_database_url() -> String {
    format!("sqlite://{}", data_dir().join("hq.db").display())
}

/// The site whose policy applies to devices enrolled without one.
pub const DEFAULT_SITE: &str = "default";

/// Rows one prune statement deletes at most.
pub const PRUNE_BATCH: i64 = 5000;
/// Prune statements per kind in one pass.
pub const PRUNE_BATCHES: usize = 200;

/// Events of kind `$3` received before `$1`, `$2` at a time.
const EVENTS_OF_KIND: &str = "DELETE FROM events WHERE id IN (SELECT id FROM events \
     WHERE kind = $3 AND received_at < $1 LIMIT $2)";
/// The chart samples of reports received before `$1`, `$2` at a time.
const SAMPLES_OF_REPORTS: &str = "DELETE FROM samples WHERE event_id IN (SELECT id FROM events \
     WHERE kind = 'report' AND received_at < $1 LIMIT $2)";
/// Call drops (issue 15) received before `$1`, `$2` at a time; kept as long as reports.
const CALL_DROPS: &str = "DELETE FROM call_drops WHERE event_id IN (SELECT event_id FROM \
     call_drops WHERE received_at < $1 LIMIT $2)";
/// Shift-log lines received before `$1` (lines from before HQ kept `received_at`: by `at`),
/// `$2` at a time.
const SHIFT_LOG: &str = "DELETE FROM shift_log WHERE id IN (SELECT id FROM shift_log \
     WHERE COALESCE(received_at, at) < $1 LIMIT $2)";

/// How long each kind of event is kept, in milliseconds (`serve --keep-*-days`). Sign-ins and
/// sign-outs are payroll records: kept for years, never shorter than the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub heartbeats_ms: i64,
    pub reports_ms: i64,
    pub incidents_ms: i64,
    pub shift_events_ms: i64,
    /// An agent's per-minute samples (and their `sample` events), by the minute's time.
    pub minute_samples_ms: i64,
    /// Their hourly roll-ups.
    pub hourly_samples_ms: i64,
    /// Resolved alerts with their deliveries, by when they resolved.
    pub alerts_ms: i64,
}

impl Default for Retention {
    fn default() -> Self {
        let day = 86_400_000;
        Retention {
            heartbeats_ms: 7 * day,
            reports_ms: 90 * day,
            incidents_ms: 90 * day,
            shift_events_ms: 7 * 366 * day,
            minute_samples_ms: 30 * day,
            hourly_samples_ms: 366 * day,
            alerts_ms: 366 * day,
        }
    }
}

/// Rows deleted by one [`Db::prune_retention`], per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub heartbeats: u64,
    pub reports: u64,
    pub samples: u64,
    pub incidents: u64,
    pub shift_events: u64,
    pub shift_log: u64,
    /// `call_drop` events and their `call_drops` rows (kept as long as reports).
    pub call_drops: u64,
}

impl Db {
    /// Connects and runs the migrations. `url` is `sqlite://PATH` or `postgres://...`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            Db {
                pool,
                backend: Backend::Postgres,
            }
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let (file, query) = match path.split_once('?') {
                Some((f, q)) => (f, Some(q)),
                None => (path, None),
            };
            if file.is_empty() {
                anyhow::bail!(
                    "--database-url sqlite:// needs a file path, e.g. sqlite:///var/lib/shiftready-hq/hq.db"
                );
            }
            if let Some(parent) = std::path::Path::new(file).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
            }
            crypto::restrict_to_owner(std::path::Path::new(file))?;
            let url = match query {
                Some(q) => format!("sqlite://{file}?{q}"),
                None => format!("sqlite://{file}?mode=rwc"),
            };
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(
                            // mmap_size: reads come from the mapping, not read() copies.
                            // The default 4 KiB pages stay: 2 KiB ones write less WAL per
                            // heartbeat, but the fleet page's full scans read twice as many.
                            "PRAGMA journal_mode = WAL; \
                             PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                             PRAGMA foreign_keys = ON; PRAGMA mmap_size = 1073741824;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .with_context(|| format!("opening the SQLite database {file}"))?;
            Db {
                pool,
                backend: Backend::Sqlite,
            }
        } else {
            anyhow::bail!("--database-url must be sqlite://PATH or postgres://..., not '{url}'");
        };
        match db.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&db.pool).await,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&db.pool).await,
        }
        .context("running the database migrations")?;
        Ok(db)
    }

    // ---- sites and policies ----

    /// Creates the site with the default policy if it does not exist.
    pub async fn ensure_site(&self, site: &str) -> anyhow::Result<()> {
        const SQL: &str = "INSERT INTO sites (name, policy, etag, offline_ms, updated_at, \
            idle_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING";
        self.write_site(SQL, site, &Policy::default()).await
    }

    /// Sets a site's policy (creating the site).
    pub async fn set_policy(&self, site: &str, policy: &Policy) -> anyhow::Result<()> {
        const SQL: &str = "INSERT INTO sites (name, policy, etag, offline_ms, updated_at, \
            idle_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) \
            DO UPDATE SET policy = $2, etag = $3, offline_ms = $4, updated_at = $5, idle_ms = $6";
        self.write_site(SQL, site, policy).await
    }

    /// Runs one of the two site upserts above with the site's policy row.
    async fn write_site(
        &self,
        sql: &'static str,
        site: &str,
        policy: &Policy,
    ) -> anyhow::Result<()> {
        let (json, etag, offline, idle) = policy_row(policy)?;
        sqlx::query(sql)
            .bind(site)
            .bind(json)
            .bind(etag)
            .bind(offline)
            .bind(now_ms())
            .bind(idle)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A site's policy (the default when the site has none).
    pub async fn site_policy(&self, site: &str) -> anyhow::Result<Policy> {
        let row = sqlx::query("SELECT policy FROM sites WHERE name = $1")
            .bind(site)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(serde_json::from_str(&r.try_get::<String, _>("policy")?)?),
            None => Ok(Policy::default()),
        }
    }

    /// Every site with its offline threshold in ms.
    pub async fn sites(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT name, offline_ms FROM sites ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("offline_ms")?)))
            .collect()
    }

    // ---- enrollment ----

    /// A new enrollment secret for `site`; returns the secret (shown once).
    pub async fn create_enroll_secret(&self, site: &str) -> anyhow::Result<String> {
        self.ensure_site(site).await?;
        let secret = crypto::new_secret("sr_enr_");
        sqlx::query("INSERT INTO enroll_secrets (hash, site, created_at) VALUES ($1, $2, $3)")
            .bind(crypto::hash_secret(&secret))
            .bind(site)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(secret)
    }

    /// The site an enrollment secret belongs to, if it is valid.
    pub async fn enroll_secret_site(&self, secret: &str) -> anyhow::Result<Option<String>> {
        let row =
            sqlx::query("SELECT site FROM enroll_secrets WHERE hash = $1 AND revoked_at IS NULL")
                .bind(crypto::hash_secret(secret))
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("site")?),
            None => None,
        })
    }

    /// Counts an enrollment attempt from `addr` in the current minute; returns the count so far.
    pub async fn note_enroll_attempt(&self, addr: &str, now: i64) -> anyhow::Result<i64> {
        let window = now - now.rem_euclid(60_000);
        let row = sqlx::query(
            "INSERT INTO enroll_attempts (addr, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (addr, window_start) DO UPDATE SET count = enroll_attempts.count + 1 \
             RETURNING count",
        )
        .bind(addr)
        .bind(window)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("count")?)
    }

    /// Enrolls a device: a new one, or (when IT forced re-enrollment of a device with this
    /// hostname at this site) the same device with a new key. Returns `(device_id, key)`.
    pub async fn enroll_device(
        &self,
        site: &str,
        hostname: &str,
        os: &str,
        agent_version: &str,
    ) -> anyhow::Result<(String, String)> {
        let key = crypto::new_secret("sr_dev_");
        let hash = crypto::hash_secret(&key);
        let now = now_ms();
        let reused = sqlx::query(
            "UPDATE devices SET key_hash = $1, status = 'active', os = $2, agent_version = $3, \
             enrolled_at = $4 WHERE id = (SELECT id FROM devices WHERE site = $5 AND hostname = $6 \
             AND status = 'reenroll' ORDER BY enrolled_at DESC LIMIT 1) RETURNING id",
        )
        .bind(&hash)
        .bind(os)
        .bind(agent_version)
        .bind(now)
        .bind(site)
        .bind(hostname)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = reused {
            return Ok((r.try_get("id")?, key));
        }
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO devices (id, site, hostname, os, agent_version, key_hash, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(site)
        .bind(hostname)
        .bind(os)
        .bind(agent_version)
        .bind(&hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok((id, key))
    }

    /// The device holding a key: `(id, site, status)`.
    pub async fn device_by_key(
        &self,
        key: &str,
    ) -> anyhow::Result<Option<(String, String, String)>> {
        let row = sqlx::query("SELECT id, site, status FROM devices WHERE key_hash = $1")
            .bind(crypto::hash_secret(key))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("site")?, r.try_get("status")?)))
            .transpose()
    }

    /// Sets a device's status: `revoked` (its key stops working for good) or `reenroll` (its key
    /// stops working until it enrolls again). Returns whether the device exists.
    pub async fn set_device_status(&self, id: &str, status: &str) -> anyhow::Result<bool> {
        let r = sqlx::query("UPDATE devices SET status = $2 WHERE id = $1")
            .bind(id)
            .bind(status)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Resolves an agent named by device id or hostname.
    pub async fn resolve_agent(&self, name: &str) -> anyhow::Result<Result<String, String>> {
        // An exact id wins; a hostname several devices share names them all (db_admin.rs).
        let found = self.devices_named(name).await?;
        Ok(match found.as_slice() {
            [] => Err(format!("no enrolled agent has the id or hostname '{name}'")),
            [(id, ..)] => Ok(id.clone()),
            several => Err(format!(
                "{} agents have the hostname '{name}' ({}); use the device id",
                several.len(),
                several
                    .iter()
                    .map(|d| d.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
    }

    // ---- users, tokens, sessions ----

    /// Adds a user, or sets an existing user's password and role; either way the sessions
    /// signed in under that name end.
    pub async fn add_user(&self, name: &str, password: &str, role: Role) -> anyhow::Result<()> {
        let hash = crypto::hash_password(password)?;
        sqlx::query("DELETE FROM sessions WHERE user_name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET password_hash = $2, role = $3",
        )
        .bind(name)
        .bind(hash)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's role if the password is right.
    pub async fn check_user(&self, name: &str, password: &str) -> anyhow::Result<Option<Role>> {
        let row = sqlx::query("SELECT password_hash, role FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            // Spend the same time as a real check so names cannot be probed by timing.
            crypto::verify_password_bounded(password, None).await?;
            return Ok(None);
        };
        let stored: String = row.try_get("password_hash")?;
        let role: String = row.try_get("role")?;
        let ok = crypto::verify_password_bounded(password, Some(stored)).await?;
        Ok(ok.then(|| Role::parse(&role)).flatten())
    }

    pub async fn create_token(&self, role: Role) -> anyhow::Result<String> {
        let token = crypto::new_secret("sr_tok_");
        sqlx::query("INSERT INTO api_tokens (hash, role, created_at) VALUES ($1, $2, $3)")
            .bind(crypto::hash_secret(&token))
            .bind(role.as_str())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    pub async fn token_role(&self, token: &str) -> anyhow::Result<Option<Role>> {
        let row = sqlx::query("SELECT role FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL")
            .bind(crypto::hash_secret(token))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("role"))
            .transpose()?
            .and_then(|r: String| Role::parse(&r)))
    }

    pub async fn create_session(&self, user: &str, role: Role) -> anyhow::Result<String> {
        let id = crypto::new_secret("");
        let now = now_ms();
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (hash, user_name, role, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(crypto::hash_secret(&id))
        .bind(user)
        .bind(role.as_str())
        .bind(now + SESSION_MS)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn session(&self, id: &str) -> anyhow::Result<Option<(String, Role)>> {
        // A session holds only while its user still exists with the role it signed in with.
        let row =
            sqlx::query("SELECT s.user_name, s.role FROM sessions s JOIN users u \
                ON u.name = s.user_name AND u.role = s.role WHERE s.hash = $1 AND s.expires_at > $2")
                .bind(crypto::hash_secret(id))
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => {
                let role: String = r.try_get("role")?;
                Role::parse(&role)
                    .map(|role| Ok::<_, anyhow::Error>((r.try_get("user_name")?, role)))
                    .transpose()?
            }
            None => None,
        })
    }

    pub async fn delete_session(&self, id: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(crypto::hash_secret(id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- schedules ----

    /// Adds a shift to an agent's schedule (the same start replaces the end).
    pub async fn add_schedule(&self, device_id: &str, start: i64, end: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO schedules (device_id, start_at, end_at) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id, start_at) DO UPDATE SET end_at = $3",
        )
        .bind(device_id)
        .bind(start)
        .bind(end)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The agent's shifts that have not ended (and those of the last day), oldest first.
    pub async fn schedule(&self, device_id: &str, now: i64) -> anyhow::Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT start_at, end_at FROM schedules WHERE device_id = $1 AND end_at > $2 \
             ORDER BY start_at LIMIT 500",
        )
        .bind(device_id)
        .bind(now - 86_400_000)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("start_at")?, r.try_get("end_at")?)))
            .collect()
    }

    // ---- lost contact ----

    /// Signs out, with reason `lost_contact`, every signed-in agent not heard from within its
    /// site's limit. A conditional UPDATE claims each agent, so with several HQ processes on
    /// one database each sign-out happens exactly once. Returns the agents signed out.
    pub async fn sweep_lost_contact(&self, now: i64) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for (site, offline_ms) in self.sites().await? {
            let mut tx = self.pool.begin().await?;
            let rows = sqlx::query(
                "UPDATE devices SET signed_in = 0, shift_at = $3, shift_reason = 'lost_contact' \
                 WHERE site = $1 AND signed_in = 1 AND status = 'active' \
                 AND (last_seen IS NULL OR last_seen < $2) RETURNING id, readiness",
            )
            .bind(&site)
            .bind(now - offline_ms)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            for r in &rows {
                let id: String = r.try_get("id")?;
                let readiness: Option<String> = r.try_get("readiness")?;
                sqlx::query(
                    "INSERT INTO shift_log (device_id, kind, reason, at, readiness, received_at, \
                     flags) VALUES ($1, 'sign_out', 'lost_contact', $2, $3, $2, '')",
                )
                .bind(&id)
                .bind(now)
                .bind(readiness)
                .execute(&mut *tx)
                .await?;
                out.push(id);
            }
            let signed_out: Vec<&str> = out[out.len() - rows.len()..]
                .iter()
                .map(String::as_str)
                .collect();
            let postgres = self.backend == Backend::Postgres;
            crate::connectors::decide::after_events(&mut tx, postgres, &signed_out, &[], now)
                .await?;
            tx.commit().await?;
        }
        Ok(out)
    }

    /// Deletes heartbeats older than `keep_ms` (reports and shift events are kept).
    pub async fn prune(&self, now: i64, keep_ms: i64) -> anyhow::Result<u64> {
        let r = sqlx::query("DELETE FROM events WHERE kind = 'heartbeat' AND received_at < $1")
            .bind(now - keep_ms)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM enroll_attempts WHERE window_start < $1")
            .bind(now - 3_600_000)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Deletes what is older than its kind's retention: heartbeats, reports (with their chart
    /// samples; call drops as long as reports), incidents, and sign-ins/sign-outs (their
    /// events and shift-log lines), by when HQ received them. Each statement deletes at most [`PRUNE_BATCH`] rows and yields before
    /// the next, so pruning a large backlog never holds the write lock for long; one call does
    /// at most [`PRUNE_BATCHES`] batches per kind (the next sweep goes on). Returns the rows
    /// deleted per kind.
    pub async fn prune_retention(&self, now: i64, r: &Retention) -> anyhow::Result<Pruned> {
        let shift_cutoff = now - r.shift_events_ms;
        let out = Pruned {
            heartbeats: self
                .prune_batches(EVENTS_OF_KIND, &["heartbeat"], now - r.heartbeats_ms)
                .await?,
            samples: self
                .prune_batches(SAMPLES_OF_REPORTS, &[], now - r.reports_ms)
                .await?,
            reports: self
                .prune_batches(EVENTS_OF_KIND, &["report"], now - r.reports_ms)
                .await?,
            incidents: self
                .prune_batches(EVENTS_OF_KIND, &["incident"], now - r.incidents_ms)
                .await?,
            shift_events: self
                .prune_batches(EVENTS_OF_KIND, &["sign_in"], shift_cutoff)
                .await?
                + self
                    .prune_batches(EVENTS_OF_KIND, &["sign_out"], shift_cutoff)
                    .await?,
            shift_log: self.prune_batches(SHIFT_LOG, &[], shift_cutoff).await?,
            call_drops: self
                .prune_batches(EVENTS_OF_KIND, &["call_drop"], now - r.reports_ms)
                .await?
                + self
                    .prune_batches(CALL_DROPS, &[], now - r.reports_ms)
                    .await?,
        };
        sqlx::query("DELETE FROM enroll_attempts WHERE window_start < $1")
            .bind(now - 3_600_000)
            .execute(&self.pool)
            .await?;
        Ok(out)
    }

    /// Runs one of the prune statements (`$1` the cutoff, `$2` the batch size, `$3` the kind
    /// when `kind` is given) until a batch deletes fewer than [`PRUNE_BATCH`] rows.
    async fn prune_batches(
        &self,
        sql: &'static str,
        kind: &[&str],
        cutoff: i64,
    ) -> anyhow::Result<u64> {
        let mut total = 0;
        for _ in 0..PRUNE_BATCHES {
            let mut q = sqlx::query(sql).bind(cutoff).bind(PRUNE_BATCH);
            if let Some(k) = kind.first() {
                q = q.bind(*k);
            }
            let n = q.execute(&self.pool).await?.rows_affected();
            total += n;
            if n < PRUNE_BATCH as u64 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Ok(total)
    }

    // ---- reading the fleet ----

    /// Counts per state (`ready`, `degraded`, `not_ready`, `unknown`, `offline`, `revoked`,
    /// `reenroll`) and how many are signed in now.
    pub async fn fleet_summary(&self, now: i64) -> anyhow::Result<FleetSummary> {
        self.site_summary(now, None).await
    }

    /// [`Db::fleet_summary`] of one site's agents (all with `None`): one pass over the devices
    /// (a `GROUP BY` of the state sorted every device first).
    pub async fn site_summary(&self, now: i64, site: Option<&str>) -> anyhow::Result<FleetSummary> {
        let st = self.state_sql();
        let by_site = site.is_some_and(|s| !s.is_empty());
        let count =
            |state: &str| format!("SUM(CASE WHEN st = '{state}' THEN 1 ELSE 0 END) AS {state}");
        // The devices are scanned in table order, each site looked up (CROSS JOIN keeps that
        // order in SQLite); the LIMIT keeps the state one column that every sum reads, where
        // SQLite and PostgreSQL would otherwise copy its CASE into each sum.
        let q = format!(
            "SELECT COUNT(*) AS total, {}, {}, {}, {}, {}, {}, {}, {}, \
             SUM(CASE WHEN si = 1 AND status = 'active' THEN 1 ELSE 0 END) AS signed_in, \
             SUM(CASE WHEN si = 1 THEN 1 ELSE 0 END) AS signed_in_listed \
             FROM (SELECT {st} AS st, d.signed_in AS si, d.status \
             FROM devices d CROSS JOIN sites s WHERE s.name = d.site AND $1 >= 0{} \
             LIMIT 1000000000000) x",
            count("ready"),
            count("degraded"),
            count("not_ready"),
            count("unknown"),
            count("idle"),
            count("offline"),
            count("revoked"),
            count("reenroll"),
            if by_site { " AND d.site = $2" } else { "" },
        );
        let mut q = sqlx::query(AssertSqlSafe(q)).bind(now);
        if by_site {
            q = q.bind(site.unwrap_or_default());
        }
        let r = q.fetch_one(&self.pool).await?;
        // SUM over no rows is NULL.
        let n =
            |c: &str| -> anyhow::Result<i64> { Ok(r.try_get::<Option<i64>, _>(c)?.unwrap_or(0)) };
        let total = n("total")?;
        let mut s = FleetSummary {
            total,
            ready: n("ready")?,
            degraded: n("degraded")?,
            not_ready: n("not_ready")?,
            unknown: n("unknown")?,
            idle: n("idle")?,
            offline: n("offline")?,
            revoked: n("revoked")?,
            reenroll: n("reenroll")?,
            signed_in: n("signed_in")?,
            signed_in_listed: n("signed_in_listed")?,
            inactive: 0,
        };
        // Any other state (there is none today) counts as inactive, as it always did.
        s.inactive = total - s.ready - s.degraded - s.not_ready - s.unknown - s.idle - s.offline;
        Ok(s)
    }

    /// One page of the fleet.
    pub async fn fleet(&self, now: i64, f: &FleetFilter) -> anyhow::Result<(Vec<AgentRow>, i64)> {
        let (rows, total) = tokio::try_join!(self.fleet_rows(now, f), self.fleet_count(now, f))?;
        Ok((rows, total))
    }

    /// One page of the fleet with the summary of its site ([`Db::site_summary`] of `f.site`):
    /// what the fleet page and `GET /api/v1/agents` show. Without a search the number of
    /// agents matching is the summary's count of the state asked for, so only two passes over
    /// the devices are made (the summary's and the page's) instead of three.
    pub async fn fleet_with_summary(
        &self,
        now: i64,
        f: &FleetFilter,
    ) -> anyhow::Result<(Vec<AgentRow>, i64, FleetSummary)> {
        let state = f.state.as_deref().filter(|s| !s.is_empty());
        let counted_by_summary = f.q.as_deref().is_none_or(|q| q.trim().is_empty())
            && state.is_none_or(|s| proto::FleetState::parse(s).is_some());
        let count = async {
            if !counted_by_summary {
                self.fleet_count(now, f).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (rows, summary, counted) = tokio::try_join!(
            self.fleet_rows(now, f),
            self.site_summary(now, f.site.as_deref()),
            count
        )?;
        let total = match counted {
            Some(n) => n,
            None => summary.count_of(state),
        };
        Ok((rows, total, summary))
    }

    /// The `WHERE` of the fleet list for a filter (`$1` is now) and the values of its `$2...`.
    fn fleet_where(&self, f: &FleetFilter) -> (String, Vec<String>) {
        let st = self.state_sql();
        // `$1` (now) is always bound, so every statement must use it.
        let mut wheres = vec!["s.name = d.site".to_string(), "$1 >= 0".to_string()];
        let mut n = 1;
        let mut binds: Vec<String> = Vec::new();
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            n += 1;
            wheres.push(format!(
                "(LOWER(d.hostname) LIKE ${n} ESCAPE '\\' OR d.id LIKE ${n} ESCAPE '\\')"
            ));
            let esc = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            binds.push(format!("%{esc}%"));
        }
        if let Some(state) = f.state.as_deref().filter(|s| !s.is_empty()) {
            if state == "signed_in" {
                wheres.push("d.signed_in = 1".into());
            } else {
                n += 1;
                wheres.push(format!("{st} = ${n}"));
                binds.push(state.to_string());
            }
        }
        if let Some(site) = f.site.as_deref().filter(|s| !s.is_empty()) {
            n += 1;
            wheres.push(format!("d.site = ${n}"));
            binds.push(site.to_string());
        }
        (format!("WHERE {}", wheres.join(" AND ")), binds)
    }

    /// How many agents match a filter.
    async fn fleet_count(&self, now: i64, f: &FleetFilter) -> anyhow::Result<i64> {
        let (where_sql, binds) = self.fleet_where(f);
        let count_sql =
            format!("SELECT COUNT(*) AS n FROM devices d CROSS JOIN sites s {where_sql}");
        let mut cq = sqlx::query(AssertSqlSafe(count_sql)).bind(now);
        for b in binds {
            cq = cq.bind(b);
        }
        Ok(cq.fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// The agents of one page of a filter, in its order.
    async fn fleet_rows(&self, now: i64, f: &FleetFilter) -> anyhow::Result<Vec<AgentRow>> {
        let (st, rd) = (self.state_sql(), self.readiness_sql());
        let (where_sql, binds) = self.fleet_where(f);
        let desc = if f.desc { "DESC" } else { "ASC" };
        let order = match f.sort {
            // The index devices_hostname_id gives this order without a sort.
            Sort::Name => format!("d.hostname {desc}, d.id {desc}"),
            Sort::LastSeen => format!("d.last_seen {desc}, d.id {desc}"),
            // Worst first; an idle agent right after signed-in ones of its readiness, so one
            // that is not ready before its shift is near the top too.
            Sort::State => format!(
                "CASE {st} WHEN 'not_ready' THEN 0 WHEN 'offline' THEN 2 WHEN 'unknown' THEN 3 \
                 WHEN 'degraded' THEN 4 WHEN 'ready' THEN 6 \
                 WHEN 'idle' THEN CASE {rd} WHEN 'not_ready' THEN 1 WHEN 'degraded' THEN 5 \
                 ELSE 7 END ELSE 8 END {desc}, d.hostname, d.id"
            ),
        };
        // The page's ids first, sorting only what the order and the filter need (a row's
        // state is worked out for the page alone, unless the order or filter is by state);
        // then those devices again, in the same order (it ends with the unique id, and one
        // statement reads one snapshot). The devices are the outer loop (CROSS JOIN keeps
        // SQLite from scanning the sites first), so a sort by name walks the hostname index
        // and stops after the page.
        // A long list (an export) is read in one pass: there the second would cost more than
        // it saves.
        let (limit, offset) = (f.limit.clamp(1, 1_000_000), f.offset.max(0));
        let sql = if limit <= 1000 {
            format!(
                "SELECT {ROW_COLUMNS}, {rd} AS eff_readiness, {st} AS state \
                 FROM (SELECT d.id AS page_id FROM devices d CROSS JOIN sites s {where_sql} \
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}) p \
                 CROSS JOIN devices d CROSS JOIN sites s \
                 WHERE d.id = p.page_id AND s.name = d.site \
                 ORDER BY {order}"
            )
        } else {
            format!(
                "SELECT {ROW_COLUMNS}, {rd} AS eff_readiness, {st} AS state \
                 FROM devices d CROSS JOIN sites s {where_sql} \
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            )
        };
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(AgentRow::from_row).collect()
    }

    /// One agent with its last report.
    pub async fn agent(&self, now: i64, id: &str) -> anyhow::Result<Option<AgentDetail>> {
        let (st, rd) = (self.state_sql(), self.readiness_sql());
        let sql = format!(
            "SELECT {ROW_COLUMNS}, {rd} AS eff_readiness, {st} AS state, d.os, d.agent_version, d.enrolled_at, r.report AS last_report \
             FROM devices d JOIN sites s ON s.name = d.site \
             LEFT JOIN device_reports r ON r.device_id = d.id \
             WHERE d.id = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let report: Option<String> = r.try_get("last_report")?;
        Ok(Some(AgentDetail {
            agent: AgentRow::from_row(&r)?,
            os: r.try_get("os")?,
            agent_version: r.try_get("agent_version")?,
            enrolled_at: r.try_get("enrolled_at")?,
            last_report: report.and_then(|s: String| serde_json::from_str(&s).ok()),
        }))
    }

    /// An agent's probe and noise figures since `since`, oldest first (the newest 20000).
    pub async fn samples(&self, id: &str, since: i64) -> anyhow::Result<Vec<Sample>> {
        let rows = sqlx::query(
            "SELECT at, rtt_ms, jitter_ms, loss_pct, mos, noise_dbfs FROM samples \
             WHERE device_id = $1 AND at >= $2 ORDER BY at DESC LIMIT 20000",
        )
        .bind(id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Sample {
                    at: r.try_get("at")?,
                    rtt_ms: r.try_get("rtt_ms")?,
                    jitter_ms: r.try_get("jitter_ms")?,
                    loss_pct: r.try_get("loss_pct")?,
                    mos: r.try_get("mos")?,
                    noise_dbfs: r.try_get("noise_dbfs")?,
                })
            })
            .rev()
            .collect()
    }

    /// The shift log between two times (optionally one agent's), oldest first.
    pub async fn shift_log(
        &self,
        from: i64,
        to: i64,
        device: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<ShiftEntry>> {
        let rows = sqlx::query(
            "SELECT l.device_id, d.hostname, l.kind, l.reason, l.at, l.readiness, l.received_at, \
             l.flags \
             FROM shift_log l LEFT JOIN devices d ON d.id = l.device_id \
             WHERE l.at >= $1 AND l.at < $2 AND ($3 = '' OR l.device_id = $3) \
             ORDER BY l.at, l.id LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(device.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ShiftEntry::from_row).collect()
    }

    /// An agent's latest incidents: `(at, name, state, detail)`, newest first.
    pub async fn incidents(&self, id: &str, limit: i64) -> anyhow::Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT at, body FROM events WHERE device_id = $1 AND kind = 'incident' \
             ORDER BY at DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("at")?, r.try_get("body")?)))
            .collect()
    }

    /// How many events are stored (for tests and the simulator's report).
    pub async fn event_count(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM events")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }
}

/// The columns of a device that [`AgentRow::from_row`] reads (`d` is `devices`).
const ROW_COLUMNS: &str = "d.id, d.hostname, d.site, d.readiness, d.readiness_at, d.signed_in, \
    d.last_seen, d.skew_ms, d.status, d.problem, d.report_at, d.report_received_at";

impl Db {
    /// The state of an agent, in SQL: its status unless active; signed in, its readiness as
    /// [`crate::readiness`] defines it (the latest of report, heartbeat and shift event, except
    /// that an `unknown` from a heartbeat, a daemon that has not checked since it started, does
    /// not hide the last report's result), or `offline` when not heard from within the site's
    /// lost-contact window; signed out, `idle` (on and waiting for a shift; its readiness is
    /// shown beside) when heard from within the site's idle window ([`idle_ms`]) and, if HQ
    /// signed it out for lost contact, since then; else `offline`. `$1` is now in ms, and `s`
    /// the device's site. The report's readiness is a column of its own
    /// (`report_readiness`), so the fleet's scans parse no JSON.
    fn state_sql(&self) -> String {
        format!(
            "CASE WHEN d.status <> 'active' THEN d.status \
             WHEN d.last_seen IS NULL THEN 'offline' \
             WHEN d.signed_in = 0 THEN CASE WHEN d.last_seen < $1 - s.idle_ms \
             OR (d.shift_reason = 'lost_contact' AND d.last_seen <= d.shift_at) THEN 'offline' \
             ELSE 'idle' END \
             WHEN d.last_seen < $1 - s.offline_ms THEN 'offline' \
             ELSE COALESCE({}, 'unknown') END",
            self.readiness_sql()
        )
    }

    /// An agent's readiness in SQL (`NULL` before its first report or heartbeat): see
    /// [`Db::state_sql`]. `report_readiness` is the last report's (migration 0012).
    fn readiness_sql(&self) -> &'static str {
        "CASE WHEN COALESCE(d.readiness, 'unknown') = 'unknown' \
         AND d.report_readiness IS NOT NULL THEN d.report_readiness ELSE d.readiness END"
    }
}

const SESSION_MS: i64 = 12 * 3_600_000;

/// A site's row from its policy: the JSON, its ETag, the in-shift lost-contact window (ms)
/// and the idle window (ms, see [`idle_ms`]).
fn policy_row(policy: &Policy) -> anyhow::Result<(String, String, i64, i64)> {
    let json = serde_json::to_string(policy)?;
    let etag = crypto::hash_secret(&json)[..32].to_string();
    let offline = i64::from(policy.shift.heartbeat_seconds)
        * i64::from(policy.shift.lost_contact_after_missed)
        * 1000;
    Ok((json, etag, offline, idle_ms(policy)))
}

/// How long a signed-out device counts as on (`idle`) after HQ last heard from it: three of
/// its off-shift presence heartbeats (`[shift] presence_seconds`), and never less than the
/// in-shift lost-contact window, so an agent who just signed out is not called offline sooner
/// than one in a shift would be.
pub fn idle_ms(policy: &Policy) -> i64 {
    let offline = i64::from(policy.shift.heartbeat_seconds)
        * i64::from(policy.shift.lost_contact_after_missed)
        * 1000;
    (3 * i64::from(policy.shift.presence_seconds) * 1000).max(offline)
}

/// A role of an IT user or API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FleetSummary {
    pub total: i64,
    pub ready: i64,
    pub degraded: i64,
    pub not_ready: i64,
    pub unknown: i64,
    /// On and heard from, not signed in (whatever their readiness).
    pub idle: i64,
    pub offline: i64,
    /// Revoked or waiting to re-enroll.
    pub inactive: i64,
    pub signed_in: i64,
    /// The two kinds of `inactive`, for the fleet list's count of a state.
    #[serde(skip)]
    pub revoked: i64,
    #[serde(skip)]
    pub reenroll: i64,
    /// Signed in by the device's last word, whatever its status: what the list's
    /// `state=signed_in` matches (`signed_in` above counts active devices only).
    #[serde(skip)]
    pub signed_in_listed: i64,
}

impl FleetSummary {
    /// How many agents a state filter of the fleet list matches (all of them with `None`).
    pub fn count_of(&self, state: Option<&str>) -> i64 {
        match state {
            None => self.total,
            Some("ready") => self.ready,
            Some("degraded") => self.degraded,
            Some("not_ready") => self.not_ready,
            Some("unknown") => self.unknown,
            Some("idle") => self.idle,
            Some("offline") => self.offline,
            Some("revoked") => self.revoked,
            Some("reenroll") => self.reenroll,
            Some("signed_in") => self.signed_in_listed,
            Some(_) => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Name,
    State,
    LastSeen,
}

#[derive(Debug, Clone)]
pub struct FleetFilter {
    pub q: Option<String>,
    pub state: Option<String>,
    /// Only this site's agents.
    pub site: Option<String>,
    pub sort: Sort,
    pub desc: bool,
    pub limit: i64,
    pub offset: i64,
}

impl Default for FleetFilter {
    fn default() -> Self {
        FleetFilter {
            q: None,
            state: None,
            site: None,
            sort: Sort::Name,
            desc: false,
            limit: 1_000_000,
            offset: 0,
        }
    }
}

/// One agent as the fleet lists it. `readiness`, `readiness_at`, `readiness_source` and `fix`
/// are the one truth of [`crate::readiness`]; `problem` is the last report's, as it was.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub site: String,
    /// The agent's readiness (`null` before its first report or heartbeat).
    pub readiness: Option<String>,
    /// When the source below said it (RFC 3339).
    pub readiness_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `report` or `heartbeat` (a heartbeat or sign-in/out after the last report).
    pub readiness_source: Option<crate::readiness::Source>,
    /// What to fix, agreeing with `readiness` (`null` when ready).
    pub fix: Option<String>,
    /// `ready`, `degraded`, `not_ready`, `unknown` (signed in), `idle` (on, not signed in),
    /// `offline`, `revoked` or `reenroll`.
    pub state: String,
    pub signed_in: bool,
    /// When HQ last heard from it (RFC 3339).
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
    /// The agent's clock minus HQ's, in ms, measured at its last delivery.
    pub clock_skew_ms: Option<i64>,
    pub status: String,
    /// The most serious problem of its last report (`noise fail: Move to a quieter room.`).
    pub problem: Option<String>,
    /// When the last report was made, by the agent's clock (ms), and received by HQ's.
    #[serde(skip)]
    pub report_at_ms: Option<i64>,
    #[serde(skip)]
    pub report_received_at_ms: Option<i64>,
}

impl AgentRow {
    fn from_row(r: &AnyRow) -> anyhow::Result<AgentRow> {
        let last_seen: Option<i64> = r.try_get("last_seen")?;
        let readiness: Option<String> = r.try_get("eff_readiness")?;
        let stored: Option<String> = r.try_get("readiness")?;
        let status: String = r.try_get("status")?;
        let problem: Option<String> = r.try_get("problem")?;
        let report_at_ms: Option<i64> = r.try_get("report_at")?;
        let report_received_at_ms: Option<i64> = r.try_get("report_received_at")?;
        let truth = crate::readiness::derive(&crate::readiness::Facts {
            readiness: readiness.as_deref(),
            stored: stored.as_deref(),
            stored_at: r.try_get("readiness_at")?,
            report_at: report_at_ms,
            report_received_at: report_received_at_ms,
            problem: problem.as_deref(),
            status: &status,
        });
        Ok(AgentRow {
            id: r.try_get("id")?,
            name: r.try_get("hostname")?,
            site: r.try_get("site")?,
            readiness: truth.readiness,
            readiness_at: truth.at.and_then(chrono::DateTime::from_timestamp_millis),
            readiness_source: truth.source,
            fix: truth.fix,
            state: r.try_get("state")?,
            signed_in: r.try_get::<i64, _>("signed_in")? != 0,
            last_seen: last_seen.and_then(chrono::DateTime::from_timestamp_millis),
            clock_skew_ms: r.try_get("skew_ms")?,
            status,
            problem,
            report_at_ms,
            report_received_at_ms,
        })
    }
}

/// One agent with its last report. The times in ms (`enrolled_at`, `report_at`,
/// `report_received_at`) stay for the clients that read them; each has an RFC 3339 twin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentDetail {
    #[serde(flatten)]
    pub agent: AgentRow,
    pub os: String,
    pub agent_version: String,
    pub enrolled_at: i64,
    pub last_report: Option<proto::Report>,
}

/// Figures from one report, for the charts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    pub at: i64,
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub loss_pct: Option<f64>,
    pub mos: Option<f64>,
    pub noise_dbfs: Option<f64>,
}

/// One line of the shift log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShiftEntry {
    pub agent_id: String,
    pub hostname: String,
    pub kind: String,
    pub reason: String,
    /// When it happened, by the agent's clock (HQ's for `lost_contact`/`contact_restored`).
    pub at: i64,
    pub readiness: Option<String>,
    /// When HQ received it, by HQ's clock.
    pub received_at: Option<i64>,
    /// `out_of_order` (dated before the device's previous shift event; it changed nothing),
    /// `clock_off` (the device's clock was more than five minutes off HQ's).
    pub flags: Vec<String>,
}

impl ShiftEntry {
    /// A row of `shift_log l LEFT JOIN devices d` with `l.device_id, d.hostname, l.kind,
    /// l.reason, l.at, l.readiness, l.received_at, l.flags`.
    pub fn from_row(r: &AnyRow) -> anyhow::Result<ShiftEntry> {
        Ok(ShiftEntry {
            agent_id: r.try_get("device_id")?,
            hostname: r
                .try_get::<Option<String>, _>("hostname")?
                .unwrap_or_default(),
            kind: r.try_get("kind")?,
            reason: r.try_get("reason")?,
            at: r.try_get("at")?,
            readiness: r.try_get("readiness")?,
            received_at: r.try_get("received_at")?,
            flags: r
                .try_get::<String, _>("flags")?
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}
