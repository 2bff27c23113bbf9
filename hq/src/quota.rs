//! What `POST /api/v1/events` may cost before HQ does any work for it, per device and in total.
//!
//! - **The key first.** A device key is looked up (or found in a short-lived cache of known
//!   keys) from the header alone, before the body is read: a bogus key costs one indexed
//!   lookup and a 401, never the reading or parsing of its body.
//! - **Per-device quotas.** Each device has two token buckets: events per minute (with a
//!   burst) and body bytes per minute (with a burst). A batch beyond them is answered `429`
//!   with `Retry-After`; the agent keeps the batch in its spool and sends it again then, so
//!   nothing is lost, and one device flooding HQ cannot fill its disk or starve the others.
//! - **A byte budget for the ingest queue.** Bodies being read, parsed, queued or written count
//!   against one budget of bytes (beside the queue's bound in jobs); when it is spent HQ
//!   answers `503` with `Retry-After`, which the agent treats as "try again later".
//!
//! The serve flags are [`QuotaArgs`]; their values reach the handler as [`IngestLimits`].

use crate::db::Retention;
use crate::error::AppError;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a known key is trusted without a new lookup. The ingest writer checks every
/// batch's key again in its transaction, so a key revoked within this time is still refused
/// there; this only decides how often a known device costs a lookup of its own (longer than
/// a heartbeat interval, so a heartbeating device costs one lookup in ten minutes).
const KNOWN_FOR: Duration = Duration::from_secs(600);

/// The per-device quotas and the queue's byte budget.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestLimits {
    /// Events a device may send per minute, sustained.
    pub events_per_minute: f64,
    /// Events a device may send at once (a backlog after an outage), at least one batch.
    pub event_burst: f64,
    /// Body bytes a device may send per minute, sustained.
    pub bytes_per_minute: f64,
    /// Body bytes a device may send at once.
    pub byte_burst: f64,
    /// Body bytes of event batches being read, parsed, queued or written at once, over all
    /// devices.
    pub queue_bytes: usize,
    /// How long each kind of event is kept.
    pub retention: Retention,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            events_per_minute: 120.0,
            event_burst: 2000.0,
            bytes_per_minute: 512.0 * 1024.0,
            byte_burst: 4.0 * 1024.0 * 1024.0,
            queue_bytes: 64 * 1024 * 1024,
            retention: Retention::default(),
        }
    }
}

/// `shiftready-hq serve`'s flags for the ingest limits and retention (flattened into its
/// arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct QuotaArgs {
    /// Events one device may send per minute, sustained (beyond it: 429 with Retry-After; the
    /// agent keeps the events and sends them later).
    #[arg(long, default_value_t = 120.0, value_name = "N")]
    pub device_events_per_minute: f64,
    /// Events one device may send at once, e.g. its backlog after an outage (at least 1000,
    /// the largest batch).
    #[arg(long, default_value_t = 2000.0, value_name = "N")]
    pub device_event_burst: f64,
    /// KiB of request bodies one device may send per minute, sustained.
    #[arg(long, default_value_t = 512.0, value_name = "KIB")]
    pub device_kib_per_minute: f64,
    /// KiB of request bodies one device may send at once (at least 1024, the largest body).
    #[arg(long, default_value_t = 4096.0, value_name = "KIB")]
    pub device_kib_burst: f64,
    /// MiB of event batches HQ reads, parses and queues at once over all devices (beyond it:
    /// 503 with Retry-After).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub ingest_queue_mib: usize,
    /// Days heartbeats are kept.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub keep_heartbeats_days: u32,
    /// Days check reports (and their samples for the charts) and call drops are kept.
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub keep_reports_days: u32,
    /// Days incidents are kept.
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub keep_incidents_days: u32,
    /// Days sign-ins and sign-outs (the shift log, a payroll record) are kept: never fewer
    /// than any other kind.
    #[arg(long, default_value_t = 7 * 366, value_name = "DAYS")]
    pub keep_shift_events_days: u32,
    /// Days an agent's per-minute samples (its timeline at full detail) are kept.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub keep_minute_samples_days: u32,
    /// Days the hourly roll-ups of the samples are kept.
    #[arg(long, default_value_t = 366, value_name = "DAYS")]
    pub keep_hourly_samples_days: u32,
    /// Days resolved alerts (with every message's delivery) are kept, counted from when they
    /// resolved; open alerts are kept.
    #[arg(long, default_value_t = 366, value_name = "DAYS")]
    pub keep_alerts_days: u32,
}

