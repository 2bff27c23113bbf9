//! Delivery from the spool to HQ: oldest first, in batches, removed from the spool only after
//! HQ acknowledged each id; failures back off exponentially with jitter. Also the policy
//! refresh, which sends the ETag of the policy held so an unchanged one costs HQ a `304`.
//!
//! Delivery never stalls on one event: an event HQ refuses for good (per event in HQ's
//! answer, or, from an HQ older than issue 12, a 4xx for the whole batch, narrowed down by
//! halving the batch) is set aside in the spool's quarantine with HQ's reason, and everything
//! after it is delivered. A key HQ refuses (revoked, enrollment required) pauses delivery,
//! nothing dropped, until `shiftready enroll` writes a new key.

use crate::hq_client::{HqClient, HqError, PolicyFetch};
use crate::spool::{Backoff, Spool};
use futures::future::BoxFuture;
use proto::Event;
use proto::api::PolicyResponse;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

/// What HQ did with a batch it answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// The ids HQ holds now (stored now or before): the spool forgets them.
    pub held: Vec<Uuid>,
    /// The ids HQ refused for good, with its reason: set aside.
    pub refused: Vec<(Uuid, String)>,
    /// IT asked for a check now (HQ's "Run the check now"), at this time by HQ's clock.
    pub check_requested_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Answer {
    /// HQ's answer to `events`: per event when HQ says (issue 12), else the ids it accepted.
    pub fn from_ack(events: &[Event], ack: proto::api::EventAck) -> Answer {
        if ack.results.is_empty() {
            return Answer {
                held: ack.accepted,
                refused: Vec::new(),
                check_requested_at: ack.check_requested_at,
            };
        }
        let in_order = ack.results.len() == events.len();
        let mut a = Answer {
            check_requested_at: ack.check_requested_at,
            ..Answer::default()
        };
        for (i, r) in ack.results.into_iter().enumerate() {
            // An event refused before HQ could read its id is named by its place.
            let Some(id) = r.id.or_else(|| in_order.then(|| events[i].id)) else {
                continue;
            };
            if r.outcome.is_held() {
                a.held.push(id);
            } else {
                let reason = r.error.unwrap_or_else(|| "no reason given".into());
                a.refused.push((id, reason));
            }
        }
        a
    }
}

/// Where events go and the policy comes from (HQ, through `crate::hq_client`).
pub trait Sink: Send + Sync + 'static {
    /// Sends a batch; returns what HQ did with it.
    fn send(&self, events: Vec<Event>) -> BoxFuture<'static, Result<Answer, HqError>>;
    /// Fetches the policy and this agent's shifts; with the ETag of the policy held, the
    /// answer may be [`PolicyFetch::NotModified`].
    fn policy(&self, etag: Option<String>) -> BoxFuture<'static, anyhow::Result<PolicyFetch>>;
    /// HQ's base URL, for "Open HQ".
    fn url(&self) -> String;
    /// A fingerprint of the credentials sent (never the key itself): when it changes, a new
    /// enrollment happened and paused delivery tries again. `None`: not known.
    fn key_fingerprint(&self) -> Option<String> {
        None
    }
}

/// HQ as the daemon's delivery sink.
impl Sink for HqClient {
    fn send(&self, events: Vec<Event>) -> BoxFuture<'static, Result<Answer, HqError>> {
        let c = self.clone();
        Box::pin(async move {
            let ack = c.send_events(&events).await?;
            Ok(Answer::from_ack(&events, ack))
        })
    }

    fn policy(&self, etag: Option<String>) -> BoxFuture<'static, anyhow::Result<PolicyFetch>> {
        let c = self.clone();
        Box::pin(async move { Ok(HqClient::policy(&c, etag.as_deref()).await?) })
    }

    fn url(&self) -> String {
        HqClient::url(self).to_string()
    }

    fn key_fingerprint(&self) -> Option<String> {
        HqClient::key_fingerprint(self)
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

/// The outcome of one delivery attempt, for the daemon's `hq_unreachable` hysteresis, its
/// `events_rejected` incident and its status.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Delivered(usize),
    Failed(String),
    /// HQ refused events for good; they were set aside in the spool's quarantine.
    Quarantined {
        count: usize,
        /// HQ's reason for the first of them.
        reason: String,
        /// Every one of them was itself an `events_rejected` incident (an HQ that does not
        /// know that incident): no new incident for it, or it would never end.
        only_own_incidents: bool,
    },
    /// IT asked, through HQ, for the full check now; sent once per request (HQ repeats the
    /// request in each answer until the report arrives).
    CheckRequested(chrono::DateTime<chrono::Utc>),
    /// HQ refused this device's key: delivery is paused until a new enrollment.
    MustEnroll {
        /// HQ's URL, for the command to run.
        url: String,
        error: String,
    },
}

