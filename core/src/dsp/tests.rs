//! Known-answer tests of the analysis (levels, weighting, statistics).

use super::signals::*;
use super::*;

/// IEC 61672-1:2002, Table 2: class-1 tolerance limits (dB, +upper / −lower) of the
/// frequency weighting at the nominal one-third-octave frequencies 31.5 Hz to 16 kHz.
const CLASS1: [(f64, f64, f64); 28] = [
    (31.5, 1.5, 1.5),
    (40.0, 1.0, 1.0),
    (50.0, 1.0, 1.0),
    (63.0, 1.0, 1.0),
    (80.0, 1.0, 1.0),
    (100.0, 1.0, 1.0),
    (125.0, 1.0, 1.0),
    (160.0, 1.0, 1.0),
    (200.0, 1.0, 1.0),
    (250.0, 1.0, 1.0),
    (315.0, 1.0, 1.0),
    (400.0, 1.0, 1.0),
    (500.0, 1.0, 1.0),
    (630.0, 1.0, 1.0),
    (800.0, 1.0, 1.0),
    (1000.0, 0.7, 0.7),
    (1250.0, 1.0, 1.0),
    (1600.0, 1.0, 1.0),
    (2000.0, 1.0, 1.0),
    (2500.0, 1.0, 1.0),
    (3150.0, 1.0, 1.0),
    (4000.0, 1.0, 1.0),
    (5000.0, 1.5, 1.5),
    (6300.0, 1.5, 2.0),
    (8000.0, 1.5, 2.5),
    (10000.0, 2.0, 3.0),
    (12500.0, 2.0, 5.0),
    (16000.0, 2.5, 16.0),
];

/// IEC 61672-1:2013 Table 3, the A-weighting at the same frequencies.
const A_TABLE: [f64; 28] = [
    -39.4, -34.6, -30.2, -26.2, -22.5, -19.1, -16.1, -13.4, -10.9, -8.6, -6.6, -4.8, -3.2, -1.9,
    -0.8, 0.0, 0.6, 1.0, 1.2, 1.3, 1.2, 1.0, 0.5, -0.1, -1.1, -2.5, -4.3, -6.6,
];

#[test]
fn sine_1khz_at_minus_20_dbfs_reads_minus_20() {
    // AES17 (full-scale sine = 0 dBFS) and A(1 kHz) = 0 dB (IEC 61672-1): −20.0 ± 0.1.
    for sr in [8000, 16000, 44100, 48000] {
        let a = analyze(&sine(sr, 3.0, 1000.0, -20.0), sr);
        for (what, v) in [
            ("laeq", a.laeq_dbfs),
            ("lamax", a.lamax_dbfs),
            ("l10", a.l10_dbfs),
            ("l90", a.l90_dbfs),
            ("rms", a.rms_dbfs),
        ] {
            assert!((v + 20.0).abs() <= 0.1, "{sr} Hz {what}: {v}");
        }
        assert!((a.peak_dbfs + 20.0).abs() <= 0.01, "peak {}", a.peak_dbfs);
        assert!((a.dominant_hz - 1000.0).abs() < 2.0, "{}", a.dominant_hz);
        assert_eq!(a.clipped_fraction, 0.0);
    }
}

#[test]
fn full_scale_sine_reads_0_dbfs() {
    // AES17-2020 §3.12.
    let a = analyze(&sine(48000, 2.0, 997.0, 0.0), 48000);
    assert!(a.laeq_dbfs.abs() <= 0.1, "{}", a.laeq_dbfs);
    assert!(a.rms_dbfs.abs() <= 0.01, "{}", a.rms_dbfs);
}

#[test]
fn sines_at_table_frequencies_read_within_class_1() {
    for (i, &(nominal, up, down)) in CLASS1.iter().enumerate() {
        let exact = 1000.0 * 10f64.powf((i as f64 - 15.0) / 10.0);
        let a = analyze(&sine(48000, 3.0, exact, -20.0), 48000);
        let dev = a.laeq_dbfs - (-20.0 + A_TABLE[i]);
        assert!(
            dev <= up && dev >= -down,
            "{nominal} Hz: read {:.2} dB(A), want {:.1} (+{up}/−{down})",
            a.laeq_dbfs,
            -20.0 + A_TABLE[i]
        );
        // Tighter than the standard asks: the per-bin weights, pre-compensated for the
        // window's smoothing, track the table to its rounding.
        assert!(dev.abs() <= 0.1, "{nominal} Hz: {dev:+.2} dB off the table");
    }
}

#[test]
fn sine_100hz_reads_a_weighted() {
    // A(100 Hz) = −19.1 dB (IEC 61672-1 Table 3), so −20 dBFS reads −39.1 dB(A).
    for sr in [16000, 44100, 48000] {
        let a = analyze(&sine(sr, 3.0, 100.0, -20.0), sr);
        assert!(
            (a.laeq_dbfs + 39.1).abs() <= 0.3,
            "{sr} Hz: {}",
            a.laeq_dbfs
        );
        assert!((a.rms_dbfs + 20.0).abs() <= 0.05);
    }
}

