//! "Dropped calls explained" (issue 15), the agent's side: `shiftready report-drop` against
//! the real daemon, signed in with its pilot streaming to the real `shiftready-hq`'s reflector
//! on loopback. The daemon records a `call_drop` carrying the per-second history of the time
//! it was signed in (the pilot fills the ring only then; at most 900 s), HQ stores it with the
//! note and explains it; without a daemon the command says so as `sign-in` does; a note over
//! 1000 characters is a usage error.

mod daemon_common;

use chrono::{DateTime, Utc};
use daemon_common::{Agent, Hq, read_hq_db};
use serde_json::Value;
use std::time::Duration;

const POLICY: &str = "heartbeat_seconds = 5\nlost_contact_after_missed = 100";

/// HQ with its reflector on a known loopback port (the testkit's own picks a random one and
/// does not say which), and an agent configured for both, with the pilot on; enrolled.
fn lab() -> (Hq, shiftready_testkit::hq::Server, Agent) {
    let mut hq = Hq::start(POLICY);
    hq.stop();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = shiftready_testkit::hq::Serve {
        bin: &shiftready_testkit::hq::bin(),
        db_url: &hq.db_url,
        data_dir: hq.dir.path(),
        listen: &format!("127.0.0.1:{}", hq.port),
        probe_listen: &format!("127.0.0.1:{udp}"),
        extra: &[],
        log: &hq.dir.path().join("hq.log"),
        wrapper: &[],
    }
    .start();
    hq.url = server.url.clone();
    let a = Agent::new(
        &format!(
            "[hq]\nurl = \"{}\"\nreflector = \"127.0.0.1:{udp}\"\n\n[monitor]\npilot = true\n",
            hq.url
        ),
        "",
    );
    a.enroll_with(&hq.url, &hq.secret);
    (hq, server, a)
}

