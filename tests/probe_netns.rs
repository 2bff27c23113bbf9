//! The `network` check across real network namespaces: an "agent" namespace whose default
//! route goes through a "router" namespace to an "hq" namespace running the real
//! `shiftready-hq serve` (HTTP and the UDP reflector). The real `shiftready` runs inside the
//! agent namespace (`ip netns exec`), finds the router as its default gateway by itself, and
//! pings it with a ping socket or, as root without one, a raw socket.
//!
//! The kernel here has no netem, so the router impairs traffic with nftables: `numgen random`
//! drops, each rule with a named counter, which is the truth the figures are checked against
//! (exactly: the flush probes that fetch the reflector's final count are never dropped).
//! - a clean path passes, with the router measured;
//! - the home link (agent → router) loses ICMP and UDP: fail, "your home network";
//! - the router answers cleanly but the way back from HQ loses UDP: fail, "beyond your home";
//! - UDP to HQ dropped while HTTP works: fail, "UDP to HQ is blocked (firewall or VPN)".
//!
//! Needs root, iproute2 and nftables (Debian packages `iproute2 nftables`), and the
//! `shiftready-hq` binary built (`cargo test --workspace` builds it). Without them each test
//! prints SKIPPED and passes, unless `SHIFTREADY_REQUIRE_NETNS=1` makes that a failure (CI).
//! Each test makes its own namespaces (named after the process and the test) and removes them
//! when it ends, also on failure.
#![cfg(target_os = "linux")]

use serde_json::Value;
use shiftready::checks::network::hints;
use shiftready_core::i18n::english_id as english;
use shiftready_testkit::hq::{Serve, Server};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const AGENT_IP: &str = "10.71.1.2";
const GATEWAY_IP: &str = "10.71.1.1";
const ROUTER_HQ_SIDE_IP: &str = "10.71.2.1";
const HQ_IP: &str = "10.71.2.2";
const HTTP_PORT: u16 = 8640;
const PROBE_PORT: u16 = proto::probe::DEFAULT_PORT;
/// Probe (and gateway ping) length: 100 packets at 20 ms.
const SECONDS: f64 = 2.0;
const SENT: f64 = 100.0;

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

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// The `shiftready-hq` binary in this test's target dir (cargo cannot build it from here).
fn hq_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("shiftready-hq")
}

/// Why these tests cannot run here, if they cannot (found once per test process).
fn missing_prerequisite() -> Option<String> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(find_missing_prerequisite).clone()
}

fn find_missing_prerequisite() -> Option<String> {
    if !is_root() {
        return Some("not root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    if ip(&["-V"]).is_err() {
        return Some("`ip` not found (apt-get install iproute2)".into());
    }
    if run(Command::new("nft").arg("--version")).is_err() {
        return Some("`nft` not found (apt-get install nftables)".into());
    }
    if !hq_bin().exists() {
        return Some(format!(
            "{} is missing (run `cargo test --workspace`, or `cargo build -p shiftready-hq` first)",
            hq_bin().display()
        ));
    }
    let probe = format!("srprobe{}", std::process::id());
    if let Err(e) = ip(&["netns", "add", &probe]) {
        return Some(format!("network namespaces are unavailable: {e}"));
    }
    let _ = ip(&["netns", "del", &probe]);
    None
}

/// Three namespaces joined by two veth pairs, with HQ running in the last; all removed on drop.
struct Lab {
    agent: String,
    router: String,
    hq_ns: String,
    created: Vec<String>,
    hq: Option<Server>,
    dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        // A process still inside a namespace keeps it alive after `ip netns del`: stop HQ first.
        drop(self.hq.take());
        for ns in self.created.iter().rev() {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleaning up: {e}");
            }
        }
    }
}