impl QuotaArgs {
    /// The limits, or what is wrong with a flag (in words a person can act on).
    pub fn limits(&self) -> Result<IngestLimits, String> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(format!("--{name} must be a number above 0"))
            }
        };
        let events_per_minute =
            positive("device-events-per-minute", self.device_events_per_minute)?;
        let event_burst = positive("device-event-burst", self.device_event_burst)?;
        let kib_per_minute = positive("device-kib-per-minute", self.device_kib_per_minute)?;
        let kib_burst = positive("device-kib-burst", self.device_kib_burst)?;
        if self.ingest_queue_mib == 0 || self.ingest_queue_mib > 64 * 1024 {
            return Err("--ingest-queue-mib must be between 1 and 65536".into());
        }
        let days = [
            ("keep-heartbeats-days", self.keep_heartbeats_days),
            ("keep-reports-days", self.keep_reports_days),
            ("keep-incidents-days", self.keep_incidents_days),
            ("keep-shift-events-days", self.keep_shift_events_days),
        ];
        let sample_days = [
            ("keep-minute-samples-days", self.keep_minute_samples_days),
            ("keep-hourly-samples-days", self.keep_hourly_samples_days),
            ("keep-alerts-days", self.keep_alerts_days),
        ];
        for (name, d) in days.into_iter().chain(sample_days) {
            if d == 0 || d > 100 * 366 {
                return Err(format!("--{name} must be between 1 and 36600 days"));
            }
        }
        if let Some((name, d)) = days[..3]
            .iter()
            .find(|(_, d)| *d > self.keep_shift_events_days)
        {
            return Err(format!(
                "--keep-shift-events-days ({}) is shorter than --{name} ({d}); sign-ins and \
                 sign-outs are payroll records and are kept at least as long as anything else",
                self.keep_shift_events_days
            ));
        }
        let day = 86_400_000i64;
        Ok(IngestLimits {
            events_per_minute,
            event_burst,
            bytes_per_minute: kib_per_minute * 1024.0,
            byte_burst: kib_burst * 1024.0,
            queue_bytes: self.ingest_queue_mib * 1024 * 1024,
            retention: Retention {
                heartbeats_ms: i64::from(self.keep_heartbeats_days) * day,
                reports_ms: i64::from(self.keep_reports_days) * day,
                incidents_ms: i64::from(self.keep_incidents_days) * day,
                shift_events_ms: i64::from(self.keep_shift_events_days) * day,
                minute_samples_ms: i64::from(self.keep_minute_samples_days) * day,
                hourly_samples_ms: i64::from(self.keep_hourly_samples_days) * day,
                alerts_ms: i64::from(self.keep_alerts_days) * day,
            },
        })
    }
}

/// A refusal of the ingest gate: an API error, with the seconds to wait when there is one
/// (sent as `Retry-After`).
#[derive(Debug)]
pub struct Refused {
    pub error: AppError,
    pub retry_after: Option<u64>,
}

impl From<AppError> for Refused {
    fn from(error: AppError) -> Self {
        Refused {
            error,
            retry_after: None,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut resp = self.error.into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// A token bucket that may go into debt: a request is let through when the bucket holds what
/// it costs, or is full (so a batch larger than the burst still passes, once), and then pays
/// in full.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn full(cap: f64, now: Instant) -> Bucket {
        Bucket {
            level: cap,
            at: now,
        }
    }

    fn refill(&mut self, per_minute: f64, cap: f64, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + secs * per_minute / 60.0).min(cap);
        self.at = now;
    }

