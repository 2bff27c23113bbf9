//! Who is asking: an agent by its device key, or IT by API token or dashboard session.

use crate::db::Role;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use proto::DeviceStatus;

/// The name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "sr_session";

/// The header that carries a session's CSRF token to the admin API when the caller uses a
/// dashboard session instead of an API token.
pub const CSRF_HEADER: &str = "x-csrf-token";

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

/// A device key from the request, not yet checked (the ingest writer checks a whole batch of
/// them in one query).
#[derive(Debug, Clone)]
pub struct DeviceKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeviceKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        match bearer(parts) {
            None => Err(AppError::no_key()),
            Some(k) if k.len() > 200 => Err(AppError::unknown_key()),
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
            return Err(AppError::no_key());
        };
        if key.len() > 200 {
            return Err(AppError::unknown_key());
        }
        match st.db.device_by_key(key).await? {
            None => Err(AppError::unknown_key()),
            Some((_, _, status)) if status != DeviceStatus::Active.as_str() => {
                Err(AppError::inactive(&status))
            }
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
        // Every admin endpoint changes something. With a dashboard session (a cookie the browser
        // sends on its own) the caller must also prove it read a dashboard page: the session's
        // CSRF token in `X-CSRF-Token`, a header no other site can make a browser send.
        let header_token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        check_csrf(parts, header_token.as_deref())?;
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

/// The CSRF token of a dashboard session: derived from the session id (256 random bits that
/// only the browser holding the `HttpOnly` cookie knows), so it needs no storage of its own and
/// dies with the session. A page on another site can make the browser send the cookie (were it
/// not `SameSite=Strict`) but cannot read this token out of the dashboard's pages.
pub fn csrf_token(session_id: &str) -> String {
    crate::crypto::hash_secret(&format!("shiftready-hq csrf\0{session_id}"))
}

/// The CSRF token for the session this request carries, if it carries one.
pub fn request_csrf_token(parts: &Parts) -> Option<String> {
    session_cookie(parts).map(|s| csrf_token(&s))
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses a state-changing dashboard request that a browser could have been made to send by
/// another site. Two independent guards, both required for a cookie session:
/// 1. the form's `csrf` field must be this session's [`csrf_token`] (compared in constant time);
/// 2. when the browser says where the request comes from (`Origin`, `Sec-Fetch-Site`), that must
///    be this very host.
///
/// A request with `Authorization: Bearer` carries no ambient credential (a browser never adds
/// one on its own), so it passes: scripts with an API token need no token dance.
pub fn check_csrf(parts: &Parts, form_token: Option<&str>) -> Result<(), AppError> {
    if bearer(parts).is_some() {
        return Ok(());
    }
    let refuse = |why: &str| {
        Err(AppError::Forbidden(format!(
            "refused: {why}; reload the page and try again"
        )))
    };
    let headers = &parts.headers;
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return refuse("the request came from another site");
        }
    }
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, h)| h.trim_end_matches('/'));
        match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => {}
            _ => return refuse("the request came from another site"),
        }
    }
    let Some(expected) = request_csrf_token(parts) else {
        return Err(AppError::unauthorized(
            "login",
            "sign in to the dashboard first",
        ));
    };
    match form_token {
        Some(t) if same_bytes(t.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => refuse("the form's security token is missing or stale"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().method("POST").uri("/agents/x/revoke");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn csrf_needs_the_session_token_and_a_same_origin() {
        let sid = "abc";
        let tok = csrf_token(sid);
        let cookie = format!("{SESSION_COOKIE}={sid}");
        let ok = parts(&[
            ("cookie", &cookie),
            ("host", "hq.example:8080"),
            ("origin", "https://hq.example:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check_csrf(&ok, Some(&tok)).is_ok());
        // No Origin at all (an old browser, curl with a stolen cookie): the token still decides.
        assert!(check_csrf(&parts(&[("cookie", &cookie)]), Some(&tok)).is_ok());
        assert!(check_csrf(&parts(&[("cookie", &cookie)]), None).is_err());
        assert!(check_csrf(&parts(&[("cookie", &cookie)]), Some(&csrf_token("other"))).is_err());
        for bad in [
            vec![
                ("cookie", cookie.as_str()),
                ("host", "hq.example:8080"),
                ("origin", "https://evil.example"),
            ],
            vec![
                ("cookie", cookie.as_str()),
                ("host", "hq.example:8080"),
                ("origin", "null"),
            ],
            vec![
                ("cookie", cookie.as_str()),
                ("sec-fetch-site", "cross-site"),
            ],
            vec![("cookie", cookie.as_str()), ("sec-fetch-site", "same-site")],
        ] {
            let e = check_csrf(&parts(&bad), Some(&tok)).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::FORBIDDEN, "{bad:?}");
        }
        // A script with a bearer token carries no ambient credential.
        assert!(check_csrf(&parts(&[("authorization", "Bearer sr_tok_x")]), None).is_ok());
        // No session at all: 401, not 403.
        let e = check_csrf(&parts(&[]), Some(&tok)).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::UNAUTHORIZED);
    }
}
