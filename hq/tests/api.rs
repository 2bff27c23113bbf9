//! Handler tests through `oneshot`, each on SQLite and on PostgreSQL (a fresh database each).

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::Utc;
use common::TestDb;
use http_body_util::BodyExt;
use proto::event::{Event, EventBody, IncidentState, ShiftReason};
use proto::{CheckResult, Readiness, Report, Status};
use serde_json::{Value, json};
use shiftready_hq::db::{self, Role};
use shiftready_hq::server::{AppState, app};
use std::collections::BTreeMap;
use tower::ServiceExt;

/// A hostile request: what it is, its key, headers, body and the status it must get.
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    u16,
);

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        b = b.header("authorization", format!("Bearer {a}"));
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(b.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

async fn post_json(app: &Router, uri: &str, auth: Option<&str>, v: &Value) -> Resp {
    call(
        app,
        "POST",
        uri,
        auth,
        &[("content-type", "application/json")],
        serde_json::to_vec(v).unwrap(),
    )
    .await
}

async fn get(app: &Router, uri: &str, auth: Option<&str>) -> Resp {
    call(app, "GET", uri, auth, &[], Body::empty()).await
}

struct Fixture {
    app: Router,
    state: AppState,
    admin: String,
    viewer: String,
    secret: String,
}

async fn fixture(t: &TestDb) -> Fixture {
    let state = AppState::new(t.db.clone());
    Fixture {
        app: app(state.clone()),
        admin: t.db.create_token(Role::Admin).await.unwrap(),
        viewer: t.db.create_token(Role::Viewer).await.unwrap(),
        secret: t.db.create_enroll_secret("main").await.unwrap(),
        state,
    }
}

/// Enrolls a device; returns (id, key).
async fn enroll(f: &Fixture, hostname: &str) -> (String, String) {
    enroll_body(
        f,
        json!({"secret": f.secret, "hostname": hostname, "os": "Debian 12"}),
    )
    .await
}

/// Enrolls presenting a re-enrollment code (issue 12).
async fn enroll_with_code(f: &Fixture, hostname: &str, code: &str) -> (String, String) {
    enroll_body(
        f,
        json!({"secret": f.secret, "hostname": hostname, "reenroll_code": code}),
    )
    .await
}

async fn enroll_body(f: &Fixture, body: serde_json::Value) -> (String, String) {
    let r = post_json(&f.app, "/api/v1/enroll", None, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    (
        v["device_id"].as_str().unwrap().to_string(),
        v["device_key"].as_str().unwrap().to_string(),
    )
}

fn report(noise: Status, hint: &str) -> Report {
    let mut checks = BTreeMap::new();
    checks.insert(
        "network".to_string(),
        CheckResult::new(Status::Pass, "")
            .with("rtt_ms_median", 23.5)
            .with("jitter_up_ms", 2.0)
            .with("jitter_down_ms", 3.5)
            .with("loss_up_pct", 0.0)
            .with("loss_down_pct", 0.4)
            .with("mos", 4.3),
    );
    checks.insert(
        "noise".to_string(),
        CheckResult::new(noise, hint)
            .with("laeq_dbfs", -38.2)
            .with("classification", "voices"),
    );
    Report::new(checks)
}

fn batch(events: &[Event]) -> Value {
    json!({ "events": events })
}

async fn send(f: &Fixture, key: &str, events: &[Event]) -> Resp {
    post_json(&f.app, "/api/v1/events", Some(key), &batch(events)).await
}

async fn count(t: &TestDb, sql: &'static str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_one(&t.db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn enroll_ingest_idempotent(t: TestDb) {
    let f = fixture(&t).await;
    let (id, key) = enroll(&f, "ws-001").await;
    let mut sign_in = Event::now(EventBody::SignIn {
        reason: ShiftReason::Auto,
        readiness: Readiness::NotReady,
    });
    sign_in.sent_at = Some(Utc::now() + chrono::Duration::seconds(90));
    let rep = Event::now(EventBody::Report {
        report: report(Status::Fail, "Move to a quieter room or close the door."),
    });
    let hb = Event::now(EventBody::Heartbeat {
        readiness: Readiness::NotReady,
        signed_in: true,
    });
    let events = [sign_in.clone(), rep.clone(), hb.clone()];
    let r = send(&f, &key, &events).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["duplicates"], 0);
    assert_eq!(r.json()["accepted"].as_array().unwrap().len(), 3);

    // A retried batch changes nothing.
    let r = send(&f, &key, &events).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["duplicates"], 3);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM events").await, 3);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM shift_log").await, 1);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM samples").await, 1);

    let a = get(&f.app, &format!("/api/v1/agents/{id}"), Some(&f.viewer)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = a.json();
    assert_eq!(a["name"], "ws-001");
    assert_eq!(a["readiness"], "not_ready");
    assert_eq!(a["signed_in"], true);
    assert_eq!(
        a["last_report"]["checks"]["noise"]["hint"],
        "Move to a quieter room or close the door."
    );
    assert_eq!(a["shifts"][0]["kind"], "sign_in");
    assert_eq!(a["shifts"][0]["reason"], "auto");
    // The agent's clock is about 90 s ahead: HQ measures and shows it.
    let skew = a["clock_skew_ms"].as_i64().unwrap();
    assert!((85_000..=95_000).contains(&skew), "skew {skew}");

    let fleet = get(&f.app, "/api/v1/agents", Some(&f.viewer)).await.json();
    assert_eq!(fleet["total"], 1);
    assert_eq!(fleet["agents"][0]["id"], id.as_str());
    assert_eq!(fleet["summary"]["not_ready"], 1);
    assert_eq!(fleet["summary"]["signed_in"], 1);

    // An older sign-out arriving late (from a spool) is logged but does not override.
    let mut late = Event::now(EventBody::SignOut {
        reason: ShiftReason::Shutdown,
        readiness: Readiness::Ready,
    });
    late.at = sign_in.at - chrono::Duration::minutes(5);
    assert_eq!(send(&f, &key, &[late]).await.status, StatusCode::OK);
    let a = get(&f.app, &format!("/api/v1/agents/{id}"), Some(&f.viewer))
        .await
        .json();
    assert_eq!(a["signed_in"], true);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM shift_log").await, 2);

    // Metrics carry the fleet gauges and the ingest counters.
    let m = get(&f.app, "/metrics", None).await.text();
    assert!(
        m.contains("shiftready_agents{state=\"not_ready\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("shiftready_events_total{outcome=\"duplicate\"} 3"),
        "{m}"
    );
    assert!(m.contains("shiftready_agents_signed_in 1"), "{m}");
}

async fn hostile_input(t: TestDb) {
    let f = fixture(&t).await;
    let (_a, key_a) = enroll(&f, "ws-a").await;
    let (_b, key_b) = enroll(&f, "ws-b").await;
    let own = Event::now(EventBody::Heartbeat {
        readiness: Readiness::Ready,
        signed_in: false,
    });
    assert_eq!(
        send(&f, &key_a, std::slice::from_ref(&own)).await.status,
        StatusCode::OK
    );
    let stored = count(&t, "SELECT COUNT(*) FROM events").await;
    let hb = json!({"id": uuid::Uuid::new_v4(), "at": Utc::now(), "kind": "heartbeat", "readiness": "ready", "signed_in": true});

    let ct = [("content-type", "application/json")];
    let cases: Vec<Case> = vec![
        ("malformed JSON", Some(&key_a), ct.to_vec(), b"{\"events\": [".to_vec(), 400),
        ("wrong type", Some(&key_a), ct.to_vec(), br#"{"events": "lots"}"#.to_vec(), 422),
        // One bad event is rejected alone (issue 12): 200 with its `results` entry `rejected`.
        ("missing field", Some(&key_a), ct.to_vec(), serde_json::to_vec(&json!({"events": [{"id": uuid::Uuid::new_v4(), "kind": "heartbeat"}]})).unwrap(), 200),
        ("unknown kind", Some(&key_a), ct.to_vec(), serde_json::to_vec(&json!({"events": [{"id": uuid::Uuid::new_v4(), "at": Utc::now(), "kind": "drop_tables"}]})).unwrap(), 200),
        ("bad readiness", Some(&key_a), ct.to_vec(), serde_json::to_vec(&json!({"events": [{"id": uuid::Uuid::new_v4(), "at": Utc::now(), "kind": "heartbeat", "readiness": "ready'; DROP TABLE devices; --", "signed_in": true}]})).unwrap(), 200),
        ("far future", Some(&key_a), ct.to_vec(), serde_json::to_vec(&json!({"events": [{"id": uuid::Uuid::new_v4(), "at": "2999-01-01T00:00:00Z", "kind": "heartbeat", "readiness": "ready", "signed_in": true}]})).unwrap(), 200),
        ("empty batch", Some(&key_a), ct.to_vec(), br#"{"events": []}"#.to_vec(), 422),
        ("not JSON content type", Some(&key_a), vec![("content-type", "text/plain")], serde_json::to_vec(&json!({"events": [hb]})).unwrap(), 415),
        ("oversized body", Some(&key_a), ct.to_vec(), {
            let mut v = br#"{"events": [], "pad": ""#.to_vec();
            v.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
            v.extend(br#""}"#);
            v
        }, 413),
        ("huge array", Some(&key_a), ct.to_vec(), serde_json::to_vec(&json!({"events": (0..1001).map(|_| json!({"id": uuid::Uuid::new_v4(), "at": Utc::now(), "kind": "heartbeat", "readiness": "ready", "signed_in": true})).collect::<Vec<_>>()})).unwrap(), 413),
        ("no key", None, ct.to_vec(), serde_json::to_vec(&json!({"events": [hb]})).unwrap(), 401),
        ("unknown key", Some("sr_dev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ct.to_vec(), serde_json::to_vec(&json!({"events": [hb]})).unwrap(), 401),
        ("SQL in key", Some("' OR '1'='1"), ct.to_vec(), serde_json::to_vec(&json!({"events": [hb]})).unwrap(), 401),
        ("another device's event", Some(&key_b), ct.to_vec(), serde_json::to_vec(&batch(std::slice::from_ref(&own))).unwrap(), 200),
    ];
    for (what, auth, headers, body, want) in cases {
        let r = call(&f.app, "POST", "/api/v1/events", auth, &headers, body).await;
        assert_eq!(r.status.as_u16(), want, "{what}: {}", r.text());
        let mut v = r.json();
        if want == 200 {
            assert_eq!(v["results"][0]["outcome"], "rejected", "{what}: {v}");
            assert_eq!(v["accepted"], json!([]), "{what}: {v}");
            v = v["results"][0].clone();
        }
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {v}"
        );
    }
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM events").await,
        stored,
        "nothing stored"
    );

    // The other device's retry did not take the event over.
    use sqlx::Row;
    let owner: String = sqlx::query("SELECT device_id FROM events WHERE id = $1")
        .bind(own.id.to_string())
        .fetch_one(&t.db.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(owner, _a);

    // Enrollment: bad secret, missing hostname, control characters, SQL metacharacters.
    let r = post_json(
        &f.app,
        "/api/v1/enroll",
        None,
        &json!({"secret": "' OR 1=1 --", "hostname": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "bad_secret");
    let r = post_json(&f.app, "/api/v1/enroll", None, &json!({"secret": f.secret})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = post_json(
        &f.app,
        "/api/v1/enroll",
        None,
        &json!({"secret": f.secret, "hostname": "a\u{0}b"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let evil = "ws'); DELETE FROM devices; --";
    let (evil_id, evil_key) = enroll(&f, evil).await;
    assert_eq!(count(&t, "SELECT COUNT(*) FROM devices").await, 3);
    let inc = Event::now(EventBody::Incident {
        name: "headset_gone".into(),
        state: IncidentState::Started,
        detail: "'; DROP TABLE events; -- <script>alert(1)</script>".into(),
        scope: None,
    });
    assert_eq!(send(&f, &evil_key, &[inc]).await.status, StatusCode::OK);
    let a = get(
        &f.app,
        &format!("/api/v1/agents/{evil_id}"),
        Some(&f.viewer),
    )
    .await
    .json();
    assert_eq!(a["name"], evil);
    let page = get(&f.app, &format!("/agents/{evil_id}"), Some(&f.viewer))
        .await
        .text();
    assert!(
        (page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            || page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"))
            && !page.contains("<script>"),
        "escaped"
    );
    let r = get(
        &f.app,
        "/api/v1/agents?q=%27%20OR%201%3D1%20--&state=ready",
        Some(&f.viewer),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["total"], 0);
    let r = get(&f.app, "/api/v1/agents?q=%25", Some(&f.viewer)).await;
    assert_eq!(r.json()["total"], 0, "a % in the search is literal");
    let r = get(&f.app, "/api/v1/agents?state=everything", Some(&f.viewer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&f.app, "/api/v1/agents?limit=lots", Some(&f.viewer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].is_string());

    // Roles: a viewer cannot revoke; a device key cannot read the fleet; no token, no fleet.
    let r = post_json(
        &f.app,
        &format!("/api/v1/agents/{evil_id}/revoke"),
        Some(&f.viewer),
        &json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = get(&f.app, "/api/v1/agents", Some(&key_a)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = get(&f.app, "/api/v1/agents", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = get(&f.app, "/api/v1/shifts?from=yesterday", Some(&f.viewer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&f.app, "/api/v1/nothing-here", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].is_string());

    // Revoked: the key stops working, with a reason the agent can show.
    let r = post_json(
        &f.app,
        &format!("/api/v1/agents/{evil_id}/revoke"),
        Some(&f.admin),
        &json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = send(
        &f,
        &evil_key,
        &[Event::now(EventBody::Heartbeat {
            readiness: Readiness::Ready,
            signed_in: false,
        })],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "revoked");
    assert_eq!(get(&f.app, "/healthz", None).await.status, StatusCode::OK);
}

async fn reenroll_keeps_identity(t: TestDb) {
    let f = fixture(&t).await;
    let (id, key) = enroll(&f, "ws-r").await;
    let r = post_json(
        &f.app,
        &format!("/api/v1/agents/{id}/reenroll"),
        Some(&f.admin),
        &json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let code = r.json()["reenroll_code"].as_str().unwrap().to_string();
    let r = get(&f.app, "/api/v1/policy", Some(&key)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "reenroll");
    // Without the code the hostname gets a new device (issue 12); with it, the old one.
    let (other, _) = enroll(&f, "ws-r").await;
    assert_ne!(
        other, id,
        "the hostname alone must not take the device over"
    );
    let (id2, key2) = enroll_with_code(&f, "ws-r", &code).await;
    assert_eq!(id2, id, "re-enrolling keeps the device id and its history");
    assert_ne!(key2, key);
    assert_eq!(
        get(&f.app, "/api/v1/policy", Some(&key2)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&f.app, "/api/v1/policy", Some(&key)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn enroll_is_rate_limited(t: TestDb) {
    let mut f = fixture(&t).await;
    let mut st = f.state.clone();
    st.enroll_per_minute = 3;
    f.app = app(st);
    for i in 0..3 {
        enroll(&f, &format!("ws-{i}")).await;
    }
    let r = post_json(
        &f.app,
        "/api/v1/enroll",
        None,
        &json!({"secret": f.secret, "hostname": "ws-x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("wait a minute")
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM devices").await, 3);
}

async fn policy_has_etag_and_shifts(t: TestDb) {
    let f = fixture(&t).await;
    let (_id, key) = enroll(&f, "ws-p").await;
    let r = get(&f.app, "/api/v1/policy", Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK);
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(r.json()["policy"]["shift"]["heartbeat_seconds"], 30);
    let r = call(
        &f.app,
        "GET",
        "/api/v1/policy",
        Some(&key),
        &[("if-none-match", &etag)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);

    let mut p = proto::Policy::default();
    p.shift.heartbeat_seconds = 10;
    t.db.set_policy("main", &p).await.unwrap();
    let start = Utc::now() + chrono::Duration::hours(1);
    let r = post_json(
        &f.app,
        "/api/v1/schedules",
        Some(&f.admin),
        &json!({"shifts": [{"agent": "ws-p", "start": start, "end": start + chrono::Duration::hours(8)}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = post_json(
        &f.app,
        "/api/v1/schedules",
        Some(&f.viewer),
        &json!({"shifts": []}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_json(
        &f.app,
        "/api/v1/schedules",
        Some(&f.admin),
        &json!({"shifts": [{"agent": "nobody", "start": start, "end": start}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = call(
        &f.app,
        "GET",
        "/api/v1/policy",
        Some(&key),
        &[("if-none-match", &etag)],
        Body::empty(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a new policy and a new shift change the ETag"
    );
    assert_ne!(r.headers["etag"].to_str().unwrap(), etag);
    let v = r.json();
    assert_eq!(v["policy"]["shift"]["heartbeat_seconds"], 10);
    assert_eq!(v["shifts"].as_array().unwrap().len(), 1);
}

async fn lost_contact_signs_out_exactly_once(t: TestDb) {
    let f = fixture(&t).await;
    let mut p = proto::Policy::default();
    p.shift.heartbeat_seconds = 5;
    p.shift.lost_contact_after_missed = 2;
    t.db.set_policy("main", &p).await.unwrap();
    let (id, key) = enroll(&f, "ws-l").await;
    let (_id2, key2) = enroll(&f, "ws-still-here").await;
    for k in [&key, &key2] {
        let e = Event::now(EventBody::SignIn {
            reason: ShiftReason::Auto,
            readiness: Readiness::Ready,
        });
        assert_eq!(send(&f, k, &[e]).await.status, StatusCode::OK);
    }
    let now = db::now_ms();
    assert!(
        t.db.sweep_lost_contact(now).await.unwrap().is_empty(),
        "heard from just now"
    );
    // ws-still-here keeps heartbeating (its last_seen moves on); ws-l goes quiet.
    sqlx::query("UPDATE devices SET last_seen = $1 WHERE hostname = 'ws-still-here'")
        .bind(now + 60_000)
        .execute(&t.db.pool)
        .await
        .unwrap();
    // Eight sweepers at once, as if eight HQ processes ran on one database.
    let later = now + 11_000;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = t.db.clone();
        tasks.push(tokio::spawn(async move {
            db.sweep_lost_contact(later).await.unwrap()
        }));
    }
    let mut signed_out = Vec::new();
    for task in tasks {
        signed_out.extend(task.await.unwrap());
    }
    assert_eq!(signed_out, std::slice::from_ref(&id));
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM shift_log WHERE reason = 'lost_contact'"
        )
        .await,
        1
    );
    let a = get(&f.app, &format!("/api/v1/agents/{id}"), Some(&f.viewer))
        .await
        .json();
    assert_eq!(a["signed_in"], false);
    // The sweep ran at a simulated time 11 s ahead, so ask for the log up to a minute ahead.
    let to = (Utc::now() + chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let log = get(&f.app, &format!("/api/v1/shifts?to={to}"), Some(&f.viewer))
        .await
        .json();
    let lost: Vec<&Value> = log["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "lost_contact")
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["agent_id"], id.as_str());
    assert_eq!(lost[0]["kind"], "sign_out");
    assert_eq!(lost[0]["readiness"], "ready");
}

async fn shift_log_and_csv(t: TestDb) {
    let f = fixture(&t).await;
    let (id, key) = enroll(&f, "=cmd|' /C calc'!A0").await;
    let mut e1 = Event::now(EventBody::SignIn {
        reason: ShiftReason::Manual,
        readiness: Readiness::Degraded,
    });
    e1.at = Utc::now() - chrono::Duration::hours(3);
    let mut e2 = Event::now(EventBody::SignOut {
        reason: ShiftReason::Suspend,
        readiness: Readiness::Ready,
    });
    e2.at = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(
        send(&f, &key, &[e1.clone(), e2]).await.status,
        StatusCode::OK
    );
    let from = (Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = get(
        &f.app,
        &format!("/api/v1/shifts?from={from}"),
        Some(&f.viewer),
    )
    .await
    .json();
    let s = r["shifts"].as_array().unwrap();
    assert_eq!(s.len(), 1, "{r}");
    assert_eq!(s[0]["kind"], "sign_out");
    assert_eq!(s[0]["reason"], "suspend");
    assert_eq!(s[0]["agent_id"], id.as_str());
    let csv = get(&f.app, "/api/v1/shifts.csv", Some(&f.viewer)).await;
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "agent_id,hostname,kind,reason,at,received_at,readiness,flags"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains(",sign_in,manual,") && lines[1].ends_with(",degraded,"),
        "{csv}"
    );
    // A hostname that looks like a formula is neutralised for spreadsheets.
    assert!(lines[1].contains("\"'=cmd|"), "{csv}");
    let csv = get(&f.app, "/api/v1/agents.csv", Some(&f.viewer))
        .await
        .text();
    assert!(csv.starts_with(
        "id,name,site,state,readiness,signed_in,last_seen,clock_skew_ms,readiness_at,fix\n"
    ));
    assert!(csv.contains(&id));
}

async fn dashboard_login_and_fleet_page(t: TestDb) {
    let f = fixture(&t).await;
    t.db.add_user("it-alice", "correct horse battery", Role::Viewer)
        .await
        .unwrap();
    for i in 0..60 {
        let (_, key) = enroll_quiet(&f, &format!("ws-{i:03}")).await;
        let status = if i == 7 { Status::Fail } else { Status::Pass };
        let hint = if i == 7 {
            "Plug in your headset and make it the default microphone."
        } else {
            ""
        };
        let e = Event::now(EventBody::Report {
            report: report(status, hint),
        });
        // Signed in: its state is its readiness (signed out it would be `idle`, issue 15).
        let mut sign_in = Event::now(EventBody::SignIn {
            reason: proto::event::ShiftReason::Manual,
            readiness: Readiness::Ready,
        });
        sign_in.at = Utc::now() - chrono::Duration::minutes(1);
        assert_eq!(send(&f, &key, &[sign_in, e]).await.status, StatusCode::OK);
    }
    // Without a session the dashboard sends the browser to the login page.
    let r = get(&f.app, "/", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/login");
    let r = call(
        &f.app,
        "POST",
        "/login",
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
        "user=it-alice&password=wrong",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("Wrong user name or password"));
    let r = call(
        &f.app,
        "POST",
        "/login",
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
        "user=it-alice&password=correct+horse+battery",
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cookie = r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    let page = call(
        &f.app,
        "GET",
        "/",
        None,
        &[("cookie", &cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("<span class=\"n\">59</span> <span aria-hidden=\"true\">✓</span> Ready"),
        "{html}"
    );
    assert!(html.contains("Agents 1–50 of 60"), "paginated");
    assert!(html.contains("rel=\"next\""));
    assert!(html.contains("http-equiv=\"refresh\""));
    // Filter to the not-ready agent: its hint is in the table.
    let page = call(
        &f.app,
        "GET",
        "/?state=not_ready",
        None,
        &[("cookie", &cookie)],
        Body::empty(),
    )
    .await
    .text();
    assert!(
        page.contains("ws-007") && page.contains("noise fail: Plug in your headset"),
        "{page}"
    );
    assert!(!page.contains("ws-008"));
    let page = call(
        &f.app,
        "GET",
        "/?q=ws-05&sort=name&desc=true",
        None,
        &[("cookie", &cookie)],
        Body::empty(),
    )
    .await
    .text();
    let p9 = page.find("ws-059").unwrap();
    let p0 = page.find("ws-050").unwrap();
    assert!(p9 < p0, "descending by name");
    let page = call(
        &f.app,
        "GET",
        "/?page=2",
        None,
        &[("cookie", &cookie)],
        Body::empty(),
    )
    .await
    .text();
    assert!(page.contains("Agents 51–60 of 60"));
    // Logging out ends the session.
    let r = call(
        &f.app,
        "POST",
        "/logout",
        None,
        &[("cookie", &cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = call(
        &f.app,
        "GET",
        "/",
        None,
        &[("cookie", &cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

/// Enrolls with a higher rate limit (the fixture's default is 10 a minute).
async fn enroll_quiet(f: &Fixture, hostname: &str) -> (String, String) {
    let (id, key) = f
        .state
        .db
        .enroll_device("main", hostname, "", "")
        .await
        .unwrap();
    (id, key)
}

/// Signs in to the dashboard; returns the `name=value` of the session cookie.
async fn login_cookie(f: &Fixture, user: &str, password: &str) -> String {
    let body = serde_urlencoded::to_string([("user", user), ("password", password)]).unwrap();
    let r = call(
        &f.app,
        "POST",
        "/login",
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The `value` of the hidden `csrf` field in a dashboard page.
fn csrf_field(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in {html}"))
        + "name=\"csrf\" value=\"".len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

async fn form_post(
    f: &Fixture,
    uri: &str,
    cookie: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut h = vec![
        ("content-type", "application/x-www-form-urlencoded"),
        ("cookie", cookie),
    ];
    h.extend_from_slice(extra);
    call(&f.app, "POST", uri, None, &h, body.to_string()).await
}

async fn policy_status(f: &Fixture, key: &str) -> (StatusCode, Value) {
    let r = get(&f.app, "/api/v1/policy", Some(key)).await;
    let v = if r.status == StatusCode::OK {
        Value::Null
    } else {
        r.json()
    };
    (r.status, v)
}

/// The dashboard's Revoke and Force re-enrollment: admin only, behind a confirmation page, a
/// per-session CSRF token and a same-origin check; the JSON API equivalent likewise.
async fn dashboard_revoke_and_reenroll(t: TestDb) {
    let f = fixture(&t).await;
    t.db.add_user("it-viewer", "viewer pass 1", Role::Viewer)
        .await
        .unwrap();
    t.db.add_user("it-admin", "admin pass 1", Role::Admin)
        .await
        .unwrap();
    let (id, key) = enroll(&f, "ws-rev").await;
    let (id2, key2) = enroll(&f, "ws-re").await;
    let viewer = login_cookie(&f, "it-viewer", "viewer pass 1").await;
    let admin = login_cookie(&f, "it-admin", "admin pass 1").await;
    let page = |cookie: String, uri: String| {
        let app = f.app.clone();
        async move {
            call(
                &app,
                "GET",
                &uri,
                None,
                &[("cookie", &cookie)],
                Body::empty(),
            )
            .await
        }
    };

    // A viewer sees no actions, and is refused the confirmation page and the action itself.
    let r = page(viewer.clone(), format!("/agents/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.text().contains("data-action="), "{}", r.text());
    let r = page(viewer.clone(), format!("/agents/{id}/revoke")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("needs the admin role"));
    // Even with a token of its own session, a viewer's POST is refused.
    let sid = viewer.split_once('=').unwrap().1;
    let tok = shiftready_hq::auth::csrf_token(sid);
    let r = form_post(
        &f,
        &format!("/agents/{id}/revoke"),
        &viewer,
        &[],
        &format!("csrf={tok}&confirm=yes"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A viewer's API token too.
    let r = post_json(
        &f.app,
        &format!("/api/v1/agents/{id}/revoke"),
        Some(&f.viewer),
        &json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        policy_status(&f, &key).await.0,
        StatusCode::OK,
        "nothing changed"
    );

    // An admin sees both actions; each leads to a confirmation page with the session's token.
    let r = page(admin.clone(), format!("/agents/{id}")).await;
    let html = r.text();
    assert!(
        html.contains(&format!(
            "href=\"/agents/{id}/revoke\" data-action=\"revoke\""
        )),
        "{html}"
    );
    assert!(html.contains(&format!(
        "href=\"/agents/{id}/reenroll\" data-action=\"reenroll\""
    )));
    let r = page(admin.clone(), format!("/agents/{id}/revoke")).await;
    assert_eq!(r.status, StatusCode::OK);
    let confirm = r.text();
    assert!(
        confirm.contains("Revoke this device?") && confirm.contains("ws-rev"),
        "{confirm}"
    );
    let csrf = csrf_field(&confirm);
    assert_eq!(csrf.len(), 64);

    // Forged requests: no token, a wrong token, another site's Origin, a cross-site fetch.
    let uri = format!("/agents/{id}/revoke");
    for (what, extra, body) in [
        ("no token", vec![], "confirm=yes".to_string()),
        (
            "wrong token",
            vec![],
            format!("csrf={}&confirm=yes", "0".repeat(64)),
        ),
        (
            "another site's Origin",
            vec![("host", "hq.test:8080"), ("origin", "https://evil.example")],
            format!("csrf={csrf}&confirm=yes"),
        ),
        (
            "cross-site fetch",
            vec![("sec-fetch-site", "cross-site")],
            format!("csrf={csrf}&confirm=yes"),
        ),
    ] {
        let r = form_post(&f, &uri, &admin, &extra, &body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.text());
        assert_eq!(
            policy_status(&f, &key).await.0,
            StatusCode::OK,
            "{what}: key still works"
        );
    }
    // The JSON API with the session cookie and no X-CSRF-Token: refused as well.
    let r = call(
        &f.app,
        "POST",
        &format!("/api/v1/agents/{id}/revoke"),
        None,
        &[("cookie", &admin), ("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(policy_status(&f, &key).await.0, StatusCode::OK);

    // Not confirmed: the confirmation page again, nothing done.
    let r = form_post(&f, &uri, &admin, &[], &format!("csrf={csrf}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Revoke this device?"));
    assert_eq!(policy_status(&f, &key).await.0, StatusCode::OK);

    // The real thing, same-origin: revoked, and the device's key stops working.
    let r = form_post(
        &f,
        &uri,
        &admin,
        &[
            ("host", "hq.test:8080"),
            ("origin", "http://hq.test:8080"),
            ("sec-fetch-site", "same-origin"),
        ],
        &format!("csrf={csrf}&confirm=yes"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.headers["location"], format!("/agents/{id}"));
    let (st, v) = policy_status(&f, &key).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "revoked");
    let r = send(
        &f,
        &key,
        &[Event::now(EventBody::Heartbeat {
            readiness: Readiness::Ready,
            signed_in: true,
        })],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let html = page(admin.clone(), format!("/agents/{id}")).await.text();
    assert!(html.contains("⊘</span> Revoked"), "{html}");
    assert!(
        !html.contains("data-action=\"revoke\""),
        "no second revoke offered"
    );
    assert_eq!(
        get(&f.app, &format!("/api/v1/agents/{id}"), Some(&f.viewer))
            .await
            .json()["state"],
        "revoked"
    );

    // Force re-enrollment of the other device through the JSON API with the session and its
    // token in X-CSRF-Token; the device enrolls again and keeps its id.
    let r = call(
        &f.app,
        "POST",
        &format!("/api/v1/agents/{id2}/reenroll"),
        None,
        &[("cookie", &admin), ("x-csrf-token", &csrf)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "reenroll");
    let code = r.json()["reenroll_code"].as_str().unwrap().to_string();
    let (st, v) = policy_status(&f, &key2).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "reenroll");
    let (id2b, key2b) = enroll_with_code(&f, "ws-re", &code).await;
    assert_eq!(id2b, id2);
    assert_eq!(policy_status(&f, &key2b).await.0, StatusCode::OK);

    // And through the dashboard form with an admin API token (no cookie, no CSRF token needed).
    let r = call(
        &f.app,
        "POST",
        &format!("/agents/{id2}/reenroll"),
        Some(&f.admin),
        &[("content-type", "application/x-www-form-urlencoded")],
        "confirm=yes",
    )
    .await;
    // The page shows the one-time code, once (issue 12).
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text().contains("id=\"reenroll-code\">sr_re_"),
        "{}",
        r.text()
    );
    assert_eq!(policy_status(&f, &key2b).await.0, StatusCode::UNAUTHORIZED);
    // An unknown agent: 404.
    let r = form_post(
        &f,
        "/agents/nope/revoke",
        &admin,
        &[],
        &format!("csrf={csrf}&confirm=yes"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// `readiness::report_readiness` reads ingest's own wording of a report's problem back into the
/// report's readiness, so a change of that wording breaks here.
#[test]
fn problem_text_tells_the_reports_readiness() {
    use shiftready_hq::{ingest::problem_of, readiness::report_readiness};
    for (status, want) in [
        (Status::Fail, "not_ready"),
        (Status::Warn, "degraded"),
        (Status::Error, "unknown"),
    ] {
        let mut checks = BTreeMap::new();
        checks.insert(
            "hardware".to_string(),
            CheckResult::new(status, "No microphone: plug one in: now."),
        );
        let r = Report::new(checks);
        assert_eq!(r.readiness.as_str(), want);
        let p = problem_of(&r);
        assert_eq!(report_readiness(p.as_deref()), want, "{p:?}");
    }
    assert_eq!(report_readiness(None), "ready");
}

/// One truth about readiness (issue 13): an agent whose last report is not ready, followed by
/// a heartbeat from a daemon that has not checked since it started (`unknown`), is "Not ready"
/// with the report's problem on the fleet row, its page, the API and the CSV. Before, the
/// state said unknown beside "What to fix: noise fail".
async fn one_truth_about_readiness(t: TestDb) {
    let f = fixture(&t).await;
    let (id, key) = enroll(&f, "ws-truth").await;
    let hint = "Move to a quieter room or close the door.";
    let mut rep = Event::now(EventBody::Report {
        report: report(Status::Fail, hint),
    });
    rep.at = Utc::now() - chrono::Duration::minutes(10);
    let mut hb = Event::now(EventBody::Heartbeat {
        readiness: Readiness::Unknown,
        signed_in: true,
    });
    hb.at = Utc::now() - chrono::Duration::minutes(1);
    // Both agents are signed in, so their state is their readiness (issue 15: signed out they
    // would be `idle`).
    let signed_in = || {
        let mut e = Event::now(EventBody::SignIn {
            reason: proto::event::ShiftReason::Manual,
            readiness: Readiness::Unknown,
        });
        e.at = Utc::now() - chrono::Duration::minutes(11);
        e
    };
    assert_eq!(
        send(&f, &key, &[signed_in(), rep, hb]).await.status,
        StatusCode::OK
    );
    // A second agent: ready by report, then degraded by in-shift monitoring.
    let (id2, key2) = enroll(&f, "ws-later").await;
    let mut rep2 = Event::now(EventBody::Report {
        report: report(Status::Pass, ""),
    });
    rep2.at = Utc::now() - chrono::Duration::minutes(10);
    let hb2 = Event::now(EventBody::Heartbeat {
        readiness: Readiness::Degraded,
        signed_in: true,
    });
    assert_eq!(
        send(&f, &key2, &[signed_in(), rep2, hb2]).await.status,
        StatusCode::OK
    );
    let fix = format!("noise fail: {hint}");

    // The API's fleet.
    let v = get(&f.app, "/api/v1/agents?sort=name", Some(&f.viewer))
        .await
        .json();
    // By name: ws-later, ws-truth.
    let a = &v["agents"][1];
    assert_eq!(a["id"], id.as_str(), "{v}");
    assert_eq!(a["state"], "not_ready", "{v}");
    assert_eq!(a["readiness"], "not_ready", "{v}");
    assert_eq!(a["readiness_source"], "report", "{v}");
    assert_eq!(a["fix"], fix.as_str(), "{v}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(a["readiness_at"].as_str().unwrap()).is_ok(),
        "{v}"
    );
    assert_eq!(v["summary"]["not_ready"], 1, "{v}");
    assert_eq!(v["summary"]["unknown"], 0, "{v}");
    let b = &v["agents"][0];
    assert_eq!(b["id"], id2.as_str(), "{v}");
    assert_eq!(b["state"], "degraded", "{v}");
    assert_eq!(b["readiness_source"], "heartbeat", "{v}");
    assert!(
        b["fix"]
            .as_str()
            .unwrap()
            .starts_with("Degraded by in-shift monitoring"),
        "{v}"
    );
    // The state filter agrees with what the rows say.
    let v = get(&f.app, "/api/v1/agents?state=not_ready", Some(&f.viewer))
        .await
        .json();
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["agents"][0]["id"], id.as_str());

    // One agent.
    let v = get(&f.app, &format!("/api/v1/agents/{id}"), Some(&f.viewer))
        .await
        .json();
    assert_eq!(v["state"], "not_ready", "{v}");
    assert_eq!(v["readiness"], "not_ready", "{v}");
    assert_eq!(v["fix"], fix.as_str(), "{v}");
    assert_eq!(v["last_report"]["readiness"], "not_ready", "{v}");

    // The CSV.
    let csv = get(&f.app, "/api/v1/agents.csv", Some(&f.viewer))
        .await
        .text();
    let line = csv.lines().find(|l| l.contains(&id)).unwrap();
    assert!(line.contains(",not_ready,not_ready,"), "{csv}");
    assert!(line.ends_with(&format!("\"{fix}\"")), "{csv}");

    // The dashboard: the fleet row and the agent page.
    let html = get(&f.app, "/", Some(&f.viewer)).await.text();
    let row = html
        .split(&format!("data-agent=\"{id}\""))
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(row.contains("data-state=\"not_ready\""), "{row}");
    assert!(
        row.contains("Not ready") && !row.contains("Unknown"),
        "{row}"
    );
    assert!(row.contains(hint), "{row}");
    let html = get(&f.app, &format!("/agents/{id}"), Some(&f.viewer))
        .await
        .text();
    let header = html.split("<section class=\"now\"").next().unwrap();
    assert!(
        header.contains("Not ready") && !header.contains("Unknown"),
        "{html}"
    );
    let top = html.split("id=\"report\"").next().unwrap();
    assert!(top.contains("id=\"readiness-word\">Not ready<"), "{top}");
    assert!(top.contains("from its last report"), "{top}");
    assert!(top.contains(&fix), "{top}");
}

/// Fleet filters by site and state, validated (issue 13); times and figures tidy in the API.
async fn fleet_filters_and_tidy_api(t: TestDb) {
    let f = fixture(&t).await;
    let (id, key) = enroll(&f, "ws-main").await;
    let remote = t.db.create_enroll_secret("remote").await.unwrap();
    let r = post_json(
        &f.app,
        "/api/v1/enroll",
        None,
        &json!({"secret": remote, "hostname": "ws-remote", "os": "Debian 12"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let remote_id = r.json()["device_id"].as_str().unwrap().to_string();

    let names = |v: &Value| -> Vec<String> {
        v["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    let v = get(&f.app, "/api/v1/agents?site=remote", Some(&f.viewer))
        .await
        .json();
    assert_eq!(names(&v), ["ws-remote"], "{v}");
    // The counts are the site's.
    assert_eq!(v["summary"]["total"], 1, "{v}");
    let v = get(&f.app, "/api/v1/agents", Some(&f.viewer)).await.json();
    assert_eq!(v["summary"]["total"], 2, "{v}");
    // Neither has been heard from since enrolling: offline.
    let v = get(
        &f.app,
        "/api/v1/agents?site=main&state=offline",
        Some(&f.viewer),
    )
    .await
    .json();
    assert_eq!(names(&v), ["ws-main"], "{v}");
    let csv = get(&f.app, "/api/v1/agents.csv?site=remote", Some(&f.viewer))
        .await
        .text();
    assert!(csv.contains(&remote_id) && !csv.contains(&id), "{csv}");
    // An unknown site or state: 400, naming what exists.
    let r = get(&f.app, "/api/v1/agents?site=mars", Some(&f.viewer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(e.contains("mars") && e.contains("main, remote"), "{e}");
    let r = get(&f.app, "/api/v1/agents?state=fine", Some(&f.viewer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        e.contains("ready, degraded, not_ready, unknown, offline"),
        "{e}"
    );
    // The fleet page filters by site too, and offers the sites.
    let html = get(&f.app, "/?site=remote", Some(&f.viewer)).await.text();
    assert!(
        html.contains("ws-remote") && !html.contains("ws-main"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"remote\" selected>remote</option>"),
        "{html}"
    );
    assert!(html.contains("Summary of the site remote"), "{html}");
    assert!(
        html.contains("data-count=\"total\"><span class=\"n\">1<"),
        "{html}"
    );

    // Figures rounded to what was measured; RFC 3339 next to the ms times.
    let mut checks = BTreeMap::new();
    checks.insert(
        "network".to_string(),
        CheckResult::new(Status::Pass, "")
            .with("rtt_ms_median", 23.456_789)
            .with("loss_down_pct", 0.300_000_000_000_000_04)
            .with("mos", 4.299_999),
    );
    let ev = Event::now(EventBody::Report {
        report: Report::new(checks),
    });
    assert_eq!(send(&f, &key, &[ev]).await.status, StatusCode::OK);
    let v = get(&f.app, &format!("/api/v1/agents/{id}"), Some(&f.viewer))
        .await
        .json();
    let m = &v["last_report"]["checks"]["network"]["metrics"];
    assert_eq!(m["rtt_ms_median"], json!(23.5), "{v}");
    assert_eq!(m["loss_down_pct"], json!(0.3), "{v}");
    assert_eq!(m["mos"], json!(4.3), "{v}");
    assert!(v["enrolled_at"].is_i64(), "kept for existing clients: {v}");
    let enrolled = v["enrolled_at_rfc3339"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(enrolled)
            .unwrap()
            .timestamp(),
        v["enrolled_at"].as_i64().unwrap() / 1000,
        "{v}"
    );
    assert!(v["report_at"].is_i64(), "{v}");
    assert!(v["report_at_rfc3339"].is_string(), "{v}");

    // The shift log: a date for `from`/`to`, and `agent=` by hostname.
    let e = Event::now(EventBody::SignIn {
        reason: ShiftReason::Manual,
        readiness: Readiness::Ready,
    });
    assert_eq!(send(&f, &key, &[e]).await.status, StatusCode::OK);
    let today = Utc::now().date_naive().to_string();
    let r = get(
        &f.app,
        &format!("/api/v1/shifts?from={today}&to={today}&agent=ws-main"),
        Some(&f.viewer),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["shifts"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["shifts"][0]["agent_id"], id.as_str());
    assert!(v["from"].as_str().unwrap().ends_with("T00:00:00Z"), "{v}");
    let csv = get(&f.app, "/api/v1/shifts.csv?agent=ws-main", Some(&f.viewer))
        .await
        .text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let r = get(&f.app, "/api/v1/shifts?agent=ws-nobody", Some(&f.viewer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("ws-nobody"));
    let r = get(&f.app, "/api/v1/shifts?from=yesterday", Some(&f.viewer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("a date like 2026-01-31"),
        "{}",
        r.text()
    );
}

both!(
    one_truth_about_readiness,
    fleet_filters_and_tidy_api,
    enroll_ingest_idempotent,
    hostile_input,
    reenroll_keeps_identity,
    enroll_is_rate_limited,
    policy_has_etag_and_shifts,
    lost_contact_signs_out_exactly_once,
    shift_log_and_csv,
    dashboard_login_and_fleet_page,
    dashboard_revoke_and_reenroll,
);
