//! What a person sees on the terminal: the live progress while checks run, the report table
//! after, and the daemon's status. `--json` output never goes through here.

use crate::i18n::{self, tr, trm};
use crate::ipc::StatusInfo;
use chrono::{DateTime, Utc};
use console::{Style, Term};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use proto::{CheckResult, DaemonState, Msg, MsgArg, Policy, Readiness, Report, Status};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether to colour output: stdout is a terminal and `NO_COLOR` is not set.
pub fn use_color() -> bool {
    Term::stdout().is_term() && std::env::var_os("NO_COLOR").is_none()
}

/// The mark of a status: shape and word, so it reads without colour too; in the agent's
/// language.
pub fn mark(status: Status) -> String {
    tr(match status {
        Status::Pass => "mark-pass",
        Status::Warn => "mark-warn",
        Status::Fail => "mark-fail",
        Status::Error => "mark-error",
    })
}

/// The width the marks are padded to: 8 in English, more where a word is longer.
fn mark_width() -> usize {
    [Status::Pass, Status::Warn, Status::Fail, Status::Error]
        .map(|s| mark(s).chars().count() + 1)
        .into_iter()
        .fold(8, usize::max)
}

/// A check's name as shown ("os", "hardware"; "system", "dator" in Swedish).
pub fn check_title(name: &str) -> String {
    i18n::check_title(i18n::current(), name)
}

/// The width the check names are padded to: 9 in English, more where a name is longer.
fn title_width() -> usize {
    proto::report::CHECK_NAMES
        .iter()
        .map(|n| check_title(n).chars().count())
        .fold(9, usize::max)
}

/// A number with `decimals` decimals, the agent's language's way ("7.5" / "7,5").
fn num(v: f64, decimals: u8) -> String {
    i18n::number(v, decimals)
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
                    num(f, 0)
                } else {
                    num(f, 1)
                }
            }
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Bool(b) => tr(if *b { "value-yes" } else { "value-no" }),
        Value::Null => tr("value-none"),
        other => other.to_string(),
    }
}

