//! `shiftready-hq simulate`: a fleet of simulated agents heartbeating at a steady rate against
//! an HQ on this machine, and the ceiling of a bare axum handler measured in the same run.
//!
//! Bounded in agents and time, and refuses any target that is not loopback. The simulated
//! devices are written straight into HQ's database (enrolling 100,000 devices through the
//! rate-limited endpoint would take hours), then every request goes through HTTP as a real
//! agent's would: bearer key, JSON batch, idempotent ids.
//!
//! The devices go into a site of their own, which must not exist before (or hold only what an
//! interrupted run left: devices made by `simulate`), and everything the run made (the site,
//! its devices with what they sent, the viewer token for the fleet page) is removed at the
//! end, also when the run fails or is stopped with Ctrl-C.

use crate::db::{self, Db, Role};
use proto::Readiness;
use sqlx::AssertSqlSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most simulated agents.
pub const MAX_AGENTS: u64 = 1_000_000;
/// Longest run, seconds.
pub const MAX_DURATION: f64 = 3600.0;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub agents: u64,
    pub interval: f64,
    pub duration: f64,
    pub target: String,
    pub concurrency: usize,
    pub bare_seconds: f64,
    pub site: String,
    /// Closed loop instead of a steady rate: `concurrency` clients, each sending its next
    /// heartbeat as soon as the previous one is acknowledged, against the bare handler and HQ
    /// in turn (bare, HQ, bare; `duration` seconds each).
    pub saturate: bool,
    /// The bare handler to compare with (`shiftready-hq bare-axum`, e.g. pinned to the CPU HQ
    /// runs on); `None`: one served inside this process.
    pub bare_target: Option<String>,
    /// Every other heartbeat of each agent (steady mode) carries a `sample` event too.
    pub samples: bool,
}

/// Whether the URL's host is this machine's loopback.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Writes `n` simulated devices (`sim-000001`...) with keys derived from a random run id.
async fn provision(db: &Db, site: &str, n: u64) -> anyhow::Result<Vec<String>> {
    db.ensure_site(site).await?;
    let run = crate::crypto::new_secret("");
    let run = &run[..12];
    let keys: Vec<String> = (0..n).map(|i| format!("sr_dev_sim{run}{i:07}")).collect();
    let now = db::now_ms();
    let mut tx = db.pool.begin().await?;
    for (c, chunk) in keys.chunks(500).enumerate() {
        let mut sql = String::from(
            "INSERT INTO devices (id, site, hostname, os, agent_version, key_hash, enrolled_at) VALUES ",
        );
        let mut p = 0;
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},'simulated','sim',${},${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5
            ));
            p += 5;
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (i, key) in chunk.iter().enumerate() {
            let idx = c * 500 + i;
            q = q
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(site)
                .bind(format!("sim-{run}-{idx:06}"))
                .bind(crate::crypto::hash_secret(key))
                .bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(keys)
}

/// One heartbeat batch, as an agent sends it: a fresh event id, `at` and `sent_at` now; with
/// `sample`, the minute's `sample` event too (dated the start of the current minute, as the
/// daemon sends one a minute in its shift). Written straight into a string (no JSON tree per
/// request); a test checks it parses as the agent's own [`Event`] does.
fn heartbeat_body(i: u64, sample: bool) -> String {
    let readiness = match i % 20 {
        0 => Readiness::NotReady,
        1 | 2 => Readiness::Degraded,
        _ => Readiness::Ready,
    };
    let t = chrono::Utc::now();
    let now = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let sample = if sample {
        let minute = chrono::DateTime::from_timestamp(t.timestamp() - t.timestamp() % 60, 0)
            .unwrap_or(t)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let rtt = 20 + i % 40;
        format!(
            r#",{{"id":"{}","at":"{minute}","sent_at":"{now}","kind":"sample","sample":{{"seconds":60,"rtt_p50_ms":{rtt}.5,"rtt_p95_ms":{}.0,"jitter_up_ms":1.5,"jitter_down_ms":2.0,"loss_up_pct":0.0,"loss_down_pct":{}.0,"mos_min":4.3,"gateway_rtt_p50_ms":1.2,"gateway_loss_pct":0.0,"link":"wifi","link_down_seconds":0,"wifi_signal_dbm":-55,"headset":true,"noise_dba":41.5,"noise_class":"quiet"}}}}"#,
            uuid::Uuid::new_v4(),
            rtt + 15,
            i % 3
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"events":[{{"id":"{}","at":"{now}","sent_at":"{now}","kind":"heartbeat","readiness":"{}","signed_in":true}}{sample}]}}"#,
        uuid::Uuid::new_v4(),
        readiness.as_str()
    )
}

