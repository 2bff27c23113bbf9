//! Measurements for BENCHMARKS.md (`## Network probe`), not pass/fail tests: ignored by
//! default. Run on an otherwise idle machine with
//!
//! ```text
//! cargo test --release --test probe_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `probe_cpu_cost`: CPU time of a 5-second `probe::run` (its thread's schedstat, ns).
//! - `reflector_capacity`: replies per second of the reflector on one core (its thread pinned
//!   to CPU 0 with `taskset`, the load generator pinned to CPU 1), limits lifted; for requests
//!   without a token, with a valid one (the token table hit), and with a forged one (an HMAC
//!   per packet, the worst case).
//! - `token_check_cost`: the per-packet token check alone (HMAC-SHA256 verify), ns.
//! - `spoofed_flood`: what the reflector sends back during a flood from 64 loopback addresses at
//!   full speed, and what a voice probe with a token loses meanwhile: with the limits before
//!   probe tokens (one shared budget, 1400-byte requests answered; reproduced by configuration)
//!   and with today's defaults.
//! - `accuracy_vs_ping`: the probe's RTT next to iputils `ping` on the same loopback path at
//!   the same time, and per-direction jitter/loss against the impairment relay's truth.

mod probe_support;

use probe_support::{Dir, Impairment, reflector, relay};
use proto::policy::Codec;
use proto::probe::{self, Request};
use shiftready_hq::reflector::{Reflector, ReflectorConfig, TokenKey, unix_now};
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

/// What the capacity load carries.
#[derive(Debug, Clone, Copy)]
enum Carry {
    None,
    Valid,
    Forged,
}

#[test]
#[ignore = "benchmark"]
fn reflector_capacity() {
    for carry in [Carry::None, Carry::Valid, Carry::Forged] {
        capacity(carry);
    }
}

fn key() -> TokenKey {
    TokenKey::from_bytes([0x42; 32])
}

fn capacity(carry: Carry) {
    let config = ReflectorConfig {
        per_source_pps: 1e12,
        per_source_burst: 1e12,
        global_pps: 1e12,
        global_burst: 1e12,
        unauth_pps: 1e12,
        unauth_burst: 1e12,
        token_key: Some(key()),
        ..ReflectorConfig::default()
    };
    let token = match carry {
        Carry::None => None,
        Carry::Valid => Some(key().issue("bench", unix_now())),
        Carry::Forged => Some(TokenKey::from_bytes([1; 32]).issue("bench", unix_now())),
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
            .encode_with(&mut pkt, token.as_ref());
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
        "reflector_capacity (token: {carry:?}): {:.0} replies/s of {} B observed over {secs:.1} s (reflector pinned \
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

#[test]
#[ignore = "benchmark"]
fn token_check_cost() {
    let k = key();
    let valid = k.issue("bench", unix_now());
    let forged = TokenKey::from_bytes([1; 32]).issue("bench", unix_now());
    let now = unix_now();
    for (what, t) in [("valid", valid), ("forged", forged)] {
        let n = 200_000;
        let t0 = Instant::now();
        let mut ok = 0u32;
        for _ in 0..n {
            ok += (k.check(std::hint::black_box(&t), now)
                == shiftready_hq::reflector::TokenCheck::Valid) as u32;
        }
        let ns = t0.elapsed().as_nanos() as f64 / n as f64;
        println!("token_check_cost: {what} token: {ns:.0} ns per check ({ok} valid of {n})");
    }
}

/// A flood of `len`-byte requests without a token from 64 loopback addresses as fast as one
/// thread sends, for `secs`, while a voice probe with a token runs; returns (flood packets
/// sent, bytes the reflector sent, its replies, the probe's loss in %, the probe's RTT median).
fn flood_against(config: ReflectorConfig, len: usize, secs: f64) -> (u64, u64, u64, f64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let r = rt
        .block_on(Reflector::bind("127.0.0.1:0".parse().unwrap(), config))
        .unwrap();
    let addr = r.local_addr();
    let stats = r.stats();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let task = rt.spawn(r.run(async move {
        while !stop2.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }));
    let stop3 = stop.clone();
    let flood = std::thread::spawn(move || {
        let socks: Vec<UdpSocket> = (1..=64)
            .map(|i| UdpSocket::bind(format!("127.0.1.{i}:0")).unwrap())
            .collect();
        let mut pkt = vec![0u8; len];
        Request {
            session: 1,
            seq: 0,
            sender_ts_ns: 0,
            flush: false,
        }
        .encode(&mut pkt);
        let mut sent = 0u64;
        while !stop3.load(Ordering::Relaxed) {
            for s in &socks {
                if s.send_to(&pkt, addr).is_ok() {
                    sent += 1;
                }
            }
        }
        sent
    });
    std::thread::sleep(Duration::from_millis(300));
    let before = stats.snapshot();
    let t0 = Instant::now();
    let token = key().issue("bench-probe", unix_now());
    let probe = shiftready::probe::run_token(
        addr,
        Duration::from_secs_f64(secs),
        Codec::G711Plc,
        Some(token),
    );
    let p = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(probe)
            .unwrap()
    })
    .join()
    .unwrap();
    let elapsed = t0.elapsed().as_secs_f64();
    let after = stats.snapshot();
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().unwrap();
    rt.block_on(task).unwrap().unwrap();
    let lost = 100.0 * (p.stats.sent - p.stats.received) as f64 / p.stats.sent as f64;
    (
        sent,
        ((after.bytes_out - before.bytes_out) as f64 / elapsed) as u64,
        after.reflected - before.reflected,
        lost,
        p.stats.rtt_ms_median.unwrap_or(f64::NAN),
    )
}

#[test]
#[ignore = "benchmark"]
fn spoofed_flood() {
    // Before probe tokens: one budget for everyone (120/s per address, 50,000/s in all) and
    // requests up to 1400 bytes answered.
    let d = ReflectorConfig::default();
    let before = ReflectorConfig {
        unauth_pps: d.global_pps,
        unauth_burst: d.global_burst,
        max_packet: probe::MAX_PACKET,
        token_key: None,
        ..d
    };
    let after = ReflectorConfig {
        token_key: Some(key()),
        ..d
    };
    for (what, config, len) in [
        (
            "before (old limits), 1400 B flood",
            before,
            probe::MAX_PACKET,
        ),
        (
            "after (defaults + key), 1400 B flood",
            after,
            probe::MAX_PACKET,
        ),
        ("after (defaults + key), 256 B flood", after, 256),
    ] {
        let (sent, bps, replies, lost, rtt) = flood_against(config, len, 5.0);
        println!(
            "spoofed_flood {what}: flood sent {sent} in ~5.3 s; reflector sent {:.2} Mbit/s              ({replies} replies during the probe); probe with a token lost {lost:.1} %, RTT              median {rtt:.3} ms",
            bps as f64 * 8.0 / 1e6
        );
    }
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
