//! Dropped calls end to end (issue 15): `call_drop` events posted with a real device key to the
//! real `shiftready-hq` (SQLite and PostgreSQL) come back from `GET /api/v1/call-drops`, its CSV,
//! `/call-drops` and the agent page with HQ's verdict; a malformed one is refused alone; and
//! headless Chromium looks at both pages at desk and phone width (screenshots in
//! `target/screenshots/drops-*.png`).

#[path = "common/cdp.rs"]
mod cdp;
mod common;

use chrono::{DateTime, Utc};
use common::{Server, client, enroll, hq_cmd, last_line, post_events};
use proto::sample::{CallDrop, Seconds};
use serde_json::{Value, json};

const PASSWORD: &str = "viewer password 42";

/// `n` healthy seconds from `start` on Wi-Fi: RTT 20 ms, no loss, the router answering.
fn healthy(start: DateTime<Utc>, n: usize) -> Seconds {
    Seconds {
        start,
        rtt_ms: vec![Some(20.0); n],
        loss_up_pct: vec![Some(0.0); n],
        loss_down_pct: vec![Some(0.0); n],
        jitter_ms: vec![Some(2.0); n],
        gateway_rtt_ms: vec![Some(2.0); n],
        gateway_ok: vec![Some(true); n],
        link_up: vec![Some(true); n],
        wifi_signal_dbm: vec![Some(-55); n],
        headset: vec![Some(true); n],
    }
}

/// The 15 minutes before `at` (whole seconds), healthy.
fn before(at: DateTime<Utc>) -> Seconds {
    let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap();
    healthy(at - chrono::Duration::seconds(900), 900)
}

/// "14:32:05 UTC": second `i` of `s`, as the verdict writes it.
fn hms(s: &Seconds, i: i64) -> String {
    (s.start + chrono::Duration::seconds(i))
        .format("%H:%M:%S UTC")
        .to_string()
}

/// Wi-Fi lost for seconds 845..853 (8 s, ending 47 s before the report).
fn wifi_lost(at: DateTime<Utc>, note: &str) -> (CallDrop, String) {
    let mut s = before(at);
    for i in 845..853 {
        s.link_up[i] = Some(false);
        s.gateway_ok[i] = Some(false);
        s.rtt_ms[i] = None;
        s.loss_up_pct[i] = None;
        s.loss_down_pct[i] = None;
    }
    let want = format!("home network: Wi-Fi lost for 8 s at {}", hms(&s, 845));
    let d = CallDrop {
        note: note.into(),
        seconds: s,
        headset: Some(true),
        link: Some("wifi".into()),
        ..Default::default()
    };
    (d, want)
}

/// 12 % upstream loss over seconds 790..830 (the pattern 20, 0, 20, 0, 20 %), wired.
fn upstream_loss(at: DateTime<Utc>, note: &str) -> (CallDrop, String) {
    let mut s = before(at);
    for k in 0..40 {
        s.loss_up_pct[790 + k] = Some([20.0, 0.0, 20.0, 0.0, 20.0][k % 5]);
    }
    let want = format!(
        "beyond the home: 12 % loss upstream for 40 s at {} while the home router answered",
        hms(&s, 790)
    );
    let d = CallDrop {
        note: note.into(),
        seconds: s,
        link: Some("wired".into()),
        ..Default::default()
    };
    (d, want)
}

/// The headset gone from second 838 to the report.
fn headset_gone(at: DateTime<Utc>, note: &str) -> (CallDrop, String) {
    let mut s = before(at);
    for i in 838..900 {
        s.headset[i] = Some(false);
    }
    let want = format!("headset disconnected at {}", hms(&s, 838));
    let d = CallDrop {
        note: note.into(),
        seconds: s,
        headset: Some(false),
        link: Some("wifi".into()),
        ..Default::default()
    };
    (d, want)
}

fn event(at: DateTime<Utc>, d: &CallDrop) -> Value {
    json!({"id": uuid::Uuid::new_v4(), "at": at, "sent_at": Utc::now(), "kind": "call_drop",
           "call_drop": d})
}

/// A fresh HQ on `db` with a viewer token, a viewer user and a site `main`: (server, token,
/// enrollment secret).
fn hq(db: &str) -> (Server, String, String) {
    let secret = last_line(&hq_cmd(db, &["enroll-secret", "create", "--site", "main"], None).1);
    let (code, out, err) = hq_cmd(db, &["token", "create", "--role", "viewer"], None);
    assert_eq!(code, 0, "{err}");
    let token = last_line(&out);
    let (code, _, err) = hq_cmd(
        db,
        &["user", "add", "it-viewer", "--role", "viewer"],
        Some(PASSWORD),
    );
    assert_eq!(code, 0, "{err}");
    (Server::start(db, &[]), token, secret)
}

