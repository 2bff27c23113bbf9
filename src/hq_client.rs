//! The agent's client for HQ: enroll, deliver event batches, fetch the policy (with its ETag).
//!
//! HTTPS through rustls; the CA can be pinned with `hq.ca_file`. Every failure is an
//! [`HqError`] that says what to do, so the CLI, the tray and the daemon can show it as is and
//! tell "HQ is unreachable, keep the events" from "this key was revoked, enroll again".

use crate::config::Loaded;
use proto::Event;
use proto::api::{EnrollRequest, EnrollResponse, EventAck, PolicyResponse};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The name of the device file in the state directory.
pub const DEVICE_FILE: &str = "device.json";

/// What `shiftready enroll` stores: this device's identity at HQ (the file is 0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFile {
    pub device_id: String,
    pub device_key: String,
    /// HQ's base URL at enrollment.
    pub hq_url: String,
}

impl DeviceFile {
    /// Where the device file lives for this configuration.
    pub fn path(loaded: &Loaded) -> PathBuf {
        loaded.state_dir().join(DEVICE_FILE)
    }

    /// Reads the device file; `Ok(None)` when this agent has not enrolled.
    pub fn load(path: &Path) -> Result<Option<DeviceFile>, HqError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                HqError::Config(format!(
                    "{} is damaged ({e}); run `shiftready enroll` again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HqError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}

/// Why talking to HQ failed, worded as what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HqError {
    #[error("HQ at {url} is unreachable ({detail}); check the internet connection and hq.url")]
    Unreachable { url: String, detail: String },
    #[error("HQ at {url} did not answer within {seconds} s; try again later")]
    Timeout { url: String, seconds: u64 },
    #[error(
        "the secure connection to HQ at {url} failed ({detail}); check hq.url and hq.ca_file, or tell IT"
    )]
    Tls { url: String, detail: String },
    #[error(
        "this computer is not enrolled with HQ; run `shiftready enroll --hq URL --token-file FILE`"
    )]
    NotEnrolled,
    #[error(
        "HQ does not know this device's key; run `shiftready enroll` again with the site's secret"
    )]
    UnknownKey,
    #[error("IT revoked this device's key; ask IT before enrolling it again")]
    Revoked,
    #[error(
        "IT asked this device to enroll again; run `shiftready enroll --hq URL --token-file FILE`"
    )]
    Reenroll,
    #[error("HQ refused the enrollment secret; ask IT for the site's current secret")]
    BadSecret,
    #[error("HQ is limiting requests; wait a minute and try again")]
    RateLimited,
    #[error("HQ is busy or limiting requests and asks to wait {seconds} s")]
    RetryAfter { seconds: u64 },
    #[error(
        "HQ at {url} answered {status} and tried to send the request to {location}; the device \
         key is never sent after a redirect: set hq.url to HQ's real address (https://...)"
    )]
    Redirected {
        url: String,
        status: u16,
        location: String,
    },
    #[error("HQ refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("HQ had a problem ({status}): {message}; try again later")]
    Server { status: u16, message: String },
    #[error("HQ's answer could not be read ({0}); is hq.url really ShiftReady HQ?")]
    BadResponse(String),
    #[error("{0}")]
    Config(String),
}

impl HqError {
    /// Whether trying again later may succeed (the spool keeps the events).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HqError::Unreachable { .. }
                | HqError::Timeout { .. }
                | HqError::Server { .. }
                | HqError::RateLimited
                | HqError::RetryAfter { .. }
        )
    }

    /// Whether HQ refused this device's key in a way only a new enrollment fixes (revoked,
    /// enrollment required, unknown key, or no key at all): retrying with the same key is
    /// pointless, and nothing waiting should be dropped either.
    pub fn needs_enrollment(&self) -> bool {
        matches!(
            self,
            HqError::Revoked | HqError::Reenroll | HqError::UnknownKey | HqError::NotEnrolled
        )
    }

    /// Whether HQ refused the request itself for good, so the same request gets the same
    /// answer: any 4xx but 401 (the key), 408 (a timeout) and 429 (too many requests), and
    /// but 404 and 405: HQ always serves its endpoints, so those say hq.url points at
    /// something else (a proxy's error page), which is not the events' fault.
    pub fn is_refusal(&self) -> bool {
        matches!(self, HqError::Rejected { status, .. }
            if (400..500).contains(status) && !matches!(status, 401 | 404 | 405 | 408 | 429))
    }
}

