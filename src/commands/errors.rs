//! The errors a person acts on, said in the agent's language (issue 16) when `main` prints
//! them: the daemon not running, HQ unreachable or refusing, a configuration file's problems.
//! The error types keep their English `Display` (logs, tests, scripts); here the first of
//! them found in an error's chain is said again in the agent's language, the file, line, key
//! and the system's own detail kept as they are. Errors not listed here print as they always
//! did.

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
    None
}

fn ipc(lang: Lang, e: &IpcError) -> Option<String> {
    let m = match e {
        IpcError::NotRunning { endpoint, detail } => Msg::new("err-daemon-not-running")
            .text("endpoint", endpoint.clone())
            .text("detail", detail.clone()),
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
        _ => return None,
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
        let line = if p.key.is_empty() {
            format!("{at}: {}", p.message)
        } else {
            text(
                lang,
                &Msg::new("err-config-key")
                    .text("at", at)
                    .text("key", p.key.clone())
                    .text("problem", p.message.clone()),
            )
        };
        out.push_str(&format!("  {line}\n"));
    }
    out
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
