//! A site's alert file (`shiftready-hq alert set --site SITE FILE.toml`): which rules raise
//! alerts, with their limits, and the receivers the messages go to. Secrets (a webhook's signing
//! secret, an SMTP password, and optionally a Slack or Teams URL, which is itself a credential)
//! are read at delivery time from a file (`*_file`, mode 0600) or HQ's environment (`*_env`);
//! the stored configuration holds only those paths and names. Every problem is reported at once
//! with its key path.
//!
//! ```toml
//! dashboard_url = "https://hq.example.com"   # optional: each message links to /alerts
//!
//! [rules.incident_open]        # an agent's blocking incident open this long during a shift
//! minutes = 5
//! incidents = ["headset_gone", "network_degraded"]
//! [rules.lost_contact]         # HQ signed an agent out for lost contact
//! [rules.not_ready_share]      # more than `percent` % of signed-in agents not ready this long
//! percent = 30
//! minutes = 5
//! [rules.correlated]           # `agents` (or `percent` % of signed-in) degraded beyond the home,
//! agents = 3                   # starting within two minutes: one alert
//!
//! [[receivers]]
//! name = "it-slack"
//! kind = "slack"               # webhook | slack | teams | email
//! url_file = "/etc/shiftready-hq/slack-url"
//! ```

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The rules' names, as alerts, the API and the page show them.
pub const INCIDENT_OPEN: &str = "incident_open";
pub const LOST_CONTACT: &str = "lost_contact";
pub const NOT_READY_SHARE: &str = "not_ready_share";
pub const CORRELATED: &str = "correlated";
pub const RULES: [&str; 4] = [INCIDENT_OPEN, LOST_CONTACT, NOT_READY_SHARE, CORRELATED];

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// HQ's address as IT opens it (`https://hq.example.com`): messages link to its `/alerts`.
    pub dashboard_url: Option<String>,
    /// The rules that raise alerts; a rule without its table raises none.
    #[serde(default)]
    pub rules: Rules,
    /// Where messages go: every receiver gets every alert of the rules it takes.
    #[serde(default)]
    pub receivers: Vec<Receiver>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub incident_open: Option<IncidentOpen>,
    pub lost_contact: Option<LostContact>,
    pub not_ready_share: Option<NotReadyShare>,
    pub correlated: Option<Correlated>,
}

/// An agent's blocking incident open for `minutes` during a shift.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentOpen {
    /// How long the incident must have been open (default 5; fractions allowed).
    #[serde(default = "five")]
    pub minutes: f64,
    /// The incidents that block calls (default `headset_gone`, `network_degraded`).
    #[serde(default = "default_incidents")]
    pub incidents: Vec<String>,
}

/// HQ signed an agent out of its shift because its heartbeats stopped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostContact {
    /// Only sign-outs this recent open an alert (default 60), so setting the rule does not
    /// alert on last week's.
    #[serde(default = "sixty")]
    pub within_minutes: f64,
}

/// The share of signed-in agents not ready above `percent` for `minutes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotReadyShare {
    /// Percent of signed-in agents, 0 to 100 (the alert fires above it).
    pub percent: f64,
    /// How long the share must stay above it (default 5).
    #[serde(default = "five")]
    pub minutes: f64,
    /// Fewer signed-in agents than this never fire it (default 2: one agent is not a share).
    #[serde(default = "two")]
    pub min_signed_in: u32,
}

/// K agents (or P % of signed-in) with `network_degraded` beyond the home starting within
/// `window_minutes`: one alert, "likely HQ- or ISP-side problem".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correlated {
    /// K: this many agents or more (default 3).
    #[serde(default = "three")]
    pub agents: u32,
    /// P: or this percent of the signed-in agents or more (when given).
    pub percent: Option<f64>,
    /// The incidents' starts must fall within this long (default 2).
    #[serde(default = "two_f")]
    pub window_minutes: f64,
    /// Once enough agents are in, wait this long for more before sending (default 30), so one
    /// message lists the whole group (Alertmanager's `group_wait`).
    #[serde(default = "thirty")]
    pub wait_seconds: f64,
}

