//! A dropped call reported during an outage (issue 15, "Done when"): the real daemon in a
//! network namespace whose default route goes through a "router" namespace to HQ's, signed in
//! with its pilot streaming to HQ's reflector; the router cuts the line with nftables (the
//! kernel has no netem; TESTING-NOTES.md), and `shiftready report-drop` during the cut sends a
//! `call_drop` whose last seconds carry it (no pilot reply). HQ's verdict then says where:
//! - only HQ cut off, the router still answering: "beyond the home";
//! - the router itself silent too: "home network".
//!
//! The layout follows tests/pilot_netns.rs (PILOT's, read not shared). Needs root, iproute2,
//! nftables and the `shiftready-hq` binary; otherwise each test prints SKIPPED and passes
//! (`SHIFTREADY_REQUIRE_NETNS=1` makes that a failure).
#![cfg(target_os = "linux")]

mod daemon_common;

use daemon_common::{Agent, read_hq_db};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const AGENT_IP: &str = "10.73.1.2";
const ROUTER_IP: &str = "10.73.1.1";
const HQ_IP: &str = "10.73.2.2";
const HTTP_PORT: u16 = 8641;

fn sh(script: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-ec", script])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{script}\nfailed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why the namespaces cannot be made here, if they cannot.
fn unavailable() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Some("not root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    if sh("ip -V >/dev/null && nft --version >/dev/null && curl --version >/dev/null").is_err() {
        return Some("`ip`, `nft` or `curl` not found (iproute2, nftables, curl)".into());
    }
    None
}

/// Three namespaces (`{tag}a` agent, `{tag}r` router, `{tag}h` HQ), HQ serving in its own,
/// and the agent enrolled with the pilot on; torn down on drop.
struct Line {
    tag: String,
    dir: tempfile::TempDir,
    hq: Option<shiftready_testkit::hq::Server>,
    token: String,
    agent: Agent,
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(mut c) = self.agent.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        drop(self.hq.take());
        let t = &self.tag;
        let _ = sh(&format!(
            "ip netns del {t}a; ip netns del {t}r; ip netns del {t}h"
        ));
    }
}

impl Line {
    fn new(test: &str) -> Option<Line> {
        if let Some(why) = unavailable() {
            if std::env::var("SHIFTREADY_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
                panic!("SHIFTREADY_REQUIRE_NETNS=1 but {test} cannot run: {why}");
            }
            println!("SKIPPED {test}: {why}");
            return None;
        }
        let t = format!("srd{}{test}", std::process::id());
        sh(&format!(
            "for n in a r h; do ip netns add {t}$n; ip -n {t}$n link set lo up; done
             ip link add a0 netns {t}a type veth peer name r0 netns {t}r
             ip link add r1 netns {t}r type veth peer name h0 netns {t}h
             ip -n {t}a addr add {AGENT_IP}/24 dev a0; ip -n {t}a link set a0 up
             ip -n {t}r addr add {ROUTER_IP}/24 dev r0; ip -n {t}r link set r0 up
             ip -n {t}r addr add 10.73.2.1/24 dev r1; ip -n {t}r link set r1 up
             ip -n {t}h addr add {HQ_IP}/24 dev h0; ip -n {t}h link set h0 up
             ip -n {t}a route add default via {ROUTER_IP}
             ip -n {t}h route add default via 10.73.2.1
             ip netns exec {t}r sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
             ip netns exec {t}a sh -c 'echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range'"
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db_url = format!("sqlite://{}", dir.path().join("hq.db").display());
        let bin = shiftready_testkit::hq::bin();
        let admin = |args: &[&str]| {
            let (code, out, err) =
                shiftready_testkit::hq::admin(&bin, &db_url, Some(dir.path()), args, None);
            assert_eq!(code, 0, "{args:?}: {err}");
            out.lines().last().unwrap().trim().to_string()
        };
        let hq_ns = format!("{t}h");
        let hq = shiftready_testkit::hq::Serve {
            bin: &bin,
            db_url: &db_url,
            data_dir: dir.path(),
            listen: &format!("{HQ_IP}:{HTTP_PORT}"),
            probe_listen: &format!("{HQ_IP}:{}", proto::probe::DEFAULT_PORT),
            extra: &[],
            log: &dir.path().join("hq.log"),
            wrapper: &["ip", "netns", "exec", &hq_ns],
        }
        .start();
        let secret = admin(&["enroll-secret", "create", "--site", "main"]);
        let token = admin(&["token", "create", "--role", "viewer"]);
        let url = format!("http://{HQ_IP}:{HTTP_PORT}");
        let agent = Agent::new(
            &format!("[hq]\nurl = \"{url}\"\nallow_plain_http = true\n\n[monitor]\npilot = true\n"),
            "",
        );
        let line = Line {
            tag: t,
            dir,
            hq: Some(hq),
            token,
            agent,
        };
        let out = line
            .in_agent_ns(&["enroll", "--hq", &url, "--token", &secret])
            .output()
            .unwrap();
        assert!(out.status.success(), "enroll: {out:?}");
        Some(line)
    }

    /// `shiftready ARGS` as the testkit runs it, inside the agent's namespace, with the real
    /// default route's gateway.
    fn in_agent_ns(&self, args: &[&str]) -> Command {
        let base = self.agent.command();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}a", self.tag)])
            .arg(base.get_program())
            .args(base.get_args())
            .args(args);
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.env_remove("SHIFTREADY_PROBE_GATEWAY");
        c
    }

    /// The daemon up, signed in, its pilot streaming.
    fn signed_in(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.agent.log)
            .unwrap();
        let child = self
            .in_agent_ns(&["run", "--headless"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.agent.child = Some(child);
        self.agent.wait_up();
        let out = self.agent.cli(&["sign-in"]);
        assert!(out.status.success(), "sign-in: {out:?}");
        self.agent
            .wait_log("pilot stream to HQ's reflector", Duration::from_secs(30));
    }

    /// Rules in the router's `imp` table (`forward` and `input` chains), or none.
    fn router(&self, forward: &str, input: &str) {
        let ruleset = if forward.is_empty() && input.is_empty() {
            "delete table inet imp\n".to_string()
        } else {
            format!(
                "table inet imp {{\n chain impf {{ type filter hook forward priority 0; {forward} }}\n \
                 chain impi {{ type filter hook input priority 0; {input} }}\n}}\n"
            )
        };
        let mut c = Command::new("ip")
            .args(["netns", "exec", &format!("{}r", self.tag), "nft", "-f", "-"])
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
        assert!(out.status.success(), "nft: {out:?}\n{ruleset}");
    }

    /// `report-drop --json` during the cut: the `call_drop` as the daemon recorded it, from
    /// its spool's event of that id (HQ cannot be reached yet).
    fn report(&self, note: &str) -> String {
        let out = self.agent.cli(&["report-drop", "--note", note, "--json"]);
        assert!(out.status.success(), "{out:?}\n{}", self.agent.logs());
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["call_drop"]["id"].as_str().unwrap().to_string()
    }

    /// The `call_drop` HQ holds with `id` (its body), once delivered.
    fn at_hq(&self, id: &str) -> Value {
        self.agent
            .wait_for("delivery", Duration::from_secs(60), |s| {
                s["spool_events"] == 0
            });
        let db = self.dir.path().join("hq.db");
        let id = id.to_string();
        let body: String = read_hq_db(&db, async |c| {
            sqlx::query_scalar("SELECT body FROM events WHERE id = ?")
                .bind(id)
                .fetch_one(c)
                .await
                .unwrap()
        });
        serde_json::from_str(&body).unwrap()
    }

    /// HQ's verdict on `id`: `GET /api/v1/call-drops` as the IT viewer, from inside the
    /// agent's namespace (where HQ's address routes), by curl with the token in a header file
    /// (never in argv).
    fn verdict(&self, id: &str) -> Value {
        let header = self.dir.path().join("auth-header");
        std::fs::write(&header, format!("Authorization: Bearer {}\n", self.token)).unwrap();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("{}a", self.tag),
                "curl",
                "-sSf",
                "-H",
            ])
            .arg(format!("@{}", header.display()))
            .arg(format!("http://{HQ_IP}:{HTTP_PORT}/api/v1/call-drops"))
            .output()
            .unwrap();
        assert!(out.status.success(), "curl: {out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["call_drops"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {v}"))
    }
}

