//! The real daemon against a real `shiftready-hq` process: shifts from HQ, sign-in,
//! heartbeats and sign-out in HQ's shift log; HQ stopped and restarted; the daemon killed
//! with SIGKILL at random moments. Every event the daemon committed arrives exactly once, and
//! HQ holds nothing the daemon did not record.

mod daemon_common;

use chrono::{Timelike, Utc};
use daemon_common::{Agent, AgentExt, Hq, hq_shift_log, recorded_ids, shift_events};
use std::collections::BTreeSet;
use std::time::Duration;

const POLICY: &str = "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 5\nlost_contact_after_missed = 100";

fn pair(k: &str, r: &str) -> (String, String) {
    (k.to_string(), r.to_string())
}

/// Ids the daemon logged as about to be committed ("event to record", said before the
/// commit): a superset of what it recorded, even when it was killed between the commit and
/// "event recorded". Nothing else can have reached HQ from it.
fn to_record_ids(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter(|l| l.contains("event to record"))
        .filter_map(|l| l.split("id=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(str::to_string)
        .collect()
}

/// Exactly once, both ways: every id the daemon logged as committed is at HQ, and HQ holds
/// nothing for this device that the daemon did not record.
fn assert_exactly_once(a: &Agent, hq: &Hq, device: &str) -> usize {
    let log = a.logs();
    let logged: Vec<String> = recorded_ids(&log);
    assert!(!logged.is_empty(), "the daemon logged no recorded events");
    let logged_set: BTreeSet<&String> = logged.iter().collect();
    assert_eq!(logged.len(), logged_set.len(), "an id was recorded twice");
    let at_hq = hq.event_ids(device);
    let hq_set: BTreeSet<&String> = at_hq.iter().collect();
    assert_eq!(at_hq.len(), hq_set.len());
    let lost: Vec<_> = logged_set.difference(&hq_set).collect();
    assert!(lost.is_empty(), "events lost: {lost:?}");
    let attempted = to_record_ids(&log);
    assert!(
        logged_set.iter().all(|id| attempted.contains(*id)),
        "an event recorded without its 'event to record' line"
    );
    let extra: Vec<_> = hq_set
        .iter()
        .filter(|id| !attempted.contains(**id))
        .collect();
    assert!(
        extra.is_empty(),
        "HQ holds events the daemon never recorded: {extra:?}"
    );
    at_hq.len()
}

#[test]
fn hq_shift_is_signed_in_with_heartbeats_and_signed_out_in_the_shift_log() {
    let hq = Hq::start(POLICY);
    let a = Agent::new("", "");
    let device = a.enroll(&hq);
    let start = Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(6);
    let end = start + chrono::Duration::seconds(13);
    let csv = a.dir.path().join("shifts.csv");
    std::fs::write(
        &csv,
        format!(
            "agent,start,end\n{device},{},{}\n",
            start.to_rfc3339(),
            end.to_rfc3339()
        ),
    )
    .unwrap();
    let (code, _, err) = hq.cmd(&["shifts", "import", csv.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut a = a;
    a.start();
    let s = a.wait_for("HQ's shift in the schedule", Duration::from_secs(10), |s| {
        s["next_shift"]["start"].is_string() || s["shift"].is_object()
    });
    assert_eq!(s["hq"], "connected", "{s}");
    a.wait_for("sign-in", Duration::from_secs(15), |s| {
        s["signed_in"] == true
    });
    a.wait_for("sign-out", Duration::from_secs(25), |s| {
        s["signed_in"] == false
    });
    a.wait_for("delivery", Duration::from_secs(10), |s| {
        s["spool_events"] == 0
    });
    assert_eq!(
        hq_shift_log(&hq, &device),
        [pair("sign_in", "auto"), pair("sign_out", "auto")]
    );
    let shifts = hq.shifts();
    let si = shifts
        .iter()
        .find(|s| s["agent_id"] == device.as_str())
        .unwrap();
    assert_eq!(si["readiness"], "ready");
    let n = assert_exactly_once(&a, &hq, &device);
    let kinds = recorded_ids(&a.logs()).len();
    assert_eq!(n, kinds);
    let heartbeats = a
        .logs()
        .lines()
        .filter(|l| l.contains("event recorded") && l.contains("heartbeat"))
        .count();
    assert!(heartbeats >= 1, "{}", a.logs());
    assert!(a.signal("-TERM").success());
}

#[test]
fn hq_stopped_and_restarted_gets_every_event_exactly_once() {
    let mut hq = Hq::start(POLICY);
    let mut a = Agent::new("", "");
    let device = a.enroll(&hq);
    a.start();
    assert!(a.cli(&["sign-in"]).status.success());
    a.wait_for("delivery", Duration::from_secs(10), |s| {
        s["spool_events"] == 0 && s["hq"] == "connected"
    });
    hq.stop();
    assert!(a.cli(&["sign-out"]).status.success());
    assert!(a.cli(&["sign-in"]).status.success());
    // Heartbeats keep coming while HQ is away; after three failed tries the agent is offline.
    let s = a.wait_for("offline", Duration::from_secs(30), |s| {
        s["state"] == "offline"
    });
    assert!(s["spool_events"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(s["hq"], "unreachable");
    std::thread::sleep(Duration::from_secs(3));
    hq.serve();
    let s = a.wait_for("delivery after HQ is back", Duration::from_secs(60), |s| {
        s["spool_events"] == 0 && s["state"] != "offline"
    });
    assert_eq!(s["hq"], "connected");
    assert!(a.cli(&["sign-out"]).status.success());
    assert!(a.signal("-TERM").success());
    let n = assert_exactly_once(&a, &hq, &device);
    assert!(n >= 7, "only {n} events at HQ");
    assert_eq!(
        hq_shift_log(&hq, &device),
        [
            pair("sign_in", "manual"),
            pair("sign_out", "manual"),
            pair("sign_in", "manual"),
            pair("sign_out", "manual"),
        ]
    );
    // The outage was recorded as an incident with a start and an end.
    let log = a.logs();
    assert!(
        log.contains("incident=\"hq_unreachable\"") || log.contains("incident=hq_unreachable"),
        "{log}"
    );
    assert!(a.spool_events().is_empty());
}

#[test]
fn sigkill_at_random_moments_loses_and_doubles_nothing() {
    let seed = std::env::var("SHIFTREADY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("seed {seed} (set SHIFTREADY_TEST_SEED to repeat)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let hq = Hq::start(POLICY);
    let mut a = Agent::new("", "");
    let device = a.enroll(&hq);
    let mut clients = Vec::new();
    for _round in 0..8 {
        a.start();
        for _ in 0..rng.usize(1..4) {
            let cmd = if rng.bool() { "sign-in" } else { "sign-out" };
            // Fire and forget: the kill may land while the daemon is answering.
            let mut c = a.command();
            c.arg(cmd)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            clients.push(c.spawn().unwrap());
            std::thread::sleep(Duration::from_millis(rng.u64(0..400)));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..1500)));
        assert!(!a.signal("-KILL").success());
    }
    for mut c in clients {
        let _ = c.wait();
    }
    a.start();
    assert!(a.cli(&["sign-out"]).status.success());
    a.wait_for("delivery", Duration::from_secs(30), |s| {
        s["spool_events"] == 0
    });
    assert!(a.signal("-TERM").success());
    assert_exactly_once(&a, &hq, &device);
    // No double sign-in or sign-out: the log alternates, starting with a sign-in, and ends
    // signed out.
    let log = hq_shift_log(&hq, &device);
    for (i, (kind, _)) in log.iter().enumerate() {
        let want = if i % 2 == 0 { "sign_in" } else { "sign_out" };
        assert_eq!(kind, want, "seed {seed}: shift log {log:?}");
    }
    assert!(log.len() % 2 == 0, "seed {seed}: ends signed in: {log:?}");
    // The spool agrees: nothing is left.
    assert!(shift_events(&a.spool_events()).is_empty());
}
