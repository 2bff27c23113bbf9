//! The `os` check: family, version, build, arch, uptime and a pending reboot, compared with
//! the policy's minimum version per family.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod other;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(target_os = "macos")]
use macos as platform;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
use other as platform;
#[cfg(windows)]
use windows as platform;

use super::CheckContext;
use proto::CheckResult;
use shiftready_core::checks::os::{OsFacts, evaluate};

/// Gathers the facts of this computer.
pub fn gather() -> anyhow::Result<OsFacts> {
    let mut f = OsFacts {
        family: std::env::consts::OS.to_string(),
        kernel: sysinfo::System::kernel_version().unwrap_or_default(),
        arch: sysinfo::System::cpu_arch(),
        uptime_s: sysinfo::System::uptime().ok(),
        ..OsFacts::default()
    };
    platform::fill(&mut f)?;
    Ok(f)
}

pub async fn run(ctx: CheckContext) -> anyhow::Result<CheckResult> {
    let facts = tokio::task::spawn_blocking(gather).await??;
    Ok(evaluate(&facts, &ctx.policy.os))
}
