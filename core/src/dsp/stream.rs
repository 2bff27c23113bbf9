//! The analysis as a stream: samples arrive in pieces of any size and the result is exactly
//! (bit for bit) the analysis of their concatenation, with memory bounded by a batch of
//! frames instead of the whole recording.
//!
//! Every sum runs in the same order as over the whole signal: the 10 ms time-domain blocks
//! and the hum's decimation and long frames in signal order, the per-frame values merged in
//! frame order. The average spectrum is summed in f32 over groups of [`GROUP`] frames and each
//! group's sum added to an f64 total; groups start from zero, so whole groups are independent
//! and may be computed on another thread without changing a bit of the result.

use super::{
    Analysis, Analyzer, ClassifyParams, FAST_BLOCK_SECONDS, FLOOR_DBFS, Features, Hum, Stft,
    Tables, TimeDomain, bin_of, chunk_stats, db, dot, envelope_modulation, hann, percentile, sum,
};
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Frames whose spectra are summed in f32 before being added to the f64 average spectrum.
const GROUP: usize = 64;
/// Log-spaced bands of the spectral flux.
pub(super) const FLUX_BANDS: usize = 16;
/// The longest hum FFT (about 1 Hz per bin at 2 kHz).
const HUM_FFT: usize = 2048;
/// Samples gathered before a batch of frame groups is analysed (about 11 s at 48 kHz, 2 MiB).
const BATCH_SAMPLES: usize = 1 << 19;

/// A streaming analysis from [`Analyzer::stream`]: [`Stream::push`] the samples in order, in
/// pieces of any size, then [`Stream::finish`].
pub struct Stream<'a> {
    t: &'a Tables,
    hum_planner: &'a mut RealFftPlanner<f32>,
    threads: usize,
    /// Samples not yet consumed by every part of the analysis; `pending[0]` is sample `base`.
    pending: Vec<f32>,
    base: usize,
    /// Frame groups analysed at once (on `threads` threads).
    batch_groups: usize,
    state: State,
}

/// Everything that runs in signal order.
struct State {
    total: usize,
    td: TdState,
    hum: HumState,
    seq: Seq,
    /// The next frame to analyse (a multiple of [`GROUP`] until the end).
    next_frame: usize,
}

impl Analyzer {
    /// Starts a streaming analysis. With `threads` above 1, batches of frames are analysed on
    /// that many threads (the result is the same whatever the count).
    pub fn stream(&mut self, threads: usize) -> Stream<'_> {
        let hop = self.t.n / 2;
        let batch_groups = (BATCH_SAMPLES / (GROUP * hop)).clamp(2, 8);
        Stream {
            t: &self.t,
            hum_planner: &mut self.hum_planner,
            threads: threads.max(1),
            pending: Vec::new(),
            base: 0,
            batch_groups,
            state: State {
                total: 0,
                td: TdState::new(self.t.sub),
                hum: HumState::default(),
                seq: Seq::new(self.t.bins()),
                next_frame: 0,
            },
        }
    }
}

impl<'a> Stream<'a> {
    /// Adds the next samples (mono, full scale ±1.0).
    pub fn push(&mut self, x: &[f32]) {
        self.push_with(|v| v.extend_from_slice(x));
    }

    /// Adds the next samples by letting `fill` append them to the stream's buffer (so a
    /// decoder writes them once, where they are analysed).
    pub fn push_with(&mut self, fill: impl FnOnce(&mut Vec<f32>)) {
        let from = self.pending.len();
        fill(&mut self.pending);
        // Non-finite samples made sound, as `super::finite` does for a whole signal (checked
        // first in one pass the compiler vectorises: they are rare).
        let new = &mut self.pending[from..];
        if !new.iter().fold(true, |ok, v| ok & v.is_finite()) {
            for v in new {
                if !v.is_finite() {
                    *v = if v.is_nan() { 0.0 } else { v.signum() };
                }
            }
        }
        self.state.total = self.base + self.pending.len();
        let hop = self.t.n / 2;
        let ready = self.state.total.saturating_sub(self.state.next_frame * hop);
        if ready >= self.batch_groups * GROUP * hop + self.t.n {
            self.state.process(
                self.t,
                self.hum_planner,
                self.threads,
                &self.pending,
                self.base,
                false,
            );
            let keep = self.state.oldest_needed(self.t).min(self.state.total);
            self.pending.drain(..keep - self.base);
            self.base = keep;
        }
    }

