//! The agent's configuration file (`config/agent.toml` holds the defaults).

use proto::load::{self, ConfigError, Validate};
use proto::{Msg, Policy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole agent configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    pub hq: HqConfig,
    pub agent: AgentSection,
    pub audio: AudioConfig,
    pub checks: ChecksConfig,
    /// `[schedule]`: the weekly shifts when there is no HQ.
    pub schedule: shiftready_core::shift::ScheduleConfig,
    /// `[daemon]`: in-shift monitoring intervals and the spool's bound.
    pub daemon: DaemonConfig,
    /// `[monitor]`: the in-shift pilot stream.
    pub monitor: MonitorConfig,
}

/// `[monitor]` in the agent config: what watches the network during a shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// The pilot stream (`daemon/pilot.rs`): two 76-byte UDP packets a second to HQ's
    /// reflector while signed in, so an outage or a loss burst is raised within seconds
    /// (about 1.7 kbit/s each way). `false`: only the once-a-minute probe, as before.
    pub pilot: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig { pilot: true }
    }
}

/// `[hq]`: where headquarters is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HqConfig {
    /// HQ's base URL (`https://hq.example.com`); empty when there is no HQ. `enroll` sets it.
    pub url: String,
    /// A PEM file with the CA that HQ's certificate must chain to (pinning); empty trusts the
    /// system's roots.
    pub ca_file: String,
    /// `HOST:PORT` of HQ's UDP reflector for the voice probe; empty uses HQ's host and the
    /// default probe port.
    pub reflector: String,
    /// Send the device key to HQ over plain `http://` to a host that is not this computer.
    /// Off by default: without TLS anyone on the path reads the key and can send events as
    /// this device. Plain HTTP to a loopback address (`localhost`, `127.0.0.1`, `::1`) is
    /// always allowed; anything else needs this set to `true` explicitly.
    pub allow_plain_http: bool,
}

/// `[agent]`: local state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// Where the device key and the spool live; empty uses the platform's data directory
    /// (`$XDG_DATA_HOME/shiftready` on Linux).
    pub state_dir: String,
    /// A local policy file used when there is no HQ (or before the first policy fetch);
    /// empty uses the built-in defaults of `config/policy.toml`.
    pub policy_file: String,
    /// The language ShiftReady speaks to the agent: "en" or "sv"; empty follows the
    /// computer's language. `--lang` overrides it.
    pub language: String,
}

/// `[audio]`: which devices to use and how to read their levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// Name (or part of the name) of the input device to measure; empty uses the default.
    pub input_device: String,
    /// Calibration offsets in dB per device model, added to measured levels; the key is
    /// matched as a case-insensitive substring of the device name.
    pub calibration_db: BTreeMap<String, f64>,
}

/// `[checks]`: time limits per check, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksConfig {
    pub os_timeout_seconds: f64,
    pub hardware_timeout_seconds: f64,
    pub network_timeout_seconds: f64,
    pub headset_timeout_seconds: f64,
    pub noise_timeout_seconds: f64,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig {
            os_timeout_seconds: 10.0,
            hardware_timeout_seconds: 10.0,
            network_timeout_seconds: 30.0,
            headset_timeout_seconds: 10.0,
            noise_timeout_seconds: 30.0,
        }
    }
}

impl ChecksConfig {
    /// The time limit of a check by name.
    pub fn timeout(&self, check: &str) -> std::time::Duration {
        let s = match check {
            "os" => self.os_timeout_seconds,
            "hardware" => self.hardware_timeout_seconds,
            "network" => self.network_timeout_seconds,
            "headset" => self.headset_timeout_seconds,
            "noise" => self.noise_timeout_seconds,
            _ => 10.0,
        };
        std::time::Duration::from_secs_f64(s)
    }
}

/// A problem's words: the bundle's English (the file's problems are plain strings in
/// `proto::load`; [`problem_msg`] reads them back to say them in the agent's language).
fn said(m: Msg) -> String {
    crate::i18n::text(crate::i18n::Lang::En, &m)
}

