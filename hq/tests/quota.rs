//! Issue 12, "HQ holds under abuse", the ingest side, with the real `shiftready-hq serve`
//! where the behaviour is the server's: the device key is checked before the body is read;
//! one device's flood is bounded by its quota (429 with Retry-After) while the others are
//! served; the ingest queue has a byte budget (503 with Retry-After); every event kind has a
//! retention the sweeper prunes by (shift events, payroll records, the longest); and two HQ
//! processes on one database log one `contact_restored` sign-in for one resumption.

mod common;

use common::{HQ, Server, TestDb, client, hq_cmd, last_line};
use proto::event::{Event, EventBody, IncidentState, ShiftReason};
use proto::{CheckResult, Readiness, Report, Status};
use serde_json::{Value, json};
use shiftready_hq::db::{self, Retention};
use shiftready_hq::ingest::Ingest;
use shiftready_hq::metrics::Metrics;
use sqlx::Row;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn hb(signed_in: bool) -> Event {
    Event::now(EventBody::Heartbeat {
        readiness: Readiness::Ready,
        signed_in,
    })
}

fn incident(i: usize) -> Event {
    Event::now(EventBody::Incident {
        name: "network_degraded".into(),
        state: IncidentState::Started,
        detail: format!("flood {i}"),
        scope: None,
    })
}

fn report() -> Event {
    let mut checks = BTreeMap::new();
    checks.insert(
        "network".to_string(),
        CheckResult::new(Status::Pass, "").with("rtt_ms_median", 20.0),
    );
    Event::now(EventBody::Report {
        report: Report::new(checks),
    })
}

fn shift(sign_in: bool) -> Event {
    let (reason, readiness) = (ShiftReason::Auto, Readiness::Ready);
    Event::now(if sign_in {
        EventBody::SignIn { reason, readiness }
    } else {
        EventBody::SignOut { reason, readiness }
    })
}

