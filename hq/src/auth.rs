//! Who is asking: an agent by its device key, or IT by API token or dashboard session.

use crate::db::Role;
use crate::error::AppError;
use crate::server::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

/// The name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "sr_session";

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session cookie's value, if any.
pub fn session_cookie(parts: &Parts) -> Option<String> {
    for v in parts.headers.get_all(axum::http::header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for c in v.split(';') {
            if let Some((k, val)) = c.trim().split_once('=') {
                if k == SESSION_COOKIE && !val.is_empty() {
                    return Some(val.to_string());
                }
            }
        }
    }
    None
}

/// The 401 for a key HQ does not know.
pub fn unknown_key() -> AppError {
    AppError::unauthorized(
        "unknown_key",
        "HQ does not know this device key; enroll the device again",
    )
}

/// The 401 for a device whose status is not `active` (`revoked` or `reenroll`).
pub fn inactive(status: &str) -> AppError {
    if status == "reenroll" {
        AppError::unauthorized(
            "reenroll",
            "IT asked this device to enroll again: run `shiftready enroll`",
        )
    } else {
        AppError::unauthorized(
            "revoked",
            "IT revoked this device's key; ask IT before enrolling it again",
        )
    }
}

/// A device key from the request, not yet checked (the ingest writer checks a whole batch of
/// them in one query).
#[derive(Debug, Clone)]
pub struct DeviceKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeviceKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        match bearer(parts) {
            None => Err(AppError::unauthorized(
                "no_key",
                "send this device's key as Authorization: Bearer (run `shiftready enroll` first)",
            )),
            Some(k) if k.len() > 200 => Err(unknown_key()),
            Some(k) => Ok(DeviceKey(k.to_string())),
        }
    }
}

/// An enrolled, active device, authenticated by its key.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub device_id: String,
    pub site: String,
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, AppError> {
        let Some(key) = bearer(parts) else {
            return Err(AppError::unauthorized(
                "no_key",
                "send this device's key as Authorization: Bearer (run `shiftready enroll` first)",
            ));
        };
        if key.len() > 200 {
            return Err(AppError::unauthorized(
                "unknown_key",
                "HQ does not know this device key; enroll the device again",
            ));
        }
        match st.db.device_by_key(key).await? {
            None => Err(AppError::unauthorized(
                "unknown_key",
                "HQ does not know this device key; enroll the device again",
            )),
            Some((_, _, status)) if status == "revoked" => Err(AppError::unauthorized(
                "revoked",
                "IT revoked this device's key; ask IT before enrolling it again",
            )),
            Some((_, _, status)) if status == "reenroll" => Err(AppError::unauthorized(
                "reenroll",
                "IT asked this device to enroll again: run `shiftready enroll`",
            )),
            Some((device_id, site, _)) => Ok(DeviceAuth { device_id, site }),
        }
    }
}

/// An IT user or script, by API token or dashboard session.
#[derive(Debug, Clone)]
pub struct ItAuth {
    pub role: Role,
    pub who: String,
}

async fn it_auth(parts: &Parts, st: &AppState) -> Result<Option<ItAuth>, AppError> {
    if let Some(token) = bearer(parts) {
        if token.starts_with("sr_dev_") {
            return Err(AppError::Forbidden(
                "a device key cannot read the fleet; use an API token".into(),
            ));
        }
        if token.len() > 200 {
            return Ok(None);
        }
        return Ok(st.db.token_role(token).await?.map(|role| ItAuth {
            role,
            who: "api token".into(),
        }));
    }
    if let Some(id) = session_cookie(parts) {
        if id.len() <= 200 {
            return Ok(st
                .db
                .session(&id)
                .await?
                .map(|(who, role)| ItAuth { role, who }));
        }
    }
    Ok(None)
}

impl FromRequestParts<AppState> for ItAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, AppError> {
        it_auth(parts, st).await?.ok_or_else(|| {
            AppError::unauthorized(
                "login",
                "send an API token as Authorization: Bearer (`shiftready-hq token create`)",
            )
        })
    }
}

/// An IT user or script with the admin role.
#[derive(Debug, Clone)]
pub struct Admin(pub ItAuth);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, AppError> {
        let it = ItAuth::from_request_parts(parts, st).await?;
        if it.role != Role::Admin {
            return Err(AppError::Forbidden(
                "this needs the admin role; a viewer can only read".into(),
            ));
        }
        Ok(Admin(it))
    }
}

/// A dashboard viewer; without a session the browser is sent to the login page.
#[derive(Debug, Clone)]
pub struct DashAuth(pub ItAuth);

impl FromRequestParts<AppState> for DashAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        match it_auth(parts, st).await {
            Ok(Some(it)) => Ok(DashAuth(it)),
            Ok(None) => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let to = if here == "/" {
                    "/login".to_string()
                } else {
                    format!(
                        "/login?{}",
                        serde_urlencoded::to_string([("next", here)]).unwrap_or_default()
                    )
                };
                Err(Redirect::to(&to).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}
