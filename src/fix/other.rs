//! Any other OS (the BSDs, ...): no sound-system API wired in. Says what to do by hand.

use super::{Change, FixError};

pub fn fix(_dry_run: bool) -> Result<Vec<Change>, FixError> {
    Err(FixError::Unsupported(proto::Msg::new("fix-unsupported-os")))
}
