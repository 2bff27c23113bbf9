//! The TLS stage of the path to HQ against a real TLS server on loopback: a certificate
//! chaining to the pinned CA (`hq.ca_file`) is timed, an untrusted one and a server that
//! does not speak TLS fail at the TLS stage with the reason.

use shiftready::probe::path::{HqUrl, Stage, measure};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TLS server for `127.0.0.1` with a fresh self-signed certificate; returns its port and
/// the certificate's PEM.
async fn tls_server() -> (u16, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = ck.cert.pem();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    (port, pem)
}

#[tokio::test]
async fn pinned_ca_handshake_is_timed() {
    let (port, pem) = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("hq-ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let url = HqUrl::parse(&format!("https://127.0.0.1:{port}")).unwrap();
    let p = measure(&url, ca.to_str().unwrap(), Duration::from_secs(5)).await;
    assert!(p.https_ok(), "{p:?}");
    assert!(p.tls_ms.unwrap() > 0.0);
    assert_eq!(p.http_status, Some(200));
}

#[tokio::test]
async fn untrusted_certificate_fails_at_tls() {
    let (port, _) = tls_server().await;
    let url = HqUrl::parse(&format!("https://127.0.0.1:{port}")).unwrap();
    // No pin: the system's roots do not know this self-signed certificate.
    let p = measure(&url, "", Duration::from_secs(5)).await;
    let (stage, why) = p.failed.clone().expect("must fail");
    assert_eq!(stage, Stage::Tls, "{why}");
    assert!(p.tcp_ms.is_some() && p.tls_ms.is_none());
    // A pin file that does not exist is named.
    let p = measure(&url, "/nonexistent/ca.pem", Duration::from_secs(5)).await;
    let (stage, why) = p.failed.expect("must fail");
    assert_eq!(stage, Stage::Tls);
    assert!(why.contains("/nonexistent/ca.pem"), "{why}");
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_fails_at_tls_not_a_hang() {
    // Accepts the connection and says nothing: the handshake must time out, not hang.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let url = HqUrl::parse(&format!("https://127.0.0.1:{port}")).unwrap();
    // The property is "returns, failed at TLS", not how fast: a watchdog far above the 500 ms
    // limit (a loaded machine cannot trip it) fails the test instead of letting it hang.
    let p = tokio::time::timeout(
        shiftready_testkit::proc::HANG,
        measure(&url, "", Duration::from_millis(500)),
    )
    .await
    .expect("the TLS handshake with a silent server hangs past its 500 ms limit");
    assert_eq!(p.failed.map(|f| f.0), Some(Stage::Tls));
}