#[test]
fn level_does_not_depend_on_sample_rate_for_noise() {
    // Pink noise band-limited by its own rate reads the same A-weighted level within
    // 0.5 dB from 16 to 48 kHz (the A-curve is below −6.6 dB above 8 kHz).
    let a48 = analyze(&pink_noise(48000, 5.0, -30.0, 1), 48000).laeq_dbfs;
    let a44 = analyze(&pink_noise(44100, 5.0, -30.0, 1), 44100).laeq_dbfs;
    assert!((a48 - a44).abs() < 0.3, "{a48} vs {a44}");
}

#[test]
fn l10_and_l90_of_a_stepped_signal() {
    // A 1 kHz tone stepping between −20 and −40 dBFS each second: the level exceeded 10 %
    // of the time is the high step, the one exceeded 90 % the low step; LAeq is the energy
    // mean, 10·log10((0.01 + 0.0001)/2) = −22.97 dB.
    let a = analyze(&stepped_sine(48000, 10.0, 1.0, -20.0, -40.0), 48000);
    assert!((a.l10_dbfs + 20.0).abs() <= 0.1, "L10 {}", a.l10_dbfs);
    assert!((a.l90_dbfs + 40.0).abs() <= 0.1, "L90 {}", a.l90_dbfs);
    assert!((a.lamax_dbfs + 20.0).abs() <= 0.1, "LAmax {}", a.lamax_dbfs);
    assert!((a.laeq_dbfs + 22.97).abs() <= 0.1, "LAeq {}", a.laeq_dbfs);
    assert!((a.features.level_spread_db - 20.0).abs() <= 0.2);
}

#[test]
fn clipping_is_counted() {
    let mut x = sine(48000, 1.0, 440.0, 6.0);
    x.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
    let a = analyze(&x, 48000);
    // A sine at +6 dB is above full scale for 2/3 of its period (|sin| > 0.5).
    assert!(
        (a.clipped_fraction - 2.0 / 3.0).abs() < 0.01,
        "{}",
        a.clipped_fraction
    );
    assert!(a.peak_dbfs.abs() < 1e-3);
    assert_eq!(
        analyze(&sine(48000, 1.0, 440.0, -0.1), 48000).clipped_fraction,
        0.0
    );
}

#[test]
fn silence_empty_and_short_inputs_do_not_panic() {
    let a = analyze(&[], 48000);
    assert_eq!(a.classification, Class::DeadInput);
    assert_eq!(a.laeq_dbfs, FLOOR_DBFS);
    let a = analyze(&silence(48000, 1.0), 48000);
    assert_eq!(a.classification, Class::DeadInput);
    assert_eq!(a.confidence, 1.0);
    assert!(serde_json::to_string(&a).is_ok());
    let a = analyze(&sine(48000, 0.01, 1000.0, -20.0), 48000);
    assert!((a.laeq_dbfs + 20.0).abs() < 1.5, "{}", a.laeq_dbfs);
    let _ = analyze(&[0.5; 3], 0);
}

/// Every number of an analysis is finite (JSON has no NaN: serde_json writes it as null).
fn all_finite(a: &Analysis) -> bool {
    let f = &a.features;
    [
        a.laeq_dbfs,
        a.lamax_dbfs,
        a.l10_dbfs,
        a.l90_dbfs,
        a.peak_dbfs,
        a.rms_dbfs,
        a.clipped_fraction,
        a.dominant_hz,
        a.confidence,
        f.spectral_flatness,
        f.spectral_flux_db,
        f.onsets_per_second,
        f.speech_band_fraction,
        f.syllable_modulation,
        f.speech_depth_db,
        f.hum_hz,
        f.hum_fraction,
        f.hum_dbfs,
        f.level_spread_db,
        f.peak_to_floor_db,
        f.active_fraction,
        f.zero_fraction,
    ]
    .iter()
    .all(|v| v.is_finite())
}

/// A NaN sample is a lost sample, not silence for the whole recording: the levels stay
/// those of the finite samples (before the fix one NaN in 2 s of −30 dBFS fan noise read
/// LAeq −200 dBFS and "dead input", a failing microphone in a noisy room).
#[test]
fn nan_samples_count_as_lost_not_as_silence() {
    let mut x = fan_noise(48000, 2.0, -30.0, 7);
    let clean = analyze(&x, 48000);
    x[48000] = f32::NAN;
    x[70000] = f32::NAN;
    let a = analyze(&x, 48000);
    assert!(all_finite(&a), "{a:?}");
    assert!(
        (a.laeq_dbfs - clean.laeq_dbfs).abs() < 0.05,
        "{} vs {}",
        a.laeq_dbfs,
        clean.laeq_dbfs
    );
    assert!(
        (a.rms_dbfs - clean.rms_dbfs).abs() < 0.05,
        "{} vs {}",
        a.rms_dbfs,
        clean.rms_dbfs
    );
    assert!(a.lamax_dbfs <= clean.lamax_dbfs + 0.05);
    assert_eq!(a.peak_dbfs, clean.peak_dbfs);
    assert_eq!(a.clipped_fraction, 0.0);
    assert_eq!(a.classification, clean.classification);
    assert_ne!(a.classification, Class::DeadInput);
    // Exactly a zero in its place.
    assert_eq!(
        analyze(&[f32::NAN, 1.0, -1.0], 8000),
        analyze(&[0.0, 1.0, -1.0], 8000)
    );
    // Nothing but NaN is no signal at all.
    let a = analyze(&[f32::NAN; 48000], 48000);
    assert_eq!(a.classification, Class::DeadInput);
    assert!(all_finite(&a));
}

