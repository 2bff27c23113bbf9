//! The HTTP server: builds the router over the API ([`crate::api`]) and the dashboard
//! ([`crate::dashboard`]), and runs the background work (lost-contact sign-out, pruning) that
//! any number of HQ processes may run at once.

use crate::db::{self, Db};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use crate::state::{AppState, BODY_LIMIT, FleetQuery};

/// The whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", crate::api::routes())
        .route("/metrics", get(crate::api::ops::metrics))
        .route("/healthz", get(crate::api::ops::healthz))
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
        }
    }
}

/// `shiftready-hq serve`.
pub async fn serve(db: Db, opts: ServeOptions) -> anyhow::Result<()> {
    use std::io::Write;
    let mut state = AppState::new(db);
    state.enroll_per_minute = opts.enroll_per_minute;
    state.ingest.gate().configure(opts.ingest.clone());
    state.secure_cookies = opts.tls.is_some();
    state.probe_key = opts.reflector.token_key;
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
    let _ = connectors.await;
    if let Some(t) = reflector_task {
        let _ = t.await;
    }
    println!("shiftready-hq: stopped");
    Ok(())
}
