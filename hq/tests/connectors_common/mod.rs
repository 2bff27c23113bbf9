//! Shared by the connector tests: a local HTTP server standing in for a platform
//! (`MockPlatform`, a mock that records every request), Twilio's stand-in, and small helpers.
#![allow(dead_code)]

use axum::extract::Request;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The mock platform

/// One request a mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// What a mock answers: status, headers, body, and a delay before answering.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

pub fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

pub type Respond = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

/// A local HTTP server standing in for a platform (a mock): records every request and answers
/// with `respond(request, how many came before)`.
pub struct MockPlatform {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Mutex<Respond>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockPlatform {
    pub async fn start(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_on(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(Mutex::new(Vec::new())),
            respond,
        )
        .await
    }

    pub async fn start_on(
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<Seen>>>,
        respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let respond: Arc<Mutex<Respond>> = Arc::new(Mutex::new(Arc::new(respond)));
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (s, r) = (seen.clone(), respond.clone());
        let app = axum::Router::new().fallback(move |req: Request| {
            let (seen, respond) = (s.clone(), r.clone());
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
                let got = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().unwrap_or("").to_string(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").into()))
                        .collect(),
                    body,
                    at: Instant::now(),
                };
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push(got.clone());
                    s.len() - 1
                };
                let f = respond.lock().unwrap().clone();
                let rep = f(&got, n);
                if !rep.delay.is_zero() {
                    tokio::time::sleep(rep.delay).await;
                }
                let mut b = axum::http::Response::builder().status(rep.status);
                for (k, v) in rep.headers {
                    b = b.header(k, v);
                }
                b.body(axum::body::Body::from(rep.body)).unwrap()
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockPlatform {
            addr,
            seen,
            respond,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn answer(&self, respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) {
        *self.respond.lock().unwrap() = Arc::new(respond);
    }
    /// The platform goes down: nothing listens on its port any more.
    pub fn stop(self) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
        self.task.abort();
        (self.addr, self.seen)
    }
}

/// A secret file (mode 0600) holding `secret`.
pub fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, secret).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// Waits up to `secs` for `f` to hold.
pub async fn until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// Twilio TaskRouter's stand-in

pub const TW_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const TW_TOKEN: &str = "twilio-auth-token-42";

pub fn twilio_toml(url: &str) -> String {
    format!(
        "kind = \"twilio\"\nbase_url = \"{url}\"\naccount_sid = \"{TW_ACCOUNT}\"\n\
         auth_token_file = \"SECRET\"\nworkspace_sid = \"WS42\"\n\
         [states]\navailable = \"WA_avail\"\noffline = \"WA_offline\"\n\
         [states.not_ready]\ndefault = \"WA_notready\"\nheadset_gone = \"WA_headset\"\n"
    )
}

/// A TaskRouter stand-in: a Worker whose activity the POSTs change (and the test can change,
/// as a supervisor or the agent would).
pub fn twilio_mock(activity: Arc<Mutex<String>>) -> impl Fn(&Seen, usize) -> Reply + Send + Sync {
    move |s, _| {
        let basic = format!(
            "Basic {}",
            base64_encode(format!("{TW_ACCOUNT}:{TW_TOKEN}").as_bytes())
        );
        if s.header("authorization") != basic {
            return reply(401, json!({"code": 20003, "message": "Authenticate"}));
        }
        if s.method == "POST" {
            let form: HashMap<String, String> = s.form().into_iter().collect();
            *activity.lock().unwrap() = form["ActivitySid"].clone();
        }
        if s.path == "/v1/Workspaces/WS42" {
            return reply(200, json!({"sid": "WS42", "friendly_name": "Support"}));
        }
        reply(
            200,
            json!({"sid": "WK7", "activity_sid": *activity.lock().unwrap()}),
        )
    }
}

/// RFC 4648 base64, written here so the test does not trust HQ's encoder.
pub fn base64_encode(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Writes `content` to `dir/name`, then runs `shiftready-hq ARGS... DIR/NAME` against
/// `db_url` (`policy set`, `connector set`, `connector users import`); (code, stdout, stderr).
pub fn with_file(
    db_url: &str,
    dir: &Path,
    name: &str,
    content: &str,
    args: &[&str],
) -> (i32, String, String) {
    let file = dir.join(name);
    std::fs::write(&file, content).unwrap();
    let mut all = args.to_vec();
    all.push(file.to_str().unwrap());
    crate::common::hq_cmd(db_url, &all, None)
}

pub const CONNECTOR_SET: &[&str] = &["connector", "set", "--site", "main"];
pub const USERS_IMPORT: &[&str] = &["connector", "users", "import", "--site", "main"];
pub const POLICY_SET: &[&str] = &["policy", "set", "--site", "main"];