/// ±∞ is an overload: full scale, counted as clipped, the peak 0 dBFS and never infinite.
#[test]
fn infinite_samples_count_as_clipped() {
    let mut x = fan_noise(48000, 2.0, -30.0, 7);
    let clean = analyze(&x, 48000);
    x[48000] = f32::INFINITY;
    x[70000] = f32::NEG_INFINITY;
    let a = analyze(&x, 48000);
    assert!(all_finite(&a), "{a:?}");
    assert_eq!(a.peak_dbfs, 0.0);
    assert_eq!(a.clipped_fraction, 2.0 / x.len() as f64);
    // Two full-scale samples in 96 000 add about 10·log10(1 + 2/96000 / 10^−3.5) ≈ 0.28 dB.
    assert!(
        a.laeq_dbfs >= clean.laeq_dbfs,
        "{} vs {}",
        a.laeq_dbfs,
        clean.laeq_dbfs
    );
    assert!(
        a.laeq_dbfs < clean.laeq_dbfs + 1.0,
        "{} vs {}",
        a.laeq_dbfs,
        clean.laeq_dbfs
    );
}

#[test]
fn hum_frequency_is_resolved() {
    for f0 in [50.0, 60.0] {
        let a = analyze(&hum(48000, 3.0, f0, -30.0), 48000);
        assert_eq!(a.features.hum_hz, f0);
        assert!(a.features.hum_fraction > 0.9, "{}", a.features.hum_fraction);
        assert!(
            (a.features.hum_dbfs + 30.0).abs() < 0.5,
            "{}",
            a.features.hum_dbfs
        );
    }
    let a = analyze(&pink_noise(48000, 3.0, -30.0, 3), 48000);
    assert!(a.features.hum_fraction < 0.2, "{}", a.features.hum_fraction);
}

#[test]
fn flatness_orders_white_pink_brown_tone() {
    let f = |x: Vec<f32>| analyze(&x, 48000).features.spectral_flatness;
    let (w, p, b, t) = (
        f(white_noise(48000, 3.0, -30.0, 1)),
        f(pink_noise(48000, 3.0, -30.0, 1)),
        f(brown_noise(48000, 3.0, -30.0, 1)),
        f(sine(48000, 3.0, 1000.0, -30.0)),
    );
    assert!(
        w > 0.9 && w > p && p > b && b > t && t < 0.01,
        "{w} {p} {b} {t}"
    );
}

/// Pushes `x` into a stream in pieces whose sizes cycle through `sizes`.
fn streamed(x: &[f32], sr: u32, threads: usize, sizes: &[usize]) -> Analysis {
    let mut an = Analyzer::new(sr);
    let mut s = an.stream(threads);
    let mut rest = x;
    for &k in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, more) = rest.split_at(k.min(rest.len()));
        s.push(piece);
        rest = more;
    }
    s.finish(&ClassifyParams::default())
}

/// Streaming (issue 17): a signal pushed in pieces of any size, analysed on one thread or
/// several, gives exactly (bit for bit, every field) the analysis of the whole signal in one
/// piece: every sum runs in the same order.
#[test]
fn streamed_in_pieces_equals_the_whole_signal_exactly() {
    let mut long = mix(
        &speech_like(8000, 70.0, -30.0, 3),
        &fan_noise(8000, 70.0, -45.0, 4),
    );
    // Lost samples and an overload, some at the edges of the pieces below.
    for (i, v) in [
        (1000, f32::NAN),
        (4097, f32::INFINITY),
        (300_000, f32::NEG_INFINITY),
    ] {
        long[i] = v;
    }
    let cases: Vec<(&str, u32, Vec<f32>)> = vec![
        // 8 kHz: several batches of frame groups, quick in a debug build.
        ("speech over fan, 70 s", 8000, long),
        ("knocks", 48000, knocks(48000, 6.0, -10.0, -60.0, 4)),
        ("hum", 44100, hum(44100, 2.0, 60.0, -35.0)),
        (
            "shorter than a frame",
            48000,
            sine(48000, 0.05, 1000.0, -20.0),
        ),
        (
            "shorter than the hum filter",
            48000,
            sine(48000, 0.0005, 1000.0, -20.0),
        ),
        ("nothing", 16000, Vec::new()),
    ];
    for (name, sr, x) in &cases {
        let whole = analyze(x, *sr);
        for threads in [1, 2, 3] {
            for sizes in [
                &[4097, 1, 65536, 3, 250_000][..],
                &[1_000_000][..],
                &[480][..],
            ] {
                let a = streamed(x, *sr, threads, sizes);
                assert_eq!(a, whole, "{name}: {threads} threads, pieces {sizes:?}");
            }
        }
    }
}
