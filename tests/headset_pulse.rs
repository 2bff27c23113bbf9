//! The headset check against a real PulseAudio server: the sound server's own device
//! properties (`device.form_factor`, `device.bus`) decide, and its defaults are the defaults.
//!
//! The server runs with no sound card: null sinks stand for the outputs and remap sources on
//! their monitors for the microphones, each carrying the properties a real USB headset, a
//! laptop's built-in codec or a Bluetooth headset has (`shiftready_testkit::pulse`). Skipped (and
//! says so) when PulseAudio is not installed, unless `SHIFTREADY_REQUIRE_PULSE=1` (CI) makes
//! that a failure; `scripts/setup.sh test` installs it.

use serde_json::Value;
use shiftready_testkit::pulse::{BT_HEADSET, BUILTIN, Pulse, USB_HEADSET};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

/// `check --json --only headset` against this server (its `HOME` too, so no config of the
/// machine's is found); the headset check's result.
fn headset(pa: &Pulse, extra: &[&str]) -> Value {
    let mut args = vec!["check", "--json", "--only", "headset"];
    args.extend_from_slice(extra);
    let out = Command::new(BIN)
        .args(&args)
        .envs(pa.env())
        .env("HOME", pa.dir())
        .env("XDG_DATA_HOME", pa.dir().join("data"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    v["checks"]["headset"].clone()
}

#[test]
fn sound_server_properties_decide_and_its_default_counts() {
    let Some(pa) = Pulse::start("sound_server_properties_decide_and_its_default_counts") else {
        return;
    };
    pa.add("builtin", "Built-in Audio Analog Stereo", BUILTIN);
    // A name that no headset maker list would match: only the server's properties say it.
    pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("builtin");
    let h = headset(&pa, &[]);
    assert_eq!(h["status"], "fail", "{h}");
    assert_eq!(h["metrics"]["backend"], "pulseaudio");
    assert_eq!(h["metrics"]["source"], "sound_server");
    assert_eq!(h["metrics"]["transport"], "usb");
    assert_eq!(h["metrics"]["headset_name"], "USB Audio Device Mono");
    assert!(
        h["hint"]
            .as_str()
            .unwrap()
            .contains("still uses Built-in Audio Analog Stereo Mono"),
        "{h}"
    );
    pa.set_default("usb");
    let h = headset(&pa, &[]);
    assert_eq!(h["status"], "pass", "{h}");
    assert_eq!(h["metrics"]["is_default_input"], true);
    assert_eq!(h["metrics"]["is_default_output"], true);
}

#[test]
fn bluetooth_headset_from_the_sound_server_against_policy() {
    let Some(pa) = Pulse::start("bluetooth_headset_from_the_sound_server_against_policy") else {
        return;
    };
    pa.add("bt", "WH-1000XM4", BT_HEADSET);
    pa.set_default("bt");
    let h = headset(&pa, &[]);
    assert_eq!(h["status"], "pass", "{h}");
    assert_eq!(h["metrics"]["transport"], "bluetooth");
    let pol = pa.dir().join("policy.toml");
    std::fs::write(&pol, "[headset]\nbluetooth_allowed = false\n").unwrap();
    let cfg = pa.dir().join("agent.toml");
    std::fs::write(
        &cfg,
        format!("[agent]\npolicy_file = \"{}\"\n", pol.display()),
    )
    .unwrap();
    let h = headset(&pa, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(h["status"], "fail", "{h}");
    assert!(
        h["hint"].as_str().unwrap().contains("Bluetooth headset"),
        "{h}"
    );
}
