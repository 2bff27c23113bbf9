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

/// Retention: minutes older than `--keep-minute-samples-days` (30) go, with their `sample`
/// events; hours older than `--keep-hourly-samples-days` (366) go; newer ones stay. In process,
/// through the real ingest writer.
async fn retention_prunes_minutes_and_hours(t: common::TestDb) {
    use proto::event::{Event, EventBody};
    use shiftready_hq::db::{Retention, now_ms};
    let st = shiftready_hq::state::AppState::new(t.db.clone());
    t.db.ensure_site("main").await.unwrap();
    let (id, key) = t.db.enroll_device("main", "ws-old", "", "").await.unwrap();
    let at = |days: i64| {
        let mut e = Event::now(EventBody::Sample {
            sample: proto::sample::MinuteSample {
                seconds: 60,
                rtt_p95_ms: Some(30.0),
                ..Default::default()
            },
        });
        e.at = Utc::now() - Duration::days(days);
        e
    };
    let received = now_ms() - 380 * 86_400_000;
    // Received long ago (the events' retention counts from receipt), dated 380, 40 and 1 days.
    st.ingest
        .submit(&key, received, None, vec![at(380), at(40)])
        .await
        .unwrap();
    st.ingest
        .submit(&key, now_ms(), None, vec![at(1)])
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let db = t.db.clone();
        async move {
            use sqlx::Row;
            sqlx::query(sql)
                .fetch_one(&db.pool)
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM minute_samples").await, 3);
    assert_eq!(count("SELECT COUNT(*) FROM sample_hours").await, 3);
    let n = shiftready_hq::samples::prune(&t.db, now_ms(), &Retention::default())
        .await
        .unwrap();
    assert_eq!((n.minutes, n.hours, n.events), (2, 1, 2), "{n:?}");
    assert_eq!(count("SELECT COUNT(*) FROM minute_samples").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM sample_hours").await, 2);
    assert_eq!(
        count("SELECT COUNT(*) FROM events WHERE kind = 'sample'").await,
        1
    );
    // What is left is what the timeline shows: the 40-day-old hour, per hour.
    let t30 = shiftready_hq::api::timeline::read(&t.db, &id, now_ms() - 45 * 86_400_000, now_ms())
        .await
        .unwrap();
    assert_eq!(t30.rows.len(), 2, "{:?}", t30.rows);
}

both!(retention_prunes_minutes_and_hours);

/// Found in review: an hour row summed its minutes' link-down seconds and called 30 s of link
/// blips scattered over the hour an "outage". An hour counts its outage minutes (a minute
/// that lost everything, or had its link down 30 s or more); the API serves the count
/// (`outage_minutes`), and the 7-day page marks only the hour that had one.
async fn an_hour_of_scattered_link_blips_is_no_outage(db_url: String) {
    let (secret, token) = setup(&db_url, None);
    let server = Server::start(&db_url, &[]);
    let url = &server.url;
    let (id, key) = enroll(url, &secret, "ws-blips").await;
    let blips = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(4);
    let down = blips + Duration::hours(1);
    let fine = |at, link_down: i64| {
        sample(
            at,
            json!({"seconds": 60, "rtt_p95_ms": 30.0, "loss_up_pct": 0.0, "loss_down_pct": 0.0,
                   "link": "wifi", "link_down_seconds": link_down}),
        )
    };
    // The first hour: a one-second blip in each of 30 minutes (30 s in all).
    let mut events: Vec<Value> = (0..30)
        .map(|i| fine(blips + Duration::minutes(2 * i), 1))
        .collect();
    // The next: one minute with the link down 40 s, among good minutes.
    events.extend((0..10).map(|i| fine(down + Duration::minutes(i), if i == 5 { 40 } else { 0 })));
    let v = post_ok(url, &key, Value::Array(events)).await;
    assert_eq!(v["accepted"].as_array().unwrap().len(), 40, "{v}");

    let q = format!(
        "{url}/api/v1/agents/{id}/timeline?from={}&to={}",
        rfc(blips - Duration::days(3)),
        rfc(down + Duration::hours(1))
    );
    let t = get_json(&q, &token).await;
    assert_eq!(t["resolution"], "hour", "{t}");
    let hours = t["samples"].as_array().unwrap();
    assert_eq!(hours.len(), 2, "{t}");
    assert_eq!(
        (&hours[0]["link_down_seconds"], &hours[0]["outage_minutes"]),
        (&json!(30), &json!(0)),
        "{t}"
    );
    assert_eq!(
        (&hours[1]["link_down_seconds"], &hours[1]["outage_minutes"]),
        (&json!(40), &json!(1)),
        "{t}"
    );
    let csv = client()
        .get(format!(
            "{url}/api/v1/agents/{id}/timeline.csv?from={}",
            rfc(blips - Duration::days(3))
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",noise_class,outage_minutes"), "{csv}");
    assert!(
        lines[1].ends_with(",0") && lines[2].ends_with(",1"),
        "{csv}"
    );

    // The agent page's 7-day timeline (per hour): one outage, the hour with the 40 s minute.
    let db = shiftready_hq::db::Db::connect(&db_url).await.unwrap();
    let now = shiftready_hq::db::now_ms();
    let week = shiftready_hq::api::timeline::read(&db, &id, now - 7 * 86_400_000, now + 1)
        .await
        .unwrap();
    let page =
        shiftready_hq::dashboard::timeline::render(&week, &proto::Policy::default(), "7 days");
    let outages = page
        .split("id=\"tl-outages\">")
        .nth(1)
        .unwrap()
        .split("</dd>")
        .next()
        .unwrap();
    assert_eq!(
        outages,
        format!(
            "{} to {} (1 minute with no line)",
            down.format("%Y-%m-%d %H:%M UTC"),
            (down + Duration::hours(1)).format("%Y-%m-%d %H:%M UTC")
        ),
        "{page}"
    );
    assert_eq!(
        page.matches("class=\"outage\"").count(),
        3,
        "one mark per plot"
    );
}

both_urls!(an_hour_of_scattered_link_blips_is_no_outage);

/// Found in review: the timeline read a range's incident events oldest first and cut them at
/// 5,000, so on a long range of an agent whose line flapped the newest incidents (the ones IT
/// looks for) were silently missing. The newest are kept, and the answer says from when the
/// list is whole (`incidents_cut_before`; on the page, in words). In process through the real
/// ingest writer (over ten thousand events), then the API of the real binary.
async fn incidents_of_a_long_range_keep_the_newest(t: common::TestDb) {
    use proto::event::{Event, EventBody, IncidentState};
    use shiftready_hq::db::now_ms;
    use shiftready_hq::samples::INCIDENT_EVENTS_MAX;
    let st = shiftready_hq::state::AppState::new(t.db.clone());
    t.db.ensure_site("main").await.unwrap();
    let (id, key) =
        t.db.enroll_device("main", "ws-flaps", "", "")
            .await
            .unwrap();
    let day = 86_400_000i64;
    let now = now_ms();
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let incident = |ms: i64, name: &str, state: IncidentState| {
        let mut e = Event::now(EventBody::Incident {
            name: name.into(),
            state,
            detail: String::new(),
            scope: None,
        });
        e.at = at(ms);
        e
    };
    // Over 300 days, more started/ended pairs than one read takes; then the newest incident,
    // an hour ago, still open.
    let pairs = INCIDENT_EVENTS_MAX / 2 + 50;
    let first = now - 300 * day;
    let step = 300 * day / pairs;
    let mut events = Vec::new();
    for i in 0..pairs {
        let t0 = first + i * step;
        events.push(incident(t0, "network_degraded", IncidentState::Started));
        events.push(incident(
            t0 + 60_000,
            "network_degraded",
            IncidentState::Ended,
        ));
    }
    events.push(incident(
        now - 3_600_000,
        "wifi_weak",
        IncidentState::Started,
    ));
    let total = events.len();
    for batch in events.chunks(1000) {
        st.ingest
            .submit(&key, now, None, batch.to_vec())
            .await
            .unwrap();
    }
    let from = now - 366 * day;
    let tl = shiftready_hq::api::timeline::read(&t.db, &id, from, now + 1)
        .await
        .unwrap();
    let newest = tl.incidents.last().expect("incidents");
    assert_eq!(
        (newest.name.as_str(), newest.start, newest.end),
        ("wifi_weak", now - 3_600_000, None),
        "the newest incident is there ({total} events in the range)"
    );
    let cut = tl.incidents_cut_before.expect("the answer says it was cut");
    assert!(cut > from && cut < now, "{cut}");
    assert!(tl.incidents.iter().all(|i| i.start >= cut));
    assert!(
        tl.incidents.len() as i64 >= INCIDENT_EVENTS_MAX / 2 - 1,
        "{}",
        tl.incidents.len()
    );
    // A range the bound does not reach is whole, and says so.
    let week = shiftready_hq::api::timeline::read(&t.db, &id, now - 7 * day, now + 1)
        .await
        .unwrap();
    assert_eq!(week.incidents_cut_before, None);
    let page = shiftready_hq::dashboard::timeline::render(&tl, &proto::Policy::default(), "year");
    assert!(
        page.contains("id=\"tl-incidents-cut\"") && page.contains("the list is whole from"),
        "the page says the list was cut"
    );

    // The API of the real binary says the same.
    let (code, out, err) = hq_cmd(&t.url, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0, "{err}");
    let token = last_line(&out);
    let server = Server::start(&t.url, &[]);
    let v = get_json(
        &format!(
            "{}/api/v1/agents/{id}/timeline?from={}",
            server.url,
            rfc(at(from))
        ),
        &token,
    )
    .await;
    let list = v["incidents"].as_array().unwrap();
    assert_eq!(list.last().unwrap()["name"], "wifi_weak", "{}", list.len());
    assert_eq!(
        v["incidents_cut_before"],
        json!(at(cut).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
}

both!(incidents_of_a_long_range_keep_the_newest);

const CHROMIUM: &str = "/usr/bin/chromium";

/// The agent page's timeline in headless Chromium: six hours of a shift with a minute of total
/// loss (the outage), an incident around it, five minutes with no samples, a sign-in and a
/// sign-out. The page shows the outage minute (a mark on the plots and its time in words), the
/// incident's band with its name, the sign-in and sign-out, and a gap (the line breaks); it
/// does not overflow a 400 px phone. Screenshots: target/screenshots/timeline.png (desk) and
/// timeline-400.png.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_page_shows_the_outage_minute() {
    if !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var("SHIFTREADY_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "SHIFTREADY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing"
        );
        println!("SKIPPED the_agent_page_shows_the_outage_minute: no {CHROMIUM}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("hq.db").display());
    let (secret, _) = setup(&db_url, None);
    let password = "viewer password 42";
    let (code, _, err) = hq_cmd(
        &db_url,
        &["user", "add", "it-viewer", "--role", "viewer"],
        Some(password),
    );
    assert_eq!(code, 0, "{err}");
    let server = Server::start(&db_url, &[]);
    let url = server.url.clone();
    let (id, key) = enroll(&url, &secret, "ws-outage").await;
    // Six hours of a shift: the outage at minute 150, the incident around it (149 to 152),
    // no samples from minute 200 to 204.
    let now = Utc::now().duration_trunc(Duration::minutes(1)).unwrap();
    let m = |i: i64| now - Duration::minutes(370 - i);
    let outage_minute = m(150);
    let mut events = vec![ev(
        "sign_in",
        m(0),
        json!({"reason": "auto", "readiness": "ready"}),
    )];
    let mut n_samples = 0;
    for i in 1..=360 {
        if (200..205).contains(&i) {
            continue;
        }
        let wobble = (i as f64 * 0.09).sin();
        let near = i == 149 || i == 151;
        let s = if m(i) == outage_minute {
            json!({"seconds": 60, "loss_up_pct": 100.0, "loss_down_pct": 100.0, "link": "wifi"})
        } else {
            json!({"seconds": 60, "rtt_p50_ms": 24.0 + 3.0 * wobble,
                   "rtt_p95_ms": 38.0 + 9.0 * wobble + if near { 90.0 } else { 0.0 },
                   "loss_up_pct": if i == 151 { 4.0 } else { 0.0 },
                   "loss_down_pct": if i == 149 { 2.5 } else { 0.3 },
                   "mos_min": 4.3 - 0.05 * wobble - if near { 0.8 } else { 0.0 },
                   "link": "wifi"})
        };
        events.push(sample(m(i), s));
        n_samples += 1;
    }
    events.push(ev(
        "incident",
        m(149),
        json!({"name": "network_degraded", "state": "started", "detail": "no replies from HQ", "scope": "home"}),
    ));
    events.push(ev(
        "incident",
        m(152),
        json!({"name": "network_degraded", "state": "ended"}),
    ));
    events.push(ev(
        "sign_out",
        m(365),
        json!({"reason": "manual", "readiness": "ready"}),
    ));
    post_ok(&url, &key, Value::Array(events)).await;

    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let page = format!("{url}/agents/{id}#timeline");
    let (html, widths) = tokio::task::spawn_blocking(move || {
        let mut b = cdp::Cdp::start(profile.path());
        b.open("about:blank");
        b.go(&format!("{url}/login"));
        b.eval(&format!(
            "document.querySelector('[name=user]').value = 'it-viewer'; \
             document.querySelector('[name=password]').value = {}; \
             document.querySelector('.login form').submit(); true",
            json!(password)
        ));
        b.wait_true("the fleet", "location.pathname === '/'");
        b.go(&page);
        let mut widths = Vec::new();
        for (width, mobile, name) in [
            (1280, false, "timeline.png"),
            (400, true, "timeline-400.png"),
        ] {
            b.set_width(width, mobile);
            b.wait_true("the layout", &format!("window.innerWidth === {width}"));
            widths.push((width, b.eval("document.documentElement.scrollWidth")));
            b.screenshot_element("section.timeline", &shots.join(name));
        }
        let html = b.eval("document.documentElement.outerHTML");
        (html.as_str().unwrap().to_string(), widths)
    })
    .await
    .unwrap();
    for (width, sw) in widths {
        assert!(
            sw.as_u64().unwrap() <= width,
            "the agent page at {width} px is {sw} px wide"
        );
    }
    let section = html
        .split("<section class=\"timeline\"")
        .nth(1)
        .expect("a timeline section")
        .split("</section>")
        .next()
        .unwrap();
    // The outage minute, in words and as a mark on each of the three plots.
    let hhmm = outage_minute.format("%Y-%m-%d %H:%M UTC").to_string();
    let outages = section.split("id=\"tl-outages\">").nth(1).unwrap();
    let outages = outages.split("</dd>").next().unwrap();
    assert!(outages.starts_with(&hhmm), "{outages} (want {hhmm})");
    assert_eq!(section.matches("class=\"outage\"").count(), 3, "{section}");
    // The incident: a shaded band with its name, and its span in words.
    assert_eq!(section.matches("class=\"incident\"").count(), 1);
    assert!(section.contains(">network degraded</text>"), "{section}");
    let incidents = section.split("id=\"tl-incidents\">").nth(1).unwrap();
    assert!(
        incidents.starts_with(&format!(
            "network degraded (in the home network) from {}",
            m(149).format("%Y-%m-%d %H:%M UTC")
        )),
        "{incidents}"
    );
    // Sign-in and sign-out: a solid and a dashed line, and in words.
    assert_eq!(section.matches("class=\"shift\"").count(), 2);
    assert!(section.contains(&format!(
        "Signed in {} (auto)",
        m(0).format("%Y-%m-%d %H:%M UTC")
    )));
    // Gaps: the round-trip line breaks at the outage minute and at the five silent minutes.
    let rtt_path = section
        .split("<path d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(rtt_path.matches('M').count(), 3, "{rtt_path}");
    // Described in words for a screen reader.
    assert!(
        section.contains(&format!(
            "Timeline over the last 24 hours, per minute: {n_samples} minutes with samples"
        )),
        "{section}"
    );
    assert!(section.contains("loss highest 100.0 % up and 100.0 % down"));
    assert!(section.contains("1 outage; 1 incident; 2 sign-in or sign-outs."));
}

/// Chromium over the DevTools protocol (`--remote-debugging-pipe`), as in tests/browser.rs.
mod cdp {
    use serde_json::{Value, json};
    use std::path::Path;
    use std::process::Command;

    pub struct Cdp {
        child: std::process::Child,
        to: std::fs::File,
        from: std::io::BufReader<std::fs::File>,
        next: u64,
        session: Option<String>,
    }

    impl Cdp {
        pub fn start(profile: &Path) -> Cdp {
            let dir = profile.join("pipes");
            std::fs::create_dir_all(&dir).unwrap();
            let (inp, out) = (dir.join("in"), dir.join("out"));
            for p in [&inp, &out] {
                assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
            }
            let child = Command::new("bash")
                .arg("-c")
                .arg("exec \"$0\" \"${@:3}\" 3<\"$1\" 4>\"$2\"")
                .arg(super::CHROMIUM)
                .arg(&inp)
                .arg(&out)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--remote-debugging-pipe",
                    "--window-size=1280,1000",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("about:blank")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let to = std::fs::OpenOptions::new().write(true).open(&inp).unwrap();
            let from = std::io::BufReader::new(std::fs::File::open(&out).unwrap());
            Cdp {
                child,
                to,
                from,
                next: 0,
                session: None,
            }
        }

        fn call(&mut self, method: &str, params: Value) -> Value {
            use std::io::{BufRead, Write};
            self.next += 1;
            let id = self.next;
            let mut msg = json!({"id": id, "method": method, "params": params});
            if let Some(s) = &self.session {
                msg["sessionId"] = json!(s);
            }
            let mut bytes = serde_json::to_vec(&msg).unwrap();
            bytes.push(0);
            self.to.write_all(&bytes).unwrap();
            loop {
                let mut buf = Vec::new();
                let n = self.from.read_until(0, &mut buf).unwrap();
                assert!(n > 0, "chromium closed the pipe");
                buf.pop();
                let v: Value = serde_json::from_slice(&buf).unwrap();
                if v["id"] == id {
                    assert!(v["error"].is_null(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }

        pub fn open(&mut self, url: &str) {
            let t = self.call("Target.createTarget", json!({"url": url}));
            let s = self.call(
                "Target.attachToTarget",
                json!({"targetId": t["targetId"], "flatten": true}),
            );
            self.session = Some(s["sessionId"].as_str().unwrap().to_string());
        }

        pub fn eval(&mut self, js: &str) -> Value {
            let r = self.call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true}),
            );
            r["result"]["value"].clone()
        }

        pub fn wait_true(&mut self, what: &str, js: &str) {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while self.eval(js) != json!(true) {
                assert!(
                    std::time::Instant::now() < until,
                    "timed out waiting for {what}"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }

        pub fn set_width(&mut self, width: u64, mobile: bool) {
            self.call(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}),
            );
        }

        pub fn go(&mut self, url: &str) {
            self.call("Page.navigate", json!({"url": url}));
            self.wait_true(
                url,
                &format!(
                    "location.href === {} && document.readyState === 'complete'",
                    json!(url)
                ),
            );
        }

        /// A screenshot of one element (the first matching `selector`), whole.
        pub fn screenshot_element(&mut self, selector: &str, path: &Path) {
            use base64::Engine;
            let r = self.eval(&format!(
                "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); \
                 return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; }})()",
                json!(selector)
            ));
            let v: Vec<f64> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let r = self.call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": v[0], "y": v[1], "width": v[2], "height": v[3], "scale": 1}}),
            );
            let png = base64::engine::general_purpose::STANDARD
                .decode(r["data"].as_str().unwrap())
                .unwrap();
            std::fs::write(path, png).unwrap();
        }
    }

    impl Drop for Cdp {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
