//! `shiftready fix` against a real PulseAudio server (issue 16): a USB headset plugged in
//! while the built-in codec is the default, its microphone muted and at 5 %. Before: the
//! headset check fails; `fix`: the server's defaults, mute and volume really change and the
//! check passes; a second `fix` changes nothing. `--dry-run` changes nothing. Skipped (and
//! says so) without PulseAudio unless `SHIFTREADY_REQUIRE_PULSE=1` (CI).

use serde_json::Value;
use shiftready_testkit::pulse::{BUILTIN, Pulse, USB_HEADSET};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

fn shiftready(pa: &Pulse, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(pa.env())
        .env("HOME", pa.dir())
        .env("XDG_DATA_HOME", pa.dir().join("data"))
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A server with the built-in codec as default and a USB headset whose microphone is muted
/// at 5 %.
fn wrong_setup(test: &str) -> Option<Pulse> {
    let pa = Pulse::start(test)?;
    pa.add("builtin", "Built-in Audio Analog Stereo", BUILTIN);
    pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("builtin");
    pa.pactl(&["set-source-mute", "usb_in", "1"]).unwrap();
    pa.pactl(&["set-source-volume", "usb_in", "5%"]).unwrap();
    Some(pa)
}

fn server_state(pa: &Pulse) -> (String, String, String, String) {
    (
        pa.pactl(&["get-default-source"]).unwrap(),
        pa.pactl(&["get-default-sink"]).unwrap(),
        pa.pactl(&["get-source-mute", "usb_in"]).unwrap(),
        pa.pactl(&["get-source-volume", "usb_in"]).unwrap(),
    )
}

#[test]
fn fix_makes_the_headset_the_default_unmuted_and_audible() {
    let Some(pa) = wrong_setup("fix_makes_the_headset_the_default_unmuted_and_audible") else {
        return;
    };
    let before = shiftready(&pa, &["check", "--json", "--only", "headset", "--no-send"]);
    let before = json(&before);
    assert_eq!(before["checks"]["headset"]["status"], "fail", "{before}");
    assert!(
        before["checks"]["headset"]["hint"]
            .as_str()
            .unwrap()
            .contains("run `shiftready fix`"),
        "the hint offers the fix where it can be done: {before}"
    );

    let out = shiftready(&pa, &["fix", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let kinds: Vec<&str> = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "default_input",
            "unmute_input",
            "input_volume",
            "default_output"
        ],
        "{v}"
    );
    assert_eq!(
        v["changed"][0]["what"],
        "USB Audio Device Mono is now the default microphone (was Built-in Audio Analog Stereo Mono)."
    );
    assert_eq!(v["headset"]["status"], "pass", "{v}");

    // The server really changed, as pactl itself reads it.
    let (src, sink, mute, vol) = server_state(&pa);
    assert_eq!(src, "usb_in");
    assert_eq!(sink, "usb_out");
    assert_eq!(mute, "Mute: no");
    assert!(vol.contains("100%"), "{vol}");

    // Nothing left to change: says so, exit 0, and the text output is for people.
    let again = shiftready(&pa, &["fix"]);
    assert_eq!(again.status.code(), Some(0));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.starts_with("Nothing to change"), "{text}");
    assert!(text.contains("headset"), "{text}");
}

