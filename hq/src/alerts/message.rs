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
    ///
    /// Text is never Markdown. A `TextBlock`'s text, and a `FactSet`'s titles and values, are
    /// read as Markdown (bold, italic, lists, `[title](url)` links: Microsoft's "Text
    /// features", <https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/text-features>,
    /// and "Format cards in Teams",
    /// <https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format>),
    /// and the hostnames, incident names and details in an alert are the devices' words: a
    /// device could make a link in IT's channel (found in review; Slack's text was escaped,
    /// Teams' was not). So each text is a `TextRun` of a `RichTextBlock`, which the same page
    /// says takes no Markdown, with a `fallback` (a host without `RichTextBlock`) to a
    /// `TextBlock` whose Markdown is escaped ([`escape_markdown`]).
    pub fn teams_json(&self) -> serde_json::Value {
        let mut body = vec![
            teams_text(&self.title(), &[("weight", "Bolder"), ("size", "Medium")]),
            teams_text(&self.when(), &[("isSubtle", "true")]),
        ];
        for l in &self.lines {
            body.push(teams_text(l, &[]));
        }
        body.push(teams_text(
            &format!("Rule: {} · Site: {}", self.rule, self.site),
            &[("isSubtle", "true")],
        ));
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

/// One text of a Teams card, as plain text: a `RichTextBlock` with one `TextRun` (no Markdown),
/// falling back to a `TextBlock` with its Markdown escaped. `style`: the run's `weight`,
/// `size`, `isSubtle` ("true").
fn teams_text(text: &str, style: &[(&str, &str)]) -> serde_json::Value {
    let mut run = serde_json::json!({"type": "TextRun", "text": text});
    let mut block =
        serde_json::json!({"type": "TextBlock", "text": escape_markdown(text), "wrap": true});
    for (k, v) in style {
        let v = if *v == "true" {
            serde_json::json!(true)
        } else {
            serde_json::json!(v)
        };
        run[*k] = v.clone();
        block[*k] = v;
    }
    serde_json::json!({"type": "RichTextBlock", "inlines": [run], "fallback": block})
}

/// `text` with every character Adaptive Cards' Markdown reads as markup backslash-escaped
/// (CommonMark: any ASCII punctuation may be escaped, <https://spec.commonmark.org/0.31.2/#backslash-escapes>),
/// and line breaks as spaces (a line starting `- ` or `1. ` would be a list): `[x](y)` shows
/// as those characters, never as a link. Some Teams mobile clients show the backslashes
/// (microsoft/AdaptiveCards issues 5590, 7474): ugly, never a link, and only where a host
/// lacks `RichTextBlock`.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '`' | '~' | '|' | '!'
            | '-' | '+' | '.' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
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

    /// The devices' words never become Markdown on a Teams card (Microsoft's "Text features":
    /// a TextBlock reads `[Title](url)` as a link, bold, italic and lists; a RichTextBlock's
    /// TextRun reads no Markdown; <https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/text-features>).
    #[test]
    fn teams_card_does_not_render_device_text_as_markdown() {
        let mut m = msg();
        m.summary = "ws-1: **urgent** [reset your password](https://evil.example/x)".into();
        m.lines = vec!["- not a list\n1. nor this _one_".into()];
        let v = m.teams_json();
        let body = v["attachments"][0]["content"]["body"].as_array().unwrap();
        for b in body {
            // Plain text runs; the fallback's Markdown escaped; no TextBlock or FactSet
            // reading it as Markdown.
            assert_eq!(b["type"], "RichTextBlock", "{b}");
            assert_eq!(b["inlines"].as_array().unwrap().len(), 1);
            assert_eq!(b["inlines"][0]["type"], "TextRun");
            assert_eq!(b["fallback"]["type"], "TextBlock");
        }
        assert_eq!(
            body[0]["inlines"][0]["text"],
            "[FIRING] ws-1: **urgent** [reset your password](https://evil.example/x)"
        );
        assert_eq!(
            body[0]["fallback"]["text"],
            "\\[FIRING\\] ws\\-1: \\*\\*urgent\\*\\* \\[reset your password\\]\\(https://evil\\.example/x\\)"
        );
        assert_eq!(
            body[2]["fallback"]["text"],
            "\\- not a list 1\\. nor this \\_one\\_"
        );
        assert_eq!(body[0]["inlines"][0]["weight"], "Bolder");
        assert_eq!(body[1]["inlines"][0]["isSubtle"], true);
        for b in body {
            assert!(
                !b["fallback"]["text"].as_str().unwrap().contains("]("),
                "{b}"
            );
        }
    }

    #[test]
    fn teams_is_a_message_with_one_adaptive_card() {
        let v = msg().teams_json();
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(
            a["content"]["body"][0]["inlines"][0]["text"],
            "[FIRING] ws-1 <&> down"
        );
        assert_eq!(
            a["content"]["actions"][0]["url"],
            "https://hq.example.com/alerts"
        );
    }
}
