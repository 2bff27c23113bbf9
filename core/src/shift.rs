//! The shift schedule and the sign-in state machine, as pure code over an injected clock.
//!
//! The daemon feeds [`ShiftMachine::step`] the time, the shift windows around it and what
//! happened (a tick, a finished check, a manual request, a suspend); the machine answers with
//! [`Action`]s (run a check, sign in, sign out, tell the agent something). It never reads the
//! clock or does I/O itself, so every rule here is tested exactly, DST changes included.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use proto::policy::{ReadinessBar, ShiftPolicy};
use proto::{Readiness, ShiftReason};
use serde::{Deserialize, Serialize};

/// `[schedule]` in the agent config: the weekly shifts used when there is no HQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// IANA time zone of the shifts ("Europe/Stockholm"); empty: the computer's own zone.
    pub timezone: String,
    /// The weekly shifts (`[[schedule.shift]]`). HQ's schedule replaces them once enrolled.
    pub shift: Vec<LocalShift>,
}

/// One `[[schedule.shift]]`: the same hours on some weekdays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LocalShift {
    /// The weekdays it starts on: "mon" … "sun" (full English names work too).
    pub days: Vec<String>,
    /// Local start time, "HH:MM" or "HH:MM:SS".
    pub start: String,
    /// Local end time; at or before `start` means the next day (a shift over midnight).
    pub end: String,
    /// IANA time zone of this shift; empty: `schedule.timezone`.
    pub timezone: String,
}

/// A shift as an interval of real time: `start <= t < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShiftWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl ShiftWindow {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

impl From<&proto::api::Shift> for ShiftWindow {
    fn from(s: &proto::api::Shift) -> Self {
        ShiftWindow {
            start: s.start,
            end: s.end,
        }
    }
}

/// The zone a local shift is read in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// The computer's own zone (the system's tz database, DST included).
    System,
    Named(chrono_tz::Tz),
}

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(Zone::System);
        }
        name.parse::<chrono_tz::Tz>()
            .map(Zone::Named)
            .map_err(|_| format!("'{name}' is not an IANA time zone (e.g. Europe/Stockholm)"))
    }

    /// The real time of a local wall-clock time: the earlier of two in the autumn overlap,
    /// and the first existing minute after a spring-forward gap.
    fn resolve(&self, naive: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::System => resolve_in(&chrono::Local, naive),
            Zone::Named(tz) => resolve_in(tz, naive),
        }
    }
}

fn resolve_in<T: TimeZone>(tz: &T, naive: NaiveDateTime) -> DateTime<Utc> {
    let mut n = naive;
    // DST gaps are at most a few hours; walk forward a minute at a time out of one.
    for _ in 0..(6 * 60) {
        match tz.from_local_datetime(&n) {
            LocalResult::Single(d) => return d.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => {
                return a.with_timezone(&Utc).min(b.with_timezone(&Utc));
            }
            LocalResult::None => n += Duration::minutes(1),
        }
    }
    naive.and_utc()
}

fn parse_day(s: &str) -> Option<Weekday> {
    let s = s.trim().to_ascii_lowercase();
    let d = match s.get(..3)? {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    };
    let full = d.to_string().to_ascii_lowercase(); // "mon"
    let long = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    (s == full || long.contains(&s.as_str())).then_some(d)
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}

/// A weekly shift, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklyShift {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub zone: Zone,
}

impl WeeklyShift {
    /// The windows of this shift starting on local dates `from..=to`.
    fn windows(&self, from: NaiveDate, to: NaiveDate, out: &mut Vec<ShiftWindow>) {
        let mut d = from;
        while d <= to {
            if self.days.contains(&d.weekday()) {
                let end_date = if self.end <= self.start {
                    d.succ_opt().unwrap_or(d)
                } else {
                    d
                };
                let start = self.zone.resolve(d.and_time(self.start));
                let end = self.zone.resolve(end_date.and_time(self.end));
                if end > start {
                    out.push(ShiftWindow { start, end });
                }
            }
            let Some(next) = d.succ_opt() else { break };
            d = next;
        }
    }
}

