//! The real agent (`shiftready`) in a directory of its own: config, policy, state dir, the test
//! report the daemon reads instead of running the checks (`SHIFTREADY_TEST_REPORT`), and its
//! log; the daemon (`run`) as a child process, and the CLI against it.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The `shiftready` binary next to the running test (see [`crate::workspace_bin`]).
pub fn bin() -> PathBuf {
    crate::workspace_bin("shiftready")
}

pub struct Agent {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
    pub report: PathBuf,
    pub log: PathBuf,
    pub child: Option<Child>,
}

impl Agent {
    /// An agent with `extra` appended to its config and `shift_policy` as its `[shift]` table
    /// body; its test report says every check passes.
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

    /// `shiftready --config AGENT.toml` with the test report, debug logs, no colour and no
    /// display.
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
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
        self.spawn(&["run", "--headless"], |_| {});
    }

    /// Starts the daemon with `args` (`run`, `run --headless`), after `setup` has added what
    /// this test needs to the command (environment), stderr appended to the log; waits until
    /// it answers `status`.
    pub fn spawn(&mut self, args: &[&str], setup: impl FnOnce(&mut Command)) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = self.command();
        cmd.args(args).stdout(Stdio::null()).stderr(log);
        setup(&mut cmd);
        self.child = Some(cmd.spawn().unwrap());
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

    /// Waits until the daemon's log contains `needle`.
    pub fn wait_log(&self, needle: &str, limit: Duration) {
        crate::wait_until(
            &format!("{needle:?} in the daemon's log"),
            limit,
            Duration::from_millis(100),
            || self.logs().contains(needle),
            || self.logs(),
        );
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
    pub fn signal(&mut self, sig: &str) -> ExitStatus {
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

    /// `shiftready enroll --hq URL --token SECRET`; returns the device id it stored.
    pub fn enroll_with(&self, hq_url: &str, secret: &str) -> String {
        let out = self.cli(&["enroll", "--hq", hq_url, "--token", secret]);
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

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