/// How fast delivery retries; [`Pacing::default`] in the daemon, faster in tests.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// The first retry delay after a failure (doubling, with jitter, up to `cap`).
    pub base: Duration,
    pub cap: Duration,
    /// While paused for a new enrollment: how often the key is looked at (a local file).
    pub key_poll: Duration,
    /// While paused: try HQ again anyway this often (IT may have restored the key).
    pub key_retry: Duration,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            key_poll: Duration::from_secs(2),
            key_retry: Duration::from_secs(600),
        }
    }
}

/// Runs until the task is aborted: sends what the spool holds, waits for `wake` (a new event)
/// when it is empty.
pub async fn run(
    spool: Spool,
    sink: Arc<dyn Sink>,
    wake: Arc<Notify>,
    report: mpsc::Sender<Attempt>,
) {
    run_paced(spool, sink, wake, report, Pacing::default()).await
}

/// [`run`] with the given pacing.
pub async fn run_paced(
    spool: Spool,
    sink: Arc<dyn Sink>,
    wake: Arc<Notify>,
    report: mpsc::Sender<Attempt>,
    pacing: Pacing,
) {
    let mut backoff = Backoff::new(pacing.base, pacing.cap);
    // The check request last passed on, so each is acted on once.
    let mut asked = None;
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
        let batch: Vec<Event> = batch
            .into_iter()
            .map(|mut e| {
                e.sent_at = Some(now);
                e
            })
            .collect();
        let step = deliver(&spool, sink.as_ref(), batch, &report, &mut asked).await;
        match step {
            Step::Done => backoff.succeed(),
            Step::Partial => {
                // An HQ that acknowledged less than it was sent, saying nothing of the rest:
                // the rest is sent again, after a pause.
                backoff.succeed();
                tokio::time::sleep(backoff.fail()).await;
            }
            Step::Retry(e) => {
                let mut delay = backoff.fail();
                if let HqError::RetryAfter { seconds } = e {
                    delay = delay.max(Duration::from_secs(seconds.min(3600)));
                }
                tracing::info!(
                    "delivery to HQ failed ({e}); next try in {:.1} s",
                    delay.as_secs_f64()
                );
                let _ = report.send(Attempt::Failed(e.to_string())).await;
                tokio::time::sleep(delay).await;
            }
            Step::MustEnroll(e) => {
                tracing::warn!(
                    "delivery to HQ paused: {e}. The events stay in the spool; delivery resumes \
                     once `shiftready enroll` has written a new key"
                );
                let _ = report
                    .send(Attempt::MustEnroll {
                        url: sink.url(),
                        error: e.to_string(),
                    })
                    .await;
                wait_for_new_key(sink.as_ref(), pacing).await;
                backoff.succeed();
            }
        }
    }
}

/// What one pass over a batch came to.
#[derive(Debug)]
enum Step {
    /// HQ answered for every event (held or set aside).
    Done,
    /// HQ acknowledged only part of the batch, without a word on the rest.
    Partial,
    /// Try again later: HQ down, slow, busy, or an answer that was not HQ's.
    Retry(HqError),
    /// HQ refused the key.
    MustEnroll(HqError),
}

/// Sends `batch`; what HQ holds leaves the spool, what it refuses for good is set aside. An
/// HQ older than issue 12 answers a batch with one refused event by refusing the whole batch:
/// the batch is halved, down to single events, until only the events HQ refuses on their own
/// are left, and those are set aside.
async fn deliver(
    spool: &Spool,
    sink: &dyn Sink,
    batch: Vec<Event>,
    report: &mpsc::Sender<Attempt>,
    asked: &mut Option<chrono::DateTime<chrono::Utc>>,
) -> Step {
    let mut aside = Aside::default();
    let step = deliver_parts(spool, sink, batch, report, &mut aside, asked).await;
    // One word for the whole batch: how many were set aside, and HQ's first reason.
    if let Some(reason) = aside.reason {
        let _ = report
            .send(Attempt::Quarantined {
                count: aside.count,
                reason,
                only_own_incidents: aside.only_own,
            })
            .await;
    }
    step
}

