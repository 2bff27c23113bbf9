//! Amazon Connect: `PutUserStatus`
//! (<https://docs.aws.amazon.com/connect/latest/APIReference/API_PutUserStatus.html>):
//! `PUT {base}/users/{InstanceId}/{UserId}/status` with `{"AgentStatusId": "..."}`, signed with
//! AWS Signature Version 4 (service `connect`, the site's region) by AWS's own signer, the
//! `aws-sigv4` crate. During a contact Connect makes it the agent's next status.
//!
//! Connect's API has no plain read of an agent's current status, so ShiftReady remembers what
//! it set and sends each change; `connector test` lists one agent status
//! (`GET {base}/agent-status/{InstanceId}?maxResults=1`, ListAgentStatuses), which proves the
//! keys, the region and the clock without changing anything.

use super::config::ConnectorConfig;
use super::push::{self, Change, PushError, Pushed};
use std::time::SystemTime;

const HINT_401: &str = "check access_key_id, the secret access key in \
                        secret_access_key_file, the IAM policy (connect:PutUserStatus), \
                        region, and this server's clock";

/// Who signs, where, and when.
pub struct Signer<'a> {
    pub key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub time: SystemTime,
}

/// The headers to add to a request: `Authorization`, `X-Amz-Date` (and the body's hash where
/// the settings ask for it), from AWS's signer.
pub fn sign(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    s: &Signer<'_>,
) -> Result<Vec<(String, String)>, String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    let identity =
        aws_credential_types::Credentials::new(s.key_id, s.secret, None, None, "shiftready").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(s.region)
        .name("connect")
        .time(s.time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4 signing parameters: {e}"))?
        .into();
    let req = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("SigV4 cannot sign {url}: {e}"))?;
    let (instructions, _) = aws_sigv4::http_request::sign(req, &params)
        .map_err(|e| format!("SigV4 signing failed: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// A signed request to Connect.
async fn send(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    method: reqwest::Method,
    url: &str,
    body: Vec<u8>,
) -> Result<reqwest::Response, PushError> {
    let secret = cfg.secret().map_err(|m| PushError {
        failure: push::Failure::Auth,
        message: m,
    })?;
    let region = cfg.region.as_deref().unwrap_or("");
    let key_id = cfg.key_id();
    let content_type = [("content-type", "application/json")];
    let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &content_type };
    let signed = sign(
        method.as_str(),
        url,
        headers,
        &body,
        &Signer {
            key_id,
            secret: &secret,
            region,
            time: SystemTime::now(),
        },
    )
    .map_err(PushError::rejected)?;
    let mut req = http.request(method, url);
    for (k, v) in headers.iter().map(|(k, v)| (*k, *v)) {
        req = req.header(k, v);
    }
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req
        .body(body)
        .send()
        .await
        .map_err(|e| PushError::unreachable("Amazon Connect", &e))?;
    push::check("Amazon Connect", resp, HINT_401)
        .await
        .map_err(|mut e| {
            if e.message.contains("Signature expired") || e.message.contains("TimeTooSkewed") {
                e.message.push_str(
                    ". This server's clock is more than 5 minutes off AWS's: SigV4 refuses such \
                     requests; set the clock right (NTP)",
                );
            }
            e
        })
}

fn instance(cfg: &ConnectorConfig) -> &str {
    cfg.instance_id.as_deref().unwrap_or("")
}

/// Sets the agent status (always: Connect cannot be asked what a person chose).
pub async fn push(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    c: &Change,
) -> Result<Pushed, PushError> {
    let url = format!(
        "{}/users/{}/{}/status",
        cfg.endpoint(),
        push::path_segment(instance(cfg)),
        push::path_segment(&c.platform_user)
    );
    let body =
        serde_json::to_vec(&serde_json::json!({"AgentStatusId": cfg.state_id(c.state, &c.reason)}))
            .map_err(|e| PushError::rejected(e.to_string()))?;
    send(http, cfg, reqwest::Method::PUT, &url, body).await?;
    Ok(Pushed::Set)
}

/// `connector test`: lists one agent status.
pub async fn test(http: &reqwest::Client, cfg: &ConnectorConfig) -> Result<String, PushError> {
    let url = format!(
        "{}/agent-status/{}?maxResults=1",
        cfg.endpoint(),
        push::path_segment(instance(cfg))
    );
    let resp = send(http, cfg, reqwest::Method::GET, &url, Vec::new()).await;
    match resp {
        Err(e) if e.message.contains("HTTP 404") => Err(PushError::rejected(format!(
            "Amazon Connect knows no instance {} in this region: check instance_id \
             and region ({})",
            instance(cfg),
            e.message
        ))),
        Err(e) => Err(e),
        Ok(_) => Ok(format!(
            "Amazon Connect accepted the signed request for instance {}",
            instance(cfg)
        )),
    }
}
