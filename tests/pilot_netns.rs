//! The pilot stream (issue 15, "notice in seconds") with the real daemon and the real HQ in
//! network namespaces: an "agent" namespace whose default route goes through a "router"
//! namespace to an "hq" namespace running `shiftready-hq serve` (HTTP and the reflector). The
//! daemon is enrolled, signed in by `shiftready sign-in`, and its pilot streams to the
//! reflector with the probe token from HQ's policy. The router impairs traffic with nftables
//! (the kernel has no netem; TESTING-NOTES.md):
//! - (a) everything to and from HQ dropped mid-shift: `network_degraded` within 10 s of the
//!   cut, scope `beyond_home` (the router still answers), at HQ after recovery, and ended
//!   after recovery;
//! - (b) 50 % of the UDP to the reflector dropped for 5 s (a loss burst upstream): raised
//!   within 10 s of its start;
//! - (c) two clean minutes: nothing raised.
//!
//! The agent's checks come from the test report (`SHIFTREADY_TEST_REPORT`), so the
//! once-a-minute network monitor passes and only the pilot can raise. Needs root, iproute2,
//! nftables and the `shiftready-hq` binary; otherwise each test prints SKIPPED and passes
//! (`SHIFTREADY_REQUIRE_NETNS=1` makes that a failure).
#![cfg(target_os = "linux")]

mod daemon_common;

use daemon_common::Agent;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const AGENT_IP: &str = "10.72.1.2";
const GATEWAY_IP: &str = "10.72.1.1";
const ROUTER_HQ_SIDE_IP: &str = "10.72.2.1";
const HQ_IP: &str = "10.72.2.2";
const HTTP_PORT: u16 = 8640;
const PROBE_PORT: u16 = proto::probe::DEFAULT_PORT;

fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip(args: &[&str]) -> Result<Output, String> {
    run(Command::new("ip").args(args))
}

fn hq_bin() -> PathBuf {
    shiftready_testkit::hq::bin()
}

fn missing_prerequisite() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Some("not root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    if ip(&["-V"]).is_err() {
        return Some("`ip` not found (apt-get install iproute2)".into());
    }
    if run(Command::new("nft").arg("--version")).is_err() {
        return Some("`nft` not found (apt-get install nftables)".into());
    }
    if !hq_bin().exists() {
        return Some(format!("{} is missing", hq_bin().display()));
    }
    None
}