impl Lab {
    /// The lab for `test`, or `None` after printing SKIPPED when this machine cannot make it.
    fn new(test: &str) -> Option<Lab> {
        if let Some(why) = missing_prerequisite() {
            if std::env::var("SHIFTREADY_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
                panic!("SHIFTREADY_REQUIRE_NETNS=1 but {test} cannot run: {why}");
            }
            eprintln!("SKIPPED {test}: {why}");
            println!("SKIPPED {test}: {why}");
            return None;
        }
        let tag = format!("sr{}{test}", std::process::id());
        let mut lab = Lab {
            agent: format!("{tag}-agent"),
            router: format!("{tag}-router"),
            hq_ns: format!("{tag}-hq"),
            created: Vec::new(),
            hq: None,
            dir: tempfile::tempdir().unwrap(),
        };
        for ns in [lab.agent.clone(), lab.router.clone(), lab.hq_ns.clone()] {
            ip(&["netns", "add", &ns]).unwrap();
            lab.created.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"]).unwrap();
        }
        let (a, r, h) = (&lab.agent, &lab.router, &lab.hq_ns);
        // Created inside the namespaces, so the names never meet in the root namespace.
        for (ns1, if1, ns2, if2) in [(a, "a0", r, "r0"), (r, "r1", h, "h0")] {
            ip(&[
                "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2, "netns", ns2,
            ])
            .unwrap();
        }
        for (ns, dev, addr) in [
            (a, "a0", AGENT_IP),
            (r, "r0", GATEWAY_IP),
            (r, "r1", ROUTER_HQ_SIDE_IP),
            (h, "h0", HQ_IP),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]).unwrap();
            ip(&["-n", ns, "link", "set", dev, "up"]).unwrap();
        }
        ip(&["-n", a, "route", "add", "default", "via", GATEWAY_IP]).unwrap();
        ip(&["-n", h, "route", "add", "default", "via", ROUTER_HQ_SIDE_IP]).unwrap();
        lab.sysctl(r, "net/ipv4/ip_forward", "1");
        lab.start_hq();
        Some(lab)
    }

    fn sysctl(&self, ns: &str, key: &str, value: &str) {
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

    /// Lets every group of the agent namespace open ICMP ping sockets (as most desktop
    /// distributions do); otherwise the probe, as root, falls back to a raw socket.
    fn allow_ping_sockets(&self) {
        self.sysctl(&self.agent, "net/ipv4/ping_group_range", "0 2147483647");
    }

    /// The real `shiftready-hq serve` in the hq namespace, HTTP and reflector on `HQ_IP`.
    fn start_hq(&mut self) {
        let hq = hq_bin();
        self.hq = Some(
            Serve {
                bin: &hq,
                db_url: &format!("sqlite://{}", self.dir.path().join("hq.db").display()),
                data_dir: self.dir.path(),
                listen: &format!("{HQ_IP}:{HTTP_PORT}"),
                probe_listen: &format!("{HQ_IP}:{PROBE_PORT}"),
                extra: &[],
                log: &self.dir.path().join("hq.log"),
                wrapper: &["ip", "netns", "exec", &self.hq_ns],
            }
            .start(),
        );
    }

    /// Loads an nftables ruleset into the router namespace.
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

    /// Packets counted by the router's named counter `name` in table `inet imp`.
    fn counter(&self, name: &str) -> f64 {
        let out = run(Command::new("ip").args([
            "netns",
            "exec",
            &self.router,
            "nft",
            "list",
            "counter",
            "inet",
            "imp",
            name,
        ]))
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no packet count in {text}"))
    }

    /// The real `shiftready` in the agent namespace, configured for the HQ in the lab.
    fn shiftready(&self, args: &[&str]) -> (i32, String, String) {
        let cfg = self.dir.path().join("agent.toml");
        std::fs::write(
            &cfg,
            format!(
                "[hq]\nurl = \"http://{HQ_IP}:{HTTP_PORT}\"\n\n[agent]\nstate_dir = \"state\"\n\
                 policy_file = \"policy.toml\"\n\n[checks]\nnetwork_timeout_seconds = 30.0\n"
            ),
        )
        .unwrap();
        std::fs::write(
            self.dir.path().join("policy.toml"),
            format!("[network]\nprobe_seconds = {SECONDS:.1}\n"),
        )
        .unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.agent])
            .arg(env!("CARGO_BIN_EXE_shiftready"))
            .arg("--config")
            .arg(&cfg)
            .args(args)
            // The agent must find its gateway by itself, from the namespace's default route.
            .env_remove("SHIFTREADY_PROBE_GATEWAY")
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("NO_COLOR", "1");
        // A run still going after `HANG` is killed and fails the test: "never hangs" without
        // a bound on how fast, which a loaded machine could break.
        let out = shiftready_testkit::proc::output_within(&mut cmd, shiftready_testkit::proc::HANG);
        shiftready_testkit::proc::code_out_err(&out)
    }

    /// `shiftready check --only network --json --no-send`: exit code and the network check.
    fn check(&self) -> (i32, Value) {
        let (code, out, err) =
            self.shiftready(&["check", "--only", "network", "--json", "--no-send"]);
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
        (code, v["checks"]["network"].clone())
    }

    /// `shiftready probe --json` (the reflector from HQ's URL): exit code and the check.
    fn probe(&self) -> (i32, Value) {
        let (code, out, err) = self.shiftready(&["probe", "--json"]);
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
        (code, v)
    }
}

