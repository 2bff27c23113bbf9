//! Small platform helpers shared by the checks and the tray. One module per OS behind each
//! function: `windows.rs`, `macos.rs`, `xdg.rs` (Linux and the other free desktops).

use std::path::{Path, PathBuf};

#[cfg(target_os = "macos")]
pub mod macos;
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

/// The system-wide configuration that the Linux package installs (a conffile), read under
/// [`sysroot`] in tests. The Windows installer passes `--config` instead.
pub const SYSTEM_CONFIG: &str = "/etc/shiftready/agent.toml";

/// The per-user configuration file: `$XDG_CONFIG_HOME/shiftready/agent.toml` (else
/// `~/.config/shiftready/agent.toml`) on Linux, `~/Library/Application Support/ShiftReady/
/// agent.toml` on macOS, `%APPDATA%\ShiftReady\agent.toml` on Windows.
pub fn user_config_file() -> Option<PathBuf> {
    os::user_config_file()
}

/// The system-wide configuration file, if this OS has one ([`SYSTEM_CONFIG`]).
pub fn system_config_file() -> Option<PathBuf> {
    os::system_config_file()
}

/// The platform's data directory for ShiftReady: `%LOCALAPPDATA%\ShiftReady` on Windows,
/// `~/Library/Application Support/ShiftReady` on macOS, else (and where those variables are
/// missing) `$XDG_DATA_HOME/shiftready`, `~/.local/share/shiftready`, `.shiftready`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = os::data_dir() {
        return d;
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("shiftready");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".local/share/shiftready");
    }
    PathBuf::from(".shiftready")
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