    /// Analyses what is left and classifies with `params`.
    pub fn finish(self, params: &ClassifyParams) -> Analysis {
        self.finish_with(&[], params)
    }

    /// Pushes `x` (finite samples) as the last piece and finishes; when nothing is pending
    /// (a whole signal in one piece), `x` is analysed where it is, without a copy.
    pub(super) fn finish_with(mut self, x: &[f32], params: &ClassifyParams) -> Analysis {
        if self.pending.is_empty() {
            let base = self.state.total;
            self.state
                .process(self.t, self.hum_planner, self.threads, x, base, true);
        } else {
            self.pending.extend_from_slice(x);
            self.state.process(
                self.t,
                self.hum_planner,
                self.threads,
                &self.pending,
                self.base,
                true,
            );
        }
        self.pending = Vec::new();
        self.state.analysis(self.t, params)
    }
}

impl State {
    /// Analyses everything `x` (samples `base..base + x.len()`, where `base + x.len()` is all
    /// samples so far) makes possible; at the end (`last`) also the partial blocks and frames.
    pub(super) fn process(
        &mut self,
        t: &Tables,
        planner: &mut RealFftPlanner<f32>,
        threads: usize,
        x: &[f32],
        base: usize,
        last: bool,
    ) {
        self.total = base + x.len();
        let (n, hop) = (t.n, t.n / 2);
        // Whole groups whose every frame lies in `x`.
        let full_frames = if self.total >= n {
            1 + (self.total - n) / hop
        } else {
            0
        };
        let g0 = self.next_frame / GROUP;
        let g1 = (full_frames / GROUP).max(g0);
        let td = &mut self.td;
        let hum = &mut self.hum;
        let total = self.total;
        let mut side_work = |planner: &mut RealFftPlanner<f32>| {
            td.advance(x, base, total, last);
            hum.advance(t, planner, x, base, total, last);
        };
        if threads > 1 && g1 - g0 >= 2 {
            let next = AtomicUsize::new(g0);
            let take = |bufs: &mut FrameBufs, out: &mut Vec<GroupOut>| {
                loop {
                    let g = next.fetch_add(1, Ordering::Relaxed);
                    if g >= g1 {
                        break;
                    }
                    out.push(t.group(x, base, g * GROUP, GROUP, 1.0, bufs));
                }
            };
            let mut done = std::thread::scope(|s| {
                let helpers: Vec<_> = (1..threads)
                    .map(|_| {
                        s.spawn(|| {
                            let mut bufs = t.bufs();
                            let mut out = Vec::new();
                            take(&mut bufs, &mut out);
                            out
                        })
                    })
                    .collect();
                side_work(planner);
                let mut bufs = t.bufs();
                let mut out = Vec::new();
                take(&mut bufs, &mut out);
                for h in helpers {
                    out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
                }
                out
            });
            done.sort_by_key(|g| g.first);
            for g in &done {
                self.seq.merge(t, g);
            }
        } else {
            side_work(planner);
            let mut bufs = t.bufs();
            for g in g0..g1 {
                let out = t.group(x, base, g * GROUP, GROUP, 1.0, &mut bufs);
                self.seq.merge(t, &out);
            }
        }
        self.next_frame = g1 * GROUP;
        if last {
            let mut bufs = t.bufs();
            if self.total > 0 && self.total < n {
                // One zero-padded frame, rescaled for the part present.
                let full: f64 = t.window.iter().map(|&w| (w as f64).powi(2)).sum();
                let part: f64 = t.window[..self.total]
                    .iter()
                    .map(|&w| (w as f64).powi(2))
                    .sum();
                let short_gain = (full / part.max(1e-12)) as f32;
                let out = t.group(x, base, 0, 1, short_gain, &mut bufs);
                self.seq.merge(t, &out);
                self.next_frame = 1;
            } else if full_frames > self.next_frame {
                let out = t.group(
                    x,
                    base,
                    self.next_frame,
                    full_frames - self.next_frame,
                    1.0,
                    &mut bufs,
                );
                self.seq.merge(t, &out);
                self.next_frame = full_frames;
            }
        }
    }

