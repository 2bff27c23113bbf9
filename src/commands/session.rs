//! `shiftready sign-in`, `sign-out` and `status`: ask the running daemon and print its answer.

use super::render::render_status;
use crate::exit;
use crate::ipc::{self, Request};
use std::path::Path;

/// Sends `req` to the daemon for `state_dir` and prints the answer (JSON with `json`).
/// Exit 0 when done; 2 when `sign-in` was refused because the computer is below the site's
/// readiness bar and `shift.manual_sign_in_below_bar = "refuse"` (2 is `check`'s "not
/// ready"); 69 when the daemon is not running or refused otherwise.
pub fn ask(state_dir: &Path, req: Request, json: bool) -> anyhow::Result<i32> {
    let resp = ipc::request(state_dir, req.clone())?;
    if json {
        // English only, as always: the messages for the agent's language stay out.
        let doc = if req == Request::Status {
            serde_json::to_string_pretty(&resp.status.for_json())?
        } else {
            serde_json::to_string_pretty(&resp.for_json())?
        };
        println!("{doc}");
    } else {
        if !resp.message.is_empty() {
            println!("{}", crate::i18n::say(&resp.said, &resp.message));
        }
        if req == Request::Status {
            print!("{}", render_status(&resp.status));
        }
    }
    Ok(match (resp.ok, req) {
        (true, _) => 0,
        // The site's policy refused a sign-in below its readiness bar: exit as `check` does
        // for a computer that is not ready for calls.
        (false, Request::SignIn) => proto::Readiness::NotReady.exit_code(),
        (false, _) => exit::UNAVAILABLE,
    })
}
