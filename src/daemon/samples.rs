//! What the daemon tells HQ from its per-second ring (`super::ring`, filled by the pilot)
//! during a shift (issue 15): a `sample` event at each whole minute, and the `call_drop` an
//! agent reports (`shiftready report-drop`, the tray) with the last 15 minutes at per-second
//! resolution. Both add what the ring does not hold: the latest noise level and class, the
//! headset and the link kind, from the last check or monitor result.
//!
//! The daemon's core decides when (signed in, HQ lists the kind); this file builds the bodies
//! and keeps the minute schedule, with no I/O.

use super::ring::{Ring, SharedRing};
use crate::i18n::{Said, SaidArg};
use chrono::{DateTime, Duration, DurationRound, Utc};
use proto::sample::{CALL_DROP_MAX_NOTE, CALL_DROP_MAX_SECONDS, CallDrop, MinuteSample, Seconds};
use proto::{CheckName, Report, metric};

/// What the last check (and the in-shift monitors since) said of the headset, the noise and
/// the link: added to a `sample` and a `call_drop`. `None` is "not measured", never a guess.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// A headset with a microphone present.
    pub headset: Option<bool>,
    /// The latest LAeq, dB(A) (calibrated when the agent has a calibration, else dBFS).
    pub noise_dba: Option<f32>,
    pub noise_class: Option<String>,
    /// The default route's link kind (`wired`, `wifi`, ...).
    pub link: Option<String>,
}

impl Extras {
    /// From the daemon's last report (the full check, updated by each monitor sample).
    pub fn from_report(report: Option<&Report>) -> Extras {
        let Some(r) = report else {
            return Extras::default();
        };
        let check = |c: CheckName| r.checks.get(c.as_str());
        let flag = |c: CheckName, key: &str| {
            check(c)
                .and_then(|c| c.metrics.get(key))
                .and_then(|v| v.as_bool())
        };
        let text = |c: CheckName, key: &str| {
            check(c)
                .and_then(|c| c.metrics.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let headset = match (
            flag(CheckName::Headset, metric::HEADSET_PRESENT),
            flag(CheckName::Headset, metric::HAS_MICROPHONE),
        ) {
            (Some(present), Some(mic)) => Some(present && mic),
            (present, None) => present,
            (None, Some(_)) => None,
        };
        let noise = check(CheckName::Noise);
        let noise_dba = noise
            .and_then(|c| {
                c.metric_f64(NOISE_CALIBRATED)
                    .or_else(|| c.metric_f64(metric::LAEQ_DBFS))
            })
            .map(|v| v as f32);
        Extras {
            headset,
            noise_dba,
            noise_class: text(CheckName::Noise, metric::CLASSIFICATION),
            link: text(CheckName::Network, metric::LINK),
        }
    }
}

/// The noise check's LAeq with the agent's calibration applied (`core::checks::noise`).
const NOISE_CALIBRATED: &str = "laeq_calibrated_db";

/// The `sample` body for the minute starting at `start`: the ring's summary plus `x`. The
/// ring's own headset state (from the pilot's seconds) wins over the last check's.
pub fn minute(ring: &Ring, start: DateTime<Utc>, x: &Extras) -> MinuteSample {
    let mut m = ring.minute(start);
    m.headset = m.headset.or(x.headset);
    m.link = m.link.or_else(|| x.link.clone());
    m.noise_dba = x.noise_dba;
    m.noise_class = x.noise_class.clone();
    m
}

/// Why a note cannot go with a `call_drop` (said by the CLI before it asks the daemon, and by
/// the daemon for any other client).
pub fn note_problem(note: &str) -> Option<usize> {
    let n = note.chars().count();
    (n > CALL_DROP_MAX_NOTE).then_some(n)
}

/// The shared ring, locked (a panic elsewhere while it was held leaves readable data).
pub fn lock(ring: &SharedRing) -> std::sync::MutexGuard<'_, Ring> {
    ring.lock().unwrap_or_else(|p| p.into_inner())
}

/// "The note is N characters long; a dropped call takes at most 1000."
pub fn note_too_long(chars: usize) -> Said {
    Said::new("drop-note-too-long")
        .arg("chars", SaidArg::Count(chars as i64))
        .arg("max", SaidArg::Count(CALL_DROP_MAX_NOTE as i64))
}

/// What the daemon answers once a dropped call is recorded: with how many seconds of
/// history, and the event's id for IT.
pub fn drop_recorded(id: uuid::Uuid, seconds: usize) -> Said {
    let said = if seconds == 0 {
        Said::new("drop-recorded-no-history")
    } else {
        Said::new("drop-recorded").arg("seconds", SaidArg::Count(seconds as i64))
    };
    said.text("id", id.to_string())
}

/// The `call_drop` body reported at `now`: the ring's last 15 minutes (no older: a ring left
/// from an earlier shift is not this drop's history), `x` and the agent's note.
pub fn call_drop(ring: &Ring, now: DateTime<Utc>, note: &str, x: &Extras) -> CallDrop {
    let seconds = within(
        ring.last(CALL_DROP_MAX_SECONDS),
        now - Duration::seconds(CALL_DROP_MAX_SECONDS as i64),
    );
    CallDrop {
        note: note.trim().to_string(),
        headset: seconds
            .headset
            .iter()
            .rev()
            .flatten()
            .next()
            .copied()
            .or(x.headset),
        noise_dba: x.noise_dba,
        noise_class: x.noise_class.clone(),
        link: x.link.clone(),
        seconds,
    }
}

/// `s` without its seconds before `from` (every column cut alike).
fn within(mut s: Seconds, from: DateTime<Utc>) -> Seconds {
    let skip = (from - s.start).num_seconds().clamp(0, s.len() as i64) as usize;
    if skip == 0 {
        return s;
    }
    fn cut<T>(v: &mut Vec<T>, n: usize) {
        v.drain(..n.min(v.len()));
    }
    cut(&mut s.rtt_ms, skip);
    cut(&mut s.loss_up_pct, skip);
    cut(&mut s.loss_down_pct, skip);
    cut(&mut s.jitter_ms, skip);
    cut(&mut s.gateway_rtt_ms, skip);
    cut(&mut s.gateway_ok, skip);
    cut(&mut s.link_up, skip);
    cut(&mut s.wifi_signal_dbm, skip);
    cut(&mut s.headset, skip);
    s.start += Duration::seconds(skip as i64);
    s
}

/// How far back a minute missed while the daemon was busy or asleep is still sent: what the
/// ring still holds.
const CATCH_UP: Duration = Duration::minutes(15);

/// The whole-minute schedule of the `sample` events while signed in.
#[derive(Debug, Clone, Default)]
pub struct Minutes {
    /// The end of the next minute to send (a whole minute); `None` while not signed in.
    next: Option<DateTime<Utc>>,
}

fn whole_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

impl Minutes {
    /// Signed in at `now`: the first sample covers the minute in progress.
    pub fn start(&mut self, now: DateTime<Utc>) {
        if self.next.is_none() {
            self.next = Some(whole_minute(now) + Duration::minutes(1));
        }
    }

