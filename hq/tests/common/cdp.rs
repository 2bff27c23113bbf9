//! Headless Chromium driven over the DevTools protocol (`--remote-debugging-pipe`: NUL-separated
//! JSON on file descriptors 3 and 4, here two FIFOs), for tests that look at a page as a person
//! does: sign in, set the width, measure, screenshot. Include it with
//! `#[path = "common/cdp.rs"] mod cdp;` (the same shape as `browser.rs`'s, which could move here).
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the test must be skipped for want of Chromium (it says so); with
/// `SHIFTREADY_REQUIRE_BROWSER=1` a missing Chromium fails the test instead.
pub fn no_browser(test: &str) -> bool {
    if Path::new(CHROMIUM).exists() {
        return false;
    }
    if std::env::var("SHIFTREADY_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("SHIFTREADY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)");
    }
    println!("SKIPPED {test}: {CHROMIUM} is not installed");
    true
}

pub struct Cdp {
    child: std::process::Child,
    to: std::fs::File,
    from: std::io::BufReader<std::fs::File>,
    next: u64,
    session: Option<String>,
}

impl Cdp {
    /// Starts Chromium with a fresh profile in `profile` and opens a blank page to drive.
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
        let mut b = Cdp {
            child,
            to,
            from,
            next: 0,
            session: None,
        };
        let t = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let s = b.call(
            "Target.attachToTarget",
            json!({"targetId": t["targetId"], "flatten": true}),
        );
        b.session = Some(s["sessionId"].as_str().unwrap().to_string());
        b
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
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

    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    /// Waits until `js` is true in the page.
    pub fn wait_true(&mut self, what: &str, js: &str) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.eval(js) != json!(true) {
            if std::time::Instant::now() > until {
                let html = self.eval("document.documentElement.outerHTML");
                panic!("timed out waiting for {what}; the page:\n{html}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Shows pages `width` CSS pixels wide, as a phone (`mobile`) or a desk screen would.
    pub fn set_width(&mut self, width: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        self.wait_true("the layout", &format!("window.innerWidth === {width}"));
    }

    /// Goes to `url` and waits until it has loaded.
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

    /// Signs in through the dashboard's login form at `hq`.
    pub fn sign_in(&mut self, hq: &str, user: &str, password: &str) {
        self.go(&format!("{hq}/login"));
        self.eval(&format!(
            "document.querySelector('[name=user]').value = {}; \
             document.querySelector('[name=password]').value = {}; \
             document.querySelector('.login form').submit(); true",
            json!(user),
            json!(password)
        ));
        self.wait_true(
            "the fleet after signing in",
            "location.pathname === '/' && document.readyState === 'complete'",
        );
    }

    /// The document's width in CSS pixels (wider than the window: it overflows).
    pub fn scroll_width(&mut self) -> u64 {
        self.eval("document.documentElement.scrollWidth")
            .as_u64()
            .unwrap()
    }

    /// A PNG of the whole page (not only the window), or of the element `selector` alone.
    pub fn screenshot(&mut self, path: &Path, selector: Option<&str>) {
        use base64::Engine;
        let mut params = json!({"format": "png", "captureBeyondViewport": true});
        if let Some(sel) = selector {
            let r = self.eval(&format!(
                "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); \
                 return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }})()",
                json!(sel)
            ));
            let f = |i: usize| r[i].as_f64().unwrap();
            params["clip"] =
                json!({"x": f(0), "y": f(1), "width": f(2), "height": f(3), "scale": 1});
        }
        let r = self.call("Page.captureScreenshot", params);
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