#[test]
fn dry_run_changes_nothing_and_no_sound_server_is_a_clear_error() {
    let Some(pa) = wrong_setup("dry_run_changes_nothing_and_no_sound_server_is_a_clear_error")
    else {
        return;
    };
    let before = server_state(&pa);
    let out = shiftready(&pa, &["fix", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Would change"), "{text}");
    assert!(
        text.contains("USB Audio Device Mono is now the default microphone"),
        "{text}"
    );
    // Still failing, and the exit code says so (2: not ready).
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert_eq!(server_state(&pa), before, "--dry-run changed the server");

    // No sound server answers: exit 69 and what to do by hand, never a panic.
    let out = Command::new(BIN)
        .args(["fix"])
        .env("HOME", pa.dir())
        .env("XDG_DATA_HOME", pa.dir().join("data"))
        .env("XDG_RUNTIME_DIR", pa.dir().join("nothing-here"))
        .env(
            "PULSE_SERVER",
            format!("unix:{}", pa.dir().join("no-socket").display()),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("open the sound settings"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

// ---- "Fix it" on the daemon's report page (issue 16 part 1) ----

use shiftready_testkit::agent::Agent;
use std::io::{Read, Write};

/// One HTTP request to the report page's server; the status and the body.
fn http(host: &str, method: &str, path: &str, extra: &str, body: &str) -> (u16, String) {
    let mut c = std::net::TcpStream::connect(host).unwrap();
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    (status, body.to_string())
}

/// The page's form: its action and one-time token.
fn form(page: &str) -> Option<(String, String)> {
    let action = page.split("<form method=\"post\" action=\"").nth(1)?;
    let action = action.split('"').next()?.to_string();
    let token = page.split("name=\"token\" value=\"").nth(1)?;
    Some((action, token.split('"').next()?.to_string()))
}

/// A Swedish daemon whose real check at shift start finds the headset not the default (the
/// built-in codec is, and the headset's microphone is muted at 5 %): its report page served
/// on loopback offers "Åtgärda"; a request from another site (a wrong Origin or Host, no
/// token, a made-up token) changes nothing; the page's own button does what `shiftready fix`
/// does: the server's defaults really change, the page says what changed in Swedish and the
/// headset check passes. The token is used once. Screenshots of the Swedish page before and
/// after are left in target/screenshots/ (report-fix-sv-*.png) to be looked at.
#[test]
fn fix_it_on_the_report_page() {
    let Some(pa) = wrong_setup("fix_it_on_the_report_page") else {
        return;
    };
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    let end = start + chrono::Duration::seconds(900);
    let schedule = format!(
        "[[schedule.shift]]\ndays = [\"{}\"]\nstart = \"{}\"\nend = \"{}\"\ntimezone = \"UTC\"\n",
        start.format("%a").to_string().to_lowercase(),
        start.format("%H:%M:%S"),
        end.format("%H:%M:%S")
    );
    // The real checks (no test report), two seconds of noise.
    let mut a = Agent::new(
        &schedule,
        "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 600",
    );
    std::fs::write(
        a.dir.path().join("policy.toml"),
        "[shift]\nreadiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\n\
         recheck_seconds = 600\n[noise]\nseconds = 2.0\n",
    )
    .unwrap();
    let envs = pa.env();
    let home = pa.dir().to_path_buf();
    a.spawn(&["run", "--headless"], |c| {
        c.env_remove("SHIFTREADY_TEST_REPORT")
            .envs(envs)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("LANG", "sv_SE.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LANGUAGE")
            .env_remove("LC_MESSAGES");
    });
    a.wait_for(
        "the real check at shift start",
        std::time::Duration::from_secs(90),
        |s| s["last_check_at"].is_string(),
    );
    let url = std::fs::read_to_string(a.state.join("report-page.url")).unwrap();
    let url = url.trim();
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let path = format!("/{path}");
    assert!(host.starts_with("127.0.0.1:"), "{url}");
    assert!(
        !a.logs().contains(&path),
        "the page's secret path is in the log"
    );

    // Before: the headset check fails, and the page offers the fix, in Swedish.
    let (status, page) = http(host, "GET", &path, "", "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html lang=\"sv\">"), "{page}");
    assert!(page.contains("Ditt headset är anslutet"), "{page}");
    assert!(page.contains(">Åtgärda</button>"), "{page}");
    let (action, token) = form(&page).expect("a Fix it form");
    let before = server_state(&pa);
    screenshot(&page, "report-fix-sv-before");

    // Not from the page: refused, and nothing changed.
    let (s, _) = http(host, "GET", "/not-the-key/", "", "");
    assert_eq!(s, 404);
    let (s, body) = http(
        host,
        "POST",
        &action,
        "Origin: https://evil.example\r\n",
        &format!("token={token}"),
    );
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("ingenting gjordes"), "{body}");
    let (s, _) = http(
        host,
        "POST",
        &action,
        "",
        "token=0123456789abcdef0123456789abcdef",
    );
    assert_eq!(s, 403);
    let (s, _) = http(host, "POST", &action, "", "");
    assert_eq!(s, 403);
    assert_eq!(
        server_state(&pa),
        before,
        "a refused request changed the server"
    );
    // A request line that never ends (any local account can reach the port) is cut off at
    // the head's limit instead of growing the daemon; the page still answers after it.
    {
        let mut c = std::net::TcpStream::connect(host).unwrap();
        // Far shorter than the 30 s a silent client is given: only a cut-off answers in time.
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let _ = c.write_all(&vec![b'A'; 64 * 1024]);
        let mut out = Vec::new();
        let read = c.read_to_end(&mut out);
        let held = matches!(&read, Err(e) if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
        assert!(
            !held,
            "an endless request line was read on instead of cut off"
        );
        let out = String::from_utf8_lossy(&out);
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
    }
    let (s, _) = http(host, "GET", &path, "", "");
    assert_eq!(s, 200);
    let checked_before = a.status()["last_check_at"].clone();

    // Pressed, as the browser posts the form (its Origin is the page's).
    let origin = format!("Origin: http://{host}\r\n");
    let (s, after) = http(host, "POST", &action, &origin, &format!("token={token}"));
    eprintln!("{after}");
    assert_eq!(s, 200, "{after}");
    assert!(after.contains("Det här ändrade ShiftReady"), "{after}");
    assert!(
        after.contains("är nu standardmikrofon (tidigare: Built-in Audio Analog Stereo"),
        "{after}"
    );
    assert!(after.contains("är inte längre avstängd."), "{after}");
    assert!(after.contains("har höjts från 5 % till 100 %."), "{after}");
    assert!(
        after.contains("<th scope=\"row\">headset</th><td>Godkänd</td>"),
        "the headset check passes after the fix: {after}"
    );
    assert!(form(&after).is_none(), "nothing left to fix: {after}");
    screenshot(&after, "report-fix-sv-after");
    // The server really changed, as pactl reads it.
    let (src, sink, mute, vol) = server_state(&pa);
    assert_eq!(
        (src.as_str(), sink.as_str(), mute.as_str()),
        ("usb_in", "usb_out", "Mute: no")
    );
    assert!(vol.contains("100%"), "{vol}");
    // The daemon was told: it checks again (its readiness, the tray, HQ and the sign-in gate
    // learn of the fix; review, session 6: the page alone knew).
    a.wait_for(
        "the daemon's own check after the fix",
        std::time::Duration::from_secs(60),
        |s| s["last_check_at"].is_string() && s["last_check_at"] != checked_before,
    );
    // The token was for one press.
    let (s, _) = http(host, "POST", &action, &origin, &format!("token={token}"));
    assert_eq!(s, 403);
    // The page now shows the passing headset, and no button.
    let (_, page) = http(host, "GET", &path, "", "");
    assert!(
        page.contains("<th scope=\"row\">headset</th><td>Godkänd</td>"),
        "{page}"
    );
    assert!(!page.contains("<button"), "{page}");
    assert!(a.signal("-TERM").success());
}

/// A page in headless Chromium, as a PNG in target/screenshots/NAME.png (skipped without
/// Chromium).
fn screenshot(page: &str, name: &str) {
    const CHROMIUM: &str = "/usr/bin/chromium";
    if !std::path::Path::new(CHROMIUM).exists() {
        eprintln!("SKIP screenshot: no {CHROMIUM}");
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join(format!("{name}.html"));
    std::fs::write(&html, page).unwrap();
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args(["--disable-background-networking", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=900,900")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        std::fs::metadata(&png)
            .map(|m| m.len() > 1000)
            .unwrap_or(false),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
