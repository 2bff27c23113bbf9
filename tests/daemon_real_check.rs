//! The daemon end to end on the real check path: no test report (`SHIFTREADY_TEST_REPORT` is
//! removed from its environment), so the checks run on this machine as they would on an
//! agent's. The shift's bar is `any`, so the daemon signs in whatever this machine's checks
//! say (a CI box has no headset); what is asserted is that the report the sign-in rests on came
//! from the real checks: every check ran, and the `os` check read this machine's os-release.

mod daemon_common;

use chrono::Utc;
use daemon_common::{Agent, AgentExt, shift_events, shift_toml};
use std::time::Duration;

/// `PRETTY_NAME` (else `NAME`) of this machine's os-release(5), read here rather than by the
/// agent's parser.
fn os_release_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    value("PRETTY_NAME").or_else(|| value("NAME"))
}

#[test]
fn without_the_report_hook_the_real_checks_run_and_the_daemon_signs_in() {
    use chrono::Timelike;
    let start = Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(3);
    let end = start + chrono::Duration::seconds(600);
    let mut a = Agent::new(
        &shift_toml(start, end),
        "readiness_bar = \"any\"\npre_shift_minutes = 1\nrecheck_seconds = 300",
    );
    a.spawn(&["run", "--headless"], |c| {
        c.env_remove("SHIFTREADY_TEST_REPORT");
    });
    // The real checks take a few seconds (the noise check listens); a loaded machine more.
    a.wait_for("sign-in", Duration::from_secs(90), |s| {
        s["signed_in"] == true
    });
    assert!(a.signal("-TERM").success());
    let events = a.spool_events();
    assert_eq!(
        shift_events(&events).first(),
        Some(&("sign_in".to_string(), "auto".to_string())),
        "{}",
        a.logs()
    );
    let report = events
        .iter()
        .find_map(|e| match &e.body {
            proto::event::EventBody::Report { report } => Some(report),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no report in the spool\n{}", a.logs()));
    let names: Vec<&str> = report.checks.keys().map(String::as_str).collect();
    let mut expected = proto::report::CHECK_NAMES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected, "every check ran");
    assert!(
        !a.logs().contains("test report"),
        "the daemon read a test report\n{}",
        a.logs()
    );
    if let Some(name) = os_release_name() {
        let os = &report.checks["os"];
        assert_eq!(os.metrics["name"], name.as_str(), "{os:?}");
    }
}
