//! The ingest writer under concurrency, on SQLite and on PostgreSQL: requests submitted at the
//! same moment share one transaction, and the optimistic write (insert first, look up owners
//! only for ids already held) still refuses another device's event in a request, alone,
//! without disturbing the request's other events or the other requests of the same transaction.

mod common;

use common::TestDb;
use proto::Readiness;
use proto::api::EventOutcome;
use proto::event::{Event, EventBody};
use shiftready_hq::db;
use shiftready_hq::error::AppError;
use shiftready_hq::ingest::{Ingest, Outcome};
use shiftready_hq::metrics::Metrics;
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn hb(readiness: Readiness) -> Event {
    Event::now(EventBody::Heartbeat {
        readiness,
        signed_in: false,
    })
}

async fn device(t: &TestDb, name: &str) -> (String, String) {
    t.db.ensure_site("main").await.unwrap();
    t.db.enroll_device("main", name, "Debian 12", "test")
        .await
        .unwrap()
}

async fn submit(ingest: &Ingest, key: &str, events: Vec<Event>) -> Result<Outcome, AppError> {
    ingest.submit(key, db::now_ms(), None, events).await
}

async fn owner(t: &TestDb, id: &uuid::Uuid) -> Option<String> {
    sqlx::query("SELECT device_id FROM events WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&t.db.pool)
        .await
        .unwrap()
        .map(|r| r.try_get("device_id").unwrap())
}

async fn events_stored(t: &TestDb) -> i64 {
    t.db.event_count().await.unwrap()
}

async fn foreign_event_in_a_shared_transaction(t: TestDb) {
    let metrics = Arc::new(Metrics::default());
    let ingest = Ingest::start(t.db.clone(), metrics.clone());
    let (a, key_a) = device(&t, "ws-a").await;
    let (b, key_b) = device(&t, "ws-b").await;

    let held = hb(Readiness::Ready);
    submit(&ingest, &key_a, vec![held.clone()]).await.unwrap();
    assert_eq!(events_stored(&t).await, 1);

    // At the same moment: B sends A's event after a fresh one of its own, and A sends a new
    // event. They land in one transaction; A's event in B's batch is refused alone (issue 12:
    // it must not block B's own), B's own and A's are stored.
    let fresh_b = hb(Readiness::NotReady);
    let fresh_a = hb(Readiness::Degraded);
    let (rb, ra) = tokio::join!(
        submit(&ingest, &key_b, vec![fresh_b.clone(), held.clone()]),
        submit(&ingest, &key_a, vec![fresh_a.clone()]),
    );
    let rb = rb.unwrap();
    assert_eq!(rb.accepted, vec![fresh_b.id], "only B's own event is held");
    assert_eq!(rb.results[0].outcome, EventOutcome::Stored);
    assert_eq!(rb.results[1].outcome, EventOutcome::Rejected);
    let m = rb.results[1].error.clone().unwrap_or_default();
    assert!(m.contains("another device"), "{m}");
    let ra = ra.unwrap();
    assert_eq!((ra.accepted.len(), ra.duplicates), (1, 0));
    assert_eq!(owner(&t, &held.id).await.as_deref(), Some(a.as_str()));
    assert_eq!(owner(&t, &fresh_a.id).await.as_deref(), Some(a.as_str()));
    assert_eq!(owner(&t, &fresh_b.id).await.as_deref(), Some(b.as_str()));
    assert_eq!(events_stored(&t).await, 3);

    // B's state is its own event's; A's is A's.
    let state = |id: String| {
        let pool = t.db.pool.clone();
        async move {
            let r = sqlx::query("SELECT readiness, last_seen FROM devices WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
            (
                r.try_get::<Option<String>, _>("readiness").unwrap(),
                r.try_get::<Option<i64>, _>("last_seen").unwrap(),
            )
        }
    };
    assert_eq!(state(b.clone()).await.0.as_deref(), Some("not_ready"));
    assert_eq!(state(a.clone()).await.0.as_deref(), Some("degraded"));

    // The same new id from two devices in one transaction: exactly one gets it.
    let contested = hb(Readiness::Ready);
    let (ra, rb) = tokio::join!(
        submit(&ingest, &key_a, vec![contested.clone()]),
        submit(&ingest, &key_b, vec![contested.clone()]),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let stored = |o: &Outcome| o.results[0].outcome == EventOutcome::Stored;
    assert!(
        stored(&ra) != stored(&rb),
        "exactly one may store it: {ra:?} {rb:?}"
    );
    let (winner, loser) = if stored(&ra) { (&a, &rb) } else { (&b, &ra) };
    assert_eq!(loser.results[0].outcome, EventOutcome::Rejected);
    assert!(loser.accepted.is_empty());
    assert_eq!(owner(&t, &contested.id).await.as_ref(), Some(winner));

    // B's retry of its batch: its own event a duplicate, A's still refused.
    let r = submit(&ingest, &key_b, vec![fresh_b.clone(), held.clone()])
        .await
        .unwrap();
    assert_eq!(r.duplicates, 1);
    assert_eq!(r.results[1].outcome, EventOutcome::Rejected);
    assert_eq!(owner(&t, &fresh_b.id).await.as_deref(), Some(b.as_str()));
    assert_eq!(owner(&t, &held.id).await.as_deref(), Some(a.as_str()));
}

async fn concurrent_heartbeats_share_transactions(t: TestDb) {
    let metrics = Arc::new(Metrics::default());
    let ingest = Ingest::start(t.db.clone(), metrics.clone());
    let mut devices = Vec::new();
    for i in 0..200 {
        devices.push(device(&t, &format!("ws-{i:03}")).await);
    }
    let before = metrics.batches_written.load(Ordering::Relaxed);
    let batches: Vec<Vec<Event>> = (0..devices.len())
        .map(|i| {
            let r = if i % 2 == 0 {
                Readiness::Ready
            } else {
                Readiness::NotReady
            };
            vec![hb(Readiness::Degraded), hb(r)]
        })
        .collect();
    // Each device sends twice at once (a retry racing the original): same ids both times.
    let mut tasks = Vec::new();
    for _ in 0..2 {
        for ((_, key), events) in devices.iter().zip(&batches) {
            let ingest = ingest.clone();
            let key = key.clone();
            let mut events = events.clone();
            // The second heartbeat happens later than the first.
            events[1].at = events[0].at + chrono::Duration::milliseconds(10);
            tasks.push(tokio::spawn(
                async move { submit(&ingest, &key, events).await },
            ));
        }
    }
    let mut duplicates = 0;
    for t in tasks {
        let o = t.await.unwrap().unwrap();
        assert_eq!(o.accepted.len(), 2);
        duplicates += o.duplicates;
    }
    assert_eq!(
        duplicates, 400,
        "each event stored once, its twin counted a duplicate"
    );
    assert_eq!(events_stored(&t).await, 400);
    let transactions = metrics.batches_written.load(Ordering::Relaxed) - before;
    assert!(
        transactions < 100,
        "400 requests took {transactions} transactions; they should share them"
    );
    // Every device's state is its latest heartbeat's.
    for (i, (id, _)) in devices.iter().enumerate() {
        let r: Option<String> = sqlx::query("SELECT readiness FROM devices WHERE id = $1")
            .bind(id)
            .fetch_one(&t.db.pool)
            .await
            .unwrap()
            .try_get("readiness")
            .unwrap();
        let want = if i % 2 == 0 { "ready" } else { "not_ready" };
        assert_eq!(r.as_deref(), Some(want), "device {i}");
    }
}

/// "Run the check now" is answered by the writer, in the batch's transaction: a waiting
/// request comes back with every batch of its device (and no other's), a report dated before
/// it (beyond the clock slack) leaves it waiting, and a report dated after it drops it.
async fn check_requests_are_answered_in_the_writers_transaction(t: TestDb) {
    use shiftready_hq::api::check_now;
    let ingest = Ingest::start(t.db.clone(), Arc::new(Metrics::default()));
    let (a, key_a) = device(&t, "ws-a").await;
    let (_, key_b) = device(&t, "ws-b").await;
    let asked = db::now_ms() - 1000;
    check_now::request(&t.db, &a, "it@example.com", asked)
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        submit(&ingest, &key_a, vec![hb(Readiness::Ready)]),
        submit(&ingest, &key_b, vec![hb(Readiness::Ready)]),
    );
    let want = chrono::DateTime::from_timestamp_millis(asked);
    assert_eq!(ra.unwrap().check_requested_at, want);
    assert_eq!(rb.unwrap().check_requested_at, None);
    let report = |at: chrono::DateTime<chrono::Utc>| {
        let mut checks = std::collections::BTreeMap::new();
        checks.insert(
            "os".to_string(),
            proto::CheckResult::new(proto::Status::Pass, ""),
        );
        let mut e = Event::now(EventBody::Report {
            report: proto::Report::new(checks),
        });
        e.at = at;
        e
    };
    // Dated two minutes before the request: not its answer.
    let old = report(chrono::Utc::now() - chrono::Duration::seconds(120));
    let r = submit(&ingest, &key_a, vec![old]).await.unwrap();
    assert_eq!(r.check_requested_at, want);
    assert_eq!(check_now::pending(&t.db, &a).await.unwrap(), Some(asked));
    // A report after it (beside a heartbeat): dropped in the same transaction.
    let r = submit(
        &ingest,
        &key_a,
        vec![hb(Readiness::Ready), report(chrono::Utc::now())],
    )
    .await
    .unwrap();
    assert_eq!(r.check_requested_at, None);
    assert_eq!(check_now::pending(&t.db, &a).await.unwrap(), None);
    let r = submit(&ingest, &key_a, vec![hb(Readiness::Ready)])
        .await
        .unwrap();
    assert_eq!(r.check_requested_at, None);
}

both!(
    foreign_event_in_a_shared_transaction,
    concurrent_heartbeats_share_transactions,
    check_requests_are_answered_in_the_writers_transaction
);
