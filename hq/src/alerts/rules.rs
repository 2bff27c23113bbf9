//! Pure: which alert conditions hold for a site now, from a snapshot of its agents. No I/O;
//! [`super::engine`] reads the snapshot and turns conditions into opened and resolved alerts.
//!
//! Each condition has a key (`RULE:SITE:SUBJECT`), the time it began holding (from the data:
//! an incident's start, a sign-out; or, for the not-ready share, first seen by HQ), how long it
//! must hold before an alert opens, and whether it may open one now or only keep one open
//! (an agent folded into a correlated alert; a lost-contact sign-out older than the rule looks).

use super::config::{AlertConfig, CORRELATED, INCIDENT_OPEN, LOST_CONTACT, NOT_READY_SHARE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The incident the correlated rule looks at, and the scope it counts.
pub const NETWORK_DEGRADED: &str = "network_degraded";
pub const BEYOND_HOME: &str = "beyond_home";

/// One agent of the site as the rules see it.
#[derive(Debug, Clone, Default)]
pub struct Agent {
    pub id: String,
    pub hostname: String,
    pub signed_in: bool,
    /// The fleet's state is `not_ready`.
    pub not_ready: bool,
    /// Incidents open now in this shift.
    pub incidents: Vec<OpenIncident>,
    /// When HQ signed it out for lost contact, while it has not been heard from since.
    pub lost_contact_at: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct OpenIncident {
    pub name: String,
    pub started_at: i64,
    pub detail: String,
    /// `home`, `beyond_home`, or `None` (an older agent, or not a network incident).
    pub scope: Option<String>,
    /// The public address prefix HQ saw the incident come from.
    pub prefix: Option<String>,
}

/// An agent an alert is about, as messages list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRef {
    pub device_id: String,
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_prefix: Option<String>,
}

/// When a condition began holding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Since {
    /// Known from the data.
    At(i64),
    /// Only HQ's own observation can say: the engine keeps when it first saw it.
    FirstSeen,
}

/// A condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub key: String,
    pub rule: &'static str,
    pub subject: String,
    pub summary: String,
    pub lines: Vec<String>,
    pub agents: Vec<AgentRef>,
    pub since: Since,
    /// How long it must hold before an alert opens (ms).
    pub after_ms: i64,
    /// Whether it may open an alert (else it only keeps an open one open).
    pub may_open: bool,
}

/// `RULE:SITE:SUBJECT`.
pub fn key(rule: &str, site: &str, subject: &str) -> String {
    format!("{rule}:{site}:{subject}")
}

fn mins(m: f64) -> i64 {
    (m * 60_000.0).round() as i64
}

/// `14:32 UTC`.
pub fn hm(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default()
}

