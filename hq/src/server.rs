//! The HTTP server: the agents' API, IT's API, the dashboard, metrics; and the background
//! work (lost-contact sign-out, pruning) that any number of HQ processes may run at once.

use crate::auth::{Admin, DeviceAuth, DeviceKey, ItAuth};
use crate::db::{self, Db, FleetFilter, Sort};
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::ingest::{self, Ingest};
use crate::metrics::Metrics;
use crate::reflector::ReflectorStats;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use proto::api::{EnrollRequest, EnrollResponse, EventAck, EventBatch, PolicyResponse, Shift};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub ingest: Ingest,
    pub metrics: Arc<Metrics>,
    pub reflector: Option<Arc<ReflectorStats>>,
    /// Enrollment attempts allowed per client address per minute.
    pub enroll_per_minute: i64,
    /// Whether the dashboard's cookie is marked `Secure` (served over HTTPS).
    pub secure_cookies: bool,
}

impl AppState {
    /// State over a database, with this process's ingest writer started.
    pub fn new(db: Db) -> AppState {
        let metrics = Arc::new(Metrics::default());
        AppState {
            ingest: Ingest::start(db.clone(), metrics.clone()),
            db,
            metrics,
            reflector: None,
            enroll_per_minute: 10,
            secure_cookies: false,
        }
    }
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/enroll", post(enroll))
        .route("/events", post(events))
        .route("/policy", get(policy))
        .route("/agents", get(agents))
        .route("/agents.csv", get(agents_csv))
        .route("/agents/{id}", get(agent))
        .route("/agents/{id}/revoke", post(revoke))
        .route("/agents/{id}/reenroll", post(reenroll))
        .route("/schedules", post(add_schedules))
        .route("/shifts", get(shifts))
        .route("/shifts.csv", get(shifts_csv))
        .route("/openapi.json", get(openapi))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .merge(crate::dashboard::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .with_state(state)
}

async fn count_responses(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    st.metrics.count_status(resp.status().as_u16());
    resp
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

async fn enroll(
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
    let (device_id, device_key) = st
        .db
        .enroll_device(&site, req.hostname.trim(), &req.os, &req.agent_version)
        .await?;
    st.metrics.enroll_ok.fetch_add(1, Ordering::Relaxed);
    tracing::info!(device_id, hostname = req.hostname, site, "device enrolled");
    Ok(Json(EnrollResponse {
        device_id,
        device_key,
    }))
}

async fn events(
    State(st): State<AppState>,
    DeviceKey(key): DeviceKey,
    ApiJson(batch): ApiJson<EventBatch>,
) -> Result<Json<EventAck>, AppError> {
    let now = db::now_ms();
    if let Err(e) = ingest::validate(&batch.events, now) {
        st.metrics
            .events_rejected
            .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        return Err(e);
    }
    let skew = batch
        .events
        .iter()
        .filter_map(|e| e.sent_at)
        .map(|s| s.timestamp_millis() - now)
        .max();
    let outcome = st.ingest.submit(&key, now, skew, batch.events).await?;
    Ok(Json(EventAck {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
    }))
}

async fn policy(
    State(st): State<AppState>,
    dev: DeviceAuth,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let policy = st.db.site_policy(&dev.site).await?;
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
    let body =
        serde_json::to_vec(&PolicyResponse { policy, shifts }).map_err(anyhow::Error::from)?;
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

/// `?q=&state=&sort=&desc=&limit=&offset=` of the fleet list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetQuery {
    pub q: Option<String>,
    pub state: Option<String>,
    pub sort: Option<Sort>,
    pub desc: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub page: Option<i64>,
}

const STATES: [&str; 8] = [
    "ready",
    "degraded",
    "not_ready",
    "unknown",
    "offline",
    "revoked",
    "reenroll",
    "signed_in",
];

impl FleetQuery {
    pub fn filter(&self, default_limit: i64) -> Result<FleetFilter, AppError> {
        if let Some(s) = self.state.as_deref().filter(|s| !s.is_empty()) {
            if !STATES.contains(&s) {
                return Err(AppError::BadRequest(format!(
                    "state must be one of {}",
                    STATES.join(", ")
                )));
            }
        }
        if self.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
            return Err(AppError::BadRequest(
                "q is longer than 200 characters".into(),
            ));
        }
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=1_000_000).contains(&limit) {
            return Err(AppError::BadRequest(
                "limit must be between 1 and 1000000".into(),
            ));
        }
        let offset = match (self.offset, self.page) {
            (Some(o), _) => o,
            (None, Some(p)) => (p.max(1) - 1).saturating_mul(limit),
            (None, None) => 0,
        };
        if offset < 0 {
            return Err(AppError::BadRequest("offset must not be negative".into()));
        }
        Ok(FleetFilter {
            q: self.q.clone(),
            state: self.state.clone(),
            sort: self.sort.unwrap_or_default(),
            desc: self.desc.unwrap_or(false),
            limit,
            offset,
        })
    }
}

