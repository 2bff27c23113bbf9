//! The generic webhook: one JSON POST per change to `base_url`, for any router (NICE CXone,
//! Five9, Zendesk, an in-house one).
//!
//! Signed the way Stripe signs its webhooks (<https://docs.stripe.com/webhooks#verify-manually>):
//! `ShiftReady-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is HMAC-SHA256 with the shared
//! secret over `t` + `.` + the raw body, so a receiver can check both who sent it and that it
//! is recent. `Idempotency-Key` is the change's id, the same on every attempt, so a receiver
//! can drop a repeat.

use super::config::ConnectorConfig;
use super::push::{self, Change, PushError, Pushed};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "ShiftReady-Signature";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// `t=...,v1=...` for a body sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body of a change.
pub fn body(cfg: &ConnectorConfig, c: &Change, previous: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "type": "agent.state",
        "agent": {
            "device_id": c.device_id,
            "hostname": c.hostname,
            "platform_user": c.platform_user,
        },
        "state": c.state.as_str(),
        "platform_state": cfg.state_id(c.state, &c.reason),
        "reason": c.reason,
        "previous_state": previous,
        "at": chrono::DateTime::from_timestamp_millis(c.at).map(|t| t.to_rfc3339()),
    })
}

/// Posts `body` signed; any 2xx is delivered.
async fn post(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    body: &serde_json::Value,
    key: &str,
) -> Result<(), PushError> {
    let secret = cfg.secret().map_err(|m| PushError {
        failure: push::Failure::Auth,
        message: m,
    })?;
    let bytes = serde_json::to_vec(body).map_err(|e| PushError::rejected(e.to_string()))?;
    let t = chrono::Utc::now().timestamp();
    let resp = http
        .post(cfg.endpoint())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(&secret, t, &bytes))
        .header(IDEMPOTENCY_HEADER, key)
        .body(bytes)
        .send()
        .await
        .map_err(|e| PushError::unreachable(cfg.kind.label(), &e))?;
    push::check(
        cfg.kind.label(),
        resp,
        "check that the receiver and secret_file hold the same secret",
    )
    .await?;
    Ok(())
}

/// Sends one change. The receiver decides what a person's choice is: `previous_state` is the
/// state ShiftReady last set.
pub async fn push(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    c: &Change,
    previous: Option<&str>,
) -> Result<Pushed, PushError> {
    post(http, cfg, &body(cfg, c, previous), &c.id.to_string()).await?;
    Ok(Pushed::Set)
}

/// `connector test`: a signed `{"type": "test"}` the receiver answers with a 2xx.
pub async fn test(http: &reqwest::Client, cfg: &ConnectorConfig) -> Result<String, PushError> {
    let id = uuid::Uuid::new_v4();
    let body = serde_json::json!({"id": id, "type": "test", "at": chrono::Utc::now().to_rfc3339()});
    post(http, cfg, &body, &id.to_string()).await?;
    Ok(format!(
        "the receiver at {} accepted a signed test",
        cfg.endpoint()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known answer computed outside this code:
    /// `printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test`.
    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
