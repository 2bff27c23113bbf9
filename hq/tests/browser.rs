//! A real browser: headless Chromium signs in to the dashboard of the real HQ binary after a
//! simulated fleet has reported, and we assert what a person sees. Screenshots are saved under
//! the target directory (`target/tmp/dashboard-*.png`).
//!
//! Skipped (with a SKIPPED line) when `/usr/bin/chromium` is not installed, unless
//! `SHIFTREADY_REQUIRE_BROWSER=1`.

mod common;

use chrono::Utc;
use common::{Server, client, hq_cmd, last_line};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "viewer password 42";

fn report(status: [&str; 5], hints: [&str; 5], rtt: f64, mos: f64, noise: f64) -> Value {
    let names = ["os", "hardware", "network", "headset", "noise"];
    let mut checks = serde_json::Map::new();
    for i in 0..5 {
        let metrics = match names[i] {
            "network" => {
                json!({"rtt_ms_median": rtt, "jitter_up_ms": rtt / 10.0, "jitter_down_ms": rtt / 12.0, "loss_up_pct": 0.2, "loss_down_pct": 0.5, "mos": mos})
            }
            "noise" => {
                json!({"laeq_dbfs": noise, "classification": if noise > -40.0 { "voices" } else { "quiet" }})
            }
            "headset" => json!({"device": "Jabra Evolve2 40", "transport": "usb"}),
            _ => json!({}),
        };
        checks.insert(
            names[i].into(),
            json!({"status": status[i], "metrics": metrics, "hint": hints[i]}),
        );
    }
    let readiness = if status.contains(&"fail") {
        "not_ready"
    } else if status.contains(&"error") {
        "unknown"
    } else if status.contains(&"warn") {
        "degraded"
    } else {
        "ready"
    };
    json!({"schema": 1, "readiness": readiness, "checks": checks})
}

