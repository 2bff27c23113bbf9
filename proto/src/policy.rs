//! The site policy: every threshold the checks use, the readiness bar for automatic sign-in
//! and the shift timings. HQ serves it to agents (`GET /api/v1/policy`); `config/policy.toml`
//! holds the defaults, which must equal [`Policy::default`] (a test checks).
//!
//! Bands have no gaps: [`Band::status`] maps every finite value to exactly one status.

use crate::load::Validate;
use crate::report::{Readiness, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The lowest readiness at which automatic sign-in happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessBar {
    /// Only a fully ready workstation signs in automatically.
    #[default]
    Ready,
    /// A warning is tolerated.
    Degraded,
    /// Sign in whatever the checks say.
    Any,
}

impl Readiness {
    /// Whether this readiness meets a bar (`ready` meets `degraded`, and so on). `Unknown`
    /// meets only the `any` bar. (Here, not in `report.rs`, so the report knows nothing of
    /// the policy.)
    pub fn meets(self, bar: ReadinessBar) -> bool {
        match bar {
            ReadinessBar::Any => true,
            ReadinessBar::Degraded => matches!(self, Readiness::Ready | Readiness::Degraded),
            ReadinessBar::Ready => self == Readiness::Ready,
        }
    }
}

/// The whole policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub shift: ShiftPolicy,
    pub os: OsPolicy,
    pub hardware: HardwarePolicy,
    pub network: NetworkPolicy,
    pub headset: HeadsetPolicy,
    pub noise: NoisePolicy,
}

/// `[shift]`: sign-in, heartbeats and lost contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShiftPolicy {
    /// Lowest readiness at which the daemon signs the agent in automatically.
    pub readiness_bar: ReadinessBar,
    /// Minutes before a shift at which the pre-shift check runs.
    pub pre_shift_minutes: u32,
    /// Seconds between heartbeats during a shift.
    pub heartbeat_seconds: u32,
    /// Missed heartbeats after which HQ signs the agent out with reason `lost_contact`.
    pub lost_contact_after_missed: u32,
    /// Seconds between rechecks while the bar is not met at shift start.
    pub recheck_seconds: u32,
    /// Whether an agent may sign in by hand (`shiftready sign-in`, the tray) while the
    /// computer is below `readiness_bar`: `allow` signs in and says what to fix first,
    /// `refuse` says what to fix and does not sign in.
    ///
    /// Left out of the policy HQ serves while it is `allow` (the default): an agent one
    /// release behind denies keys it does not know, and would otherwise read no policy and no
    /// shifts from HQ at all (tests/version_skew.rs).
    #[serde(skip_serializing_if = "ManualSignIn::is_allow")]
    pub manual_sign_in_below_bar: ManualSignIn,
    /// Seconds between the light presence heartbeats an enrolled daemon sends off shift
    /// (`signed_in: false` with its last readiness), so HQ tells a computer that is on and
    /// waiting for its shift (`idle`) from one that is off (`offline`). 5 to 3600.
    ///
    /// Left out of the policy HQ serves while it is the default (300), for the same reason as
    /// `manual_sign_in_below_bar`: an agent one release behind denies keys it does not know.
    #[serde(skip_serializing_if = "is_default_presence")]
    pub presence_seconds: u32,
}

/// The default of `shift.presence_seconds`: five minutes.
pub const DEFAULT_PRESENCE_SECONDS: u32 = 300;

fn is_default_presence(s: &u32) -> bool {
    *s == DEFAULT_PRESENCE_SECONDS
}

/// What a manual sign-in below the readiness bar does (`shift.manual_sign_in_below_bar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ManualSignIn {
    /// Sign in, and say that the computer is not ready and what to fix first.
    #[default]
    Allow,
    /// Do not sign in; say what to fix first.
    Refuse,
}

impl ManualSignIn {
    fn is_allow(&self) -> bool {
        *self == ManualSignIn::Allow
    }
}

impl Default for ShiftPolicy {
    fn default() -> Self {
        ShiftPolicy {
            readiness_bar: ReadinessBar::Ready,
            pre_shift_minutes: 15,
            heartbeat_seconds: 30,
            lost_contact_after_missed: 3,
            recheck_seconds: 60,
            manual_sign_in_below_bar: ManualSignIn::Allow,
            presence_seconds: DEFAULT_PRESENCE_SECONDS,
        }
    }
}

