//! The network voice probe: a stream shaped like a call (one ~200-byte UDP packet every
//! 20 ms) to HQ's reflector, and the rest of the path (DNS, TCP, TLS, HTTP, the link and the
//! home router).
//!
//! [`run`] is the library entry point (the `network` check, `shiftready probe` and the
//! daemon's light in-shift probe all use it); [`stats`] and [`emodel`] are the pure parts, in
//! `shiftready-core`.

pub mod gateway;
pub mod link;
pub mod load;
pub mod path;

/// The pure parts live in `shiftready-core`; re-exported for the integration tests
/// (`shiftready::probe::stats::rfc3550_jitter`).
pub use shiftready_core::{emodel, stats};

use proto::policy::Codec;
use proto::probe::{self as wire, Reply, Request};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

pub use stats::{ProbeResult, ProbeStats, Sample};

/// How the stream is shaped. The defaults are a G.711 call at 20 ms packetisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeOptions {
    /// Time between voice packets.
    pub interval: Duration,
    /// UDP payload of each packet, bytes (`MIN_PACKET..=MAX_PACKET`).
    pub payload: usize,
    /// End-of-run packets that fetch the reflector's final count.
    pub flush_packets: u32,
    /// Longest wait for stragglers after the last packet was sent.
    pub max_grace: Duration,
    /// The probe token from HQ's policy, carried in every packet so HQ's reflector serves
    /// this probe from an enrolled device's budget; `None` (no policy from HQ) sends none.
    pub token: Option<wire::Token>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            interval: Duration::from_millis(20),
            payload: wire::VOICE_PAYLOAD,
            flush_packets: 5,
            max_grace: Duration::from_secs(1),
            token: None,
        }
    }
}

/// Probes `addr` for `duration` with the default voice-shaped stream and scores it with
/// `codec`. Errors only when the socket cannot be made or the OS refuses to send (no route);
/// silence is a result with nothing received.
pub async fn run(addr: SocketAddr, duration: Duration, codec: Codec) -> io::Result<ProbeResult> {
    run_with(addr, duration, codec, ProbeOptions::default()).await
}

/// [`run`] carrying `token` (HQ's probe token from the policy, when there is one).
pub async fn run_token(
    addr: SocketAddr,
    duration: Duration,
    codec: Codec,
    token: Option<wire::Token>,
) -> io::Result<ProbeResult> {
    let opts = ProbeOptions {
        token,
        ..ProbeOptions::default()
    };
    run_with(addr, duration, codec, opts).await
}

/// [`run`] with a stream of another shape.
pub async fn run_with(
    addr: SocketAddr,
    duration: Duration,
    codec: Codec,
    opts: ProbeOptions,
) -> io::Result<ProbeResult> {
    let bind: SocketAddr = if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(addr).await?;
    // Room for the token after the header when there is one.
    let least = if opts.token.is_some() {
        wire::TOKEN_AT + wire::TOKEN_LEN
    } else {
        wire::MIN_PACKET
    };
    let payload = opts.payload.clamp(least, wire::MAX_PACKET);
    let interval = opts.interval.max(Duration::from_micros(100));
    let n = ((duration.as_secs_f64() / interval.as_secs_f64()).round() as u32).max(1);
    let session = random_u32();
    let epoch = Instant::now();
    let ns = move |t: Instant| t.saturating_duration_since(epoch).as_nanos() as u64;

    let mut samples: Vec<Sample> = Vec::with_capacity(n as usize + 8);
    let mut icmp_errors = 0u32;
    let mut max_rtt = Duration::ZERO;
    let mut send_done: Option<Instant> = None;
    let mut got_flush = false;
    let mut sent_seq = 0u32;
    let total = n + opts.flush_packets;
    let mut tick = tokio::time::interval(interval);
    let mut out = vec![0u8; payload];
    let mut inb = vec![0u8; wire::MAX_PACKET + 1];

    loop {
        let deadline = match send_done {
            None => None,
            Some(t) => {
                let voice_in = samples.iter().filter(|s| !s.flush).count() as u32 >= n;
                if voice_in && got_flush {
                    break;
                }
                let grace = (max_rtt * 3)
                    .max(Duration::from_millis(300))
                    .min(opts.max_grace);
                let grace = if samples.is_empty() {
                    opts.max_grace
                } else {
                    grace
                };
                Some(t + grace)
            }
        };
        tokio::select! {
            _ = tick.tick(), if sent_seq < total => {
                let now = Instant::now();
                Request {
                    session,
                    seq: sent_seq,
                    sender_ts_ns: ns(now),
                    flush: sent_seq >= n,
                }
                .encode_with(&mut out, opts.token.as_ref());
                match sock.send(&out).await {
                    Ok(_) => {}
                    // An ICMP error from an earlier packet may surface on send.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => icmp_errors += 1,
                    Err(e) => return Err(e),
                }
                sent_seq += 1;
                if sent_seq == total {
                    send_done = Some(Instant::now());
                }
            }
            r = sock.recv(&mut inb) => {
                let now = Instant::now();
                match r {
                    Ok(len) => {
                        let Ok(rep) = Reply::decode(&inb[..len]) else { continue };
                        if rep.session != session || rep.seq >= total {
                            continue;
                        }
                        let recv_ns = ns(now);
                        let s = Sample {
                            seq: rep.seq,
                            sent_ns: rep.sender_ts_ns,
                            refl_rx_ns: rep.reflector_rx_ns,
                            refl_tx_ns: rep.reflector_tx_ns,
                            refl_count: rep.reflector_count,
                            flush: rep.flush,
                            recv_ns,
                        };
                        max_rtt = max_rtt.max(Duration::from_nanos(recv_ns.saturating_sub(s.sent_ns)));
                        got_flush |= s.flush;
                        samples.push(s);
                    }
                    Err(e) if is_icmp_error(&e) => icmp_errors += 1,
                    Err(e) => return Err(e),
                }
            }
            _ = sleep_until_opt(deadline) => break,
        }
    }
    let stats = stats::analyze(&samples, n, codec);
    Ok(ProbeResult {
        reflector: addr,
        stats,
        icmp_errors,
        elapsed_s: epoch.elapsed().as_secs_f64(),
    })
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

fn is_icmp_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    ) || e.raw_os_error().is_some_and(|c| c == 113 || c == 101) // EHOSTUNREACH, ENETUNREACH
}

/// A random session id (std's per-process random hash keys, mixed with the time).
pub(crate) fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}
