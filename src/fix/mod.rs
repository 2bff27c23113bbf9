//! `shiftready fix`: makes the headset the computer's default microphone and speaker, unmutes
//! it and raises a microphone volume set near zero — the commonest pre-shift failure is "the
//! headset is plugged in but the computer still uses the built-in microphone". It changes only
//! what it is asked to (the command, or "Fix it" in the tray menu) and says exactly what it
//! changed. The sound-system calls are per OS (`linux.rs`: PulseAudio or PipeWire through
//! `pactl`; `windows.rs`: Core Audio and `IPolicyConfig` for every role; `macos.rs`: CoreAudio's
//! default-device properties; the last two decide through the pure `roles.rs`); elsewhere, or
//! where the API is missing, it says plainly that it cannot change the settings here.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod other;
// The decision for OSes with a default per role (Windows, macOS): pure, tested everywhere.
#[cfg_attr(not(any(target_os = "macos", windows)), allow(dead_code))]
pub mod roles;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
use other as os;
#[cfg(windows)]
use windows as os;

use crate::i18n::{Lang, text};
use proto::{Msg, MsgArg};
use serde::Serialize;

/// One change to the sound settings, in words a person reads, and what it was before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `default_input`, `default_output`, `unmute_input`, `unmute_output`, `input_volume`;
    /// Windows also `default_input_communications`, `default_output_communications`; macOS
    /// also `default_output_alerts`.
    pub kind: &'static str,
    /// The sentence in English, as `--json` prints it ("Jabra Evolve2 40 is now the default
    /// microphone (was Built-in Audio).").
    pub what: String,
    /// The same sentence as a message, for the agent's language ([`Change::text`]).
    #[serde(skip)]
    pub msg: Msg,
}

impl Change {
    pub fn new(kind: &'static str, msg: Msg) -> Change {
        Change {
            kind,
            what: crate::i18n::text(Lang::En, &msg),
            msg,
        }
    }

    /// The sentence in this process's language.
    pub fn text(&self) -> String {
        crate::i18n::trm(&self.msg)
    }
}

/// Why nothing could be fixed. Its `Display` is English (what `--json` prints);
/// [`FixError::text`] says it in the agent's language.
#[derive(Debug)]
pub enum FixError {
    /// This computer's sound system cannot be changed by ShiftReady (no sound server, or an OS
    /// without a supported API). The message says what to do by hand.
    Unsupported(Msg),
    /// No headset is connected, so there is nothing to make the default.
    NoHeadset,
    /// The sound system refused a change: the command and its error, and what was already
    /// changed before it.
    Refused { why: String, done: Vec<Msg> },
}

impl FixError {
    /// The message in `lang`.
    pub fn text_in(&self, lang: Lang) -> String {
        match self {
            FixError::Unsupported(m) => text(lang, m),
            FixError::NoHeadset => text(lang, &Msg::new("fix-no-headset")),
            FixError::Refused { why, done } => {
                let mut why = why.clone();
                if !done.is_empty() {
                    let changes: Vec<String> = done.iter().map(|m| text(lang, m)).collect();
                    why.push_str(&text(
                        lang,
                        &Msg::new("fix-already-changed").text("changes", changes.join(" ")),
                    ));
                }
                text(lang, &Msg::new("fix-refused").text("why", why))
            }
        }
    }

    /// The message in this process's language.
    pub fn text(&self) -> String {
        self.text_in(crate::i18n::current())
    }
}

impl std::fmt::Display for FixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text_in(Lang::En))
    }
}

impl std::error::Error for FixError {}

/// A device's name as a message argument, or "nothing" said in the agent's language.
fn device_arg(name: Option<String>) -> MsgArg {
    match name {
        Some(n) => MsgArg::Text(n),
        None => MsgArg::Id("fix-no-device"),
    }
}

/// A microphone volume below this share of normal is "set near zero" and raised.
pub const LOW_INPUT_VOLUME: f64 = 0.2;

/// Works out the changes that would make the headset the default, unmuted, with a usable
/// microphone level, and makes them unless `dry_run`. Returns the changes (empty when the
/// settings were already right).
pub fn fix(dry_run: bool) -> Result<Vec<Change>, FixError> {
    os::fix(dry_run)
}
