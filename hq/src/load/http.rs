//! The HTTP side of the load endpoints ([`super`]): the routes, the checks before a byte
//! moves, the upload sink and the download source.

use super::{DRAIN_SECONDS, MAX_SECONDS, Noise, Reservation};
use crate::auth::DeviceKey;
use crate::error::AppError;
use crate::quota::Refused;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use proto::api::LoadUploadAck;
use std::time::{Duration, Instant};

/// Bytes per chunk of the download.
const CHUNK: usize = 64 * 1024;

/// The routes under `/api/v1/load`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/upload",
            // The general body limit does not apply: the upload has its own cap, counted as
            // it is read (never buffered).
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/download", get(download))
}

/// `?bytes=N&seconds=S`, both optional.
fn parse_query(q: Option<&str>, max_bytes: u64) -> Result<(u64, f64), AppError> {
    let (mut bytes, mut seconds) = (max_bytes, MAX_SECONDS);
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "bytes" => {
                bytes = v
                    .parse::<u64>()
                    .ok()
                    .filter(|b| (1..=max_bytes).contains(b))
                    .ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "bytes must be a whole number between 1 and {max_bytes}"
                        ))
                    })?
            }
            "seconds" => {
                seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| (0.1..=MAX_SECONDS).contains(s))
                    .ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "seconds must be a number between 0.1 and {MAX_SECONDS}"
                        ))
                    })?
            }
            _ => {
                return Err(AppError::BadRequest(format!(
                    "unknown parameter '{}'; the load endpoints take bytes and seconds",
                    k.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    Ok((bytes, seconds))
}

fn too_many(error: &str, wait: Duration) -> Refused {
    Refused {
        error: AppError::TooManyRequests(error.into()),
        retry_after: Some(wait.as_secs_f64().ceil() as u64),
    }
}

/// Everything before a load request moves a byte: switched on, an active device's key, its
/// session, the parameters, the shared budget.
async fn admit(
    st: &AppState,
    key: &str,
    query: Option<&str>,
    declared: Option<u64>,
) -> Result<(u64, f64, Reservation), Refused> {
    let guard = &st.load;
    if !guard.limits.enabled {
        return Err(AppError::NotFound(
            "HQ's load test is switched off (serve --no-load-test); agents skip it".into(),
        )
        .into());
    }
    let device = match st.db.device_by_key(key).await.map_err(AppError::from)? {
        None => return Err(AppError::unknown_key().into()),
        Some((_, _, status)) if status != proto::DeviceStatus::Active.as_str() => {
            return Err(AppError::inactive(&status).into());
        }
        Some((device_id, _, _)) => device_id,
    };
    let (bytes, seconds) = parse_query(query, guard.limits.max_bytes)?;
    if let Some(n) = declared.filter(|n| *n > guard.limits.max_bytes) {
        return Err(AppError::TooLarge(format!(
            "the body is {n} bytes; a load upload may be at most {} bytes",
            guard.limits.max_bytes
        ))
        .into());
    }
    let now = Instant::now();
    guard.admit(&device, now).map_err(|wait| {
        too_many(
            "this device ran a load test a moment ago; one load test a device per interval",
            wait,
        )
    })?;
    let reservation = guard
        .reserve(declared.unwrap_or(bytes).min(bytes), now)
        .map_err(|wait| {
            too_many(
                "HQ is serving other load tests; try again after Retry-After",
                wait,
            )
        })?;
    Ok((bytes, seconds, reservation))
}

/// `POST /api/v1/load/upload?bytes=N&seconds=S`: reads and discards the body (at most N bytes,
/// for at most S seconds and [`DRAIN_SECONDS`] more), answers what arrived and over how long.
pub async fn upload(
    State(st): State<AppState>,
    DeviceKey(key): DeviceKey,
    RawQuery(query): RawQuery,
    req: Request,
) -> Result<Json<LoadUploadAck>, Refused> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (cap, seconds, mut reservation) = admit(&st, &key, query.as_deref(), declared).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds + DRAIN_SECONDS);
    let mut body = req.into_body().into_data_stream();
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    let mut n: u64 = 0;
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            // Time is up: answer with what came (the rest of the body is not read).
            Err(_) | Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(AppError::BadRequest(format!("the upload broke off: {e}")).into());
            }
            Ok(Some(Ok(chunk))) => {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                n += chunk.len() as u64;
                reservation.used = n.min(reservation.reserved);
                if n > cap {
                    return Err(AppError::TooLarge(format!(
                        "the upload passed its cap of {cap} bytes"
                    ))
                    .into());
                }
            }
        }
    }
    let seconds = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    Ok(Json(LoadUploadAck { bytes: n, seconds }))
}

/// `GET /api/v1/load/download?bytes=N&seconds=S`: N bytes of random data (incompressible),
/// ending early after S seconds; the agent stops reading when it has measured enough.
pub async fn download(
    State(st): State<AppState>,
    DeviceKey(key): DeviceKey,
    RawQuery(query): RawQuery,
) -> Result<Response, Refused> {
    let (bytes, seconds, reservation) = admit(&st, &key, query.as_deref(), None).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let state = Source {
        left: bytes,
        deadline,
        rng: Noise::seeded(),
        reservation,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        if s.left == 0 || Instant::now() >= s.deadline {
            return None;
        }
        let n = (s.left as usize).min(CHUNK);
        let chunk = s.rng.bytes(n);
        s.left -= n as u64;
        s.reservation.used += n as u64;
        Some((Ok::<Bytes, std::io::Error>(chunk), s))
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The download's state: what is left to send, until when, and its share of the budget.
struct Source {
    left: u64,
    deadline: Instant,
    rng: Noise,
    reservation: Reservation,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_bounded() {
        assert_eq!(parse_query(None, 1000).unwrap(), (1000, MAX_SECONDS));
        assert_eq!(
            parse_query(Some("bytes=10&seconds=2.5"), 1000).unwrap(),
            (10, 2.5)
        );
        assert!(parse_query(Some("bytes=1001"), 1000).is_err());
        assert!(parse_query(Some("seconds=11"), 1000).is_err());
        assert!(parse_query(Some("seconds=nan"), 1000).is_err());
        assert!(parse_query(Some("x=1"), 1000).is_err());
    }
}