/// `[os]`: the minimum supported version per OS family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OsPolicy {
    /// Minimum Windows version as `major.minor.build` (10.0.19045 is Windows 10 22H2).
    pub min_windows: String,
    /// Minimum macOS product version.
    pub min_macos: String,
    /// Minimum Linux kernel version.
    pub min_linux_kernel: String,
    /// Minimum version per Linux distribution, by os-release `ID`.
    pub min_linux_distro: BTreeMap<String, String>,
    /// Whether a pending reboot (updates waiting) warns.
    pub pending_reboot_warns: bool,
}

impl Default for OsPolicy {
    fn default() -> Self {
        let distro = [
            ("debian", "12"),
            ("ubuntu", "22.04"),
            ("fedora", "40"),
            ("rhel", "9"),
        ];
        OsPolicy {
            min_windows: "10.0.19045".into(),
            min_macos: "13.0".into(),
            min_linux_kernel: "5.10".into(),
            min_linux_distro: distro
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            pending_reboot_warns: true,
        }
    }
}

/// `[hardware]`: CPU, memory and disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HardwarePolicy {
    /// CPU load in percent: at most `pass` passes, at most `warn` warns, above fails.
    pub cpu_pct: Band,
    /// Memory in use in percent, same bands.
    pub memory_pct: Band,
    /// Seconds a load must last in a shift before an alert is raised.
    pub sustain_seconds: u32,
    /// Free disk space in GB on the volume holding the home directory: at least `pass` passes.
    pub disk_free_gb: Band,
    /// Fewest CPU cores for a pass (fewer warns).
    pub min_cores: u32,
    /// Whether running on battery warns.
    pub battery_warns: bool,
}

impl Default for HardwarePolicy {
    fn default() -> Self {
        HardwarePolicy {
            cpu_pct: Band::upper(80.0, 90.0),
            memory_pct: Band::upper(80.0, 90.0),
            sustain_seconds: 30,
            disk_free_gb: Band::lower(10.0, 2.0),
            min_cores: 2,
            battery_warns: true,
        }
    }
}

/// The voice codec whose G.113 impairment values the E-model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// G.711 with packet loss concealment: Ie = 0, Bpl = 25.1 (G.113 Appendix I).
    #[default]
    G711Plc,
    /// G.711 without concealment: Ie = 0, Bpl = 4.3.
    G711,
    /// G.729A with VAD: Ie = 11, Bpl = 19.0.
    G729a,
}

/// `[network]`: the voice probe's bands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkPolicy {
    /// Round-trip time, ms (median).
    pub rtt_ms: Band,
    /// Jitter per direction, ms.
    pub jitter_ms: Band,
    /// Loss per direction, percent.
    pub loss_pct: Band,
    /// Mean opinion score (higher is better).
    pub mos: Band,
    /// The codec the E-model assumes.
    pub codec: Codec,
    /// Seconds the probe runs in `check`.
    pub probe_seconds: f64,
    /// Whether Wi-Fi warns (the site asks for a wired connection).
    pub require_wired: bool,
    /// Whether `shiftready check` measures latency under load (bufferbloat): after the voice
    /// probe it fills the line to HQ upstream, then downstream, for `load_seconds` each while
    /// timing small UDP probes. Never in the daemon's in-shift monitoring. Skipped, with a
    /// note, when the agent is not enrolled or HQ does not serve the load endpoints.
    #[serde(skip_serializing_if = "is_true")]
    pub load_test: bool,
    /// Seconds of load per direction (1 to 5); the check then takes about
    /// `probe_seconds + 2 × load_seconds + 1`.
    #[serde(skip_serializing_if = "is_default_load_seconds")]
    pub load_seconds: f64,
    /// Megabytes the load phase may move in all, per check (both directions together,
    /// 1 to 64): on a fast line it stops at this cap before `load_seconds`.
    #[serde(skip_serializing_if = "is_default_load_max_mb")]
    pub load_max_mb: f64,
    /// Latency added under load, ms: the worse of the round trip while uploading and while
    /// downloading, minus the idle round trip (median of each).
    #[serde(skip_serializing_if = "is_default_added_latency")]
    pub added_latency_ms: Band,
    /// The probe token HQ gave this device, put in its probe packets so HQ's reflector serves
    /// it first. Not a policy setting: never read from or written to a policy file or HQ's
    /// site policy; it travels beside the policy, as `probe_token` in the answer to
    /// `GET /api/v1/policy` (`proto::api::PolicyResponse`), where an older agent ignores it
    /// (inside the policy it would make an older agent refuse the whole policy).
    #[serde(skip)]
    pub probe_token: Option<crate::probe::Token>,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        NetworkPolicy {
            rtt_ms: Band::upper(200.0, 400.0),
            jitter_ms: Band::upper(30.0, 60.0),
            loss_pct: Band::upper(1.0, 2.5),
            mos: Band::lower(4.0, 3.5),
            codec: Codec::G711Plc,
            probe_seconds: 5.0,
            require_wired: false,
            load_test: true,
            load_seconds: DEFAULT_LOAD_SECONDS,
            load_max_mb: DEFAULT_LOAD_MAX_MB,
            added_latency_ms: DEFAULT_ADDED_LATENCY_MS,
            probe_token: None,
        }
    }
}

