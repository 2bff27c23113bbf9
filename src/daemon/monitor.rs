//! In-shift monitoring, while the agent is signed in: the headset (on Linux when a device
//! changes, see [`super::devwatch`]; elsewhere every few seconds), a light network probe every
//! minute and the noise as configured. Each sample goes to the daemon, which updates readiness
//! and runs the incident hysteresis.

use super::DaemonConfig;
use crate::checks::CheckContext;
use proto::{CheckName, IncidentName};
use proto::{CheckResult, Report, Status};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// One watched check and the incident it raises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub check: &'static str,
    pub incident: &'static str,
    /// Seconds between samples; for an event-driven monitor, between the samples that follow
    /// a change until they agree.
    pub every: Duration,
    /// Event-driven where the platform can watch for changes: the samples then come after a
    /// change (then every `every` until [`SETTLED`] in a row agree) and otherwise every `idle`.
    pub idle: Option<Duration>,
}

/// Samples in a row that must agree before an event-driven monitor goes idle: enough for the
/// hysteresis to have raised or cleared on them.
pub const SETTLED: usize = {
    let (a, b) = (
        shiftready_core::hysteresis::WINDOW,
        shiftready_core::hysteresis::CLEAR_AFTER,
    );
    if a > b { a } else { b }
};

/// How long an event-driven monitor waits after a change for more changes before it looks (a
/// device plugged or unplugged comes as a burst of events).
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// The monitors for a configuration.
pub fn specs(c: &DaemonConfig) -> Vec<Spec> {
    let mut v = vec![
        Spec {
            check: CheckName::Headset.as_str(),
            incident: IncidentName::HeadsetGone.as_str(),
            every: Duration::from_secs(c.headset_poll_seconds.max(1).into()),
            idle: Some(Duration::from_secs(c.headset_recheck_seconds.max(1).into())),
        },
        Spec {
            check: CheckName::Network.as_str(),
            incident: IncidentName::NetworkDegraded.as_str(),
            every: Duration::from_secs(c.probe_interval_seconds.max(5).into()),
            idle: None,
        },
    ];
    if c.noise_interval_seconds > 0 {
        v.push(Spec {
            check: CheckName::Noise.as_str(),
            incident: IncidentName::NoisyRoom.as_str(),
            every: Duration::from_secs(c.noise_interval_seconds.into()),
            idle: None,
        });
    }
    v
}

/// Whether a sample counts as crossing the limit for the hysteresis.
pub fn crossed(r: &CheckResult) -> bool {
    matches!(r.status, Status::Warn | Status::Fail)
}

/// A sample of one monitor.
#[derive(Debug, Clone)]
pub struct Sample {
    pub spec: Spec,
    pub result: CheckResult,
}

/// Reads the test report named by the test hook [`crate::test_hooks::REPORT`], if that is set
/// (never in a build without the `test-hooks` feature).
pub fn test_report() -> Option<anyhow::Result<Report>> {
    let path = crate::test_hooks::var(crate::test_hooks::REPORT)?;
    Some((|| {
        let text = std::fs::read_to_string(&path)?;
        let mut r: Report = serde_json::from_str(&text)?;
        r.readiness = proto::Readiness::from_statuses(r.checks.values().map(|c| c.status));
        r.taken_at = Some(chrono::Utc::now());
        Ok(r)
    })())
}

/// The whole check (or the test report).
pub async fn full_check(ctx: CheckContext) -> Report {
    match test_report() {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            let mut checks = std::collections::BTreeMap::new();
            checks.insert(
                "os".to_string(),
                CheckResult::error(format!("test report: {e:#}")),
            );
            Report::new(checks)
        }
        None => crate::checks::run_checks(&proto::report::CHECK_NAMES, &ctx, None).await,
    }
}

/// One check (or its entry in the test report; `None` when the report leaves it out).
pub async fn one_check(name: &str, ctx: CheckContext) -> Option<CheckResult> {
    match test_report() {
        Some(Ok(r)) => r.checks.get(name).cloned(),
        Some(Err(e)) => Some(CheckResult::error(format!("test report: {e:#}"))),
        None => Some(crate::checks::run_one(name, ctx).await),
    }
}

/// A check context for the light in-shift probe: at most two seconds of probing.
pub fn light(ctx: &CheckContext) -> CheckContext {
    let mut policy = (*ctx.policy).clone();
    policy.network.probe_seconds = policy.network.probe_seconds.min(2.0);
    CheckContext {
        policy: Arc::new(policy),
        ..ctx.clone()
    }
}

/// Runs one monitor for the daemon's life: samples every `spec.every` while signed in.
pub async fn run(
    spec: Spec,
    ctx: CheckContext,
    mut signed_in: watch::Receiver<bool>,
    out: mpsc::Sender<Sample>,
) {
    #[cfg(target_os = "linux")]
    if let Some(idle) = spec.idle {
        return run_watched(spec, idle, ctx, signed_in, out).await;
    }
    let ctx = if spec.check == "network" {
        light(&ctx)
    } else {
        ctx
    };
    loop {
        if !*signed_in.borrow_and_update() {
            if signed_in.changed().await.is_err() {
                return;
            }
            continue;
        }
        if let Some(result) = one_check(spec.check, ctx.clone()).await {
            if out.send(Sample { spec, result }).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(spec.every) => {}
            r = signed_in.changed() => if r.is_err() { return },
        }
    }
}

