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

/// One heartbeat batch, as an agent sends it: a fresh event id, `at` and `sent_at` now.
/// Written straight into a string (no JSON tree per request); a test checks it parses as
/// the agent's own [`Event`] does.
fn heartbeat_body(i: u64) -> String {
    let readiness = match i % 20 {
        0 => Readiness::NotReady,
        1 | 2 => Readiness::Degraded,
        _ => Readiness::Ready,
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    format!(
        r#"{{"events":[{{"id":"{}","at":"{now}","sent_at":"{now}","kind":"heartbeat","readiness":"{}","signed_in":true}}]}}"#,
        uuid::Uuid::new_v4(),
        readiness.as_str()
    )
}

/// Requests per second a bare axum handler answers with this client, concurrency and machine.
async fn bare_ceiling(concurrency: usize, seconds: f64) -> anyhow::Result<f64> {
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|body: axum::body::Bytes| async move {
            axum::Json(serde_json::json!({"len": body.len()}))
        }),
    );
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
                    .body(heartbeat_body(i))
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

/// Runs the simulation and prints its figures, then removes everything it made.
pub async fn run(db: &Db, opts: &SimOptions) -> anyhow::Result<()> {
    let token = std::sync::Mutex::new(None);
    let outcome = tokio::select! {
        r = run_inner(db, opts, &token) => r,
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
                    .body(heartbeat_body(i))
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
            let b: proto::api::EventBatch = serde_json::from_str(&heartbeat_body(i)).unwrap();
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
    fn percentiles_of_sorted_micros() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
    }
}
