//! Contact-centre connectors (issue 14), end to end: the real `shiftready-hq` binary, events
//! posted as a device posts them (so the real ingest path decides), and local HTTP servers
//! standing in for each platform (`MockPlatform`), which record every request so the tests can
//! check the documented wire format exactly.

mod common;
mod connectors_common;

use chrono::Utc;
use common::{HQ, hq_cmd, last_line};
use connectors_common::*;
use serde_json::{Value, json};
use shiftready_testkit::hq::Server;
use std::collections::HashMap;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// HQ and a device

struct Hq {
    server: Server,
    db_url: String,
    dir: tempfile::TempDir,
    key: String,
    device: String,
}

fn client() -> reqwest::Client {
    common::client()
}

fn ev(kind: &str, extra: Value) -> Value {
    let mut v =
        json!({"id": uuid::Uuid::new_v4(), "at": Utc::now(), "sent_at": Utc::now(), "kind": kind});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn sign_in() -> Value {
    ev("sign_in", json!({"reason": "auto", "readiness": "ready"}))
}
fn sign_out(reason: &str) -> Value {
    ev("sign_out", json!({"reason": reason, "readiness": "ready"}))
}
fn incident(name: &str, state: &str) -> Value {
    ev(
        "incident",
        json!({"name": name, "state": state, "detail": "test"}),
    )
}

fn start_hq(db_url: &str, dir: &Path) -> Server {
    Server::start(
        Path::new(HQ),
        db_url,
        dir,
        "127.0.0.1:0",
        &["--sweep-seconds", "0.2"],
        &dir.join("hq.log"),
    )
}

/// HQ on `db_url` with site `main`, one enrolled device `ws-1` mapped to `platform_user`, and
/// the connector `toml` (with `SECRET` replaced by a 0600 file holding `secret`).
async fn hq(db_url: &str, toml: &str, secret: &str, platform_user: &str) -> Hq {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = hq_cmd(db_url, &["enroll-secret", "create", "--site", "main"], None);
    assert_eq!(code, 0, "{err}");
    let enroll_secret = last_line(&out);
    let file = secret_file(dir.path(), "platform.secret", secret);
    let toml = toml.replace("SECRET", &file.display().to_string());
    let (code, out, err) = with_file(db_url, dir.path(), "connector.toml", &toml, CONNECTOR_SET);
    assert_eq!(code, 0, "{out}{err}");
    let server = start_hq(db_url, dir.path());
    let r = client()
        .post(format!("{}/api/v1/enroll", server.url))
        .json(&json!({"secret": enroll_secret, "hostname": "ws-1"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let csv = format!(
        "agent,platform_user
ws-1,{platform_user}
"
    );
    let (code, out, err) = with_file(db_url, dir.path(), "users.csv", &csv, USERS_IMPORT);
    assert_eq!(code, 0, "{out}{err}");
    Hq {
        server,
        db_url: db_url.to_string(),
        dir,
        key: v["device_key"].as_str().unwrap().into(),
        device: v["device_id"].as_str().unwrap().into(),
    }
}

impl Hq {
    async fn post(&self, events: Vec<Value>) {
        let r = client()
            .post(format!("{}/api/v1/events", self.server.url))
            .bearer_auth(&self.key)
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn metrics(&self) -> String {
        client()
            .get(format!("{}/metrics", self.server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    fn status(&self) -> String {
        let (code, out, err) = hq_cmd(&self.db_url, &["connector", "status"], None);
        assert_eq!(code, 0, "{err}");
        out
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hq.log")).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// The webhook

const WEBHOOK_SECRET: &str = "whsec_8f1d2c7a9b";

fn webhook_toml(url: &str) -> String {
    format!(
        "kind = \"webhook\"\nurl = \"{url}/hook\"\nsecret_file = \"SECRET\"\n\
         [states.not_ready]\nheadset_gone = \"Workstation issue\"\n"
    )
}

/// Checks a webhook request's signature the way the scheme is documented (Stripe's
/// <https://docs.stripe.com/webhooks#verify-manually>: `t=...,v1=...`, HMAC-SHA256 over
/// `t.body`), computing the HMAC with the `openssl` command, not with HQ's code.
fn verify_webhook(s: &Seen, secret: &str) {
    let header = s.header("shiftready-signature");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => panic!("unexpected signature part in {header:?}"),
        }
    }
    let (t, v1) = (t.expect("t="), v1.expect("v1="));
    let age = Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "timestamp {t} is {age} s old");
    let mut signed = t.into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&s.body);
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&signed).unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let expected = out.trim().rsplit("= ").next().unwrap().to_string();
    assert_eq!(v1, expected, "the v1 signature does not verify");
}

/// The states a webhook receiver was told, in order, one per idempotency key (repeats of a key
/// collapsed, as the receiver de-duplicates).
fn webhook_states(seen: &[Seen]) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let mut out = Vec::new();
    for s in seen.iter().filter(|s| s.path == "/hook") {
        let k = s.header("idempotency-key").to_string();
        if keys.contains(&k) {
            continue;
        }
        keys.push(k);
        let v = s.json();
        out.push((
            v["state"].as_str().unwrap().to_string(),
            v["reason"].as_str().unwrap().to_string(),
        ));
    }
    out
}

/// A webhook receiver answering with `respond`, and HQ sending to it.
async fn webhook_hq(
    db_url: &str,
    respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (MockPlatform, Hq) {
    let mock = MockPlatform::start(respond).await;
    let h = hq(
        db_url,
        &webhook_toml(&mock.url()),
        WEBHOOK_SECRET,
        "agent-7",
    )
    .await;
    (mock, h)
}

fn ok_hook(_: &Seen, _: usize) -> Reply {
    reply(200, json!({"received": true}))
}

async fn webhook_shift(t: common::TestDb) {
    let (mock, h) = webhook_hq(&t.url, ok_hook).await;
    h.post(vec![sign_in()]).await;
    until(10, "available", || mock.seen().len() == 1).await;
    h.post(vec![incident("headset_gone", "started")]).await;
    until(10, "not ready", || mock.seen().len() == 2).await;
    // An incident the site does not block on changes nothing.
    h.post(vec![incident("noisy_room", "started")]).await;
    h.post(vec![incident("headset_gone", "ended")]).await;
    until(10, "recovered", || mock.seen().len() == 3).await;
    h.post(vec![sign_out("manual")]).await;
    until(10, "offline", || mock.seen().len() == 4).await;
    let seen = mock.seen();
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.path, "/hook");
        assert_eq!(s.header("content-type"), "application/json");
        verify_webhook(s, WEBHOOK_SECRET);
        let v = s.json();
        assert_eq!(s.header("idempotency-key"), v["id"].as_str().unwrap());
        assert_eq!(v["type"], "agent.state");
        assert_eq!(v["agent"]["hostname"], "ws-1");
        assert_eq!(v["agent"]["device_id"], h.device.as_str());
        assert_eq!(v["agent"]["platform_user"], "agent-7");
    }
    let states: Vec<Value> = seen
        .iter()
        .map(|s| {
            let v = s.json();
            json!([
                v["state"],
                v["reason"],
                v["platform_state"],
                v["previous_state"]
            ])
        })
        .collect();
    assert_eq!(
        states,
        vec![
            json!(["available", "signed_in", "available", null]),
            json!([
                "not_ready",
                "headset_gone",
                "Workstation issue",
                "available"
            ]),
            json!(["available", "recovered", "available", "Workstation issue"]),
            json!(["offline", "manual", "offline", "available"]),
        ]
    );
    let m = h.metrics().await;
    assert!(
        m.contains("shiftready_connector_pushes_total{platform=\"webhook\",outcome=\"ok\"} 4"),
        "{m}"
    );
    assert!(
        h.status().contains("main: webhook ok (0 waiting)"),
        "{}",
        h.status()
    );
    assert!(
        !h.log().contains(WEBHOOK_SECRET),
        "the secret is in HQ's log"
    );
    // IT's API: the connector's health and what ShiftReady last set for the agent.
    let (code, out, _) = hq_cmd(&h.db_url, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0);
    let token = last_line(&out);
    let get = |path: String| {
        let token = token.clone();
        async move {
            let r = client().get(path).bearer_auth(token).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json::<Value>().await.unwrap()
        }
    };
    let c = get(format!("{}/api/v1/connectors", h.server.url)).await;
    assert_eq!(c["connectors"][0]["site"], "main");
    assert_eq!(c["connectors"][0]["kind"], "webhook");
    assert_eq!(c["connectors"][0]["health"], "ok");
    assert_eq!(c["connectors"][0]["pending"], 0);
    let body = c.to_string();
    assert!(
        !body.contains("platform.secret") && !body.contains(WEBHOOK_SECRET),
        "{body}"
    );
    let a = get(format!(
        "{}/api/v1/agents/{}/connector",
        h.server.url, h.device
    ))
    .await;
    assert_eq!(a["platform_user"], "agent-7");
    assert_eq!(a["set_state"], "offline");
    assert_eq!(a["result"], "set offline (manual): delivered");
    assert!(a["set_at"].as_i64().unwrap() > 0);
    // The agent's page says the same in words, and the fleet page raises no alarm.
    let page = |path: String| {
        let token = token.clone();
        async move {
            let r = client().get(path).bearer_auth(token).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.text().await.unwrap()
        }
    };
    let agent = page(format!("{}/agents/{}", h.server.url, h.device)).await;
    let line = agent
        .split("id=\"connector\">")
        .nth(1)
        .and_then(|r| r.split("</dd>").next())
        .unwrap_or_else(|| panic!("no phone-system line on the agent page: {agent}"));
    assert!(
        line.starts_with("set to <strong>offline</strong> by ShiftReady")
            && line.contains("<code>agent-7</code>")
            && line.contains("last delivery: set offline (manual): delivered"),
        "{line}"
    );
    let fleet = page(format!("{}/", h.server.url)).await;
    assert!(!fleet.contains("connector-failing"), "{fleet}");
}

both!(webhook_shift);

/// 5xx is retried, 429's Retry-After is waited out, 401 marks the connector failing in words,
/// and the changes arrive in order once the receiver accepts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failures_are_retried_in_order() {
    let t = common::sqlite().await;
    let (mock, h) = webhook_hq(&t.url, |_, n| match n {
        0 | 1 => reply(503, json!({"error": "busy"})),
        2 => Reply {
            headers: vec![("retry-after", "2".into())],
            ..reply(429, json!({"error": "slow down"}))
        },
        _ => reply(200, json!({})),
    })
    .await;
    h.post(vec![sign_in()]).await;
    h.post(vec![incident("headset_gone", "started")]).await;
    until(20, "both delivered", || mock.seen().len() == 5).await;
    let seen = mock.seen();
    // The same change (one idempotency key) until it went through, then the next.
    let keys: Vec<&str> = seen.iter().map(|s| s.header("idempotency-key")).collect();
    assert!(keys[..4].iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_ne!(keys[4], keys[0]);
    assert_eq!(seen[3].json()["state"], "available");
    assert_eq!(seen[4].json()["state"], "not_ready");
    let waited = seen[3].at - seen[2].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "Retry-After: 2 but the retry came after {waited:?}"
    );
    let m = h.metrics().await;
    assert!(m.contains("outcome=\"retry\"} 3"), "{m}");

    // Credentials refused: the connector is failing, in words; the change waits.
    mock.answer(|_, _| reply(401, json!({"error": "bad signature"})));
    h.post(vec![incident("headset_gone", "ended")]).await;
    until(10, "failing", || h.status().contains("failing")).await;
    let status = h.status();
    assert!(
        status.contains("refused our credentials (HTTP 401)")
            && status.contains("secret_file hold the same secret")
            && status.contains("1 waiting"),
        "{status}"
    );
    let m = h.metrics().await;
    assert!(
        m.contains("platform=\"webhook\",outcome=\"auth_failed\"}"),
        "{m}"
    );
    // IT sees it at once: the fleet page says which connector fails, why, and what waits.
    let (code, out, _) = hq_cmd(&h.db_url, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0);
    let fleet = client()
        .get(format!("{}/", h.server.url))
        .bearer_auth(last_line(&out))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let alarm = fleet
        .split("connector-failing\" role=\"alert\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap_or_else(|| panic!("no failing-connector line on the fleet page: {fleet}"));
    assert!(
        alarm.contains("The webhook connector of the site main is failing:")
            && alarm.contains("refused our credentials (HTTP 401)")
            && alarm.contains("1 change waits to be delivered"),
        "{alarm}"
    );
    mock.answer(ok_hook);
    until(20, "delivered after the fix", || {
        h.status().contains("ok (0 waiting)")
    })
    .await;
    let last = mock.seen().last().unwrap().json();
    assert_eq!(last["state"], "available");
    assert_eq!(last["reason"], "recovered");
}

/// The receiver is down (nothing listens) while an agent's state changes four times: the
/// outbox holds every change, ingest keeps answering, and once it is back the changes arrive
/// once each, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_down_then_back_delivers_in_order() {
    let t = common::sqlite().await;
    let (mock, h) = webhook_hq(&t.url, ok_hook).await;
    let (addr, seen) = mock.stop();
    h.post(vec![sign_in()]).await;
    h.post(vec![incident("network_degraded", "started")]).await;
    h.post(vec![incident("network_degraded", "ended")]).await;
    h.post(vec![sign_out("shutdown")]).await;
    until(10, "a failed attempt", || h.status().contains("failing")).await;
    assert!(h.status().contains("4 waiting"), "{}", h.status());
    assert!(
        h.status().contains("could not be reached"),
        "{}",
        h.status()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let back = MockPlatform::start_on(addr, seen, ok_hook).await;
    until(40, "all delivered", || h.status().contains("(0 waiting)")).await;
    let got = webhook_states(&back.seen());
    assert_eq!(
        got,
        vec![
            ("available".into(), "signed_in".into()),
            ("not_ready".into(), "network_degraded".into()),
            ("available".into(), "recovered".into()),
            ("offline".into(), "shutdown".into()),
        ]
    );
    assert_eq!(back.seen().len(), 4, "a change was sent twice");
}

/// HQ is killed (SIGKILL) while the receiver holds a delivery: after the restart the change is
/// sent again with the same idempotency key (the receiver drops the repeat), and every change
/// arrives, in order, none under two keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_killed_mid_delivery_loses_and_doubles_nothing() {
    let t = common::sqlite().await;
    let (mock, mut h) = webhook_hq(&t.url, |_, n| Reply {
        delay: if n == 0 {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        },
        ..reply(200, json!({}))
    })
    .await;
    h.post(vec![sign_in()]).await;
    h.post(vec![incident("headset_gone", "started")]).await;
    until(10, "the first delivery held", || mock.seen().len() == 1).await;
    h.server.child.kill().unwrap();
    h.server.child.wait().unwrap();
    h.server = start_hq(&h.db_url, h.dir.path());
    h.post(vec![incident("headset_gone", "ended")]).await;
    until(20, "all delivered", || h.status().contains("(0 waiting)")).await;
    let seen = mock.seen();
    let keys: Vec<&str> = seen.iter().map(|s| s.header("idempotency-key")).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(
        keys[0], keys[1],
        "the change cut off by the kill is sent again, same key"
    );
    assert_eq!(
        webhook_states(&seen),
        vec![
            ("available".into(), "signed_in".into()),
            ("not_ready".into(), "headset_gone".into()),
            ("available".into(), "recovered".into()),
        ]
    );
}

/// Lost contact (the sweep signs the agent out) sets the agent offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_contact_sets_offline() {
    let t = common::sqlite().await;
    let (mock, h) = webhook_hq(&t.url, ok_hook).await;
    let policy = "[shift]\nheartbeat_seconds = 5\nlost_contact_after_missed = 1\n";
    let (code, _, err) = with_file(&h.db_url, h.dir.path(), "policy.toml", policy, POLICY_SET);
    assert_eq!(code, 0, "{err}");
    h.post(vec![sign_in()]).await;
    until(30, "offline", || mock.seen().len() == 2).await;
    let v = mock.seen()[1].json();
    assert_eq!(
        (v["state"].as_str(), v["reason"].as_str()),
        (Some("offline"), Some("lost_contact"))
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_set_lists_every_problem_with_its_key() {
    use std::os::unix::fs::PermissionsExt;
    let t = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open.secret");
    std::fs::write(&open, "x").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let toml = format!(
        "kind = \"twilio\"\nbase_url = \"ftp://x\"\nbogus = 1\nauth_token_file = \"{}\"\n\
         region = \"eu-central-1\"\n[states]\navailable = \"WA1\"\n",
        open.display()
    );
    let (code, _, err) = with_file(&t.url, dir.path(), "c.toml", &toml, CONNECTOR_SET);
    assert_eq!(code, 78, "{err}");
    for needle in [
        "bogus",
        "base_url",
        "key `auth_token_file`",
        "chmod 600",
        "key `account_sid`: is missing",
        "key `states.not_ready`: is missing",
        "key `states.offline`: is missing",
        "key `workspace_sid`",
        "key `region`: is not a key of kind = \"twilio\"",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
    let (code, out, _) = hq_cmd(&t.url, &["connector", "status"], None);
    assert_eq!(code, 0);
    assert!(out.contains("No connector"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_import_reports_unknown_agents_by_line_and_imports_nothing() {
    let t = common::sqlite().await;
    let (mock, h) = webhook_hq(&t.url, ok_hook).await;
    let csv = "agent,platform_user\nws-1,agent-8\nws-nope,agent-9\nws-1\n";
    let (code, _, err) = with_file(&h.db_url, h.dir.path(), "more.csv", csv, USERS_IMPORT);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    assert!(
        err.contains(":3: no enrolled agent has the id or hostname 'ws-nope'"),
        "{err}"
    );
    assert!(err.contains(":4: expected 2 fields"), "{err}");
    // ws-1 still maps to agent-7: line 2 was not imported either.
    h.post(vec![sign_in()]).await;
    until(10, "delivered", || mock.seen().len() == 1).await;
    assert_eq!(mock.seen()[0].json()["agent"]["platform_user"], "agent-7");
}

// ---------------------------------------------------------------------------------------------
// Twilio TaskRouter

/// The documented TaskRouter update (<https://www.twilio.com/docs/taskrouter/api/worker>):
/// POST form `ActivitySid` (+ `RejectPendingReservations=true` to an unavailable activity),
/// HTTP Basic; and an agent a supervisor put on Break is left there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_wire_format_and_break_left_alone() {
    let t = common::sqlite().await;
    let activity = Arc::new(Mutex::new("WA_offline".to_string()));
    let mock = MockPlatform::start(twilio_mock(activity.clone())).await;
    let h = hq(&t.url, &twilio_toml(&mock.url()), TW_TOKEN, "WK7").await;
    let (code, out, err) = hq_cmd(&h.db_url, &["connector", "test", "--site", "main"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("workspace WS42 is 'Support'"), "{out}");
    let posts = |m: &MockPlatform| -> Vec<Seen> {
        m.seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect()
    };
    h.post(vec![sign_in()]).await;
    until(10, "available", || posts(&mock).len() == 1).await;
    h.post(vec![incident("headset_gone", "started")]).await;
    until(10, "not ready", || posts(&mock).len() == 2).await;
    let p = posts(&mock);
    for s in &p {
        assert_eq!(s.path, "/v1/Workspaces/WS42/Workers/WK7");
        assert_eq!(
            s.header("content-type"),
            "application/x-www-form-urlencoded"
        );
    }
    assert_eq!(
        p[0].form(),
        vec![("ActivitySid".to_string(), "WA_avail".to_string())]
    );
    assert_eq!(
        p[1].form(),
        vec![
            ("ActivitySid".to_string(), "WA_headset".to_string()),
            ("RejectPendingReservations".to_string(), "true".to_string())
        ]
    );
    // Each change reads the Worker first (GET, same URL).
    let gets = mock
        .seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path.ends_with("/WK7"))
        .count();
    assert_eq!(gets, 2);

    // A supervisor puts the agent on Break; the incident ends: ShiftReady leaves the Break.
    *activity.lock().unwrap() = "WA_break".into();
    h.post(vec![incident("headset_gone", "ended")]).await;
    until(10, "the read", || {
        mock.seen()
            .iter()
            .filter(|s| s.method == "GET" && s.path.ends_with("/WK7"))
            .count()
            == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(posts(&mock).len(), 2, "ShiftReady moved an agent off Break");
    assert_eq!(*activity.lock().unwrap(), "WA_break");
    let m = h.metrics().await;
    assert!(
        m.contains("platform=\"twilio\",outcome=\"skipped\"} 1"),
        "{m}"
    );
    // Signing out still sets offline.
    h.post(vec![sign_out("manual")]).await;
    until(10, "offline", || posts(&mock).len() == 3).await;
    assert_eq!(
        posts(&mock)[2].form(),
        vec![
            ("ActivitySid".to_string(), "WA_offline".to_string()),
            ("RejectPendingReservations".to_string(), "true".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_test_says_what_is_wrong() {
    let t = common::sqlite().await;
    let mock = MockPlatform::start(twilio_mock(Arc::new(Mutex::new(String::new())))).await;
    // The wrong token.
    let h = hq(&t.url, &twilio_toml(&mock.url()), "not-the-token", "WK7").await;
    let (code, _, err) = hq_cmd(&h.db_url, &["connector", "test", "--site", "main"], None);
    assert_eq!(code, 69, "{err}");
    assert!(
        err.contains("Twilio refused our credentials (HTTP 401)") && err.contains("account_sid"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-token"),
        "the secret is in the message: {err}"
    );
    // An unknown workspace.
    mock.answer(|_, _| reply(404, json!({"code": 20404, "message": "not found"})));
    let (code, _, err) = hq_cmd(&h.db_url, &["connector", "test", "--site", "main"], None);
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("no workspace WS42"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Genesys Cloud

const GC_CLIENT: &str = "gc-client-1";
const GC_SECRET: &str = "gc-secret-xyz";

fn genesys_toml(url: &str) -> String {
    format!(
        "kind = \"genesys\"\nbase_url = \"{url}\"\nclient_id = \"{GC_CLIENT}\"\n\
         client_secret_file = \"SECRET\"\nlogin_url = \"{url}/login\"\n\
         [states]\navailable = \"p-onqueue\"\nnot_ready = \"p-busy\"\noffline = \"p-offline\"\n"
    )
}

/// The client-credentials flow (<https://developer.genesys.cloud/authorization/platform-auth/use-client-credentials>),
/// the token reused while valid and fetched again when the API refuses it, then presence PATCH
/// and routing status PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesys_token_flow_presence_and_routing_status() {
    let t = common::sqlite().await;
    let tokens = Arc::new(Mutex::new(0u32));
    let valid = Arc::new(Mutex::new(String::new()));
    let presence = Arc::new(Mutex::new("p-offline".to_string()));
    let (tk, va, pr) = (tokens.clone(), valid.clone(), presence.clone());
    let mock = MockPlatform::start(move |s, _| {
        if s.path == "/login/oauth/token" {
            let basic = format!(
                "Basic {}",
                base64_encode(format!("{GC_CLIENT}:{GC_SECRET}").as_bytes())
            );
            if s.header("authorization") != basic
                || s.form() != vec![("grant_type".into(), "client_credentials".into())]
            {
                return reply(401, json!({"error": "invalid_client"}));
            }
            let mut n = tk.lock().unwrap();
            *n += 1;
            let token = format!("token-{n}");
            *va.lock().unwrap() = token.clone();
            return reply(
                200,
                json!({"access_token": token, "token_type": "bearer", "expires_in": 86399}),
            );
        }
        if s.header("authorization") != format!("Bearer {}", va.lock().unwrap()) {
            return reply(401, json!({"message": "token expired"}));
        }
        if s.method == "PATCH" {
            *pr.lock().unwrap() = s.json()["presenceDefinition"]["id"]
                .as_str()
                .unwrap()
                .into();
        }
        if s.path.ends_with("/presences/PURECLOUD") {
            return reply(
                200,
                json!({"presenceDefinition": {"id": *pr.lock().unwrap()}}),
            );
        }
        reply(200, json!({"name": "Acme"}))
    })
    .await;
    let h = hq(&t.url, &genesys_toml(&mock.url()), GC_SECRET, "u-1").await;
    h.post(vec![sign_in()]).await;
    let puts = |m: &MockPlatform| -> Vec<Seen> {
        m.seen().into_iter().filter(|s| s.method == "PUT").collect()
    };
    until(10, "available", || puts(&mock).len() == 1).await;
    h.post(vec![incident("network_degraded", "started")]).await;
    until(10, "not ready", || puts(&mock).len() == 2).await;
    assert_eq!(*tokens.lock().unwrap(), 1, "the token was not reused");
    let seen = mock.seen();
    let patches: Vec<&Seen> = seen.iter().filter(|s| s.method == "PATCH").collect();
    assert_eq!(patches[0].path, "/api/v2/users/u-1/presences/PURECLOUD");
    assert_eq!(
        patches[0].json(),
        json!({"presenceDefinition": {"id": "p-onqueue"}})
    );
    assert_eq!(
        patches[1].json(),
        json!({"presenceDefinition": {"id": "p-busy"}})
    );
    let p = puts(&mock);
    assert_eq!(p[0].path, "/api/v2/users/u-1/routingstatus");
    assert_eq!(p[0].json(), json!({"status": "IDLE"}));
    assert_eq!(p[1].json(), json!({"status": "OFF_QUEUE"}));
    // The platform revokes the token: HQ gets a new one and goes on.
    *valid.lock().unwrap() = "revoked".into();
    h.post(vec![incident("network_degraded", "ended")]).await;
    until(10, "recovered", || puts(&mock).len() == 3).await;
    assert_eq!(*tokens.lock().unwrap(), 2);
    assert_eq!(puts(&mock)[2].header("authorization"), "Bearer token-2");
}

// ---------------------------------------------------------------------------------------------
// Amazon Connect

const AWS_KEY_ID: &str = "AKIDEXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const INSTANCE: &str = "8f0c6b5a-1d2e-4f3a-9b8c-7d6e5f4a3b2c";

/// AWS Signature Version 4, written here from AWS's document
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>) to check
/// HQ's requests independently of the `aws-sigv4` crate HQ signs with.
mod sigv4 {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    fn mac(key: &[u8], data: &str) -> Vec<u8> {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    pub fn hex_sha256(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    /// The signature of a canonical request.
    pub fn signature(
        secret: &str,
        amz_date: &str,
        region: &str,
        service: &str,
        canonical_request: &str,
    ) -> String {
        let date = &amz_date[..8];
        let scope = format!("{date}/{region}/{service}/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex_sha256(canonical_request.as_bytes())
        );
        let k = mac(format!("AWS4{secret}").as_bytes(), date);
        let k = mac(&k, region);
        let k = mac(&k, service);
        let k = mac(&k, "aws4_request");
        hex::encode(mac(&k, &to_sign))
    }

    /// The canonical request of a received request, given its signed header names.
    pub fn canonical(
        method: &str,
        path: &str,
        query: &str,
        headers: &std::collections::HashMap<String, String>,
        signed: &str,
        body: &[u8],
    ) -> String {
        let mut q: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        q.sort();
        let mut h = String::new();
        for name in signed.split(';') {
            h.push_str(&format!("{name}:{}\n", headers[name].trim()));
        }
        format!(
            "{method}\n{path}\n{}\n{h}\n{signed}\n{}",
            q.join("&"),
            hex_sha256(body)
        )
    }

    /// The verifier reproduces AWS's published test vector `get-vanilla`
    /// (aws-sig-v4-test-suite: GET / on example.amazonaws.com, 20150830T123600Z, us-east-1,
    /// service `service`), so a wrong verifier cannot pass HQ's requests.
    #[test]
    fn verifier_matches_aws_get_vanilla() {
        let mut headers = std::collections::HashMap::new();
        headers.insert("host".to_string(), "example.amazonaws.com".to_string());
        headers.insert("x-amz-date".to_string(), "20150830T123600Z".to_string());
        let c = canonical("GET", "/", "", &headers, "host;x-amz-date", b"");
        assert_eq!(
            signature(
                super::AWS_SECRET,
                "20150830T123600Z",
                "us-east-1",
                "service",
                &c
            ),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }
}

fn connect_toml(url: &str) -> String {
    format!(
        "kind = \"amazon_connect\"\nbase_url = \"{url}\"\naccess_key_id = \"{AWS_KEY_ID}\"\n\
         secret_access_key_file = \"SECRET\"\nregion = \"eu-central-1\"\ninstance_id = \"{INSTANCE}\"\n\
         [states]\navailable = \"st-available\"\nnot_ready = \"st-workstation\"\noffline = \"st-offline\"\n"
    )
}

/// Checks a request's `Authorization` header with the independent verifier.
fn verify_sigv4(s: &Seen) -> Result<(), String> {
    let auth = s.header("authorization");
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or(format!("not SigV4: {auth:?}"))?;
    let mut parts = HashMap::new();
    for p in rest.split(", ") {
        let (k, v) = p.split_once('=').ok_or(format!("bad part {p:?}"))?;
        parts.insert(k, v);
    }
    let amz_date = s.header("x-amz-date");
    let scope = format!(
        "{AWS_KEY_ID}/{}/eu-central-1/connect/aws4_request",
        &amz_date[..8]
    );
    if parts["Credential"] != scope {
        return Err(format!(
            "credential scope {} != {scope}",
            parts["Credential"]
        ));
    }
    let signed = parts["SignedHeaders"];
    for needed in ["host", "x-amz-date"] {
        if !signed.split(';').any(|h| h == needed) {
            return Err(format!("{needed} is not signed: {signed}"));
        }
    }
    let c = sigv4::canonical(&s.method, &s.path, &s.query, &s.headers, signed, &s.body);
    let expected = sigv4::signature(AWS_SECRET, amz_date, "eu-central-1", "connect", &c);
    if parts["Signature"] != expected {
        return Err(format!(
            "signature {} != {expected}\n{c}",
            parts["Signature"]
        ));
    }
    Ok(())
}

/// PutUserStatus (<https://docs.aws.amazon.com/connect/latest/APIReference/API_PutUserStatus.html>):
/// PUT /users/{InstanceId}/{UserId}/status with {"AgentStatusId": ...}, SigV4 for service
/// `connect` in the site's region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_put_user_status_signed_with_sigv4() {
    let t = common::sqlite().await;
    let mock = MockPlatform::start(|s, _| match verify_sigv4(s) {
        Ok(()) => reply(200, json!({})),
        Err(e) => reply(403, json!({"message": e})),
    })
    .await;
    let h = hq(&t.url, &connect_toml(&mock.url()), AWS_SECRET, "user-1").await;
    let (code, out, err) = hq_cmd(&h.db_url, &["connector", "test", "--site", "main"], None);
    assert_eq!(code, 0, "{out}{err}");
    let test = &mock.seen()[0];
    assert_eq!(
        (test.method.as_str(), test.path.as_str()),
        ("GET", format!("/agent-status/{INSTANCE}").as_str())
    );
    h.post(vec![sign_in()]).await;
    h.post(vec![incident("headset_gone", "started")]).await;
    until(10, "two changes", || mock.seen().len() == 3).await;
    let seen = mock.seen();
    for s in &seen {
        verify_sigv4(s).unwrap();
    }
    let puts: Vec<&Seen> = seen.iter().filter(|s| s.method == "PUT").collect();
    assert_eq!(puts.len(), 2);
    for p in &puts {
        assert_eq!(p.path, format!("/users/{INSTANCE}/user-1/status"));
        assert_eq!(p.header("content-type"), "application/json");
    }
    assert_eq!(puts[0].json(), json!({"AgentStatusId": "st-available"}));
    assert_eq!(puts[1].json(), json!({"AgentStatusId": "st-workstation"}));
    assert!(
        h.status().contains("amazon_connect ok (0 waiting)"),
        "{}",
        h.status()
    );
}

/// A wrong secret fails SigV4: the connector test says so in words, and a change waits with
/// the connector marked failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_wrong_secret_is_reported() {
    let t = common::sqlite().await;
    let mock = MockPlatform::start(|s, _| match verify_sigv4(s) {
        Ok(()) => reply(200, json!({})),
        Err(_) => reply(403, json!({"message": "The request signature we calculated does not match the signature you provided."})),
    })
    .await;
    let h = hq(
        &t.url,
        &connect_toml(&mock.url()),
        "not-the-secret",
        "user-1",
    )
    .await;
    let (code, _, err) = hq_cmd(&h.db_url, &["connector", "test", "--site", "main"], None);
    assert_eq!(code, 69, "{err}");
    assert!(
        err.contains("Amazon Connect refused our credentials (HTTP 403)"),
        "{err}"
    );
    h.post(vec![sign_in()]).await;
    until(10, "failing", || h.status().contains("failing")).await;
    assert!(h.status().contains("1 waiting"), "{}", h.status());
}

/// Two HQ processes on one PostgreSQL database: both deliver, each change goes out once
/// (claims under `FOR UPDATE SKIP LOCKED`), and an agent's changes keep their order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hq_processes_on_postgres_deliver_each_change_once() {
    let Some(t) = common::postgres("two_hq_processes").await else {
        return;
    };
    let (mock, h) = webhook_hq(&t.url, |_, _| Reply {
        delay: Duration::from_millis(30),
        ..reply(200, json!({}))
    })
    .await;
    let dir2 = tempfile::tempdir().unwrap();
    let second = start_hq(&t.url, dir2.path());
    let mut expected = Vec::new();
    for round in 0..5 {
        let url = if round % 2 == 0 {
            &h.server.url
        } else {
            &second.url
        };
        for (events, state) in [
            (vec![sign_in()], ("available", "signed_in")),
            (
                vec![incident("headset_gone", "started")],
                ("not_ready", "headset_gone"),
            ),
            (vec![sign_out("manual")], ("offline", "manual")),
        ] {
            let r = client()
                .post(format!("{url}/api/v1/events"))
                .bearer_auth(&h.key)
                .json(&json!({ "events": events }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            expected.push((state.0.to_string(), state.1.to_string()));
        }
    }
    until(30, "all delivered", || mock.seen().len() >= expected.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = mock.seen();
    assert_eq!(seen.len(), expected.len(), "a change was delivered twice");
    assert_eq!(webhook_states(&seen), expected);
}
