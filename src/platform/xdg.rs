//! Linux and the other free desktops: the home directory from `HOME`; files and URLs open with
//! `xdg-open`.

use std::path::PathBuf;

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The per-user configuration file: `$XDG_CONFIG_HOME/shiftready/agent.toml`, else
/// `~/.config/shiftready/agent.toml`.
pub fn user_config_file() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("shiftready/agent.toml"))
}

/// The system-wide configuration file the package installs ([`super::SYSTEM_CONFIG`]).
pub fn system_config_file() -> Option<PathBuf> {
    Some(super::sys_path(super::SYSTEM_CONFIG))
}

/// No data directory of its own: [`super::data_dir`]'s XDG rule is this platform's.
pub fn data_dir() -> Option<PathBuf> {
    None
}

pub fn opener(target: &str) -> (&'static str, Vec<&str>) {
    ("xdg-open", vec![target])
}
