//! Alerts (issue 15, "IT is told"), end to end: the real `shiftready-hq` binary, events posted as
//! devices post them, and local receivers checking the documented wire formats exactly: a
//! generic webhook (signature checked with `openssl`, not HQ's code), a Slack incoming webhook
//! (<https://api.slack.com/messaging/webhooks>: a JSON body with `text`), a Teams workflow
//! (a `message` with one Adaptive Card attachment), and a real SMTP server with STARTTLS and
//! AUTH (Python's `aiosmtpd`, `pip install aiosmtpd`) trusting a test CA HQ is told about.
//! The local HTTP receivers are mocks (`MockPlatform`, which records every request).

mod common;
mod connectors_common;

use chrono::Utc;
use common::{HQ, hq_cmd, last_line};
use connectors_common::*;
use serde_json::{Value, json};
use shiftready_testkit::hq::Server;
use std::path::Path;
use std::time::Duration;

const SECRET: &str = "whsec_alerts_5d1e";

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

fn heartbeat(readiness: &str) -> Value {
    ev(
        "heartbeat",
        json!({"readiness": readiness, "signed_in": true}),
    )
}

fn incident(name: &str, state: &str, scope: Option<&str>) -> Value {
    let mut v = ev(
        "incident",
        json!({"name": name, "state": state, "detail": "test detail"}),
    );
    if let Some(s) = scope {
        v["scope"] = json!(s);
    }
    v
}

struct Hq {
    server: Server,
    db_url: String,
    dir: tempfile::TempDir,
    /// (device id, key) per enrolled agent, `ws-0`, `ws-1`, ...
    agents: Vec<(String, String)>,
    token: String,
}

/// HQ with site `main`, `n` enrolled agents, the alert file `toml` (`SECRET_FILE` replaced by a
/// 0600 file holding [`SECRET`]) and `policy` when given; `extra` serve flags.
async fn hq(n: usize, toml: &str, policy: Option<&str>, extra: &[&str]) -> Hq {
    hq_on(None, n, toml, policy, extra).await
}

