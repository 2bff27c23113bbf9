//! Issue 13, the agent's side: every sentence true and useful, one truth about readiness. The
//! real binary: input checked alike in every command, the real cause named (a closed port,
//! plain HTTP behind https://), config mistakes caught at load in plain words, and a manual
//! sign-in below the site's readiness bar that says so (or is refused, as the policy says).

mod daemon_common;
mod probe_support;

use chrono::Utc;
use daemon_common::{Agent, shift_toml};
use probe_support::{agent_files, closed_port};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

/// Runs the agent with a config file of its own: (exit code, stdout, stderr).
fn run(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SHIFTREADY_ENROLL_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A mono 16-bit WAV of `frames` samples of a quiet tone at `rate`.
fn wav(path: &Path, rate: u32, frames: u32) {
    let data = frames * 2;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for i in 0..frames {
        let v = (300.0 * (i as f64 * 0.13).sin()) as i16;
        b.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn seconds_below_one_get_the_same_clear_message_in_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "agent.toml", "");
    let w = dir.path().join("room.wav");
    wav(&w, 16000, 16000 * 2);
    let w = w.to_str().unwrap();
    for (command, extra) in [
        ("noise", vec!["--file", w]),
        ("probe", vec!["--reflector", "127.0.0.1:9"]),
    ] {
        for seconds in ["-1", "0", "0.5", "nan"] {
            let mut args = vec![command, "--seconds", seconds];
            args.extend(extra.iter());
            let (code, out, err) = run(&cfg, &args);
            assert_eq!(code, 64, "{args:?}: {out} {err}");
            assert!(out.is_empty(), "{args:?}: {out}");
            let want = format!("--seconds {}: give a number of seconds from 1 to ", {
                if seconds == "nan" { "NaN" } else { seconds }
            });
            assert!(err.contains(&want), "{args:?}: {err}");
            assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
        }
    }
}

#[test]
fn a_wav_too_short_to_judge_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "agent.toml", "");
    let w = dir.path().join("short.wav");
    wav(&w, 16000, 4000); // 0.25 s
    let (code, out, err) = run(&cfg, &["noise", "--file", w.to_str().unwrap()]);
    assert_eq!(code, 65, "{out} {err}");
    assert!(
        err.contains("holds only 0.25 s of audio: too short to judge"),
        "{err}"
    );
}

#[test]
fn a_reflector_address_that_cannot_be_valid_is_caught_when_the_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    for (reflector, why) in [
        ("nonsense", "must be HOST:PORT"),
        ("hq.example.com:0", "must be a number from 1 to 65535"),
        ("hq.example.com:70000", "must be a number from 1 to 65535"),
        (":8637", "has no host"),
    ] {
        let cfg = write(
            dir.path(),
            "agent.toml",
            &format!("[hq]\nurl = \"https://hq.example.com\"\nreflector = \"{reflector}\"\n"),
        );
        let (code, out, err) = run(&cfg, &["check", "--only", "os", "--no-send"]);
        assert_eq!(code, 78, "{reflector}: {out} {err}");
        let at = format!("{}:3: key `hq.reflector`: ", cfg.display());
        assert!(err.contains(&at) && err.contains(why), "{reflector}: {err}");
    }
}

#[test]
fn no_rust_jargon_reaches_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "agent.toml",
        "[hq]\nurl = 5\n[checks]\nos_timeout_seconds = \"soon\"\n",
    );
    let (code, _, err) = run(&cfg, &["check", "--only", "os"]);
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("key `hq.url`: must be text in quotes (it is the number 5)"),
        "{err}"
    );
    assert!(
        err.contains("key `checks.os_timeout_seconds`: must be a number (it is the text \"soon\")"),
        "{err}"
    );
    let ok = write(dir.path(), "ok.toml", "");
    let (code, _, err2) = run(&ok, &["enroll", "--hq", "hq.example.com", "--token", "s"]);
    assert_eq!(code, 64, "{err2}");
    assert!(
        err2.contains("--hq 'hq.example.com': must be a full address like https://hq.example.com"),
        "{err2}"
    );
    for jargon in [
        "expected",
        "invalid type",
        "f64",
        "relative URL",
        "without a base",
    ] {
        assert!(
            !err.contains(jargon) && !err2.contains(jargon),
            "{jargon}: {err} {err2}"
        );
    }
}