async fn send(url: &str, key: &str, events: Vec<Value>) {
    let r = client()
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(key)
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

fn ev(kind: &str, at: chrono::DateTime<Utc>, extra: Value) -> Value {
    let mut v = json!({"id": uuid::Uuid::new_v4(), "at": at, "sent_at": Utc::now(), "kind": kind});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// Serves a page that signs in to HQ by posting the login form (same site as HQ: 127.0.0.1),
/// so the browser carries the session cookie on to `next`.
async fn login_helper(hq: &str, next: &str) -> String {
    login_helper_as(hq, next, "it-viewer", PASSWORD).await
}

/// [`login_helper`] for another user.
async fn login_helper_as(hq: &str, next: &str, user: &str, password: &str) -> String {
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
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/")
}

fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(CHROMIUM)
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
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
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

fn shot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Whether the test must be skipped for want of Chromium (it says so); with
/// `SHIFTREADY_REQUIRE_BROWSER=1` a missing Chromium fails the test instead.
fn no_browser(test: &str) -> bool {
    if Path::new(CHROMIUM).exists() {
        return false;
    }
    if std::env::var("SHIFTREADY_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("SHIFTREADY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)");
    }
    println!("SKIPPED {test}: {CHROMIUM} is not installed");
    true
}

/// A fresh SQLite database in `dir` with the user `it-viewer` and an enrollment secret for the
/// site `main`: (database URL, secret).
fn hq_with_viewer(dir: &Path) -> (String, String) {
    let db = format!("sqlite://{}", dir.join("hq.db").display());
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
    (db, secret)
}

/// Enrolls `host` with `secret`: (device id, device key).
async fn enroll(url: &str, secret: &str, host: &str) -> (String, String) {
    let r: Value = client()
        .post(format!("{url}/api/v1/enroll"))
        .json(&json!({"secret": secret, "hostname": host, "os": "Debian GNU/Linux 12"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        r["device_id"].as_str().unwrap().to_string(),
        r["device_key"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    if no_browser("dashboard_in_a_real_browser") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, secret) = hq_with_viewer(dir.path());
    // A remote site with a 5 s lost-contact window, so one agent can go offline quickly.
    let remote = last_line(&hq_cmd(&db, &["enroll-secret", "create", "--site", "remote"], None).1);
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[shift]\nheartbeat_seconds = 5\nlost_contact_after_missed = 1\n",
    )
    .unwrap();
    assert_eq!(
        hq_cmd(
            &db,
            &[
                "policy",
                "set",
                "--site",
                "remote",
                policy.to_str().unwrap()
            ],
            None
        )
        .0,
        0
    );
    let server = Server::start(
        &db,
        &["--enroll-per-minute", "100", "--sweep-seconds", "0.5"],
    );
    let url = server.url.clone();

    // The fleet: 7 ready, 2 degraded, 1 not ready, 1 offline; 5 signed in (0 to 4, ready).
    let mut keys = Vec::new();
    for i in 0..11 {
        let host = match i {
            9 => "ws-notready-09".to_string(),
            10 => "ws-gone-10".to_string(),
            _ => format!("ws-{i:02}"),
        };
        keys.push(enroll(&url, if i == 10 { &remote } else { &secret }, &host).await);
    }
    // The one that goes offline signs in and reports first, then falls silent (HQ signs it
    // out for lost contact; signed out, it would be `idle` for three presence intervals).
    let pass = ["pass"; 5];
    let none = [""; 5];
    send(
        &url,
        &keys[10].1,
        vec![
            ev(
                "sign_in",
                Utc::now(),
                json!({"reason": "auto", "readiness": "ready"}),
            ),
            ev(
                "report",
                Utc::now(),
                json!({"report": report(pass, none, 30.0, 4.3, -55.0)}),
            ),
        ],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let noisy = "Background voices were heard; close the door or move to a quieter room.";
    let no_headset = "Plug in your headset and make it the default microphone.";
    for (i, (_, key)) in keys.iter().enumerate().take(10) {
        let mut events = Vec::new();
        let (st, hints) = match i {
            7 | 8 => (
                ["pass", "pass", "pass", "pass", "warn"],
                ["", "", "", "", noisy],
            ),
            9 => (
                ["pass", "pass", "warn", "fail", "pass"],
                [
                    "",
                    "",
                    "Use a wired connection to the router instead of Wi-Fi.",
                    no_headset,
                    "",
                ],
            ),
            _ => (pass, none),
        };
        // A day of reports for the charts: every 2 hours.
        for h in (0..24i32).step_by(2).rev() {
            let at = Utc::now() - chrono::Duration::hours(h.into()) - chrono::Duration::minutes(5);
            let wobble = ((h as f64) * 0.7 + i as f64).sin();
            let rtt = if i == 9 {
                180.0 + 60.0 * wobble
            } else {
                28.0 + 6.0 * wobble
            };
            let mos = if i == 9 {
                3.7 + 0.2 * wobble
            } else {
                4.35 + 0.03 * wobble
            };
            let noise = if i == 7 || i == 8 {
                -35.0 + 3.0 * wobble
            } else {
                -52.0 + 2.0 * wobble
            };
            let (s, hn) = if h == 0 { (st, hints) } else { (pass, none) };
            events.push(ev(
                "report",
                at,
                json!({"report": report(s, hn, rtt, mos, noise)}),
            ));
        }
        if i < 5 {
            events.push(ev(
                "sign_in",
                Utc::now() - chrono::Duration::hours(1),
                json!({"reason": "auto", "readiness": "ready"}),
            ));
        }
        send(&url, key, events).await;
    }
    if true {
        // ws-01 signed out earlier for a suspend, then back in: a shift log with three lines.
        let k = &keys[1].1;
        send(
            &url,
            k,
            vec![
                ev(
                    "sign_out",
                    Utc::now() - chrono::Duration::minutes(40),
                    json!({"reason": "suspend", "readiness": "ready"}),
                ),
                ev(
                    "sign_in",
                    Utc::now() - chrono::Duration::minutes(30),
                    json!({"reason": "manual", "readiness": "ready"}),
                ),
            ],
        )
        .await;
    }

    // The fleet page, signed in through the login form.
    let profile = tempfile::tempdir().unwrap();
    let helper = login_helper(&url, "/?sort=state").await;
    let dom = chromium(profile.path(), &["--dump-dom"], &helper);
    let count = |state: &str| -> String {
        let marker = format!("data-count=\"{state}\"><span class=\"n\">");
        let at = dom
            .find(&marker)
            .unwrap_or_else(|| panic!("no {state} count in:\n{dom}"))
            + marker.len();
        dom[at..].split('<').next().unwrap().to_string()
    };
    // Five are signed in (all ready); the five that reported but never signed in are on and
    // waiting for a shift: idle, whatever their readiness (issue 15).
    assert_eq!(count("ready"), "5", "{dom}");
    assert_eq!(count("degraded"), "0");
    assert_eq!(count("not_ready"), "0");
    assert_eq!(count("idle"), "5");
    assert_eq!(count("offline"), "1");
    assert_eq!(count("signed_in"), "5");
    assert_eq!(count("total"), "11");
    // Sorted worst first: the not-ready agent leads the table (idle, before its shift), with
    // what to fix.
    let first_row = dom
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        first_row.contains("ws-notready-09") && first_row.contains("Not ready"),
        "{first_row}"
    );
    assert!(first_row.contains(no_headset), "{first_row}");
    assert!(dom.contains("Signed in as it-viewer"));

    let fleet_png = shot_path("dashboard-fleet.png");
    let _ = std::fs::remove_file(&fleet_png);
    let profile2 = tempfile::tempdir().unwrap();
    chromium(
        profile2.path(),
        &[
            &format!("--screenshot={}", fleet_png.display()),
            "--window-size=1280,900",
        ],
        &helper,
    );
    assert!(
        std::fs::metadata(&fleet_png)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "a fleet screenshot"
    );

    // The not-ready agent's page: every check with its figures and hint, the charts, its log.
    let id = &keys[9].0;
    let helper = login_helper(&url, &format!("/agents/{id}")).await;
    let profile3 = tempfile::tempdir().unwrap();
    let dom = chromium(profile3.path(), &["--dump-dom"], &helper);
    assert!(dom.contains("<h1>ws-notready-09"), "{dom}");
    for check in ["os", "hardware", "network", "headset", "noise"] {
        assert!(
            dom.contains(&format!("data-check=\"{check}\"")),
            "{check} row"
        );
    }
    assert!(dom.contains(no_headset));
    assert!(dom.contains("Jabra Evolve2 40"));
    assert_eq!(dom.matches("<svg").count(), 5, "five charts");
    assert!(dom.contains("Round-trip time over the last 24 hours: 12 readings"));
    assert!(
        dom.contains("No sign-ins or sign-outs in the last 7 days."),
        "it never signed in"
    );
    let agent_png = shot_path("dashboard-agent.png");
    let _ = std::fs::remove_file(&agent_png);
    let profile4 = tempfile::tempdir().unwrap();
    chromium(
        profile4.path(),
        &[
            &format!("--screenshot={}", agent_png.display()),
            "--window-size=1280,1600",
        ],
        &helper,
    );
    assert!(
        std::fs::metadata(&agent_png)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "an agent screenshot"
    );
    println!(
        "screenshots: {} {}",
        fleet_png.display(),
        agent_png.display()
    );
}

/// Chromium driven over the DevTools protocol through `--remote-debugging-pipe` (NUL-separated
/// JSON on file descriptors 3 and 4, here two FIFOs), so the test can click like a person.
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
        // The shell opens `in` for reading first, then `out` for writing: open in that order.
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

    /// Opens `url` in a new page and talks to that page from now on.
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

    /// Waits until `js` evaluates to true in the page (it navigates between looks).
    fn wait_true(&mut self, what: &str, js: &str) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if self.eval(js) == json!(true) {
                return;
            }
            if std::time::Instant::now() > until {
                let html = self.eval("document.documentElement.outerHTML");
                panic!("timed out waiting for {what}; the page:\n{html}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Shows the page `width` CSS pixels wide, as a phone (`mobile`) or a desk screen would.
    fn set_width(&mut self, width: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    /// Goes to `url` in the current page and waits until it has loaded.
    fn go(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_true(
            url,
            &format!(
                "location.href === {} && document.readyState === 'complete'",
                json!(url)
            ),
        );
    }

    /// A screenshot of the whole page, not just the window.
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

    fn screenshot(&mut self, path: &Path) {
        use base64::Engine;
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
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

/// An admin clicks Revoke on an agent's page, confirms, and the device's key stops working;
/// a viewer is offered no such button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_revokes_a_device_in_a_real_browser() {
    if no_browser("admin_revokes_a_device_in_a_real_browser") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, secret) = hq_with_viewer(dir.path());
    let admin_pw = "admin password 42";
    assert_eq!(
        hq_cmd(
            &db,
            &["user", "add", "it-admin", "--role", "admin"],
            Some(admin_pw)
        )
        .0,
        0
    );
    let server = Server::start(&db, &[]);
    let url = server.url.clone();
    let (id, key) = enroll(&url, &secret, "ws-to-revoke").await;
    send(
        &url,
        &key,
        vec![ev(
            "heartbeat",
            Utc::now(),
            json!({"readiness": "ready", "signed_in": false}),
        )],
    )
    .await;
    let policy_status = |key: String| {
        let url = url.clone();
        async move {
            client()
                .get(format!("{url}/api/v1/policy"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(policy_status(key.clone()).await, 200);

    // A viewer sees the agent but no Revoke.
    let viewer_page = login_helper(&url, &format!("/agents/{id}")).await;
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(profile.path(), &["--dump-dom"], &viewer_page);
    assert!(dom.contains("<h1>ws-to-revoke"), "{dom}");
    assert!(!dom.contains("data-action=\"revoke\""), "{dom}");

    // The admin clicks Revoke…, reads the confirmation, clicks "Yes, revoke the key".
    let admin_page = login_helper_as(&url, &format!("/agents/{id}"), "it-admin", admin_pw).await;
    let profile = tempfile::tempdir().unwrap();
    let shot = shot_path("dashboard-revoke-confirm.png");
    let _ = std::fs::remove_file(&shot);
    let after = shot_path("dashboard-revoked.png");
    let _ = std::fs::remove_file(&after);
    let (shot2, after2, id2) = (shot.clone(), after.clone(), id.clone());
    let url2 = url.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Cdp::start(profile.path());
        b.open(&admin_page);
        let here = format!("location.href === '{url2}/agents/{id2}'");
        b.wait_true(
            "the agent's page",
            &format!("{here} && document.readyState === 'complete'"),
        );
        b.eval("document.querySelector('[data-action=\"revoke\"]').click(); true");
        b.wait_true(
            "the confirmation page",
            "location.pathname.endsWith('/revoke') && !!document.getElementById('confirm')",
        );
        let text = b.eval("document.querySelector('main').innerText");
        assert!(
            text.as_str().unwrap().contains("Revoke this device?"),
            "{text}"
        );
        b.screenshot(&shot2);
        b.eval("document.getElementById('confirm').click(); true");
        b.wait_true(
            "the agent's page saying Revoked",
            &format!("{here} && document.querySelector('h1').innerText.includes('Revoked')"),
        );
        b.screenshot(&after2);
    })
    .await
    .unwrap();
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false)
    );
    assert!(
        std::fs::metadata(&after)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false)
    );
    // The device's key no longer works.
    assert_eq!(policy_status(key).await, 401);
    println!("screenshots: {} {}", shot.display(), after.display());
}

/// The dashboard at a desk (1400 px) and on a phone (400 px): nothing wider than the screen,
/// tables as cards, the login card centred with a styled button, and the agent page leading
/// with readiness, what to fix and the headline figures. Screenshots of each page at both
/// widths go to `target/screenshots/` (issue 13: looked at, not only taken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_at_desk_and_phone_width() {
    if no_browser("dashboard_at_desk_and_phone_width") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, secret) = hq_with_viewer(dir.path());
    let server = Server::start(&db, &[]);
    let url = server.url.clone();
    let mut ids = Vec::new();
    for (i, host) in [
        "reception-desk-workstation-with-a-long-name-01",
        "ws-02",
        "ws-03",
    ]
    .iter()
    .enumerate()
    {
        let (id, key) = enroll(&url, &secret, host).await;
        ids.push(id);
        let (st, hints) = if i == 0 {
            (
                ["pass", "pass", "pass", "fail", "warn"],
                [
                    "",
                    "",
                    "",
                    "Plug in your headset and make it the default microphone in the sound settings of this computer.",
                    "Background voices were heard; close the door or move to a quieter room.",
                ],
            )
        } else {
            (["pass"; 5], [""; 5])
        };
        // Loss that never moved (0 %): the chart that once ran from -1 to 1.
        let mut rep = report(st, hints, 31.25, 4.3123, -41.0);
        rep["checks"]["network"]["metrics"]["loss_up_pct"] = json!(0.0);
        rep["checks"]["network"]["metrics"]["loss_down_pct"] = json!(0.0);
        let at = Utc::now() - chrono::Duration::minutes(5);
        send(
            &url,
            &key,
            vec![
                ev("report", at, json!({ "report": rep })),
                // A daemon that has not checked since it started: it must not hide the report.
                ev(
                    "heartbeat",
                    Utc::now(),
                    json!({"readiness": "unknown", "signed_in": true}),
                ),
            ],
        )
        .await;
    }
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let (url2, id0, shots2) = (url.clone(), ids[0].clone(), shots.clone());
    let taken = tokio::task::spawn_blocking(move || {
        let mut b = Cdp::start(profile.path());
        b.open("about:blank");
        let mut taken = Vec::new();
        let mut look = |b: &mut Cdp, name: &str| {
            for (width, mobile) in [(1400, false), (400, true)] {
                b.set_width(width, mobile);
                // Layout settles after the resize.
                b.wait_true("the layout", &format!("window.innerWidth === {width}"));
                let sw = b.eval("document.documentElement.scrollWidth");
                assert!(
                    sw.as_u64().unwrap() <= width as u64,
                    "{name} at {width} px is {sw} px wide"
                );
                let png = shots2.join(format!("{name}-{width}.png"));
                b.screenshot_full(&png);
                taken.push(png);
            }
        };
        // The login page: a centred card with a styled button.
        b.go(&format!("{url2}/login"));
        look(&mut b, "login");
        let centred = b.eval(
            "(() => { const r = document.querySelector('.login').getBoundingClientRect(); \
             return Math.abs(r.left - (window.innerWidth - r.right)) < 2; })()",
        );
        assert_eq!(centred, json!(true), "the login card is centred at 400 px");
        let bg = b.eval("getComputedStyle(document.querySelector('.login button')).backgroundColor");
        assert_eq!(bg, json!("rgb(22, 50, 79)"), "the sign-in button is styled");
        b.set_width(1400, false);
        let centred = b.eval(
            "(() => { const r = document.querySelector('.login').getBoundingClientRect(); \
             return Math.abs(r.left - (window.innerWidth - r.right)) < 2; })()",
        );
        assert_eq!(centred, json!(true), "the login card is centred at 1400 px");
        b.eval(&format!(
            "document.querySelector('[name=user]').value = 'it-viewer'; \
             document.querySelector('[name=password]').value = {}; \
             document.querySelector('.login form').submit(); true",
            json!(PASSWORD)
        ));
        b.wait_true(
            "the fleet after signing in",
            "location.pathname === '/' && !!document.getElementById('agents')",
        );
        look(&mut b, "fleet");
        // At 400 px the table is cards: each row a block, its cells labelled.
        let display = b.eval("getComputedStyle(document.querySelector('#agents tbody tr')).display");
        assert_eq!(display, json!("block"));
        let text = b.eval(&format!(
            "document.querySelector('tr[data-agent=\"{id0}\"]').innerText"
        ));
        let text = text.as_str().unwrap();
        assert!(text.contains("Not ready") && !text.contains("Unknown"), "{text}");
        assert!(text.contains("headset fail: Plug in your headset"), "{text}");
        let label = b.eval(&format!(
            "getComputedStyle(document.querySelector('tr[data-agent=\"{id0}\"] td.fix'), '::before').content"
        ));
        assert_eq!(label, json!("\"What to fix: \""), "each cell says what it is");

        b.go(&format!("{url2}/agents/{id0}"));
        look(&mut b, "agent");
        // What matters first: readiness and what to fix before the facts and the report;
        // the raw figures folded away; the device actions after the report.
        let order = b.eval(
            "(() => { const y = s => document.querySelector(s).getBoundingClientRect().top; \
             return y('#readiness-word') < y('dl.facts') && y('#fix') < y('#report') \
             && y('dl.headline') < y('#report'); })()",
        );
        assert_eq!(order, json!(true));
        assert_eq!(b.eval("document.getElementById('readiness-word').innerText"), json!("Not ready"));
        assert_eq!(b.eval("document.getElementById('figures').open"), json!(false));
        let head = b.eval("document.querySelector('dl.headline').innerText");
        let head = head.as_str().unwrap();
        for want in ["MOS", "4.31", "Packet loss", "0.00 %", "Jitter", "Round-trip time", "31.3 ms", "Background noise", "Headset", "Jabra Evolve2 40"] {
            assert!(head.contains(want), "{want} in {head}");
        }
        // The loss chart starts at 0 and draws the site's limits with their words.
        let loss = b.eval(
            "[...document.querySelectorAll('figure.chart')].find(f => f.innerText.startsWith('Packet loss')).querySelector('svg').textContent",
        );
        let loss = loss.as_str().unwrap();
        assert!(loss.contains("0.00") && !loss.contains("-1.0"), "{loss}");
        assert!(loss.contains("pass ≤") && loss.contains("warn ≤"), "{loss}");
        // The 7-day link.
        b.eval("document.querySelector('nav.ranges a[href^=\"?range=7d\"]').click(); true");
        b.wait_true(
            "the 7-day charts",
            "location.search === '?range=7d' && document.readyState === 'complete' && !!document.querySelector('nav.ranges a.cur')",
        );
        assert_eq!(b.eval("document.querySelector('nav.ranges a.cur').innerText"), json!("7 d"));
        assert_eq!(b.eval("document.getElementById('charts').innerText"), json!("Last 7 days"));
        taken
    })
    .await
    .unwrap();
    for png in &taken {
        assert!(
            std::fs::metadata(png)
                .map(|m| m.len() > 5_000)
                .unwrap_or(false),
            "{}",
            png.display()
        );
    }
    println!(
        "screenshots: {}",
        taken
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
}
