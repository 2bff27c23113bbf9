//! macOS: the home directory from `HOME`; files and URLs open with `open`.

use std::path::PathBuf;

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

pub fn opener(target: &str) -> (&'static str, Vec<&str>) {
    ("open", vec![target])
}