/// Where the shifts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// The local `[schedule]` of the agent config.
    Weekly(Vec<WeeklyShift>),
    /// HQ's shifts for this agent (`PolicyResponse.shifts`).
    Fixed(Vec<ShiftWindow>),
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Weekly(Vec::new())
    }
}

impl Schedule {
    /// Parses the local schedule; every problem is reported with its key.
    pub fn from_config(c: &ScheduleConfig) -> Result<Schedule, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let default_zone = Zone::parse(&c.timezone).unwrap_or_else(|e| {
            problems.push(("schedule.timezone".into(), e));
            Zone::System
        });
        let mut shifts = Vec::new();
        for (i, s) in c.shift.iter().enumerate() {
            let key = |k: &str| format!("schedule.shift[{i}].{k}");
            let mut days = Vec::new();
            if s.days.is_empty() {
                problems.push((
                    key("days"),
                    "name at least one weekday, e.g. [\"mon\"]".into(),
                ));
            }
            for d in &s.days {
                match parse_day(d) {
                    Some(w) => days.push(w),
                    None => {
                        problems.push((key("days"), format!("'{d}' is not a weekday (mon … sun)")))
                    }
                }
            }
            let start = parse_time(&s.start);
            if start.is_none() {
                problems.push((key("start"), format!("'{}' is not a time (HH:MM)", s.start)));
            }
            let end = parse_time(&s.end);
            if end.is_none() {
                problems.push((key("end"), format!("'{}' is not a time (HH:MM)", s.end)));
            }
            let zone = if s.timezone.trim().is_empty() {
                default_zone
            } else {
                Zone::parse(&s.timezone).unwrap_or_else(|e| {
                    problems.push((key("timezone"), e));
                    default_zone
                })
            };
            if let (Some(start), Some(end)) = (start, end) {
                shifts.push(WeeklyShift {
                    days,
                    start,
                    end,
                    zone,
                });
            }
        }
        if problems.is_empty() {
            Ok(Schedule::Weekly(shifts))
        } else {
            Err(problems)
        }
    }

    /// The shift windows that overlap `around - 2 days .. around + 8 days`, sorted, without
    /// duplicates.
    pub fn windows(&self, around: DateTime<Utc>) -> Vec<ShiftWindow> {
        let lo = around - Duration::days(2);
        let hi = around + Duration::days(8);
        let mut out = Vec::new();
        match self {
            Schedule::Fixed(w) => out.extend(w.iter().copied()),
            Schedule::Weekly(shifts) => {
                // Local dates: a day of slack on each side covers every zone offset.
                let from = (lo - Duration::days(1)).date_naive();
                let to = (hi + Duration::days(1)).date_naive();
                for s in shifts {
                    s.windows(from, to, &mut out);
                }
            }
        }
        out.retain(|w| w.end > lo && w.start < hi);
        out.sort();
        out.dedup();
        out
    }
}

/// The policy's shift timings, as durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub bar: ReadinessBar,
    pub pre_shift: Duration,
    pub recheck: Duration,
}

impl Params {
    pub fn from_policy(p: &ShiftPolicy) -> Params {
        Params {
            bar: p.readiness_bar,
            pre_shift: Duration::minutes(p.pre_shift_minutes.into()),
            recheck: Duration::seconds(p.recheck_seconds.max(1).into()),
        }
    }
}

/// What happened, as the machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Time passed (a timer fired or the schedule changed).
    Tick,
    /// A check the machine asked for finished.
    CheckDone(Readiness),
    /// The agent asked to be signed in (tray or `shiftready sign-in`).
    SignIn,
    /// The agent asked to be signed out.
    SignOut,
    /// The computer is going to sleep.
    Suspend,
    /// The computer woke up.
    Resume,
    /// The daemon is stopping (SIGTERM, shutdown): sign out, then nothing more.
    Shutdown,
    /// The user's session is ending.
    Logoff,
}

/// Why the machine wants a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckPurpose {
    /// `pre_shift_minutes` before the shift.
    PreShift,
    /// The shift has started and the agent is not signed in yet.
    ShiftStart,
    /// The bar was not met; checking again after `recheck_seconds`.
    Recheck,
}

