//! The per-second ring buffer of what the daemon saw during a shift (issue 15): the pilot
//! stream's RTT, loss and jitter per direction, the home router ping, the link and the
//! headset, one [`SecondRecord`] a second.
//!
//! The pilot (`daemon/pilot.rs`) pushes a record every second; the per-minute `sample` events
//! ([`Ring::minute`]) and a `call_drop`'s history ([`Ring::last`]) are read from it. Slots are
//! indexed by the Unix second, so a second that was never pushed (the daemon asleep, the pilot
//! stopped) reads as missing (`null` everywhere), never as a copy of a neighbour. The buffer
//! is allocated once; a push moves the record into its slot.

use chrono::{DateTime, Duration, DurationRound, Utc};
use proto::policy::Codec;
use proto::sample::{MinuteSample, Seconds};
use shiftready_core::{emodel, stats};

/// How many seconds the daemon keeps: 16 minutes, so a `call_drop` can carry the full
/// 15 minutes before the report even a little while after it.
pub const RING_SECONDS: usize = 960;

/// One second of what the daemon saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecondRecord {
    /// The second (UTC, whole second; a push truncates any fraction).
    pub at: DateTime<Utc>,
    /// Pilot RTT to HQ's reflector (median of the second's replies); `None`: no reply.
    pub rtt_ms: Option<f32>,
    /// Pilot packets sent in this second.
    pub sent: u8,
    /// Of those, lost on the way to the reflector (its count told us).
    pub lost_up: u8,
    /// Of those that reached the reflector, replies that never came back.
    pub lost_down: u8,
    /// RFC 3550 interarrival jitter per direction, at the end of the second.
    pub jitter_up_ms: Option<f32>,
    pub jitter_down_ms: Option<f32>,
    /// The home router's ping RTT; `None` when it did not answer or was not pinged.
    pub gateway_rtt_ms: Option<f32>,
    /// Whether the home router answered (`None`: not pinged, no gateway known).
    pub gateway_ok: Option<bool>,
    /// Whether the default route's link was up.
    pub link_up: Option<bool>,
    /// The link kind (`wired`, `wifi`, `cellular`, `other`).
    pub link: Option<&'static str>,
    /// Wi-Fi signal, dBm.
    pub wifi_signal_dbm: Option<i16>,
    /// Whether a headset with a microphone was present (filled from [`Ring::set_headset`]
    /// when the pusher leaves it `None`).
    pub headset: Option<bool>,
}

impl SecondRecord {
    /// Upstream loss of this second, percent of the packets sent (`None`: nothing sent).
    pub fn loss_up_pct(&self) -> Option<f32> {
        (self.sent > 0)
            .then(|| 100.0 * f32::from(self.lost_up.min(self.sent)) / f32::from(self.sent))
    }

    /// Downstream loss of this second, percent of the packets that reached the reflector
    /// (the same convention as the voice probe's `loss_down_pct`); `None` when none did.
    pub fn loss_down_pct(&self) -> Option<f32> {
        let reached = self.sent.saturating_sub(self.lost_up);
        (reached > 0).then(|| 100.0 * f32::from(self.lost_down.min(reached)) / f32::from(reached))
    }

    /// The MOS (ITU-T G.107 via the core's E-model) of this second: its RTT, the worse
    /// direction's jitter and loss. A second whose every packet was lost scores with 100 %
    /// loss (and no delay term); a second with nothing sent has none.
    pub fn mos(&self, codec: Codec) -> Option<f64> {
        if self.sent == 0 {
            return None;
        }
        let loss = self
            .loss_up_pct()
            .unwrap_or(0.0)
            .max(self.loss_down_pct().unwrap_or(100.0));
        let jitter = self
            .jitter_up_ms
            .unwrap_or(0.0)
            .max(self.jitter_down_ms.unwrap_or(0.0));
        let rtt = match self.rtt_ms {
            Some(r) => r,
            None if loss >= 100.0 => 0.0,
            None => return None,
        };
        Some(emodel::score(codec, f64::from(rtt), f64::from(jitter), f64::from(loss)).1)
    }
}