async fn get(url: &str, token: &str) -> (u16, String) {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn the_verdict_reaches_the_api_the_csv_and_the_pages(db: String) {
    let (server, token, secret) = hq(&db);
    let url = server.url.clone();
    let (id, key) = enroll(&url, &secret, "ws-drops-01").await;
    let now = Utc::now();
    let note = "Customer cut off <script>alert(1)</script> & \"dead air\"";
    let (wifi, wifi_want) = wifi_lost(now, note);
    let (loss, loss_want) = upstream_loss(now - chrono::Duration::seconds(60), "");
    // Columns of different lengths, and a note over 1000 characters: each refused alone.
    let mut uneven = event(now, &wifi);
    uneven["call_drop"]["seconds"]["rtt_ms"]
        .as_array_mut()
        .unwrap()
        .pop();
    let (mut long, _) = wifi_lost(now, "");
    long.note = "x".repeat(1001);
    let batch = json!([
        uneven,
        event(now, &wifi),
        event(now, &long),
        event(now - chrono::Duration::seconds(60), &loss),
        {"id": uuid::Uuid::new_v4(), "at": now, "kind": "heartbeat", "readiness": "ready",
         "signed_in": true},
    ]);
    let r = post_events(&url, &key, batch.clone()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let outcomes: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["rejected", "stored", "rejected", "stored", "stored"],
        "{v}"
    );
    let err0 = v["results"][0]["error"].as_str().unwrap();
    assert!(
        err0.contains("`call_drop.seconds`") && err0.contains("same length"),
        "{err0}"
    );
    let err2 = v["results"][2]["error"].as_str().unwrap();
    assert!(
        err2.contains("`call_drop.note`") && err2.contains("1000"),
        "{err2}"
    );
    // Sent again (a retry): nothing new.
    let v: Value = post_events(&url, &key, batch).await.json().await.unwrap();
    assert_eq!(v["duplicates"], 3, "{v}");

    // The API: newest first, the verdict and its kind, both times twice, the counts.
    let v = common::get_json(&format!("{url}/api/v1/call-drops"), &token).await;
    let drops = v["call_drops"].as_array().unwrap();
    assert_eq!(drops.len(), 2, "{v}");
    let d0 = &drops[0];
    assert_eq!(d0["agent_id"], id.as_str());
    assert_eq!(d0["hostname"], "ws-drops-01");
    assert_eq!(d0["site"], "main");
    assert_eq!(d0["verdict"], wifi_want.as_str());
    assert_eq!(d0["verdict_kind"], "home_network");
    assert_eq!(d0["note"], note);
    assert_eq!(d0["at"], now.timestamp_millis());
    assert_eq!(
        d0["at_rfc3339"],
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let recv = d0["received_at"].as_i64().unwrap();
    assert!((recv - now.timestamp_millis()).abs() < 60_000, "{d0}");
    assert!(d0["received_at_rfc3339"].as_str().unwrap().ends_with('Z'));
    assert_eq!(drops[1]["verdict"], loss_want.as_str());
    assert_eq!(drops[1]["verdict_kind"], "beyond_home");
    assert_eq!(
        v["counts"],
        json!({"home_network": 1, "beyond_home": 1, "headset": 0, "none": 0, "unknown": 0})
    );
    // Filters: one kind (the counts stay for all), a range that ends before them, bad input.
    let v = common::get_json(&format!("{url}/api/v1/call-drops?kind=beyond_home"), &token).await;
    assert_eq!(v["call_drops"].as_array().unwrap().len(), 1);
    assert_eq!(v["counts"]["home_network"], 1);
    let v = common::get_json(
        &format!("{url}/api/v1/call-drops?from=2020-01-01&to=2020-01-02"),
        &token,
    )
    .await;
    assert_eq!(v["call_drops"], json!([]));
    let (code, body) = get(&format!("{url}/api/v1/call-drops?kind=isp"), &token).await;
    assert_eq!(code, 400);
    assert!(body.contains("home_network"), "{body}");
    let (code, _) = get(&format!("{url}/api/v1/call-drops"), "sr_tok_wrong").await;
    assert_eq!(code, 401);

    // The CSV: the same two, the note quoted as one field.
    let (code, csv) = get(&format!("{url}/api/v1/call-drops.csv"), &token).await;
    assert_eq!(code, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "agent_id,hostname,site,at,received_at,verdict_kind,verdict,note,id"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].contains(&format!("\"{wifi_want}\"")), "{csv}");
    assert!(
        lines[1].contains("\"Customer cut off <script>alert(1)</script> & \"\"dead air\"\"\""),
        "{csv}"
    );
    assert!(lines[2].contains("beyond_home"), "{csv}");

    // The pages: the verdicts in words (after their kind's word, not repeating it), the note
    // escaped.
    let wifi_shown = wifi_want.strip_prefix("home network: ").unwrap();
    let loss_shown = loss_want.strip_prefix("beyond the home: ").unwrap();
    let (code, page) = get(&format!("{url}/call-drops"), &token).await;
    assert_eq!(code, 200);
    assert!(
        page.contains(&format!("<strong>Home network:</strong> {wifi_shown}")),
        "{page}"
    );
    assert!(page.contains(&format!("<strong>Beyond the home:</strong> {loss_shown}")));
    assert!(!page.contains("<script>alert(1)"), "the note is escaped");
    assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(
        page.contains("<a href=\"/call-drops\">Call drops</a>"),
        "the nav link"
    );
    let (_, page) = get(&format!("{url}/call-drops?kind=home_network"), &token).await;
    assert!(page.contains(wifi_shown) && !page.contains(loss_shown));
    let (code, agent) = get(&format!("{url}/agents/{id}"), &token).await;
    assert_eq!(code, 200);
    assert!(agent.contains("Dropped calls"), "{agent}");
    assert!(agent.contains(wifi_shown) && agent.contains(loss_shown));
    assert!(!agent.contains("<script>alert(1)"));
    assert_eq!(
        agent.matches("class=\"strip\"").count(),
        2,
        "one strip each"
    );

    // Kept as long as reports (90 days by default): a sweep 89 days on keeps both, one 91
    // days on deletes both events and both rows.
    let hq_db = shiftready_hq::db::Db::connect(&db).await.unwrap();
    let day = 86_400_000;
    let keep = shiftready_hq::db::Retention::default();
    let t = shiftready_hq::db::now_ms();
    let p = hq_db.prune_retention(t + 89 * day, &keep).await.unwrap();
    assert_eq!(p.call_drops, 0, "{p:?}");
    let p = hq_db.prune_retention(t + 91 * day, &keep).await.unwrap();
    assert_eq!(p.call_drops, 4, "2 events and 2 rows: {p:?}");
    let v = common::get_json(&format!("{url}/api/v1/call-drops"), &token).await;
    assert_eq!(v["call_drops"], json!([]));
}

both_urls!(the_verdict_reaches_the_api_the_csv_and_the_pages);

/// Drops across three agents, looked at in a real browser at 1400 and 400 px: nothing wider
/// than the window, the counts and verdicts as text; screenshots to look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_drop_pages_in_a_real_browser() {
    if cdp::no_browser("call_drop_pages_in_a_real_browser") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hq.db").display());
    let (server, _token, secret) = hq(&db);
    let url = server.url.clone();
    let now = Utc::now();
    let (id0, key0) = enroll(
        &url,
        &secret,
        "reception-desk-workstation-with-a-long-name-01",
    )
    .await;
    let (_, key1) = enroll(&url, &secret, "ws-02").await;
    let (_, key2) = enroll(&url, &secret, "ws-03").await;
    let long_note = "The customer said my voice kept cutting out and then the line went dead; \
                     this is the third time today, each time right after the kettle. \
                     https://example.invalid/a-very-long-unbroken-address-that-could-overflow";
    let min = |m: i64| now - chrono::Duration::minutes(m);
    let (a, _) = wifi_lost(min(2), long_note);
    let (b, _) = headset_gone(min(40), "headset cable came out");
    let (c, _) = upstream_loss(min(5), "");
    let (d, _) = wifi_lost(min(90), "<b>bold?</b>");
    for (key, events) in [
        (&key0, vec![event(min(2), &a), event(min(40), &b)]),
        (&key1, vec![event(min(5), &c)]),
        (&key2, vec![event(min(90), &d)]),
    ] {
        let r = post_events(&url, key, json!(events)).await;
        assert_eq!(r.status(), 200);
    }
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let taken = tokio::task::spawn_blocking(move || {
        let mut b = cdp::Cdp::start(profile.path());
        b.sign_in(&url, "it-viewer", PASSWORD);
        let mut taken = Vec::new();
        for (page, name, section) in [
            (format!("{url}/call-drops"), "drops-fleet", None),
            (format!("{url}/agents/{id0}"), "drops-agent", Some("#drops")),
        ] {
            b.go(&page);
            for (width, mobile) in [(1400, false), (400, true)] {
                b.set_width(width, mobile);
                let sw = b.scroll_width();
                assert!(sw <= width as u64, "{name} at {width} px is {sw} px wide");
                let png = shots.join(format!("{name}-{width}.png"));
                b.screenshot(&png, None);
                taken.push(png);
                if section.is_some() {
                    let png = shots.join(format!("{name}-section-{width}.png"));
                    b.screenshot(&png, Some("section[aria-labelledby=drops]"));
                    taken.push(png);
                }
            }
        }
        // What a person reads on the fleet's list: the counts per kind, as words and numbers.
        b.go(&format!("{url}/call-drops"));
        let counts = b.eval("document.getElementById('drop-counts').innerText");
        let counts = counts.as_str().unwrap().replace('\n', " ");
        assert!(counts.contains("4 All drops"), "{counts}");
        assert!(counts.contains("2 Home network"), "{counts}");
        assert!(counts.contains("1 Beyond the home"), "{counts}");
        assert!(counts.contains("1 Headset"), "{counts}");
        // The strips are drawn: on the agent page, two drops with five rows each.
        b.go(&format!("{url}/agents/{id0}"));
        let rows = b.eval("document.querySelectorAll('#drops ~ ol .strip svg').length");
        assert_eq!(rows, json!(10), "two strips of five rows");
        taken
    })
    .await
    .unwrap();
    for p in &taken {
        assert!(
            std::fs::metadata(p).unwrap().len() > 1000,
            "{}",
            p.display()
        );
    }
    println!("screenshots: {taken:?}");
}
