//! The pilot stream (issue 15, "notice in seconds"): while the agent is signed in to a shift,
//! two small UDP packets a second to HQ's reflector (the voice probe's address and probe
//! token), so that an outage or a loss burst is noticed in seconds instead of at the next
//! once-a-minute probe.
//!
//! - **Cost.** Each request is the 48-byte probe header plus the 28-byte token, 76 bytes of
//!   UDP payload; with IPv4 (20) and UDP (8) headers 104 bytes on the wire, twice a second:
//!   208 B/s = 1.66 kbit/s each way (the reply is the same length; the reflector never
//!   answers with more). Once a second the home router is pinged once (a 64-byte ICMP echo,
//!   on one socket kept open for the stream). The link is read when it changes (Linux: a
//!   netlink socket tells; then `/proc/net/route` and `/sys`, no process), on Wi-Fi every
//!   [`WIFI_SIGNAL_EVERY_SECS`] for the signal, and every [`LINK_SAFETY_SECS`] anyway.
//! - **Per second** a [`SecondRecord`] goes into the shared ring: the median RTT of the
//!   second's replies, loss per direction (the reflector's count of what it received in this
//!   session tells upstream loss from downstream), RFC 3550 jitter per direction from
//!   same-side stamps only, the gateway ping, the link. A second is written two seconds after
//!   it ends, when its stragglers have had time to come back.
//! - **Outage:** no reply for [`OUTAGE_AFTER`] → `network_degraded` at once, "no answer from
//!   HQ for 3 s", with the scope: `home` when the link is down or the router stopped answering
//!   too, `beyond_home` when the router answers.
//! - **Loss burst:** any pilot packet lost in the last [`BURST_WINDOW`] → the voice-shaped
//!   probe runs at once ([`BURST_PROBE`] at 50 packets a second) and the incident is raised
//!   when either direction lost [`LOSS_PCT`] or more. A 2 packets/s stream cannot see a 5 %
//!   loss by itself (10 packets in 5 s): it only says when to look closer.
//! - **Clear:** after [`CLEAN_SECONDS`] seconds in a row without a lost pilot packet, a voice
//!   probe under [`LOSS_PCT`] both ways ends it.
//!
//! The pilot only says raise or clear ([`PilotEvent`]); the daemon's core keeps the one
//! `network_degraded` incident that the pilot and the once-a-minute monitor share.

use super::ring::{SecondRecord, SharedRing};
use crate::checks::CheckContext;
use crate::probe::{self, ProbeOptions, gateway, link};
use chrono::{DateTime, Utc};
use proto::names::NetScope;
use proto::probe::{self as wire, Reply, Request, Token};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// Time between pilot packets.
pub const INTERVAL: Duration = Duration::from_millis(500);
/// The pilot's UDP payload: the header and the token, nothing more.
pub const PAYLOAD: usize = wire::TOKEN_AT + wire::TOKEN_LEN;
/// IPv4 and UDP headers, for the bandwidth on the wire.
pub const IPV4_UDP_HEADERS: usize = 28;
/// No reply for this long is an outage.
pub const OUTAGE_AFTER: Duration = Duration::from_secs(3);
/// A pilot packet lost within this long sends the voice probe to look.
pub const BURST_WINDOW: Duration = Duration::from_secs(5);
/// How long the voice-shaped probe runs when the pilot saw loss (and before a clear).
pub const BURST_PROBE: Duration = Duration::from_secs(3);
/// Loss in either direction from which the voice probe raises (percent).
pub const LOSS_PCT: f64 = 5.0;
/// Clean seconds in a row before the clearing probe.
pub const CLEAN_SECONDS: u32 = 30;
/// A second is written to the ring this long after it ends.
const SETTLE_SECS: i64 = 2;
/// Pilot packets remembered (for the per-direction split and late replies): 40 s.
const KEEP: usize = 80;

/// Link reads where the OS cannot tell us of changes (`link::Watch`): `link::detect` may ask
/// the OS's tools (macOS spawns `route`), so not often.
const LINK_EVERY_SECS: i64 = 15;
/// With change events, the link is read again this often anyway (a safety net: a change the
/// events did not tell, like a driver's renamed kind).
pub const LINK_SAFETY_SECS: i64 = 30;
/// On Wi-Fi the signal changes without an event: read this often.
pub const WIFI_SIGNAL_EVERY_SECS: i64 = 5;
/// A router ping unanswered for this long counts as unanswered (a later answer still counts
/// for its second's record).
const PING_WAIT: Duration = Duration::from_secs(1);

/// The pilot's bandwidth each way on the wire over IPv4, bits per second.
pub fn wire_bits_per_second() -> f64 {
    (PAYLOAD + IPV4_UDP_HEADERS) as f64 * 8.0 / INTERVAL.as_secs_f64()
}

/// What the pilot tells the daemon's core.
#[derive(Debug, Clone, PartialEq)]
pub enum PilotEvent {
    /// Open `network_degraded` (if it is not open already), saying why in words.
    Raise {
        detail: String,
        scope: Option<NetScope>,
    },
    /// The pilot's reason is gone (the monitor may still hold the incident open).
    Clear,
}

