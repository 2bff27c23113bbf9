//! The contract's names as types: check names, incident names, the daemon's state, a device's
//! enrollment status, the fleet's states, and the metric keys of each check.
//!
//! On the wire these stay strings (a newer agent may send a check, incident or metric that this
//! build does not know, and HQ stores it anyway), so each enum parses with `parse` returning
//! `None` for an unknown name instead of failing, and prints with `as_str`. Code on both sides
//! names them through these types, so a typo is a compile error, not a silent mismatch.

use serde::{Deserialize, Serialize};

/// Declares a string-valued enum: `as_str`, `parse` (unknown → `None`), `ALL`, `Display`, and
/// serde as the snake_case string.
macro_rules! names {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),+
        }

        impl $name {
            /// Every value, in the order shown to people.
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// The name on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }

            /// The value named `s`, or `None` for a name this build does not know.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($s => Some($name::$v),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// The checks of the readiness report, in the order they are shown.
    CheckName {
        Os = "os",
        Hardware = "hardware",
        Network = "network",
        Headset = "headset",
        Noise = "noise",
    }
}

names! {
    /// Problems the daemon raises during a shift (after hysteresis) and ends when they clear.
    IncidentName {
        /// No headset with a microphone, or it is not the default device.
        HeadsetGone = "headset_gone",
        /// The network check is failing (voice probe, RTT, jitter, loss, MOS).
        NetworkDegraded = "network_degraded",
        /// The room is too loud, or voices or impulsive noise are heard.
        NoisyRoom = "noisy_room",
        /// HQ could not be reached to deliver events.
        HqUnreachable = "hq_unreachable",
        /// HQ refused events for good; the agent set them aside in its spool's quarantine
        /// (the detail says how many and HQ's first reason) and delivers the rest.
        EventsRejected = "events_rejected",
    }
}

names! {
    /// Where a network problem is: in the home (the link or the home router) or beyond it
    /// (the provider, the internet, HQ). Decided by the agent from the gateway ping and the
    /// link beside the pilot stream to HQ (issue 15); carried by `network_degraded` incidents.
    NetScope {
        /// The link is down, or the home router (default gateway) stopped answering too.
        Home = "home",
        /// The link and the home router are fine; the path beyond them is not.
        BeyondHome = "beyond_home",
    }
}

names! {
    /// What the daemon says it is doing (`status --json` `state`, the tray's icon).
    DaemonState {
        Ready = "ready",
        Degraded = "degraded",
        NotReady = "not_ready",
        Unknown = "unknown",
        /// Not signed in to a shift.
        SignedOut = "signed_out",
        /// HQ cannot be reached.
        Offline = "offline",
    }
}

impl DaemonState {
    /// The state of a signed-in daemon with this readiness.
    pub fn signed_in(readiness: crate::Readiness) -> DaemonState {
        match readiness {
            crate::Readiness::Ready => DaemonState::Ready,
            crate::Readiness::Degraded => DaemonState::Degraded,
            crate::Readiness::NotReady => DaemonState::NotReady,
            crate::Readiness::Unknown => DaemonState::Unknown,
        }
    }
}

names! {
    /// How the daemon sees HQ (`status --json` `hq`).
    HqLink {
        /// No HQ is configured.
        None = "none",
        Connected = "connected",
        Unreachable = "unreachable",
        /// HQ refused this device's key (revoked, or IT asked for a new enrollment): delivery
        /// is paused until `shiftready enroll` writes a new key.
        MustEnroll = "must_enroll",
    }
}

names! {
    /// A device's enrollment at HQ.
    DeviceStatus {
        /// Enrolled; its key works.
        Active = "active",
        /// IT revoked it; its key is refused for good.
        Revoked = "revoked",
        /// IT asked for it to enroll again; its key is refused until it does.
        Reenroll = "reenroll",
    }
}

names! {
    /// The states the fleet can be filtered by (`GET /api/v1/agents?state=`).
    FleetState {
        Ready = "ready",
        Degraded = "degraded",
        NotReady = "not_ready",
        Unknown = "unknown",
        Offline = "offline",
        /// Enrolled, not signed in, and heard from recently: on and waiting for a shift.
        Idle = "idle",
        Revoked = "revoked",
        Reenroll = "reenroll",
        SignedIn = "signed_in",
    }
}

