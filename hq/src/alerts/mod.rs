//! Alerts (issue 15, "IT is told"): per-site rules read from TOML ([`config`]), evaluated by a
//! background task ([`engine`] over the pure [`rules`]) into alerts with a key (rule, site,
//! subject), one open alert per key, no repeat while open, and one "resolved" message when it
//! clears; messages ([`message`]) go to webhook, Slack, Teams and email receivers ([`send`])
//! through the durable outbox ([`deliver`]), so a receiver that is down loses nothing. The
//! history is in [`store`], served by [`api`] and the `/alerts` page.

pub mod api;
pub mod config;
pub mod deliver;
pub mod engine;
pub mod gauges;
pub mod message;
pub mod rules;
pub mod send;
pub mod store;

use crate::db::Db;
use std::sync::Arc;
use std::time::Duration;

/// How often the rules are evaluated, at most (the lost-contact sweep's period when shorter).
pub const EVALUATE_EVERY: Duration = Duration::from_secs(15);

/// Starts this process's alert work until `stop` fires: the evaluation every `every` (at most
/// [`EVALUATE_EVERY`]) and the outbox worker delivering the messages.
pub fn start(
    db: Db,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let d = Arc::new(deliver::Alerts {
        db: db.clone(),
        http: crate::connectors::http_client()?,
    });
    let postgres = db.backend == crate::db::Backend::Postgres;
    let worker = crate::outbox::run_for(db.pool.clone(), postgres, "alert:", d, stop.clone());
    let every = every.clamp(Duration::from_millis(100), EVALUATE_EVERY);
    Ok(tokio::spawn(async move {
        let evaluator = evaluate_loop(db, every, stop);
        tokio::join!(worker, evaluator);
    }))
}

async fn evaluate_loop(db: Db, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = crate::db::now_ms();
        if let Err(e) = engine::evaluate(&db, now).await {
            if db.pool.is_closed() {
                return;
            }
            tracing::warn!("alerts: evaluating the rules failed: {e:#}");
        }
        if now - last_prune > 3_600_000 {
            last_prune = now;
            if let Err(e) = store::prune(&db, now, 7 * 86_400_000).await {
                tracing::warn!("alerts: pruning address prefixes failed: {e:#}");
            }
        }
    }
}

/// `alert test`: one test message to every receiver of the site, sent now (not through the
/// outbox: the person running it waits for the answer); per receiver, what happened in words.
pub async fn test(
    db: &Db,
    site: &str,
) -> anyhow::Result<Result<Vec<(String, Result<(), String>)>, String>> {
    let Some(cfg) = store::load(db, site).await? else {
        return Ok(Err(format!(
            "site '{site}' has no alert rules; set them with `shiftready-hq alert set --site {site} FILE.toml`"
        )));
    };
    let http = crate::connectors::http_client()?;
    let now = crate::db::now_ms();
    let msg = message::Message {
        status: message::Status::Test,
        alert_id: None,
        key: rules::key("test", site, "test"),
        rule: "test".into(),
        site: site.to_string(),
        subject: "test".into(),
        summary: format!("A test message from ShiftReady HQ for site {site}; no action needed"),
        lines: vec![],
        agents: vec![],
        opened_at: now,
        resolved_at: None,
        dashboard_url: cfg.dashboard_url.clone(),
    };
    let mut out = Vec::new();
    for rc in &cfg.receivers {
        let id = uuid::Uuid::new_v4().to_string();
        let r = send::send(&http, rc, &msg, &id)
            .await
            .map_err(|e| e.message);
        out.push((format!("{} ({})", rc.name, rc.kind.as_str()), r));
    }
    Ok(Ok(out))
}