/// One pilot packet and what came of it.
#[derive(Debug, Clone, Copy)]
struct Pkt {
    seq: u32,
    /// The wall second it was sent in (Unix seconds).
    second: i64,
    sent: Instant,
    sent_ns: u64,
    /// Whether the OS refused to send it (no route): lost before the wire.
    unsent: bool,
    reply: Option<Got>,
    /// Counted as lost already (for the burst trigger).
    counted_lost: bool,
}

#[derive(Debug, Clone, Copy)]
struct Got {
    rtt_ms: f64,
}

/// RFC 3550 §6.4.1 running jitter over (send, receive) stamps taken on two clocks.
#[derive(Debug, Default, Clone, Copy)]
struct Jitter {
    prev: Option<(u64, u64)>,
    j_ns: Option<f64>,
}

impl Jitter {
    fn push(&mut self, s: u64, r: u64) {
        if let Some((ps, pr)) = self.prev {
            let d = (r as i128 - pr as i128) - (s as i128 - ps as i128);
            let j = self.j_ns.unwrap_or(0.0);
            self.j_ns = Some(j + (d.unsigned_abs() as f64 - j) / 16.0);
        }
        self.prev = Some((s, r));
    }

    fn ms(&self) -> Option<f32> {
        self.j_ns.map(|j| (j / 1e6) as f32)
    }
}

/// Lost pilot packets of one second, split by direction.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Split {
    pub up: f64,
    pub down: f64,
}

/// Splits the unanswered packets by direction from the reflector's counts (pure): for each
/// stretch of unanswered sequence numbers between two answered ones, the later answer's
/// count minus the earlier one's, less one, reached the reflector (their replies were lost:
/// downstream); the rest never reached it (upstream). Shared in proportion over the stretch.
/// A stretch with no answer after it yet (an outage still going on) cannot be split and is
/// counted upstream. `answers` is `(seq, reflector_count)` of every answered packet of the
/// session; `lost` the unanswered sequence numbers to split. Returns one split per `lost`.
pub fn split_losses(answers: &[(u32, u32)], lost: &[u32]) -> Vec<Split> {
    let mut answers: Vec<(u32, u32)> = answers.to_vec();
    answers.sort_unstable();
    lost.iter().map(|&seq| split_one(&answers, seq)).collect()
}

/// [`split_losses`] for one unanswered `seq`, with `answers` sorted by sequence number.
fn split_one(answers: &[(u32, u32)], seq: u32) -> Split {
    let after = answers.partition_point(|a| a.0 < seq);
    let Some(&(next, next_count)) = answers.get(after) else {
        return Split { up: 1.0, down: 0.0 };
    };
    let (prev, prev_count) = match after.checked_sub(1).map(|i| answers[i]) {
        Some((p, c)) => (i64::from(p), i64::from(c)),
        None => (-1, 0),
    };
    let gap = i64::from(next) - prev - 1;
    if gap <= 0 {
        return Split { up: 1.0, down: 0.0 };
    }
    let reached = (i64::from(next_count) - prev_count - 1).clamp(0, gap);
    let down = reached as f64 / gap as f64;
    Split {
        up: 1.0 - down,
        down,
    }
}

/// Where the trouble is, from the link and the home router: the link down or the router
/// silent is the home; the router answering means beyond it; not known otherwise.
pub fn scope_of(link_up: Option<bool>, gateway_ok: Option<bool>) -> Option<NetScope> {
    match (link_up, gateway_ok) {
        (Some(false), _) => Some(NetScope::Home),
        (_, Some(false)) => Some(NetScope::Home),
        (_, Some(true)) => Some(NetScope::BeyondHome),
        _ => None,
    }
}

/// Why the pilot holds the incident open.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Raised {
    Outage,
    Loss,
}

/// What is needed to run the stream, or why it cannot run.
struct Target {
    addr: SocketAddr,
    token: Token,
    codec: proto::policy::Codec,
}

async fn target(ctx: &CheckContext) -> Result<Target, String> {
    let token = ctx
        .policy
        .network
        .probe_token
        .ok_or("HQ gave this device no probe token (no policy from HQ yet)")?;
    let (host, port) = crate::checks::network::reflector_target(None, &ctx.config.hq)?
        .ok_or("no HQ reflector is configured")?;
    let (addr, _) = probe::path::resolve(&host, port, Duration::from_secs(5))
        .await
        .map_err(|e| format!("the reflector {host}:{port} cannot be resolved: {e}"))?;
    Ok(Target {
        addr,
        token,
        codec: ctx.policy.network.codec,
    })
}

