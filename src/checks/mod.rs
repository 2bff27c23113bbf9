//! The check framework: every check runs concurrently under one tokio runtime with its own
//! time limit; one that errors, panics or runs out of time becomes `error` with the reason.

pub mod hardware;
pub mod headset;
pub mod network;
pub mod noise;
pub mod os;

use crate::config::{AgentConfig, Loaded};
use proto::{CheckResult, Policy, Report, Status};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// What a check may read: the configuration and the policy in force.
#[derive(Debug, Clone)]
pub struct CheckContext {
    pub config: Arc<AgentConfig>,
    pub policy: Arc<Policy>,
    /// Where the agent keeps its state (device key, cached policy).
    pub state_dir: PathBuf,
    /// Whether the network check may fill the line to measure latency under load: the
    /// pre-shift `shiftready check` ([`CheckContext::pre_shift`]) when the agent is not signed
    /// in to a shift, and the daemon's own pre-shift check; never the daemon's other checks
    /// (which may run during a shift, or a call).
    pub load_phase: bool,
}

impl CheckContext {
    pub fn new(loaded: &Loaded) -> CheckContext {
        CheckContext {
            config: Arc::new(loaded.config.clone()),
            policy: Arc::new(loaded.policy.clone()),
            state_dir: loaded.state_dir(),
            load_phase: false,
        }
    }

    /// The context of the pre-shift `shiftready check`: as [`CheckContext::new`], and the
    /// network check runs its load phase (when the policy's `network.load_test` allows). The
    /// checks run side by side, so the load phase lengthens the network check alone (after its
    /// voice probe, never beside it): the whole check takes about `probe_seconds + 2 ×
    /// load_seconds` plus a few seconds of setup and drain, 13 to 14 s with the defaults.
    pub fn pre_shift(loaded: &Loaded) -> CheckContext {
        CheckContext {
            load_phase: true,
            ..CheckContext::new(loaded)
        }
    }
}

type CheckFuture = Pin<Box<dyn Future<Output = anyhow::Result<CheckResult>> + Send>>;

fn start(name: &str, ctx: CheckContext) -> Option<CheckFuture> {
    Some(match name {
        "os" => Box::pin(os::run(ctx)),
        "hardware" => Box::pin(hardware::run(ctx)),
        "network" => Box::pin(network::run(ctx)),
        "headset" => Box::pin(headset::run(ctx)),
        "noise" => Box::pin(noise::run(ctx)),
        _ => return None,
    })
}

/// Called as each check finishes (for the live progress display).
pub trait Progress: Send + Sync {
    fn started(&self, name: &str);
    fn finished(&self, name: &str, result: &CheckResult);
}

/// Runs one check under its time limit, turning errors, panics and time-outs into `error`.
pub async fn run_one(name: &str, ctx: CheckContext) -> CheckResult {
    let limit = ctx.config.checks.timeout(name);
    let Some(fut) = start(name, ctx) else {
        return CheckResult::error(format!("There is no check named '{name}'."));
    };
    let task = tokio::spawn(fut);
    let abort = task.abort_handle();
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(Ok(result))) => result,
        Ok(Ok(Err(e))) => CheckResult::error(format!("The {name} check could not run: {e:#}.")),
        Ok(Err(join)) if join.is_panic() => {
            let what = panic_message(join.into_panic());
            tracing::error!(check = name, "check panicked: {what}");
            CheckResult::error(format!(
                "The {name} check failed inside ShiftReady ({what}); please report this."
            ))
        }
        Ok(Err(_)) => CheckResult::error(format!("The {name} check was cancelled.")),
        Err(_) => {
            abort.abort();
            CheckResult::error(format!(
                "The {name} check did not finish within {} s; try again, and tell IT if it \
                 keeps happening.",
                limit.as_secs_f64()
            ))
            .with("timed_out", true)
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

/// Runs the named checks concurrently and builds the report.
pub async fn run_checks(
    names: &[&str],
    ctx: &CheckContext,
    progress: Option<Arc<dyn Progress>>,
) -> Report {
    let futs = names.iter().map(|&name| {
        let ctx = ctx.clone();
        let progress = progress.clone();
        async move {
            if let Some(p) = &progress {
                p.started(name);
            }
            let r = run_one(name, ctx).await;
            if let Some(p) = &progress {
                p.finished(name, &r);
            }
            (name.to_string(), r)
        }
    });
    let checks: BTreeMap<String, CheckResult> =
        futures::future::join_all(futs).await.into_iter().collect();
    Report::new(checks)
}

/// A check that ran but whose subject is missing entirely (no audio system, unknown OS).
pub fn unavailable(reason: impl Into<String>) -> CheckResult {
    CheckResult::new(Status::Error, reason)
}
