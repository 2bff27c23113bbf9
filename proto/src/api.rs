//! Request and response bodies of the HQ HTTP API (`/api/v1/...`).

use crate::event::Event;
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/enroll` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The site's enrollment secret, carried by the installer.
    pub secret: String,
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub agent_version: String,
}

/// `POST /api/v1/enroll` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: String,
    /// The device's key: shown once, stored by HQ only as a hash.
    pub device_key: String,
}

/// `POST /api/v1/events` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// `POST /api/v1/events` response: which ids HQ now holds (new or already seen).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventAck {
    pub accepted: Vec<uuid::Uuid>,
    /// How many of them HQ had already (a retry).
    #[serde(default)]
    pub duplicates: usize,
}

/// One scheduled shift of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `GET /api/v1/policy` response: the thresholds for this agent's site and its shifts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyResponse {
    pub policy: Policy,
    #[serde(default)]
    pub shifts: Vec<Shift>,
}

/// Every 4xx/5xx body: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
