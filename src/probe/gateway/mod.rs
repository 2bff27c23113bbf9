//! ICMP echo to the home router (the default gateway), to tell the home network from what
//! lies beyond it. Only where the OS allows it without special rights, or where we already
//! have them. One module per OS behind [`ping`]: `unix.rs` (Linux and macOS: datagram ICMP
//! sockets, i.e. Linux ping sockets allowed by `net.ipv4.ping_group_range` and macOS's open to
//! everyone, else a raw socket when the process may open one, root or CAP_NET_RAW),
//! `windows.rs` (`IcmpSendEcho`, open to every user), `other.rs` (the probe is
//! "unavailable"). Replies are matched by a random token in the payload, with or without the
//! IPv4 header in front (raw sockets and macOS include it).

use shiftready_core::stats::{quantile, rfc3550_jitter};
use std::net::IpAddr;
use std::time::Duration;

/// What the probe found is pure data, judged by the network verdict.
pub use shiftready_core::checks::network::GatewayStats;

/// One echo: sent and received on the agent's clock, ns.
#[derive(Debug, Clone, Copy)]
pub struct Echo {
    pub seq: u16,
    pub sent_ns: u64,
    pub recv_ns: u64,
}

/// Loss, RTT and jitter from the echoes answered (in arrival order) out of `sent`.
pub fn summarize(
    address: IpAddr,
    method: &'static str,
    sent: u32,
    echoes: &[Echo],
) -> GatewayStats {
    let mut seen = std::collections::HashSet::new();
    let uniq: Vec<&Echo> = echoes.iter().filter(|e| seen.insert(e.seq)).collect();
    let mut rtts: Vec<f64> = uniq
        .iter()
        .map(|e| e.recv_ns.saturating_sub(e.sent_ns) as f64 / 1e6)
        .collect();
    rtts.sort_by(f64::total_cmp);
    let received = (uniq.len() as u32).min(sent);
    GatewayStats {
        address,
        method,
        sent,
        received,
        loss_pct: if sent == 0 {
            0.0
        } else {
            100.0 * (sent - received) as f64 / sent as f64
        },
        rtt_ms_median: quantile(&rtts, 0.5),
        rtt_ms_max: rtts.last().copied(),
        // Round-trip jitter: the "receive" stamp against the send stamp of each echo.
        jitter_ms: rfc3550_jitter(uniq.iter().map(|e| (e.sent_ns, e.recv_ns))).map(|j| j / 1e6),
    }
}

