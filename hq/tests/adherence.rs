//! Adherence (API and CSV) and `/metrics` (build info, per-site counts, the token), against
//! the real `shiftready-hq serve` on SQLite and on PostgreSQL. The expected minutes are worked
//! out by hand from the timelines below.

mod common;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::{Server, TestDb, client, hq_cmd};
use proto::event::{Event, EventBody, IncidentState, ShiftReason};
use proto::{CheckResult, Readiness, Report, Status};
use serde_json::{Value, json};
use shiftready_hq::db::Role;
use std::collections::BTreeMap;

fn report(ok: bool, at: DateTime<Utc>) -> Event {
    let mut checks = BTreeMap::new();
    checks.insert(
        "headset".to_string(),
        if ok {
            CheckResult::new(Status::Pass, "")
        } else {
            CheckResult::new(Status::Fail, "plug in your headset")
        },
    );
    let mut r = Report::new(checks);
    r.taken_at = Some(at);
    event(at, EventBody::Report { report: r })
}

fn event(at: DateTime<Utc>, body: EventBody) -> Event {
    Event {
        id: uuid::Uuid::new_v4(),
        at,
        sent_at: None,
        body,
    }
}

fn sign(at: DateTime<Utc>, signed_in: bool, reason: ShiftReason) -> Event {
    let readiness = Readiness::Ready;
    event(
        at,
        if signed_in {
            EventBody::SignIn { reason, readiness }
        } else {
            EventBody::SignOut { reason, readiness }
        },
    )
}

fn incident(at: DateTime<Utc>, name: &str, open: bool) -> Event {
    event(
        at,
        EventBody::Incident {
            name: name.into(),
            state: if open {
                IncidentState::Started
            } else {
                IncidentState::Ended
            },
            detail: String::new(),
            scope: None,
        },
    )
}

async fn post_events(url: &str, key: &str, events: &[Event]) {
    let r = client()
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(key)
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{v}");
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "stored"),
        "{v}"
    );
}

