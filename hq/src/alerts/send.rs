//! Sends one message to one receiver: an HTTP POST (generic webhook, Slack, Teams) or an email
//! over SMTP with `lettre`. The outcome says whether to try again; its text says what went
//! wrong in words and never holds a secret (no URL: a Slack or Teams URL is a credential; no
//! password).

use super::config::{Receiver, ReceiverKind, SmtpTls};
use super::message::Message;
use crate::connectors::push::retry_after;
use crate::connectors::webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signature};
use std::time::Duration;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    /// Refused for good (a 4xx, an SMTP 5xx, a configuration problem): recorded as failed.
    pub permanent: bool,
    /// Try again no sooner than this (the receiver's `Retry-After`).
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl SendError {
    fn retry(message: String) -> SendError {
        SendError {
            permanent: false,
            retry_after: None,
            message,
        }
    }

    fn refused(message: String) -> SendError {
        SendError {
            permanent: true,
            retry_after: None,
            message,
        }
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn label(kind: ReceiverKind) -> &'static str {
    match kind {
        ReceiverKind::Webhook => "The webhook receiver",
        ReceiverKind::Slack => "Slack",
        ReceiverKind::Teams => "The Teams workflow",
        ReceiverKind::Email => "The SMTP server",
    }
}

/// Sends `msg` to `rc`; `id` is the message's idempotency key (the same on every attempt).
pub async fn send(
    http: &reqwest::Client,
    rc: &Receiver,
    msg: &Message,
    id: &str,
) -> Result<(), SendError> {
    match rc.kind {
        ReceiverKind::Email => email(rc, msg, id).await,
        kind => {
            let url = rc.url().map_err(SendError::refused)?;
            let body = match kind {
                ReceiverKind::Slack => msg.slack_json(),
                ReceiverKind::Teams => msg.teams_json(),
                _ => msg.webhook_json(id),
            };
            let bytes = serde_json::to_vec(&body).map_err(|e| SendError::refused(e.to_string()))?;
            let mut req = http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json");
            if kind == ReceiverKind::Webhook {
                let secret = rc.secret().map_err(SendError::refused)?;
                let t = chrono::Utc::now().timestamp();
                req = req
                    .header(SIGNATURE_HEADER, signature(&secret, t, &bytes))
                    .header(IDEMPOTENCY_HEADER, id);
            }
            let who = label(kind);
            let resp = req.body(bytes).send().await.map_err(|e| {
                let what = if e.is_timeout() {
                    "did not answer in time"
                } else {
                    "could not be reached"
                };
                // Without the URL: for Slack and Teams it is the credential.
                SendError::retry(format!("{who} {what}: {}", chain(&e.without_url())))
            })?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, chrono::Utc::now()));
            let said: String = resp
                .text()
                .await
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(300)
                .collect();
            let code = status.as_u16();
            Err(match code {
                408 | 429 | 500..=599 => SendError {
                    permanent: false,
                    retry_after: after,
                    message: format!("{who} failed (HTTP {code}); retrying. It said: {said}"),
                },
                401 | 403 if kind == ReceiverKind::Webhook => SendError::refused(format!(
                    "{who} refused the message (HTTP {code}): check that it and secret_file hold the same secret. It said: {said}"
                )),
                _ => SendError::refused(format!(
                    "{who} refused the message (HTTP {code}); check the receiver's URL. It said: {said}"
                )),
            })
        }
    }
}

/// Mails `msg` to the receiver's recipients through its SMTP server.
async fn email(rc: &Receiver, msg: &Message, id: &str) -> Result<(), SendError> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let host = rc.host.clone().unwrap_or_default();
    let (subject, text) = msg.email();
    let mut b = lettre::Message::builder()
        .subject(subject)
        .message_id(Some(format!("<{id}@shiftready-hq>")))
        .header(ContentType::TEXT_PLAIN);
    let from = rc.from.as_deref().unwrap_or_default();
    b = b.from(
        from.parse()
            .map_err(|_| SendError::refused(format!("'{from}' is not an email address")))?,
    );
    for t in &rc.to {
        b = b.to(t
            .parse()
            .map_err(|_| SendError::refused(format!("'{t}' is not an email address")))?);
    }
    let mail = b
        .body(text)
        .map_err(|e| SendError::refused(format!("the message could not be built: {e}")))?;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut tls = TlsParameters::builder(host.clone());
    if let Some(f) = &rc.ca_file {
        let pem = std::fs::read(f)
            .map_err(|e| SendError::refused(format!("cannot read ca_file {}: {e}", f.display())))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            SendError::refused(format!("ca_file {} holds no certificate: {e}", f.display()))
        })?;
        tls = tls.add_root_certificate(cert);
    }
    let tls = tls
        .build_rustls()
        .map_err(|e| SendError::refused(format!("TLS settings: {}", chain(&e))))?;
    let mut t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
        .port(rc.smtp_port())
        .timeout(Some(Duration::from_secs(15)))
        .tls(match rc.tls {
            SmtpTls::Starttls => Tls::Required(tls),
            SmtpTls::Tls => Tls::Wrapper(tls),
            SmtpTls::None => Tls::None,
        });
    if let Some(user) = &rc.username {
        let password = rc
            .password()
            .map_err(SendError::refused)?
            .unwrap_or_default();
        t = t.credentials(Credentials::new(user.clone(), password));
    }
    let port = rc.smtp_port();
    match t.build().send(mail).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SendError::refused(format!(
            "the SMTP server {host}:{port} refused the message: {}",
            chain(&e)
        ))),
        Err(e) => Err(SendError::retry(format!(
            "the SMTP server {host}:{port} could not take the message now: {}",
            chain(&e)
        ))),
    }
}
