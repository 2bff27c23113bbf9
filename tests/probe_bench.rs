//! Measurements for BENCHMARKS.md (`## Network probe`), not pass/fail tests: ignored by
//! default. Run on an otherwise idle machine with
//!
//! ```text
//! cargo test --release --test probe_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `probe_cpu_cost`: CPU time of a 5-second `probe::run` (its thread's schedstat, ns).
//! - `reflector_capacity`: replies per second of the reflector on one core (its thread pinned
//!   to CPU 0 with `taskset`, the load generator pinned to CPU 1), limits lifted.
//! - `accuracy_vs_ping`: the probe's RTT next to iputils `ping` on the same loopback path at
//!   the same time, and per-direction jitter/loss against the impairment relay's truth.

mod probe_support;

use probe_support::{Dir, Impairment, reflector, relay};
use proto::policy::Codec;
use proto::probe::{self, Request};
use shiftready_hq::reflector::{Reflector, ReflectorConfig};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// CPU time of the calling thread so far, ns (Linux `schedstat`: time on the CPU).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn tid() -> String {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// Pins the calling thread to `cpu` (best effort: needs util-linux `taskset`).
fn pin(cpu: u32) -> bool {
    std::process::Command::new("taskset")
        .args(["-pc", &cpu.to_string(), &tid()])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[ignore = "benchmark"]
fn probe_cpu_cost() {
    // The reflector on its own runtime (other threads); the probe alone on this one.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _stats, _stop) = rt.block_on(reflector("127.0.0.1:0"));
    let local = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c0 = thread_cpu_ns();
    let t0 = Instant::now();
    let r = local
        .block_on(shiftready::probe::run(
            addr,
            Duration::from_secs(5),
            Codec::G711Plc,
        ))
        .unwrap();
    let cpu = (thread_cpu_ns() - c0) as f64 / 1e6;
    let wall = t0.elapsed().as_secs_f64();
    assert_eq!(r.stats.received, 250);
    println!(
        "probe_cpu_cost: 5 s probe ({} packets each way): {cpu:.1} ms CPU over {wall:.2} s wall \
         = {:.2} % of one core",
        r.stats.sent,
        cpu / (wall * 1e3) * 100.0
    );
}

#[test]
#[ignore = "benchmark"]
fn reflector_capacity() {
    let config = ReflectorConfig {
        per_source_pps: 1e12,
        per_source_burst: 1e12,
        global_pps: 1e12,
        global_burst: 1e12,
        ..ReflectorConfig::default()
    };
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let refl = std::thread::spawn(move || {
        let pinned = pin(0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let r = Reflector::bind("127.0.0.1:0".parse().unwrap(), config)
                .await
                .unwrap();
            let stats = r.stats();
            tx.send((r.local_addr(), stats, pinned)).unwrap();
            let c0 = thread_cpu_ns();
            r.run(async move {
                while !stop2.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .unwrap();
            thread_cpu_ns() - c0
        })
    });
    let (addr, stats, pinned0) = rx.recv().unwrap();
    let pinned1 = pin(1);
    // Closed loop: keep WINDOW requests in flight per socket, over 8 sockets (sessions).
    const WINDOW: usize = 32;
    let socks: Vec<UdpSocket> = (0..8)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.connect(addr).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let mut pkt = vec![0u8; probe::VOICE_PAYLOAD];
    let mut buf = vec![0u8; 2048];
    for (i, s) in socks.iter().enumerate() {
        for seq in 0..WINDOW as u32 {
            Request {
                session: i as u32,
                seq,
                sender_ts_ns: 0,
                flush: false,
            }
            .encode(&mut pkt);
            let _ = s.send(&pkt);
        }
    }
    let warm = Instant::now() + Duration::from_millis(500);
    let mut start: Option<(Instant, u64, u64)> = None;
    let end = warm + Duration::from_secs(3);
    let gen_c0 = thread_cpu_ns();
    let mut idle_rounds = 0u32;
    loop {
        let now = Instant::now();
        if start.is_none() && now >= warm {
            start = Some((now, stats.snapshot().reflected, thread_cpu_ns()));
        }
        if now >= end {
            break;
        }
        let mut got = false;
        for s in &socks {
            while let Ok(n) = s.recv(&mut buf) {
                got = true;
                buf[5] = probe::KIND_REQUEST; // turn the reply back into a request
                let _ = s.send(&buf[..n]);
            }
        }
        if !got {
            idle_rounds += 1;
            // Refill a window that lost packets in a full socket buffer.
            if idle_rounds % 1000 == 0 {
                for s in &socks {
                    let _ = s.send(&pkt);
                }
            }
        }
    }
    let (t0, r0, g0) = start.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let replies = stats.snapshot().reflected - r0;
    let gen_cpu = (thread_cpu_ns() - g0) as f64 / 1e9;
    let _ = gen_c0;
    stop.store(true, Ordering::Relaxed);
    let refl_cpu_ns = refl.join().unwrap();
    let s = stats.snapshot();
    // CPU per reply (user + kernel, the thread's time on the CPU) gives the capacity of one
    // core even when the machine is shared and the closed loop cannot saturate it.
    let us_per_reply = refl_cpu_ns as f64 / 1e3 / s.reflected as f64;
    println!(
        "reflector_capacity: {:.0} replies/s of {} B observed over {secs:.1} s (reflector pinned \
         to CPU 0: {pinned0}, generator to CPU 1: {pinned1}, generator {:.0} % of a core); \
         reflector thread: {:.2} s CPU for {} replies = {us_per_reply:.2} µs per reply, i.e. \
         {:.0} replies/s at 100 % of one core; bytes out {} <= in {}",
        replies as f64 / secs,
        probe::VOICE_PAYLOAD,
        gen_cpu / secs * 100.0,
        refl_cpu_ns as f64 / 1e9,
        s.reflected,
        1e6 / us_per_reply,
        s.bytes_out,
        s.bytes_in
    );
}

fn parse_ping(out: &str) -> Option<(f64, f64, f64, u32, u32)> {
    // "rtt min/avg/max/mdev = 0.021/0.034/0.070/0.008 ms" and "250 packets transmitted, 250 received"
    let line = out.lines().find(|l| l.contains("min/avg/max"))?;
    let nums: Vec<f64> = line
        .split('=')
        .nth(1)?
        .trim()
        .trim_end_matches(" ms")
        .split('/')
        .filter_map(|x| x.parse().ok())
        .collect();
    let stat = out.lines().find(|l| l.contains("packets transmitted"))?;
    let w: Vec<&str> = stat.split_whitespace().collect();
    Some((
        nums[0],
        nums[1],
        nums[2],
        w[0].parse().ok()?,
        w[3].parse().ok()?,
    ))
}

#[test]
#[ignore = "benchmark"]
fn accuracy_vs_ping() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (addr, _s, _stop) = reflector("127.0.0.1:0").await;
        // Root may ping every 20 ms like the probe; others get iputils' 200 ms minimum.
        let ping = tokio::process::Command::new("ping")
            .args(["-n", "-q", "-i", "0.02", "-c", "250", "127.0.0.1"])
            .output();
        let probe = shiftready::probe::run(addr, Duration::from_secs(5), Codec::G711Plc);
        let (ping, probe) = tokio::join!(ping, probe);
        let ping = ping.unwrap();
        let out = String::from_utf8_lossy(&ping.stdout);
        let p = probe.unwrap().stats;
        match parse_ping(&out) {
            Some((min, avg, max, tx, rx)) => println!(
                "accuracy_vs_ping (loopback, same 5 s): probe RTT min/median/max \
                 {:.3}/{:.3}/{:.3} ms, {} of {} back; ping min/avg/max {min:.3}/{avg:.3}/{max:.3} \
                 ms, {rx} of {tx} back",
                p.rtt_ms_min.unwrap(),
                p.rtt_ms_median.unwrap(),
                p.rtt_ms_max.unwrap(),
                p.received,
                p.sent
            ),
            None => println!(
                "accuracy_vs_ping: ping gave no summary: {out} {}",
                String::from_utf8_lossy(&ping.stderr)
            ),
        }
        for (dir, seed) in [(Dir::Up, 11), (Dir::Down, 23)] {
            let imp = Impairment {
                dir,
                max_delay: Duration::from_millis(30),
                loss: 0.03,
                seed,
            };
            let rl = relay(addr, imp).await;
            let ping = tokio::process::Command::new("ping")
                .args(["-n", "-q", "-i", "0.02", "-c", "250", "127.0.0.1"])
                .output();
            let probe = shiftready::probe::run(rl.addr, Duration::from_secs(5), Codec::G711Plc);
            let (ping, probe) = tokio::join!(ping, probe);
            let s = probe.unwrap().stats;
            let ping = parse_ping(&String::from_utf8_lossy(&ping.unwrap().stdout));
            let (j, l) = match dir {
                Dir::Up => (
                    s.jitter_up_ms.unwrap(),
                    s.loss_up_pct.unwrap() * 250.0 / 100.0,
                ),
                Dir::Down => (
                    s.jitter_down_ms.unwrap(),
                    s.loss_down_pct.unwrap() * s.reflector_received.unwrap() as f64 / 100.0,
                ),
            };
            println!(
                "relay {dir:?} (0-30 ms uniform hold, 3 % loss, seed {seed}): jitter probe {j:.3} \
                 ms vs relay {:.3} ms; loss probe {l:.1} vs relay {} packets; clean direction \
                 jitter {:.3} ms; probe RTT median {:.3} ms; ping min/avg/max on loopback \
                 meanwhile {:?} ms",
                rl.jitter_ms(dir, 250),
                rl.dropped(dir, 250),
                match dir {
                    Dir::Up => s.jitter_down_ms.unwrap(),
                    Dir::Down => s.jitter_up_ms.unwrap(),
                },
                s.rtt_ms_median.unwrap(),
                ping.map(|p| (p.0, p.1, p.2))
            );
        }
    });
}
