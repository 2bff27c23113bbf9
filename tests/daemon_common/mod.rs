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
            .env("SHIFTREADY_LOG", "shiftready=info")
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
