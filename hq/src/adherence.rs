//! Schedule adherence, the question workforce management asks first: for one scheduled shift,
//! when the agent signed in and out against the schedule, and how long they were signed in
//! but not ready. Pure: the caller reads the shift log, reports and incidents (see
//! `api::shifts`); this module only computes.
//!
//! The rules (times are milliseconds since the epoch, UTC, so a shift across midnight needs
//! nothing special):
//! - Signed-in spans come from the device's shift log in time order: a sign-in opens a span, a
//!   sign-out (any reason, `lost_contact` included) closes it; a `contact_restored` sign-in
//!   opens a new one. Lines flagged `out_of_order` changed nothing at HQ and are skipped here
//!   too. A sign-in while signed in (or a sign-out while out) changes nothing.
//! - Late: from the shift's start to the first moment signed in within the shift (0 when
//!   already signed in at the start). Early leave: from the last moment signed in to the
//!   shift's end, known once the shift has ended (0 when still signed in at the end).
//! - No-show: the shift has ended and the agent was never signed in during it (then neither
//!   late nor early leave is given: the shift is not counted twice).
//! - Not ready: signed-in time during which the latest readiness (from a report or the
//!   readiness a sign-in/out carried) was `not_ready`, or a readiness incident
//!   (`headset_gone`, `network_degraded`, `noisy_room`) was open.
//! - Minutes are whole minutes, rounded down, of the exact spans.

use serde::Serialize;

/// One line of a device's shift log, as adherence needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub at: i64,
    pub signed_in: bool,
}

/// Something that tells the device's readiness at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A readiness (`ready`, `degraded`, `not_ready`, `unknown`) from a report or a shift event.
    Readiness { at: i64, not_ready: bool },
    /// An incident began (`open`) or ended.
    Incident { at: i64, name: String, open: bool },
}

impl Observation {
    fn at(&self) -> i64 {
        match self {
            Observation::Readiness { at, .. } | Observation::Incident { at, .. } => *at,
        }
    }
}

/// The incidents that make an agent not ready for calls (`hq_unreachable` and
/// `events_rejected` are about delivery, not about taking calls).
pub const READINESS_INCIDENTS: [&str; 3] = ["headset_gone", "network_degraded", "noisy_room"];

/// Where a shift stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Upcoming,
    Running,
    Ended,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Upcoming => "upcoming",
            Phase::Running => "running",
            Phase::Ended => "ended",
        }
    }
}

/// The adherence of one scheduled shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adherence {
    pub start: i64,
    pub end: i64,
    pub phase: Phase,
    /// The first moment signed in within the shift (the start when signed in before it).
    pub first_in: Option<i64>,
    /// The last moment signed in within the shift, once the agent has signed out (or the shift
    /// ended); `None` while still signed in during a running shift.
    pub last_out: Option<i64>,
    pub scheduled_minutes: i64,
    pub signed_in_minutes: i64,
    /// `None` before the shift starts, and for a no-show.
    pub late_minutes: Option<i64>,
    /// `None` until the shift has ended, and for a no-show.
    pub early_leave_minutes: Option<i64>,
    pub no_show: bool,
    pub not_ready_minutes: i64,
}

fn minutes(ms: i64) -> i64 {
    ms.max(0) / 60_000
}