/// Metric keys of the checks (`checks.<name>.metrics.<key>`), as named in the contract.
pub mod metric {
    // os
    pub const FAMILY: &str = "family";
    pub const VERSION: &str = "version";
    pub const BUILD: &str = "build";
    pub const ARCH: &str = "arch";
    pub const UPTIME_S: &str = "uptime_s";
    pub const PENDING_REBOOT: &str = "pending_reboot";
    // hardware
    pub const CPU_CORES: &str = "cpu_cores";
    pub const CPU_MODEL: &str = "cpu_model";
    pub const CPU_LOAD_PCT: &str = "cpu_load_pct";
    pub const MEMORY_TOTAL_GB: &str = "memory_total_gb";
    pub const MEMORY_AVAILABLE_GB: &str = "memory_available_gb";
    pub const MEMORY_USED_PCT: &str = "memory_used_pct";
    pub const DISK_FREE_GB: &str = "disk_free_gb";
    pub const POWER: &str = "power";
    // network
    pub const DNS_MS: &str = "dns_ms";
    pub const TCP_MS: &str = "tcp_ms";
    pub const TLS_MS: &str = "tls_ms";
    pub const HTTP_MS: &str = "http_ms";
    pub const RTT_MS_MIN: &str = "rtt_ms_min";
    pub const RTT_MS_MEDIAN: &str = "rtt_ms_median";
    pub const RTT_MS_P95: &str = "rtt_ms_p95";
    pub const RTT_MS_MAX: &str = "rtt_ms_max";
    pub const JITTER_UP_MS: &str = "jitter_up_ms";
    pub const JITTER_DOWN_MS: &str = "jitter_down_ms";
    pub const LOSS_UP_PCT: &str = "loss_up_pct";
    pub const LOSS_DOWN_PCT: &str = "loss_down_pct";
    pub const REORDERED: &str = "reordered";
    pub const MOS: &str = "mos";
    pub const R_FACTOR: &str = "r_factor";
    pub const GATEWAY_RTT_MS: &str = "gateway_rtt_ms";
    pub const GATEWAY_JITTER_MS: &str = "gateway_jitter_ms";
    pub const GATEWAY_LOSS_PCT: &str = "gateway_loss_pct";
    pub const LINK: &str = "link";
    pub const WIFI_SIGNAL_DBM: &str = "wifi_signal_dbm";
    pub const RTT_LOADED_UP_MS: &str = "rtt_loaded_up_ms";
    pub const RTT_LOADED_DOWN_MS: &str = "rtt_loaded_down_ms";
    pub const THROUGHPUT_UP_KBPS: &str = "throughput_up_kbps";
    pub const THROUGHPUT_DOWN_KBPS: &str = "throughput_down_kbps";
    pub const RPM: &str = "rpm";
    /// The worse loaded round trip minus the idle one, ms (issue 16).
    pub const ADDED_LATENCY_MS: &str = "added_latency_ms";
    // headset
    pub const HEADSET_PRESENT: &str = "headset_present";
    pub const HEADSET_NAME: &str = "headset_name";
    pub const HAS_MICROPHONE: &str = "has_microphone";
    pub const TRANSPORT: &str = "transport";
    pub const IS_DEFAULT_INPUT: &str = "is_default_input";
    pub const IS_DEFAULT_OUTPUT: &str = "is_default_output";
    // noise
    pub const LAEQ_DBFS: &str = "laeq_dbfs";
    pub const LAMAX_DBFS: &str = "lamax_dbfs";
    pub const L10_DBFS: &str = "l10_dbfs";
    pub const L90_DBFS: &str = "l90_dbfs";
    pub const PEAK_DBFS: &str = "peak_dbfs";
    pub const CLIPPED_FRACTION: &str = "clipped_fraction";
    pub const DOMINANT_HZ: &str = "dominant_hz";
    pub const CLASSIFICATION: &str = "classification";
    pub const CALIBRATION_DB: &str = "calibration_db";

    /// The keys the contract names for each check: `check --json` carries at least these.
    pub fn required(check: super::CheckName) -> &'static [&'static str] {
        use super::CheckName::*;
        match check {
            Os => &[FAMILY, VERSION, ARCH],
            Hardware => &[CPU_CORES, CPU_LOAD_PCT, MEMORY_TOTAL_GB, MEMORY_USED_PCT],
            Network => &[
                RTT_MS_MIN,
                RTT_MS_MEDIAN,
                RTT_MS_P95,
                RTT_MS_MAX,
                JITTER_UP_MS,
                JITTER_DOWN_MS,
                LOSS_UP_PCT,
                LOSS_DOWN_PCT,
                REORDERED,
                MOS,
                R_FACTOR,
            ],
            Headset => &[HEADSET_PRESENT, IS_DEFAULT_INPUT, IS_DEFAULT_OUTPUT],
            Noise => &[
                LAEQ_DBFS,
                LAMAX_DBFS,
                L10_DBFS,
                L90_DBFS,
                PEAK_DBFS,
                CLIPPED_FRACTION,
                DOMINANT_HZ,
                CLASSIFICATION,
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_none() {
        for c in CheckName::ALL {
            assert_eq!(CheckName::parse(c.as_str()), Some(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        // A check a newer agent sends (issue 12: stored, shown, not judged).
        assert_eq!(CheckName::parse("vpn"), None);
        assert_eq!(
            IncidentName::parse("headset_gone"),
            Some(IncidentName::HeadsetGone)
        );
        assert_eq!(IncidentName::parse("thermal_throttle"), None);
        assert_eq!(
            serde_json::from_str::<DeviceStatus>("\"reenroll\"").unwrap(),
            DeviceStatus::Reenroll
        );
    }

    #[test]
    fn contract_names_are_spelled_as_designed() {
        // DESIGN's contract: the five checks in report order, and the fleet's state filter.
        let checks: Vec<&str> = CheckName::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(checks, ["os", "hardware", "network", "headset", "noise"]);
        assert_eq!(
            DaemonState::signed_in(crate::Readiness::NotReady).as_str(),
            "not_ready"
        );
        let every: Vec<&str> = metric::required(CheckName::Network).to_vec();
        assert!(every.contains(&"jitter_up_ms") && every.contains(&"loss_down_pct"));
    }
}