/// The message of a problem this file found, read back from its English words.
pub fn problem_msg(words: &str) -> Option<Msg> {
    crate::i18n::read_back(
        &[
            "cfg-url-scheme",
            "cfg-host-port-v6",
            "cfg-host-port",
            "cfg-port",
            "cfg-no-host",
            "cfg-timeout",
            "cfg-calibration",
            "cfg-interval",
            "cfg-noise-interval",
            "cfg-spool-bytes",
        ],
        words,
    )
}

impl Validate for AgentConfig {
    fn validate(&self, p: &mut Vec<(String, String)>) {
        let url = self.hq.url.trim();
        let is_http = url.starts_with("http://") || url.starts_with("https://");
        if !url.is_empty() && !is_http {
            p.push((
                "hq.url".into(),
                said(Msg::new("cfg-url-scheme").text("url", url)),
            ));
        }
        let r = self.hq.reflector.trim();
        if !r.is_empty() {
            if let Err(e) = split_host_port(r) {
                p.push(("hq.reflector".into(), e));
            }
        }
        let c = &self.checks;
        for (key, v) in [
            ("checks.os_timeout_seconds", c.os_timeout_seconds),
            (
                "checks.hardware_timeout_seconds",
                c.hardware_timeout_seconds,
            ),
            ("checks.network_timeout_seconds", c.network_timeout_seconds),
            ("checks.headset_timeout_seconds", c.headset_timeout_seconds),
            ("checks.noise_timeout_seconds", c.noise_timeout_seconds),
        ] {
            if !(v > 0.0 && v <= 600.0) {
                p.push((
                    key.into(),
                    said(Msg::new("cfg-timeout").text("value", v.to_string())),
                ));
            }
        }
        if let Err(problems) = shiftready_core::shift::Schedule::from_config(&self.schedule) {
            p.extend(problems);
        }
        self.daemon.validate_into(p);
        for (model, db) in &self.audio.calibration_db {
            if !(db.is_finite() && db.abs() <= 200.0) {
                p.push((
                    format!("audio.calibration_db.{model}"),
                    said(Msg::new("cfg-calibration")),
                ));
            }
        }
    }
}

/// Splits a reflector address `HOST:PORT` (`[v6]:PORT` for IPv6 literals), port 1–65535;
/// the error says in words what is wrong. Checked when the config loads (`hq.reflector`) and
/// for `probe --reflector`.
pub fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let s = s.trim();
    let (host, port) = if let Some(r) = s.strip_prefix('[') {
        r.split_once("]:")
            .ok_or_else(|| said(Msg::new("cfg-host-port-v6").text("value", s)))?
    } else {
        s.rsplit_once(':')
            .filter(|(h, _)| !h.contains(':'))
            .ok_or_else(|| said(Msg::new("cfg-host-port").text("value", s)))?
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| said(Msg::new("cfg-port").text("value", s).text("port", port)))?;
    if host.is_empty() {
        return Err(said(Msg::new("cfg-no-host").text("value", s)));
    }
    Ok((host.to_string(), port))
}

/// `[daemon]` in the agent config: how often the daemon watches what, and its spool's bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Seconds between looks at the headset during a shift where device changes cannot be
    /// watched (Windows, macOS); on Linux, between the looks that follow a device change until
    /// five agree. Unplugging is noticed within three looks, by the hysteresis.
    pub headset_poll_seconds: u32,
    /// On Linux, seconds between looks at the headset when no device changed (a safety net
    /// behind the watch of `/dev/snd` and the sound server).
    pub headset_recheck_seconds: u32,
    /// Seconds between light network probes during a shift.
    pub probe_interval_seconds: u32,
    /// Seconds between noise samples during a shift; 0 turns in-shift noise sampling off.
    pub noise_interval_seconds: u32,
    /// Seconds between fetches of the policy and shifts from HQ.
    pub policy_refresh_seconds: u32,
    /// Upper bound of the event spool in bytes (heartbeats are thinned first when full).
    pub spool_max_bytes: u64,
    /// Desktop notifications (the session D-Bus on Linux) for what the agent must act on.
    pub notifications: bool,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            headset_poll_seconds: 3,
            headset_recheck_seconds: 300,
            probe_interval_seconds: 60,
            noise_interval_seconds: 300,
            policy_refresh_seconds: 300,
            spool_max_bytes: crate::spool::DEFAULT_MAX_BYTES,
            notifications: true,
        }
    }
}

