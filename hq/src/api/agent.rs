//! The agents' API: enrollment, events, and the policy with the agent's shifts.

use crate::auth::{DeviceAuth, DeviceKey};
use crate::db;
use crate::error::{ApiJson, AppError};
use crate::ingest;
use crate::quota::Refused;
use crate::state::{AppState, BODY_LIMIT};
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use proto::api::{EnrollRequest, EnrollResponse, EventAck, PolicyResponse, Shift};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

/// The client's address, from the connection (or "local" in tests without one).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, AppError> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "local".into()),
        ))
    }
}

fn check_text(field: &str, v: &str, max: usize, required: bool) -> Result<(), AppError> {
    if required && v.trim().is_empty() {
        return Err(AppError::Unprocessable(format!(
            "`{field}` must not be empty"
        )));
    }
    if v.chars().count() > max {
        return Err(AppError::Unprocessable(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(AppError::Unprocessable(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(())
}

pub async fn enroll(
    State(st): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, AppError> {
    let attempts = st.db.note_enroll_attempt(&addr, db::now_ms()).await?;
    if attempts > st.enroll_per_minute {
        st.metrics.enroll_rejected.fetch_add(1, Ordering::Relaxed);
        return Err(AppError::TooManyRequests(
            "too many enrollment attempts from this address; wait a minute and try again".into(),
        ));
    }
    check_text("hostname", &req.hostname, 253, true)?;
    if let Some(m) = crate::admin::hostname_problem(&req.hostname) {
        return Err(AppError::Unprocessable(m));
    }
    check_text("os", &req.os, 200, false)?;
    check_text("agent_version", &req.agent_version, 64, false)?;
    let site = if req.secret.len() <= 200 {
        st.db.enroll_secret_site(&req.secret).await?
    } else {
        None
    };
    let Some(site) = site else {
        st.metrics.enroll_rejected.fetch_add(1, Ordering::Relaxed);
        return Err(AppError::unauthorized(
            "bad_secret",
            "the enrollment secret is not valid; ask IT for the site's current secret",
        ));
    };
    // Re-enrollment codes and hostname warnings (issue 12): crate::admin::enroll.
    let enrolled = crate::admin::enroll(&st.db, &site, &req).await?;
    st.metrics.enroll_ok.fetch_add(1, Ordering::Relaxed);
    Ok(Json(enrolled))
}

/// The body of `POST /api/v1/events` as HQ reads it: each event stays JSON until it is
/// checked on its own, so one event this HQ cannot read is rejected alone.
#[derive(Debug, serde::Deserialize)]
pub struct RawBatch {
    events: Vec<serde_json::Value>,
}

/// `POST /api/v1/events`: an answer per event (`results`, in batch order) beside the ids HQ
/// holds (`accepted`, `duplicates`, which an agent one release behind reads). Only a bad key
/// (401), a body that is not `{"events": [...]}` with at least one event (400/422), too large
/// a batch (413), a device over its quota (429) or a full ingest queue (503, both with
/// `Retry-After`) refuse the whole batch.
///
/// The key is checked from the header before the body is read, and the device's byte quota
/// and the queue's byte budget from `Content-Length` ([`crate::quota`]): a bogus key, a device
/// over its quota or a full queue cost HQ no reading or parsing.
pub async fn events(
    State(st): State<AppState>,
    DeviceKey(key): DeviceKey,
    ClientAddr(addr): ClientAddr,
    req: Request,
) -> Result<Json<EventAck>, Refused> {
    let gate = st.ingest.gate();
    let key_hash = crate::crypto::hash_secret(&key);
    if !gate.known(&key_hash) {
        match st.db.device_by_key(&key).await.map_err(AppError::from)? {
            None => {
                gate.forget(&key_hash);
                return Err(AppError::unknown_key().into());
            }
            Some((_, _, status)) if status != proto::DeviceStatus::Active.as_str() => {
                gate.forget(&key_hash);
                return Err(AppError::inactive(&status).into());
            }
            Some(_) => gate.note_active(&key_hash),
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return Err(AppError::TooLarge(format!(
            "the body is larger than the limit of {BODY_LIMIT} bytes"
        ))
        .into());
    }
    gate.check_bytes(&key_hash, declared.unwrap_or(0))?;
    let _slot = gate.reserve(declared.unwrap_or(BODY_LIMIT))?;
    let ApiJson(batch) = ApiJson::<RawBatch>::from_request(req, &st).await?;
    let now = db::now_ms();
    let n = batch.events.len();
    if n == 0 {
        return Err(AppError::Unprocessable("the batch has no events".into()).into());
    }
    if n > ingest::MAX_EVENTS {
        st.metrics
            .events_rejected
            .fetch_add(n as u64, Ordering::Relaxed);
        return Err(AppError::TooLarge(format!(
            "the batch has {n} events; send at most {} at a time",
            ingest::MAX_EVENTS
        ))
        .into());
    }
    // A chunked body has no Content-Length: its size is the events' own.
    let bytes = declared.unwrap_or_else(|| batch.events.iter().map(|e| e.to_string().len()).sum());
    gate.charge(&key_hash, n, bytes)?;
    let checked = ingest::check_batch(batch.events, now);
    let skew = checked
        .iter()
        .filter_map(|c| match c {
            ingest::Checked::Valid(e) => e.sent_at,
            ingest::Checked::Rejected { .. } => None,
        })
        .map(|s| s.timestamp_millis() - now)
        .max();
    let incidents = crate::alerts::api::incident_ids(&checked);
    let outcome = match st
        .ingest
        .submit_checked(key_hash.clone(), now, skew, checked)
        .await
    {
        Ok(o) => {
            // The writer found the key active: trusted for another while.
            gate.note_active(&key_hash);
            o
        }
        Err(e) => {
            if matches!(e, AppError::Unauthorized { .. }) {
                gate.forget(&key_hash);
            }
            return Err(e.into());
        }
    };
    // The events are stored: a failure here only loses an address prefix.
    if let Err(e) =
        crate::alerts::api::note_incident_addresses(&st.db, &addr, &incidents, &outcome.results)
            .await
    {
        tracing::warn!("recording the address of incidents failed: {e:#}");
    }
    // The latest report in the batch answered a pending "Run the check now" in the writer's
    // transaction ([`super::check_now::after_events`]); a request still waiting is handed on.
    Ok(Json(EventAck {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        results: outcome.results,
        check_requested_at: outcome.check_requested_at,
    }))
}

pub async fn policy(
    State(st): State<AppState>,
    dev: DeviceAuth,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let mut policy = st.db.site_policy(&dev.site).await?;
    policy.network.probe_token = st
        .probe_key
        .map(|k| k.issue(&dev.device_id, crate::reflector::unix_now()));
    let shifts = st
        .db
        .schedule(&dev.device_id, db::now_ms())
        .await?
        .into_iter()
        .filter_map(|(s, e)| {
            Some(Shift {
                start: chrono::DateTime::from_timestamp_millis(s)?,
                end: chrono::DateTime::from_timestamp_millis(e)?,
            })
        })
        .collect();
    let body = serde_json::to_vec(&PolicyResponse {
        policy,
        shifts,
        event_kinds: crate::ingest::EXTRA_EVENT_KINDS
            .iter()
            .map(|k| k.to_string())
            .collect(),
    })
    .map_err(anyhow::Error::from)?;
    let etag = format!(
        "\"{}\"",
        &crate::crypto::hash_secret(&String::from_utf8_lossy(&body))[..32]
    );
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag_value = HeaderValue::from_str(&etag).map_err(anyhow::Error::from)?;
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response())
}
