//! The `headset` check.

use super::CheckContext;
use proto::CheckResult;

pub async fn run(_ctx: CheckContext) -> anyhow::Result<CheckResult> {
    anyhow::bail!("not built yet")
}

/// `shiftready devices`.
pub fn cmd_devices(_loaded: &crate::config::Loaded, _json: bool) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