#[test]
fn https_to_a_plain_http_hq_says_so() {
    // A plain-HTTP server on loopback: it answers the TLS hello with an HTTP error.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for s in l.incoming().take(4) {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "agent.toml", "[agent]\nstate_dir = \"state\"\n");
    let url = format!("https://127.0.0.1:{port}");
    let (code, out, err) = run(&cfg, &["enroll", "--hq", &url, "--token", "s"]);
    assert_ne!(code, 0, "{out} {err}");
    assert!(
        err.contains(&format!(
            "HQ at {url} failed (it speaks plain HTTP, not HTTPS: is the address http://?)"
        )),
        "{err}"
    );
    assert!(!err.contains("InvalidContentType"), "{err}");
    assert!(!err.contains("check the internet connection"), "{err}");
}

#[test]
fn a_closed_reflector_port_is_not_called_blocked() {
    let port = closed_port();
    let reflector = format!("127.0.0.1:{port}");
    let files = agent_files("", "", false);
    let (code, out, err) = run(
        &files.config,
        &["probe", "--reflector", &reflector, "--json"],
    );
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!((v["status"].as_str(), code), (Some("fail"), 2), "{v}");
    let hint = v["hint"].as_str().unwrap();
    assert!(
        hint.starts_with(&format!(
            "Nothing answers at {reflector}: check the reflector address"
        )),
        "{hint}"
    );
    assert!(!hint.contains("blocked"), "{hint}");
    // The terminal says what could not be measured once, not "RTT n/a ms · jitter ↑n/a ms".
    let (_, text, _) = run(&files.config, &["probe", "--reflector", &reflector]);
    assert!(!text.contains("n/a"), "{text}");
    assert!(
        text.contains("could not measure RTT, jitter, loss, MOS"),
        "{text}"
    );
    assert!(
        text.contains("\n             → Nothing answers at"),
        "{text}"
    );
}

const BAR: &str = "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\n\
                   recheck_seconds = 60";

/// An agent in a shift that started a moment ago, its headset failing.
fn agent_below_the_bar(rule: &str) -> Agent {
    let start = Utc::now() - chrono::Duration::seconds(1);
    let end = start + chrono::Duration::seconds(300);
    let mut a = Agent::new(
        &shift_toml(start, end),
        &format!("{BAR}\nmanual_sign_in_below_bar = \"{rule}\""),
    );
    a.set_report(&[("os", "pass"), ("headset", "fail"), ("noise", "warn")]);
    a.start();
    a.wait_for("the check at shift start", Duration::from_secs(15), |s| {
        s["last_check_at"].is_string() && s["readiness"] == "not_ready"
    });
    a
}

#[test]
fn manual_sign_in_below_the_bar_says_not_ready_and_what_to_fix_first() {
    let mut a = agent_below_the_bar("allow");
    let s = a.status();
    assert_eq!(s["signed_in"], false);
    // `status` says what to fix from the same last check, with its time.
    assert_eq!(s["fix_first"], "Fix the headset.", "{s}");
    let text = String::from_utf8_lossy(&a.cli(&["status"]).stdout).into_owned();
    assert!(text.contains("Readiness:  not ready (checked "), "{text}");
    assert!(text.contains("Fix first:  Fix the headset.\n"), "{text}");
    let out = a.cli(&["sign-in"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(
            "You are signed in.\nThis computer is not ready for calls (readiness: not ready; \
             your site's bar: ready).\nFix this first: Fix the headset.\n"
        ),
        "{text}"
    );
    assert_eq!(a.status()["signed_in"], true);
    assert!(a.signal("-TERM").success());
}

#[test]
fn a_site_that_refuses_manual_sign_in_below_the_bar_exits_2() {
    let mut a = agent_below_the_bar("refuse");
    let out = a.cli(&["sign-in"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("You are not signed in: your site does not allow signing in"),
        "{text}"
    );
    assert!(text.contains("Fix this first: Fix the headset."), "{text}");
    assert_eq!(a.status()["signed_in"], false);
    let out = a.cli(&["sign-in", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(out.status.code(), Some(2));
    assert!(a.signal("-TERM").success());
}
