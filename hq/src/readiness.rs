//! One truth about an agent's readiness, for every place HQ shows it: the fleet row, the agent
//! page, the API (`/api/v1/agents`, `/agents/{id}`) and the CSV.
//!
//! Its source is the latest of the agent's report, heartbeat and shift event (each carries a
//! readiness), with that time. A heartbeat that says `unknown` carries no check result (the
//! daemon has not checked since it started), so it does not hide the last report's result: the
//! SQL of [`crate::db`] applies that rule (the state the fleet filters and counts by), and
//! [`derive`] reads what the SQL chose and adds the time, the source and what to fix, which
//! must agree with the readiness: the report's most serious problem when the report is the
//! source or says the same, nothing when ready.

use serde::Serialize;

/// Where the readiness comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The last report (a full check, with what to fix).
    Report,
    /// A later heartbeat or sign-in/out (the agent's in-shift monitoring).
    Heartbeat,
}

/// What a device row holds about its readiness (times in ms).
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// The readiness the SQL chose ([`crate::db`]'s `readiness_sql`).
    pub readiness: Option<&'a str>,
    /// The stored latest readiness of a report, heartbeat or shift event, and its time.
    pub stored: Option<&'a str>,
    pub stored_at: Option<i64>,
    /// The last report's time by the agent's clock and by HQ's (received).
    pub report_at: Option<i64>,
    pub report_received_at: Option<i64>,
    /// The last report's most serious problem (`ingest::problem_of`: `"{check} {status}:
    /// {hint}"`).
    pub problem: Option<&'a str>,
    /// The device's status (`active`, `revoked`, `reenroll`).
    pub status: &'a str,
}

/// The one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    pub readiness: Option<String>,
    /// When the source said it (ms).
    pub at: Option<i64>,
    pub source: Option<Source>,
    /// What to fix, in words; `None` when ready or nothing is known.
    pub fix: Option<String>,
}

/// The symbol and the word for a state or readiness, everywhere HQ shows one.
pub fn state_label(state: &str) -> (&'static str, &'static str) {
    match state {
        "ready" => ("✓", "Ready"),
        "degraded" => ("!", "Degraded"),
        "not_ready" => ("✗", "Not ready"),
        "offline" => ("⌁", "Offline"),
        "idle" => ("◦", "Idle (not signed in)"),
        "revoked" => ("⊘", "Revoked"),
        "reenroll" => ("↻", "Must re-enroll"),
        _ => ("?", "Unknown"),
    }
}

/// The readiness of a report whose most serious problem is `problem` (the order of
/// `ingest::problem_of`: a failure, else a check that could not run, else a warning; the round
/// trip is tested in `tests/api.rs`).
pub fn report_readiness(problem: Option<&str>) -> &'static str {
    let Some(p) = problem else { return "ready" };
    let status = p
        .split(':')
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .unwrap_or("");
    match status {
        "fail" => "not_ready",
        "warn" => "degraded",
        _ => "unknown",
    }
}

/// The readiness, its time and source, and what to fix, from one device row.
pub fn derive(f: &Facts<'_>) -> Truth {
    let Some(readiness) = f.readiness else {
        return Truth {
            readiness: None,
            at: None,
            source: None,
            fix: None,
        };
    };
    // The report's time as ingest orders it: the agent's, never later than HQ's receipt.
    let report_t = match (f.report_at, f.report_received_at) {
        (Some(a), Some(r)) => Some(a.min(r)),
        (a, r) => a.or(r),
    };
    let from_report = report_t.is_some()
        && (f
            .stored
            .is_none_or(|s| s == "unknown" && readiness != "unknown")
            || f.stored_at.zip(report_t).is_some_and(|(s, r)| s <= r));
    let (source, at) = if from_report {
        (Source::Report, report_t)
    } else {
        (Source::Heartbeat, f.stored_at)
    };
    let fix = if readiness == "ready" || f.status != "active" {
        None
    } else if report_t.is_some()
        && (source == Source::Report || report_readiness(f.problem) == readiness)
    {
        f.problem.map(str::to_string)
    } else {
        Some(match readiness {
            "unknown" => "not checked yet: the agent has sent no report".to_string(),
            _ => format!(
                "{} by in-shift monitoring; the agent's next check will say what to fix",
                state_label(readiness).1
            ),
        })
    };
    Truth {
        readiness: Some(readiness.to_string()),
        at,
        source: Some(source),
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        readiness: &'a str,
        stored: &'a str,
        stored_at: i64,
        report_at: i64,
        problem: Option<&'a str>,
    ) -> Facts<'a> {
        Facts {
            readiness: Some(readiness),
            stored: Some(stored),
            stored_at: Some(stored_at),
            report_at: Some(report_at),
            report_received_at: Some(report_at + 50),
            problem,
            status: "active",
        }
    }

    #[test]
    fn a_not_ready_report_after_an_unknown_heartbeat_is_the_truth() {
        let p = "hardware fail: Plug in a microphone.";
        // The SQL chose not_ready over the heartbeat's unknown: the report is the source.
        let t = derive(&facts("not_ready", "unknown", 2_000, 1_000, Some(p)));
        assert_eq!(t.readiness.as_deref(), Some("not_ready"));
        assert_eq!(t.source, Some(Source::Report));
        assert_eq!(t.at, Some(1_000));
        assert_eq!(t.fix.as_deref(), Some(p));
    }

    #[test]
    fn a_later_heartbeat_wins_and_the_fix_never_contradicts_it() {
        let p = "hardware fail: Plug in a microphone.";
        // Ready since: nothing to fix, even though the old report failed.
        let t = derive(&facts("ready", "ready", 5_000, 1_000, Some(p)));
        assert_eq!(
            (t.source, t.at, t.fix),
            (Some(Source::Heartbeat), Some(5_000), None)
        );
        // Not ready by the heartbeat as by the report: the report's problem still holds.
        let t = derive(&facts("not_ready", "not_ready", 5_000, 1_000, Some(p)));
        assert_eq!(t.fix.as_deref(), Some(p));
        // Degraded by monitoring after a failed report: not the report's failure.
        let t = derive(&facts("degraded", "degraded", 5_000, 1_000, Some(p)));
        assert!(
            t.fix
                .as_deref()
                .unwrap()
                .starts_with("Degraded by in-shift monitoring")
        );
        // The report is the latest: it is the source.
        let t = derive(&facts("not_ready", "not_ready", 1_000, 1_000, Some(p)));
        assert_eq!(t.source, Some(Source::Report));
        // A revoked device has nothing to fix; one never heard from has no readiness.
        let mut f = facts("not_ready", "not_ready", 1_000, 1_000, Some(p));
        f.status = "revoked";
        assert_eq!(derive(&f).fix, None);
        assert_eq!(derive(&Facts::default()).readiness, None);
    }
}
