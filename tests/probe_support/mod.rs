//! Test helpers for the probe tests: the real HQ reflector in-process, and an impairment
//! relay (a UDP forwarder that delays by a seeded random amount and drops some packets, in
//! one direction, and records what it applied). The kernel here has no netem; this is the
//! truth the probe's figures are compared against.

#![allow(dead_code)]

use shiftready_hq::reflector::{Reflector, ReflectorConfig, ReflectorStats};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// A reflector running until the returned sender is dropped or fired.
pub async fn reflector(
    bind: &str,
) -> (
    SocketAddr,
    Arc<ReflectorStats>,
    tokio::sync::oneshot::Sender<()>,
) {
    let r = Reflector::bind(bind.parse().unwrap(), ReflectorConfig::default())
        .await
        .unwrap();
    let addr = r.local_addr();
    let stats = r.stats();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(r.run(async move {
        let _ = rx.await;
    }));
    (addr, stats, tx)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Agent → reflector.
    Up,
    /// Reflector → agent.
    Down,
}

/// What the relay does to the impaired direction.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    pub dir: Dir,
    /// Each packet is held for a uniform random time in `0..max_delay`.
    pub max_delay: Duration,
    /// Probability of dropping a packet.
    pub loss: f64,
    pub seed: u64,
}

/// One packet as the relay handled it.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    pub dir: Dir,
    /// The probe sequence number (bytes 12..16 of both requests and replies).
    pub seq: u32,
    pub flush: bool,
    pub dropped: bool,
    /// When the relay received it.
    pub arrived: Instant,
    /// When the relay sent it on (after the hold), if it did.
    pub forwarded: Option<Instant>,
}

pub struct Relay {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Record>>>,
}

fn parse(pkt: &[u8]) -> Option<(u32, bool)> {
    (pkt.len() >= 16 && pkt[..4] == proto::probe::MAGIC).then(|| {
        (
            u32::from_be_bytes(pkt[12..16].try_into().unwrap()),
            pkt[6] & 1 != 0,
        )
    })
}

/// Starts a relay in front of `target`; the agent sends to `relay.addr`.
pub async fn relay(target: SocketAddr, imp: Impairment) -> Relay {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    back.connect(target).await.unwrap();
    let addr = front.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
    let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(imp.seed)));

    {
        let (front, back, log, client, rng) = (
            front.clone(),
            back.clone(),
            log.clone(),
            client.clone(),
            rng.clone(),
        );
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                let Ok((n, from)) = front.recv_from(&mut buf).await else {
                    return;
                };
                *client.lock().unwrap() = Some(from);
                forward(Dir::Up, buf[..n].to_vec(), imp, &rng, log.clone(), {
                    let back = back.clone();
                    move |p| async move {
                        let _ = back.send(&p).await;
                    }
                });
            }
        });
    }
    {
        let (front, back, log, client, rng) = (
            front.clone(),
            back.clone(),
            log.clone(),
            client.clone(),
            rng.clone(),
        );
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                let Ok(n) = back.recv(&mut buf).await else {
                    continue;
                };
                let Some(to) = *client.lock().unwrap() else {
                    continue;
                };
                forward(Dir::Down, buf[..n].to_vec(), imp, &rng, log.clone(), {
                    let front = front.clone();
                    move |p| async move {
                        let _ = front.send_to(&p, to).await;
                    }
                });
            }
        });
    }
    Relay { addr, log }
}

fn forward<F, Fut>(
    dir: Dir,
    pkt: Vec<u8>,
    imp: Impairment,
    rng: &Mutex<fastrand::Rng>,
    log: Arc<Mutex<Vec<Record>>>,
    send: F,
) where
    F: FnOnce(Vec<u8>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let arrived = Instant::now();
    let Some((seq, flush)) = parse(&pkt) else {
        return;
    };
    let (drop, hold) = if imp.dir == dir {
        let mut r = rng.lock().unwrap();
        let drop = r.f64() < imp.loss;
        (drop, imp.max_delay.mul_f64(r.f64()))
    } else {
        (false, Duration::ZERO)
    };
    if drop {
        log.lock().unwrap().push(Record {
            dir,
            seq,
            flush,
            dropped: true,
            arrived,
            forwarded: None,
        });
        return;
    }
    let idx = {
        let mut l = log.lock().unwrap();
        l.push(Record {
            dir,
            seq,
            flush,
            dropped: false,
            arrived,
            forwarded: None,
        });
        l.len() - 1
    };
    tokio::spawn(async move {
        if !hold.is_zero() {
            tokio::time::sleep_until((arrived + hold).into()).await;
        }
        let at = Instant::now();
        send(pkt).await;
        log.lock().unwrap()[idx].forwarded = Some(at);
    });
}

