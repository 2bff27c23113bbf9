//! The analysis as a stream: samples arrive in pieces of any size and the result is exactly
//! (bit for bit) the analysis of their concatenation, with memory bounded by a few frame
//! groups instead of the whole recording.
//!
//! The signal is cut into frame groups of [`GROUP`] frames (`span` = `GROUP` hops of
//! samples each). A group's work is independent of every other group's: its frames (FFT,
//! power spectrum, the f32 sum of its spectra), the 10 ms time-domain blocks and the hum's
//! decimated samples that start inside its span. Only the merge runs in signal order: the
//! blocks' sums, the hum's long FFTs over the decimated samples, the per-frame values and the
//! f64 average spectrum, each summed in the same order as over the whole signal. So groups
//! may be computed on other threads (a persistent worker takes them from a queue while the
//! caller decodes the next piece) without changing a bit of the result.

use super::{
    Analysis, Analyzer, ChunkStats, ClassifyParams, FAST_BLOCK_SECONDS, FLOOR_DBFS, Features, Hum,
    Stft, Tables, TimeDomain, bin_of, chunk_stats, db, dot, envelope_modulation, hann, percentile,
    sum,
};
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, mpsc};

/// Frames whose spectra are summed in f32 before being added to the f64 average spectrum;
/// also the unit of work handed to another thread.
const GROUP: usize = 64;
/// Log-spaced bands of the spectral flux.
pub(super) const FLUX_BANDS: usize = 16;
/// The longest hum FFT (about 1 Hz per bin at 2 kHz).
const HUM_FFT: usize = 2048;

/// A streaming analysis from [`Analyzer::stream`]: [`Stream::push`] the samples in order, in
/// pieces of any size, then [`Stream::finish`].
pub struct Stream<'a> {
    t: Arc<Tables>,
    hum_planner: &'a mut RealFftPlanner<f32>,
    /// The worker threads, with more than one thread.
    pool: Option<Pool>,
    /// Samples from `base` (the first sample of group `state.next_group`) on.
    chunk: Vec<f32>,
    base: usize,
    /// This thread's FFT buffers.
    bufs: FrameBufs,
    state: State,
}

/// Everything that runs in signal order.
struct State {
    total: usize,
    td: TdState,
    hum: HumState,
    seq: Seq,
    /// Groups handed out (computed or queued), and merged.
    next_group: usize,
    merged: usize,
    /// Computed groups waiting for an earlier one before they can be merged.
    waiting: BTreeMap<usize, GroupRes>,
    /// The next frame not yet merged (a multiple of [`GROUP`] until the end).
    next_frame: usize,
}

impl Analyzer {
    /// Starts a streaming analysis. With `threads` above 1, frame groups are analysed on
    /// `threads − 1` worker threads besides the caller's (the result is the same whatever
    /// the count).
    pub fn stream(&mut self, threads: usize) -> Stream<'_> {
        let pool = (threads > 1).then(|| Pool::new(&self.t, threads - 1));
        Stream {
            bufs: self.t.bufs(),
            state: State {
                total: 0,
                td: TdState::new(self.t.sub),
                hum: HumState::default(),
                seq: Seq::new(self.t.bins()),
                next_group: 0,
                merged: 0,
                waiting: BTreeMap::new(),
                next_frame: 0,
            },
            t: Arc::clone(&self.t),
            hum_planner: &mut self.hum_planner,
            pool,
            chunk: Vec::new(),
            base: 0,
        }
    }
}

