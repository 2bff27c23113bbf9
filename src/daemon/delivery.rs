//! Delivery from the spool to HQ: oldest first, in batches, removed from the spool only after
//! HQ acknowledged each id; failures back off exponentially with jitter.

use crate::spool::{Backoff, Spool};
use futures::future::BoxFuture;
use proto::Event;
use proto::api::PolicyResponse;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

/// Where events go and the policy comes from (HQ, through `crate::hq_client`).
pub trait Sink: Send + Sync + 'static {
    /// Sends a batch; returns the ids HQ acknowledged (new or already held).
    fn send(&self, events: Vec<Event>) -> BoxFuture<'static, anyhow::Result<Vec<Uuid>>>;
    /// Fetches the policy and this agent's shifts.
    fn policy(&self) -> BoxFuture<'static, anyhow::Result<PolicyResponse>>;
    /// HQ's base URL, for "Open HQ".
    fn url(&self) -> String;
}

/// The most events sent in one request.
pub const BATCH: usize = 200;

/// The outcome of one delivery attempt, for the daemon's `hq_unreachable` hysteresis.
#[derive(Debug, Clone)]
pub enum Attempt {
    Delivered(usize),
    Failed(String),
}

/// Runs until the task is aborted: sends what the spool holds, waits for `wake` (a new event)
/// when it is empty.
pub async fn run(
    spool: Spool,
    sink: Arc<dyn Sink>,
    wake: Arc<Notify>,
    report: mpsc::Sender<Attempt>,
) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
    loop {
        let batch = match spool.peek(BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("delivery: cannot read the spool: {e:#}");
                tokio::time::sleep(backoff.fail()).await;
                continue;
            }
        };
        if batch.is_empty() {
            // A heartbeat at least every policy interval wakes us; the timeout is a safety net.
            let _ = tokio::time::timeout(Duration::from_secs(60), wake.notified()).await;
            continue;
        }
        let now = chrono::Utc::now();
        let n = batch.len();
        let batch: Vec<Event> = batch
            .into_iter()
            .map(|mut e| {
                e.sent_at = Some(now);
                e
            })
            .collect();
        match sink.send(batch).await {
            Ok(ids) => {
                if let Err(e) = spool.ack(&ids).await {
                    tracing::error!(
                        "delivery: HQ has the events but the spool could not drop them ({e:#}); they will be sent again and HQ will ignore the copies"
                    );
                }
                backoff.succeed();
                let _ = report.send(Attempt::Delivered(ids.len())).await;
                if ids.len() < n {
                    tracing::warn!(
                        sent = n,
                        acked = ids.len(),
                        "HQ acknowledged only part of a batch"
                    );
                    tokio::time::sleep(backoff.fail()).await;
                }
            }
            Err(e) => {
                let delay = backoff.fail();
                tracing::info!(
                    "delivery to HQ failed ({e:#}); next try in {:.1} s",
                    delay.as_secs_f64()
                );
                let _ = report.send(Attempt::Failed(format!("{e:#}"))).await;
                tokio::time::sleep(delay).await;
            }
        }
    }
}
