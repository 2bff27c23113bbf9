//! "Show last report": a plain, semantic HTML page of every check and its hint, readable with
//! a screen reader (headings, a table with a caption and header cells, no script, no colour
//! as the only signal).

use askama::Template;
use proto::{Report, Status};

/// `templates/report.html`: askama escapes every value it prints.
#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    state: String,
    /// RFC 3339 and the local time, for `<time datetime>`.
    checked_at: Option<(String, String)>,
    report: Option<Body<'a>>,
}

struct Body<'a> {
    sentence: &'static str,
    rows: Vec<Row<'a>>,
}

struct Row<'a> {
    name: &'a str,
    result: &'static str,
    hint: &'a str,
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "Pass",
        Status::Warn => "Warning",
        Status::Fail => "Fail",
        Status::Error => "Could not check",
    }
}

fn readiness_sentence(r: proto::Readiness) -> &'static str {
    match r {
        proto::Readiness::Ready => "Ready: your workstation is ready for calls.",
        proto::Readiness::Degraded => "Degraded: you can take calls, but fix the warnings below.",
        proto::Readiness::NotReady => "Not ready: fix the failures below before taking calls.",
        proto::Readiness::Unknown => "Unknown: some checks could not run; see below.",
    }
}

/// The page for a report (or a page saying there is none yet).
pub fn render(report: Option<&Report>, state: &str) -> String {
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
            sentence: readiness_sentence(r.readiness),
            rows: names
                .into_iter()
                .map(|name| {
                    let c = &r.checks[name];
                    Row {
                        name,
                        result: status_word(c.status),
                        hint: if c.hint.is_empty() {
                            "Nothing."
                        } else {
                            &c.hint
                        },
                    }
                })
                .collect(),
        }
    });
    let page = Page {
        state: state.replace('_', " "),
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
