//! No tray icon yet on this OS (macOS and the rest): `run` goes on without one.

use crate::config::Loaded;

/// No icon on this OS: `shiftready run` goes on headless.
pub fn available() -> Result<(), super::TrayUnavailable> {
    Err(super::TrayUnavailable(
        "the tray icon is built for Linux and Windows only so far".into(),
    ))
}

/// Never called: [`available`] says no.
pub fn run(_loaded: Loaded) -> anyhow::Result<i32> {
    Err(available().unwrap_err().into())
}
