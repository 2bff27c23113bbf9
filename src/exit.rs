//! Exit codes, in one place. 0–3 are the readiness of `shiftready check` (see
//! `proto::Readiness::exit_code`); usage and configuration errors are 64 and above
//! (sysexits.h). The library returns typed errors; [`code_of`] maps them to codes, and the
//! commands (`crate::commands`) use [`ExitError`] for what only they know (a bad argument).

use crate::audio::wav::WavError;
use crate::daemon::core::StateDirError;
use crate::daemon::lock::LockError;
use crate::enroll::SecretError;
use crate::hq_client::HqError;
use crate::ipc::IpcError;

/// Bad command line.
pub const USAGE: i32 = 64;
/// An input file (WAV, CSV) is malformed or unsupported.
pub const DATA: i32 = 65;
/// An input file does not exist or cannot be read.
pub const NO_INPUT: i32 = 66;
/// A service we need is not there: the daemon is not running, HQ refused or is down.
pub const UNAVAILABLE: i32 = 69;
/// A bug: an internal error or a panic.
pub const SOFTWARE: i32 = 70;
/// Cannot create or write a file we need (state dir, key file, spool).
pub const CANT_CREATE: i32 = 73;
/// The configuration is invalid.
pub const CONFIG: i32 = 78;

/// An error that knows its exit code. Other errors exit with [`SOFTWARE`].
#[derive(Debug)]
pub struct ExitError {
    pub code: i32,
    /// The English text (`Display`: logs, tests, scripts).
    pub message: String,
    /// The same message as words of the bundles, which `main` says in the agent's language
    /// (`commands::errors`); `None` for a message only in English.
    pub said: Option<proto::Msg>,
}

impl ExitError {
    /// Builds the error already wrapped in `anyhow`, which is what every caller returns.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(code: i32, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(ExitError {
            code,
            message: message.into(),
            said: None,
        })
    }

    /// As [`ExitError::new`], for a message of the bundles: English in `Display`, said in the
    /// agent's language when `main` prints it.
    pub fn said(code: i32, msg: proto::Msg) -> anyhow::Error {
        anyhow::Error::new(ExitError {
            code,
            message: crate::i18n::text(crate::i18n::Lang::En, &msg),
            said: Some(msg),
        })
    }
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitError {}

/// The exit code for an error: its own if it carries one, that of the first typed error in its
/// chain, else [`SOFTWARE`].
pub fn code_of(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ExitError>() {
            return e.code;
        }
        if cause.downcast_ref::<proto::load::ConfigError>().is_some() {
            return CONFIG;
        }
        if let Some(e) = cause.downcast_ref::<HqError>() {
            return of_hq(e);
        }
        if let Some(e) = cause.downcast_ref::<SecretError>() {
            return of_secret(e);
        }
        if let Some(e) = cause.downcast_ref::<IpcError>() {
            return of_ipc(e);
        }
        if let Some(e) = cause.downcast_ref::<LockError>() {
            return of_lock(e);
        }
        if let Some(e) = cause.downcast_ref::<WavError>() {
            return of_wav(e);
        }
        if cause.downcast_ref::<StateDirError>().is_some() {
            return CANT_CREATE;
        }
    }
    SOFTWARE
}

/// The daemon not there or not answering is [`UNAVAILABLE`]; a daemon that cannot make its
/// endpoint [`CANT_CREATE`].
pub fn of_ipc(e: &IpcError) -> i32 {
    match e {
        IpcError::CannotListen(_) => CANT_CREATE,
        IpcError::NotRunning { .. }
        | IpcError::NoAnswer(_)
        | IpcError::Closed
        | IpcError::NotOurs(_) => UNAVAILABLE,
    }
}

/// Another daemon holding the lock is [`UNAVAILABLE`]; a lock file that cannot be opened
/// [`CANT_CREATE`].
pub fn of_lock(e: &LockError) -> i32 {
    match e {
        LockError::Open { .. } => CANT_CREATE,
        LockError::Held { .. } => UNAVAILABLE,
    }
}

/// A WAV file that cannot be opened is [`NO_INPUT`]; anything else about it is [`DATA`].
pub fn of_wav(e: &WavError) -> i32 {
    match e {
        WavError::Open { .. } => NO_INPUT,
        _ => DATA,
    }
}

/// HQ's refusals: a bad `hq.*` setting is [`CONFIG`], a wrong secret or no enrollment
/// [`USAGE`], everything else (down, revoked, rate-limited) [`UNAVAILABLE`].
pub fn of_hq(e: &HqError) -> i32 {
    match e {
        HqError::Config(_) => CONFIG,
        HqError::BadSecret | HqError::NotEnrolled => USAGE,
        _ => UNAVAILABLE,
    }
}

/// An enrollment secret file that cannot be read is [`NO_INPUT`]; a secret given no way,
/// several ways, or malformed is [`USAGE`].
pub fn of_secret(e: &SecretError) -> i32 {
    match e {
        SecretError::Unreadable { .. } => NO_INPUT,
        _ => USAGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors_map_to_their_codes_anywhere_in_the_chain() {
        use anyhow::Context;
        let code = |e: anyhow::Error| code_of(&e);
        assert_eq!(code(anyhow::Error::new(HqError::BadSecret)), USAGE);
        assert_eq!(
            code(anyhow::Error::new(HqError::Config("x".into()))),
            CONFIG
        );
        assert_eq!(code(anyhow::Error::new(HqError::Revoked)), UNAVAILABLE);
        let wrapped: anyhow::Result<()> = Err(HqError::RateLimited).context("enrollment failed");
        assert_eq!(code(wrapped.unwrap_err()), UNAVAILABLE);
        assert_eq!(code(anyhow::Error::new(SecretError::Missing)), USAGE);
        assert_eq!(
            code(anyhow::Error::new(SecretError::Empty("--token".into()))),
            USAGE
        );
        let unreadable = SecretError::Unreadable {
            what: "f".into(),
            detail: "gone".into(),
        };
        assert_eq!(code(anyhow::Error::new(unreadable)), NO_INPUT);
        assert_eq!(code(ExitError::new(CANT_CREATE, "x")), CANT_CREATE);
        assert_eq!(code(IpcError::Closed.into()), UNAVAILABLE);
        assert_eq!(code(IpcError::CannotListen("x".into()).into()), CANT_CREATE);
        let held = LockError::Held {
            pid: "1".into(),
            path: "l".into(),
        };
        assert_eq!(code(held.into()), UNAVAILABLE);
        let open = LockError::Open {
            path: "l".into(),
            source: std::io::Error::other("denied"),
        };
        assert_eq!(code(open.into()), CANT_CREATE);
        let dir = StateDirError {
            path: "d".into(),
            source: std::io::Error::other("denied"),
        };
        let wrapped: anyhow::Result<()> = Err(dir).context("starting the daemon");
        assert_eq!(code(wrapped.unwrap_err()), CANT_CREATE);
        let gone = WavError::Open {
            path: "a.wav".into(),
            source: std::io::Error::other("gone"),
        };
        assert_eq!(code(gone.into()), NO_INPUT);
        assert_eq!(
            code(
                WavError::Empty {
                    path: "a.wav".into()
                }
                .into()
            ),
            DATA
        );
        assert_eq!(code(anyhow::anyhow!("a bug")), SOFTWARE);
    }
}
