//! The UDP reflector for the agents' voice probe (TWAMP-light in spirit; the packet format is
//! documented in [`proto::probe`]).
//!
//! # API (for `shiftready-hq reflector --listen ADDR` and `serve --probe-listen ADDR`)
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use shiftready_hq::reflector::{Reflector, ReflectorConfig};
//! let r = Reflector::bind("[::]:8637".parse().unwrap(), ReflectorConfig::default()).await?;
//! let addr = r.local_addr();          // the bound address (port 0 resolved)
//! let stats = r.stats();              // Arc<ReflectorStats>: atomic counters, read any time
//! let (tx, rx) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(r.run(async { let _ = rx.await; }));  // any `Future<Output = ()>`
//! // ... later, for /metrics:
//! for (name, help, value) in stats.snapshot().metrics() { /* reflector_<name> */ }
//! let _ = tx.send(());                // graceful stop: run() returns Ok(())
//! task.await.unwrap()?;
//! # Ok(()) }
//! ```
//!
//! - `Reflector::bind(addr, config)`: binds a UDP socket; IPv4 or IPv6 (a `[::]` socket is
//!   dual-stack where the OS allows). `proto::probe::DEFAULT_PORT` (8637) is the agents'
//!   default port.
//! - `run(self, shutdown)` answers until `shutdown` completes. It only returns an error if the
//!   socket itself fails; bad packets, rate limits and send errors are counted, never fatal.
//! - [`ReflectorStats`] fields are `AtomicU64` counters (plus the `senders` gauge);
//!   [`ReflectorStats::snapshot`] copies them and [`StatsSnapshot::metrics`] lists
//!   `(name, help, value)` for Prometheus (`shiftready_reflector_<name>_total` is a good
//!   name; `senders` is a gauge).
//!
//! What it does with each datagram: a valid request (right magic, version, kind and a length
//! within `MIN_PACKET..=MAX_PACKET`) from a source port ≥ 1024 that is within the per-source
//! and global token-bucket rate limits is answered with a reply of exactly the same length,
//! carrying the receive and send stamps and the count of requests received from that
//! (source, session). Everything else is dropped and counted. The only state is a bounded
//! table of recent senders (oldest evicted) and a bounded table of per-IP rate buckets.

use proto::probe::{self, PacketError, Request};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::net::UdpSocket;

/// Limits of a reflector. The defaults suit a site of a few thousand agents probing at the
/// voice rate (50 packets/s each, a few at a time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReflectorConfig {
    /// Requests per second answered per source IP address (sustained).
    pub per_source_pps: f64,
    /// Burst allowance per source IP address, in packets.
    pub per_source_burst: f64,
    /// Requests per second answered in total.
    pub global_pps: f64,
    /// Burst allowance in total, in packets.
    pub global_burst: f64,
    /// Most (source, session) pairs remembered for counting; the oldest is forgotten first.
    pub max_senders: usize,
}

impl Default for ReflectorConfig {
    fn default() -> Self {
        ReflectorConfig {
            // One voice probe is 50 pps; allow two at once from one home (NAT) and slack.
            per_source_pps: DEFAULT_PER_SOURCE_PPS as f64,
            per_source_burst: 60.0,
            global_pps: DEFAULT_GLOBAL_PPS as f64,
            global_burst: 5_000.0,
            max_senders: 16_384,
        }
    }
}

/// Requests per second answered per source IP address by default.
pub const DEFAULT_PER_SOURCE_PPS: u32 = 120;
/// Requests per second answered in total by default.
pub const DEFAULT_GLOBAL_PPS: u32 = 50_000;
/// The lowest per-source rate accepted: one voice probe sends 50 packets/s, so anything lower
/// would make every probe report loss that the reflector itself caused.
pub const MIN_PER_SOURCE_PPS: f64 = 50.0;
/// The highest rate accepted for either limit, packets/s.
pub const MAX_PPS: f64 = 10_000_000.0;

/// A rate limit that [`ReflectorConfig::with_rates`] refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "{0} packets/s is not a per-source rate: it must be between {MIN_PER_SOURCE_PPS} (one \
         voice probe sends 50 packets/s) and {MAX_PPS}"
    )]
    PerSource(f64),
    #[error(
        "{global} packets/s is not a global rate: it must be at least the per-source rate \
         ({per_source}) and at most {MAX_PPS}"
    )]
    Global { global: f64, per_source: f64 },
}

