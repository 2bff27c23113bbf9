//! "Run the check now" (issue 13) with the real daemon and the real `shiftready-hq`: an admin
//! asks on the dashboard (signed in, the form's CSRF token, `confirm=yes`), HQ hands the
//! request to the daemon in the answer to its next events POST, the daemon runs its full check
//! and sends the report, and HQ drops the request when the report arrives. The agent is
//! signed in (a signed-out daemon sends no heartbeats: it hears of the request only with its
//! next events, see the report of issue 13).

mod daemon_common;

use daemon_common::{Agent, AgentExt, Hq};
use std::time::{Duration, Instant};

const POLICY: &str = "heartbeat_seconds = 5\nlost_contact_after_missed = 100";
const PASSWORD: &str = "admin password 42";
const FORM: &str = "application/x-www-form-urlencoded";

/// How many reports HQ holds from the device, and whether a check request waits for it.
fn at_hq(hq: &Hq, device: &str) -> (i64, i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&hq.db_path)
            .read_only(true);
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        let reports: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE device_id = ? AND kind = 'report'",
        )
        .bind(device)
        .fetch_one(&mut c)
        .await
        .unwrap();
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM check_requests WHERE device_id = ?")
                .bind(device)
                .fetch_one(&mut c)
                .await
                .unwrap();
        let _ = c.close().await;
        (reports, pending)
    })
}

/// The dashboard as an admin: signs in, reads the check page's CSRF token, posts the form.
/// Returns the check page after the request and the session cookie.
async fn ask_for_the_check(url: &str, device: &str) -> (String, String) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(format!("{url}/login"))
        .header("content-type", FORM)
        .body(format!(
            "user=it-admin&password={}&next=%2F",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sr_session="))
        .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers()))
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = format!("{url}/agents/{device}/check");
    let html = c
        .get(&page)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No check is waiting"), "{html}");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no csrf field: {html}"))
        .to_string();
    // Without the token: refused, nothing asked.
    let r = c
        .post(&page)
        .header("cookie", &cookie)
        .header("content-type", FORM)
        .body("confirm=yes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(&page)
        .header("cookie", &cookie)
        .header("content-type", FORM)
        .body(format!("csrf={csrf}&confirm=yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    (check_page(url, device, &cookie).await, cookie)
}

async fn check_page(url: &str, device: &str, cookie: &str) -> String {
    reqwest::Client::new()
        .get(format!("{url}/agents/{device}/check"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn run_the_check_now_from_the_dashboard_reaches_the_daemon_and_the_report_comes_back() {
    let hq = Hq::start(POLICY);
    let (code, _, err) = shiftready_testkit::hq::admin(
        &shiftready_testkit::hq::bin(),
        &hq.db_url,
        Some(hq.dir.path()),
        &["user", "add", "it-admin", "--role", "admin"],
        Some(PASSWORD),
    );
    assert_eq!(code, 0, "{err}");
    let mut a = Agent::new("", "");
    let device = a.enroll(&hq);
    a.start();
    // Signed in, the daemon talks to HQ at every heartbeat (every 5 s here).
    a.wait_for("the daemon", Duration::from_secs(15), |s| {
        s["hq"].is_string()
    });
    assert!(a.cli(&["sign-in"]).status.success());
    a.wait_for("HQ connected", Duration::from_secs(15), |s| {
        s["hq"] == "connected" && s["spool_events"] == 0
    });
    // Settled: whatever the daemon checks on its own at start has reached HQ.
    std::thread::sleep(Duration::from_secs(3));
    let (before, pending) = at_hq(&hq, &device);
    assert_eq!(pending, 0);
    let asked = std::time::SystemTime::now();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (html, cookie) = rt.block_on(ask_for_the_check(&hq.url, &device));
    assert!(html.contains("Check requested at"), "{html}");
    assert!(
        !html.contains("id=\"confirm\""),
        "no second button while one waits: {html}"
    );

    // The daemon runs the check at its next contact; the report arrives and the request goes.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let (reports, pending) = at_hq(&hq, &device);
        if reports > before && pending == 0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "no fresh report at HQ after 30 s (reports {reports}, before {before}, pending {pending}); daemon log:\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "the requested report arrived {:.1} s after the request",
        asked.elapsed().unwrap().as_secs_f64()
    );
    let logs = a.logs();
    assert_eq!(
        logs.matches("IT asked through HQ for the check now")
            .count(),
        1,
        "acted on once:\n{logs}"
    );
    // Later answers carry no request: no second check for it.
    std::thread::sleep(Duration::from_secs(5));
    let (after, pending) = at_hq(&hq, &device);
    assert_eq!((after, pending), (before + 1, 0), "{}", a.logs());
    // The page no longer says a check waits, and offers the button again.
    let html = rt.block_on(check_page(&hq.url, &device, &cookie));
    assert!(html.contains("No check is waiting"), "{html}");
    assert!(html.contains("id=\"confirm\""), "{html}");
    assert!(a.signal("-TERM").success());
}