/// "5 min", "90 s", "1.5 h": a rule's duration in words.
pub fn duration_words(minutes: f64) -> String {
    if minutes < 1.0 {
        format!("{} s", (minutes * 60.0).round())
    } else if minutes < 120.0 {
        format!("{} min", trim(minutes))
    } else {
        format!("{} h", trim(minutes / 60.0))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The public address prefix of a client: IPv4 /24, IPv6 /48 (an IPv4-mapped IPv6 address
/// as the IPv4 address it is).
pub fn address_prefix(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            let p = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            format!("{p}/48")
        }
    }
}

/// Every condition of `cfg`'s rules that holds for `site` now. `in_correlated` are the agents
/// an open correlated alert lists: like the agents of a correlated group found now, their
/// `network_degraded` opens no alert of its own (it is folded into the correlated one).
pub fn conditions(
    site: &str,
    cfg: &AlertConfig,
    agents: &[Agent],
    in_correlated: &BTreeSet<String>,
    now: i64,
) -> Vec<Condition> {
    let mut out = Vec::new();
    let signed_in: Vec<&Agent> = agents.iter().filter(|a| a.signed_in).collect();
    // Correlated first: the agents it covers do not open alerts of their own.
    let mut folded: BTreeSet<&str> = in_correlated.iter().map(String::as_str).collect();
    if let Some(c) = &cfg.rules.correlated {
        let beyond: Vec<(&Agent, &OpenIncident)> = signed_in
            .iter()
            .flat_map(|a| a.incidents.iter().map(move |i| (*a, i)))
            .filter(|(_, i)| i.name == NETWORK_DEGRADED && i.scope.as_deref() == Some(BEYOND_HOME))
            .collect();
        let enough = |n: usize| {
            n >= 2
                && (n >= c.agents as usize
                    || c.percent.is_some_and(|p| {
                        !signed_in.is_empty() && n as f64 * 100.0 >= p * signed_in.len() as f64
                    }))
        };
        if enough(beyond.len()) {
            let mut starts: Vec<(i64, usize)> = beyond
                .iter()
                .enumerate()
                .map(|(n, (_, i))| (i.started_at, n))
                .collect();
            starts.sort();
            let window = mins(c.window_minutes);
            // The largest group starting within the window (the latest of equal ones).
            let (mut best, mut lo) = ((0usize, 0usize), 0usize);
            for hi in 0..starts.len() {
                while starts[hi].0 - starts[lo].0 > window {
                    lo += 1;
                }
                if hi + 1 - lo >= best.1 - best.0 {
                    best = (lo, hi + 1);
                }
            }
            let group: Vec<(&Agent, &OpenIncident)> = starts[best.0..best.1]
                .iter()
                .map(|(_, n)| beyond[*n])
                .collect();
            let may_open = enough(group.len());
            if may_open {
                folded.extend(group.iter().map(|(a, _)| a.id.as_str()));
            }
            let crossed = (1..=group.len())
                .find(|n| enough(*n))
                .map(|n| group[n - 1].1.started_at)
                .unwrap_or(now);
            let first = group.iter().map(|(_, i)| i.started_at).min().unwrap_or(now);
            let last = group.iter().map(|(_, i)| i.started_at).max().unwrap_or(now);
            let mut by_prefix: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            let mut agents_out = Vec::new();
            for (a, i) in &group {
                let p = i
                    .prefix
                    .clone()
                    .unwrap_or_else(|| "address unknown".to_string());
                by_prefix.entry(p).or_default().push(&a.hostname);
                agents_out.push(AgentRef {
                    device_id: a.id.clone(),
                    hostname: a.hostname.clone(),
                    address_prefix: i.prefix.clone(),
                });
            }
            let mut lines: Vec<String> = by_prefix
                .iter()
                .map(|(p, hs)| format!("{p} ({}): {}", hs.len(), hs.join(", ")))
                .collect();
            let in_window = |t: i64| t >= first - window && t <= last + window;
            let unknown: Vec<&str> = signed_in
                .iter()
                .filter(|a| {
                    a.incidents.iter().any(|i| {
                        i.name == NETWORK_DEGRADED && i.scope.is_none() && in_window(i.started_at)
                    })
                })
                .map(|a| a.hostname.as_str())
                .collect();
            if !unknown.is_empty() {
                lines.push(format!(
                    "Also degraded at that time, scope not reported (older agents, not counted): {}",
                    unknown.join(", ")
                ));
            }
            out.push(Condition {
                key: key(CORRELATED, site, BEYOND_HOME),
                rule: CORRELATED,
                subject: BEYOND_HOME.into(),
                summary: format!(
                    "Likely HQ- or ISP-side problem: {} of {} signed-in agents have their network degraded beyond the home, starting within {} ({}–{})",
                    group.len(),
                    signed_in.len(),
                    duration_words(c.window_minutes),
                    hm(first),
                    hm(last)
                ),
                lines,
                agents: agents_out,
                // From when enough had started, wait a little for the rest of the group.
                since: Since::At(crossed),
                after_ms: (c.wait_seconds * 1000.0).round() as i64,
                may_open,
            });
        }
    }
    if let Some(r) = &cfg.rules.incident_open {
        for a in &signed_in {
            for i in a.incidents.iter().filter(|i| r.incidents.contains(&i.name)) {
                let subject = format!("{}:{}", a.id, i.name);
                let mut lines = Vec::new();
                if !i.detail.is_empty() {
                    lines.push(i.detail.clone());
                }
                if let Some(s) = &i.scope {
                    lines.push(format!(
                        "Where: {}",
                        if s == BEYOND_HOME {
                            "beyond the home (provider, internet or HQ)"
                        } else {
                            "in the home (the link or the home router)"
                        }
                    ));
                }
                out.push(Condition {
                    key: key(INCIDENT_OPEN, site, &subject),
                    rule: INCIDENT_OPEN,
                    summary: format!(
                        "{}: {} open since {} (over {}) during the shift",
                        a.hostname,
                        i.name,
                        hm(i.started_at),
                        duration_words(r.minutes)
                    ),
                    subject,
                    lines,
                    agents: vec![AgentRef {
                        device_id: a.id.clone(),
                        hostname: a.hostname.clone(),
                        address_prefix: i.prefix.clone(),
                    }],
                    since: Since::At(i.started_at),
                    after_ms: mins(r.minutes),
                    may_open: !(i.name == NETWORK_DEGRADED && folded.contains(a.id.as_str())),
                });
            }
        }
    }
    if let Some(r) = &cfg.rules.lost_contact {
        for a in agents {
            let Some(at) = a.lost_contact_at else {
                continue;
            };
            out.push(Condition {
                key: key(LOST_CONTACT, site, &a.id),
                rule: LOST_CONTACT,
                subject: a.id.clone(),
                summary: format!(
                    "{}: signed out by HQ at {} for lost contact (its heartbeats stopped)",
                    a.hostname,
                    hm(at)
                ),
                lines: vec![],
                agents: vec![AgentRef {
                    device_id: a.id.clone(),
                    hostname: a.hostname.clone(),
                    address_prefix: None,
                }],
                since: Since::At(at),
                after_ms: 0,
                may_open: now - at <= mins(r.within_minutes),
            });
        }
    }
    if let Some(r) = &cfg.rules.not_ready_share {
        let n = signed_in.len();
        let bad: Vec<&&Agent> = signed_in.iter().filter(|a| a.not_ready).collect();
        if n >= r.min_signed_in.max(1) as usize && bad.len() as f64 * 100.0 > r.percent * n as f64 {
            let names: Vec<&str> = bad.iter().take(50).map(|a| a.hostname.as_str()).collect();
            out.push(Condition {
                key: key(NOT_READY_SHARE, site, "signed_in"),
                rule: NOT_READY_SHARE,
                subject: "signed_in".into(),
                summary: format!(
                    "{} % of signed-in agents are not ready ({} of {}; the limit is {} % for {})",
                    (bad.len() as f64 * 100.0 / n as f64).round(),
                    bad.len(),
                    n,
                    trim(r.percent),
                    duration_words(r.minutes)
                ),
                lines: vec![format!(
                    "Not ready: {}{}",
                    names.join(", "),
                    if bad.len() > names.len() { ", ..." } else { "" }
                )],
                agents: bad
                    .iter()
                    .take(50)
                    .map(|a| AgentRef {
                        device_id: a.id.clone(),
                        hostname: a.hostname.clone(),
                        address_prefix: None,
                    })
                    .collect(),
                since: Since::FirstSeen,
                after_ms: mins(r.minutes),
                may_open: true,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::config::*;

    const MIN: i64 = 60_000;

    fn cfg() -> AlertConfig {
        AlertConfig {
            rules: Rules {
                incident_open: Some(IncidentOpen {
                    minutes: 5.0,
                    incidents: vec!["headset_gone".into(), NETWORK_DEGRADED.into()],
                }),
                lost_contact: Some(LostContact {
                    within_minutes: 60.0,
                }),
                not_ready_share: Some(NotReadyShare {
                    percent: 30.0,
                    minutes: 5.0,
                    min_signed_in: 2,
                }),
                correlated: Some(Correlated {
                    agents: 3,
                    percent: None,
                    window_minutes: 2.0,
                    wait_seconds: 30.0,
                }),
            },
            ..AlertConfig::default()
        }
    }

    fn agent(n: usize, incidents: Vec<OpenIncident>) -> Agent {
        Agent {
            id: format!("d{n}"),
            hostname: format!("ws-{n}"),
            signed_in: true,
            incidents,
            ..Agent::default()
        }
    }

    fn degraded(at: i64, scope: Option<&str>, prefix: &str) -> OpenIncident {
        OpenIncident {
            name: NETWORK_DEGRADED.into(),
            started_at: at,
            scope: scope.map(String::from),
            prefix: Some(prefix.into()),
            ..OpenIncident::default()
        }
    }

    #[test]
    fn prefixes_are_slash_24_and_slash_48() {
        let p = |s: &str| address_prefix(s.parse().unwrap());
        assert_eq!(p("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(p("::ffff:198.51.100.9"), "198.51.100.0/24");
        assert_eq!(p("2001:db8:1234:5678::1"), "2001:db8:1234::/48");
    }

    #[test]
    fn ten_agents_beyond_the_home_are_one_alert_grouped_by_prefix() {
        let t = 1_000 * MIN;
        let mut agents: Vec<Agent> = (0..10)
            .map(|n| {
                let prefix = if n < 6 {
                    "203.0.113.0/24"
                } else {
                    "198.51.100.0/24"
                };
                agent(
                    n,
                    vec![degraded(t + n as i64 * 10_000, Some(BEYOND_HOME), prefix)],
                )
            })
            .collect();
        // An older agent sends no scope: not counted, named apart.
        agents.push(agent(10, vec![degraded(t, None, "203.0.113.0/24")]));
        // One degraded at home: not part of it.
        agents.push(agent(11, vec![degraded(t, Some("home"), "192.0.2.0/24")]));
        let c = conditions("main", &cfg(), &agents, &BTreeSet::new(), t + 10 * MIN);
        let corr: Vec<_> = c.iter().filter(|c| c.rule == CORRELATED).collect();
        assert_eq!(corr.len(), 1);
        assert_eq!(corr[0].agents.len(), 10);
        assert!(corr[0].may_open);
        // Enough (3) had started at the third start; then it waits 30 s for the rest.
        assert_eq!(corr[0].since, Since::At(t + 20_000));
        assert_eq!(corr[0].after_ms, 30_000);
        assert!(
            corr[0]
                .summary
                .starts_with("Likely HQ- or ISP-side problem: 10 of 12"),
            "{}",
            corr[0].summary
        );
        assert_eq!(
            corr[0].lines[0],
            "198.51.100.0/24 (4): ws-6, ws-7, ws-8, ws-9"
        );
        assert!(corr[0].lines[1].starts_with("203.0.113.0/24 (6): ws-0"));
        assert!(
            corr[0].lines[2].contains("not counted): ws-10"),
            "{:?}",
            corr[0].lines
        );
        // The ten's own incident_open conditions are folded (may not open); the others' not.
        let own: Vec<_> = c.iter().filter(|c| c.rule == INCIDENT_OPEN).collect();
        assert_eq!(own.len(), 12);
        assert_eq!(own.iter().filter(|c| c.may_open).count(), 2);
    }

    #[test]
    fn starts_spread_wider_than_the_window_open_nothing() {
        let t = 1_000 * MIN;
        let agents: Vec<Agent> = (0..3)
            .map(|n| {
                agent(
                    n,
                    vec![degraded(t + n as i64 * 3 * MIN, Some(BEYOND_HOME), "x")],
                )
            })
            .collect();
        let c = conditions("main", &cfg(), &agents, &BTreeSet::new(), t + 10 * MIN);
        let corr: Vec<_> = c.iter().filter(|c| c.rule == CORRELATED).collect();
        // Three are degraded together (an open alert stays open) but none started together:
        // each agent's own alert may open.
        assert_eq!(corr.len(), 1);
        assert!(!corr[0].may_open);
        assert!(
            c.iter()
                .filter(|c| c.rule == INCIDENT_OPEN)
                .all(|c| c.may_open)
        );
    }

    #[test]
    fn share_lost_contact_and_incident_keys() {
        let t = 1_000 * MIN;
        let mut agents: Vec<Agent> = (0..4).map(|n| agent(n, vec![])).collect();
        agents[0].not_ready = true;
        agents[1].not_ready = true;
        agents[2].incidents.push(OpenIncident {
            name: "headset_gone".into(),
            started_at: t,
            ..OpenIncident::default()
        });
        agents[3].signed_in = false;
        agents[3].lost_contact_at = Some(t - 61 * MIN);
        let c = conditions("main", &cfg(), &agents, &BTreeSet::new(), t);
        let keys: Vec<&str> = c.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "incident_open:main:d2:headset_gone",
                "lost_contact:main:d3",
                "not_ready_share:main:signed_in"
            ]
        );
        // 2 of 3 signed in: 67 % > 30 %.
        assert!(
            c[2].summary
                .starts_with("67 % of signed-in agents are not ready (2 of 3")
        );
        assert_eq!(c[2].since, Since::FirstSeen);
        // A sign-out older than the rule looks keeps an open alert only.
        assert!(!c[1].may_open);
        assert_eq!(c[0].after_ms, 5 * MIN);
    }
}
