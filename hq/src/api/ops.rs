//! For operators: Prometheus metrics and the health check.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn metrics(State(st): State<AppState>) -> Result<Response, AppError> {
    let text = crate::metrics::render(&st.db, &st.metrics, st.reflector.as_deref()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

pub async fn healthz() -> &'static str {
    "ok\n"
}