    /// Signed out at `now`: the minutes still due, then the minute in progress (its seconds
    /// so far); no more samples after.
    pub fn finish(
        &mut self,
        now: DateTime<Utc>,
        has_data: impl Fn(DateTime<Utc>) -> bool,
    ) -> Vec<DateTime<Utc>> {
        if self.next.is_none() {
            return Vec::new();
        }
        let mut out = self.due(now, has_data);
        let current = whole_minute(now);
        if now > current && !out.contains(&current) {
            out.push(current);
        }
        self.next = None;
        out
    }

    /// When the next sample is due (for the main loop's sleep).
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        self.next
    }

    /// The starts of the minutes that ended by `now` and are to be sent, oldest first; the
    /// schedule moves past them. Minutes missed (the computer asleep, the loop late) are sent
    /// when the ring still holds them and they have a measured second (`has_data`); the
    /// minute that just ended is always sent.
    pub fn due(
        &mut self,
        now: DateTime<Utc>,
        has_data: impl Fn(DateTime<Utc>) -> bool,
    ) -> Vec<DateTime<Utc>> {
        let Some(next) = self.next else {
            return Vec::new();
        };
        if now < next {
            return Vec::new();
        }
        let last_end = whole_minute(now);
        self.next = Some(last_end + Duration::minutes(1));
        let last = last_end - Duration::minutes(1);
        let mut out = Vec::new();
        let mut start = (next - Duration::minutes(1)).max(last_end - CATCH_UP);
        while start < last {
            if has_data(start) {
                out.push(start);
            }
            start += Duration::minutes(1);
        }
        out.push(last);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::ring::{RING_SECONDS, SecondRecord};
    use proto::{CheckResult, Status};
    use std::collections::BTreeMap;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rec(at: DateTime<Utc>, rtt: f32) -> SecondRecord {
        SecondRecord {
            at,
            rtt_ms: Some(rtt),
            sent: 2,
            link_up: Some(true),
            link: Some("wifi"),
            ..SecondRecord::default()
        }
    }

    fn report() -> Report {
        let mut checks = BTreeMap::new();
        checks.insert(
            "headset".to_string(),
            CheckResult::new(Status::Pass, "")
                .with("headset_present", true)
                .with("has_microphone", true),
        );
        checks.insert(
            "noise".to_string(),
            CheckResult::new(Status::Warn, "Voices")
                .with("laeq_dbfs", -41.5)
                .with("laeq_calibrated_db", 52.25)
                .with("classification", "voices"),
        );
        checks.insert(
            "network".to_string(),
            CheckResult::new(Status::Pass, "").with("link", "wired"),
        );
        Report::new(checks)
    }

    #[test]
    fn extras_come_from_the_last_report_and_nothing_is_guessed() {
        let x = Extras::from_report(Some(&report()));
        assert_eq!(
            x,
            Extras {
                headset: Some(true),
                noise_dba: Some(52.25),
                noise_class: Some("voices".into()),
                link: Some("wired".into()),
            }
        );
        // A headset without a microphone is not a headset for calls.
        let mut r = report();
        r.checks
            .get_mut("headset")
            .unwrap()
            .set("has_microphone", false);
        r.checks
            .get_mut("noise")
            .unwrap()
            .metrics
            .remove("laeq_calibrated_db");
        let x = Extras::from_report(Some(&r));
        assert_eq!(x.headset, Some(false));
        assert_eq!(
            x.noise_dba,
            Some(-41.5),
            "uncalibrated LAeq when that is all"
        );
        // No metrics (a check that could not measure): not measured, not false.
        let bare = Report::new(
            [("headset".to_string(), CheckResult::new(Status::Fail, "x"))]
                .into_iter()
                .collect(),
        );
        assert_eq!(Extras::from_report(Some(&bare)), Extras::default());
        assert_eq!(Extras::from_report(None), Extras::default());
    }

    #[test]
    fn a_minute_sample_is_the_ring_minute_plus_noise_and_headset() {
        let t0 = t("2026-12-02T14:30:00Z");
        let mut ring = Ring::new(RING_SECONDS);
        for i in 0..60 {
            ring.push(rec(t0 + Duration::seconds(i), 20.0));
        }
        let x = Extras::from_report(Some(&report()));
        let m = minute(&ring, t0, &x);
        assert_eq!(m.seconds, 60);
        assert_eq!(m.rtt_p50_ms, Some(20.0));
        assert_eq!(m.link.as_deref(), Some("wifi"), "the ring's link wins");
        assert_eq!(m.headset, Some(true), "the check's when the ring has none");
        assert_eq!(m.noise_dba, Some(52.25));
        assert_eq!(m.noise_class.as_deref(), Some("voices"));
        ring.set_headset_at(t0 + Duration::seconds(59), false);
        assert_eq!(
            minute(&ring, t0, &x).headset,
            Some(false),
            "the ring's wins"
        );
        // Nothing in the ring: the extras alone, zero seconds.
        let empty = Ring::new(RING_SECONDS);
        let m = minute(&empty, t0, &x);
        assert_eq!((m.seconds, m.rtt_p50_ms), (0, None));
        assert_eq!(m.link.as_deref(), Some("wired"));
    }

    #[test]
    fn a_call_drop_carries_at_most_the_last_15_minutes() {
        let now = t("2026-12-02T14:45:00Z");
        let mut ring = Ring::new(RING_SECONDS);
        // 200 s measured, up to the second before the report.
        for i in 1..=200 {
            ring.push(rec(now - Duration::seconds(i), i as f32));
        }
        let x = Extras::from_report(Some(&report()));
        let d = call_drop(&ring, now, "  customer cut off \n", &x);
        assert_eq!(d.note, "customer cut off");
        assert_eq!(d.seconds.len(), 200);
        assert!(d.seconds.is_well_formed());
        assert_eq!(d.seconds.start, now - Duration::seconds(200));
        assert_eq!(
            d.seconds.rtt_ms[199],
            Some(1.0),
            "the last second is the newest"
        );
        assert_eq!(
            (d.headset, d.noise_dba, d.link.as_deref()),
            (Some(true), Some(52.25), Some("wired"))
        );
        // A full ring: 900 s exactly, ending at the newest second.
        let mut full = Ring::new(RING_SECONDS);
        for i in 1..=RING_SECONDS as i64 {
            full.push(rec(now - Duration::seconds(i), 1.0));
        }
        let d = call_drop(&full, now, "", &x);
        assert_eq!(d.seconds.len(), CALL_DROP_MAX_SECONDS);
        assert!(d.seconds.is_well_formed());
        // History older than 15 minutes (a shift that ended long ago) is not this drop's.
        let mut old = Ring::new(RING_SECONDS);
        for i in 0..100 {
            old.push(rec(now - Duration::minutes(20) + Duration::seconds(i), 1.0));
        }
        let d = call_drop(&old, now, "", &x);
        assert!(
            d.seconds.is_empty() && d.seconds.is_well_formed(),
            "{:?}",
            d.seconds
        );
        // Partly within: only the seconds of the last 15 minutes.
        let mut part = Ring::new(RING_SECONDS);
        for i in 0..120 {
            part.push(rec(
                now - Duration::seconds(960) + Duration::seconds(i),
                1.0,
            ));
        }
        let d = call_drop(&part, now, "", &x);
        assert_eq!(d.seconds.len(), 60);
        assert_eq!(d.seconds.start, now - Duration::seconds(900));
        assert!(d.seconds.is_well_formed());
    }

    #[test]
    fn notes_longer_than_the_limit_are_refused() {
        assert_eq!(note_problem("customer cut off"), None);
        let max = "é".repeat(CALL_DROP_MAX_NOTE);
        assert_eq!(note_problem(&max), None, "characters, not bytes");
        assert_eq!(
            note_problem(&format!("{max}x")),
            Some(CALL_DROP_MAX_NOTE + 1)
        );
    }

    #[test]
    fn minutes_are_due_at_each_whole_minute_while_signed_in() {
        let mut m = Minutes::default();
        assert!(
            m.due(t("2026-12-02T14:31:00Z"), |_| true).is_empty(),
            "not signed in"
        );
        m.start(t("2026-12-02T14:30:20Z"));
        assert_eq!(m.due_at(), Some(t("2026-12-02T14:31:00Z")));
        assert!(m.due(t("2026-12-02T14:30:59Z"), |_| true).is_empty());
        // The minute of the sign-in, then each minute once.
        assert_eq!(
            m.due(t("2026-12-02T14:31:00.200Z"), |_| true),
            [t("2026-12-02T14:30:00Z")]
        );
        assert!(m.due(t("2026-12-02T14:31:30Z"), |_| true).is_empty());
        assert_eq!(
            m.due(t("2026-12-02T14:32:01Z"), |_| true),
            [t("2026-12-02T14:31:00Z")]
        );
        // Three minutes late: the missed ones with data, then the one that just ended.
        let with_data = |s: DateTime<Utc>| s == t("2026-12-02T14:33:00Z");
        assert_eq!(
            m.due(t("2026-12-02T14:36:05Z"), with_data),
            [t("2026-12-02T14:33:00Z"), t("2026-12-02T14:35:00Z")]
        );
        // Asleep for hours: at most what the ring can still hold is looked at.
        let mut looked = std::cell::RefCell::new(Vec::new());
        let due = m.due(t("2026-12-02T18:00:10Z"), |s| {
            looked.borrow_mut().push(s);
            false
        });
        assert_eq!(due, [t("2026-12-02T17:59:00Z")]);
        assert_eq!(looked.get_mut().len(), 14);
        assert_eq!(looked.get_mut()[0], t("2026-12-02T17:45:00Z"));
        // Signed out: what is due, then the minute in progress; then nothing.
        assert_eq!(
            m.finish(t("2026-12-02T18:01:30Z"), |_| false),
            [t("2026-12-02T18:00:00Z"), t("2026-12-02T18:01:00Z")]
        );
        assert_eq!(m.due_at(), None);
        assert!(m.due(t("2026-12-02T18:05:00Z"), |_| true).is_empty());
        assert!(m.finish(t("2026-12-02T18:05:00Z"), |_| true).is_empty());
        // Signed out on a whole minute: no empty minute after it.
        m.start(t("2026-12-02T18:10:10Z"));
        assert_eq!(
            m.finish(t("2026-12-02T18:11:00Z"), |_| true),
            [t("2026-12-02T18:10:00Z")]
        );
    }
}
