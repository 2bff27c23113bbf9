//! `shiftready check [--only NAMES] [--json] [--no-send]`: the whole pre-shift check. Exit 0
//! ready, 1 degraded, 2 not ready, 3 unknown; enrolled agents also send the report to HQ.

use super::render;
use crate::checks::{self, CheckContext, Progress};
use crate::cli::CheckArgs;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use crate::hq_client::{HqClient, HqError};
use proto::{Event, EventBody, Report};
use std::sync::Arc;

/// `shiftready check`.
pub async fn check(loaded: &Loaded, args: &CheckArgs) -> anyhow::Result<i32> {
    let names: Vec<&str> = if args.only.is_empty() {
        proto::report::CHECK_NAMES.to_vec()
    } else {
        for n in &args.only {
            if !proto::report::CHECK_NAMES.contains(&n.as_str()) {
                let m = super::errors::only_unknown(n, &proto::report::CHECK_NAMES.join(", "));
                return Err(ExitError::said(exit::USAGE, m));
            }
        }
        args.only.iter().map(String::as_str).collect()
    };
    let mut ctx = CheckContext::pre_shift(loaded);
    if ctx.load_phase && loaded.policy.network.load_test && names.contains(&"network") {
        if let Some(why) = no_load_now(loaded).await {
            ctx.load_phase = false;
            eprintln!("{why}");
        }
    }
    let live = (!args.json).then(render::LiveProgress::new).flatten();
    let report =
        checks::run_checks(&names, &ctx, live.clone().map(|l| l as Arc<dyn Progress>)).await;
    if let Some(l) = live {
        l.clear();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!(
            "{}",
            render::render_report(&report, Some(&loaded.policy), render::use_color())
        );
    }
    if !args.no_send {
        // Enrolled agents send the report to HQ; a failure warns and never changes the exit code.
        match send_report(loaded, &report).await {
            Ok(true) if !args.json => eprintln!("{}", crate::i18n::tr("check-sent")),
            Ok(_) => {}
            Err(e) => eprintln!(
                "shiftready: {}",
                crate::i18n::trm(&proto::Msg::new("check-not-sent").text("error", e.to_string()))
            ),
        }
    }
    Ok(report.readiness.exit_code())
}

/// Why this check must not fill the line now, in the agent's language; `None` when it may.
///
/// The latency-under-load phase saturates the line for seconds, which would break up a call in
/// progress. Nothing on this computer says whether a call is on (the softphone is another
/// program; the daemon's monitor and pilot measure the line, not calls), so the shift stands
/// for it: while the daemon says the agent is signed in to a shift, calls may come at any
/// moment, and the check leaves the load phase out and says so. No daemon (or one that does
/// not answer within 2 s): not signed in, the load phase runs.
async fn no_load_now(loaded: &Loaded) -> Option<String> {
    let state_dir = loaded.state_dir();
    let ask = tokio::task::spawn_blocking(move || {
        crate::ipc::request(&state_dir, crate::ipc::Request::Status)
    });
    let status = tokio::time::timeout(std::time::Duration::from_secs(2), ask)
        .await
        .ok()?
        .ok()?
        .ok()?;
    status
        .status
        .signed_in
        .then(|| crate::i18n::tr("check-no-load-signed-in"))
}

/// Sends one report to HQ as a `report` event. `Ok(false)` when this agent has not enrolled.
async fn send_report(loaded: &Loaded, report: &Report) -> Result<bool, HqError> {
    let Some(client) = HqClient::for_device(loaded)? else {
        return Ok(false);
    };
    let mut e = Event::now(EventBody::Report {
        report: report.clone(),
    });
    e.sent_at = Some(chrono::Utc::now());
    let ack = client.send_events(std::slice::from_ref(&e)).await?;
    if ack.accepted.contains(&e.id) {
        Ok(true)
    } else {
        Err(HqError::BadResponse(
            "HQ did not acknowledge the report".into(),
        ))
    }
}
