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
    #[error("HQ is limiting requests from this address; wait a minute and try again")]
    RateLimited,
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
        )
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
    /// A client for HQ at `url` (`https://...`, or `http://` for a local test), trusting only
    /// the CA in `ca_file` when it is not empty, with this device's key if it has one.
    pub fn new(url: &str, ca_file: &str, key: Option<String>) -> Result<HqClient, HqError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| HqError::Config(format!("the HQ URL '{base}' is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
            return Err(HqError::Config(format!(
                "the HQ URL '{base}' must look like https://hq.example.com"
            )));
        }
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(ca_file)?)
            .connect_timeout(Duration::from_secs(10))
            .timeout(TIMEOUT)
            .user_agent(concat!("shiftready/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HqError::Config(format!("HTTP client: {e}")))?;
        Ok(HqClient {
            base,
            key,
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
        HqClient::new(url, &loaded.config.hq.ca_file, Some(dev.device_key)).map(Some)
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
            (429, _) => HqError::RateLimited,
            (500..=599, _) => HqError::Server { status: s, message },
            _ => HqError::Rejected { status: s, message },
        })
    }

    fn authed(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, HqError> {
        match &self.key {
            Some(k) => Ok(rb.bearer_auth(k)),
            None => Err(HqError::NotEnrolled),
        }
    }

    /// Trades the site's enrollment secret for this device's key.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, HqError> {
        let resp = self
            .http
            .post(format!("{}/api/v1/enroll", self.base))
            .json(req)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let resp = self.check(resp).await?;
        resp.json()
            .await
            .map_err(|e| HqError::BadResponse(e.to_string()))
    }

    /// Delivers a batch; HQ acknowledges every id it now holds (new or seen before).
    pub async fn send_events(&self, events: &[Event]) -> Result<EventAck, HqError> {
        #[derive(Serialize)]
        struct Batch<'a> {
            events: &'a [Event],
        }
        let rb = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .json(&Batch { events });
        let resp = self
            .authed(rb)?
            .send()
            .await
            .map_err(|e| self.transport(e))?;
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
        let response = resp
            .json()
            .await
            .map_err(|e| HqError::BadResponse(e.to_string()))?;
        Ok(PolicyFetch::Fresh {
            response: Box::new(response),
            etag,
        })
    }
}

/// The body of an enrollment request for this computer.
pub fn enroll_request(secret: &str) -> EnrollRequest {
    EnrollRequest {
        secret: secret.to_string(),
        hostname: sysinfo::System::host_name().unwrap_or_else(|_| "unknown-host".into()),
        os: sysinfo::System::long_os_version().unwrap_or_default(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
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
