//! Systems ShiftReady has no specific knowledge of: what sysinfo tells, and the check says it
//! cannot judge the version.

use super::OsFacts;

pub fn fill(f: &mut OsFacts) -> anyhow::Result<()> {
    f.name = sysinfo::System::long_os_version().unwrap_or_else(|_| f.family.clone());
    f.version = sysinfo::System::os_version().unwrap_or_default();
    Ok(())
}
