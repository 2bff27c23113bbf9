//! Issue 12, "a shift log that payroll can trust", on SQLite and on PostgreSQL: per-event
//! answers (one bad event never blocks the others), events of a newer agent kept, HQ's
//! `received_at` beside the agent's `at`, shift events a device may not claim or reorder, and
//! (with the real `shiftready-hq serve`) `contact_restored` after a `lost_contact` sign-out.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use common::{Server, TestDb, hq_cmd, last_line};
use http_body_util::BodyExt;
use proto::event::{Event, EventBody, IncidentState, ShiftReason};
use proto::{CheckResult, Readiness, Report, Status};
use serde_json::{Value, json};
use shiftready_hq::db::Role;
use shiftready_hq::server::{AppState, app};
use std::collections::BTreeMap;
use tower::ServiceExt;

struct Fixture {
    app: Router,
    viewer: String,
    secret: String,
}

async fn fixture(t: &TestDb) -> Fixture {
    Fixture {
        app: app(AppState::new(t.db.clone())),
        viewer: t.db.create_token(Role::Viewer).await.unwrap(),
        secret: t.db.create_enroll_secret("main").await.unwrap(),
    }
}

/// Sends a request; returns the status and the body as text.
async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    auth: &str,
    body: Option<&Value>,
) -> (StatusCode, String) {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {auth}"));
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(serde_json::to_vec(v).unwrap())
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(b.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get_json(f: &Fixture, uri: &str) -> Value {
    let (status, body) = call(&f.app, "GET", uri, &f.viewer, None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn enroll(f: &Fixture, hostname: &str) -> (String, String) {
    let v = json!({"secret": f.secret, "hostname": hostname});
    let (status, body) = call(&f.app, "POST", "/api/v1/enroll", "", Some(&v)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    (
        v["device_id"].as_str().unwrap().into(),
        v["device_key"].as_str().unwrap().into(),
    )
}

/// Posts a batch of raw JSON events; the batch must be answered 200, per event.
async fn send(f: &Fixture, key: &str, events: &[Value]) -> Value {
    let (status, body) = call(
        &f.app,
        "POST",
        "/api/v1/events",
        key,
        Some(&json!({ "events": events })),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the batch is answered per event: {body}"
    );
    serde_json::from_str(&body).unwrap()
}

fn js(e: &Event) -> Value {
    serde_json::to_value(e).unwrap()
}

fn shift(sign_in: bool, reason: ShiftReason, at: chrono::DateTime<Utc>) -> Event {
    let readiness = Readiness::Ready;
    let mut e = Event::now(if sign_in {
        EventBody::SignIn { reason, readiness }
    } else {
        EventBody::SignOut { reason, readiness }
    });
    e.at = at;
    e
}

fn heartbeat(readiness: Readiness, signed_in: bool, at: chrono::DateTime<Utc>) -> Event {
    let mut e = Event::now(EventBody::Heartbeat {
        readiness,
        signed_in,
    });
    e.at = at;
    e
}

fn report(checks: Vec<(&str, CheckResult)>) -> Event {
    let checks: BTreeMap<String, CheckResult> = checks
        .into_iter()
        .map(|(n, c)| (n.to_string(), c))
        .collect();
    Event::now(EventBody::Report {
        report: Report::new(checks),
    })
}

/// (kind, reason) of each shift-log entry, in order.
fn kinds_and_reasons(log: &[Value]) -> Vec<(&str, &str)> {
    log.iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect()
}

fn outcomes(ack: &Value) -> Vec<String> {
    ack["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {ack}"))
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The shift log of one agent over the last day and the next (JSON).
async fn shift_log(f: &Fixture, id: &str) -> Vec<Value> {
    let (from, to) = (
        (Utc::now() - Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (Utc::now() + Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let v = get_json(f, &format!("/api/v1/shifts?from={from}&to={to}&agent={id}")).await;
    v["shifts"].as_array().unwrap().clone()
}

async fn one_bad_event_is_rejected_alone(t: TestDb) {
    let f = fixture(&t).await;
    let (_a, key_a) = enroll(&f, "ws-a").await;
    let (b, key_b) = enroll(&f, "ws-b").await;
    let held_by_a = heartbeat(Readiness::Ready, false, Utc::now());
    assert_eq!(
        outcomes(&send(&f, &key_a, &[js(&held_by_a)]).await),
        ["stored"]
    );

    let now = Utc::now();
    let sign_in = shift(true, ShiftReason::Auto, now - Duration::seconds(30));
    let unknown_kind =
        json!({"id": uuid::Uuid::new_v4(), "at": now, "kind": "vpn_status", "up": true});
    let claimed_lost = shift(false, ShiftReason::LostContact, now - Duration::seconds(20));
    let long_hint = report(vec![(
        "noise",
        CheckResult::new(Status::Warn, "Close the door. ".repeat(400)),
    )]);
    let mut big = CheckResult::new(Status::Pass, "");
    for i in 0..60 {
        big.set(&format!("m{i}"), "x".repeat(1500));
    }
    let too_big = report(vec![("os", big)]);
    let incident = Event::now(EventBody::Incident {
        name: "vpn_down".into(),
        state: IncidentState::Started,
        detail: String::new(),
        scope: None,
    });
    let sign_out = shift(false, ShiftReason::Manual, now - Duration::seconds(10));
    let batch = [
        js(&sign_in),
        unknown_kind.clone(),
        js(&held_by_a),
        js(&claimed_lost),
        js(&long_hint),
        js(&too_big),
        js(&incident),
        js(&sign_out),
    ];
    let ack = send(&f, &key_b, &batch).await;
    let want = [
        "stored", "rejected", "rejected", "rejected", "stored", "rejected", "stored", "stored",
    ];
    assert_eq!(outcomes(&ack), want, "{ack}");
    let r = &ack["results"];
    assert_eq!(r[1]["id"], unknown_kind["id"]);
    assert!(r[1]["error"].as_str().unwrap().contains("`kind`"), "{ack}");
    assert!(
        r[2]["error"].as_str().unwrap().contains("another device"),
        "{ack}"
    );
    assert!(
        r[3]["error"].as_str().unwrap().contains("`reason`"),
        "{ack}"
    );
    assert!(r[5]["error"].as_str().unwrap().contains("bytes"), "{ack}");
    assert!(r[0].get("error").is_none(), "{ack}");
    let held: Vec<&str> = ack["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let want_held = [&sign_in.id, &long_hint.id, &incident.id, &sign_out.id].map(|i| i.to_string());
    assert_eq!(
        held, want_held,
        "accepted: the ids HQ holds, as an older agent reads them"
    );
    assert_eq!(ack["duplicates"], 0);

    // The stored ones are in the shift log; the claimed lost_contact is not.
    let log = shift_log(&f, &b).await;
    let reasons = kinds_and_reasons(&log);
    assert_eq!(
        reasons,
        [("sign_in", "auto"), ("sign_out", "manual")],
        "{log:?}"
    );
    // The long hint was cut, not the report refused.
    let a = get_json(&f, &format!("/api/v1/agents/{b}")).await;
    let hint = a["last_report"]["checks"]["noise"]["hint"]
        .as_str()
        .unwrap();
    assert_eq!(hint.chars().count(), 1000, "{a}");
    let incidents = t.db.incidents(&b, 10).await.unwrap();
    assert_eq!(incidents.len(), 1);

    // The same batch again: what HQ holds is a duplicate, the rest rejected again.
    let ack = send(&f, &key_b, &batch).await;
    let want = [
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "duplicate",
        "rejected",
        "duplicate",
        "duplicate",
    ];
    assert_eq!(outcomes(&ack), want, "{ack}");
    assert_eq!(ack["duplicates"], 4);
    assert_eq!(shift_log(&f, &b).await.len(), 2);

    // Whole-batch errors remain only for the batch itself.
    let (status, _) = call(
        &f.app,
        "POST",
        "/api/v1/events",
        &key_b,
        Some(&json!({"events": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(
        &f.app,
        "POST",
        "/api/v1/events",
        "sr_dev_nobody",
        Some(&json!({"events": [js(&sign_in)]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn newer_agent_checks_and_metrics_are_kept(t: TestDb) {
    let f = fixture(&t).await;
    let (id, key) = enroll(&f, "ws-new").await;
    let rep = report(vec![
        ("os", CheckResult::new(Status::Pass, "")),
        (
            "network",
            CheckResult::new(Status::Pass, "")
                .with("rtt_ms_median", 21.0)
                .with("bufferbloat_grade", "A"),
        ),
        (
            "vpn",
            CheckResult::new(Status::Warn, "Connect to the company VPN.").with("tunnel_mtu", 1380),
        ),
    ]);
    let ack = send(&f, &key, &[js(&rep)]).await;
    assert_eq!(outcomes(&ack), ["stored"], "{ack}");
    let a = get_json(&f, &format!("/api/v1/agents/{id}")).await;
    let checks = &a["last_report"]["checks"];
    assert_eq!(checks["vpn"]["status"], "warn", "{a}");
    assert_eq!(checks["vpn"]["metrics"]["tunnel_mtu"], 1380, "{a}");
    assert_eq!(
        checks["network"]["metrics"]["bufferbloat_grade"], "A",
        "{a}"
    );
    assert_eq!(a["readiness"], "degraded", "{a}");
    // Not judged: what IT is told to fix looks only at the checks this HQ knows.
    assert!(a["problem"].is_null(), "{a}");
}

async fn received_at_beside_at(t: TestDb) {
    let f = fixture(&t).await;
    let (id, key) = enroll(&f, "ws-late").await;
    // A sign-in recorded two hours ago, delivered now (the agent was offline); its clock runs
    // 90 s ahead of HQ's.
    let mut late = shift(true, ShiftReason::Auto, Utc::now() - Duration::hours(2));
    late.sent_at = Some(Utc::now() + Duration::seconds(90));
    let mut rep = report(vec![("os", CheckResult::new(Status::Pass, ""))]);
    rep.at = Utc::now() - Duration::hours(2);
    rep.sent_at = late.sent_at;
    let before = Utc::now() - Duration::seconds(2);
    let ack = send(&f, &key, &[js(&late), js(&rep)]).await;
    assert_eq!(outcomes(&ack), ["stored", "stored"], "{ack}");

    let log = shift_log(&f, &id).await;
    assert_eq!(log.len(), 1, "{log:?}");
    let at = chrono::DateTime::parse_from_rfc3339(log[0]["at"].as_str().unwrap()).unwrap();
    let received =
        chrono::DateTime::parse_from_rfc3339(log[0]["received_at"].as_str().unwrap()).unwrap();
    assert!(
        received >= before && received <= Utc::now() + Duration::seconds(2),
        "{log:?}"
    );
    assert!(received - at > Duration::minutes(119), "{log:?}");
    assert_eq!(
        log[0]["flags"],
        json!([]),
        "late but in order, clock within 5 min: {log:?}"
    );

    let (status, csv) = call(&f.app, "GET", "/api/v1/shifts.csv", &f.viewer, None).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name} in {csv}"))
    };
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        row[col("received_at")],
        log[0]["received_at"].as_str().unwrap(),
        "{csv}"
    );
    assert_eq!(row[col("at")], log[0]["at"].as_str().unwrap(), "{csv}");
    assert_eq!(row[col("flags")], "", "{csv}");

    // The agent API: the last report's time by both clocks; the fleet: the clock skew.
    let a = get_json(&f, &format!("/api/v1/agents/{id}")).await;
    let report_at = a["report_at"].as_i64().unwrap();
    let report_received = a["report_received_at"].as_i64().unwrap();
    assert!(report_received - report_at > 119 * 60_000, "{a}");
    let fleet = get_json(&f, "/api/v1/agents").await;
    let skew = fleet["agents"][0]["clock_skew_ms"].as_i64().unwrap();
    assert!((80_000..=100_000).contains(&skew), "{fleet}");
}

async fn signed_in(f: &Fixture, id: &str) -> bool {
    get_json(f, &format!("/api/v1/agents/{id}")).await["signed_in"]
        .as_bool()
        .unwrap()
}

/// An agent enrolled as `hostname` that signed in a minute before `now`: (id, key).
async fn signed_in_agent(
    f: &Fixture,
    hostname: &str,
    now: chrono::DateTime<Utc>,
) -> (String, String) {
    let (id, key) = enroll(f, hostname).await;
    let sign_in = shift(true, ShiftReason::Auto, now - Duration::minutes(1));
    send(f, &key, &[js(&sign_in)]).await;
    assert!(signed_in(f, &id).await);
    (id, key)
}

async fn backdated_shift_event_is_flagged_and_changes_nothing(t: TestDb) {
    let f = fixture(&t).await;
    let now = Utc::now();
    let (id, key) = signed_in_agent(&f, "ws-clock", now).await;

    // A sign-out dated before the sign-in HQ already has: stored, flagged, changes nothing.
    let backdated = shift(false, ShiftReason::Manual, now - Duration::hours(1));
    assert_eq!(
        outcomes(&send(&f, &key, &[js(&backdated)]).await),
        ["stored"]
    );
    assert!(
        signed_in(&f, &id).await,
        "a backdated sign-out must not sign the agent out"
    );
    let log = shift_log(&f, &id).await;
    let entry = log.iter().find(|s| s["kind"] == "sign_out").unwrap();
    assert_eq!(entry["flags"], json!(["out_of_order"]), "{log:?}");
    let (_, csv) = call(&f.app, "GET", "/api/v1/shifts.csv", &f.viewer, None).await;
    assert!(
        csv.lines()
            .any(|l| l.contains(",sign_out,manual,") && l.ends_with(",out_of_order")),
        "{csv}"
    );
}

/// A sign-in dated hours ahead (a clock set forward) is flagged and must not freeze the
/// state: the agent's real sign-out after it still counts, as does its readiness.
async fn future_dated_events_never_freeze_state(t: TestDb) {
    let f = fixture(&t).await;
    let now = Utc::now();
    let (id, key) = signed_in_agent(&f, "ws-future", now).await;

    let future = shift(true, ShiftReason::Manual, now + Duration::hours(3));
    let future_hb = heartbeat(Readiness::NotReady, true, now + Duration::hours(3));
    send(&f, &key, &[js(&future), js(&future_hb)]).await;
    let real_out = shift(false, ShiftReason::Auto, Utc::now());
    let real_hb = heartbeat(Readiness::Ready, false, Utc::now());
    send(&f, &key, &[js(&real_out), js(&real_hb)]).await;
    assert!(
        !signed_in(&f, &id).await,
        "a future-dated sign-in froze the sign-in state"
    );
    let a = get_json(&f, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(
        a["readiness"], "ready",
        "a future-dated heartbeat froze readiness: {a}"
    );
    let log = shift_log(&f, &id).await;
    let flags = |e: &Event| {
        let at = e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        log.iter()
            .find(|s| s["at"] == at.as_str() && s["kind"] == e.kind())
            .unwrap_or_else(|| panic!("{at} in {log:?}"))["flags"]
            .clone()
    };
    assert_eq!(flags(&future), json!(["clock_off"]));
    assert_eq!(flags(&real_out), json!([]));

    // A device whose clock reads ten minutes ahead when it sends (sent_at): flagged, and
    // still applied in the order HQ received it.
    let mut skewed = shift(true, ShiftReason::Manual, Utc::now());
    skewed.sent_at = Some(Utc::now() + Duration::minutes(10));
    send(&f, &key, &[js(&skewed)]).await;
    let log = shift_log(&f, &id).await;
    let at = skewed.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let entry = log
        .iter()
        .find(|s| s["at"] == at.as_str() && s["kind"] == "sign_in")
        .unwrap();
    assert_eq!(entry["flags"], json!(["clock_off"]), "{log:?}");
    assert!(signed_in(&f, &id).await);
}

both!(
    one_bad_event_is_rejected_alone,
    newer_agent_checks_and_metrics_are_kept,
    received_at_beside_at,
    backdated_shift_event_is_flagged_and_changes_nothing,
    future_dated_events_never_freeze_state,
);

// ---- with the real binary ----

const FAST_POLICY: &str = "[shift]\nheartbeat_seconds = 5\nlost_contact_after_missed = 1\n";

/// Posts events to the real server; it must answer 2xx, per event.
async fn post(url: &str, key: &str, events: Value) -> Value {
    let r = common::post_events(url, key, events).await;
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

async fn real_log(url: &str, token: &str) -> Vec<Value> {
    let to = (Utc::now() + Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let v = common::get_json(&format!("{url}/api/v1/shifts?to={to}"), token).await;
    v["shifts"].as_array().unwrap().clone()
}

/// After HQ signs an agent out for lost contact, its next heartbeat saying "signed in" signs it
/// in again with reason `contact_restored`, once.
async fn contact_restored(db_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let secret = last_line(
        &hq_cmd(
            &db_url,
            &["enroll-secret", "create", "--site", "main"],
            None,
        )
        .1,
    );
    let token = last_line(&hq_cmd(&db_url, &["token", "create", "--role", "viewer"], None).1);
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, FAST_POLICY).unwrap();
    let (code, _, err) = hq_cmd(
        &db_url,
        &["policy", "set", "--site", "main", policy.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let server = Server::start(&db_url, &["--sweep-seconds", "0.2"]);
    let url = server.url.clone();
    let (id, key) = common::enroll(&url, &secret, "ws-restore").await;
    let ack = post(
        &url,
        &key,
        json!([js(&shift(true, ShiftReason::Auto, Utc::now()))]),
    )
    .await;
    assert_eq!(outcomes(&ack), ["stored"]);

    // Heartbeats stop: HQ signs the agent out for lost contact.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !real_log(&url, &token)
        .await
        .iter()
        .any(|s| s["reason"] == "lost_contact")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no lost-contact sign-out"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // They resume, signed in: HQ logs the sign-in itself, with HQ's reason.
    for _ in 0..2 {
        let hb = heartbeat(Readiness::Degraded, true, Utc::now());
        assert_eq!(
            outcomes(&post(&url, &key, json!([js(&hb)])).await),
            ["stored"]
        );
    }
    let log = real_log(&url, &token).await;
    let reasons = kinds_and_reasons(&log);
    assert_eq!(
        reasons,
        [
            ("sign_in", "auto"),
            ("sign_out", "lost_contact"),
            ("sign_in", "contact_restored")
        ],
        "{log:?}"
    );
    assert_eq!(log[2]["readiness"], "degraded");
    assert!(log[2]["received_at"].is_string(), "{log:?}");
    let a = common::get_json(&format!("{url}/api/v1/agents/{id}"), &token).await;
    assert_eq!(a["signed_in"], true, "{a}");
}

both_urls!(contact_restored);
