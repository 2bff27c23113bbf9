//! One alert message (firing, resolved, or a test) and its wire formats: the generic webhook's
//! JSON, Slack's `{"text"}` in mrkdwn, a Teams workflow's Adaptive Card message, and an email's
//! subject and plain text. Pure: [`super::send`] posts or mails them.

use super::rules::{AgentRef, hm};
use serde::{Deserialize, Serialize};

/// What the message says about its alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Firing,
    Resolved,
    Test,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
            Status::Test => "test",
        }
    }
}

/// The message, as stored in the outbox row's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub status: Status,
    /// The alert (none for a test).
    pub alert_id: Option<String>,
    pub key: String,
    pub rule: String,
    pub site: String,
    pub subject: String,
    pub summary: String,
    #[serde(default)]
    pub lines: Vec<String>,
    #[serde(default)]
    pub agents: Vec<AgentRef>,
    /// ms since the epoch.
    pub opened_at: i64,
    pub resolved_at: Option<i64>,
    /// HQ's address as IT opens it (from the alert file), for a link to `/alerts`.
    pub dashboard_url: Option<String>,
}

fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl Message {
    /// "[FIRING]", "[RESOLVED]" or "[TEST]" and the summary: the first line everywhere.
    pub fn title(&self) -> String {
        match self.status {
            Status::Firing => format!("[FIRING] {}", self.summary),
            Status::Resolved => format!("[RESOLVED] {}", self.summary),
            Status::Test => format!("[TEST] {}", self.summary),
        }
    }

    /// The times in words: "Opened 14:32 UTC, resolved 14:40 UTC".
    pub fn when(&self) -> String {
        match self.resolved_at {
            Some(r) => format!("Opened {}, resolved {}", hm(self.opened_at), hm(r)),
            None => format!("Opened {}", hm(self.opened_at)),
        }
    }

    /// The link to HQ's alert page, when the alert file gave HQ's address.
    pub fn link(&self) -> Option<String> {
        self.dashboard_url
            .as_deref()
            .map(|u| format!("{}/alerts", u.trim_end_matches('/')))
    }

    /// The generic webhook's JSON body (documented in DESIGN.md and the alert file's docs):
    /// `id` is the idempotency key, `type` is `alert.firing`, `alert.resolved` or `alert.test`.
    pub fn webhook_json(&self, id: &str) -> serde_json::Value {
        serde_json::json!({
            "id": id,
            "type": format!("alert.{}", self.status.as_str()),
            "alert": {
                "id": self.alert_id,
                "key": self.key,
                "rule": self.rule,
                "site": self.site,
                "subject": self.subject,
                "status": self.status.as_str(),
                "summary": self.summary,
                "details": self.lines,
                "agents": self.agents,
                "opened_at": rfc3339(self.opened_at),
                "resolved_at": self.resolved_at.and_then(rfc3339),
                "url": self.link(),
            },
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// A Slack incoming webhook's body: `{"text": ...}` in mrkdwn, with `&`, `<` and `>`
    /// escaped as Slack asks (<https://api.slack.com/reference/surfaces/formatting#escaping>;
    /// the webhook itself: <https://api.slack.com/messaging/webhooks>).
    pub fn slack_json(&self) -> serde_json::Value {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut text = format!("*{}*\n{}", esc(&self.title()), esc(&self.when()));
        for l in &self.lines {
            text.push_str(&format!("\n• {}", esc(l)));
        }
        text.push_str(&format!(
            "\nRule `{}` · site {}",
            esc(&self.rule),
            esc(&self.site)
        ));
        if let Some(u) = self.link() {
            text.push_str(&format!("\n<{}|Open in ShiftReady HQ>", esc(&u)));
        }
        serde_json::json!({ "text": text })
    }

    /// A Microsoft Teams workflow's body ("Post to a channel when a webhook request is
    /// received", the Workflows replacement of Office 365 connectors): a `message` with one
    /// Adaptive Card attachment, as Microsoft documents the trigger's payload
    /// (<https://learn.microsoft.com/en-us/connectors/teams/?tabs=text1%2Cdotnet#microsoft-teams-webhook>;
    /// the same shape as <https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook#send-adaptive-cards-using-an-incoming-webhook>;
    /// card schema <https://adaptivecards.io/explorer/AdaptiveCard.html>, version 1.4). The
    /// workflow answers 202 Accepted.
    pub fn teams_json(&self) -> serde_json::Value {
        let mut body = vec![
            serde_json::json!({"type": "TextBlock", "text": self.title(), "weight": "Bolder", "size": "Medium", "wrap": true}),
            serde_json::json!({"type": "TextBlock", "text": self.when(), "isSubtle": true, "wrap": true}),
        ];
        for l in &self.lines {
            body.push(serde_json::json!({"type": "TextBlock", "text": l, "wrap": true}));
        }
        body.push(serde_json::json!({"type": "FactSet", "facts": [
            {"title": "Rule", "value": self.rule},
            {"title": "Site", "value": self.site},
        ]}));
        let mut card = serde_json::json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        });
        if let Some(u) = self.link() {
            card["actions"] = serde_json::json!([
                {"type": "Action.OpenUrl", "title": "Open in ShiftReady HQ", "url": u}
            ]);
        }
        serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": card,
            }],
        })
    }

    /// An email's subject and plain-text body.
    pub fn email(&self) -> (String, String) {
        let subject = format!("ShiftReady {}: {}", self.site, self.title());
        let subject: String = subject.chars().take(200).collect();
        let mut body = format!("{}\n{}\n", self.title(), self.when());
        if !self.lines.is_empty() {
            body.push('\n');
            for l in &self.lines {
                body.push_str(&format!("- {l}\n"));
            }
        }
        body.push_str(&format!("\nRule: {}\nSite: {}\n", self.rule, self.site));
        if let Some(u) = self.link() {
            body.push_str(&format!("Alert history: {u}\n"));
        }
        (subject, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message {
            status: Status::Firing,
            alert_id: Some("a1".into()),
            key: "incident_open:main:d1:headset_gone".into(),
            rule: "incident_open".into(),
            site: "main".into(),
            subject: "d1:headset_gone".into(),
            summary: "ws-1 <&> down".into(),
            lines: vec!["a < b".into()],
            agents: vec![],
            opened_at: 0,
            resolved_at: None,
            dashboard_url: Some("https://hq.example.com/".into()),
        }
    }

    #[test]
    fn slack_escapes_control_characters_and_links() {
        let t = msg().slack_json()["text"].as_str().unwrap().to_string();
        assert_eq!(
            t,
            "*[FIRING] ws-1 &lt;&amp;&gt; down*\nOpened 00:00 UTC\n• a &lt; b\nRule `incident_open` · site main\n<https://hq.example.com/alerts|Open in ShiftReady HQ>"
        );
    }

    #[test]
    fn teams_is_a_message_with_one_adaptive_card() {
        let v = msg().teams_json();
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["body"][0]["text"], "[FIRING] ws-1 <&> down");
        assert_eq!(
            a["content"]["actions"][0]["url"],
            "https://hq.example.com/alerts"
        );
    }
}
