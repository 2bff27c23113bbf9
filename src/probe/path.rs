//! The rest of the path to HQ, one stage at a time so a failure names its stage: DNS
//! resolution of HQ's host, TCP connect, TLS handshake (for `https://`) and an HTTP round
//! trip to `/healthz`. Each stage has its own time limit, so nothing hangs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// HQ's base URL, split into what the stages need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HqUrl {
    pub https: bool,
    /// The host name or address, without brackets.
    pub host: String,
    pub port: u16,
    /// The base path, without a trailing slash ("" for the root).
    pub base_path: String,
}

impl HqUrl {
    /// Parses `http(s)://host[:port][/path]`, with `[v6]` literals.
    pub fn parse(url: &str) -> Result<HqUrl, String> {
        let url = url.trim();
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("'{url}' does not start with https:// or http://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("'{url}': unclosed [ in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(format!("'{url}': junk after the address")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("'{url}': '{p}' is not a port"))?,
            None => default_port,
        };
        if host.is_empty() {
            return Err(format!("'{url}' has no host"));
        }
        Ok(HqUrl {
            https,
            host,
            port,
            base_path: path.trim_end_matches('/').to_string(),
        })
    }
}

/// What the stages measured is pure data, judged by the network verdict.
pub use shiftready_core::checks::network::{PathTimings, Stage};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Resolves `host:port`, timed. Prefers the first address the resolver gives.
///
/// The lookup runs on a detached thread rather than tokio's blocking pool: a resolver that
/// hangs past our limit must not hold up the runtime's shutdown (and so the program's exit).
pub async fn resolve(host: &str, port: u16, limit: Duration) -> Result<(SocketAddr, f64), String> {
    use std::net::ToSocketAddrs;
    let t = Instant::now();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("dns".into())
        .spawn(move || {
            let _ = tx.send(
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map(|mut a| a.next()),
            );
        })
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(limit, rx).await {
        Err(_) => Err(format!("no answer within {} s", limit.as_secs_f64())),
        Ok(Err(_)) => Err("the lookup thread died".into()),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Ok(Ok(Some(a)))) => Ok((a, ms(t.elapsed()))),
        Ok(Ok(Ok(None))) => Err("no address".into()),
    }
}

/// Runs every stage against `url`; `ca_file` (PEM) pins HQ's CA when not empty.
pub async fn measure(url: &HqUrl, ca_file: &str, limit: Duration) -> PathTimings {
    let mut p = PathTimings::default();
    let addr = match resolve(&url.host, url.port, limit).await {
        Ok((a, t)) => {
            p.dns_ms = Some(t);
            p.address = Some(a);
            a
        }
        Err(e) => {
            p.failed = Some((Stage::Dns, e));
            return p;
        }
    };
    let t = Instant::now();
    let tcp = match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            p.failed = Some((Stage::Tcp, e.to_string()));
            return p;
        }
        Err(_) => {
            p.failed = Some((
                Stage::Tcp,
                format!("no answer within {} s", limit.as_secs_f64()),
            ));
            return p;
        }
    };
    p.tcp_ms = Some(ms(t.elapsed()));
    let _ = tcp.set_nodelay(true);
    let path = format!("{}/healthz", url.base_path);
    let result = if url.https {
        let t = Instant::now();
        let tls = match tls_connect(tcp, &url.host, ca_file, limit).await {
            Ok(s) => s,
            Err(e) => {
                p.failed = Some((Stage::Tls, e));
                return p;
            }
        };
        p.tls_ms = Some(ms(t.elapsed()));
        http_get(tls, &url.host, &path, limit).await
    } else {
        http_get(tcp, &url.host, &path, limit).await
    };
    match result {
        Ok((status, t)) => {
            p.http_ms = Some(t);
            p.http_status = Some(status);
            if !(200..300).contains(&status) {
                p.failed = Some((Stage::Http, format!("/healthz answered HTTP {status}")));
            }
        }
        Err(e) => p.failed = Some((Stage::Http, e)),
    }
    p
}

/// One HTTP/1.1 GET; returns the status and the time to the status line, ms.
async fn http_get<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    host: &str,
    path: &str,
    limit: Duration,
) -> Result<(u16, f64), String> {
    let host_header = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: shiftready-probe\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    let t = Instant::now();
    let work = async {
        s.write_all(req.as_bytes()).await?;
        s.flush().await?;
        let mut line = String::new();
        BufReader::new(&mut s).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    let line = match tokio::time::timeout(limit, work).await {
        Err(_) => return Err(format!("no HTTP answer within {} s", limit.as_secs_f64())),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(l)) => l,
    };
    let elapsed = ms(t.elapsed());
    let status = line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:?}", line.trim_end()))?;
    Ok((status, elapsed))
}

fn tls_config(ca_file: &str) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let ca_file = ca_file.trim();
    if ca_file.is_empty() {
        let verifier = rustls_platform_verifier::Verifier::new(provider)
            .map_err(|e| format!("cannot load the system's certificates: {e}"))?;
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    } else {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| format!("cannot read {ca_file}: {e}"))?;
        for c in certs {
            let c = c.map_err(|e| format!("{ca_file}: {e}"))?;
            roots.add(c).map_err(|e| format!("{ca_file}: {e}"))?;
        }
        Ok(builder.with_root_certificates(roots).with_no_client_auth())
    }
}

pub(crate) async fn tls_connect(
    tcp: TcpStream,
    host: &str,
    ca_file: &str,
    limit: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let config = tls_config(ca_file)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("'{host}' is not a valid TLS name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(limit, connector.connect(name, tcp)).await {
        Err(_) => Err(format!("no TLS handshake within {} s", limit.as_secs_f64())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(s)) => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let u = HqUrl::parse("https://hq.example.com").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.base_path.as_str()),
            (true, "hq.example.com", 443, "")
        );
        let u = HqUrl::parse("http://127.0.0.1:8080/sr/").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.base_path.as_str()),
            (false, "127.0.0.1", 8080, "/sr")
        );
        let u = HqUrl::parse("https://[::1]:8443/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 8443));
        assert!(HqUrl::parse("ftp://x").is_err());
        assert!(HqUrl::parse("https://x:notaport").is_err());
        assert!(HqUrl::parse("https://").is_err());
    }

    #[tokio::test]
    async fn http_get_reads_the_status_line() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let n = tokio::io::AsyncReadExt::read(&mut s, &mut buf)
                .await
                .unwrap();
            assert!(buf[..n].starts_with(b"GET /healthz HTTP/1.1\r\n"));
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
        });
        let url = HqUrl::parse(&format!("http://{addr}")).unwrap();
        let p = measure(&url, "", Duration::from_secs(5)).await;
        assert!(p.https_ok(), "{p:?}");
        assert!(p.dns_ms.is_some() && p.tcp_ms.is_some() && p.http_ms.is_some());
        assert_eq!(p.tls_ms, None);
    }

    #[tokio::test]
    async fn refused_tcp_names_the_stage() {
        // Bind then drop: nothing listens on that port now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = HqUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let p = measure(&url, "", Duration::from_secs(5)).await;
        assert_eq!(p.failed.as_ref().map(|f| f.0), Some(Stage::Tcp), "{p:?}");
        assert!(!p.https_ok());
    }
}