/// An ICMP echo responder inside a namespace whose kernel no longer answers pings itself:
/// each echo request is answered after a seeded random hold in `0..max_hold`, like a router
/// busy with other traffic. Its log of (arrived, answered) times is the truth.
struct SlowRouter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(Instant, Instant)>>>,
}

impl SlowRouter {
    fn start(lab: &Lab, max_hold: Duration, seed: u64) -> SlowRouter {
        lab.sysctl(&lab.router, "net/ipv4/icmp_echo_ignore_all", "1");
        let netns = PathBuf::from("/run/netns").join(&lab.router);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            use std::os::fd::AsFd;
            // Only this thread moves into the router's namespace; its socket stays there.
            let f = std::fs::File::open(&netns).unwrap();
            rustix::thread::move_into_link_name_space(
                f.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap();
            let raw = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::RAW,
                Some(socket2::Protocol::ICMPV4),
            )
            .unwrap();
            let sock: std::net::UdpSocket = raw.into();
            sock.set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut pending: Vec<(Instant, Instant, std::net::SocketAddr, Vec<u8>)> = Vec::new();
            let mut log = Vec::new();
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let arrived = Instant::now();
                    let ihl = (buf[0] & 0x0f) as usize * 4;
                    let icmp = &buf[ihl.min(n)..n];
                    // Echo requests only (our own replies come back to a raw socket too).
                    if icmp.len() >= 8 && icmp[0] == 8 {
                        let mut reply = icmp.to_vec();
                        reply[0] = 0;
                        reply[2..4].copy_from_slice(&[0, 0]);
                        let c = shiftready::probe::gateway::checksum(&reply);
                        reply[2..4].copy_from_slice(&c.to_be_bytes());
                        let due = arrived + max_hold.mul_f64(rng.f64());
                        pending.push((due, arrived, from, reply));
                    }
                }
                let now = Instant::now();
                pending.sort_by_key(|p| p.0);
                while pending.first().is_some_and(|p| p.0 <= now) {
                    let (_, arrived, to, reply) = pending.remove(0);
                    let answered = Instant::now();
                    if sock.send_to(&reply, to).is_ok() {
                        log.push((arrived, answered));
                    }
                }
            }
            log
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the responder did not start in the router namespace");
        SlowRouter {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the responder; returns what it did.
    fn finish(mut self) -> Vec<(Instant, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for SlowRouter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v["metrics"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v:#}"))
}

/// Only voice probes (FLUSH bit clear: bit 0 of payload byte 6, at bit 112 + 7 past the start
/// of the UDP header) are dropped, so the reflector's final count always gets through.
const VOICE_ONLY: &str = "@th,119,1 0";

#[test]
fn clean_path_passes_and_the_router_is_measured() {
    let Some(lab) = Lab::new("clean") else { return };
    lab.allow_ping_sockets();
    let (code, v) = lab.check();
    assert_eq!(v["status"], "pass", "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(v["hint"], "");
    let m = &v["metrics"];
    assert_eq!(
        m["gateway"], GATEWAY_IP,
        "found from the default route: {v:#}"
    );
    assert_eq!(m["gateway_probe"], "ping_socket");
    assert_eq!(num(&v, "gateway_loss_pct"), 0.0);
    assert_eq!(m["link"], "ethernet");
    assert_eq!(m["interface"], "a0");
    assert_eq!(m["reflector"], format!("{HQ_IP}:{PROBE_PORT}"));
    assert_eq!(m["http_status"], 200);
    assert_eq!(num(&v, "sent"), SENT);
    assert_eq!(num(&v, "received"), SENT);
    assert_eq!(num(&v, "loss_up_pct"), 0.0);
    assert_eq!(num(&v, "loss_down_pct"), 0.0);

    // The same path as iputils' ping sees it, for comparison.
    let out = run(Command::new("ip").args([
        "netns", "exec", &lab.agent, "ping", "-q", "-c", "100", "-i", "0.02", HQ_IP,
    ]))
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text.lines().find(|l| l.contains("min/avg")).unwrap_or("");
    println!(
        "netns path agent→router→hq: probe RTT min {:.3} / median {:.3} / p95 {:.3} ms, \
         gateway {:.3} ms; ping: {summary}",
        num(&v, "rtt_ms_min"),
        num(&v, "rtt_ms_median"),
        num(&v, "rtt_ms_p95"),
        num(&v, "gateway_rtt_ms"),
    );
    assert!(num(&v, "rtt_ms_median") < 20.0, "{v:#}");
}

#[test]
fn losses_on_the_home_link_point_at_the_home_network() {
    let Some(lab) = Lab::new("home") else { return };
    // Like weak Wi-Fi: a fifth of what the agent sends is lost before the router, pings to
    // the router and voice alike. No ping sockets: root falls back to a raw socket.
    lab.nft(&format!(
        "table inet imp {{
           counter icmp_drop {{ }}
           counter udp_drop {{ }}
           chain pre {{
             type filter hook prerouting priority 0; policy accept;
             iifname \"r0\" icmp type echo-request numgen random mod 100 < 20 counter name \"icmp_drop\" drop
             iifname \"r0\" udp dport {PROBE_PORT} {VOICE_ONLY} numgen random mod 100 < 20 counter name \"udp_drop\" drop
           }}
         }}"
    ));
    let (code, v) = lab.check();
    let (icmp_drop, udp_drop) = (lab.counter("icmp_drop"), lab.counter("udp_drop"));
    assert_eq!(v["status"], "fail", "{v:#}");
    assert_eq!(code, 2);
    assert_eq!(v["hint"], english(hints::HOME_LINE), "{v:#}");
    assert_eq!(v["metrics"]["gateway_probe"], "raw_socket");
    assert!(icmp_drop > 0.0 && udp_drop > 0.0);
    // The figures are what the router did, exactly.
    assert_eq!(
        num(&v, "gateway_loss_pct"),
        100.0 * icmp_drop / SENT,
        "{v:#}"
    );
    assert_eq!(num(&v, "sent"), SENT);
    assert_eq!(num(&v, "reflector_received"), SENT - udp_drop, "{v:#}");
    assert_eq!(num(&v, "loss_up_pct"), 100.0 * udp_drop / SENT, "{v:#}");
    assert_eq!(num(&v, "loss_down_pct"), 0.0, "{v:#}");
}

#[test]
fn losses_beyond_a_clean_router_point_beyond_the_home() {
    let Some(lab) = Lab::new("beyond") else {
        return;
    };
    lab.allow_ping_sockets();
    // The router answers every ping, but a fifth of the replies coming back from HQ are lost
    // on the far side (the provider, the way to HQ).
    lab.nft(&format!(
        "table inet imp {{
           counter udp_drop {{ }}
           chain through {{
             type filter hook forward priority 0; policy accept;
             iifname \"r1\" udp sport {PROBE_PORT} {VOICE_ONLY} numgen random mod 100 < 20 counter name \"udp_drop\" drop
           }}
         }}"
    ));
    let (code, v) = lab.probe();
    let udp_drop = lab.counter("udp_drop");
    assert_eq!(v["status"], "fail", "{v:#}");
    assert_eq!(code, 2);
    assert_eq!(v["hint"], english(hints::BEYOND_HOME), "{v:#}");
    assert_eq!(v["metrics"]["gateway_probe"], "ping_socket");
    assert_eq!(num(&v, "gateway_loss_pct"), 0.0, "{v:#}");
    assert!(udp_drop > 0.0);
    // Every request reached the reflector; the replies lost are the router's count, exactly.
    assert_eq!(num(&v, "reflector_received"), SENT, "{v:#}");
    assert_eq!(num(&v, "loss_up_pct"), 0.0, "{v:#}");
    assert_eq!(num(&v, "received"), SENT - udp_drop, "{v:#}");
    assert_eq!(num(&v, "loss_down_pct"), 100.0 * udp_drop / SENT, "{v:#}");
}

