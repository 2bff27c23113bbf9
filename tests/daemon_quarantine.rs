//! Delivery never stalls on an event HQ refuses (issue 12), with the real daemon and the real
//! HQ answering per event: a report over HQ's size limit is refused on its own, set aside in
//! the spool's quarantine with HQ's reason, the daemon raises `events_rejected` and `status`
//! says so, and every other event (sign-in, heartbeats, sign-out, the incident) reaches HQ.
#![cfg(unix)]

mod daemon_common;

use daemon_common::{Agent, Hq, hq_shift_log, recorded_ids};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

const POLICY: &str = "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 5\nlost_contact_after_missed = 100";

/// "Run check now" on the daemon's socket (the tray's item; no CLI command has it).
fn run_check(a: &Agent) {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::os::unix::net::UnixStream::connect(a.state.join("daemon.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"{\"cmd\":\"check\"}\n").unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    assert!(answer.contains("status"), "{answer}");
}

fn quarantined(a: &Agent) -> Vec<shiftready::spool::Quarantined> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (s, _) = shiftready::spool::Spool::open(&a.state.join("spool.db"), 1 << 30)
            .await
            .unwrap();
        let q = s.quarantined_events().await.unwrap();
        s.close().await;
        q
    })
}

#[test]
fn a_report_hq_refuses_is_set_aside_and_everything_else_arrives() {
    let hq = Hq::start(POLICY);
    let mut a = Agent::new("", POLICY);
    let device = daemon_common::AgentExt::enroll(&a, &hq);
    // A report over HQ's 64 KiB limit: a metric of 70,000 characters.
    let big = "x".repeat(70_000);
    let doc = json!({"schema": 1, "readiness": "unknown", "checks": {
        "os": {"status": "pass", "metrics": {"blob": big}, "hint": ""},
        "headset": {"status": "pass", "metrics": {}, "hint": ""},
        "network": {"status": "pass", "metrics": {}, "hint": ""},
    }});
    std::fs::write(&a.report, doc.to_string()).unwrap();
    a.start();
    assert!(a.cli(&["sign-in"]).status.success());
    run_check(&a);
    let s = a.wait_for("the report set aside", Duration::from_secs(30), |s| {
        s["quarantined"].as_u64().unwrap_or(0) >= 1 && s["spool_events"] == 0
    });
    assert!(
        s["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "events_rejected"),
        "{s}"
    );
    assert_eq!(
        s["hq"], "connected",
        "HQ answered; it is not unreachable: {s}"
    );
    let human = String::from_utf8_lossy(&a.cli(&["status"]).stdout).into_owned();
    assert!(human.contains("Set aside:"), "{human}");
    // Delivery goes on after it: heartbeats keep arriving.
    let before = hq.event_ids(&device).len();
    a.wait_for(
        "a heartbeat delivered after",
        Duration::from_secs(20),
        |_| hq.event_ids(&device).len() > before,
    );
    assert!(a.cli(&["sign-out"]).status.success());
    a.wait_for("delivery", Duration::from_secs(15), |s| {
        s["spool_events"] == 0
    });
    assert!(a.signal("-TERM").success());

    assert_eq!(
        hq_shift_log(&hq, &device),
        [
            ("sign_in".to_string(), "manual".to_string()),
            ("sign_out".to_string(), "manual".to_string())
        ]
    );
    let aside = quarantined(&a);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(aside[0].body.contains("\"report\"") && aside[0].body.contains(&big));
    assert!(aside[0].reason.contains("bytes"), "{:?}", aside[0].reason);
    let log = a.logs();
    assert!(log.contains("events_rejected"), "{log}");
    let recorded: BTreeSet<String> = recorded_ids(&log).into_iter().collect();
    let want: BTreeSet<String> = recorded
        .iter()
        .filter(|id| **id != aside[0].id.to_string())
        .cloned()
        .collect();
    let at_hq: BTreeSet<String> = hq.event_ids(&device).into_iter().collect();
    assert_eq!(
        at_hq, want,
        "HQ holds exactly what was recorded and not set aside"
    );
}
