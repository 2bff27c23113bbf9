//! Storage for IT's administration: one-time re-enrollment codes and the enrollment that
//! presents them, and what `token`, `enroll-secret`, `user`, `device` and `shifts` list and
//! remove. The same dialect rules as `db.rs`: `$N` parameters, BIGINT milliseconds.
//!
//! Secrets are never read back: lists show an id (the first [`ID_LEN`] hex digits of the
//! stored SHA-256 hash, which says nothing of the secret), names and times.

use crate::crypto;
use crate::db::{Db, now_ms};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How long a re-enrollment code stays valid: seven days.
pub const REENROLL_CODE_TTL_MS: i64 = 7 * 86_400_000;

/// Hex digits of a stored hash shown as the id of a token or an enrollment secret.
pub const ID_LEN: usize = 12;

/// What an enrollment did.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub device_id: String,
    pub device_key: String,
    /// It presented a re-enrollment code and took over this existing device.
    pub reenrolled: bool,
    /// Other devices of the site with the same hostname (not revoked): `(id, status)`.
    pub same_hostname: Vec<(String, String)>,
}

/// An API token as `token list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An enrollment secret as `enroll-secret list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SecretRow {
    pub id: String,
    pub site: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A dashboard user as `user list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    pub created_at: i64,
}

/// A device as `device list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub hostname: String,
    pub site: String,
    pub status: String,
    pub enrolled_at: i64,
    pub last_seen: Option<i64>,
    /// A re-enrollment code is waiting, valid until then.
    pub reenroll_code_expires_at: Option<i64>,
    /// Other devices of the same site with the same hostname.
    pub same_hostname: Vec<String>,
}

/// A scheduled shift as `shifts list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduleRow {
    pub agent_id: String,
    pub hostname: String,
    pub start: i64,
    pub end: i64,
}

/// What `device remove` deleted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Removed {
    pub events: u64,
    pub shift_log: u64,
    pub schedules: u64,
}

/// Which of a token or a secret an id names.
#[derive(Debug, Clone, Copy)]
pub enum Credential {
    Token,
    EnrollSecret,
}

impl Credential {
    fn table(self) -> &'static str {
        match self {
            Credential::Token => "api_tokens",
            Credential::EnrollSecret => "enroll_secrets",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Credential::Token => "API token",
            Credential::EnrollSecret => "enrollment secret",
        }
    }
    fn list_cmd(self) -> &'static str {
        match self {
            Credential::Token => "token list",
            Credential::EnrollSecret => "enroll-secret list",
        }
    }
}

fn short_id(hash: &str) -> String {
    hash.chars().take(ID_LEN).collect()
}

impl Db {
    // ---- re-enrollment ----

    /// Marks the device for re-enrollment and gives it a new one-time code (replacing any
    /// earlier one). Returns `(code, expires_at)`, or `None` when there is no such device.
    pub async fn issue_reenroll_code(
        &self,
        device_id: &str,
    ) -> anyhow::Result<Option<(String, i64)>> {
        let code = crypto::new_secret("sr_re_");
        let now = now_ms();
        let expires = now + REENROLL_CODE_TTL_MS;
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("UPDATE devices SET status = 'reenroll' WHERE id = $1")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        sqlx::query("DELETE FROM reenroll_codes WHERE device_id = $1")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO reenroll_codes (device_id, hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(device_id)
        .bind(crypto::hash_secret(&code))
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((code, expires)))
    }