/// `POST /api/v1/schedules` as an admin.
async fn schedule(url: &str, admin: &str, shifts: &[Value]) {
    let r = client()
        .post(format!("{url}/api/v1/schedules"))
        .bearer_auth(admin)
        .json(&json!({ "shifts": shifts }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = client().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn adherence_api_and_csv(t: TestDb) {
    let db = &t.db;
    db.ensure_site("main").await.unwrap();
    db.ensure_site("north").await.unwrap();
    let (late_id, late_key) = db.enroll_device("main", "ws-late", "", "").await.unwrap();
    let (gap_id, gap_key) = db.enroll_device("main", "ws-gap", "", "").await.unwrap();
    let (_absent_id, _) = db
        .enroll_device("north", "ws-absent", "", "")
        .await
        .unwrap();
    let admin = db.create_token(Role::Admin).await.unwrap();
    let viewer = db.create_token(Role::Viewer).await.unwrap();
    let server = Server::start(&t.url, &[]);
    let url = &server.url;

    // The day before yesterday 22:00 to yesterday 06:00 UTC (across midnight), and an upcoming
    // shift tomorrow 06:00 to 14:00.
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let start = today - Duration::hours(26);
    let end = start + Duration::hours(8);
    let (next_start, next_end) = (today + Duration::hours(30), today + Duration::hours(38));
    let m = |min: i64| start + Duration::minutes(min);
    let shifts: Vec<Value> = ["ws-late", "ws-gap", "ws-absent"]
        .iter()
        .map(|a| json!({"agent": a, "start": rfc(start), "end": rfc(end)}))
        .chain([json!({"agent": "ws-late", "start": rfc(next_start),
            "end": rfc(next_end)})])
        .collect();
    schedule(url, &admin, &shifts).await;

    // ws-late: a ready report before the shift; signs in 7 min late; a failing report at 60
    // and a passing one at 90 (30 min not ready); a headset_gone incident 200..215 (15 more);
    // signs out 30 min before the end.
    post_events(
        url,
        &late_key,
        &[
            report(true, m(-30)),
            sign(m(7), true, ShiftReason::Auto),
            report(false, m(60)),
            report(true, m(90)),
            incident(m(200), "headset_gone", true),
            incident(m(215), "headset_gone", false),
            sign(m(450), false, ShiftReason::Manual),
        ],
    )
    .await;
    // ws-gap: signed in before the shift; HQ signs it out for lost contact and in again when
    // contact is restored (a 20-minute gap); still signed in after the end.
    post_events(url, &gap_key, &[sign(m(-15), true, ShiftReason::Manual)]).await;
    for (min, kind, reason) in [
        (100, "sign_out", "lost_contact"),
        (120, "sign_in", "contact_restored"),
    ] {
        sqlx::query(
            "INSERT INTO shift_log (device_id, kind, reason, at, readiness, received_at, flags) \
             VALUES ($1, $2, $3, $4, 'ready', $4, '')",
        )
        .bind(&gap_id)
        .bind(kind)
        .bind(reason)
        .bind(m(min).timestamp_millis())
        .execute(&db.pool)
        .await
        .unwrap();
    }

    // Dates are accepted as dates: yesterday through tomorrow covers all four shifts.
    let yesterday = (today - Duration::days(2)).format("%Y-%m-%d").to_string();
    let tomorrow = (today + Duration::days(1)).format("%Y-%m-%d").to_string();
    let q = format!("from={yesterday}&to={tomorrow}");
    let (code, body) = get(&format!("{url}/api/v1/adherence?{q}"), Some(&viewer)).await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let rows = v["shifts"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{v:#}");
    let row = |host: &str, s: DateTime<Utc>| {
        rows.iter()
            .find(|r| r["hostname"] == host && r["start"] == rfc(s))
            .unwrap_or_else(|| panic!("no {host} row in {v:#}"))
            .clone()
    };
    let late = row("ws-late", start);
    assert_eq!(late["agent_id"], late_id.as_str());
    assert_eq!(late["phase"], "ended");
    assert_eq!(late["late_minutes"], 7, "{late}");
    assert_eq!(late["early_leave_minutes"], 30, "{late}");
    assert_eq!(late["signed_in_minutes"], 443, "{late}");
    assert_eq!(late["not_ready_minutes"], 45, "{late}");
    assert_eq!(late["no_show"], false);
    assert_eq!(late["first_sign_in"], rfc(m(7)));
    assert_eq!(late["last_sign_out"], rfc(m(450)));
    let gap = row("ws-gap", start);
    assert_eq!(gap["late_minutes"], 0, "{gap}");
    assert_eq!(gap["early_leave_minutes"], 0, "{gap}");
    assert_eq!(gap["signed_in_minutes"], 460, "{gap}");
    assert_eq!(gap["not_ready_minutes"], 0, "{gap}");
    let absent = row("ws-absent", start);
    assert_eq!(absent["no_show"], true, "{absent}");
    assert_eq!(absent["site"], "north");
    assert_eq!(absent["signed_in_minutes"], 0);
    assert_eq!(
        absent["late_minutes"],
        Value::Null,
        "a no-show is not also late"
    );
    let upcoming = row("ws-late", next_start);
    assert_eq!(upcoming["phase"], "upcoming");
    assert_eq!(upcoming["late_minutes"], Value::Null);
    assert_eq!(upcoming["no_show"], false);

    // Filters: a site, an agent by hostname; an unknown agent is a 404, a bad date a 400.
    let (_, body) = get(
        &format!("{url}/api/v1/adherence?{q}&site=north"),
        Some(&viewer),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let hosts: Vec<&str> = v["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["ws-absent"]);
    let (_, body) = get(
        &format!("{url}/api/v1/adherence?{q}&agent=ws-late"),
        Some(&viewer),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["shifts"].as_array().unwrap().len(), 2, "{v}");
    let (code, body) = get(
        &format!("{url}/api/v1/adherence?agent=nobody"),
        Some(&viewer),
    )
    .await;
    assert_eq!(code, 404, "{body}");
    assert!(
        body.contains("no enrolled agent has the id or hostname 'nobody'"),
        "{body}"
    );
    let (code, body) = get(
        &format!("{url}/api/v1/adherence?from=yesterday"),
        Some(&viewer),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("must be a date like 2026-12-01"), "{body}");
    // A range without the shifts' start has none of them.
    let (_, body) = get(
        &format!("{url}/api/v1/adherence?from={tomorrow}&to={tomorrow}"),
        Some(&viewer),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["shifts"].as_array().unwrap().len(), 1, "{v}");

    // The same auth as the other IT endpoints.
    for path in ["/api/v1/adherence", "/api/v1/adherence.csv"] {
        let (code, body) = get(&format!("{url}{path}"), None).await;
        assert_eq!(code, 401, "{path}: {body}");
        let (code, _) = get(&format!("{url}{path}"), Some("sr_tok_not-a-token")).await;
        assert_eq!(code, 401, "{path}");
    }

    // CSV: a header and one line per shift, the same numbers.
    let r = client()
        .get(format!("{url}/api/v1/adherence.csv?{q}&agent=ws-late"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "agent_id,hostname,site,start,end,phase,first_sign_in,last_sign_out,scheduled_minutes,\
         signed_in_minutes,late_minutes,early_leave_minutes,no_show,not_ready_minutes"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(
        lines[1],
        format!(
            "\"{late_id}\",\"ws-late\",\"main\",{},{},ended,{},{},480,443,7,30,false,45",
            rfc(start),
            rfc(end),
            rfc(m(7)),
            rfc(m(450))
        )
    );
    assert!(
        lines[2].ends_with(",upcoming,,,480,0,,,false,0"),
        "{}",
        lines[2]
    );
    drop(server);
}

async fn metrics_build_info_sites_and_token(t: TestDb) {
    let db = &t.db;
    db.ensure_site("main").await.unwrap();
    db.ensure_site("north").await.unwrap();
    let (_, key) = db.enroll_device("north", "ws-n1", "", "").await.unwrap();
    db.enroll_device("north", "ws-n2", "", "").await.unwrap();

    // Open without the flag: build info with this version, per-site counts (0s included).
    {
        let server = Server::start(&t.url, &[]);
        post_events(
            &server.url,
            &key,
            &[report(false, Utc::now() - Duration::seconds(5))],
        )
        .await;
        let (code, m) = get(&format!("{}/metrics", server.url), None).await;
        assert_eq!(code, 200, "{m}");
        assert!(
            m.contains(&format!(
                "shiftready_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{m}"
        );
        for line in [
            // ws-n1 reported but never signed in: on and waiting for a shift (issue 15).
            "shiftready_site_agents{site=\"north\",state=\"idle\"} 1",
            "shiftready_site_agents{site=\"north\",state=\"not_ready\"} 0",
            "shiftready_site_agents{site=\"north\",state=\"offline\"} 1",
            "shiftready_site_agents{site=\"north\",state=\"ready\"} 0",
            "shiftready_site_agents{site=\"main\",state=\"offline\"} 0",
            "shiftready_agents{state=\"idle\"} 1",
        ] {
            assert!(m.contains(line), "{line} missing from\n{m}");
        }
    }

    // With a token file: 401 without or with a wrong token, 200 with it.
    let dir = tempfile::tempdir().unwrap();
    let token = "metrics-token-0123456789abcdef";
    let file = dir.path().join("metrics.token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let server = Server::start(&t.url, &["--metrics-token-file", file.to_str().unwrap()]);
    let murl = format!("{}/metrics", server.url);
    let (code, body) = get(&murl, None).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("metrics token"), "{body}");
    assert!(!body.contains(token));
    let (code, _) = get(&murl, Some("metrics-token-0123456789abcdeX")).await;
    assert_eq!(code, 401);
    let (code, m) = get(&murl, Some(token)).await;
    assert_eq!(code, 200);
    assert!(m.contains("shiftready_build_info"), "{m}");
    // The rest of HQ is not behind the metrics token.
    let (code, _) = get(&format!("{}/healthz", server.url), None).await;
    assert_eq!(code, 200);
    drop(server);

    // A short token, or a missing file, stops serve with a message naming the file.
    let short = dir.path().join("short.token");
    std::fs::write(&short, "abc\n").unwrap();
    for (path, says) in [
        (short.clone(), "at least 16 characters"),
        (dir.path().join("missing.token"), "missing.token"),
    ] {
        let (code, _, err) = hq_cmd(
            &t.url,
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--probe-listen",
                "off",
                "--metrics-token-file",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(code, 64, "{err}");
        assert!(err.contains("--metrics-token-file"), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

both!(adherence_api_and_csv, metrics_build_info_sites_and_token);

// ---- the pages, in a real browser ----

const CHROMIUM: &str = "/usr/bin/chromium";

/// A page on another loopback port that signs in to HQ by posting its login form, so the
/// browser then carries the session cookie to `next`.
async fn login_page(hq: &str, next: &str, user: &str, password: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let page = format!(
        "<!DOCTYPE html><html><body><form id=\"f\" method=\"post\" action=\"{hq}/login\">\
         <input name=\"user\" value=\"{user}\"><input name=\"password\" value=\"{password}\">\
         <input name=\"next\" value=\"{next}\"></form>\
         <script>document.getElementById('f').submit()</script></body></html>"
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/")
}

/// Runs headless Chromium on `url` with `args` (a fresh profile each time); its stdout.
fn chromium(args: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `/shifts` and `/adherence` as a viewer sees them: the DOM (filters, flags in words, the
/// numbers) and screenshots at 1400 and 400 px in `target/screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_pages_in_a_real_browser() {
    if !std::path::Path::new(CHROMIUM).exists() {
        if std::env::var("SHIFTREADY_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("SHIFTREADY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing");
        }
        println!("SKIPPED shift_pages_in_a_real_browser: {CHROMIUM} is not installed");
        return;
    }
    let t = common::sqlite().await;
    let db = &t.db;
    db.ensure_site("main").await.unwrap();
    db.ensure_site("north").await.unwrap();
    let password = "viewer password 42";
    db.add_user("it-viewer", password, Role::Viewer)
        .await
        .unwrap();
    let admin = db.create_token(Role::Admin).await.unwrap();
    let mut keys = Vec::new();
    for (host, site) in [
        ("reception-desk-workstation-with-a-long-name-01", "main"),
        ("ws-02", "main"),
        ("ws-03", "north"),
    ] {
        keys.push(db.enroll_device(site, host, "", "").await.unwrap());
    }
    let server = Server::start(&t.url, &[]);
    let url = server.url.clone();
    // Whole minutes: the schedule is stored to the second.
    let start = Utc::now().duration_trunc(Duration::minutes(1)).unwrap() - Duration::hours(9);
    let end = start + Duration::hours(8);
    let m = |min: i64| start + Duration::minutes(min);
    let shifts: Vec<Value> = [
        "reception-desk-workstation-with-a-long-name-01",
        "ws-02",
        "ws-03",
    ]
    .iter()
    .map(|a| json!({"agent": a, "start": rfc(start), "end": rfc(end)}))
    .collect();
    schedule(&url, &admin, &shifts).await;
    post_events(
        &url,
        &keys[0].1,
        &[
            sign(m(12), true, ShiftReason::Auto),
            report(false, m(30)),
            report(true, m(55)),
            sign(m(420), false, ShiftReason::Manual),
        ],
    )
    .await;
    post_events(
        &url,
        &keys[1].1,
        &[
            sign(m(-5), true, ShiftReason::Auto),
            sign(m(480), false, ShiftReason::Auto),
            // Dated before the previous shift event: HQ flags it out of order.
            sign(m(300), true, ShiftReason::Manual),
        ],
    )
    .await;

    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut taken = Vec::new();
    for (page, expect) in [
        (
            "/shifts",
            vec![
                "Shift log",
                "out of order",
                "By the agent",
                "Received by HQ",
            ],
        ),
        (
            "/adherence",
            vec![
                "Adherence",
                "No-show: never signed in",
                "12 min",
                "60 min",
                "25 min",
            ],
        ),
    ] {
        let helper = login_page(&url, page, "it-viewer", password).await;
        let dom = tokio::task::spawn_blocking({
            let helper = helper.clone();
            move || chromium(&["--dump-dom".to_string()], &helper)
        })
        .await
        .unwrap();
        for e in &expect {
            assert!(dom.contains(e), "{page}: '{e}' missing from\n{dom}");
        }
        for width in [1400, 400] {
            let png = shots.join(format!("shifts-page{}-{width}.png", page.replace('/', "-")));
            let args = vec![
                format!("--screenshot={}", png.display()),
                format!("--window-size={width},1400"),
            ];
            let helper = login_page(&url, page, "it-viewer", password).await;
            tokio::task::spawn_blocking(move || chromium(&args, &helper))
                .await
                .unwrap();
            assert!(
                std::fs::metadata(&png).unwrap().len() > 10_000,
                "{page} screenshot"
            );
            taken.push(png);
        }
    }
    println!("screenshots: {taken:?}");
    drop(server);
}