/// Enrolls a device through the real server; returns (device id, key).
async fn enroll(url: &str, secret: &str, hostname: &str) -> (String, String) {
    let r: Value = client()
        .post(format!("{url}/api/v1/enroll"))
        .json(&json!({"secret": secret, "hostname": hostname}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        r["device_id"].as_str().unwrap().to_string(),
        r["device_key"].as_str().unwrap().to_string(),
    )
}

async fn post(url: &str, key: &str, events: &[Event]) -> reqwest::Response {
    client()
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(key)
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap()
}

fn secret(db_url: &str) -> String {
    last_line(&hq_cmd(db_url, &["enroll-secret", "create", "--site", "main"], None).1)
}

async fn count(db: &db::Db, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// The bytes of the SQLite database and its WAL.
fn db_bytes(dir: &std::path::Path) -> u64 {
    ["hq.db", "hq.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// A request's head sent over a raw socket, with `Content-Length` but no body yet; returns the
/// socket and what HQ answered within `wait` (empty when nothing).
fn head_only(url: &str, key: &str, length: usize, wait: Duration) -> (std::net::TcpStream, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/events HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    (s, String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// A bogus key costs a lookup and a 401, never the reading of its body: HQ answers the head
/// of a 1 MiB request before a byte of the body arrives (it used to wait for the body and
/// parse it first), and a 1 MiB garbage body with a bogus key is a 401, not a parse error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bogus_key_is_refused_before_the_body_is_read() {
    let t = common::sqlite().await;
    let server = Server::start(&t.url, &[]);
    let url = server.url.clone();
    let bogus = "sr_dev_0123456789abcdef0123456789abcdef";

    let started = Instant::now();
    let (_s, answer) = head_only(&url, bogus, 1024 * 1024, Duration::from_secs(5));
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "HQ did not answer before the body (after {:?}): {answer:?}",
        started.elapsed()
    );
    assert!(answer.contains("unknown_key"), "{answer}");

    let garbage: Vec<u8> = (0..1024 * 1024).map(|i| b"{[\"x"[i % 4]).collect();
    let r = client()
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(bogus)
        .header("content-type", "application/json")
        .body(garbage.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "unknown_key", "{v}");

    // A real key with the same garbage is read, and refused as what it is.
    let (_, key) = enroll(&url, &secret(&t.url), "ws-real").await;
    let r = client()
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(garbage)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "{:?}", r.text().await);
}

/// One device flooding incidents (today: 20,000 stored in 4 s, the database 1.2 → 62 MB) gets
/// its burst and then 429 with Retry-After; the database grows by that much only, and another
/// device's heartbeats are stored all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_device_flooding_is_bounded_and_the_others_are_served() {
    let t = common::sqlite().await;
    let dir = std::path::PathBuf::from(t.url.trim_start_matches("sqlite://"))
        .parent()
        .unwrap()
        .to_path_buf();
    let server = Server::start(
        &t.url,
        &[
            "--device-events-per-minute",
            "600",
            "--device-event-burst",
            "1000",
        ],
    );
    let url = server.url.clone();
    let s = secret(&t.url);
    let (flooder, fkey) = enroll(&url, &s, "ws-flood").await;
    let (other, okey) = enroll(&url, &s, "ws-other").await;
    let before = db_bytes(&dir);

    let started = Instant::now();
    let flood = {
        let (url, fkey) = (url.clone(), fkey.clone());
        tokio::spawn(async move {
            let (mut ok, mut limited, mut retry_after) = (0, 0, Vec::new());
            let mut i = 0;
            while started.elapsed() < Duration::from_secs(4) {
                let batch: Vec<Event> = (0..1000).map(|k| incident(i * 1000 + k)).collect();
                i += 1;
                let r = post(&url, &fkey, &batch).await;
                match r.status().as_u16() {
                    200 => ok += 1,
                    429 => {
                        limited += 1;
                        retry_after.push(
                            r.headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse::<u64>().ok())
                                .expect("a 429 carries Retry-After in seconds"),
                        );
                    }
                    s => panic!("flood answered {s}: {:?}", r.text().await),
                }
            }
            (ok, limited, retry_after)
        })
    };
    let mut served = Vec::new();
    while started.elapsed() < Duration::from_secs(4) {
        let t0 = Instant::now();
        let r = post(&url, &okey, &[hb(false)]).await;
        assert_eq!(r.status(), 200, "the other device was refused");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["results"][0]["outcome"], "stored", "{v}");
        served.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, limited, retry_after) = flood.await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let stored: i64 = sqlx::query("SELECT COUNT(*) FROM events WHERE device_id = $1")
        .bind(&flooder)
        .fetch_one(&t.db.pool)
        .await
        .unwrap()
        .get(0);
    let others: i64 = sqlx::query("SELECT COUNT(*) FROM events WHERE device_id = $1")
        .bind(&other)
        .fetch_one(&t.db.pool)
        .await
        .unwrap()
        .get(0);
    let grew = db_bytes(&dir).saturating_sub(before);
    served.sort();
    println!(
        "flood: {ok} batches stored, {limited} refused (Retry-After {:?}..{:?} s), {stored} \
         incidents stored in {elapsed:.1} s; database grew {grew} bytes; the other device: \
         {} heartbeats stored, slowest answer {:?}",
        retry_after.iter().min(),
        retry_after.iter().max(),
        served.len(),
        served.last()
    );
    // The burst (1000), plus 600 a minute for the test's seconds, plus one batch that passed
    // on a full bucket.
    let bound = 1000.0 + 600.0 * elapsed / 60.0 + 1000.0;
    assert!(
        (stored as f64) <= bound,
        "{stored} incidents stored, more than {bound}"
    );
    assert!(limited > 0, "the flood was never refused");
    assert!(retry_after.iter().all(|&s| s >= 1));
    assert!(
        grew < 12 * 1024 * 1024,
        "the database grew {grew} bytes under one device's flood"
    );
    assert_eq!(others as usize, served.len());
}

