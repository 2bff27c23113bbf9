//! `shiftready probe` and the `network` part of `shiftready check`, as real processes against
//! the real reflector and a stand-in HQ on loopback: the contract's keys, the exit codes,
//! and a clear result (never a hang) when UDP is blocked, HQ is unreachable or DNS fails.
//!
//! "Never a hang" is the watchdog of [`shiftready`] (`testkit::proc::output_within`): a
//! command still running after `testkit::proc::HANG` is killed and fails the test. No test
//! here bounds how fast a command returns: that is the probe's time limits' job, and a loaded
//! machine would make such a bound flaky.

mod probe_support;

use probe_support::*;
use serde_json::Value;

const CONTRACT_KEYS: [&str; 11] = [
    "rtt_ms_min",
    "rtt_ms_median",
    "rtt_ms_p95",
    "rtt_ms_max",
    "jitter_up_ms",
    "jitter_down_ms",
    "loss_up_pct",
    "loss_down_pct",
    "reordered",
    "mos",
    "r_factor",
];

fn check_object(stdout: &str) -> Value {
    let v: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}"));
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["hint", "metrics", "status"],
        "exactly the check object: {v}"
    );
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_json_against_the_real_reflector() {
    let (refl, stats, _stop) = reflector("127.0.0.1:0").await;
    let files = agent_files("", "", false);
    let cfg = files.config.to_str().unwrap();
    let r = refl.to_string();
    let (code, out, err, _) = shiftready(&[
        "--config",
        cfg,
        "probe",
        "--reflector",
        &r,
        "--seconds",
        "1",
        "--json",
    ]);
    let v = check_object(&out);
    assert_eq!(v["status"], "pass", "{v}\n{err}");
    assert_eq!(code, 0);
    assert_eq!(v["hint"], "");
    for k in CONTRACT_KEYS {
        assert!(v["metrics"][k].is_number(), "{k} in {v}");
    }
    assert_eq!(v["metrics"]["sent"], 50);
    assert_eq!(v["metrics"]["received"], 50);
    assert_eq!(v["metrics"]["loss_up_pct"], 0.0);
    assert_eq!(v["metrics"]["reflector"], r);
    assert!(v["metrics"]["dns_ms"].is_number());
    // The gateway stand-in (loopback) is measured when ICMP is permitted (root here).
    let gw = v["metrics"]["gateway_probe"].as_str().unwrap();
    assert!(
        gw == "unavailable" || v["metrics"]["gateway_loss_pct"] == 0.0,
        "{v}"
    );
    assert!(stats.snapshot().reflected >= 50);
    // The human form names the figures.
    let (code, out, _, _) = shiftready(&[
        "--config",
        cfg,
        "probe",
        "--reflector",
        &r,
        "--seconds",
        "1",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("network") && out.contains("RTT") && out.contains("MOS"),
        "{out}"
    );
}

#[test]
fn no_hq_and_no_reflector_is_an_error_with_what_to_do() {
    let files = agent_files("", "", false);
    let (code, out, _, _) = shiftready(&[
        "--config",
        files.config.to_str().unwrap(),
        "probe",
        "--json",
    ]);
    let v = check_object(&out);
    assert_eq!(v["status"], "error");
    assert_eq!(code, 3);
    let hint = v["hint"].as_str().unwrap();
    assert!(
        hint.contains("shiftready enroll") && hint.contains("--reflector"),
        "{hint}"
    );
}

#[test]
fn bad_arguments_exit_64() {
    let files = agent_files("", "", false);
    let cfg = files.config.to_str().unwrap();
    for args in [
        vec!["probe", "--reflector", "no-port-here"],
        vec!["probe", "--reflector", "127.0.0.1:0"],
        vec!["probe", "--reflector", "127.0.0.1:9", "--seconds", "0"],
        vec!["probe", "--reflector", "127.0.0.1:9", "--seconds", "nan"],
    ] {
        let mut a = vec!["--config", cfg];
        a.extend(args.iter());
        let (code, out, err, _) = shiftready(&a);
        assert_eq!(code, 64, "{args:?}: {out} {err}");
        assert!(out.is_empty(), "nothing on stdout for a usage error");
        assert!(!err.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_blocked_while_https_works_fails_with_the_hint() {
    let hq = healthz_server().await;
    let (hole, _keep) = black_hole().await;
    let files = agent_files(&format!("http://{hq}"), &hole.to_string(), false);
    let cfg = files.config.to_str().unwrap();
    let (code, out, err, _) = shiftready(&["--config", cfg, "probe", "--json"]);
    let v = check_object(&out);
    assert_eq!(v["status"], "fail", "{v} {err}");
    assert_eq!(code, 2);
    assert_eq!(
        v["hint"],
        "UDP to HQ is blocked (firewall or VPN): voice calls will fail"
    );
    assert!(
        v["metrics"]["http_ms"].is_number(),
        "HTTPS timings still reported: {v}"
    );
    assert!(v["metrics"]["tcp_ms"].is_number());
    assert_eq!(v["metrics"]["http_status"], 200);
    assert_eq!(v["metrics"]["received"], 0);
    assert!(v["metrics"]["rtt_ms_median"].is_null());

    // The same through `check`: not ready (exit 2), with the same hint.
    let (code, out, err, _) =
        shiftready(&["--config", cfg, "check", "--only", "network", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["readiness"], "not_ready");
    assert_eq!(
        v["checks"]["network"]["hint"],
        "UDP to HQ is blocked (firewall or VPN): voice calls will fail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_a_clean_path_to_hq() {
    let hq = healthz_server().await;
    let (refl, _stats, _stop) = reflector("127.0.0.1:0").await;
    let files = agent_files(&format!("http://{hq}"), &refl.to_string(), false);
    let (code, out, err, _) = shiftready(&[
        "--config",
        files.config.to_str().unwrap(),
        "check",
        "--only",
        "network",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    let n = &v["checks"]["network"];
    assert_eq!(n["status"], "pass", "{v}");
    assert_eq!(code, 0);
    for k in CONTRACT_KEYS.iter().chain(&["dns_ms", "tcp_ms", "http_ms"]) {
        assert!(n["metrics"][k].is_number(), "{k} in {n}");
    }
    assert!(
        n["metrics"]["tls_ms"].is_null(),
        "plain http has no TLS stage"
    );
}

#[test]
fn hq_unreachable_is_a_clear_fail() {
    let files = agent_files(
        &format!("http://127.0.0.1:{}", closed_port()),
        &format!("127.0.0.1:{}", closed_port()),
        false,
    );
    let (code, out, _, _) = shiftready(&[
        "--config",
        files.config.to_str().unwrap(),
        "probe",
        "--json",
    ]);
    let v = check_object(&out);
    assert_eq!((v["status"].as_str(), code), (Some("fail"), 2), "{v}");
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .starts_with("HQ cannot be reached"),
        "{v}"
    );
    assert!(
        v["metrics"]["path_error"]
            .as_str()
            .unwrap()
            .starts_with("tcp"),
        "{v}"
    );
}

#[test]
fn dns_failure_is_a_clear_fail_not_a_hang() {
    // .invalid never resolves (RFC 6761 §6.4).
    let files = agent_files("http://shiftready-probe-test.invalid", "", false);
    let (code, out, err, _) = shiftready(&[
        "--config",
        files.config.to_str().unwrap(),
        "probe",
        "--json",
    ]);
    let v = check_object(&out);
    assert_eq!((v["status"].as_str(), code), (Some("fail"), 2), "{v} {err}");
    assert!(v["hint"].as_str().unwrap().contains("(DNS)"), "{v}");
    assert_eq!(
        v["metrics"]["reflector"],
        "shiftready-probe-test.invalid:8637"
    );
    // Each stage is limited to 5 s (the lookups run side by side); that it returns at all is
    // the watchdog's to say.
}
