//! One daemon per user: an exclusive advisory lock on `<state_dir>/daemon.lock`, held for the
//! daemon's life and released by the OS when it dies (even by SIGKILL), so a crash never
//! leaves a stale lock behind.

use crate::exit::{self, ExitError};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Takes the lock or says which process holds it.
pub fn acquire(state_dir: &Path) -> anyhow::Result<InstanceLock> {
    let path = state_dir.join("daemon.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            ExitError::new(
                exit::CANT_CREATE,
                format!("cannot open the lock file {}: {e}", path.display()),
            )
        })?;
    if !try_lock(&file)? {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        return Err(ExitError::new(
            exit::UNAVAILABLE,
            format!(
                "ShiftReady is already running for this user (pid {}, lock {}); use \
                 `shiftready status` to talk to it",
                pid.trim(),
                path.display()
            ),
        ));
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(InstanceLock { _file: file })
}

#[cfg(unix)]
fn try_lock(file: &File) -> anyhow::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(anyhow::anyhow!("locking the daemon lock file: {e}")),
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> anyhow::Result<bool> {
    // Windows: a named mutex would be the right tool; until then, no second-instance check.
    Ok(true)
}
