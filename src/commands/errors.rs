//! The errors a person acts on, said in the agent's language (issue 16) when `main` prints
//! them: the daemon not running, HQ unreachable or refusing, a configuration file's problems.
//! The error types keep their English `Display` (logs, tests, scripts); here the first of
//! them found in an error's chain is said again in the agent's language, the file, line, key
//! and the system's own detail kept as they are. Errors not listed here print as they always
//! did.

use crate::audio::wav::WavError;
use crate::daemon::core::StateDirError;
use crate::daemon::lock::LockError;
use crate::enroll::SecretError;
use crate::hq_client::HqError;
use crate::i18n::{Lang, current, text};
use crate::ipc::IpcError;
use proto::load::ConfigError;
use proto::{Msg, MsgArg};

/// `err` as `main` prints it after "shiftready: ", in this process's language.
pub fn text_of(err: &anyhow::Error) -> String {
    text_in(current(), err)
}

/// `err` in `lang`: in English exactly `{err:#}`; otherwise the chain's contexts before the
/// first error said here, then that error in `lang`.
pub fn text_in(lang: Lang, err: &anyhow::Error) -> String {
    let english = format!("{err:#}");
    if lang == Lang::En {
        return english;
    }
    let mut before = Vec::new();
    for cause in err.chain() {
        if let Some(said) = said(lang, cause) {
            before.push(said);
            return before.join(": ");
        }
        before.push(cause.to_string());
    }
    english
}

fn said(lang: Lang, cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<IpcError>() {
        return ipc(lang, e);
    }
    if let Some(e) = cause.downcast_ref::<HqError>() {
        return hq(lang, e);
    }
    if let Some(e) = cause.downcast_ref::<ConfigError>() {
        return Some(config(lang, e));
    }
    if let Some(e) = cause.downcast_ref::<SecretError>() {
        return Some(text(lang, &secret(e)));
    }
    if let Some(e) = cause.downcast_ref::<LockError>() {
        return Some(text(lang, &lock(lang, e)));
    }
    if let Some(e) = cause.downcast_ref::<StateDirError>() {
        return Some(text(
            lang,
            &Msg::new("err-state-dir")
                .text("path", e.path.display().to_string())
                .text("detail", io_detail(lang, &e.source)),
        ));
    }
    if let Some(e) = cause.downcast_ref::<WavError>() {
        return Some(text(lang, &wav(lang, e)));
    }
    if let Some(e) = cause.downcast_ref::<crate::exit::ExitError>() {
        return exit_error(lang, e);
    }
    None
}

/// An OS error's words: the common ones said in `lang`, the rest as the OS said them.
pub fn io_detail(lang: Lang, e: &std::io::Error) -> String {
    let id = match e.kind() {
        std::io::ErrorKind::NotFound => "err-io-not-found",
        std::io::ErrorKind::PermissionDenied => "err-io-permission-denied",
        _ => return e.to_string(),
    };
    if lang == Lang::En {
        return e.to_string();
    }
    text(lang, &Msg::new(id))
}

/// An OS error that came as text: the common ones said in `lang` (the OS's own words for
/// them compared), the rest as they are.
fn os_words(lang: Lang, detail: &str) -> String {
    for kind in [
        std::io::ErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied,
    ] {
        let raw = match kind {
            std::io::ErrorKind::NotFound => 2,
            _ => 13,
        };
        let e = std::io::Error::from_raw_os_error(raw);
        if cfg!(unix) && e.to_string() == detail {
            return io_detail(lang, &e);
        }
    }
    detail.to_string()
}

fn secret(e: &SecretError) -> Msg {
    match e {
        SecretError::Missing => Msg::new("err-secret-missing"),
        SecretError::SeveralWays(ways) => Msg::new("err-secret-several")
            .arg("count", MsgArg::Count(ways.len() as i64))
            .text("ways", ways.join(", ")),
        SecretError::Unreadable { what, detail } => Msg::new("err-secret-unreadable")
            .text("what", what.clone())
            .text("detail", detail.clone()),
        SecretError::TooLong(what) => Msg::new("err-secret-too-long")
            .text("what", what.clone())
            .arg("max", MsgArg::Count(crate::enroll::MAX_SECRET_BYTES as i64)),
        SecretError::NotText(what) => Msg::new("err-secret-not-text").text("what", what.clone()),
        SecretError::Empty(what) => Msg::new("err-secret-empty").text("what", what.clone()),
        SecretError::NotOneWord(what) => {
            Msg::new("err-secret-not-one-word").text("what", what.clone())
        }
    }
}

