//! `shiftready noise --file WAV`, run as the real binary: formats, levels, speech from
//! espeak-ng, bad input, and what the report holds (aggregates only).

use shiftready_testkit::signals;

use serde_json::Value;
use signals::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shiftready(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shiftready"))
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("SHIFTREADY_LOG")
        .output()
        .expect("run shiftready")
}

/// Runs `noise --file PATH --json`, expecting a report; returns it and the exit code.
fn noise_json(home: &Path, wav: &Path) -> (Value, i32) {
    let out = shiftready(home, &["noise", "--file", wav.to_str().unwrap(), "--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap())
}

#[derive(Clone, Copy)]
enum Fmt {
    Int(u16),
    Float,
}

/// Writes a mono signal as a WAV with `channels` identical channels.
fn write_wav(path: &Path, x: &[f32], sr: u32, fmt: Fmt, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: sr,
        bits_per_sample: match fmt {
            Fmt::Int(b) => b,
            Fmt::Float => 32,
        },
        sample_format: match fmt {
            Fmt::Int(_) => hound::SampleFormat::Int,
            Fmt::Float => hound::SampleFormat::Float,
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &v in x {
        for _ in 0..channels {
            match fmt {
                Fmt::Float => w.write_sample(v).unwrap(),
                Fmt::Int(b) => {
                    let full = ((1i64 << (b - 1)) - 1) as f64;
                    w.write_sample((v as f64 * full).round() as i32).unwrap()
                }
            }
        }
    }
    w.finalize().unwrap();
}

/// Two tones, 1 kHz at −20 dBFS and 250 Hz at −26 dBFS (A(250 Hz) = −8.6 dB, IEC 61672-1
/// Table 3): LAeq = 10·log10(10^−2 + 10^−3.46) = −19.85 dBFS(A).
fn two_tones(sr: u32) -> Vec<f32> {
    mix(&sine(sr, 4.0, 1000.0, -20.0), &sine(sr, 4.0, 250.0, -26.0))
}

#[test]
fn level_is_independent_of_rate_bit_depth_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(u32, Fmt, u16); 7] = [
        (48000, Fmt::Float, 1),
        (48000, Fmt::Int(16), 2),
        (44100, Fmt::Int(24), 1),
        (32000, Fmt::Int(32), 2),
        (22050, Fmt::Int(16), 1),
        (16000, Fmt::Float, 2),
        (8000, Fmt::Int(16), 1),
    ];
    let want = 10.0 * (1e-2f64 + 10f64.powf(-3.46)).log10();
    for (sr, fmt, ch) in cases {
        let p = dir.path().join(format!("t-{sr}-{ch}.wav"));
        write_wav(&p, &two_tones(sr), sr, fmt, ch);
        let (v, code) = noise_json(dir.path(), &p);
        let m = &v["metrics"];
        let laeq = m["laeq_dbfs"].as_f64().unwrap();
        assert!(
            (laeq - want).abs() <= 0.1,
            "{sr} Hz, {ch} ch: LAeq {laeq}, want {want:.2}"
        );
        assert_eq!(m["sample_rate"], sr);
        assert_eq!(m["channels"], ch);
        assert!((m["seconds"].as_f64().unwrap() - 4.0).abs() < 1e-3);
        assert!(
            (m["dominant_hz"].as_f64().unwrap() - 1000.0).abs() < 3.0,
            "{m}"
        );
        // The tones' peaks add: 20·log10(0.1 + 0.05) = −16.5 dBFS at most.
        let peak = m["peak_dbfs"].as_f64().unwrap();
        assert!(peak <= -16.4 && peak > -17.5, "{m}");
        // −19.85 dB(A) fails the default bands (pass ≤ −45, warn ≤ −35): exit 2.
        assert_eq!(v["status"], "fail");
        assert_eq!(code, 2);
    }
}

#[test]
fn eight_bit_files_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("u8.wav");
    write_wav(&p, &sine(8000, 2.0, 1000.0, -20.0), 8000, Fmt::Int(8), 1);
    let (v, _) = noise_json(dir.path(), &p);
    let laeq = v["metrics"]["laeq_dbfs"].as_f64().unwrap();
    assert!((laeq + 20.0).abs() < 0.3, "{laeq}");
}