/// What the agent must be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The pre-shift check found something to fix before the shift.
    PreShiftNotReady {
        readiness: Readiness,
        shift: ShiftWindow,
    },
    /// The shift has started but the bar is not met: not signed in, checking again.
    BarNotMet {
        readiness: Readiness,
        recheck_at: DateTime<Utc>,
    },
}

/// What the daemon must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    RunCheck(CheckPurpose),
    SignIn {
        reason: ShiftReason,
        readiness: Readiness,
    },
    SignOut {
        reason: ShiftReason,
        readiness: Readiness,
    },
    Notify(Notice),
}

/// What survives a restart of the daemon (kept in the spool with each shift event), so a
/// daemon killed mid-shift neither signs in twice nor forgets to sign out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Persisted {
    pub signed_in: bool,
    /// The shift the agent is signed in for.
    pub shift: Option<ShiftWindow>,
    /// The shift in which the agent signed out by hand (no automatic sign-in again in it).
    pub manual_out: Option<ShiftWindow>,
}

/// The sign-in state machine.
#[derive(Debug, Clone)]
pub struct ShiftMachine {
    params: Params,
    state: Persisted,
    readiness: Readiness,
    readiness_at: Option<DateTime<Utc>>,
    check_running: bool,
    last_check_started: Option<DateTime<Utc>>,
    prechecked: Option<ShiftWindow>,
    suspended: bool,
    stopped: bool,
}

impl ShiftMachine {
    pub fn new(params: Params) -> ShiftMachine {
        ShiftMachine {
            params,
            state: Persisted::default(),
            readiness: Readiness::Unknown,
            readiness_at: None,
            check_running: false,
            last_check_started: None,
            prechecked: None,
            suspended: false,
            stopped: false,
        }
    }

    /// A machine that continues from what a previous run persisted.
    pub fn restore(params: Params, state: Persisted) -> ShiftMachine {
        ShiftMachine {
            state,
            ..ShiftMachine::new(params)
        }
    }

    pub fn set_params(&mut self, params: Params) {
        self.params = params;
    }

    pub fn persisted(&self) -> Persisted {
        self.state
    }

    pub fn signed_in(&self) -> bool {
        self.state.signed_in
    }

    /// The last readiness a check reported.
    pub fn readiness(&self) -> Readiness {
        self.readiness
    }

    /// In-shift monitoring updates the readiness without a full check.
    pub fn set_readiness(&mut self, r: Readiness, now: DateTime<Utc>) {
        self.readiness = r;
        self.readiness_at = Some(now);
    }

    /// Whether a check is in flight: from the machine's own [`Action::RunCheck`] or one the
    /// daemon started by hand ([`ShiftMachine::check_started`]) until [`Input::CheckDone`].
    /// The daemon keeps no flag of its own.
    pub fn check_running(&self) -> bool {
        self.check_running
    }

    /// Records that the daemon started a check of its own accord (tray "Run check now").
    pub fn check_started(&mut self, now: DateTime<Utc>) {
        self.check_running = true;
        self.last_check_started = Some(now);
    }

    fn active(now: DateTime<Utc>, windows: &[ShiftWindow]) -> Option<ShiftWindow> {
        windows.iter().copied().find(|w| w.contains(now))
    }

    fn upcoming(&self, now: DateTime<Utc>, windows: &[ShiftWindow]) -> Option<ShiftWindow> {
        windows
            .iter()
            .copied()
            .find(|w| now < w.start && now >= w.start - self.params.pre_shift)
    }

    fn sign_in(&mut self, reason: ShiftReason, shift: Option<ShiftWindow>, out: &mut Vec<Action>) {
        self.state.signed_in = true;
        self.state.shift = shift;
        self.state.manual_out = None;
        out.push(Action::SignIn {
            reason,
            readiness: self.readiness,
        });
    }

    fn sign_out(&mut self, reason: ShiftReason, out: &mut Vec<Action>) {
        if !self.state.signed_in {
            return;
        }
        self.state.signed_in = false;
        self.state.shift = None;
        out.push(Action::SignOut {
            reason,
            readiness: self.readiness,
        });
    }

    fn start_check(&mut self, purpose: CheckPurpose, now: DateTime<Utc>, out: &mut Vec<Action>) {
        self.check_started(now);
        out.push(Action::RunCheck(purpose));
    }

