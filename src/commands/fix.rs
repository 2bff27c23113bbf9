//! `shiftready fix [--dry-run] [--json]`: makes the headset the default microphone and
//! speaker ([`crate::fix`]), then runs the headset check again and prints both.

use super::render;
use crate::checks::{self, CheckContext};
use crate::cli::FixArgs;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use crate::fix::{self as sound, FixError};
use proto::names::CheckName;

/// `shiftready fix`.
pub async fn fix(loaded: &Loaded, args: &FixArgs) -> anyhow::Result<i32> {
    let dry_run = args.dry_run;
    let changes = match tokio::task::spawn_blocking(move || sound::fix(dry_run)).await? {
        Ok(c) => c,
        Err(e @ FixError::Unsupported(_)) => {
            return Err(ExitError::new(exit::UNAVAILABLE, e.text()));
        }
        Err(e @ FixError::NoHeadset) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"changed": [], "dry_run": dry_run, "error": e.to_string()})
                );
            } else {
                println!("{}", e.text());
            }
            return Ok(proto::Readiness::NotReady.exit_code());
        }
        Err(e) => return Err(ExitError::new(exit::UNAVAILABLE, e.text())),
    };
    let ctx = CheckContext::new(loaded);
    let name = CheckName::Headset.as_str();
    let report = checks::run_checks(&[name], &ctx, None).await;
    let headset =
        report.checks.get(name).cloned().unwrap_or_else(|| {
            proto::CheckResult::error("The headset check did not run.".to_string())
        });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "changed": changes, "dry_run": dry_run, "headset": headset,
            }))?
        );
    } else {
        print!("{}", render::render_fix(&changes, dry_run));
        print!(
            "{}",
            render::render_check(name, &headset, Some(&loaded.policy), render::use_color())
        );
    }
    Ok(proto::Readiness::from_statuses([headset.status]).exit_code())
}
