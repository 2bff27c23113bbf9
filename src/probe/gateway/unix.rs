//! Linux and macOS: ICMP echo over a datagram ICMP socket, else a raw one.

use super::{Echo, GatewayStats, echo_request, parse_echo_reply, summarize};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::time::Duration;
use std::time::Instant;

fn open() -> Result<(Socket, &'static str), String> {
    let e = match Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)) {
        Ok(s) => return Ok((s, "ping_socket")),
        Err(e) => e,
    };
    if let Ok(s) = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
        return Ok((s, "raw_socket"));
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    Err(format!(
        "ICMP not permitted ({e}); net.ipv4.ping_group_range is '{}'",
        range.split_whitespace().collect::<Vec<_>>().join(" ")
    ))
}

/// One ICMP socket kept open for a ping now and then (the pilot's, once a second): no socket
/// to open, register and close for every echo.
pub struct Pinger {
    sock: tokio::net::UdpSocket,
    token: u64,
    id: u16,
    buf: [u8; 128],
}

impl Pinger {
    pub fn open() -> Result<Pinger, String> {
        let (sock, _) = open()?;
        sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        let std_sock: std::net::UdpSocket = sock.into();
        let sock = tokio::net::UdpSocket::from_std(std_sock).map_err(|e| e.to_string())?;
        let token = (super::super::random_u32() as u64) << 32 | super::super::random_u32() as u64;
        Ok(Pinger {
            sock,
            token,
            id: super::super::random_u32() as u16,
            buf: [0; 128],
        })
    }

    /// Sends echo `seq` to `to` without waiting (a full socket buffer is an error).
    pub fn send(&mut self, to: Ipv4Addr, seq: u16) -> std::io::Result<()> {
        let pkt = super::echo_request_into(&mut self.buf, self.id, seq, self.token);
        self.sock
            .try_send_to(pkt, SocketAddr::from((to, 0)))
            .map(|_| ())
    }

    /// The sequence number of the next reply to one of our echoes.
    pub async fn recv(&mut self) -> u16 {
        let mut inb = [0u8; 256];
        loop {
            if let Ok(len) = self.sock.recv(&mut inb).await {
                if let Some(seq) = parse_echo_reply(&inb[..len], self.token) {
                    return seq;
                }
            }
        }
    }
}

pub async fn ping(
    v4: Ipv4Addr,
    duration: Duration,
    interval: Duration,
) -> Result<GatewayStats, String> {
    let (sock, method) = open()?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let std_sock: std::net::UdpSocket = sock.into();
    let sock = tokio::net::UdpSocket::from_std(std_sock).map_err(|e| e.to_string())?;
    let to = SocketAddr::from((v4, 0));
    let token = (super::super::random_u32() as u64) << 32 | super::super::random_u32() as u64;
    let id = super::super::random_u32() as u16;
    let n = ((duration.as_secs_f64() / interval.as_secs_f64()).round() as u32).clamp(1, 60_000);
    let epoch = Instant::now();
    let ns = |t: Instant| t.saturating_duration_since(epoch).as_nanos() as u64;
    let mut sent_at = vec![0u64; n as usize];
    let mut echoes = Vec::new();
    let mut tick = tokio::time::interval(interval);
    let mut seq = 0u32;
    let mut buf = [0u8; 1500];
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick(), if seq < n => {
                let pkt = echo_request(id, seq as u16, token);
                sent_at[seq as usize] = ns(Instant::now());
                if let Err(e) = sock.send_to(&pkt, to).await {
                    if seq == 0 {
                        return Err(format!("cannot send ICMP to {v4}: {e}"));
                    }
                }
                seq += 1;
                if seq == n {
                    deadline = Some(Instant::now() + Duration::from_millis(500));
                }
            }
            r = sock.recv(&mut buf) => {
                let now = ns(Instant::now());
                let matched = r.ok().and_then(|len| parse_echo_reply(&buf[..len], token));
                if let Some(s) = matched.filter(|&s| (s as u32) < seq) {
                    echoes.push(Echo { seq: s, sent_ns: sent_at[s as usize], recv_ns: now });
                }
                if deadline.is_some() && echoes.len() as u32 >= n {
                    break;
                }
            }
            _ = super::super::sleep_until_opt(deadline) => break,
        }
    }
    Ok(summarize(v4.into(), method, n, &echoes))
}
