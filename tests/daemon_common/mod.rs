//! Shared by the daemon tests: an agent with its own state dir, config, local shift and test
//! report, running the real `shiftready run --headless` as a subprocess.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

pub struct Agent {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
    pub report: PathBuf,
    pub log: PathBuf,
    pub child: Option<Child>,
}

/// `[[schedule.shift]]` lines for one shift between two UTC times (seconds resolution).
pub fn shift_toml(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let day = start.format("%a").to_string().to_lowercase();
    format!(
        "[[schedule.shift]]\ndays = [\"{day}\"]\nstart = \"{}\"\nend = \"{}\"\ntimezone = \"UTC\"\n",
        start.format("%H:%M:%S"),
        end.format("%H:%M:%S")
    )
}

impl Agent {
    /// An agent with `extra` appended to its config and `policy` as its `[shift]` table body.
    pub fn new(extra: &str, shift_policy: &str) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.toml");
        let state = dir.path().join("state");
        let report = dir.path().join("report.json");
        let log = dir.path().join("daemon.log");
        std::fs::write(
            dir.path().join("policy.toml"),
            format!("[shift]\n{shift_policy}\n"),
        )
        .unwrap();
        std::fs::write(
            &config,
            format!(
                "[agent]\nstate_dir = \"state\"\npolicy_file = \"policy.toml\"\n\n\
                 [daemon]\nheadset_poll_seconds = 1\nnotifications = false\n\n{extra}"
            ),
        )
        .unwrap();
        let a = Agent {
            dir,
            config,
            state,
            report,
            log,
            child: None,
        };
        a.set_report(&[("os", "pass"), ("headset", "pass"), ("network", "pass")]);
        a
    }

    /// Rewrites the test report the daemon reads instead of running the checks.
    pub fn set_report(&self, checks: &[(&str, &str)]) {
        let mut m = serde_json::Map::new();
        for (name, status) in checks {
            let hint = if *status == "pass" {
                String::new()
            } else {
                format!("Fix the {name}.")
            };
            m.insert(
                name.to_string(),
                json!({"status": status, "metrics": {}, "hint": hint}),
            );
        }
        let doc = json!({"schema": 1, "readiness": "unknown", "checks": m});
        let tmp = self.report.with_extension("tmp");
        std::fs::write(&tmp, doc.to_string()).unwrap();
        std::fs::rename(&tmp, &self.report).unwrap();
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&self.config)
            .env("SHIFTREADY_TEST_REPORT", &self.report)
            // A build without the test hooks (`--features shiftready/test-hooks`) then exits
            // saying so instead of running the real checks (shiftready::test_hooks::REQUIRED).
            .env("SHIFTREADY_TEST_HOOKS_REQUIRED", "1")
            .env("SHIFTREADY_LOG", "shiftready=debug")
            .env("NO_COLOR", "1")
            .env_remove("DISPLAY");
        c
    }

    /// Starts `run --headless` and waits until it answers `status`.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = self
            .command()
            .args(["run", "--headless"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_up();
    }

    /// Waits until the daemon in `self.child` answers `status`.
    pub fn wait_up(&mut self) {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if self.cli(&["status", "--json"]).status.success() {
                return;
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited early ({st}):\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("daemon did not answer within 20 s:\n{}", self.logs());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    pub fn status(&self) -> Value {
        let out = self.cli(&["status", "--json"]);
        assert!(
            out.status.success(),
            "status failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Polls `status --json` until `pred` holds.
    pub fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + limit;
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            if Instant::now() > until {
                panic!(
                    "timed out waiting for {what}; last status {s}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends a signal with kill(1) and waits for the exit.
    pub fn signal(&mut self, sig: &str) -> std::process::ExitStatus {
        let pid = self.pid().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
        let mut child = self.child.take().unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > until {
                let _ = child.kill();
                panic!("daemon did not stop after {sig}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The events in the spool (the daemon must not be running).
    pub fn spool_events(&self) -> Vec<proto::Event> {
        spool_events(&self.state.join("spool.db"))
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

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
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

/// The `shiftready-hq` binary in this test's target dir. `cargo test --workspace` (CI, the
/// README) builds it; cargo cannot be run from inside a test (it holds the build lock).
pub fn hq_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join(format!("shiftready-hq{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, or `cargo build -p shiftready-hq` first",
        bin.display()
    );
    bin
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
    child: Option<Child>,
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
            child: None,
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
        let out = Command::new(hq_bin())
            .args(args)
            .env("SHIFTREADY_HQ_DATABASE_URL", &self.db_url)
            .env("XDG_DATA_HOME", self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts the server (on the same port as before after the first time).
    pub fn serve(&mut self) {
        use std::io::{BufRead, BufReader};
        let listen = format!("127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("hq.log"))
            .unwrap();
        let mut child = Command::new(hq_bin())
            .args([
                "serve",
                "--listen",
                &listen,
                "--probe-listen",
                "127.0.0.1:0",
            ])
            .env("SHIFTREADY_HQ_DATABASE_URL", &self.db_url)
            .env("XDG_DATA_HOME", self.dir.path())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut url = None;
        for _ in 0..5 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(u) = line.trim().strip_prefix("shiftready-hq: listening on ") {
                url = Some(u.to_string());
                break;
            }
        }
        let url = url.unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "HQ did not start: {}",
                std::fs::read_to_string(self.dir.path().join("hq.log")).unwrap_or_default()
            )
        });
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        self.port = url
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .parse()
            .unwrap();
        self.url = url;
        self.child = Some(child);
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        let mut c = self.child.take().unwrap();
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        for _ in 0..200 {
            if c.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// `GET /api/v1/shifts` (the last day) as the IT viewer.
    pub fn shifts(&self) -> Vec<Value> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("{}/api/v1/shifts", self.url);
        let token = self.token.clone();
        let v: Value = rt.block_on(async move {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let c = reqwest::Client::builder().build().unwrap();
            let r = c.get(url).bearer_auth(token).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json().await.unwrap()
        });
        v["shifts"].as_array().cloned().unwrap_or_default()
    }

    /// The ids of every event HQ holds for a device (read from its database).
    pub fn event_ids(&self, device_id: &str) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&self.db_path)
                .read_only(true);
            let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM events WHERE device_id = ?")
                .bind(device_id)
                .fetch_all(&mut c)
                .await
                .unwrap();
            let _ = c.close().await;
            ids
        })
    }
}

impl Drop for Hq {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Agent {
    /// `shiftready enroll` against `hq`; returns the device id.
    pub fn enroll(&self, hq: &Hq) -> String {
        let out = self.cli(&["enroll", "--hq", &hq.url, "--token", &hq.secret]);
        assert!(
            out.status.success(),
            "enroll failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dev: Value =
            serde_json::from_slice(&std::fs::read(self.state.join("device.json")).unwrap())
                .unwrap();
        dev["device_id"].as_str().unwrap().to_string()
    }
}

/// The (kind, reason) of a device's shift-log entries at HQ, in order.
pub fn hq_shift_log(hq: &Hq, device: &str) -> Vec<(String, String)> {
    let mut v: Vec<&Value> = Vec::new();
    let all = hq.shifts();
    v.extend(all.iter().filter(|s| s["agent_id"] == device));
    v.iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
