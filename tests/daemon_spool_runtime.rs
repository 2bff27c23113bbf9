//! The spool file garbled while the real daemon runs, signed in, with HQ down: the daemon
//! notices on its next write or read, moves the file aside with a clear log line, starts a
//! fresh spool holding what it still had in memory, keeps recording, and once HQ is back every
//! event it ever recorded is at HQ exactly once. No crash, no panic, no crash loop.

mod daemon_common;

use daemon_common::{Agent, AgentExt, Hq, recorded_ids};
use std::collections::BTreeSet;
use std::io::{Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

const POLICY: &str = "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 5\nlost_contact_after_missed = 100";

/// Overwrites the whole file in place (same inode, same length) with bytes that are no
/// SQLite database, as a failing disk or a stray program would.
fn garble(path: &std::path::Path) {
    let len = std::fs::metadata(path).unwrap().len() as usize;
    let junk: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(131).wrapping_add(17))
        .collect();
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(&junk).unwrap();
    f.sync_all().unwrap();
}

fn aside_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("spool.db.corrupt-") && !n.ends_with("-wal"))
        .collect()
}

#[test]
fn spool_garbled_while_running_is_replaced_and_nothing_in_memory_is_lost() {
    let mut hq = Hq::start(POLICY);
    let mut a = Agent::new("", POLICY);
    let device = a.enroll(&hq);
    a.start();
    assert!(a.cli(&["sign-in"]).status.success(), "{}", a.logs());
    a.wait_for("delivery of the sign-in", Duration::from_secs(20), |s| {
        s["signed_in"] == true && s["spool_events"] == 0 && s["hq"] == "connected"
    });

    // HQ goes away: heartbeats pile up in the spool, and delivery holds them in memory while
    // it retries.
    hq.stop();
    a.wait_for(
        "events waiting in the spool",
        Duration::from_secs(20),
        |s| s["spool_events"].as_u64().unwrap_or(0) >= 2,
    );
    let spool = a.state.join("spool.db");
    garble(&spool);

    // The daemon notices on its next heartbeat (every 5 s) or delivery attempt.
    let until = Instant::now() + Duration::from_secs(30);
    while !a.logs().contains("became corrupt while running") {
        assert!(Instant::now() < until, "never noticed:\n{}", a.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs = a.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("became corrupt while running"))
        .unwrap();
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("moved it to"), "{line}");
    assert!(line.contains("spool.db.corrupt-"), "{line}");
    assert_eq!(aside_files(&a.state).len(), 1, "moved aside once");
    // Still the same process, still answering, still signed in, still recording.
    assert!(
        a.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the daemon exited:\n{}",
        a.logs()
    );
    let s = a.status();
    assert_eq!(s["signed_in"], true, "{s}");
    let recorded_before = recorded_ids(&a.logs()).len();
    a.wait_for(
        "a heartbeat recorded into the fresh spool",
        Duration::from_secs(15),
        |_| recorded_ids(&a.logs()).len() > recorded_before,
    );

    // HQ is back: every event the daemon ever recorded arrives, exactly once, including the
    // ones that were only in the garbled file's share of memory and the ones recorded after.
    hq.serve();
    a.wait_for(
        "delivery after HQ came back",
        Duration::from_secs(60),
        |s| s["spool_events"] == 0 && s["hq"] == "connected",
    );
    assert!(a.cli(&["sign-out"]).status.success());
    a.wait_for("delivery of the sign-out", Duration::from_secs(20), |s| {
        s["spool_events"] == 0
    });
    let logged = recorded_ids(&a.logs());
    let logged: BTreeSet<&String> = logged.iter().collect();
    let at_hq = hq.event_ids(&device);
    let at_hq_set: BTreeSet<&String> = at_hq.iter().collect();
    assert_eq!(at_hq.len(), at_hq_set.len(), "HQ holds an event twice");
    let lost: Vec<_> = logged.difference(&at_hq_set).collect();
    assert!(lost.is_empty(), "events lost: {lost:?}\n{}", a.logs());
    assert!(!a.logs().contains("panicked"), "{}", a.logs());
    assert_eq!(aside_files(&a.state).len(), 1, "no second move: no loop");
    assert!(a.signal("-TERM").success(), "{}", a.logs());
}