/// The bare axum handler HQ is compared with: `POST /` or `/api/v1/events` answers the body's
/// length as JSON. No database, no middleware.
pub fn bare_app() -> axum::Router {
    let handler = axum::routing::post(|body: axum::body::Bytes| async move {
        axum::Json(serde_json::json!({"len": body.len()}))
    });
    axum::Router::new()
        .route("/", handler.clone())
        .route("/api/v1/events", handler)
}

/// `shiftready-hq bare-axum`: serves [`bare_app`] on `listen` (loopback only) until stopped,
/// so the saturated comparison can pin it to the same CPU as HQ.
pub async fn serve_bare(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    anyhow::ensure!(
        listen.ip().is_loopback(),
        "bare-axum listens on loopback only"
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("bare-axum: listening on {}", listener.local_addr()?);
    axum::serve(listener, bare_app())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Requests per second a bare axum handler answers with this client, concurrency and machine.
async fn bare_ceiling(concurrency: usize, seconds: f64) -> anyhow::Result<f64> {
    let app = bare_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::builder().build()?;
    let url = reqwest::Url::parse(&format!("http://{addr}/"))?;
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let client = client.clone();
        let url = url.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w as u64;
            while Instant::now() < end {
                let r = client
                    .post(url.clone())
                    .header("content-type", "application/json")
                    .body(heartbeat_body(i, false))
                    .send()
                    .await;
                if let Ok(r) = r {
                    let _ = r.bytes().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                i += concurrency as u64;
            }
        }));
    }
    let start = Instant::now();
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64().max(seconds);
    server.abort();
    Ok(done.load(Ordering::Relaxed) as f64 / secs)
}

/// Whether `site` is free for a simulation: `Ok(())` when it does not exist or holds only
/// devices an earlier, interrupted simulation made (then removed now), else why not.
pub async fn claim_site(db: &Db, site: &str) -> anyhow::Result<Result<(), String>> {
    if !db.site_exists(site).await? {
        return Ok(Ok(()));
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM devices WHERE site = $1 \
         AND NOT (os = 'simulated' AND agent_version = 'sim')",
    )
    .bind(site)
    .fetch_one(&db.pool)
    .await?;
    let real: i64 = sqlx::Row::try_get(&row, "n")?;
    let secrets: i64 = sqlx::Row::try_get(
        &sqlx::query("SELECT COUNT(*) AS n FROM enroll_secrets WHERE site = $1")
            .bind(site)
            .fetch_one(&db.pool)
            .await?,
        "n",
    )?;
    if real > 0 || secrets > 0 {
        return Ok(Err(format!(
            "site '{site}' exists with real devices or enrollment secrets; simulate provisions \
             into a site of its own and removes it afterwards: choose a --site that does not exist"
        )));
    }
    let n = db.remove_site(site).await?;
    println!("simulate: removed what an interrupted run left in site '{site}' ({n} devices)");
    Ok(Ok(()))
}

/// What one closed-loop phase got: acknowledged requests in the measured window, errors (and
/// the first), latencies in µs, and the window's length.
struct Phase {
    /// Requests answered over the whole phase, warm-up included.
    all: u64,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    lat: Vec<u64>,
    secs: f64,
}

impl Phase {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.secs
    }
}

