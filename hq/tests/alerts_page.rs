//! The alert history page `/alerts` in a real headless Chromium (driven over the DevTools
//! protocol): alerts raised by the real HQ from posted events, with their deliveries (one
//! receiver refusing), at a desk width and at 400 px (nothing wider than the screen);
//! screenshots into `target/screenshots/alerts*.png`. Skipped (with a SKIPPED line) when
//! `/usr/bin/chromium` is missing, unless `SHIFTREADY_REQUIRE_BROWSER=1`.

mod common;
mod connectors_common;

use chrono::Utc;
use common::{HQ, hq_cmd, last_line};
use connectors_common::*;
use serde_json::{Value, json};
use shiftready_testkit::hq::Server;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "correct horse battery staple";

fn ev(kind: &str, extra: Value) -> Value {
    let mut v =
        json!({"id": uuid::Uuid::new_v4(), "at": Utc::now(), "sent_at": Utc::now(), "kind": kind});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// Serves a page that signs in to HQ by posting its login form, then goes on to `next`.
async fn login_helper(hq: &str, next: &str) -> String {
    let page = format!(
        "<!DOCTYPE html><html><body><form id=\"f\" method=\"post\" action=\"{hq}/login\">\
         <input name=\"user\" value=\"it-viewer\"><input name=\"password\" value=\"{PASSWORD}\">\
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
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/")
}

/// Chromium over the DevTools protocol through `--remote-debugging-pipe` (NUL-separated JSON
/// on file descriptors 3 and 4, two FIFOs here).
struct Cdp {
    child: std::process::Child,
    to: std::fs::File,
    from: std::io::BufReader<std::fs::File>,
    next: u64,
    session: Option<String>,
}

impl Cdp {
    fn start(profile: &Path) -> Cdp {
        let dir = profile.join("pipes");
        std::fs::create_dir_all(&dir).unwrap();
        let (inp, out) = (dir.join("in"), dir.join("out"));
        for p in [&inp, &out] {
            assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
        }
        let child = Command::new("bash")
            .arg("-c")
            .arg("exec \"$0\" \"${@:3}\" 3<\"$1\" 4>\"$2\"")
            .arg(CHROMIUM)
            .arg(&inp)
            .arg(&out)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
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
            assert!(
                self.from.read_until(0, &mut buf).unwrap() > 0,
                "chromium closed the pipe"
            );
            buf.pop();
            let v: Value = serde_json::from_slice(&buf).unwrap();
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn open(&mut self, url: &str) {
        let t = self.call("Target.createTarget", json!({"url": url}));
        let s = self.call(
            "Target.attachToTarget",
            json!({"targetId": t["targetId"], "flatten": true}),
        );
        self.session = Some(s["sessionId"].as_str().unwrap().to_string());
    }

    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    fn wait_true(&mut self, what: &str, js: &str) {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while self.eval(js) != json!(true) {
            if std::time::Instant::now() > until {
                let html = self.eval("document.documentElement.outerHTML");
                panic!("timed out waiting for {what}; the page:\n{html}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn set_width(&mut self, width: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    fn screenshot_full(&mut self, path: &Path) {
        use base64::Engine;
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_history_page_in_a_real_browser() {
    if !Path::new(CHROMIUM).exists() {
        if std::env::var("SHIFTREADY_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("SHIFTREADY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing");
        }
        println!("SKIPPED alert_history_page_in_a_real_browser: {CHROMIUM} is not installed");
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
    let helper = login_helper(&url, "/alerts").await;
    let profile = tempfile::tempdir().unwrap();
    let taken = tokio::task::spawn_blocking(move || {
        let mut b = Cdp::start(profile.path());
        b.open(&helper);
        b.wait_true(
            "the alert page",
            "location.pathname === '/alerts' && document.readyState === 'complete'",
        );
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
        // The header links to the page.
        assert_eq!(
            b.eval("[...document.querySelectorAll('nav.main a')].some(a => a.getAttribute('href') === '/alerts')"),
            json!(true)
        );
        let mut taken = Vec::new();
        for (width, mobile, name) in [(1400, false, "alerts.png"), (400, true, "alerts-400.png")] {
            b.set_width(width, mobile);
            b.wait_true("the layout", &format!("window.innerWidth === {width}"));
            let sw = b.eval("document.documentElement.scrollWidth");
            assert!(
                sw.as_u64().unwrap() <= width as u64,
                "/alerts at {width} px is {sw} px wide"
            );
            let png = shots.join(name);
            b.screenshot_full(&png);
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
