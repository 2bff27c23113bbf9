//! Latency under load (issue 16 part 3) across real network namespaces: the real `shiftready`
//! in an "agent" namespace, enrolled with the real `shiftready-hq serve` in an "hq" namespace,
//! a "router" namespace between them. With a token bucket on both of the router's links
//! (`tc qdisc ... tbf rate 1mbit burst 32kbit latency 400ms`: a 1 Mbit/s line whose router
//! queues up to 400 ms, bufferbloat made to order), the check's load phase must see the round
//! trip rise by hundreds of milliseconds, measure about 1 Mbit/s each way, and warn or fail
//! with the bufferbloat hint; without the bucket it passes; with HQ's load endpoints switched
//! off (`serve --no-load-test`) the phase is skipped with a note and the check still passes.
//!
//! The truth: the bucket's rate and queue limit as configured, and, independently, `ping`'s
//! round trips from the agent to HQ while the agent's own load runs (bulk TCP through the same
//! queue raises everything behind it).
//!
//! Needs root, iproute2 (`ip`, `tc`) and the `shiftready-hq` binary built. Without them each
//! test prints SKIPPED and passes, unless `SHIFTREADY_REQUIRE_NETNS=1` makes that a failure.
#![cfg(target_os = "linux")]

use serde_json::Value;
use shiftready_testkit::hq::{Serve, Server, admin};
use std::path::PathBuf;
use std::process::{Command, Output};

const AGENT_IP: &str = "10.72.1.2";
const GATEWAY_IP: &str = "10.72.1.1";
const ROUTER_HQ_SIDE_IP: &str = "10.72.2.1";
const HQ_IP: &str = "10.72.2.2";
const HTTP_PORT: u16 = 8640;
/// The bucket on each of the router's links.
const TBF: &[&str] = &[
    "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms",
];

fn sh(cmd: &mut Command) -> Result<Output, String> {
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
    sh(Command::new("ip").args(args))
}

fn hq_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("shiftready-hq")
}

fn why_not() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Some("not root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    if ip(&["-V"]).is_err() || sh(Command::new("tc").arg("-V")).is_err() {
        return Some("`ip` or `tc` not found (apt-get install iproute2)".into());
    }
    if !hq_bin().exists() {
        return Some(format!(
            "{} is missing (cargo build -p shiftready-hq)",
            hq_bin().display()
        ));
    }
    None
}

/// agent — router — hq, with HQ serving in its namespace and the agent enrolled; removed on drop.
struct Lab {
    ns: [String; 3],
    made: usize,
    hq: Option<Server>,
    dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        drop(self.hq.take());
        for ns in self.ns[..self.made].iter().rev() {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleaning up: {e}");
            }
        }
    }
}

