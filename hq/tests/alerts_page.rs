//! The alert history page `/alerts` in a real headless Chromium (driven over the DevTools
//! protocol): alerts raised by the real HQ from posted events, with their deliveries (one
//! receiver refusing), at a desk width and at 400 px (nothing wider than the screen);
//! screenshots into `target/screenshots/alerts*.png`. Skipped (with a SKIPPED line) when
//! `/usr/bin/chromium` is missing, unless `SHIFTREADY_REQUIRE_BROWSER=1`.

#[path = "common/cdp.rs"]
mod cdp;
mod common;
mod connectors_common;

use cdp::Cdp;
use chrono::Utc;
use common::{HQ, hq_cmd, last_line};
use connectors_common::*;
use serde_json::{Value, json};
use shiftready_testkit::hq::Server;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";

fn ev(kind: &str, extra: Value) -> Value {
    let mut v =
        json!({"id": uuid::Uuid::new_v4(), "at": Utc::now(), "sent_at": Utc::now(), "kind": kind});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_history_page_in_a_real_browser() {
    if cdp::no_browser("alert_history_page_in_a_real_browser") {
        return;
    }
    let rx = MockPlatform::start(|s, _| Reply {
        status: if s.path == "/gone" { 404 } else { 204 },
        headers: vec![("content-type", "text/plain".into())],
        body: if s.path == "/gone" {
            "no_service".into()
        } else {
            String::new()
        },
        delay: Duration::ZERO,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hq.db").display());
    let secret = last_line(&hq_cmd(&db, &["enroll-secret", "create", "--site", "main"], None).1);
    assert_eq!(
        hq_cmd(
            &db,
            &["user", "add", "it-viewer", "--role", "viewer"],
            Some(PASSWORD)
        )
        .0,
        0
    );
    let hook_secret = secret_file(dir.path(), "hook.secret", "whsec_page");
    let toml = format!(
        "[rules.incident_open]\nminutes = 0.02\n\
         [[receivers]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"{url}/hook\"\nsecret_file = \"{}\"\n\
         [[receivers]]\nname = \"old-slack\"\nkind = \"slack\"\nurl = \"{url}/gone\"\n",
        hook_secret.display(),
        url = rx.url()
    );
    let (code, out, err) = with_file(
        &db,
        dir.path(),
        "alerts.toml",
        &toml,
        &["alert", "set", "--site", "main"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let server = Server::start(
        Path::new(HQ),
        &db,
        dir.path(),
        "127.0.0.1:0",
        &["--sweep-seconds", "0.2"],
        &dir.path().join("hq.log"),
    );
    let url = server.url.clone();
    let mut keys = Vec::new();
    for host in ["agent-desk-0147.example.internal", "ws-2"] {
        let r: Value = common::client()
            .post(format!("{url}/api/v1/enroll"))
            .json(&json!({"secret": secret, "hostname": host}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys.push(r["device_key"].as_str().unwrap().to_string());
    }
    let post = |key: String, events: Vec<Value>| {
        let url = url.clone();
        async move {
            let r = common::client()
                .post(format!("{url}/api/v1/events"))
                .bearer_auth(key)
                .json(&json!({ "events": events }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    let sign_in = || ev("sign_in", json!({"reason": "auto", "readiness": "ready"}));
    let inc = |name: &str, state: &str| {
        ev(
            "incident",
            json!({"name": name, "state": state, "detail": "No headset with a microphone is connected"}),
        )
    };
    post(
        keys[0].clone(),
        vec![sign_in(), inc("headset_gone", "started")],
    )
    .await;
    post(keys[1].clone(), vec![sign_in()]).await;
    until(20, "the first alert's messages", || rx.seen().len() >= 2).await;
    post(keys[0].clone(), vec![inc("headset_gone", "ended")]).await;
    until(20, "the resolved messages", || rx.seen().len() >= 4).await;
    post(
        keys[1].clone(),
        vec![ev("incident", json!({"name": "network_degraded", "state": "started", "detail": "12 % loss upstream", "scope": "beyond_home"}))],
    )
    .await;
    let t0 = std::time::Instant::now();
    while rx.seen().len() < 6 {
        assert!(t0.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let url2 = url.clone();
    let taken = tokio::task::spawn_blocking(move || {
        let mut b = Cdp::start(profile.path());
        b.sign_in(&url2, "it-viewer", PASSWORD);
        b.go(&format!("{url2}/alerts"));
        let text = b.eval("document.body.innerText").as_str().unwrap().to_string();
        for want in [
            "Alerts",
            "agent-desk-0147.example.internal: headset_gone open since",
            "ws-2: network_degraded open since",
            "Where: beyond the home",
            "Resolved",
            "firing → ops-hook (webhook): sent",
            "resolved → ops-hook (webhook): sent",
            "FAILED: Slack refused the message (HTTP 404)",
            "1 open now",
        ] {
            assert!(text.contains(want), "{want:?} not on the page:\n{text}");
        }
        // Each failure sits on the line of the receiver that failed (found in review: one
        // "(a message failed)" after the last line, read as that receiver's failure).
        assert!(!text.contains("(a message failed)"), "{text}");
        let marked = b.eval(
            "[...document.querySelectorAll('#alerts ul.deliveries li.error')].map(li => li.innerText)",
        );
        let marked: Vec<&str> = marked
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(marked.len(), 3, "old-slack: two messages of the first alert, one of the second: {marked:?}");
        for m in &marked {
            assert!(
                m.contains("→ old-slack (slack): FAILED: Slack refused the message (HTTP 404)"),
                "{m}"
            );
        }
        let unmarked = b.eval(
            "[...document.querySelectorAll('#alerts ul.deliveries li:not(.error)')].map(li => li.innerText)",
        );
        let unmarked = unmarked.as_array().unwrap();
        assert_eq!(unmarked.len(), 3, "{unmarked:?}");
        for m in unmarked {
            let m = m.as_str().unwrap();
            assert!(m.contains("ops-hook (webhook): sent") && !m.contains("FAILED"), "{m}");
        }
        // The header links to the page.
        assert_eq!(
            b.eval("[...document.querySelectorAll('nav.main a')].some(a => a.getAttribute('href') === '/alerts')"),
            json!(true)
        );
        let mut taken = Vec::new();
        for (width, mobile, name) in [(1400, false, "alerts.png"), (400, true, "alerts-400.png")] {
            b.set_width(width, mobile);
            let sw = b.scroll_width();
            assert!(sw <= width as u64, "/alerts at {width} px is {sw} px wide");
            let png = shots.join(name);
            b.screenshot(&png, None);
            taken.push(png);
        }
        taken
    })
    .await
    .unwrap();
    for p in &taken {
        assert!(
            std::fs::metadata(p).unwrap().len() > 10_000,
            "{}",
            p.display()
        );
    }
    println!("screenshots: {taken:?}");
}
