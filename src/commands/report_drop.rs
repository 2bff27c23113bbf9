//! `shiftready report-drop [--note TEXT] [--json]`: tells the running daemon that a call just
//! dropped. The daemon records a `call_drop` event with the last 15 minutes of its per-second
//! network history, the headset, the noise and the link, and the note (issue 15); the event
//! reaches HQ like every other, through the spool. Exit 0 recorded, 64 a note over
//! [`proto::sample::CALL_DROP_MAX_NOTE`] characters, 69 no daemon running (as `sign-in`).

use crate::exit::{self, ExitError};
use crate::i18n::say;
use crate::ipc::{self, Request};
use std::path::Path;

/// Asks the daemon for `state_dir` to record a dropped call with `note`, and prints what it
/// recorded (JSON with `json`).
pub fn report_drop(state_dir: &Path, note: Option<&str>, json: bool) -> anyhow::Result<i32> {
    let note = note.unwrap_or("").to_string();
    if let Some(n) = crate::daemon::samples::note_problem(&note) {
        let why = crate::daemon::samples::note_too_long(n);
        return Err(ExitError::new(
            exit::USAGE,
            say(std::slice::from_ref(&why), &why.english()),
        ));
    }
    let resp = ipc::request(state_dir, Request::ReportDrop { note })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&resp.for_json())?);
    } else if !resp.message.is_empty() {
        println!("{}", say(&resp.said, &resp.message));
    }
    Ok(if resp.ok && resp.call_drop.is_some() {
        0
    } else {
        exit::UNAVAILABLE
    })
}