/// The `call_drop` events HQ holds (their bodies), oldest first.
fn drops_at_hq(hq: &Hq) -> Vec<Value> {
    let rows: Vec<(String,)> = read_hq_db(&hq.db_path, async |c| {
        sqlx::query_as("SELECT body FROM events WHERE kind = 'call_drop' ORDER BY at")
            .fetch_all(c)
            .await
            .unwrap()
    });
    rows.into_iter()
        .map(|(b,)| serde_json::from_str(&b).unwrap())
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The columns of a `Seconds` block, each of `n` entries.
fn assert_well_formed(s: &Value, n: usize) {
    for col in [
        "rtt_ms",
        "loss_up_pct",
        "loss_down_pct",
        "jitter_ms",
        "gateway_rtt_ms",
        "gateway_ok",
        "link_up",
        "wifi_signal_dbm",
        "headset",
    ] {
        let len = s[col].as_array().map_or(usize::MAX, Vec::len);
        assert_eq!(len, n, "column {col}: {s}");
    }
}

#[test]
fn a_dropped_call_reaches_hq_with_the_seconds_of_the_shift_and_the_note() {
    let (hq, _server, mut a) = lab();
    a.start();
    let signed_in_at = Utc::now();
    assert!(a.cli(&["sign-in"]).status.success(), "{}", a.logs());
    a.wait_log("pilot stream to HQ's reflector", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(12));

    let out = a.cli(&["report-drop", "--note", "customer cut off"]);
    let reported_at = Utc::now();
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}\n{}", text(&out.stderr));
    // In words: how many seconds went with it, and the event's id.
    let seconds: usize = said
        .split("with the last ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {said:?}"));
    let id = said
        .split("(reference ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no reference in {said:?}"))
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{said}");
    assert!(said.contains("Dropped call recorded for IT"), "{said}");

    // `--json`: one document with the event's id and its seconds.
    let out = a.cli(&["report-drop", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], true, "{doc}");
    let second_id = doc["call_drop"]["id"].as_str().unwrap().to_string();
    assert!(doc["call_drop"]["seconds"].as_u64().unwrap() as usize >= seconds);

    a.wait_for("delivery", Duration::from_secs(20), |s| {
        s["spool_events"] == 0
    });
    let drops = drops_at_hq(&hq);
    assert_eq!(drops.len(), 2, "{drops:?}");
    let d = &drops[0];
    assert_eq!(d["id"], id.as_str());
    assert_eq!(drops[1]["id"], second_id.as_str());
    assert_eq!(d["call_drop"]["note"], "customer cut off");
    assert_eq!(drops[1]["call_drop"]["note"], "");
    // The history: one entry a second from about the sign-in (the pilot starts then; a
    // second is written two seconds after it ends) to just before the report.
    let s = &d["call_drop"]["seconds"];
    assert_well_formed(s, seconds);
    let start: DateTime<Utc> = s["start"].as_str().unwrap().parse().unwrap();
    let signed_secs = (reported_at - signed_in_at).num_seconds() as usize;
    assert!(seconds <= 900);
    assert!(
        seconds + 5 >= signed_secs && seconds <= signed_secs + 1,
        "{seconds} s of history for {signed_secs} s signed in"
    );
    assert!(
        start >= signed_in_at - chrono::Duration::seconds(1),
        "{start} before the sign-in at {signed_in_at}"
    );
    // The reflector answered on loopback: RTTs measured, no loss.
    let rtt = s["rtt_ms"].as_array().unwrap();
    let answered = rtt.iter().filter(|v| v.is_number()).count();
    assert!(
        answered * 10 >= rtt.len() * 8,
        "{answered} of {} answered",
        rtt.len()
    );
    assert!(
        s["loss_up_pct"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.is_null() || v.as_f64() == Some(0.0)),
        "{s}"
    );

    // HQ explains it: nothing was wrong on this computer's line.
    let api = hq.api("/api/v1/call-drops");
    let row = api["call_drops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {api}"));
    assert_eq!(row["note"], "customer cut off", "{row}");
    assert!(row["verdict"].is_string(), "{row}");
    println!("HQ's verdict: {} ({})", row["verdict"], row["verdict_kind"]);
    assert_eq!(
        row["verdict_kind"], "none",
        "a clean loopback line, measured: {row}"
    );

    // A note over the limit: a usage error, and nothing recorded.
    let long = "x".repeat(proto::sample::CALL_DROP_MAX_NOTE + 1);
    let out = a.cli(&["report-drop", "--note", &long]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("1001 characters") && err.contains("at most 1000"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(drops_at_hq(&hq).len(), 2);
    assert_eq!(a.logs().matches("dropped call reported").count(), 2);
    assert!(a.signal("-TERM").success());
}

#[test]
fn without_a_daemon_report_drop_says_so_like_sign_in() {
    let a = Agent::new("", "");
    let drop = a.cli(&["report-drop", "--note", "customer cut off"]);
    let sign_in = a.cli(&["sign-in"]);
    assert_eq!(drop.status.code(), Some(69), "{}", text(&drop.stderr));
    assert_eq!(drop.status.code(), sign_in.status.code());
    assert_eq!(text(&drop.stderr), text(&sign_in.stderr));
    assert!(
        text(&drop.stderr).contains("daemon is not running") && drop.stdout.is_empty(),
        "{}",
        text(&drop.stderr)
    );
    // The limit is checked first: an over-long note is a usage error even then.
    let long = "é".repeat(proto::sample::CALL_DROP_MAX_NOTE + 1);
    let out = a.cli(&["report-drop", "--note", &long]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    // At the limit (in characters, not bytes) it goes to the daemon: here, none.
    let max = "é".repeat(proto::sample::CALL_DROP_MAX_NOTE);
    let out = a.cli(&["report-drop", "--note", &max]);
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
}

/// While signed in, a `sample` for each whole minute (issue 15, "a timeline at HQ"): signed
/// in across a minute boundary and out a few seconds later, HQ holds the minute of the
/// sign-in and the minute of the sign-out (each partial), dated on whole minutes, with the
/// pilot's figures; together about the seconds signed in.
#[test]
fn a_sample_for_each_minute_signed_in_reaches_hq() {
    use chrono::{DurationRound, Timelike};
    let (hq, _server, mut a) = lab();
    a.start();
    // Not in the last seconds of a minute: the sign-in's minute then has pilot seconds.
    while Utc::now().second() > 45 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let signed_in_at = Utc::now();
    assert!(a.cli(&["sign-in"]).status.success(), "{}", a.logs());
    let first = signed_in_at
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    let next = first + chrono::Duration::minutes(1);
    while Utc::now() < next + chrono::Duration::seconds(6) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(a.cli(&["sign-out"]).status.success(), "{}", a.logs());
    let signed_secs = (Utc::now() - signed_in_at).num_seconds();
    a.wait_for("delivery", Duration::from_secs(20), |s| {
        s["spool_events"] == 0
    });
    let rows: Vec<(i64, String)> = read_hq_db(&hq.db_path, async |c| {
        sqlx::query_as("SELECT at, body FROM events WHERE kind = 'sample' ORDER BY at")
            .fetch_all(c)
            .await
            .unwrap()
    });
    let at: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(
        at,
        [first.timestamp_millis(), next.timestamp_millis()],
        "{rows:?}"
    );
    let samples: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.1).unwrap()["sample"].clone())
        .collect();
    let seconds: i64 = samples.iter().map(|s| s["seconds"].as_i64().unwrap()).sum();
    assert!(
        seconds <= signed_secs && seconds + 5 >= signed_secs,
        "{seconds} s in the samples for {signed_secs} s signed in: {samples:?}"
    );
    for s in &samples {
        assert!(s["rtt_p50_ms"].is_number(), "{s}");
        assert!(s["mos_min"].as_f64().unwrap() > 4.0, "{s}");
        assert_eq!(s["loss_up_pct"], 0.0, "{s}");
    }
}
