//! A whole shift reaches the phone system (issue 14): the real agent daemon (`shiftready run`)
//! against a real PulseAudio (null sinks standing in for a USB headset, as in
//! `tests/headset_watch.rs`), the real `shiftready-hq`, and Twilio TaskRouter's stand-in (a
//! mock). Sign-in → available; the headset unplugged → not ready with the headset's activity;
//! plugged back → available; an agent a supervisor put on Break stays there through the next
//! unplug and replug; sign-out → offline. Skipped (and says so) without PulseAudio, unless
//! `SHIFTREADY_REQUIRE_PULSE=1`.
#![cfg(target_os = "linux")]

mod common;
mod connectors_common;

use common::{HQ, hq_cmd, last_line};
use connectors_common::*;
use shiftready_testkit::agent::Agent;
use shiftready_testkit::pulse::{BUILTIN, Pulse, USB_HEADSET};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn activities(m: &MockPlatform) -> Vec<HashMap<String, String>> {
    m.seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .map(|s| s.form().into_iter().collect())
        .collect()
}

fn worker_reads(m: &MockPlatform) -> usize {
    m.seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path.ends_with("/Workers/WK7"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_shift_with_the_real_daemon_reaches_twilio() {
    let Some(pa) = Pulse::start("a_whole_shift_with_the_real_daemon_reaches_twilio") else {
        return;
    };
    pa.add("builtin", "Built-in Audio Analog Stereo", BUILTIN);
    let headset = pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("usb");

    let activity = Arc::new(Mutex::new("WA_offline".to_string()));
    let mock = MockPlatform::start(twilio_mock(activity.clone())).await;
    let t = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = hq_cmd(&t.url, &["enroll-secret", "create", "--site", "main"], None);
    assert_eq!(code, 0, "{err}");
    let secret = last_line(&out);
    // The real checks run on this machine: the site signs in whatever they say, so only the
    // headset's incident takes the agent off calls.
    let policy = "[shift]\nreadiness_bar = \"any\"\nheartbeat_seconds = 5\n";
    let (code, _, err) = with_file(&t.url, dir.path(), "policy.toml", policy, POLICY_SET);
    assert_eq!(code, 0, "{err}");
    let token = secret_file(dir.path(), "twilio.token", TW_TOKEN);
    let toml = twilio_toml(&mock.url()).replace("SECRET", &token.display().to_string());
    let (code, out, err) = with_file(&t.url, dir.path(), "twilio.toml", &toml, CONNECTOR_SET);
    assert_eq!(code, 0, "{out}{err}");
    let server = shiftready_testkit::hq::Server::start(
        Path::new(HQ),
        &t.url,
        dir.path(),
        "127.0.0.1:0",
        &["--sweep-seconds", "0.5"],
        &dir.path().join("hq.log"),
    );

    let mut a = Agent::new(
        "headset_recheck_seconds = 3600\nprobe_interval_seconds = 86400\n\
         noise_interval_seconds = 0\n",
        "readiness_bar = \"any\"",
    );
    let device = a.enroll_with(&server.url, &secret);
    let csv = format!(
        "agent,platform_user
{device},WK7
"
    );
    let (code, out, err) = with_file(&t.url, dir.path(), "users.csv", &csv, USERS_IMPORT);
    assert_eq!(code, 0, "{out}{err}");
    a.spawn(&["run", "--headless"], |c| {
        c.env_remove("SHIFTREADY_TEST_REPORT").envs(pa.env());
    });
    let out = a.cli(&["sign-in"]);
    assert!(out.status.success(), "{}", a.logs());
    until(60, "available after sign-in", || {
        activities(&mock).len() == 1
    })
    .await;
    assert_eq!(activities(&mock)[0]["ActivitySid"], "WA_avail");

    // Unplugged: headset_gone → the headset's not-ready activity, reservations rejected.
    for module in &headset {
        assert!(pa.pactl(&["unload-module", module]).is_some());
    }
    until(90, "not ready after the unplug", || {
        activities(&mock).len() == 2
    })
    .await;
    let a2 = &activities(&mock)[1];
    assert_eq!(a2["ActivitySid"], "WA_headset");
    assert_eq!(a2["RejectPendingReservations"], "true");

    // Plugged back in: the incident ends → available.
    let headset = pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("usb");
    until(90, "available after the replug", || {
        activities(&mock).len() == 3
    })
    .await;
    assert_eq!(activities(&mock)[2]["ActivitySid"], "WA_avail");

    // A supervisor puts the agent on Break; an unplug and a replug leave the Break alone.
    *activity.lock().unwrap() = "WA_break".into();
    let reads = worker_reads(&mock);
    for module in &headset {
        assert!(pa.pactl(&["unload-module", module]).is_some());
    }
    until(90, "the not-ready change read the Break", || {
        worker_reads(&mock) == reads + 1
    })
    .await;
    pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("usb");
    until(90, "the recovery read the Break", || {
        worker_reads(&mock) == reads + 2
    })
    .await;
    assert_eq!(
        activities(&mock).len(),
        3,
        "ShiftReady moved an agent on Break"
    );
    assert_eq!(*activity.lock().unwrap(), "WA_break");

    // Sign-out → offline (the shift is over, whatever the activity).
    let out = a.cli(&["sign-out"]);
    assert!(out.status.success(), "{}", a.logs());
    until(60, "offline after sign-out", || {
        activities(&mock).len() == 4
    })
    .await;
    assert_eq!(activities(&mock)[3]["ActivitySid"], "WA_offline");
    assert!(a.signal("-TERM").success());
}
