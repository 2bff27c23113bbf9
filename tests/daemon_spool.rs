//! The durable spool on real SQLite files: property tests against a model, the bound's
//! drop policy, and recovery from truncated and garbled files.

use proptest::prelude::*;
use proto::event::IncidentState;
use proto::{Event, EventBody, Readiness, ShiftReason};
use shiftready::spool::{Opened, Spool};
use std::path::Path;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn event(kind: u8, pad: usize) -> Event {
    let body = match kind % 4 {
        0 => EventBody::Heartbeat {
            readiness: Readiness::Ready,
            signed_in: true,
        },
        1 => EventBody::SignIn {
            reason: ShiftReason::Auto,
            readiness: Readiness::Ready,
        },
        2 => EventBody::SignOut {
            reason: ShiftReason::Manual,
            readiness: Readiness::Degraded,
        },
        _ => EventBody::Incident {
            name: "headset_gone".into(),
            state: IncidentState::Started,
            detail: "x".repeat(pad),
            scope: None,
        },
    };
    Event::now(body)
}

#[derive(Debug, Clone)]
enum Op {
    Push(u8, usize),
    PushAgain(usize),
    Ack(Vec<usize>),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), 0usize..400).prop_map(|(k, p)| Op::Push(k, p)),
        1 => any::<usize>().prop_map(Op::PushAgain),
        2 => proptest::collection::vec(any::<usize>(), 0..4).prop_map(Op::Ack),
        1 => Just(Op::Reopen),
    ]
}

async fn open(path: &Path, max: u64) -> Spool {
    let (s, opened) = Spool::open(path, max).await.unwrap();
    assert_eq!(opened, Opened::Fine);
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// With room to spare the spool is exactly the model: every event pushed and not acked,
    /// once, in order, across reopenings; re-pushing an id changes nothing.
    #[test]
    fn spool_holds_exactly_what_was_pushed_and_not_acked(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        rt().block_on(async {
            let mut spool = open(&path, 64 << 20).await;
            let mut model: Vec<Event> = Vec::new();
            let mut all: Vec<Event> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(k, pad) => {
                        let e = event(k, pad);
                        spool.push(&e).await.unwrap();
                        model.push(e.clone());
                        all.push(e);
                    }
                    Op::PushAgain(i) if !all.is_empty() => {
                        let e = all[i % all.len()].clone();
                        spool.push(&e).await.unwrap();
                        // Already acked ids come back (HQ would ignore them); held ids do not double.
                        if !model.iter().any(|m| m.id == e.id) {
                            model.push(e);
                        }
                    }
                    Op::PushAgain(_) => {}
                    Op::Ack(picks) if !model.is_empty() => {
                        let ids: Vec<_> = picks.iter().map(|i| model[i % model.len()].id).collect();
                        spool.ack(&ids).await.unwrap();
                        model.retain(|m| !ids.contains(&m.id));
                    }
                    Op::Ack(_) => {}
                    Op::Reopen => {
                        spool.close().await;
                        spool = open(&path, 64 << 20).await;
                    }
                }
                let held = spool.peek(10_000).await.unwrap();
                let held_ids: Vec<_> = held.iter().map(|e| e.id).collect();
                let model_ids: Vec<_> = model.iter().map(|e| e.id).collect();
                prop_assert_eq!(held_ids, model_ids);
            }
            prop_assert_eq!(spool.peek(10_000).await.unwrap(), model);
            Ok(())
        })?;
    }

    /// Under a tight bound: sign-in and sign-out are never dropped, nothing unknown appears,
    /// order is kept, and the spool is over the bound only when it holds shift events alone.
    #[test]
    fn full_spool_drops_heartbeats_first_and_never_shift_events(
        pushes in proptest::collection::vec((any::<u8>(), 0usize..2000), 1..120)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        let max = 8 * 1024;
        rt().block_on(async {
            let spool = open(&path, max).await;
            let mut pushed = Vec::new();
            for (k, pad) in pushes {
                let e = event(k, pad);
                spool.push(&e).await.unwrap();
                pushed.push(e);
            }
            let held = spool.peek(100_000).await.unwrap();
            // Every shift event is still there.
            for e in pushed.iter().filter(|e| e.body.is_shift_event()) {
                prop_assert!(held.iter().any(|h| h.id == e.id), "shift event dropped");
            }
            // What is held is a subsequence of what was pushed.
            let mut it = pushed.iter();
            for h in &held {
                prop_assert!(it.any(|p| p.id == h.id), "unknown or reordered event");
            }
            if spool.bytes().await.unwrap() > max {
                prop_assert!(held.iter().all(|e| e.body.is_shift_event()));
            }
            Ok(())
        })?;
    }
}

