//! The verdict on a dropped call, in words, from the per-second history the agent sent with it
//! (pure: no I/O, no clock; unit-tested with constructed histories).
//!
//! **Where HQ looks.** An agent reports a drop a few seconds to a couple of minutes after it
//! happened, so HQ weighs the problems that were still going on, or ended, in the
//! [`WINDOW_S`] (3 minutes) before the report (the event's `at`, the agent's clock, the same
//! clock as the history's seconds). A problem that ended earlier is not blamed. Without any
//! figure in that window the verdict is `unknown`; with figures and no problem it is `none`.
//!
//! **What counts as a problem** (each a run of seconds; runs a short gap apart are one):
//! - *home network*: the default route's link down (any length), or the home router unanswered
//!   for at least [`MIN_ROUTER_S`] s while the link was up (one lost ping is not an outage).
//!   "Wi-Fi" is said only when the link kind reported was `wifi`, "the home connection"
//!   otherwise.
//! - *beyond the home*: while the link was up and the home router did not fail to answer, the
//!   pilot stream to HQ lost packets: at least [`MIN_LOSS_S`] s whose mean loss in a direction
//!   is at least [`LOSS_PCT`] % (a second with no reply, i.e. no RTT, counts as 100 % where
//!   its loss is not given). With 5 pilot packets a second, one lost packet is a single 20 %
//!   second and is not blamed; two within a few seconds are. Mostly unanswered seconds make it
//!   "no replies from HQ" (an outage), whatever the loss columns say. A second with no pilot
//!   figure before the pilot's first or after its last figure is "not measured", never "no
//!   reply".
//! - *headset*: no headset with a microphone present.
//!
//! **Which one first.** Outages (home network, no replies from HQ) are the most severe, then a
//! headset gone, then loss beyond the home; between equals, the one closest before the report.
//! The others (one per kind) are appended after "; also". Times are UTC, as on every page.

use chrono::{DateTime, Utc};
use proto::sample::{CallDrop, Seconds};

/// How far before the report HQ looks for a problem, in seconds.
pub const WINDOW_S: i64 = 180;
/// Mean pilot loss in a direction (percent) that makes a stretch lossy.
pub const LOSS_PCT: f32 = 5.0;
/// The shortest lossy stretch blamed, in seconds.
pub const MIN_LOSS_S: usize = 3;
/// The shortest stretch of an unanswered home router (link up) blamed, in seconds.
pub const MIN_ROUTER_S: usize = 3;
/// Runs of a problem at most this many seconds apart are one (a flapping link).
const MERGE_GAP_S: usize = 2;
/// Lossy seconds at most this many seconds apart are one stretch (with a few packets a
/// second, a burst's seconds alternate between some loss and none).
const LOSS_GAP_S: usize = 4;

/// What the verdict blames, as the API and the filters name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    HomeNetwork,
    BeyondHome,
    Headset,
    None,
    Unknown,
}

impl Kind {
    /// Every kind, in the order the pages count them (our side first).
    pub const ALL: [Kind; 5] = [
        Kind::HomeNetwork,
        Kind::BeyondHome,
        Kind::Headset,
        Kind::None,
        Kind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::HomeNetwork => "home_network",
            Kind::BeyondHome => "beyond_home",
            Kind::Headset => "headset",
            Kind::None => "none",
            Kind::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind in words, for the pages.
    pub fn words(self) -> &'static str {
        match self {
            Kind::HomeNetwork => "Home network",
            Kind::BeyondHome => "Beyond the home",
            Kind::Headset => "Headset",
            Kind::None => "Nothing seen",
            Kind::Unknown => "No data",
        }
    }
}

/// HQ's verdict on one dropped call.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: Kind,
    /// The sentence IT reads: "home network: Wi-Fi lost for 8 s at 14:32:05 UTC".
    pub text: String,
    /// The seconds blamed first, `[from, to)` as indexes into the history (for the strip).
    pub span: Option<(usize, usize)>,
}

/// One problem found in the history.
struct Episode {
    kind: Kind,
    /// 3 outage, 2 headset gone, 1 loss.
    severity: u8,
    start: usize,
    /// Exclusive.
    end: usize,
    text: String,
}

