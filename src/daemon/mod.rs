//! `shiftready run`: the daemon. One instance per user (a lock file in the state dir); tokio
//! tasks for the schedule, checks, in-shift monitoring, delivery from the spool and IPC;
//! graceful shutdown on SIGTERM / Ctrl-C that signs the agent out with reason `shutdown`.
//!
//! The tray (when built and not `--headless`) runs the UI on the main thread and this daemon
//! on a tokio runtime in another thread; they talk through [`UiLink`]. `shiftready run`
//! (`crate::commands::run`) decides between the two.

pub mod core;
pub mod delivery;
#[cfg(target_os = "linux")]
pub mod devwatch;
pub mod lock;
#[cfg(target_os = "linux")]
pub mod logind;
pub mod monitor;
pub mod os;
pub mod pilot;
pub mod presence;
pub mod report_page;
pub mod ring;
pub mod samples;
#[cfg(windows)]
pub mod winsession;

use crate::config::Loaded;
use crate::hq_client::{HqClient, HqError};
use crate::ipc::{Incoming, StatusInfo};

pub use self::core::{Daemon, run_daemon};
/// `[daemon]` of the agent config (defined with the rest of the config).
pub use crate::config::DaemonConfig;

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

/// HQ as a delivery sink, when this agent has an HQ URL and has enrolled.
/// Without an enrollment the events stay in the spool until the next start after `enroll`.
pub fn sink_for(loaded: &Loaded) -> Result<Option<std::sync::Arc<dyn delivery::Sink>>, HqError> {
    let client = match HqClient::for_device(loaded) {
        // A setting that keeps the key from being sent (plain http:// to another host): the
        // daemon still runs and records every event in the spool, so an upgrade onto such a
        // setup loses nothing; they are delivered once the setting is fixed and it restarts.
        Err(HqError::Config(why)) => {
            tracing::error!("not delivering events to HQ: {why}; they stay in the spool");
            return Ok(None);
        }
        other => other?,
    };
    let Some(c) = client else {
        if !loaded.config.hq.url.trim().is_empty() {
            tracing::warn!(
                "hq.url is set but this computer is not enrolled; events stay in the spool \
                 until `shiftready enroll` and a restart of the daemon"
            );
        }
        return Ok(None);
    };
    tracing::info!("delivering events to HQ at {}", c.url());
    Ok(Some(std::sync::Arc::new(c)))
}