#[test]
fn seconds_limits_how_much_of_the_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.wav");
    write_wav(&p, &two_tones(16000), 16000, Fmt::Int(16), 1);
    let out = shiftready(
        dir.path(),
        &[
            "noise",
            "--file",
            p.to_str().unwrap(),
            "--seconds",
            "1.5",
            "--json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["metrics"]["seconds"], 1.5);
}

#[test]
fn report_is_small_and_holds_no_samples() {
    // Privacy (the report's metrics are aggregates only, never raw samples: `proto::report`'s
    // `CheckResult::metrics`; raw audio never leaves the process): the report is the same
    // handful of scalar aggregates whatever the recording's length.
    let dir = tempfile::tempdir().unwrap();
    let x = speech_like(16000, 30.0, -45.0, 5);
    let p = dir.path().join("speech.wav");
    write_wav(&p, &x, 16000, Fmt::Int(16), 1);
    let out = shiftready(
        dir.path(),
        &["noise", "--file", p.to_str().unwrap(), "--json"],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.len() < 2048, "{} bytes: {text}", text.len());
    let v: Value = serde_json::from_str(&text).unwrap();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<_> = obj.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["hint", "metrics", "status"]);
    let m = v["metrics"].as_object().unwrap();
    assert!(m.len() <= 40, "{} metrics", m.len());
    for (k, val) in m {
        assert!(
            !(val.is_array() || val.is_object()),
            "metric {k} is not a scalar: {val}"
        );
    }
    // No run of the file's sample values appears in the output.
    let reader = hound::WavReader::open(&p).unwrap();
    let samples: Vec<i32> = reader.into_samples::<i32>().map(Result::unwrap).collect();
    let loud: Vec<String> = samples
        .iter()
        .filter(|s| s.abs() > 1000)
        .take(50)
        .map(|s| s.to_string())
        .collect();
    let hits = loud.iter().filter(|s| text.contains(s.as_str())).count();
    assert!(hits < 5, "{hits} sample values found in the report");
    for key in [
        "laeq_dbfs",
        "lamax_dbfs",
        "l10_dbfs",
        "l90_dbfs",
        "peak_dbfs",
        "clipped_fraction",
        "dominant_hz",
        "classification",
        "confidence",
        "device",
        "sample_rate",
        "seconds",
        "calibration_db",
    ] {
        assert!(m.contains_key(key), "missing {key}");
    }
    assert_eq!(m["classification"], "voices");
    assert_eq!(v["status"], "warn");
    assert!(v["hint"].as_str().unwrap().contains("Voices"));
}

fn espeak(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("espeak.wav");
    let st = Command::new("espeak-ng")
        .args(["-w", p.to_str().unwrap(), "-s", "160", text])
        .status()
        .expect("espeak-ng is needed for this test (Debian package espeak-ng)");
    assert!(st.success());
    p
}

const SENTENCES: &str = "Good morning, thank you for calling customer service. My name is \
    Anna and I will help you today. Could you please tell me your account number and the \
    address we have on file for you? Thank you, one moment while I look that up.";

#[test]
fn espeak_speech_is_voices() {
    let dir = tempfile::tempdir().unwrap();
    let p = espeak(dir.path(), SENTENCES);
    let (v, code) = noise_json(dir.path(), &p);
    assert_eq!(v["metrics"]["classification"], "voices", "{v}");
    assert_eq!(v["metrics"]["sample_rate"], 22050);
    assert!(code >= 1, "voices never pass");
}

#[test]
fn espeak_speech_over_fan_noise_is_voices() {
    let dir = tempfile::tempdir().unwrap();
    let p = espeak(dir.path(), SENTENCES);
    let mut r = hound::WavReader::open(&p).unwrap();
    let sr = r.spec().sample_rate;
    let speech: Vec<f32> = r
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect();
    let speech = set_level(speech, -30.0);
    let fan = fan_noise(sr, speech.len() as f64 / sr as f64, -40.0, 6);
    let q = dir.path().join("speech-fan.wav");
    write_wav(&q, &mix(&speech, &fan), sr, Fmt::Int(16), 1);
    let (v, _) = noise_json(dir.path(), &q);
    assert_eq!(v["metrics"]["classification"], "voices", "{v}");
    assert_eq!(v["status"], "fail"); // −35 dB(A) is above the warn band
}

