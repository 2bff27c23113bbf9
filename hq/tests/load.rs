//! Issue 16 part 3, HQ's side of the latency-under-load test, with the real `shiftready-hq
//! serve` and raw sockets: the load endpoints check the device key before reading the body
//! (a refusal comes back without `100 Continue`, and before a byte of the body was sent),
//! hold each device to one load session per interval (429 with Retry-After), keep to their
//! byte cap (declared or counted as the body arrives) while bodies far above the general 1 MB
//! limit pass, stream the download bounded in bytes, and are gone with `--no-load-test`.

mod common;

use common::{Server, client, enroll, hq_cmd, last_line};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn secret(db_url: &str) -> String {
    last_line(&hq_cmd(db_url, &["enroll-secret", "create", "--site", "main"], None).1)
}

/// Sends a load upload's head over a raw socket with `Expect: 100-continue` and no body;
/// returns the socket and the first thing HQ answered within `wait`.
fn upload_head(url: &str, key: &str, extra: &str, wait: Duration) -> (TcpStream, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/load/upload?seconds=2 HTTP/1.1\r\nhost: {addr}\r\n\
         authorization: Bearer {key}\r\nexpect: 100-continue\r\n{extra}\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    (s, String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Reads an HTTP/1.1 answer to its end (the connection closes or the body is complete).
fn read_rest(s: &mut TcpStream, mut got: Vec<u8>) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = vec![0u8; 65536];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(i) = text.find("\r\n\r\n") {
            let len = text[..i].lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            });
            if len.is_some_and(|n| got.len() >= i + 4 + n) {
                return text;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn body_json(answer: &str) -> Value {
    let body = &answer[answer.find("\r\n\r\n").expect("no head end") + 4..];
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

/// Sends `n` bytes as chunks of `chunk`, then the last chunk.
fn send_chunked(s: &mut TcpStream, n: usize, chunk: usize) -> std::io::Result<()> {
    let data = vec![0x5au8; chunk];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk);
        write!(s, "{k:x}\r\n")?;
        s.write_all(&data[..k])?;
        s.write_all(b"\r\n")?;
        left -= k;
    }
    s.write_all(b"0\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_is_refused_before_the_body_is_read() {
    let t = common::sqlite().await;
    let server = Server::start(&t.url, &[]);
    let bogus = "sr_dev_0123456789abcdef0123456789abcdef";
    // A bogus key: 401 at once, and no "100 Continue" first (HQ never asked for the body).
    let head = "transfer-encoding: chunked\r\n";
    let (_s, answer) = upload_head(&server.url, bogus, head, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");
    assert!(answer.contains("unknown_key"), "{answer}");
    // The same for the download and for no key at all.
    let r = client()
        .get(format!("{}/api/v1/load/download", server.url))
        .bearer_auth(bogus)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(format!("{}/api/v1/load/download", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // An enrolled device's key: HQ asks for the body ("100 Continue"), reads 3 MB of it (three
    // times the general body limit) and answers the count.
    let (_, key) = enroll(&server.url, &secret(&t.url), "pc-1").await;
    let (mut s, answer) = upload_head(&server.url, &key, head, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 100"), "{answer:?}");
    send_chunked(&mut s, 3 * 1024 * 1024, 65536).unwrap();
    let answer = read_rest(&mut s, Vec::new());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let v = body_json(&answer);
    assert_eq!(v["bytes"], 3 * 1024 * 1024, "{v}");
    assert!(v["seconds"].as_f64().unwrap() >= 0.0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_load_session_per_device_per_interval() {
    let t = common::sqlite().await;
    let server = Server::start(&t.url, &[]);
    let s = secret(&t.url);
    let (_, key) = enroll(&server.url, &s, "pc-1").await;
    let (_, other) = enroll(&server.url, &s, "pc-2").await;
    let get = |key: String| {
        let url = server.url.clone();
        async move {
            client()
                .get(format!("{url}/api/v1/load/download?bytes=1000"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    };
    // One session: 8 requests (the agent's streams up and down), each served in full.
    for _ in 0..8 {
        let r = get(key.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().len(), 1000);
    }
    // The ninth: 429 with Retry-After (about the rest of the minute).
    let r = get(key.clone()).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30..=60).contains(&wait), "{wait}");
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("load test"), "{v}");
    // Another device is not held back.
    assert_eq!(get(other).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_cap_holds_declared_or_counted() {
    let t = common::sqlite().await;
    let server = Server::start(
        &t.url,
        &["--load-max-mb", "1", "--load-interval-seconds", "0"],
    );
    let (_, key) = enroll(&server.url, &secret(&t.url), "pc-1").await;
    // Declared over the cap: 413 before the body is asked for.
    let (_s, answer) = upload_head(
        &server.url,
        &key,
        &format!("content-length: {}\r\n", 1024 * 1024 + 1),
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // Chunked, running past the cap: 413 once the count passes it.
    let (mut s, answer) = upload_head(
        &server.url,
        &key,
        "transfer-encoding: chunked\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 100"), "{answer:?}");
    let _ = send_chunked(&mut s, 2 * 1024 * 1024, 65536);
    let answer = read_rest(&mut s, Vec::new());
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Asking for more than the cap is a 400 that names it; the download stops at what was asked.
    let r = client()
        .get(format!("{}/api/v1/load/download?bytes=2000000", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client()
        .get(format!("{}/api/v1/load/download?bytes=1048576", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), 1024 * 1024);
    // Random filler: no byte value takes more than 1 % of it.
    let mut counts = [0usize; 256];
    for &b in body.iter() {
        counts[b as usize] += 1;
    }
    assert!(
        counts.iter().all(|&c| c < body.len() / 100),
        "compressible filler"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_off_the_endpoints_say_so() {
    let t = common::sqlite().await;
    let server = Server::start(&t.url, &["--no-load-test"]);
    let (_, key) = enroll(&server.url, &secret(&t.url), "pc-1").await;
    for (method, path) in [("POST", "upload"), ("GET", "download")] {
        let r = client()
            .request(
                method.parse().unwrap(),
                format!("{}/api/v1/load/{path}", server.url),
            )
            .bearer_auth(&key)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("--no-load-test"),
            "{v}"
        );
    }
}
