//! Linux and the other free desktops: the home directory from `HOME`; files and URLs open with
//! `xdg-open`.

use std::path::PathBuf;

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

pub fn opener(target: &str) -> (&'static str, Vec<&str>) {
    ("xdg-open", vec![target])
}
