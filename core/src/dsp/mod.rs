//! Background-noise analysis: pure functions over mono samples, no I/O.
//!
//! A short-time FFT (realfft, periodic Hann window, 50 % overlap, frames of about 64–93 ms)
//! gives, per frame, the A-weighted power (the IEC 61672 A-curve applied per bin), the
//! speech-band (300–3400 Hz) power and log-spaced band powers for the spectral flux. Frames
//! are grouped into 125 ms (Fast) blocks for `lamax`, `l10` and `l90`. A second, long FFT on a
//! decimated copy of the signal (about 1 Hz resolution) measures mains hum at 50/60 Hz and its
//! harmonics. Levels are dBFS per AES17: a full-scale sine reads 0 dBFS.
//!
//! Only the aggregates in [`Analysis`] leave this module; the samples are borrowed, never kept.

pub mod classify;
mod stream;
pub mod weighting;

pub use classify::{Class, ClassifyParams};
pub use stream::Stream;

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;

/// Length of a Fast block (IEC 61672 "F" time constant), in seconds.
pub const FAST_BLOCK_SECONDS: f64 = 0.125;
/// A sample at or above this magnitude counts as clipped (−0.0009 dBFS: the top code of a
/// 16-bit or 24-bit converter).
pub const CLIP_LEVEL: f32 = 0.9999;
/// The level reported for no signal at all: dBFS values never go below it (and stay finite
/// in JSON).
pub const FLOOR_DBFS: f64 = -200.0;
/// Speech band (telephone band), Hz.
pub const SPEECH_BAND_HZ: (f64, f64) = (300.0, 3400.0);
/// Syllable-rate modulation band, Hz.
pub const SYLLABLE_BAND_HZ: (f64, f64) = (2.0, 8.0);
/// Harmonics of the mains frequency counted as hum.
pub const HUM_HARMONICS: usize = 8;

/// Power (mean square scaled so a full-scale sine is 1) to dBFS, floored at [`FLOOR_DBFS`].
pub fn db(power: f64) -> f64 {
    if power > 1e-20 {
        10.0 * power.log10()
    } else {
        FLOOR_DBFS
    }
}

/// What the analysis found: the levels of the contract, the features behind the
/// classification, and the classification itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub sample_rate: u32,
    /// Seconds of audio analysed.
    pub seconds: f64,
    /// A-weighted equivalent continuous level (LAeq), dBFS.
    pub laeq_dbfs: f64,
    /// Loudest 125 ms block, A-weighted, dBFS.
    pub lamax_dbfs: f64,
    /// A-weighted level exceeded in 10 % of the Fast blocks, dBFS.
    pub l10_dbfs: f64,
    /// A-weighted level exceeded in 90 % of the Fast blocks (the noise floor), dBFS.
    pub l90_dbfs: f64,
    /// Highest sample magnitude, dBFS (a full-scale sine peaks at 0 dBFS... and reads 0 dBFS).
    pub peak_dbfs: f64,
    /// Unweighted level (DC removed), dBFS.
    pub rms_dbfs: f64,
    /// Share of samples at full scale.
    pub clipped_fraction: f64,
    /// Strongest frequency above 20 Hz in the average spectrum, Hz (0 with no signal).
    pub dominant_hz: f64,
    pub features: Features,
    pub classification: Class,
    /// How sure the classification is, 0.5 (a guess) to 1.
    pub confidence: f64,
}

/// The values the classification is made from, reported so support can see why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Features {
    /// Wiener entropy of the average spectrum, 100 Hz–8 kHz: 1 for white noise, near 0 for
    /// tones and harmonic sounds.
    pub spectral_flatness: f64,
    /// Mean rise of log band energies from frame to frame, dB (how fast the spectrum changes).
    pub spectral_flux_db: f64,
    /// Sudden broadband rises per second.
    pub onsets_per_second: f64,
    /// Share of the (unweighted) power in the speech band.
    pub speech_band_fraction: f64,
    /// Share of the speech-band envelope's fluctuation at syllable rate (2–8 Hz).
    pub syllable_modulation: f64,
    /// Spread of the speech-band envelope (90th minus 10th percentile), dB.
    pub speech_depth_db: f64,
    /// The mains frequency whose harmonic series holds more power, 50 or 60 Hz.
    pub hum_hz: f64,
    /// Share of the unweighted power in that series (first eight harmonics).
    pub hum_fraction: f64,
    /// Unweighted level of that series, dBFS.
    pub hum_dbfs: f64,
    /// L10 − L90, dB: how much the level varies.
    pub level_spread_db: f64,
    /// Loudest 10 ms against the quietest fifth of the 10 ms blocks, dB.
    pub peak_to_floor_db: f64,
    /// Share of 10 ms blocks more than 6 dB above that floor.
    pub active_fraction: f64,
    /// Share of samples exactly zero.
    pub zero_fraction: f64,
}

