//! The load phase of the pre-shift `network` check: latency under load ("bufferbloat").
//!
//! A home line that is fine when idle can add hundreds of milliseconds once someone uploads
//! or streams, because the router queues far more than the line can send. Following the IETF's
//! "Responsiveness under Working Conditions" (draft-ietf-ippm-responsiveness: fill the line
//! with a few bulk TCP connections, and meanwhile time small probes), the check fills the line
//! to HQ upstream for `network.load_seconds` (HTTP uploads to `POST /api/v1/load/upload`),
//! then downstream (`GET /api/v1/load/download`), while sending voice-sized UDP probes to HQ's
//! reflector every 20 ms (the wire format of [`proto::probe`], with the policy's probe token).
//!
//! Bounded: at most `network.load_max_mb` in all (half each way, split over [`STREAMS`]
//! connections, each at most [`MAX_STREAM_BYTES`]), each direction at most `load_seconds`
//! plus [`DRAIN`] for HQ's answer; HQ itself caps and rate-limits the endpoints. Each
//! upload asks `Expect: 100-continue`, so HQ's refusal (no such endpoint, a refused key, "wait
//! before the next load test") arrives before a byte of load was sent, and the phase is skipped
//! with that reason: a skip is a note, never a failure of the check.
//!
//! Where the OS has it (Linux), `TCP_NOTSENT_LOWAT` keeps the upload's unsent bytes in the
//! socket small, so stopping takes about one loaded round trip rather than draining megabytes
//! queued on this computer.

#[cfg_attr(target_os = "linux", path = "load/linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "load/other.rs")]
mod os;

use super::path::HqUrl;
use proto::probe::{self as wire, Reply, Request};
pub use shiftready_core::checks::network::LoadFindings;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Bulk connections per direction.
pub const STREAMS: usize = 2;
/// The most one connection asks HQ to move (HQ's default cap per request).
pub const MAX_STREAM_BYTES: u64 = 8 * 1024 * 1024;
/// How long HQ's answer to an upload may take after the agent stopped sending.
pub const DRAIN: Duration = Duration::from_secs(4);
/// Probes sent in the first moments of each direction are not counted: the queue is still
/// filling.
pub const WARM_UP: Duration = Duration::from_millis(500);
/// Time between probes.
const PROBE_EVERY: Duration = Duration::from_millis(20);
/// How long a probe may still come back after the last was sent.
const PROBE_GRACE: Duration = Duration::from_millis(800);
/// Time limit of connecting and of HQ's first answer.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);
/// Bytes per chunk of the upload body.
const CHUNK: usize = 16 * 1024;

/// Where to load and probe, and with what.
#[derive(Debug, Clone)]
pub struct LoadTarget {
    pub hq: HqUrl,
    /// HQ's HTTP(S) address, already resolved.
    pub addr: SocketAddr,
    /// The PEM file pinning HQ's CA (empty: the system's roots).
    pub ca_file: String,
    /// This device's key.
    pub key: String,
    /// HQ's reflector, and the probe token from the policy.
    pub reflector: SocketAddr,
    pub token: Option<wire::Token>,
}

/// How long and how much.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    /// Seconds of load per direction.
    pub seconds: f64,
    /// Bytes in all, both directions.
    pub max_bytes: u64,
}

impl LoadPlan {
    fn per_stream(&self) -> u64 {
        (self.max_bytes / 2 / STREAMS as u64).clamp(1, MAX_STREAM_BYTES)
    }
}

trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// Runs the load phase: upstream, then downstream. `Err` is the reason it was skipped.
pub async fn run(t: &LoadTarget, plan: LoadPlan) -> Result<LoadFindings, String> {
    let mut f = LoadFindings::default();
    let up = upload(t, plan).await?;
    f.rtt_up_ms = up.rtts;
    f.probes_up = up.sent;
    f.up_bytes = up.bytes;
    f.up_seconds = up.seconds;
    // A refusal now (the download alone) keeps what the upload measured.
    match download(t, plan).await {
        Ok(down) => {
            f.rtt_down_ms = down.rtts;
            f.probes_down = down.sent;
            f.down_bytes = down.bytes;
            f.down_seconds = down.seconds;
        }
        Err(e) => tracing::info!("load test: the download was skipped: {e}"),
    }
    Ok(f)
}