    /// Seconds until the bucket can pay `cost` (0 when it can now).
    fn wait(&self, cost: f64, per_minute: f64, cap: f64) -> f64 {
        let need = cost.min(cap);
        if self.level >= need {
            0.0
        } else {
            (need - self.level) * 60.0 / per_minute
        }
    }
}

/// A known device's quota state.
#[derive(Debug)]
struct Device {
    checked_at: Instant,
    events: Bucket,
    bytes: Bucket,
}

/// The gate in front of ingest: known keys, per-device buckets, the queue's byte budget.
#[derive(Debug)]
pub struct Gate {
    limits: RwLock<IngestLimits>,
    devices: Mutex<HashMap<String, Device>>,
    queued: Arc<AtomicUsize>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new(IngestLimits::default())
    }
}

/// The bytes of one request held against the queue's budget until it is dropped.
#[derive(Debug)]
pub struct QueueSlot {
    bytes: usize,
    queued: Arc<AtomicUsize>,
}

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.queued.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

fn secs(wait: f64) -> u64 {
    (wait.ceil() as u64).clamp(1, 3600)
}

impl Gate {
    pub fn new(limits: IngestLimits) -> Gate {
        Gate {
            limits: RwLock::new(limits),
            devices: Mutex::new(HashMap::new()),
            queued: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Replaces the limits (`serve` sets its flags' values once, before serving).
    pub fn configure(&self, limits: IngestLimits) {
        *self.limits.write().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    pub fn limits(&self) -> IngestLimits {
        self.limits
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a key (by its hash) was found active within [`KNOWN_FOR`], so it needs no
    /// lookup now.
    pub fn known(&self, key_hash: &str) -> bool {
        let devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        devices
            .get(key_hash)
            .is_some_and(|d| d.checked_at.elapsed() < KNOWN_FOR)
    }

    /// Notes that a lookup found this key active.
    pub fn note_active(&self, key_hash: &str) {
        let l = self.limits();
        let now = Instant::now();
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        devices
            .entry(key_hash.to_string())
            .and_modify(|d| d.checked_at = now)
            .or_insert(Device {
                checked_at: now,
                events: Bucket::full(l.event_burst, now),
                bytes: Bucket::full(l.byte_burst, now),
            });
    }

    /// Forgets a key a lookup found unknown or inactive.
    pub fn forget(&self, key_hash: &str) {
        self.devices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key_hash);
    }

    /// Before the body is read: refuses (429) when the device cannot pay `bytes` now.
    pub fn check_bytes(&self, key_hash: &str, bytes: usize) -> Result<(), Refused> {
        self.take(key_hash, 0, bytes, false)
    }

    /// Charges a batch of `events` in `bytes` to the device, or refuses it (429, charging
    /// nothing) with the seconds until both buckets can pay.
    pub fn charge(&self, key_hash: &str, events: usize, bytes: usize) -> Result<(), Refused> {
        self.take(key_hash, events, bytes, true)
    }

    fn take(&self, key_hash: &str, events: usize, bytes: usize, pay: bool) -> Result<(), Refused> {
        let l = self.limits();
        let now = Instant::now();
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        let d = devices
            .entry(key_hash.to_string())
            .or_insert_with(|| Device {
                checked_at: now,
                events: Bucket::full(l.event_burst, now),
                bytes: Bucket::full(l.byte_burst, now),
            });
        d.events.refill(l.events_per_minute, l.event_burst, now);
        d.bytes.refill(l.bytes_per_minute, l.byte_burst, now);
        let (events, bytes) = (events as f64, bytes as f64);
        let wait_events = d.events.wait(events, l.events_per_minute, l.event_burst);
        let wait_bytes = d.bytes.wait(bytes, l.bytes_per_minute, l.byte_burst);
        let wait = wait_events.max(wait_bytes);
        if wait > 0.0 {
            let what = if wait_events >= wait_bytes {
                format!("{} events a minute", l.events_per_minute)
            } else {
                format!("{} KiB a minute", l.bytes_per_minute / 1024.0)
            };
            return Err(Refused {
                error: AppError::TooManyRequests(format!(
                    "this device sent more than its quota ({what}); the events are kept and \
                     sent again after Retry-After"
                )),
                retry_after: Some(secs(wait)),
            });
        }
        if pay {
            d.events.level -= events;
            d.bytes.level -= bytes;
        }
        Ok(())
    }

    /// Holds `bytes` of the queue's budget until the slot is dropped, or refuses (503 with
    /// Retry-After) when the budget is spent. One request is always let in when nothing else
    /// is held, whatever its size.
    pub fn reserve(&self, bytes: usize) -> Result<QueueSlot, Refused> {
        let budget = self.limits().queue_bytes;
        let mut held = self.queued.load(Ordering::Acquire);
        loop {
            if held > 0 && held.saturating_add(bytes) > budget {
                return Err(Refused {
                    error: AppError::Unavailable(
                        "HQ is busy storing other events; send these again after Retry-After"
                            .into(),
                    ),
                    retry_after: Some(1),
                });
            }
            match self.queued.compare_exchange_weak(
                held,
                held + bytes,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Ok(QueueSlot {
                        bytes,
                        queued: self.queued.clone(),
                    });
                }
                Err(now) => held = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(epm: f64, burst: f64) -> Gate {
        Gate::new(IngestLimits {
            events_per_minute: epm,
            event_burst: burst,
            bytes_per_minute: 60.0 * 1000.0,
            byte_burst: 10_000.0,
            queue_bytes: 1000,
            ..IngestLimits::default()
        })
    }

    #[test]
    fn a_device_gets_its_burst_then_429_with_the_wait_and_others_are_not_charged() {
        let g = gate(60.0, 10.0);
        g.charge("a", 10, 100).unwrap();
        let r = g.charge("a", 3, 100).unwrap_err();
        assert_eq!(r.error.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        // 60 a minute = 1 a second; 3 events need about 3 s.
        assert!(matches!(r.retry_after, Some(2..=3)), "{:?}", r.retry_after);
        g.charge("b", 10, 100).unwrap();
    }

    #[test]
    fn a_batch_larger_than_the_burst_passes_once_when_the_bucket_is_full() {
        let g = gate(60.0, 10.0);
        g.charge("a", 25, 100).unwrap();
        assert!(g.charge("a", 1, 1).is_err());
    }

    #[test]
    fn bytes_are_limited_too() {
        let g = gate(6000.0, 1000.0);
        g.check_bytes("a", 10_000).unwrap();
        g.charge("a", 1, 10_000).unwrap();
        let r = g.check_bytes("a", 5_000).unwrap_err();
        // 1000 bytes a second: 5000 bytes in 5 s.
        assert_eq!(r.retry_after, Some(5));
    }

    #[test]
    fn the_queue_budget_is_held_until_the_slot_is_dropped() {
        let g = gate(60.0, 10.0);
        let a = g.reserve(5000).unwrap(); // alone: let in whatever its size
        let r = g.reserve(1).unwrap_err();
        assert_eq!(
            r.error.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(r.retry_after, Some(1));
        drop(a);
        let _b = g.reserve(600).unwrap();
        let _c = g.reserve(400).unwrap();
        assert!(g.reserve(1).is_err());
    }

    #[test]
    fn shift_events_are_never_kept_shorter_than_the_rest() {
        let mut a = QuotaArgs {
            device_events_per_minute: 120.0,
            device_event_burst: 2000.0,
            device_kib_per_minute: 512.0,
            device_kib_burst: 4096.0,
            ingest_queue_mib: 64,
            keep_heartbeats_days: 7,
            keep_reports_days: 90,
            keep_incidents_days: 90,
            keep_shift_events_days: 7 * 366,
            keep_minute_samples_days: 30,
            keep_hourly_samples_days: 366,
            keep_alerts_days: 366,
        };
        let l = a.limits().unwrap();
        assert_eq!(l.retention, Retention::default());
        a.keep_shift_events_days = 30;
        let e = a.limits().unwrap_err();
        assert!(e.contains("--keep-reports-days"), "{e}");
        a.keep_shift_events_days = 90;
        a.device_events_per_minute = 0.0;
        assert!(
            a.limits()
                .unwrap_err()
                .contains("--device-events-per-minute")
        );
    }
}
