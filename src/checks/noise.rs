//! The `noise` check.

use super::CheckContext;
use proto::CheckResult;

pub async fn run(_ctx: CheckContext) -> anyhow::Result<CheckResult> {
    anyhow::bail!("not built yet")
}

/// `shiftready noise`.
pub async fn cmd_noise(
    _loaded: &crate::config::Loaded,
    _args: &crate::cli::NoiseArgs,
) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