    /// Advances the machine to `now` with what happened; `windows` are the shifts around now.
    pub fn step(
        &mut self,
        now: DateTime<Utc>,
        windows: &[ShiftWindow],
        input: Input,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        // The daemon asks whether a check is in flight here (one record, not a copy of its
        // own): a check that finishes after shutdown or logoff must still clear it.
        if let Input::CheckDone(_) = input {
            self.check_running = false;
        }
        if self.stopped {
            return out;
        }
        let active = Self::active(now, windows);
        match input {
            Input::Tick => {}
            Input::CheckDone(r) => {
                self.set_readiness(r, now);
                let bar = self.params.bar;
                if let Some(a) = active {
                    let may_auto = !self.state.signed_in
                        && !self.suspended
                        && self.state.manual_out != Some(a);
                    if may_auto && r.meets(bar) {
                        self.sign_in(ShiftReason::Auto, Some(a), &mut out);
                    } else if may_auto {
                        out.push(Action::Notify(Notice::BarNotMet {
                            readiness: r,
                            recheck_at: now + self.params.recheck,
                        }));
                    }
                } else if let Some(u) = self.upcoming(now, windows) {
                    if !r.meets(bar) {
                        out.push(Action::Notify(Notice::PreShiftNotReady {
                            readiness: r,
                            shift: u,
                        }));
                    }
                }
            }
            Input::SignIn => {
                if !self.state.signed_in {
                    self.sign_in(ShiftReason::Manual, active, &mut out);
                }
            }
            Input::SignOut => {
                if self.state.signed_in {
                    self.sign_out(ShiftReason::Manual, &mut out);
                    self.state.manual_out = active;
                }
            }
            Input::Suspend => {
                self.sign_out(ShiftReason::Suspend, &mut out);
                self.suspended = true;
                return out;
            }
            Input::Resume => self.suspended = false,
            Input::Shutdown | Input::Logoff => {
                let reason = if input == Input::Logoff {
                    ShiftReason::Logoff
                } else {
                    ShiftReason::Shutdown
                };
                self.sign_out(reason, &mut out);
                self.stopped = true;
                return out;
            }
        }
        if self.suspended {
            return out;
        }
        // The shift the agent is signed in for has ended (or was taken off the schedule).
        if self.state.signed_in {
            match (self.state.shift, active) {
                (Some(s), a) if a != Some(s) => self.sign_out(ShiftReason::Auto, &mut out),
                // Signed in by hand before the shift: the shift adopts the sign-in.
                (None, Some(a)) => self.state.shift = Some(a),
                _ => {}
            }
        }
        if !self.state.signed_in {
            if let Some(a) = active.filter(|a| self.state.manual_out != Some(*a)) {
                let fresh = self.readiness_at.is_some_and(|t| {
                    now - t < self.params.recheck && t >= a.start - self.params.pre_shift
                });
                if fresh && self.readiness.meets(self.params.bar) && !self.check_running {
                    self.sign_in(ShiftReason::Auto, Some(a), &mut out);
                } else if !self.check_running {
                    match self.last_check_started {
                        Some(t) if t >= a.start && now - t < self.params.recheck => {}
                        Some(t) if t >= a.start => {
                            self.start_check(CheckPurpose::Recheck, now, &mut out)
                        }
                        _ => self.start_check(CheckPurpose::ShiftStart, now, &mut out),
                    }
                }
            }
        }
        if let Some(u) = self.upcoming(now, windows) {
            if self.prechecked != Some(u) && !self.check_running {
                self.prechecked = Some(u);
                self.start_check(CheckPurpose::PreShift, now, &mut out);
            }
        }
        out
    }

