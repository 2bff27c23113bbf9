//! The daemon watches the headset instead of polling it (Linux): against a real PulseAudio
//! (no sound card: null sinks and remap sources carrying a USB headset's properties), the
//! signed-in daemon looks at the headset at sign-in until its looks agree, then not again while
//! nothing changes; when the headset's modules are unloaded (what unplugging does to the
//! server), `pactl subscribe` reports it and the `headset_gone` incident is recorded within
//! seconds, and it ends when the headset is back. The safety recheck is set to an hour, so
//! only the watch can explain the reaction. Skipped (and says so) when PulseAudio is not
//! installed, unless `SHIFTREADY_REQUIRE_PULSE=1` (CI) makes that a failure.
#![cfg(target_os = "linux")]

mod daemon_common;

use daemon_common::{Agent, AgentExt};
use shiftready_testkit::pulse::{BUILTIN, Pulse, USB_HEADSET};
use std::time::{Duration, Instant};

fn looks(log: &str) -> usize {
    log.matches("looked at the headset").count()
}

fn incidents(a: &Agent) -> Vec<String> {
    a.status()["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn unplugging_is_noticed_by_the_watch_and_idle_costs_no_looks() {
    let Some(pa) = Pulse::start("unplugging_is_noticed_by_the_watch_and_idle_costs_no_looks")
    else {
        return;
    };
    pa.add("builtin", "Built-in Audio Analog Stereo", BUILTIN);
    let headset = pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("usb");

    // Looks every second while a change settles, and the safety recheck an hour apart; the
    // other monitors out of the way.
    let mut a = Agent::new(
        "headset_recheck_seconds = 3600\nprobe_interval_seconds = 86400\n\
         noise_interval_seconds = 0\n",
        "readiness_bar = \"any\"",
    );
    a.spawn(&["run", "--headless"], |c| {
        c.env_remove("SHIFTREADY_TEST_REPORT").envs(pa.env());
    });
    let out = a.cli(&["sign-in"]);
    assert!(out.status.success(), "{}", a.logs());

    // At sign-in it looks until five looks agree (about five seconds), then goes quiet.
    let until = Instant::now() + Duration::from_secs(30);
    while !a.logs().contains("settled=true") {
        assert!(
            Instant::now() < until,
            "the looks never settled:\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        a.logs().contains("watching the sound server's devices"),
        "{}",
        a.logs()
    );
    assert!(incidents(&a).is_empty(), "{}", a.logs());
    let settled = looks(&a.logs());
    assert!(settled >= 5, "{}", a.logs());
    std::thread::sleep(Duration::from_secs(4));
    // Polling every second would have looked four more times.
    assert_eq!(
        looks(&a.logs()),
        settled,
        "it looked while nothing changed:\n{}",
        a.logs()
    );

    // Unplugged: the server drops the headset's source and sink.
    let unplugged_at = chrono::Utc::now();
    for module in &headset {
        assert!(pa.pactl(&["unload-module", module]).is_some());
    }
    // A generous wait (a loaded machine is slow); what the test claims is measured below on
    // the timestamp the daemon records, not on this loop.
    let until = Instant::now() + Duration::from_secs(60);
    while !incidents(&a).contains(&"headset_gone".to_string()) {
        assert!(
            Instant::now() < until,
            "headset_gone was not raised within 60 s:\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs = a.logs();
    assert!(
        logs.contains("device change: pactl: Event 'remove' on source"),
        "{logs}"
    );
    assert!(logs.contains("incident=\"headset_gone\""), "{logs}");
    // Plugged back in: the incident ends (five good looks in a row).
    pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("usb");
    let until = Instant::now() + Duration::from_secs(20);
    while !incidents(&a).is_empty() {
        assert!(
            Instant::now() < until,
            "headset_gone did not end:\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(a.signal("-TERM").success());
    let events = a.spool_events();
    let states: Vec<String> = events
        .iter()
        .filter_map(|e| {
            let v = serde_json::to_value(&e.body).unwrap();
            (v["kind"] == "incident" && v["name"] == "headset_gone")
                .then(|| v["state"].as_str().unwrap_or("").to_string())
        })
        .collect();
    assert_eq!(states, ["started", "ended"], "{events:?}");
    // By the daemon's own clock: the incident started after the unplug, and sooner than the
    // safety recheck (an hour) could have noticed it, so the watch did.
    let started = events
        .iter()
        .find(|e| {
            let v = serde_json::to_value(&e.body).unwrap();
            v["kind"] == "incident" && v["name"] == "headset_gone" && v["state"] == "started"
        })
        .unwrap();
    let noticed = started.at - unplugged_at;
    assert!(
        noticed >= chrono::Duration::zero() && noticed < chrono::Duration::seconds(3600),
        "headset_gone recorded {noticed} after the unplug"
    );
    eprintln!("headset_gone recorded {noticed} after the unplug");
}
