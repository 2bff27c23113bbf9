//! `shiftready sign-in`, `sign-out` and `status`: ask the running daemon and print its answer.

use super::render::render_status;
use crate::exit;
use crate::ipc::{self, Request};
use std::path::Path;

/// Sends `req` to the daemon for `state_dir` and prints the answer (JSON with `json`).
pub fn ask(state_dir: &Path, req: Request, json: bool) -> anyhow::Result<i32> {
    let resp = ipc::request(state_dir, req)?;
    if json {
        let doc = if req == Request::Status {
            serde_json::to_string_pretty(&resp.status)?
        } else {
            serde_json::to_string_pretty(&resp)?
        };
        println!("{doc}");
    } else {
        if !resp.message.is_empty() {
            println!("{}", resp.message);
        }
        if req == Request::Status {
            print!("{}", render_status(&resp.status));
        }
    }
    Ok(if resp.ok { 0 } else { exit::UNAVAILABLE })
}
