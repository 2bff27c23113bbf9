//! Versions may differ (issue 12): an agent one release ahead of HQ, and one release behind,
//! both deliver every event. With the real binaries of the previous release, built by
//! `scripts/build-previous-release.sh` into `target/previous/bin`:
//!
//! - this agent's daemon against the previous HQ, with a report carrying a check that HQ does
//!   not know (`vpn`; the previous HQ refuses the whole batch holding it with 422): the
//!   sign-in, the sign-out and the heartbeats all reach HQ's shift log, the refused report is
//!   set aside in the spool's quarantine, and `status` says so;
//! - the previous agent's daemon against this HQ: every event it recorded reaches HQ, and HQ
//!   holds nothing it did not record.
//!
//! `SHIFTREADY_PREVIOUS_BIN_DIR` names the directory of the previous binaries; without it the
//! tests skip saying so, or fail when `SHIFTREADY_REQUIRE_PREVIOUS=1`.
#![cfg(unix)]

mod daemon_common;

use daemon_common::recorded_ids;
use serde_json::Value;
use shiftready_testkit::agent::Agent;
use shiftready_testkit::hq::{Server, admin};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const POLICY: &str = "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 5\nlost_contact_after_missed = 100";

/// The previous release's `shiftready` and `shiftready-hq`, or `None` (after saying why).
fn previous(test: &str) -> Option<(PathBuf, PathBuf)> {
    let Some(dir) = std::env::var_os("SHIFTREADY_PREVIOUS_BIN_DIR") else {
        shiftready_testkit::skip_or_fail(
            "PREVIOUS",
            test,
            "SHIFTREADY_PREVIOUS_BIN_DIR is not set (run scripts/build-previous-release.sh and \
             set it to target/previous/bin)",
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    let bins = (dir.join("shiftready"), dir.join("shiftready-hq"));
    if !bins.0.exists() || !bins.1.exists() {
        shiftready_testkit::skip_or_fail(
            "PREVIOUS",
            test,
            &format!("{} lacks shiftready or shiftready-hq", dir.display()),
        );
        return None;
    }
    Some(bins)
}

/// An HQ of either release: site `main` with [`POLICY`], a viewer token, serving.
struct SkewHq {
    dir: tempfile::TempDir,
    bin: PathBuf,
    db_url: String,
    db_path: PathBuf,
    url: String,
    token: String,
    secret: String,
    _server: Server,
}

impl SkewHq {
    fn start(bin: &Path) -> SkewHq {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("hq.db");
        let db_url = format!("sqlite://{}", db_path.display());
        let cmd = |args: &[&str]| {
            let (code, out, err) = admin(bin, &db_url, Some(dir.path()), args, None);
            assert_eq!(code, 0, "{args:?}: {err}");
            out.lines().last().unwrap_or("").trim().to_string()
        };
        let secret = cmd(&["enroll-secret", "create", "--site", "main"]);
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, format!("[shift]\n{POLICY}\n")).unwrap();
        cmd(&["policy", "set", "--site", "main", policy.to_str().unwrap()]);
        let token = cmd(&["token", "create", "--role", "viewer"]);
        let server = Server::start(
            bin,
            &db_url,
            dir.path(),
            "127.0.0.1:0",
            &[],
            &dir.path().join("hq.log"),
        );
        SkewHq {
            bin: bin.to_path_buf(),
            url: server.url.clone(),
            dir,
            db_url,
            db_path,
            token,
            secret,
            _server: server,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hq.log")).unwrap_or_default()
    }

    /// The (kind, reason) of the device's shift log, in order (`GET /api/v1/shifts`).
    fn shift_log(&self, device: &str) -> Vec<(String, String)> {
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
        v["shifts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|s| s["agent_id"] == device)
            .map(|s| {
                (
                    s["kind"].as_str().unwrap_or("").to_string(),
                    s["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// HQ's shift log for the device is one manual sign-in and its manual sign-out.
    fn assert_one_manual_shift(&self, device: &str) {
        assert_eq!(
            self.shift_log(device),
            [pair("sign_in", "manual"), pair("sign_out", "manual")],
            "HQ log:\n{}",
            self.log()
        );
    }

    /// Every event id HQ holds for the device (its database).
    fn event_ids(&self, device: &str) -> BTreeSet<String> {
        daemon_common::event_ids(&self.db_path, device)
            .into_iter()
            .collect()
    }
}

/// An agent of either release in a directory of its own (the testkit's layout, its test
/// report), run with `bin`. The previous release read the test hooks always.
struct SkewAgent {
    a: Agent,
    bin: PathBuf,
}

impl SkewAgent {
    fn new(bin: &Path) -> SkewAgent {
        SkewAgent {
            // The same shift policy locally as at HQ: heartbeats every 5 s even before (or
            // without) a policy from HQ.
            a: Agent::new("", POLICY),
            bin: bin.to_path_buf(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--config")
            .arg(&self.a.config)
            .env("SHIFTREADY_TEST_REPORT", &self.a.report)
            .env("SHIFTREADY_TEST_HOOKS_REQUIRED", "1")
            .env("SHIFTREADY_LOG", "shiftready=debug")
            .env("NO_COLOR", "1")
            .env_remove("DISPLAY");
        c
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.a.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn enroll(&self, hq: &SkewHq) -> String {
        self.ok(&["enroll", "--hq", &hq.url, "--token", &hq.secret]);
        let dev: Value =
            serde_json::from_slice(&std::fs::read(self.a.state.join("device.json")).unwrap())
                .unwrap();
        dev["device_id"].as_str().unwrap().to_string()
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.a.log)
            .unwrap();
        let child = self
            .command()
            .args(["run", "--headless"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.a.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while !self.cli(&["status", "--json"]).status.success() {
            assert!(
                Instant::now() < until,
                "the daemon did not answer:\n{}",
                self.a.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + limit;
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; last status {s}\n{}",
                self.a.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// "Run check now" (the tray's item; no CLI command has it): `{"cmd":"check"}` on the
    /// daemon's socket, the same in both releases; returns once the check is done.
    fn run_check(&self) {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::os::unix::net::UnixStream::connect(self.a.state.join("daemon.sock"))
            .expect("the daemon's socket");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(b"{\"cmd\":\"check\"}\n").unwrap();
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).unwrap();
        assert!(answer.contains("status"), "{answer}");
    }

    /// Waits until the daemon logged `n` recorded events of `kind`.
    fn wait_recorded(&self, kind: &str, n: usize, limit: Duration) {
        let until = Instant::now() + limit;
        loop {
            let got = self
                .a
                .logs()
                .lines()
                .filter(|l| l.contains("event recorded") && l.contains(kind))
                .count();
            if got >= n {
                return;
            }
            assert!(
                Instant::now() < until,
                "{got} {kind} events recorded, waited for {n}:\n{}",
                self.a.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM and wait.
    /// Starts the daemon, signs in by hand, runs the check and waits until its report and two
    /// heartbeats are recorded.
    fn start_shift(&mut self) {
        self.start();
        self.ok(&["sign-in"]);
        self.run_check();
        self.wait_recorded("report", 1, Duration::from_secs(20));
        self.wait_recorded("heartbeat", 2, Duration::from_secs(20));
    }

    /// Signs out and waits until the spool is empty (everything delivered or set aside).
    fn end_shift(&self) {
        self.ok(&["sign-out"]);
        self.wait_for("delivery", Duration::from_secs(30), |s| {
            s["spool_events"] == 0
        });
    }

    fn stop(&mut self) {
        let mut child = self.a.child.take().unwrap();
        let _ = shiftready_testkit::proc::terminate(&mut child, Duration::from_secs(20));
    }

    fn recorded(&self) -> BTreeSet<String> {
        let ids = recorded_ids(&self.a.logs());
        let set: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(set.len(), ids.len(), "an id was recorded twice");
        assert!(!set.is_empty(), "no event recorded:\n{}", self.a.logs());
        set
    }

    /// The events set aside in the spool's quarantine (the daemon must not be running).
    fn quarantined(&self) -> Vec<shiftready::spool::Quarantined> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (s, _) = shiftready::spool::Spool::open(&self.a.state.join("spool.db"), 1 << 30)
                .await
                .unwrap();
            let q = s.quarantined_events().await.unwrap();
            s.close().await;
            q
        })
    }
}

/// HQ holds exactly `want` of the device's events: none the agent did not record (or set
/// aside), and every one it did.
fn assert_exactly(at_hq: &BTreeSet<String>, want: &BTreeSet<String>, agent_log: &str) {
    assert_eq!(
        at_hq.difference(want).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "HQ holds events the agent did not record (or set aside)"
    );
    assert_eq!(
        want.difference(at_hq).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "events the agent recorded (and did not set aside) never reached HQ:\n{agent_log}"
    );
}

fn pair(k: &str, r: &str) -> (String, String) {
    (k.to_string(), r.to_string())
}

/// This agent, one release ahead of HQ: the report HQ refuses (an unknown check) is set aside
/// and everything else arrives.
#[test]
fn an_agent_ahead_of_hq_delivers_everything_hq_can_take() {
    let Some((_, prev_hq)) = previous("an_agent_ahead_of_hq_delivers_everything_hq_can_take")
    else {
        return;
    };
    let hq = SkewHq::start(&prev_hq);
    let mut a = SkewAgent::new(&shiftready_testkit::agent::bin());
    a.a.set_report(&[
        ("os", "pass"),
        ("headset", "pass"),
        ("network", "pass"),
        ("vpn", "pass"),
    ]);
    let device = a.enroll(&hq);
    a.start_shift();
    let s = a.wait_for(
        "the refused report set aside",
        Duration::from_secs(30),
        |s| s["quarantined"].as_u64().unwrap_or(0) >= 1 && s["spool_events"] == 0,
    );
    assert!(
        s["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "events_rejected"),
        "{s}"
    );
    assert_eq!(s["hq"], "connected", "{s}");
    let human = a.ok(&["status"]);
    assert!(
        human.contains("Set aside:") && human.contains("HQ refused"),
        "{human}"
    );
    a.end_shift();
    a.stop();

    hq.assert_one_manual_shift(&device);
    let recorded = a.recorded();
    let aside = a.quarantined();
    assert!(!aside.is_empty());
    for q in &aside {
        assert!(
            q.body.contains("\"vpn\""),
            "set aside but not the vpn report: {q:?}"
        );
        assert!(
            q.reason.contains("422") && q.reason.contains("vpn"),
            "{q:?}"
        );
    }
    let aside: BTreeSet<String> = aside.iter().map(|q| q.id.to_string()).collect();
    let want: BTreeSet<String> = recorded.difference(&aside).cloned().collect();
    assert_exactly(&hq.event_ids(&device), &want, &a.a.logs());
    let heartbeats =
        a.a.logs()
            .lines()
            .filter(|l| l.contains("event recorded") && l.contains("heartbeat"))
            .count();
    assert!(heartbeats >= 2);
}

/// The previous agent, one release behind HQ: everything it records arrives, and nothing else.
#[test]
fn an_agent_behind_hq_delivers_every_event() {
    let Some((prev_agent, _)) = previous("an_agent_behind_hq_delivers_every_event") else {
        return;
    };
    let hq = SkewHq::start(&shiftready_testkit::hq::bin());
    let mut a = SkewAgent::new(&prev_agent);
    let device = a.enroll(&hq);
    a.start_shift();
    a.end_shift();
    let s = a.status();
    assert_eq!(s["hq"], "connected", "{s}");
    a.stop();

    hq.assert_one_manual_shift(&device);
    let recorded = a.recorded();
    assert_exactly(&hq.event_ids(&device), &recorded, &a.a.logs());
}

/// The previous agent reads this HQ's policy and its shifts (`GET /api/v1/policy`): a shift
/// HQ holds for it shows as its next shift.
/// (It failed when HQ served `manual_sign_in_below_bar`, which the previous agent's policy
/// type denies; HQ now leaves keys at their default out of the policy it serves.)
#[test]
fn an_agent_behind_hq_reads_its_policy_and_shifts() {
    let Some((prev_agent, _)) = previous("an_agent_behind_hq_reads_its_policy_and_shifts") else {
        return;
    };
    let hq = SkewHq::start(&shiftready_testkit::hq::bin());
    let mut a = SkewAgent::new(&prev_agent);
    let device = a.enroll(&hq);
    let start = chrono::Utc::now() + chrono::Duration::hours(2);
    let end = start + chrono::Duration::hours(1);
    let csv = a.a.dir.path().join("shifts.csv");
    std::fs::write(
        &csv,
        format!(
            "agent,start,end\n{device},{},{}\n",
            start.to_rfc3339(),
            end.to_rfc3339()
        ),
    )
    .unwrap();
    let (code, _, err) = admin(
        &hq.bin,
        &hq.db_url,
        Some(hq.dir.path()),
        &["shifts", "import", csv.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    a.start();
    a.wait_for("HQ's shift", Duration::from_secs(20), |s| {
        s["next_shift"]["start"].is_string()
    });
    a.stop();
    assert!(
        !a.a.logs().contains("could not fetch the policy"),
        "{}",
        a.a.logs()
    );
}
