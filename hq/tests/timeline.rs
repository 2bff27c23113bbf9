//! An agent's timeline and `idle` (issue 15), against the real `shiftready-hq` binary on
//! SQLite and PostgreSQL: per-minute samples stored once and rolled up per hour, the timeline
//! API as JSON and CSV with the incidents and sign-ins in range, retention, the `idle` state
//! apart from `offline` everywhere the fleet is shown, and the agent page's timeline in
//! headless Chromium.

mod common;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::{Server, client, enroll, get_json, hq_cmd, last_line, post_events};
use serde_json::{Value, json};

fn ev(kind: &str, at: DateTime<Utc>, extra: Value) -> Value {
    let mut v = json!({"id": uuid::Uuid::new_v4(), "at": at, "sent_at": Utc::now(), "kind": kind});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn sample(at: DateTime<Utc>, s: Value) -> Value {
    ev("sample", at, json!({ "sample": s }))
}

/// A site `main` with a secret, a viewer token and the policy given; returns (secret, token).
fn setup(db_url: &str, policy: Option<&str>) -> (String, String) {
    let (code, out, err) = hq_cmd(db_url, &["enroll-secret", "create", "--site", "main"], None);
    assert_eq!(code, 0, "{err}");
    let secret = last_line(&out);
    let (code, out, err) = hq_cmd(db_url, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0, "{err}");
    let token = last_line(&out);
    if let Some(p) = policy {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("policy.toml");
        std::fs::write(&f, p).unwrap();
        let (code, _, err) = hq_cmd(
            db_url,
            &["policy", "set", "--site", "main", f.to_str().unwrap()],
            None,
        );
        assert_eq!(code, 0, "{err}");
    }
    (secret, token)
}

async fn post_ok(url: &str, key: &str, events: Value) -> Value {
    let r = post_events(url, key, events).await;
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Samples are stored once per minute (a repeated id or a second event for a minute changes
/// nothing), rolled up per hour as documented, and served per minute up to two days and per
/// hour beyond, with the incidents and sign-ins in range, as JSON and CSV.
async fn samples_stored_once_rolled_up_and_served(db_url: String) {
    let (secret, token) = setup(&db_url, None);
    let server = Server::start(&db_url, &[]);
    let url = &server.url;
    let (id, key) = enroll(url, &secret, "ws-timeline").await;
    // Three minutes of one hour, two hours ago.
    let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(2);
    let m = |i: i64| hour + Duration::minutes(i);
    let first = sample(
        m(1),
        json!({"seconds": 60, "rtt_p50_ms": 20.0, "rtt_p95_ms": 31.5, "loss_up_pct": 0.0,
               "loss_down_pct": 1.0, "mos_min": 4.3, "link": "wifi", "wifi_signal_dbm": -61,
               "headset": true, "noise_dba": 41.5, "noise_class": "quiet"}),
    );
    let outage = sample(
        m(2),
        json!({"seconds": 60, "loss_up_pct": 100.0, "loss_down_pct": 100.0,
               "link_down_seconds": 12, "link": "wifi", "headset": false}),
    );
    let third = sample(
        m(3),
        json!({"seconds": 58, "rtt_p50_ms": 30.0, "rtt_p95_ms": 80.25, "loss_up_pct": 3.0,
               "loss_down_pct": 0.0, "mos_min": 3.9, "link": "wifi", "wifi_signal_dbm": -70}),
    );
    // The same minute again under another id, with other figures: changes nothing.
    let again = sample(
        m(1) + Duration::seconds(20),
        json!({"seconds": 60, "rtt_p50_ms": 900.0, "rtt_p95_ms": 990.0, "mos_min": 1.0}),
    );
    let sign_in = ev(
        "sign_in",
        m(0),
        json!({"reason": "auto", "readiness": "ready"}),
    );
    let inc = |state: &str, at| {
        ev(
            "incident",
            at,
            json!({"name": "network_degraded", "state": state, "detail": "loss 100 %", "scope": "home"}),
        )
    };
    let batch = json!([
        sign_in,
        first.clone(),
        outage,
        inc("started", m(2)),
        third,
        inc("ended", m(3)),
        again
    ]);
    let v = post_ok(url, &key, batch).await;
    assert_eq!(v["accepted"].as_array().unwrap().len(), 7, "{v}");
    // The first sample again (same id): a duplicate, nothing changes.
    let v = post_ok(url, &key, json!([first])).await;
    assert_eq!(v["duplicates"], 1, "{v}");
    // A sample out of range is refused with the field at fault; the batch goes on.
    let v = post_ok(
        url,
        &key,
        json!([sample(m(5), json!({"seconds": 60, "loss_up_pct": 140.0}))]),
    )
    .await;
    let err = v["results"][0]["error"].as_str().unwrap_or_default();
    assert!(err.contains("`sample.loss_up_pct`"), "{v}");

    // Per minute: the range is within two days.
    let q = format!(
        "{url}/api/v1/agents/{id}/timeline?from={}&to={}",
        rfc(hour),
        rfc(hour + Duration::hours(1))
    );
    let t = get_json(&q, &token).await;
    assert_eq!(t["resolution"], "minute", "{t}");
    let s = t["samples"].as_array().unwrap();
    assert_eq!(s.len(), 3, "{t}");
    assert_eq!(s[0]["at"], rfc(m(1)));
    assert_eq!(
        s[0]["rtt_p95_ms"], 31.5,
        "the first event for the minute stands: {t}"
    );
    assert_eq!(s[0]["mos_min"], 4.3);
    assert_eq!(s[0]["link"], "wifi");
    assert_eq!(s[0]["headset"], true);
    assert_eq!(s[1]["loss_up_pct"], 100.0);
    assert_eq!(
        s[1]["rtt_p95_ms"],
        Value::Null,
        "not measured stays null: {t}"
    );
    assert_eq!(s[1]["link_down_seconds"], 12);
    assert_eq!(s[2]["seconds"], 58);
    let inc = &t["incidents"][0];
    assert_eq!(
        (
            &inc["name"],
            &inc["started_at"],
            &inc["ended_at"],
            &inc["scope"]
        ),
        (
            &json!("network_degraded"),
            &json!(rfc(m(2))),
            &json!(rfc(m(3))),
            &json!("home")
        ),
        "{t}"
    );
    assert_eq!(t["shifts"][0]["kind"], "sign_in", "{t}");
    assert_eq!(t["shifts"][0]["at"], rfc(m(0)));

    // Per hour beyond two days: one hour, rolled up from its three minutes.
    let q = format!(
        "{url}/api/v1/agents/{id}/timeline?from={}&to={}",
        rfc(hour - Duration::days(3)),
        rfc(hour + Duration::hours(1))
    );
    let t = get_json(&q, &token).await;
    assert_eq!(t["resolution"], "hour", "{t}");
    let h = &t["samples"].as_array().unwrap()[0];
    assert_eq!(t["samples"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(h["at"], rfc(hour));
    assert_eq!(h["minutes"], 3, "{h}");
    assert_eq!(h["seconds"], 178);
    assert_eq!(
        h["rtt_p50_ms"], 25.0,
        "the mean of the medians (20, 30): {h}"
    );
    assert_eq!(h["rtt_p95_ms"], 80.25, "the worst minute's p95: {h}");
    assert_eq!(h["loss_up_pct"], 100.0, "the worst minute's loss: {h}");
    assert_eq!(h["loss_up_mean_pct"], 34.333, "(0 + 100 + 3) / 3: {h}");
    assert_eq!(h["mos_min"], 3.9, "the lowest MOS: {h}");
    assert_eq!(h["link_down_seconds"], 12);
    assert_eq!(h["wifi_signal_dbm"], -70, "the weakest signal: {h}");
    assert_eq!(h["headset_missing_minutes"], 1);
    assert_eq!(h["noise_dba"], 41.5);

    // The default range is the last 24 hours.
    let t = get_json(&format!("{url}/api/v1/agents/{id}/timeline"), &token).await;
    assert_eq!(
        (
            t["resolution"].as_str(),
            t["samples"].as_array().unwrap().len()
        ),
        (Some("minute"), 3),
        "{t}"
    );

    // The CSV: the same rows, safe columns.
    let r = client()
        .get(format!(
            "{url}/api/v1/agents/{id}/timeline.csv?from={}",
            rfc(hour)
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("resolution,at,minutes,seconds,rtt_p50_ms,rtt_p95_ms,"));
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].starts_with(&format!("minute,{},1,60,20,31.5,", rfc(m(1)))),
        "{csv}"
    );
    assert!(lines[2].contains(",100,100,"), "{csv}");

    // IT only; a bad range or an unknown agent is a 4xx that says why.
    let r = client()
        .get(format!("{url}/api/v1/agents/{id}/timeline"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for (q, status, words) in [
        (format!("{id}/timeline?from=yesterday"), 400, "`from`"),
        (
            format!("{id}/timeline?from=2026-12-02&to=2026-12-01"),
            400,
            "after",
        ),
        ("nobody/timeline".to_string(), 404, "nobody"),
    ] {
        let r = client()
            .get(format!("{url}/api/v1/agents/{q}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{q}");
        let e: Value = r.json().await.unwrap();
        assert!(e["error"].as_str().unwrap().contains(words), "{q}: {e}");
    }
}

const FAST_POLICY: &str =
    "[shift]\nheartbeat_seconds = 5\nlost_contact_after_missed = 1\npresence_seconds = 5\n";

/// `idle` (issue 15): an off-shift device that just sent a presence heartbeat is `idle` with
/// its readiness, not `offline` (before: its bare readiness, `ready`, as if it were working);
/// one silent past three presence intervals is `offline`; a signed-in one keeps its readiness
/// as its state. The API, the state filter, the summary, the CSV and the fleet page agree.
async fn idle_apart_from_offline(db_url: String) {
    let (secret, token) = setup(&db_url, Some(FAST_POLICY));
    let server = Server::start(&db_url, &["--sweep-seconds", "0.2"]);
    let url = &server.url;
    let (idle_id, idle_key) = enroll(url, &secret, "ws-idle").await;
    let (busy_id, busy_key) = enroll(url, &secret, "ws-busy").await;
    let (_, silent_key) = enroll(url, &secret, "ws-silent").await;
    let presence = |readiness: &str, signed_in: bool| {
        ev(
            "heartbeat",
            Utc::now(),
            json!({"readiness": readiness, "signed_in": signed_in}),
        )
    };
    post_ok(url, &silent_key, json!([presence("ready", false)])).await;
    // Three presence intervals (15 s) of silence from ws-silent; the others keep talking.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(16);
    post_ok(
        url,
        &busy_key,
        json!([ev(
            "sign_in",
            Utc::now(),
            json!({"reason": "auto", "readiness": "ready"})
        )]),
    )
    .await;
    while std::time::Instant::now() < until {
        post_ok(url, &idle_key, json!([presence("not_ready", false)])).await;
        post_ok(url, &busy_key, json!([presence("degraded", true)])).await;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    post_ok(url, &idle_key, json!([presence("not_ready", false)])).await;
    post_ok(url, &busy_key, json!([presence("degraded", true)])).await;

    let v = get_json(&format!("{url}/api/v1/agents?sort=name"), &token).await;
    let rows: Vec<(String, String, Value)> = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
                a["readiness"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ws-busy".into(), "degraded".into(), json!("degraded")),
            ("ws-idle".into(), "idle".into(), json!("not_ready")),
            ("ws-silent".into(), "offline".into(), json!("ready")),
        ],
        "{v}"
    );
    assert_eq!(
        (
            &v["summary"]["idle"],
            &v["summary"]["offline"],
            &v["summary"]["degraded"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{v}"
    );
    let v = get_json(&format!("{url}/api/v1/agents?state=idle"), &token).await;
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["agents"][0]["id"], idle_id.as_str());
    let one = get_json(&format!("{url}/api/v1/agents/{busy_id}"), &token).await;
    assert_eq!(one["state"], "degraded");
    let csv = client()
        .get(format!("{url}/api/v1/agents.csv?state=idle"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(",idle,not_ready,false,"), "{csv}");
    let m = client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("shiftready_agents{state=\"idle\"} 1"), "{m}");
}

both_urls!(
    samples_stored_once_rolled_up_and_served,
    idle_apart_from_offline
);