#[test]
fn udp_blocked_while_http_works_fails_with_the_exact_hint() {
    let Some(lab) = Lab::new("udpblock") else {
        return;
    };
    lab.allow_ping_sockets();
    lab.nft(&format!(
        "table inet imp {{
           counter udp_drop {{ }}
           chain through {{
             type filter hook forward priority 0; policy accept;
             udp dport {PROBE_PORT} counter name \"udp_drop\" drop
           }}
         }}"
    ));
    let (code, v) = lab.check();
    assert_eq!(v["status"], "fail", "{v:#}");
    assert_eq!(code, 2);
    assert_eq!(
        v["hint"],
        "UDP to HQ is blocked (firewall or VPN): voice calls will fail"
    );
    assert_eq!(
        v["metrics"]["http_status"], 200,
        "HTTP still measured: {v:#}"
    );
    assert!(num(&v, "http_ms") > 0.0);
    assert_eq!(num(&v, "received"), 0.0);
    assert_eq!(num(&v, "gateway_loss_pct"), 0.0);
    assert!(lab.counter("udp_drop") >= SENT, "every probe was dropped");
}

#[test]
fn a_router_slow_to_answer_points_at_the_home_network() {
    let Some(lab) = Lab::new("slowrouter") else {
        return;
    };
    lab.allow_ping_sockets();
    // Voice loses a fifth on the home link; the router loses no ping but answers each one
    // after 0 to 80 ms: it is the router's jitter, not its loss, that names the home network.
    lab.nft(&format!(
        "table inet imp {{
           counter udp_drop {{ }}
           chain pre {{
             type filter hook prerouting priority 0; policy accept;
             iifname \"r0\" udp dport {PROBE_PORT} {VOICE_ONLY} numgen random mod 100 < 20 counter name \"udp_drop\" drop
           }}
         }}"
    ));
    let router = SlowRouter::start(&lab, Duration::from_millis(80), 7);
    let (code, v) = lab.check();
    let answered = router.finish();
    assert_eq!(v["status"], "fail", "{v:#}");
    assert_eq!(code, 2);
    assert_eq!(v["hint"], english(hints::HOME_LINE), "{v:#}");
    assert_eq!(v["metrics"]["gateway_probe"], "ping_socket");
    assert_eq!(answered.len() as f64, SENT, "every ping answered");
    assert_eq!(num(&v, "gateway_loss_pct"), 0.0, "{v:#}");
    // The router's jitter as the agent measured it, against the RFC 3550 jitter of the holds
    // the responder applied (in the order it answered, which is the order they arrived).
    let mut holds = answered.clone();
    holds.sort_by_key(|&(_, at)| at);
    let t0 = holds[0].0;
    let ms = |t: Instant| t.duration_since(t0).as_secs_f64() * 1e3;
    let pairs: Vec<(f64, f64)> = holds.iter().map(|&(a, at)| (ms(a), ms(at))).collect();
    // RFC 3550 §6.4.1 computed by the testkit from the RFC's text, not by the probe's code.
    let truth = shiftready_testkit::truth::rfc3550_jitter(&pairs).unwrap();
    let measured = num(&v, "gateway_jitter_ms");
    println!("slow router: gateway jitter measured {measured:.2} ms, applied {truth:.2} ms");
    assert!(truth > 15.0, "the holds must be bad enough: {truth}");
    assert!(
        (measured - truth).abs() < 1.0,
        "measured {measured:.2} ms, applied {truth:.2} ms"
    );
}