/// The verdict on `drop`, reported at `reported`.
pub fn verdict(drop: &CallDrop, reported: DateTime<Utc>) -> Verdict {
    let s = &drop.seconds;
    let n = s.len();
    let unknown = |text: &str| Verdict {
        kind: Kind::Unknown,
        text: text.to_string(),
        span: None,
    };
    if n == 0 {
        return unknown(
            "no data: the report carried no per-second figures (the computer was not measuring)",
        );
    }
    // The report's second as an index into the history, and the window's first.
    let rep = (reported - s.start).num_seconds();
    let lo = rep - WINDOW_S;
    let in_window = |i: usize| (lo..=rep).contains(&(i as i64));
    if !(0..n).any(|i| in_window(i) && measured(s, i)) {
        return unknown("no data: no per-second figures from the 3 minutes before the report");
    }
    let wifi = drop.link.as_deref() == Some("wifi");
    let mut found = home_episodes(s, wifi);
    found.extend(beyond_episodes(s));
    found.extend(headset_episodes(s));
    // Going on, or ended, within the window; not begun after the report.
    found.retain(|e| e.end as i64 >= lo && e.start as i64 <= rep);
    found.sort_by_key(|e| (std::cmp::Reverse(e.severity), std::cmp::Reverse(e.end)));
    let Some(first) = found.first() else {
        return Verdict {
            kind: Kind::None,
            text: "nothing seen on this computer's network or audio around that time".into(),
            span: None,
        };
    };
    let mut text = first.text.clone();
    let mut told = vec![first.kind];
    for e in &found[1..] {
        if !told.contains(&e.kind) {
            told.push(e.kind);
            text.push_str("; also ");
            text.push_str(&e.text);
        }
    }
    Verdict {
        kind: first.kind,
        text,
        span: Some((first.start, first.end)),
    }
}

/// Whether second `i` has any figure at all.
fn measured(s: &Seconds, i: usize) -> bool {
    let some = |v: &Vec<Option<f32>>| v.get(i).is_some_and(Option::is_some);
    let some_b = |v: &Vec<Option<bool>>| v.get(i).is_some_and(Option::is_some);
    some(&s.rtt_ms)
        || some(&s.loss_up_pct)
        || some(&s.loss_down_pct)
        || some(&s.jitter_ms)
        || some(&s.gateway_rtt_ms)
        || some_b(&s.gateway_ok)
        || some_b(&s.link_up)
        || s.wifi_signal_dbm.get(i).is_some_and(Option::is_some)
        || some_b(&s.headset)
}

fn at<T: Copy>(v: &[Option<T>], i: usize) -> Option<T> {
    v.get(i).copied().flatten()
}

/// The runs of `true` in `flags` as `[start, end)`, runs at most `gap` seconds apart joined.
fn runs(flags: &[bool], gap: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        if !flags[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < flags.len() && flags[i] {
            i += 1;
        }
        match out.last_mut() {
            Some(last) if start - last.1 <= gap => last.1 = i,
            _ => out.push((start, i)),
        }
    }
    out
}

/// "14:32:05 UTC": the time of second `i`.
fn time(s: &Seconds, i: usize) -> String {
    (s.start + chrono::Duration::seconds(i as i64))
        .format("%H:%M:%S UTC")
        .to_string()
}

/// "8 s", "95 s", "2 min", "2 min 5 s".
pub fn duration(secs: usize) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        _ if secs % 60 == 0 => format!("{} min", secs / 60),
        _ => format!("{} min {} s", secs / 60, secs % 60),
    }
}