impl DaemonConfig {
    /// Adds this section's problems (key, message) to `p`.
    pub fn validate_into(&self, p: &mut Vec<(String, String)>) {
        for (key, v, lo) in [
            ("daemon.headset_poll_seconds", self.headset_poll_seconds, 1),
            (
                "daemon.headset_recheck_seconds",
                self.headset_recheck_seconds,
                1,
            ),
            (
                "daemon.probe_interval_seconds",
                self.probe_interval_seconds,
                5,
            ),
            (
                "daemon.policy_refresh_seconds",
                self.policy_refresh_seconds,
                10,
            ),
        ] {
            if v < lo || v > 86_400 {
                p.push((
                    key.into(),
                    said(
                        Msg::new("cfg-interval")
                            .text("value", v.to_string())
                            .text("min", lo.to_string()),
                    ),
                ));
            }
        }
        if self.noise_interval_seconds != 0 && self.noise_interval_seconds < 10 {
            p.push((
                "daemon.noise_interval_seconds".into(),
                said(Msg::new("cfg-noise-interval")),
            ));
        }
        if self.spool_max_bytes < 64 * 1024 {
            p.push((
                "daemon.spool_max_bytes".into(),
                said(Msg::new("cfg-spool-bytes")),
            ));
        }
    }
}

/// The configuration in force: the file's values, where it is, and the policy.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: AgentConfig,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    pub policy: Policy,
    /// The policy and shifts last fetched from HQ, as cached in the state dir (read once, here).
    pub cached: Option<CachedPolicy>,
}

/// The name of the cached policy in the state directory.
pub const POLICY_CACHE: &str = "policy.json";

