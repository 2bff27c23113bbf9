//! Pure statistics over the replies of one probe run: RTT, per-direction RFC 3550 jitter,
//! per-direction loss, reordering and duplicates. No I/O; exact tests.

use crate::emodel;
use proto::policy::Codec;
use serde::Serialize;
use std::collections::HashSet;
use std::net::SocketAddr;

/// One reply as the agent received it. Agent stamps are ns on the agent's monotonic clock,
/// reflector stamps ns on the reflector's; the two are never compared directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub seq: u32,
    /// When the agent sent the request.
    pub sent_ns: u64,
    /// When the reflector received it and when it sent the reply.
    pub refl_rx_ns: u64,
    pub refl_tx_ns: u64,
    /// The reflector's count of counted requests from this session, including this one.
    pub refl_count: u32,
    /// Whether this answers an end-of-run FLUSH request (not a voice packet).
    pub flush: bool,
    /// When the agent received the reply.
    pub recv_ns: u64,
}

/// The result of a probe run. Times in ms, losses in percent. `None` when there was nothing
/// to measure it from (no replies at all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeStats {
    /// Voice packets sent.
    pub sent: u32,
    /// Distinct voice packets answered.
    pub received: u32,
    /// Voice packets the reflector says it received (its count), if any reply told us.
    pub reflector_received: Option<u32>,
    pub rtt_ms_min: Option<f64>,
    pub rtt_ms_median: Option<f64>,
    pub rtt_ms_p95: Option<f64>,
    pub rtt_ms_max: Option<f64>,
    pub jitter_up_ms: Option<f64>,
    pub jitter_down_ms: Option<f64>,
    pub loss_up_pct: Option<f64>,
    pub loss_down_pct: Option<f64>,
    /// Replies that arrived after a reply to a later request (round trip).
    pub reordered: u32,
    /// Of those, requests the reflector received out of order (upstream).
    pub reordered_up: u32,
    /// Replies received more than once.
    pub duplicates: u32,
    pub r_factor: Option<f64>,
    pub mos: Option<f64>,
}

/// What one probe run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    pub reflector: SocketAddr,
    #[serde(flatten)]
    pub stats: ProbeStats,
    /// ICMP errors seen (port or host unreachable): something answered, the reflector not.
    pub icmp_errors: u32,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
}

impl ProbeResult {
    /// Whether any voice packet came back.
    pub fn answered(&self) -> bool {
        self.stats.received > 0
    }
}

/// The `p`-quantile (0..=1) of sorted values, by linear interpolation between closest ranks.
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// RFC 3550 §6.4.1 interarrival jitter over (send, receive) stamp pairs given in order of
/// arrival: J += (|D| − J)/16 with D = (Rj − Ri) − (Sj − Si) for consecutive arrivals.
/// Returns ns; `None` with fewer than two packets.
pub fn rfc3550_jitter(pairs: impl IntoIterator<Item = (u64, u64)>) -> Option<f64> {
    let mut prev: Option<(u64, u64)> = None;
    let mut j = None;
    for (s, r) in pairs {
        if let Some((ps, pr)) = prev {
            let d = (r as i128 - pr as i128) - (s as i128 - ps as i128);
            let jj: f64 = j.unwrap_or(0.0);
            j = Some(jj + ((d.abs() as f64) - jj) / 16.0);
        }
        prev = Some((s, r));
    }
    j
}

fn ms(ns: f64) -> f64 {
    ns / 1e6
}

