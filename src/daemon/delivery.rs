//! Delivery from the spool to HQ: oldest first, in batches, removed from the spool only after
//! HQ acknowledged each id; failures back off exponentially with jitter. Also the policy
//! refresh, which sends the ETag of the policy held so an unchanged one costs HQ a `304`.

use crate::hq_client::{HqClient, PolicyFetch};
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
    /// Fetches the policy and this agent's shifts; with the ETag of the policy held, the
    /// answer may be [`PolicyFetch::NotModified`].
    fn policy(&self, etag: Option<String>) -> BoxFuture<'static, anyhow::Result<PolicyFetch>>;
    /// HQ's base URL, for "Open HQ".
    fn url(&self) -> String;
}

/// HQ as the daemon's delivery sink.
impl Sink for HqClient {
    fn send(&self, events: Vec<Event>) -> BoxFuture<'static, anyhow::Result<Vec<Uuid>>> {
        let c = self.clone();
        Box::pin(async move { Ok(c.send_events(&events).await?.accepted) })
    }

    fn policy(&self, etag: Option<String>) -> BoxFuture<'static, anyhow::Result<PolicyFetch>> {
        let c = self.clone();
        Box::pin(async move { Ok(HqClient::policy(&c, etag.as_deref()).await?) })
    }

    fn url(&self) -> String {
        HqClient::url(self).to_string()
    }
}

/// A policy fetched from HQ with the ETag HQ gave it (kept with the cached copy).
#[derive(Debug, Clone)]
pub struct FreshPolicy {
    pub response: PolicyResponse,
    pub etag: Option<String>,
}

/// Runs until the task is aborted or `out` closes: fetches the policy every `every`, sending
/// the ETag of the last one received (`etag` at first: that of the cached copy), and passes on
/// only policies HQ says changed.
pub async fn refresh_policy(
    sink: Arc<dyn Sink>,
    mut etag: Option<String>,
    every: Duration,
    out: mpsc::Sender<FreshPolicy>,
) {
    loop {
        match sink.policy(etag.clone()).await {
            Ok(PolicyFetch::Fresh {
                response,
                etag: new,
            }) => {
                etag = new;
                let fresh = FreshPolicy {
                    response: *response,
                    etag: etag.clone(),
                };
                if out.send(fresh).await.is_err() {
                    break;
                }
            }
            Ok(PolicyFetch::NotModified) => tracing::debug!("the policy at HQ has not changed"),
            Err(e) => tracing::info!("could not fetch the policy from HQ: {e:#}"),
        }
        tokio::time::sleep(every).await;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A stand-in for HQ's `GET /api/v1/policy`: answers `304` to `If-None-Match` with its
    /// ETag, the whole policy otherwise, and counts both.
    async fn policy_server(full: Arc<AtomicUsize>, not_modified: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let body = serde_json::to_vec(&PolicyResponse {
            policy: proto::Policy::default(),
            shifts: Vec::new(),
        })
        .unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let answer = if head.contains("\r\nif-none-match: \"e1\"\r\n") {
                    not_modified.fetch_add(1, Ordering::SeqCst);
                    "HTTP/1.1 304 Not Modified\r\netag: \"e1\"\r\nconnection: close\r\n\r\n"
                        .as_bytes()
                        .to_vec()
                } else {
                    full.fetch_add(1, Ordering::SeqCst);
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\netag: \"e1\"\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    a.extend_from_slice(&body);
                    a
                };
                let _ = conn.write_all(&answer).await;
                let _ = conn.shutdown().await;
            }
        });
        format!("http://{addr}")
    }

    /// A policy refresh against [`policy_server`], started with `etag`, fetching every `every`.
    struct Refresh {
        full: Arc<AtomicUsize>,
        not_modified: Arc<AtomicUsize>,
        fresh: mpsc::Receiver<FreshPolicy>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Refresh {
        async fn start(etag: Option<&str>, every: Duration) -> Refresh {
            let (full, not_modified) =
                (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let url = policy_server(full.clone(), not_modified.clone()).await;
            let hq = HqClient::new(&url, "", Some("key".into())).unwrap();
            let (tx, fresh) = mpsc::channel(8);
            let task = tokio::spawn(refresh_policy(
                Arc::new(hq),
                etag.map(str::to_string),
                every,
                tx,
            ));
            Refresh {
                full,
                not_modified,
                fresh,
                task,
            }
        }

        /// Waits (10 s at most) until the server answered `n` conditional requests with `304`,
        /// then stops the refresh; returns the number of whole answers.
        async fn stop_after_304s(&mut self, n: usize) -> usize {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while self.not_modified.load(Ordering::SeqCst) < n {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no conditional request: {} full fetches, {} answered 304",
                    self.full.load(Ordering::SeqCst),
                    self.not_modified.load(Ordering::SeqCst)
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            self.task.abort();
            self.full.load(Ordering::SeqCst)
        }
    }

    /// The refresh sends back the ETag of the policy it holds, so an unchanged policy comes
    /// back as `304` and is not passed on (or written) again.
    #[tokio::test]
    async fn the_policy_refresh_sends_the_etag_and_keeps_the_policy_on_304() {
        let mut r = Refresh::start(None, Duration::from_millis(20)).await;
        let first = tokio::time::timeout(Duration::from_secs(10), r.fresh.recv())
            .await
            .expect("the first fetch")
            .unwrap();
        assert_eq!(first.etag.as_deref(), Some("\"e1\""));
        assert_eq!(
            r.stop_after_304s(3).await,
            1,
            "only the first fetch is whole"
        );
        assert!(r.fresh.try_recv().is_err(), "a 304 passed on a policy");
    }

    /// Started with the cached policy's ETag, the very first fetch is conditional.
    #[tokio::test]
    async fn the_first_fetch_sends_the_cached_etag() {
        let mut r = Refresh::start(Some("\"e1\""), Duration::from_secs(3600)).await;
        assert_eq!(r.stop_after_304s(1).await, 0);
        assert!(r.fresh.try_recv().is_err());
    }
}
