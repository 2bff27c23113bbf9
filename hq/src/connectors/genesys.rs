//! Genesys Cloud: presence and routing status.
//!
//! OAuth2 client credentials (<https://developer.genesys.cloud/authorization/platform-auth/use-client-credentials>):
//! `POST {login}/oauth/token` with `grant_type=client_credentials` and HTTP Basic
//! `client_id:client_secret`; the token is kept until shortly before `expires_in` runs out,
//! and fetched again once when the API answers 401. Then
//! `PATCH {api}/api/v2/users/{userId}/presences/{source}` `{"presenceDefinition": {"id": ...}}`
//! and `PUT {api}/api/v2/users/{userId}/routingstatus` `{"status": "IDLE" | "OFF_QUEUE"}`
//! (<https://developer.genesys.cloud/useragentman/users/>, presence and routing status). The
//! current presence is read first (`GET .../presences/{source}`), so a break stays a break.

use super::config::ConnectorConfig;
use super::push::{self, Change, PushError, Pushed, Target};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const HINT_401: &str = "check client_id and the client secret in client_secret_file, and that the client uses the client-credentials grant";

/// Tokens per (login URL, client id), kept until they expire.
#[derive(Debug, Default)]
pub struct Tokens(Mutex<HashMap<(String, String), (String, Instant)>>);

impl Tokens {
    fn get(&self, k: &(String, String)) -> Option<String> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.get(k)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(t, _)| t.clone())
    }

    fn forget(&self, k: &(String, String)) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(k);
    }
}

fn key(cfg: &ConnectorConfig) -> (String, String) {
    (
        cfg.login_url.clone().unwrap_or_default(),
        cfg.key_id().to_string(),
    )
}

/// A token: the cached one, or a new one from the login server.
async fn token(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    tokens: &Tokens,
) -> Result<String, PushError> {
    let k = key(cfg);
    if let Some(t) = tokens.get(&k) {
        return Ok(t);
    }
    let secret = cfg.secret().map_err(|m| PushError {
        failure: push::Failure::Auth,
        message: m,
    })?;
    let url = format!("{}/oauth/token", k.0.trim_end_matches('/'));
    let resp = http
        .post(&url)
        .basic_auth(&k.1, Some(&secret))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .map_err(|e| PushError::unreachable("Genesys Cloud's login server", &e))?;
    let resp = push::check("Genesys Cloud's login server", resp, HINT_401).await?;
    let v: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| PushError::retry(format!("Genesys Cloud's token answer was not JSON: {e}")))?;
    let Some(t) = v["access_token"].as_str().filter(|t| !t.is_empty()) else {
        return Err(PushError::retry(
            "Genesys Cloud's token answer had no access_token",
        ));
    };
    let life = v["expires_in"].as_u64().unwrap_or(3600);
    // A minute early, so a token never runs out between this check and the request.
    let until = Instant::now() + Duration::from_secs(life.saturating_sub(60));
    tokens
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(k, (t.to_string(), until));
    Ok(t.to_string())
}

/// One API request with the token; on 401 the token is dropped and the request made once more
/// with a new one (it may have been revoked before it expired).
async fn call(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    tokens: &Tokens,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<reqwest::Response, PushError> {
    let url = format!("{}{path}", cfg.endpoint());
    for attempt in 0..2 {
        let t = token(http, cfg, tokens).await?;
        let mut req = http.request(method.clone(), &url).bearer_auth(t);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| PushError::unreachable("Genesys Cloud", &e))?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
            tokens.forget(&key(cfg));
            continue;
        }
        return push::check("Genesys Cloud", resp, HINT_401).await;
    }
    unreachable!("the loop returns on its second pass")
}

/// Sets the user's presence and routing status, unless a person chose another presence.
pub async fn push(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    tokens: &Tokens,
    c: &Change,
    last_set: Option<&str>,
) -> Result<Pushed, PushError> {
    let source = cfg.presence_source.as_deref().unwrap_or("PURECLOUD");
    let user = push::path_segment(&c.platform_user);
    let presence = format!("/api/v2/users/{user}/presences/{source}");
    let target = cfg.state_id(c.state, &c.reason);
    if c.state != Target::Offline {
        let v: serde_json::Value = call(http, cfg, tokens, reqwest::Method::GET, &presence, None)
            .await?
            .json()
            .await
            .map_err(|e| PushError::retry(format!("Genesys Cloud's answer was not JSON: {e}")))?;
        let current = v["presenceDefinition"]["id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if current != target && !cfg.may_move(c.state, &current, last_set) {
            return Ok(Pushed::LeftAlone(current));
        }
    }
    call(
        http,
        cfg,
        tokens,
        reqwest::Method::PATCH,
        &presence,
        Some(serde_json::json!({"presenceDefinition": {"id": target}})),
    )
    .await?;
    let status = if c.state == Target::Available {
        "IDLE"
    } else {
        "OFF_QUEUE"
    };
    call(
        http,
        cfg,
        tokens,
        reqwest::Method::PUT,
        &format!("/api/v2/users/{user}/routingstatus"),
        Some(serde_json::json!({ "status": status })),
    )
    .await?;
    Ok(Pushed::Set)
}

/// `connector test`: a token, then the organization (harmless).
pub async fn test(
    http: &reqwest::Client,
    cfg: &ConnectorConfig,
    tokens: &Tokens,
) -> Result<String, PushError> {
    let v: serde_json::Value = call(
        http,
        cfg,
        tokens,
        reqwest::Method::GET,
        "/api/v2/organizations/me",
        None,
    )
    .await?
    .json()
    .await
    .unwrap_or_default();
    Ok(format!(
        "Genesys Cloud issued a token; the organization is '{}'",
        v["name"].as_str().unwrap_or("?")
    ))
}