fn home_episodes(s: &Seconds, wifi: bool) -> Vec<Episode> {
    let n = s.len();
    let link_down = |i| at(&s.link_up, i) == Some(false);
    let unanswered = |i| at(&s.gateway_ok, i) == Some(false);
    let bad: Vec<bool> = (0..n).map(|i| link_down(i) || unanswered(i)).collect();
    runs(&bad, MERGE_GAP_S)
        .into_iter()
        .filter_map(|(a, b)| {
            let d = duration(b - a);
            let t = time(s, a);
            let text = if (a..b).any(link_down) {
                let what = if wifi { "Wi-Fi" } else { "the home connection" };
                format!("home network: {what} lost for {d} at {t}")
            } else if b - a >= MIN_ROUTER_S {
                let over = if wifi { " over Wi-Fi" } else { "" };
                format!("home network: the home router did not answer{over} for {d} at {t}")
            } else {
                return None;
            };
            Some(Episode {
                kind: Kind::HomeNetwork,
                severity: 3,
                start: a,
                end: b,
                text,
            })
        })
        .collect()
}

fn beyond_episodes(s: &Seconds) -> Vec<Episode> {
    let n = s.len();
    let pilot = |i| {
        at(&s.rtt_ms, i).is_some()
            || at(&s.loss_up_pct, i).is_some()
            || at(&s.loss_down_pct, i).is_some()
    };
    // The pilot's span: between its first and last figure a missing reply is a lost one.
    let (Some(first), Some(last)) = ((0..n).find(|&i| pilot(i)), (0..n).rfind(|&i| pilot(i)))
    else {
        return Vec::new();
    };
    let home_ok = |i| at(&s.link_up, i) != Some(false) && at(&s.gateway_ok, i) != Some(false);
    // No RTT is no reply (the proto's meaning), whatever the loss columns say: with nothing
    // back, the daemon may count the packets lost either way.
    let no_reply: Vec<bool> = (0..n)
        .map(|i| (first..=last).contains(&i) && at(&s.rtt_ms, i).is_none())
        .collect();
    let eff = |v: &[Option<f32>], i: usize| at(v, i).or(no_reply[i].then_some(100.0));
    let lossy: Vec<bool> = (0..n)
        .map(|i| {
            home_ok(i)
                && (no_reply[i]
                    || eff(&s.loss_up_pct, i).is_some_and(|l| l > 0.0)
                    || eff(&s.loss_down_pct, i).is_some_and(|l| l > 0.0))
        })
        .collect();
    let mean = |v: &[Option<f32>], a: usize, b: usize| {
        let got: Vec<f32> = (a..b).filter_map(|i| eff(v, i)).collect();
        (!got.is_empty()).then(|| got.iter().sum::<f32>() / got.len() as f32)
    };
    runs(&lossy, LOSS_GAP_S)
        .into_iter()
        .filter_map(|(a, b)| {
            let up = mean(&s.loss_up_pct, a, b).filter(|m| *m >= LOSS_PCT);
            let down = mean(&s.loss_down_pct, a, b).filter(|m| *m >= LOSS_PCT);
            if b - a < MIN_LOSS_S || (up.is_none() && down.is_none()) {
                return None;
            }
            let (d, t) = (duration(b - a), time(s, a));
            let router = if (a..b).any(|i| at(&s.gateway_ok, i) == Some(true)) {
                " while the home router answered"
            } else {
                " (the home router was not checked)"
            };
            let outage = (a..b).filter(|&i| no_reply[i]).count() * 2 >= b - a;
            let (severity, what) = if outage {
                (3, "no replies from HQ".to_string())
            } else {
                let pct = |m: f32| format!("{m:.0} %");
                let what = match (up, down) {
                    (Some(u), Some(d)) => {
                        format!("{} loss upstream and {} downstream", pct(u), pct(d))
                    }
                    (Some(u), None) => format!("{} loss upstream", pct(u)),
                    (None, Some(d)) => format!("{} loss downstream", pct(d)),
                    (None, None) => unreachable!("filtered above"),
                };
                (1, what)
            };
            Some(Episode {
                kind: Kind::BeyondHome,
                severity,
                start: a,
                end: b,
                text: format!("beyond the home: {what} for {d} at {t}{router}"),
            })
        })
        .collect()
}

