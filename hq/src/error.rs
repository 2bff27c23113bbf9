//! The one error type of the HTTP API, and extractors that report every bad request in it.
//!
//! Every rejection is a 4xx with `{"error": "..."}` (and, where an agent must act on it, a
//! machine-readable `code`); internal errors are logged and shown only as "internal error".

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// An API error: what went wrong, as the client should read it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    /// 401, with a code the agent can act on (`unknown_key`, `revoked`, `reenroll`, `login`).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Unauthorized {
            code,
            message: message.into(),
        }
    }

    /// The 401 for a request without a device key.
    pub fn no_key() -> AppError {
        AppError::unauthorized(
            "no_key",
            "send this device's key as Authorization: Bearer (run `shiftready enroll` first)",
        )
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
        if status == proto::DeviceStatus::Reenroll.as_str() {
            AppError::unauthorized(
                proto::DeviceStatus::Reenroll.as_str(),
                "IT asked this device to enroll again: run `shiftready enroll`",
            )
        } else {
            AppError::unauthorized(
                proto::DeviceStatus::Revoked.as_str(),
                "IT revoked this device's key; ask IT before enrolling it again",
            )
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            AppError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                serde_json::json!({"error": "internal error; the HQ log has the details"})
            }
            AppError::Unauthorized { code, message } => {
                serde_json::json!({"error": message, "code": code})
            }
            other => serde_json::json!({"error": other.to_string()}),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// JSON body extractor whose every rejection (syntax, wrong type, missing field, too large,
/// wrong content type) is an [`AppError`] naming the path of the bad field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(is_json_media_type)
            .unwrap_or(false);
        if !json_type {
            return Err(AppError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::TooLarge(format!(
                        "the body is larger than the limit of {} bytes",
                        crate::limits::BODY_LIMIT
                    ))
                } else {
                    AppError::BadRequest(format!("could not read the body: {e}"))
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Whether a `Content-Type` is `application/json`, with or without parameters
/// (`application/json; charset=utf-8`): the media type itself must match exactly, so
/// `application/jsonfoo` is not JSON.
pub fn is_json_media_type(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
}

/// Parses JSON, naming the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path == "." || path.is_empty() {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        if inner.is_syntax() || inner.is_eof() {
            AppError::BadRequest(format!("malformed JSON: {inner}"))
        } else {
            AppError::Unprocessable(format!("invalid request{at}: {inner}"))
        }
    })
}

/// Query-string extractor reporting a bad parameter as an [`AppError`].
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(ApiQuery)
            .map_err(|e| AppError::BadRequest(format!("bad query parameter: {e}")))
    }
}

/// Path-parameter extractor reporting a bad parameter as an [`AppError`].
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| AppError::BadRequest(format!("bad path: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_type_is_matched_exactly() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "application/jsonfoo",
            "application/json-seq",
            "text/json",
            "application/x-www-form-urlencoded",
            "",
            "text/plain; application/json",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }
}
