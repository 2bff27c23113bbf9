//! The A frequency weighting of IEC 61672-1:2013, Annex E (equations E.1 to E.6).

/// Pole frequencies of the A-weighting, in Hz (IEC 61672-1:2013, E.2 to E.4).
const F1: f64 = 20.598_997;
const F2: f64 = 107.652_65;
const F3: f64 = 737.862_23;
const F4: f64 = 12_194.217;

/// The A-weighting's magnitude response before normalisation (squared, linear power).
fn ra_squared(f: f64) -> f64 {
    let f2 = f * f;
    let num = F4.powi(2) * f2 * f2;
    let den = (f2 + F1 * F1) * ((f2 + F2 * F2) * (f2 + F3 * F3)).sqrt() * (f2 + F4 * F4);
    (num / den).powi(2)
}

/// The A-weighting as a linear power gain: 1 at 1 kHz, 0 at DC.
pub fn a_weight_power(f: f64) -> f64 {
    if f <= 0.0 {
        return 0.0;
    }
    ra_squared(f) / ra_squared(1000.0)
}

/// The A-weighting in dB (0 dB at 1 kHz by construction; IEC 61672-1 gives A1000 = −2.000 dB
/// as the constant that does this).
pub fn a_weight_db(f: f64) -> f64 {
    10.0 * a_weight_power(f).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IEC 61672-1:2013 Table 3: A-weightings at the nominal one-third-octave frequencies
    /// 31.5 Hz to 16 kHz, to 0.1 dB, computed at the exact base-ten frequencies
    /// 1000 · 10^(n/10).
    pub const IEC_TABLE: [(f64, f64); 28] = [
        (31.5, -39.4),
        (40.0, -34.6),
        (50.0, -30.2),
        (63.0, -26.2),
        (80.0, -22.5),
        (100.0, -19.1),
        (125.0, -16.1),
        (160.0, -13.4),
        (200.0, -10.9),
        (250.0, -8.6),
        (315.0, -6.6),
        (400.0, -4.8),
        (500.0, -3.2),
        (630.0, -1.9),
        (800.0, -0.8),
        (1000.0, 0.0),
        (1250.0, 0.6),
        (1600.0, 1.0),
        (2000.0, 1.2),
        (2500.0, 1.3),
        (3150.0, 1.2),
        (4000.0, 1.0),
        (5000.0, 0.5),
        (6300.0, -0.1),
        (8000.0, -1.1),
        (10000.0, -2.5),
        (12500.0, -4.3),
        (16000.0, -6.6),
    ];

    #[test]
    fn curve_matches_iec_61672_table_3() {
        for (i, (nominal, want)) in IEC_TABLE.iter().enumerate() {
            let exact = 1000.0 * 10f64.powf((i as f64 - 15.0) / 10.0);
            let got = a_weight_db(exact);
            assert!(
                (got - want).abs() <= 0.05 + 1e-9,
                "{nominal} Hz: {got:.3} dB, table {want} dB"
            );
        }
    }

    #[test]
    fn zero_db_at_1khz_and_nothing_at_dc() {
        assert!(a_weight_db(1000.0).abs() < 1e-12);
        assert_eq!(a_weight_power(0.0), 0.0);
    }
}