    /// The first sample some part of the analysis still needs.
    fn oldest_needed(&self, t: &Tables) -> usize {
        let frames = self.next_frame * (t.n / 2);
        let hum = self.hum.next_out * t.decim;
        self.td.pos.min(frames).min(hum)
    }

    /// The analysis of everything processed (after the last `process`).
    fn analysis(&mut self, t: &Tables, params: &ClassifyParams) -> Analysis {
        let sr = t.sample_rate as f64;
        let len = self.total;
        let td = self.td.result();
        let stft = self.seq.result(t);
        let hum = self.hum.result(t, td.ms);

        let mut blocks: Vec<f64> = stft.block_power.iter().map(|&p| db(p)).collect();
        blocks.sort_by(f64::total_cmp);
        let pct = |p: f64| percentile(&blocks, p).unwrap_or(FLOOR_DBFS);
        let (l10, l90) = (pct(0.9), pct(0.1));

        let mut a = Analysis {
            sample_rate: t.sample_rate,
            seconds: len as f64 / sr,
            laeq_dbfs: db(stft.mean_a),
            lamax_dbfs: blocks.last().copied().unwrap_or(FLOOR_DBFS),
            l10_dbfs: l10,
            l90_dbfs: l90,
            peak_dbfs: if td.peak > 0.0 {
                20.0 * (td.peak as f64).log10()
            } else {
                FLOOR_DBFS
            },
            rms_dbfs: db(2.0 * td.ms),
            clipped_fraction: if len == 0 {
                0.0
            } else {
                td.clipped as f64 / len as f64
            },
            dominant_hz: stft.dominant_hz,
            features: Features {
                spectral_flatness: stft.flatness,
                spectral_flux_db: stft.flux_db,
                onsets_per_second: if len == 0 {
                    0.0
                } else {
                    stft.onsets as f64 / (len as f64 / sr)
                },
                speech_band_fraction: stft.speech_fraction,
                syllable_modulation: stft.syllable_modulation,
                speech_depth_db: stft.speech_depth_db,
                hum_hz: hum.hz,
                hum_fraction: hum.fraction,
                hum_dbfs: db(2.0 * hum.ms),
                level_spread_db: l10 - l90,
                peak_to_floor_db: td.peak_to_floor_db,
                active_fraction: td.active_fraction,
                zero_fraction: if len == 0 {
                    1.0
                } else {
                    td.zeros as f64 / len as f64
                },
            },
            classification: super::Class::DeadInput,
            confidence: 1.0,
        };
        a.reclassify(params);
        a
    }
}

/// The 10 ms blocks: peak, clipping, zeros, sums and the level of each block.
struct TdState {
    sub: usize,
    /// The next block's first sample.
    pos: usize,
    peak: f32,
    clipped: usize,
    zeros: usize,
    s1: f64,
    s2: f64,
    levels: Vec<f64>,
}

impl TdState {
    fn new(sub: usize) -> TdState {
        TdState {
            sub,
            pos: 0,
            peak: 0.0,
            clipped: 0,
            zeros: 0,
            s1: 0.0,
            s2: 0.0,
            levels: Vec::new(),
        }
    }

    fn advance(&mut self, x: &[f32], base: usize, total: usize, last: bool) {
        while self.pos + self.sub <= total {
            let from = self.pos - base;
            self.block(&x[from..from + self.sub]);
            self.pos += self.sub;
        }
        if last && self.pos < total {
            self.block(&x[self.pos - base..]);
            self.pos = total;
        }
    }