/// An analyser for one sample rate, holding its FFT plans and tables so repeated analyses
/// (the daemon's in-shift sampling) do not plan again.
pub struct Analyzer {
    /// Shared with a streaming analysis's worker threads.
    t: Arc<Tables>,
    /// Plans the hum FFT, whose length depends on the signal's (cached across analyses).
    hum_planner: RealFftPlanner<f32>,
}

/// The fixed tables of one sample rate, shared by every thread of an analysis.
struct Tables {
    sample_rate: u32,
    n: usize,
    window: Vec<f32>,
    /// The complex FFT of the frame's samples taken in pairs (length `n / 2`), and the
    /// twiddles that turn it into the real signal's spectrum: realfft's method, done here so
    /// the spectrum goes straight to power (see [`Tables::power`]).
    fft: Arc<dyn Fft<f32>>,
    twiddles: Vec<Complex<f32>>,
    /// Per-bin A-weighted gain, scaled so the dot product with |X|² is AES17 power.
    gain_a: Vec<f32>,
    /// Per-bin unweighted gain (DC excluded), same scaling.
    gain_u: Vec<f32>,
    speech_bins: (usize, usize),
    flux_bands: Vec<(usize, usize)>,
    flat_bins: (usize, usize),
    /// −120 dB relative to a full-scale band: keeps the flux's logs finite in silence.
    band_eps: f64,
    /// Samples per 10 ms time-domain block.
    sub: usize,
    /// The hum's decimation factor, anti-alias taps and decimated rate.
    decim: usize,
    taps: Vec<f32>,
    hum_rate: f64,
}

fn fft_len(sample_rate: u32) -> usize {
    ((sample_rate as f64 * 0.064).ceil() as usize)
        .next_power_of_two()
        .max(256)
}

fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
        .collect()
}

/// The twiddles of realfft's `RealToComplexEven` for a real FFT of length `n` (a multiple of
/// 4), computed exactly as it computes them: `e^(−2πik/n) / 2` for `k` in `1..n/4`, from f64.
fn real_twiddles(n: usize) -> Vec<Complex<f32>> {
    (1..n / 4)
        .map(|i| {
            let constant = -2f64 * std::f64::consts::PI / n as f64;
            let angle = constant * i as f64;
            Complex::new(angle.cos() as f32, angle.sin() as f32) * 0.5f32
        })
        .collect()
}

fn bin_of(hz: f64, df: f64, bins: usize) -> usize {
    ((hz / df).ceil() as usize).min(bins)
}