// The load keys are left out of the policy HQ serves while they are the defaults, like
// `shift.manual_sign_in_below_bar`: an agent one release behind denies keys it does not know.

/// The default of `network.load_seconds`.
pub const DEFAULT_LOAD_SECONDS: f64 = 3.0;
/// The default of `network.load_max_mb`.
pub const DEFAULT_LOAD_MAX_MB: f64 = 16.0;
/// The default of `network.added_latency_ms`: at most 100 ms passes, at most 300 ms warns.
/// With a typical idle round trip under 100 ms, 100 ms more keeps a loaded call inside the
/// round-trip pass band (200 ms, Twilio) and 300 ms more reaches the warn limit (400 ms);
/// Waveform's bufferbloat grades likewise call 200 to 400 ms added "D" and more "F".
pub const DEFAULT_ADDED_LATENCY_MS: Band = Band::upper(100.0, 300.0);

fn is_true(b: &bool) -> bool {
    *b
}

fn is_default_load_seconds(s: &f64) -> bool {
    *s == DEFAULT_LOAD_SECONDS
}

fn is_default_load_max_mb(s: &f64) -> bool {
    *s == DEFAULT_LOAD_MAX_MB
}

fn is_default_added_latency(b: &Band) -> bool {
    *b == DEFAULT_ADDED_LATENCY_MS
}

/// `[headset]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadsetPolicy {
    /// Whether a headset with a microphone is required (missing fails).
    pub required: bool,
    /// Whether a Bluetooth headset is allowed (disallowed fails).
    pub bluetooth_allowed: bool,
    /// Whether the headset must be the default input and output; when `true` a headset that is
    /// not the default fails, since calls would go through the built-in microphone.
    pub must_be_default: bool,
}

impl Default for HeadsetPolicy {
    fn default() -> Self {
        HeadsetPolicy {
            required: true,
            bluetooth_allowed: true,
            must_be_default: true,
        }
    }
}

/// `[noise]`: background level bands in dBFS(A) (after the device's calibration offset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoisePolicy {
    /// Seconds of audio the check records.
    pub seconds: f64,
    /// LAeq below this is a quiet room whatever the noise's character.
    pub quiet_max_dbfs_a: f64,
    /// LAeq bands: at most `pass` passes, at most `warn` warns, above fails.
    pub laeq_dbfs_a: Band,
}

impl Default for NoisePolicy {
    fn default() -> Self {
        NoisePolicy {
            seconds: 5.0,
            quiet_max_dbfs_a: -55.0,
            laeq_dbfs_a: Band::upper(-45.0, -35.0),
        }
    }
}

/// Two limits that split the number line into pass, warn and fail with no gaps.
///
/// When `pass <= warn` lower values are better (`value <= pass` passes, `value <= warn`
/// warns, anything else fails); when `pass > warn` higher values are better (`value >= pass`
/// passes, `value >= warn` warns).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub pass: f64,
    pub warn: f64,
}