/// `concurrency` clients, each sending the next heartbeat as soon as the previous one is
/// answered, for `seconds` (the first `warmup` of them not counted). The same client code and
/// request for HQ and the bare handler: the agent's bearer key (agent `w`, `w + concurrency`,
/// ... in turn), the JSON batch, the content type.
async fn closed_loop(
    client: &reqwest::Client,
    url: &reqwest::Url,
    keys: &Arc<Vec<String>>,
    concurrency: usize,
    seconds: f64,
    warmup: f64,
) -> Phase {
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(warmup);
    let end = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let client = client.clone();
        let url = url.clone();
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            let mut p = Phase {
                all: 0,
                ok: 0,
                errors: 0,
                first_error: None,
                lat: Vec::new(),
                secs: 0.0,
            };
            let mut i = w;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let r = client
                    .post(url.clone())
                    .bearer_auth(&keys[i])
                    .header("content-type", "application/json")
                    .body(heartbeat_body(i as u64, false))
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    Ok(r) => {
                        let s = r.status();
                        let b = r.text().await.unwrap_or_default();
                        p.first_error.get_or_insert(format!("{s}: {b}"));
                        false
                    }
                    Err(e) => {
                        p.first_error.get_or_insert(e.to_string());
                        false
                    }
                };
                let t1 = Instant::now();
                p.all += 1;
                if t0 >= from && t1 <= end {
                    if ok {
                        p.ok += 1;
                        p.lat.push(t1.duration_since(t0).as_micros() as u64);
                    } else {
                        p.errors += 1;
                    }
                } else if !ok {
                    p.errors += 1;
                }
                i = (i + concurrency) % keys.len();
            }
            p
        }));
    }
    let mut all = Phase {
        all: 0,
        ok: 0,
        errors: 0,
        first_error: None,
        lat: Vec::new(),
        secs: (seconds - warmup).max(0.001),
    };
    for t in tasks {
        if let Ok(p) = t.await {
            all.all += p.all;
            all.ok += p.ok;
            all.errors += p.errors;
            all.lat.extend(p.lat);
            if all.first_error.is_none() {
                all.first_error = p.first_error;
            }
        }
    }
    all.lat.sort_unstable();
    all
}

/// The saturated comparison: bare handler, HQ, bare handler again, each a closed loop of
/// `concurrency` clients for `duration` seconds (1 s warm-up each); prints each phase (with
/// `phase ... start`/`end` lines a script can read CPU times at) and the ratio of HQ's
/// requests/s to the bare handler's (the mean of its two phases).
async fn run_saturated(db: &Db, opts: &SimOptions) -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let base = opts.target.trim_end_matches('/').to_string();
    println!(
        "simulate: saturated: {} clients in a closed loop, {} agents' keys, {} s per phase, target {base}, database {:?}",
        opts.concurrency, opts.agents, opts.duration, db.backend
    );
    let t = Instant::now();
    let keys = Arc::new(provision(db, &opts.site, opts.agents).await?);
    println!(
        "simulate: provisioned {} devices in {:.1} s",
        keys.len(),
        t.elapsed().as_secs_f64()
    );
    let mut local = None;
    let bare_url = match &opts.bare_target {
        Some(b) => format!("{}/api/v1/events", b.trim_end_matches('/')),
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            local = Some(tokio::spawn(async move {
                let _ = axum::serve(listener, bare_app()).await;
            }));
            format!("http://{addr}/api/v1/events")
        }
    };
    let bare_url = reqwest::Url::parse(&bare_url)?;
    let hq_url = reqwest::Url::parse(&format!("{base}/api/v1/events"))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(opts.concurrency)
        .build()?;
    let warmup = 1.0_f64.min(opts.duration / 4.0);
    let mut phases = Vec::new();
    for (name, url) in [("bare", &bare_url), ("hq", &hq_url), ("bare", &bare_url)] {
        println!("simulate: phase {name} start");
        let p = closed_loop(&client, url, &keys, opts.concurrency, opts.duration, warmup).await;
        println!(
            "simulate: phase {name} end: {} ok in {:.1} s ({:.0} requests/s), {} errors, latency p50 {:.1} ms, p99 {:.1} ms ({} answered in all)",
            p.ok,
            p.secs,
            p.rps(),
            p.errors,
            percentile(&p.lat, 0.50),
            percentile(&p.lat, 0.99),
            p.all
        );
        if let Some(e) = &p.first_error {
            println!("simulate: first error: {e}");
        }
        phases.push(p);
    }
    if let Some(l) = local {
        l.abort();
    }
    let bare = (phases[0].rps() + phases[2].rps()) / 2.0;
    let hq = &phases[1];
    println!(
        "simulate: RESULT saturated backend={:?} clients={} hq_rps={:.0} bare_axum_rps={:.0} (phases {:.0} and {:.0}) ratio={:.3} hq_errors={} hq_p50_ms={:.1} hq_p99_ms={:.1}",
        db.backend,
        opts.concurrency,
        hq.rps(),
        bare,
        phases[0].rps(),
        phases[2].rps(),
        hq.rps() / bare,
        hq.errors,
        percentile(&hq.lat, 0.50),
        percentile(&hq.lat, 0.99)
    );
    Ok(())
}