    fn block(&mut self, chunk: &[f32]) {
        let st = chunk_stats(chunk);
        self.peak = self.peak.max(st.max_abs);
        self.clipped += st.clipped;
        self.zeros += st.zeros;
        self.s1 += st.sum;
        self.s2 += st.sumsq;
        let n = chunk.len() as f64;
        let ms = (st.sumsq / n - (st.sum / n).powi(2)).max(0.0);
        self.levels.push(db(2.0 * ms).max(-120.0));
    }

    fn result(&mut self) -> TimeDomain {
        // Sorted in place: the count above the floor does not depend on the order, and an
        // hour's 360,000 levels are not copied.
        let mut sorted = std::mem::take(&mut self.levels);
        let n = self.pos.max(1) as f64;
        let ms = (self.s2 / n - (self.s1 / n).powi(2)).max(0.0);
        let (mut peak_to_floor_db, mut active_fraction) = (0.0, 0.0);
        if !sorted.is_empty() {
            sorted.sort_by(f64::total_cmp);
            let floor = percentile(&sorted, 0.2).unwrap_or(-120.0);
            peak_to_floor_db = sorted[sorted.len() - 1] - floor;
            active_fraction =
                sorted.iter().filter(|&&l| l > floor + 6.0).count() as f64 / sorted.len() as f64;
        }
        TimeDomain {
            peak: self.peak,
            clipped: self.clipped,
            zeros: self.zeros,
            ms,
            peak_to_floor_db,
            active_fraction,
        }
    }
}

/// Mains hum: the signal decimated to about 2 kHz (`y`), cut into long Hann-windowed frames
/// whose power spectra are summed.
#[derive(Default)]
struct HumState {
    /// The next decimated sample to compute (it starts at input sample `next_out * decim`).
    next_out: usize,
    /// Decimated samples from `y_base` on, not yet used by every frame.
    y: Vec<f32>,
    y_base: usize,
    /// The frame length, once known: the longest FFT as soon as that much is decimated,
    /// else (a short signal) chosen at the end.
    plan: Option<HumFft>,
    /// No hum measurable: the signal is too short for even the shortest frame.
    none: bool,
    frames: usize,
    psd: Vec<f64>,
}

struct HumFft {
    nh: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    s2: f64,
    failed: bool,
}

impl HumState {
    fn advance(
        &mut self,
        t: &Tables,
        planner: &mut RealFftPlanner<f32>,
        x: &[f32],
        base: usize,
        total: usize,
        last: bool,
    ) {
        let (d, taps) = (t.decim, t.taps.len());
        while self.next_out * d + taps <= total {
            let from = self.next_out * d - base;
            self.y.push(dot(&x[from..from + taps], &t.taps));
            self.next_out += 1;
        }
        if self.plan.is_none() && !self.none {
            let m = self.next_out;
            if m >= HUM_FFT {
                self.plan = Some(HumFft::new(planner, HUM_FFT));
            } else if last {
                let mut nh = HUM_FFT;
                while nh > m && nh > 256 {
                    nh /= 2;
                }
                if m < nh {
                    self.none = true;
                } else {
                    self.plan = Some(HumFft::new(planner, nh));
                }
            }
        }
        let Some(plan) = &mut self.plan else {
            return;
        };
        if self.psd.is_empty() {
            self.psd = vec![0f64; plan.nh / 2 + 1];
        }
        let hop = plan.nh / 2;
        let mut buf = plan.fft.make_input_vec();
        let mut spec = plan.fft.make_output_vec();
        let mut scratch = plan.fft.make_scratch_vec();
        loop {
            let start = self.frames * hop;
            if start + plan.nh > self.y_base + self.y.len() || plan.failed {
                break;
            }
            let seg = &self.y[start - self.y_base..start - self.y_base + plan.nh];
            for ((b, &s), &w) in buf.iter_mut().zip(seg).zip(&plan.window) {
                *b = s * w;
            }
            if plan
                .fft
                .process_with_scratch(&mut buf, &mut spec, &mut scratch)
                .is_err()
            {
                plan.failed = true;
                break;
            }
            for (p, c) in self.psd.iter_mut().zip(&spec) {
                *p += (c.re * c.re + c.im * c.im) as f64;
            }
            self.frames += 1;
        }
        let keep = (self.frames * hop).min(self.y_base + self.y.len());
        self.y.drain(..keep - self.y_base);
        self.y_base = keep;
    }

