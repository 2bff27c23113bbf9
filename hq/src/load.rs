//! The load endpoints of the agents' latency-under-load test (issue 16, bufferbloat): an
//! upload sink (`POST /api/v1/load/upload`, read and discarded, answered with the count and
//! HQ's receive time) and a download source (`GET /api/v1/load/download`, incompressible
//! bytes), which `shiftready check` fills the agent's line with while it times UDP probes.
//!
//! Only enrolled, active devices are served, their key checked before the body is read (as
//! `POST /events` does). Every request is bounded in bytes ([`LoadLimits::max_bytes`]) and in
//! time ([`MAX_SECONDS`]); each device gets one load session per
//! [`LoadLimits::session_interval`] (a session is up to [`SESSION_REQUESTS`] requests within
//! [`SESSION_WINDOW`] of its first), and all devices together share a byte budget per second
//! ([`LoadLimits::bytes_per_second`]), reserved when a request is admitted and given back for
//! what it did not move. Over either: 429 with `Retry-After`. `serve --no-load-test` turns the
//! endpoints off (404 saying so), which agents take as "skip the load test".
//!
//! The upload is exempt from the general 1 MB body limit ([`crate::limits::BODY_LIMIT`]) and
//! from the ingest queue's byte budget: it is never parsed or stored, and its own cap applies.

pub mod http;

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a load request may send or receive, seconds (the agent asks for fewer).
pub const MAX_SECONDS: f64 = 10.0;
/// After the asked-for seconds, how long HQ keeps reading an upload still draining from the
/// line's buffers before it answers with what it has.
pub const DRAIN_SECONDS: f64 = 4.0;
/// Requests one load session may make (the agent's streams up and down).
pub const SESSION_REQUESTS: u32 = 8;
/// How long after its first request a session may make the rest.
pub const SESSION_WINDOW: Duration = Duration::from_secs(30);
/// Devices whose last session is remembered at most (older ones are forgotten first).
const MAX_DEVICES: usize = 100_000;

/// How the load endpoints are limited (`serve`'s `--no-load-test`, `--load-*` flags).
#[derive(Debug, Clone)]
pub struct LoadLimits {
    /// Whether the endpoints are served at all.
    pub enabled: bool,
    /// Bytes one request may move at most.
    pub max_bytes: u64,
    /// Bytes per second all load requests together may move.
    pub bytes_per_second: u64,
    /// One load session per device per this long.
    pub session_interval: Duration,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            enabled: true,
            max_bytes: 8 * 1024 * 1024,
            bytes_per_second: 50 * 1024 * 1024,
            session_interval: Duration::from_secs(60),
        }
    }
}

/// `serve`'s flags for the load endpoints.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Do not serve the load endpoints of the agents' latency-under-load test (their `check`
    /// then skips it and says so).
    #[arg(long)]
    pub no_load_test: bool,
    /// Load test: megabytes one upload or download may move at most.
    #[arg(long, default_value_t = 8, value_name = "MB")]
    pub load_max_mb: u64,
    /// Load test: megabytes per second all agents' load tests together may move (beyond it:
    /// 429 with Retry-After, and the agent skips the test).
    #[arg(long, default_value_t = 50, value_name = "MB")]
    pub load_mb_per_second: u64,
    /// Load test: seconds between two load sessions of one device.
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    pub load_interval_seconds: f64,
}

