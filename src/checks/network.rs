//! The `network` check.

use super::CheckContext;
use proto::CheckResult;

pub async fn run(_ctx: CheckContext) -> anyhow::Result<CheckResult> {
    anyhow::bail!("not built yet")
}

/// `shiftready probe`.
pub async fn cmd_probe(
    _loaded: &crate::config::Loaded,
    _args: &crate::cli::ProbeArgs,
) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