fn five() -> f64 {
    5.0
}
fn sixty() -> f64 {
    60.0
}
fn two() -> u32 {
    2
}
fn two_f() -> f64 {
    2.0
}
fn thirty() -> f64 {
    30.0
}
fn three() -> u32 {
    3
}
fn default_incidents() -> Vec<String> {
    vec!["headset_gone".into(), "network_degraded".into()]
}

/// Where a receiver's messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverKind {
    /// A JSON POST signed like the connectors' webhook (`ShiftReady-Signature`).
    Webhook,
    /// A Slack incoming webhook: `{"text": ...}` in Slack's mrkdwn.
    Slack,
    /// A Microsoft Teams workflow ("Post to a channel when a webhook request is received"):
    /// a message with an Adaptive Card.
    Teams,
    /// Email over SMTP (STARTTLS by default).
    Email,
}

impl ReceiverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Webhook => "webhook",
            ReceiverKind::Slack => "slack",
            ReceiverKind::Teams => "teams",
            ReceiverKind::Email => "email",
        }
    }
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (RFC 3207), which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine; refused with a password.
    None,
}

/// One receiver. Keys by kind: `webhook`: `url`, `secret_file`|`secret_env`; `slack`, `teams`:
/// `url` or `url_file`|`url_env`; `email`: `host`, `port`, `tls`, `username`,
/// `password_file`|`password_env`, `from`, `to`, `ca_file`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// A name for messages, the page and `alert test` (unique in the file).
    pub name: String,
    pub kind: ReceiverKind,
    /// Only these rules' alerts (default: every rule's).
    pub rules: Option<Vec<String>>,
    /// webhook, slack, teams: where messages are posted.
    pub url: Option<String>,
    /// slack, teams: a file (0600) or environment variable holding the URL instead.
    pub url_file: Option<PathBuf>,
    pub url_env: Option<String>,
    /// webhook: the signing secret's file (0600) or environment variable.
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    /// email: the SMTP server.
    pub host: Option<String>,
    /// email: default 587 (STARTTLS), 465 (TLS), 25 (none).
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// email: the SMTP login (with a password from `password_file` or `password_env`).
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    /// email: the sender and the recipients.
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// email: a PEM file of certificate authorities trusted beside the system's (a private CA).
    pub ca_file: Option<PathBuf>,
}

impl Receiver {
    /// Whether this receiver takes `rule`'s alerts (test messages go to every receiver).
    pub fn takes(&self, rule: &str) -> bool {
        self.rules
            .as_ref()
            .is_none_or(|r| r.iter().any(|x| x == rule))
    }

    /// The SMTP port: given, else the usual one for the TLS mode.
    pub fn smtp_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }

    /// The URL messages are posted to (read from its file or variable when so configured).
    pub fn url(&self) -> Result<String, String> {
        if let Some(u) = &self.url {
            return Ok(u.clone());
        }
        read_secret(self.url_file.as_ref(), self.url_env.as_ref(), "url")
    }

    /// The webhook's signing secret.
    pub fn secret(&self) -> Result<String, String> {
        read_secret(
            self.secret_file.as_ref(),
            self.secret_env.as_ref(),
            "secret",
        )
    }

    /// The SMTP password, when a login is configured.
    pub fn password(&self) -> Result<Option<String>, String> {
        if self.password_file.is_none() && self.password_env.is_none() {
            return Ok(None);
        }
        read_secret(
            self.password_file.as_ref(),
            self.password_env.as_ref(),
            "password",
        )
        .map(Some)
    }
}