impl Stream<'_> {
    /// Adds the next samples (mono, full scale ±1.0).
    pub fn push(&mut self, x: &[f32]) {
        self.push_with(|v| v.extend_from_slice(x));
    }

    /// How many samples, pushed next, complete a frame group: pieces of this size are
    /// analysed without being copied again (a decoder reads this many frames at a time).
    pub fn wanted(&self) -> usize {
        let end = self.base + self.t.span() + self.t.n / 2;
        end.saturating_sub(self.state.total).max(1)
    }

    /// Adds the next samples by letting `fill` append them to the stream's buffer (so a
    /// decoder writes them once, where they are analysed).
    pub fn push_with(&mut self, fill: impl FnOnce(&mut Vec<f32>)) {
        let from = self.chunk.len();
        fill(&mut self.chunk);
        // Non-finite samples made sound, as `super::finite` does for a whole signal (checked
        // first in one pass the compiler vectorises: they are rare).
        let new = &mut self.chunk[from..];
        if !new.iter().fold(true, |ok, v| ok & v.is_finite()) {
            for v in new {
                if !v.is_finite() {
                    *v = if v.is_nan() { 0.0 } else { v.signum() };
                }
            }
        }
        self.state.total = self.base + self.chunk.len();
        self.hand_out();
    }

    /// Hands out every complete group in `chunk`: computed here with one thread, queued for
    /// the workers (this thread helping while they are behind) with more.
    fn hand_out(&mut self) {
        let t = &*self.t;
        let ready = t.complete_groups(self.state.total);
        if ready <= self.state.next_group {
            return;
        }
        let span = t.span();
        match &mut self.pool {
            None => {
                for g in self.state.next_group..ready {
                    let r = t.group_task(&self.chunk, self.base, g, &mut self.bufs);
                    self.state.merge(t, self.hum_planner, r);
                }
                self.state.next_group = ready;
                let keep = ready * span - self.base;
                self.chunk.drain(..keep);
            }
            Some(pool) => {
                let mut rest = Vec::with_capacity(span + t.n / 2);
                rest.extend_from_slice(&self.chunk[ready * span - self.base..]);
                let x = Arc::new(std::mem::replace(&mut self.chunk, rest));
                pool.queue(&x, self.base, self.state.next_group..ready);
                self.state.next_group = ready;
                // Help while a group is waiting besides the one just queued (which keeps the
                // samples in flight, so the memory, to a few groups).
                while let Some(task) = pool.take(1) {
                    let r = t.group_task(&task.x, task.base, task.g, &mut self.bufs);
                    self.state.waiting.insert(task.g, r);
                }
                self.state.collect(t, self.hum_planner, pool, false);
            }
        }
        self.base = ready * span;
    }

    /// Analyses what is left and classifies with `params`.
    pub fn finish(self, params: &ClassifyParams) -> Analysis {
        self.finish_with(&[], params)
    }

    /// Pushes `x` (finite samples) as the last piece and finishes; when nothing was pushed
    /// (a whole signal in one piece) and there are no workers, `x` is analysed where it is,
    /// without a copy.
    pub(super) fn finish_with(mut self, x: &[f32], params: &ClassifyParams) -> Analysis {
        let t = Arc::clone(&self.t);
        if self.pool.is_none() && self.state.total == 0 {
            for g in 0..t.complete_groups(x.len()) {
                let r = t.group_task(x, 0, g, &mut self.bufs);
                self.state.merge(&t, self.hum_planner, r);
                self.state.next_group = g + 1;
            }
            let from = self.state.next_group * t.span();
            self.state
                .tail(&t, self.hum_planner, &x[from..], from, &mut self.bufs);
        } else {
            if !x.is_empty() {
                self.push(x);
            }
            if let Some(pool) = &mut self.pool {
                while let Some(task) = pool.take(0) {
                    let r = t.group_task(&task.x, task.base, task.g, &mut self.bufs);
                    self.state.waiting.insert(task.g, r);
                }
                self.state.collect(&t, self.hum_planner, pool, true);
            }
            let chunk = std::mem::take(&mut self.chunk);
            self.state
                .tail(&t, self.hum_planner, &chunk, self.base, &mut self.bufs);
        }
        self.state.analysis(&t, params)
    }
}

/// A frame group to compute: group `g` of the signal whose samples from `base` on are `x`.
struct Task {
    g: usize,
    x: Arc<Vec<f32>>,
    base: usize,
}

struct Queue {
    tasks: VecDeque<Task>,
    closed: bool,
}

