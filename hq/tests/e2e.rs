//! End-to-end: the real `shiftready-hq` binary on a free loopback port, its admin commands,
//! TLS, two processes on one PostgreSQL, and the real `shiftready` agent enrolling with it.

mod common;

use chrono::Utc;
use common::{HQ, Server, client, enroll, get_json, hq_cmd, last_line, post_events};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn ev(kind: &str, extra: Value) -> Value {
    let mut v =
        json!({"id": uuid::Uuid::new_v4(), "at": Utc::now(), "sent_at": Utc::now(), "kind": kind});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

const FAST_POLICY: &str = "[shift]\nheartbeat_seconds = 5\nlost_contact_after_missed = 1\n";

async fn cli_and_server(db_url: String) {
    let dir = tempfile::tempdir().unwrap();
    // Admin commands.
    let (code, out, _) = hq_cmd(
        &db_url,
        &["enroll-secret", "create", "--site", "main"],
        None,
    );
    assert_eq!(code, 0);
    let secret = last_line(&out);
    assert!(secret.starts_with("sr_enr_") && secret.len() > 40, "{out}");
    let (code, _, err) = hq_cmd(
        &db_url,
        &["user", "add", "alice", "--role", "admin"],
        Some("short\n"),
    );
    assert_eq!(code, 65, "{err}");
    let (code, _, err) = hq_cmd(
        &db_url,
        &["user", "add", "alice", "--role", "admin"],
        Some("a long enough password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hq_cmd(
        &db_url,
        &["user", "add", "bob", "--role", "boss"],
        Some("a long enough password\n"),
    );
    assert_eq!(code, 64, "{err}");
    let (code, out, _) = hq_cmd(&db_url, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0);
    let token = last_line(&out);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[shift]\nheartbeat_seconds = 1\nbogus = 3\n").unwrap();
    let (code, _, err) = hq_cmd(
        &db_url,
        &["policy", "set", "--site", "main", bad.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("bogus") && err.contains("shift.heartbeat_seconds"),
        "{err}"
    );
    let good = dir.path().join("policy.toml");
    std::fs::write(&good, FAST_POLICY).unwrap();
    let (code, _, err) = hq_cmd(
        &db_url,
        &["policy", "set", "--site", "main", good.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");

    let mut server = Server::start(&db_url, &["--sweep-seconds", "0.2"]);
    let url = server.url.clone();
    let (id, key) = enroll(&url, &secret, "ws-e2e").await;
    let r = post_events(
        &url,
        &key,
        json!([ev(
            "sign_in",
            json!({"reason": "auto", "readiness": "ready"})
        )]),
    )
    .await;
    assert!(r.status().is_success());

    // Shifts from CSV, by hostname; a bad file imports nothing and names every bad line.
    let start = Utc::now() + chrono::Duration::hours(2);
    let csv = dir.path().join("shifts.csv");
    std::fs::write(
        &csv,
        format!(
            "agent,start,end\nws-e2e,{},{}\n",
            start.to_rfc3339(),
            (start + chrono::Duration::hours(8)).to_rfc3339()
        ),
    )
    .unwrap();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "agent,start,end\nws-e2e,tomorrow,later\nnobody,2026-01-01T08:00:00Z,2026-01-01T16:00:00Z\n").unwrap();
    let (code, _, err) = hq_cmd(
        &db_url,
        &["shifts", "import", bad_csv.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("bad.csv:2:"), "{err}");
    let (code, out, err) = hq_cmd(&db_url, &["shifts", "import", csv.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Imported 1 shifts"), "{out}");
    let p: Value = client()
        .get(format!("{url}/api/v1/policy"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p["shifts"].as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p["policy"]["shift"]["heartbeat_seconds"], 5);

    // Heartbeats stop: HQ signs the agent out for lost contact on its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = get_json(
            &format!(
                "{url}/api/v1/shifts?to={}",
                (Utc::now() + chrono::Duration::minutes(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            &token,
        )
        .await;
        let lost = log["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["reason"] == "lost_contact")
            .count();
        if lost == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no lost-contact sign-out: {log}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let a = get_json(&format!("{url}/api/v1/agents/{id}"), &token).await;
    assert_eq!(a["signed_in"], false);
    assert_eq!(a["state"], "offline");

    // Revoked from the command line: the key stops working.
    let (code, _, err) = hq_cmd(&db_url, &["device", "revoke", "ws-e2e"], None);
    assert_eq!(code, 0, "{err}");
    let r = post_events(
        &url,
        &key,
        json!([ev(
            "heartbeat",
            json!({"readiness": "ready", "signed_in": false})
        )]),
    )
    .await;
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "revoked");

    let m = client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("shiftready_lost_contact_signouts_total 1"),
        "{m}"
    );
    assert!(m.contains("shiftready_reflector_received_total"), "{m}");
    let o: Value = client()
        .get(format!("{url}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(o["openapi"], "3.1.0");

    let status = server.stop();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}

both_urls!(cli_and_server);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_database_url_and_usage_exit_codes() {
    let (code, _, err) = hq_cmd(
        "mysql://nope",
        &["token", "create", "--role", "admin"],
        None,
    );
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("sqlite://PATH or postgres://"), "{err}");
    let out = std::process::Command::new(HQ)
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = std::process::Command::new(HQ)
        .args([
            "simulate",
            "--agents",
            "10",
            "--target",
            "http://192.0.2.1:8640",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(64),
        "simulate refuses a target that is not loopback"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_https_with_the_given_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let (cert_f, key_f, ca_f) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert_f, cert.pem()).unwrap();
    std::fs::write(&key_f, key.serialize_pem()).unwrap();
    std::fs::write(&ca_f, ca.pem()).unwrap();
    let db = format!("sqlite://{}", dir.path().join("hq.db").display());
    let server = Server::start(
        &db,
        &[
            "--tls-cert",
            cert_f.to_str().unwrap(),
            "--tls-key",
            key_f.to_str().unwrap(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pinned = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let r = pinned
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok\n");
    // A client that does not trust this CA refuses the connection.
    let other_ca = CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&KeyPair::generate().unwrap())
        .unwrap();
    let stranger = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(other_ca.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert!(
        stranger
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .is_err()
    );
    // Plain HTTP to the TLS port gets nothing useful.
    let plain = server.url.replace("https://", "http://");
    assert!(
        client()
            .get(format!("{plain}/healthz"))
            .send()
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
    );
}

/// Two HQ processes on one PostgreSQL: ingest through either gives the same fleet, and the
/// lost-contact sign-out happens once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_postgres() {
    let Some(db) = common::postgres_url("two_processes_share_postgres").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = last_line(&hq_cmd(&db, &["enroll-secret", "create", "--site", "main"], None).1);
    let token = last_line(&hq_cmd(&db, &["token", "create", "--role", "viewer"], None).1);
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, FAST_POLICY).unwrap();
    assert_eq!(
        hq_cmd(
            &db,
            &["policy", "set", "--site", "main", policy.to_str().unwrap()],
            None
        )
        .0,
        0
    );
    let a = Server::start(&db, &["--sweep-seconds", "0.1"]);
    let b = Server::start(&db, &["--sweep-seconds", "0.1"]);
    let (quiet_id, quiet_key) = enroll(&a.url, &secret, "ws-quiet").await;
    let (_busy_id, busy_key) = enroll(&b.url, &secret, "ws-busy").await;
    for (url, key) in [(&a.url, &quiet_key), (&b.url, &busy_key)] {
        let r = post_events(
            url,
            key,
            json!([ev(
                "sign_in",
                json!({"reason": "auto", "readiness": "ready"})
            )]),
        )
        .await;
        assert!(r.status().is_success());
    }
    let fleet = |url: String| {
        let token = token.clone();
        async move {
            let v = get_json(&format!("{url}/api/v1/agents"), &token).await;
            let mut rows: Vec<(String, String, bool)> = v["agents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    (
                        a["name"].as_str().unwrap().to_string(),
                        a["state"].as_str().unwrap().to_string(),
                        a["signed_in"].as_bool().unwrap(),
                    )
                })
                .collect();
            rows.sort();
            rows
        }
    };
    assert_eq!(fleet(a.url.clone()).await, fleet(b.url.clone()).await);
    assert_eq!(fleet(a.url.clone()).await.len(), 2);

    // ws-busy heartbeats through both processes in turn; ws-quiet says nothing for 8 s.
    let until = Instant::now() + Duration::from_secs(8);
    let mut n = 0;
    while Instant::now() < until {
        let url = if n % 2 == 0 { &a.url } else { &b.url };
        let r = post_events(
            url,
            &busy_key,
            json!([ev(
                "heartbeat",
                json!({"readiness": "degraded", "signed_in": true})
            )]),
        )
        .await;
        assert!(r.status().is_success());
        n += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let fa = fleet(a.url.clone()).await;
    assert_eq!(
        fa,
        fleet(b.url.clone()).await,
        "both processes show the same fleet"
    );
    assert_eq!(
        fa,
        [
            ("ws-busy".to_string(), "degraded".to_string(), true),
            ("ws-quiet".to_string(), "offline".to_string(), false)
        ]
    );
    let to = (Utc::now() + chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let log = get_json(&format!("{}/api/v1/shifts?to={to}", b.url), &token).await;
    let lost: Vec<&Value> = log["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "lost_contact")
        .collect();
    assert_eq!(lost.len(), 1, "exactly one lost-contact sign-out: {log}");
    assert_eq!(lost[0]["agent_id"], quiet_id.as_str());
    let mut total = 0;
    for s in [&a, &b] {
        let m = client()
            .get(format!("{}/metrics", s.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = m
            .lines()
            .find(|l| l.starts_with("shiftready_lost_contact_signouts_total "))
            .unwrap();
        total += line.rsplit(' ').next().unwrap().parse::<u64>().unwrap();
    }
    assert_eq!(total, 1, "the two processes together signed out once");
}

/// The agent binary next to this test's (built by `cargo build` or `cargo test --workspace`).
fn agent_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join(format!("shiftready{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target = dir.parent().unwrap();
        let st = std::process::Command::new(cargo)
            .args([
                "build",
                "-p",
                "shiftready",
                "--bin",
                "shiftready",
                "--target-dir",
            ])
            .arg(target)
            .status()
            .unwrap();
        assert!(st.success(), "building the agent binary failed");
    }
    bin
}

/// `shiftready enroll` against the real HQ, a private key file, then `check` sends its report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_enrolls_and_its_check_report_reaches_hq() {
    use std::os::unix::fs::PermissionsExt;
    let agent = agent_binary();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hq.db").display());
    let secret = last_line(&hq_cmd(&db, &["enroll-secret", "create"], None).1);
    let token = last_line(&hq_cmd(&db, &["token", "create", "--role", "viewer"], None).1);
    let mut server = Server::start(&db, &[]);
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nstate_dir = \"{}\"\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(&agent)
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["enroll", "--hq", &server.url, "--token", "sr_enr_wrong"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ask IT for the site's current secret"));
    let out = run(&["enroll", "--hq", &server.url, "--token", &secret]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_file = dir.path().join("state/device.json");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key is readable by the user alone");
    let dev: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    let id = dev["device_id"].as_str().unwrap().to_string();
    assert!(dev["device_key"].as_str().unwrap().len() >= 43);

    let out = run(&["check", "--json", "--only", "os"]);
    let code = out.status.code().unwrap();
    assert!(
        (0..=3).contains(&code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value =
        serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON document");
    let a = get_json(&format!("{}/api/v1/agents/{id}", server.url), &token).await;
    assert_eq!(
        a["last_report"]["checks"]["os"], printed["checks"]["os"],
        "{a}"
    );
    assert_eq!(a["readiness"], printed["readiness"]);

    // HQ down: the same exit code, one warning line on stderr, stdout unchanged in form.
    server.stop();
    let out = run(&["check", "--json", "--only", "os"]);
    assert_eq!(out.status.code(), Some(code));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: the report was not sent to HQ") && err.contains("unreachable"),
        "{err}"
    );
    serde_json::from_slice::<Value>(&out.stdout).unwrap();
    // --no-send does not try.
    let out = run(&["check", "--json", "--only", "os", "--no-send"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not sent"));
}