impl ReflectorConfig {
    /// The defaults with other sustained rates (packets/s per source IP address, and in
    /// total). The bursts keep the defaults' proportions: half a second of the per-source rate,
    /// a tenth of a second of the global rate.
    pub fn with_rates(per_source_pps: f64, global_pps: f64) -> Result<ReflectorConfig, LimitError> {
        if !(MIN_PER_SOURCE_PPS..=MAX_PPS).contains(&per_source_pps) {
            return Err(LimitError::PerSource(per_source_pps));
        }
        if !(per_source_pps..=MAX_PPS).contains(&global_pps) {
            return Err(LimitError::Global {
                global: global_pps,
                per_source: per_source_pps,
            });
        }
        Ok(ReflectorConfig {
            per_source_pps,
            per_source_burst: (per_source_pps / 2.0).max(1.0),
            global_pps,
            global_burst: (global_pps / 10.0).max(1.0),
            ..ReflectorConfig::default()
        })
    }
}

/// Counters of a running reflector; shared with whoever exports them.
#[derive(Debug, Default)]
pub struct ReflectorStats {
    /// Datagrams received, of any kind.
    pub received: AtomicU64,
    /// Replies sent.
    pub reflected: AtomicU64,
    /// Datagrams dropped as not ours (wrong magic).
    pub foreign: AtomicU64,
    /// Datagrams dropped as ours but malformed: too short, too long, wrong version or kind.
    pub malformed: AtomicU64,
    /// Valid requests dropped by the per-source limit.
    pub rate_limited_source: AtomicU64,
    /// Valid requests dropped by the global limit.
    pub rate_limited_global: AtomicU64,
    /// Datagrams dropped because they came from a privileged port (< 1024), which a genuine
    /// probe never uses and a spoofed reflection attack would.
    pub bad_source_port: AtomicU64,
    /// Replies the OS refused to send.
    pub send_errors: AtomicU64,
    /// (source, session) entries forgotten to keep the table bounded.
    pub evicted: AtomicU64,
    /// Bytes received and sent: `bytes_out <= bytes_in` always (no amplification).
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Gauge: (source, session) pairs currently remembered.
    pub senders: AtomicU64,
}

/// A plain copy of [`ReflectorStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub received: u64,
    pub reflected: u64,
    pub foreign: u64,
    pub malformed: u64,
    pub rate_limited_source: u64,
    pub rate_limited_global: u64,
    pub bad_source_port: u64,
    pub send_errors: u64,
    pub evicted: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub senders: u64,
}

impl StatsSnapshot {
    /// All rate-limited requests.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited_source + self.rate_limited_global
    }

    /// `(name, help, value)` for each counter, for a Prometheus exporter. All are counters
    /// except `senders`, a gauge.
    pub fn metrics(&self) -> [(&'static str, &'static str, u64); 12] {
        [
            (
                "received",
                "Datagrams received by the probe reflector",
                self.received,
            ),
            ("reflected", "Probe replies sent", self.reflected),
            (
                "foreign",
                "Datagrams dropped as not probe packets",
                self.foreign,
            ),
            (
                "malformed",
                "Probe packets dropped as malformed",
                self.malformed,
            ),
            (
                "rate_limited_source",
                "Probe requests dropped by the per-source rate limit",
                self.rate_limited_source,
            ),
            (
                "rate_limited_global",
                "Probe requests dropped by the global rate limit",
                self.rate_limited_global,
            ),
            (
                "bad_source_port",
                "Datagrams dropped for coming from a privileged port",
                self.bad_source_port,
            ),
            (
                "send_errors",
                "Probe replies the OS refused to send",
                self.send_errors,
            ),
            (
                "evicted",
                "Senders forgotten to keep the table bounded",
                self.evicted,
            ),
            (
                "bytes_in",
                "Bytes received by the probe reflector",
                self.bytes_in,
            ),
            (
                "bytes_out",
                "Bytes sent by the probe reflector",
                self.bytes_out,
            ),
            (
                "senders",
                "Senders currently remembered (gauge)",
                self.senders,
            ),
        ]
    }
}

