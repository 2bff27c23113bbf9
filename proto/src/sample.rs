//! In-shift network history on the wire (issue 15): the per-minute `sample` event and the
//! `call_drop` event with its per-second history.
//!
//! The daemon keeps one record per second of what its pilot stream to HQ's reflector, the
//! gateway ping, the link and the headset showed (a ring buffer of at least 15 minutes). Every
//! minute of a shift it sends a [`MinuteSample`] summarising the last minute; when the agent
//! reports a dropped call it sends a [`CallDrop`] with the last 15 minutes as [`Seconds`].
//!
//! Every figure is optional: `null` means "not measured" (no pilot running, no gateway known,
//! not a Wi-Fi link), never zero. Loss is a percentage of the pilot packets of that second or
//! minute; "up" is agent → HQ, "down" is HQ → agent (the reflector's count tells them apart).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::names::NetScope;

/// The kind of link the default route uses.
pub type LinkKind = String;

/// One minute of a shift, summarised (the `sample` event's body). The event's `at` is the
/// start of the minute (UTC, whole minute).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MinuteSample {
    /// Seconds of the minute with a measurement (up to 60; fewer after a start or a wake).
    #[serde(default)]
    pub seconds: u16,
    /// Round-trip time to HQ's reflector, median and 95th percentile over the minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_p50_ms: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_p95_ms: Option<f32>,
    /// RFC 3550 interarrival jitter per direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_up_ms: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_down_ms: Option<f32>,
    /// Packet loss per direction, percent of the minute's pilot packets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_up_pct: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_down_pct: Option<f32>,
    /// The lowest MOS (ITU-T G.107) of any second of the minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mos_min: Option<f32>,
    /// The home router (default gateway): median RTT and the share of pings unanswered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_rtt_p50_ms: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_loss_pct: Option<f32>,
    /// The default route's link: `wired`, `wifi`, `cellular`, `other` (see `probe::link`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkKind>,
    /// Seconds of the minute the link was down (no default route, or the interface down).
    #[serde(default)]
    pub link_down_seconds: u16,
    /// Wi-Fi signal in dBm (the minute's lowest), when the link is Wi-Fi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi_signal_dbm: Option<i16>,
    /// Whether a headset with a microphone was present at the end of the minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headset: Option<bool>,
    /// The latest noise measurement (LAeq, dBA) and its class, if noise is monitored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_dba: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_class: Option<String>,
}

/// Per-second history, columnar to stay compact (15 minutes is about 20 KB of JSON): element
/// `i` of every vector is the second `start + i` s. All vectors have the same length; `null`
/// is "not measured".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seconds {
    /// The first second (UTC, whole second).
    pub start: DateTime<Utc>,
    /// Pilot RTT to HQ's reflector (median of the second's replies; `null`: no reply).
    #[serde(default)]
    pub rtt_ms: Vec<Option<f32>>,
    /// Pilot loss per direction, percent of the second's packets.
    #[serde(default)]
    pub loss_up_pct: Vec<Option<f32>>,
    #[serde(default)]
    pub loss_down_pct: Vec<Option<f32>>,
    /// Interarrival jitter (RFC 3550, downstream) at the end of the second.
    #[serde(default)]
    pub jitter_ms: Vec<Option<f32>>,
    /// Home router ping RTT (`null` when it did not answer or was not pinged; see `gateway_ok`).
    #[serde(default)]
    pub gateway_rtt_ms: Vec<Option<f32>>,
    /// Whether the home router answered that second (`null`: not pinged).
    #[serde(default)]
    pub gateway_ok: Vec<Option<bool>>,
    /// Whether the default route's link was up.
    #[serde(default)]
    pub link_up: Vec<Option<bool>>,
    /// Wi-Fi signal in dBm.
    #[serde(default)]
    pub wifi_signal_dbm: Vec<Option<i16>>,
    /// Whether a headset with a microphone was present.
    #[serde(default)]
    pub headset: Vec<Option<bool>>,
}

impl Seconds {
    /// The length of every column, in field order.
    fn lens(&self) -> [usize; 9] {
        [
            self.rtt_ms.len(),
            self.loss_up_pct.len(),
            self.loss_down_pct.len(),
            self.jitter_ms.len(),
            self.gateway_rtt_ms.len(),
            self.gateway_ok.len(),
            self.link_up.len(),
            self.wifi_signal_dbm.len(),
            self.headset.len(),
        ]
    }

    /// The number of seconds covered (the longest column; they are equal when well formed).
    pub fn len(&self) -> usize {
        self.lens().into_iter().max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every column has the same length (HQ refuses a `call_drop` otherwise).
    pub fn is_well_formed(&self) -> bool {
        let n = self.len();
        self.lens().iter().all(|&l| l == n)
    }
}

/// The most seconds a `call_drop` carries (15 minutes); HQ refuses more.
pub const CALL_DROP_MAX_SECONDS: usize = 15 * 60;
/// The longest note an agent may attach to a `call_drop` (characters); HQ refuses longer.
pub const CALL_DROP_MAX_NOTE: usize = 1000;

/// A dropped call the agent reported (`shiftready report-drop`, the tray): the event's `at` is
/// when it was reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallDrop {
    /// What the agent wrote, if anything.
    #[serde(default)]
    pub note: String,
    /// The last 15 minutes (or as much as the daemon has) up to the report.
    pub seconds: Seconds,
    /// Headset present when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headset: Option<bool>,
    /// The latest noise measurement and its class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_dba: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_class: Option<String>,
    /// The default route's link kind when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_shape_is_checked() {
        let mut s = Seconds {
            start: "2026-12-02T14:30:00Z".parse().unwrap(),
            rtt_ms: vec![Some(20.0), None],
            ..Default::default()
        };
        assert_eq!(s.len(), 2);
        assert!(!s.is_well_formed(), "other columns are empty");
        for v in [&mut s.loss_up_pct, &mut s.loss_down_pct, &mut s.jitter_ms] {
            *v = vec![None, None];
        }
        s.gateway_rtt_ms = vec![Some(1.0), None];
        s.gateway_ok = vec![Some(true), Some(false)];
        s.link_up = vec![Some(true), Some(true)];
        s.wifi_signal_dbm = vec![None, None];
        s.headset = vec![Some(true), Some(true)];
        assert!(s.is_well_formed());
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["rtt_ms"], serde_json::json!([20.0, null]));
        assert_eq!(serde_json::from_value::<Seconds>(j).unwrap(), s);
    }

    #[test]
    fn scope_names() {
        assert_eq!(NetScope::BeyondHome.as_str(), "beyond_home");
        assert_eq!(NetScope::parse("home"), Some(NetScope::Home));
        assert_eq!(NetScope::parse("isp"), None);
    }
}