/// Runs for the daemon's life: a stream while signed in (and `[monitor] pilot` is on and
/// HQ's reflector and token are known), nothing otherwise.
pub async fn run(
    mut ctx: watch::Receiver<CheckContext>,
    mut signed_in: watch::Receiver<bool>,
    ring: SharedRing,
    out: mpsc::Sender<PilotEvent>,
) {
    let mut said: Option<String> = None;
    // Whether the pilot holds the incident open: kept across stream runs (a new policy
    // starts a new run), forgotten at sign-out (the core ends every incident then).
    let mut raised: Option<Raised> = None;
    loop {
        if !*signed_in.borrow_and_update() {
            raised = None;
            if signed_in.changed().await.is_err() {
                return;
            }
            continue;
        }
        let c = ctx.borrow_and_update().clone();
        match target(&c).await {
            Err(why) => {
                if said.as_deref() != Some(why.as_str()) {
                    tracing::info!("the pilot stream is not running: {why}");
                    said = Some(why);
                }
                // Wait for a policy (a token), the end of the shift, or a minute (DNS).
                tokio::select! {
                    r = ctx.changed() => if r.is_err() { return },
                    r = signed_in.changed() => if r.is_err() { return },
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                }
            }
            Ok(t) => {
                said = None;
                tracing::info!(
                    reflector = %t.addr,
                    "pilot stream to HQ's reflector: {PAYLOAD}-byte packets every {} ms ({:.2} kbit/s each way)",
                    INTERVAL.as_millis(),
                    wire_bits_per_second() / 1000.0
                );
                let ended = tokio::select! {
                    e = stream(&t, &ring, &out, &mut raised) => e,
                    r = until_signed_out(&mut signed_in) => r,
                    r = ctx.changed() => r.map_err(|_| ()),
                };
                if ended.is_err() {
                    return;
                }
                tracing::info!("pilot stream stopped");
            }
        }
    }
}

async fn until_signed_out(signed_in: &mut watch::Receiver<bool>) -> Result<(), ()> {
    loop {
        signed_in.changed().await.map_err(|_| ())?;
        if !*signed_in.borrow() {
            return Ok(());
        }
    }
}

fn bind_for(addr: SocketAddr) -> SocketAddr {
    if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    }
}