/// `n` and the noun, plural when it is not 1 ("1 event", "2 events").
pub fn plural(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A level in dB with a real minus sign, to the whole dB ("−38").
fn db(v: f64) -> String {
    let r = v.round();
    if r < 0.0 {
        format!("\u{2212}{}", -r)
    } else {
        format!("{r}")
    }
}

/// What a noise class means, in words (in the agent's language).
pub fn noise_class_words(class: &str) -> String {
    let id = match class {
        "quiet" => "noise-class-quiet",
        "steady_noise" => "noise-class-steady",
        "hum" => "noise-class-hum",
        "voices" => "noise-class-voices",
        "impulsive" => "noise-class-impulsive",
        "dead_input" => "noise-class-dead-input",
        other => return other.to_string(),
    };
    tr(id)
}

/// The figures of the network check: those measured, then once what could not be measured.
fn network_figures(r: &CheckResult) -> Vec<String> {
    let f = |k: &str| r.metric_f64(k);
    let ms = |v: f64| format!("{} ms", fmt_value(&Value::from(v)));
    let pct = |v: f64| format!("{} %", fmt_value(&Value::from(v)));
    let pair = |up: Option<f64>, down: Option<f64>, unit: &dyn Fn(f64) -> String| {
        let parts: Vec<String> = [("↑", up), ("↓", down)]
            .into_iter()
            .filter_map(|(arrow, v)| v.map(|v| format!("{arrow}{}", unit(v))))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    let figures = [
        (tr("fig-rtt"), f("rtt_ms_median").map(ms)),
        (
            tr("fig-jitter"),
            pair(f("jitter_up_ms"), f("jitter_down_ms"), &ms),
        ),
        (
            tr("fig-loss"),
            pair(f("loss_up_pct"), f("loss_down_pct"), &pct),
        ),
        (tr("fig-mos"), f("mos").map(|m| num(m, 1))),
    ];
    let mut out: Vec<String> = figures
        .iter()
        .filter_map(|(label, v)| v.as_ref().map(|v| format!("{label} {v}")))
        .collect();
    // Only for a probe that ran: a check that could not run has no figures to miss.
    let ran = r.metrics.contains_key("rtt_ms_median");
    let missing: Vec<&str> = figures
        .iter()
        .filter(|(_, v)| ran && v.is_none())
        .map(|(label, _)| label.as_str())
        .collect();
    if !missing.is_empty() {
        out.push(trm(
            &Msg::new("fig-not-measured").text("what", missing.join(", "))
        ));
    }
    out
}

/// The figures of the noise check: the level against the site's limit and what was heard.
fn noise_figures(r: &CheckResult, policy: Option<&Policy>) -> Vec<String> {
    let class = r.metrics.get("classification").and_then(Value::as_str);
    let level = r
        .metric_f64("laeq_calibrated_db")
        .or_else(|| r.metric_f64("laeq_dbfs"));
    let mut out = Vec::new();
    match level {
        _ if class == Some("dead_input") => out.push(tr("noise-class-dead-input")),
        Some(l) if l <= -150.0 => out.push(tr("noise-class-dead-input")),
        Some(l) => {
            let level = match policy {
                Some(p) => Msg::new("fig-level-limit")
                    .text("level", db(l))
                    .text("limit", db(p.noise.laeq_dbfs_a.warn)),
                None => Msg::new("fig-level").text("level", db(l)),
            };
            out.push(trm(&level));
            if let Some(c) = class {
                out.push(noise_class_words(c));
            }
        }
        None => {}
    }
    out
}

/// The key figures of a check on one line, e.g. `RTT 23 ms · jitter ↑1.2 ms ↓0.8 ms · MOS
/// 4.4`: only what was measured, and once what could not be.
pub fn key_figures(name: &str, r: &CheckResult, policy: Option<&Policy>) -> String {
    let m = &r.metrics;
    let get = |k: &str| m.get(k).filter(|v| !v.is_null()).map(fmt_value);
    // (metric, the message showing it as $v; "" shows the value alone)
    let pick: &[(&str, &str)] = match name {
        "network" => return network_figures(r).join(" · "),
        "noise" => return noise_figures(r, policy).join(" · "),
        "os" => &[("name", ""), ("version", ""), ("arch", "")],
        "hardware" => &[
            ("cpu_load_pct", "fig-cpu"),
            ("cpu_cores", "fig-cores"),
            ("memory_used_pct", "fig-ram"),
            ("disk_free_gb", "fig-disk"),
            ("power", "fig-power"),
        ],
        "headset" => &[("headset_name", ""), ("transport", "")],
        _ => &[],
    };
    let parts: Vec<String> = pick
        .iter()
        .filter_map(|(k, id)| {
            let v = get(k)?;
            let v = match (*k, v.as_str()) {
                ("power", "unknown") => return None,
                ("power", "ac") => tr("power-ac"),
                ("power", "battery") => tr("power-battery"),
                ("transport", "usb") => "USB".to_string(),
                ("transport", "bluetooth") => "Bluetooth".to_string(),
                ("transport", "built_in") => tr("transport-built-in"),
                ("transport", "unknown") => return None,
                _ => v,
            };
            if id.is_empty() {
                return Some(v);
            }
            let arg = match (*k, m.get(*k).and_then(Value::as_i64)) {
                ("cpu_cores", Some(n)) => MsgArg::Count(n),
                _ => MsgArg::Text(v),
            };
            Some(trm(&Msg::new(id).arg("v", arg)))
        })
        .filter(|s| !s.is_empty())
        .collect();
    parts.join(" · ")
}

/// Wraps a hint to lines of about `width` characters, each indented by `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

/// One check as a line (plus its hint, on lines of its own, when it did not pass).
pub fn render_check(name: &str, r: &CheckResult, policy: Option<&Policy>, color: bool) -> String {
    let mut out = String::new();
    let m = format!("{:<w$}", mark(r.status), w = mark_width());
    let m = if color {
        style(r.status).apply_to(m).to_string()
    } else {
        m
    };
    let line = format!(
        "  {m} {:<w$} {}",
        check_title(name),
        key_figures(name, r, policy),
        w = title_width()
    );
    let _ = writeln!(out, "{}", line.trim_end());
    if r.status != Status::Pass && !r.hint.is_empty() {
        // The hint in the agent's language (the report itself keeps it in English).
        let hint = wrap(&i18n::hint(r), "", 76);
        let indent = " ".repeat(5 + mark_width());
        for (i, l) in hint.lines().enumerate() {
            let lead = if i == 0 { "→ " } else { "  " };
            let _ = writeln!(out, "{indent}{lead}{l}");
        }
    }
    out
}

/// The whole report as a table a home agent can act on; `policy` gives the limits shown
/// beside the figures.
pub fn render_report(report: &Report, policy: Option<&Policy>, color: bool) -> String {
    let mut out = String::new();
    let (headline, st) = match report.readiness {
        Readiness::Ready => (tr("headline-ready"), Status::Pass),
        Readiness::Degraded => (tr("headline-degraded"), Status::Warn),
        Readiness::NotReady => (tr("headline-not-ready"), Status::Fail),
        Readiness::Unknown => (tr("headline-unknown"), Status::Error),
    };
    let headline = if color {
        style(st).bold().apply_to(headline).to_string()
    } else {
        headline
    };
    let _ = writeln!(out, "ShiftReady: {headline}\n");
    for name in proto::report::CHECK_NAMES {
        if let Some(r) = report.checks.get(name) {
            out.push_str(&render_check(name, r, policy, color));
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
        bar.set_message(format!(
            "{:<w$} {}",
            check_title(name),
            tr("progress-checking"),
            w = title_width()
        ));
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
            bar.finish_with_message(format!(
                "{:<w$} {}",
                mark(result.status),
                check_title(name),
                w = mark_width()
            ));
        }
    }
}

/// The human form of `status`.
pub fn render_status(s: &StatusInfo) -> String {
    let when = |t: DateTime<Utc>| crate::i18n::local_time(t, "%a %Y-%m-%d %H:%M");
    let mut o = String::new();
    // The labels, padded to the longest in the agent's language (12 columns in English).
    let labels = [
        "status-state",
        "status-signed-in",
        "status-readiness",
        "status-fix-first",
        "status-shift",
        "status-next-shift",
        "status-hq",
        "status-incidents",
        "status-set-aside",
    ];
    let width = labels
        .iter()
        .map(|id| tr(id).chars().count() + 1)
        .fold(12, usize::max);
    let label = |id: &'static str| format!("{:<width$}", tr(id));
    let blank = " ".repeat(width);
    // State, readiness and what to fix all from the last check, with its time.
    let state = tr(match s.state {
        DaemonState::Ready => "state-ready",
        DaemonState::Degraded => "state-degraded",
        DaemonState::NotReady => "state-not-ready",
        DaemonState::Unknown if s.last_check_at.is_none() => "state-not-checked",
        DaemonState::Unknown => "state-unknown",
        DaemonState::SignedOut => "state-signed-out",
        DaemonState::Offline => "state-offline",
    });
    o.push_str(&format!("{}{state}\n", label("status-state")));
    let readiness = match s.last_check_at {
        None => tr("status-not-checked"),
        Some(t) => trm(&Msg::new("status-checked")
            .text(
                "readiness",
                tr(match s.readiness {
                    Readiness::Ready => "readiness-ready",
                    Readiness::Degraded => "readiness-degraded",
                    Readiness::NotReady => "readiness-not-ready",
                    Readiness::Unknown => "readiness-unknown",
                }),
            )
            .text("when", when(t))),
    };
    o.push_str(&format!(
        "{}{}\n{}{readiness}\n",
        label("status-signed-in"),
        tr(if s.signed_in { "value-yes" } else { "value-no" }),
        label("status-readiness"),
    ));
    if let Some(fix) = &s.fix_first_text() {
        for (i, l) in wrap(fix, "", 76).lines().enumerate() {
            let lead = if i == 0 {
                label("status-fix-first")
            } else {
                blank.clone()
            };
            o.push_str(&format!("{lead}{l}\n"));
        }
    }
    match s.shift {
        Some(w) => o.push_str(&format!(
            "{}{}\n",
            label("status-shift"),
            trm(&Msg::new("status-shift-until").text("end", when(w.end)))
        )),
        None => o.push_str(&format!(
            "{}{}\n",
            label("status-shift"),
            tr("status-no-shift")
        )),
    }
    if let Some(w) = s.next_shift {
        o.push_str(&format!(
            "{}{} – {}\n",
            label("status-next-shift"),
            when(w.start),
            when(w.end)
        ));
    }
    o.push_str(&format!(
        "{}{}\n",
        label("status-hq"),
        trm(&Msg::new("status-hq-waiting")
            .text(
                "hq",
                tr(match s.hq {
                    proto::HqLink::None => "hq-none",
                    proto::HqLink::Connected => "hq-connected",
                    proto::HqLink::Unreachable => "hq-unreachable",
                    proto::HqLink::MustEnroll => "hq-must-enroll",
                })
            )
            .arg("events", MsgArg::Count(s.spool_events as i64)))
    ));
    if !s.incidents.is_empty() {
        o.push_str(&format!(
            "{}{}\n",
            label("status-incidents"),
            s.incidents
                .iter()
                .map(|i| match i.as_str() {
                    "headset_gone" => tr("incident-headset-gone"),
                    "network_degraded" => tr("incident-network-degraded"),
                    "noisy_room" => tr("incident-noisy-room"),
                    "hq_unreachable" => tr("incident-hq-unreachable"),
                    "events_rejected" => tr("incident-events-rejected"),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if s.quarantined > 0 {
        o.push_str(&format!(
            "{}{}\n",
            label("status-set-aside"),
            trm(&Msg::new("status-set-aside-events")
                .arg("events", MsgArg::Count(s.quarantined as i64)))
        ));
    }
    if let Some(m) = &s.enroll_again_text() {
        o.push_str(&format!("{m}\n{blank}{}\n", tr("status-delivery-paused")));
    }
    o
}

/// What `shiftready fix` changed (or, with `dry_run`, would change), one line each.
pub fn render_fix(changes: &[crate::fix::Change], dry_run: bool) -> String {
    if changes.is_empty() {
        return format!("{}\n\n", tr("fix-nothing"));
    }
    let mut out = format!(
        "{}\n",
        tr(if dry_run {
            "fix-would-change"
        } else {
            "fix-changed"
        })
    );
    for c in changes {
        out.push_str(&format!("  • {}\n", c.text()));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events set aside and a key HQ refused are said in words, with the command to run.
    #[test]
    fn status_says_what_was_set_aside_and_when_to_enroll_again() {
        let (_, rx) = crate::daemon::core::status_channel();
        let mut s = rx.borrow().clone();
        let plain = render_status(&s);
        assert!(!plain.contains("Set aside") && !plain.contains("enrolled again"));
        s.quarantined = 2;
        s.hq = proto::HqLink::MustEnroll;
        s.enroll_again = Some(crate::ipc::enroll_again_message("https://hq.example.com"));
        let text = render_status(&s);
        assert!(
            text.contains("Set aside:  2 event") && text.contains("HQ refused for good"),
            "{text}"
        );
        assert!(
            text.contains(
                "This computer must be enrolled again (IT gives you the secret and, for this \
                 computer, a re-enrollment code): shiftready enroll --hq https://hq.example.com \
                 --token-file FILE --code-file CODE"
            ),
            "{text}"
        );
        assert!(text.contains("no event is lost"), "{text}");
    }
    use std::collections::BTreeMap;

    #[test]
    fn hint_shown_only_for_checks_that_did_not_pass() {
        let mut checks = BTreeMap::new();
        checks.insert("os".into(), CheckResult::new(Status::Pass, "nothing to do"));
        checks.insert(
            "headset".into(),
            CheckResult::new(Status::Fail, "Plug in your headset.").with("headset_name", "none"),
        );
        let text = render_report(&Report::new(checks), None, false);
        assert!(text.contains("NOT READY"), "{text}");
        assert!(text.contains("→ Plug in your headset."), "{text}");
        assert!(!text.contains("nothing to do"), "{text}");
        assert!(text.find("os").unwrap() < text.find("headset").unwrap());
    }

    #[test]
    fn nothing_measured_is_said_once_not_as_n_a_figures() {
        let mut r = CheckResult::new(Status::Fail, "Nothing answers.");
        for k in [
            "rtt_ms_median",
            "jitter_up_ms",
            "jitter_down_ms",
            "loss_up_pct",
            "mos",
        ] {
            r.set(k, None::<f64>);
        }
        let text = render_check("network", &r, None, false);
        assert!(!text.contains("n/a"), "{text}");
        let not_run = render_check("network", &CheckResult::error("No HQ."), None, false);
        assert!(!not_run.contains("could not measure"), "{not_run}");
        assert!(
            text.contains("could not measure RTT, jitter, loss, MOS"),
            "{text}"
        );
        r.set("rtt_ms_median", 23.0);
        r.set("jitter_up_ms", 1.25);
        let text = render_check("network", &r, None, false);
        assert!(
            text.contains("RTT 23.0 ms · jitter ↑1.2 ms · could not measure loss, MOS"),
            "{text}"
        );
    }

    #[test]
    fn noise_reads_in_words_against_the_sites_limit() {
        let policy = Policy::default(); // fails above −35 dBFS(A)
        let r = CheckResult::new(Status::Warn, "Steady background noise.")
            .with("laeq_dbfs", -38.2)
            .with("laeq_calibrated_db", -38.2)
            .with("classification", "steady_noise");
        let text = render_check("noise", &r, Some(&policy), false);
        assert!(
            text.contains(
                "\u{2212}38 dBFS(A), limit \u{2212}35 · steady noise (fan, air-con, traffic)"
            ),
            "{text}"
        );
        let silent = CheckResult::new(Status::Fail, "No signal.")
            .with("laeq_dbfs", -200.0)
            .with("laeq_calibrated_db", -200.0)
            .with("classification", "dead_input");
        let text = render_check("noise", &silent, Some(&policy), false);
        assert!(text.contains("silent (no signal)"), "{text}");
        assert!(!text.contains("200"), "{text}");
    }

    #[test]
    fn status_says_state_readiness_and_what_to_fix_from_the_last_check() {
        let t = chrono::Utc::now();
        let s = StatusInfo {
            state: DaemonState::NotReady,
            signed_in: true,
            readiness: Readiness::NotReady,
            shift: None,
            next_shift: None,
            last_check_at: Some(t),
            spool_events: 1,
            hq: proto::HqLink::Connected,
            incidents: Vec::new(),
            pid: 1,
            quarantined: 0,
            enroll_again: None,
            fix_first: Some("Plug in your headset.".into()),
            fix_first_said: None,
            enroll_again_said: None,
        };
        let text = render_status(&s);
        assert!(text.contains("State:      not ready for calls\n"), "{text}");
        assert!(text.contains("Readiness:  not ready (checked "), "{text}");
        assert!(
            text.contains("Fix first:  Plug in your headset.\n"),
            "{text}"
        );
        assert!(text.contains("(1 event waiting)"), "{text}");
        let never = StatusInfo {
            state: DaemonState::Unknown,
            readiness: Readiness::Unknown,
            last_check_at: None,
            fix_first: None,
            ..s
        };
        let text = render_status(&never);
        assert!(
            text.contains("State:      signed in, not checked yet"),
            "{text}"
        );
        assert!(text.contains("Readiness:  not checked yet"), "{text}");
        assert!(!text.contains("unknown"), "{text}");
    }

    #[test]
    fn plurals_and_hints_on_their_own_lines() {
        assert_eq!(plural(1u64, "event"), "1 event");
        assert_eq!(plural(0u64, "event"), "0 events");
        assert_eq!(plural(2u64, "event"), "2 events");
        let long = "word ".repeat(40);
        let r = CheckResult::new(Status::Fail, long.trim()).with("headset_name", "Jabra");
        let text = render_check("headset", &r, None, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 3, "{text}");
        assert!(
            !lines[0].contains("word"),
            "the hint is not on the figures' line: {text}"
        );
        assert!(lines[1].trim_start().starts_with("→ word"), "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= 96), "{text}");
    }
}
