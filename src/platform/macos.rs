//! macOS: the home directory from `HOME`; files and URLs open with `open`; CoreAudio's devices
//! and defaults in `audio`.

pub mod audio;

use std::path::PathBuf;

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The per-user configuration file: `~/Library/Application Support/ShiftReady/agent.toml`.
pub fn user_config_file() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join("Library/Application Support/ShiftReady/agent.toml"))
}

/// The system-wide configuration file the package installs ([`super::SYSTEM_CONFIG`]).
pub fn system_config_file() -> Option<PathBuf> {
    Some(super::sys_path(super::SYSTEM_CONFIG))
}

/// The data directory: `~/Library/Application Support/ShiftReady`.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join("Library/Application Support/ShiftReady"))
}

pub fn opener(target: &str) -> (&'static str, Vec<&str>) {
    ("open", vec![target])
}
