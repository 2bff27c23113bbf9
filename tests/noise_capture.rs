//! Real capture through cpal's ALSA host with no sound card: ALSA's `file` plugin plays a raw
//! file as a capture device (alsa-lib's PCM plugin reference, "Plugin: File":
//! <https://www.alsa-project.org/alsa-doc/alsa-lib/pcm_plugins.html>). The real `shiftready` binary runs with HOME
//! set to a temporary directory holding the `.asoundrc`.

use shiftready_testkit::signals;

use serde_json::Value;
use signals::*;
use std::path::Path;
use std::process::{Command, Output};

const SR: u32 = 48000;

/// A temporary HOME whose `.asoundrc` makes `default` and "ShiftReady Test Mic" read
/// `signal.raw` (S16_LE mono 48 kHz), plus a PCM that cannot open.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(signal: &[f32]) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("signal.raw");
        std::fs::write(&raw, to_s16le(signal)).unwrap();
        let rc = format!(
            r#"pcm.!default {{
  type plug
  slave {{ pcm "readfile"; format S16_LE; channels 1; rate 48000 }}
}}
pcm.readfile {{
  type file
  slave.pcm null
  file "/dev/null"
  infile "{raw}"
  format raw
}}
pcm.testmic {{
  type plug
  slave {{ pcm "readfile"; format S16_LE; channels 1; rate 48000 }}
  hint {{ show on; description "ShiftReady Test Mic" }}
}}
pcm.brokenmic {{
  type plug
  slave.pcm "nosuchpcm_at_all"
  hint {{ show on; description "Broken Test Mic" }}
}}
"#,
            raw = raw.display()
        );
        std::fs::write(dir.path().join(".asoundrc"), rc).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_shiftready"))
            .args(args)
            .env("HOME", self.path())
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env_remove("ALSA_CONFIG_PATH")
            .env_remove("SHIFTREADY_LOG")
            .output()
            .expect("run shiftready")
    }

    fn json(&self, args: &[&str]) -> (Value, i32) {
        let out = self.run(args);
        let text = String::from_utf8(out.stdout).unwrap();
        let v = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not one JSON document ({e}): {text}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out.status.code().unwrap())
    }
}

