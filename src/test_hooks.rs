//! Test-only hooks: environment variables through which the tests steer the agent (a report
//! file instead of the checks, a fake `/sys`, the gateway to probe, logind signals from any
//! D-Bus sender, tray menu clicks from a file).
//!
//! They are read only in builds with the `test-hooks` cargo feature, which `scripts/test.sh`
//! and CI turn on and release builds never have: there [`var`] is always `None`, so setting
//! `SHIFTREADY_TEST_REPORT` cannot make a shipped daemon report "ready". A test that needs a
//! hook calls [`require`] first, so that without the feature it fails saying why instead of
//! testing the real path by accident.

use std::ffi::OsString;

/// A JSON report file used instead of running the checks (the daemon tests and the tray
/// screenshots change readiness by rewriting it).
pub const REPORT: &str = "SHIFTREADY_TEST_REPORT";
/// A directory read instead of `/` for `/proc`, `/sys`, `/etc` and `/run` (fake sound cards,
/// power supplies, os-release).
pub const SYSROOT: &str = "SHIFTREADY_SYSROOT";
/// The gateway the network probe pings instead of the default route's (`off`: none).
pub const PROBE_GATEWAY: &str = "SHIFTREADY_PROBE_GATEWAY";
/// Accept logind's sleep and shutdown signals from any sender (a test bus has no logind).
pub const LOGIND_ANY_SENDER: &str = "SHIFTREADY_TEST_LOGIND_ANY_SENDER";
/// A file whose lines are tray menu item ids, each handled as a click on that item.
pub const TRAY_MENU_EVENTS: &str = "SHIFTREADY_TEST_TRAY_MENU_EVENTS";

/// Set by test harnesses that spawn the agent with hooks (testkit, scripts/test-windows.sh):
/// a build without the hooks then exits with a message the moment it would ignore one.
pub const REQUIRED: &str = "SHIFTREADY_TEST_HOOKS_REQUIRED";

/// Whether this build reads the test hooks (the `test-hooks` feature).
pub const ENABLED: bool = imp::ENABLED;

/// The value of the test hook `name` (one of the constants above), or `None`: always `None`
/// in a build without the `test-hooks` feature.
pub fn var(name: &str) -> Option<OsString> {
    imp::var(name)
}

/// For tests that drive the agent through a hook: panics with the reason when this build
/// (and so the `shiftready` binary built with it) does not read them.
pub fn require(hook: &str) {
    if !ENABLED {
        panic!(
            "this test drives the agent through the test hook {hook}, which this build ignores: \
             build with `--features shiftready/test-hooks` (scripts/test.sh does)"
        );
    }
}

#[cfg(feature = "test-hooks")]
mod imp {
    pub const ENABLED: bool = true;

    pub fn var(name: &str) -> Option<std::ffi::OsString> {
        std::env::var_os(name).filter(|v| !v.is_empty())
    }
}

#[cfg(not(feature = "test-hooks"))]
mod imp {
    pub const ENABLED: bool = false;

    /// The hook is ignored. Where a test harness says it needs the hooks
    /// ([`super::REQUIRED`]), the process stops instead, saying why, so a test run against a
    /// build without them fails at once rather than testing the real path by accident.
    pub fn var(name: &str) -> Option<std::ffi::OsString> {
        if std::env::var_os(name).is_some() {
            if std::env::var_os(super::REQUIRED).is_some() {
                eprintln!(
                    "shiftready: {name} is set and {} says the test hooks are needed, but this \
                     build has none: build with `--features shiftready/test-hooks`",
                    super::REQUIRED
                );
                std::process::exit(2);
            }
            tracing::warn!("{name} is set but ignored: this build has no test hooks");
        }
        None
    }
}
