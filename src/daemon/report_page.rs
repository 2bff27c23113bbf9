//! "Show last report": a plain, semantic HTML page of every check and its hint, readable with
//! a screen reader (headings, a table with a caption and header cells, no script, no colour
//! as the only signal).

use crate::i18n::{self, Lang};
use proto::Msg;

/// One message without arguments in `lang`.
fn tr(lang: Lang, id: &'static str) -> String {
    i18n::text(lang, &Msg::new(id))
}
use askama::Template;
use proto::{Report, Status};

/// The page's own words, in the agent's language.
struct Words {
    lang: &'static str,
    title: String,
    state: String,
    checked_at: String,
    caption: String,
    check: String,
    result: String,
    what_to_do: String,
    no_check: String,
}

impl Words {
    fn new(lang: Lang) -> Words {
        Words {
            lang: lang.code(),
            title: tr(lang, "page-title"),
            state: tr(lang, "page-state"),
            checked_at: tr(lang, "page-checked-at"),
            caption: tr(lang, "page-caption"),
            check: tr(lang, "page-check"),
            result: tr(lang, "page-result"),
            what_to_do: tr(lang, "page-what-to-do"),
            no_check: tr(lang, "page-no-check"),
        }
    }
}

/// `templates/report.html`: askama escapes every value it prints.
#[derive(Template)]
#[template(path = "report.html")]
struct Page {
    t: Words,
    state: String,
    /// RFC 3339 and the local time, for `<time datetime>`.
    checked_at: Option<(String, String)>,
    report: Option<Body>,
}

struct Body {
    sentence: String,
    rows: Vec<Row>,
}

struct Row {
    name: String,
    result: String,
    hint: String,
}

fn status_word(lang: Lang, s: Status) -> String {
    tr(
        lang,
        match s {
            Status::Pass => "page-pass",
            Status::Warn => "page-warn",
            Status::Fail => "page-fail",
            Status::Error => "page-error",
        },
    )
}

fn readiness_sentence(lang: Lang, r: proto::Readiness) -> String {
    tr(
        lang,
        match r {
            proto::Readiness::Ready => "page-ready",
            proto::Readiness::Degraded => "page-degraded",
            proto::Readiness::NotReady => "page-not-ready",
            proto::Readiness::Unknown => "page-unknown",
        },
    )
}

/// The daemon's state in words ("not ready"; "inte redo").
fn state_words(lang: Lang, state: &str) -> String {
    let id = match state {
        "ready" => "readiness-ready",
        "degraded" => "readiness-degraded",
        "not_ready" => "readiness-not-ready",
        "unknown" => "readiness-unknown",
        "signed_out" => "state-signed-out",
        "offline" => "page-state-offline",
        other => return other.replace('_', " "),
    };
    tr(lang, id)
}

/// The page for a report (or a page saying there is none yet), in the agent's language.
pub fn render(report: Option<&Report>, state: &str) -> String {
    render_in(i18n::current(), report, state)
}

/// The page in `lang`.
pub fn render_in(lang: Lang, report: Option<&Report>, state: &str) -> String {
    let checked_at = report.and_then(|r| r.taken_at).map(|t| {
        let local = t.with_timezone(&chrono::Local);
        (t.to_rfc3339(), local.format("%Y-%m-%d %H:%M").to_string())
    });
    let body = report.map(|r| {
        let mut names: Vec<&String> = r.checks.keys().collect();
        // The contract's order first; checks this build does not know (a newer policy) after.
        names.sort_by_key(|n| {
            proto::CheckName::parse(n)
                .and_then(|c| proto::CheckName::ALL.iter().position(|a| *a == c))
                .unwrap_or(usize::MAX)
        });
        Body {
            sentence: readiness_sentence(lang, r.readiness),
            rows: names
                .into_iter()
                .map(|name| {
                    let c = &r.checks[name];
                    Row {
                        name: i18n::check_title(lang, name),
                        result: status_word(lang, c.status),
                        // The hint in the agent's language, from its message id.
                        hint: if c.hint.is_empty() {
                            tr(lang, "page-nothing")
                        } else {
                            i18n::text_hint(lang, c)
                        },
                    }
                })
                .collect(),
        }
    });
    let page = Page {
        t: Words::new(lang),
        state: state_words(lang, state),
        checked_at,
        report: body,
    };
    // Rendering into a String fails only if a Display impl fails; ours cannot.
    page.render()
        .unwrap_or_else(|e| format!("<p>The report page could not be made: {e}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::CheckResult;
    use std::collections::BTreeMap;

    #[test]
    fn page_has_a_row_per_check_with_its_hint_escaped() {
        let mut checks = BTreeMap::new();
        checks.insert("os".into(), CheckResult::new(Status::Pass, ""));
        checks.insert(
            "headset".into(),
            CheckResult::new(
                Status::Fail,
                "Plug in your headset <now> & make it default.",
            ),
        );
        let page = render(Some(&Report::new(checks)), "not_ready");
        // askama writes numeric entities: &#60; is "<", &#62; ">", &#38; "&".
        assert!(page.contains("<th scope=\"row\">headset</th><td>Fail</td><td>Plug in your headset &#60;now&#62; &#38; make it default.</td>"), "{page}");
        assert!(!page.contains("<now>"));
        assert!(page.contains("<th scope=\"row\">os</th><td>Pass</td><td>Nothing.</td>"));
        assert!(page.find(">os<").unwrap() < page.find(">headset<").unwrap());
        assert!(page.contains("<html lang=\"en\">") && page.contains("<caption>"));
    }

    #[test]
    fn the_page_speaks_swedish_with_the_hint_from_its_message() {
        let mut checks = BTreeMap::new();
        checks.insert("os".into(), CheckResult::new(Status::Pass, ""));
        checks.insert(
            "network".into(),
            shiftready_core::i18n::hinted(Status::Warn, Msg::new("net-home-wifi")),
        );
        let page = render_in(Lang::Sv, Some(&Report::new(checks)), "degraded");
        assert!(page.contains("<html lang=\"sv\">"), "{page}");
        assert!(
            page.contains("<td>Varning</td><td>Felet ligger i ditt hemnätverk"),
            "{page}"
        );
        assert!(
            page.contains("<th scope=\"row\">system</th><td>Godkänd</td><td>Inget.</td>"),
            "{page}"
        );
        assert!(
            page.contains("Läge: <strong>redo med varningar</strong>"),
            "{page}"
        );
        assert!(!page.contains("Your home network"), "{page}");
    }

    #[test]
    fn page_without_a_report_says_how_to_get_one() {
        let page = render(None, "signed_out");
        assert!(
            page.contains("State: <strong>signed out</strong>"),
            "{page}"
        );
        assert!(page.contains("No check has run yet"));
        assert!(!page.contains("<table>"));
    }
}
