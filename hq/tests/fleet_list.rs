//! The fleet list's query paths (issue 17: the fleet page at 100,000 agents), on SQLite and on
//! PostgreSQL: every filter's page and count equal the whole list filtered in Rust, the
//! summary equals the whole list counted in Rust, and the sorts are the orders they say.
//! `Db::fleet_with_summary` takes the count of a state from the summary, and the list scans the
//! devices in another order than it did, so a mistake in either would show here.

mod common;

use common::TestDb;
use shiftready_hq::db::{AgentRow, FleetFilter, Sort};

/// A small fleet with every state: `n` devices over three sites, signed in or out, heard from
/// recently or long ago or never, revoked and waiting to re-enroll (some of those still
/// marked signed in), signed out for lost contact (silent since, or heard from again), with
/// readiness from heartbeats and, when a heartbeat said `unknown`, from the last report.
async fn seed(t: &TestDb, now: i64, n: i64) {
    for site in ["north", "south", "west"] {
        t.db.ensure_site(site).await.unwrap();
    }
    for k in 0..n {
        let c = (k * 37) % 100;
        let q = (k * 53 + k / 100) % 10;
        let site = ["north", "south", "west"][(k % 3) as usize];
        let status = match c {
            0..=3 => "revoked",
            4..=7 => "reenroll",
            _ => "active",
        };
        let seen: Option<i64> = match c {
            8..=10 => None,
            0..=7 | 11..=50 => Some(now - 1000 * (k % 25)),
            51..=55 => Some(now - 3_600_000 - k),
            56..=75 => Some(now - 1000 * (k % 240)),
            76..=85 => Some(now - 600_000 - 1000 * (k % 300)),
            _ => Some(now - 7_200_000 - 60_000 * k),
        };
        // Signed in: the revoked and re-enroll ones too, as a device can be when IT acts.
        let signed_in = i64::from(c <= 55);
        let (shift_reason, shift_at) = match (c, seen) {
            (76..=80, Some(s)) => ("lost_contact", Some(s + 90_000)),
            (81..=85, Some(s)) => ("lost_contact", Some(s - 60_000)),
            (_, s) => ("agent", s.map(|s| s - 7_200_000)),
        };
        let hb = [
            "ready",
            "ready",
            "ready",
            "degraded",
            "not_ready",
            "unknown",
        ][(q % 6) as usize];
        let rep = ["ready", "not_ready", "unknown", "degraded"][(k % 4) as usize];
        let has_report = seen.is_some() && k % 5 != 0;
        // A few hostnames share a name (the order falls back to the id); `_` and `%` are in some
        // so a search must match them literally.
        let hostname = match k % 17 {
            0 => "ws-twin".to_string(),
            1 => format!("WS_{k:03}%x"),
            _ => format!("ws-{:03}", (k * 7) % n),
        };
        sqlx::query(
            "INSERT INTO devices (id, site, hostname, os, agent_version, key_hash, enrolled_at, \
             status, last_seen, readiness, readiness_at, signed_in, shift_at, shift_reason, \
             skew_ms, problem, report_at, report_received_at) VALUES ($1, $2, $3, 'Debian 12', \
             '0.6.0', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(format!("dev-{:04}", (k * 7919) % 10007))
        .bind(site)
        .bind(&hostname)
        .bind(format!("hash-{k}"))
        .bind(now - 86_400_000)
        .bind(status)
        .bind(seen)
        .bind(seen.map(|_| hb))
        .bind(seen)
        .bind(signed_in)
        .bind(shift_at)
        .bind(shift_reason)
        .bind(k % 200 - 100)
        .bind(has_report.then_some("headset fail: Plug in your headset."))
        .bind(has_report.then(|| seen.unwrap() - 60_000))
        .bind(has_report.then(|| seen.unwrap() - 59_000))
        .execute(&t.db.pool)
        .await
        .unwrap();
        if has_report {
            // As ingest stores a report: the document, and its readiness on the device.
            let id = format!("dev-{:04}", (k * 7919) % 10007);
            sqlx::query("UPDATE devices SET report_readiness = $2 WHERE id = $1")
                .bind(&id)
                .bind(rep)
                .execute(&t.db.pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO device_reports (device_id, report) VALUES ($1, $2)")
                .bind(&id)
                .bind(format!(
                    r#"{{"schema":1,"readiness":"{rep}","checks":{{}}}}"#
                ))
                .execute(&t.db.pool)
                .await
                .unwrap();
        }
    }
}

fn all(sort: Sort, desc: bool) -> FleetFilter {
    FleetFilter {
        sort,
        desc,
        ..FleetFilter::default()
    }
}

/// Whether a row of the whole list matches a filter, as the list's filter says in words.
fn matches(a: &AgentRow, q: Option<&str>, state: Option<&str>, site: Option<&str>) -> bool {
    let q_ok = q.is_none_or(|q| {
        let q = q.to_lowercase();
        a.name.to_lowercase().contains(&q) || a.id.contains(&q)
    });
    let state_ok = match state {
        None => true,
        Some("signed_in") => a.signed_in,
        Some(s) => a.state == s,
    };
    q_ok && state_ok && site.is_none_or(|s| a.site == s)
}

/// The state sort's rank (worst first), as the fleet page documents it.
fn rank(a: &AgentRow) -> u8 {
    match a.state.as_str() {
        "not_ready" => 0,
        "offline" => 2,
        "unknown" => 3,
        "degraded" => 4,
        "ready" => 6,
        "idle" => match a.readiness.as_deref() {
            Some("not_ready") => 1,
            Some("degraded") => 5,
            _ => 7,
        },
        _ => 8,
    }
}

fn ids(rows: &[AgentRow]) -> Vec<&str> {
    rows.iter().map(|a| a.id.as_str()).collect()
}

async fn filters_equal_the_list_filtered(t: TestDb) {
    let now = shiftready_hq::db::now_ms();
    seed(&t, now, 240).await;
    let states = [
        None,
        Some("ready"),
        Some("degraded"),
        Some("not_ready"),
        Some("unknown"),
        Some("idle"),
        Some("offline"),
        Some("signed_in"),
        Some("revoked"),
        Some("reenroll"),
    ];
    let searches = [
        None,
        Some("ws-1"),
        Some("TWIN"),
        Some("_0"),
        Some("%x"),
        Some("dev-00"),
    ];
    let sites = [None, Some("south")];

    // The whole list, once per sort; every state occurs in it.
    let whole = t.db.fleet(now, &all(Sort::Name, false)).await.unwrap().0;
    assert_eq!(whole.len(), 240);
    for s in states.iter().flatten() {
        assert!(
            whole.iter().any(|a| matches(a, None, Some(s), None)),
            "{}: no agent is {s}",
            t.name
        );
    }

    // The summary is the whole list counted, per site; its JSON has the same keys as before.
    for site in sites {
        let rows: Vec<&AgentRow> = whole
            .iter()
            .filter(|a| matches(a, None, None, site))
            .collect();
        let n = |s: &str| rows.iter().filter(|a| a.state == s).count() as i64;
        let sum = t.db.site_summary(now, site).await.unwrap();
        assert_eq!(sum.total, rows.len() as i64);
        assert_eq!(
            (
                sum.ready,
                sum.degraded,
                sum.not_ready,
                sum.unknown,
                sum.idle,
                sum.offline
            ),
            (
                n("ready"),
                n("degraded"),
                n("not_ready"),
                n("unknown"),
                n("idle"),
                n("offline")
            ),
            "{}: summary of {site:?}",
            t.name
        );
        assert_eq!(sum.inactive, n("revoked") + n("reenroll"));
        let active_in = rows
            .iter()
            .filter(|a| a.signed_in && a.status == "active")
            .count() as i64;
        assert_eq!(sum.signed_in, active_in, "{}", t.name);
        let keys: Vec<String> = serde_json::to_value(&sum)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "degraded",
                "idle",
                "inactive",
                "not_ready",
                "offline",
                "ready",
                "signed_in",
                "total",
                "unknown"
            ]
        );
    }

    for (sort, desc) in [
        (Sort::Name, false),
        (Sort::Name, true),
        (Sort::State, false),
        (Sort::State, true),
        (Sort::LastSeen, false),
        (Sort::LastSeen, true),
    ] {
        let list = t.db.fleet(now, &all(sort, desc)).await.unwrap().0;
        assert_eq!(list.len(), whole.len());
        // The order is the one the sort names (ties by id, in the same direction for name
        // and last seen; by name and id ascending within a rank).
        for w in list.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let ok = match sort {
                Sort::Name => true, // the database's collation; checked against itself below
                // (Never heard from sorts first on SQLite and last on PostgreSQL, as before.)
                Sort::LastSeen => match (a.last_seen, b.last_seen) {
                    (Some(x), Some(y)) => {
                        let (x, y) = ((x, &a.id), (y, &b.id));
                        if desc { x >= y } else { x <= y }
                    }
                    _ => true,
                },
                Sort::State => {
                    if desc {
                        rank(a) >= rank(b)
                    } else {
                        rank(a) <= rank(b)
                    }
                }
            };
            assert!(
                ok,
                "{}: {sort:?} desc={desc}: {} before {}",
                t.name, a.id, b.id
            );
        }
        for site in sites {
            for state in states {
                for q in searches {
                    let expected: Vec<&AgentRow> =
                        list.iter().filter(|a| matches(a, q, state, site)).collect();
                    let f = FleetFilter {
                        q: q.map(str::to_string),
                        state: state.map(str::to_string),
                        site: site.map(str::to_string),
                        sort,
                        desc,
                        limit: 7,
                        offset: 0,
                    };
                    // The first page, one in the middle and one past the end.
                    for offset in [0, 7 * (expected.len() as i64 / 14), expected.len() as i64] {
                        let f = FleetFilter {
                            offset,
                            ..f.clone()
                        };
                        let what = format!(
                            "{}: sort {sort:?} desc={desc} site {site:?} state {state:?} q {q:?} offset {offset}",
                            t.name
                        );
                        let want: Vec<&str> = expected
                            .iter()
                            .skip(offset as usize)
                            .take(7)
                            .map(|a| a.id.as_str())
                            .collect();
                        let (rows, total) = t.db.fleet(now, &f).await.unwrap();
                        assert_eq!(ids(&rows), want, "{what}");
                        assert_eq!(total, expected.len() as i64, "{what}");
                        let (rows, total, summary) =
                            t.db.fleet_with_summary(now, &f).await.unwrap();
                        assert_eq!(ids(&rows), want, "{what} (with summary)");
                        assert_eq!(total, expected.len() as i64, "{what} (with summary)");
                        assert_eq!(
                            summary.total,
                            list.iter().filter(|a| matches(a, None, None, site)).count() as i64,
                            "{what}"
                        );
                    }
                }
            }
        }
    }
}

both!(filters_equal_the_list_filtered);
