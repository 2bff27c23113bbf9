//! The real daemon (`shiftready run --headless`) as a subprocess with a local shift a few
//! seconds long, talked to over IPC by `shiftready status|sign-in|sign-out` processes.

mod daemon_common;

use chrono::Utc;
use daemon_common::{Agent, AgentExt, shift_events, shift_toml};
use std::time::Duration;

/// Now, to the whole second (the local schedule's resolution).
fn now_s() -> chrono::DateTime<Utc> {
    use chrono::Timelike;
    Utc::now().with_nanosecond(0).unwrap()
}

const POLICY: &str =
    "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 5";

#[test]
fn local_shift_signs_in_at_start_heartbeats_and_signs_out_at_end() {
    let start = now_s() + chrono::Duration::seconds(4);
    let end = start + chrono::Duration::seconds(13);
    let mut a = Agent::new(&shift_toml(start, end), POLICY);
    a.start();
    let s = a.status();
    assert_eq!(s["signed_in"], false, "{s}");
    assert_eq!(s["state"], "signed_out");
    assert_eq!(s["hq"], "none");
    assert!(s["next_shift"]["start"].is_string(), "{s}");
    let s = a.wait_for("sign-in", Duration::from_secs(15), |s| {
        s["signed_in"] == true
    });
    assert_eq!(s["state"], "ready");
    assert!(Utc::now() >= start, "signed in before the shift started");
    a.wait_for("sign-out", Duration::from_secs(25), |s| {
        s["signed_in"] == false
    });
    assert!(Utc::now() >= end);
    assert!(a.signal("-TERM").success());
    let events = a.spool_events();
    assert_eq!(
        shift_events(&events),
        [
            ("sign_in".into(), "auto".into()),
            ("sign_out".into(), "auto".into())
        ],
        "{}",
        a.logs()
    );
    let heartbeats = events.iter().filter(|e| e.kind() == "heartbeat").count();
    assert!(
        (1..=3).contains(&heartbeats),
        "{heartbeats} heartbeats in a 13 s shift at 5 s"
    );
    // The sign-in and sign-out happened at the shift's edges, told by the times the daemon
    // recorded rather than by a wall-clock allowance a loaded machine could overrun: the
    // sign-in is not before the start and rests on a check no older than the recheck interval
    // (5 s) with at most one check since the start (no recheck cycle went by unsigned); the
    // sign-out is not before the end, and no heartbeat was sent after the end.
    let at_of = |kind: &str| events.iter().find(|e| e.kind() == kind).unwrap().at;
    let (si, so) = (at_of("sign_in"), at_of("sign_out"));
    let reports: Vec<_> = events
        .iter()
        .filter(|e| e.kind() == "report")
        .map(|e| e.at)
        .collect();
    assert!(si >= start, "{si} vs {start}");
    let basis = reports
        .iter()
        .filter(|&&r| r <= si)
        .max()
        .expect("a check before the sign-in");
    assert!(
        si - *basis < chrono::Duration::seconds(5),
        "signed in at {si} on a check from {basis}"
    );
    let since_start = reports.iter().filter(|&&r| r >= start && r <= si).count();
    assert!(
        since_start <= 1,
        "{since_start} checks between {start} and the sign-in at {si}"
    );
    assert!(so >= end, "{so} vs {end}");
    let late = events
        .iter()
        .filter(|e| e.kind() == "heartbeat" && e.at > end && e.at < so)
        .count();
    assert_eq!(
        late, 0,
        "heartbeats after the shift ended at {end}, signed out at {so}"
    );
    // Every check made a report event.
    assert!(events.iter().any(|e| e.kind() == "report"));
}

#[test]
fn not_ready_at_start_is_not_signed_in_until_the_recheck_finds_it_fixed() {
    let start = now_s() + chrono::Duration::seconds(2);
    let end = start + chrono::Duration::seconds(120);
    let mut a = Agent::new(&shift_toml(start, end), POLICY);
    a.set_report(&[("os", "pass"), ("headset", "fail")]);
    a.start();
    let s = a.wait_for("the check at shift start", Duration::from_secs(10), |s| {
        s["shift"].is_object() && s["last_check_at"].is_string() && s["readiness"] == "not_ready"
    });
    assert_eq!(s["signed_in"], false);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(a.status()["signed_in"], false);
    assert!(a.logs().contains("Fix the headset."), "{}", a.logs());
    a.set_report(&[("os", "pass"), ("headset", "pass")]);
    a.wait_for("sign-in after the recheck", Duration::from_secs(10), |s| {
        s["signed_in"] == true
    });
    // SIGTERM mid-shift signs out with reason `shutdown`.
    assert!(a.signal("-TERM").success());
    assert_eq!(
        shift_events(&a.spool_events()),
        [
            ("sign_in".into(), "auto".into()),
            ("sign_out".into(), "shutdown".into())
        ]
    );
}