impl Analyzer {
    pub fn new(sample_rate: u32) -> Analyzer {
        let sr = sample_rate.max(1);
        let n = fft_len(sr);
        let bins = n / 2 + 1;
        let df = sr as f64 / n as f64;
        let window = hann(n);
        let s2: f64 = window.iter().map(|&w| (w as f64).powi(2)).sum();
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n / 2);
        let twiddles = real_twiddles(n);
        // One-sided spectrum to mean square (Parseval), times 2 so a full-scale sine is 1.
        let scale = |k: usize| {
            let c = if k == 0 || k == n / 2 { 1.0 } else { 2.0 };
            2.0 * c / (n as f64 * s2)
        };
        // The Hann kernel smooths the per-bin weights over about ±1 bin (second moment 1/3
        // bin²), which matters where the A-curve bends sharply (below 100 Hz with 12 Hz bins).
        // Pre-compensating with the second difference keeps tones there within class-1
        // tolerance; broadband sums are unchanged (the differences telescope).
        let g: Vec<f64> = (0..bins)
            .map(|k| weighting::a_weight_power(k as f64 * df))
            .collect();
        let m2 = 1.0 / 3.0;
        let gain_a = (0..bins)
            .map(|k| {
                let prev = if k == 0 { 0.0 } else { g[k - 1] };
                let next = if k + 1 < bins { g[k + 1] } else { g[k] };
                let corrected = (g[k] - m2 / 2.0 * (next - 2.0 * g[k] + prev)).max(0.0);
                (if k == 0 { 0.0 } else { corrected } * scale(k)) as f32
            })
            .collect();
        let gain_u: Vec<f32> = (0..bins)
            .map(|k| if k == 0 { 0.0 } else { scale(k) as f32 })
            .collect();
        let top = (0.45 * sr as f64).min(8000.0);
        let s_lo = bin_of(SPEECH_BAND_HZ.0, df, bins);
        let speech_bins = (
            s_lo,
            bin_of(SPEECH_BAND_HZ.1.min(0.49 * sr as f64), df, bins).max(s_lo),
        );
        let nb = stream::FLUX_BANDS;
        let mut flux_bands = Vec::with_capacity(nb);
        for i in 0..nb {
            let lo = 100.0 * (top / 100.0).powf(i as f64 / nb as f64);
            let hi = 100.0 * (top / 100.0).powf((i + 1) as f64 / nb as f64);
            let lo = bin_of(lo, df, bins - 1);
            let hi = bin_of(hi, df, bins).max(lo + 1);
            flux_bands.push((lo, hi));
        }
        let flat_bins = (bin_of(100.0, df, bins - 1), bin_of(top, df, bins).max(1));
        let decim = ((sr as f64 / 2000.0).round() as usize).max(1);
        // Triangular (second-order CIC) anti-alias filter, 2·decim − 1 taps, unity DC gain.
        let taps = (0..2 * decim - 1)
            .map(|j| {
                let t = decim as f64 - (j as f64 - (decim as f64 - 1.0)).abs();
                (t / (decim * decim) as f64) as f32
            })
            .collect();
        let band_eps = 1e-12 / gain_u[1].max(f32::MIN_POSITIVE) as f64;
        Analyzer {
            t: Arc::new(Tables {
                sample_rate: sr,
                n,
                window,
                fft,
                twiddles,
                gain_a,
                gain_u,
                speech_bins,
                flux_bands,
                flat_bins,
                band_eps,
                sub: ((sr as f64 / 100.0) as usize).max(1),
                decim,
                taps,
                hum_rate: sr as f64 / decim as f64,
            }),
            hum_planner: RealFftPlanner::new(),
        }
    }

    pub fn sample_rate(&self) -> u32 {
        self.t.sample_rate
    }

    /// Analyses mono samples (full scale ±1.0) and classifies with the default parameters.
    pub fn analyze(&mut self, samples: &[f32]) -> Analysis {
        self.analyze_with(samples, &ClassifyParams::default())
    }

    /// Analyses mono samples and classifies with `params`: the same as pushing them into
    /// [`Analyzer::stream`] in any pieces, without copying them.
    pub fn analyze_with(&mut self, samples: &[f32], params: &ClassifyParams) -> Analysis {
        let samples = &*finite(samples);
        let s = self.stream(1);
        s.finish_with(samples, params)
    }
}

/// Analyses mono samples at `sample_rate` (full scale ±1.0) with the default classification
/// parameters. Never panics; an empty input is `dead_input`.
pub fn analyze(samples: &[f32], sample_rate: u32) -> Analysis {
    Analyzer::new(sample_rate).analyze(samples)
}

struct Stft {
    mean_a: f64,
    block_power: Vec<f64>,
    dominant_hz: f64,
    flatness: f64,
    flux_db: f64,
    onsets: usize,
    speech_fraction: f64,
    speech_depth_db: f64,
    syllable_modulation: f64,
}

struct Hum {
    hz: f64,
    fraction: f64,
    ms: f64,
}

/// The time-domain pass over the 10 ms blocks: peak, clipping, zeros, mean square, and the
/// burstiness of the 10 ms levels.
struct TimeDomain {
    peak: f32,
    clipped: usize,
    zeros: usize,
    /// Mean square with the DC removed.
    ms: f64,
    peak_to_floor_db: f64,
    active_fraction: f64,
}

/// The samples with the non-finite ones (a failing driver or a float WAV file can carry them)
/// made sound: NaN is a lost sample (0), ±∞ an overload (±full scale, so it counts as
/// clipped). Unchecked, one NaN made every power sum NaN, and [`db`] turned that into the
/// −200 dBFS floor: a noisy room read as a dead microphone; ±∞ made the peak infinite.
fn finite(samples: &[f32]) -> Cow<'_, [f32]> {
    if samples.iter().all(|x| x.is_finite()) {
        return Cow::Borrowed(samples);
    }
    Cow::Owned(
        samples
            .iter()
            .map(|&x| match x {
                _ if x.is_nan() => 0.0,
                _ if x.is_infinite() => x.signum(),
                _ => x,
            })
            .collect(),
    )
}

struct ChunkStats {
    max_abs: f32,
    clipped: usize,
    zeros: usize,
    sum: f64,
    sumsq: f64,
}

/// Per-lane partial stats of a chunk: lane `i` holds the samples `8c + i`, summed in order.
struct Lanes {
    max_abs: [f32; 8],
    sum: [f32; 8],
    sumsq: [f32; 8],
    clipped: [u32; 8],
    zeros: [u32; 8],
}

