//! The HTTP API under `/api/v1`: the agents' endpoints ([`agent`]), IT's ([`it`] as JSON,
//! [`csv`] as CSV) and the API document ([`openapi`]); `/metrics` and `/healthz` ([`ops`]).

pub mod agent;
pub mod check_now;
pub mod csv;
pub mod drops;
pub mod it;
pub mod openapi;
pub mod ops;
pub mod shifts;
pub mod timeline;

use crate::error::AppError;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

/// The routes under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/enroll", post(agent::enroll))
        .route("/events", post(agent::events))
        .route("/policy", get(agent::policy))
        .nest("/load", crate::load::http::routes())
        .route("/agents", get(it::agents))
        .route("/agents.csv", get(csv::agents_csv))
        .route("/agents/{id}", get(it::agent))
        .route("/agents/{id}/revoke", post(it::revoke))
        .route("/agents/{id}/reenroll", post(it::reenroll))
        .route("/agents/{id}/timeline", get(timeline::timeline))
        .route("/agents/{id}/timeline.csv", get(timeline::timeline_csv))
        .route("/agents/{id}/connector", get(crate::connectors::api::agent))
        .route("/connectors", get(crate::connectors::api::connectors))
        .route("/alerts", get(crate::alerts::api::alerts))
        .route("/schedules", post(it::add_schedules))
        .route("/shifts", get(it::shifts))
        .route("/shifts.csv", get(csv::shifts_csv))
        .route("/adherence", get(shifts::adherence_json))
        .route("/adherence.csv", get(shifts::adherence_csv))
        .route("/call-drops", get(drops::call_drops))
        .route("/call-drops.csv", get(drops::call_drops_csv))
        .route("/openapi.json", get(openapi::openapi))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn api_not_found() -> AppError {
    AppError::NotFound("there is no such endpoint; see /api/v1/openapi.json".into())
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({"error": "this endpoint does not take that method; see /api/v1/openapi.json"})),
    )
        .into_response()
}