/// What [`deliver`] set aside so far.
#[derive(Debug)]
struct Aside {
    count: usize,
    /// HQ's reason for the first one.
    reason: Option<String>,
    /// Every one was an `events_rejected` incident.
    only_own: bool,
}

impl Default for Aside {
    fn default() -> Aside {
        Aside {
            count: 0,
            reason: None,
            only_own: true,
        }
    }
}

async fn deliver_parts(
    spool: &Spool,
    sink: &dyn Sink,
    batch: Vec<Event>,
    report: &mpsc::Sender<Attempt>,
    aside: &mut Aside,
    asked: &mut Option<chrono::DateTime<chrono::Utc>>,
) -> Step {
    let mut parts = vec![batch];
    let mut step = Step::Done;
    while let Some(part) = parts.pop() {
        let n = part.len();
        let kinds: Vec<(Uuid, bool)> = part.iter().map(|e| (e.id, own_incident(e))).collect();
        match sink.send(part.clone()).await {
            Ok(answer) => {
                if let Err(e) = spool.ack(&answer.held).await {
                    tracing::error!(
                        "delivery: HQ has the events but the spool could not drop them ({e:#}); they will be sent again and HQ will ignore the copies"
                    );
                }
                set_aside(spool, &kinds, answer.refused.clone(), aside).await;
                let _ = report.send(Attempt::Delivered(answer.held.len())).await;
                if let Some(at) = answer.check_requested_at.filter(|at| *asked != Some(*at)) {
                    *asked = Some(at);
                    let _ = report.send(Attempt::CheckRequested(at)).await;
                }
                let answered = answer.held.len() + answer.refused.len();
                if answered < n {
                    tracing::warn!(sent = n, answered, "HQ acknowledged only part of a batch");
                    step = Step::Partial;
                }
            }
            Err(e) if e.is_refusal() && n > 1 => {
                tracing::info!(
                    events = n,
                    "HQ refused a whole batch ({e}); sending it in halves to find the events it refuses"
                );
                let mut left = part;
                let right = left.split_off(n / 2);
                // A stack: the older half goes first.
                parts.push(right);
                parts.push(left);
            }
            Err(e) if e.is_refusal() => {
                set_aside(spool, &kinds, vec![(part[0].id, e.to_string())], aside).await;
            }
            Err(e) if e.needs_enrollment() => return Step::MustEnroll(e),
            Err(e) => return Step::Retry(e),
        }
    }
    step
}

/// Whether `e` is itself an `events_rejected` incident.
fn own_incident(e: &Event) -> bool {
    matches!(&e.body, proto::event::EventBody::Incident { name, .. }
        if name == proto::IncidentName::EventsRejected.as_str())
}

/// Moves `refused` to the spool's quarantine and counts them in `aside`.
async fn set_aside(
    spool: &Spool,
    kinds: &[(Uuid, bool)],
    refused: Vec<(Uuid, String)>,
    aside: &mut Aside,
) {
    let Some((_, reason)) = refused.first().cloned() else {
        return;
    };
    for (id, why) in &refused {
        tracing::warn!(%id, "HQ refused an event for good ({why}); set aside in the spool's quarantine");
    }
    if let Err(e) = spool.quarantine(&refused).await {
        // Not set aside: it stays queued and is sent again (HQ refuses it again).
        tracing::error!("delivery: could not set refused events aside ({e:#})");
        return;
    }
    let own = |id: &Uuid| kinds.iter().any(|(k, own)| k == id && *own);
    aside.count += refused.len();
    aside.reason.get_or_insert(reason);
    aside.only_own &= refused.iter().all(|(id, _)| own(id));
}

