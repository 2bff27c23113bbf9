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

/// The whole file. Keys follow DESIGN.md's contract: per kind, `twilio`: `account_sid`,
/// `auth_token_file`, `workspace_sid`; `amazon_connect`: `region`, `instance_id`,
/// `access_key_id`, `secret_access_key_file`; `genesys`: `login_url`, `client_id`,
/// `client_secret_file`; `webhook`: `url`, `secret_file`. Each secret may come from HQ's
/// environment instead (the same key with `_env` for `_file`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// `webhook`, `twilio`, `amazon_connect` or `genesys`.
    pub kind: Kind,
    /// The platform's API (regions, tests). Default: `https://taskrouter.twilio.com`,
    /// `https://connect.REGION.amazonaws.com`, `https://api.mypurecloud.com`.
    pub base_url: Option<String>,
    /// webhook: the URL each change is posted to.
    pub url: Option<String>,
    /// Incidents that take an agent off calls while they last (default: `headset_gone`,
    /// `network_degraded`); every incident named under `[states.not_ready]` counts too.
    #[serde(default = "default_block_on")]
    pub block_on: Vec<String>,
    /// twilio: the account SID (AC...) or API key SID (SK...).
    pub account_sid: Option<String>,
    /// twilio: a file (mode 0600) holding the auth token or API key secret.
    pub auth_token_file: Option<PathBuf>,
    pub auth_token_env: Option<String>,
    /// twilio: the TaskRouter workspace (WS...).
    pub workspace_sid: Option<String>,
    /// amazon_connect: e.g. `eu-central-1`.
    pub region: Option<String>,
    /// amazon_connect: the Connect instance id (a UUID).
    pub instance_id: Option<String>,
    /// amazon_connect: the IAM access key id.
    pub access_key_id: Option<String>,
    /// amazon_connect: a file (mode 0600) holding the secret access key.
    pub secret_access_key_file: Option<PathBuf>,
    pub secret_access_key_env: Option<String>,
    /// genesys: the login server, e.g. `https://login.mypurecloud.com`.
    pub login_url: Option<String>,
    /// genesys: the OAuth client (client-credentials grant).
    pub client_id: Option<String>,
    /// genesys: a file (mode 0600) holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    pub client_secret_env: Option<String>,
    /// genesys: the presence source of `PATCH .../presences/{source}` (default `PURECLOUD`).
    pub presence_source: Option<String>,
    /// webhook: a file (mode 0600) holding the signing secret.
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    #[serde(default)]
    pub states: States,
}

fn default_block_on() -> Vec<String> {
    vec!["headset_gone".into(), "network_degraded".into()]
}

/// The platform's ids of the three states (Twilio activity SIDs, Connect agent status ids,
/// Genesys presence definition ids; for a webhook, any text, default the state's name).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct States {
    pub available: Option<String>,
    /// One id, or a table per incident name with `default` for the rest (and `below_bar`).
    pub not_ready: Option<NotReady>,
    pub offline: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NotReady {
    One(String),
    PerIncident(BTreeMap<String, String>),
}

/// The keys of a kind: its secret's file and environment keys, its id key.
struct KindKeys {
    secret_file: &'static str,
    secret_env: &'static str,
    id: Option<&'static str>,
}

impl Kind {
    fn keys(self) -> KindKeys {
        let k = |secret_file, secret_env, id| KindKeys {
            secret_file,
            secret_env,
            id,
        };
        match self {
            Kind::Webhook => k("secret_file", "secret_env", None),
            Kind::Twilio => k("auth_token_file", "auth_token_env", Some("account_sid")),
            Kind::AmazonConnect => k(
                "secret_access_key_file",
                "secret_access_key_env",
                Some("access_key_id"),
            ),
            Kind::Genesys => k("client_secret_file", "client_secret_env", Some("client_id")),
        }
    }
}

impl ConnectorConfig {
    /// The platform's id for a target state and its reason.
    pub fn state_id(&self, target: Target, reason: &str) -> String {
        let s = &self.states;
        let id = match target {
            Target::Available => s.available.clone(),
            Target::NotReady => match &s.not_ready {
                Some(NotReady::One(id)) => Some(id.clone()),
                Some(NotReady::PerIncident(m)) => {
                    m.get(reason).or_else(|| m.get("default")).cloned()
                }
                None => None,
            },
            Target::Offline => s.offline.clone(),
        };
        id.unwrap_or_else(|| target.as_str().to_string())
    }

