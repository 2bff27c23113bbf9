//! Windows: version and build from sysinfo (which reads RtlGetVersion and the registry's
//! CurrentBuild); a pending reboot from the servicing stack's registry flags.

use super::OsFacts;

pub fn fill(f: &mut OsFacts) -> anyhow::Result<()> {
    f.name = sysinfo::System::long_os_version().unwrap_or_else(|_| "Windows".into());
    // sysinfo: os_version() is e.g. "10 (19045)" or "11 (22631)"; kernel_version() the build.
    let build = sysinfo::System::kernel_version()
        .ok()
        .filter(|b| b.chars().all(|c| c.is_ascii_digit()) && !b.is_empty());
    // Windows 11 still reports major version 10 to programs: the build tells them apart.
    f.version = match &build {
        Some(b) => format!("10.0.{b}"),
        None => sysinfo::System::os_version().unwrap_or_default(),
    };
    f.build = build;
    f.pending_reboot = pending_reboot();
    Ok(())
}

/// Windows Update and Component Based Servicing leave these keys while a restart is due.
fn pending_reboot() -> Option<bool> {
    let keys = [
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
    ];
    let mut any_answer = false;
    for key in keys {
        let out = std::process::Command::new("reg")
            .args(["query", key])
            .output()
            .ok()?;
        any_answer = true;
        if out.status.success() {
            return Some(true);
        }
    }
    any_answer.then_some(false)
}
