//! The HTTP server: builds the router over the API ([`crate::api`]) and the dashboard
//! ([`crate::dashboard`]), and runs the background work (lost-contact sign-out, pruning) that
//! any number of HQ processes may run at once.

use crate::db::{self, Db};
use crate::limits::HttpLimits;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

pub use crate::state::{AppState, BODY_LIMIT, FleetQuery};

/// The whole application, with the default [`HttpLimits`].
pub fn app(state: AppState) -> Router {
    app_with(state, &HttpLimits::default())
}

/// The whole application: the API, the dashboard, and around them the time limits on a
/// request, the security headers of every answer and (behind a trusted proxy) the client's
/// forwarded address.
pub fn app_with(state: AppState, limits: &HttpLimits) -> Router {
    let trusted: Arc<[IpAddr]> = limits.trusted_proxies.clone().into();
    let set = |name: HeaderName, value: HeaderValue| {
        SetResponseHeaderLayer::<HeaderValue>::if_not_present(name, value)
    };
    let csp = HeaderValue::from_str(&content_security_policy())
        .unwrap_or(HeaderValue::from_static("default-src 'self'"));
    Router::new()
        .nest("/api/v1", crate::api::routes())
        .route("/metrics", get(crate::api::ops::metrics))
        .route("/healthz", get(crate::api::ops::healthz))
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A body that stops arriving fails its read; a request (body and answer) that takes
        // longer than the limit in all is answered 408 and its connection closed.
        .layer(RequestBodyTimeoutLayer::new(limits.header_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(trusted, forwarded_client))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        // Every answer, unless its handler set them: no framing, no sniffing, no referrer to
        // other sites, nothing cached (pages and API answers hold fleet data), and a content
        // security policy (see [`content_security_policy`]).
        .layer(set(header::CONTENT_SECURITY_POLICY, csp))
        .layer(set(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(set(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(set(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(set(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// The page answered for a path HQ does not have (outside `/api/`).
#[derive(askama::Template)]
#[template(path = "message.html")]
struct NotFoundPage<'a> {
    frame: crate::dashboard::layout::Frame<'a>,
    alert: Option<&'a str>,
}

fn not_found_page() -> NotFoundPage<'static> {
    NotFoundPage {
        frame: crate::dashboard::layout::Frame::new("Page not found", None, false),
        alert: Some("HQ has no page at this address."),
    }
}

/// 404: JSON under `/api/` (the API's own routes answer theirs), a small page elsewhere.
async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/") || path == "/api" {
        return crate::error::AppError::NotFound(
            "there is no such endpoint; see /api/v1/openapi.json".into(),
        )
        .into_response();
    }
    (
        StatusCode::NOT_FOUND,
        crate::dashboard::layout::render(&not_found_page()),
    )
        .into_response()
}

/// The content security policy of every answer: this site's own resources only, no framing,
/// and `style-src` naming the SHA-256 of each inline `<style>` of the pages' frame
/// (`templates/base.html`), taken from a rendered page, so the policy follows the template and
/// admits nothing else inline.
pub fn content_security_policy() -> String {
    use askama::Template;
    use base64::Engine;
    use sha2::Digest;
    let page = not_found_page().render().unwrap_or_default();
    let mut hashes = String::new();
    let mut rest = page.as_str();
    while let Some(start) = rest.find("<style>") {
        let after = &rest[start + "<style>".len()..];
        let Some(end) = after.find("</style>") else {
            break;
        };
        let digest = sha2::Sha256::digest(&after.as_bytes()[..end]);
        hashes.push_str(&format!(
            " 'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &after[end..];
    }
    format!(
        "default-src 'self'; style-src 'self'{hashes}; img-src 'self' data:; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Behind a proxy HQ trusts, the client is the address the proxy forwarded
/// ([`crate::limits::client_ip`]): the request's `ConnectInfo` is replaced by it (port 0), so
/// the per-address limits (enrollment, sign-in) count clients, not the proxy.
async fn forwarded_client(
    State(trusted): State<Arc<[IpAddr]>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !trusted.is_empty() {
        if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied()
        {
            let ip = crate::limits::client_ip(peer.ip(), req.headers(), &trusted);
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(ip, 0)));
        }
    }
    next.run(req).await
}

async fn count_responses(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    st.metrics.count_status(resp.status().as_u16());
    resp
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
    /// Per-device ingest quotas, the ingest queue's byte budget and retention.
    pub ingest: crate::quota::IngestLimits,
    /// Timeouts, the connection cap and the trusted proxies.
    pub http: HttpLimits,
    /// Sign-in attempts a minute per client address and per user name.
    pub login_per_minute: u32,
    /// The load endpoints of the latency-under-load test: on or off, and their limits.
    pub load: crate::load::LoadLimits,
}

/// Holds HQ at `max_connections` open connections: a connection past the cap is closed as soon
/// as it is accepted, and each accepted one keeps its slot until it closes.
#[derive(Clone)]
struct ConnectionCap {
    slots: Arc<tokio::sync::Semaphore>,
    refused: Arc<AtomicU64>,
}

impl<S> axum_server::accept::Accept<tokio::net::TcpStream, S> for ConnectionCap {
    type Stream = CappedStream;
    type Service = S;
    type Future = std::future::Ready<std::io::Result<(CappedStream, S)>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        std::future::ready(match self.slots.clone().try_acquire_owned() {
            Ok(slot) => Ok((
                CappedStream {
                    inner: stream,
                    _slot: slot,
                },
                service,
            )),
            Err(_) => {
                let n = self.refused.fetch_add(1, Ordering::Relaxed);
                if n % 1000 == 0 {
                    tracing::warn!(
                        refused = n + 1,
                        "connection cap reached: closing new connections (serve --max-connections)"
                    );
                }
                Err(std::io::Error::other("connection cap reached"))
            }
        })
    }
}

/// A connection holding one of [`ConnectionCap`]'s slots.
struct CappedStream {
    inner: tokio::net::TcpStream,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for CappedStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CappedStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
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
            let retention = st.ingest.gate().limits().retention;
            match st.db.prune_retention(now, &retention).await {
                Ok(n) => tracing::debug!(?n, "pruned events past their retention"),
                Err(e) => tracing::warn!("pruning old events failed: {e:#}"),
            }
            match crate::samples::prune(&st.db, now, &retention).await {
                Ok(n) => tracing::debug!(?n, "pruned samples past their retention"),
                Err(e) => tracing::warn!("pruning old samples failed: {e:#}"),
            }
            match crate::alerts::store::prune_alerts(&st.db, now, retention.alerts_ms).await {
                Ok(n) => tracing::debug!(?n, "pruned alerts past their retention"),
                Err(e) => tracing::warn!("pruning old alerts failed: {e:#}"),
            }
        }
    }
}

/// Both header timeouts on a server, with or without TLS.
fn header_timeouts<Acc>(
    mut server: axum_server::Server<SocketAddr, Acc>,
    timeout: Duration,
) -> axum_server::Server<SocketAddr, Acc> {
    server.http_builder().http1().header_read_timeout(timeout);
    server.first_request_timeout(timeout)
}

/// `shiftready-hq serve`.
pub async fn serve(db: Db, opts: ServeOptions) -> anyhow::Result<()> {
    use std::io::Write;
    let mut state = AppState::new(db);
    state.enroll_per_minute = opts.enroll_per_minute;
    state.ingest.gate().configure(opts.ingest.clone());
    state.secure_cookies = opts.tls.is_some();
    state.probe_key = opts.reflector.token_key;
    state.login = Arc::new(crate::limits::LoginGuard::new(opts.login_per_minute));
    state.load = Arc::new(crate::load::LoadGuard::new(opts.load.clone()));
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
    let connectors =
        crate::connectors::start(state.db.clone(), state.metrics.clone(), stop_rx.clone())?;
    let alerts = crate::alerts::start(state.db.clone(), opts.sweep_every, stop_rx.clone())?;
    let router = app_with(state, &opts.http);
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
    let cap = ConnectionCap {
        slots: Arc::new(tokio::sync::Semaphore::new(
            opts.http.max_connections.max(1),
        )),
        refused: Arc::default(),
    };
    // Slow clients: the first request's headers must be in within the header timeout of
    // connecting (`first_request_timeout` also covers HTTP/1-or-2 detection, which hyper does
    // not time), and each later request's within it of the previous answer.
    let header_timeout = opts.http.header_timeout;
    match &opts.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot load the TLS certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config).acceptor(cap);
            let server = axum_server::from_tcp(std_listener)?.acceptor(acceptor);
            header_timeouts(server, header_timeout)
                .handle(handle)
                .serve(make)
                .await?;
        }
        None => {
            let server = axum_server::from_tcp(std_listener)?.acceptor(cap);
            header_timeouts(server, header_timeout)
                .handle(handle)
                .serve(make)
                .await?;
        }
    }
    let _ = stop_tx.send(true);
    let _ = bg.await;
    let _ = connectors.await;
    let _ = alerts.await;
    if let Some(t) = reflector_task {
        let _ = t.await;
    }
    println!("shiftready-hq: stopped");
    Ok(())
}