/// The library alone: pages garbled under an open spool (header intact) are found by
/// `verify`, the file is replaced, and every unacknowledged event (peeked or not) and the shift
/// state are in the fresh spool; acknowledged ones are not.
#[test]
fn verify_finds_garbled_pages_and_keeps_what_is_in_memory() {
    use proto::Readiness;
    use proto::event::{Event, EventBody, ShiftReason};
    use shiftready::spool::Spool;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (spool, _) = Spool::open(&path, 64 << 20).await.unwrap();
        let mut events = Vec::new();
        for i in 0..400 {
            let body = if i == 0 {
                EventBody::SignIn {
                    reason: ShiftReason::Auto,
                    readiness: Readiness::Ready,
                }
            } else {
                EventBody::Heartbeat {
                    readiness: Readiness::Ready,
                    signed_in: true,
                }
            };
            let e = Event::now(body);
            spool.record(&e, Some("{\"state\":\"x\"}")).await.unwrap();
            events.push(e);
        }
        assert!(!spool.verify().await.unwrap(), "a sound file is left alone");
        // Everything reaches the main file, as it would over time.
        let held = spool.peek(200).await.unwrap();
        assert_eq!(held.len(), 200);
        spool.ack(&[held[0].id, held[1].id]).await.unwrap();
        let c = checkpoint(&path).await;
        assert!(c, "checkpoint");
        // Keep page 1 (header and schema); garble every later page.
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 3 * 4096);
        let n = bytes.len();
        for (i, b) in bytes[4096..n].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(91).wrapping_add(7);
        }
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(&bytes).unwrap();
        f.sync_all().unwrap();
        drop(f);

        assert!(
            spool.verify().await.unwrap(),
            "garbled pages were not noticed"
        );
        assert_eq!(spool.replaced(), 1);
        assert_eq!(aside_files(dir.path()).len(), 1);
        // Every unacknowledged event is there again (the 198 peeked ones and the 200 that
        // delivery had not read yet: the spool's own copy in memory), with the shift state.
        let now: Vec<_> = spool.peek(1000).await.unwrap();
        let ids: BTreeSet<_> = now.iter().map(|e| e.id).collect();
        assert_eq!(now.len(), 398);
        assert!(events[2..].iter().all(|e| ids.contains(&e.id)));
        assert!(!ids.contains(&held[0].id) && !ids.contains(&held[1].id));
        assert_eq!(
            spool.state().await.unwrap().as_deref(),
            Some("{\"state\":\"x\"}")
        );
        // And it keeps working; a second look finds nothing to do.
        spool.push(&events[0]).await.unwrap();
        assert!(!spool.verify().await.unwrap());
        spool.close().await;
    });
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` through a connection of its own, so the events are in the
/// main file before it is garbled.
async fn checkpoint(path: &std::path::Path) -> bool {
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let r = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut c)
        .await
        .is_ok();
    let _ = c.close().await;
    r
}

/// SQLite itself reports the corruption on a read (the daemon's connection cannot serve the
/// oldest pages from its 2 MiB cache once the spool is larger): the read moves the file aside,
/// starts a fresh spool and answers from it, and the next write goes there. No error reaches
/// the caller, no panic.
#[test]
fn sqlite_reporting_corruption_on_a_read_replaces_the_file() {
    use proto::Readiness;
    use proto::event::{Event, EventBody, IncidentState};
    use shiftready::spool::Spool;
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A spool of ~8 MiB of incidents, made by the spool itself, then filled in one
        // transaction (8,000 commits with fsync would take a minute).
        let (spool, _) = Spool::open(&path, 64 << 20).await.unwrap();
        spool.close().await;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        let mut tx = c.begin().await.unwrap();
        for i in 0..8000 {
            let e = Event::now(EventBody::Incident {
                name: "network_degraded".into(),
                state: IncidentState::Started,
                detail: format!("{i:04} {}", "x".repeat(1000)),
                scope: None,
            });
            let body = serde_json::to_string(&e).unwrap();
            sqlx::query(
                "INSERT INTO events (id, kind, shift, body, bytes) VALUES (?, 'incident', 0, ?, ?)",
            )
            .bind(e.id.to_string())
            .bind(&body)
            .bind(body.len() as i64)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();

        let (spool, _) = Spool::open(&path, 64 << 20).await.unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 8 << 20);
        // Garble the first half of the b-tree pages (the oldest rows), header page kept.
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(4096)).unwrap();
        let junk: Vec<u8> = (0..4 << 20)
            .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        f.write_all(&junk).unwrap();
        f.sync_all().unwrap();
        drop(f);

        // The oldest events are not in the connection's cache: SQLite reads the garbled pages.
        let got = spool.peek(10).await.unwrap();
        assert!(got.is_empty(), "the fresh spool is empty: {}", got.len());
        assert_eq!(spool.replaced(), 1, "the read replaced the file");
        assert_eq!(aside_files(dir.path()).len(), 1);
        let e = Event::now(EventBody::Heartbeat {
            readiness: Readiness::Ready,
            signed_in: true,
        });
        spool.push(&e).await.unwrap();
        assert_eq!(spool.peek(10).await.unwrap(), [e]);
        assert!(!spool.verify().await.unwrap());
        spool.close().await;
    });
}
