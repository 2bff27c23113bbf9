//! One daemon per user: an exclusive advisory lock on `<state_dir>/daemon.lock`, held for the
//! daemon's life and released by the OS when it dies (even by SIGKILL), so a crash never
//! leaves a stale lock behind.
//!
//! Unix: `flock`. Windows: `LockFileEx` on one byte far past the end of the file (Windows locks
//! are mandatory, so locking the pid itself would keep a second instance from reading it to
//! say who holds the lock); the lock belongs to the handle and goes when the process ends.

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

#[cfg(windows)]
#[allow(unsafe_code)]
fn try_lock(file: &File) -> anyhow::Result<bool> {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Foundation::{ERROR_IO_PENDING, ERROR_LOCK_VIOLATION};
    use windows_sys::Win32::Storage::FileSystem::{
        LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY, LockFileEx,
    };
    use windows_sys::Win32::System::IO::{OVERLAPPED, OVERLAPPED_0, OVERLAPPED_0_0};
    // The locked byte: offset 2^40, far past any pid the file holds.
    let mut ov = OVERLAPPED {
        Anonymous: OVERLAPPED_0 {
            Anonymous: OVERLAPPED_0_0 {
                Offset: 0,
                OffsetHigh: 0x100,
            },
        },
        ..Default::default()
    };
    // SAFETY: the handle is the open file's; `ov` lives across the call, which does not
    // return pending because of LOCKFILE_FAIL_IMMEDIATELY on a synchronous handle.
    let ok = unsafe {
        LockFileEx(
            file.as_raw_handle(),
            LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
            0,
            1,
            0,
            &mut ov,
        )
    };
    if ok != 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error().map(|c| c as u32) {
        Some(ERROR_LOCK_VIOLATION) | Some(ERROR_IO_PENDING) => Ok(false),
        _ => Err(anyhow::anyhow!("locking the daemon lock file: {e}")),
    }
}

#[cfg(not(any(unix, windows)))]
fn try_lock(_file: &File) -> anyhow::Result<bool> {
    Ok(true)
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