fn lock(lang: Lang, e: &LockError) -> Msg {
    match e {
        LockError::Open { path, source } => Msg::new("err-lock-open")
            .text("path", path.display().to_string())
            .text("detail", io_detail(lang, source)),
        LockError::Held { pid, path } => Msg::new("err-lock-held")
            .text("pid", pid.clone())
            .text("path", path.display().to_string()),
    }
}

fn wav(lang: Lang, e: &WavError) -> Msg {
    match e {
        WavError::Open { path, source } => Msg::new("err-wav-open")
            .text("path", path.clone())
            .text("detail", io_detail(lang, source)),
        WavError::Format { path, reason } => Msg::new("err-wav-format")
            .text("path", path.clone())
            .text("reason", reason.clone()),
        WavError::Truncated { path } => Msg::new("err-wav-truncated").text("path", path.clone()),
        WavError::Empty { path } => Msg::new("err-wav-empty").text("path", path.clone()),
        WavError::Unsupported {
            path,
            what,
            supported,
        } => Msg::new("err-wav-unsupported")
            .text("path", path.clone())
            .text("what", what.clone())
            .text("supported", *supported),
    }
}

/// A usage error that carries its message (`--only`): said again when its English is one of
/// the bundle's (see [`only_unknown`]).
fn exit_error(lang: Lang, e: &crate::exit::ExitError) -> Option<String> {
    e.said.as_ref().map(|m| text(lang, m))
}

/// `--only` naming a check that does not exist.
pub fn only_unknown(name: &str, names: &str) -> Msg {
    Msg::new("err-only-unknown")
        .text("name", name.to_string())
        .text("names", names.to_string())
}

fn ipc(lang: Lang, e: &IpcError) -> Option<String> {
    let m = match e {
        IpcError::NotRunning { endpoint, detail } => Msg::new("err-daemon-not-running")
            .text("endpoint", endpoint.clone())
            .text("detail", os_words(lang, detail)),
        IpcError::NoAnswer(detail) => {
            Msg::new("err-daemon-no-answer").text("detail", detail.clone())
        }
        IpcError::Closed => Msg::new("err-daemon-closed"),
        IpcError::NotOurs(_) | IpcError::CannotListen(_) => return None,
    };
    Some(text(lang, &m))
}

fn hq(lang: Lang, e: &HqError) -> Option<String> {
    let m = match e {
        HqError::Unreachable { url, detail } => Msg::new("err-hq-unreachable")
            .text("url", url.clone())
            .text("detail", detail.clone()),
        HqError::Timeout { url, seconds } => Msg::new("err-hq-timeout")
            .text("url", url.clone())
            .arg("seconds", MsgArg::Count(*seconds as i64)),
        HqError::Tls { url, detail } => Msg::new("err-hq-tls")
            .text("url", url.clone())
            .text("detail", detail.clone()),
        HqError::NotEnrolled => Msg::new("err-hq-not-enrolled"),
        HqError::UnknownKey => Msg::new("err-hq-unknown-key"),
        HqError::Revoked => Msg::new("err-hq-revoked"),
        HqError::Reenroll => Msg::new("err-hq-reenroll"),
        HqError::BadSecret => Msg::new("err-hq-bad-secret"),
        HqError::RateLimited => Msg::new("err-hq-rate-limited"),
        HqError::RetryAfter { seconds } => {
            Msg::new("err-hq-retry-after").arg("seconds", MsgArg::Count(*seconds as i64))
        }
        HqError::Server { status, message } => Msg::new("err-hq-server")
            .arg("status", MsgArg::Count(i64::from(*status)))
            .text("message", message.clone()),
        HqError::Redirected {
            url,
            status,
            location,
        } => Msg::new("err-hq-redirected")
            .text("url", url.clone())
            .arg("status", MsgArg::Count(i64::from(*status)))
            .text("location", location.clone()),
        HqError::Rejected { status, message } => Msg::new("err-hq-rejected")
            .arg("status", MsgArg::Count(i64::from(*status)))
            .text("message", message.clone()),
        HqError::BadResponse(detail) => {
            Msg::new("err-hq-bad-response").text("detail", detail.clone())
        }
        HqError::Config(_) => return None,
    };
    Some(text(lang, &m))
}