/// Waits until the key changed (a new enrollment), looking every `key_poll`; after
/// `key_retry` returns anyway, so a key IT restored at HQ is tried again now and then.
async fn wait_for_new_key(sink: &dyn Sink, pacing: Pacing) {
    let before = sink.key_fingerprint();
    let until = tokio::time::Instant::now() + pacing.key_retry;
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(pacing.key_poll).await;
        let now = sink.key_fingerprint();
        if now.is_some() && now != before {
            tracing::info!("a new device key was written; delivery to HQ resumes");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A stand-in for HQ's `GET /api/v1/policy`: answers `304` to `If-None-Match` with its
    /// ETag, the whole policy otherwise, and counts both.
    async fn policy_server(full: Arc<AtomicUsize>, not_modified: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let body = serde_json::to_vec(&PolicyResponse {
            policy: proto::Policy::default(),
            shifts: Vec::new(),
            event_kinds: Vec::new(),
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

    /// How the fake HQ of [`FakeHq`] answers.
    #[derive(Clone, Copy, PartialEq)]
    enum Era {
        /// Before issue 12: a batch holding one event it refuses is refused whole (422).
        Old,
        /// Issue 12: one result per event.
        PerEvent,
    }

    /// A stand-in for HQ: refuses incidents named `vpn` or `events_rejected` (incidents this
    /// HQ does not know),
    /// answers `413` to a batch holding an incident named `huge`, and refuses any key but
    /// its own with `401 reenroll`; or answers `503` to everything while `down`.
    struct FakeHq {
        era: Era,
        key: Mutex<String>,
        good_key: String,
        down: AtomicBool,
        /// Answers the next request `429` with this `Retry-After` (seconds), once.
        busy: AtomicUsize,
        /// When each request came.
        times: Mutex<Vec<std::time::Instant>>,
        stored: Mutex<Vec<Uuid>>,
        requests: AtomicUsize,
    }

    fn incident_named(e: &Event) -> Option<&str> {
        match &e.body {
            proto::event::EventBody::Incident { name, .. } => Some(name),
            _ => None,
        }
    }

    impl Sink for Arc<FakeHq> {
        fn send(&self, events: Vec<Event>) -> BoxFuture<'static, Result<Answer, HqError>> {
            let hq = self.clone();
            Box::pin(async move {
                hq.requests.fetch_add(1, Ordering::SeqCst);
                hq.times.lock().unwrap().push(std::time::Instant::now());
                let busy = hq.busy.swap(0, Ordering::SeqCst);
                if busy > 0 {
                    return Err(HqError::RetryAfter {
                        seconds: busy as u64,
                    });
                }
                if hq.down.load(Ordering::SeqCst) {
                    return Err(HqError::Server {
                        status: 503,
                        message: "down".into(),
                    });
                }
                if *hq.key.lock().unwrap() != hq.good_key {
                    return Err(HqError::Reenroll);
                }
                let own = proto::IncidentName::EventsRejected.as_str();
                let bad =
                    |e: &Event| matches!(incident_named(e), Some(n) if n == "vpn" || n == own);
                if events.iter().any(|e| incident_named(e) == Some("huge")) {
                    return Err(HqError::Rejected {
                        status: 413,
                        message: "too large".into(),
                    });
                }
                let mut a = Answer::default();
                if let Some(e) = events
                    .iter()
                    .find(|e| bad(e))
                    .filter(|_| hq.era == Era::Old)
                {
                    return Err(HqError::Rejected {
                        status: 422,
                        message: format!("unknown incident {}", incident_named(e).unwrap()),
                    });
                }
                for e in &events {
                    if bad(e) {
                        let why = format!("unknown incident {}", incident_named(e).unwrap());
                        a.refused.push((e.id, why));
                    } else {
                        hq.stored.lock().unwrap().push(e.id);
                        a.held.push(e.id);
                    }
                }
                Ok(a)
            })
        }

        fn policy(&self, _: Option<String>) -> BoxFuture<'static, anyhow::Result<PolicyFetch>> {
            Box::pin(async { Ok(PolicyFetch::NotModified) })
        }

        fn url(&self) -> String {
            "https://hq.example.com".into()
        }

        fn key_fingerprint(&self) -> Option<String> {
            Some(self.key.lock().unwrap().clone())
        }
    }

    /// A spool holding `names` in order: `hb` a heartbeat, any other name an incident.
    struct Bench {
        _dir: tempfile::TempDir,
        spool: Spool,
        ids: Vec<Uuid>,
        hq: Arc<FakeHq>,
        attempts: mpsc::Receiver<Attempt>,
        wake: Arc<Notify>,
        task: tokio::task::JoinHandle<()>,
    }

    async fn bench(era: Era, names: &[&str], key: &str) -> Bench {
        use proto::event::{EventBody, IncidentState};
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(&dir.path().join("spool.db"), 1 << 20)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for n in names {
            let body = if *n == "hb" {
                EventBody::Heartbeat {
                    readiness: proto::Readiness::Ready,
                    signed_in: true,
                }
            } else {
                EventBody::Incident {
                    name: n.to_string(),
                    state: IncidentState::Started,
                    detail: String::new(),
                    scope: None,
                }
            };
            let e = Event::now(body);
            ids.push(e.id);
            spool.push(&e).await.unwrap();
        }
        let hq = Arc::new(FakeHq {
            era,
            key: Mutex::new(key.into()),
            good_key: "good".into(),
            down: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            times: Mutex::new(Vec::new()),
            stored: Mutex::new(Vec::new()),
            requests: AtomicUsize::new(0),
        });
        let (tx, attempts) = mpsc::channel(1024);
        let pacing = Pacing {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            key_poll: Duration::from_millis(10),
            key_retry: Duration::from_secs(3600),
        };
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run_paced(
            spool.clone(),
            Arc::new(hq.clone()),
            wake.clone(),
            tx,
            pacing,
        ));
        Bench {
            _dir: dir,
            spool,
            ids,
            hq,
            attempts,
            wake,
            task,
        }
    }

    impl Bench {
        /// Waits (10 s at most) until the spool's queue is empty.
        async fn drained(&self) {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while self.spool.len().await.unwrap() > 0 {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "delivery stalled: {} events still queued after {} requests",
                    self.spool.len().await.unwrap(),
                    self.hq.requests.load(Ordering::SeqCst)
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        /// HQ holds exactly the events at `held` (indexes into the names), the quarantine
        /// exactly those at `aside`.
        async fn assert_split(&self, held: &[usize], aside: &[usize]) {
            let mut stored = self.hq.stored.lock().unwrap().clone();
            stored.sort();
            stored.dedup();
            let mut want: Vec<Uuid> = held.iter().map(|&i| self.ids[i]).collect();
            want.sort();
            assert_eq!(stored, want, "what HQ holds");
            let q = self.spool.quarantined_events().await.unwrap();
            let got: Vec<Uuid> = q.iter().map(|q| q.id).collect();
            let want: Vec<Uuid> = aside.iter().map(|&i| self.ids[i]).collect();
            assert_eq!(got, want, "what is set aside");
            for q in &q {
                assert!(
                    !q.reason.is_empty() && q.body.contains(&q.id.to_string()),
                    "{q:?}"
                );
            }
            assert_eq!(self.spool.quarantined().await.unwrap(), aside.len() as u64);
        }

        fn attempts(&mut self) -> Vec<Attempt> {
            let mut v = Vec::new();
            while let Ok(a) = self.attempts.try_recv() {
                v.push(a);
            }
            v
        }
    }

    const MIXED: [&str; 9] = ["hb", "hb", "vpn", "hb", "hb", "hb", "hb", "vpn", "hb"];

    /// An HQ older than issue 12 refuses a whole batch for one event it does not know: the
    /// batch is halved until only those events are left; they are set aside, the rest is
    /// delivered (before, the same batch was sent again forever).
    #[tokio::test]
    async fn an_old_hq_refusing_a_batch_costs_only_the_events_it_refuses() {
        let mut b = bench(Era::Old, &MIXED, "good").await;
        b.drained().await;
        b.assert_split(&[0, 1, 3, 4, 5, 6, 8], &[2, 7]).await;
        let a = b.attempts();
        let q: Vec<_> = a
            .iter()
            .filter_map(|a| match a {
                Attempt::Quarantined { count, reason, .. } => Some((*count, reason.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(q.iter().map(|q| q.0).sum::<usize>(), 2, "{a:?}");
        assert!(q[0].1.contains("422") && q[0].1.contains("vpn"), "{q:?}");
        assert!(!a.iter().any(|a| matches!(a, Attempt::Failed(_))), "{a:?}");
        b.task.abort();
    }

    /// An HQ answering per event: the refused ones are set aside with HQ's reason in one
    /// request, the others delivered.
    #[tokio::test]
    async fn per_event_results_set_aside_the_refused_and_forget_the_held() {
        let mut b = bench(Era::PerEvent, &MIXED, "good").await;
        b.drained().await;
        b.assert_split(&[0, 1, 3, 4, 5, 6, 8], &[2, 7]).await;
        assert_eq!(b.hq.requests.load(Ordering::SeqCst), 1);
        let q = b.spool.quarantined_events().await.unwrap();
        assert_eq!(q[0].reason, "unknown incident vpn");
        assert!(b.attempts().contains(&Attempt::Quarantined {
            count: 2,
            reason: "unknown incident vpn".into(),
            only_own_incidents: false,
        }));
        b.task.abort();
    }

    /// `413` for a batch splits it; `413` for one event sets that event aside.
    #[tokio::test]
    async fn an_event_too_large_on_its_own_is_set_aside() {
        let b = bench(Era::PerEvent, &["hb", "huge", "hb", "hb"], "good").await;
        b.drained().await;
        b.assert_split(&[0, 2, 3], &[1]).await;
        let q = b.spool.quarantined_events().await.unwrap();
        assert!(q[0].reason.contains("413"), "{q:?}");
        b.task.abort();
    }

    /// HQ down: nothing is set aside or dropped; everything arrives once HQ is back.
    #[tokio::test]
    async fn a_server_error_is_retried_and_sets_nothing_aside() {
        let mut b = bench(Era::PerEvent, &["hb", "hb", "hb"], "good").await;
        b.hq.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(b.spool.len().await.unwrap(), 3);
        assert!(b.hq.requests.load(Ordering::SeqCst) >= 2, "retried");
        b.hq.down.store(false, Ordering::SeqCst);
        b.drained().await;
        b.assert_split(&[0, 1, 2], &[]).await;
        assert!(b.attempts().iter().any(|a| matches!(a, Attempt::Failed(_))));
        b.task.abort();
    }

    /// `429` with `Retry-After: 1`: the next try waits that second, not the 10 ms backoff.
    #[tokio::test]
    async fn retry_after_is_honoured() {
        let b = bench(Era::PerEvent, &[], "good").await;
        b.hq.busy.store(1, Ordering::SeqCst);
        b.spool
            .push(&Event::now(proto::event::EventBody::Heartbeat {
                readiness: proto::Readiness::Ready,
                signed_in: true,
            }))
            .await
            .unwrap();
        b.wake.notify_one();
        b.drained().await;
        let t = b.hq.times.lock().unwrap().clone();
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[1] - t[0] >= Duration::from_secs(1), "{:?}", t[1] - t[0]);
        assert_eq!(b.spool.quarantined().await.unwrap(), 0);
        b.task.abort();
    }

    /// A key HQ refuses pauses delivery (no retry storm, nothing dropped or set aside) and
    /// says so; a new key (a new enrollment) resumes it by itself.
    #[tokio::test]
    async fn a_refused_key_pauses_delivery_until_a_new_key() {
        let mut b = bench(Era::PerEvent, &["hb", "hb"], "revoked-key").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            b.hq.requests.load(Ordering::SeqCst),
            1,
            "paused after one refusal"
        );
        assert_eq!(b.spool.len().await.unwrap(), 2, "nothing dropped");
        let a = b.attempts();
        assert!(
            a.iter().any(|a| matches!(a, Attempt::MustEnroll { url, .. }
                if url == "https://hq.example.com")),
            "{a:?}"
        );
        assert!(!a.iter().any(|a| matches!(a, Attempt::Quarantined { .. })));
        *b.hq.key.lock().unwrap() = "good".into();
        b.drained().await;
        b.assert_split(&[0, 1], &[]).await;
        b.task.abort();
    }

    /// Refused `events_rejected` incidents (an HQ that does not know that incident) are set
    /// aside and flagged, so the daemon does not raise the incident about itself; mixed with
    /// others, one word for the batch counts them all.
    #[tokio::test]
    async fn refused_own_incidents_are_flagged() {
        let own = proto::IncidentName::EventsRejected.as_str();
        let mut b = bench(Era::PerEvent, &["hb", own], "good").await;
        b.drained().await;
        b.assert_split(&[0], &[1]).await;
        let q: Vec<Attempt> = b
            .attempts()
            .into_iter()
            .filter(|a| matches!(a, Attempt::Quarantined { .. }))
            .collect();
        assert_eq!(
            q,
            [Attempt::Quarantined {
                count: 1,
                reason: format!("unknown incident {own}"),
                only_own_incidents: true
            }]
        );
        b.task.abort();

        let mut b = bench(Era::Old, &["hb", own, "hb", "vpn"], "good").await;
        b.drained().await;
        b.assert_split(&[0, 2], &[1, 3]).await;
        let q: Vec<Attempt> = b
            .attempts()
            .into_iter()
            .filter(|a| matches!(a, Attempt::Quarantined { .. }))
            .collect();
        assert!(
            matches!(
                &q[..],
                [Attempt::Quarantined {
                    count: 2,
                    only_own_incidents: false,
                    ..
                }]
            ),
            "{q:?}"
        );
        b.task.abort();
    }

    /// Started with the cached policy's ETag, the very first fetch is conditional.
    #[tokio::test]
    async fn the_first_fetch_sends_the_cached_etag() {
        let mut r = Refresh::start(Some("\"e1\""), Duration::from_secs(3600)).await;
        assert_eq!(r.stop_after_304s(1).await, 0);
        assert!(r.fresh.try_recv().is_err());
    }
}
