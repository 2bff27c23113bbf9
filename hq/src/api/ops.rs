//! For operators: Prometheus metrics and the health check.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `GET /metrics`; with `serve --metrics-token-file`, only for `Authorization: Bearer TOKEN`
/// (401 otherwise, with `WWW-Authenticate`, as Prometheus's `authorization` setting expects).
pub async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(token) = crate::metrics::required_token() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        // Compared as hashes: the time taken says nothing about the token.
        let ok = given
            .is_some_and(|g| crate::crypto::hash_secret(g) == crate::crypto::hash_secret(token));
        if !ok {
            return Ok((
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
                axum::Json(serde_json::json!({
                    "error": "/metrics needs the metrics token: send Authorization: Bearer TOKEN \
                              (the token in the file given to serve --metrics-token-file)"
                })),
            )
                .into_response());
        }
    }
    let text = crate::metrics::render(&st.db, &st.metrics, st.reflector.as_deref()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

pub async fn healthz() -> &'static str {
    "ok\n"
}