/// The lanes of `x` (whole chunks of 8 only). Kept out of line: inlined into
/// [`chunk_stats`], the compiler mixed the lanes with the f64 reduction after it and
/// shuffled every element (10 instructions a sample instead of under 2).
#[inline(never)]
#[allow(clippy::needless_range_loop)] // lane i of every array at once: the vector form
fn lanes(x: &[f32]) -> Lanes {
    let mut l = Lanes {
        max_abs: [0.0; 8],
        sum: [0.0; 8],
        sumsq: [0.0; 8],
        clipped: [0; 8],
        zeros: [0; 8],
    };
    for c in x.chunks_exact(8) {
        for i in 0..8 {
            let v = c[i];
            let a = v.abs();
            // The samples are finite here (`finite`), so a plain comparison is `max`, and
            // unlike `f32::max` (NaN-aware) it compiles to one vector instruction.
            l.max_abs[i] = if a > l.max_abs[i] { a } else { l.max_abs[i] };
            l.sum[i] += v;
            l.sumsq[i] += v * v;
            l.clipped[i] += (a >= CLIP_LEVEL) as u32;
            l.zeros[i] += (v == 0.0) as u32;
        }
    }
    l
}

/// Stats of a short chunk with eight independent lanes so the compiler can vectorise.
fn chunk_stats(x: &[f32]) -> ChunkStats {
    let whole = x.len() / 8 * 8;
    let l = lanes(&x[..whole]);
    let mut st = ChunkStats {
        max_abs: l.max_abs.iter().fold(0f32, |a, &b| a.max(b)),
        clipped: l.clipped.iter().map(|&c| c as usize).sum(),
        zeros: l.zeros.iter().map(|&c| c as usize).sum(),
        sum: l.sum.iter().map(|&v| v as f64).sum(),
        sumsq: l.sumsq.iter().map(|&v| v as f64).sum(),
    };
    for &v in &x[whole..] {
        let a = v.abs();
        st.max_abs = st.max_abs.max(a);
        st.sum += v as f64;
        st.sumsq += (v * v) as f64;
        st.clipped += (a >= CLIP_LEVEL) as usize;
        st.zeros += (v == 0.0) as usize;
    }
    st
}

/// The speech-band envelope (per frame): the 90th − 10th percentile spread of its level in
/// dB, and the share of the amplitude envelope's fluctuation power (Hann-windowed DFT, 0.25 Hz steps from 0.5 Hz up to
/// 12 Hz or the frame rate's Nyquist) that lies in the syllable band.
fn envelope_modulation(ps: &[f64], frame_rate: f64) -> (f64, f64) {
    if ps.len() < 4 {
        return (0.0, 0.0);
    }
    let mean_p = ps.iter().sum::<f64>() / ps.len() as f64;
    if mean_p <= 0.0 {
        return (0.0, 0.0);
    }
    let floor = mean_p * 1e-6;
    // The dB envelope is only needed sorted (one copy of it, not two: an hour is 84,000
    // frames).
    let mut sorted: Vec<f64> = ps.iter().map(|&p| 10.0 * (p + floor).log10()).collect();
    sorted.sort_by(f64::total_cmp);
    let depth = percentile(&sorted, 0.9).unwrap_or(0.0) - percentile(&sorted, 0.1).unwrap_or(0.0);
    drop(sorted);
    // The modulation spectrum is taken of the amplitude envelope (not the dB one, where
    // pauses between words would dominate).
    let t = ps.len();
    let mean = ps.iter().map(|&p| p.sqrt()).sum::<f64>() / t as f64;
    let w = hann(t);
    let xs: Vec<f64> = ps
        .iter()
        .zip(&w)
        .map(|(&p, &w)| (p.sqrt() - mean) * w as f64)
        .collect();
    let top = (frame_rate / 2.0 - 0.25).min(12.0);
    let (mut in_band, mut total) = (0.0, 0.0);
    let mut fm = 0.5;
    while fm <= top {
        let step = Complex::from_polar(1.0, -2.0 * std::f64::consts::PI * fm / frame_rate);
        let mut ph = Complex::new(1.0, 0.0);
        let mut acc = Complex::new(0.0, 0.0);
        for &v in &xs {
            acc += ph * v;
            ph *= step;
        }
        let p = acc.norm_sqr();
        total += p;
        if (SYLLABLE_BAND_HZ.0..=SYLLABLE_BAND_HZ.1).contains(&fm) {
            in_band += p;
        }
        fm += 0.25;
    }
    let modulation = if total > 1e-12 { in_band / total } else { 0.0 };
    (depth, modulation)
}

/// Linear-interpolated percentile of sorted values (`p` from 0 to 1).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    let next = sorted.get(i + 1).copied().unwrap_or(sorted[i]);
    Some(sorted[i] + (next - sorted[i]) * frac)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

fn sum(a: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let c = a.chunks_exact(8);
    let tail: f32 = c.remainder().iter().sum();
    for x in c {
        for i in 0..8 {
            lanes[i] += x[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
#[path = "../../../testkit/src/signals.rs"]
pub(crate) mod signals;

#[cfg(test)]
mod tests;
