//! A real PulseAudio server of the test's own, with no sound card: null sinks stand for the
//! outputs and remap sources on their monitors for the microphones, each carrying the
//! properties (`device.form_factor`, `device.bus`, ...) a real card has.
//!
//! Missing `pulseaudio` or `pactl` skips (and says so), or fails with
//! `SHIFTREADY_REQUIRE_PULSE=1` (CI). `scripts/setup.sh test` installs both.

use crate::proc::{Proc, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A USB headset's properties as PulseAudio's udev detection sets them.
pub const USB_HEADSET: &str =
    "device.form_factor=headset device.bus=usb device.bus_path=pci-0000:00:14.0-usb-0:2:1.0";
/// A laptop's built-in codec.
pub const BUILTIN: &str = "device.bus=pci device.bus_path=pci-0000:00:1f.3";
/// A Bluetooth headset as the bluez5 module describes it.
pub const BT_HEADSET: &str =
    "device.form_factor=headset device.bus=bluetooth api.bluez5.address=00:1B:66:AA:BB:CC";

pub struct Pulse {
    dir: tempfile::TempDir,
    _server: Proc,
}

impl Pulse {
    /// Starts the server and waits until `pactl info` answers; `None` (after `SKIPPED`) when
    /// PulseAudio is not installed and `SHIFTREADY_REQUIRE_PULSE` is not `1`.
    pub fn start(test: &str) -> Option<Pulse> {
        for tool in ["pulseaudio", "pactl"] {
            if Command::new(tool).arg("--version").output().is_err() {
                crate::skip_or_fail(
                    "PULSE",
                    test,
                    &format!(
                        "{tool} is not installed (Debian packages pulseaudio, pulseaudio-utils)"
                    ),
                );
                return None;
            }
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
            .env("HOME", dir.path())
            .envs(env_of(dir.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulseaudio");
        let p = Pulse {
            dir,
            _server: Proc(child),
        };
        wait_until(
            "pulseaudio to answer `pactl info`",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || p.pactl(&["info"]).is_some(),
            String::new,
        );
        Some(p)
    }

    /// The server's private directory (runtime dir, socket, client config); a test may keep
    /// its own files there.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What a client needs to reach this server and no other (`HOME` not included).
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        env_of(self.dir.path())
    }

    /// Runs pactl against this server; its trimmed stdout when it succeeded.
    pub fn pactl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("pactl")
            .args(args)
            .env("HOME", self.dir.path())
            .envs(self.env())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A device with an output (`ID_out`, a null sink) and a microphone (`ID_in`, a remap
    /// source on the sink's monitor, described as "DESCRIPTION Mono") sharing `props`, as a
    /// real card's do; returns the two module indices (source, sink) for unloading.
    pub fn add(&self, id: &str, description: &str, props: &str) -> [String; 2] {
        let p = |d: &str| format!("'device.description=\"{d}\" {props}'");
        let sink = self
            .pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={id}_out"),
                &format!("sink_properties={}", p(description)),
            ])
            .expect("load module-null-sink");
        let source = self
            .pactl(&[
                "load-module",
                "module-remap-source",
                &format!("source_name={id}_in"),
                &format!("master={id}_out.monitor"),
                &format!("source_properties={}", p(&format!("{description} Mono"))),
            ])
            .expect("load module-remap-source");
        [source, sink]
    }

    /// Makes `ID_in` and `ID_out` the default source and sink.
    pub fn set_default(&self, id: &str) {
        assert!(
            self.pactl(&["set-default-source", &format!("{id}_in")])
                .is_some()
        );
        assert!(
            self.pactl(&["set-default-sink", &format!("{id}_out")])
                .is_some()
        );
    }
}

fn env_of(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("XDG_RUNTIME_DIR", dir.to_path_buf()),
        ("PULSE_RUNTIME_PATH", dir.to_path_buf()),
        ("PULSE_CLIENTCONFIG", dir.join("client.conf")),
        (
            "PULSE_SERVER",
            PathBuf::from(format!("unix:{}", dir.join("native").display())),
        ),
    ]
}