fn unix_second(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// One ping of the home router: the wall second it was sent in, when, and its RTT once
/// answered (`None`: not yet, or never).
#[derive(Debug, Clone, Copy)]
struct Ping {
    second: i64,
    sent: Instant,
    rtt_ms: Option<f32>,
}

/// Pings remembered: a record is written two seconds after its second ends.
const PINGS_KEPT: usize = 8;

/// The link and the router, as last read.
#[derive(Debug, Default, Clone)]
struct Local {
    link_up: Option<bool>,
    link: Option<&'static str>,
    wifi_dbm: Option<i16>,
    gateway: Option<IpAddr>,
    /// The router's pings, oldest first.
    pings: VecDeque<Ping>,
}

impl Local {
    fn read_link(&mut self) {
        let info = link::detect();
        self.link_up = Some(info.interface.is_some());
        self.link = match (&info.interface, info.kind) {
            (None, _) | (_, link::LinkKind::Unknown) => None,
            (_, link::LinkKind::Ethernet) => Some("wired"),
            (_, k) => Some(k.as_str()),
        };
        self.wifi_dbm = info.wifi_signal_dbm.map(|d| d.round() as i16);
        self.gateway = crate::test_hooks::var(crate::test_hooks::PROBE_GATEWAY)
            .and_then(|v| v.to_string_lossy().trim().parse().ok())
            .or(info.gateway);
    }

    /// A ping sent (or, `unsent`, refused by the OS: unanswered at once).
    fn pinged(&mut self, second: i64, sent: Instant) {
        if self.pings.len() == PINGS_KEPT {
            self.pings.pop_front();
        }
        self.pings.push_back(Ping {
            second,
            sent,
            rtt_ms: None,
        });
    }

    /// The router answered ping `seq` (the low 16 bits of its second).
    fn answered(&mut self, seq: u16, now: Instant) {
        if let Some(p) = self
            .pings
            .iter_mut()
            .rev()
            .find(|p| p.second as u16 == seq && p.rtt_ms.is_none())
        {
            p.rtt_ms = Some(now.saturating_duration_since(p.sent).as_secs_f32() * 1000.0);
        }
    }

    /// The router's figures for a second that is being written (its ping has had two
    /// seconds): `(rtt, answered)`, `(None, None)` when it was not pinged.
    fn ping_of(&self, second: i64) -> (Option<f32>, Option<bool>) {
        match self.pings.iter().find(|p| p.second == second) {
            Some(p) => (p.rtt_ms, Some(p.rtt_ms.is_some())),
            None => (None, None),
        }
    }

    /// Whether the router answered lately (the last two pings that were answered or have
    /// waited [`PING_WAIT`]), `None` when not pinged.
    fn gateway_ok_now(&self, now: Instant) -> Option<bool> {
        let mut seen = 0;
        let mut ok = false;
        for p in self.pings.iter().rev() {
            if p.rtt_ms.is_none() && now.saturating_duration_since(p.sent) < PING_WAIT {
                continue;
            }
            seen += 1;
            ok |= p.rtt_ms.is_some();
            if seen == 2 {
                break;
            }
        }
        (seen > 0).then_some(ok)
    }
}

/// One stream run (one session): until an error the pilot cannot go on from (`Ok`: start a
/// new run) or the daemon ends (`Err`).
async fn stream(
    t: &Target,
    ring: &SharedRing,
    out: &mpsc::Sender<PilotEvent>,
    raised: &mut Option<Raised>,
) -> Result<(), ()> {
    let sock = match UdpSocket::bind(bind_for(t.addr)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("the pilot stream cannot open a socket: {e}");
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(());
        }
    };
    if let Err(e) = sock.connect(t.addr).await {
        tracing::warn!("the pilot stream cannot reach {}: {e}", t.addr);
        tokio::time::sleep(Duration::from_secs(10)).await;
        return Ok(());
    }
    ring.lock().map(|mut r| r.set_codec(t.codec)).ok();
    let session = probe::random_u32();
    let epoch = Instant::now();
    let ns = move |i: Instant| i.saturating_duration_since(epoch).as_nanos() as u64;
    let mut pkts: VecDeque<Pkt> = VecDeque::with_capacity(KEEP + 1);
    // (seq, reflector count) of the packets answered, sorted by seq.
    let mut answers: Vec<(u32, u32)> = Vec::with_capacity(KEEP + 1);
    let mut up = Jitter::default();
    let mut down = Jitter::default();
    let mut last_refl_rx: Option<(u32, u64)> = None;
    let mut seq = 0u32;
    let mut last_reply = Instant::now();
    let mut last_loss: Option<Instant> = None;
    let mut rtt_recent: VecDeque<f64> = VecDeque::with_capacity(RTT_RECENT);
    // A packet unanswered this long is lost: four times the recent median RTT, 0.4–1.5 s.
    let mut lost_after = lost_after_of(&rtt_recent);
    let mut local = Local::default();
    local.read_link();
    // The link is read when the kernel says it changed (and now and then, see `link_every`);
    // where it cannot tell, every LINK_EVERY_SECS.
    let mut watch = match link::Watch::start() {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::debug!(
                "no link change events ({e}): the pilot reads the link every {LINK_EVERY_SECS} s"
            );
            None
        }
    };
    let mut link_changed = false;
    let link_every = |local: &Local, watched: bool| match (watched, local.link) {
        (false, _) => LINK_EVERY_SECS,
        (true, Some("wifi")) => WIFI_SIGNAL_EVERY_SECS,
        (true, _) => LINK_SAFETY_SECS,
    };
    // One ICMP socket for the stream's router pings (none where ICMP is not permitted: the
    // router is then "not pinged", never "silent").
    let mut pinger = match gateway::Pinger::open() {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::info!("the pilot cannot ping the home router: {e}");
            None
        }
    };
    let mut next_second = unix_second(Utc::now()) + 1;
    let mut next_link_read = next_second + link_every(&local, watch.is_some());
    let mut written = next_second - 1;
    let mut clean_secs = 0u32;
    let (probe_tx, mut probe_rx) = mpsc::channel::<(bool, Option<probe::ProbeResult>)>(1);
    let mut probing = false;
    let mut probe_done_at: Option<Instant> = None;
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = [0u8; PAYLOAD];
    let mut inb = [0u8; wire::MAX_PACKET + 1];
    let opts = ProbeOptions {
        token: Some(t.token),
        ..ProbeOptions::default()
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = Instant::now();
                let wall = Utc::now();
                Request { session, seq, sender_ts_ns: ns(now), flush: false }
                    .encode_with(&mut buf, Some(&t.token));
                let unsent = sock.send(&buf).await.is_err();
                pkts.push_back(Pkt {
                    seq,
                    second: unix_second(wall),
                    sent: now,
                    sent_ns: ns(now),
                    unsent,
                    reply: None,
                    counted_lost: false,
                });
                seq = seq.wrapping_add(1);
                while pkts.len() > KEEP {
                    pkts.pop_front();
                }
                // A packet not answered in time is lost (a reply after that still counts in
                // its second's figures if it comes before the second is written).
                for p in pkts.iter_mut().filter(|p| p.reply.is_none() && !p.counted_lost) {
                    if now.saturating_duration_since(p.sent) >= lost_after {
                        p.counted_lost = true;
                        last_loss = Some(now);
                    }
                }
                // Once a second: the link, the router, the second to write, the detection.
                let this_second = unix_second(wall);
                if this_second >= next_second {
                    next_second = this_second + 1;
                    if link_changed || this_second >= next_link_read {
                        link_changed = false;
                        local.read_link();
                        next_link_read = this_second + link_every(&local, watch.is_some());
                    }
                    if let (Some(gw), Some(pinger)) = (local.gateway, pinger.as_mut()) {
                        // A send the OS refuses for want of a route is a ping unanswered
                        // (the router cannot be reached); any other refusal (an IPv6 router,
                        // a full buffer) pinged nothing and blames nobody.
                        let sent = match pinger.send(gw, this_second as u16) {
                            Ok(()) => true,
                            Err(e) => no_route(&e),
                        };
                        if sent {
                            local.pinged(this_second, now);
                        }
                    }
                    while written < this_second - SETTLE_SECS {
                        written += 1;
                        let rec = second_record(written, &pkts, &answers, &local, up.ms(), down.ms());
                        let clean = rec.sent > 0 && rec.lost_up == 0 && rec.lost_down == 0;
                        clean_secs = if clean { clean_secs + 1 } else { 0 };
                        if let Ok(mut r) = ring.lock() {
                            r.push(rec);
                        }
                    }
                }
                let silent = now.saturating_duration_since(last_reply);
                if silent >= OUTAGE_AFTER && raised.is_none() {
                    // The link as it is now, for the scope (a change may be waiting its turn).
                    local.read_link();
                    let scope = scope_of(local.link_up, local.gateway_ok_now(now));
                    let detail = format!("no answer from HQ for {} s{}", silent.as_secs(), where_said(scope));
                    *raised = Some(Raised::Outage);
                    clean_secs = 0;
                    if out.send(PilotEvent::Raise { detail, scope }).await.is_err() {
                        return Err(());
                    }
                }
                let burst = last_loss.is_some_and(|l| now.saturating_duration_since(l) < BURST_WINDOW);
                let rested = probe_done_at.is_none_or(|d| now.saturating_duration_since(d) >= Duration::from_secs(2));
                let look = match *raised {
                    None => burst && silent < OUTAGE_AFTER,
                    Some(_) => clean_secs >= CLEAN_SECONDS,
                };
                if look && !probing && rested {
                    probing = true;
                    let (addr, codec, tx, clearing) = (t.addr, t.codec, probe_tx.clone(), raised.is_some());
                    tokio::spawn(async move {
                        let r = probe::run_with(addr, BURST_PROBE, codec, opts).await.ok();
                        let _ = tx.send((clearing, r)).await;
                    });
                }
            }
            r = sock.recv(&mut inb) => {
                let now = Instant::now();
                let Ok(len) = r else { continue };
                let Ok(rep) = Reply::decode(&inb[..len]) else { continue };
                if rep.session != session || rep.flush {
                    continue;
                }
                let Some(p) = pkts.iter_mut().find(|p| p.seq == rep.seq) else { continue };
                if p.reply.is_some() {
                    continue;
                }
                let inside = rep.reflector_tx_ns.saturating_sub(rep.reflector_rx_ns);
                let rtt_ms = ns(now).saturating_sub(p.sent_ns).saturating_sub(inside) as f64 / 1e6;
                p.reply = Some(Got { rtt_ms });
                last_reply = now;
                let at = answers.partition_point(|a| a.0 < rep.seq);
                answers.insert(at, (rep.seq, rep.reflector_count));
                if answers.len() > KEEP {
                    answers.remove(0);
                }
                if rtt_recent.len() == RTT_RECENT {
                    rtt_recent.pop_front();
                }
                rtt_recent.push_back(rtt_ms);
                lost_after = lost_after_of(&rtt_recent);
                down.push(rep.reflector_tx_ns, ns(now));
                // Upstream: in the reflector's arrival order (its count), our send stamps
                // against its receive stamps.
                if last_refl_rx.is_none_or(|(c, _)| rep.reflector_count > c) {
                    up.push(rep.sender_ts_ns, rep.reflector_rx_ns);
                    last_refl_rx = Some((rep.reflector_count, rep.reflector_rx_ns));
                }
                if *raised == Some(Raised::Outage) {
                    // Answers again: the outage is over; the clear waits for clean seconds
                    // and a clean voice probe like any other.
                    *raised = Some(Raised::Loss);
                }
            }
            echo = async {
                match pinger.as_mut() {
                    Some(p) => p.recv().await,
                    None => std::future::pending().await,
                }
            } => local.answered(echo, Instant::now()),
            r = async {
                match watch.as_mut() {
                    Some(w) => w.changed().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Err(e) = r {
                    tracing::info!(
                        "link change events ended ({e}): the link is read every {LINK_EVERY_SECS} s"
                    );
                    watch = None;
                }
                // Read at the next second's turn: a burst of changes is one read.
                link_changed = true;
            }
            Some((clearing, r)) = probe_rx.recv() => {
                probing = false;
                probe_done_at = Some(Instant::now());
                let (bad, what) = judge(r.as_ref());
                tracing::debug!(clearing, bad, "pilot: voice probe: {what}");
                if clearing {
                    if bad {
                        clean_secs = 0;
                    } else if raised.take().is_some() {
                        last_loss = None;
                        if out.send(PilotEvent::Clear).await.is_err() {
                            return Err(());
                        }
                    }
                } else if bad && raised.is_none() {
                    let scope = scope_of(local.link_up, local.gateway_ok_now(Instant::now()));
                    *raised = Some(Raised::Loss);
                    clean_secs = 0;
                    let detail = format!("{what}{}", where_said(scope));
                    if out.send(PilotEvent::Raise { detail, scope }).await.is_err() {
                        return Err(());
                    }
                }
            }
        }
    }
}

