//! The `os` check.

use super::CheckContext;
use proto::CheckResult;

pub async fn run(_ctx: CheckContext) -> anyhow::Result<CheckResult> {
    anyhow::bail!("not built yet")
}
