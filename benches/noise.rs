//! The noise analysis on 48 kHz mono: criterion timings, then the real-time factor (audio
//! seconds analysed per CPU second, one core). The floor is 5,000× real time.
//!
//! `cargo bench --bench noise`

#[path = "../testkit/src/signals.rs"]
mod signals;

use criterion::{Criterion, Throughput, criterion_group};
use shiftready::dsp::{Analyzer, analyze};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SR: u32 = 48000;
const SECONDS: f64 = 10.0;

fn signal() -> Vec<f32> {
    signals::mix(
        &signals::speech_like(SR, SECONDS, -30.0, 1),
        &signals::fan_noise(SR, SECONDS, -40.0, 2),
    )
}

fn bench(c: &mut Criterion) {
    let x = signal();
    let mut g = c.benchmark_group("noise");
    g.throughput(Throughput::Elements(x.len() as u64));
    g.sample_size(20);
    let mut an = Analyzer::new(SR);
    g.bench_function("analyze_10s_48k_reused", |b| {
        b.iter(|| black_box(an.analyze(black_box(&x))))
    });
    g.bench_function("analyze_10s_48k_fresh", |b| {
        b.iter(|| black_box(analyze(black_box(&x), SR)))
    });
    g.finish();
}

/// The FFTs alone, as the analysis does them on 10 s at 48 kHz: 233 real 4096-point
/// transforms (hop 2048) plus 19 real 2048-point ones for the hum.
fn fft_only() -> f64 {
    use realfft::RealFftPlanner;
    let mut planner = RealFftPlanner::<f32>::new();
    let (big, small) = (
        planner.plan_fft_forward(4096),
        planner.plan_fft_forward(2048),
    );
    let (mut bi, mut bo, mut bs) = (
        big.make_input_vec(),
        big.make_output_vec(),
        big.make_scratch_vec(),
    );
    let (mut si, mut so, mut ss) = (
        small.make_input_vec(),
        small.make_output_vec(),
        small.make_scratch_vec(),
    );
    let x = signal();
    let mut runs = 0u32;
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    while start.elapsed() < Duration::from_secs(2) {
        for f in 0..233 {
            bi.copy_from_slice(&x[f * 2048..f * 2048 + 4096]);
            big.process_with_scratch(&mut bi, &mut bo, &mut bs).unwrap();
        }
        for f in 0..19 {
            si.copy_from_slice(&x[f * 1024..f * 1024 + 2048]);
            small
                .process_with_scratch(&mut si, &mut so, &mut ss)
                .unwrap();
        }
        black_box(&bo);
        black_box(&so);
        runs += 1;
    }
    (cpu_seconds() - cpu0).unwrap_or(start.elapsed().as_secs_f64()) / runs as f64
}

/// CPU time of this thread (Linux: `/proc/thread-self/schedstat`, in ns), so a busy
/// machine does not count against us; `None` elsewhere (wall time is used then).
fn cpu_seconds() -> CpuTime {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    CpuTime(ns.map(|n| n as f64 * 1e-9))
}

#[derive(Clone, Copy)]
struct CpuTime(Option<f64>);

impl std::ops::Sub for CpuTime {
    type Output = Option<f64>;
    fn sub(self, o: CpuTime) -> Option<f64> {
        Some(self.0? - o.0?)
    }
}

/// Times the analysis on its own for a few seconds and prints the real-time factor.
fn real_time_factor() {
    let x = signal();
    let mut an = Analyzer::new(SR);
    let _ = an.analyze(&x);
    let mut runs = 0u32;
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    while start.elapsed() < Duration::from_secs(3) || runs < 10 {
        black_box(an.analyze(black_box(&x)));
        runs += 1;
    }
    let wall = start.elapsed().as_secs_f64() / runs as f64;
    let per_run = (cpu_seconds() - cpu0).unwrap_or(wall * runs as f64) / runs as f64;
    println!(
        "noise real-time factor: {:.0}x per CPU second (10 s of 48 kHz mono in {:.3} ms CPU, \
         {:.3} ms wall, {runs} runs, floor 5000x)",
        SECONDS / per_run,
        per_run * 1e3,
        wall * 1e3
    );
    let fft = fft_only();
    println!(
        "of which the FFTs alone: {:.3} ms ({:.0}% of the time; FFT-only real-time factor {:.0}x)",
        fft * 1e3,
        100.0 * fft / per_run,
        SECONDS / fft
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    real_time_factor();
    Criterion::default().configure_from_args().final_summary();
}
