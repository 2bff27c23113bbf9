//! The `noise` check and `shiftready noise`: record the background through the microphone
//! (or read a WAV file), analyse it (`crate::dsp`), and judge it against the policy's bands.
//!
//! The status comes from the A-weighted level after the device's calibration offset
//! (`policy.noise.laeq_dbfs_a`); voices, impulsive noise and mains hum warn at any level above
//! the quiet limit (`policy.noise.quiet_max_dbfs_a`), since they disturb calls more than
//! their level says; a silent microphone fails. Only aggregates leave this module.

use super::CheckContext;
use crate::audio::{self, Mono, capture::CaptureError};
use crate::config::AudioConfig;
use proto::policy::NoisePolicy;
use proto::{CheckResult, Status};
use shiftready_core::dsp::{Analysis, Analyzer, Class, ClassifyParams};

/// What the agent is told, in one place so it can be translated.
pub mod hints {
    pub const DEAD_INPUT: &str =
        "No signal from the microphone: unmute it or check the OS microphone permission.";
    pub const VOICES: &str =
        "Voices or a TV in the background: close the door or move away from them.";
    pub const IMPULSIVE: &str = "Barking, knocking or banging in the background: close the door \
                                 or move to a room away from it.";
    pub const HUM: &str = "Mains hum: check the headset cable and unplug chargers near it.";
    pub const STEADY: &str = "Steady background noise (a fan, air-con or traffic): switch it off, \
                              close the window or move to a quieter room.";
    pub const TOO_LOUD: &str = "The room is too noisy for calls: close the door and window or move \
                                to a quieter room.";
    pub const CLIPPED: &str = "The microphone is overloaded: turn its input volume down in the \
                               sound settings.";
    pub const NO_DEVICE: &str =
        "No microphone found: plug in your headset and make it the default microphone.";
    pub const NOT_FOUND: &str = "The configured microphone is not connected: plug in your headset, \
                                 or pick it again in the ShiftReady settings.";
    pub const PERMISSION: &str = "ShiftReady may not use the microphone: allow microphone access \
                                  for ShiftReady in the OS privacy settings.";
    pub const OPEN: &str = "The microphone could not be opened: close other programs that use it, \
                            or unplug the headset and plug it back in.";
    pub const STALLED: &str = "The microphone stopped sending sound: unplug the headset and plug \
                               it back in, then run the check again.";
}

/// Share of clipped samples above which the microphone counts as overloaded.
pub const CLIPPED_WARN: f64 = 0.001;

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
        audio::capture::capture(device.as_deref(), seconds)
            .map(|mono| judge(&mono, calibration(&audio_cfg, &mono.source), &policy))
    });
    match job.await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => capture_failed(&e),
        Err(e) => CheckResult::error(format!("The noise check stopped unexpectedly: {e}.")),
    }
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
    let mut r = CheckResult::error(hint)
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

fn round(v: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (v * m).round() / m
}

/// Analyses the audio and judges it against the policy.
pub fn judge(mono: &Mono, calibration_db: f64, policy: &NoisePolicy) -> CheckResult {
    let params = ClassifyParams {
        quiet_max_dbfs_a: policy.quiet_max_dbfs_a - calibration_db,
    };
    let a = Analyzer::new(mono.sample_rate).analyze_with(&mono.samples, &params);
    let laeq_cal = a.laeq_dbfs + calibration_db;
    let (status, hint) = status_of(&a, laeq_cal, policy);
    let mut r = CheckResult::new(status, hint);
    put_metrics(&mut r, &a, calibration_db);
    r.set("device", &mono.source);
    r.set("channels", mono.channels);
    r
}

/// The status and hint for an analysis whose calibrated LAeq is `laeq_cal`.
pub fn status_of(a: &Analysis, laeq_cal: f64, policy: &NoisePolicy) -> (Status, &'static str) {
    if a.classification == Class::DeadInput {
        return (Status::Fail, hints::DEAD_INPUT);
    }
    let mut status = policy.laeq_dbfs_a.status(laeq_cal);
    // Classified as these only above the quiet limit: they warn at any level there.
    let disturbing = matches!(
        a.classification,
        Class::Voices | Class::Impulsive | Class::Hum
    );
    if disturbing {
        status = status.max(Status::Warn);
    }
    let clipped = a.clipped_fraction > CLIPPED_WARN;
    if clipped {
        status = status.max(Status::Warn);
    }
    let hint = match (status, a.classification) {
        (Status::Pass, _) => "",
        (_, Class::Voices) => hints::VOICES,
        (_, Class::Impulsive) => hints::IMPULSIVE,
        (_, Class::Hum) => hints::HUM,
        // Levels read from an overloaded input are wrong: fix the volume first.
        _ if clipped => hints::CLIPPED,
        (_, Class::SteadyNoise) => hints::STEADY,
        _ => hints::TOO_LOUD,
    };
    (status, hint)
}