/// `policy.json` in the state dir: what HQ last answered to `GET /api/v1/policy`, with the
/// ETag it gave (sent back as `If-None-Match` so an unchanged policy is not sent again).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedPolicy {
    #[serde(flatten)]
    pub response: proto::api::PolicyResponse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl CachedPolicy {
    /// The cache in `state_dir`, if there is a readable one.
    pub fn read(state_dir: &Path) -> Option<CachedPolicy> {
        let bytes = std::fs::read(state_dir.join(POLICY_CACHE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Replaces the cache in `state_dir` (best effort: the next fetch writes it again).
    pub fn write(&self, state_dir: &Path) {
        if let Ok(text) = serde_json::to_vec_pretty(self) {
            let _ = std::fs::write(state_dir.join(POLICY_CACHE), text);
        }
    }
}

pub use crate::platform::SYSTEM_CONFIG;

/// The per-user configuration file ([`crate::platform::user_config_file`]).
pub fn user_config_path() -> Option<PathBuf> {
    crate::platform::user_config_file()
}

/// The system-wide configuration file, if this OS has one ([`SYSTEM_CONFIG`]).
pub fn system_config_path() -> Option<PathBuf> {
    crate::platform::system_config_file()
}

/// Which configuration file to load: `--config` when given, else the per-user file when it
/// exists, else the system-wide file when it exists, else none (the built-in defaults).
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    choose(
        explicit,
        [user_config_path(), system_config_path()]
            .into_iter()
            .flatten(),
    )
}

/// [`find`] over given candidates: the explicit path, else the first candidate that is a file.
pub fn choose(
    explicit: Option<&Path>,
    candidates: impl IntoIterator<Item = PathBuf>,
) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Loads the agent config from `path` (or the defaults when `None`) and its policy.
///
/// The policy is, in order: the policy last fetched from HQ (cached in the state dir), the
/// local `policy_file`, the built-in defaults.
pub fn load(path: Option<&Path>) -> Result<Loaded, ConfigError> {
    let config: AgentConfig = match path {
        Some(p) => load::load_file(p)?,
        None => AgentConfig::default(),
    };
    let policy = if config.agent.policy_file.trim().is_empty() {
        Policy::default()
    } else {
        let mut pf = PathBuf::from(config.agent.policy_file.trim());
        if pf.is_relative() {
            if let Some(dir) = path.and_then(Path::parent) {
                pf = dir.join(pf);
            }
        }
        load::load_file(&pf)?
    };
    let mut loaded = Loaded {
        config,
        path: path.map(Path::to_path_buf),
        policy,
        cached: None,
    };
    loaded.cached = CachedPolicy::read(&loaded.state_dir());
    if let Some(c) = &loaded.cached {
        loaded.policy = c.response.policy.clone();
    }
    Ok(loaded)
}

impl Loaded {
    /// The directory holding the device key, the spool and the cached policy.
    pub fn state_dir(&self) -> PathBuf {
        let configured = self.config.agent.state_dir.trim();
        if !configured.is_empty() {
            let p = PathBuf::from(configured);
            if p.is_relative() {
                if let Some(dir) = self.path.as_deref().and_then(Path::parent) {
                    return dir.join(p);
                }
            }
            return p;
        }
        default_state_dir()
    }
}

/// The platform's data directory for ShiftReady ([`crate::platform::data_dir`]).
pub fn default_state_dir() -> PathBuf {
    crate::platform::data_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped defaults are the code's defaults (STYLE.md: one test loads them).
    #[test]
    fn shipped_files_equal_built_in_defaults() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let agent: AgentConfig = load::load_file(&root.join("config/agent.toml")).unwrap();
        assert_eq!(agent, AgentConfig::default());
        let policy: Policy = load::load_file(&root.join("config/policy.toml")).unwrap();
        assert_eq!(policy, Policy::default());
    }

    #[test]
    fn the_explicit_file_wins_then_the_first_that_exists() {
        let d = tempfile::tempdir().unwrap();
        let (user, system) = (d.path().join("user.toml"), d.path().join("system.toml"));
        let both = || [user.clone(), system.clone()];
        assert_eq!(
            choose(None, both()),
            None,
            "neither exists: built-in defaults"
        );
        std::fs::write(&system, "").unwrap();
        assert_eq!(choose(None, both()), Some(system.clone()));
        std::fs::write(&user, "").unwrap();
        assert_eq!(choose(None, both()), Some(user.clone()));
        // --config is taken even when it does not exist (loading it then says so).
        let given = d.path().join("missing.toml");
        assert_eq!(choose(Some(&given), both()), Some(given.clone()));
        // A directory is not a configuration file.
        std::fs::remove_file(&user).unwrap();
        std::fs::create_dir(&user).unwrap();
        assert_eq!(choose(None, both()), Some(system));
    }

    #[test]
    fn the_policy_cache_keeps_the_etag_and_reads_the_old_format() {
        let d = tempfile::tempdir().unwrap();
        let response = proto::api::PolicyResponse {
            policy: Policy::default(),
            shifts: Vec::new(),
            event_kinds: Vec::new(),
        };
        // Written by an agent before the ETag was kept: a bare PolicyResponse.
        std::fs::write(
            d.path().join(POLICY_CACHE),
            serde_json::to_vec(&response).unwrap(),
        )
        .unwrap();
        let old = CachedPolicy::read(d.path()).unwrap();
        assert_eq!(old.etag, None);
        CachedPolicy {
            etag: Some("\"e1\"".into()),
            ..old
        }
        .write(d.path());
        let back = CachedPolicy::read(d.path()).unwrap();
        assert_eq!(back.etag.as_deref(), Some("\"e1\""));
        assert_eq!(back.response.policy, Policy::default());
        // And it is still a PolicyResponse to anything that reads it as one.
        let raw = std::fs::read(d.path().join(POLICY_CACHE)).unwrap();
        serde_json::from_slice::<proto::api::PolicyResponse>(&raw).unwrap();
    }

    #[test]
    fn bad_values_are_all_reported() {
        let text = "[hq]\nurl = \"ftp://x\"\n[checks]\nnoise_timeout_seconds = -1\n";
        let e = load::load_str::<AgentConfig>(Path::new("a.toml"), text).unwrap_err();
        let keys: Vec<_> = e.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["hq.url", "checks.noise_timeout_seconds"], "{e}");
        assert_eq!(e.problems[0].line, Some(2));
    }
}
