//! How the charts and the timeline write figures and end their axes.

/// `v` with `d` decimals, halves rounded away from zero (31.25 ms is "31.3 ms", as
/// `api::it::round_metric` rounds it; `format!` alone would print "31.2").
pub fn fixed(v: f64, d: usize) -> String {
    let p = 10f64.powi(d as i32);
    format!("{:.d$}", (v * p).round() / p)
}

/// The round number at or above `x` (> 0) a reader expects an axis to end at: 1, 1.5, 2,
/// 2.5, 3, 4, 5, 6, 8 or 10 times a power of ten.
pub fn nice_ceil(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return 1.0;
    }
    let step = 10f64.powf(x.log10().floor());
    let m = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|m| m * step >= x - 1e-9)
        .unwrap_or(10.0);
    m * step
}
