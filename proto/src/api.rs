//! Request and response bodies of the HQ HTTP API (`/api/v1/...`).

use crate::event::Event;
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/enroll` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The site's enrollment secret, carried by the installer.
    pub secret: String,
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub agent_version: String,
    /// The one-time code IT got from `shiftready-hq device reenroll` (or the dashboard): with
    /// it this enrollment takes over that device (its id and history); without it an
    /// enrollment is always a new device. Left out when not given, so an older HQ reads the
    /// request as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reenroll_code: Option<String>,
}

/// `POST /api/v1/enroll` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: String,
    /// The device's key: shown once, stored by HQ only as a hash.
    pub device_key: String,
    /// Whether this enrollment took over an existing device with a re-enrollment code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reenrolled: bool,
    /// Something the person enrolling should know (another device of the site has this
    /// hostname), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// `POST /api/v1/events` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// `POST /api/v1/events` response: which ids HQ now holds (new or already seen), and what
/// became of each event of the batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventAck {
    /// The ids HQ now holds: stored now or before. A rejected event's id is not here.
    pub accepted: Vec<uuid::Uuid>,
    /// How many of them HQ had already (a retry).
    #[serde(default)]
    pub duplicates: usize,
    /// One answer per event, in the batch's order (empty from an HQ older than issue 12).
    #[serde(default)]
    pub results: Vec<EventResult>,
    /// When IT asked this device to run its full check now ("Run the check now" on its page in
    /// HQ's dashboard), while that request waits: the daemon runs the check and sends the
    /// report, and HQ drops the request when a report arrives. Absent when nothing is asked
    /// (and from an HQ older than issue 13); an agent that does not know it ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_requested_at: Option<DateTime<Utc>>,
}

/// What HQ did with one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResult {
    /// The event's id; `null` when the event was rejected before its id could be read.
    pub id: Option<uuid::Uuid>,
    pub outcome: EventOutcome,
    /// Why it was rejected, naming the field at fault (only for `rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of one event: HQ holds it (`stored` now, or a `duplicate` of one it held), or
/// it was `rejected` for good (sending it again gets the same answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    Stored,
    Duplicate,
    Rejected,
}

impl EventOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Stored => "stored",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Rejected => "rejected",
        }
    }

    /// Whether HQ holds the event (the agent may forget it).
    pub fn is_held(self) -> bool {
        matches!(self, EventOutcome::Stored | EventOutcome::Duplicate)
    }
}

/// One scheduled shift of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `GET /api/v1/policy` response: the thresholds for this agent's site and its shifts.
///
/// On the wire it also carries `probe_token` (when HQ gives one) beside `policy`; in memory
/// that token is `policy.network.probe_token`, so whatever holds the policy holds it too
/// ([`PolicyWire`]). An older agent ignores the key; an older HQ does not send it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "PolicyWire", into = "PolicyWire")]
pub struct PolicyResponse {
    pub policy: Policy,
    pub shifts: Vec<Shift>,
    /// The event kinds this HQ stores beyond the original five (`sample`, `call_drop`, ...),
    /// so an agent records them only for an HQ that keeps them. Empty from an older HQ.
    pub event_kinds: Vec<String>,
}

/// [`PolicyResponse`] as JSON: the probe token outside the policy (whose every level an
/// older agent reads with `deny_unknown_fields`).
#[derive(Serialize, Deserialize)]
pub struct PolicyWire {
    policy: Policy,
    #[serde(default)]
    shifts: Vec<Shift>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probe_token: Option<crate::probe::Token>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    event_kinds: Vec<String>,
}

impl From<PolicyWire> for PolicyResponse {
    fn from(w: PolicyWire) -> PolicyResponse {
        let mut policy = w.policy;
        policy.network.probe_token = w.probe_token;
        PolicyResponse {
            policy,
            shifts: w.shifts,
            event_kinds: w.event_kinds,
        }
    }
}

impl From<PolicyResponse> for PolicyWire {
    fn from(r: PolicyResponse) -> PolicyWire {
        PolicyWire {
            probe_token: r.policy.network.probe_token,
            policy: r.policy,
            shifts: r.shifts,
            event_kinds: r.event_kinds,
        }
    }
}

/// Every 4xx/5xx body: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// HQ's answer to `POST /api/v1/load/upload` (the latency-under-load test, issue 16): what it
/// received of the body and over how long, by its own clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadUploadAck {
    /// Body bytes HQ read (and discarded).
    pub bytes: u64,
    /// Seconds from the first body byte HQ read to the last.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_of_an_older_hq_reads_without_results() {
        let a: EventAck = serde_json::from_str(r#"{"accepted": [], "duplicates": 0}"#).unwrap();
        assert!(a.results.is_empty());
        assert_eq!(a.check_requested_at, None);
    }

    #[test]
    fn a_check_request_rides_on_the_ack_only_when_there_is_one() {
        let mut a: EventAck = serde_json::from_str(r#"{"accepted": [], "duplicates": 0}"#).unwrap();
        let v = serde_json::to_value(&a).unwrap();
        assert!(v.get("check_requested_at").is_none(), "{v}");
        let at: DateTime<Utc> = "2026-12-02T03:00:00Z".parse().unwrap();
        a.check_requested_at = Some(at);
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["check_requested_at"], "2026-12-02T03:00:00Z");
        let back: EventAck = serde_json::from_value(v).unwrap();
        assert_eq!(back.check_requested_at, Some(at));
    }

    #[test]
    fn results_are_snake_case_and_error_only_when_rejected() {
        let id = uuid::Uuid::new_v4();
        let ack = EventAck {
            check_requested_at: None,
            accepted: vec![id],
            duplicates: 0,
            results: vec![
                EventResult {
                    id: Some(id),
                    outcome: EventOutcome::Stored,
                    error: None,
                },
                EventResult {
                    id: None,
                    outcome: EventOutcome::Rejected,
                    error: Some("`kind`: unknown".into()),
                },
            ],
        };
        let v = serde_json::to_value(&ack).unwrap();
        assert_eq!(v["results"][0]["outcome"], "stored");
        assert!(v["results"][0].get("error").is_none());
        assert_eq!(v["results"][1]["outcome"], "rejected");
        assert!(v["results"][1]["id"].is_null());
        let back: EventAck = serde_json::from_value(v).unwrap();
        assert_eq!(back.results, ack.results);
    }
}
