//! `shiftready fix` against a real PulseAudio server (issue 16): a USB headset plugged in
//! while the built-in codec is the default, its microphone muted and at 5 %. Before: the
//! headset check fails; `fix`: the server's defaults, mute and volume really change and the
//! check passes; a second `fix` changes nothing. `--dry-run` changes nothing. Skipped (and
//! says so) without PulseAudio unless `SHIFTREADY_REQUIRE_PULSE=1` (CI).

use serde_json::Value;
use shiftready_testkit::pulse::{BUILTIN, Pulse, USB_HEADSET};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

fn shiftready(pa: &Pulse, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(pa.env())
        .env("HOME", pa.dir())
        .env("XDG_DATA_HOME", pa.dir().join("data"))
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A server with the built-in codec as default and a USB headset whose microphone is muted
/// at 5 %.
fn wrong_setup(test: &str) -> Option<Pulse> {
    let pa = Pulse::start(test)?;
    pa.add("builtin", "Built-in Audio Analog Stereo", BUILTIN);
    pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("builtin");
    pa.pactl(&["set-source-mute", "usb_in", "1"]).unwrap();
    pa.pactl(&["set-source-volume", "usb_in", "5%"]).unwrap();
    Some(pa)
}

fn server_state(pa: &Pulse) -> (String, String, String, String) {
    (
        pa.pactl(&["get-default-source"]).unwrap(),
        pa.pactl(&["get-default-sink"]).unwrap(),
        pa.pactl(&["get-source-mute", "usb_in"]).unwrap(),
        pa.pactl(&["get-source-volume", "usb_in"]).unwrap(),
    )
}

#[test]
fn fix_makes_the_headset_the_default_unmuted_and_audible() {
    let Some(pa) = wrong_setup("fix_makes_the_headset_the_default_unmuted_and_audible") else {
        return;
    };
    let before = shiftready(&pa, &["check", "--json", "--only", "headset", "--no-send"]);
    let before = json(&before);
    assert_eq!(before["checks"]["headset"]["status"], "fail", "{before}");
    assert!(
        before["checks"]["headset"]["hint"]
            .as_str()
            .unwrap()
            .contains("run `shiftready fix`"),
        "the hint offers the fix where it can be done: {before}"
    );

    let out = shiftready(&pa, &["fix", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let kinds: Vec<&str> = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "default_input",
            "unmute_input",
            "input_volume",
            "default_output"
        ],
        "{v}"
    );
    assert_eq!(
        v["changed"][0]["what"],
        "USB Audio Device Mono is now the default microphone (was Built-in Audio Analog Stereo Mono)."
    );
    assert_eq!(v["headset"]["status"], "pass", "{v}");

    // The server really changed, as pactl itself reads it.
    let (src, sink, mute, vol) = server_state(&pa);
    assert_eq!(src, "usb_in");
    assert_eq!(sink, "usb_out");
    assert_eq!(mute, "Mute: no");
    assert!(vol.contains("100%"), "{vol}");

    // Nothing left to change: says so, exit 0, and the text output is for people.
    let again = shiftready(&pa, &["fix"]);
    assert_eq!(again.status.code(), Some(0));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.starts_with("Nothing to change"), "{text}");
    assert!(text.contains("headset"), "{text}");
}

#[test]
fn dry_run_changes_nothing_and_no_sound_server_is_a_clear_error() {
    let Some(pa) = wrong_setup("dry_run_changes_nothing_and_no_sound_server_is_a_clear_error")
    else {
        return;
    };
    let before = server_state(&pa);
    let out = shiftready(&pa, &["fix", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Would change"), "{text}");
    assert!(
        text.contains("USB Audio Device Mono is now the default microphone"),
        "{text}"
    );
    // Still failing, and the exit code says so (2: not ready).
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert_eq!(server_state(&pa), before, "--dry-run changed the server");

    // No sound server answers: exit 69 and what to do by hand, never a panic.
    let out = Command::new(BIN)
        .args(["fix"])
        .env("HOME", pa.dir())
        .env("XDG_DATA_HOME", pa.dir().join("data"))
        .env("XDG_RUNTIME_DIR", pa.dir().join("nothing-here"))
        .env(
            "PULSE_SERVER",
            format!("unix:{}", pa.dir().join("no-socket").display()),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("open the sound settings"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