    fn result(&self, t: &Tables, total_ms: f64) -> Hum {
        let none = Hum {
            hz: 50.0,
            fraction: 0.0,
            ms: 0.0,
        };
        let Some(plan) = &self.plan else {
            return none;
        };
        if plan.failed || self.frames == 0 {
            return none;
        }
        let nh = plan.nh;
        let bins = nh / 2 + 1;
        let psd = &self.psd;
        // Same scaling as the main STFT, but to plain mean square (no AES17 factor of 2).
        let scale = 2.0 / (nh as f64 * plan.s2 * self.frames as f64);
        let rate = t.hum_rate;
        let df = rate / nh as f64;
        let series = |f0: f64| -> f64 {
            let mut total = 0.0;
            let mut last_hi = 0usize;
            for k in 1..=super::HUM_HARMONICS {
                let f = f0 * k as f64;
                if f + 3.0 * df >= rate / 2.0 {
                    break;
                }
                let c = f / df;
                let lo = ((c - 2.0).ceil().max(1.0) as usize).max(last_hi);
                let hi = ((c + 2.0).floor() as usize + 1).min(bins);
                if lo < hi {
                    total += psd[lo..hi].iter().sum::<f64>();
                    last_hi = hi;
                }
            }
            total * scale
        };
        let (p50, p60) = (series(50.0), series(60.0));
        let (hz, ms) = if p60 > p50 { (60.0, p60) } else { (50.0, p50) };
        Hum {
            hz,
            fraction: if total_ms > 0.0 {
                (ms / total_ms).clamp(0.0, 1.0)
            } else {
                0.0
            },
            ms,
        }
    }
}

impl HumFft {
    fn new(planner: &mut RealFftPlanner<f32>, nh: usize) -> HumFft {
        let window = hann(nh);
        let s2: f64 = window.iter().map(|&w| (w as f64).powi(2)).sum();
        HumFft {
            nh,
            fft: planner.plan_fft_forward(nh),
            window,
            s2,
            failed: false,
        }
    }
}

/// What one frame gives the rest of the analysis.
#[derive(Clone, Copy)]
struct FrameOut {
    /// A-weighted, unweighted and speech-band power.
    fa: f64,
    fu: f64,
    fs: f64,
    /// Log band energies for the flux, dB.
    bands: [f32; FLUX_BANDS],
}

/// Consecutive frames and the f32 sum of their power spectra.
struct GroupOut {
    first: usize,
    /// `None` for a frame whose FFT failed (it is skipped, as it always was).
    frames: Vec<Option<FrameOut>>,
    acc: Vec<f32>,
}

/// One thread's FFT buffers.
pub(super) struct FrameBufs {
    buf: Vec<f32>,
    spec: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    pw: Vec<f32>,
}

impl Tables {
    fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    fn bufs(&self) -> FrameBufs {
        FrameBufs {
            buf: self.fft.make_input_vec(),
            spec: self.fft.make_output_vec(),
            scratch: self.fft.make_scratch_vec(),
            pw: vec![0f32; self.bins()],
        }
    }

