//! `shiftready run`: the daemon. One instance per user (a lock file in the state dir); tokio
//! tasks for the schedule, checks, in-shift monitoring, delivery from the spool and IPC;
//! graceful shutdown on SIGTERM / Ctrl-C that signs the agent out with reason `shutdown`.
//!
//! The tray (when built and not `--headless`) runs the UI on the main thread and this daemon
//! on a tokio runtime in another thread; they talk through [`UiLink`].

pub mod core;
pub mod delivery;
#[cfg(target_os = "linux")]
pub mod devwatch;
pub mod lock;
#[cfg(target_os = "linux")]
pub mod logind;
pub mod monitor;
pub mod report_page;
#[cfg(windows)]
pub mod winsession;

use crate::config::Loaded;
use crate::ipc::{Incoming, StatusInfo};
use serde::{Deserialize, Serialize};

pub use self::core::{Daemon, run_daemon};

/// `[daemon]` in the agent config: how often the daemon watches what, and its spool's bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Seconds between looks at the headset during a shift where device changes cannot be
    /// watched (Windows, macOS); on Linux, between the looks that follow a device change until
    /// five agree. Unplugging is noticed within three looks, by the hysteresis.
    pub headset_poll_seconds: u32,
    /// On Linux, seconds between looks at the headset when no device changed (a safety net
    /// behind the watch of `/dev/snd` and the sound server).
    pub headset_recheck_seconds: u32,
    /// Seconds between light network probes during a shift.
    pub probe_interval_seconds: u32,
    /// Seconds between noise samples during a shift; 0 turns in-shift noise sampling off.
    pub noise_interval_seconds: u32,
    /// Seconds between fetches of the policy and shifts from HQ.
    pub policy_refresh_seconds: u32,
    /// Upper bound of the event spool in bytes (heartbeats are thinned first when full).
    pub spool_max_bytes: u64,
    /// Desktop notifications (the session D-Bus on Linux) for what the agent must act on.
    pub notifications: bool,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            headset_poll_seconds: 3,
            headset_recheck_seconds: 300,
            probe_interval_seconds: 60,
            noise_interval_seconds: 300,
            policy_refresh_seconds: 300,
            spool_max_bytes: crate::spool::DEFAULT_MAX_BYTES,
            notifications: true,
        }
    }
}

impl DaemonConfig {
    /// Adds this section's problems (key, message) to `p`.
    pub fn validate_into(&self, p: &mut Vec<(String, String)>) {
        for (key, v, lo) in [
            ("daemon.headset_poll_seconds", self.headset_poll_seconds, 1),
            (
                "daemon.headset_recheck_seconds",
                self.headset_recheck_seconds,
                1,
            ),
            (
                "daemon.probe_interval_seconds",
                self.probe_interval_seconds,
                5,
            ),
            (
                "daemon.policy_refresh_seconds",
                self.policy_refresh_seconds,
                10,
            ),
        ] {
            if v < lo || v > 86_400 {
                p.push((
                    key.into(),
                    format!("{v} must be between {lo} and 86400 seconds"),
                ));
            }
        }
        if self.noise_interval_seconds != 0 && self.noise_interval_seconds < 10 {
            p.push((
                "daemon.noise_interval_seconds".into(),
                "must be 0 (off) or at least 10 seconds".into(),
            ));
        }
        if self.spool_max_bytes < 64 * 1024 {
            p.push((
                "daemon.spool_max_bytes".into(),
                "must be at least 65536 bytes".into(),
            ));
        }
    }
}

/// The link between the daemon and a UI (the tray): requests in, state out.
#[derive(Debug, Clone)]
pub struct UiLink {
    /// Requests from the UI, answered like IPC requests.
    pub requests: tokio::sync::mpsc::Sender<Incoming>,
    /// The daemon's state, updated whenever it changes.
    pub status: tokio::sync::watch::Receiver<StatusInfo>,
    /// Ask the daemon to stop (tray "Quit"): signs out with reason `shutdown`.
    pub quit: std::sync::Arc<tokio::sync::Notify>,
}

/// Test hook: a JSON report file used instead of running the checks (the daemon tests and the
/// tray screenshots change readiness by rewriting it). Never set in production.
pub const TEST_REPORT_ENV: &str = "SHIFTREADY_TEST_REPORT";

/// HQ as a delivery sink, when this agent has an HQ URL and has enrolled.
/// Without an enrollment the events stay in the spool until the next start after `enroll`.
pub fn sink_for(loaded: &Loaded) -> anyhow::Result<Option<std::sync::Arc<dyn delivery::Sink>>> {
    match crate::hq_client::HqClient::for_device(loaded) {
        Ok(Some(c)) => {
            tracing::info!("delivering events to HQ at {}", c.url());
            Ok(Some(std::sync::Arc::new(c)))
        }
        Ok(None) => {
            if !loaded.config.hq.url.trim().is_empty() {
                tracing::warn!(
                    "hq.url is set but this computer is not enrolled; events stay in the spool \
                     until `shiftready enroll` and a restart of the daemon"
                );
            }
            Ok(None)
        }
        Err(e) => Err(crate::exit::ExitError::new(e.exit_code(), e.to_string())),
    }
}

/// `shiftready run [--headless]`.
pub fn cmd_run(loaded: &Loaded, headless: bool) -> anyhow::Result<i32> {
    #[cfg(feature = "tray")]
    if !headless {
        return crate::tray::run(loaded.clone());
    }
    #[cfg(not(feature = "tray"))]
    if !headless {
        tracing::warn!("this build has no tray icon; running headless");
    }
    // One thread is plenty for a daemon that mostly sleeps (checks that block run on tokio's
    // blocking pool), and each thread more costs its stack and a malloc arena.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let daemon = Daemon::start(loaded.clone()).await?;
        run_daemon(daemon, None).await
    })
}