/// A configuration file's problems: the framing in `lang`; the file, line, key and each
/// problem's own words as they are.
fn config(lang: Lang, e: &ConfigError) -> String {
    let file = e.file.display().to_string();
    let mut out = text(
        lang,
        &Msg::new("err-config-problems")
            .text("file", file.clone())
            .arg("problems", MsgArg::Count(e.problems.len() as i64)),
    );
    out.push('\n');
    for p in &e.problems {
        let at = match p.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        };
        let problem = problem_in(lang, &p.message);
        let line = if p.key.is_empty() {
            format!("{at}: {problem}")
        } else {
            text(
                lang,
                &Msg::new("err-config-key")
                    .text("at", at)
                    .text("key", p.key.clone())
                    .text("problem", problem),
            )
        };
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// One problem of a configuration file in `lang`: its English words read back as the message
/// they are (the TOML parser's and serde's shapes, and `config.rs`'s own, which it makes from
/// the bundle), said in `lang`; a shape not known here stays as it is.
pub fn problem_in(lang: Lang, message: &str) -> String {
    match problem_msg(lang, message) {
        Some(m) if lang != Lang::En => text(lang, &m),
        _ => message.to_string(),
    }
}

/// The message a configuration problem's English words are, if they are one of the bundle's:
/// the shapes of `proto::load` (its plain words for serde's) and `config.rs`'s own.
pub fn problem_msg(lang: Lang, m: &str) -> Option<Msg> {
    if let Some(d) = m.strip_prefix("not valid TOML: ") {
        return Some(Msg::new("cfg-not-toml").text("detail", d));
    }
    if let Some(d) = m.strip_prefix("cannot read the file: ") {
        return Some(Msg::new("cfg-unreadable").text("detail", d));
    }
    if let Some(rest) = m.strip_prefix("unknown field '") {
        let (key, rest) = rest.split_once('\'')?;
        if rest == ", there are no fields" {
            return Some(Msg::new("cfg-unknown-key-none").text("key", key));
        }
        let e = rest.strip_prefix(", expected ")?;
        let e = e.strip_prefix("one of ").unwrap_or(e);
        return Some(
            Msg::new("cfg-unknown-key")
                .text("key", key)
                .text("expected", e),
        );
    }
    if let Some(key) = m
        .strip_prefix("missing field '")
        .and_then(|r| r.strip_suffix('\''))
    {
        return Some(Msg::new("cfg-missing-key").text("key", key));
    }
    if let Some((value, choices)) = m.split_once(" is not one of the choices: ") {
        return Some(
            Msg::new("cfg-not-a-choice")
                .text("value", value)
                .text("choices", choices),
        );
    }
    // "must be a number (it is the text \"x\")"
    for (english, id) in WANTED {
        if let Some(found) = m
            .strip_prefix(english)
            .and_then(|r| r.strip_prefix(" ("))
            .and_then(|r| r.strip_suffix(')'))
        {
            return Some(
                Msg::new("cfg-wrong-value")
                    .arg("want", MsgArg::Id(id))
                    .text("found", found_in(lang, found)),
            );
        }
    }
    crate::config::problem_msg(m)
}

/// `proto::load::plain_words`' words for the value a key wants, and their messages.
const WANTED: [(&str, &str); 7] = [
    ("must be a whole number, 0 or more", "cfg-want-unsigned"),
    ("must be a whole number", "cfg-want-integer"),
    ("must be a number", "cfg-want-number"),
    ("must be true or false", "cfg-want-bool"),
    ("must be text in quotes", "cfg-want-text"),
    (
        "must be a list in brackets, like [\"a\", \"b\"]",
        "cfg-want-list",
    ),
    ("must be a table of settings", "cfg-want-table"),
];

/// `plain_words`' "it is the text \"x\"" in `lang`.
fn found_in(lang: Lang, found: &str) -> String {
    let m = if let Some(v) = found.strip_prefix("it is the text ") {
        Msg::new("cfg-found-text").text("value", v)
    } else if let Some(v) = found.strip_prefix("it is the number ") {
        Msg::new("cfg-found-number").text("value", v)
    } else if found == "it is a list" {
        Msg::new("cfg-found-list")
    } else if found == "it is a table" {
        Msg::new("cfg-found-table")
    } else if let Some(v) = found.strip_prefix("it is ") {
        Msg::new("cfg-found-other").text("value", v)
    } else {
        return found.to_string();
    };
    text(lang, &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// English is exactly what `{e:#}` always printed, for each error said here.
    #[test]
    fn english_is_unchanged() {
        let errors: Vec<anyhow::Error> = vec![
            IpcError::NotRunning {
                endpoint: "/run/x.sock".into(),
                detail: "No such file or directory (os error 2)".into(),
            }
            .into(),
            anyhow::Error::new(HqError::Unreachable {
                url: "https://hq.example.com".into(),
                detail: "connection refused".into(),
            })
            .context("enrollment failed"),
            HqError::Timeout {
                url: "https://hq.example.com".into(),
                seconds: 10,
            }
            .into(),
            ConfigError {
                file: "/etc/agent.toml".into(),
                problems: vec![proto::load::Problem {
                    line: Some(3),
                    key: "hq.url".into(),
                    message: "'ftp://x' must start with https://".into(),
                }],
            }
            .into(),
        ];
        for e in &errors {
            assert_eq!(text_in(Lang::En, e), format!("{e:#}"));
        }
    }

    /// The English messages of the bundle are the errors' own texts, so a Swedish message
    /// that fails falls back to the same English.
    #[test]
    fn the_english_messages_are_the_errors_own() {
        let url = || "https://hq.example.com".to_string();
        let hq = [
            HqError::Unreachable {
                url: url(),
                detail: "refused".into(),
            },
            HqError::Timeout {
                url: url(),
                seconds: 10,
            },
            HqError::Tls {
                url: url(),
                detail: "bad cert".into(),
            },
            HqError::NotEnrolled,
            HqError::UnknownKey,
            HqError::Revoked,
            HqError::Reenroll,
            HqError::BadSecret,
            HqError::RateLimited,
            HqError::RetryAfter { seconds: 30 },
            HqError::Server {
                status: 503,
                message: "down".into(),
            },
        ];
        for e in &hq {
            assert_eq!(said(Lang::En, e).as_deref(), Some(e.to_string().as_str()));
        }
        let ipc = [
            IpcError::NotRunning {
                endpoint: "/x".into(),
                detail: "gone".into(),
            },
            IpcError::NoAnswer("late".into()),
            IpcError::Closed,
        ];
        for e in &ipc {
            assert_eq!(said(Lang::En, e).as_deref(), Some(e.to_string().as_str()));
        }
    }

    #[test]
    fn swedish_keeps_the_facts() {
        let e: anyhow::Error = IpcError::NotRunning {
            endpoint: "/run/x.sock".into(),
            detail: "os error 2".into(),
        }
        .into();
        let sv = text_in(Lang::Sv, &e);
        assert!(sv.starts_with("ShiftReady körs inte"), "{sv}");
        assert!(
            sv.contains("/run/x.sock: os error 2") && sv.contains("`shiftready run`"),
            "{sv}"
        );
        let e = ConfigError {
            file: "/etc/agent.toml".into(),
            problems: vec![
                proto::load::Problem {
                    line: Some(3),
                    key: "hq.url".into(),
                    message: "must start with https://".into(),
                },
                proto::load::Problem {
                    line: None,
                    key: String::new(),
                    message: "unreadable".into(),
                },
            ],
        };
        let sv = text_in(Lang::Sv, &anyhow::Error::new(e));
        assert_eq!(
            sv,
            "/etc/agent.toml innehåller 2 fel:\n  /etc/agent.toml:3: inställningen `hq.url`: \
             must start with https://\n  /etc/agent.toml: unreadable\n"
        );
    }
}