/// A secret from its file or HQ's environment; the error says where it was looked for, never
/// what it is.
fn read_secret(file: Option<&PathBuf>, env: Option<&String>, what: &str) -> Result<String, String> {
    let s = match (file, env) {
        (Some(f), _) => std::fs::read_to_string(f)
            .map_err(|e| format!("cannot read the {what} file {}: {e}", f.display()))?,
        (None, Some(v)) => std::env::var(v)
            .map_err(|_| format!("the environment variable {v} ({what}_env) is not set for HQ"))?,
        (None, None) => {
            return Err(format!("no {what} configured ({what}_file or {what}_env)"));
        }
    };
    let s = s.trim().to_string();
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(s)
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn url_ok(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A file HQ may read a secret from: readable, and by its owner only.
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
    None
}

/// Checks a `*_file` / `*_env` pair: one of them (when `required`), a private file, a
/// variable's name.
fn check_secret_pair(
    bad: &mut dyn FnMut(String, String),
    at: &str,
    what: &str,
    file: Option<&PathBuf>,
    env: Option<&String>,
    required: bool,
) {
    match (file, env) {
        (Some(_), Some(_)) => bad(
            format!("{at}.{what}_env"),
            format!("give the {what} in {what}_file or {what}_env, not both"),
        ),
        (None, None) if required => bad(
            format!("{at}.{what}_file"),
            format!(
                "is missing: the file holding the {what} (or {what}_env, an environment variable's name)"
            ),
        ),
        (Some(f), None) => {
            if let Some(m) = secret_file_problem(f) {
                bad(format!("{at}.{what}_file"), m);
            }
        }
        (None, Some(v)) => {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bad(
                    format!("{at}.{what}_env"),
                    "must be an environment variable's name (A-Z, 0-9 and _)".into(),
                );
            }
        }
        (None, None) => {}
    }
}

/// An email address as `lettre` reads it (`name@example.com` or `Name <name@example.com>`).
fn mailbox_ok(s: &str) -> bool {
    s.parse::<lettre::message::Mailbox>().is_ok()
}

