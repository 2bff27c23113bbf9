//! Small platform helpers shared by the checks.

use std::path::{Path, PathBuf};

#[cfg(windows)]
pub mod windows;

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
    #[cfg(windows)]
    {
        if let Some(p) = std::env::var_os("USERPROFILE") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os("HOME").map(PathBuf::from)
}
