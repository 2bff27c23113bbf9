//! Classification of generated backgrounds (the classes of `shiftready::dsp::Class`), through the pure
//! analysis `shiftready::dsp::analyze`. The generators live in `testkit/src/signals.rs`.

use shiftready_testkit::signals;

use shiftready::dsp::{Analysis, Class, analyze};
use signals::*;

const SR: u32 = 48000;

fn check(name: &str, x: &[f32], want: Class) -> Analysis {
    let a = analyze(x, SR);
    eprintln!(
        "{name}: {:?} ({:.2}) laeq {:.1} spread {:.1} flat {:.2} flux {:.2} onsets {:.2} \
         speech {:.2} depth {:.1} mod {:.2} hum {} {:.2} p2f {:.1} active {:.2}",
        a.classification,
        a.confidence,
        a.laeq_dbfs,
        a.features.level_spread_db,
        a.features.spectral_flatness,
        a.features.spectral_flux_db,
        a.features.onsets_per_second,
        a.features.speech_band_fraction,
        a.features.speech_depth_db,
        a.features.syllable_modulation,
        a.features.hum_hz,
        a.features.hum_fraction,
        a.features.peak_to_floor_db,
        a.features.active_fraction,
    );
    assert_eq!(a.classification, want, "{name}: {a:#?}");
    assert!(
        (0.5..=1.0).contains(&a.confidence),
        "{name}: {}",
        a.confidence
    );
    a
}

#[test]
fn digital_silence_is_dead_input() {
    let a = check("silence", &silence(SR, 5.0), Class::DeadInput);
    assert_eq!(a.confidence, 1.0);
    // A DC offset with nothing on it is no signal either.
    check("dc", &vec![0.01; SR as usize * 2], Class::DeadInput);
}

#[test]
fn very_low_broadband_noise_is_quiet() {
    check("white -75", &white_noise(SR, 5.0, -75.0, 1), Class::Quiet);
    check("pink -70", &pink_noise(SR, 5.0, -70.0, 2), Class::Quiet);
}

#[test]
fn pink_and_brown_noise_are_steady_noise() {
    check(
        "pink -35",
        &pink_noise(SR, 5.0, -35.0, 3),
        Class::SteadyNoise,
    );
    check(
        "brown -25",
        &brown_noise(SR, 5.0, -25.0, 4),
        Class::SteadyNoise,
    );
    check("fan -40", &fan_noise(SR, 5.0, -40.0, 5), Class::SteadyNoise);
    check(
        "white -40",
        &white_noise(SR, 5.0, -40.0, 6),
        Class::SteadyNoise,
    );
}

#[test]
fn mains_hum_with_harmonics_is_hum() {
    let a = check("hum 50", &hum(SR, 5.0, 50.0, -30.0), Class::Hum);
    assert_eq!(a.features.hum_hz, 50.0);
    let a = check("hum 60", &hum(SR, 5.0, 60.0, -30.0), Class::Hum);
    assert_eq!(a.features.hum_hz, 60.0);
    // Hum over a quiet room's noise floor.
    let x = mix(&hum(SR, 5.0, 50.0, -35.0), &pink_noise(SR, 5.0, -60.0, 7));
    check("hum 50 + floor", &x, Class::Hum);
}

#[test]
fn syllable_modulated_formants_are_voices() {
    check("speech -30", &speech_like(SR, 6.0, -30.0, 8), Class::Voices);
    check("speech -40", &speech_like(SR, 6.0, -40.0, 9), Class::Voices);
}

#[test]
fn speech_over_fan_noise_is_voices() {
    let x = mix(
        &speech_like(SR, 6.0, -30.0, 10),
        &fan_noise(SR, 6.0, -40.0, 11),
    );
    check("speech over fan", &x, Class::Voices);
}

#[test]
fn bark_like_bursts_are_impulsive() {
    check("barks", &barks(SR, 6.0, -15.0, -60.0, 12), Class::Impulsive);
}

#[test]
fn knocks_are_impulsive() {
    check(
        "knocks",
        &knocks(SR, 6.0, -10.0, -60.0, 13),
        Class::Impulsive,
    );
}

#[test]
fn classes_hold_at_other_sample_rates() {
    for sr in [8000, 16000, 44100] {
        let a = analyze(&speech_like(sr, 6.0, -30.0, 14), sr);
        assert_eq!(a.classification, Class::Voices, "{sr}: {a:#?}");
        let a = analyze(&hum(sr, 5.0, 60.0, -30.0), sr);
        assert_eq!(a.classification, Class::Hum, "{sr}: {a:#?}");
        let a = analyze(&pink_noise(sr, 5.0, -35.0, 15), sr);
        assert_eq!(a.classification, Class::SteadyNoise, "{sr}: {a:#?}");
    }
}