fn put_metrics(r: &mut CheckResult, a: &Analysis, calibration_db: f64) {
    let f = &a.features;
    r.set("laeq_dbfs", round(a.laeq_dbfs, 2));
    r.set("lamax_dbfs", round(a.lamax_dbfs, 2));
    r.set("l10_dbfs", round(a.l10_dbfs, 2));
    r.set("l90_dbfs", round(a.l90_dbfs, 2));
    r.set("peak_dbfs", round(a.peak_dbfs, 2));
    r.set("rms_dbfs", round(a.rms_dbfs, 2));
    r.set("clipped_fraction", round(a.clipped_fraction, 6));
    r.set("dominant_hz", round(a.dominant_hz, 1));
    r.set("classification", a.classification.as_str());
    r.set("confidence", a.confidence);
    r.set("calibration_db", calibration_db);
    r.set("laeq_calibrated_db", round(a.laeq_dbfs + calibration_db, 2));
    r.set("sample_rate", a.sample_rate);
    r.set("seconds", round(a.seconds, 3));
    r.set("spectral_flatness", round(f.spectral_flatness, 4));
    r.set("spectral_flux_db", round(f.spectral_flux_db, 3));
    r.set("onsets_per_second", round(f.onsets_per_second, 3));
    r.set("speech_band_fraction", round(f.speech_band_fraction, 4));
    r.set("syllable_modulation", round(f.syllable_modulation, 4));
    r.set("speech_depth_db", round(f.speech_depth_db, 2));
    r.set("hum_hz", f.hum_hz);
    r.set("hum_fraction", round(f.hum_fraction, 4));
    r.set("hum_dbfs", round(f.hum_dbfs, 2));
    r.set("level_spread_db", round(f.level_spread_db, 2));
    r.set("peak_to_floor_db", round(f.peak_to_floor_db, 2));
    r.set("active_fraction", round(f.active_fraction, 4));
    r.set("zero_fraction", round(f.zero_fraction, 4));
}

#[cfg(test)]
#[path = "../../tests/support/signals.rs"]
mod signals;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn mono(samples: Vec<f32>) -> Mono {
        Mono {
            samples,
            sample_rate: 48000,
            channels: 1,
            source: "Jabra Evolve2 40 USB Headset".into(),
        }
    }

    use super::signals;

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
    fn bands_and_calibration_decide_the_status() {
        let p = NoisePolicy::default(); // pass ≤ −45, warn ≤ −35 dBFS(A)
        let pink = |db| mono(signals::pink_noise(48000, 3.0, db, 1));
        // Pink noise at −42 dBFS unweighted reads about −46.3 dB(A): a pass …
        let r = judge(&pink(-42.0), 0.0, &p);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(r.hint, "");
        // … a warn once the headset's calibration says it is 5 dB louder …
        let r = judge(&pink(-42.0), 5.0, &p);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(r.hint, hints::STEADY);
        assert_eq!(r.metric_f64("calibration_db"), Some(5.0));
        // … and a fail 10 dB louder still.
        let r = judge(&pink(-32.0), 5.0, &p);
        assert_eq!(r.status, Status::Fail);
    }

    #[test]
    fn voices_warn_even_when_the_level_passes() {
        let x = signals::speech_like(48000, 6.0, -45.0, 2);
        let r = judge(&mono(x), 0.0, &NoisePolicy::default());
        assert_eq!(r.metrics["classification"], "voices", "{r:?}");
        assert!(r.metric_f64("laeq_dbfs").unwrap() < -45.0);
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.hint, hints::VOICES);
    }

    #[test]
    fn hum_warns_with_the_cable_hint() {
        let r = judge(
            &mono(signals::hum(48000, 4.0, 50.0, -35.0)),
            0.0,
            &NoisePolicy::default(),
        );
        assert_eq!(r.metrics["classification"], "hum", "{r:?}");
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.hint, hints::HUM);
    }

    #[test]
    fn digital_silence_fails_with_the_permission_hint() {
        let r = judge(&mono(vec![0.0; 48000]), 0.0, &NoisePolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.hint, hints::DEAD_INPUT);
        assert_eq!(r.metrics["classification"], "dead_input");
    }

    #[test]
    fn a_quiet_room_passes() {
        let r = judge(
            &mono(signals::pink_noise(48000, 3.0, -70.0, 3)),
            0.0,
            &NoisePolicy::default(),
        );
        assert_eq!(r.status, Status::Pass);
        assert_eq!(r.metrics["classification"], "quiet");
    }

    #[test]
    fn clipping_warns_with_the_volume_hint() {
        let mut x = signals::pink_noise(48000, 3.0, -50.0, 4);
        for v in x.iter_mut().step_by(100) {
            *v = 1.0;
        }
        let r = judge(&mono(x), 0.0, &NoisePolicy::default());
        assert!(r.metric_f64("clipped_fraction").unwrap() > CLIPPED_WARN);
        assert!(r.status >= Status::Warn, "{r:?}");
        assert_eq!(r.hint, hints::CLIPPED);
    }

    #[test]
    fn capture_errors_are_error_status_with_a_hint() {
        let r = capture_failed(&CaptureError::NoDevice);
        assert_eq!(r.status, Status::Error);
        assert_eq!(r.hint, hints::NO_DEVICE);
        let r = capture_failed(&CaptureError::Stalled {
            device: "x".into(),
            seconds: 0.2,
        });
        assert_eq!(r.hint, hints::STALLED);
        assert_eq!(r.metrics["capture_error"], "stalled");
    }
}