fn headset_episodes(s: &Seconds) -> Vec<Episode> {
    let n = s.len();
    let gone: Vec<bool> = (0..n).map(|i| at(&s.headset, i) == Some(false)).collect();
    runs(&gone, MERGE_GAP_S)
        .into_iter()
        .map(|(a, b)| {
            let mut text = if a == 0 {
                format!("headset not connected since at least {}", time(s, a))
            } else {
                format!("headset disconnected at {}", time(s, a))
            };
            if b < n && at(&s.headset, b) == Some(true) {
                text.push_str(&format!(" (back after {})", duration(b - a)));
            }
            Episode {
                kind: Kind::Headset,
                severity: 2,
                start: a,
                end: b,
                text,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 15 minutes of a healthy line, 14:18:00–14:33:00 UTC (index 0 is 14:18:00, so index
    /// `i` is 14:18:00 + i s: 14:32:05 is 14 × 60 + 5 = 845), reported at 14:33:00 (index 900),
    /// on Wi-Fi: RTT 20 ms, no loss, the router answering, link up, the headset present.
    fn healthy() -> CallDrop {
        let n = 900;
        CallDrop {
            note: String::new(),
            seconds: Seconds {
                start: "2026-12-02T14:18:00Z".parse().unwrap(),
                rtt_ms: vec![Some(20.0); n],
                loss_up_pct: vec![Some(0.0); n],
                loss_down_pct: vec![Some(0.0); n],
                jitter_ms: vec![Some(2.0); n],
                gateway_rtt_ms: vec![Some(2.0); n],
                gateway_ok: vec![Some(true); n],
                link_up: vec![Some(true); n],
                wifi_signal_dbm: vec![Some(-55); n],
                headset: vec![Some(true); n],
            },
            headset: Some(true),
            noise_dba: None,
            noise_class: None,
            link: Some("wifi".into()),
        }
    }

    fn reported() -> DateTime<Utc> {
        "2026-12-02T14:33:00Z".parse().unwrap()
    }

    /// The link and the router gone for seconds `[a, b)`, and with them every pilot figure.
    fn link_lost(d: &mut CallDrop, a: usize, b: usize) {
        let s = &mut d.seconds;
        for i in a..b {
            s.link_up[i] = Some(false);
            s.gateway_ok[i] = Some(false);
            s.gateway_rtt_ms[i] = None;
            s.rtt_ms[i] = None;
            s.loss_up_pct[i] = None;
            s.loss_down_pct[i] = None;
            s.wifi_signal_dbm[i] = None;
        }
    }

    fn check(d: &CallDrop, kind: Kind, text: &str) -> Verdict {
        let v = verdict(d, reported());
        assert_eq!((v.kind, v.text.as_str()), (kind, text));
        v
    }

    #[test]
    fn wifi_lost_is_the_home_network() {
        // 14:32:05 is index 845; 8 s is 845..853.
        let mut d = healthy();
        link_lost(&mut d, 845, 853);
        let v = check(
            &d,
            Kind::HomeNetwork,
            "home network: Wi-Fi lost for 8 s at 14:32:05 UTC",
        );
        assert_eq!(v.span, Some((845, 853)));
        // A wired (or unknown) link is not called Wi-Fi.
        d.link = Some("wired".into());
        check(
            &d,
            Kind::HomeNetwork,
            "home network: the home connection lost for 8 s at 14:32:05 UTC",
        );
        d.link = None;
        check(
            &d,
            Kind::HomeNetwork,
            "home network: the home connection lost for 8 s at 14:32:05 UTC",
        );
    }

    #[test]
    fn router_unanswered_with_the_link_up_is_the_home_network_from_three_seconds() {
        // 14:31:00 is index 13 × 60 = 780; 10 s unanswered, link up, the pilot silent too.
        let mut d = healthy();
        link_lost(&mut d, 780, 790);
        for i in 780..790 {
            d.seconds.link_up[i] = Some(true);
        }
        check(
            &d,
            Kind::HomeNetwork,
            "home network: the home router did not answer over Wi-Fi for 10 s at 14:31:00 UTC",
        );
        // One unanswered ping (and one second without pilot replies) is not an outage.
        let mut d = healthy();
        d.seconds.gateway_ok[780] = Some(false);
        check(
            &d,
            Kind::None,
            "nothing seen on this computer's network or audio around that time",
        );
    }

    #[test]
    fn upstream_loss_with_the_router_answering_is_beyond_the_home() {
        // 14:31:10 is index 790. 40 s of the pattern 20, 0, 20, 0, 20 % upstream (5 packets a
        // second, one lost in 3 of every 5 s): 8 × 60 / 40 = 12 % over 790..830; the last
        // second (829) is the pattern's fifth, lossy, so the stretch is exactly 40 s.
        let mut d = healthy();
        for k in 0..40 {
            d.seconds.loss_up_pct[790 + k] = Some([20.0, 0.0, 20.0, 0.0, 20.0][k % 5]);
        }
        let v = check(
            &d,
            Kind::BeyondHome,
            "beyond the home: 12 % loss upstream for 40 s at 14:31:10 UTC while the home router answered",
        );
        assert_eq!(v.span, Some((790, 830)));
        // The same downstream as well (10 % each second: 10 %): both directions are named.
        for k in 0..40 {
            d.seconds.loss_down_pct[790 + k] = Some(10.0);
        }
        check(
            &d,
            Kind::BeyondHome,
            "beyond the home: 12 % loss upstream and 10 % downstream for 40 s at 14:31:10 UTC while the home router answered",
        );
    }

    #[test]
    fn no_replies_with_the_router_answering_is_an_outage_beyond_the_home() {
        // 14:31:30 is index 810; 20 s with no reply: RTT null, upstream 100 %, downstream
        // unknown (nothing came back to count).
        let mut d = healthy();
        for i in 810..830 {
            d.seconds.rtt_ms[i] = None;
            d.seconds.loss_up_pct[i] = Some(100.0);
            d.seconds.loss_down_pct[i] = None;
        }
        check(
            &d,
            Kind::BeyondHome,
            "beyond the home: no replies from HQ for 20 s at 14:31:30 UTC while the home router answered",
        );
        // Counted as lost downstream instead (nothing came back, so the daemon cannot tell
        // the directions apart): still no replies, an outage.
        for i in 810..830 {
            d.seconds.loss_up_pct[i] = Some(0.0);
            d.seconds.loss_down_pct[i] = Some(100.0);
        }
        check(
            &d,
            Kind::BeyondHome,
            "beyond the home: no replies from HQ for 20 s at 14:31:30 UTC while the home router answered",
        );
        // Without any loss figure either (the pilot ran before and after): still no replies.
        for i in 810..830 {
            d.seconds.loss_up_pct[i] = None;
            d.seconds.loss_down_pct[i] = None;
        }
        check(
            &d,
            Kind::BeyondHome,
            "beyond the home: no replies from HQ for 20 s at 14:31:30 UTC while the home router answered",
        );
        // Not pinging the router, HQ says so rather than claiming the home was fine.
        d.seconds.gateway_ok = vec![None; 900];
        check(
            &d,
            Kind::BeyondHome,
            "beyond the home: no replies from HQ for 20 s at 14:31:30 UTC (the home router was not checked)",
        );
    }

    #[test]
    fn single_lost_packets_are_not_a_burst() {
        // One lost packet (a 20 % second) every 10 s: each is a 1 s stretch (the next is 9 s
        // away, more than the 4 s gap), under the 3 s minimum.
        let mut d = healthy();
        for i in (700..900).step_by(10) {
            d.seconds.loss_up_pct[i] = Some(20.0);
        }
        check(
            &d,
            Kind::None,
            "nothing seen on this computer's network or audio around that time",
        );
        // Two lost 2 s apart: 20, 0, 20 over 3 s is 13 %: a burst.
        d.seconds.loss_up_pct[852] = Some(20.0);
        check(
            &d,
            Kind::BeyondHome,
            "beyond the home: 13 % loss upstream for 3 s at 14:32:10 UTC while the home router answered",
        );
    }

    #[test]
    fn headset_disconnected() {
        // 14:31:58 is index 838; gone until the report.
        let mut d = healthy();
        for i in 838..900 {
            d.seconds.headset[i] = Some(false);
        }
        let v = check(&d, Kind::Headset, "headset disconnected at 14:31:58 UTC");
        assert_eq!(v.span, Some((838, 900)));
        // Back 6 s later (844 present again).
        for i in 844..900 {
            d.seconds.headset[i] = Some(true);
        }
        check(
            &d,
            Kind::Headset,
            "headset disconnected at 14:31:58 UTC (back after 6 s)",
        );
        // Absent for all 15 minutes: HQ cannot say when it went.
        d.seconds.headset = vec![Some(false); 900];
        check(
            &d,
            Kind::Headset,
            "headset not connected since at least 14:18:00 UTC",
        );
    }

    #[test]
    fn headset_and_wifi_lost_together_the_outage_first() {
        // The headset gone at 14:31:58 (838) and Wi-Fi lost at 14:32:05 (845..853): the
        // outage (severity 3) before the headset (2), which is appended.
        let mut d = healthy();
        for i in 838..900 {
            d.seconds.headset[i] = Some(false);
        }
        link_lost(&mut d, 845, 853);
        check(
            &d,
            Kind::HomeNetwork,
            "home network: Wi-Fi lost for 8 s at 14:32:05 UTC; also headset disconnected at 14:31:58 UTC",
        );
    }

    #[test]
    fn between_equals_the_one_closest_before_the_report() {
        // No replies at 14:30:30 (750..770) and Wi-Fi lost at 14:32:05 (845..853): both
        // outages; the Wi-Fi one ended later, so it comes first.
        let mut d = healthy();
        for i in 750..770 {
            d.seconds.rtt_ms[i] = None;
            d.seconds.loss_up_pct[i] = Some(100.0);
            d.seconds.loss_down_pct[i] = None;
        }
        link_lost(&mut d, 845, 853);
        check(
            &d,
            Kind::HomeNetwork,
            "home network: Wi-Fi lost for 8 s at 14:32:05 UTC; also beyond the home: no replies from HQ for 20 s at 14:30:30 UTC while the home router answered",
        );
    }

    #[test]
    fn a_problem_ten_minutes_before_the_report_is_not_blamed() {
        // Wi-Fi lost 14:22:00–14:22:30 (240..270): it ended 10 min 30 s before the report,
        // outside the 3-minute window.
        let mut d = healthy();
        link_lost(&mut d, 240, 270);
        check(
            &d,
            Kind::None,
            "nothing seen on this computer's network or audio around that time",
        );
        // Ending 14:30:01 (index 721, 179 s before the report) it is inside.
        let mut d = healthy();
        link_lost(&mut d, 700, 721);
        check(
            &d,
            Kind::HomeNetwork,
            "home network: Wi-Fi lost for 21 s at 14:29:40 UTC",
        );
    }

    #[test]
    fn no_data_is_unknown() {
        let mut d = healthy();
        d.seconds = Seconds {
            start: d.seconds.start,
            ..Default::default()
        };
        check(
            &d,
            Kind::Unknown,
            "no data: the report carried no per-second figures (the computer was not measuring)",
        );
        // 900 seconds, every figure null.
        let s = &mut d.seconds;
        s.rtt_ms = vec![None; 900];
        s.loss_up_pct = vec![None; 900];
        s.loss_down_pct = vec![None; 900];
        s.jitter_ms = vec![None; 900];
        s.gateway_rtt_ms = vec![None; 900];
        s.gateway_ok = vec![None; 900];
        s.link_up = vec![None; 900];
        s.wifi_signal_dbm = vec![None; 900];
        s.headset = vec![None; 900];
        check(
            &d,
            Kind::Unknown,
            "no data: no per-second figures from the 3 minutes before the report",
        );
        // Figures that end 7 minutes before the report (the computer slept): unknown too.
        let d = healthy();
        let v = verdict(&d, "2026-12-02T14:40:00Z".parse().unwrap());
        assert_eq!(v.kind, Kind::Unknown);
    }

    #[test]
    fn kinds_and_durations_in_words() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("isp"), None);
        assert_eq!(duration(8), "8 s");
        assert_eq!(duration(119), "119 s");
        assert_eq!(duration(120), "2 min");
        assert_eq!(duration(125), "2 min 5 s");
    }
}