fn where_said(scope: Option<NetScope>) -> &'static str {
    match scope {
        Some(NetScope::Home) => " (the home network: the link or the home router)",
        Some(NetScope::BeyondHome) => " (beyond the home: the home router answers)",
        None => "",
    }
}

/// Whether a voice probe's result is bad (either direction at [`LOSS_PCT`] or more, or no
/// answer at all) and what it found, in words.
fn judge(r: Option<&probe::ProbeResult>) -> (bool, String) {
    let secs = BURST_PROBE.as_secs();
    let Some(r) = r.filter(|r| r.answered()) else {
        return (true, format!("no answer from HQ to a {secs} s voice probe"));
    };
    let up = r.stats.loss_up_pct.unwrap_or(0.0);
    let down = r.stats.loss_down_pct.unwrap_or(0.0);
    let (dir, worst) = if up >= down {
        ("upstream", up)
    } else {
        ("downstream", down)
    };
    (
        worst >= LOSS_PCT,
        format!("{worst:.0} % loss {dir} over {secs} s (voice-shaped probe)"),
    )
}

/// Replies whose RTT sets how long an unanswered packet waits before it counts as lost.
const RTT_RECENT: usize = 16;

/// The median of up to [`RTT_RECENT`] values, without allocating (more are ignored).
fn median(v: impl Iterator<Item = f64>) -> Option<f64> {
    let mut a = [0f64; RTT_RECENT];
    let mut n = 0;
    for x in v.take(RTT_RECENT) {
        a[n] = x;
        n += 1;
    }
    let a = &mut a[..n];
    a.sort_unstable_by(f64::total_cmp);
    shiftready_core::stats::quantile(a, 0.5)
}

