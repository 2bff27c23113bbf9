//! Test support: a fresh database per test on SQLite and on PostgreSQL, the real binary on a
//! free port, and small HTTP helpers.
#![allow(dead_code)]

use shiftready_hq::db::Db;
use sqlx::Connection;
use std::process::Command;

/// A fresh database for one test.
pub struct TestDb {
    pub url: String,
    pub db: Db,
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hq.db").display());
    let db = Db::connect(&url).await.unwrap();
    TestDb {
        url,
        db,
        name: "sqlite",
        _dir: Some(dir),
    }
}

/// Admin URLs tried to reach PostgreSQL: `SHIFTREADY_TEST_PG_URL`, else the local socket as
/// the `postgres` user, else as the current user.
fn pg_admin_urls() -> Vec<String> {
    if let Ok(u) = std::env::var("SHIFTREADY_TEST_PG_URL") {
        return vec![u];
    }
    let mut v = vec!["postgres:///template1?host=/var/run/postgresql&user=postgres".to_string()];
    let me = std::env::var("USER").ok().or_else(|| {
        Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    if let Some(me) = me.filter(|m| !m.is_empty() && m != "postgres") {
        v.push(format!(
            "postgres:///template1?host=/var/run/postgresql&user={me}"
        ));
    }
    v
}

/// A fresh PostgreSQL database, or `None` (after printing SKIPPED) when no server is reachable.
/// With `SHIFTREADY_REQUIRE_PG=1` an unreachable server fails the test instead.
pub async fn postgres_url(test: &str) -> Option<String> {
    let mut last = String::new();
    for admin in pg_admin_urls() {
        match sqlx::PgConnection::connect(&admin).await {
            Ok(mut c) => {
                drop_dead_test_databases(&mut c).await;
                let name = format!(
                    "hqtest_{}_{}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                );
                // Copied from template0, which takes no connections: a copy of template1 fails
                // with "source database is being accessed by other users" while another test's
                // admin connection is on it (seen when test binaries ran at once).
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name} TEMPLATE template0"
                )))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
                let _ = c.close().await;
                let url = admin.replacen("/template1", &format!("/{name}"), 1);
                assert_ne!(url, admin, "the admin URL must name the database template1");
                return Some(url);
            }
            Err(e) => last = format!("{admin}: {e}"),
        }
    }
    if std::env::var("SHIFTREADY_REQUIRE_PG").is_ok_and(|v| v == "1") {
        panic!("SHIFTREADY_REQUIRE_PG=1 but PostgreSQL is not reachable ({last})");
    }
    eprintln!(
        "SKIPPED {test} on PostgreSQL: no server reachable ({last}); start one with `pg_ctlcluster 15 main start`"
    );
    println!("SKIPPED {test} on PostgreSQL: no server reachable");
    None
}

/// Drops the test databases left by test processes that have ended (named
/// `hqtest_<pid>_<uuid>`; the pid no longer runs), so a developer's server does not fill its
/// disk with one database per test ever run. A database of a running test is never touched.
async fn drop_dead_test_databases(c: &mut sqlx::PgConnection) {
    use sqlx::Row;
    let Ok(rows) = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'hqtest\\_%'")
        .fetch_all(&mut *c)
        .await
    else {
        return;
    };
    for r in rows {
        let name: String = r.get(0);
        let Some(pid) = name
            .strip_prefix("hqtest_")
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut *c)
        .await;
    }
}

pub async fn postgres(test: &str) -> Option<TestDb> {
    let url = postgres_url(test).await?;
    let db = Db::connect(&url).await.unwrap();
    Some(TestDb {
        url,
        db,
        name: "postgres",
        _dir: None,
    })
}

/// Runs an async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::sqlite().await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(t) = $crate::common::postgres(stringify!($name)).await {
                        super::$name(t).await;
                    }
                }
            }
        )*
    };
}

pub const HQ: &str = env!("CARGO_BIN_EXE_shiftready-hq");

/// The real `shiftready-hq serve` on a free loopback port (the testkit's, with this package's
/// binary); killed on drop.
pub struct Server {
    inner: shiftready_testkit::hq::Server,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(db_url: &str, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let inner = shiftready_testkit::hq::Server::start(
            std::path::Path::new(HQ),
            db_url,
            dir.path(),
            "127.0.0.1:0",
            extra,
            &dir.path().join("stderr.log"),
        );
        Server {
            url: inner.url.clone(),
            inner,
            _dir: dir,
        }
    }

    /// Sends SIGTERM and waits; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.inner.stop()
    }
}

/// Runs an HQ admin command against a database; returns (status code, stdout, stderr).
pub fn hq_cmd(db_url: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    shiftready_testkit::hq::admin(std::path::Path::new(HQ), db_url, None, args, stdin)
}

// Not every test file that includes this module uses it.
#[allow(unused_imports)]
pub use shiftready_testkit::hq::last_line;

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `POST /api/v1/enroll` on a real server; returns (device id, device key).
pub async fn enroll(url: &str, secret: &str, hostname: &str) -> (String, String) {
    let r = client()
        .post(format!("{url}/api/v1/enroll"))
        .json(&serde_json::json!({"secret": secret, "hostname": hostname}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let v: serde_json::Value = r.json().await.unwrap();
    (
        v["device_id"].as_str().unwrap().into(),
        v["device_key"].as_str().unwrap().into(),
    )
}

/// `POST /api/v1/events` with the device's key on a real server; the answer as it came.
pub async fn post_events(url: &str, key: &str, events: serde_json::Value) -> reqwest::Response {
    client()
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(key)
        .json(&serde_json::json!({ "events": events }))
        .send()
        .await
        .unwrap()
}

/// GET `url` with a bearer token; it must answer 2xx with JSON.
pub async fn get_json(url: &str, token: &str) -> serde_json::Value {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// Runs `async fn $name(db_url: String)` (a test against the real binary) on a fresh SQLite
/// file and on a fresh PostgreSQL database, as `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! both_urls {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$name(format!("sqlite://{}", dir.path().join("hq.db").display()))
                        .await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(url) = $crate::common::postgres_url(stringify!($name)).await {
                        super::$name(url).await;
                    }
                }
            }
        )*
    };
}
