//! In-shift monitoring: the headset every few seconds, a light network probe every minute and
//! the noise as configured, while the agent is signed in. Each sample goes to the daemon,
//! which updates readiness and runs the incident hysteresis.

use super::DaemonConfig;
use crate::checks::CheckContext;
use proto::{CheckResult, Report, Status};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// One watched check and the incident it raises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub check: &'static str,
    pub incident: &'static str,
    pub every: Duration,
}

/// The monitors for a configuration.
pub fn specs(c: &DaemonConfig) -> Vec<Spec> {
    let mut v = vec![
        Spec {
            check: "headset",
            incident: "headset_gone",
            every: Duration::from_secs(c.headset_poll_seconds.max(1).into()),
        },
        Spec {
            check: "network",
            incident: "network_degraded",
            every: Duration::from_secs(c.probe_interval_seconds.max(5).into()),
        },
    ];
    if c.noise_interval_seconds > 0 {
        v.push(Spec {
            check: "noise",
            incident: "noisy_room",
            every: Duration::from_secs(c.noise_interval_seconds.into()),
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

/// Reads the test report named by [`super::TEST_REPORT_ENV`], if that is set.
pub fn test_report() -> Option<anyhow::Result<Report>> {
    let path = std::env::var_os(super::TEST_REPORT_ENV)?;
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