fn write_wav(path: &Path, x: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &v in x {
        w.write_sample((v.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

fn level(v: &Value, key: &str) -> f64 {
    v["metrics"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn device_capture_agrees_with_the_file_within_half_a_db() {
    // Fan noise with a 1 kHz tone and a 50 Hz hum: broadband, tonal and low-frequency parts.
    let x = mix(
        &mix(&fan_noise(SR, 8.0, -35.0, 1), &sine(SR, 8.0, 1000.0, -30.0)),
        &hum(SR, 8.0, 50.0, -40.0),
    );
    let home = Home::new(&x);
    let wav = home.path().join("signal.wav");
    write_wav(&wav, &x);
    let (dev, dev_code) = home.json(&[
        "noise",
        "--device",
        "ShiftReady Test Mic",
        "--seconds",
        "5",
        "--json",
    ]);
    let (file, file_code) = home.json(&[
        "noise",
        "--file",
        wav.to_str().unwrap(),
        "--seconds",
        "5",
        "--json",
    ]);
    assert_eq!(dev["metrics"]["device"], "ShiftReady Test Mic", "{dev}");
    assert_eq!(dev["metrics"]["source"], "device");
    assert_eq!(dev["metrics"]["sample_rate"], SR);
    assert_eq!(dev["metrics"]["seconds"], 5.0);
    for key in [
        "laeq_dbfs",
        "lamax_dbfs",
        "l10_dbfs",
        "l90_dbfs",
        "rms_dbfs",
    ] {
        let (d, f) = (level(&dev, key), level(&file, key));
        assert!(
            (d - f).abs() <= 0.5,
            "{key}: device {d}, file {f}\n{dev}\n{file}"
        );
    }
    assert_eq!(
        dev["metrics"]["classification"],
        file["metrics"]["classification"]
    );
    assert_eq!(dev["status"], file["status"]);
    assert_eq!(dev_code, file_code);
}

#[test]
fn a_1khz_tone_at_minus_20_dbfs_reads_minus_20_after_capture() {
    let home = Home::new(&sine(SR, 4.0, 1000.0, -20.0));
    let (v, _) = home.json(&["noise", "--device", "testmic", "--seconds", "2", "--json"]);
    let laeq = level(&v, "laeq_dbfs");
    assert!((laeq + 20.0).abs() <= 0.1, "{v}");
}

#[test]
fn default_input_is_used_by_check_and_by_noise() {
    let home = Home::new(&pink_noise(SR, 10.0, -70.0, 2));
    let (v, code) = home.json(&["noise", "--seconds", "1", "--json"]);
    assert_eq!(v["status"], "pass", "{v}");
    assert_eq!(v["metrics"]["classification"], "quiet");
    assert_eq!(code, 0);
    // The noise part of the whole check, from the default input for the policy's 5 s.
    let (r, _) = home.json(&["check", "--only", "noise", "--json"]);
    let n = &r["checks"]["noise"];
    assert_eq!(n["status"], "pass", "{r}");
    assert_eq!(n["metrics"]["classification"], "quiet");
    assert_eq!(n["metrics"]["seconds"], 5.0);
}

#[test]
fn configured_device_and_calibration_come_from_the_config() {
    let home = Home::new(&pink_noise(SR, 10.0, -45.0, 3));
    let cfg = home.path().join("agent.toml");
    std::fs::write(
        &cfg,
        "[audio]\ninput_device = \"Test Mic\"\n[audio.calibration_db]\n\"shiftready test\" = 6.5\n",
    )
    .unwrap();
    let (v, _) = home.json(&[
        "noise",
        "--config",
        cfg.to_str().unwrap(),
        "--seconds",
        "2",
        "--json",
    ]);
    assert_eq!(v["metrics"]["device"], "ShiftReady Test Mic", "{v}");
    assert_eq!(v["metrics"]["calibration_db"], 6.5);
    let (laeq, cal) = (level(&v, "laeq_dbfs"), level(&v, "laeq_calibrated_db"));
    assert!((cal - laeq - 6.5).abs() < 0.011, "{v}");
}

#[test]
fn a_silent_microphone_fails_with_the_permission_hint() {
    let home = Home::new(&silence(SR, 5.0));
    let (v, code) = home.json(&["noise", "--device", "testmic", "--seconds", "2", "--json"]);
    assert_eq!(v["metrics"]["classification"], "dead_input", "{v}");
    assert_eq!(v["status"], "fail");
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .contains("microphone permission")
    );
    assert_eq!(code, 2);
}

#[test]
fn a_missing_microphone_is_an_error_with_a_hint_not_a_panic() {
    let home = Home::new(&silence(SR, 1.0));
    let (v, code) = home.json(&["noise", "--device", "Jabra Evolve2 85", "--json"]);
    assert_eq!(v["status"], "error", "{v}");
    assert_eq!(v["metrics"]["capture_error"], "device_not_found");
    assert!(v["hint"].as_str().unwrap().contains("plug in your headset"));
    assert!(
        v["metrics"]["detail"]
            .as_str()
            .unwrap()
            .contains("ShiftReady Test Mic"),
        "the detail lists what inputs there are: {v}"
    );
    assert_eq!(code, 3);
    // Without --json: the hint on the terminal, same exit code.
    let out = home.run(&["noise", "--device", "Jabra Evolve2 85"]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error") && text.contains("plug in your headset"),
        "{text}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_microphone_that_cannot_open_is_an_error_with_a_hint() {
    let home = Home::new(&silence(SR, 1.0));
    let (v, code) = home.json(&["noise", "--device", "Broken Test Mic", "--json"]);
    assert_eq!(v["status"], "error", "{v}");
    assert_eq!(v["metrics"]["capture_error"], "open_failed");
    assert!(!v["hint"].as_str().unwrap().is_empty());
    assert_eq!(code, 3);
}