/// The trailing seconds of `s` with no pilot reply, and in how many of them the home router
/// answered.
fn silent_tail(s: &Value) -> (usize, usize) {
    let rtt = s["rtt_ms"].as_array().unwrap();
    let gw = s["gateway_ok"].as_array().unwrap();
    let n = rtt.iter().rev().take_while(|v| v.is_null()).count();
    let ok = gw.iter().rev().take(n).filter(|v| **v == true).count();
    (n, ok)
}

fn cut_and_report(test: &str, forward: &str, input: &str) -> Option<(Value, Value)> {
    let mut line = Line::new(test)?;
    line.signed_in();
    // A few clean seconds of shift, then the cut, and the agent reports the call it lost.
    std::thread::sleep(Duration::from_secs(8));
    line.router(forward, input);
    std::thread::sleep(Duration::from_secs(10));
    let id = line.report("customer cut off");
    line.router("", "");
    let body = line.at_hq(&id);
    let verdict = line.verdict(&id);
    let s = &body["call_drop"]["seconds"];
    println!(
        "{test}: {} s of history; verdict {verdict}",
        s["rtt_ms"].as_array().unwrap().len()
    );
    Some((body, verdict))
}

#[test]
fn a_drop_reported_while_hq_is_cut_off_beyond_the_router_is_beyond_the_home() {
    let Some((body, verdict)) = cut_and_report(
        "beyond",
        &format!("ip daddr {HQ_IP} drop; ip saddr {HQ_IP} drop;"),
        "",
    ) else {
        return;
    };
    let s = &body["call_drop"]["seconds"];
    let (silent, router_ok) = silent_tail(s);
    assert!(silent >= 5, "the cut's seconds are not in the history: {s}");
    assert!(
        router_ok * 10 >= silent * 8,
        "the router answered through the cut: {s}"
    );
    assert!(
        s["link_up"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .take(silent)
            .all(|v| *v == true),
        "{s}"
    );
    assert_eq!(body["call_drop"]["note"], "customer cut off");
    assert_eq!(verdict["verdict_kind"], "beyond_home", "{verdict}");
    assert!(
        verdict["verdict"]
            .as_str()
            .unwrap()
            .starts_with("beyond the home"),
        "{verdict}"
    );
}

#[test]
fn a_drop_reported_while_the_home_router_is_silent_is_the_home_network() {
    let Some((body, verdict)) =
        cut_and_report("home", "drop;", &format!("ip saddr {AGENT_IP} drop;"))
    else {
        return;
    };
    let s = &body["call_drop"]["seconds"];
    let (silent, router_ok) = silent_tail(s);
    assert!(silent >= 5, "the cut's seconds are not in the history: {s}");
    assert_eq!(router_ok, 0, "the router was silent through the cut: {s}");
    assert_eq!(verdict["verdict_kind"], "home_network", "{verdict}");
    assert!(
        verdict["verdict"]
            .as_str()
            .unwrap()
            .starts_with("home network"),
        "{verdict}"
    );
}