    /// Frames `first..first + count` of the signal whose samples from `base` on are `x` (a
    /// frame running past the end of `x` is zero-padded: only the single short frame does).
    fn group(
        &self,
        x: &[f32],
        base: usize,
        first: usize,
        count: usize,
        short_gain: f32,
        b: &mut FrameBufs,
    ) -> GroupOut {
        let (n, hop) = (self.n, self.n / 2);
        let mut acc = vec![0f32; self.bins()];
        let mut frames = Vec::with_capacity(count);
        for f in first..first + count {
            let start = f * hop - base;
            let seg = &x[start..(start + n).min(x.len())];
            let out = self.frame(seg, short_gain, b);
            if out.is_some() {
                for (a, &p) in acc.iter_mut().zip(&b.pw) {
                    *a += p;
                }
            }
            frames.push(out);
        }
        GroupOut { first, frames, acc }
    }

    /// One frame: window, FFT, power spectrum, and the values taken from it.
    fn frame(&self, seg: &[f32], short_gain: f32, b: &mut FrameBufs) -> Option<FrameOut> {
        for ((o, &s), &w) in b.buf.iter_mut().zip(seg).zip(&self.window) {
            *o = s * w;
        }
        b.buf[seg.len()..].fill(0.0);
        // Fails only for buffers of the wrong length, which the plan made itself.
        self.fft
            .process_with_scratch(&mut b.buf, &mut b.spec, &mut b.scratch)
            .ok()?;
        let pw = &mut b.pw;
        for (p, c) in pw.iter_mut().zip(&b.spec) {
            *p = (c.re * c.re + c.im * c.im) * short_gain;
        }
        let fa = dot(pw, &self.gain_a) as f64;
        let fu = dot(pw, &self.gain_u) as f64;
        let (s_lo, s_hi) = self.speech_bins;
        let fs = sum(&pw[s_lo..s_hi]) as f64 * self.gain_u[1] as f64;
        let mut bands = [0f32; FLUX_BANDS];
        for (e, &(lo, hi)) in bands.iter_mut().zip(&self.flux_bands) {
            *e = 10.0 * ((sum(&pw[lo..hi]) as f64 + self.band_eps).log10() as f32);
        }
        Some(FrameOut { fa, fu, fs, bands })
    }
}

/// The per-frame values in frame order, and the f64 average spectrum.
struct Seq {
    /// Frames counted so far (a frame whose FFT failed counts, as it always did).
    frames: usize,
    acc: Vec<f64>,
    prev_bands: [f32; FLUX_BANDS],
    flux: Vec<f32>,
    pa: Vec<f64>,
    ps: Vec<f64>,
    ptot: f64,
    ps_sum: f64,
    block_sum: Vec<f64>,
    block_cnt: Vec<u32>,
}

impl Seq {
    fn new(bins: usize) -> Seq {
        Seq {
            frames: 0,
            acc: vec![0f64; bins],
            prev_bands: [0f32; FLUX_BANDS],
            flux: Vec::new(),
            pa: Vec::new(),
            ps: Vec::new(),
            ptot: 0.0,
            ps_sum: 0.0,
            block_sum: Vec::new(),
            block_cnt: Vec::new(),
        }
    }

    fn merge(&mut self, t: &Tables, g: &GroupOut) {
        let (n, hop) = (t.n, t.n / 2);
        let block_len = t.sample_rate as f64 * FAST_BLOCK_SECONDS;
        for (i, fo) in g.frames.iter().enumerate() {
            let f = g.first + i;
            let Some(fo) = fo else { continue };
            let mut rise = 0f32;
            for (e, prev) in fo.bands.iter().zip(self.prev_bands.iter_mut()) {
                if f > 0 {
                    rise += (e - *prev).max(0.0);
                }
                *prev = *e;
            }
            self.flux.push(rise / FLUX_BANDS as f32);
            // The Fast block holding the frame's centre (blocks grow as frames arrive; empty
            // ones are dropped at the end).
            let centre = (f * hop + n / 2) as f64;
            let b = (centre / block_len) as usize;
            if b >= self.block_sum.len() {
                self.block_sum.resize(b + 1, 0.0);
                self.block_cnt.resize(b + 1, 0);
            }
            self.block_sum[b] += fo.fa;
            self.block_cnt[b] += 1;
            self.pa.push(fo.fa);
            self.ps.push(fo.fs);
            self.ptot += fo.fu;
            self.ps_sum += fo.fs;
        }
        for (a, &af) in self.acc.iter_mut().zip(&g.acc) {
            *a += af as f64;
        }
        self.frames += g.frames.len();
    }