impl Band {
    /// Lower is better: pass up to `pass`, warn up to `warn`.
    pub const fn upper(pass: f64, warn: f64) -> Band {
        Band { pass, warn }
    }

    /// Higher is better: pass from `pass`, warn from `warn`.
    pub const fn lower(pass: f64, warn: f64) -> Band {
        Band { pass, warn }
    }

    pub fn higher_is_better(&self) -> bool {
        self.pass > self.warn
    }

    /// The status of a measured value. A value that is not a number (NaN) could not be
    /// measured and is an `Error`.
    pub fn status(&self, value: f64) -> Status {
        if value.is_nan() {
            return Status::Error;
        }
        if self.higher_is_better() {
            if value >= self.pass {
                Status::Pass
            } else if value >= self.warn {
                Status::Warn
            } else {
                Status::Fail
            }
        } else if value <= self.pass {
            Status::Pass
        } else if value <= self.warn {
            Status::Warn
        } else {
            Status::Fail
        }
    }
}

fn check_band(problems: &mut Vec<(String, String)>, key: &str, band: &Band, higher_better: bool) {
    if !band.pass.is_finite() || !band.warn.is_finite() {
        problems.push((key.into(), "pass and warn must be numbers".into()));
    } else if higher_better && band.pass < band.warn {
        problems.push((
            key.into(),
            format!(
                "higher is better here, so pass ({}) must be at least warn ({})",
                band.pass, band.warn
            ),
        ));
    } else if !higher_better && band.pass > band.warn {
        problems.push((
            key.into(),
            format!(
                "lower is better here, so pass ({}) must be at most warn ({})",
                band.pass, band.warn
            ),
        ));
    }
}

fn check_version(problems: &mut Vec<(String, String)>, key: &str, v: &str) {
    if parse_version(v).is_none() {
        problems.push((
            key.into(),
            format!("'{v}' is not a version like 10.0.19045"),
        ));
    }
}