/// Heartbeats go before incidents: a full spool of both loses heartbeats only.
#[test]
fn heartbeats_are_thinned_before_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    rt().block_on(async {
        let spool = open(&path, 64 * 1024).await;
        let incident = event(3, 1000);
        spool.push(&incident).await.unwrap();
        let mut dropped = 0;
        for _ in 0..2000 {
            dropped += spool.push(&event(0, 0)).await.unwrap().heartbeats;
        }
        assert!(dropped > 0, "the bound was never reached");
        let held = spool.peek(100_000).await.unwrap();
        assert!(held.iter().any(|e| e.id == incident.id));
        assert!(spool.bytes().await.unwrap() <= 64 * 1024);
        // Thinning spreads: the survivors are not only the newest run.
        let hb = held.iter().filter(|e| e.kind() == "heartbeat").count();
        assert!(hb > 100, "{hb} heartbeats left");
    });
}

async fn filled(path: &Path) -> Vec<Event> {
    let spool = open(path, 64 << 20).await;
    let mut v = Vec::new();
    for i in 0..300 {
        let e = event(i as u8, 200);
        spool.push(&e).await.unwrap();
        v.push(e);
    }
    spool.close().await;
    v
}

async fn recovers(path: &Path) {
    let (spool, opened) = Spool::open(path, 64 << 20).await.unwrap();
    let Opened::MovedAside(aside) = opened else {
        panic!("a damaged spool was not noticed")
    };
    assert!(aside.exists(), "the corrupt file is kept for IT");
    assert!(
        aside
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("spool.db.corrupt-")
    );
    // The fresh spool works.
    assert_eq!(spool.len().await.unwrap(), 0);
    let e = event(1, 0);
    spool.push(&e).await.unwrap();
    assert_eq!(spool.peek(10).await.unwrap(), [e]);
    spool.close().await;
    // And it opens cleanly next time: no crash loop, no second move.
    let (_s, opened) = Spool::open(path, 64 << 20).await.unwrap();
    assert_eq!(opened, Opened::Fine);
}

#[test]
fn truncated_spool_is_moved_aside_and_a_fresh_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    rt().block_on(async {
        filled(&path).await;
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len / 2).unwrap();
        drop(f);
        recovers(&path).await;
    });
}

#[test]
fn garbled_spool_header_is_moved_aside_and_a_fresh_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    rt().block_on(async {
        filled(&path).await;
        let mut bytes = std::fs::read(&path).unwrap();
        for (i, b) in bytes.iter_mut().take(100).enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0x5a;
        }
        std::fs::write(&path, bytes).unwrap();
        recovers(&path).await;
    });
}

#[test]
fn garbled_spool_pages_are_moved_aside_and_a_fresh_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    rt().block_on(async {
        filled(&path).await;
        let mut bytes = std::fs::read(&path).unwrap();
        // Keep the 100-byte header; overwrite the b-tree pages after the first.
        let n = bytes.len();
        for (i, b) in bytes[4096..n].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(91).wrapping_add(7);
        }
        std::fs::write(&path, bytes).unwrap();
        recovers(&path).await;
    });
}

#[test]
fn a_text_file_in_place_of_the_spool_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    std::fs::write(&path, "this is not a database\n".repeat(100)).unwrap();
    rt().block_on(recovers(&path));
}
