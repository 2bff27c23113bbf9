//! The ShiftReady agent: workstation checks, the shift daemon and its delivery to HQ.
//!
//! `main.rs` is a thin shell over [`commands`], which holds every CLI command and its terminal
//! output; the other modules are the library the commands and the daemon call. Pure logic
//! (policy evaluation, DSP, the E-model, the shift state machine) lives apart from I/O so it
//! can be tested exactly.

pub mod audio;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod enroll;
pub mod exit;
pub mod fix;
pub mod hq_client;
pub mod i18n;
pub mod ipc;
pub mod platform;
pub mod probe;
pub mod spool;
pub mod test_hooks;
#[cfg(feature = "tray")]
pub mod tray;

/// The noise analysis lives in the pure crate; re-exported for the integration tests and the
/// benchmark (`shiftready::dsp::analyze`).
pub use shiftready_core::dsp;