/// A fixed-capacity ring of [`SecondRecord`]s, one slot per second.
#[derive(Debug)]
pub struct Ring {
    slots: Vec<Option<SecondRecord>>,
    /// The latest second pushed (Unix seconds).
    head: Option<i64>,
    /// The earliest second pushed since the ring was made or last started afresh (what is
    /// held is `max(tail, head - capacity + 1)..=head`).
    tail: i64,
    /// The headset state from [`Ring::set_headset`], filled into later records.
    headset: Option<bool>,
    /// The codec the per-second MOS assumes (the policy's).
    codec: Codec,
}

/// The shared handle the pilot writes and the sample/drop code reads.
pub type SharedRing = std::sync::Arc<std::sync::Mutex<Ring>>;

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(1)).unwrap_or(t)
}

fn median_p95(mut v: Vec<f64>) -> (Option<f32>, Option<f32>) {
    v.sort_by(f64::total_cmp);
    (
        stats::quantile(&v, 0.5).map(|x| x as f32),
        stats::quantile(&v, 0.95).map(|x| x as f32),
    )
}

fn mean(v: impl Iterator<Item = f32>) -> Option<f32> {
    let (n, sum) = v.fold((0u32, 0f64), |(n, s), x| (n + 1, s + f64::from(x)));
    (n > 0).then(|| (sum / f64::from(n)) as f32)
}

impl Ring {
    /// A ring holding the last `capacity_secs` seconds (at least one); the daemon uses
    /// [`RING_SECONDS`].
    pub fn new(capacity_secs: usize) -> Ring {
        let cap = capacity_secs.max(1);
        let mut slots = Vec::with_capacity(cap);
        slots.resize_with(cap, || None);
        Ring {
            slots,
            head: None,
            tail: 0,
            headset: None,
            codec: Codec::default(),
        }
    }

    /// The number of seconds the ring can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The codec the per-second MOS assumes (the site policy's `network.codec`).
    pub fn set_codec(&mut self, codec: Codec) {
        self.codec = codec;
    }

    /// The latest second pushed.
    pub fn latest(&self) -> Option<DateTime<Utc>> {
        self.head.and_then(|t| DateTime::from_timestamp(t, 0))
    }

    fn index(&self, t: i64) -> usize {
        t.rem_euclid(self.slots.len() as i64) as usize
    }

    fn get(&self, t: i64) -> Option<&SecondRecord> {
        self.slots[self.index(t)]
            .as_ref()
            .filter(|r| r.at.timestamp() == t)
    }

    fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }

    /// Stores the record of its second. Seconds skipped since the latest push stay missing;
    /// a second already held (the clock stepped back a little, or a late correction) is
    /// replaced. A jump further back than the ring holds (the clock was reset) starts afresh.
    pub fn push(&mut self, mut s: SecondRecord) {
        s.at = whole_second(s.at);
        if s.headset.is_none() {
            s.headset = self.headset;
        }
        let t = s.at.timestamp();
        let cap = self.slots.len() as i64;
        match self.head {
            Some(h) if t > h => {
                if t - h >= cap {
                    self.clear();
                    self.tail = t;
                } else {
                    for gap in h + 1..t {
                        let i = self.index(gap);
                        self.slots[i] = None;
                    }
                }
                self.head = Some(t);
            }
            Some(h) if h - t >= cap => {
                self.clear();
                self.head = Some(t);
                self.tail = t;
            }
            Some(_) => self.tail = self.tail.min(t),
            None => {
                self.head = Some(t);
                self.tail = t;
            }
        }
        let i = self.index(t);
        self.slots[i] = Some(s);
    }

    /// The headset came or went: recorded on the current second (if already pushed) and on
    /// every later record pushed without a headset state of its own.
    pub fn set_headset(&mut self, present: bool) {
        self.set_headset_at(Utc::now(), present);
    }

    /// [`Ring::set_headset`] at a given time (the current second is `at`'s).
    pub fn set_headset_at(&mut self, at: DateTime<Utc>, present: bool) {
        self.headset = Some(present);
        let t = whole_second(at).timestamp();
        let i = self.index(t);
        if let Some(r) = self.slots[i].as_mut().filter(|r| r.at.timestamp() == t) {
            r.headset = Some(present);
        }
    }

    /// The seconds `from..=to` (Unix seconds) as columns; missing seconds are `null`.
    fn columns(&self, from: i64, to: i64) -> Seconds {
        let n = (to - from + 1).max(0) as usize;
        let mut out = Seconds {
            start: DateTime::from_timestamp(from, 0).unwrap_or_default(),
            rtt_ms: Vec::with_capacity(n),
            loss_up_pct: Vec::with_capacity(n),
            loss_down_pct: Vec::with_capacity(n),
            jitter_ms: Vec::with_capacity(n),
            gateway_rtt_ms: Vec::with_capacity(n),
            gateway_ok: Vec::with_capacity(n),
            link_up: Vec::with_capacity(n),
            wifi_signal_dbm: Vec::with_capacity(n),
            headset: Vec::with_capacity(n),
        };
        for t in from..=to {
            let r = self.get(t);
            out.rtt_ms.push(r.and_then(|r| r.rtt_ms));
            out.loss_up_pct.push(r.and_then(SecondRecord::loss_up_pct));
            out.loss_down_pct
                .push(r.and_then(SecondRecord::loss_down_pct));
            out.jitter_ms.push(r.and_then(|r| r.jitter_down_ms));
            out.gateway_rtt_ms.push(r.and_then(|r| r.gateway_rtt_ms));
            out.gateway_ok.push(r.and_then(|r| r.gateway_ok));
            out.link_up.push(r.and_then(|r| r.link_up));
            out.wifi_signal_dbm.push(r.and_then(|r| r.wifi_signal_dbm));
            out.headset.push(r.and_then(|r| r.headset));
        }
        out
    }

    /// The last `n` seconds up to the latest one pushed (fewer if the ring holds fewer); an
    /// empty [`Seconds`] (starting now) when nothing was pushed yet. Jitter is downstream.
    pub fn last(&self, n: usize) -> Seconds {
        let Some(h) = self.head else {
            return Seconds {
                start: whole_second(Utc::now()),
                ..Seconds::default()
            };
        };
        let held = (h - self.tail + 1).clamp(0, self.slots.len() as i64);
        let n = (n as i64).min(held);
        if n == 0 {
            return Seconds {
                start: DateTime::from_timestamp(h + 1, 0).unwrap_or_default(),
                ..Seconds::default()
            };
        }
        self.columns(h - n + 1, h)
    }

    /// The records of the seconds `from..to` that the ring holds, oldest first.
    pub fn records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&SecondRecord> {
        let (from, to) = (whole_second(from).timestamp(), whole_second(to).timestamp());
        (from..to).filter_map(|t| self.get(t)).collect()
    }

    /// The minute starting at `start` (60 seconds from it) summarised: RTT median and 95th
    /// percentile over the seconds with a reply; jitter the mean of the seconds' values;
    /// loss per direction from the summed packet counts; the lowest per-second MOS; the
    /// gateway's median RTT and the share of its pings unanswered; the last link kind seen;
    /// the seconds the link was down; the weakest Wi-Fi signal; the headset state of the last
    /// second that had one. Noise is left `None` (the caller adds it).
    pub fn minute(&self, start: DateTime<Utc>) -> MinuteSample {
        let from = whole_second(start);
        let recs = self.records(from, from + Duration::seconds(60));
        let rtt: Vec<f64> = recs
            .iter()
            .filter_map(|r| r.rtt_ms.map(f64::from))
            .collect();
        let (rtt_p50_ms, rtt_p95_ms) = median_p95(rtt);
        let gw: Vec<f64> = recs
            .iter()
            .filter_map(|r| r.gateway_rtt_ms.map(f64::from))
            .collect();
        let (gateway_rtt_p50_ms, _) = median_p95(gw);
        let (sent, lost_up, lost_down) = recs.iter().fold((0u32, 0u32, 0u32), |(s, u, d), r| {
            let lu = r.lost_up.min(r.sent);
            (
                s + u32::from(r.sent),
                u + u32::from(lu),
                d + u32::from(r.lost_down.min(r.sent - lu)),
            )
        });
        let reached = sent - lost_up;
        let pinged: Vec<bool> = recs.iter().filter_map(|r| r.gateway_ok).collect();
        MinuteSample {
            seconds: recs.len() as u16,
            rtt_p50_ms,
            rtt_p95_ms,
            jitter_up_ms: mean(recs.iter().filter_map(|r| r.jitter_up_ms)),
            jitter_down_ms: mean(recs.iter().filter_map(|r| r.jitter_down_ms)),
            loss_up_pct: (sent > 0).then(|| 100.0 * lost_up as f32 / sent as f32),
            loss_down_pct: (reached > 0).then(|| 100.0 * lost_down as f32 / reached as f32),
            mos_min: recs
                .iter()
                .filter_map(|r| r.mos(self.codec))
                .min_by(f64::total_cmp)
                .map(|m| m as f32),
            gateway_rtt_p50_ms,
            gateway_loss_pct: (!pinged.is_empty()).then(|| {
                100.0 * pinged.iter().filter(|ok| !**ok).count() as f32 / pinged.len() as f32
            }),
            link: recs.iter().rev().find_map(|r| r.link.map(str::to_string)),
            link_down_seconds: recs.iter().filter(|r| r.link_up == Some(false)).count() as u16,
            wifi_signal_dbm: recs.iter().filter_map(|r| r.wifi_signal_dbm).min(),
            headset: recs.iter().rev().find_map(|r| r.headset),
            noise_dba: None,
            noise_class: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-12-02T14:30:00Z".parse().unwrap()
    }

    fn rec(at: DateTime<Utc>, rtt: f32) -> SecondRecord {
        SecondRecord {
            at,
            rtt_ms: Some(rtt),
            sent: 2,
            jitter_up_ms: Some(1.0),
            jitter_down_ms: Some(2.0),
            gateway_rtt_ms: Some(1.5),
            gateway_ok: Some(true),
            link_up: Some(true),
            link: Some("wired"),
            ..SecondRecord::default()
        }
    }

    fn secs(n: i64) -> Duration {
        Duration::seconds(n)
    }

    #[test]
    fn wraps_around_and_keeps_the_latest_capacity_seconds() {
        let mut r = Ring::new(10);
        for i in 0..25 {
            r.push(rec(t0() + secs(i), i as f32));
        }
        let s = r.last(100);
        assert_eq!(s.len(), 10, "only the capacity is held");
        assert!(s.is_well_formed());
        assert_eq!(s.start, t0() + secs(15));
        let want: Vec<Option<f32>> = (15..25).map(|i| Some(i as f32)).collect();
        assert_eq!(s.rtt_ms, want);
        // Overwritten slots do not answer for their old seconds.
        assert!(r.records(t0(), t0() + secs(15)).is_empty());
        assert_eq!(r.last(3).rtt_ms, vec![Some(22.0), Some(23.0), Some(24.0)]);
        assert_eq!(r.latest(), Some(t0() + secs(24)));
    }

    #[test]
    fn a_gap_in_time_is_kept_as_missing_seconds() {
        let mut r = Ring::new(RING_SECONDS);
        r.push(rec(t0(), 10.0));
        r.push(rec(t0() + secs(1), 11.0));
        // Fractions of a second are dropped.
        r.push(rec(t0() + secs(5) + Duration::milliseconds(700), 15.0));
        let s = r.last(6);
        assert_eq!(s.start, t0());
        assert_eq!(
            s.rtt_ms,
            vec![Some(10.0), Some(11.0), None, None, None, Some(15.0)]
        );
        assert_eq!(
            s.link_up,
            vec![Some(true), Some(true), None, None, None, Some(true)]
        );
        assert!(s.is_well_formed());
        // A gap longer than the ring clears it; a slot reused after a gap is not stale.
        let mut small = Ring::new(4);
        small.push(rec(t0(), 1.0));
        small.push(rec(t0() + secs(2), 3.0));
        small.push(rec(t0() + secs(5), 6.0)); // slot of t0+1 is reused as t0+5; t0+3, t0+4 empty
        assert_eq!(small.last(4).rtt_ms, vec![Some(3.0), None, None, Some(6.0)]);
        small.push(rec(t0() + secs(100), 7.0));
        assert_eq!(small.last(4).rtt_ms, vec![Some(7.0)], "started afresh");
    }

    #[test]
    fn a_clock_step_back_replaces_or_restarts() {
        let mut r = Ring::new(10);
        for i in 0..5 {
            r.push(rec(t0() + secs(i), i as f32));
        }
        r.push(rec(t0() + secs(2), 99.0));
        assert_eq!(r.latest(), Some(t0() + secs(4)));
        assert_eq!(r.last(5).rtt_ms[2], Some(99.0));
        // An hour back: nothing left of the future.
        r.push(rec(t0() - secs(3600), 5.0));
        assert_eq!(r.latest(), Some(t0() - secs(3600)));
        assert_eq!(r.last(10).rtt_ms.iter().flatten().count(), 1);
    }

    #[test]
    fn nothing_pushed_gives_empty_history_and_an_empty_minute() {
        let r = Ring::new(RING_SECONDS);
        assert!(r.last(900).is_empty());
        let m = r.minute(t0());
        assert_eq!(m, MinuteSample::default());
        assert_eq!(m.seconds, 0);
        assert_eq!(
            (m.rtt_p50_ms, m.loss_up_pct, m.mos_min, m.link),
            (None, None, None, None)
        );
    }

    #[test]
    fn a_minute_with_no_data_is_zero_seconds_and_nones() {
        let mut r = Ring::new(RING_SECONDS);
        for i in 0..60 {
            r.push(rec(t0() + secs(i), 20.0));
        }
        // The next minute was never pushed.
        let m = r.minute(t0() + secs(60));
        assert_eq!(m, MinuteSample::default());
        // The minute before is partly held: only its last pushed seconds count.
        r.push(rec(t0() + secs(61), 20.0));
        assert_eq!(r.minute(t0() + secs(60)).seconds, 1);
        assert_eq!(r.minute(t0() + secs(30)).seconds, 30 + 1);
    }

    #[test]
    fn minute_percentiles_are_the_median_and_p95_of_the_seconds() {
        let mut r = Ring::new(RING_SECONDS);
        // RTTs 1..=60 ms: median (linear between closest ranks) 30.5, p95 at rank
        // 0.95·59 = 56.05 → 57 + 0.05·(58 − 57) = 57.05.
        for i in 0..60 {
            r.push(rec(t0() + secs(i), (i + 1) as f32));
        }
        let m = r.minute(t0());
        assert_eq!(m.seconds, 60);
        assert!((m.rtt_p50_ms.unwrap() - 30.5).abs() < 1e-4, "{m:?}");
        assert!((m.rtt_p95_ms.unwrap() - 57.05).abs() < 1e-4, "{m:?}");
        assert_eq!(m.gateway_rtt_p50_ms, Some(1.5));
        assert_eq!(m.gateway_loss_pct, Some(0.0));
        assert_eq!(m.jitter_up_ms, Some(1.0));
        assert_eq!(m.jitter_down_ms, Some(2.0));
        assert_eq!(m.link.as_deref(), Some("wired"));
        assert_eq!(m.link_down_seconds, 0);
        assert_eq!((m.noise_dba, m.noise_class), (None, None));
        // A minute is the 60 seconds from its start, not a second more.
        r.push(rec(t0() + secs(60), 1000.0));
        assert_eq!(r.minute(t0()).rtt_p95_ms, m.rtt_p95_ms);
    }

    #[test]
    fn loss_per_direction_comes_from_the_packet_counts() {
        let mut r = Ring::new(RING_SECONDS);
        // 60 s at 2 packets: 120 sent. 6 lost upstream (5 %), and of the 114 that reached the
        // reflector 3 replies lost (3/114 = 2.6316 %).
        for i in 0..60 {
            let mut s = rec(t0() + secs(i), 20.0);
            if i < 6 {
                s.lost_up = 1;
            }
            if (10..13).contains(&i) {
                s.lost_down = 1;
            }
            r.push(s);
        }
        let m = r.minute(t0());
        assert!((m.loss_up_pct.unwrap() - 5.0).abs() < 1e-4, "{m:?}");
        assert!(
            (m.loss_down_pct.unwrap() - 300.0 / 114.0).abs() < 1e-4,
            "{m:?}"
        );
        // Per second: 1 of 2 is 50 % up; 1 of the 2 that arrived is 50 % down.
        let s = r.last(60);
        assert_eq!(s.loss_up_pct[0], Some(50.0));
        assert_eq!(s.loss_down_pct[0], Some(0.0));
        assert_eq!(s.loss_up_pct[10], Some(0.0));
        assert_eq!(s.loss_down_pct[10], Some(50.0));
        // Both lost upstream: up 100 %, down unknown (nothing reached the reflector).
        let all_up = SecondRecord {
            sent: 2,
            lost_up: 2,
            ..SecondRecord::default()
        };
        assert_eq!(
            (all_up.loss_up_pct(), all_up.loss_down_pct()),
            (Some(100.0), None)
        );
        // Nothing sent: no loss figure at all, not 0 %.
        let idle = SecondRecord::default();
        assert_eq!((idle.loss_up_pct(), idle.loss_down_pct()), (None, None));
    }

    #[test]
    fn mos_min_is_the_worst_second_by_the_emodel() {
        let mut r = Ring::new(RING_SECONDS);
        for i in 0..60 {
            let mut s = rec(t0() + secs(i), 40.0);
            if i == 30 {
                // One bad second: 1 of 2 lost upstream (50 %), 200 ms RTT, 25 ms jitter up.
                s.lost_up = 1;
                s.rtt_ms = Some(200.0);
                s.jitter_up_ms = Some(25.0);
            }
            r.push(s);
        }
        let m = r.minute(t0());
        // The worst second, by the core's G.107 model: one-way delay 200/2 + 2·25 + 20.
        let want = emodel::score(Codec::G711Plc, 200.0, 25.0, 50.0).1;
        assert!(
            (f64::from(m.mos_min.unwrap()) - want).abs() < 1e-4,
            "{m:?} vs {want}"
        );
        assert!(want < 2.5, "50 % loss is a bad call: {want}");
        // A good second scores near the G.711 ceiling, so the minimum really is the bad one.
        let good = rec(t0(), 40.0).mos(Codec::G711Plc).unwrap();
        assert!(good > 4.2, "{good}");
        // A second with every packet lost scores with 100 % loss.
        let dead = SecondRecord {
            sent: 2,
            lost_up: 2,
            ..SecondRecord::default()
        };
        let dead_mos = dead.mos(Codec::G711Plc).unwrap();
        assert!(
            (dead_mos - emodel::score(Codec::G711Plc, 0.0, 0.0, 100.0).1).abs() < 1e-9,
            "{dead_mos}"
        );
        // The codec is the policy's: G.711 without PLC is hurt more by the same loss.
        r.set_codec(Codec::G711);
        assert!(r.minute(t0()).mos_min.unwrap() < m.mos_min.unwrap());
    }

    #[test]
    fn gateway_link_wifi_and_headset_over_a_minute() {
        let mut r = Ring::new(RING_SECONDS);
        for i in 0..60 {
            let mut s = rec(t0() + secs(i), 20.0);
            s.link = Some("wifi");
            s.wifi_signal_dbm = Some(-50 - (i as i16 % 7));
            if i >= 45 {
                s.gateway_ok = Some(false);
                s.gateway_rtt_ms = None;
                s.link_up = Some(false);
                s.link = None;
            }
            r.push(s);
        }
        let m = r.minute(t0());
        assert_eq!(m.gateway_loss_pct, Some(25.0));
        assert_eq!(m.link_down_seconds, 15);
        assert_eq!(m.link.as_deref(), Some("wifi"));
        assert_eq!(m.wifi_signal_dbm, Some(-56));
        assert_eq!(m.headset, None, "never told");
    }

    #[test]
    fn headset_applies_to_the_current_second_and_later_ones() {
        let mut r = Ring::new(RING_SECONDS);
        r.push(rec(t0(), 20.0));
        r.push(rec(t0() + secs(1), 20.0));
        r.set_headset_at(t0() + secs(1) + Duration::milliseconds(400), false);
        r.push(rec(t0() + secs(2), 20.0));
        r.set_headset_at(t0() + secs(3), true); // before second 3 is pushed
        r.push(rec(t0() + secs(3), 20.0));
        // A pusher that knows better keeps its own value.
        let mut own = rec(t0() + secs(4), 20.0);
        own.headset = Some(false);
        r.push(own);
        assert_eq!(
            r.last(5).headset,
            vec![None, Some(false), Some(false), Some(true), Some(false)]
        );
        assert_eq!(
            r.minute(t0()).headset,
            Some(false),
            "the last second's state"
        );
        // set_headset uses the wall clock: records pushed now get it.
        let mut live = Ring::new(RING_SECONDS);
        live.set_headset(true);
        live.push(rec(Utc::now(), 20.0));
        assert_eq!(live.last(1).headset, vec![Some(true)]);
    }

    #[test]
    fn last_zero_and_the_shared_handle() {
        let ring: SharedRing = std::sync::Arc::new(std::sync::Mutex::new(Ring::new(RING_SECONDS)));
        ring.lock().unwrap().push(rec(t0(), 20.0));
        let g = ring.lock().unwrap();
        assert!(g.last(0).is_empty());
        assert_eq!(g.capacity(), RING_SECONDS);
        assert_eq!(g.last(900).len(), 1);
    }
}