    /// The next moment at which a [`Input::Tick`] may produce an action.
    pub fn next_wakeup(
        &self,
        now: DateTime<Utc>,
        windows: &[ShiftWindow],
    ) -> Option<DateTime<Utc>> {
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        for w in windows {
            times.extend([w.start - self.params.pre_shift, w.start, w.end]);
        }
        if let Some(t) = self.last_check_started {
            times.push(t + self.params.recheck);
        }
        times.into_iter().filter(|t| *t > now).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Stockholm;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn params(bar: ReadinessBar) -> Params {
        Params {
            bar,
            pre_shift: Duration::minutes(15),
            recheck: Duration::seconds(60),
        }
    }

    fn weekly(days: &[&str], start: &str, end: &str, tz: &str) -> Schedule {
        Schedule::from_config(&ScheduleConfig {
            timezone: tz.into(),
            shift: vec![LocalShift {
                days: days.iter().map(|d| d.to_string()).collect(),
                start: start.into(),
                end: end.into(),
                timezone: String::new(),
            }],
        })
        .unwrap()
    }

    fn sign_in_auto(r: Readiness) -> Action {
        Action::SignIn {
            reason: ShiftReason::Auto,
            readiness: r,
        }
    }

    /// 2026-03-02 is a Monday; Stockholm is UTC+1 in winter.
    #[test]
    fn weekly_shift_is_in_the_agents_zone() {
        let s = weekly(&["mon"], "09:00", "17:00", "Europe/Stockholm");
        let w = s.windows(t("2026-03-02T12:00:00Z"));
        assert!(w.contains(&ShiftWindow {
            start: t("2026-03-02T08:00:00Z"),
            end: t("2026-03-02T16:00:00Z"),
        }));
        // Only Mondays.
        assert!(
            w.iter()
                .all(|w| w.start.with_timezone(&Stockholm).weekday() == Weekday::Mon)
        );
    }

    #[test]
    fn shift_over_midnight_ends_next_day() {
        let s = weekly(&["fri"], "22:00", "06:00", "UTC");
        let w = s.windows(t("2026-03-06T23:00:00Z"));
        let fri = ShiftWindow {
            start: t("2026-03-06T22:00:00Z"),
            end: t("2026-03-07T06:00:00Z"),
        };
        assert!(w.contains(&fri), "{w:?}");
        // The machine stays signed in across midnight and signs out at 06:00 Saturday.
        let mut m = ShiftMachine::new(params(ReadinessBar::Ready));
        let a = m.step(t("2026-03-06T21:45:00Z"), &w, Input::Tick);
        assert_eq!(a, [Action::RunCheck(CheckPurpose::PreShift)]);
        m.step(
            t("2026-03-06T21:45:05Z"),
            &w,
            Input::CheckDone(Readiness::Ready),
        );
        assert_eq!(
            m.step(t("2026-03-06T22:00:00Z"), &w, Input::Tick),
            [Action::RunCheck(CheckPurpose::ShiftStart)]
        );
        assert_eq!(
            m.step(
                t("2026-03-06T22:00:04Z"),
                &w,
                Input::CheckDone(Readiness::Ready)
            ),
            [sign_in_auto(Readiness::Ready)]
        );
        assert!(
            m.step(t("2026-03-07T00:00:30Z"), &w, Input::Tick)
                .is_empty()
        );
        assert!(m.signed_in());
        assert!(
            m.step(t("2026-03-07T05:59:59Z"), &w, Input::Tick)
                .is_empty()
        );
        assert_eq!(
            m.step(t("2026-03-07T06:00:00Z"), &w, Input::Tick),
            [Action::SignOut {
                reason: ShiftReason::Auto,
                readiness: Readiness::Ready
            }]
        );
    }

    /// Spring forward in Stockholm: 2026-03-29 02:00 CET becomes 03:00 CEST (EU rule: last
    /// Sunday of March, 01:00 UTC). A 22:00–06:00 night shift that night lasts 7 hours.
    #[test]
    fn night_shift_across_spring_dst_change_is_seven_hours() {
        let s = weekly(&["sat"], "22:00", "06:00", "Europe/Stockholm");
        let w = s.windows(t("2026-03-28T12:00:00Z"));
        let night = w
            .iter()
            .find(|w| w.start == t("2026-03-28T21:00:00Z"))
            .expect("Saturday's shift");
        assert_eq!(night.end, t("2026-03-29T04:00:00Z"));
        assert_eq!(night.end - night.start, Duration::hours(7));
        // The machine signs out at 06:00 CEST, 04:00 UTC, not at 05:00 UTC.
        let mut m = ShiftMachine::new(params(ReadinessBar::Any));
        m.step(t("2026-03-28T21:00:00Z"), &w, Input::Tick);
        m.step(
            t("2026-03-28T21:00:01Z"),
            &w,
            Input::CheckDone(Readiness::Ready),
        );
        assert!(m.signed_in());
        assert!(
            m.step(t("2026-03-29T03:59:59Z"), &w, Input::Tick)
                .is_empty()
        );
        assert!(matches!(
            m.step(t("2026-03-29T04:00:00Z"), &w, Input::Tick)[..],
            [Action::SignOut {
                reason: ShiftReason::Auto,
                ..
            }]
        ));
    }

    /// Fall back: 2026-10-25 03:00 CEST becomes 02:00 CET (01:00 UTC); the night lasts 9 h.
    /// A shift starting at 02:30 that night starts at the first 02:30 (00:30 UTC).
    #[test]
    fn autumn_dst_change_lengthens_the_night_and_picks_the_first_ambiguous_time() {
        let s = weekly(&["sat"], "22:00", "06:00", "Europe/Stockholm");
        let w = s.windows(t("2026-10-24T12:00:00Z"));
        let night = w
            .iter()
            .find(|w| w.start == t("2026-10-24T20:00:00Z"))
            .unwrap();
        assert_eq!(night.end - night.start, Duration::hours(9));
        let s = weekly(&["sun"], "02:30", "04:00", "Europe/Stockholm");
        let w = s.windows(t("2026-10-25T00:00:00Z"));
        assert!(
            w.iter().any(|w| w.start == t("2026-10-25T00:30:00Z")),
            "{w:?}"
        );
        // A start inside the spring gap (02:30 does not exist on 2026-03-29) moves to 03:00.
        let s = weekly(&["sun"], "02:30", "04:00", "Europe/Stockholm");
        let w = s.windows(t("2026-03-29T00:00:00Z"));
        assert!(
            w.iter().any(|w| w.start == t("2026-03-29T01:00:00Z")),
            "{w:?}"
        );
    }

    fn one(start: &str, end: &str) -> Vec<ShiftWindow> {
        vec![ShiftWindow {
            start: t(start),
            end: t(end),
        }]
    }

    #[test]
    fn early_daemon_waits_then_prechecks_then_signs_in_at_start() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let mut m = ShiftMachine::new(params(ReadinessBar::Ready));
        // An hour early: nothing to do; the next wake-up is the pre-shift check.
        assert!(
            m.step(t("2026-03-02T08:00:00Z"), &w, Input::Tick)
                .is_empty()
        );
        assert_eq!(
            m.next_wakeup(t("2026-03-02T08:00:00Z"), &w),
            Some(t("2026-03-02T08:45:00Z"))
        );
        assert_eq!(
            m.step(t("2026-03-02T08:45:00Z"), &w, Input::Tick),
            [Action::RunCheck(CheckPurpose::PreShift)]
        );
        // Ready before the shift: no notice, no sign-in yet.
        assert!(
            m.step(
                t("2026-03-02T08:45:20Z"),
                &w,
                Input::CheckDone(Readiness::Ready)
            )
            .is_empty()
        );
        assert!(!m.signed_in());
        // The pre-shift check is run once per shift, not on every tick.
        assert!(
            m.step(t("2026-03-02T08:50:00Z"), &w, Input::Tick)
                .is_empty()
        );
        // At the start a fresh check gates the sign-in.
        assert_eq!(
            m.step(t("2026-03-02T09:00:00Z"), &w, Input::Tick),
            [Action::RunCheck(CheckPurpose::ShiftStart)]
        );
        assert_eq!(
            m.step(
                t("2026-03-02T09:00:10Z"),
                &w,
                Input::CheckDone(Readiness::Ready)
            ),
            [sign_in_auto(Readiness::Ready)]
        );
    }

