//! The `noise` check's verdict: analyse the samples (`crate::dsp`) and judge them against
//! the policy's bands. Recording them (or reading a WAV file) is the agent's (`checks::noise`).
//!
//! The status comes from the A-weighted level after the device's calibration offset
//! (`policy.noise.laeq_dbfs_a`); voices, impulsive noise and mains hum warn at any level above
//! the quiet limit (`policy.noise.quiet_max_dbfs_a`), since they disturb calls more than
//! their level says; a silent microphone fails. Only aggregates leave this module.

use crate::dsp::{Analysis, Analyzer, Class, ClassifyParams};
use proto::metric;
use proto::policy::NoisePolicy;
use proto::{CheckResult, Msg, Status};

/// What the agent is told: message ids, translated in `core/i18n/*.ftl`;
/// `crate::i18n::english_id(id)` gives the English text HQ receives.
pub mod hints {
    pub const DEAD_INPUT: &str = "noise-dead-input";
    pub const VOICES: &str = "noise-voices";
    pub const IMPULSIVE: &str = "noise-impulsive";
    pub const HUM: &str = "noise-hum";
    pub const STEADY: &str = "noise-steady";
    pub const TOO_LOUD: &str = "noise-too-loud";
    pub const CLIPPED: &str = "noise-clipped";
    pub const NO_DEVICE: &str = "noise-no-device";
    pub const NOT_FOUND: &str = "noise-not-found";
    pub const NO_AUDIO: &str = "noise-no-audio";
    pub const PERMISSION: &str = "noise-permission";
    pub const OPEN: &str = "noise-open";
    pub const STALLED: &str = "noise-stalled";
}

/// The shortest recording judged: less says nothing about voices, knocks or a steady fan.
pub const MIN_SECONDS: f64 = 1.0;

/// Share of clipped samples above which the microphone counts as overloaded.
pub const CLIPPED_WARN: f64 = 0.001;

fn round(v: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (v * m).round() / m
}

/// Analyses mono samples (full scale ±1.0) and judges them against the policy, the level
/// read `calibration_db` louder than the samples say (the device's offset).
pub fn judge(
    samples: &[f32],
    sample_rate: u32,
    calibration_db: f64,
    policy: &NoisePolicy,
) -> CheckResult {
    let a =
        Analyzer::new(sample_rate).analyze_with(samples, &classify_params(policy, calibration_db));
    verdict(&a, calibration_db, policy)
}

/// The classification's limits for a device read `calibration_db` louder than its samples.
pub fn classify_params(policy: &NoisePolicy, calibration_db: f64) -> ClassifyParams {
    ClassifyParams {
        quiet_max_dbfs_a: policy.quiet_max_dbfs_a - calibration_db,
    }
}

/// Judges an analysis made with [`classify_params`] (a streamed file's, say) as [`judge`]
/// does.
pub fn verdict(a: &Analysis, calibration_db: f64, policy: &NoisePolicy) -> CheckResult {
    let laeq_cal = a.laeq_dbfs + calibration_db;
    let (status, hint) = status_of(a, laeq_cal, policy);
    let mut r = CheckResult::new(status, "");
    if !hint.is_empty() {
        crate::i18n::set_hint(&mut r, Msg::new(hint));
    }
    put_metrics(&mut r, a, calibration_db);
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
    r.set(metric::LAEQ_DBFS, round(a.laeq_dbfs, 2));
    r.set(metric::LAMAX_DBFS, round(a.lamax_dbfs, 2));
    r.set(metric::L10_DBFS, round(a.l10_dbfs, 2));
    r.set(metric::L90_DBFS, round(a.l90_dbfs, 2));
    r.set(metric::PEAK_DBFS, round(a.peak_dbfs, 2));
    r.set("rms_dbfs", round(a.rms_dbfs, 2));
    r.set(metric::CLIPPED_FRACTION, round(a.clipped_fraction, 6));
    r.set(metric::DOMINANT_HZ, round(a.dominant_hz, 1));
    r.set(metric::CLASSIFICATION, a.classification.as_str());
    r.set("confidence", a.confidence);
    r.set(metric::CALIBRATION_DB, calibration_db);
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
mod tests {
    use super::*;
    use crate::dsp::signals;
    use crate::i18n::english_id;

    /// A recording from a device, judged without calibration unless given.
    fn judge48(samples: &[f32], calibration_db: f64, policy: &NoisePolicy) -> CheckResult {
        judge(samples, 48000, calibration_db, policy)
    }

    #[test]
    fn bands_and_calibration_decide_the_status() {
        let p = NoisePolicy::default(); // pass ≤ −45, warn ≤ −35 dBFS(A)
        let pink = |db| signals::pink_noise(48000, 3.0, db, 1);
        // Pink noise at −42 dBFS unweighted reads about −46.3 dB(A): a pass …
        let r = judge48(&pink(-42.0), 0.0, &p);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(r.hint, "");
        // … a warn once the headset's calibration says it is 5 dB louder …
        let r = judge48(&pink(-42.0), 5.0, &p);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(r.hint, english_id(hints::STEADY));
        assert_eq!(r.metric_f64("calibration_db"), Some(5.0));
        // … and a fail 10 dB louder still.
        let r = judge48(&pink(-32.0), 5.0, &p);
        assert_eq!(r.status, Status::Fail);
    }

    #[test]
    fn voices_warn_even_when_the_level_passes() {
        let x = signals::speech_like(48000, 6.0, -45.0, 2);
        let r = judge48(&x, 0.0, &NoisePolicy::default());
        assert_eq!(r.metrics["classification"], "voices", "{r:?}");
        assert!(r.metric_f64("laeq_dbfs").unwrap() < -45.0);
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.hint, english_id(hints::VOICES));
    }

    #[test]
    fn hum_warns_with_the_cable_hint() {
        let r = judge48(
            &signals::hum(48000, 4.0, 50.0, -35.0),
            0.0,
            &NoisePolicy::default(),
        );
        assert_eq!(r.metrics["classification"], "hum", "{r:?}");
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.hint, english_id(hints::HUM));
    }

    #[test]
    fn digital_silence_fails_with_the_permission_hint() {
        let r = judge48(&[0.0; 48000], 0.0, &NoisePolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.hint, english_id(hints::DEAD_INPUT));
        assert_eq!(r.metrics["classification"], "dead_input");
    }

    #[test]
    fn a_quiet_room_passes() {
        let r = judge48(
            &signals::pink_noise(48000, 3.0, -70.0, 3),
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
        let r = judge48(&x, 0.0, &NoisePolicy::default());
        assert!(r.metric_f64("clipped_fraction").unwrap() > CLIPPED_WARN);
        assert!(r.status >= Status::Warn, "{r:?}");
        assert_eq!(r.hint, english_id(hints::CLIPPED));
    }
}
