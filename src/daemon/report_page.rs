//! "Show last report": a plain, semantic HTML page of every check and its hint, readable with
//! a screen reader (headings, a table with a caption and header cells, no script, no colour
//! as the only signal).

use proto::{Report, Status};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
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
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>ShiftReady report</title>\n\
         <style>body{font:1.1rem/1.5 sans-serif;max-width:48rem;margin:1rem auto;padding:0 1rem}\
         table{border-collapse:collapse;width:100%}th,td{border:1px solid #555;padding:.4rem;\
         text-align:left;vertical-align:top}</style>\n</head>\n<body>\n<main>\n\
         <h1>ShiftReady report</h1>\n",
    );
    h.push_str(&format!(
        "<p>State: <strong>{}</strong></p>\n",
        esc(&state.replace('_', " "))
    ));
    let Some(r) = report else {
        h.push_str("<p>No check has run yet. Choose “Run check now” in the ShiftReady menu.</p>\n</main>\n</body>\n</html>\n");
        return h;
    };
    if let Some(t) = r.taken_at {
        let local = t.with_timezone(&chrono::Local);
        h.push_str(&format!(
            "<p>Checked at <time datetime=\"{}\">{}</time>.</p>\n",
            t.to_rfc3339(),
            local.format("%Y-%m-%d %H:%M")
        ));
    }
    h.push_str(&format!(
        "<h2>{}</h2>\n",
        esc(readiness_sentence(r.readiness))
    ));
    h.push_str(
        "<table>\n<caption>Every check, its result and what to do</caption>\n\
         <thead><tr><th scope=\"col\">Check</th><th scope=\"col\">Result</th>\
         <th scope=\"col\">What to do</th></tr></thead>\n<tbody>\n",
    );
    let mut names: Vec<&String> = r.checks.keys().collect();
    names.sort_by_key(|n| {
        proto::report::CHECK_NAMES
            .iter()
            .position(|c| c == n)
            .unwrap_or(usize::MAX)
    });
    for name in names {
        let c = &r.checks[name];
        let hint = if c.hint.is_empty() {
            "Nothing."
        } else {
            &c.hint
        };
        h.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>\n",
            esc(name),
            status_word(c.status),
            esc(hint)
        ));
    }
    h.push_str("</tbody>\n</table>\n</main>\n</body>\n</html>\n");
    h
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
        assert!(page.contains("<th scope=\"row\">headset</th><td>Fail</td><td>Plug in your headset &lt;now&gt; &amp; make it default.</td>"));
        assert!(page.contains("<th scope=\"row\">os</th><td>Pass</td><td>Nothing.</td>"));
        assert!(page.find(">os<").unwrap() < page.find(">headset<").unwrap());
        assert!(page.contains("<html lang=\"en\">") && page.contains("<caption>"));
    }
}