    #[test]
    fn pre_shift_check_that_fails_tells_the_agent() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let mut m = ShiftMachine::new(params(ReadinessBar::Ready));
        m.step(t("2026-03-02T08:45:00Z"), &w, Input::Tick);
        assert_eq!(
            m.step(
                t("2026-03-02T08:45:20Z"),
                &w,
                Input::CheckDone(Readiness::Degraded)
            ),
            [Action::Notify(Notice::PreShiftNotReady {
                readiness: Readiness::Degraded,
                shift: w[0]
            })]
        );
    }

    #[test]
    fn late_daemon_checks_and_signs_in_at_once() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let mut m = ShiftMachine::new(params(ReadinessBar::Degraded));
        assert_eq!(
            m.step(t("2026-03-02T10:17:00Z"), &w, Input::Tick),
            [Action::RunCheck(CheckPurpose::ShiftStart)]
        );
        assert_eq!(
            m.step(
                t("2026-03-02T10:17:09Z"),
                &w,
                Input::CheckDone(Readiness::Degraded)
            ),
            [sign_in_auto(Readiness::Degraded)]
        );
    }

    #[test]
    fn failed_check_at_start_rechecks_every_interval_until_the_bar_is_met() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let mut m = ShiftMachine::new(params(ReadinessBar::Ready));
        m.step(t("2026-03-02T09:00:00Z"), &w, Input::Tick);
        assert_eq!(
            m.step(
                t("2026-03-02T09:00:05Z"),
                &w,
                Input::CheckDone(Readiness::NotReady)
            ),
            [Action::Notify(Notice::BarNotMet {
                readiness: Readiness::NotReady,
                recheck_at: t("2026-03-02T09:01:05Z")
            })]
        );
        assert!(!m.signed_in());
        // Not before the recheck interval since the check started.
        assert!(
            m.step(t("2026-03-02T09:00:40Z"), &w, Input::Tick)
                .is_empty()
        );
        assert_eq!(
            m.next_wakeup(t("2026-03-02T09:00:40Z"), &w),
            Some(t("2026-03-02T09:01:00Z"))
        );
        assert_eq!(
            m.step(t("2026-03-02T09:01:00Z"), &w, Input::Tick),
            [Action::RunCheck(CheckPurpose::Recheck)]
        );
        // Still degraded: the bar is `ready`.
        m.step(
            t("2026-03-02T09:01:04Z"),
            &w,
            Input::CheckDone(Readiness::Degraded),
        );
        assert_eq!(
            m.step(t("2026-03-02T09:02:00Z"), &w, Input::Tick),
            [Action::RunCheck(CheckPurpose::Recheck)]
        );
        assert_eq!(
            m.step(
                t("2026-03-02T09:02:03Z"),
                &w,
                Input::CheckDone(Readiness::Ready)
            ),
            [sign_in_auto(Readiness::Ready)]
        );
    }

    #[test]
    fn suspend_mid_shift_signs_out_and_resume_signs_in_after_a_check() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let mut m = ShiftMachine::new(params(ReadinessBar::Ready));
        m.step(t("2026-03-02T09:00:00Z"), &w, Input::Tick);
        m.step(
            t("2026-03-02T09:00:02Z"),
            &w,
            Input::CheckDone(Readiness::Ready),
        );
        assert!(m.signed_in());
        assert_eq!(
            m.step(t("2026-03-02T12:00:00Z"), &w, Input::Suspend),
            [Action::SignOut {
                reason: ShiftReason::Suspend,
                readiness: Readiness::Ready
            }]
        );
        // Asleep: ticks do nothing.
        assert!(
            m.step(t("2026-03-02T12:30:00Z"), &w, Input::Tick)
                .is_empty()
        );
        assert_eq!(
            m.step(t("2026-03-02T12:45:00Z"), &w, Input::Resume),
            [Action::RunCheck(CheckPurpose::Recheck)]
        );
        assert_eq!(
            m.step(
                t("2026-03-02T12:45:06Z"),
                &w,
                Input::CheckDone(Readiness::Ready)
            ),
            [sign_in_auto(Readiness::Ready)]
        );
    }

    #[test]
    fn manual_sign_out_holds_for_the_rest_of_the_shift_and_shutdown_signs_out() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let mut m = ShiftMachine::new(params(ReadinessBar::Any));
        m.step(t("2026-03-02T09:00:00Z"), &w, Input::Tick);
        m.step(
            t("2026-03-02T09:00:01Z"),
            &w,
            Input::CheckDone(Readiness::Unknown),
        );
        assert!(m.signed_in());
        assert!(matches!(
            m.step(t("2026-03-02T10:00:00Z"), &w, Input::SignOut)[..],
            [Action::SignOut {
                reason: ShiftReason::Manual,
                ..
            }]
        ));
        assert!(
            m.step(t("2026-03-02T10:05:00Z"), &w, Input::Tick)
                .is_empty()
        );
        assert!(
            m.step(
                t("2026-03-02T10:05:00Z"),
                &w,
                Input::CheckDone(Readiness::Ready)
            )
            .is_empty()
        );
        assert!(matches!(
            m.step(t("2026-03-02T10:06:00Z"), &w, Input::SignIn)[..],
            [Action::SignIn {
                reason: ShiftReason::Manual,
                ..
            }]
        ));
        // A second sign-in changes nothing.
        assert!(
            m.step(t("2026-03-02T10:06:01Z"), &w, Input::SignIn)
                .is_empty()
        );
        assert!(matches!(
            m.step(t("2026-03-02T11:00:00Z"), &w, Input::Shutdown)[..],
            [Action::SignOut {
                reason: ShiftReason::Shutdown,
                ..
            }]
        ));
        assert!(
            m.step(t("2026-03-02T11:00:01Z"), &w, Input::SignIn)
                .is_empty()
        );
    }

    /// The machine is the daemon's only record of a check in flight: set by its own
    /// `RunCheck` and by a check started by hand, cleared by `CheckDone`, also after shutdown
    /// (a check still running then must not block the next one asked for by hand).
    #[test]
    fn check_in_flight_is_recorded_once_and_cleared_by_check_done() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let mut m = ShiftMachine::new(params(ReadinessBar::Ready));
        assert!(!m.check_running());
        assert_eq!(
            m.step(t("2026-03-02T09:00:00Z"), &w, Input::Tick),
            [Action::RunCheck(CheckPurpose::ShiftStart)]
        );
        assert!(m.check_running());
        // While it runs, time passing asks for no second check.
        assert!(
            m.step(t("2026-03-02T09:05:00Z"), &w, Input::Tick)
                .is_empty()
        );
        m.step(
            t("2026-03-02T09:05:01Z"),
            &w,
            Input::CheckDone(Readiness::Ready),
        );
        assert!(!m.check_running() && m.signed_in());
        // Started by hand, then the daemon stops before it finishes.
        m.check_started(t("2026-03-02T10:00:00Z"));
        assert!(m.check_running());
        m.step(t("2026-03-02T10:00:01Z"), &w, Input::Shutdown);
        m.step(
            t("2026-03-02T10:00:30Z"),
            &w,
            Input::CheckDone(Readiness::Ready),
        );
        assert!(!m.check_running());
    }

    #[test]
    fn restored_after_a_kill_mid_shift_signs_out_once_the_shift_is_over() {
        let w = one("2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z");
        let saved = Persisted {
            signed_in: true,
            shift: Some(w[0]),
            manual_out: None,
        };
        // Restarted within the shift: still signed in, no second sign-in.
        let mut m = ShiftMachine::restore(params(ReadinessBar::Ready), saved);
        assert!(
            m.step(t("2026-03-02T12:00:00Z"), &w, Input::Tick)
                .is_empty()
        );
        // Restarted after it: signs out.
        let mut m = ShiftMachine::restore(params(ReadinessBar::Ready), saved);
        assert!(matches!(
            m.step(t("2026-03-02T18:00:00Z"), &w, Input::Tick)[..],
            [Action::SignOut {
                reason: ShiftReason::Auto,
                ..
            }]
        ));
    }

    #[test]
    fn bad_schedule_reports_every_problem_with_its_key() {
        let e = Schedule::from_config(&ScheduleConfig {
            timezone: "Mars/Olympus".into(),
            shift: vec![LocalShift {
                days: vec!["mon".into(), "funday".into()],
                start: "25:00".into(),
                end: "17:00".into(),
                timezone: String::new(),
            }],
        })
        .unwrap_err();
        let keys: Vec<_> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "schedule.timezone",
                "schedule.shift[0].days",
                "schedule.shift[0].start"
            ]
        );
    }
}