/// How long a pilot packet waits for its reply before it counts as lost: four times the
/// recent median RTT (100 ms before any reply), within 0.4–1.5 s.
fn lost_after_of(rtt_recent: &VecDeque<f64>) -> Duration {
    let rtt_p50 = median(rtt_recent.iter().copied()).unwrap_or(100.0);
    Duration::from_secs_f64((4.0 * rtt_p50 / 1000.0).clamp(0.4, 1.5))
}

/// The record of wall second `second` from the packets sent in it (`answers` sorted by
/// sequence number). Allocates nothing.
fn second_record(
    second: i64,
    pkts: &VecDeque<Pkt>,
    answers: &[(u32, u32)],
    local: &Local,
    jitter_up: Option<f32>,
    jitter_down: Option<f32>,
) -> SecondRecord {
    let mine = || pkts.iter().filter(|p| p.second == second);
    let rtt = median(mine().filter_map(|p| p.reply.map(|g| g.rtt_ms))).map(|v| v as f32);
    let lost = || mine().filter(|p| p.reply.is_none() && !p.unsent);
    let unsent = mine().filter(|p| p.unsent).count() as f64;
    let split = lost()
        .map(|p| split_one(answers, p.seq))
        .fold(Split::default(), |a, s| Split {
            up: a.up + s.up,
            down: a.down + s.down,
        });
    // Rounded once as a whole: each direction rounded alone counted a packet split half and
    // half (a burst across two seconds) as lost both ways.
    let lost_n = lost().count() as f64;
    let up = split.up.round().clamp(0.0, lost_n);
    let (gateway_rtt_ms, gateway_ok) = local.ping_of(second);
    SecondRecord {
        at: DateTime::from_timestamp(second, 0).unwrap_or_default(),
        rtt_ms: rtt,
        sent: mine().count().min(255) as u8,
        lost_up: (up + unsent).min(255.0) as u8,
        lost_down: (lost_n - up).min(255.0) as u8,
        jitter_up_ms: jitter_up,
        jitter_down_ms: jitter_down,
        gateway_rtt_ms,
        gateway_ok,
        link_up: local.link_up,
        link: local.link,
        wifi_signal_dbm: local.wifi_dbm,
        headset: None,
    }
}

/// One of the two sources of the `network_degraded` incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The once-a-minute network monitor (3-of-5 hysteresis).
    Monitor,
    /// The pilot stream.
    Pilot,
}

/// Who holds the one `network_degraded` incident open (pure): it starts when the first
/// source raises and ends when the last one clears; a source raising while the other holds
/// it, or clearing while the other still does, changes nothing that HQ sees.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Holders {
    monitor: bool,
    pilot: bool,
}

impl Holders {
    /// `holder` raises (`true`) or clears; `Some(true)`: record the incident's start,
    /// `Some(false)`: its end, `None`: nothing to record.
    pub fn set(&mut self, holder: Holder, on: bool) -> Option<bool> {
        let before = self.open();
        match holder {
            Holder::Monitor => self.monitor = on,
            Holder::Pilot => self.pilot = on,
        }
        let after = self.open();
        (before != after).then_some(after)
    }

    /// Whether the incident is open.
    pub fn open(&self) -> bool {
        self.monitor || self.pilot
    }
}

/// The shared ring for a daemon.
pub fn new_ring() -> SharedRing {
    Arc::new(std::sync::Mutex::new(super::ring::Ring::new(
        super::ring::RING_SECONDS,
    )))
}

