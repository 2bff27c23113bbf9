//! Twilio TaskRouter: a Worker's Activity.
//!
//! <https://www.twilio.com/docs/taskrouter/api/worker>: `GET` and `POST
//! {base}/v1/Workspaces/{WorkspaceSid}/Workers/{WorkerSid}`; the update is a form with
//! `ActivitySid` and, moving to an unavailable activity, `RejectPendingReservations=true`
//! (reservations already offered are rejected rather than left ringing at an empty desk).
//! HTTP Basic with the account SID (or API key SID) and its secret
//! (<https://www.twilio.com/docs/usage/requests-to-twilio>). The Worker's current activity is
//! read first, so an agent on Break stays on Break.

use super::config::ConnectorConfig;
use super::push::{self, Change, PushError, Pushed, Target};

const HINT_401: &str = "check account_sid (the account SID or API key SID) and the secret in \
                        auth_token_file";

fn workspace_url(cfg: &ConnectorConfig) -> String {
    let ws = cfg.workspace_sid.as_deref().unwrap_or("");
    format!("{}/v1/Workspaces/{ws}", cfg.endpoint())
}

fn auth(cfg: &ConnectorConfig) -> Result<(String, String), PushError> {
    let secret = cfg.secret().map_err(|m| PushError {
        failure: push::Failure::Auth,
        message: m,
    })?;
    Ok((cfg.key_id().to_string(), secret))
}

/// Sends a request with HTTP Basic and reads the answer.
async fn send(
    req: reqwest::RequestBuilder,
    (user, secret): &(String, String),
) -> Result<reqwest::Response, PushError> {
    let resp = req
        .basic_auth(user, Some(secret))
        .send()
        .await
        .map_err(|e| PushError::unreachable("Twilio", &e))?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(PushError::rejected(format!(
            "Twilio has no {} (HTTP 404): check workspace_sid and the platform user",
            resp.url().path()
        )));
    }
    push::check("Twilio", resp, HINT_401).await
}

/// Sets the Worker's activity, unless a person put the Worker in an activity ShiftReady did
/// not set (see [`ConnectorConfig::may_move`]).
pub async fn push(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    c: &Change,
    last_set: Option<&str>,
) -> Result<Pushed, PushError> {
    let auth = auth(cfg)?;
    let url = format!(
        "{}/Workers/{}",
        workspace_url(cfg),
        push::path_segment(&c.platform_user)
    );
    let target = cfg.state_id(c.state, &c.reason);
    if c.state != Target::Offline {
        let resp = send(http.get(&url), &auth).await?;
        let worker: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| PushError::retry(format!("Twilio's answer was not JSON: {e}")))?;
        let current = worker["activity_sid"].as_str().unwrap_or("").to_string();
        if current == target {
            return Ok(Pushed::Set);
        }
        if !cfg.may_move(c.state, &current, last_set) {
            return Ok(Pushed::LeftAlone(current));
        }
    }
    let mut form = vec![("ActivitySid", target.as_str())];
    if c.state != Target::Available {
        form.push(("RejectPendingReservations", "true"));
    }
    let req = http
        .post(&url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(serde_urlencoded::to_string(&form).map_err(|e| PushError::rejected(e.to_string()))?);
    send(req, &auth).await?;
    Ok(Pushed::Set)
}

/// `connector test`: reads the workspace (harmless).
pub async fn test(http: &reqwest::Client, cfg: &ConnectorConfig) -> Result<String, PushError> {
    let resp = match send(http.get(workspace_url(cfg)), &auth(cfg)?).await {
        Err(e) if e.message.contains("HTTP 404") => {
            let ws = cfg.workspace_sid.as_deref().unwrap_or("");
            return Err(PushError::rejected(format!(
                "Twilio knows no workspace {ws} under this account: check workspace_sid"
            )));
        }
        r => r?,
    };
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    Ok(format!(
        "Twilio accepted the credentials; workspace {} is '{}'",
        v["sid"].as_str().unwrap_or("?"),
        v["friendly_name"].as_str().unwrap_or("?")
    ))
}
