//! IT's view of the connectors (JSON, for the API and the dashboard): each site's connector
//! health with its last error in words and the changes waiting, and per agent the platform
//! state ShiftReady last set, when, and the last delivery's result. Never a secret: the stored
//! configuration holds only file paths and names, and none of it is served.

use crate::auth::ItAuth;
use crate::error::{ApiPath, AppError};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;

/// `GET /api/v1/connectors`.
pub async fn connectors(
    State(st): State<AppState>,
    _it: ItAuth,
) -> Result<Json<serde_json::Value>, AppError> {
    let all = super::health(&st.db).await?;
    Ok(Json(serde_json::json!({ "connectors": all })))
}

/// `GET /api/v1/agents/{id}/connector`.
pub async fn agent(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    match super::agent_line(&st.db, &id).await? {
        Some(line) => Ok(Json(
            serde_json::to_value(line).map_err(anyhow::Error::from)?,
        )),
        None => Err(AppError::NotFound(format!(
            "the agent '{}' has no platform user (shiftready-hq connector users import)",
            id.chars().take(64).collect::<String>()
        ))),
    }
}
