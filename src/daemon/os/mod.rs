//! What the daemon asks of the OS, one module per OS behind four functions (the platform rule
//! of `ARCHITECTURE.md`: `cfg` on the `mod` lines here, none in the daemon's logic):
//! - [`power_events`]: sleep, shutdown and log-off announced ahead of time, each answered
//!   with "handled" once the sign-out is in the spool;
//! - [`wait_for_stop`]: the signals that stop the daemon (and the UI's quit);
//! - [`notify`]: a desktop notification for what the agent must act on;
//! - [`restrict_dir`]: the state directory made private to the user.
//!
//! `linux.rs` (logind on the system D-Bus, notifications on the session D-Bus), `macos.rs`
//! (NSWorkspace's sleep, wake and log-out; Notification Center through `osascript`),
//! `windows.rs` (session and power window messages; WinRT toasts), `other.rs` (Ctrl-C and the
//! UI's quit only); `unix.rs` holds what Linux and macOS share (SIGTERM/SIGHUP, mode 0700).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
// What macOS's notifications mean: pure, so tested on Linux too.
#[cfg(any(target_os = "macos", test))]
mod macos_events;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod other;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
use other as os;
#[cfg(windows)]
use windows as os;

use shiftready_core::shift::Input;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// A power event and the channel to say "handled" on (then the OS may go on).
pub type PowerEvent = (Input, oneshot::Sender<()>);

/// Hands the OS's power and session events to `tx` until the daemon goes away. Where the OS
/// announces nothing it returns at once: suspend is then noticed from the wall clock's jump
/// after waking, shutdown from the stop signal.
pub async fn power_events(tx: mpsc::Sender<PowerEvent>) {
    os::power_events(tx).await
}

/// Waits for what stops the daemon: `Input::Shutdown` (SIGTERM, Ctrl-C, the UI's `quit`) or
/// `Input::Logoff` (SIGHUP: the session ended).
pub async fn wait_for_stop(quit: Arc<Notify>) -> Input {
    os::wait_for_stop(quit).await
}

/// Shows a desktop notification where the OS has a way the daemon uses; else logs it. Never
/// blocks the caller (needs a tokio runtime where it shows one).
pub fn notify(summary: &str, body: &str) {
    os::notify(summary, body)
}

/// Makes the state directory the user's alone, where the OS does not already.
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    os::restrict_dir(dir)
}

// What an OS without its own way does; the OS files re-export these under the names above.

/// No power events announced: returns at once.
pub async fn no_power_events(_tx: mpsc::Sender<PowerEvent>) {}

/// Where no signal but Ctrl-C reaches a process: that, or the UI's quit.
pub async fn ctrl_c_or_quit(quit: Arc<Notify>) -> Input {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Input::Shutdown,
        _ = quit.notified() => Input::Shutdown,
    }
}

/// Where there is no notification the daemon shows: the line in the log.
pub fn log_notice(summary: &str, body: &str) {
    tracing::info!("{summary}: {body}");
}

/// Where the directory is the user's alone as made: nothing to do.
pub fn leave_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