/// The namespaces, HQ in the last, and the enrolled agent; all removed on drop.
struct Lab {
    created: Vec<String>,
    agent_ns: String,
    router: String,
    hq: Option<shiftready_testkit::hq::Server>,
    dir: tempfile::TempDir,
    agent: Option<Agent>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        drop(self.agent.take());
        drop(self.hq.take());
        for ns in self.created.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

impl Lab {
    fn new(test: &str) -> Option<Lab> {
        if let Some(why) = missing_prerequisite() {
            if std::env::var("SHIFTREADY_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
                panic!("SHIFTREADY_REQUIRE_NETNS=1 but {test} cannot run: {why}");
            }
            println!("SKIPPED {test}: {why}");
            return None;
        }
        let tag = format!("srp{}{test}", std::process::id());
        let (a, r, h) = (format!("{tag}-a"), format!("{tag}-r"), format!("{tag}-h"));
        let mut lab = Lab {
            created: Vec::new(),
            agent_ns: a.clone(),
            router: r.clone(),
            hq: None,
            dir: tempfile::tempdir().unwrap(),
            agent: None,
        };
        for ns in [&a, &r, &h] {
            ip(&["netns", "add", ns]).unwrap();
            lab.created.push(ns.clone());
            ip(&["-n", ns, "link", "set", "lo", "up"]).unwrap();
        }
        for (ns1, if1, ns2, if2) in [(&a, "a0", &r, "r0"), (&r, "r1", &h, "h0")] {
            ip(&[
                "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2, "netns", ns2,
            ])
            .unwrap();
        }
        for (ns, dev, addr) in [
            (&a, "a0", AGENT_IP),
            (&r, "r0", GATEWAY_IP),
            (&r, "r1", ROUTER_HQ_SIDE_IP),
            (&h, "h0", HQ_IP),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]).unwrap();
            ip(&["-n", ns, "link", "set", dev, "up"]).unwrap();
        }
        ip(&["-n", &a, "route", "add", "default", "via", GATEWAY_IP]).unwrap();
        ip(&[
            "-n",
            &h,
            "route",
            "add",
            "default",
            "via",
            ROUTER_HQ_SIDE_IP,
        ])
        .unwrap();
        sysctl(&r, "net/ipv4/ip_forward", "1");
        sysctl(&a, "net/ipv4/ping_group_range", "0 2147483647");
        let db_url = format!("sqlite://{}", lab.dir.path().join("hq.db").display());
        lab.hq = Some(
            shiftready_testkit::hq::Serve {
                bin: &hq_bin(),
                db_url: &db_url,
                data_dir: lab.dir.path(),
                listen: &format!("{HQ_IP}:{HTTP_PORT}"),
                probe_listen: &format!("{HQ_IP}:{PROBE_PORT}"),
                extra: &[],
                log: &lab.dir.path().join("hq.log"),
                wrapper: &["ip", "netns", "exec", &h],
            }
            .start(),
        );
        let (code, out, err) = shiftready_testkit::hq::admin(
            &hq_bin(),
            &db_url,
            Some(lab.dir.path()),
            &["enroll-secret", "create", "--site", "main"],
            None,
        );
        assert_eq!(code, 0, "{err}");
        let secret = out.lines().last().unwrap().trim().to_string();
        let agent = Agent::new(
            &format!(
                "[hq]\nurl = \"http://{HQ_IP}:{HTTP_PORT}\"\nallow_plain_http = true\n\n\
                 [monitor]\npilot = true\n"
            ),
            "",
        );
        let out = lab
            .in_agent_ns(&agent)
            .args(["enroll", "--hq", &format!("http://{HQ_IP}:{HTTP_PORT}")])
            .args(["--token", &secret])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "enroll: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab.agent = Some(agent);
        Some(lab)
    }

    /// `shiftready --config ...` (with the testkit's environment) inside the agent namespace.
    fn in_agent_ns(&self, agent: &Agent) -> Command {
        let base = agent.command();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.agent_ns])
            .arg(base.get_program())
            .args(base.get_args());
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.env_remove("SHIFTREADY_PROBE_GATEWAY");
        c
    }

    /// Starts the daemon in the agent namespace and signs in; waits for the pilot.
    fn start_signed_in(&mut self) -> &Agent {
        let mut agent = self.agent.take().unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&agent.log)
            .unwrap();
        let child = self
            .in_agent_ns(&agent)
            .args(["run", "--headless"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        agent.child = Some(child);
        agent.wait_up();
        let out = agent.cli(&["sign-in"]);
        assert!(out.status.success(), "sign-in: {out:?}\n{}", agent.logs());
        agent.wait_for("signed in", Duration::from_secs(10), |s| {
            s["signed_in"] == true
        });
        agent.wait_log("pilot stream to HQ's reflector", Duration::from_secs(30));
        self.agent = Some(agent);
        self.agent.as_ref().unwrap()
    }

    fn nft(&self, ruleset: &str) {
        let mut c = Command::new("ip")
            .args(["netns", "exec", &self.router, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft: {}\n{ruleset}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn impair(&self, rules: &str) {
        self.nft(&format!(
            "table inet imp {{\n chain through {{\n  type filter hook forward priority 0;\n{rules}\n }}\n}}\n"
        ));
    }

    fn heal(&self) {
        self.nft("delete table inet imp\n");
    }

    fn hq_incidents(&self) -> Vec<serde_json::Value> {
        self.hq_bodies("incident")
    }

    /// The bodies of the events of `kind` HQ holds, oldest first.
    fn hq_bodies(&self, kind: &str) -> Vec<serde_json::Value> {
        let db = self.dir.path().join("hq.db");
        daemon_common::read_hq_db(&db, async |c| {
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT body FROM events WHERE kind = ? ORDER BY at")
                    .bind(kind)
                    .fetch_all(c)
                    .await
                    .unwrap();
            rows.into_iter()
                .map(|(b,)| serde_json::from_str(&b).unwrap())
                .collect()
        })
    }
}

fn sysctl(ns: &str, key: &str, value: &str) {
    run(Command::new("ip").args([
        "netns",
        "exec",
        ns,
        "sh",
        "-c",
        &format!("echo '{value}' > /proc/sys/{key}"),
    ]))
    .unwrap();
}

fn degraded(s: &serde_json::Value) -> bool {
    s["incidents"]
        .as_array()
        .is_some_and(|v| v.iter().any(|i| i == "network_degraded"))
}

/// Polls the daemon's status until `network_degraded` is open (or not); the time it took.
fn time_until(a: &Agent, open: bool, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if degraded(&a.status()) == open {
            return Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn an_outage_mid_shift_is_raised_within_10_s_and_ends_after_recovery() {
    let Some(mut lab) = Lab::new("out") else {
        return;
    };
    lab.start_signed_in();
    // Some clean seconds first: a shift already going on.
    std::thread::sleep(Duration::from_secs(5));
    let a = lab.agent.as_ref().unwrap();
    assert!(!degraded(&a.status()), "{}", a.logs());
    lab.impair(&format!("  ip daddr {HQ_IP} drop\n  ip saddr {HQ_IP} drop"));
    let took = time_until(a, true, Duration::from_secs(20));
    let took = took.unwrap_or_else(|| panic!("not raised within 20 s:\n{}", a.logs()));
    println!("outage raised {:.1} s after the cut", took.as_secs_f64());
    assert!(took <= Duration::from_secs(10), "raised after {took:?}");
    let log = a.logs();
    let line = log
        .lines()
        .find(|l| l.contains("pilot: no answer from HQ for"))
        .unwrap_or_else(|| panic!("no pilot line:\n{log}"));
    assert!(line.contains("beyond_home"), "the router answered: {line}");
    std::thread::sleep(Duration::from_secs(5));
    lab.heal();
    let healed = Instant::now();
    let a = lab.agent.as_ref().unwrap();
    let ended = time_until(a, false, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("not ended within 120 s of recovery:\n{}", a.logs()));
    println!("ended {:.1} s after recovery", ended.as_secs_f64());
    assert!(
        a.logs().contains("pilot: clean again; ended"),
        "{}",
        a.logs()
    );
    // HQ got both, the start with its scope, once each.
    a.wait_for("delivery", Duration::from_secs(30), |s| {
        s["spool_events"] == 0
    });
    let inc = lab.hq_incidents();
    let ours: Vec<&serde_json::Value> = inc
        .iter()
        .filter(|b| b["name"] == "network_degraded")
        .collect();
    assert_eq!(ours.len(), 2, "{inc:?}");
    assert_eq!(ours[0]["state"], "started", "{ours:?}");
    assert_eq!(ours[0]["scope"], "beyond_home", "{ours:?}");
    assert!(
        ours[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("no answer from HQ for 3 s"),
        "{ours:?}"
    );
    assert_eq!(ours[1]["state"], "ended", "{ours:?}");
    assert!(healed.elapsed() < Duration::from_secs(200));
}

#[test]
fn a_5_s_upstream_loss_burst_is_raised_within_10_s() {
    let Some(mut lab) = Lab::new("loss") else {
        return;
    };
    lab.start_signed_in();
    std::thread::sleep(Duration::from_secs(5));
    let a = lab.agent.as_ref().unwrap();
    assert!(!degraded(&a.status()), "{}", a.logs());
    // Half of the UDP to the reflector lost for 5 s (pilot and voice probe alike).
    let cut = Instant::now();
    lab.impair(&format!(
        "  ip daddr {HQ_IP} udp dport {PROBE_PORT} numgen random mod 100 < 50 drop"
    ));
    let a = lab.agent.as_ref().unwrap();
    let mut raised = None;
    while cut.elapsed() < Duration::from_secs(20) {
        if cut.elapsed() >= Duration::from_secs(5) {
            lab.heal_once();
        }
        if degraded(&a.status()) {
            raised = Some(cut.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.heal_once();
    let took = raised.unwrap_or_else(|| panic!("not raised within 20 s:\n{}", a.logs()));
    println!(
        "loss burst raised {:.1} s after it began",
        took.as_secs_f64()
    );
    assert!(took <= Duration::from_secs(10), "raised after {took:?}");
    let log = a.logs();
    let line = log
        .lines()
        .find(|l| l.contains("pilot:") && l.contains("loss upstream"))
        .unwrap_or_else(|| panic!("no upstream loss line:\n{log}"));
    assert!(line.contains("voice-shaped probe"), "{line}");
}

#[test]
fn two_clean_minutes_raise_nothing() {
    let Some(mut lab) = Lab::new("clean") else {
        return;
    };
    lab.start_signed_in();
    std::thread::sleep(Duration::from_secs(120));
    let a = lab.agent.as_ref().unwrap();
    let s = a.status();
    assert!(!degraded(&s), "{s}\n{}", a.logs());
    let log = a.logs();
    assert!(!log.contains("network_degraded"), "{log}");
    assert!(log.contains("pilot stream to HQ's reflector"), "{log}");
    // The pilot's seconds reached HQ in the per-minute samples (the ring, read by
    // daemon/samples.rs): a whole minute measured, nothing lost, the router answering.
    a.wait_for("delivery", Duration::from_secs(30), |s| {
        s["spool_events"] == 0
    });
    let samples = lab.hq_bodies("sample");
    let full: Vec<&serde_json::Value> = samples
        .iter()
        .map(|b| &b["sample"])
        .filter(|m| m["seconds"].as_u64() >= Some(55))
        .collect();
    assert!(!full.is_empty(), "no whole minute at HQ: {samples:?}");
    for m in full {
        assert!(m["rtt_p50_ms"].as_f64().is_some_and(|r| r < 50.0), "{m}");
        assert_eq!(m["loss_up_pct"], 0.0, "{m}");
        assert_eq!(m["loss_down_pct"], 0.0, "{m}");
        assert_eq!(m["gateway_loss_pct"], 0.0, "{m}");
        assert_eq!(m["link"], "wired", "{m}");
        assert_eq!(m["link_down_seconds"], 0, "{m}");
        assert!(m["mos_min"].as_f64().is_some_and(|v| v > 4.0), "{m}");
    }
}

impl Lab {
    /// Removes the impairment if it is still there.
    fn heal_once(&self) {
        let listed = Command::new("ip")
            .args(["netns", "exec", &self.router, "nft", "list", "tables"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("imp"))
            .unwrap_or(false);
        if listed {
            self.heal();
        }
    }
}