/// What one direction measured.
struct Direction {
    rtts: Vec<f64>,
    sent: u32,
    bytes: u64,
    seconds: f64,
}

async fn connect(t: &LoadTarget) -> Result<Box<dyn Conn>, String> {
    let tcp = match tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(t.addr)).await {
        Err(_) => return Err(format!("HQ at {} did not accept a connection", t.addr)),
        Ok(Err(e)) => return Err(format!("cannot connect to HQ at {}: {e}", t.addr)),
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    os::limit_unsent(&tcp);
    if t.hq.https {
        let tls = super::path::tls_connect(tcp, &t.hq.host, &t.ca_file, CONNECT_LIMIT).await?;
        Ok(Box::new(tls))
    } else {
        Ok(Box::new(tcp))
    }
}

fn host_header(u: &HqUrl) -> String {
    let host = if u.host.contains(':') {
        format!("[{}]", u.host)
    } else {
        u.host.clone()
    };
    let default = if u.https { 443 } else { 80 };
    if u.port == default {
        host
    } else {
        format!("{host}:{}", u.port)
    }
}

/// An answer's head: status, headers (lower-case names), and the bytes read past it.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    rest: Vec<u8>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn read_head(
    c: &mut Box<dyn Conn>,
    mut buf: Vec<u8>,
    limit: Duration,
) -> Result<Head, String> {
    let work = async {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&buf[..i]).into_owned();
                let mut lines = text.split("\r\n");
                let status = lines
                    .next()
                    .and_then(|l| l.strip_prefix("HTTP/1."))
                    .and_then(|r| r.get(2..5))
                    .and_then(|c| c.parse::<u16>().ok())
                    .ok_or_else(|| format!("not an HTTP answer: {:?}", text.lines().next()))?;
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                return Ok(Head {
                    status,
                    headers,
                    rest: buf[i + 4..].to_vec(),
                });
            }
            if buf.len() > 64 * 1024 {
                return Err("HQ's answer has no end of head".to_string());
            }
            match c.read(&mut chunk).await {
                Ok(0) => return Err("HQ closed the connection".to_string()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("HQ did not answer within {} s", limit.as_secs_f64()))?
}

/// Why HQ refused, in words (the reason the load phase is skipped).
async fn refusal(c: &mut Box<dyn Conn>, head: Head) -> String {
    let mut body = head.rest.clone();
    let _ = tokio::time::timeout(Duration::from_secs(2), c.read_to_end(&mut body)).await;
    let said = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_default();
    match head.status {
        404 => "HQ does not serve the load test (an older HQ, or switched off there)".into(),
        401 => format!("HQ refused this device's key ({said})"),
        429 => format!(
            "HQ asks to wait {} s before the next load test",
            head.header("retry-after").unwrap_or("a while")
        ),
        s => format!("HQ answered HTTP {s} ({said})"),
    }
}

/// Opens one upload and waits for HQ's "100 Continue".
async fn open_upload(t: &LoadTarget, plan: LoadPlan) -> Result<Box<dyn Conn>, String> {
    let mut c = connect(t).await?;
    let req = format!(
        "POST {}/api/v1/load/upload?bytes={}&seconds={:.1} HTTP/1.1\r\nHost: {}\r\n\
         User-Agent: shiftready-load\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        t.hq.base_path,
        plan.per_stream(),
        plan.seconds,
        host_header(&t.hq),
        t.key
    );
    c.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    c.flush().await.map_err(|e| e.to_string())?;
    let head = read_head(&mut c, Vec::new(), CONNECT_LIMIT).await?;
    if head.status == 100 {
        Ok(c)
    } else {
        Err(refusal(&mut c, head).await)
    }
}