    /// Where requests go: `url` (webhook), else `base_url` or the platform's default.
    pub fn endpoint(&self) -> String {
        let url = match self.kind {
            Kind::Webhook => self.url.clone().unwrap_or_default(),
            Kind::Twilio => self
                .base_url
                .clone()
                .unwrap_or_else(|| "https://taskrouter.twilio.com".into()),
            Kind::AmazonConnect => self.base_url.clone().unwrap_or_else(|| {
                format!(
                    "https://connect.{}.amazonaws.com",
                    self.region.as_deref().unwrap_or("")
                )
            }),
            Kind::Genesys => self
                .base_url
                .clone()
                .unwrap_or_else(|| "https://api.mypurecloud.com".into()),
        };
        url.trim_end_matches('/').to_string()
    }

    /// Who we are to the platform: the account SID, access key id or client id.
    pub fn key_id(&self) -> &str {
        match self.kind {
            Kind::Webhook => "",
            Kind::Twilio => self.account_sid.as_deref().unwrap_or(""),
            Kind::AmazonConnect => self.access_key_id.as_deref().unwrap_or(""),
            Kind::Genesys => self.client_id.as_deref().unwrap_or(""),
        }
    }

    /// The secret's file and environment variable for this kind.
    fn secret_source(&self) -> (Option<&PathBuf>, Option<&String>) {
        match self.kind {
            Kind::Webhook => (self.secret_file.as_ref(), self.secret_env.as_ref()),
            Kind::Twilio => (self.auth_token_file.as_ref(), self.auth_token_env.as_ref()),
            Kind::AmazonConnect => (
                self.secret_access_key_file.as_ref(),
                self.secret_access_key_env.as_ref(),
            ),
            Kind::Genesys => (
                self.client_secret_file.as_ref(),
                self.client_secret_env.as_ref(),
            ),
        }
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
            || matches!(&self.states.not_ready, Some(NotReady::PerIncident(m))
                if incident != "default" && m.contains_key(incident))
    }

