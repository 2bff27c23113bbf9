//! Windows: the headset made the default endpoint for the console, multimedia *and*
//! communications roles (softphones use communications) through `IPolicyConfig`, its
//! microphone unmuted and raised through `IAudioEndpointVolume`
//! (`crate::platform::windows::audio`); what to change is decided by [`super::roles::plan`].
//! Where Core Audio or `IPolicyConfig` is missing (Wine has no `IPolicyConfig`) it says
//! "unsupported here" before changing anything.

use super::roles::{self, Action};
use super::{Change, FixError};
use crate::platform::windows::audio::Audio;
use proto::Msg;

fn unsupported(why: String) -> FixError {
    FixError::Unsupported(Msg::new("fix-unsupported-here").text("why", why))
}

pub fn fix(dry_run: bool) -> Result<Vec<Change>, FixError> {
    let audio = Audio::open().map_err(unsupported)?;
    let steps = roles::plan(&audio.snapshot().map_err(unsupported)?)?;
    // The policy interface first, also for a dry run: where it is missing nothing is changed
    // (or promised) by halves.
    let needs_policy = steps
        .iter()
        .any(|s| matches!(s.action, Action::SetDefault { .. }));
    let policy = if needs_policy {
        Some(audio.policy().map_err(unsupported)?)
    } else {
        None
    };
    let mut done: Vec<Change> = Vec::new();
    for step in steps {
        if !dry_run {
            let result = match (&step.action, &policy) {
                (Action::SetDefault { id, roles, .. }, Some(p)) => p.set_default(id, roles),
                (Action::SetDefault { .. }, None) => Ok(()),
                (Action::Unmute { id, .. }, _) => audio.unmute(id),
                (Action::RaiseVolume { id }, _) => audio.raise_volume(id),
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