    fn result(&mut self, t: &Tables) -> Stft {
        let n = t.n;
        let hop = n / 2;
        let bins = t.bins();
        let sr = t.sample_rate as f64;
        let df = sr / n as f64;
        let frames = self.frames;
        let acc = &self.acc;
        let pa = &self.pa;
        let flux = &self.flux;
        let block_power: Vec<f64> = self
            .block_sum
            .iter()
            .zip(&self.block_cnt)
            .filter(|&(_, &c)| c > 0)
            .map(|(&s, &c)| s / c as f64)
            .collect();
        let mean_a = if frames == 0 {
            0.0
        } else {
            pa.iter().sum::<f64>() / frames as f64
        };

        // Dominant frequency: the strongest bin above 20 Hz, refined by a parabola through
        // the log power of it and its neighbours.
        let k_min = bin_of(20.0, df, bins - 1).max(1);
        let mut dominant_hz = 0.0;
        if frames > 0 && bins > k_min + 2 {
            let (k, &peak) = acc[k_min..bins - 1]
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, v)| (i + k_min, v))
                .unwrap_or((k_min, &0.0));
            if peak > 0.0 {
                let l = |v: f64| (v + peak * 1e-12).ln();
                let (a, b, c) = (l(acc[k - 1]), l(acc[k]), l(acc[k + 1]));
                let den = a - 2.0 * b + c;
                let d = if den.abs() > 1e-12 {
                    (0.5 * (a - c) / den).clamp(-0.5, 0.5)
                } else {
                    0.0
                };
                dominant_hz = (k as f64 + d) * df;
            }
        }

        // Flatness of the average spectrum.
        let (f_lo, f_hi) = t.flat_bins;
        let band = &acc[f_lo.min(f_hi)..f_hi];
        let mean = band.iter().sum::<f64>() / band.len().max(1) as f64;
        let flatness = if mean > 0.0 && !band.is_empty() {
            let eps = mean * 1e-12;
            let lg = band.iter().map(|&v| (v + eps).ln()).sum::<f64>() / band.len() as f64;
            (lg.exp() / mean).clamp(0.0, 1.0)
        } else {
            0.0
        };

        // Onsets: a broadband rise of 6 dB or more in a frame that stands 10 dB above the
        // floor, at most one per 125 ms.
        let mut lv: Vec<f64> = pa.iter().map(|&p| db(p)).collect();
        lv.sort_by(f64::total_cmp);
        let floor = percentile(&lv, 0.2).unwrap_or(FLOOR_DBFS);
        let refractory = ((FAST_BLOCK_SECONDS * sr / hop as f64).ceil() as usize).max(1);
        let mut onsets = 0;
        let mut last: Option<usize> = None;
        for (f, (&r, &p)) in flux.iter().zip(pa).enumerate() {
            if r >= 6.0 && db(p) >= floor + 10.0 && last.is_none_or(|l| f - l >= refractory) {
                onsets += 1;
                last = Some(f);
            }
        }
        let flux_db = if flux.len() > 1 {
            flux[1..].iter().map(|&v| v as f64).sum::<f64>() / (flux.len() - 1) as f64
        } else {
            0.0
        };

        let (speech_depth_db, syllable_modulation) = envelope_modulation(&self.ps, sr / hop as f64);
        Stft {
            mean_a,
            block_power,
            dominant_hz,
            flatness,
            flux_db,
            onsets,
            speech_fraction: if self.ptot > 0.0 {
                (self.ps_sum / self.ptot).clamp(0.0, 1.0)
            } else {
                0.0
            },
            speech_depth_db,
            syllable_modulation,
        }
    }
}
