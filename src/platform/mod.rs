//! Small platform helpers shared by the checks and the tray. One module per OS behind each
//! function: `windows.rs`, `macos.rs`, `xdg.rs` (Linux and the other free desktops).

use std::path::{Path, PathBuf};

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(windows)]
pub mod windows;
#[cfg(windows)]
use windows as os;
#[cfg(not(any(target_os = "macos", windows)))]
mod xdg;
#[cfg(not(any(target_os = "macos", windows)))]
use xdg as os;

/// The root under which Linux system files (`/proc`, `/sys`, `/etc`, `/run`) are read.
///
/// Always `/` in use. Tests set the test hook `SHIFTREADY_SYSROOT` ([`crate::test_hooks`]) to
/// a directory holding a fake procfs and sysfs (sound cards, power supplies, os-release) so the
/// Linux code can be exercised with hardware this machine does not have.
pub fn sysroot() -> PathBuf {
    crate::test_hooks::var(crate::test_hooks::SYSROOT)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `path` (absolute, e.g. `/proc/asound/cards`) under [`sysroot`].
pub fn sys_path(path: &str) -> PathBuf {
    sysroot().join(path.trim_start_matches('/'))
}

/// Reads a small text file, trimmed; `None` when it is missing or unreadable.
pub fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The user's home directory.
pub fn home_dir() -> Option<PathBuf> {
    os::home_dir()
}

/// Opens a file or URL with the desktop's default program (`xdg-open`, `open`, `start`),
/// without waiting for it.
pub fn open(target: &str) {
    let (program, args) = os::opener(target);
    match std::process::Command::new(program).args(&args).spawn() {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::warn!("could not open {target} with {program}: {e}"),
    }
}
