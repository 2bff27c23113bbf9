//! What every connector shares: the change to send, how a push ended, and how an HTTP answer
//! is read (429 `Retry-After`, 401/403 credentials, 5xx retried, other 4xx refused for good).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The platform state an agent should be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Available,
    NotReady,
    Offline,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Available => "available",
            Target::NotReady => "not_ready",
            Target::Offline => "offline",
        }
    }
}

/// One change of an agent's platform state: an outbox row's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// The idempotency key: the same for every attempt of this change.
    pub id: uuid::Uuid,
    pub device_id: String,
    pub hostname: String,
    pub platform_user: String,
    pub state: Target,
    /// Why: the incident's name for `not_ready` (`below_bar` when the readiness is under the
    /// site's bar), the sign-out's reason for `offline`, `signed_in`/`recovered` for `available`.
    pub reason: String,
    /// When HQ decided it (ms since the epoch).
    pub at: i64,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// The platform now has the state (set now, or it had it already).
    Set,
    /// Left alone: the agent is in this state, which ShiftReady did not set (a break, a
    /// supervisor's choice).
    LeftAlone(String),
}

/// Why a push failed, and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Try again: after the platform's `Retry-After` when it gave one.
    Retry(Option<Duration>),
    /// The platform refused our credentials: IT must act; the change waits.
    Auth,
    /// Refused for good (an unknown user or state id): the change is dropped, IT told.
    Rejected,
}

/// A failed push, with what went wrong in words (never a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct PushError {
    pub failure: Failure,
    pub message: String,
}

impl PushError {
    pub fn retry(message: impl Into<String>) -> PushError {
        PushError {
            failure: Failure::Retry(None),
            message: message.into(),
        }
    }

    pub fn rejected(message: impl Into<String>) -> PushError {
        PushError {
            failure: Failure::Rejected,
            message: message.into(),
        }
    }

    /// A request that did not get an answer.
    pub fn unreachable(platform: &str, e: &reqwest::Error) -> PushError {
        let what = if e.is_timeout() {
            "did not answer in time"
        } else {
            "could not be reached"
        };
        PushError::retry(format!("{platform} {what}: {}", error_chain(e)))
    }
}

/// An error and its causes on one line (reqwest's own Display hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Reads an answer: the response when it is a success, else the failure in words.
/// `hint_401` says what to check when the platform refuses the credentials.
pub async fn check(
    platform: &str,
    resp: reqwest::Response,
    hint_401: &str,
) -> Result<reqwest::Response, PushError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, chrono::Utc::now()));
    let body = resp.text().await.unwrap_or_default();
    let said: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let said: String = said.chars().take(300).collect();
    let code = status.as_u16();
    Err(match code {
        429 => PushError {
            failure: Failure::Retry(retry_after),
            message: format!(
                "{platform} asked us to slow down (HTTP 429){}",
                match retry_after {
                    Some(d) => format!("; retrying after {} s", d.as_secs()),
                    None => String::new(),
                }
            ),
        },
        401 | 403 => PushError {
            failure: Failure::Auth,
            message: format!(
                "{platform} refused our credentials (HTTP {code}): {hint_401}{}",
                if said.is_empty() {
                    String::new()
                } else {
                    format!(" ({platform} said: {said})")
                }
            ),
        },
        408 | 500..=599 => PushError {
            failure: Failure::Retry(retry_after),
            message: format!("{platform} failed (HTTP {code}); retrying. It said: {said}"),
        },
        _ => PushError::rejected(format!(
            "{platform} refused the change (HTTP {code}): {said}"
        )),
    })
}

/// `Retry-After`: seconds, or an HTTP date (RFC 9110 §10.2.3), at most an hour away.
pub fn retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = v.trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            (at.timestamp() - now.timestamp()).max(0) as u64
        }
    };
    Some(Duration::from_secs(secs.min(3600)))
}

/// A URL path segment, percent-encoded (a platform user id is the admin's text).
pub fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        // RFC 9110's example date, one minute after `now`.
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("99999", now), Some(Duration::from_secs(3600)));
    }
}
