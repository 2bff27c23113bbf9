//! Dev-only scaffolding shared by the workspace's tests, so each test file says what it tests
//! and not how to start a sound server: a real PulseAudio with no sound card ([`pulse`]), a
//! private D-Bus bus ([`dbus`]), an Xvfb display ([`x11`]), the real `shiftready-hq` and
//! `shiftready` binaries as child processes ([`hq`], [`agent`]), and seeded test signals for the
//! noise engine ([`signals`]).
//!
//! Never a dependency of a shipped crate: only `[dev-dependencies]` name it.
//!
//! What a test needs from the machine and cannot find makes it skip and say so (`SKIPPED ...` on
//! stdout and stderr), unless the matching `SHIFTREADY_REQUIRE_*` variable is `1` (CI sets
//! them), which makes it fail instead: see [`require`].

pub mod agent;
pub mod dbus;
pub mod hq;
pub mod proc;
pub mod pulse;
pub mod signals;
pub mod truth;
pub mod x11;

pub use proc::{Proc, wait_until};

/// True when `SHIFTREADY_REQUIRE_<what>` is `1`: a missing system piece is then a failure, not a
/// skip.
pub fn required(what: &str) -> bool {
    std::env::var(format!("SHIFTREADY_REQUIRE_{what}")).is_ok_and(|v| v == "1")
}

/// A test cannot run here: panics when `SHIFTREADY_REQUIRE_<what>=1`, else prints a `SKIPPED`
/// line (stdout and stderr, so it shows with and without `--nocapture`) and returns.
pub fn skip_or_fail(what: &str, test: &str, why: &str) {
    if required(what) {
        panic!("SHIFTREADY_REQUIRE_{what}=1 but {test} cannot run: {why}");
    }
    eprintln!("SKIPPED {test}: {why} (set SHIFTREADY_REQUIRE_{what}=1 to fail instead)");
    println!("SKIPPED {test}: {why}");
}

/// A binary of the workspace in this test's target directory (`target/debug/NAME`), found
/// from the running test executable (`target/debug/deps/TEST-HASH`). Cargo builds the binaries
/// of the package under test before its integration tests; another package's (`shiftready-hq`
/// for the agent's tests) is there after `cargo test --workspace` or `cargo build -p ...`.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, or build it first",
        bin.display()
    );
    bin
}
