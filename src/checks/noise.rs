//! The `noise` check: record the background through the microphone and judge it. The
//! analysis and the verdict (bands, calibration offset, classification, hints) are pure and
//! live in `shiftready_core::checks::noise`; this module records, applies the device's
//! calibration from the config and turns capture failures into results.

use super::CheckContext;
use crate::audio::{self, Mono, capture::CaptureError};
use crate::config::AudioConfig;
use proto::CheckResult;
use proto::policy::NoisePolicy;
use shiftready_core::checks::headset;
use shiftready_core::checks::noise::{self, hints};

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
