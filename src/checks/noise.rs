//! The `noise` check: record the background through the microphone and judge it. The
//! analysis and the verdict (bands, calibration offset, classification, hints) are pure and
//! live in `shiftready_core::checks::noise`; this module records, applies the device's
//! calibration from the config and turns capture failures into results.

use super::CheckContext;
use crate::audio::wav::{self, WavError, WavFile};
use crate::audio::{self, Mono, capture::CaptureError};
use crate::config::AudioConfig;
use proto::CheckResult;
use proto::policy::NoisePolicy;
use shiftready_core::checks::headset;
use shiftready_core::checks::noise::{self, hints};
use shiftready_core::dsp::{Analysis, Analyzer, ClassifyParams};
use std::path::Path;

/// The `noise` check, from the configured (or default) input for the policy's duration.
pub async fn run(ctx: CheckContext) -> anyhow::Result<CheckResult> {
    let device = Some(ctx.config.audio.input_device.trim().to_string()).filter(|d| !d.is_empty());
    let seconds = ctx.policy.noise.seconds;
    let audio_cfg = ctx.config.audio.clone();
    let policy = ctx.policy.noise.clone();
    Ok(from_device(device, seconds, audio_cfg, policy).await)
}

/// Records and judges in a blocking thread (cpal blocks; the analysis is CPU work).
pub async fn from_device(
    device: Option<String>,
    seconds: f64,
    audio_cfg: AudioConfig,
    policy: NoisePolicy,
) -> CheckResult {
    let job = tokio::task::spawn_blocking(move || {
        match audio::capture::capture(device.as_deref(), seconds) {
            Ok(mono) => judge(&mono, calibration(&audio_cfg, &mono.source), &policy),
            // With no audio device at all, "close other programs that use it" would send the
            // agent looking for a program that is not there: say what is missing instead.
            Err(e) if !matches!(e, CaptureError::PermissionDenied { .. }) && no_audio_at_all() => {
                no_microphone_at_all(&e)
            }
            Err(e) => capture_failed(&e),
        }
    });
    match job.await {
        Ok(result) => result,
        Err(e) => CheckResult::error(format!("The noise check stopped unexpectedly: {e}.")),
    }
}

/// Whether this computer has no real audio device at all (what the headset check lists).
fn no_audio_at_all() -> bool {
    super::headset::inventory("").is_ok_and(|inv| headset::no_audio_at_all(&inv))
}

/// A capture failure on a computer with no audio device at all: the check could not measure
/// anything, and the hint says why.
pub fn no_microphone_at_all(e: &CaptureError) -> CheckResult {
    let mut r = capture_failed(e);
    shiftready_core::i18n::set_hint(&mut r, proto::Msg::new(hints::NO_AUDIO));
    r.set("capture_error", "no_audio_device");
    r
}

/// A capture failure as an `error` result with a hint the agent can act on.
pub fn capture_failed(e: &CaptureError) -> CheckResult {
    let hint = match e {
        CaptureError::NoDevice => hints::NO_DEVICE,
        CaptureError::NotFound { .. } => hints::NOT_FOUND,
        CaptureError::PermissionDenied { .. } => hints::PERMISSION,
        CaptureError::Open { .. } | CaptureError::Stream { .. } => hints::OPEN,
        CaptureError::Stalled { .. } => hints::STALLED,
    };
    let kind = match e {
        CaptureError::NoDevice => "no_device",
        CaptureError::NotFound { .. } => "device_not_found",
        CaptureError::PermissionDenied { .. } => "permission_denied",
        CaptureError::Open { .. } => "open_failed",
        CaptureError::Stream { .. } => "stream_failed",
        CaptureError::Stalled { .. } => "stalled",
    };
    let mut r = shiftready_core::i18n::hinted(proto::Status::Error, proto::Msg::new(hint))
        .with("capture_error", kind)
        .with("detail", e.to_string());
    match e {
        CaptureError::NotFound { wanted, .. } => r.set("device", wanted),
        CaptureError::PermissionDenied { device, .. }
        | CaptureError::Open { device, .. }
        | CaptureError::Stalled { device, .. }
        | CaptureError::Stream { device, .. } => r.set("device", device),
        CaptureError::NoDevice => {}
    }
    r
}