/// Worker threads taking frame groups from a queue; each computed group comes back on
/// `done`. They end when the queue is closed (at [`Drop`]).
struct Pool {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    done: mpsc::Receiver<GroupRes>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    fn new(t: &Arc<Tables>, workers: usize) -> Pool {
        let queue = Arc::new((
            Mutex::new(Queue {
                tasks: VecDeque::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let (tx, done) = mpsc::channel();
        let workers = (0..workers)
            .map(|_| {
                let (t, queue, tx) = (Arc::clone(t), Arc::clone(&queue), tx.clone());
                std::thread::spawn(move || {
                    let mut bufs = t.bufs();
                    while let Some(task) = next_task(&queue) {
                        let r = t.group_task(&task.x, task.base, task.g, &mut bufs);
                        if tx.send(r).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Pool {
            queue,
            done,
            workers,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queue(&self, x: &Arc<Vec<f32>>, base: usize, groups: std::ops::Range<usize>) {
        let mut q = self.lock();
        for g in groups {
            q.tasks.push_back(Task {
                g,
                x: Arc::clone(x),
                base,
            });
        }
        drop(q);
        self.queue.1.notify_all();
    }

    /// The oldest queued group, if more than `leave` are queued.
    fn take(&self, leave: usize) -> Option<Task> {
        let mut q = self.lock();
        if q.tasks.len() > leave {
            q.tasks.pop_front()
        } else {
            None
        }
    }

    /// A computed group from a worker: waiting for one with `block`. A worker that panicked
    /// takes its panic to this thread.
    fn result(&mut self, block: bool) -> Option<GroupRes> {
        let r = if block {
            self.done.recv().ok()
        } else {
            match self.done.try_recv() {
                Ok(r) => return Some(r),
                Err(mpsc::TryRecvError::Empty) => return None,
                Err(mpsc::TryRecvError::Disconnected) => None,
            }
        };
        if r.is_none() {
            for w in self.workers.drain(..) {
                if let Err(e) = w.join() {
                    std::panic::resume_unwind(e);
                }
            }
        }
        r
    }
}

fn next_task(queue: &(Mutex<Queue>, Condvar)) -> Option<Task> {
    let mut q = queue.0.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(t) = q.tasks.pop_front() {
            return Some(t);
        }
        if q.closed {
            return None;
        }
        q = queue.1.wait(q).unwrap_or_else(|e| e.into_inner());
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut q = self.lock();
        q.closed = true;
        q.tasks.clear();
        drop(q);
        self.queue.1.notify_all();
        for w in self.workers.drain(..) {
            // A worker's panic has already reached the caller through `result`, or the
            // stream is being dropped unfinished.
            let _ = w.join();
        }
    }
}

/// One group's share of the work: its frames, the 10 ms blocks and the hum's decimated
/// samples that start in its span.
struct GroupRes {
    g: usize,
    frames: GroupOut,
    blocks: Vec<(ChunkStats, usize)>,
    hum_y: Vec<f32>,
}

impl State {
    /// Merges the computed groups that are next in order: those already back, or (with
    /// `all`) every group handed out, waiting for the workers.
    fn collect(
        &mut self,
        t: &Tables,
        planner: &mut RealFftPlanner<f32>,
        pool: &mut Pool,
        all: bool,
    ) {
        loop {
            while let Some(r) = self.waiting.remove(&self.merged) {
                self.merge(t, planner, r);
            }
            if self.merged == self.next_group {
                return;
            }
            match pool.result(all) {
                Some(r) => {
                    self.waiting.insert(r.g, r);
                }
                None if all => unreachable!("the noise analysis's workers ended early"),
                None => return,
            }
        }
    }

    /// Adds group `r.g` (the next in order) to the analysis.
    fn merge(&mut self, t: &Tables, planner: &mut RealFftPlanner<f32>, r: GroupRes) {
        for (st, n) in &r.blocks {
            self.td.add(st, *n);
        }
        self.hum.extend(planner, &r.hum_y, false);
        self.seq.merge(t, &r.frames);
        self.next_frame = (r.g + 1) * GROUP;
        self.merged = r.g + 1;
    }

    /// The end of the signal: `x` is every sample from `base` (where no complete group is
    /// left) to the last. The partial blocks and frames are analysed too.
    fn tail(
        &mut self,
        t: &Tables,
        planner: &mut RealFftPlanner<f32>,
        x: &[f32],
        base: usize,
        bufs: &mut FrameBufs,
    ) {
        self.total = base + x.len();
        let (n, hop) = (t.n, t.n / 2);
        self.td.advance(x, base, self.total, true);
        let y = self.hum.decimate(t, x, base, self.total);
        self.hum.extend(planner, &y, true);
        let full_frames = if self.total >= n {
            1 + (self.total - n) / hop
        } else {
            0
        };
        if self.total > 0 && self.total < n {
            // One zero-padded frame, rescaled for the part present.
            let full: f64 = t.window.iter().map(|&w| (w as f64).powi(2)).sum();
            let part: f64 = t.window[..self.total]
                .iter()
                .map(|&w| (w as f64).powi(2))
                .sum();
            let short_gain = (full / part.max(1e-12)) as f32;
            let out = t.group(x, base, 0, 1, short_gain, bufs);
            self.seq.merge(t, &out);
            self.next_frame = 1;
        } else if full_frames > self.next_frame {
            let out = t.group(
                x,
                base,
                self.next_frame,
                full_frames - self.next_frame,
                1.0,
                bufs,
            );
            self.seq.merge(t, &out);
            self.next_frame = full_frames;
        }
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
        }
        if last && self.pos < total {
            self.block(&x[self.pos - base..]);
        }
    }

    fn block(&mut self, chunk: &[f32]) {
        self.add(&chunk_stats(chunk), chunk.len());
    }

    /// Adds the stats of the next block, `n` samples long.
    fn add(&mut self, st: &ChunkStats, n: usize) {
        self.peak = self.peak.max(st.max_abs);
        self.clipped += st.clipped;
        self.zeros += st.zeros;
        self.s1 += st.sum;
        self.s2 += st.sumsq;
        let len = n as f64;
        let ms = (st.sumsq / len - (st.sum / len).powi(2)).max(0.0);
        self.levels.push(db(2.0 * ms).max(-120.0));
        self.pos += n;
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
    /// The decimated samples from `next_out` on that `x` (samples `base..total`) holds.
    fn decimate(&self, t: &Tables, x: &[f32], base: usize, total: usize) -> Vec<f32> {
        let (d, taps) = (t.decim, t.taps.len());
        let mut y = Vec::new();
        let mut m = self.next_out;
        while m * d + taps <= total {
            let from = m * d - base;
            y.push(dot(&x[from..from + taps], &t.taps));
            m += 1;
        }
        y
    }

    /// Adds the next decimated samples and runs the long frames they complete; at the end
    /// (`last`) a short signal gets a shorter FFT.
    fn extend(&mut self, planner: &mut RealFftPlanner<f32>, new: &[f32], last: bool) {
        self.y.extend_from_slice(new);
        self.next_out += new.len();
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
        if self.y_base + self.y.len() < self.frames * hop + plan.nh {
            return;
        }
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
    frames: Vec<FrameOut>,
    acc: Vec<f32>,
}

/// One thread's FFT buffers.
pub(super) struct FrameBufs {
    /// The windowed frame, its samples in pairs.
    buf: Vec<Complex<f32>>,
    spec: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    pw: Vec<f32>,
}

impl Tables {
    fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// Samples per frame group.
    fn span(&self) -> usize {
        GROUP * (self.n / 2)
    }

    /// Frame groups whose every frame lies in the first `total` samples.
    fn complete_groups(&self, total: usize) -> usize {
        if total >= self.n {
            (1 + (total - self.n) / (self.n / 2)) / GROUP
        } else {
            0
        }
    }

    fn bufs(&self) -> FrameBufs {
        let h = self.n / 2;
        FrameBufs {
            buf: vec![Complex::new(0.0, 0.0); h],
            spec: vec![Complex::new(0.0, 0.0); h],
            scratch: vec![Complex::new(0.0, 0.0); self.fft.get_outofplace_scratch_len()],
            pw: vec![0f32; self.bins()],
        }
    }

    /// Group `g` of the signal whose samples from `base` on are `x` (which holds all of the
    /// group's frames): its frames, and the 10 ms blocks and decimated hum samples that
    /// start in its span.
    fn group_task(&self, x: &[f32], base: usize, g: usize, b: &mut FrameBufs) -> GroupRes {
        let span = self.span();
        let (lo, hi) = (g * span, (g + 1) * span);
        let sub = self.sub;
        let blocks = (lo.div_ceil(sub)..hi.div_ceil(sub))
            .map(|k| {
                let from = k * sub - base;
                (chunk_stats(&x[from..from + sub]), sub)
            })
            .collect();
        let (d, taps) = (self.decim, self.taps.len());
        let hum_y = (lo.div_ceil(d)..hi.div_ceil(d))
            .map(|m| {
                let from = m * d - base;
                dot(&x[from..from + taps], &self.taps)
            })
            .collect();
        GroupRes {
            g,
            frames: self.group(x, base, g * GROUP, GROUP, 1.0, b),
            blocks,
            hum_y,
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
            frames.push(self.frame(seg, short_gain, b, &mut acc));
        }
        GroupOut { first, frames, acc }
    }

    /// One frame: window, FFT, power spectrum (added to `acc`), and the values taken from it.
    fn frame(&self, seg: &[f32], short_gain: f32, b: &mut FrameBufs, acc: &mut [f32]) -> FrameOut {
        if seg.len() == self.n {
            for ((o, s), w) in b
                .buf
                .iter_mut()
                .zip(seg.chunks_exact(2))
                .zip(self.window.chunks_exact(2))
            {
                *o = Complex::new(s[0] * w[0], s[1] * w[1]);
            }
        } else {
            let v = |i: usize| seg.get(i).map_or(0.0, |&s| s * self.window[i]);
            for (k, o) in b.buf.iter_mut().enumerate() {
                *o = Complex::new(v(2 * k), v(2 * k + 1));
            }
        }
        self.power(b, short_gain);
        let pw = &b.pw;
        for (a, &p) in acc.iter_mut().zip(pw) {
            *a += p;
        }
        let fa = dot(pw, &self.gain_a) as f64;
        let fu = dot(pw, &self.gain_u) as f64;
        let (s_lo, s_hi) = self.speech_bins;
        let fs = sum(&pw[s_lo..s_hi]) as f64 * self.gain_u[1] as f64;
        let mut bands = [0f32; FLUX_BANDS];
        for (e, &(lo, hi)) in bands.iter_mut().zip(&self.flux_bands) {
            *e = 10.0 * ((sum(&pw[lo..hi]) as f64 + self.band_eps).log10() as f32);
        }
        FrameOut { fa, fu, fs, bands }
    }

    /// The power spectrum `|X_k|² · gain` (k = 0..=n/2) of the windowed frame in `b.buf`,
    /// into `b.pw`. The complex FFT of the samples in pairs, then realfft's post-processing
    /// (`RealToComplexEven`) operation for operation, so every `X_k` and so every power is
    /// bit-identical to realfft's, but without writing the spectrum out and reading it again.
    fn power(&self, b: &mut FrameBufs, gain: f32) {
        self.fft
            .process_outofplace_with_scratch(&mut b.buf, &mut b.spec, &mut b.scratch);
        let x = &b.spec;
        let h = x.len();
        let q = h / 2;
        let pw = &mut b.pw;
        let p = |re: f32, im: f32| (re * re + im * im) * gain;
        pw[0] = p(x[0].re + x[0].im, 0.0);
        pw[h] = p(x[0].re - x[0].im, 0.0);
        pw[q] = p(x[q].re, -x[q].im);
        // k and h − k for k in 1..q, eight at a time (so the compiler can vectorise) and the
        // rest one by one; each value computed exactly as realfft computes it.
        const L: usize = 8;
        let pair = |k: usize| {
            let (a, c, tw) = (x[k], x[h - k], self.twiddles[k - 1]);
            let (sum_re, sum_im) = (a.re + c.re, a.im + c.im);
            let (diff_re, diff_im) = (a.re - c.re, a.im - c.im);
            let half_sum_re = 0.5 * sum_re;
            let half_diff_im = 0.5 * diff_im;
            let twiddled_re = sum_im * tw.re + diff_re * tw.im;
            let twiddled_im = sum_im * tw.im - diff_re * tw.re;
            (
                p(half_sum_re + twiddled_re, half_diff_im + twiddled_im),
                p(half_sum_re - twiddled_re, twiddled_im - half_diff_im),
            )
        };
        let body = (q - 1) / L * L;
        for k0 in (1..1 + body).step_by(L) {
            let a = &x[k0..k0 + L];
            let c = &x[h - k0 + 1 - L..h - k0 + 1];
            let tw = &self.twiddles[k0 - 1..k0 - 1 + L];
            let (mut pk, mut pm) = ([0f32; L], [0f32; L]);
            for i in 0..L {
                let (a, c, tw) = (a[i], c[L - 1 - i], tw[i]);
                let (sum_re, sum_im) = (a.re + c.re, a.im + c.im);
                let (diff_re, diff_im) = (a.re - c.re, a.im - c.im);
                let half_sum_re = 0.5 * sum_re;
                let half_diff_im = 0.5 * diff_im;
                let twiddled_re = sum_im * tw.re + diff_re * tw.im;
                let twiddled_im = sum_im * tw.im - diff_re * tw.re;
                let (re, im) = (half_sum_re + twiddled_re, half_diff_im + twiddled_im);
                pk[i] = (re * re + im * im) * gain;
                let (re, im) = (half_sum_re - twiddled_re, twiddled_im - half_diff_im);
                pm[L - 1 - i] = (re * re + im * im) * gain;
            }
            pw[k0..k0 + L].copy_from_slice(&pk);
            pw[h - k0 + 1 - L..h - k0 + 1].copy_from_slice(&pm);
        }
        for k in 1 + body..q {
            let (pk, pm) = pair(k);
            pw[k] = pk;
            pw[h - k] = pm;
        }
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

#[cfg(test)]
mod tests {
    use super::super::signals::white_noise;
    use super::*;

    /// The STFT's power spectrum (rustfft's complex FFT, then realfft's real-spectrum step
    /// done in `Tables::power`) is bit for bit |realfft's spectrum|² at every frame length
    /// the sample rates give (512 to 16384 points), so the analysis did not change by a bit
    /// when it stopped calling realfft for it.
    #[test]
    fn power_spectrum_is_realfft_bit_for_bit() {
        for sr in [8000, 16000, 22050, 44100, 48000, 96000, 192000] {
            let an = Analyzer::new(sr);
            let t = &*an.t;
            let x = white_noise(sr, 1.0, -20.0, 7);
            let r2c = RealFftPlanner::<f32>::new().plan_fft_forward(t.n);
            let mut b = t.bufs();
            for start in [0, t.n / 2, 3 * t.n] {
                let seg = &x[start..start + t.n];
                let mut acc = vec![0f32; t.bins()];
                t.frame(seg, 1.0, &mut b, &mut acc);
                let mut input: Vec<f32> = seg.iter().zip(&t.window).map(|(s, w)| s * w).collect();
                let mut out = r2c.make_output_vec();
                r2c.process(&mut input, &mut out).unwrap();
                assert_eq!(out.len(), b.pw.len());
                for (k, (c, &p)) in out.iter().zip(&b.pw).enumerate() {
                    let want = c.re * c.re + c.im * c.im;
                    assert_eq!(
                        want.to_bits(),
                        p.to_bits(),
                        "{sr} Hz, frame at {start}, bin {k}"
                    );
                }
                assert_eq!(acc, b.pw);
            }
        }
    }
}
