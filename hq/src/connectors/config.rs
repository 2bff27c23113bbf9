//! A site's connector file (`shiftready-hq connector set --site SITE FILE.toml`): the platform,
//! its base URL, where the secret is read from (a file or an environment variable, never the
//! secret itself), and the platform's ids for `available`, `not_ready` (optionally per
//! incident) and `offline`. Every problem is reported at once with its key path.

use super::push::Target;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The platform a site's agents take calls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Webhook,
    Twilio,
    AmazonConnect,
    Genesys,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Twilio => "twilio",
            Kind::AmazonConnect => "amazon_connect",
            Kind::Genesys => "genesys",
        }
    }

    /// The platform's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Webhook => "The webhook receiver",
            Kind::Twilio => "Twilio",
            Kind::AmazonConnect => "Amazon Connect",
            Kind::Genesys => "Genesys Cloud",
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// `webhook`, `twilio`, `amazon_connect` or `genesys`.
    pub kind: Kind,
    /// webhook: the URL each change is posted to; twilio: `https://taskrouter.twilio.com`;
    /// amazon_connect: `https://connect.REGION.amazonaws.com`; genesys: the API, e.g.
    /// `https://api.mypurecloud.com`.
    pub base_url: String,
    /// Incidents that take an agent off calls while they last (default: `headset_gone`,
    /// `network_degraded`); every name under `[states.not_ready_for]` counts too.
    #[serde(default = "default_block_on")]
    pub block_on: Vec<String>,
    #[serde(default)]
    pub credentials: Credentials,
    /// Twilio: the TaskRouter workspace.
    #[serde(default)]
    pub twilio: Option<TwilioSettings>,
    /// Amazon Connect: the region and instance.
    #[serde(default)]
    pub amazon_connect: Option<ConnectSettings>,
    /// Genesys Cloud: the login server and presence source.
    #[serde(default)]
    pub genesys: Option<GenesysSettings>,
    #[serde(default)]
    pub states: States,
}

fn default_block_on() -> Vec<String> {
    vec!["headset_gone".into(), "network_degraded".into()]
}

/// Who we are to the platform. The secret is read when it is needed, from a file (that only
/// its owner may read) or from HQ's environment; HQ never stores it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// twilio: the account SID or API key SID; amazon_connect: the access key id; genesys:
    /// the OAuth client id. (webhook: not used.)
    pub id: Option<String>,
    /// A file holding the secret (Twilio auth token or API key secret, AWS secret access key,
    /// Genesys client secret, the webhook's signing secret); mode 0600.
    pub secret_file: Option<PathBuf>,
    /// Or the name of an environment variable of `shiftready-hq serve` holding it.
    pub secret_env: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    /// `WS...`
    pub workspace_sid: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSettings {
    /// e.g. `eu-central-1`.
    pub region: String,
    /// The Connect instance id (a UUID).
    pub instance_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesysSettings {
    /// The login server, e.g. `https://login.mypurecloud.com`.
    pub login_url: String,
    /// The presence source of `PATCH /api/v2/users/{userId}/presences/{source}`.
    #[serde(default = "default_source")]
    pub presence_source: String,
}

fn default_source() -> String {
    "PURECLOUD".into()
}

/// The platform's ids of the three states (Twilio activity SIDs, Connect agent status ids,
/// Genesys presence definition ids; for a webhook, any text, default the state's name).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct States {
    pub available: Option<String>,
    pub not_ready: Option<String>,
    pub offline: Option<String>,
    /// A not-ready state per incident name (e.g. `headset_gone = "..."`), else `not_ready`.
    #[serde(default)]
    pub not_ready_for: BTreeMap<String, String>,
}

impl ConnectorConfig {
    /// The platform's id for a target state and its reason.
    pub fn state_id(&self, target: Target, reason: &str) -> String {
        let s = &self.states;
        let id = match target {
            Target::Available => s.available.clone(),
            Target::NotReady => s
                .not_ready_for
                .get(reason)
                .cloned()
                .or_else(|| s.not_ready.clone()),
            Target::Offline => s.offline.clone(),
        };
        id.unwrap_or_else(|| target.as_str().to_string())
    }

    /// Whether ShiftReady may move an agent whose platform state is `current` to `target`,
    /// given the state it last set. A person's choice stands: back to available only out of
    /// the state ShiftReady itself set (or, the first time, out of offline); to not ready
    /// also out of available (taking a failing workstation off calls is the point), never out
    /// of a break or a supervisor's state; to offline always (the shift is over, nobody is at
    /// the desk).
    pub fn may_move(&self, target: Target, current: &str, last_set: Option<&str>) -> bool {
        let offline = self.state_id(Target::Offline, "");
        let available = self.state_id(Target::Available, "");
        match target {
            Target::Offline => true,
            _ if last_set == Some(current) => true,
            _ if last_set.is_none() && current == offline => true,
            Target::NotReady => current == available,
            Target::Available => false,
        }
    }

    /// Whether an open incident of this name takes the agent off calls.
    pub fn blocks(&self, incident: &str) -> bool {
        self.block_on.iter().any(|b| b == incident)
            || self.states.not_ready_for.contains_key(incident)
    }

