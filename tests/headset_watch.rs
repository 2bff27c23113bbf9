//! The daemon watches the headset instead of polling it (Linux): against a real PulseAudio
//! (no sound card: null sinks and remap sources carrying a USB headset's properties), the
//! signed-in daemon looks at the headset at sign-in until its looks agree, then not again while
//! nothing changes; when the headset's modules are unloaded (what unplugging does to the
//! server), `pactl subscribe` reports it and the `headset_gone` incident is recorded within
//! seconds, and it ends when the headset is back. The safety recheck is set to an hour, so
//! only the watch can explain the quick reaction. Skipped (and says so) when PulseAudio is not
//! installed; CI installs it.
#![cfg(target_os = "linux")]

mod daemon_common;

use daemon_common::Agent;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        while p.pactl(&["info"]).is_none() {
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
            ("XDG_RUNTIME_DIR", dir.to_path_buf()),
            ("PULSE_RUNTIME_PATH", dir.to_path_buf()),
            ("PULSE_CLIENTCONFIG", dir.join("client.conf")),
            (
                "PULSE_SERVER",
                PathBuf::from(format!("unix:{}", dir.join("native").display())),
            ),
        ]
    }

    /// Runs pactl; its stdout when it succeeded.
    fn pactl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("pactl")
            .args(args)
            .envs(Self::env_of(self.dir.path()))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A device with an output and a microphone; returns the two module indices.
    fn add(&self, id: &str, description: &str, props: &str) -> [String; 2] {
        let p = |d: &str| format!("'device.description=\"{d}\" {props}'");
        let sink = self
            .pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={id}_out"),
                &format!("sink_properties={}", p(description)),
            ])
            .expect("null sink");
        let source = self
            .pactl(&[
                "load-module",
                "module-remap-source",
                &format!("source_name={id}_in"),
                &format!("master={id}_out.monitor"),
                &format!("source_properties={}", p(&format!("{description} Mono"))),
            ])
            .expect("remap source");
        [source, sink]
    }

    fn set_default(&self, id: &str) {
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

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const USB_HEADSET: &str =
    "device.form_factor=headset device.bus=usb device.bus_path=pci-0000:00:14.0-usb-0:2:1.0";
const BUILTIN: &str = "device.bus=pci device.bus_path=pci-0000:00:1f.3";

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
    let Some(pa) = Pulse::start() else { return };
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
    let log = std::fs::File::create(&a.log).unwrap();
    let child = a
        .command()
        .args(["run", "--headless"])
        .env_remove("SHIFTREADY_TEST_REPORT")
        .envs(Pulse::env_of(pa.dir.path()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    a.child = Some(child);
    a.wait_up();
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
    let t0 = Instant::now();
    for module in &headset {
        assert!(pa.pactl(&["unload-module", module]).is_some());
    }
    let until = t0 + Duration::from_secs(15);
    while !incidents(&a).contains(&"headset_gone".to_string()) {
        assert!(
            Instant::now() < until,
            "headset_gone was not raised within 15 s:\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let noticed = t0.elapsed();
    // Three failing looks a second apart after the debounce, plus the checks' own time.
    assert!(noticed < Duration::from_secs(10), "took {noticed:?}");
    let logs = a.logs();
    assert!(
        logs.contains("device change: pactl: Event 'remove' on source"),
        "{logs}"
    );
    assert!(logs.contains("incident=\"headset_gone\""), "{logs}");
    eprintln!("headset_gone raised {noticed:?} after the unplug");

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
}
