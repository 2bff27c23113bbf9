//! Small Win32 helpers: who the current user is (their SID), who owns another process, a
//! security descriptor that admits only the current user, and UTF-16 strings.
//!
//! Everything `unsafe` here is a plain Win32 call with buffers we own; each block says why it
//! is sound.
#![allow(unsafe_code)]

pub mod audio;

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::PathBuf;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
    TokenUser,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// `s` as a NUL-terminated UTF-16 string for the `W` functions.
pub fn wide(s: impl AsRef<OsStr>) -> Vec<u16> {
    s.as_ref().encode_wide().chain(std::iter::once(0)).collect()
}

/// A NUL-terminated (or full-length) UTF-16 buffer as a `String`.
pub fn from_wide(buf: &[u16]) -> String {
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf16_lossy(&buf[..end])
}

/// A handle closed on drop.
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle was returned open by the Win32 call that made this value and is
        // closed exactly once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// The string SID (`S-1-5-21-...`) of the user that `process` (a handle with query rights)
/// runs as.
fn token_user_sid(process: HANDLE) -> io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `token` is a valid out-pointer; the handle it receives is owned below.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = Owned(token);
    // TOKEN_USER is a pointer to the SID followed by the SID itself: 256 bytes hold any SID
    // (at most 68 bytes) behind it. u64 elements keep the buffer aligned for TOKEN_USER.
    let mut buf = [0u64; 32];
    let mut len = 0u32;
    // SAFETY: the buffer is writable for the size given and aligned for TOKEN_USER.
    let ok = unsafe {
        GetTokenInformation(
            token.0,
            TokenUser,
            buf.as_mut_ptr().cast(),
            std::mem::size_of_val(&buf) as u32,
            &mut len,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: GetTokenInformation succeeded, so the buffer starts with a TOKEN_USER.
    let sid = unsafe { (*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let mut s: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` points into `buf`, alive here; `s` receives a LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(sid, &mut s) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `s` is a NUL-terminated string from ConvertSidToStringSidW, not used after.
    Ok(unsafe { take_local_wide(s) })
}

/// The SID of the user this process runs as.
pub fn current_user_sid() -> io::Result<String> {
    // SAFETY: the pseudo-handle of the current process needs no closing.
    token_user_sid(unsafe { GetCurrentProcess() })
}

/// The SID of the user that process `pid` runs as.
pub fn process_user_sid(pid: u32) -> io::Result<String> {
    // SAFETY: plain call; a null result is an error, else the handle is owned below.
    let h = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if h.is_null() {
        return Err(io::Error::last_os_error());
    }
    let h = Owned(h);
    token_user_sid(h.0)
}

/// A self-relative security descriptor made from SDDL, freed on drop.
pub struct SecurityDescriptor(PSECURITY_DESCRIPTOR);

impl SecurityDescriptor {
    /// Parses SDDL, e.g. `D:P(A;;GA;;;S-1-5-21-...)`.
    pub fn from_sddl(sddl: &str) -> io::Result<SecurityDescriptor> {
        let w = wide(sddl);
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `w` is NUL-terminated; `sd` receives a LocalAlloc'd descriptor owned by the
        // returned value.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                w.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SecurityDescriptor(sd))
    }

    /// A descriptor whose protected DACL gives the current user full access and nobody else
    /// any: not other users, not Everyone, not the Administrators group, not inherited ACEs.
    pub fn current_user_only() -> io::Result<SecurityDescriptor> {
        Self::from_sddl(&format!("D:P(A;;GA;;;{})", current_user_sid()?))
    }

    /// `SECURITY_ATTRIBUTES` pointing at this descriptor; valid while `self` lives.
    pub fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.0,
            bInheritHandle: 0,
        }
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW with
        // LocalAlloc, freed exactly once.
        unsafe { LocalFree(self.0) };
    }
}

/// Whether this is Wine rather than Windows (its ntdll exports `wine_get_version`), for tests
/// and messages that must tell the two apart.
pub fn is_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll = wide("ntdll.dll");
    // SAFETY: NUL-terminated names; ntdll is always loaded and never freed.
    unsafe {
        let h = GetModuleHandleW(ntdll.as_ptr());
        !h.is_null() && GetProcAddress(h, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

/// The DACL of the kernel object behind `handle` (opened with `READ_CONTROL`), as SDDL.
pub fn dacl_sddl(handle: &impl std::os::windows::io::AsRawHandle) -> io::Result<String> {
    use windows_sys::Win32::Security::Authorization::{
        ConvertSecurityDescriptorToStringSecurityDescriptorW, GetSecurityInfo, SE_KERNEL_OBJECT,
    };
    use windows_sys::Win32::Security::DACL_SECURITY_INFORMATION;
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: the handle is open (borrowed); out-pointers are valid; `sd` receives a
    // LocalAlloc'd descriptor freed below.
    let rc = unsafe {
        GetSecurityInfo(
            handle.as_raw_handle(),
            SE_KERNEL_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let sd = SecurityDescriptor(sd);
    let mut s: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sd.0` is the descriptor just read; `s` receives a LocalAlloc'd string.
    let ok = unsafe {
        ConvertSecurityDescriptorToStringSecurityDescriptorW(
            sd.0,
            SDDL_REVISION_1,
            DACL_SECURITY_INFORMATION,
            &mut s,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `s` is NUL-terminated, from the call above, not used after.
    Ok(unsafe { take_local_wide(s) })
}

/// A NUL-terminated UTF-16 string that Windows allocated with `LocalAlloc`, as a `String`; frees
/// it.
///
/// # Safety
/// `s` must be a valid, NUL-terminated `LocalAlloc` allocation that nothing uses afterwards.
unsafe fn take_local_wide(s: *mut u16) -> String {
    // SAFETY: the caller promises a NUL-terminated LocalAlloc'd string, freed only here.
    unsafe {
        let n = (0..).take_while(|&i| *s.add(i) != 0).count();
        let out = String::from_utf16_lossy(std::slice::from_raw_parts(s, n));
        LocalFree(s.cast());
        out
    }
}

/// The user's profile directory (`USERPROFILE`), else `HOME`.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("USERPROFILE")
        .or_else(|| std::env::var_os("HOME"))
        .map(PathBuf::from)
}

/// The per-user configuration file: `%APPDATA%\ShiftReady\agent.toml`.
pub fn user_config_file() -> Option<PathBuf> {
    std::env::var_os("APPDATA").map(|d| PathBuf::from(d).join("ShiftReady").join("agent.toml"))
}

/// No system-wide configuration file: the Windows installer passes `--config` instead.
pub fn system_config_file() -> Option<PathBuf> {
    None
}

/// The data directory: `%LOCALAPPDATA%\ShiftReady`.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("LOCALAPPDATA").map(|d| PathBuf::from(d).join("ShiftReady"))
}

/// Files and URLs open with `cmd /C start "" TARGET`.
pub fn opener(target: &str) -> (&'static str, Vec<&str>) {
    ("cmd", vec!["/C", "start", "", target])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_user_has_a_sid_and_owns_this_process() {
        let sid = current_user_sid().unwrap();
        assert!(sid.starts_with("S-1-"), "{sid}");
        assert_eq!(process_user_sid(std::process::id()).unwrap(), sid);
        assert!(process_user_sid(0xffff_fff0).is_err());
    }

    #[test]
    fn sddl_is_parsed_and_bad_sddl_is_an_error() {
        let sd = SecurityDescriptor::current_user_only().unwrap();
        assert!(!sd.attributes().lpSecurityDescriptor.is_null());
        assert!(SecurityDescriptor::from_sddl("D:P(nonsense").is_err());
    }

    #[test]
    fn wide_strings_round_trip() {
        let w = wide("pipe-ä");
        assert_eq!(*w.last().unwrap(), 0);
        assert_eq!(from_wide(&w), "pipe-ä");
    }
}
