//! "Offline means offline" (issue 15): off shift, an enrolled daemon tells HQ it is there. A
//! light presence heartbeat (`heartbeat` with `signed_in: false` and the last readiness)
//! every `shift.presence_seconds`, the first at once when it starts; and the full check soon
//! after it starts and once a day, sent as a `report`, so IT sees who is not ready before the
//! shifts begin. Nothing is shown on screen for either.
//!
//! The schedule only; the daemon's core records the events and runs the check.

use chrono::{DateTime, Duration, Utc};
use proto::Readiness;

/// At most this long after the start before the first full check (less with a shorter
/// presence interval): not at once, so the check does not compete with the login it starts
/// with, and an agent who signs in right away (the in-shift checks take over) gets none.
pub const FIRST_CHECK_AFTER: Duration = Duration::seconds(60);

/// How often the full check runs off shift, counting every check the daemon ran.
pub const CHECK_EVERY: Duration = Duration::days(1);

/// When the next presence heartbeat and the next off-shift full check are due.
#[derive(Debug, Clone)]
pub struct Presence {
    every: Duration,
    next_beat: DateTime<Utc>,
    next_check: DateTime<Utc>,
    /// Whether a check ran in this run (the first one is brought forward by a shorter
    /// interval from HQ until then).
    checked_once: bool,
    /// The readiness of the last check of an earlier run (`last-report.json`), said until
    /// this run has one of its own.
    earlier: Option<Readiness>,
}

impl Presence {
    /// Started at `now`: a heartbeat at once; the full check after `every`, at most
    /// [`FIRST_CHECK_AFTER`].
    pub fn new(now: DateTime<Utc>, every_seconds: u32, earlier: Option<Readiness>) -> Presence {
        let every = Duration::seconds(every_seconds.max(1).into());
        Presence {
            every,
            next_beat: now,
            next_check: now + every.min(FIRST_CHECK_AFTER),
            checked_once: false,
            earlier,
        }
    }

    /// The site's `shift.presence_seconds` (HQ's policy, fetched after the start): the next
    /// heartbeat comes no later than the new interval from `now`, and so does the first
    /// check when none ran yet.
    pub fn set_every(&mut self, now: DateTime<Utc>, every_seconds: u32) {
        let every = Duration::seconds(every_seconds.max(1).into());
        if every != self.every {
            self.every = every;
            self.next_beat = self.next_beat.min(now + every);
            if !self.checked_once {
                self.next_check = self.next_check.min(now + every.min(FIRST_CHECK_AFTER));
            }
        }
    }

    /// The next moment something is due while signed out.
    pub fn due_at(&self) -> DateTime<Utc> {
        self.next_beat.min(self.next_check)
    }

    /// Whether a presence heartbeat is due at `now` (signed out); if so the next is
    /// scheduled.
    pub fn beat(&mut self, now: DateTime<Utc>) -> bool {
        if now < self.next_beat {
            return false;
        }
        self.next_beat = now + self.every;
        true
    }

    /// Whether the full check is due at `now` (signed out, none running); if so the next is
    /// scheduled a day later.
    pub fn check(&mut self, now: DateTime<Utc>) -> bool {
        if now < self.next_check {
            return false;
        }
        self.next_check = now + CHECK_EVERY;
        self.checked_once = true;
        true
    }

    /// A check finished (whatever asked for it): the day's check is done.
    pub fn checked(&mut self, now: DateTime<Utc>) {
        self.next_check = now + CHECK_EVERY;
        self.checked_once = true;
        self.earlier = None;
    }

    /// Signed out at `now`: the sign-out itself told HQ, the next heartbeat is an interval
    /// later.
    pub fn signed_out(&mut self, now: DateTime<Utc>) {
        self.next_beat = now + self.every;
    }

    /// The readiness a presence heartbeat says: this run's last (`current`), else the last
    /// check's of an earlier run, else unknown.
    pub fn readiness(&self, current: Readiness) -> Readiness {
        match (current, self.earlier) {
            (Readiness::Unknown, Some(r)) => r,
            (r, _) => r,
        }
    }
}

