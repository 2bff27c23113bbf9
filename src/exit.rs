//! Exit codes, in one place. 0–3 are the readiness of `shiftready check` (see
//! `proto::Readiness::exit_code`); usage and configuration errors are 64 and above
//! (sysexits.h).

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
    pub message: String,
}

impl ExitError {
    /// Builds the error already wrapped in `anyhow`, which is what every caller returns.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(code: i32, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(ExitError {
            code,
            message: message.into(),
        })
    }
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitError {}

/// The exit code for an error: its own if it carries one, else [`SOFTWARE`].
pub fn code_of(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ExitError>() {
            return e.code;
        }
        if cause.downcast_ref::<proto::load::ConfigError>().is_some() {
            return CONFIG;
        }
    }
    SOFTWARE
}
