//! Windows: `LockFileEx` on one byte far past the end of the file; the lock belongs to the
//! handle and goes when the process ends.

use std::fs::File;

#[allow(unsafe_code)]
pub fn try_lock(file: &File) -> anyhow::Result<bool> {
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
