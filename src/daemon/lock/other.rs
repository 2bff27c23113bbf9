//! Elsewhere no lock is taken: every instance gets it.

use std::fs::File;

pub fn try_lock(_file: &File) -> anyhow::Result<bool> {
    Ok(true)
}