async fn agents(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let now = db::now_ms();
    let (agents, total) = st.db.fleet(now, &q.filter(1_000_000)?).await?;
    let summary = st.db.fleet_summary(now).await?;
    Ok(Json(
        serde_json::json!({"total": total, "summary": summary, "agents": agents}),
    ))
}

fn csv_field(s: &str) -> String {
    // Quote always; a leading = + - @ would be a formula in a spreadsheet, so prefix a quote.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

async fn agents_csv(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> Result<Response, AppError> {
    let (agents, _) = st.db.fleet(db::now_ms(), &q.filter(1_000_000)?).await?;
    let mut out = String::from("id,name,site,state,readiness,signed_in,last_seen,clock_skew_ms\n");
    for a in agents {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            csv_field(&a.id),
            csv_field(&a.name),
            csv_field(&a.site),
            a.state,
            a.readiness.unwrap_or_default(),
            a.signed_in,
            a.last_seen
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            a.clock_skew_ms.map(|s| s.to_string()).unwrap_or_default()
        ));
    }
    Ok(csv_response("agents.csv", out))
}

async fn agent(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let now = db::now_ms();
    let Some(detail) = st.db.agent(now, &id).await? else {
        return Err(AppError::NotFound(format!(
            "there is no agent with the id '{}'",
            id.chars().take(64).collect::<String>()
        )));
    };
    let shifts = st
        .db
        .shift_log(now - 7 * 86_400_000, now + 1, Some(&id), 500)
        .await?;
    let shifts: Vec<_> = shifts.into_iter().map(shift_json).collect();
    let mut v = serde_json::to_value(&detail).map_err(anyhow::Error::from)?;
    v["shifts"] = serde_json::Value::Array(shifts);
    Ok(Json(v))
}

fn shift_json(s: db::ShiftEntry) -> serde_json::Value {
    serde_json::json!({
        "agent_id": s.agent_id,
        "hostname": s.hostname,
        "kind": s.kind,
        "reason": s.reason,
        "at": rfc3339(s.at),
        "readiness": s.readiness,
    })
}

async fn set_status(
    st: &AppState,
    id: &str,
    status: &str,
) -> Result<Json<serde_json::Value>, AppError> {
    if st.db.set_device_status(id, status).await? {
        Ok(Json(serde_json::json!({"id": id, "status": status})))
    } else {
        Err(AppError::NotFound("there is no agent with that id".into()))
    }
}

async fn revoke(
    State(st): State<AppState>,
    Admin(_): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    set_status(&st, &id, "revoked").await
}

async fn reenroll(
    State(st): State<AppState>,
    Admin(_): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    set_status(&st, &id, "reenroll").await
}

/// `POST /api/v1/schedules`: `{"shifts": [{"agent", "start", "end"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    shifts: Vec<ScheduleItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleItem {
    agent: String,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
}

async fn add_schedules(
    State(st): State<AppState>,
    Admin(_): Admin,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<Json<serde_json::Value>, AppError> {
    if body.shifts.len() > 10_000 {
        return Err(AppError::TooLarge(
            "send at most 10000 shifts at a time".into(),
        ));
    }
    let mut resolved = Vec::with_capacity(body.shifts.len());
    for (i, s) in body.shifts.iter().enumerate() {
        if s.end <= s.start {
            return Err(AppError::Unprocessable(format!(
                "shifts[{i}]: end must be after start"
            )));
        }
        if s.end - s.start > chrono::Duration::hours(24) {
            return Err(AppError::Unprocessable(format!(
                "shifts[{i}]: a shift is at most 24 hours"
            )));
        }
        let id = st
            .db
            .resolve_agent(&s.agent)
            .await?
            .map_err(|m| AppError::Unprocessable(format!("shifts[{i}]: {m}")))?;
        resolved.push((id, s.start.timestamp_millis(), s.end.timestamp_millis()));
    }
    for (id, s, e) in &resolved {
        st.db.add_schedule(id, *s, *e).await?;
    }
    Ok(Json(serde_json::json!({"added": resolved.len()})))
}

/// `?from=&to=` (RFC 3339) of the shift log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    agent: Option<String>,
}

