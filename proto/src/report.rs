//! The readiness report: what `shiftready check --json` prints and what the agent sends to HQ.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within the policy's limits.
    Pass,
    /// Usable, but the agent should fix something.
    Warn,
    /// Not fit for calls.
    Fail,
    /// The check could not run; the reason is in the hint.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// The overall readiness of a workstation, worst first in `Ord` terms reversed:
/// `Ready < Degraded < NotReady < Unknown` by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Every check passed.
    Ready,
    /// At least one check warned, none failed.
    Degraded,
    /// At least one check failed.
    NotReady,
    /// A check could not run (and none failed).
    Unknown,
}

impl Readiness {
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::Degraded => "degraded",
            Readiness::NotReady => "not_ready",
            Readiness::Unknown => "unknown",
        }
    }

    /// The exit code of `shiftready check` for this readiness (contract: 0, 1, 2, 3).
    pub fn exit_code(self) -> i32 {
        match self {
            Readiness::Ready => 0,
            Readiness::Degraded => 1,
            Readiness::NotReady => 2,
            Readiness::Unknown => 3,
        }
    }

    /// Overall readiness from the statuses of the checks.
    ///
    /// A `fail` makes the workstation not ready even when another check could not run: a
    /// known failure is more useful to the agent than "unknown". Otherwise an `error` makes it
    /// unknown, a `warn` degraded, and only all-pass is ready. No checks at all is unknown.
    pub fn from_statuses<I: IntoIterator<Item = Status>>(statuses: I) -> Readiness {
        let (mut any, mut warn, mut fail, mut error) = (false, false, false, false);
        for s in statuses {
            any = true;
            match s {
                Status::Pass => {}
                Status::Warn => warn = true,
                Status::Fail => fail = true,
                Status::Error => error = true,
            }
        }
        if fail {
            Readiness::NotReady
        } else if error || !any {
            Readiness::Unknown
        } else if warn {
            Readiness::Degraded
        } else {
            Readiness::Ready
        }
    }
}

/// An argument of a localised message (issue 16).
#[derive(Debug, Clone, PartialEq)]
pub enum MsgArg {
    /// Shown as is (a device name, a version).
    Text(String),
    /// A number shown with this many decimals, in the language's own way ("7.5" / "7,5").
    Num(f64, u8),
    /// A whole number, also used to choose a plural form ("1 core", "2 cores").
    Count(i64),
    /// Another message of the bundle, shown in the same language ("another device").
    Id(&'static str),
}

/// A message of the agent's localisation bundles: its id and arguments. Kept beside a check's
/// English `hint` only in the process (never on the wire), so the agent's own terminal, tray
/// and pages can show the hint in the agent's language while HQ keeps the English text.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub id: &'static str,
    pub args: Vec<(&'static str, MsgArg)>,
}

impl Msg {
    pub fn new(id: &'static str) -> Msg {
        Msg {
            id,
            args: Vec::new(),
        }
    }

    /// Adds an argument (builder style).
    pub fn arg(mut self, name: &'static str, value: MsgArg) -> Msg {
        self.args.push((name, value));
        self
    }

    /// Adds a text argument.
    pub fn text(self, name: &'static str, value: impl Into<String>) -> Msg {
        self.arg(name, MsgArg::Text(value.into()))
    }
}

/// One check's result: `{"status", "metrics", "hint"}`.
///
/// Equality compares what goes on the wire (status, metrics, hint), not the in-process
/// message id of the hint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub status: Status,
    /// Measured values, keyed by the metric names of `docs/DESIGN.md`. Only aggregates: never raw
    /// audio or anything personal beyond device names.
    #[serde(default)]
    pub metrics: Map<String, Value>,
    /// One sentence telling the agent what to do; empty when the check passed.
    #[serde(default)]
    pub hint: String,
    /// The hint's message id and arguments, so the agent can show it in the agent's language;
    /// never serialized (the wire keeps the English `hint`), `None` after deserializing.
    #[serde(skip)]
    pub hint_msg: Option<Msg>,
}

impl PartialEq for CheckResult {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.metrics == other.metrics && self.hint == other.hint
    }
}

impl CheckResult {
    pub fn new(status: Status, hint: impl Into<String>) -> Self {
        CheckResult {
            status,
            metrics: Map::new(),
            hint: hint.into(),
            hint_msg: None,
        }
    }

    /// A check that could not run, with the reason as the hint.
    pub fn error(reason: impl Into<String>) -> Self {
        Self::new(Status::Error, reason)
    }