    /// Enrolls a device at `site`. With a re-enrollment `code`, takes over the device the code
    /// was issued for (same id and history, a new key, the hostname it presents) and uses the
    /// code up; a code that is wrong, used, expired or for another site's device is refused
    /// (`Err` with the message for the agent). Without a code it is always a new device, even
    /// when a device of that hostname waits to enroll again.
    pub async fn enroll_with_code(
        &self,
        site: &str,
        hostname: &str,
        os: &str,
        agent_version: &str,
        code: Option<&str>,
    ) -> anyhow::Result<Result<Enrolled, String>> {
        let key = crypto::new_secret("sr_dev_");
        let hash = crypto::hash_secret(&key);
        let now = now_ms();
        let (device_id, reenrolled) = match code {
            Some(code) => match self
                .use_reenroll_code(site, code, hostname, os, agent_version, &hash, now)
                .await?
            {
                Ok(id) => (id, true),
                Err(m) => return Ok(Err(m)),
            },
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO devices (id, site, hostname, os, agent_version, key_hash, \
                     enrolled_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
                (id, false)
            }
        };
        // Hostnames compare without case, as DNS does (SQLite's LOWER folds ASCII only).
        let rows = sqlx::query(
            "SELECT id, status FROM devices WHERE site = $1 AND LOWER(hostname) = LOWER($2) \
             AND id <> $3 \
             AND status <> 'revoked' ORDER BY enrolled_at, id",
        )
        .bind(site)
        .bind(hostname)
        .bind(&device_id)
        .fetch_all(&self.pool)
        .await?;
        let same_hostname = rows
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("status")?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Ok(Enrolled {
            device_id,
            device_key: key,
            reenrolled,
            same_hostname,
        }))
    }

    /// Uses up a re-enrollment code (one transaction: the code can be used once even with
    /// several HQ processes) and gives its device the new key. `Err`: why it was refused.
    #[allow(clippy::too_many_arguments)]
    async fn use_reenroll_code(
        &self,
        site: &str,
        code: &str,
        hostname: &str,
        os: &str,
        agent_version: &str,
        key_hash: &str,
        now: i64,
    ) -> anyhow::Result<Result<String, String>> {
        const HOW: &str = "ask IT for a new one (`shiftready-hq device reenroll ID` prints it)";
        if code.len() > 200 {
            return Ok(Err(format!("the re-enrollment code is not valid; {HOW}")));
        }
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "DELETE FROM reenroll_codes WHERE hash = $1 RETURNING device_id, expires_at",
        )
        .bind(crypto::hash_secret(code))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(format!(
                "the re-enrollment code is not valid (mistyped, already used, or replaced by a \
                 newer one); {HOW}"
            )));
        };
        let device_id: String = row.try_get("device_id")?;
        let expires: i64 = row.try_get("expires_at")?;
        if expires <= now {
            // The expired code stays deleted.
            tx.commit().await?;
            let when = chrono::DateTime::from_timestamp_millis(expires)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            return Ok(Err(format!(
                "the re-enrollment code expired on {when}; {HOW}"
            )));
        }
        let updated = sqlx::query(
            "UPDATE devices SET key_hash = $1, status = 'active', os = $2, agent_version = $3, \
             enrolled_at = $4, hostname = $5 WHERE id = $6 AND site = $7 AND status = 'reenroll' \
             RETURNING id",
        )
        .bind(key_hash)
        .bind(os)
        .bind(agent_version)
        .bind(now)
        .bind(hostname)
        .bind(&device_id)
        .bind(site)
        .fetch_optional(&mut *tx)
        .await?;
        if updated.is_none() {
            // Keep the code: it may be a good code with the wrong site's secret.
            tx.rollback().await?;
            return Ok(Err(format!(
                "the re-enrollment code is for a device of another site, or one IT no longer \
                 waits for (revoked or removed); use that site's enrollment secret or {HOW}"
            )));
        }
        tx.commit().await?;
        Ok(Ok(device_id))
    }

    /// Notes that an enrollment secret was used (for `enroll-secret list`).
    pub async fn note_enroll_secret_used(&self, secret: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE enroll_secrets SET last_used_at = $2 WHERE hash = $1")
            .bind(crypto::hash_secret(secret))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- tokens and enrollment secrets ----

    /// Names an API token (`token create --name`).
    pub async fn name_token(&self, token: &str, name: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE api_tokens SET name = $2 WHERE hash = $1")
            .bind(crypto::hash_secret(token))
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The id `token list` shows for a token or secret, from the secret itself.
    pub fn credential_id(secret: &str) -> String {
        short_id(&crypto::hash_secret(secret))
    }

    /// Every API token, oldest first.
    pub async fn tokens(&self) -> anyhow::Result<Vec<TokenRow>> {
        let rows = sqlx::query(
            "SELECT hash, name, role, created_at, revoked_at FROM api_tokens \
             ORDER BY created_at, hash",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenRow {
                    id: short_id(&r.try_get::<String, _>("hash")?),
                    name: r.try_get("name")?,
                    role: r.try_get("role")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Every enrollment secret, oldest first.
    pub async fn enroll_secrets(&self) -> anyhow::Result<Vec<SecretRow>> {
        let rows = sqlx::query(
            "SELECT hash, site, created_at, last_used_at, revoked_at FROM enroll_secrets \
             ORDER BY created_at, hash",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SecretRow {
                    id: short_id(&r.try_get::<String, _>("hash")?),
                    site: r.try_get("site")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes the token or secret whose id (as listed, or a longer prefix of its hash) is
    /// `id`. `Ok(Ok(true))` revoked now, `Ok(Ok(false))` it was revoked already, `Ok(Err)`
    /// no or several match.
    pub async fn revoke_credential(
        &self,
        which: Credential,
        id: &str,
    ) -> anyhow::Result<Result<bool, String>> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < 6 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Err(format!(
                "'{id}' is not an id of an {}: use the id `{}` shows (12 hex digits)",
                which.what(),
                which.list_cmd()
            )));
        }
        let table = which.table();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT hash, revoked_at FROM {table} WHERE hash LIKE $1 LIMIT 2"
        )))
        .bind(format!("{id}%"))
        .fetch_all(&self.pool)
        .await?;
        match rows.len() {
            0 => Ok(Err(format!(
                "no {} has the id {id}; `{}` shows them",
                which.what(),
                which.list_cmd()
            ))),
            1 => {
                let hash: String = rows[0].try_get("hash")?;
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL"
                )))
                .bind(&hash)
                .bind(now_ms())
                .execute(&self.pool)
                .await?;
                Ok(Ok(r.rows_affected() == 1))
            }
            _ => Ok(Err(format!(
                "several {}s start with {id}; give more of the id",
                which.what()
            ))),
        }
    }

    // ---- users ----

    pub async fn users(&self) -> anyhow::Result<Vec<UserRow>> {
        let rows = sqlx::query("SELECT name, role, created_at FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UserRow {
                    name: r.try_get("name")?,
                    role: r.try_get("role")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Removes a user and signs them out everywhere. Returns whether the user existed.
    pub async fn remove_user(&self, name: &str) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE user_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- devices ----

    /// Every device (of one site, or all), by site, hostname and id, with the other devices
    /// sharing its hostname at its site.
    pub async fn devices(&self, site: Option<&str>) -> anyhow::Result<Vec<DeviceRow>> {
        let rows = sqlx::query(
            "SELECT d.id, d.hostname, d.site, d.status, d.enrolled_at, d.last_seen, \
             c.expires_at FROM devices d LEFT JOIN reenroll_codes c ON c.device_id = d.id \
             WHERE ($1 = '' OR d.site = $1) ORDER BY d.site, d.hostname, d.id",
        )
        .bind(site.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<DeviceRow> = rows
            .iter()
            .map(|r| {
                Ok(DeviceRow {
                    id: r.try_get("id")?,
                    hostname: r.try_get("hostname")?,
                    site: r.try_get("site")?,
                    status: r.try_get("status")?,
                    enrolled_at: r.try_get("enrolled_at")?,
                    last_seen: r.try_get("last_seen")?,
                    reenroll_code_expires_at: r.try_get("expires_at")?,
                    same_hostname: Vec::new(),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        // Sorted by site and hostname: devices sharing a hostname are neighbours.
        let mut i = 0;
        while i < out.len() {
            let mut j = i + 1;
            while j < out.len()
                && out[j].site == out[i].site
                && out[j].hostname.to_lowercase() == out[i].hostname.to_lowercase()
            {
                j += 1;
            }
            if j - i > 1 {
                let ids: Vec<String> = out[i..j].iter().map(|d| d.id.clone()).collect();
                for d in &mut out[i..j] {
                    d.same_hostname = ids.iter().filter(|x| **x != d.id).cloned().collect();
                }
            }
            i = j;
        }
        Ok(out)
    }

    /// The devices whose id or hostname is `name`: `(id, hostname, site)`.
    pub async fn devices_named(&self, name: &str) -> anyhow::Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT id, hostname, site FROM devices WHERE id = $1 OR hostname = $1 \
             ORDER BY enrolled_at, id",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let all: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("hostname")?, r.try_get("site")?)))
            .collect::<anyhow::Result<_>>()?;
        // An exact id wins over hostnames.
        Ok(match all.iter().find(|d| d.0 == name) {
            Some(d) => vec![d.clone()],
            None => all,
        })
    }

    /// Removes a device with everything HQ holds about it (events and the addresses they came
    /// from, shift log, samples and the timeline, call drops, schedule, pending code and check
    /// request). Returns `None` when there is no such device.
    pub async fn remove_device(&self, id: &str) -> anyhow::Result<Option<Removed>> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT id FROM devices WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let mut removed = Removed::default();
        // The addresses HQ saw its events from go with the events (keyed by event).
        sqlx::query(
            "DELETE FROM event_addrs WHERE event_id IN (SELECT id FROM events WHERE device_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for (table, count) in [
            ("events", Some(&mut removed.events)),
            ("shift_log", Some(&mut removed.shift_log)),
            ("schedules", Some(&mut removed.schedules)),
            ("samples", None),
            ("reenroll_codes", None),
            ("device_reports", None),
            ("minute_samples", None),
            ("sample_hours", None),
            ("call_drops", None),
            ("check_requests", None),
        ] {
            let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE device_id = $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(c) = count {
                *c = r.rows_affected();
            }
        }
        sqlx::query("DELETE FROM devices WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(removed))
    }

    /// How many devices belong to a site.
    pub async fn site_device_count(&self, site: &str) -> anyhow::Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM devices WHERE site = $1")
                .bind(site)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    /// Whether a site exists (a row in `sites` or a device).
    pub async fn site_exists(&self, site: &str) -> anyhow::Result<bool> {
        let r = sqlx::query(
            "SELECT 1 AS x FROM sites WHERE name = $1 UNION ALL \
             SELECT 1 AS x FROM devices WHERE site = $1 LIMIT 1",
        )
        .bind(site)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.is_some())
    }

    /// Removes a site with all its devices (and everything they sent) and its enrollment
    /// secrets. Returns how many devices were removed.
    pub async fn remove_site(&self, site: &str) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM event_addrs WHERE event_id IN (SELECT e.id FROM events e \
             JOIN devices d ON d.id = e.device_id WHERE d.site = $1)",
        )
        .bind(site)
        .execute(&mut *tx)
        .await?;
        for table in [
            "events",
            "shift_log",
            "schedules",
            "samples",
            "reenroll_codes",
            "device_reports",
            "minute_samples",
            "sample_hours",
            "call_drops",
            "check_requests",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE device_id IN (SELECT id FROM devices WHERE site = $1)"
            )))
            .bind(site)
            .execute(&mut *tx)
            .await?;
        }
        let n = sqlx::query("DELETE FROM devices WHERE site = $1")
            .bind(site)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM enroll_secrets WHERE site = $1")
            .bind(site)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sites WHERE name = $1")
            .bind(site)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Deletes an API token for good (simulate's own viewer token).
    pub async fn delete_token(&self, token: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM api_tokens WHERE hash = $1")
            .bind(crypto::hash_secret(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- schedules ----

    /// Scheduled shifts (of one agent, or all) that end after `from` and start before `to`.
    pub async fn schedules(
        &self,
        device: Option<&str>,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<ScheduleRow>> {
        let rows = sqlx::query(
            "SELECT s.device_id, d.hostname, s.start_at, s.end_at FROM schedules s \
             LEFT JOIN devices d ON d.id = s.device_id \
             WHERE ($1 = '' OR s.device_id = $1) AND s.end_at > $2 AND s.start_at < $3 \
             ORDER BY s.start_at, s.device_id",
        )
        .bind(device.unwrap_or(""))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_row).collect()
    }

    /// Deletes an agent's shifts that start in `[from, to)`. Returns how many.
    pub async fn delete_schedules(&self, device: &str, from: i64, to: i64) -> anyhow::Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM schedules WHERE device_id = $1 AND start_at >= $2 AND start_at < $3",
        )
        .bind(device)
        .bind(from)
        .bind(to)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Adds shifts in one transaction.
    pub async fn add_schedules(&self, shifts: &[(String, i64, i64)]) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, s, e) in shifts {
            sqlx::query("INSERT INTO schedules (device_id, start_at, end_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(s)
                .bind(e)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn schedule_row(r: &AnyRow) -> anyhow::Result<ScheduleRow> {
    Ok(ScheduleRow {
        agent_id: r.try_get("device_id")?,
        hostname: r
            .try_get::<Option<String>, _>("hostname")?
            .unwrap_or_default(),
        start: r.try_get("start_at")?,
        end: r.try_get("end_at")?,
    })
}