/// Pings `addr` every `interval` for `duration`. `Err` says why it cannot (unavailable).
pub async fn ping(
    addr: IpAddr,
    duration: Duration,
    interval: Duration,
) -> Result<GatewayStats, String> {
    let IpAddr::V4(v4) = addr else {
        return Err("only IPv4 gateways are probed".into());
    };
    os::ping(v4, duration, interval).await
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += w as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMPv4 echo request with our 8-byte token and 48 bytes of padding (a 64-byte ping).
pub fn echo_request(id: u16, seq: u16, token: u64) -> Vec<u8> {
    let mut p = [0u8; ECHO_LEN];
    echo_request_into(&mut p, id, seq, token).to_vec()
}

/// The length of our echo requests (ICMP header, token, padding).
pub const ECHO_LEN: usize = 64;

/// [`echo_request`] written into `buf` (at least [`ECHO_LEN`] bytes): the request's bytes.
pub fn echo_request_into(buf: &mut [u8], id: u16, seq: u16, token: u64) -> &[u8] {
    let p = &mut buf[..ECHO_LEN];
    p.fill(0);
    p[0] = 8; // echo request
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    p[8..16].copy_from_slice(&token.to_be_bytes());
    let c = checksum(p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

/// A ping to the home router now and then on one socket kept open (the pilot's, once a
/// second): [`Pinger::send`] an echo, [`Pinger::recv`] the sequence numbers answered. Where
/// echoes cannot be sent from a socket we keep (Windows' `IcmpSendEcho` blocks for each),
/// each send is a one-echo [`ping`] of its own and its answer comes back the same way.
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub struct Pinger(unix::Pinger);

#[cfg(any(target_os = "linux", target_os = "macos"))]
impl Pinger {
    /// Opens the socket; `Err` says why ICMP cannot be sent (not permitted).
    pub fn open() -> Result<Pinger, String> {
        unix::Pinger::open().map(Pinger)
    }

    /// Sends echo `seq` to `addr` (IPv4 only) without waiting for it.
    pub fn send(&mut self, addr: IpAddr, seq: u16) -> std::io::Result<()> {
        match addr {
            IpAddr::V4(v4) => self.0.send(v4, seq),
            IpAddr::V6(_) => Err(std::io::Error::other("only IPv4 gateways are probed")),
        }
    }

    /// The sequence number of the next echo answered.
    pub async fn recv(&mut self) -> u16 {
        self.0.recv().await
    }
}

/// See the Linux and macOS [`Pinger`]: here each echo is a [`ping`] of its own.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub struct Pinger {
    tx: tokio::sync::mpsc::Sender<u16>,
    rx: tokio::sync::mpsc::Receiver<u16>,
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
impl Pinger {
    /// `Err` where this OS has no ICMP for us.
    pub fn open() -> Result<Pinger, String> {
        if cfg!(not(windows)) {
            return Err("the gateway probe is not available on this OS yet".into());
        }
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        Ok(Pinger { tx, rx })
    }

    /// Starts echo `seq` to `addr`; its answer comes from [`Pinger::recv`].
    pub fn send(&mut self, addr: IpAddr, seq: u16) -> std::io::Result<()> {
        let IpAddr::V4(v4) = addr else {
            return Err(std::io::Error::other("only IPv4 gateways are probed"));
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let one = Duration::from_millis(1);
            if os::ping(v4, one, one).await.is_ok_and(|g| g.received > 0) {
                let _ = tx.try_send(seq);
            }
        });
        Ok(())
    }

    /// The sequence number of the next echo answered.
    pub async fn recv(&mut self) -> u16 {
        match self.rx.recv().await {
            Some(seq) => seq,
            // We hold a sender: never closed.
            None => std::future::pending().await,
        }
    }
}

/// The sequence number of an echo reply carrying our token; `buf` may start with an IPv4
/// header (raw sockets) or with the ICMP header (ping sockets).
pub fn parse_echo_reply(buf: &[u8], token: u64) -> Option<u16> {
    let icmp = if !buf.is_empty() && buf[0] >> 4 == 4 {
        let ihl = (buf[0] & 0x0f) as usize * 4;
        buf.get(ihl..)?
    } else {
        buf
    };
    if icmp.len() < 16 || icmp[0] != 0 {
        return None;
    }
    let t = u64::from_be_bytes(icmp[8..16].try_into().ok()?);
    (t == token).then(|| u16::from_be_bytes([icmp[6], icmp[7]]))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
use other as os;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod unix;
#[cfg(any(target_os = "linux", target_os = "macos"))]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 example: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum !ddf2 = 220d.
    #[test]
    fn internet_checksum_rfc1071_example() {
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        let p = echo_request(7, 9, 42);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
    }

    #[test]
    fn echo_reply_matched_by_token_with_or_without_ip_header() {
        let mut reply = echo_request(7, 9, 42);
        reply[0] = 0;
        assert_eq!(parse_echo_reply(&reply, 42), Some(9));
        assert_eq!(parse_echo_reply(&reply, 43), None);
        let mut with_ip = vec![0x45u8];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert_eq!(parse_echo_reply(&with_ip, 42), Some(9));
        // Our own request seen on a raw socket is not a reply.
        assert_eq!(parse_echo_reply(&echo_request(7, 9, 42), 42), None);
    }

    #[test]
    fn summary_counts_loss_and_duplicates_once() {
        let e = |seq, s, r| Echo {
            seq,
            sent_ns: s,
            recv_ns: r,
        };
        let echoes = [
            e(0, 0, 1_000_000),
            e(1, 20_000_000, 21_000_000),
            e(1, 20_000_000, 21_500_000),
        ];
        let g = summarize("192.168.1.1".parse().unwrap(), "raw_socket", 4, &echoes);
        assert_eq!(g.received, 2);
        assert_eq!(g.loss_pct, 50.0);
        assert_eq!(g.rtt_ms_median, Some(1.0));
        assert_eq!(g.jitter_ms, Some(0.0));
    }

    /// Loopback answers ICMP echo; it must be measured whenever this process may send ICMP
    /// (a ping socket in `ping_group_range`, or root for a raw socket).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn pings_loopback_when_permitted() {
        let r = ping(
            "127.0.0.1".parse().unwrap(),
            Duration::from_millis(400),
            Duration::from_millis(20),
        )
        .await;
        let euid_root = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        match r {
            Ok(g) => {
                assert_eq!(g.sent, 20);
                assert_eq!(g.received, 20, "{g:?}");
                assert!(g.rtt_ms_median.unwrap() < 10.0);
            }
            Err(e) => assert!(!euid_root, "root may always open a raw socket: {e}"),
        }
    }
}
