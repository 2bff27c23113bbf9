//! "Offline means offline" (issue 15): the real daemon, enrolled, with no shift today, and the
//! real `shiftready-hq`. Off shift the daemon sends a presence heartbeat (`signed_in: false`)
//! at once and every `shift.presence_seconds` of HQ's policy, and runs the full check soon
//! after it starts, sent as a `report`: HQ then knows the computer is on (`last_seen`) and
//! its readiness, where before it had neither and called it offline.

mod daemon_common;

use daemon_common::{Agent, AgentExt, Hq, read_hq_db};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A short presence interval, so the test sees several heartbeats.
const POLICY: &str = "heartbeat_seconds = 5\nlost_contact_after_missed = 100\npresence_seconds = 5";

/// The device's row of `GET /api/v1/agents` (as the IT viewer).
fn agent_row(hq: &Hq, device: &str) -> Value {
    let v = hq.api("/api/v1/agents");
    v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == device)
        .cloned()
        .unwrap_or_else(|| panic!("{device} not in {v}"))
}

/// The device's events at HQ of `kind`: (time in ms by the agent's clock, body).
fn events_at_hq(hq: &Hq, device: &str, kind: &str) -> Vec<(i64, Value)> {
    let rows: Vec<(i64, String)> = read_hq_db(&hq.db_path, async |c| {
        sqlx::query_as("SELECT at, body FROM events WHERE device_id = ? AND kind = ? ORDER BY at")
            .bind(device)
            .bind(kind)
            .fetch_all(c)
            .await
            .unwrap()
    });
    rows.into_iter()
        .map(|(at, b)| (at, serde_json::from_str(&b).unwrap()))
        .collect()
}

#[test]
fn off_shift_the_daemon_tells_hq_it_is_on_and_how_ready_it_is() {
    let hq = Hq::start(POLICY);
    let mut a = Agent::new("", "");
    let device = a.enroll(&hq);
    // Enrolled, daemon not running: nothing heard, offline.
    let before = agent_row(&hq, &device);
    assert!(before["last_seen"].is_null(), "{before}");
    assert_eq!(before["state"], "offline", "{before}");

    a.start();
    let t0 = Instant::now();
    // Heard from at once, and the full check's readiness arrives soon after (the test
    // report says every check passes).
    let row = loop {
        let row = agent_row(&hq, &device);
        if row["last_seen"].is_string() && row["readiness"] == "ready" {
            break row;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "HQ never saw the computer ready off shift: {row}\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(row["signed_in"], false, "{row}");
    // Wait for three presence heartbeats, at HQ's 5 s interval (the default is 300 s).
    while events_at_hq(&hq, &device, "heartbeat").len() < 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "fewer than 3 heartbeats at HQ after 40 s:\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = a.status();
    assert_eq!(status["signed_in"], false, "{status}");
    let beats = events_at_hq(&hq, &device, "heartbeat");
    for (_, b) in &beats {
        assert_eq!(b["signed_in"], false, "{b}");
    }
    for w in beats.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            (4_500..=8_000).contains(&gap),
            "heartbeats {gap} ms apart, not presence_seconds = 5: {beats:?}"
        );
    }
    // Once the check has run, the heartbeats say its readiness.
    assert_eq!(beats.last().unwrap().1["readiness"], "ready", "{beats:?}");
    // The full check ran once (at the start; the next is a day later), sent as a report.
    let reports = events_at_hq(&hq, &device, "report");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].1["report"]["readiness"], "ready");
    // Not signed in: no shift event, and no sample.
    assert!(events_at_hq(&hq, &device, "sign_in").is_empty());
    assert!(events_at_hq(&hq, &device, "sample").is_empty());
    let row = agent_row(&hq, &device);
    assert!(row["last_seen"].is_string(), "{row}");
    assert_eq!(row["readiness"], "ready", "{row}");
    // On, not signed in, heard from: the fleet's `idle`, not `offline`.
    assert_eq!(row["state"], "idle", "{row}");
    assert!(a.signal("-TERM").success());
}