#[test]
fn generated_backgrounds_classify_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let sr = 48000;
    let cases: Vec<(&str, Vec<f32>, &str, &str)> = vec![
        ("silence", silence(sr, 3.0), "dead_input", "fail"),
        ("quiet", pink_noise(sr, 4.0, -70.0, 1), "quiet", "pass"),
        ("fan", fan_noise(sr, 4.0, -30.0, 2), "steady_noise", "fail"),
        ("hum50", hum(sr, 4.0, 50.0, -35.0), "hum", "warn"),
        ("hum60", hum(sr, 4.0, 60.0, -35.0), "hum", "warn"),
        (
            "barks",
            barks(sr, 6.0, -15.0, -60.0, 3),
            "impulsive",
            "fail",
        ),
        (
            "knocks",
            knocks(sr, 6.0, -10.0, -60.0, 4),
            "impulsive",
            "warn",
        ),
    ];
    for (name, x, class, status) in cases {
        let p = dir.path().join(format!("{name}.wav"));
        write_wav(&p, &x, sr, Fmt::Int(24), 1);
        let (v, _) = noise_json(dir.path(), &p);
        assert_eq!(v["metrics"]["classification"], class, "{name}: {v}");
        assert_eq!(v["status"], status, "{name}: {v}");
        if status != "pass" {
            assert!(!v["hint"].as_str().unwrap().is_empty());
        }
    }
}

/// Runs `noise --file` on bad input: it must exit with `code` and say what is wrong on
/// stderr, with nothing on stdout and no panic.
fn rejects(home: &Path, path: &Path, code: i32, says: &str) {
    for json in [false, true] {
        let mut args = vec!["noise", "--file", path.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let out = shiftready(home, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{}: {err}", path.display());
        assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
        assert!(err.contains(says), "{}: {err}", path.display());
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{err}"
        );
    }
}

#[test]
fn bad_files_are_clear_errors_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Zero length.
    let empty = d.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    rejects(d, &empty, 65, "holds no audio");
    // Not a WAV at all.
    let text = d.join("notes.wav");
    std::fs::write(&text, b"these are my meeting notes, not audio\n".repeat(10)).unwrap();
    rejects(d, &text, 65, "not a WAV file");
    // Truncated: a valid header promising 4 s, cut after 1 s of data.
    let full = d.join("full.wav");
    write_wav(&full, &two_tones(16000), 16000, Fmt::Int(16), 1);
    let bytes = std::fs::read(&full).unwrap();
    let cut = d.join("cut.wav");
    std::fs::write(&cut, &bytes[..44 + 32000]).unwrap();
    rejects(d, &cut, 65, "cut short");
    // Only the header.
    let header = d.join("header.wav");
    std::fs::write(&header, &bytes[..20]).unwrap();
    rejects(d, &header, 65, "not a WAV file");
    // A header with no data.
    let none = d.join("none.wav");
    write_wav(&none, &[], 16000, Fmt::Int(16), 1);
    rejects(d, &none, 65, "holds no audio");
    // Unsupported: a 4 kHz rate, and a compressed (A-law, format tag 6) file.
    let slow = d.join("slow.wav");
    write_wav(&slow, &sine(4000, 1.0, 440.0, -20.0), 4000, Fmt::Int(16), 1);
    rejects(d, &slow, 65, "4000 Hz is not supported");
    let mut alaw = bytes[..44 + 1600].to_vec();
    alaw[20] = 6; // WAVE_FORMAT_ALAW
    alaw[34] = 8; // 8 bits per sample
    let alaw_p = d.join("alaw.wav");
    std::fs::write(&alaw_p, &alaw).unwrap();
    let out = shiftready(d, &["noise", "--file", alaw_p.to_str().unwrap()]);
    assert!(
        matches!(out.status.code(), Some(65)),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Missing file: "no input".
    rejects(d, &d.join("missing.wav"), 66, "cannot read");
    // A directory.
    rejects(d, d, 65, "");
}

#[test]
fn bad_seconds_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = shiftready(dir.path(), &["noise", "--seconds", "0", "--json"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(out.stdout.is_empty());
}
