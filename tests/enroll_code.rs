//! Re-enrollment takes a one-time code (issue 12), with the real `shiftready` and
//! `shiftready-hq` binaries: IT marks a device for re-enrollment and gets a code; an install on
//! a computer of the same hostname enrolling with the site's secret alone becomes a new device
//! (and is told so); the real computer presenting the code (read from standard input, never
//! on its command line) gets its old device back; the code works once.

mod daemon_common;

use daemon_common::{Agent, AgentExt, Hq};
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn device_id(agent: &Agent) -> String {
    let v: Value =
        serde_json::from_slice(&std::fs::read(agent.state.join("device.json")).unwrap()).unwrap();
    v["device_id"].as_str().unwrap().to_string()
}

fn enroll_cmd(agent: &Agent, args: &[&str]) -> std::process::Command {
    let mut c = agent.command();
    c.arg("enroll")
        .args(args)
        .env_remove("SHIFTREADY_ENROLL_TOKEN")
        .env_remove("SHIFTREADY_REENROLL_CODE");
    c
}

#[test]
fn only_the_one_time_code_takes_over_a_device_marked_for_reenrollment() {
    let hq = Hq::start("");
    let real = Agent::new("", "");
    let device = real.enroll(&hq);
    let (code, out, err) = hq.cmd(&["device", "reenroll", &device]);
    assert_eq!(code, 0, "{err}");
    let reenroll_code = out.lines().last().unwrap().trim().to_string();
    assert!(reenroll_code.starts_with("sr_re_"), "{out}");

    // Another install on a computer of the same name (this one), with the site's secret and
    // no code: a new device, told that the name is taken.
    let attacker = Agent::new("", "");
    let secret_file = attacker.dir.path().join("secret");
    std::fs::write(&secret_file, format!("{}\n", hq.secret)).unwrap();
    let secret_arg = secret_file.to_str().unwrap();
    let out = enroll_cmd(&attacker, &["--hq", &hq.url, "--token-file", secret_arg])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        device_id(&attacker),
        device,
        "the hostname alone took the device over"
    );
    assert!(
        stdout.contains("Note from HQ") && stdout.contains(&device),
        "{stdout}"
    );

    // The real computer, the code on standard input: while enroll waits for it, its command
    // line (what `ps` shows every user) does not hold it.
    let mut child = enroll_cmd(
        &real,
        &[
            "--hq",
            &hq.url,
            "--token-file",
            secret_arg,
            "--code-file",
            "-",
        ],
    )
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
    assert!(cmdline.contains("--code-file -"), "{cmdline}");
    assert!(!cmdline.contains(&reenroll_code), "{cmdline}");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{reenroll_code}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(device_id(&real), device, "the code brings the device back");
    assert!(stdout.contains("the same device"), "{stdout}");

    // HQ lists the device active again, and the attacker's as a separate one.
    let (code, out, err) = hq.cmd(&["device", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let status = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .map(|d| d["status"].clone())
    };
    assert_eq!(status(&device), Some(Value::from("active")), "{list}");
    assert_eq!(
        status(&device_id(&attacker)),
        Some(Value::from("active")),
        "{list}"
    );

    // The code works once: again (from the environment this time) it is refused, exit 65.
    let other = Agent::new("", "");
    let out = enroll_cmd(&other, &["--hq", &hq.url, "--token-file", secret_arg])
        .env("SHIFTREADY_REENROLL_CODE", &reenroll_code)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("re-enrollment code is not valid"),
        "{stderr}"
    );
    assert!(!other.state.join("device.json").exists());
}