/// The readiness of the report an earlier run left in `last-report.json`, if it was taken
/// less than [`CHECK_EVERY`] before `now`.
pub fn earlier_readiness(state_dir: &std::path::Path, now: DateTime<Utc>) -> Option<Readiness> {
    let text = std::fs::read(state_dir.join("last-report.json")).ok()?;
    let report: proto::Report = serde_json::from_slice(&text).ok()?;
    let taken = report.taken_at?;
    (now - taken < CHECK_EVERY && taken <= now).then_some(report.readiness)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_heartbeat_at_once_then_every_interval_and_the_check_soon_after_the_start() {
        let t0 = t("2026-12-02T06:00:00Z");
        let mut p = Presence::new(t0, 300, None);
        assert!(p.beat(t0), "HQ hears of the computer at once");
        assert!(!p.beat(t0 + Duration::seconds(299)));
        assert_eq!(p.due_at(), t0 + Duration::seconds(60), "the first check");
        assert!(!p.check(t0 + Duration::seconds(59)));
        assert!(p.check(t0 + Duration::seconds(60)));
        assert!(!p.check(t0 + Duration::seconds(61)), "once");
        assert!(p.beat(t0 + Duration::seconds(300)));
        assert_eq!(p.due_at(), t0 + Duration::seconds(600));
        // The next check a day later.
        assert!(!p.check(t0 + Duration::hours(23)));
        assert!(p.check(t0 + Duration::seconds(60) + CHECK_EVERY));
        // HQ's shorter interval, fetched after the start, brings the first check forward.
        let mut p = Presence::new(t0, 300, None);
        p.set_every(t0 + Duration::seconds(1), 5);
        assert_eq!(p.due_at(), t0, "the start's heartbeat first");
        assert!(p.beat(t0));
        assert_eq!(p.due_at(), t0 + Duration::seconds(5), "the next heartbeat");
        assert!(!p.check(t0 + Duration::seconds(5)));
        assert!(
            p.check(t0 + Duration::seconds(6)),
            "5 s after HQ's interval came"
        );
        p.set_every(t0 + Duration::seconds(7), 300);
        p.set_every(t0 + Duration::seconds(8), 5);
        assert!(!p.check(t0 + Duration::seconds(20)), "only the first check");
        let p = Presence::new(t0, 5, None);
        assert_eq!(p.due_at(), t0);
        let mut p = p;
        assert!(p.beat(t0));
        assert_eq!(p.due_at(), t0 + Duration::seconds(5));
    }

    #[test]
    fn any_check_counts_as_the_days_check_and_a_sign_out_as_a_heartbeat() {
        let t0 = t("2026-12-02T06:00:00Z");
        let mut p = Presence::new(t0, 300, Some(Readiness::Degraded));
        assert_eq!(p.readiness(Readiness::Unknown), Readiness::Degraded);
        assert_eq!(p.readiness(Readiness::Ready), Readiness::Ready);
        p.checked(t0 + Duration::seconds(10));
        assert!(!p.check(t0 + Duration::hours(20)));
        assert!(p.check(t0 + Duration::seconds(10) + CHECK_EVERY));
        assert_eq!(p.readiness(Readiness::Unknown), Readiness::Unknown);
        p.beat(t0);
        p.signed_out(t0 + Duration::hours(9));
        assert!(!p.beat(t0 + Duration::hours(9) + Duration::seconds(299)));
        assert!(p.beat(t0 + Duration::hours(9) + Duration::seconds(300)));
        // A shorter interval from the site applies at once.
        p.set_every(t0 + Duration::hours(9) + Duration::seconds(301), 5);
        assert!(p.beat(t0 + Duration::hours(9) + Duration::seconds(306)));
    }

    #[test]
    fn an_earlier_report_counts_for_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let now = t("2026-12-02T06:00:00Z");
        assert_eq!(earlier_readiness(dir.path(), now), None);
        let mut r = proto::Report::new(Default::default());
        r.readiness = Readiness::NotReady;
        r.taken_at = Some(now - Duration::hours(20));
        std::fs::write(
            dir.path().join("last-report.json"),
            serde_json::to_vec(&r).unwrap(),
        )
        .unwrap();
        assert_eq!(
            earlier_readiness(dir.path(), now),
            Some(Readiness::NotReady)
        );
        assert_eq!(
            earlier_readiness(dir.path(), now + Duration::hours(5)),
            None
        );
    }
}