impl proto::load::Validate for AlertConfig {
    fn validate(&self, problems: &mut Vec<(String, String)>) {
        let mut bad = |k: String, m: String| problems.push((k, m));
        if let Some(u) = self.dashboard_url.as_deref().filter(|u| !url_ok(u)) {
            bad(
                "dashboard_url".into(),
                format!("'{}' is not an http:// or https:// URL", cut(u)),
            );
        }
        let minutes = |bad: &mut dyn FnMut(String, String), k: &str, v: f64| {
            if !(v.is_finite() && (0.0..=1440.0).contains(&v)) {
                bad(k.into(), "must be 0 to 1440 minutes".into());
            }
        };
        let percent = |bad: &mut dyn FnMut(String, String), k: &str, v: f64| {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                bad(k.into(), "must be a percentage, 0 to 100".into());
            }
        };
        let r = &self.rules;
        if let Some(i) = &r.incident_open {
            minutes(&mut bad, "rules.incident_open.minutes", i.minutes);
            if i.incidents.is_empty() {
                bad(
                    "rules.incident_open.incidents".into(),
                    "must name at least one incident (e.g. headset_gone)".into(),
                );
            }
            for (n, name) in i.incidents.iter().enumerate() {
                if !is_name(name) {
                    bad(
                        format!("rules.incident_open.incidents[{n}]"),
                        format!("'{}' is not an incident name (a-z, 0-9 and _)", cut(name)),
                    );
                }
            }
        }
        if let Some(l) = &r.lost_contact {
            minutes(
                &mut bad,
                "rules.lost_contact.within_minutes",
                l.within_minutes,
            );
        }
        if let Some(s) = &r.not_ready_share {
            percent(&mut bad, "rules.not_ready_share.percent", s.percent);
            minutes(&mut bad, "rules.not_ready_share.minutes", s.minutes);
        }
        if let Some(c) = &r.correlated {
            if c.agents < 2 {
                bad(
                    "rules.correlated.agents".into(),
                    "must be 2 or more: one agent is not a correlation".into(),
                );
            }
            if let Some(p) = c.percent {
                percent(&mut bad, "rules.correlated.percent", p);
            }
            if !(c.wait_seconds.is_finite() && (0.0..=600.0).contains(&c.wait_seconds)) {
                bad(
                    "rules.correlated.wait_seconds".into(),
                    "must be 0 to 600 seconds".into(),
                );
            }
            if !(c.window_minutes.is_finite() && c.window_minutes > 0.0 && c.window_minutes <= 60.0)
            {
                bad(
                    "rules.correlated.window_minutes".into(),
                    "must be more than 0 and at most 60 minutes".into(),
                );
            }
        }
        if r.incident_open.is_none()
            && r.lost_contact.is_none()
            && r.not_ready_share.is_none()
            && r.correlated.is_none()
        {
            bad(
                "rules".into(),
                format!(
                    "no rule is set: add at least one of [rules.{}]",
                    RULES.join("], [rules.")
                ),
            );
        }
        if self.receivers.is_empty() {
            bad(
                "receivers".into(),
                "no receiver: add a [[receivers]] table (kind = webhook, slack, teams or email)"
                    .into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        for (n, rc) in self.receivers.iter().enumerate() {
            let at = format!("receivers[{n}]");
            let key = |k: &str| format!("{at}.{k}");
            if rc.name.trim().is_empty()
                || rc.name.chars().count() > 64
                || rc.name.chars().any(char::is_control)
            {
                bad(key("name"), "must be 1 to 64 printable characters".into());
            } else if !names.insert(rc.name.clone()) {
                bad(key("name"), format!("'{}' names two receivers", rc.name));
            }
            for (i, rule) in rc.rules.iter().flatten().enumerate() {
                if !RULES.contains(&rule.as_str()) {
                    bad(
                        format!("{at}.rules[{i}]"),
                        format!(
                            "'{}' is not a rule; the rules are {}",
                            cut(rule),
                            RULES.join(", ")
                        ),
                    );
                }
            }
            let kind = rc.kind.as_str();
            let email = rc.kind == ReceiverKind::Email;
            let http_keys = [
                ("url", rc.url.is_some()),
                ("url_file", rc.url_file.is_some()),
                ("url_env", rc.url_env.is_some()),
            ];
            let email_keys = [
                ("host", rc.host.is_some()),
                ("port", rc.port.is_some()),
                ("username", rc.username.is_some()),
                ("password_file", rc.password_file.is_some()),
                ("password_env", rc.password_env.is_some()),
                ("from", rc.from.is_some()),
                ("to", !rc.to.is_empty()),
                ("ca_file", rc.ca_file.is_some()),
                ("tls", rc.tls != SmtpTls::Starttls),
            ];
            let webhook_keys = [
                ("secret_file", rc.secret_file.is_some()),
                ("secret_env", rc.secret_env.is_some()),
            ];
            let foreign = http_keys
                .iter()
                .filter(|_| email)
                .chain(email_keys.iter().filter(|_| !email))
                .chain(
                    webhook_keys
                        .iter()
                        .filter(|_| rc.kind != ReceiverKind::Webhook),
                );
            for (k, here) in foreign {
                if *here {
                    bad(key(k), format!("is not a key of kind = \"{kind}\""));
                }
            }
            match rc.kind {
                ReceiverKind::Webhook => {
                    match &rc.url {
                        None => bad(
                            key("url"),
                            "is missing: the URL alerts are posted to".into(),
                        ),
                        Some(u) if !url_ok(u) => bad(
                            key("url"),
                            format!("'{}' is not an http:// or https:// URL", cut(u)),
                        ),
                        _ => {}
                    }
                    for k in ["url_file", "url_env"] {
                        if http_keys.iter().any(|(x, here)| *x == k && *here) {
                            bad(
                                key(k),
                                "a webhook's URL is given as url (its secret signs the body)"
                                    .into(),
                            );
                        }
                    }
                    check_secret_pair(
                        &mut bad,
                        &at,
                        "secret",
                        rc.secret_file.as_ref(),
                        rc.secret_env.as_ref(),
                        true,
                    );
                }
                ReceiverKind::Slack | ReceiverKind::Teams => {
                    let given = http_keys.iter().filter(|(_, h)| *h).count();
                    if given != 1 {
                        bad(
                            key("url"),
                            "give the webhook URL once: url, or url_file (a 0600 file holding it), or url_env".into(),
                        );
                    }
                    if let Some(u) = rc.url.as_deref().filter(|u| !url_ok(u)) {
                        bad(
                            key("url"),
                            format!("'{}' is not an http:// or https:// URL", cut(u)),
                        );
                    }
                    if rc.url.is_none() {
                        check_secret_pair(
                            &mut bad,
                            &at,
                            "url",
                            rc.url_file.as_ref(),
                            rc.url_env.as_ref(),
                            false,
                        );
                    }
                }
                ReceiverKind::Email => {
                    if rc.host.as_deref().is_none_or(|h| {
                        h.is_empty() || h.contains(|c: char| c.is_whitespace() || c == '/')
                    }) {
                        bad(
                            key("host"),
                            "is missing: the SMTP server's host name, e.g. smtp.example.com".into(),
                        );
                    }
                    match &rc.from {
                        None => bad(key("from"), "is missing: the sender's address".into()),
                        Some(f) if !mailbox_ok(f) => {
                            bad(key("from"), format!("'{}' is not an email address", cut(f)))
                        }
                        _ => {}
                    }
                    if rc.to.is_empty() {
                        bad(
                            key("to"),
                            "is missing: a list of recipients' addresses".into(),
                        );
                    }
                    for (i, t) in rc.to.iter().enumerate() {
                        if !mailbox_ok(t) {
                            bad(
                                format!("{at}.to[{i}]"),
                                format!("'{}' is not an email address", cut(t)),
                            );
                        }
                    }
                    let login = rc.password_file.is_some() || rc.password_env.is_some();
                    if login && rc.username.is_none() {
                        bad(
                            key("username"),
                            "is missing: the SMTP login for the password".into(),
                        );
                    }
                    if rc.username.is_some() {
                        check_secret_pair(
                            &mut bad,
                            &at,
                            "password",
                            rc.password_file.as_ref(),
                            rc.password_env.as_ref(),
                            true,
                        );
                    }
                    if login && rc.tls == SmtpTls::None {
                        bad(
                            key("tls"),
                            "\"none\" would send the password in the clear; use starttls or tls"
                                .into(),
                        );
                    }
                    if let Some(f) = &rc.ca_file {
                        match std::fs::read(f) {
                            Err(e) => {
                                bad(key("ca_file"), format!("cannot read {}: {e}", f.display()))
                            }
                            Ok(pem)
                                if lettre::transport::smtp::client::Certificate::from_pem(&pem)
                                    .is_err() =>
                            {
                                bad(
                                    key("ca_file"),
                                    format!("{} holds no PEM certificate", f.display()),
                                )
                            }
                            Ok(_) => {}
                        }
                    }
                }
            }
        }
    }
}

fn cut(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<AlertConfig, String> {
        proto::load::load_str::<AlertConfig>(std::path::Path::new("alerts.toml"), text)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_every_problem_at_once() {
        let c = load(
            "[rules.incident_open]\n[rules.correlated]\n[[receivers]]\nname = \"h\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"\n",
        )
        .unwrap();
        let i = c.rules.incident_open.unwrap();
        assert_eq!(i.minutes, 5.0);
        assert_eq!(i.incidents, ["headset_gone", "network_degraded"]);
        assert_eq!(c.rules.correlated.unwrap().window_minutes, 2.0);
        let e = load(
            "[rules.not_ready_share]\npercent = 130\n[[receivers]]\nname = \"m\"\nkind = \"email\"\nhost = \"smtp.example.com\"\nurl = \"https://x\"\nto = [\"not an address\"]\n",
        )
        .unwrap_err();
        for want in [
            "rules.not_ready_share.percent",
            "receivers[0].url`: is not a key of kind = \"email\"",
            "receivers[0].from",
            "receivers[0].to[0]",
        ] {
            assert!(e.contains(want), "{want} not in {e}");
        }
    }
}