/// Whether `host` is this computer (`localhost`, `127.0.0.0/8`, `::1`), where plain HTTP
/// exposes nothing on the network.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let d = host.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    }
}

/// What `GET /api/v1/policy` returned.
#[derive(Debug, Clone)]
pub enum PolicyFetch {
    /// The ETag sent still matches: keep the cached policy.
    NotModified,
    Fresh {
        response: Box<PolicyResponse>,
        etag: Option<String>,
    },
}

/// A client for one HQ.
#[derive(Debug, Clone)]
pub struct HqClient {
    base: String,
    key: Option<String>,
    /// The device file the key came from: read again before each request, so a key that
    /// `shiftready enroll` wrote while the daemon runs is used at the next attempt.
    device_file: Option<PathBuf>,
    http: reqwest::Client,
    timeout: Duration,
}

/// The request time limit.
pub const TIMEOUT: Duration = Duration::from_secs(15);

fn tls_config(ca_file: &str) -> Result<rustls::ClientConfig, HqError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| HqError::Config(format!("TLS setup: {e}")))?;
    let ca_file = ca_file.trim();
    if ca_file.is_empty() {
        let verifier = rustls_platform_verifier::Verifier::new(provider)
            .map_err(|e| HqError::Config(format!("cannot load the system's certificates: {e}")))?;
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    } else {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let bad = |e: String| HqError::Config(format!("hq.ca_file {ca_file}: {e}"));
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(e.to_string()))? {
            roots
                .add(c.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(bad("holds no certificate".into()));
        }
        Ok(builder.with_root_certificates(roots).with_no_client_auth())
    }
}

impl HqClient {
    /// A client for HQ at `url` (`https://...`, or `http://` to this computer for a local
    /// test), trusting only the CA in `ca_file` when it is not empty, with this device's key
    /// if it has one.
    pub fn new(url: &str, ca_file: &str, key: Option<String>) -> Result<HqClient, HqError> {
        HqClient::build(url, ca_file, key, false)
    }

    /// A client for HQ at `url` with the `[hq]` settings (`ca_file`, `allow_plain_http`).
    pub fn configured(
        url: &str,
        hq: &crate::config::HqConfig,
        key: Option<String>,
    ) -> Result<HqClient, HqError> {
        HqClient::build(url, &hq.ca_file, key, hq.allow_plain_http)
    }

    fn build(
        url: &str,
        ca_file: &str,
        key: Option<String>,
        allow_plain_http: bool,
    ) -> Result<HqClient, HqError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| HqError::Config(format!("the HQ URL '{base}' is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
            return Err(HqError::Config(format!(
                "the HQ URL '{base}' must look like https://hq.example.com"
            )));
        }
        if parsed.scheme() == "http" && !allow_plain_http && !is_loopback(&parsed) {
            return Err(HqError::Config(format!(
                "the HQ URL '{base}' is plain http://: the device key and the enrollment secret \
                 would cross the network unencrypted. Use https://, or set \
                 `[hq] allow_plain_http = true` if you really mean it"
            )));
        }
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(ca_file)?)
            // Never follow a redirect: it would carry the device key to wherever HQ (or
            // someone in between) points; a 3xx is an error naming where it pointed.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(TIMEOUT)
            .user_agent(concat!("shiftready/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HqError::Config(format!("HTTP client: {e}")))?;
        Ok(HqClient {
            base,
            key,
            device_file: None,
            http,
            timeout: TIMEOUT,
        })
    }

    /// The client for this agent's enrollment: `Ok(None)` when it has not enrolled.
    /// `hq.url` in the config wins over the URL stored at enrollment.
    pub fn for_device(loaded: &Loaded) -> Result<Option<HqClient>, HqError> {
        let Some(dev) = DeviceFile::load(&DeviceFile::path(loaded))? else {
            return Ok(None);
        };
        let url = match loaded.config.hq.url.trim() {
            "" => dev.hq_url.as_str(),
            u => u,
        };
        let mut c = HqClient::configured(url, &loaded.config.hq, Some(dev.device_key))?;
        c.device_file = Some(DeviceFile::path(loaded));
        Ok(Some(c))
    }

    /// The device key to send now: the device file's when this client came from one (read
    /// again each time: it is small, and `enroll` may have replaced it), else the one given.
    fn key(&self) -> Option<String> {
        if let Some(path) = &self.device_file {
            if let Ok(Some(dev)) = DeviceFile::load(path) {
                return Some(dev.device_key);
            }
        }
        self.key.clone()
    }

    /// A short fingerprint of the key [`HqClient::key`] would send now (never the key
    /// itself), to notice that a new enrollment replaced it.
    pub fn key_fingerprint(&self) -> Option<String> {
        use std::hash::{Hash, Hasher};
        self.key().map(|k| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            k.hash(&mut h);
            format!("{:016x}", h.finish())
        })
    }

