//! `shiftready fix`: makes the headset the computer's default microphone and speaker, unmutes
//! it and raises a microphone volume set near zero — the commonest pre-shift failure is "the
//! headset is plugged in but the computer still uses the built-in microphone". It changes only
//! what it is asked to (the command, or "Fix it" in the tray menu) and says exactly what it
//! changed. The sound-system calls are per OS (`linux.rs`: PulseAudio or PipeWire through
//! `pactl`); elsewhere it says plainly that it cannot change the settings here.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod other;

#[cfg(target_os = "linux")]
use linux as os;
#[cfg(not(target_os = "linux"))]
use other as os;

use serde::Serialize;

/// One change to the sound settings, in words a person reads, and what it was before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `default_input`, `default_output`, `unmute_input`, `unmute_output`, `input_volume`.
    pub kind: &'static str,
    /// The sentence shown to the agent ("Jabra Evolve2 40 is now the default microphone (was
    /// Built-in Audio).").
    pub what: String,
}

/// Why nothing could be fixed.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// This computer's sound system cannot be changed by ShiftReady (no sound server, or an OS
    /// without a supported API). The message says what to do by hand.
    #[error("{0}")]
    Unsupported(String),
    /// No headset is connected, so there is nothing to make the default.
    #[error(
        "No headset found: plug in your headset (a Bluetooth headset must be connected, not only \
         paired), then run the fix again."
    )]
    NoHeadset,
    /// The sound system refused a change.
    #[error(
        "The sound system refused a change ({0}): open the sound settings and make your headset the default there."
    )]
    Refused(String),
}

/// A microphone volume below this share of normal is "set near zero" and raised.
pub const LOW_INPUT_VOLUME: f64 = 0.2;

/// Works out the changes that would make the headset the default, unmuted, with a usable
/// microphone level, and makes them unless `dry_run`. Returns the changes (empty when the
/// settings were already right).
pub fn fix(dry_run: bool) -> Result<Vec<Change>, FixError> {
    os::fix(dry_run)
}