impl Lab {
    fn new(test: &str, hq_flags: &[&str]) -> Option<Lab> {
        if let Some(why) = why_not() {
            if std::env::var("SHIFTREADY_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
                panic!("SHIFTREADY_REQUIRE_NETNS=1 but {test} cannot run: {why}");
            }
            println!("SKIPPED {test}: {why}");
            return None;
        }
        let tag = format!("srl{}{test}", std::process::id());
        let mut lab = Lab {
            ns: ["agent", "router", "hq"].map(|r| format!("{tag}-{r}")),
            made: 0,
            hq: None,
            dir: tempfile::tempdir().unwrap(),
        };
        for ns in lab.ns.clone() {
            ip(&["netns", "add", &ns]).unwrap();
            lab.made += 1;
            ip(&["-n", &ns, "link", "set", "lo", "up"]).unwrap();
        }
        let [a, r, h] = lab.ns.clone();
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
        ip(&[
            "netns",
            "exec",
            &r,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ])
        .unwrap();
        let db_url = format!("sqlite://{}", lab.dir.path().join("hq.db").display());
        let listen = format!("{HQ_IP}:{HTTP_PORT}");
        let probe = format!("{HQ_IP}:{}", proto::probe::DEFAULT_PORT);
        let log = lab.dir.path().join("hq.log");
        let wrapper = ["ip", "netns", "exec", h.as_str()];
        lab.hq = Some(
            Serve {
                bin: &hq_bin(),
                db_url: &db_url,
                data_dir: lab.dir.path(),
                listen: &listen,
                probe_listen: &probe,
                extra: hq_flags,
                log: &log,
                wrapper: &wrapper,
            }
            .start(),
        );
        let (code, out, err) = admin(
            &hq_bin(),
            &db_url,
            Some(lab.dir.path()),
            &["enroll-secret", "create", "--site", "main"],
            None,
        );
        assert_eq!(code, 0, "{err}");
        let secret = lab.dir.path().join("secret");
        std::fs::write(&secret, out.lines().last().unwrap().trim()).unwrap();
        let url = format!("http://{HQ_IP}:{HTTP_PORT}");
        let (code, _, err) = lab.agent(&[
            "enroll",
            "--hq",
            &url,
            "--token-file",
            secret.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "enroll: {err}");
        Some(lab)
    }

    /// The token bucket on both of the router's links (each direction's bottleneck).
    fn bucket(&self) {
        for dev in ["r0", "r1"] {
            let mut args = vec!["-n", &self.ns[1], "qdisc", "add", "dev", dev, "root"];
            args.extend_from_slice(TBF);
            sh(Command::new("tc").args(&args)).unwrap();
        }
    }

    /// The real `shiftready` in the agent namespace: (exit code, stdout, stderr).
    fn agent(&self, args: &[&str]) -> (i32, String, String) {
        let cfg = self.dir.path().join("agent.toml");
        std::fs::write(
            &cfg,
            format!(
                "[hq]\nurl = \"http://{HQ_IP}:{HTTP_PORT}\"\nallow_plain_http = true\n\n[agent]\nstate_dir = \"state\"\n\
                 policy_file = \"policy.toml\"\n\n[checks]\nnetwork_timeout_seconds = 30.0\n"
            ),
        )
        .unwrap();
        std::fs::write(
            self.dir.path().join("policy.toml"),
            "[network]\nprobe_seconds = 2.0\n",
        )
        .unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns[0]])
            .arg(env!("CARGO_BIN_EXE_shiftready"))
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .env("SHIFTREADY_PROBE_GATEWAY", "off")
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("NO_COLOR", "1");
        let out = shiftready_testkit::proc::output_within(&mut cmd, shiftready_testkit::proc::HANG);
        shiftready_testkit::proc::code_out_err(&out)
    }

    /// `check --only network --json --no-send`: the network check, and the wall time.
    fn check(&self) -> (Value, f64) {
        let t = std::time::Instant::now();
        let (_, out, err) = self.agent(&["check", "--only", "network", "--json", "--no-send"]);
        let wall = t.elapsed().as_secs_f64();
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
        (v["checks"]["network"].clone(), wall)
    }

    /// `ping` from the agent to HQ for `seconds` at 50 ms: the median round trip, ms.
    fn ping_median(&self, seconds: f64) -> Option<f64> {
        let n = format!("{}", (seconds / 0.05) as u32);
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns[0],
                "ping",
                "-n",
                "-i",
                "0.05",
                "-c",
                &n,
                HQ_IP,
            ])
            .output()
            .ok()?;
        let mut rtts: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split("time=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        rtts.sort_by(f64::total_cmp);
        rtts.get(rtts.len() / 2).copied()
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v["metrics"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v:#}"))
}

#[test]
fn a_bloated_line_warns_or_fails_with_the_hint() {
    let Some(lab) = Lab::new("bloat", &[]) else {
        return;
    };
    lab.bucket();
    // The truth beside the check: ping's round trips while the check loads the line.
    let (ping, (v, wall)) = std::thread::scope(|s| {
        let p = s.spawn(|| {
            // Idle first (the check's voice probe runs 2 s before its load), then loaded.
            std::thread::sleep(std::time::Duration::from_millis(2600));
            lab.ping_median(2.0)
        });
        let c = lab.check();
        (p.join().unwrap(), c)
    });
    println!("check: {v:#}\nwall {wall:.1} s; ping median under the check's upload: {ping:?} ms");
    let m = &v["metrics"];
    assert_eq!(m["load_test"], "measured", "{v:#}");
    let idle = num(&v, "rtt_ms_median");
    let up = num(&v, "rtt_loaded_up_ms");
    let down = num(&v, "rtt_loaded_down_ms");
    let added = num(&v, "added_latency_ms");
    assert!(idle < 20.0, "idle {idle}");
    // Hundreds of ms added, and no more than the bucket's queue can hold (400 ms at 1 Mbit/s,
    // plus the 32 kbit burst: 432 ms a direction) with some slack for the machine.
    assert!((200.0..=700.0).contains(&added), "added {added}");
    assert!((added - (up.max(down) - idle)).abs() < 0.2, "{v:#}");
    // About 1 Mbit/s each way (TCP payload: a little below the bucket's rate).
    for k in ["throughput_up_kbps", "throughput_down_kbps"] {
        let kbps = num(&v, k);
        assert!((600.0..=1100.0).contains(&kbps), "{k} {kbps}");
    }
    let rpm = num(&v, "rpm");
    assert!(rpm < 60_000.0 / 200.0, "rpm {rpm}");
    // The independent measurement agrees that the upload's queue delay was hundreds of ms.
    if let Some(p) = ping {
        assert!(p > 150.0, "ping under load {p} ms");
    }
    assert!(
        v["status"] == "warn" || v["status"] == "fail",
        "{}",
        v["status"]
    );
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .contains("smart queue management"),
        "{v:#}"
    );
    // Bounded: the load phase moved at most load_max_mb (16 MiB).
    assert!(num(&v, "load_bytes") <= 16.0 * 1024.0 * 1024.0 * 1.01);
}

#[test]
fn a_clean_line_passes_with_the_load_measured() {
    let Some(lab) = Lab::new("clean", &[]) else {
        return;
    };
    let (v, wall) = lab.check();
    println!("check: {v:#}\nwall {wall:.1} s");
    assert_eq!(v["metrics"]["load_test"], "measured", "{v:#}");
    assert!(num(&v, "added_latency_ms") < 100.0, "{v:#}");
    assert!(num(&v, "throughput_up_kbps") > 10_000.0, "{v:#}");
    assert!(num(&v, "rpm") > 600.0, "{v:#}");
    assert_eq!(v["status"], "pass", "{v:#}");
    assert_eq!(v["hint"], "");
}

#[test]
fn hq_without_the_load_test_skips_it_cleanly() {
    let Some(lab) = Lab::new("off", &["--no-load-test"]) else {
        return;
    };
    lab.bucket();
    let (v, _) = lab.check();
    assert_eq!(v["metrics"]["load_test"], "skipped", "{v:#}");
    assert!(
        v["metrics"]["load_note"]
            .as_str()
            .unwrap()
            .contains("does not serve the load test"),
        "{v:#}"
    );
    for k in [
        "rtt_loaded_up_ms",
        "rtt_loaded_down_ms",
        "added_latency_ms",
        "rpm",
    ] {
        assert!(v["metrics"].get(k).is_none(), "{k} in {v:#}");
    }
    // The idle line is fine: the check passes, the skip is no failure.
    assert_eq!(v["status"], "pass", "{v:#}");
}