    /// HQ's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn transport(&self, e: reqwest::Error) -> HqError {
        let url = self.base.clone();
        if e.is_timeout() {
            return HqError::Timeout {
                url,
                seconds: self.timeout.as_secs(),
            };
        }
        // Walk the sources: a certificate problem is not "unreachable".
        let mut detail = e.to_string();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        let mut tls = false;
        while let Some(s) = src {
            let t = s.to_string();
            // What rustls calls "corrupt message of type InvalidContentType": the server
            // answered the TLS hello in plain text, so it speaks HTTP, not HTTPS.
            if t.contains("InvalidContentType") {
                let detail = "it speaks plain HTTP, not HTTPS: is the address http://?".into();
                return HqError::Tls { url, detail };
            }
            if s.downcast_ref::<rustls::Error>().is_some()
                || t.contains("certificate")
                || t.contains("InvalidCertificate")
            {
                tls = true;
            }
            detail = t;
            src = s.source();
        }
        if tls {
            HqError::Tls { url, detail }
        } else {
            HqError::Unreachable { url, detail }
        }
    }

    async fn check(&self, resp: reqwest::Response) -> Result<reqwest::Response, HqError> {
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere said")
                .to_string();
            return Err(HqError::Redirected {
                url: self.base.clone(),
                status: status.as_u16(),
                location,
            });
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let message = body["error"].as_str().unwrap_or("no details").to_string();
        let code = body["code"].as_str().unwrap_or("");
        let s = status.as_u16();
        Err(match (s, code) {
            (401, "revoked") => HqError::Revoked,
            (401, "reenroll") => HqError::Reenroll,
            (401, "bad_secret") => HqError::BadSecret,
            (401, "no_key") => HqError::NotEnrolled,
            (401, _) => HqError::UnknownKey,
            (429, _) => match retry_after {
                Some(seconds) => HqError::RetryAfter { seconds },
                None => HqError::RateLimited,
            },
            // A full ingest queue or a sign-in slot that did not free in time: HQ says when
            // to come back, and the delivery loop waits that long instead of its backoff.
            (503, _) if retry_after.is_some() => HqError::RetryAfter {
                seconds: retry_after.unwrap_or_default(),
            },
            (500..=599, _) => HqError::Server { status: s, message },
            _ => HqError::Rejected { status: s, message },
        })
    }

    fn authed(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, HqError> {
        match self.key() {
            Some(k) => Ok(rb.bearer_auth(k)),
            None => Err(HqError::NotEnrolled),
        }
    }

    /// Trades the site's enrollment secret for this device's key.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, HqError> {
        self.post_json("/api/v1/enroll", req, false).await
    }

    /// Delivers a batch; HQ acknowledges every id it now holds (new or seen before).
    pub async fn send_events(&self, events: &[Event]) -> Result<EventAck, HqError> {
        #[derive(Serialize)]
        struct Batch<'a> {
            events: &'a [Event],
        }
        self.post_json("/api/v1/events", &Batch { events }, true)
            .await
    }

    /// POSTs `body` as JSON to `path` (with the device key when `authed`) and reads HQ's JSON
    /// answer; a refusal is the matching [`HqError`].
    async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        authed: bool,
    ) -> Result<T, HqError> {
        let mut rb = self.http.post(format!("{}{path}", self.base)).json(body);
        if authed {
            rb = self.authed(rb)?;
        }
        let resp = rb.send().await.map_err(|e| self.transport(e))?;
        let resp = self.check(resp).await?;
        resp.json()
            .await
            .map_err(|e| HqError::BadResponse(e.to_string()))
    }

    /// Fetches this agent's policy and shifts; with the last ETag, HQ may answer "not modified".
    pub async fn policy(&self, etag: Option<&str>) -> Result<PolicyFetch, HqError> {
        let mut rb = self.http.get(format!("{}/api/v1/policy", self.base));
        if let Some(t) = etag {
            rb = rb.header(reqwest::header::IF_NONE_MATCH, t);
        }
        let resp = self
            .authed(rb)?
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let resp = self.check(resp).await?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(PolicyFetch::NotModified);
        }
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let value: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| HqError::BadResponse(e.to_string()))?;
        // A newer HQ may send keys this agent does not know: they are left out (and named
        // once in the debug log), never a reason to refuse the whole policy. The site's own
        // TOML file is still read strictly, where an unknown key is a typo.
        let (response, ignored): (PolicyResponse, Vec<String>) =
            proto::load::from_json_ignoring_unknown(value)
                .map_err(|e| HqError::BadResponse(e.to_string()))?;
        note_ignored_policy_keys(&ignored);
        Ok(PolicyFetch::Fresh {
            response: Box::new(response),
            etag,
        })
    }
}

