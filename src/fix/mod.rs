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

use crate::i18n::{Lang, text};
use proto::{Msg, MsgArg};
use serde::Serialize;

/// One change to the sound settings, in words a person reads, and what it was before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `default_input`, `default_output`, `unmute_input`, `unmute_output`, `input_volume`.
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
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
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
