//! What a person sees on the terminal: the live progress while checks run, the report table
//! after, and the daemon's status. `--json` output never goes through here.

use crate::ipc::StatusInfo;
use chrono::{DateTime, Utc};
use console::{Style, Term};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use proto::{CheckResult, Readiness, Report, Status};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether to colour output: stdout is a terminal and `NO_COLOR` is not set.
pub fn use_color() -> bool {
    Term::stdout().is_term() && std::env::var_os("NO_COLOR").is_none()
}

/// The mark of a status: shape and word, so it reads without colour too.
pub fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "✔ pass",
        Status::Warn => "! warn",
        Status::Fail => "✘ fail",
        Status::Error => "? error",
    }
}

fn style(status: Status) -> Style {
    match status {
        Status::Pass => Style::new().green(),
        Status::Warn => Style::new().yellow(),
        Status::Fail => Style::new().red().bold(),
        Status::Error => Style::new().magenta(),
    }
}

fn fmt_value(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                if f.abs() >= 100.0 {
                    format!("{f:.0}")
                } else {
                    format!("{f:.1}")
                }
            }
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Null => "n/a".into(),
        other => other.to_string(),
    }
}

/// The key figures of a check on one line, e.g. `RTT 23 ms · jitter 1.2/0.8 ms · MOS 4.4`.
pub fn key_figures(name: &str, r: &CheckResult) -> String {
    let m = &r.metrics;
    let get = |k: &str| m.get(k).map(fmt_value);
    let pick: &[(&str, &str, &str)] = match name {
        "os" => &[("name", "", ""), ("version", "", ""), ("arch", "", "")],
        "hardware" => &[
            ("cpu_load_pct", "CPU ", " %"),
            ("cpu_cores", "", " cores"),
            ("memory_used_pct", "RAM ", " % used"),
            ("disk_free_gb", "disk ", " GB free"),
            ("power", "power: ", ""),
        ],
        "network" => &[
            ("rtt_ms_median", "RTT ", " ms"),
            ("jitter_up_ms", "jitter ↑", " ms"),
            ("jitter_down_ms", "↓", " ms"),
            ("loss_up_pct", "loss ↑", " %"),
            ("loss_down_pct", "↓", " %"),
            ("mos", "MOS ", ""),
        ],
        "headset" => &[("headset_name", "", ""), ("transport", "", "")],
        "noise" => &[
            ("laeq_dbfs", "", " dBFS(A)"),
            ("l90_dbfs", "floor ", " dBFS(A)"),
            ("classification", "", ""),
        ],
        _ => &[],
    };
    let parts: Vec<String> = pick
        .iter()
        .filter_map(|(k, pre, post)| get(k).map(|v| format!("{pre}{v}{post}")))
        .filter(|s| !s.is_empty() && s != "n/a")
        .collect();
    parts.join(" · ")
}

/// One check as a line (plus its hint when it did not pass).
pub fn render_check(name: &str, r: &CheckResult, color: bool) -> String {
    let mut out = String::new();
    let m = format!("{:<8}", mark(r.status));
    let m = if color {
        style(r.status).apply_to(m).to_string()
    } else {
        m
    };
    let _ = writeln!(out, "  {m} {name:<9} {}", key_figures(name, r));
    if r.status != Status::Pass && !r.hint.is_empty() {
        let _ = writeln!(out, "             → {}", r.hint);
    }
    out
}

/// The whole report as a table a home agent can act on.
pub fn render_report(report: &Report, color: bool) -> String {
    let mut out = String::new();
    let (headline, st) = match report.readiness {
        Readiness::Ready => ("READY for calls", Status::Pass),
        Readiness::Degraded => ("READY, with warnings: fix these when you can", Status::Warn),
        Readiness::NotReady => ("NOT READY for calls: fix the items marked ✘", Status::Fail),
        Readiness::Unknown => ("UNKNOWN: some checks could not run", Status::Error),
    };
    let headline = if color {
        style(st).bold().apply_to(headline).to_string()
    } else {
        headline.to_string()
    };
    let _ = writeln!(out, "ShiftReady: {headline}\n");
    for name in proto::report::CHECK_NAMES {
        if let Some(r) = report.checks.get(name) {
            out.push_str(&render_check(name, r, color));
        }
    }
    out
}

/// The live progress lines shown while checks run on a terminal.
pub struct LiveProgress {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl LiveProgress {
    /// `None` when stdout is not a terminal: nothing is drawn then.
    pub fn new() -> Option<Arc<LiveProgress>> {
        if !Term::stdout().is_term() {
            return None;
        }
        Some(Arc::new(LiveProgress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: Mutex::new(HashMap::new()),
        }))
    }

    /// Removes the progress lines before the report is printed.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl crate::checks::Progress for LiveProgress {
    fn started(&self, name: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("{name:<9} checking…"));
        bar.enable_steady_tick(Duration::from_millis(100));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(name.to_string(), bar);
        }
    }

    fn finished(&self, name: &str, result: &CheckResult) {
        if let Some(bar) = self.bars.lock().ok().and_then(|mut b| b.remove(name)) {
            bar.set_style(
                ProgressStyle::with_template("  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.finish_with_message(format!("{:<8} {name}", mark(result.status)));
        }
    }
}

/// The human form of `status`.
pub fn render_status(s: &StatusInfo) -> String {
    let when = |t: DateTime<Utc>| {
        t.with_timezone(&chrono::Local)
            .format("%a %Y-%m-%d %H:%M")
            .to_string()
    };
    let mut o = String::new();
    o.push_str(&format!("State:      {}\n", s.state.replace('_', " ")));
    o.push_str(&format!(
        "Signed in:  {}\nReadiness:  {}\n",
        if s.signed_in { "yes" } else { "no" },
        s.readiness.as_str().replace('_', " ")
    ));
    match s.shift {
        Some(w) => o.push_str(&format!("Shift:      until {}\n", when(w.end))),
        None => o.push_str("Shift:      none now\n"),
    }
    if let Some(w) = s.next_shift {
        o.push_str(&format!(
            "Next shift: {} – {}\n",
            when(w.start),
            when(w.end)
        ));
    }
    o.push_str(&format!(
        "HQ:         {} ({} event(s) waiting)\n",
        s.hq, s.spool_events
    ));
    if !s.incidents.is_empty() {
        o.push_str(&format!("Incidents:  {}\n", s.incidents.join(", ")));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn hint_shown_only_for_checks_that_did_not_pass() {
        let mut checks = BTreeMap::new();
        checks.insert("os".into(), CheckResult::new(Status::Pass, "nothing to do"));
        checks.insert(
            "headset".into(),
            CheckResult::new(Status::Fail, "Plug in your headset.").with("headset_name", "none"),
        );
        let text = render_report(&Report::new(checks), false);
        assert!(text.contains("NOT READY"), "{text}");
        assert!(text.contains("→ Plug in your headset."), "{text}");
        assert!(!text.contains("nothing to do"), "{text}");
        assert!(text.find("os").unwrap() < text.find("headset").unwrap());
    }
}
    if s.quarantined > 0 {
        o.push_str(&format!(
            "Set aside:  {} event(s) HQ refused for good (kept in the spool's quarantine)\n",
            s.quarantined
        ));
    }
    if let Some(m) = &s.enroll_again {
        o.push_str(&format!(
            "{m}\n            Delivery to HQ is paused; no event is lost, it resumes after enrolling.\n"
        ));
    }
