//! macOS: the product version from sysinfo (kern.osproductversion). macOS does not expose a
//! pending-restart flag to programs, so it is reported as unknown.

use super::OsFacts;

pub fn fill(f: &mut OsFacts) -> anyhow::Result<()> {
    f.version = sysinfo::System::os_version().unwrap_or_default();
    f.name = format!("macOS {}", f.version);
    f.pending_reboot = None;
    Ok(())
}