/// Whether a refused send means the router cannot be reached from here (no route to it).
fn no_route(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_missing_route_counts_as_an_unanswered_router_ping() {
        use std::io::{Error, ErrorKind};
        assert!(no_route(&Error::from(ErrorKind::NetworkUnreachable)));
        assert!(no_route(&Error::from(ErrorKind::HostUnreachable)));
        // An IPv6 router (not probed) or a full send buffer says nothing of the router.
        assert!(!no_route(&Error::other("only IPv4 gateways are probed")));
        assert!(!no_route(&Error::from(ErrorKind::WouldBlock)));
    }

    use super::*;

    #[test]
    fn the_stream_fits_the_bandwidth_floor() {
        // 76 B payload + 28 B IPv4/UDP = 104 B, twice a second = 1664 bit/s ≤ 2 kbit/s.
        assert_eq!(PAYLOAD, 76);
        assert!((wire_bits_per_second() - 1664.0).abs() < 1e-9);
        assert!(wire_bits_per_second() <= 2000.0);
        // A request of that length is valid and carries the token.
        let mut b = [0u8; PAYLOAD];
        let tok = Token::from_parts(*b"subject!", 1, [7; 16]);
        Request {
            session: 1,
            seq: 2,
            sender_ts_ns: 3,
            flush: false,
        }
        .encode_with(&mut b, Some(&tok));
        assert!(Request::decode(&b).is_ok());
        assert_eq!(Request::token(&b), Some(tok));
    }

    #[test]
    fn losses_split_by_the_reflectors_count() {
        // 0..=9 sent; 3 and 4 unanswered. The reflector counted 3 at seq 2 and 5 at seq 5:
        // one of the two reached it (down), one did not (up).
        let answers = [(0, 1), (1, 2), (2, 3), (5, 5), (6, 6)];
        let s = split_losses(&answers, &[3, 4]);
        assert_eq!(s, vec![Split { up: 0.5, down: 0.5 }; 2]);
        // Both reached it: downstream only.
        let s = split_losses(&[(2, 3), (5, 6)], &[3, 4]);
        assert_eq!(s, vec![Split { up: 0.0, down: 1.0 }; 2]);
        // Neither: upstream only; at the start of the session too.
        assert_eq!(
            split_losses(&[(2, 1)], &[0, 1]),
            vec![Split { up: 1.0, down: 0.0 }; 2]
        );
        // No answer after it yet: counted upstream until known.
        assert_eq!(
            split_losses(&[(2, 3)], &[3]),
            vec![Split { up: 1.0, down: 0.0 }]
        );
    }

    #[test]
    fn one_incident_for_the_monitor_and_the_pilot() {
        use Holder::{Monitor, Pilot};
        let mut h = Holders::default();
        // The pilot first, the monitor joins, the pilot clears, then the monitor: one start,
        // one end, at the first raise and the last clear.
        assert_eq!(h.set(Pilot, true), Some(true));
        assert_eq!(h.set(Monitor, true), None);
        assert_eq!(h.set(Pilot, false), None);
        assert!(h.open());
        assert_eq!(h.set(Monitor, false), Some(false));
        // The monitor first; the pilot's raise and clear inside it record nothing.
        assert_eq!(h.set(Monitor, true), Some(true));
        assert_eq!(h.set(Pilot, true), None);
        assert_eq!(h.set(Monitor, false), None);
        assert_eq!(h.set(Pilot, false), Some(false));
        // A repeated raise or clear of one source is nothing new.
        assert_eq!(h.set(Pilot, true), Some(true));
        assert_eq!(h.set(Pilot, true), None);
        assert_eq!(h.set(Pilot, false), Some(false));
        assert_eq!(h.set(Pilot, false), None);
        assert!(!h.open());
    }

    #[test]
    fn scope_from_link_and_router() {
        assert_eq!(scope_of(Some(false), Some(true)), Some(NetScope::Home));
        assert_eq!(scope_of(Some(true), Some(false)), Some(NetScope::Home));
        assert_eq!(scope_of(Some(true), Some(true)), Some(NetScope::BeyondHome));
        assert_eq!(scope_of(Some(true), None), None);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        // Transit times 10, 12, 11 ms: |D| = 2, 1 ms; J = 2/16 = 0.125, then
        // 0.125 + (1 − 0.125)/16 = 0.1796875 ms.
        let mut j = Jitter::default();
        for (s, r) in [
            (0u64, 10_000_000u64),
            (20_000_000, 32_000_000),
            (40_000_000, 51_000_000),
        ] {
            j.push(s, r);
        }
        assert!((f64::from(j.ms().unwrap()) - 0.1796875).abs() < 1e-6);
        let same = shiftready_core::stats::rfc3550_jitter([
            (0u64, 10_000_000u64),
            (20_000_000, 32_000_000),
            (40_000_000, 51_000_000),
        ])
        .unwrap();
        assert!((f64::from(j.ms().unwrap()) - same / 1e6).abs() < 1e-6);
    }

    #[test]
    fn a_second_is_written_from_its_packets() {
        let t = Instant::now();
        let p = |seq, second, reply: Option<(f64, u32)>| Pkt {
            seq,
            second,
            sent: t,
            sent_ns: 0,
            unsent: false,
            reply: reply.map(|(rtt_ms, _count): (f64, u32)| Got { rtt_ms }),
            counted_lost: true,
        };
        let pkts: VecDeque<Pkt> = [
            p(0, 100, Some((20.0, 1))),
            p(1, 100, Some((30.0, 2))),
            p(2, 101, None),
            p(3, 101, Some((25.0, 4))),
        ]
        .into();
        let answers = [(0, 1), (1, 2), (3, 4)];
        let local = Local {
            link_up: Some(true),
            link: Some("wired"),
            pings: [Ping {
                second: 101,
                sent: t,
                rtt_ms: Some(0.5),
            }]
            .into(),
            ..Local::default()
        };
        let a = second_record(100, &pkts, &answers, &local, Some(1.0), Some(2.0));
        assert_eq!(
            (a.sent, a.lost_up, a.lost_down, a.rtt_ms),
            (2, 0, 0, Some(25.0))
        );
        assert_eq!((a.gateway_ok, a.gateway_rtt_ms), (None, None));
        let b = second_record(101, &pkts, &answers, &local, None, None);
        // Seq 2 reached the reflector (count 2 → 4): its reply was lost.
        assert_eq!(
            (b.sent, b.lost_up, b.lost_down, b.rtt_ms),
            (2, 0, 1, Some(25.0))
        );
        assert_eq!((b.gateway_ok, b.gateway_rtt_ms), (Some(true), Some(0.5)));
        assert_eq!(b.at.timestamp(), 101);
    }

    #[test]
    fn a_lost_packet_split_across_directions_is_counted_once() {
        // Found in review: seq 3 (second 100) and seq 4 (second 101) lost, and the
        // reflector's count says one of the two reached it (3 at seq 2, 5 at seq 5): each is
        // half up, half down. Rounding each direction alone counted each as lost both ways.
        let t = Instant::now();
        let p = |seq, second, answered: bool| Pkt {
            seq,
            second,
            sent: t,
            sent_ns: 0,
            unsent: false,
            reply: answered.then_some(Got { rtt_ms: 20.0 }),
            counted_lost: true,
        };
        let pkts: VecDeque<Pkt> = [
            p(2, 100, true),
            p(3, 100, false),
            p(4, 101, false),
            p(5, 101, true),
        ]
        .into();
        let answers = [(2, 3), (5, 5)];
        let local = Local::default();
        for second in [100, 101] {
            let r = second_record(second, &pkts, &answers, &local, None, None);
            assert_eq!(
                u32::from(r.lost_up) + u32::from(r.lost_down),
                1,
                "second {second}: one packet lost, counted {} up and {} down",
                r.lost_up,
                r.lost_down
            );
        }
    }

    #[test]
    fn router_pings_are_judged_once_answered_or_overdue() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut l = Local::default();
        assert_eq!(l.gateway_ok_now(t), None, "not pinged");
        l.pinged(100, t);
        // Sent 200 ms ago, no answer yet: not known, not silent.
        assert_eq!(l.gateway_ok_now(t + ms(200)), None);
        l.answered(100, t + ms(3));
        assert_eq!(l.gateway_ok_now(t + ms(200)), Some(true));
        let (rtt, ok) = l.ping_of(100);
        assert_eq!(ok, Some(true));
        assert!((rtt.unwrap() - 3.0).abs() < 0.01, "{rtt:?}");
        // Two pings unanswered past PING_WAIT: the router is silent; one answered among the
        // last two is enough.
        l.pinged(101, t + ms(1000));
        l.pinged(102, t + ms(2000));
        assert_eq!(
            l.gateway_ok_now(t + ms(2500)),
            Some(true),
            "101 overdue, 100 answered"
        );
        assert_eq!(l.gateway_ok_now(t + ms(3100)), Some(false));
        assert_eq!(l.ping_of(101), (None, Some(false)));
        // A late answer still counts for its second; an answer to no ping of ours is ignored.
        l.answered(102, t + ms(3200));
        l.answered(7, t + ms(3200));
        assert_eq!(l.gateway_ok_now(t + ms(3300)), Some(true));
        assert_eq!(l.ping_of(102).1, Some(true));
        assert_eq!(l.ping_of(99), (None, None), "not pinged in that second");
        // Only the last PINGS_KEPT are kept.
        for s in 0..20 {
            l.pinged(200 + s, t);
        }
        assert_eq!(l.pings.len(), PINGS_KEPT);
        assert_eq!(
            l.pings.front().map(|p| p.second),
            Some(220 - PINGS_KEPT as i64)
        );
    }

    #[test]
    fn the_median_allocates_nothing_and_takes_at_most_sixteen() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median(std::iter::empty()), None);
        // The first sixteen only.
        assert_eq!(median((0..16).map(f64::from).chain([1e9; 40])), Some(7.5));
        let mut recent: VecDeque<f64> = VecDeque::new();
        assert_eq!(lost_after_of(&recent), Duration::from_millis(400));
        recent.extend([200.0, 250.0, 300.0]);
        assert_eq!(lost_after_of(&recent), Duration::from_secs(1));
        recent.extend([900.0; 10]);
        assert_eq!(lost_after_of(&recent), Duration::from_millis(1500));
    }

    #[test]
    fn a_voice_probe_is_judged_on_either_direction() {
        assert!(judge(None).0);
        assert!(judge(None).1.contains("no answer from HQ"));
    }
}