fn parse_range(q: &RangeQuery) -> Result<(i64, i64), AppError> {
    let now = db::now_ms();
    let parse = |name: &str, v: &Option<String>, default: i64| -> Result<i64, AppError> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .map_err(|e| {
                    AppError::BadRequest(format!(
                        "`{name}` must be an RFC 3339 time like 2026-01-31T08:00:00Z ({e})"
                    ))
                }),
        }
    };
    let from = parse("from", &q.from, now - 86_400_000)?;
    let to = parse("to", &q.to, now + 1)?;
    if to < from {
        return Err(AppError::BadRequest("`to` is before `from`".into()));
    }
    Ok((from, to))
}

async fn shifts(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (from, to) = parse_range(&q)?;
    let log = st
        .db
        .shift_log(from, to, q.agent.as_deref(), 1_000_000)
        .await?;
    Ok(Json(serde_json::json!({
        "from": rfc3339(from),
        "to": rfc3339(to),
        "shifts": log.into_iter().map(shift_json).collect::<Vec<_>>(),
    })))
}

async fn shifts_csv(
    State(st): State<AppState>,
    _it: ItAuth,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Response, AppError> {
    let (from, to) = parse_range(&q)?;
    let log = st
        .db
        .shift_log(from, to, q.agent.as_deref(), 1_000_000)
        .await?;
    let mut out = String::from("agent_id,hostname,kind,reason,at,readiness\n");
    for s in log {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            csv_field(&s.agent_id),
            csv_field(&s.hostname),
            s.kind,
            s.reason,
            rfc3339(s.at),
            s.readiness.unwrap_or_default()
        ));
    }
    Ok(csv_response("shifts.csv", out))
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

async fn metrics(State(st): State<AppState>) -> Result<Response, AppError> {
    let text = crate::metrics::render(&st.db, &st.metrics, st.reflector.as_deref()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub probe_listen: Option<SocketAddr>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub sweep_every: Duration,
    pub enroll_per_minute: i64,
    /// The UDP reflector's rate limits.
    pub reflector: crate::reflector::ReflectorConfig,
}

/// Resolves when SIGTERM or Ctrl-C arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs the lost-contact sweep and pruning until `stop` fires.
pub async fn background(
    st: AppState,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune = 0i64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = db::now_ms();
        match st.db.sweep_lost_contact(now).await {
            Ok(ids) => {
                if !ids.is_empty() {
                    st.metrics
                        .lost_contact_signouts
                        .fetch_add(ids.len() as u64, Ordering::Relaxed);
                    tracing::info!(count = ids.len(), "signed out agents for lost contact");
                }
            }
            Err(e) => tracing::warn!("lost-contact sweep failed: {e:#}"),
        }
        if now - last_prune > 3_600_000 {
            last_prune = now;
            if let Err(e) = st.db.prune(now, 7 * 86_400_000).await {
                tracing::warn!("pruning old heartbeats failed: {e:#}");
            }
        }
    }
}

/// `shiftready-hq serve`.
pub async fn serve(db: Db, opts: ServeOptions) -> anyhow::Result<()> {
    use std::io::Write;
    let mut state = AppState::new(db);
    state.enroll_per_minute = opts.enroll_per_minute;
    state.secure_cookies = opts.tls.is_some();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let mut reflector_task = None;
    if let Some(addr) = opts.probe_listen {
        match crate::reflector::Reflector::bind(addr, opts.reflector).await {
            Ok(r) => {
                println!("shiftready-hq: reflector on udp://{}", r.local_addr());
                state.reflector = Some(r.stats());
                let mut rx = stop_rx.clone();
                reflector_task = Some(tokio::spawn(r.run(async move {
                    let _ = rx.changed().await;
                })));
            }
            Err(e) => {
                tracing::warn!(
                    "the UDP reflector could not listen on {addr}: {e}; serving without it"
                );
                eprintln!(
                    "shiftready-hq: warning: the UDP reflector could not listen on {addr}: {e}"
                );
            }
        }
    }

    let bg = tokio::spawn(background(state.clone(), opts.sweep_every, stop_rx.clone()));
    let router = app(state);
    let make = router.into_make_service_with_connect_info::<SocketAddr>();
    let std_listener = std::net::TcpListener::bind(opts.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.listen))?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    println!("shiftready-hq: listening on {scheme}://{local}");
    let _ = std::io::stdout().flush();

    let handle = axum_server::Handle::new();
    let h2 = handle.clone();
    let stop_tx2 = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx2.send(true);
        h2.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    match &opts.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot load the TLS certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
            axum_server::from_tcp_rustls(std_listener, config)?
                .handle(handle)
                .serve(make)
                .await?;
        }
        None => {
            axum_server::from_tcp(std_listener)?
                .handle(handle)
                .serve(make)
                .await?;
        }
    }
    let _ = stop_tx.send(true);
    let _ = bg.await;
    if let Some(t) = reflector_task {
        let _ = t.await;
    }
    println!("shiftready-hq: stopped");
    Ok(())
}