/// Computes everything from the replies in the order they arrived, given how many voice
/// packets were sent (sequence numbers `0..sent`).
pub fn analyze(samples: &[Sample], sent: u32, codec: Codec) -> ProbeStats {
    // The reflector's count covers voice packets only; FLUSH replies carry it at the end.
    let reflector_received = samples.iter().map(|s| s.refl_count).max();
    let mut seen = HashSet::new();
    let mut duplicates = 0u32;
    let mut voice: Vec<&Sample> = Vec::new();
    for s in samples.iter().filter(|s| !s.flush && s.seq < sent) {
        if seen.insert(s.seq) {
            voice.push(s);
        } else {
            duplicates += 1;
        }
    }
    let received = voice.len() as u32;

    // RTT without the reflector's own residence time.
    let mut rtts: Vec<f64> = voice
        .iter()
        .map(|s| {
            let total = s.recv_ns.saturating_sub(s.sent_ns);
            let inside = s.refl_tx_ns.saturating_sub(s.refl_rx_ns);
            ms(total.saturating_sub(inside) as f64)
        })
        .collect();
    rtts.sort_by(f64::total_cmp);

    // Down: arrival order at the agent, reflector send stamps against agent receive stamps.
    let jitter_down = rfc3550_jitter(voice.iter().map(|s| (s.refl_tx_ns, s.recv_ns))).map(ms);
    // Up: arrival order at the reflector, which its count gives exactly; agent send stamps
    // against reflector receive stamps.
    let mut by_arrival_up: Vec<&&Sample> = voice.iter().collect();
    by_arrival_up.sort_by_key(|s| (s.refl_count, s.refl_rx_ns));
    let jitter_up = rfc3550_jitter(by_arrival_up.iter().map(|s| (s.sent_ns, s.refl_rx_ns))).map(ms);

    let mut reordered = 0;
    let mut max_seq = None;
    for s in &voice {
        match max_seq {
            Some(m) if s.seq < m => reordered += 1,
            _ => max_seq = Some(s.seq),
        }
    }
    let mut reordered_up = 0;
    let mut max_seq = None;
    for s in &by_arrival_up {
        match max_seq {
            Some(m) if s.seq < m => reordered_up += 1,
            _ => max_seq = Some(s.seq),
        }
    }

    let (loss_up, loss_down) = match reflector_received {
        Some(up) if sent > 0 => {
            // Duplicated requests could make the count exceed what was sent.
            let up = up.min(sent).max(received);
            let lu = 100.0 * (sent - up) as f64 / sent as f64;
            let ld = 100.0 * (up - received) as f64 / up as f64;
            (Some(lu), Some(ld))
        }
        _ => (None, None),
    };

    let median = quantile(&rtts, 0.5);
    let (r, m) = match (median, loss_up, loss_down) {
        (Some(rtt), Some(lu), Some(ld)) => {
            let jit = jitter_up.unwrap_or(0.0).max(jitter_down.unwrap_or(0.0));
            let (r, m) = emodel::score(codec, rtt, jit, lu.max(ld));
            (Some(r), Some(m))
        }
        _ => (None, None),
    };

    ProbeStats {
        sent,
        received,
        reflector_received,
        rtt_ms_min: rtts.first().copied(),
        rtt_ms_median: median,
        rtt_ms_p95: quantile(&rtts, 0.95),
        rtt_ms_max: rtts.last().copied(),
        jitter_up_ms: jitter_up,
        jitter_down_ms: jitter_down,
        loss_up_pct: loss_up,
        loss_down_pct: loss_down,
        reordered,
        reordered_up,
        duplicates,
        r_factor: r,
        mos: m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A clean run: request i sent at 20·i ms, reflector 1000 s ahead on its own clock,
    /// `up` and `down` one-way delays per packet.
    fn run(n: u32, up: impl Fn(u32) -> u64, down: impl Fn(u32) -> u64) -> Vec<Sample> {
        let mut v: Vec<Sample> = (0..n)
            .map(|i| {
                let sent = 20 * MS * i as u64;
                let rx = 1_000_000 * MS + sent + up(i);
                Sample {
                    seq: i,
                    sent_ns: sent,
                    refl_rx_ns: rx,
                    refl_tx_ns: rx + 10_000,
                    refl_count: 0,
                    flush: false,
                    recv_ns: sent + up(i) + 10_000 + down(i),
                }
            })
            .collect();
        let mut by_rx: Vec<usize> = (0..v.len()).collect();
        by_rx.sort_by_key(|&i| v[i].refl_rx_ns);
        for (k, &i) in by_rx.iter().enumerate() {
            v[i].refl_count = k as u32 + 1;
        }
        v.sort_by_key(|s| s.recv_ns);
        v
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.95), Some(4.8));
        assert_eq!(quantile(&[7.0], 0.95), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    /// RFC 3550 by hand: transit times 10, 14, 12 ms. D = 4 then −2 ms.
    /// J1 = 0 + (4 − 0)/16 = 0.25; J2 = 0.25 + (2 − 0.25)/16 = 0.359375 ms.
    #[test]
    fn rfc3550_jitter_by_hand() {
        let pairs = [(0, 10 * MS), (20 * MS, 34 * MS), (40 * MS, 52 * MS)];
        let j = rfc3550_jitter(pairs).unwrap() / 1e6;
        assert!((j - 0.359375).abs() < 1e-9, "{j}");
        assert_eq!(rfc3550_jitter([(0, 1)]), None);
    }

    #[test]
    fn constant_delay_has_no_jitter_and_clock_offset_cancels() {
        let s = run(250, |_| 15 * MS, |_| 25 * MS);
        let st = analyze(&s, 250, Codec::G711Plc);
        assert_eq!(st.received, 250);
        assert_eq!(st.jitter_up_ms, Some(0.0));
        assert_eq!(st.jitter_down_ms, Some(0.0));
        assert_eq!(st.loss_up_pct, Some(0.0));
        assert_eq!(st.loss_down_pct, Some(0.0));
        // RTT excludes the reflector's 10 µs residence.
        assert_eq!(st.rtt_ms_median, Some(40.0));
        assert_eq!(st.rtt_ms_min, Some(40.0));
        // d = 20 + 0 + 20 = 40 ms, no loss: R = 93.2 − 0.96.
        assert!((st.r_factor.unwrap() - 92.24).abs() < 1e-9);
    }

    #[test]
    fn jitter_lands_in_the_direction_that_has_it() {
        // Up alternates 10/16 ms: |D| = 6 ms every time, J → 6 ms; down is constant.
        let s = run(
            500,
            |i| if i % 2 == 0 { 10 * MS } else { 16 * MS },
            |_| 5 * MS,
        );
        let st = analyze(&s, 500, Codec::G711Plc);
        assert!((st.jitter_up_ms.unwrap() - 6.0).abs() < 0.01, "{st:?}");
        assert!(st.jitter_down_ms.unwrap().abs() < 1e-9);
        let s = run(
            500,
            |_| 5 * MS,
            |i| if i % 2 == 0 { 10 * MS } else { 16 * MS },
        );
        let st = analyze(&s, 500, Codec::G711Plc);
        assert!((st.jitter_down_ms.unwrap() - 6.0).abs() < 0.01, "{st:?}");
        assert!(st.jitter_up_ms.unwrap().abs() < 1e-9);
    }

    #[test]
    fn loss_is_split_by_the_reflector_count() {
        // 100 sent; 3 lost on the way up (never counted), 2 lost on the way down.
        let all = run(100, |_| MS, |_| MS);
        let lost_up = [10, 50, 90];
        let mut kept: Vec<Sample> = Vec::new();
        let mut count = 0;
        for s in all {
            if lost_up.contains(&s.seq) {
                continue;
            }
            count += 1;
            kept.push(Sample {
                refl_count: count,
                ..s
            });
        }
        kept.retain(|s| s.seq != 20 && s.seq != 99);
        // The last voice reply is lost, so the final count comes from a FLUSH reply.
        let last = *kept.last().unwrap();
        kept.push(Sample {
            seq: 100,
            flush: true,
            refl_count: count,
            recv_ns: last.recv_ns + 40 * MS,
            ..last
        });
        let st = analyze(&kept, 100, Codec::G711Plc);
        assert_eq!(st.reflector_received, Some(97));
        assert_eq!(st.received, 95);
        assert_eq!(st.loss_up_pct, Some(3.0));
        assert!((st.loss_down_pct.unwrap() - 100.0 * 2.0 / 97.0).abs() < 1e-9);
    }

    #[test]
    fn duplicates_and_reordering_are_counted() {
        let mut s = run(10, |_| MS, |_| MS);
        s.swap(3, 4); // reply 4 arrives before reply 3
        let dup = s[6];
        s.push(dup);
        let st = analyze(&s, 10, Codec::G711Plc);
        assert_eq!(st.duplicates, 1);
        assert_eq!(st.reordered, 1);
        assert_eq!(st.reordered_up, 0);
        assert_eq!(st.received, 10);
    }

    #[test]
    fn nothing_back_means_nothing_measured() {
        let st = analyze(&[], 250, Codec::G711Plc);
        assert_eq!(st.received, 0);
        assert_eq!(st.rtt_ms_median, None);
        assert_eq!(st.loss_up_pct, None);
        assert_eq!(st.mos, None);
    }
}