    /// The secret, read now from its file or environment variable. The error says where it
    /// looked, never what it found.
    pub fn secret(&self) -> Result<String, String> {
        let keys = self.kind.keys();
        let s = match self.secret_source() {
            (Some(f), _) => std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read the secret file {}: {e}", f.display()))?,
            (None, Some(v)) => std::env::var(v).map_err(|_| {
                format!(
                    "the environment variable {v} ({}) is not set for HQ",
                    keys.secret_env
                )
            })?,
            (None, None) => {
                return Err(format!(
                    "no secret configured ({} or {})",
                    keys.secret_file, keys.secret_env
                ));
            }
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
        let url_ok = |u: &str| {
            url::Url::parse(u)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        };
        let kind = self.kind.as_str();
        let is = |k: Kind| self.kind == k;
        // Keys that belong to another kind.
        let present: [(&str, bool, bool); 17] = [
            ("url", self.url.is_some(), is(Kind::Webhook)),
            ("secret_file", self.secret_file.is_some(), is(Kind::Webhook)),
            ("secret_env", self.secret_env.is_some(), is(Kind::Webhook)),
            ("account_sid", self.account_sid.is_some(), is(Kind::Twilio)),
            (
                "auth_token_file",
                self.auth_token_file.is_some(),
                is(Kind::Twilio),
            ),
            (
                "auth_token_env",
                self.auth_token_env.is_some(),
                is(Kind::Twilio),
            ),
            (
                "workspace_sid",
                self.workspace_sid.is_some(),
                is(Kind::Twilio),
            ),
            ("region", self.region.is_some(), is(Kind::AmazonConnect)),
            (
                "instance_id",
                self.instance_id.is_some(),
                is(Kind::AmazonConnect),
            ),
            (
                "access_key_id",
                self.access_key_id.is_some(),
                is(Kind::AmazonConnect),
            ),
            (
                "secret_access_key_file",
                self.secret_access_key_file.is_some(),
                is(Kind::AmazonConnect),
            ),
            (
                "secret_access_key_env",
                self.secret_access_key_env.is_some(),
                is(Kind::AmazonConnect),
            ),
            ("login_url", self.login_url.is_some(), is(Kind::Genesys)),
            ("client_id", self.client_id.is_some(), is(Kind::Genesys)),
            (
                "client_secret_file",
                self.client_secret_file.is_some(),
                is(Kind::Genesys),
            ),
            (
                "client_secret_env",
                self.client_secret_env.is_some(),
                is(Kind::Genesys),
            ),
            (
                "presence_source",
                self.presence_source.is_some(),
                is(Kind::Genesys),
            ),
        ];
        for (key, here, ours) in present {
            if here && !ours {
                bad(key, format!("is not a key of kind = \"{kind}\""));
            }
        }
        if is(Kind::Webhook) {
            match &self.url {
                None => bad("url", "is missing: the URL each change is posted to".into()),
                Some(u) if !url_ok(u) => bad(
                    "url",
                    format!("'{}' is not an http:// or https:// URL", cut(u)),
                ),
                _ => {}
            }
            if self.base_url.is_some() {
                bad(
                    "base_url",
                    "is not used by kind = \"webhook\"; give the receiver as url".into(),
                );
            }
        } else if let Some(u) = self.base_url.as_deref().filter(|u| !url_ok(u)) {
            bad(
                "base_url",
                format!("'{}' is not an http:// or https:// URL", cut(u)),
            );
        }
        let keys = self.kind.keys();
        match self.secret_source() {
            (Some(_), Some(_)) => bad(
                keys.secret_env,
                format!(
                    "give the secret in {} or {}, not both",
                    keys.secret_file, keys.secret_env
                ),
            ),
            (None, None) => bad(
                keys.secret_file,
                format!(
                    "is missing: the file holding the secret (or {}, an environment variable's name)",
                    keys.secret_env
                ),
            ),
            (Some(f), None) => {
                if let Some(m) = secret_file_problem(f) {
                    bad(keys.secret_file, m);
                }
            }
            (None, Some(v)) => {
                if v.is_empty() || !v.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                    bad(
                        keys.secret_env,
                        "must be an environment variable's name (A-Z, 0-9 and _)".into(),
                    );
                }
            }
        }
        if let Some(id) = keys.id.filter(|_| self.key_id().is_empty()) {
            let what = match self.kind {
                Kind::Twilio => "the account SID (AC...) or API key SID (SK...)",
                Kind::AmazonConnect => "the IAM access key id",
                _ => "the OAuth client id",
            };
            bad(id, format!("is missing: {what}"));
        }
        for (i, n) in self.block_on.iter().enumerate() {
            if !is_name(n) {
                bad(
                    &format!("block_on[{i}]"),
                    format!("'{n}' is not an incident name (a-z, 0-9 and _)"),
                );
            }
        }
        let platform = !is(Kind::Webhook);
        let s = &self.states;
        for (k, v) in [
            ("states.available", &s.available),
            ("states.offline", &s.offline),
        ] {
            if platform && v.as_deref().is_none_or(str::is_empty) {
                bad(
                    k,
                    format!("is missing: the {} id of this state", self.kind.label()),
                );
            }
        }
        match &s.not_ready {
            None if platform => bad(
                "states.not_ready",
                format!(
                    "is missing: the {} id of the not-ready state (or a table per incident with default)",
                    self.kind.label()
                ),
            ),
            Some(NotReady::PerIncident(m)) => {
                for n in m.keys().filter(|n| *n != "default" && !is_name(n)) {
                    bad(
                        &format!("states.not_ready.{n}"),
                        "is not an incident name (a-z, 0-9 and _)".into(),
                    );
                }
                if platform && !m.contains_key("default") {
                    bad(
                        "states.not_ready.default",
                        "is missing: the state for incidents not listed and for a readiness under the bar".into(),
                    );
                }
            }
            _ => {}
        }
        if is(Kind::Twilio)
            && !self
                .workspace_sid
                .as_deref()
                .is_some_and(|w| w.starts_with("WS"))
        {
            bad(
                "workspace_sid",
                "must be the TaskRouter workspace SID (WS...)".into(),
            );
        }
        if is(Kind::AmazonConnect) {
            let region_ok = self.region.as_deref().is_some_and(|r| {
                !r.is_empty()
                    && r.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            });
            if !region_ok {
                bad(
                    "region",
                    "must be an AWS region such as eu-central-1".into(),
                );
            }
            if self
                .instance_id
                .as_deref()
                .is_none_or(|i| uuid::Uuid::parse_str(i).is_err())
            {
                bad(
                    "instance_id",
                    "must be the Connect instance id (a UUID)".into(),
                );
            }
        }
        if is(Kind::Genesys) && !self.login_url.as_deref().is_some_and(url_ok) {
            bad(
                "login_url",
                "must be the login server's URL, e.g. https://login.mypurecloud.com".into(),
            );
        }
    }
}

fn cut(s: &str) -> String {
    s.chars().take(100).collect()
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
