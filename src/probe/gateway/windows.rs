//! Windows: ICMP echo to the home router with `IcmpSendEcho` (iphlpapi), which every user may
//! call (no raw socket, no administrator). The call blocks until the reply or its timeout, so
//! each echo runs on tokio's blocking pool, started on the 20 ms beat; several are in flight
//! when the router is slow. Round trips are timed on our own clock around the call (the
//! reply's `RoundTripTime` is whole milliseconds), the same clock the Linux probe uses.
#![allow(unsafe_code)]

use super::{Echo, GatewayStats, summarize};
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
use windows_sys::Win32::NetworkManagement::IpHelper::{
    ICMP_ECHO_REPLY, IP_REQ_TIMED_OUT, IP_SUCCESS, IcmpCloseHandle, IcmpCreateFile, IcmpSendEcho,
};

/// How long one echo waits for its reply (the Linux probe's grace after the last echo).
const ECHO_TIMEOUT: Duration = Duration::from_millis(500);

/// Payload bytes of each echo: our 8-byte token, the sequence number, padding (a 64-byte
/// ICMP message, as the Linux probe sends).
const PAYLOAD: usize = 56;

/// What one echo came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Our payload came back from the address.
    Reply,
    /// No reply in time, or an ICMP error (unreachable, TTL expired) from elsewhere.
    Lost,
}

/// The payload of echo `seq`.
pub(super) fn payload(token: u64, seq: u16) -> [u8; PAYLOAD] {
    let mut p = [0u8; PAYLOAD];
    p[..8].copy_from_slice(&token.to_be_bytes());
    p[8..10].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[10..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

/// Sends one echo to `dst` and waits for it. `Err` when ICMP cannot be sent at all.
pub(super) fn echo(dst: Ipv4Addr, data: &[u8], timeout: Duration) -> io::Result<Outcome> {
    // SAFETY: no arguments; the handle is closed below.
    let h = unsafe { IcmpCreateFile() };
    if h == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // At least one ICMP_ECHO_REPLY, the data and 8 bytes for an ICMP error (the documented
    // minimum), plus room for what an error quotes; u64s keep it aligned for the reply.
    let mut buf = [0u64; 64];
    let size = std::mem::size_of_val(&buf);
    let ip = u32::from_ne_bytes(dst.octets());
    // SAFETY: `data` and `buf` are valid for the lengths given, for the whole (synchronous)
    // call; `h` is the open ICMP handle.
    let n = unsafe {
        IcmpSendEcho(
            h,
            ip,
            data.as_ptr().cast(),
            data.len() as u16,
            std::ptr::null(),
            buf.as_mut_ptr().cast(),
            size as u32,
            timeout.as_millis().max(1) as u32,
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: the handle from IcmpCreateFile, closed once.
    unsafe { IcmpCloseHandle(h) };
    if n == 0 {
        // A timeout, or an ICMP error for this echo, leaves no reply: lost. Anything else
        // (no ICMP at all, bad parameters) is an error.
        return match err.raw_os_error().map(|c| c as u32) {
            Some(IP_REQ_TIMED_OUT) => Ok(Outcome::Lost),
            Some(c) if (11000..11051).contains(&c) => Ok(Outcome::Lost),
            _ => Err(err),
        };
    }
    // SAFETY: IcmpSendEcho returned n >= 1 replies, the first at the start of `buf`.
    let reply: ICMP_ECHO_REPLY = unsafe { std::ptr::read(buf.as_ptr().cast()) };
    let start = buf.as_ptr() as usize;
    let at = reply.Data as usize;
    let len = reply.DataSize as usize;
    let within = at >= start && at + len <= start + size;
    let echoed = within && {
        // SAFETY: the range was just checked to lie inside `buf`.
        let got = unsafe { std::slice::from_raw_parts(reply.Data as *const u8, len) };
        got == data
    };
    Ok(
        if reply.Status == IP_SUCCESS && reply.Address == ip && echoed {
            Outcome::Reply
        } else {
            Outcome::Lost
        },
    )
}

pub async fn ping(
    v4: Ipv4Addr,
    duration: Duration,
    interval: Duration,
) -> Result<GatewayStats, String> {
    let n = ((duration.as_secs_f64() / interval.as_secs_f64()).round() as u32).clamp(1, 60_000);
    let token = (super::super::random_u32() as u64) << 32 | super::super::random_u32() as u64;
    let epoch = Instant::now();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut inflight = tokio::task::JoinSet::new();
    for seq in 0..n {
        tick.tick().await;
        let data = payload(token, seq as u16);
        inflight.spawn_blocking(move || {
            let sent = Instant::now();
            let r = echo(v4, &data, ECHO_TIMEOUT);
            let done = Instant::now();
            let ns = |t: Instant| t.saturating_duration_since(epoch).as_nanos() as u64;
            (seq as u16, ns(sent), ns(done), r)
        });
    }
    let mut echoes = Vec::new();
    let mut first_error = None;
    while let Some(j) = inflight.join_next().await {
        match j {
            Ok((seq, sent_ns, recv_ns, Ok(Outcome::Reply))) => echoes.push(Echo {
                seq,
                sent_ns,
                recv_ns,
            }),
            Ok((_, _, _, Ok(Outcome::Lost))) => {}
            Ok((_, _, _, Err(e))) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(io::Error::other(e));
            }
        }
    }
    if echoes.is_empty() {
        if let Some(e) = first_error {
            return Err(format!("IcmpSendEcho to {v4} failed: {e}"));
        }
    }
    echoes.sort_by_key(|e| e.recv_ns);
    Ok(summarize(v4.into(), "icmp_send_echo", n, &echoes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_carries_token_and_sequence() {
        let p = payload(0x0102_0304_0506_0708, 0x0a0b);
        assert_eq!(&p[..10], &[1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b]);
        assert_eq!(p.len() + 8, 64, "a 64-byte ICMP message");
        assert_ne!(payload(1, 2), payload(1, 3));
    }

    /// Loopback answers echo: every one of 20 comes back, fast. Under Wine, IcmpSendEcho is
    /// Linux ICMP underneath (a ping socket where `net.ipv4.ping_group_range` allows, else a
    /// raw socket, which needs root): scripts/test-windows.sh sets SHIFTREADY_EXPECT_ICMP=0
    /// when neither is open to it, and only then is a failure a skip.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pings_loopback() {
        let g = super::super::ping(
            "127.0.0.1".parse().unwrap(),
            Duration::from_millis(400),
            Duration::from_millis(20),
        )
        .await;
        let g = match g {
            Ok(g) => g,
            Err(e) if std::env::var("SHIFTREADY_EXPECT_ICMP").as_deref() == Ok("0") => {
                eprintln!("skipped: ICMP is not open to this user under Wine: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        eprintln!("{g:?}");
        assert_eq!(g.method, "icmp_send_echo");
        assert_eq!(g.sent, 20);
        assert_eq!(g.received, 20, "{g:?}");
        assert_eq!(g.loss_pct, 0.0);
        // Loopback is ~0.1 ms on Windows; under Wine each echo goes through wineserver and
        // the tests of the whole suite share two cores, so allow scheduling delays.
        let median = g.rtt_ms_median.unwrap();
        assert!(median > 0.0 && median < 50.0, "{g:?}");
        assert!(g.jitter_ms.is_some());
    }
}