    /// The secret, read now from its file or environment variable. The error says where it
    /// looked, never what it found.
    pub fn secret(&self) -> Result<String, String> {
        let c = &self.credentials;
        let s = if let Some(f) = &c.secret_file {
            std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read the secret file {}: {e}", f.display()))?
        } else if let Some(v) = &c.secret_env {
            std::env::var(v).map_err(|_| {
                format!("the environment variable {v} (credentials.secret_env) is not set for HQ")
            })?
        } else {
            return Err("no secret configured (credentials.secret_file or secret_env)".into());
        };
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(s)
    }
}

impl proto::load::Validate for ConnectorConfig {
    fn validate(&self, problems: &mut Vec<(String, String)>) {
        let mut bad = |k: &str, m: String| problems.push((k.to_string(), m));
        match url::Url::parse(&self.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => bad(
                "base_url",
                format!(
                    "'{}' is not an http:// or https:// URL",
                    self.base_url.chars().take(100).collect::<String>()
                ),
            ),
        }
        for (i, n) in self.block_on.iter().enumerate() {
            if !is_name(n) {
                bad(
                    &format!("block_on[{i}]"),
                    format!("'{n}' is not an incident name (a-z, 0-9 and _)"),
                );
            }
        }
        for n in self.states.not_ready_for.keys() {
            if !is_name(n) {
                bad(
                    &format!("states.not_ready_for.{n}"),
                    "is not an incident name (a-z, 0-9 and _)".into(),
                );
            }
        }
        let c = &self.credentials;
        match (&c.secret_file, &c.secret_env) {
            (Some(_), Some(_)) => bad(
                "credentials.secret_env",
                "give the secret in a file or an environment variable, not both".into(),
            ),
            (None, None) => bad(
                "credentials.secret_file",
                "is missing: the file holding the secret (or secret_env, an environment \
                 variable's name)"
                    .into(),
            ),
            (Some(f), None) => {
                if let Some(m) = secret_file_problem(f) {
                    bad("credentials.secret_file", m);
                }
            }
            (None, Some(v)) => {
                if v.is_empty() || !v.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                    bad(
                        "credentials.secret_env",
                        "must be an environment variable's name (A-Z, 0-9 and _)".into(),
                    );
                }
            }
        }
        let needs_id = self.kind != Kind::Webhook;
        if needs_id && c.id.as_deref().is_none_or(str::is_empty) {
            let what = match self.kind {
                Kind::Twilio => "the account SID (AC...) or API key SID (SK...)",
                Kind::AmazonConnect => "the AWS access key id",
                _ => "the OAuth client id",
            };
            bad("credentials.id", format!("is missing: {what}"));
        }
        if needs_id {
            for (k, v) in [
                ("states.available", &self.states.available),
                ("states.not_ready", &self.states.not_ready),
                ("states.offline", &self.states.offline),
            ] {
                if v.as_deref().is_none_or(str::is_empty) {
                    bad(
                        k,
                        format!("is missing: the {} id of this state", self.kind.label()),
                    );
                }
            }
        }
        let section = |present: bool, name: &str, wanted: bool| -> Option<(String, String)> {
            match (present, wanted) {
                (false, true) => Some((
                    name.to_string(),
                    format!("is missing: kind = \"{}\" needs a [{name}] table", name),
                )),
                (true, false) => Some((
                    name.to_string(),
                    format!("is for kind = \"{name}\", not \"{}\"", self.kind.as_str()),
                )),
                _ => None,
            }
        };
        for p in [
            section(self.twilio.is_some(), "twilio", self.kind == Kind::Twilio),
            section(
                self.amazon_connect.is_some(),
                "amazon_connect",
                self.kind == Kind::AmazonConnect,
            ),
            section(
                self.genesys.is_some(),
                "genesys",
                self.kind == Kind::Genesys,
            ),
        ]
        .into_iter()
        .flatten()
        {
            problems.push(p);
        }
        if let Some(t) = &self.twilio {
            if !t.workspace_sid.starts_with("WS") {
                problems.push((
                    "twilio.workspace_sid".into(),
                    "must be a TaskRouter workspace SID (WS...)".into(),
                ));
            }
        }
        if let Some(a) = &self.amazon_connect {
            if a.region.is_empty()
                || !a
                    .region
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            {
                problems.push((
                    "amazon_connect.region".into(),
                    "must be an AWS region such as eu-central-1".into(),
                ));
            }
            if uuid::Uuid::parse_str(&a.instance_id).is_err() {
                problems.push((
                    "amazon_connect.instance_id".into(),
                    "must be the Connect instance id (a UUID)".into(),
                ));
            }
        }
        if let Some(g) = &self.genesys {
            if url::Url::parse(&g.login_url).is_err() {
                problems.push((
                    "genesys.login_url".into(),
                    "must be the login server's URL, e.g. https://login.mypurecloud.com".into(),
                ));
            }
        }
    }
}

/// A secret file HQ may use: readable, and by its owner only.
fn secret_file_problem(f: &std::path::Path) -> Option<String> {
    let meta = match std::fs::metadata(f) {
        Ok(m) => m,
        Err(e) => return Some(format!("cannot read {}: {e}", f.display())),
    };
    if !meta.is_file() {
        return Some(format!("{} is not a file", f.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(format!(
                "{} can be read by other users (mode {mode:o}); run chmod 600 on it",
                f.display()
            ));
        }
    }
    if let Err(e) = std::fs::read(f) {
        return Some(format!("cannot read {}: {e}", f.display()));
    }
    None
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
