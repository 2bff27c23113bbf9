//! The tray icon.

use crate::config::Loaded;

/// `shiftready run` with the tray icon.
pub fn run(loaded: Loaded) -> anyhow::Result<i32> {
    crate::daemon::cmd_run(&loaded, true)
}
