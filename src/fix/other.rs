//! Windows and macOS: not yet. Windows has no documented API to set the default audio device
//! for the console and communications roles; macOS's CoreAudio default-device properties are
//! not wired in yet. Both say what to do by hand.

use super::{Change, FixError};

pub fn fix(_dry_run: bool) -> Result<Vec<Change>, FixError> {
    Err(FixError::Unsupported(proto::Msg::new("fix-unsupported-os")))
}
