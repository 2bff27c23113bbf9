//! Prometheus text metrics: this process's counters, the fleet gauges read from the database
//! (so every HQ process reports the same fleet), and the reflector's counters.

use crate::db::Db;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// This process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub http_2xx: AtomicU64,
    pub http_3xx: AtomicU64,
    pub http_4xx: AtomicU64,
    pub http_5xx: AtomicU64,
    pub events_accepted: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_rejected: AtomicU64,
    pub batches_written: AtomicU64,
    pub enroll_ok: AtomicU64,
    pub enroll_rejected: AtomicU64,
    pub lost_contact_signouts: AtomicU64,
    pub connector_pushes: crate::outbox::PushCounts,
}

impl Metrics {
    pub fn count_status(&self, status: u16) {
        let c = match status {
            200..=299 => &self.http_2xx,
            300..=399 => &self.http_3xx,
            400..=499 => &self.http_4xx,
            _ => &self.http_5xx,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Renders every metric in the Prometheus text format.
pub async fn render(
    db: &Db,
    m: &Metrics,
    reflector: Option<&crate::reflector::ReflectorStats>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let s = db.fleet_summary(crate::db::now_ms()).await?;
    out.push_str(
        "# HELP shiftready_agents Enrolled agents by state.\n# TYPE shiftready_agents gauge\n",
    );
    for (state, n) in [
        ("ready", s.ready),
        ("degraded", s.degraded),
        ("not_ready", s.not_ready),
        ("unknown", s.unknown),
        ("offline", s.offline),
        ("inactive", s.inactive),
    ] {
        let _ = writeln!(out, "shiftready_agents{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP shiftready_agents_signed_in Agents signed in to a shift now.\n\
         # TYPE shiftready_agents_signed_in gauge\nshiftready_agents_signed_in {}",
        s.signed_in
    );
    out.push_str("# HELP shiftready_http_responses_total HTTP responses by status class.\n# TYPE shiftready_http_responses_total counter\n");
    for (class, c) in [
        ("2xx", &m.http_2xx),
        ("3xx", &m.http_3xx),
        ("4xx", &m.http_4xx),
        ("5xx", &m.http_5xx),
    ] {
        let _ = writeln!(
            out,
            "shiftready_http_responses_total{{class=\"{class}\"}} {}",
            c.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP shiftready_events_total Events received, by outcome.\n# TYPE shiftready_events_total counter\n");
    for (outcome, c) in [
        ("stored", &m.events_accepted),
        ("duplicate", &m.events_duplicate),
        ("rejected", &m.events_rejected),
    ] {
        let _ = writeln!(
            out,
            "shiftready_events_total{{outcome=\"{outcome}\"}} {}",
            c.load(Ordering::Relaxed)
        );
    }
    for (name, help, c) in [
        (
            "ingest_transactions_total",
            "Transactions the ingest writer committed or tried.",
            &m.batches_written,
        ),
        ("enrollments_total", "Devices enrolled.", &m.enroll_ok),
        (
            "enrollments_rejected_total",
            "Enrollment attempts refused (bad secret or rate limit).",
            &m.enroll_rejected,
        ),
        (
            "lost_contact_signouts_total",
            "Agents this process signed out for lost contact.",
            &m.lost_contact_signouts,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP shiftready_{name} {help}\n# TYPE shiftready_{name} counter\nshiftready_{name} {}",
            c.load(Ordering::Relaxed)
        );
    }
    m.connector_pushes.render(&mut out);
    if let Some(r) = reflector {
        for (name, help, value) in r.snapshot().metrics() {
            let (full, kind) = if name == "senders" {
                (format!("shiftready_reflector_{name}"), "gauge")
            } else {
                (format!("shiftready_reflector_{name}_total"), "counter")
            };
            let _ = writeln!(
                out,
                "# HELP {full} {help}\n# TYPE {full} {kind}\n{full} {value}"
            );
        }
    }
    Ok(out)
}