impl ReflectorStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            received: g(&self.received),
            reflected: g(&self.reflected),
            foreign: g(&self.foreign),
            malformed: g(&self.malformed),
            rate_limited_source: g(&self.rate_limited_source),
            rate_limited_global: g(&self.rate_limited_global),
            bad_source_port: g(&self.bad_source_port),
            send_errors: g(&self.send_errors),
            evicted: g(&self.evicted),
            bytes_in: g(&self.bytes_in),
            bytes_out: g(&self.bytes_out),
            senders: g(&self.senders),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A token bucket: `rate` tokens per second up to `burst`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(burst: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * rate).min(burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A map bounded to `cap` entries; when full, the entry touched longest ago is evicted.
/// Eviction scans the map, but only once per `cap / 8` insertions (it drops the oldest
/// eighth at once), so the cost per packet stays constant on average.
struct Bounded<K, V> {
    map: HashMap<K, (V, u64)>,
    cap: usize,
    tick: u64,
}

impl<K: std::hash::Hash + Eq + Copy, V> Bounded<K, V> {
    fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            cap: cap.max(1),
            tick: 0,
        }
    }

    /// The entry for `k`, created by `make` if absent; returns how many were evicted.
    fn entry(&mut self, k: K, make: impl FnOnce() -> V) -> (&mut V, u64) {
        self.tick += 1;
        let mut evicted = 0;
        if !self.map.contains_key(&k) && self.map.len() >= self.cap {
            let drop_n = (self.cap / 8).max(1);
            let mut ages: Vec<u64> = self.map.values().map(|(_, t)| *t).collect();
            let cut_idx = drop_n.min(ages.len()) - 1;
            let (_, cut, _) = ages.select_nth_unstable(cut_idx);
            let cut = *cut;
            let before = self.map.len();
            self.map.retain(|_, (_, t)| *t > cut);
            evicted = (before - self.map.len()) as u64;
        }
        let tick = self.tick;
        let e = self.map.entry(k).or_insert_with(|| (make(), tick));
        e.1 = tick;
        (&mut e.0, evicted)
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// A bound reflector, ready to [`run`](Reflector::run).
pub struct Reflector {
    socket: UdpSocket,
    local: SocketAddr,
    config: ReflectorConfig,
    stats: Arc<ReflectorStats>,
}

impl Reflector {
    /// Binds the reflector's UDP socket.
    pub async fn bind(addr: SocketAddr, config: ReflectorConfig) -> io::Result<Reflector> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        Ok(Reflector {
            socket,
            local,
            config,
            stats: Arc::new(ReflectorStats::default()),
        })
    }

    /// The address actually bound (with the port the OS chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The reflector's counters, live.
    pub fn stats(&self) -> Arc<ReflectorStats> {
        self.stats.clone()
    }

    /// Answers probe requests until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tracing::info!(addr = %self.local, "probe reflector listening");
        tokio::pin!(shutdown);
        let Reflector {
            socket,
            config,
            stats,
            ..
        } = self;
        let epoch = Instant::now();
        let ns = |t: Instant| t.saturating_duration_since(epoch).as_nanos() as u64;
        let mut buf = vec![0u8; probe::MAX_PACKET + 1];
        let mut senders: Bounded<(SocketAddr, u32), u32> = Bounded::new(config.max_senders);
        let mut sources: Bounded<IpAddr, Bucket> = Bounded::new(config.max_senders);
        let mut global = Bucket::new(config.global_burst, epoch);
        loop {
            let (len, from) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                r = socket.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    // ICMP errors from earlier sends (port unreachable) surface here on some
                    // OSes; they are not fatal.
                    Err(e) if is_transient(&e) => continue,
                    Err(e) => return Err(e),
                },
            };
            let now = Instant::now();
            bump(&stats.received);
            stats.bytes_in.fetch_add(len as u64, Ordering::Relaxed);
            // A datagram longer than the buffer was truncated to MAX_PACKET + 1: too long.
            let pkt = &mut buf[..len];
            let req = match Request::decode(pkt) {
                Ok(r) => r,
                Err(PacketError::Foreign) => {
                    bump(&stats.foreign);
                    continue;
                }
                Err(_) => {
                    bump(&stats.malformed);
                    continue;
                }
            };
            if from.port() < 1024 {
                bump(&stats.bad_source_port);
                continue;
            }
            let (bucket, ev1) = sources.entry(from.ip().to_canonical(), || {
                Bucket::new(config.per_source_burst, now)
            });
            if !bucket.take(config.per_source_pps, config.per_source_burst, now) {
                bump(&stats.rate_limited_source);
                stats.evicted.fetch_add(ev1, Ordering::Relaxed);
                continue;
            }
            if !global.take(config.global_pps, config.global_burst, now) {
                bump(&stats.rate_limited_global);
                continue;
            }
            let (count, ev2) = senders.entry((from, req.session), || 0);
            if !req.flush {
                *count = count.wrapping_add(1);
            }
            let count = *count;
            stats.evicted.fetch_add(ev1 + ev2, Ordering::Relaxed);
            stats.senders.store(senders.len() as u64, Ordering::Relaxed);
            probe::make_reply(pkt, ns(now), count);
            probe::stamp_tx(pkt, ns(Instant::now()));
            match socket.send_to(pkt, from).await {
                Ok(n) => {
                    bump(&stats.reflected);
                    stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    bump(&stats.send_errors);
                    tracing::debug!(%from, "reflector send failed: {e}");
                }
            }
        }
        tracing::info!("probe reflector stopped");
        Ok(())
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || e.raw_os_error().is_some_and(|c| c == 113 || c == 101) // EHOSTUNREACH, ENETUNREACH
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(3.0, t0);
        assert!((0..3).all(|_| b.take(10.0, 3.0, t0)));
        assert!(!b.take(10.0, 3.0, t0));
        // 100 ms at 10/s refills one token.
        assert!(b.take(10.0, 3.0, t0 + Duration::from_millis(100)));
        assert!(!b.take(10.0, 3.0, t0 + Duration::from_millis(100)));
        // A long pause refills only up to the burst.
        let t = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.take(10.0, 3.0, t)).count(), 3);
    }

    #[test]
    fn rates_are_validated_and_defaults_kept() {
        let d = ReflectorConfig::default();
        assert_eq!(ReflectorConfig::with_rates(120.0, 50_000.0), Ok(d));
        let c = ReflectorConfig::with_rates(60.0, 1_000.0).unwrap();
        assert_eq!(
            (
                c.per_source_pps,
                c.per_source_burst,
                c.global_pps,
                c.global_burst
            ),
            (60.0, 30.0, 1_000.0, 100.0)
        );
        assert_eq!(c.max_senders, d.max_senders);
        for bad in [0.0, 49.9, -1.0, f64::NAN, f64::INFINITY, 2e7] {
            assert!(
                matches!(
                    ReflectorConfig::with_rates(bad, 50_000.0),
                    Err(LimitError::PerSource(_))
                ),
                "{bad}"
            );
        }
        for bad in [119.0, f64::NAN, 1e8] {
            assert!(
                matches!(
                    ReflectorConfig::with_rates(120.0, bad),
                    Err(LimitError::Global { .. })
                ),
                "{bad}"
            );
        }
        let e = ReflectorConfig::with_rates(10.0, 100.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("10 packets/s") && e.contains("50"), "{e}");
    }

    #[test]
    fn bounded_table_evicts_the_oldest() {
        let mut m: Bounded<u32, u32> = Bounded::new(16);
        for k in 0..16 {
            *m.entry(k, || 0).0 += 1;
        }
        // Touch 0 so it is the newest; inserting 16 evicts the oldest eighth (1 and 2).
        m.entry(0, || 0);
        let (_, ev) = m.entry(16, || 0);
        assert_eq!(ev, 2);
        assert_eq!(m.len(), 15);
        assert!(m.map.contains_key(&0));
        assert!(!m.map.contains_key(&1) && !m.map.contains_key(&2));
        for k in 100..10_000 {
            m.entry(k, || 0);
            assert!(m.len() <= 16);
        }
    }
}