/// The spans `[from, to)` signed in, clipped to `[lo, hi)`. `marks` must be in time order and
/// include the last line before `lo` (it tells whether the agent was signed in at `lo`).
pub fn signed_in_spans(marks: &[Mark], lo: i64, hi: i64) -> Vec<(i64, i64)> {
    let mut spans = Vec::new();
    let mut open: Option<i64> = None;
    let close = |from: i64, to: i64, spans: &mut Vec<(i64, i64)>| {
        let (a, b) = (from.max(lo), to.min(hi));
        if a < b {
            spans.push((a, b));
        }
    };
    for m in marks {
        match (open, m.signed_in) {
            (None, true) => open = Some(m.at),
            (Some(from), false) => {
                close(from, m.at, &mut spans);
                open = None;
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        close(from, hi, &mut spans);
    }
    spans
}

/// The spans `[from, to)` not ready, clipped to `[lo, hi)`. `obs` must be in time order and
/// include what came before `lo` (the readiness and incidents standing at `lo`).
pub fn not_ready_spans(obs: &[Observation], lo: i64, hi: i64) -> Vec<(i64, i64)> {
    let mut spans = Vec::new();
    let mut not_ready = false;
    let mut open: std::collections::BTreeSet<&str> = Default::default();
    let mut since: Option<i64> = None;
    let push = |from: i64, to: i64, spans: &mut Vec<(i64, i64)>| {
        let (a, b) = (from.max(lo), to.min(hi));
        if a < b {
            spans.push((a, b));
        }
    };
    for o in obs {
        match o {
            Observation::Readiness { not_ready: n, .. } => not_ready = *n,
            Observation::Incident { name, open: o, .. } => {
                if READINESS_INCIDENTS.contains(&name.as_str()) {
                    if *o {
                        open.insert(name.as_str());
                    } else {
                        open.remove(name.as_str());
                    }
                }
            }
        }
        let bad = not_ready || !open.is_empty();
        match (since, bad) {
            (None, true) => since = Some(o.at()),
            (Some(from), false) => {
                push(from, o.at(), &mut spans);
                since = None;
            }
            _ => {}
        }
    }
    if let Some(from) = since {
        push(from, hi, &mut spans);
    }
    spans
}

/// The total length of the overlap of two sorted lists of disjoint spans.
fn overlap(a: &[(i64, i64)], b: &[(i64, i64)]) -> i64 {
    let mut total = 0;
    for &(a0, a1) in a {
        for &(b0, b1) in b {
            total += (a1.min(b1) - a0.max(b0)).max(0);
        }
    }
    total
}

/// The adherence of the shift `[start, end)` at `now`. `marks` and `obs` are the device's, in
/// time order, including what stood before `start`.
pub fn compute(start: i64, end: i64, marks: &[Mark], obs: &[Observation], now: i64) -> Adherence {
    let phase = if now < start {
        Phase::Upcoming
    } else if now < end {
        Phase::Running
    } else {
        Phase::Ended
    };
    let hi = end.min(now).max(start);
    let spans = signed_in_spans(marks, start, hi);
    let signed_in: i64 = spans.iter().map(|(a, b)| b - a).sum();
    let first_in = spans.first().map(|s| s.0);
    let still_in = spans.last().is_some_and(|s| s.1 == hi) && phase == Phase::Running;
    let last_out = if still_in {
        None
    } else {
        spans.last().map(|s| s.1)
    };
    let no_show = phase == Phase::Ended && spans.is_empty();
    // A no-show is neither late nor early (summing those must not count its shift twice).
    let late = match phase {
        Phase::Upcoming => None,
        _ if no_show => None,
        _ => Some(minutes(first_in.unwrap_or(hi) - start)),
    };
    let early = match (phase, last_out) {
        (Phase::Ended, Some(out)) => Some(minutes(end - out)),
        _ => None,
    };
    let not_ready = overlap(&spans, &not_ready_spans(obs, start, hi));
    Adherence {
        start,
        end,
        phase,
        first_in,
        last_out,
        scheduled_minutes: minutes(end - start),
        signed_in_minutes: minutes(signed_in),
        late_minutes: late,
        early_leave_minutes: early,
        no_show,
        not_ready_minutes: minutes(not_ready),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;
    /// 2025-12-01T08:00:00Z.
    const T0: i64 = 1_764_576_000_000;

    fn at(min: i64) -> i64 {
        T0 + min * M
    }
    fn sign_in(min: i64) -> Mark {
        Mark {
            at: at(min),
            signed_in: true,
        }
    }
    fn sign_out(min: i64) -> Mark {
        Mark {
            at: at(min),
            signed_in: false,
        }
    }
    fn ready(min: i64, ok: bool) -> Observation {
        Observation::Readiness {
            at: at(min),
            not_ready: !ok,
        }
    }
    fn incident(min: i64, name: &str, open: bool) -> Observation {
        Observation::Incident {
            at: at(min),
            name: name.into(),
            open,
        }
    }

    /// A shift 0..480 (08:00 to 16:00), seen long after it ended.
    fn day(marks: &[Mark], obs: &[Observation]) -> Adherence {
        compute(at(0), at(480), marks, obs, at(10_000))
    }

    #[test]
    fn on_time_all_day_is_clean() {
        let a = day(&[sign_in(0), sign_out(480)], &[ready(0, true)]);
        assert_eq!(a.late_minutes, Some(0));
        assert_eq!(a.early_leave_minutes, Some(0));
        assert!(!a.no_show);
        assert_eq!((a.scheduled_minutes, a.signed_in_minutes), (480, 480));
        assert_eq!(a.not_ready_minutes, 0);
        assert_eq!(a.phase, Phase::Ended);
    }

    #[test]
    fn late_and_early_leave() {
        let a = day(&[sign_in(7), sign_out(450)], &[]);
        assert_eq!(a.late_minutes, Some(7));
        assert_eq!(a.early_leave_minutes, Some(30));
        assert_eq!(a.signed_in_minutes, 443);
        assert_eq!(a.first_in, Some(at(7)));
        assert_eq!(a.last_out, Some(at(450)));
    }

    #[test]
    fn sign_in_before_the_shift_is_not_late_and_stays_after_is_not_counted() {
        let a = day(&[sign_in(-20), sign_out(500)], &[]);
        assert_eq!(a.late_minutes, Some(0));
        assert_eq!(a.early_leave_minutes, Some(0));
        assert_eq!(a.signed_in_minutes, 480, "only the scheduled time counts");
        assert_eq!(a.first_in, Some(at(0)));
    }

    #[test]
    fn several_sign_in_out_pairs_count_first_in_and_last_out() {
        let a = day(
            &[
                sign_in(3),
                sign_out(120),
                sign_in(150),
                sign_out(300),
                sign_in(330),
                sign_out(470),
            ],
            &[],
        );
        assert_eq!(a.late_minutes, Some(3));
        assert_eq!(a.early_leave_minutes, Some(10));
        assert_eq!(a.signed_in_minutes, 117 + 150 + 140);
    }

    #[test]
    fn lost_contact_then_contact_restored_is_a_gap() {
        // lost_contact is a sign-out, contact_restored a sign-in: the 25 minutes between are
        // not signed in; a repeated sign-in changes nothing.
        let a = day(
            &[
                sign_in(0),
                sign_out(100),
                sign_in(125),
                sign_in(130),
                sign_out(480),
            ],
            &[],
        );
        assert_eq!(a.signed_in_minutes, 455);
        assert_eq!(a.late_minutes, Some(0));
        assert_eq!(a.early_leave_minutes, Some(0));
    }

    #[test]
    fn a_shift_across_midnight() {
        // 22:00 to 06:00 next day.
        let (s, e) = (at(14 * 60), at(22 * 60));
        let marks = [
            Mark {
                at: s + 5 * M,
                signed_in: true,
            },
            Mark {
                at: e - 15 * M,
                signed_in: false,
            },
        ];
        let a = compute(s, e, &marks, &[], e + 1);
        assert_eq!(a.scheduled_minutes, 480);
        assert_eq!(a.late_minutes, Some(5));
        assert_eq!(a.early_leave_minutes, Some(15));
        assert_eq!(a.signed_in_minutes, 460);
    }

    #[test]
    fn no_events_is_a_no_show() {
        let a = day(&[], &[]);
        assert!(a.no_show);
        assert_eq!(a.late_minutes, None, "a no-show is not also late");
        assert_eq!(a.early_leave_minutes, None);
        assert_eq!(a.signed_in_minutes, 0);
        assert_eq!((a.first_in, a.last_out), (None, None));
        // Signed in and out before the shift, and again after it: still a no-show.
        let a = day(
            &[sign_in(-60), sign_out(-1), sign_in(481), sign_out(500)],
            &[],
        );
        assert!(a.no_show);
    }

    #[test]
    fn a_running_shift_has_no_early_leave_yet() {
        let marks = [sign_in(10)];
        let a = compute(at(0), at(480), &marks, &[ready(10, false)], at(70));
        assert_eq!(a.phase, Phase::Running);
        assert_eq!(a.late_minutes, Some(10));
        assert_eq!(a.early_leave_minutes, None);
        assert_eq!(a.last_out, None, "still signed in");
        assert!(!a.no_show);
        assert_eq!(a.signed_in_minutes, 60);
        assert_eq!(a.not_ready_minutes, 60);
        // Not signed in yet, 30 minutes in: late so far, not (yet) a no-show.
        let a = compute(at(0), at(480), &[], &[], at(30));
        assert_eq!((a.late_minutes, a.no_show), (Some(30), false));
        // Upcoming: nothing is known.
        let a = compute(at(0), at(480), &[], &[], at(-5));
        assert_eq!(a.phase, Phase::Upcoming);
        assert_eq!((a.late_minutes, a.early_leave_minutes), (None, None));
    }

    #[test]
    fn not_ready_counts_only_signed_in_time() {
        // Not ready from before the shift until 30; signed in from 10: 20 minutes count.
        // A headset_gone incident 100..130 (readiness ready meanwhile) counts 30; an
        // hq_unreachable incident 200..260 does not count; not ready again 400..end, but
        // signed out at 450: 50 minutes.
        let obs = [
            ready(-90, false),
            ready(30, true),
            incident(100, "headset_gone", true),
            incident(130, "headset_gone", false),
            incident(200, "hq_unreachable", true),
            incident(260, "hq_unreachable", false),
            ready(400, false),
        ];
        let a = day(&[sign_in(10), sign_out(450)], &obs);
        assert_eq!(a.not_ready_minutes, 20 + 30 + 50);
    }

    #[test]
    fn overlapping_incident_and_not_ready_count_once() {
        let obs = [
            ready(0, true),
            incident(60, "network_degraded", true),
            ready(90, false),
            incident(120, "network_degraded", false),
            ready(150, true),
        ];
        let a = day(&[sign_in(0), sign_out(480)], &obs);
        assert_eq!(a.not_ready_minutes, 90);
    }

    #[test]
    fn minutes_round_down() {
        let marks = [Mark {
            at: at(2) + 59_999,
            signed_in: true,
        }];
        let a = day(&marks, &[]);
        assert_eq!(a.late_minutes, Some(2));
    }
}
