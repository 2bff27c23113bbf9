//! One daemon per user: an exclusive advisory lock on `<state_dir>/daemon.lock`, held for the
//! daemon's life and released by the OS when it dies (even by SIGKILL), so a crash never
//! leaves a stale lock behind.
//!
//! One module per OS behind `os::try_lock`: `unix.rs` (`flock`), `windows.rs` (`LockFileEx` on
//! one byte far past the end of the file: Windows locks are mandatory, so locking the pid
//! itself would keep a second instance from reading it to say who holds the lock; the lock
//! belongs to the handle and goes when the process ends), `other.rs` (no lock).

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

/// Why the lock was not taken (exit codes: `crate::exit`).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock file {}: {source}", path.display())]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "ShiftReady is already running for this user (pid {pid}, lock {}); use `shiftready \
         status` to talk to it",
        path.display()
    )]
    Held {
        pid: String,
        path: std::path::PathBuf,
    },
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
        .map_err(|source| LockError::Open {
            path: path.clone(),
            source,
        })?;
    if !os::try_lock(&file)? {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        return Err(LockError::Held {
            pid: pid.trim().to_string(),
            path,
        }
        .into());
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
        // Its exit code (UNAVAILABLE) is `crate::exit`'s to say, and tested there.
        assert!(
            matches!(e.downcast_ref::<LockError>(), Some(LockError::Held { .. })),
            "{e:#}"
        );
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