/// The ingest queue's byte budget: while one request holds it (a 1 MiB body announced, not yet
/// sent), the next batch is answered 503 with Retry-After; once it is released, it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ingest_queue_answers_503_with_retry_after() {
    let t = common::sqlite().await;
    let server = Server::start(&t.url, &["--ingest-queue-mib", "1"]);
    let url = server.url.clone();
    let s = secret(&t.url);
    let (_, a) = enroll(&url, &s, "ws-a").await;
    let (_, b) = enroll(&url, &s, "ws-b").await;

    let (held, answer) = head_only(&url, &a, 1024 * 1024, Duration::from_millis(300));
    assert_eq!(
        answer, "",
        "HQ answered a request whose body is still coming"
    );
    let r = post(&url, &b, &[hb(false)]).await;
    assert_eq!(r.status(), 503);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    drop(held);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = post(&url, &b, &[hb(false)]).await;
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(Instant::now() < deadline, "the budget was never released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `serve` refuses limits that make no sense, and a shift-event retention shorter than
/// another kind's: sign-ins and sign-outs are payroll records.
#[test]
fn serve_refuses_a_shift_retention_shorter_than_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hq.db").display());
    for (args, says) in [
        (
            vec![
                "--keep-shift-events-days",
                "30",
                "--keep-reports-days",
                "90",
            ],
            "--keep-reports-days",
        ),
        (vec!["--device-events-per-minute", "0"], "above 0"),
    ] {
        let out = std::process::Command::new(HQ)
            .args(["--database-url", &url, "serve", "--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Stores events as HQ received them `age_days` ago, through the real ingest writer.
async fn store_aged(ingest: &Ingest, key: &str, age_days: i64, events: Vec<Event>) {
    let received = db::now_ms() - age_days * 86_400_000;
    for chunk in events.chunks(1000) {
        let o = ingest
            .submit(key, received, None, chunk.to_vec())
            .await
            .unwrap();
        assert_eq!(o.accepted.len(), chunk.len());
    }
}

/// Every kind is pruned by its own retention, by when HQ received it, in batches (more
/// heartbeats than one batch), and the shift log outlives the rest.
async fn retention_prunes_every_kind(t: TestDb) {
    let ingest = Ingest::start(t.db.clone(), Arc::new(Metrics::default()));
    t.db.ensure_site("main").await.unwrap();
    let (_, key) =
        t.db.enroll_device("main", "ws-old", "Debian 12", "test")
            .await
            .unwrap();
    let old = 100;
    let n_hb = db::PRUNE_BATCH as usize * 2 + 10;
    store_aged(&ingest, &key, old, (0..n_hb).map(|_| hb(false)).collect()).await;
    store_aged(&ingest, &key, old, vec![report(), report()]).await;
    store_aged(&ingest, &key, old, vec![incident(1)]).await;
    store_aged(&ingest, &key, old, vec![shift(true), shift(false)]).await;
    // Fresh ones of each kind stay.
    store_aged(
        &ingest,
        &key,
        0,
        vec![hb(true), report(), incident(2), shift(true)],
    )
    .await;
    let kinds = |db: db::Db| async move {
        let mut out = BTreeMap::new();
        for r in sqlx::query("SELECT kind, COUNT(*) AS n FROM events GROUP BY kind")
            .fetch_all(&db.pool)
            .await
            .unwrap()
        {
            out.insert(r.get::<String, _>("kind"), r.get::<i64, _>("n"));
        }
        out.insert(
            "samples".into(),
            count(&db, "SELECT COUNT(*) FROM samples").await,
        );
        out.insert(
            "shift_log".into(),
            count(&db, "SELECT COUNT(*) FROM shift_log").await,
        );
        out
    };
    let before = kinds(t.db.clone()).await;
    assert_eq!(before["heartbeat"], n_hb as i64 + 1);
    assert_eq!((before["samples"], before["shift_log"]), (3, 3));

    let day = 86_400_000;
    let mut r = Retention {
        heartbeats_ms: 7 * day,
        reports_ms: 30 * day,
        incidents_ms: 30 * day,
        shift_events_ms: 365 * day,
        minute_samples_ms: 30 * day,
        hourly_samples_ms: 366 * day,
        alerts_ms: 366 * day,
    };
    let pruned = t.db.prune_retention(db::now_ms(), &r).await.unwrap();
    assert_eq!(pruned.heartbeats, n_hb as u64, "{pruned:?}");
    assert_eq!(
        (pruned.reports, pruned.samples, pruned.incidents),
        (2, 2, 1)
    );
    assert_eq!((pruned.shift_events, pruned.shift_log), (0, 0));
    let after = kinds(t.db.clone()).await;
    for (kind, n) in [
        ("heartbeat", 1),
        ("report", 1),
        ("samples", 1),
        ("incident", 1),
        ("sign_in", 2),
        ("sign_out", 1),
        ("shift_log", 3),
    ] {
        assert_eq!(after[kind], n, "{kind}: {after:?}");
    }

    // With a shift retention shorter than their age, the old sign-in and sign-out go too.
    r.shift_events_ms = 50 * day;
    let pruned = t.db.prune_retention(db::now_ms(), &r).await.unwrap();
    assert_eq!(
        (pruned.shift_events, pruned.shift_log),
        (2, 2),
        "{pruned:?}"
    );
    let after = kinds(t.db.clone()).await;
    assert_eq!((after["sign_in"], after.get("sign_out")), (1, None));
    assert_eq!(after["shift_log"], 1);
}

both!(retention_prunes_every_kind);

/// The real server's sweeper prunes by its flags: old heartbeats and incidents go, the old
/// shift events stay under the default (years).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_prunes_by_the_serve_flags() {
    let t = common::sqlite().await;
    {
        let ingest = Ingest::start(t.db.clone(), Arc::new(Metrics::default()));
        t.db.ensure_site("main").await.unwrap();
        let (_, key) =
            t.db.enroll_device("main", "ws-old", "Debian 12", "test")
                .await
                .unwrap();
        store_aged(&ingest, &key, 3, vec![hb(false), incident(1), shift(true)]).await;
    }
    let events = |db: db::Db| async move { count(&db, "SELECT COUNT(*) FROM events").await };
    assert_eq!(events(t.db.clone()).await, 3);
    let _server = Server::start(
        &t.url,
        &[
            "--sweep-seconds",
            "0.2",
            "--keep-heartbeats-days",
            "1",
            "--keep-incidents-days",
            "2",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while events(t.db.clone()).await != 1 {
        assert!(Instant::now() < deadline, "the sweeper did not prune");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) FROM events WHERE kind = 'sign_in'").await,
        1
    );
}

/// Two HQ processes on one database (PostgreSQL, or one SQLite file), each given heartbeats
/// saying "signed in" at the same moment after HQ signed the agent out for lost contact: the
/// shift log gets exactly one `contact_restored` sign-in (the conditional UPDATE on the
/// device row claims it; the second transaction waits for the row lock and finds it signed in).
async fn one_contact_restored_across_two_processes(db_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret(&db_url);
    let token = last_line(&hq_cmd(&db_url, &["token", "create", "--role", "viewer"], None).1);
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[shift]\nheartbeat_seconds = 5\nlost_contact_after_missed = 1\n",
    )
    .unwrap();
    let (code, _, err) = hq_cmd(
        &db_url,
        &["policy", "set", "--site", "main", policy.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let one = Server::start(&db_url, &["--sweep-seconds", "0.2"]);
    let two = Server::start(&db_url, &["--sweep-seconds", "0.2"]);
    let (id, key) = enroll(&one.url, &secret, "ws-race").await;
    let r = post(&one.url, &key, &[shift(true)]).await;
    assert_eq!(r.status(), 200);
    let log = |url: String| {
        let (token, id) = (token.clone(), id.clone());
        async move {
            let to = (chrono::Utc::now() + chrono::Duration::minutes(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let v: Value = client()
                .get(format!("{url}/api/v1/shifts?agent={id}&to={to}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["shifts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}",
                        s["kind"].as_str().unwrap(),
                        s["reason"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log(one.url.clone())
        .await
        .contains(&"sign_out:lost_contact".to_string())
    {
        assert!(Instant::now() < deadline, "no lost-contact sign-out");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both processes at once, several heartbeats each.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let url = if i % 2 == 0 { &one.url } else { &two.url }.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            post(&url, &key, &[hb(true)]).await.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let entries = log(two.url.clone()).await;
    let restored = entries
        .iter()
        .filter(|e| *e == "sign_in:contact_restored")
        .count();
    assert_eq!(restored, 1, "{entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_contact_restored_across_two_processes_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hq.db").display());
    one_contact_restored_across_two_processes(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_contact_restored_across_two_processes_postgres() {
    if let Some(url) = common::postgres_url("one_contact_restored_across_two_processes").await {
        one_contact_restored_across_two_processes(url).await;
    }
}