/// Sends until `until` or `cap` bytes, ends the body and reads HQ's count.
async fn send_body(mut c: Box<dyn Conn>, until: Instant, cap: u64) -> Result<(u64, f64), String> {
    let mut data = vec![0u8; CHUNK];
    let mut sent = 0u64;
    let io = |e: std::io::Error| e.to_string();
    while Instant::now() < until && sent < cap {
        let n = (cap - sent).min(CHUNK as u64) as usize;
        fastrand::fill(&mut data[..n]);
        c.write_all(format!("{n:x}\r\n").as_bytes())
            .await
            .map_err(io)?;
        c.write_all(&data[..n]).await.map_err(io)?;
        c.write_all(b"\r\n").await.map_err(io)?;
        sent += n as u64;
    }
    c.write_all(b"0\r\n\r\n").await.map_err(io)?;
    c.flush().await.map_err(io)?;
    let head = read_head(&mut c, Vec::new(), DRAIN).await?;
    if head.status != 200 {
        return Err(refusal(&mut c, head).await);
    }
    let len: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = head.rest;
    let mut chunk = [0u8; 1024];
    while body.len() < len {
        match tokio::time::timeout(DRAIN, c.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let ack: proto::api::LoadUploadAck =
        serde_json::from_slice(&body).map_err(|e| format!("HQ's count is not readable: {e}"))?;
    Ok((ack.bytes, ack.seconds))
}

async fn upload(t: &LoadTarget, plan: LoadPlan) -> Result<Direction, String> {
    let opened = futures::future::join_all((0..STREAMS).map(|_| open_upload(t, plan))).await;
    let conns = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(plan.seconds);
    let cap = plan.per_stream();
    let sends = futures::future::join_all(conns.into_iter().map(|c| send_body(c, until, cap)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let load = async {
        let r = sends.await;
        let _ = stop.send(true);
        r
    };
    let (results, probes) = tokio::join!(load, probe(t, start, until, stopped));
    let mut bytes = 0;
    let mut seconds: f64 = 0.0;
    for r in results {
        let (b, s) = r?;
        bytes += b;
        seconds = seconds.max(s);
    }
    let (rtts, sent) = probes.map_err(|e| format!("cannot send probes to the reflector: {e}"))?;
    Ok(Direction {
        rtts,
        sent,
        bytes,
        seconds,
    })
}

/// Opens one download and reads its head.
async fn open_download(t: &LoadTarget, plan: LoadPlan) -> Result<(Box<dyn Conn>, Vec<u8>), String> {
    let mut c = connect(t).await?;
    let req = format!(
        "GET {}/api/v1/load/download?bytes={}&seconds={:.1} HTTP/1.1\r\nHost: {}\r\n\
         User-Agent: shiftready-load\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        t.hq.base_path,
        plan.per_stream(),
        plan.seconds,
        host_header(&t.hq),
        t.key
    );
    c.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    c.flush().await.map_err(|e| e.to_string())?;
    let head = read_head(&mut c, Vec::new(), CONNECT_LIMIT).await?;
    if head.status == 200 {
        Ok((c, head.rest))
    } else {
        Err(refusal(&mut c, head).await)
    }
}

/// Reads until `until`, the end, or `cap` bytes (the framing of chunks counted with the data:
/// some 10 bytes in 64 KB). Returns the bytes and the seconds they took.
async fn read_body(
    mut c: Box<dyn Conn>,
    first: Vec<u8>,
    start: Instant,
    until: Instant,
    cap: u64,
) -> (u64, f64) {
    let mut n = first.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut last = Instant::now();
    while n < cap {
        match tokio::time::timeout_at(until.into(), c.read(&mut buf)).await {
            Ok(Ok(k)) if k > 0 => {
                n += k as u64;
                last = Instant::now();
            }
            _ => break,
        }
    }
    (n, last.duration_since(start).as_secs_f64())
}

async fn download(t: &LoadTarget, plan: LoadPlan) -> Result<Direction, String> {
    let opened = futures::future::join_all((0..STREAMS).map(|_| open_download(t, plan))).await;
    let conns = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(plan.seconds);
    // A little over a stream's share: the chunked framing counts too.
    let cap = plan.per_stream() + plan.per_stream() / 100;
    let reads = futures::future::join_all(
        conns
            .into_iter()
            .map(|(c, first)| read_body(c, first, start, until, cap)),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let load = async {
        let r = reads.await;
        let _ = stop.send(true);
        r
    };
    let (results, probes) = tokio::join!(load, probe(t, start, until, stopped));
    let bytes = results.iter().map(|r| r.0).sum();
    let seconds = results.iter().map(|r| r.1).fold(0.0, f64::max);
    let (rtts, sent) = probes.map_err(|e| format!("cannot send probes to the reflector: {e}"))?;
    Ok(Direction {
        rtts,
        sent,
        bytes,
        seconds,
    })
}

/// Voice-sized probes to the reflector from `start` to `until`, or until the load ends sooner
/// (`stopped`: on a fast line the byte cap ends it first, and probes after it would time an
/// idle line): the round trips (ms) of those sent after [`WARM_UP`], and how many of those
/// were sent.
async fn probe(
    t: &LoadTarget,
    start: Instant,
    mut until: Instant,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<(Vec<f64>, u32)> {
    let bind: SocketAddr = if t.reflector.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(t.reflector).await?;
    let session = super::random_u32();
    let len = wire::VOICE_PAYLOAD.max(wire::TOKEN_AT + wire::TOKEN_LEN);
    let mut out = vec![0u8; len];
    let mut inb = vec![0u8; wire::MAX_PACKET + 1];
    let counted_from = start + WARM_UP;
    let mut sent_at: Vec<(Instant, bool)> = Vec::new();
    let mut rtts = Vec::new();
    let mut tick = tokio::time::interval_at(start.into(), PROBE_EVERY);
    let ns = |t: Instant| t.saturating_duration_since(start).as_nanos() as u64;
    let mut end = until + PROBE_GRACE;
    loop {
        tokio::select! {
            r = stopped.changed(), if Instant::now() < until => {
                if r.is_err() || *stopped.borrow() {
                    until = Instant::now();
                    end = until + PROBE_GRACE;
                }
            }
            _ = tick.tick(), if Instant::now() < until => {
                let now = Instant::now();
                Request { session, seq: sent_at.len() as u32, sender_ts_ns: ns(now), flush: false }
                    .encode_with(&mut out, t.token.as_ref());
                // A refused send (an ICMP error from an earlier probe) is a lost probe.
                let _ = sock.send(&out).await;
                sent_at.push((now, now >= counted_from));
            }
            r = sock.recv(&mut inb) => {
                let now = Instant::now();
                let Ok(n) = r else { continue };
                let Ok(rep) = Reply::decode(&inb[..n]) else { continue };
                if rep.session != session {
                    continue;
                }
                if let Some((at, counted)) = sent_at.get(rep.seq as usize) {
                    rtts.push((*counted, now.duration_since(*at).as_secs_f64() * 1e3));
                }
            }
            _ = tokio::time::sleep_until(end.into()) => break,
        }
        if Instant::now() >= until && rtts.len() >= sent_at.len() {
            break;
        }
    }
    // A load over before the warm-up (a fast line reaching the byte cap) counts every probe.
    let warm = sent_at.iter().any(|s| s.1);
    let sent = sent_at.iter().filter(|s| s.1 || !warm).count() as u32;
    let rtts = rtts
        .into_iter()
        .filter(|r| r.0 || !warm)
        .map(|r| r.1)
        .collect();
    Ok((rtts, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_cap_is_split_over_directions_and_streams() {
        let plan = |mb: u64| LoadPlan {
            seconds: 3.0,
            max_bytes: mb * 1024 * 1024,
        };
        assert_eq!(plan(16).per_stream(), 4 * 1024 * 1024);
        // Never above what HQ serves one request.
        assert_eq!(plan(64).per_stream(), MAX_STREAM_BYTES);
    }

    #[test]
    fn host_header_names_a_port_only_when_not_the_default() {
        let u = HqUrl::parse("https://hq.example.com").unwrap();
        assert_eq!(host_header(&u), "hq.example.com");
        let u = HqUrl::parse("http://[::1]:8640").unwrap();
        assert_eq!(host_header(&u), "[::1]:8640");
    }
}