/// What an event-driven monitor does next, from its recent samples (pure).
#[derive(Debug, Default, Clone)]
pub struct Settle {
    recent: std::collections::VecDeque<Status>,
}

impl Settle {
    /// Records a sample's status; says whether the samples have settled (the last [`SETTLED`]
    /// agree), so the monitor may go idle.
    pub fn push(&mut self, s: Status) -> bool {
        if self.recent.len() == SETTLED {
            self.recent.pop_front();
        }
        self.recent.push_back(s);
        self.settled()
    }

    pub fn settled(&self) -> bool {
        self.recent.len() == SETTLED && self.recent.iter().all(|s| *s == self.recent[0])
    }

    /// Forgets the samples (at sign-in: nothing is known yet).
    pub fn reset(&mut self) {
        self.recent.clear();
    }
}

/// An event-driven monitor (Linux, the headset): samples at sign-in and after each device
/// change, then every `spec.every` until the samples settle, then every `idle` (a safety net:
/// a change no watch reports, like the ALSA default in a config file). Where no device change
/// can be watched it polls every `spec.every`, as elsewhere.
#[cfg(target_os = "linux")]
async fn run_watched(
    spec: Spec,
    idle: Duration,
    ctx: CheckContext,
    mut signed_in: watch::Receiver<bool>,
    out: mpsc::Sender<Sample>,
) {
    use tokio::time::{Instant, sleep_until};
    loop {
        if !*signed_in.borrow_and_update() {
            if signed_in.changed().await.is_err() {
                return;
            }
            continue;
        }
        let mut events = super::devwatch::DeviceWatch::start(&super::devwatch::Sources::system());
        if events.is_none() {
            tracing::info!(
                "no device changes can be watched here: looking at the {} every {} s",
                spec.check,
                spec.every.as_secs()
            );
        }
        let mut settle = Settle::default();
        let mut due = Instant::now();
        loop {
            tokio::select! {
                _ = sleep_until(due) => {
                    let Some(result) = one_check(spec.check, ctx.clone()).await else {
                        due = Instant::now() + idle;
                        continue;
                    };
                    let settled = settle.push(result.status);
                    tracing::debug!(status = ?result.status, settled, "looked at the {}", spec.check);
                    if out.send(Sample { spec, result }).await.is_err() {
                        return;
                    }
                    due = Instant::now() + if settled && events.is_some() { idle } else { spec.every };
                }
                c = async {
                    match events.as_mut() {
                        Some(e) => e.next().await,
                        None => std::future::pending().await,
                    }
                } => match c {
                    Some(what) => {
                        tracing::debug!(check = spec.check, "device change: {what}");
                        due = due.min(Instant::now() + DEBOUNCE);
                    }
                    None => {
                        tracing::info!("the device watch ended: looking at the {} every {} s",
                            spec.check, spec.every.as_secs());
                        events = None;
                        due = due.min(Instant::now() + spec.every);
                    }
                },
                r = signed_in.changed() => {
                    if r.is_err() {
                        return;
                    }
                    if !*signed_in.borrow() {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_after_enough_agreeing_samples() {
        let mut s = Settle::default();
        for _ in 0..SETTLED - 1 {
            assert!(!s.push(Status::Pass));
        }
        assert!(s.push(Status::Pass));
        // A change: not settled until as many agree again.
        for _ in 0..SETTLED - 1 {
            assert!(!s.push(Status::Fail));
        }
        assert!(s.push(Status::Fail));
        // One odd sample unsettles it.
        assert!(!s.push(Status::Pass));
        s.reset();
        assert!(!s.settled());
    }

    #[test]
    fn settled_means_the_hysteresis_has_decided() {
        // Whatever the history, SETTLED equal samples leave the hysteresis raised (all
        // crossed) or cleared (none crossed): no later identical sample can change it.
        for history in [
            [true, false, true, false, false],
            [false, true, true, false, true],
        ] {
            for crossed in [true, false] {
                let mut h = shiftready_core::hysteresis::Hysteresis::new();
                for c in history {
                    h.push(c);
                }
                for _ in 0..SETTLED {
                    h.push(crossed);
                }
                assert_eq!(h.raised(), crossed);
                assert_eq!(h.push(crossed), None);
            }
        }
    }

    #[test]
    fn only_the_headset_is_event_driven() {
        let specs = specs(&DaemonConfig::default());
        let headset = specs.iter().find(|s| s.check == "headset").unwrap();
        assert_eq!(headset.every, Duration::from_secs(3));
        assert_eq!(headset.idle, Some(Duration::from_secs(300)));
        assert!(
            specs
                .iter()
                .filter(|s| s.check != "headset")
                .all(|s| s.idle.is_none())
        );
    }
}