#[test]
fn manual_sign_in_and_out_from_another_process() {
    let mut a = Agent::new("", POLICY);
    a.start();
    let out = a.cli(&["sign-in"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "You are signed in."
    );
    let out = a.cli(&["sign-in", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["message"], "You were already signed in.");
    assert_eq!(v["status"]["signed_in"], true);
    let out = a.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Signed in:  yes"), "{text}");
    let out = a.cli(&["sign-out"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "You are signed out."
    );
    assert_eq!(a.status()["signed_in"], false);
    // Ctrl-C (SIGINT) stops it cleanly too; nothing to sign out.
    assert!(a.signal("-INT").success());
    assert_eq!(
        shift_events(&a.spool_events()),
        [
            ("sign_in".into(), "manual".into()),
            ("sign_out".into(), "manual".into())
        ]
    );
}

#[test]
fn sighup_signs_out_with_reason_logoff() {
    let mut a = Agent::new("", POLICY);
    a.start();
    assert!(a.cli(&["sign-in"]).status.success());
    assert!(a.signal("-HUP").success());
    assert_eq!(
        shift_events(&a.spool_events()),
        [
            ("sign_in".into(), "manual".into()),
            ("sign_out".into(), "logoff".into())
        ]
    );
}

#[test]
fn second_instance_is_refused_and_status_without_daemon_exits_69() {
    let mut a = Agent::new("", POLICY);
    let out = a.cli(&["status"]);
    assert_eq!(out.status.code(), Some(69));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("daemon is not running") && err.contains("shiftready run"),
        "{err}"
    );
    assert_eq!(a.cli(&["sign-in"]).status.code(), Some(69));
    a.start();
    let pid = a.pid();
    let out = a.cli(&["run", "--headless"]);
    assert_eq!(out.status.code(), Some(69));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already running") && err.contains(&pid.to_string()),
        "{err}"
    );
    // The first one is unharmed.
    assert_eq!(a.status()["pid"], pid);
}

#[test]
fn killed_daemon_restarts_without_signing_in_twice_and_signs_out_after_the_shift() {
    let start = now_s() + chrono::Duration::seconds(2);
    let end = start + chrono::Duration::seconds(12);
    let mut a = Agent::new(&shift_toml(start, end), POLICY);
    a.start();
    a.wait_for("sign-in", Duration::from_secs(10), |s| {
        s["signed_in"] == true
    });
    // SIGKILL: no chance to sign out. The stale socket and lock are taken over on restart.
    let st = a.signal("-KILL");
    assert!(!st.success());
    a.start();
    assert_eq!(a.status()["signed_in"], true, "restored state");
    a.wait_for("sign-out at the end", Duration::from_secs(20), |s| {
        s["signed_in"] == false
    });
    assert!(a.signal("-TERM").success());
    assert_eq!(
        shift_events(&a.spool_events()),
        [
            ("sign_in".into(), "auto".into()),
            ("sign_out".into(), "auto".into())
        ]
    );
}

#[test]
fn daemon_with_a_corrupt_spool_moves_it_aside_and_runs() {
    let mut a = Agent::new("", POLICY);
    std::fs::create_dir_all(&a.state).unwrap();
    std::fs::write(a.state.join("spool.db"), "garbage ".repeat(1000)).unwrap();
    a.start();
    assert!(a.cli(&["sign-in"]).status.success());
    assert!(a.signal("-TERM").success());
    assert!(a.logs().contains("was corrupt"), "{}", a.logs());
    let aside: Vec<_> = std::fs::read_dir(&a.state)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(shift_events(&a.spool_events()).len(), 2);
}

#[test]
fn bad_schedule_is_a_config_error_naming_the_key() {
    let a = Agent::new(
        "[[schedule.shift]]\ndays = [\"someday\"]\nstart = \"9\"\nend = \"17:00\"\n",
        POLICY,
    );
    let out = a.cli(&["run", "--headless"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schedule.shift[0].days") && err.contains("schedule.shift[0].start"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn socket_and_state_dir_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mut a = Agent::new("", POLICY);
    a.start();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&a.state), 0o700);
    assert_eq!(mode(&a.state.join("daemon.sock")), 0o600);
}
