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

use crate::auth::DeviceKey;
use crate::error::AppError;
use crate::quota::Refused;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use proto::api::LoadUploadAck;
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
/// Bytes per chunk of the download.
const CHUNK: usize = 64 * 1024;

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
    fn admit(&self, device: &str, now: Instant) -> Result<(), Duration> {
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
    fn reserve(self: &Arc<Self>, bytes: u64, now: Instant) -> Result<Reservation, Duration> {
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
struct Reservation {
    guard: Arc<LoadGuard>,
    reserved: u64,
    used: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.guard.refund(self.reserved.saturating_sub(self.used));
    }
}

/// The routes under `/api/v1/load`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/upload",
            // The general body limit does not apply: the upload has its own cap, counted as
            // it is read (never buffered).
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/download", get(download))
}

/// `?bytes=N&seconds=S`, both optional.
fn parse_query(q: Option<&str>, max_bytes: u64) -> Result<(u64, f64), AppError> {
    let (mut bytes, mut seconds) = (max_bytes, MAX_SECONDS);
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "bytes" => {
                bytes = v
                    .parse::<u64>()
                    .ok()
                    .filter(|b| (1..=max_bytes).contains(b))
                    .ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "bytes must be a whole number between 1 and {max_bytes}"
                        ))
                    })?
            }
            "seconds" => {
                seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| (0.1..=MAX_SECONDS).contains(s))
                    .ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "seconds must be a number between 0.1 and {MAX_SECONDS}"
                        ))
                    })?
            }
            _ => {
                return Err(AppError::BadRequest(format!(
                    "unknown parameter '{}'; the load endpoints take bytes and seconds",
                    k.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    Ok((bytes, seconds))
}

fn too_many(error: &str, wait: Duration) -> Refused {
    Refused {
        error: AppError::TooManyRequests(error.into()),
        retry_after: Some(wait.as_secs_f64().ceil() as u64),
    }
}

/// Everything before a load request moves a byte: switched on, an active device's key, its
/// session, the parameters, the shared budget.
async fn admit(
    st: &AppState,
    key: &str,
    query: Option<&str>,
    declared: Option<u64>,
) -> Result<(u64, f64, Reservation), Refused> {
    let guard = &st.load;
    if !guard.limits.enabled {
        return Err(AppError::NotFound(
            "HQ's load test is switched off (serve --no-load-test); agents skip it".into(),
        )
        .into());
    }
    let device = match st.db.device_by_key(key).await.map_err(AppError::from)? {
        None => return Err(AppError::unknown_key().into()),
        Some((_, _, status)) if status != proto::DeviceStatus::Active.as_str() => {
            return Err(AppError::inactive(&status).into());
        }
        Some((device_id, _, _)) => device_id,
    };
    let (bytes, seconds) = parse_query(query, guard.limits.max_bytes)?;
    if let Some(n) = declared.filter(|n| *n > guard.limits.max_bytes) {
        return Err(AppError::TooLarge(format!(
            "the body is {n} bytes; a load upload may be at most {} bytes",
            guard.limits.max_bytes
        ))
        .into());
    }
    let now = Instant::now();
    guard.admit(&device, now).map_err(|wait| {
        too_many(
            "this device ran a load test a moment ago; one load test a device per interval",
            wait,
        )
    })?;
    let reservation = guard
        .reserve(declared.unwrap_or(bytes).min(bytes), now)
        .map_err(|wait| {
            too_many(
                "HQ is serving other load tests; try again after Retry-After",
                wait,
            )
        })?;
    Ok((bytes, seconds, reservation))
}

/// `POST /api/v1/load/upload?bytes=N&seconds=S`: reads and discards the body (at most N bytes,
/// for at most S seconds and [`DRAIN_SECONDS`] more), answers what arrived and over how long.
pub async fn upload(
    State(st): State<AppState>,
    DeviceKey(key): DeviceKey,
    RawQuery(query): RawQuery,
    req: Request,
) -> Result<Json<LoadUploadAck>, Refused> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (cap, seconds, mut reservation) = admit(&st, &key, query.as_deref(), declared).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds + DRAIN_SECONDS);
    let mut body = req.into_body().into_data_stream();
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    let mut n: u64 = 0;
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            // Time is up: answer with what came (the rest of the body is not read).
            Err(_) | Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(AppError::BadRequest(format!("the upload broke off: {e}")).into());
            }
            Ok(Some(Ok(chunk))) => {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                n += chunk.len() as u64;
                reservation.used = n.min(reservation.reserved);
                if n > cap {
                    return Err(AppError::TooLarge(format!(
                        "the upload passed its cap of {cap} bytes"
                    ))
                    .into());
                }
            }
        }
    }
    let seconds = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    Ok(Json(LoadUploadAck { bytes: n, seconds }))
}

/// `GET /api/v1/load/download?bytes=N&seconds=S`: N bytes of random data (incompressible),
/// ending early after S seconds; the agent stops reading when it has measured enough.
pub async fn download(
    State(st): State<AppState>,
    DeviceKey(key): DeviceKey,
    RawQuery(query): RawQuery,
) -> Result<Response, Refused> {
    let (bytes, seconds, reservation) = admit(&st, &key, query.as_deref(), None).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let state = Source {
        left: bytes,
        deadline,
        rng: Noise::seeded(),
        reservation,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        if s.left == 0 || Instant::now() >= s.deadline {
            return None;
        }
        let n = (s.left as usize).min(CHUNK);
        let chunk = s.rng.bytes(n);
        s.left -= n as u64;
        s.reservation.used += n as u64;
        Some((Ok::<Bytes, std::io::Error>(chunk), s))
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The download's state: what is left to send, until when, and its share of the budget.
struct Source {
    left: u64,
    deadline: Instant,
    rng: Noise,
    reservation: Reservation,
}

/// Incompressible filler: xorshift64* (Vigna, "An experimental exploration of Marsaglia's
/// xorshift generators, scrambled", 2016), seeded from the OS. Not for secrets; only so no
/// compressor on the way can shrink the load.
struct Noise(u64);

impl Noise {
    fn seeded() -> Noise {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Noise(u64::from_le_bytes(b) | 1)
    }

    fn bytes(&mut self, n: usize) -> Bytes {
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
    fn query_is_bounded() {
        assert_eq!(parse_query(None, 1000).unwrap(), (1000, MAX_SECONDS));
        assert_eq!(
            parse_query(Some("bytes=10&seconds=2.5"), 1000).unwrap(),
            (10, 2.5)
        );
        assert!(parse_query(Some("bytes=1001"), 1000).is_err());
        assert!(parse_query(Some("seconds=11"), 1000).is_err());
        assert!(parse_query(Some("seconds=nan"), 1000).is_err());
        assert!(parse_query(Some("x=1"), 1000).is_err());
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
