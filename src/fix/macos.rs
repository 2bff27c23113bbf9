//! macOS: the headset made the default input, output and alert output through CoreAudio's
//! default-device properties, its microphone unmuted and raised
//! (`crate::platform::macos::audio`); what to change is decided by [`super::roles::plan`].
//! Built for macOS, not run on one (see the README).

use super::roles::{self, Action};
use super::{Change, FixError};
use crate::platform::macos::audio;
use proto::Msg;

fn unsupported(why: String) -> FixError {
    FixError::Unsupported(Msg::new("fix-unsupported-here").text("why", why))
}

pub fn fix(dry_run: bool) -> Result<Vec<Change>, FixError> {
    let steps = roles::plan(&audio::snapshot().map_err(unsupported)?)?;
    let mut done: Vec<Change> = Vec::new();
    for step in steps {
        if !dry_run {
            let result = match &step.action {
                Action::SetDefault {
                    id,
                    direction,
                    roles,
                } => audio::set_default(id, *direction, roles),
                Action::Unmute { id, direction } => audio::unmute(id, *direction),
                Action::RaiseVolume { id } => audio::raise_volume(id),
            };
            if let Err(why) = result {
                // What was already changed stays changed and is reported with the failure.
                return Err(FixError::Refused {
                    why,
                    done: done.iter().map(|c| c.msg.clone()).collect(),
                });
            }
        }
        done.push(step.change);
    }
    Ok(done)
}
