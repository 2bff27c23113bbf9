//! Events the agent records and delivers to HQ through its durable spool.
//!
//! Every event has a UUID, assigned once when it is recorded, and the time it happened.
//! HQ ingestion is idempotent on `id`, so a retried batch changes nothing.

use crate::report::{Readiness, Report};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One event: `{"id", "at", "kind", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id, assigned by the agent when the event is recorded.
    pub id: Uuid,
    /// When it happened, by the agent's clock (UTC).
    pub at: DateTime<Utc>,
    /// The agent's clock when the event was sent (set at send time; HQ measures skew from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// A new event happening now, with a fresh id.
    pub fn now(body: EventBody) -> Event {
        Event {
            id: Uuid::new_v4(),
            at: Utc::now(),
            sent_at: None,
            body,
        }
    }

    /// The event's kind as it appears on the wire (`report`, `heartbeat`, ...).
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }
}

/// Why a sign-in or sign-out happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftReason {
    /// The daemon did it on schedule.
    Auto,
    /// The agent asked (tray menu or `shiftready sign-in`/`sign-out`).
    Manual,
    /// HQ signed the agent out after its heartbeats stopped.
    LostContact,
    /// The computer was shutting down or the daemon was stopped.
    Shutdown,
    /// The computer was going to sleep.
    Suspend,
    /// The user's session was ending.
    Logoff,
    /// HQ signed the agent in again when its heartbeats resumed, signed in, after a
    /// `lost_contact` sign-out.
    ContactRestored,
}

impl ShiftReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftReason::Auto => "auto",
            ShiftReason::Manual => "manual",
            ShiftReason::LostContact => "lost_contact",
            ShiftReason::Shutdown => "shutdown",
            ShiftReason::Suspend => "suspend",
            ShiftReason::Logoff => "logoff",
            ShiftReason::ContactRestored => "contact_restored",
        }
    }

    /// Whether only HQ may record this reason (a device claiming it is refused).
    pub fn is_hq_only(self) -> bool {
        matches!(
            self,
            ShiftReason::LostContact | ShiftReason::ContactRestored
        )
    }
}

/// Whether an incident began or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Started,
    Ended,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A full readiness report.
    Report { report: Report },
    /// "Still here": compact status, sent every `heartbeat_seconds`.
    Heartbeat {
        readiness: Readiness,
        signed_in: bool,
    },
    /// The agent was signed in to the shift.
    SignIn {
        reason: ShiftReason,
        readiness: Readiness,
    },
    /// The agent was signed out of the shift.
    SignOut {
        reason: ShiftReason,
        readiness: Readiness,
    },
    /// A problem during the shift began or ended (`network_degraded`, `headset_gone`,
    /// `hq_unreachable`, ...).
    Incident {
        name: String,
        state: IncidentState,
        #[serde(default)]
        detail: String,
        /// For network incidents: whether the problem is in the home or beyond it (issue 15;
        /// absent from older agents and for other incidents).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "lenient_scope"
        )]
        scope: Option<crate::names::NetScope>,
    },
    /// A per-minute summary of the network, headset and noise during a shift (issue 15).
    Sample { sample: crate::sample::MinuteSample },
    /// A dropped call the agent reported, with the recent per-second history (issue 15).
    CallDrop {
        /// Boxed: its per-second history makes it ten times the size of the other kinds.
        call_drop: Box<crate::sample::CallDrop>,
    },
}

/// A scope this build does not know (a newer agent's) reads as none: the incident is kept,
/// never refused for it.
fn lenient_scope<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::names::NetScope>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.as_deref().and_then(crate::names::NetScope::parse))
}

impl EventBody {
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Report { .. } => "report",
            EventBody::Heartbeat { .. } => "heartbeat",
            EventBody::SignIn { .. } => "sign_in",
            EventBody::SignOut { .. } => "sign_out",
            EventBody::Incident { .. } => "incident",
            EventBody::Sample { .. } => "sample",
            EventBody::CallDrop { .. } => "call_drop",
        }
    }

    /// Shift events are never dropped from a full spool; heartbeats are thinned first.
    pub fn is_shift_event(&self) -> bool {
        matches!(self, EventBody::SignIn { .. } | EventBody::SignOut { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trips_with_flat_kind() {
        let e = Event::now(EventBody::SignIn {
            reason: ShiftReason::Auto,
            readiness: Readiness::Ready,
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "sign_in");
        assert_eq!(v["reason"], "auto");
        assert_eq!(v["readiness"], "ready");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn contact_restored_is_hq_only_on_the_wire() {
        let v = serde_json::to_value(ShiftReason::ContactRestored).unwrap();
        assert_eq!(v, "contact_restored");
        assert_eq!(ShiftReason::ContactRestored.as_str(), "contact_restored");
        assert!(ShiftReason::ContactRestored.is_hq_only());
        assert!(ShiftReason::LostContact.is_hq_only());
        assert!(!ShiftReason::Manual.is_hq_only());
    }

    #[test]
    fn an_unknown_scope_keeps_the_incident() {
        let j = r#"{"id":"6f1c1a8e-9f5e-4d6f-8b1a-2f0c3b4d5e6f","at":"2026-01-01T00:00:00Z","kind":"incident","name":"network_degraded","state":"started","scope":"satellite"}"#;
        let e: Event = serde_json::from_str(j).unwrap();
        assert!(matches!(e.body, EventBody::Incident { scope: None, .. }));
        let j = j.replace("satellite", "beyond_home");
        let e: Event = serde_json::from_str(&j).unwrap();
        assert!(matches!(
            e.body,
            EventBody::Incident {
                scope: Some(crate::names::NetScope::BeyondHome),
                ..
            }
        ));
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let j = r#"{"id":"6f1c1a8e-9f5e-4d6f-8b1a-2f0c3b4d5e6f","at":"2026-01-01T00:00:00Z","kind":"bogus"}"#;
        assert!(serde_json::from_str::<Event>(j).is_err());
    }
}