    /// Adds a metric (builder style). `None` values are stored as JSON `null`.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &str, value: impl Serialize) {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.metrics.insert(key.to_string(), v);
    }

    pub fn metric_f64(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).and_then(Value::as_f64)
    }
}

/// The names of the checks, in the order they are shown ([`crate::CheckName`] as strings).
pub const CHECK_NAMES: [&str; 5] = [
    crate::CheckName::Os.as_str(),
    crate::CheckName::Hardware.as_str(),
    crate::CheckName::Network.as_str(),
    crate::CheckName::Headset.as_str(),
    crate::CheckName::Noise.as_str(),
];

/// The whole pre-shift report: `{"schema": 1, "readiness", "checks": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub readiness: Readiness,
    /// When the report was taken (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<chrono::DateTime<chrono::Utc>>,
    pub checks: BTreeMap<String, CheckResult>,
}

impl Report {
    /// Builds a report, deriving readiness from the checks.
    pub fn new(checks: BTreeMap<String, CheckResult>) -> Report {
        let readiness = Readiness::from_statuses(checks.values().map(|c| c.status));
        Report {
            schema: crate::SCHEMA,
            readiness,
            taken_at: Some(chrono::Utc::now()),
            checks,
        }
    }

    /// The first thing to fix: the check whose trouble weighs most (a fail before a check
    /// that could not run, before a warning), in the order checks are shown; with its hint.
    /// `None` when every check passed.
    pub fn first_to_fix(&self) -> Option<(&str, &CheckResult)> {
        let rank = |s: Status| match s {
            Status::Fail => 0,
            Status::Error => 1,
            Status::Warn => 2,
            Status::Pass => 3,
        };
        let shown = |name: &str| CHECK_NAMES.iter().position(|n| *n == name);
        self.checks
            .iter()
            .filter(|(_, c)| c.status != Status::Pass)
            .min_by_key(|(name, c)| (rank(c.status), shown(name).unwrap_or(usize::MAX)))
            .map(|(name, c)| (name.as_str(), c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn readiness_follows_design_rule() {
        assert_eq!(Readiness::from_statuses([Pass, Pass]), Readiness::Ready);
        assert_eq!(Readiness::from_statuses([Pass, Warn]), Readiness::Degraded);
        assert_eq!(Readiness::from_statuses([Warn, Fail]), Readiness::NotReady);
        assert_eq!(Readiness::from_statuses([Pass, Error]), Readiness::Unknown);
        assert_eq!(Readiness::from_statuses([Warn, Error]), Readiness::Unknown);
        assert_eq!(Readiness::from_statuses([Error, Fail]), Readiness::NotReady);
        assert_eq!(Readiness::from_statuses([]), Readiness::Unknown);
    }

    #[test]
    fn first_to_fix_is_the_worst_check_in_shown_order() {
        let mut checks = BTreeMap::new();
        checks.insert("os".into(), CheckResult::new(Pass, ""));
        checks.insert("noise".into(), CheckResult::new(Fail, "Quiet, please."));
        checks.insert(
            "headset".into(),
            CheckResult::new(Fail, "Plug in the headset."),
        );
        checks.insert("network".into(), CheckResult::new(Warn, "Use a cable."));
        let r = Report::new(checks);
        assert_eq!(
            r.first_to_fix().map(|(n, c)| (n, c.hint.as_str())),
            Some(("headset", "Plug in the headset."))
        );
        let mut ok = BTreeMap::new();
        ok.insert("os".into(), CheckResult::new(Pass, ""));
        assert!(Report::new(ok).first_to_fix().is_none());
    }

    #[test]
    fn exit_codes_are_the_contract() {
        let codes: Vec<i32> = [
            Readiness::Ready,
            Readiness::Degraded,
            Readiness::NotReady,
            Readiness::Unknown,
        ]
        .iter()
        .map(|r| r.exit_code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3]);
    }

    #[test]
    fn report_json_has_contract_keys() {
        let mut checks = BTreeMap::new();
        checks.insert(
            "os".into(),
            CheckResult::new(Pass, "").with("family", "linux"),
        );
        let v = serde_json::to_value(Report::new(checks)).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["readiness"], "ready");
        assert_eq!(v["checks"]["os"]["status"], "pass");
        assert_eq!(v["checks"]["os"]["metrics"]["family"], "linux");
        assert_eq!(v["checks"]["os"]["hint"], "");
    }
}