/// Runs the simulation and prints its figures, then removes everything it made.
pub async fn run(db: &Db, opts: &SimOptions) -> anyhow::Result<()> {
    let token = std::sync::Mutex::new(None);
    let outcome = tokio::select! {
        r = async {
            if opts.saturate {
                run_saturated(db, opts).await
            } else {
                run_inner(db, opts, &token).await
            }
        } => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("stopped (Ctrl-C)")),
    };
    let t = Instant::now();
    let removed = db.remove_site(&opts.site).await;
    let token = token.lock().map(|mut t| t.take()).unwrap_or(None);
    if let Some(tok) = token {
        db.delete_token(&tok).await?;
    }
    let removed = removed?;
    println!(
        "simulate: removed site '{}' with its {removed} devices and what they sent ({:.1} s)",
        opts.site,
        t.elapsed().as_secs_f64()
    );
    outcome
}

async fn run_inner(
    db: &Db,
    opts: &SimOptions,
    made_token: &std::sync::Mutex<Option<String>>,
) -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let base = opts.target.trim_end_matches('/').to_string();
    println!(
        "simulate: {} agents, one heartbeat each every {} s ({:.0} events/s), {} s, target {base}, database {:?}",
        opts.agents,
        opts.interval,
        opts.agents as f64 / opts.interval,
        opts.duration,
        db.backend
    );
    let t = Instant::now();
    let keys = Arc::new(provision(db, &opts.site, opts.agents).await?);
    println!(
        "simulate: provisioned {} devices in {:.1} s",
        keys.len(),
        t.elapsed().as_secs_f64()
    );

    let bare = bare_ceiling(opts.concurrency.min(64), opts.bare_seconds).await?;
    println!("simulate: bare axum handler ceiling: {bare:.0} requests/s (same client, loopback)");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(opts.concurrency)
        .build()?;
    let url = reqwest::Url::parse(&format!("{base}/api/v1/events"))?;
    let rate = opts.agents as f64 / opts.interval;
    let warmup = (opts.duration / 6.0).min(5.0);
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency));
    let lat: Arc<std::sync::Mutex<Vec<u64>>> = Arc::new(std::sync::Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let mut first_error: Option<String> = None;
    let (err_tx, mut err_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(opts.duration);
    let mut sent: u64 = 0;
    let mut max_lag = Duration::ZERO;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let mut handles = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            let scheduled = start + Duration::from_secs_f64(sent as f64 / rate);
            let permit = sem.clone().acquire_owned().await?;
            max_lag = max_lag.max(Instant::now().saturating_duration_since(scheduled));
            let i = sent % opts.agents;
            // With samples: every other heartbeat of an agent carries its minute's sample (one
            // a minute at the 30 s interval).
            let sample = opts.samples && (sent / opts.agents) % 2 == 0;
            let key = keys.clone();
            let client = client.clone();
            let url = url.clone();
            let lat = lat.clone();
            let errors = errors.clone();
            let err_tx = err_tx.clone();
            let measured = scheduled.duration_since(start).as_secs_f64() >= warmup;
            handles.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let r = client
                    .post(url)
                    .bearer_auth(&key[i as usize])
                    .header("content-type", "application/json")
                    .body(heartbeat_body(i, sample))
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        true
                    }
                    Ok(r) => {
                        let s = r.status();
                        let b = r.text().await.unwrap_or_default();
                        let _ = err_tx.send(format!("{s}: {b}"));
                        false
                    }
                    Err(e) => {
                        let _ = err_tx.send(e.to_string());
                        false
                    }
                };
                let us = t0.elapsed().as_micros() as u64;
                drop(permit);
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                } else if measured {
                    lat.lock().unwrap().push(us);
                }
            }));
            sent += 1;
        }
        if handles.len() > 50_000 {
            handles.retain(|h| !h.is_finished());
        }
        while let Ok(e) = err_rx.try_recv() {
            first_error.get_or_insert(e);
        }
    }
    for h in handles {
        let _ = h.await;
    }
    while let Ok(e) = err_rx.try_recv() {
        first_error.get_or_insert(e);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    l.sort_unstable();
    let measured_secs = (elapsed - warmup).max(0.001);
    println!(
        "simulate: sent {sent} heartbeats in {elapsed:.1} s ({:.0}/s); {} errors; generator max lag {:.0} ms",
        sent as f64 / elapsed,
        errors.load(Ordering::Relaxed),
        max_lag.as_secs_f64() * 1000.0
    );
    if opts.samples {
        // Rounds 0, 2, 4, ... of the agents carried a sample.
        let (rounds, rest) = (sent / opts.agents, sent % opts.agents);
        let samples = rounds.div_ceil(2) * opts.agents + if rounds % 2 == 0 { rest } else { 0 };
        println!(
            "simulate: {samples} of them carried a sample event ({:.0} samples/s)",
            samples as f64 / elapsed
        );
    }
    if let Some(e) = first_error {
        println!("simulate: first error: {e}");
    }
    println!(
        "simulate: after {warmup:.0} s warm-up: {} ok ({:.0} events/s), latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        l.len(),
        l.len() as f64 / measured_secs,
        percentile(&l, 0.50),
        percentile(&l, 0.99),
        percentile(&l, 1.0)
    );

    // The dashboard's fleet page, as IT opens it, at this fleet size.
    let token = db.create_token(Role::Viewer).await?;
    if let Ok(mut t) = made_token.lock() {
        *t = Some(token.clone());
    }
    let summary = db.fleet_summary(db::now_ms()).await?;
    let mut page_ms = Vec::new();
    for path in ["/", "/?sort=last_seen&desc=true", "/?sort=state"] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t0 = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await?;
            let status = r.status();
            let body = r.text().await?;
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(
                status.is_success() && body.contains("<table"),
                "fleet page {path} failed: {status}"
            );
        }
        times.sort_by(f64::total_cmp);
        println!(
            "simulate: fleet page ({path}, {} agents): median {:.1} ms, max {:.1} ms",
            summary.total,
            times[times.len() / 2],
            times[times.len() - 1]
        );
        page_ms.push(times[times.len() / 2]);
    }
    let times = page_ms;
    println!(
        "simulate: RESULT backend={:?} agents={} target_rate={:.0}/s achieved={:.0}/s p50_ms={:.1} p99_ms={:.1} errors={} fleet_page_ms={:.1} bare_axum_rps={:.0}",
        db.backend,
        opts.agents,
        rate,
        l.len() as f64 / measured_secs,
        percentile(&l, 0.50),
        percentile(&l, 0.99),
        errors.load(Ordering::Relaxed),
        times[0],
        bare
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(is_loopback_url("http://127.0.0.1:8640"));
        assert!(is_loopback_url("http://[::1]:8640/"));
        assert!(is_loopback_url("https://localhost:1"));
        assert!(!is_loopback_url("http://10.0.0.1:8640"));
        assert!(!is_loopback_url("http://example.com"));
        assert!(!is_loopback_url("not a url"));
    }

    #[test]
    fn heartbeat_body_is_an_agents_batch() {
        let now = crate::db::now_ms();
        for i in 0..20 {
            let b: proto::api::EventBatch =
                serde_json::from_str(&heartbeat_body(i, false)).unwrap();
            assert_eq!(b.events.len(), 1);
            let e = &b.events[0];
            assert!(matches!(
                e.body,
                proto::event::EventBody::Heartbeat {
                    signed_in: true,
                    ..
                }
            ));
            assert!((e.at.timestamp_millis() - now).abs() < 60_000);
            assert_eq!(e.sent_at, Some(e.at));
            crate::ingest::validate(&b.events, now).unwrap();
        }
    }

    #[test]
    fn a_batch_with_a_sample_is_an_agents_too() {
        let now = crate::db::now_ms();
        let b: proto::api::EventBatch = serde_json::from_str(&heartbeat_body(7, true)).unwrap();
        assert_eq!(b.events.len(), 2);
        let e = &b.events[1];
        let proto::event::EventBody::Sample { sample } = &e.body else {
            panic!("{:?}", e.body)
        };
        assert_eq!(sample.seconds, 60);
        assert_eq!(sample.rtt_p50_ms, Some(27.5));
        assert_eq!(
            e.at.timestamp() % 60,
            0,
            "a sample is dated its minute's start"
        );
        assert!((e.at.timestamp_millis() - now).abs() < 120_000);
        crate::ingest::validate(&b.events, now).unwrap();
    }

    #[test]
    fn percentiles_of_sorted_micros() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
    }
}
