//! Shared by the daemon tests: what is particular to them on top of the testkit's agent and HQ
//! processes — a local shift in the config, HQ with a site, policy and viewer token, and
//! reading the spool, the log and HQ's shift log.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use shiftready_testkit::agent::Agent;

/// `[[schedule.shift]]` lines for one shift between two UTC times (seconds resolution).
pub fn shift_toml(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let day = start.format("%a").to_string().to_lowercase();
    format!(
        "[[schedule.shift]]\ndays = [\"{day}\"]\nstart = \"{}\"\nend = \"{}\"\ntimezone = \"UTC\"\n",
        start.format("%H:%M:%S"),
        end.format("%H:%M:%S")
    )
}

/// What the daemon tests do with an agent beyond the testkit's: its spool, enrolling at [`Hq`].
pub trait AgentExt {
    /// The events in the spool (the daemon must not be running).
    fn spool_events(&self) -> Vec<proto::Event>;
    /// `shiftready enroll` against `hq`; returns the device id.
    fn enroll(&self, hq: &Hq) -> String;
}

impl AgentExt for Agent {
    fn spool_events(&self) -> Vec<proto::Event> {
        spool_events(&self.state.join("spool.db"))
    }

    fn enroll(&self, hq: &Hq) -> String {
        self.enroll_with(&hq.url, &hq.secret)
    }
}

pub fn spool_events(path: &Path) -> Vec<proto::Event> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (s, _) = shiftready::spool::Spool::open(path, 1 << 30).await.unwrap();
        let v = s.peek(1_000_000).await.unwrap();
        s.close().await;
        v
    })
}

/// Shift events (kind, reason) in order.
pub fn shift_events(events: &[proto::Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            proto::EventBody::SignIn { reason, .. } => {
                Some(("sign_in".to_string(), reason.as_str().to_string()))
            }
            proto::EventBody::SignOut { reason, .. } => {
                Some(("sign_out".to_string(), reason.as_str().to_string()))
            }
            _ => None,
        })
        .collect()
}

/// Ids of the events the daemon logged as committed to its spool.
pub fn recorded_ids(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("event recorded"))
        .filter_map(|l| l.split("id=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(str::to_string)
        .collect()
}

/// A real `shiftready-hq serve` with its own SQLite database, restartable on the same port.
pub struct Hq {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub db_path: PathBuf,
    pub url: String,
    pub port: u16,
    pub token: String,
    pub secret: String,
    server: Option<shiftready_testkit::hq::Server>,
}

impl Hq {
    /// A database with site `main`, the given `[shift]` policy and a viewer token; started.
    pub fn start(shift_policy: &str) -> Hq {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("hq.db");
        let db_url = format!("sqlite://{}", db_path.display());
        let mut hq = Hq {
            dir,
            db_url,
            db_path,
            url: String::new(),
            port: 0,
            token: String::new(),
            secret: String::new(),
            server: None,
        };
        let (code, out, err) = hq.cmd(&["enroll-secret", "create", "--site", "main"]);
        assert_eq!(code, 0, "{err}");
        hq.secret = out.lines().last().unwrap().trim().to_string();
        let policy = hq.dir.path().join("policy.toml");
        std::fs::write(&policy, format!("[shift]\n{shift_policy}\n")).unwrap();
        let (code, _, err) = hq.cmd(&["policy", "set", "--site", "main", policy.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = hq.cmd(&["token", "create", "--role", "viewer"]);
        assert_eq!(code, 0, "{err}");
        hq.token = out.lines().last().unwrap().trim().to_string();
        hq.serve();
        hq
    }

    pub fn cmd(&self, args: &[&str]) -> (i32, String, String) {
        shiftready_testkit::hq::admin(
            &shiftready_testkit::hq::bin(),
            &self.db_url,
            Some(self.dir.path()),
            args,
            None,
        )
    }

    /// Starts the server (on the same port as before after the first time).
    pub fn serve(&mut self) {
        let s = shiftready_testkit::hq::Server::start(
            &shiftready_testkit::hq::bin(),
            &self.db_url,
            self.dir.path(),
            &format!("127.0.0.1:{}", self.port),
            &[],
            &self.dir.path().join("hq.log"),
        );
        self.port = s.port;
        self.url = s.url.clone();
        self.server = Some(s);
    }

    /// SIGTERM and wait (killed after 10 s).
    pub fn stop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = shiftready_testkit::proc::terminate(
                &mut s.child,
                std::time::Duration::from_secs(10),
            );
        }
    }

    /// `GET /api/v1/shifts` (the last day) as the IT viewer.
    pub fn shifts(&self) -> Vec<Value> {
        let v = self.api("/api/v1/shifts");
        v["shifts"].as_array().cloned().unwrap_or_default()
    }

    /// `GET PATH` of HQ's API as the IT viewer: the JSON answer (a success, or a panic).
    pub fn api(&self, path: &str) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("{}{path}", self.url);
        let token = self.token.clone();
        rt.block_on(async move {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let c = reqwest::Client::builder().build().unwrap();
            let r = c.get(url).bearer_auth(token).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json().await.unwrap()
        })
    }

    /// The ids of every event HQ holds for a device (read from its database).
    pub fn event_ids(&self, device_id: &str) -> Vec<String> {
        event_ids(&self.db_path, device_id)
    }
}

/// Runs `f` on a read-only connection to an HQ's SQLite database at `db_path` (HQ may be
/// running: nothing is written).
pub fn read_hq_db<T>(db_path: &Path, f: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db_path)
            .read_only(true);
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        let out = f(&mut c).await;
        let _ = c.close().await;
        out
    })
}

/// The ids of every event an HQ's SQLite database at `db_path` holds for a device. Any
/// release's HQ: the `events` table's `id` and `device_id` are as old as HQ.
pub fn event_ids(db_path: &Path, device_id: &str) -> Vec<String> {
    read_hq_db(db_path, async |c| {
        sqlx::query_scalar("SELECT id FROM events WHERE device_id = ?")
            .bind(device_id)
            .fetch_all(c)
            .await
            .unwrap()
    })
}

/// The (kind, reason) of a device's shift-log entries at HQ, in order.
pub fn hq_shift_log(hq: &Hq, device: &str) -> Vec<(String, String)> {
    hq.shifts()
        .iter()
        .filter(|s| s["agent_id"] == device)
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