/// The calibration offset for a device: the entry whose key is a case-insensitive part of
/// the device name (the longest such key when several match), else 0 dB.
pub fn calibration(cfg: &AudioConfig, device: &str) -> f64 {
    let name = device.to_lowercase();
    cfg.calibration_db
        .iter()
        .filter(|(k, _)| !k.trim().is_empty() && name.contains(&k.trim().to_lowercase()))
        .max_by_key(|(k, _)| k.len())
        .map(|(_, &db)| db)
        .unwrap_or(0.0)
}

/// Analyses the audio and judges it against the policy (`shiftready_core::checks::noise`),
/// naming the device.
pub fn judge(mono: &Mono, calibration_db: f64, policy: &NoisePolicy) -> CheckResult {
    let mut r = noise::judge(&mono.samples, mono.sample_rate, calibration_db, policy);
    r.set("device", &mono.source);
    r.set("channels", mono.channels);
    r
}

/// A WAV file's analysis, judged against the policy as [`judge`] judges a recording.
#[derive(Debug)]
pub struct FileVerdict {
    pub result: CheckResult,
    /// Seconds of audio analysed.
    pub seconds: f64,
}

/// Reads (at most `max_seconds` of) a WAV file and judges it, streaming: the file is never
/// held whole, so memory stays flat however long it is.
pub fn judge_file(
    path: &Path,
    max_seconds: Option<f64>,
    policy: &NoisePolicy,
) -> Result<FileVerdict, WavError> {
    let params = noise::classify_params(policy, 0.0);
    let (a, file) = analyze_file(path, max_seconds, &params, file_threads())?;
    let mut r = noise::verdict(&a, 0.0, policy);
    r.set("device", &file.source);
    r.set("channels", file.channels);
    Ok(FileVerdict {
        result: r,
        seconds: a.seconds,
    })
}

/// Threads for a file's analysis: two where there are two cores (one more reads the file).
fn file_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// Analyses a WAV file as it is read: this thread reads and decodes the file a frame group at
/// a time (`dsp::Stream::wanted`, about 2.7 s at 48 kHz) into the analysis, whose groups run
/// on `threads` threads (a persistent worker computes one while this thread reads the next).
/// The result is exactly that of the whole decoded file in one piece.
pub fn analyze_file(
    path: &Path,
    max_seconds: Option<f64>,
    params: &ClassifyParams,
    threads: usize,
) -> Result<(Analysis, WavFile), WavError> {
    let mut file = wav::open(path, max_seconds)?;
    let decoder = file.decoder;
    let mut analyzer = Analyzer::new(file.sample_rate);
    // One block of raw audio and a group's samples in flight per thread: a few MiB whatever
    // the file's length.
    let mut stream = analyzer.stream(threads);
    let mut raw = Vec::new();
    while file.read_block(&mut raw, stream.wanted())? {
        stream.push_with(|v| decoder.decode(&raw, v));
    }
    Ok((stream.finish(params), file))
}

