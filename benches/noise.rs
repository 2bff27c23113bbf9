//! The noise analysis on 48 kHz mono: criterion timings, then the real-time factor (audio
//! seconds analysed per CPU second, one core). The floor is 5,000× real time.
//!
//! `cargo bench --bench noise`

#[path = "../tests/support/signals.rs"]
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
    g.sample_size(30);
    let mut an = Analyzer::new(SR);
    g.bench_function("analyze_10s_48k_reused", |b| {
        b.iter(|| black_box(an.analyze(black_box(&x))))
    });
    g.bench_function("analyze_10s_48k_fresh", |b| {
        b.iter(|| black_box(analyze(black_box(&x), SR)))
    });
    g.finish();
}

/// Times the analysis on its own for a few seconds and prints the real-time factor.
fn real_time_factor() {
    let x = signal();
    let mut an = Analyzer::new(SR);
    let _ = an.analyze(&x);
    let mut runs = 0u32;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) || runs < 10 {
        black_box(an.analyze(black_box(&x)));
        runs += 1;
    }
    let per_run = start.elapsed().as_secs_f64() / runs as f64;
    println!(
        "noise real-time factor: {:.0}x (10 s of 48 kHz mono in {:.3} ms, {runs} runs, floor 5000x)",
        SECONDS / per_run,
        per_run * 1e3
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    real_time_factor();
    Criterion::default().configure_from_args().final_summary();
}