impl LoadArgs {
    /// The limits, or a usage error naming the flag.
    pub fn limits(&self) -> Result<LoadLimits, String> {
        if !(1..=64).contains(&self.load_max_mb) {
            return Err("--load-max-mb must be between 1 and 64".into());
        }
        if !(1..=100_000).contains(&self.load_mb_per_second) {
            return Err("--load-mb-per-second must be between 1 and 100000".into());
        }
        if !(0.0..=86_400.0).contains(&self.load_interval_seconds) {
            return Err("--load-interval-seconds must be between 0 and 86400".into());
        }
        Ok(LoadLimits {
            enabled: !self.no_load_test,
            max_bytes: self.load_max_mb * 1024 * 1024,
            bytes_per_second: self.load_mb_per_second * 1024 * 1024,
            session_interval: Duration::from_secs_f64(self.load_interval_seconds),
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Session {
    started: Instant,
    requests: u32,
}

#[derive(Debug)]
struct Budget {
    /// Bytes that may be reserved now.
    level: f64,
    at: Instant,
}

/// The load endpoints' state: the limits, each device's last session and the shared budget.
#[derive(Debug)]
pub struct LoadGuard {
    pub limits: LoadLimits,
    sessions: Mutex<HashMap<String, Session>>,
    budget: Mutex<Budget>,
}

impl Default for LoadGuard {
    fn default() -> Self {
        LoadGuard::new(LoadLimits::default())
    }
}

impl LoadGuard {
    pub fn new(limits: LoadLimits) -> LoadGuard {
        let full = Self::capacity(&limits);
        LoadGuard {
            limits,
            sessions: Mutex::new(HashMap::new()),
            budget: Mutex::new(Budget {
                level: full,
                at: Instant::now(),
            }),
        }
    }

    /// The budget's burst: a second's worth, and at least one whole request.
    fn capacity(l: &LoadLimits) -> f64 {
        l.bytes_per_second.max(l.max_bytes) as f64
    }

    /// Lets `device` make one more request of its session, or says how long to wait.
    pub(crate) fn admit(&self, device: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let interval = self.limits.session_interval;
        if let Some(s) = map.get_mut(device) {
            let age = now.duration_since(s.started);
            if age < SESSION_WINDOW && s.requests < SESSION_REQUESTS {
                s.requests += 1;
                return Ok(());
            }
            if age < interval {
                return Err((interval - age).max(Duration::from_secs(1)));
            }
        }
        if map.len() >= MAX_DEVICES {
            map.retain(|_, s| now.duration_since(s.started) < interval.max(SESSION_WINDOW));
            if map.len() >= MAX_DEVICES {
                return Err(Duration::from_secs(1));
            }
        }
        map.insert(
            device.to_string(),
            Session {
                started: now,
                requests: 1,
            },
        );
        Ok(())
    }

    /// Reserves `bytes` of the shared budget, or says how long until it holds them.
    pub(crate) fn reserve(
        self: &Arc<Self>,
        bytes: u64,
        now: Instant,
    ) -> Result<Reservation, Duration> {
        let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        let rate = self.limits.bytes_per_second as f64;
        let full = Self::capacity(&self.limits);
        b.level = (b.level + now.duration_since(b.at).as_secs_f64() * rate).min(full);
        b.at = now;
        let want = bytes as f64;
        if b.level < want {
            return Err(
                Duration::from_secs_f64((want - b.level) / rate).max(Duration::from_secs(1))
            );
        }
        b.level -= want;
        Ok(Reservation {
            guard: self.clone(),
            reserved: bytes,
            used: 0,
        })
    }

    fn refund(&self, bytes: u64) {
        let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        let full = Self::capacity(&self.limits);
        b.level = (b.level + bytes as f64).min(full);
    }
}

/// Bytes of the shared budget held by one request; what it did not move goes back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    guard: Arc<LoadGuard>,
    pub(crate) reserved: u64,
    pub(crate) used: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.guard.refund(self.reserved.saturating_sub(self.used));
    }
}

/// Incompressible filler: xorshift64* (Vigna, "An experimental exploration of Marsaglia's
/// xorshift generators, scrambled", 2016), seeded from the OS. Not for secrets; only so no
/// compressor on the way can shrink the load.
pub(crate) struct Noise(u64);

impl Noise {
    pub(crate) fn seeded() -> Noise {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Noise(u64::from_le_bytes(b) | 1)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Bytes {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            out.extend_from_slice(&self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        out.truncate(n);
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(interval_s: u64) -> LoadLimits {
        LoadLimits {
            enabled: true,
            max_bytes: 1000,
            bytes_per_second: 2000,
            session_interval: Duration::from_secs(interval_s),
        }
    }

    #[test]
    fn one_session_per_device_per_interval() {
        let g = LoadGuard::new(limits(60));
        let t0 = Instant::now();
        for _ in 0..SESSION_REQUESTS {
            g.admit("a", t0).unwrap();
        }
        // The session's requests are spent: wait for the next interval.
        let wait = g.admit("a", t0 + Duration::from_secs(1)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(59));
        // Another device is not held back.
        g.admit("b", t0).unwrap();
        // After the window, no new session until the interval is over.
        let wait = g.admit("b", t0 + Duration::from_secs(40)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        g.admit("a", t0 + Duration::from_secs(60)).unwrap();
    }

    #[test]
    fn the_shared_budget_is_reserved_and_given_back() {
        let g = Arc::new(LoadGuard::new(limits(0)));
        let t0 = Instant::now();
        let a = g.reserve(1000, t0).unwrap();
        let mut b = g.reserve(1000, t0).unwrap();
        // 2000 bytes a second, both reserved: the third waits half a second (rounded up to 1).
        assert_eq!(g.reserve(1000, t0).unwrap_err(), Duration::from_secs(1));
        // `b` moved 400 of its 1000: 600 go back, still short of 1000.
        b.used = 400;
        drop(b);
        assert!(g.reserve(1000, t0).is_err());
        drop(a);
        assert!(g.reserve(1000, t0).is_ok());
    }

    #[test]
    fn the_filler_does_not_compress() {
        // Byte values spread evenly: about n/256 each (a compressible filler would not).
        let b = Noise(0x9E37_79B9_7F4A_7C15).bytes(256 * 1024);
        let mut counts = [0u32; 256];
        for &x in b.iter() {
            counts[x as usize] += 1;
        }
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*lo > 850 && *hi < 1200, "{lo}..{hi}");
    }
}