impl Relay {
    pub fn records(&self) -> Vec<Record> {
        self.log.lock().unwrap().clone()
    }

    /// RFC 3550 jitter (ms) of the hold times the relay applied in `dir` to voice packets
    /// (`seq < n`), taken in the order they left the relay: the truth for the probe's jitter.
    pub fn jitter_ms(&self, dir: Dir, n: u32) -> f64 {
        let mut r: Vec<Record> = self
            .records()
            .into_iter()
            .filter(|r| {
                r.dir == dir && !r.dropped && !r.flush && r.seq < n && r.forwarded.is_some()
            })
            .collect();
        r.sort_by_key(|r| r.forwarded.unwrap());
        let t0 = r.first().map(|r| r.arrived).unwrap();
        let ms = |t: std::time::Instant| t.duration_since(t0).as_secs_f64() * 1e3;
        let pairs: Vec<(f64, f64)> = r
            .iter()
            .map(|r| (ms(r.arrived), ms(r.forwarded.unwrap())))
            .collect();
        // RFC 3550 §6.4.1 computed by the testkit from the RFC's text, not by the probe's code.
        shiftready_testkit::truth::rfc3550_jitter(&pairs).unwrap()
    }

    /// Voice packets (`seq < n`) the relay dropped in `dir`.
    pub fn dropped(&self, dir: Dir, n: u32) -> u32 {
        self.records()
            .iter()
            .filter(|r| r.dir == dir && r.dropped && !r.flush && r.seq < n)
            .count() as u32
    }
}

/// A minimal HQ stand-in that answers every HTTP request with `200 OK` (for `/healthz`).
pub async fn healthz_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

/// A UDP port that swallows everything and answers nothing, as a firewall that drops UDP
/// would look. Keep the socket alive for as long as the port must stay a black hole.
pub async fn black_hole() -> (SocketAddr, UdpSocket) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (s.local_addr().unwrap(), s)
}

/// A local port with nothing listening on it (bound, then closed).
pub fn closed_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary agent config (and a policy with a 1-second probe) for the real binary.
pub struct AgentFiles {
    pub dir: tempfile::TempDir,
    pub config: std::path::PathBuf,
}

pub fn agent_files(hq_url: &str, reflector: &str, require_wired: bool) -> AgentFiles {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[hq]\nurl = \"{hq_url}\"\nreflector = \"{reflector}\"\n\n[agent]\n\
             state_dir = \"state\"\npolicy_file = \"policy.toml\"\n\n[checks]\n\
             network_timeout_seconds = 20.0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        format!("[network]\nprobe_seconds = 1.0\nrequire_wired = {require_wired}\n"),
    )
    .unwrap();
    AgentFiles { dir, config }
}

/// Runs the real `shiftready` binary; returns exit code, stdout, stderr and the wall time.
pub fn shiftready(args: &[&str]) -> (i32, String, String, Duration) {
    shiftready::test_hooks::require(shiftready::test_hooks::PROBE_GATEWAY);
    let t = Instant::now();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shiftready"));
    cmd.args(args)
        // Never ping this machine's real router from a test: loopback stands in for it.
        .env("SHIFTREADY_PROBE_GATEWAY", "127.0.0.1")
        .env("NO_COLOR", "1");
    // Killed and failed if it hangs.
    let out = shiftready_testkit::proc::output_within(&mut cmd, shiftready_testkit::proc::HANG);
    let (code, stdout, stderr) = shiftready_testkit::proc::code_out_err(&out);
    (code, stdout, stderr, t.elapsed())
}
