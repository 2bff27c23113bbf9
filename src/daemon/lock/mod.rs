//! One daemon per user: an exclusive advisory lock on `<state_dir>/daemon.lock`, held for the
//! daemon's life and released by the OS when it dies (even by SIGKILL), so a crash never
//! leaves a stale lock behind.
//!
//! One module per OS behind `os::try_lock`: `unix.rs` (`flock`), `windows.rs` (`LockFileEx` on
//! one byte far past the end of the file: Windows locks are mandatory, so locking the pid
//! itself would keep a second instance from reading it to say who holds the lock; the lock
//! belongs to the handle and goes when the process ends), `other.rs` (no lock).

use crate::exit::{self, ExitError};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

#[cfg(not(any(unix, windows)))]
mod other;
#[cfg(not(any(unix, windows)))]
use other as os;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

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
    if !os::try_lock(&file)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A second lock on the same state dir is refused, saying who holds it, and the lock is
    /// free again once the holder is dropped. Locks belong to the open file (flock) or the
    /// handle (LockFileEx), so two opens in one process contend like two processes do.
    #[test]
    fn second_instance_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        let e = acquire(dir.path()).unwrap_err();
        assert_eq!(exit::code_of(&e), exit::UNAVAILABLE, "{e:#}");
        let msg = format!("{e:#}");
        assert!(msg.contains("already running"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "the holder's pid is readable while it is locked: {msg}"
        );
        drop(first);
        let again = acquire(dir.path()).unwrap();
        drop(again);
    }
}
