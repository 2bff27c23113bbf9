//! Unix: `flock`, released by the OS when the process dies.

use std::fs::File;

pub fn try_lock(file: &File) -> anyhow::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(anyhow::anyhow!("locking the daemon lock file: {e}")),
    }
}
