//! The headset check against a real PulseAudio server: the sound server's own device
//! properties (`device.form_factor`, `device.bus`) decide, and its defaults are the defaults.
//!
//! The server runs with no sound card: null sinks stand for the outputs and remap sources on
//! their monitors for the microphones, each carrying the properties a real USB headset, a
//! laptop's built-in codec or a Bluetooth headset has. Skipped (and says so) when PulseAudio is
//! not installed; `scripts/setup.sh test` installs it.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

struct Pulse {
    dir: tempfile::TempDir,
    child: Child,
}

impl Pulse {
    fn start() -> Option<Pulse> {
        if Command::new("pulseaudio")
            .arg("--version")
            .output()
            .is_err()
            || Command::new("pactl").arg("--version").output().is_err()
        {
            eprintln!("SKIPPED: pulseaudio or pactl is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("native");
        std::fs::write(dir.path().join("client.conf"), "autospawn = no\n").unwrap();
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--log-target=stderr",
            ])
            .arg("-L")
            .arg(format!(
                "module-native-protocol-unix socket={} auth-anonymous=1",
                sock.display()
            ))
            .envs(Self::env_of(dir.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulseaudio");
        let p = Pulse { dir, child };
        let start = Instant::now();
        while !p.pactl(&["info"]) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "pulseaudio did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(p)
    }

    fn env_of(dir: &Path) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("HOME", dir.to_path_buf()),
            ("XDG_RUNTIME_DIR", dir.to_path_buf()),
            ("PULSE_RUNTIME_PATH", dir.to_path_buf()),
            ("PULSE_CLIENTCONFIG", dir.join("client.conf")),
            (
                "PULSE_SERVER",
                PathBuf::from(format!("unix:{}", dir.join("native").display())),
            ),
        ]
    }

    fn pactl(&self, args: &[&str]) -> bool {
        Command::new("pactl")
            .args(args)
            .envs(Self::env_of(self.dir.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A device with an output and a microphone sharing one bus path, as a real card does.
    fn add(&self, id: &str, description: &str, props: &str) {
        let p = |d: &str| format!("'device.description=\"{d}\" {props}'");
        assert!(self.pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={id}_out"),
            &format!("sink_properties={}", p(description)),
        ]));
        assert!(self.pactl(&[
            "load-module",
            "module-remap-source",
            &format!("source_name={id}_in"),
            &format!("master={id}_out.monitor"),
            &format!("source_properties={}", p(&format!("{description} Mono"))),
        ]));
    }

    fn set_default(&self, id: &str) {
        assert!(self.pactl(&["set-default-source", &format!("{id}_in")]));
        assert!(self.pactl(&["set-default-sink", &format!("{id}_out")]));
    }

    fn headset(&self, extra: &[&str]) -> Value {
        let mut args = vec!["check", "--json", "--only", "headset"];
        args.extend_from_slice(extra);
        let out = Command::new(BIN)
            .args(&args)
            .envs(Self::env_of(self.dir.path()))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        v["checks"]["headset"].clone()
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const USB_HEADSET: &str =
    "device.form_factor=headset device.bus=usb device.bus_path=pci-0000:00:14.0-usb-0:2:1.0";
const BUILTIN: &str = "device.bus=pci device.bus_path=pci-0000:00:1f.3";
const BT_HEADSET: &str =
    "device.form_factor=headset device.bus=bluetooth api.bluez5.address=00:1B:66:AA:BB:CC";

#[test]
fn sound_server_properties_decide_and_its_default_counts() {
    let Some(pa) = Pulse::start() else { return };
    pa.add("builtin", "Built-in Audio Analog Stereo", BUILTIN);
    // A name that no headset maker list would match: only the server's properties say it.
    pa.add("usb", "USB Audio Device", USB_HEADSET);
    pa.set_default("builtin");
    let h = pa.headset(&[]);
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
    let h = pa.headset(&[]);
    assert_eq!(h["status"], "pass", "{h}");
    assert_eq!(h["metrics"]["is_default_input"], true);
    assert_eq!(h["metrics"]["is_default_output"], true);
}

#[test]
fn bluetooth_headset_from_the_sound_server_against_policy() {
    let Some(pa) = Pulse::start() else { return };
    pa.add("bt", "WH-1000XM4", BT_HEADSET);
    pa.set_default("bt");
    let h = pa.headset(&[]);
    assert_eq!(h["status"], "pass", "{h}");
    assert_eq!(h["metrics"]["transport"], "bluetooth");
    let pol = pa.dir.path().join("policy.toml");
    std::fs::write(&pol, "[headset]\nbluetooth_allowed = false\n").unwrap();
    let cfg = pa.dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!("[agent]\npolicy_file = \"{}\"\n", pol.display()),
    )
    .unwrap();
    let h = pa.headset(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(h["status"], "fail", "{h}");
    assert!(
        h["hint"].as_str().unwrap().contains("Bluetooth headset"),
        "{h}"
    );
}
