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

/// The bearer token `/metrics` requires, when `serve --metrics-token-file` gave one: set once,
/// at start, for the whole process.
static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Makes `/metrics` require `Authorization: Bearer TOKEN` (call once, before serving).
pub fn require_token(token: String) -> Result<(), String> {
    TOKEN
        .set(token)
        .map_err(|_| "the metrics token is already set".to_string())
}

/// The token `/metrics` requires, if any.
pub fn required_token() -> Option<&'static str> {
    TOKEN.get().map(String::as_str)
}

/// Reads the metrics token from a file: its first line, without surrounding whitespace; at
/// least 16 characters, so a guessable token is refused at start rather than served.
pub fn read_token_file(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--metrics-token-file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < 16 {
        return Err(format!(
            "--metrics-token-file {}: the token on its first line must be at least 16 characters \
             (for example the output of `openssl rand -hex 32`)",
            path.display()
        ));
    }
    Ok(token)
}

/// One Prometheus label value, escaped (`\`, `"` and newlines).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        ("idle", s.idle),
        ("offline", s.offline),
        ("inactive", s.inactive),
    ] {
        let _ = writeln!(out, "shiftready_agents{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP shiftready_build_info This HQ's version.\n# TYPE shiftready_build_info gauge\n\
         shiftready_build_info{{version=\"{}\"}} 1",
        label(env!("CARGO_PKG_VERSION"))
    );
    let _ = writeln!(
        out,
        "# HELP shiftready_site_agents Enrolled agents by site and state.\n\
         # TYPE shiftready_site_agents gauge"
    );
    for (site, state, n) in site_counts(db).await? {
        let _ = writeln!(
            out,
            "shiftready_site_agents{{site=\"{}\",state=\"{state}\"}} {n}",
            label(&site)
        );
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
    crate::alerts::gauges::render(db, &mut out).await?;
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

/// Agents per site and state (`ready`, `degraded`, `not_ready`, `unknown`, `offline`; revoked
/// and must-re-enroll devices are `inactive`, as in `shiftready_agents`), from the fleet list
/// itself so the numbers are the fleet page's. Every state of every site is listed, 0
/// included, so a series never disappears.
async fn site_counts(db: &Db) -> anyhow::Result<Vec<(String, &'static str, i64)>> {
    let (agents, _) = db
        .fleet(crate::db::now_ms(), &crate::db::FleetFilter::default())
        .await?;
    let mut counts = std::collections::BTreeMap::<(String, &'static str), i64>::new();
    for (site, _) in db.sites().await? {
        for st in SITE_STATES {
            counts.insert((site.clone(), st), 0);
        }
    }
    for a in agents {
        let st = SITE_STATES
            .into_iter()
            .find(|s| *s == a.state)
            .unwrap_or("inactive");
        *counts.entry((a.site, st)).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .map(|((site, st), n)| (site, st, n))
        .collect())
}

/// The states of `shiftready_site_agents` (revoked and must-re-enroll devices are `inactive`,
/// as in `shiftready_agents`).
const SITE_STATES: [&str; 7] = [
    "ready",
    "degraded",
    "not_ready",
    "unknown",
    "idle",
    "offline",
    "inactive",
];