#[cfg(test)]
#[path = "../../testkit/src/signals.rs"]
mod signals;

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Status;
    use shiftready_core::i18n::english_id;
    use std::collections::BTreeMap;

    #[test]
    fn calibration_picks_the_most_specific_model() {
        let mut cal = BTreeMap::new();
        cal.insert("jabra".to_string(), 3.0);
        cal.insert("Jabra Evolve2".to_string(), 7.5);
        cal.insert("Poly".to_string(), -2.0);
        let cfg = AudioConfig {
            input_device: String::new(),
            calibration_db: cal,
        };
        assert_eq!(calibration(&cfg, "Jabra Evolve2 40 USB Headset"), 7.5);
        assert_eq!(calibration(&cfg, "Jabra Speak 510"), 3.0);
        assert_eq!(calibration(&cfg, "Built-in Microphone"), 0.0);
    }

    #[test]
    fn capture_errors_are_error_status_with_a_hint() {
        let r = capture_failed(&CaptureError::NoDevice);
        assert_eq!(r.status, Status::Error);
        assert_eq!(r.hint, english_id(hints::NO_DEVICE));
        let r = capture_failed(&CaptureError::Stalled {
            device: "x".into(),
            seconds: 0.2,
        });
        assert_eq!(r.hint, english_id(hints::STALLED));
        assert_eq!(r.metrics["capture_error"], "stalled");
    }

    /// How a test file is stored.
    #[derive(Clone, Copy, Debug)]
    enum Enc {
        Int { bits: u16, bytes: u16 },
        Float,
    }

    /// Writes `chans` (one signal per channel, same length) as a WAV file.
    fn write_wav(path: &Path, chans: &[Vec<f32>], sr: u32, enc: Enc) {
        let (bits, bytes, format) = match enc {
            Enc::Int { bits, bytes } => (bits, bytes, hound::SampleFormat::Int),
            Enc::Float => (32, 4, hound::SampleFormat::Float),
        };
        let spec = hound::WavSpec {
            channels: chans.len() as u16,
            sample_rate: sr,
            bits_per_sample: bits,
            sample_format: format,
        };
        let spec_ex = hound::WavSpecEx {
            spec,
            bytes_per_sample: bytes,
        };
        let mut w = hound::WavWriter::new_with_spec_ex(
            std::io::BufWriter::new(std::fs::File::create(path).unwrap()),
            spec_ex,
        )
        .unwrap();
        for i in 0..chans[0].len() {
            for c in chans {
                match enc {
                    Enc::Float => w.write_sample(c[i]).unwrap(),
                    Enc::Int { bits, .. } => {
                        let full = ((1i64 << (bits - 1)) - 1) as f64;
                        w.write_sample((c[i] as f64 * full).round() as i32).unwrap()
                    }
                }
            }
        }
        w.finalize().unwrap();
    }

    /// The file decoded the way the whole-file reader did before streaming (hound's
    /// per-sample iterator; channels summed in f32, then scaled), for an exact comparison.
    fn decoded_as_before(path: &Path) -> (Vec<f32>, u32) {
        let r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        let ch = spec.channels as usize;
        let (values, scale): (Vec<f32>, f32) = match spec.sample_format {
            hound::SampleFormat::Float => {
                (r.into_samples::<f32>().map(Result::unwrap).collect(), 1.0)
            }
            hound::SampleFormat::Int => (
                r.into_samples::<i32>().map(|s| s.unwrap() as f32).collect(),
                (1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64) as f32,
            ),
        };
        let k = scale / ch as f32;
        let mono = values
            .chunks_exact(ch)
            .map(|fr| {
                let mut acc = 0f32;
                for &v in fr {
                    acc += v;
                }
                acc * k
            })
            .collect();
        (mono, spec.sample_rate)
    }

    /// Streaming a file (a reader thread, the analysis on one or two threads) gives exactly
    /// the analysis of the whole file decoded in memory, for every encoding we read.
    #[test]
    fn streamed_file_analysis_equals_the_whole_file_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let params = ClassifyParams::default();
        let talk = |sr, s| {
            signals::mix(
                &signals::speech_like(sr, s, -30.0, 1),
                &signals::fan_noise(sr, s, -45.0, 2),
            )
        };
        let i16_ = Enc::Int { bits: 16, bytes: 2 };
        let cases: Vec<(&str, u32, Vec<Vec<f32>>, Enc)> = vec![
            // 25 s at 48 kHz: more than one batch of frames.
            ("talk-48k-16", 48000, vec![talk(48000, 25.0)], i16_),
            (
                "stereo-44k-16",
                44100,
                vec![talk(44100, 5.0), signals::hum(44100, 5.0, 50.0, -30.0)],
                i16_,
            ),
            (
                "24-bit",
                22050,
                vec![talk(22050, 4.0)],
                Enc::Int { bits: 24, bytes: 3 },
            ),
            (
                "24-in-32",
                16000,
                vec![talk(16000, 3.0)],
                Enc::Int { bits: 24, bytes: 4 },
            ),
            (
                "32-bit-stereo",
                16000,
                vec![talk(16000, 3.0), signals::silence(16000, 3.0)],
                Enc::Int { bits: 32, bytes: 4 },
            ),
            (
                "8-bit",
                8000,
                vec![talk(8000, 3.0)],
                Enc::Int { bits: 8, bytes: 1 },
            ),
            (
                "float",
                48000,
                vec![signals::knocks(48000, 3.0, -10.0, -60.0, 4)],
                Enc::Float,
            ),
            (
                "short",
                48000,
                vec![signals::sine(48000, 0.05, 1000.0, -20.0)],
                i16_,
            ),
        ];
        for (name, sr, chans, enc) in cases {
            let p = dir.path().join(format!("{name}.wav"));
            write_wav(&p, &chans, sr, enc);
            let (mono, rate) = decoded_as_before(&p);
            assert_eq!(rate, sr);
            let whole = Analyzer::new(sr).analyze_with(&mono, &params);
            for threads in [1, 2] {
                let (a, file) = analyze_file(&p, None, &params, threads).unwrap();
                assert_eq!(a, whole, "{name}, {threads} threads ({enc:?})");
                assert_eq!(file.channels as usize, chans.len());
            }
            // --seconds: the first 1.5 s exactly.
            let cut = (1.5 * sr as f64) as usize;
            if mono.len() > cut {
                let (a, _) = analyze_file(&p, Some(1.5), &params, 2).unwrap();
                assert_eq!(
                    a,
                    Analyzer::new(sr).analyze_with(&mono[..cut], &params),
                    "{name}"
                );
            }
        }
    }

    /// A file cut short in the middle of a sample is a clear "cut short" error, and a data
    /// chunk whose length is not a whole number of samples is refused as malformed (hound
    /// checks it), never analysed as if whole.
    #[test]
    fn truncated_and_odd_length_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("full.wav");
        let x = signals::sine(16000, 2.0, 440.0, -20.0);
        write_wav(&p, &[x.clone(), x], 16000, Enc::Int { bits: 16, bytes: 2 });
        let bytes = std::fs::read(&p).unwrap();
        let policy = NoisePolicy::default();
        // Cut after an odd number of data bytes: mid-sample, mid-frame, past the first blocks
        // the reader thread hands over.
        let cut = dir.path().join("cut.wav");
        std::fs::write(&cut, &bytes[..bytes.len() - 1001]).unwrap();
        let e = judge_file(&cut, None, &policy).unwrap_err();
        assert!(matches!(e, WavError::Truncated { .. }), "{e:?}");
        assert!(e.to_string().contains("cut short"), "{e}");
        // The data chunk's length made odd (and the file one byte longer to match).
        let mut odd = bytes.clone();
        let data = odd.windows(4).position(|w| w == b"data").unwrap();
        let len = u32::from_le_bytes(odd[data + 4..data + 8].try_into().unwrap()) + 1;
        odd[data + 4..data + 8].copy_from_slice(&len.to_le_bytes());
        odd.push(0);
        let odd_p = dir.path().join("odd.wav");
        std::fs::write(&odd_p, &odd).unwrap();
        let e = judge_file(&odd_p, None, &policy).unwrap_err();
        assert!(matches!(e, WavError::Format { .. }), "{e:?}");
        assert!(
            e.to_string().contains("not a multiple of sample size"),
            "{e}"
        );
        // The whole file, for contrast, is judged.
        let v = judge_file(&p, None, &policy).unwrap();
        assert_eq!(v.seconds, 2.0);
        assert_eq!(v.result.metrics["channels"], 2);
    }

    #[test]
    fn no_audio_device_at_all_does_not_say_close_other_programs() {
        let r = no_microphone_at_all(&CaptureError::Open {
            device: "default".into(),
            reason: "ALSA: no such card".into(),
        });
        assert_eq!(r.status, Status::Error);
        assert_eq!(r.hint, english_id(hints::NO_AUDIO));
        assert!(!r.hint.contains("other programs"), "{}", r.hint);
    }
}
