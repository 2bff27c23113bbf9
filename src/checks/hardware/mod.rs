//! The `hardware` check: CPU model, cores and load, memory, free disk on the home volume, and
//! whether the computer runs on battery.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod other;

#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(not(target_os = "linux"))]
use other as platform;

use super::CheckContext;
use proto::CheckResult;
use shiftready_core::checks::hardware::{HardwareFacts, Power, evaluate};
use std::time::Duration;

/// How long CPU load is sampled.
pub const CPU_SAMPLE: Duration = Duration::from_secs(1);

/// Measures this computer; takes about [`CPU_SAMPLE`].
pub fn gather() -> anyhow::Result<HardwareFacts> {
    use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, RefreshKind, System};
    let mut sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing().with_usage())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    )?;
    std::thread::sleep(CPU_SAMPLE.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL));
    sys.refresh_cpu_usage();
    sys.refresh_memory();
    let gb = |b: u64| b as f64 / 1e9;
    let home = crate::platform::home_dir();
    let disks = Disks::new_with_refreshed_list()?;
    // The disk whose mount point is the longest prefix of the home directory.
    let disk = home.as_deref().and_then(|home| {
        disks
            .iter()
            .filter(|d| home.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len())
    });
    let (power, battery_pct) = platform::power();
    Ok(HardwareFacts {
        cpu_model: sys
            .cpus()
            .first()
            .map(|c| c.brand().trim().to_string())
            .unwrap_or_default(),
        cpu_cores: sys.cpus().len(),
        cpu_load_pct: f64::from(sys.global_cpu_usage()),
        memory_total_gb: gb(sys.total_memory()),
        memory_available_gb: gb(sys.available_memory()),
        disk_free_gb: disk.map(|d| gb(d.available_space())),
        disk_mount: disk.map(|d| d.mount_point().display().to_string()),
        power,
        battery_pct,
    })
}

pub async fn run(ctx: CheckContext) -> anyhow::Result<CheckResult> {
    let facts = tokio::task::spawn_blocking(gather).await??;
    Ok(evaluate(&facts, &ctx.policy.hardware))
}