/// [`hq`] on the database `db_url` (a fresh SQLite file when `None`).
async fn hq_on(
    db_url: Option<String>,
    n: usize,
    toml: &str,
    policy: Option<&str>,
    extra: &[&str],
) -> Hq {
    let dir = tempfile::tempdir().unwrap();
    let db_url =
        db_url.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("hq.db").display()));
    let (code, out, err) = hq_cmd(
        &db_url,
        &["enroll-secret", "create", "--site", "main"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let enroll_secret = last_line(&out);
    if let Some(p) = policy {
        let (code, _, err) = with_file(&db_url, dir.path(), "policy.toml", p, POLICY_SET);
        assert_eq!(code, 0, "{err}");
    }
    let file = secret_file(dir.path(), "webhook.secret", SECRET);
    let toml = toml.replace("SECRET_FILE", file.to_str().unwrap());
    let (code, out, err) = with_file(&db_url, dir.path(), "alerts.toml", &toml, ALERT_SET);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Alert rules for site 'main' set"), "{out}");
    let (code, out, err) = hq_cmd(&db_url, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0, "{err}");
    let token = last_line(&out);
    let mut args = vec!["--sweep-seconds", "0.2", "--enroll-per-minute", "1000"];
    args.extend_from_slice(extra);
    let server = Server::start(
        Path::new(HQ),
        &db_url,
        dir.path(),
        "127.0.0.1:0",
        &args,
        &dir.path().join("hq.log"),
    );
    let mut agents = Vec::new();
    for i in 0..n {
        let r = client()
            .post(format!("{}/api/v1/enroll", server.url))
            .json(&json!({"secret": enroll_secret, "hostname": format!("ws-{i}")}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        agents.push((
            v["device_id"].as_str().unwrap().to_string(),
            v["device_key"].as_str().unwrap().to_string(),
        ));
    }
    Hq {
        server,
        db_url,
        dir,
        agents,
        token,
    }
}

const ALERT_SET: &[&str] = &["alert", "set", "--site", "main"];

impl Hq {
    async fn post_from(&self, agent: usize, events: Vec<Value>, forwarded: Option<&str>) {
        let mut req = client()
            .post(format!("{}/api/v1/events", self.server.url))
            .bearer_auth(&self.agents[agent].1)
            .json(&json!({ "events": events }));
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn post(&self, agent: usize, events: Vec<Value>) {
        self.post_from(agent, events, None).await
    }

    async fn alerts(&self) -> Value {
        let r = client()
            .get(format!("{}/api/v1/alerts", self.server.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hq.log")).unwrap_or_default()
    }
}

/// Checks a generic webhook request's signature as documented (Stripe's scheme:
/// `ShiftReady-Signature: t=...,v1=HEX(HMAC-SHA256(secret, t + "." + body))`), computing the
/// HMAC with the `openssl` command, not with HQ's code; and its idempotency key.
fn verify_signature(s: &Seen) {
    let header = s.header("shiftready-signature");
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (t, v1) = (t.expect(header), v1.expect(header));
    let age = Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..120).contains(&age), "signature time {t}");
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&s.body);
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", SECRET])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&signed).unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let want = out.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(v1, want, "signature does not verify");
    assert_eq!(
        s.header("idempotency-key"),
        s.json()["id"].as_str().unwrap()
    );
    assert_eq!(s.header("content-type"), "application/json");
}

fn on(seen: &[Seen], path: &str) -> Vec<Seen> {
    seen.iter().filter(|s| s.path == path).cloned().collect()
}

fn receivers_toml(url: &str) -> String {
    format!(
        "[[receivers]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{url}/hook\"\nsecret_file = \"SECRET_FILE\"\n\
         [[receivers]]\nname = \"it-slack\"\nkind = \"slack\"\nurl = \"{url}/slack\"\n\
         [[receivers]]\nname = \"it-teams\"\nkind = \"teams\"\nurl = \"{url}/teams\"\n\
         [[receivers]]\nname = \"gone\"\nkind = \"slack\"\nurl = \"{url}/gone\"\n"
    )
}

/// A receiver that answers as Slack does (200 `ok`), Teams workflows (202) and a generic
/// receiver (204); `/gone` answers like a removed Slack webhook (404 `no_service`).
fn answer(s: &Seen, _: usize) -> Reply {
    let (status, body) = match s.path.as_str() {
        "/slack" => (200, "ok"),
        "/teams" => (202, ""),
        "/gone" => (404, "no_service"),
        _ => (204, ""),
    };
    Reply {
        status,
        headers: vec![("content-type", "text/plain".into())],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

/// incident_open and not_ready_share: each fires once at every receiver in its documented wire
/// format, is not repeated while open, resolves once; a receiver that refuses for good is
/// recorded as failed and shown by the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_fire_once_in_each_wire_format_and_resolve_once() {
    let rx = MockPlatform::start(answer).await;
    let toml = format!(
        "dashboard_url = \"https://hq.example.com\"\n\
         [rules.incident_open]\nminutes = 0.02\nincidents = [\"headset_gone\"]\n\
         [rules.not_ready_share]\npercent = 40\nminutes = 0.02\nmin_signed_in = 2\n{}",
        receivers_toml(&rx.url())
    );
    let h = hq(2, &toml, None, &[]).await;
    h.post(0, vec![sign_in()]).await;
    h.post(1, vec![sign_in()]).await;
    h.post(0, vec![incident("headset_gone", "started", None)])
        .await;
    until(20, "the firing message at four receivers", || {
        ["/hook", "/slack", "/teams", "/gone"]
            .iter()
            .all(|p| on(&rx.seen(), p).len() == 1)
    })
    .await;
    // Not repeated while open: evaluations every 0.2 s for two more seconds send nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = rx.seen();
    assert_eq!(
        seen.len(),
        4,
        "{:?}",
        seen.iter().map(|s| &s.path).collect::<Vec<_>>()
    );

    // The gauges for Prometheus (docs/prometheus-alerts.yml) while the incident is open.
    let metrics = client()
        .get(format!("{}/metrics", h.server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        "shiftready_site_signed_in{site=\"main\"} 2",
        "shiftready_site_signed_in_not_ready{site=\"main\"} 0",
        "shiftready_open_incidents{site=\"main\",name=\"headset_gone\"} 1",
        "shiftready_open_incidents{site=\"main\",name=\"network_degraded\"} 0",
        "shiftready_alerts_open{site=\"main\",rule=\"incident_open\"} 1",
    ] {
        assert!(metrics.contains(want), "{want} not in\n{metrics}");
    }

    // The generic webhook: signed, the documented shape.
    let hook = &on(&seen, "/hook")[0];
    assert_eq!(hook.method, "POST");
    verify_signature(hook);
    let v = hook.json();
    assert_eq!(v["type"], "alert.firing");
    assert_eq!(v["alert"]["rule"], "incident_open");
    assert_eq!(v["alert"]["site"], "main");
    assert_eq!(v["alert"]["status"], "firing");
    assert_eq!(
        v["alert"]["subject"],
        format!("{}:headset_gone", h.agents[0].0)
    );
    assert_eq!(v["alert"]["agents"][0]["hostname"], "ws-0");
    assert_eq!(v["alert"]["url"], "https://hq.example.com/alerts");
    assert!(v["alert"]["resolved_at"].is_null());
    assert!(
        v["alert"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("ws-0: headset_gone open since"),
        "{v}"
    );
    // Slack: exactly {"text": ...} in mrkdwn (bold title, a link in <url|text> form).
    let slack = on(&seen, "/slack")[0].json();
    assert_eq!(slack.as_object().unwrap().len(), 1, "{slack}");
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with("*[FIRING] ws-0: headset_gone open since"),
        "{text}"
    );
    assert!(
        text.contains("<https://hq.example.com/alerts|Open in ShiftReady HQ>"),
        "{text}"
    );
    assert_eq!(
        on(&seen, "/slack")[0].header("content-type"),
        "application/json"
    );
    // Teams: a message with one Adaptive Card attachment.
    let teams = on(&seen, "/teams")[0].json();
    assert_eq!(teams["type"], "message");
    let att = teams["attachments"].as_array().unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(
        att[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(att[0]["content"]["type"], "AdaptiveCard");
    assert_eq!(att[0]["content"]["version"], "1.4");
    assert!(
        att[0]["content"]["body"][0]["inlines"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING] ws-0: headset_gone")
    );

    // Resolved once when the incident ends.
    h.post(0, vec![incident("headset_gone", "ended", None)])
        .await;
    until(20, "the resolved messages", || rx.seen().len() == 8).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 8);
    let v = on(&seen, "/hook")[1].json();
    assert_eq!(v["type"], "alert.resolved");
    assert!(v["alert"]["resolved_at"].is_string());
    verify_signature(&on(&seen, "/hook")[1]);
    assert!(
        on(&seen, "/slack")[1].json()["text"]
            .as_str()
            .unwrap()
            .starts_with("*[RESOLVED] ws-0: headset_gone")
    );

    // Both agents not ready: 100 % > 40 % for over 1.2 s → one alert; ready again → resolved.
    h.post(0, vec![heartbeat("not_ready")]).await;
    h.post(1, vec![heartbeat("not_ready")]).await;
    until(20, "the share alert", || on(&rx.seen(), "/hook").len() == 3).await;
    let v = on(&rx.seen(), "/hook")[2].json();
    assert_eq!(v["alert"]["rule"], "not_ready_share");
    assert!(
        v["alert"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("100 % of signed-in agents are not ready (2 of 2"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(on(&rx.seen(), "/hook").len(), 3, "repeated while open");
    h.post(0, vec![heartbeat("ready")]).await;
    h.post(1, vec![heartbeat("ready")]).await;
    until(20, "the share resolved", || {
        on(&rx.seen(), "/hook").len() == 4
    })
    .await;
    assert_eq!(on(&rx.seen(), "/hook")[3].json()["type"], "alert.resolved");

    // The API: both alerts with their times and deliveries; the refusing receiver is failed
    // with its answer in words; no URL or secret anywhere.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a = h.alerts().await;
    let list = a["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{a}");
    let first = list.iter().find(|x| x["rule"] == "incident_open").unwrap();
    assert!(first["opened_at"].is_string() && first["resolved_at"].is_string());
    let ds = first["deliveries"].as_array().unwrap();
    assert_eq!(ds.len(), 8, "{first}");
    for d in ds {
        let want = if d["receiver"] == "gone" {
            "failed"
        } else {
            "sent"
        };
        assert_eq!(d["state"], want, "{d}");
    }
    let gone = ds.iter().find(|d| d["receiver"] == "gone").unwrap();
    assert!(
        gone["last_error"]
            .as_str()
            .unwrap()
            .contains("Slack refused the message (HTTP 404)"),
        "{gone}"
    );
    let text = a.to_string();
    assert!(
        !text.contains(&rx.url()) && !text.contains(SECRET),
        "{text}"
    );
    assert!(!h.log().contains(SECRET));
}

/// Ten agents degraded beyond the home within two minutes: ONE alert "likely HQ- or ISP-side
/// problem" listing them grouped by the address prefix HQ saw (behind `--trusted-proxy`, the
/// forwarded client's), not ten; their own incident_open alerts are folded into it. An older
/// agent that sends no scope is not counted as beyond the home and gets its own alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlated_rule_sends_one_alert_for_ten_agents() {
    correlated(None).await;
}

/// The same on PostgreSQL (the engine's SQL: the partial unique index of open alerts, the
/// outbox's destination prefix, the history's JSON list).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlated_rule_sends_one_alert_for_ten_agents_on_postgres() {
    let Some(url) = common::postgres_url("correlated_rule_on_postgres").await else {
        return;
    };
    correlated(Some(url)).await;
}

async fn correlated(db_url: Option<String>) {
    let rx = MockPlatform::start(answer).await;
    let toml = format!(
        "[rules.incident_open]\nminutes = 0.02\nincidents = [\"network_degraded\"]\n\
         [rules.correlated]\nagents = 3\nwait_seconds = 1.5\n\
         [[receivers]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{}/hook\"\nsecret_file = \"SECRET_FILE\"\n",
        rx.url()
    );
    let h = hq_on(db_url, 11, &toml, None, &["--trusted-proxy", "127.0.0.1"]).await;
    for i in 0..11 {
        h.post(i, vec![sign_in()]).await;
    }
    for i in 0..11 {
        let addr = if i < 6 {
            format!("203.0.113.{}", 10 + i)
        } else {
            format!("198.51.100.{}", 10 + i)
        };
        let scope = (i < 10).then_some("beyond_home");
        h.post_from(
            i,
            vec![incident("network_degraded", "started", scope)],
            Some(&addr),
        )
        .await;
    }
    until(20, "two alerts", || rx.seen().len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = rx.seen();
    let bodies: Vec<Value> = seen.iter().map(|s| s.json()).collect();
    assert_eq!(seen.len(), 2, "{bodies:#?}");
    let corr = bodies
        .iter()
        .find(|b| b["alert"]["rule"] == "correlated")
        .expect("one correlated alert");
    let summary = corr["alert"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Likely HQ- or ISP-side problem: 10 of 11 signed-in agents"),
        "{summary}"
    );
    assert_eq!(corr["alert"]["agents"].as_array().unwrap().len(), 10);
    let details: Vec<&str> = corr["alert"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(
        details[0], "198.51.100.0/24 (4): ws-6, ws-7, ws-8, ws-9",
        "{details:?}"
    );
    assert_eq!(
        details[1],
        "203.0.113.0/24 (6): ws-0, ws-1, ws-2, ws-3, ws-4, ws-5"
    );
    assert!(details[2].contains("not counted): ws-10"), "{details:?}");
    // The older agent's own alert.
    let own = bodies
        .iter()
        .find(|b| b["alert"]["rule"] == "incident_open")
        .unwrap();
    assert_eq!(own["alert"]["agents"][0]["hostname"], "ws-10");
    assert_eq!(
        own["alert"]["agents"][0]["address_prefix"],
        "198.51.100.0/24"
    );

    // All recover: the correlated alert resolves once (and ws-10's).
    for i in 0..11 {
        h.post(i, vec![incident("network_degraded", "ended", None)])
            .await;
    }
    until(20, "the resolved messages", || rx.seen().len() >= 4).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 4);
    let resolved: Vec<Value> = seen[2..].iter().map(|s| s.json()).collect();
    assert!(resolved.iter().all(|b| b["type"] == "alert.resolved"));
    assert!(resolved.iter().any(|b| b["alert"]["rule"] == "correlated"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = h.alerts().await;
    let list = a["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{a}");
    for x in list {
        assert!(x["resolved_at"].is_string(), "{x}");
        let states: Vec<&Value> = x["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["state"])
            .collect();
        assert_eq!(states, [&json!("sent"), &json!("sent")], "{x}");
    }
}

/// A receiver that is down loses nothing: HQ signs an agent out for lost contact (an alert)
/// and in again when its heartbeats resume (resolved) while the receiver is down; once it is
/// up, both arrive once, in order. `alert test` says in words which receiver failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_up_delivers_everything_once() {
    let rx = MockPlatform::start(answer).await;
    let url = rx.url();
    let toml = format!(
        "[rules.lost_contact]\n\
         [[receivers]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{url}/hook\"\nsecret_file = \"SECRET_FILE\"\n"
    );
    let policy = "[shift]\nheartbeat_seconds = 5\nlost_contact_after_missed = 1\n";
    let h = hq(1, &toml, Some(policy), &[]).await;
    let (code, out, err) = hq_cmd(&h.db_url, &["alert", "test", "--site", "main"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("OK: ops-hook (webhook) accepted the test message."),
        "{out}"
    );
    until(5, "the test message", || rx.seen().len() == 1).await;
    assert_eq!(rx.seen()[0].json()["type"], "alert.test");
    verify_signature(&rx.seen()[0]);
    let (addr, seen) = rx.stop();
    // Down: `alert test` names the receiver and what went wrong.
    let (code, out, err) = hq_cmd(&h.db_url, &["alert", "test", "--site", "main"], None);
    assert_eq!(code, 69, "{out}{err}");
    assert!(
        out.contains("FAILED: ops-hook (webhook): The webhook receiver could not be reached"),
        "{out}"
    );
    assert!(err.contains("1 of 1 receiver(s) failed"), "{err}");

    h.post(0, vec![sign_in()]).await;
    // No heartbeat for 5 s: HQ signs it out for lost contact → alert (receiver down).
    let t0 = std::time::Instant::now();
    while h.alerts().await["alerts"].as_array().unwrap().is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no lost-contact alert: {}",
            h.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Heard from again, signed in: contact restored → resolved (receiver still down).
    h.post(0, vec![heartbeat("ready")]).await;
    let a = loop {
        let a = h.alerts().await;
        if a["alerts"][0]["resolved_at"].is_string() {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(a["alerts"][0]["rule"], "lost_contact");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a = h.alerts().await;
    let states: Vec<&str> = a["alerts"][0]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert!(states.contains(&"retrying"), "{a}");
    assert_eq!(seen.lock().unwrap().len(), 1);

    // Up again on the same port: both messages arrive, once each, firing first.
    let rx = MockPlatform::start_on(addr, seen, answer).await;
    until(60, "both messages after the receiver came back", || {
        rx.seen().len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].json()["type"], "alert.firing");
    assert_eq!(seen[1].json()["alert"]["rule"], "lost_contact");
    assert_eq!(seen[2].json()["type"], "alert.resolved");
    let a = h.alerts().await;
    assert!(
        a["alerts"][0]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "sent"),
        "{a}"
    );
}

/// The SMTP server of the email test: aiosmtpd with STARTTLS required before AUTH and mail,
/// one login, each message written to a directory with how it came (TLS, login).
const SMTP_SERVER: &str = r#"
import os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
cert, key, port, outdir, user, password = sys.argv[1:7]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(outdir) if f.endswith('.eml')])
        tmp = os.path.join(outdir, '%04d.tmp' % n)
        with open(tmp, 'wb') as f:
            f.write(('X-Test-Tls: %s\r\nX-Test-Login: %s\r\nX-Test-Rcpt: %s\r\n' % (
                session.ssl is not None, session.authenticated,
                ','.join(envelope.rcpt_tos))).encode())
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(outdir, '%04d.eml' % n))
        return '250 OK'
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
    return AuthResult(success=ok, handled=False) if not ok else AuthResult(success=True)
c = Controller(Handler(), hostname='127.0.0.1', port=int(port), tls_context=ctx,
               require_starttls=True, authenticator=auth, auth_require_tls=True)
c.start()
print('ready', flush=True)
sys.stdin.read()
c.stop()
"#;

/// Email over SMTP with STARTTLS and a password from a 0600 file, to a real SMTP server whose
/// certificate is signed by a test CA HQ trusts through `ca_file`: `alert test` and an
/// incident alert arrive as mail; the password is in no log, API answer or `alert list`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_over_starttls_to_a_real_smtp_server() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let work = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let p = |n: &str| work.path().join(n);
    std::fs::write(p("cert.pem"), cert.pem()).unwrap();
    std::fs::write(p("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(p("ca.pem"), ca.pem()).unwrap();
    std::fs::write(p("smtpd.py"), SMTP_SERVER).unwrap();
    std::fs::create_dir(p("mail")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let password = "smtp-pass-93f1c";
    let mut smtpd = std::process::Command::new("python3")
        .arg(p("smtpd.py"))
        .args([
            p("cert.pem").to_str().unwrap(),
            p("key.pem").to_str().unwrap(),
            &port.to_string(),
            p("mail").to_str().unwrap(),
            "hq-alerts",
            password,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd (pip install aiosmtpd)");
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(smtpd.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "aiosmtpd did not start (pip install aiosmtpd)"
        );
    }
    let pw_file = secret_file(work.path(), "smtp.password", password);
    let toml = format!(
        "[rules.incident_open]\nminutes = 0.02\n\
         [[receivers]]\nname = \"it-mail\"\nkind = \"email\"\nhost = \"localhost\"\nport = {port}\n\
         username = \"hq-alerts\"\npassword_file = \"{}\"\nfrom = \"ShiftReady HQ <hq@example.com>\"\n\
         to = [\"it@example.com\", \"oncall@example.com\"]\nca_file = \"{}\"\n",
        pw_file.display(),
        p("ca.pem").display()
    );
    let h = hq(1, &toml, None, &[]).await;
    let mails = || -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(p("mail"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|f| f.extension().is_some_and(|x| x == "eml"))
            .collect();
        v.sort();
        v.iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    };
    let (code, out, err) = hq_cmd(&h.db_url, &["alert", "test", "--site", "main"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("OK: it-mail (email)"), "{out}");
    assert_eq!(mails().len(), 1);
    assert!(
        mails()[0].contains("Subject: ShiftReady main: [TEST]"),
        "{}",
        mails()[0]
    );

    h.post(0, vec![sign_in()]).await;
    h.post(0, vec![incident("headset_gone", "started", None)])
        .await;
    until(20, "the alert by mail", || mails().len() == 2).await;
    h.post(0, vec![incident("headset_gone", "ended", None)])
        .await;
    until(20, "the resolved mail", || mails().len() == 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = mails();
    assert_eq!(m.len(), 3);
    for mail in &m {
        assert!(
            mail.starts_with("X-Test-Tls: True\r\nX-Test-Login: True\r\n"),
            "{mail}"
        );
        assert!(
            mail.contains("X-Test-Rcpt: it@example.com,oncall@example.com"),
            "{mail}"
        );
        assert!(
            mail.contains("From: \"ShiftReady HQ\" <hq@example.com>"),
            "{mail}"
        );
    }
    assert!(
        m[1].contains("Subject: ShiftReady main: [FIRING] ws-0: headset_gone open since"),
        "{}",
        m[1]
    );
    assert!(
        m[2].contains("Subject: ShiftReady main: [RESOLVED] ws-0: headset_gone"),
        "{}",
        m[2]
    );
    assert!(m[2].contains("Rule: incident_open"), "{}", m[2]);
    let (code, out, _) = hq_cmd(&h.db_url, &["alert", "list", "--json"], None);
    assert_eq!(code, 0);
    let api = h.alerts().await.to_string();
    for text in [out, api, h.log()] {
        assert!(!text.contains(password), "{text}");
    }
    drop(smtpd.stdin.take());
    let _ = smtpd.wait();
}

/// A bad alert file: every problem at once with its key, exit 78, nothing stored.
#[test]
fn alert_set_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("hq.db").display());
    let toml = "[rules.correlated]\nagents = 1\n[[receivers]]\nname = \"x\"\nkind = \"webhook\"\nurl = \"ftp://x\"\n";
    let (code, out, err) = with_file(&db_url, dir.path(), "a.toml", toml, ALERT_SET);
    assert_eq!(code, 78, "{out}{err}");
    for want in [
        "rules.correlated.agents",
        "receivers[0].url",
        "receivers[0].secret_file",
    ] {
        assert!(err.contains(want), "{want} not in {err}");
    }
    let (code, out, _) = hq_cmd(&db_url, &["alert", "list"], None);
    assert_eq!(code, 0);
    assert!(out.contains("No site has alert rules."), "{out}");
}

/// Found in review: Teams cards put the devices' words (hostname, incident name and detail) in
/// TextBlocks, which read Markdown (Microsoft's Adaptive Cards "Text features": `[Title](url)`
/// is a link, <https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/text-features>),
/// so a device could post a link into IT's channel; Slack's text was escaped. The card a real
/// HQ posts holds them as TextRuns of RichTextBlocks (no Markdown, the same page), falling back
/// to TextBlocks with the Markdown escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_card_does_not_render_device_text_as_markdown() {
    let rx = MockPlatform::start(answer).await;
    let toml = format!(
        "[rules.incident_open]\nminutes = 0.02\nincidents = [\"headset_gone\"]\n\
         [[receivers]]\nname = \"it-teams\"\nkind = \"teams\"\nurl = \"{}/teams\"\n",
        rx.url()
    );
    let h = hq(1, &toml, None, &[]).await;
    let detail = "**Urgent**: [reset your password](https://evil.example/login)";
    h.post(0, vec![sign_in()]).await;
    h.post(
        0,
        vec![ev(
            "incident",
            json!({"name": "headset_gone", "state": "started", "detail": detail}),
        )],
    )
    .await;
    until(20, "the Teams card", || rx.seen().len() == 1).await;
    let card = rx.seen()[0].json();
    let body = card["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap()
        .clone();
    for b in &body {
        assert_eq!(
            b["type"], "RichTextBlock",
            "no Markdown-reading element: {b}"
        );
        assert_eq!(b["inlines"][0]["type"], "TextRun", "{b}");
        assert_eq!(b["fallback"]["type"], "TextBlock", "{b}");
        assert!(
            !b["fallback"]["text"].as_str().unwrap().contains("]("),
            "the fallback's Markdown is escaped: {b}"
        );
    }
    let line = body
        .iter()
        .find(|b| b["inlines"][0]["text"] == detail)
        .unwrap_or_else(|| panic!("the detail as plain text: {card}"));
    assert_eq!(
        line["fallback"]["text"],
        "\\*\\*Urgent\\*\\*: \\[reset your password\\]\\(https://evil\\.example/login\\)"
    );
    // Written out only in the plain-text run (escaped in the fallback).
    assert_eq!(
        card.to_string().matches("evil.example").count(),
        1,
        "{card}"
    );
}

/// Found in review: the not-ready share's "first seen" rows were keyed `RULE:SITE:SUBJECT`
/// and matched by prefix, so site `a`'s evaluation took site `a:b`'s row for its own and
/// deleted it every time: `a:b`'s share never held long enough to raise an alert. Both sites
/// have the rule; only `a:b`'s agents are not ready; its alert opens, `a`'s does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_share_of_a_site_named_like_another_with_a_colon() {
    let rx = MockPlatform::start(answer).await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("hq.db").display());
    let mut secrets = Vec::new();
    for site in ["a", "a:b"] {
        let (code, out, err) = hq_cmd(&db_url, &["enroll-secret", "create", "--site", site], None);
        assert_eq!(code, 0, "{err}");
        secrets.push(last_line(&out));
        let toml = format!(
            "[rules.not_ready_share]\npercent = 40\nminutes = 0.02\nmin_signed_in = 1\n\
             [[receivers]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"{}/slack\"\n",
            rx.url()
        );
        let (code, out, err) = with_file(
            &db_url,
            dir.path(),
            "alerts.toml",
            &toml,
            &["alert", "set", "--site", site],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, err) = hq_cmd(&db_url, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0, "{err}");
    let token = last_line(&out);
    let server = Server::start(
        Path::new(HQ),
        &db_url,
        dir.path(),
        "127.0.0.1:0",
        &["--sweep-seconds", "0.2"],
        &dir.path().join("hq.log"),
    );
    let mut keys = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let v: Value = client()
            .post(format!("{}/api/v1/enroll", server.url))
            .json(&json!({"secret": secret, "hostname": format!("ws-{i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys.push(v["device_key"].as_str().unwrap().to_string());
    }
    let post = |key: &str, events: Vec<Value>| {
        let req = client()
            .post(format!("{}/api/v1/events", server.url))
            .bearer_auth(key)
            .json(&json!({ "events": events }));
        async move { assert!(req.send().await.unwrap().status().is_success()) }
    };
    post(&keys[0], vec![sign_in(), heartbeat("ready")]).await;
    post(&keys[1], vec![sign_in(), heartbeat("not_ready")]).await;
    until(20, "site a:b's not-ready alert", || rx.seen().len() == 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(rx.seen().len(), 1);
    let text = rx.seen()[0].json()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("100 % of signed-in agents are not ready") && text.ends_with("site a:b"),
        "{text}"
    );
    let r = client()
        .get(format!("{}/api/v1/alerts", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let a: Value = r.json().await.unwrap();
    let list = a["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{a}");
    assert_eq!(
        (&list[0]["site"], &list[0]["key"]),
        (&json!("a:b"), &json!("not_ready_share:a:b:signed_in"))
    );
}

/// Found in review: an outbox row whose payload HQ cannot read (written by another version, or
/// damaged) was given up, but its delivery stayed as it was for ever on `/alerts` and in the
/// API. It is marked failed with the reason. The receiver is down at first (the delivery is
/// `retrying`); the row is then damaged in the database; the receiver comes back and gets
/// nothing. SQLite and PostgreSQL.
async fn unreadable_outbox_payload_marks_its_delivery_failed(db_url: String) {
    let rx = MockPlatform::start(|_, _| Reply {
        status: 503,
        headers: vec![],
        body: "down".into(),
        delay: Duration::ZERO,
    })
    .await;
    let toml = format!(
        "[rules.incident_open]\nminutes = 0.02\nincidents = [\"headset_gone\"]\n\
         [[receivers]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{}/hook\"\nsecret_file = \"SECRET_FILE\"\n",
        rx.url()
    );
    let h = hq_on(Some(db_url.clone()), 1, &toml, None, &[]).await;
    h.post(
        0,
        vec![sign_in(), incident("headset_gone", "started", None)],
    )
    .await;
    until(20, "a first, refused attempt", || !rx.seen().is_empty()).await;
    let db = shiftready_hq::db::Db::connect(&db_url).await.unwrap();
    let damaged = sqlx::query(
        "UPDATE outbox SET payload = '{\"not\": \"a message' WHERE kind = 'alert_message'",
    )
    .execute(&db.pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(damaged, 1);
    rx.answer(answer);
    let tried = rx.seen().len();
    let t0 = std::time::Instant::now();
    let d = loop {
        let a = h.alerts().await;
        let d = a["alerts"][0]["deliveries"][0].clone();
        if d["state"] == "failed" {
            break d;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "still {}: {a}",
            d["state"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let why = d["last_error"].as_str().unwrap();
    assert!(why.contains("HQ could not read this message"), "{why}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.seen().len(), tried, "nothing sent from a damaged row");
    assert!(h.log().contains("could not read this message"));
}

both_urls!(unreadable_outbox_payload_marks_its_delivery_failed);

/// `alert unset` (found in review: there was none): the site's rules and receivers go, its
/// open alert is closed (without a message), nothing more is sent for it, the history stays;
/// a site with no rules is an error that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_unset_stops_a_sites_alerts() {
    let rx = MockPlatform::start(answer).await;
    let toml = format!(
        "[rules.incident_open]\nminutes = 0.02\n\
         [[receivers]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{}/hook\"\nsecret_file = \"SECRET_FILE\"\n",
        rx.url()
    );
    let h = hq(1, &toml, None, &[]).await;
    h.post(
        0,
        vec![sign_in(), incident("headset_gone", "started", None)],
    )
    .await;
    until(20, "the firing message", || rx.seen().len() == 1).await;
    let (code, out, err) = hq_cmd(&h.db_url, &["alert", "unset", "--site", "main"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Alert rules for site 'main' removed")
            && out.contains("1 open alert(s) closed without a resolved message"),
        "{out}"
    );
    let (code, out, _) = hq_cmd(&h.db_url, &["alert", "list"], None);
    assert_eq!(code, 0);
    assert!(out.contains("No site has alert rules."), "{out}");
    // Nothing more is evaluated or sent for the site.
    h.post(0, vec![incident("network_degraded", "started", None)])
        .await;
    h.post(0, vec![incident("headset_gone", "ended", None)])
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rx.seen().len(), 1);
    let a = h.alerts().await;
    let list = a["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "the history stays: {a}");
    assert!(list[0]["resolved_at"].is_string(), "{a}");
    assert_eq!(list[0]["deliveries"].as_array().unwrap().len(), 1, "{a}");
    let (code, _, err) = hq_cmd(&h.db_url, &["alert", "unset", "--site", "main"], None);
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("site 'main' has no alert rules; nothing changed"),
        "{err}"
    );
}

/// Found in review: alerts and their deliveries were never pruned. Resolved alerts older than
/// `--keep-alerts-days` (366) go with their deliveries; newer ones and open ones (however
/// old) stay. In process, on both databases; the flag is checked by the real binary.
async fn alerts_are_pruned_after_their_retention(t: common::TestDb) {
    use shiftready_hq::db::{Retention, now_ms};
    let day = 86_400_000i64;
    let now = now_ms();
    for (id, opened, resolved) in [
        ("old", now - 400 * day, Some(now - 399 * day)),
        ("recent", now - 11 * day, Some(now - 10 * day)),
        ("open", now - 500 * day, None),
    ] {
        sqlx::query(
            "INSERT INTO alerts (id, alert_key, rule, site, subject, summary, detail, opened_at, \
             resolved_at) VALUES ($1, $2, 'lost_contact', 'main', $1, 's', '{}', $3, $4)",
        )
        .bind(id)
        .bind(format!("lost_contact:main:{id}"))
        .bind(opened)
        .bind(resolved)
        .execute(&t.db.pool)
        .await
        .unwrap();
        for (n, message) in ["firing", "resolved"].iter().enumerate() {
            sqlx::query(
                "INSERT INTO alert_deliveries (id, alert_id, site, message, receiver, \
                 receiver_kind, state, created_at, updated_at) \
                 VALUES ($1, $2, 'main', $3, 'hook', 'webhook', 'sent', $4, $4)",
            )
            .bind(format!("{id}-{n}"))
            .bind(id)
            .bind(*message)
            .bind(opened)
            .execute(&t.db.pool)
            .await
            .unwrap();
        }
    }
    let keep = Retention::default().alerts_ms;
    assert_eq!(keep, 366 * day);
    let n = shiftready_hq::alerts::store::prune_alerts(&t.db, now, keep)
        .await
        .unwrap();
    assert_eq!((n.alerts, n.deliveries), (1, 2), "{n:?}");
    let left = shiftready_hq::alerts::store::history(&t.db, 0, now + 1, None, 100)
        .await
        .unwrap();
    let ids: Vec<(&str, usize)> = left
        .iter()
        .map(|a| (a.id.as_str(), a.deliveries.len()))
        .collect();
    assert_eq!(ids, [("recent", 2), ("open", 2)]);
    // Again: nothing more.
    let n = shiftready_hq::alerts::store::prune_alerts(&t.db, now, keep)
        .await
        .unwrap();
    assert_eq!((n.alerts, n.deliveries), (0, 0));
    if t.name == "sqlite" {
        let out = std::process::Command::new(HQ)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--keep-alerts-days",
                "0",
            ])
            .arg("--database-url")
            .arg(&t.url)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--keep-alerts-days must be between 1 and 36600 days"),
            "{err}"
        );
    }
}

both!(alerts_are_pruned_after_their_retention);