/// Logs, at debug and once per distinct set, the policy keys from HQ this agent left out.
fn note_ignored_policy_keys(ignored: &[String]) {
    static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if ignored.is_empty() {
        return;
    }
    let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    if logged.as_slice() != ignored {
        tracing::debug!(
            keys = %ignored.join(", "),
            "HQ's policy has keys this agent does not know (a newer HQ); they are ignored"
        );
        *logged = ignored.to_vec();
    }
}

/// The body of an enrollment request for this computer.
pub fn enroll_request(secret: &str) -> EnrollRequest {
    EnrollRequest {
        secret: secret.to_string(),
        hostname: sysinfo::System::host_name().unwrap_or_else(|_| "unknown-host".into()),
        os: sysinfo::System::long_os_version().unwrap_or_default(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        reenroll_code: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_urls_that_are_not_http() {
        assert!(matches!(
            HqClient::new("ftp://x", "", None),
            Err(HqError::Config(_))
        ));
        assert!(matches!(
            HqClient::new("hq.example.com", "", None),
            Err(HqError::Config(_))
        ));
        assert!(HqClient::new("https://hq.example.com/", "", None).is_ok());
    }

    #[test]
    fn missing_ca_file_is_a_config_error() {
        let e = HqClient::new("https://hq.example.com", "/nonexistent/ca.pem", None).unwrap_err();
        assert!(
            matches!(e, HqError::Config(ref m) if m.contains("/nonexistent/ca.pem")),
            "{e}"
        );
    }

    #[test]
    fn transient_errors_keep_events() {
        assert!(HqError::RateLimited.is_transient());
        assert!(!HqError::Revoked.is_transient());
        assert!(HqError::Revoked.to_string().contains("ask IT"));
    }

    /// A one-shot HTTP server answering every request with `answer`; returns its URL and the
    /// requests it saw (head only).
    async fn answering(answer: &'static str) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = conn.write_all(answer.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
        });
        (format!("http://{addr}"), seen)
    }

    /// The key never goes over plain HTTP to another computer unless the config says so.
    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        for url in [
            "http://hq.example.com",
            "http://10.0.0.5:8080",
            "http://[2001:db8::1]",
        ] {
            let e = HqClient::new(url, "", Some("k".into())).unwrap_err();
            assert!(
                matches!(e, HqError::Config(ref m) if m.contains("allow_plain_http")),
                "{url}: {e}"
            );
        }
        for url in [
            "http://127.0.0.1:8080",
            "http://127.3.2.1",
            "http://localhost:1",
            "http://[::1]:9",
            "https://hq.example.com",
        ] {
            assert!(HqClient::new(url, "", None).is_ok(), "{url}");
        }
        let allowed = crate::config::HqConfig {
            allow_plain_http: true,
            ..Default::default()
        };
        assert!(HqClient::configured("http://hq.example.com", &allowed, None).is_ok());
        let default = crate::config::HqConfig::default();
        assert!(HqClient::configured("http://hq.example.com", &default, None).is_err());
    }

    /// A stand-in for an HQ one release ahead (a local server answering the documented
    /// `GET /api/v1/policy` body with keys this agent does not know, at every level): the
    /// agent takes the policy, keeping what it knows. It used to refuse the whole answer
    /// (`deny_unknown_fields`), so the next new key would leave an older agent without policy.
    #[tokio::test]
    async fn a_policy_with_keys_from_a_newer_hq_is_taken() {
        let body = r#"{"policy":{"shift":{"heartbeat_seconds":7,"lunch_minutes":30},"network":{"jitter_v2":{"warn":1}},"canteen":{"open":true}},"shifts":[],"holidays":[]}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\netag: \"v9\"\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, _) = answering(answer).await;
        let c = HqClient::new(&url, "", Some("key".into())).unwrap();
        match c.policy(None).await.unwrap() {
            PolicyFetch::Fresh { response, etag } => {
                assert_eq!(response.policy.shift.heartbeat_seconds, 7);
                assert_eq!(etag.as_deref(), Some("\"v9\""));
            }
            PolicyFetch::NotModified => panic!("not modified"),
        }
    }

    /// A redirect is not followed (the key would go along): an error naming where it pointed.
    #[tokio::test]
    async fn a_redirect_is_an_error_and_is_not_followed() {
        let (target, followed) =
            answering("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}/api/v1/events\r\n\
                 content-length: 0\r\nconnection: close\r\n\r\n"
            )
            .into_boxed_str(),
        );
        let (url, _) = answering(answer).await;
        let c = HqClient::new(&url, "", Some("secret-key".into())).unwrap();
        let e = c.send_events(&[]).await.unwrap_err();
        assert!(
            matches!(e, HqError::Redirected { status: 307, ref location, .. } if location.starts_with(&target)),
            "{e:?}"
        );
        assert!(e.to_string().contains(&target), "{e}");
        assert!(
            followed.lock().unwrap().is_empty(),
            "the redirect was followed"
        );
        assert!(!e.is_refusal() && !e.needs_enrollment());
    }

    /// `429` with `Retry-After` carries the delay; other refusals are classified for delivery.
    #[tokio::test]
    async fn retry_after_and_refusals_are_classified() {
        let (url, _) = answering(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let c = HqClient::new(&url, "", Some("k".into())).unwrap();
        let e = c.send_events(&[]).await.unwrap_err();
        assert!(matches!(e, HqError::RetryAfter { seconds: 7 }), "{e:?}");
        assert!(e.is_transient() && !e.is_refusal());
        // A full ingest queue: 503 with Retry-After is a wait of that long too (it was a
        // plain server error, retried on the backoff instead of when HQ said).
        let (url, _) = answering(
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 3\r\ncontent-type: application/json\r\ncontent-length: 29\r\nconnection: close\r\n\r\n{\"error\":\"ingest queue full\"}",
        )
        .await;
        let c = HqClient::new(&url, "", Some("k".into())).unwrap();
        let e = c.send_events(&[]).await.unwrap_err();
        assert!(matches!(e, HqError::RetryAfter { seconds: 3 }), "{e:?}");
        assert!(e.is_transient() && !e.is_refusal());
        assert!(!e.to_string().contains("this address"), "{e}");
        let (url, _) = answering(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 91\r\nconnection: close\r\n\r\n{\"error\":\"IT asked this device to enroll again: run `shiftready enroll`\",\"code\":\"reenroll\"}",
        )
        .await;
        let c = HqClient::new(&url, "", Some("k".into())).unwrap();
        let e = c.send_events(&[]).await.unwrap_err();
        assert!(matches!(e, HqError::Reenroll), "{e:?}");
        assert!(e.needs_enrollment() && !e.is_transient() && !e.is_refusal());
        for (status, refusal) in [
            (422, true),
            (403, true),
            (413, true),
            (400, true),
            (401, false),
            (404, false),
            (408, false),
            (429, false),
        ] {
            let e = HqError::Rejected {
                status,
                message: String::new(),
            };
            assert_eq!(e.is_refusal(), refusal, "{status}");
        }
        assert!(HqError::Revoked.needs_enrollment() && HqError::UnknownKey.needs_enrollment());
    }

    #[tokio::test]
    async fn unreachable_hq_is_told_apart_from_a_revoked_key() {
        // A port nothing listens on: bind, learn the port, close.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let c = HqClient::new(&format!("http://127.0.0.1:{port}"), "", Some("k".into())).unwrap();
        let e = c.send_events(&[]).await.unwrap_err();
        assert!(matches!(e, HqError::Unreachable { .. }), "{e:?}");
        assert!(e.is_transient());
    }
}
