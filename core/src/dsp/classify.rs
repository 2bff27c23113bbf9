//! What kind of background it is, from the features of an [`Analysis`]: the classes of
//! DESIGN.md, decided in a fixed order (the first that fits wins) with a confidence from how
//! far the deciding features are past their limits.

use super::Analysis;
use serde::{Deserialize, Serialize};

/// The character of the background (DESIGN.md, "Noise").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Muted or broken microphone, digital silence.
    DeadInput,
    /// A quiet room.
    Quiet,
    /// Fan, air-con, traffic: a flat, slowly changing spectrum.
    SteadyNoise,
    /// Mains hum or buzzing electronics: 50/60 Hz and harmonics.
    Hum,
    /// People talking, children, TV, radio: speech-band energy at syllable rhythm.
    Voices,
    /// Barking, knocking, slamming: short loud bursts over a lower floor.
    Impulsive,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::DeadInput => "dead_input",
            Class::Quiet => "quiet",
            Class::SteadyNoise => "steady_noise",
            Class::Hum => "hum",
            Class::Voices => "voices",
            Class::Impulsive => "impulsive",
        }
    }
}

/// Limits that depend on the site and device rather than on the sound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifyParams {
    /// Below this LAeq (dBFS(A), as measured, i.e. the policy's value minus the device's
    /// calibration offset) the room is quiet whatever the noise's character.
    pub quiet_max_dbfs_a: f64,
}

impl Default for ClassifyParams {
    fn default() -> Self {
        ClassifyParams {
            quiet_max_dbfs_a: -55.0,
        }
    }
}

/// Unweighted level below which the input counts as dead: 10 dB under one 16-bit step of
/// noise, well under any real microphone's self-noise.
pub const DEAD_RMS_DBFS: f64 = -100.0;
/// Share of exact zeros at which the input counts as dead (what a denied microphone
/// permission delivers).
pub const DEAD_ZERO_FRACTION: f64 = 0.99;
/// Share of unweighted power in the 50/60 Hz series that makes it hum.
pub const HUM_FRACTION: f64 = 0.5;
/// Impulsive: the loudest 10 ms at least this far above the floor…
pub const IMPULSE_PEAK_TO_FLOOR_DB: f64 = 20.0;
/// …with the bursts taking at most this share of the time.
pub const IMPULSE_MAX_ACTIVE: f64 = 0.3;
/// Voices: the speech-band envelope spreads at least this much…
pub const VOICE_DEPTH_DB: f64 = 6.0;
/// …and at least this share of its fluctuation is at syllable rate.
pub const VOICE_MODULATION: f64 = 0.35;

fn ramp(x: f64, from: f64, span: f64) -> f64 {
    ((x - from) / span).clamp(0.0, 1.0)
}

/// The class and confidence for an analysis.
pub fn classify(a: &Analysis, p: &ClassifyParams) -> (Class, f64) {
    let f = &a.features;
    if a.seconds <= 0.0 || f.zero_fraction >= DEAD_ZERO_FRACTION || a.rms_dbfs < DEAD_RMS_DBFS {
        let sure = f.zero_fraction >= 0.999 || a.rms_dbfs <= super::FLOOR_DBFS;
        return (Class::DeadInput, if sure { 1.0 } else { 0.9 });
    }
    let q = p.quiet_max_dbfs_a;
    let hum = f.hum_fraction >= HUM_FRACTION;
    // Hum is mostly below 500 Hz where the A-curve hides it, so its own unweighted level
    // decides whether it is above the quiet limit.
    if a.laeq_dbfs < q && !(hum && f.hum_dbfs >= q) {
        return (Class::Quiet, 0.5 + 0.5 * ramp(q - a.laeq_dbfs, 0.0, 10.0));
    }
    if f.peak_to_floor_db >= IMPULSE_PEAK_TO_FLOOR_DB
        && f.active_fraction <= IMPULSE_MAX_ACTIVE
        && f.onsets_per_second > 0.0
    {
        let c = 0.5
            + 0.25 * ramp(f.peak_to_floor_db, IMPULSE_PEAK_TO_FLOOR_DB, 15.0)
            + 0.25 * ramp(IMPULSE_MAX_ACTIVE - f.active_fraction, 0.0, 0.2);
        return (Class::Impulsive, c);
    }
    if f.speech_depth_db >= VOICE_DEPTH_DB && f.syllable_modulation >= VOICE_MODULATION {
        let c = 0.5
            + 0.25 * ramp(f.speech_depth_db, VOICE_DEPTH_DB, 10.0)
            + 0.25 * ramp(f.syllable_modulation, VOICE_MODULATION, 0.3);
        return (Class::Voices, c);
    }
    if hum {
        return (
            Class::Hum,
            0.5 + 0.5 * ramp(f.hum_fraction, HUM_FRACTION, 0.4),
        );
    }
    (
        Class::SteadyNoise,
        0.5 + 0.5 * ramp(6.0 - f.level_spread_db, 0.0, 5.0),
    )
}

impl Analysis {
    /// Classifies again with other limits (the policy's quiet limit, a device's calibration).
    pub fn reclassify(&mut self, p: &ClassifyParams) {
        let (c, conf) = classify(self, p);
        self.classification = c;
        self.confidence = (conf * 100.0).round() / 100.0;
    }
}