/// Parses a dotted version (`22.04`, `10.0.19045`, `6.1.0-13-amd64`) into its numbers,
/// ignoring anything after the first part that is not a number.
pub fn parse_version(v: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    for part in v.trim().split('.') {
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            break;
        }
        out.push(digits.parse().ok()?);
        if digits.len() != part.len() {
            break;
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

/// Compares two dotted versions, missing parts counting as zero.
pub fn version_at_least(found: &[u64], min: &[u64]) -> bool {
    let n = found.len().max(min.len());
    for i in 0..n {
        let (a, b) = (
            found.get(i).copied().unwrap_or(0),
            min.get(i).copied().unwrap_or(0),
        );
        if a != b {
            return a > b;
        }
    }
    true
}

impl Validate for Policy {
    fn validate(&self, p: &mut Vec<(String, String)>) {
        let s = &self.shift;
        if s.heartbeat_seconds < 5 || s.heartbeat_seconds > 3600 {
            p.push((
                "shift.heartbeat_seconds".into(),
                "must be between 5 and 3600".into(),
            ));
        }
        if s.lost_contact_after_missed < 1 || s.lost_contact_after_missed > 100 {
            p.push((
                "shift.lost_contact_after_missed".into(),
                "must be between 1 and 100".into(),
            ));
        }
        if s.pre_shift_minutes > 24 * 60 {
            p.push((
                "shift.pre_shift_minutes".into(),
                "must be at most 1440 (a day)".into(),
            ));
        }
        if s.recheck_seconds < 5 || s.recheck_seconds > 3600 {
            p.push((
                "shift.recheck_seconds".into(),
                "must be between 5 and 3600".into(),
            ));
        }
        if s.presence_seconds < 5 || s.presence_seconds > 3600 {
            p.push((
                "shift.presence_seconds".into(),
                "must be between 5 and 3600".into(),
            ));
        }
        check_version(p, "os.min_windows", &self.os.min_windows);
        check_version(p, "os.min_macos", &self.os.min_macos);
        check_version(p, "os.min_linux_kernel", &self.os.min_linux_kernel);
        for (id, v) in &self.os.min_linux_distro {
            check_version(p, &format!("os.min_linux_distro.{id}"), v);
        }
        let h = &self.hardware;
        check_band(p, "hardware.cpu_pct", &h.cpu_pct, false);
        check_band(p, "hardware.memory_pct", &h.memory_pct, false);
        check_band(p, "hardware.disk_free_gb", &h.disk_free_gb, true);
        for (key, b) in [
            ("hardware.cpu_pct", h.cpu_pct),
            ("hardware.memory_pct", h.memory_pct),
        ] {
            if !(0.0..=100.0).contains(&b.pass) || !(0.0..=100.0).contains(&b.warn) {
                p.push((key.into(), "percentages must be between 0 and 100".into()));
            }
        }
        let n = &self.network;
        check_band(p, "network.rtt_ms", &n.rtt_ms, false);
        check_band(p, "network.jitter_ms", &n.jitter_ms, false);
        check_band(p, "network.loss_pct", &n.loss_pct, false);
        check_band(p, "network.mos", &n.mos, true);
        if !(1.0..=5.0).contains(&n.mos.pass) || !(1.0..=5.0).contains(&n.mos.warn) {
            p.push((
                "network.mos".into(),
                "MOS limits must be between 1 and 5".into(),
            ));
        }
        if !(n.probe_seconds >= 1.0 && n.probe_seconds <= 60.0) {
            p.push((
                "network.probe_seconds".into(),
                "must be between 1 and 60".into(),
            ));
        }
        check_band(p, "network.added_latency_ms", &n.added_latency_ms, false);
        if !(n.load_seconds >= 1.0 && n.load_seconds <= 5.0) {
            p.push((
                "network.load_seconds".into(),
                "must be between 1 and 5".into(),
            ));
        }
        if !(n.load_max_mb >= 1.0 && n.load_max_mb <= 64.0) {
            p.push((
                "network.load_max_mb".into(),
                "must be between 1 and 64".into(),
            ));
        }
        let z = &self.noise;
        check_band(p, "noise.laeq_dbfs_a", &z.laeq_dbfs_a, false);
        if !(z.seconds >= 0.5 && z.seconds <= 60.0) {
            p.push(("noise.seconds".into(), "must be between 0.5 and 60".into()));
        }
        if z.quiet_max_dbfs_a.is_nan() || z.quiet_max_dbfs_a > z.laeq_dbfs_a.pass {
            p.push((
                "noise.quiet_max_dbfs_a".into(),
                "must be at most noise.laeq_dbfs_a.pass".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_policy_serves_only_keys_the_previous_release_knows() {
        // The previous release's [shift] table (4451ef2): a key beyond these makes it refuse
        // the whole policy (deny_unknown_fields).
        let v = serde_json::to_value(Policy::default()).unwrap();
        let keys: Vec<&String> = v["shift"].as_object().unwrap().keys().collect();
        for k in &keys {
            assert!(
                [
                    "readiness_bar",
                    "pre_shift_minutes",
                    "heartbeat_seconds",
                    "lost_contact_after_missed",
                    "recheck_seconds"
                ]
                .contains(&k.as_str()),
                "{k} is served to agents that do not know it"
            );
        }
        let mut p = Policy::default();
        p.shift.manual_sign_in_below_bar = ManualSignIn::Refuse;
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["shift"]["manual_sign_in_below_bar"], "refuse");
        let back: Policy = serde_json::from_value(v).unwrap();
        assert_eq!(back.shift.manual_sign_in_below_bar, ManualSignIn::Refuse);
        // The presence interval likewise, served only when a site changed it.
        let mut p = Policy::default();
        p.shift.presence_seconds = 60;
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["shift"]["presence_seconds"], 60);
        let back: Policy = serde_json::from_value(v).unwrap();
        assert_eq!(back.shift.presence_seconds, 60);
    }

    #[test]
    fn presence_seconds_is_validated() {
        for (secs, ok) in [
            (4, false),
            (5, true),
            (300, true),
            (3600, true),
            (3601, false),
        ] {
            let mut p = Policy::default();
            p.shift.presence_seconds = secs;
            let mut problems = Vec::new();
            p.validate(&mut problems);
            let named = problems.iter().any(|(k, _)| k == "shift.presence_seconds");
            assert_eq!(named, !ok, "{secs}: {problems:?}");
        }
    }

    #[test]
    fn the_load_keys_are_served_only_when_a_site_changed_them() {
        // The previous release's [network] table knows none of the load keys.
        let v = serde_json::to_value(Policy::default()).unwrap();
        for k in [
            "load_test",
            "load_seconds",
            "load_max_mb",
            "added_latency_ms",
        ] {
            assert!(v["network"].get(k).is_none(), "{k} served by default");
        }
        let mut p = Policy::default();
        p.network.load_test = false;
        p.network.added_latency_ms = Band::upper(50.0, 150.0);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["network"]["load_test"], false);
        let back: Policy = serde_json::from_value(v).unwrap();
        assert_eq!(back.network, p.network);
        let mut bad = Policy::default();
        bad.network.load_seconds = 30.0;
        bad.network.added_latency_ms = Band::upper(300.0, 100.0);
        let mut problems = Vec::new();
        bad.validate(&mut problems);
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["network.added_latency_ms", "network.load_seconds"],
            "{problems:?}"
        );
    }

    #[test]
    fn bar_is_met_by_better_readiness_only() {
        use ReadinessBar as B;
        assert!(Readiness::Ready.meets(B::Ready));
        assert!(!Readiness::Degraded.meets(B::Ready));
        assert!(Readiness::Degraded.meets(B::Degraded));
        assert!(!Readiness::NotReady.meets(B::Degraded));
        assert!(!Readiness::Unknown.meets(B::Degraded));
        assert!(Readiness::Unknown.meets(B::Any));
    }

    #[test]
    fn bands_have_no_gaps_at_edges() {
        let rtt = Band::upper(200.0, 400.0);
        assert_eq!(rtt.status(200.0), Status::Pass);
        assert_eq!(rtt.status(200.000001), Status::Warn);
        assert_eq!(rtt.status(400.0), Status::Warn);
        assert_eq!(rtt.status(400.000001), Status::Fail);
        assert_eq!(rtt.status(f64::INFINITY), Status::Fail);
        assert_eq!(rtt.status(-1.0), Status::Pass);
        let mos = Band::lower(4.0, 3.5);
        assert_eq!(mos.status(4.0), Status::Pass);
        assert_eq!(mos.status(3.9999), Status::Warn);
        assert_eq!(mos.status(3.5), Status::Warn);
        assert_eq!(mos.status(3.4999), Status::Fail);
        assert_eq!(mos.status(f64::NAN), Status::Error);
    }

    #[test]
    fn every_value_maps_to_exactly_one_status() {
        // Sweep densely across both edges of both band directions: the status only ever
        // worsens as the value worsens, and every value gets one of pass/warn/fail.
        for band in [
            Band::upper(1.0, 2.5),
            Band::lower(4.0, 3.5),
            Band::upper(3.0, 3.0),
        ] {
            let mut last = None;
            for i in -1000..=1000 {
                let mut v = 2.0 + i as f64 * 0.01;
                if band.higher_is_better() {
                    v = 6.0 - v;
                }
                let s = band.status(v);
                assert!(matches!(s, Status::Pass | Status::Warn | Status::Fail));
                if let Some(prev) = last {
                    assert!(s >= prev, "{band:?} at {v}: {s:?} after {prev:?}");
                }
                last = Some(s);
            }
        }
    }

    #[test]
    fn versions_compare_numerically() {
        let v = |s| parse_version(s).unwrap();
        assert!(version_at_least(&v("10.0.22631"), &v("10.0.19045")));
        assert!(!version_at_least(&v("10.0.19044"), &v("10.0.19045")));
        assert!(version_at_least(&v("22.04"), &v("22.04")));
        assert!(!version_at_least(&v("20.04"), &v("22.04")));
        assert!(version_at_least(&v("6.1.0-13-amd64"), &v("5.10")));
        assert!(version_at_least(&v("13"), &v("13.0")));
        assert!(parse_version("bookworm").is_none());
    }

    #[test]
    fn default_policy_is_valid() {
        let mut p = Vec::new();
        Policy::default().validate(&mut p);
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn inverted_band_is_reported() {
        let mut pol = Policy::default();
        pol.network.rtt_ms = Band::upper(400.0, 200.0);
        let mut p = Vec::new();
        pol.validate(&mut p);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "network.rtt_ms");
    }
}
