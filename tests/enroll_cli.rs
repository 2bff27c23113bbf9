//! `shiftready enroll` with the secret kept off the command line: `--token-file PATH`,
//! `--token-file -` (standard input) and `SHIFTREADY_ENROLL_TOKEN`, against the real HQ binary;
//! `--token` still works; none or several ways is a usage error (exit 64).

mod daemon_common;

use daemon_common::{Agent, Hq};
use serde_json::Value;
use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn enroll_cmd(agent: &Agent, args: &[&str]) -> std::process::Command {
    let mut c = agent.command();
    c.arg("enroll")
        .args(args)
        .env_remove("SHIFTREADY_ENROLL_TOKEN");
    c
}

fn device_id(agent: &Agent) -> Option<String> {
    let bytes = std::fs::read(agent.state.join("device.json")).ok()?;
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    Some(v["device_id"].as_str().unwrap().to_string())
}

fn assert_enrolled(agent: &Agent, out: &Output) {
    assert!(
        out.status.success(),
        "enroll failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let id = device_id(agent).expect("device.json written");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&id),
        "prints the device id"
    );
}

#[test]
fn secret_from_stdin_file_or_environment_never_on_the_command_line() {
    let hq = Hq::start("");

    // Standard input: while enroll waits for the secret, its command line (what `ps` shows to
    // every user) does not hold it.
    let a = Agent::new("", "");
    let mut child = enroll_cmd(&a, &["--hq", &hq.url, "--token-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cmdline_path = format!("/proc/{}/cmdline", child.id());
    let until = Instant::now() + Duration::from_secs(10);
    let mut cmdline = String::new();
    while cmdline.is_empty() && Instant::now() < until {
        cmdline = std::fs::read(&cmdline_path)
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(cmdline.contains("--token-file -"), "{cmdline}");
    assert!(!cmdline.contains(&hq.secret), "{cmdline}");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", hq.secret).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_enrolled(&a, &out);

    // A file.
    let b = Agent::new("", "");
    let file = b.dir.path().join("enroll-secret");
    std::fs::write(&file, format!("{}\n", hq.secret)).unwrap();
    let out = enroll_cmd(
        &b,
        &["--hq", &hq.url, "--token-file", file.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_enrolled(&b, &out);

    // The environment.
    let c = Agent::new("", "");
    let out = enroll_cmd(&c, &["--hq", &hq.url])
        .env("SHIFTREADY_ENROLL_TOKEN", &hq.secret)
        .output()
        .unwrap();
    assert_enrolled(&c, &out);

    // --token, kept for compatibility.
    let d = Agent::new("", "");
    let out = enroll_cmd(&d, &["--hq", &hq.url, "--token", &hq.secret])
        .output()
        .unwrap();
    assert_enrolled(&d, &out);

    let ids = [&a, &b, &c, &d].map(|x| device_id(x).unwrap());
    for (i, x) in ids.iter().enumerate() {
        assert!(!ids[i + 1..].contains(x), "four devices: {ids:?}");
    }

    // A wrong secret from a file reaches HQ, which refuses it.
    let e = Agent::new("", "");
    let bad = e.dir.path().join("bad");
    std::fs::write(&bad, "sr_enr_not-the-secret\n").unwrap();
    let out = enroll_cmd(
        &e,
        &["--hq", &hq.url, "--token-file", bad.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("enrollment failed"), "{err}");
    assert!(device_id(&e).is_none());
}

/// What is tried, the arguments, `SHIFTREADY_ENROLL_TOKEN`, the exit code and the message.
type Case<'a> = (&'a str, Vec<&'a str>, Option<&'a str>, i32, &'a str);

#[test]
fn no_secret_or_several_is_a_usage_error() {
    // No HQ is needed: the arguments are refused before anything is sent.
    let a = Agent::new("", "");
    let file = a.dir.path().join("secret");
    std::fs::write(&file, "sr_enr_x\n").unwrap();
    let empty = a.dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let f = file.to_str().unwrap();
    let hq = "http://127.0.0.1:9";
    let cases: [Case; 6] = [
        ("nothing", vec![], None, 64, "no enrollment secret"),
        (
            "--token and --token-file",
            vec!["--token", "x", "--token-file", f],
            None,
            64,
            "given 2 ways (--token, --token-file)",
        ),
        (
            "--token and the environment",
            vec!["--token", "x"],
            Some("y"),
            64,
            "given 2 ways (--token, SHIFTREADY_ENROLL_TOKEN)",
        ),
        (
            "an empty file",
            vec!["--token-file", empty.to_str().unwrap()],
            None,
            64,
            "the enrollment secret is empty",
        ),
        (
            "a missing file",
            vec!["--token-file", "/nonexistent/secret"],
            None,
            66,
            "cannot read the enrollment secret from /nonexistent/secret",
        ),
        (
            "empty standard input",
            vec!["--token-file", "-"],
            None,
            64,
            "--token-file standard input: the enrollment secret is empty",
        ),
    ];
    for (what, args, env, code, message) in cases {
        let mut all = vec!["--hq", hq];
        all.extend(args);
        let mut c = enroll_cmd(&a, &all);
        if let Some(v) = env {
            c.env("SHIFTREADY_ENROLL_TOKEN", v);
        }
        let out = c.stdin(Stdio::null()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{what}: {err}");
        assert!(err.contains(message), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        if code == 64 && what == "nothing" {
            assert!(err.contains("--token-file PATH"), "says how: {err}");
        }
    }
    assert!(device_id(&a).is_none());
}
