//! The administrative commands: enrollment secrets, users, tokens, policies, schedules,
//! revoking devices.

use crate::db::Db;
use crate::error::AppError;
use proto::api::{EnrollRequest, EnrollResponse};
use std::path::Path;

/// A CSV line of `shifts import` that could not be used: `(line, message)`.
pub type CsvProblem = (usize, String);

/// A usable CSV line: `(line, agent, start_ms, end_ms)`.
pub type CsvShift = (usize, String, i64, i64);

/// Splits one CSV line (RFC 4180 quoting).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

/// Parses the schedule CSV (`agent,start,end` with a header line, RFC 3339 times) into
/// `(line, agent, start_ms, end_ms)`, reporting every bad line.
pub fn parse_shifts_csv(text: &str) -> Result<Vec<CsvShift>, Vec<CsvProblem>> {
    let (rows, problems) = parse_shifts_csv_all(text);
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The good lines of the schedule CSV and the problem of every bad one.
pub fn parse_shifts_csv_all(text: &str) -> (Vec<CsvShift>, Vec<CsvProblem>) {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return (
            Vec::new(),
            vec![(
                1,
                "the file is empty; the first line must be `agent,start,end`".into(),
            )],
        );
    };
    let cols: Vec<String> = split_csv(header.trim_start_matches('\u{feff}'))
        .into_iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let (Some(ia), Some(is), Some(ie)) = (find("agent"), find("start"), find("end")) else {
        return (
            Vec::new(),
            vec![(
                1,
                format!(
                    "the header must name the columns agent, start and end (it has: {})",
                    cols.join(", ")
                ),
            )],
        );
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let f = split_csv(line);
        let get = |k: usize| f.get(k).map(String::as_str).unwrap_or("");
        let agent = get(ia);
        if agent.is_empty() {
            problems.push((n, "the agent column is empty".into()));
            continue;
        }
        let parse = |what: &str, v: &str| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|e| {
                    format!("{what} '{v}' is not an RFC 3339 time like 2026-01-31T08:00:00Z ({e})")
                })
        };
        match (parse("start", get(is)), parse("end", get(ie))) {
            (Ok(s), Ok(e)) if e <= s => problems.push((n, "end must be after start".into())),
            (Ok(s), Ok(e)) if e - s > 24 * 3_600_000 => {
                problems.push((n, "a shift is at most 24 hours".into()))
            }
            (Ok(s), Ok(e)) => out.push((n, agent.to_string(), s, e)),
            (Err(m), _) | (_, Err(m)) => problems.push((n, m)),
        }
    }
    (out, problems)
}

/// What `shifts import` did: shifts added, and shifts of the file HQ already had (the same
/// agent, start and end: skipped, so importing a file twice changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub already: usize,
}

/// A time for messages: RFC 3339 in UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `shifts import FILE`: all lines or none. Every problem of the file is reported in one go,
/// with its line: lines that cannot be read, agents HQ does not know or cannot tell apart (a
/// hostname two devices share: use the device id), shifts overlapping another of the same
/// agent in the file or at HQ. Shifts HQ already has exactly are skipped.
pub async fn import_shifts(
    db: &Db,
    file: &Path,
    text: &str,
) -> anyhow::Result<Result<Imported, String>> {
    let fmt = |mut ps: Vec<CsvProblem>| {
        ps.sort_by_key(|p| p.0);
        ps.iter()
            .map(|(l, m)| format!("{}:{l}: {m}", file.display()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (rows, mut problems) = parse_shifts_csv_all(text);
    // line, agent id, start, end
    let mut resolved: Vec<(usize, String, i64, i64)> = Vec::new();
    for (line, agent, s, e) in rows {
        // The same resolution and words as every other place that takes an agent by name.
        match db.resolve_agent(&agent).await? {
            Ok(id) => resolved.push((line, id, s, e)),
            Err(why) => problems.push((line, why)),
        }
    }
    let mut new = Vec::new();
    let mut already = 0;
    for (k, (line, id, s, e)) in resolved.iter().enumerate() {
        // Against earlier lines of the file.
        if let Some((l2, ..)) = resolved[..k]
            .iter()
            .find(|(_, id2, s2, e2)| id2 == id && s2 < e && s < e2)
        {
            let what = if resolved[..k]
                .iter()
                .any(|(_, id2, s2, e2)| id2 == id && s2 == s && e2 == e)
            {
                format!("repeats line {l2}")
            } else {
                format!("overlaps line {l2} (the same agent)")
            };
            problems.push((*line, what));
            continue;
        }
        // Against HQ's schedule.
        let held = db.schedules(Some(id), *s, *e).await?;
        if held.iter().any(|h| h.start == *s && h.end == *e) {
            already += 1;
            continue;
        }
        if let Some(h) = held.first() {
            problems.push((
                *line,
                format!(
                    "overlaps the shift {} to {} HQ already has for agent {id}; delete it first \
                     (`shiftready-hq shifts delete --agent {id} --start {}`) or fix this line",
                    rfc3339(h.start),
                    rfc3339(h.end),
                    rfc3339(h.start)
                ),
            ));
            continue;
        }
        new.push((id.clone(), *s, *e));
    }
    if !problems.is_empty() {
        return Ok(Err(fmt(problems)));
    }
    db.add_schedules(&new).await?;
    Ok(Ok(Imported {
        added: new.len(),
        already,
    }))
}

/// `POST /api/v1/enroll` once the secret is checked: a new device, or, with a valid
/// re-enrollment code, the device the code was issued for. A hostname other devices of the
/// site have is enrolled (a new computer may take an old name) but warned about in HQ's log
/// and in the answer, which the agent prints.
pub async fn enroll(db: &Db, site: &str, req: &EnrollRequest) -> Result<EnrollResponse, AppError> {
    let hostname = req.hostname.trim();
    let code = req
        .reenroll_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let e = db
        .enroll_with_code(site, hostname, &req.os, &req.agent_version, code)
        .await?
        .map_err(AppError::Unprocessable)?;
    db.note_enroll_secret_used(&req.secret).await?;
    tracing::info!(
        device_id = e.device_id,
        hostname,
        site,
        reenrolled = e.reenrolled,
        "device enrolled"
    );
    let notice = (!e.same_hostname.is_empty()).then(|| {
        let others: Vec<String> = e
            .same_hostname
            .iter()
            .map(|(id, status)| format!("{id} ({status})"))
            .collect();
        tracing::warn!(
            device_id = e.device_id,
            hostname,
            site,
            others = others.join(", "),
            "another device of the site has this hostname"
        );
        let waiting = e.same_hostname.iter().any(|(_, s)| s == "reenroll");
        let mut m = format!(
            "HQ has another device named '{hostname}' at site '{site}': {}. IT sees both in \
             `shiftready-hq device list`.",
            others.join(", ")
        );
        if waiting && !e.reenrolled {
            m.push_str(
                " If this is the computer IT asked to enroll again, ask IT for its \
                 re-enrollment code and run `shiftready enroll` again with --code-file, so \
                 it keeps its history.",
            );
        }
        m
    });
    Ok(EnrollResponse {
        device_id: e.device_id,
        device_key: e.device_key,
        reenrolled: e.reenrolled,
        notice,
    })
}

/// Why a hostname cannot be enrolled, or `None`. Refused: Unicode format characters
/// (general category Cf: bidi overrides such as U+202E, zero-width characters, the BOM,
/// the soft hyphen), line and paragraph separators: they make one computer's name look like
/// another's in every list IT reads.
pub fn hostname_problem(hostname: &str) -> Option<String> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let bad = hostname.chars().enumerate().find(|(_, c)| {
        matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
    })?;
    let (pos, c) = bad;
    let name = match c {
        '\u{202E}' => " RIGHT-TO-LEFT OVERRIDE",
        '\u{202D}' => " LEFT-TO-RIGHT OVERRIDE",
        '\u{202A}'..='\u{202C}' | '\u{2066}'..='\u{2069}' => " (a bidirectional control)",
        '\u{200B}' => " ZERO WIDTH SPACE",
        '\u{200C}' => " ZERO WIDTH NON-JOINER",
        '\u{200D}' => " ZERO WIDTH JOINER",
        '\u{200E}' | '\u{200F}' => " (a direction mark)",
        '\u{2060}' => " WORD JOINER",
        '\u{FEFF}' => " ZERO WIDTH NO-BREAK SPACE (BOM)",
        '\u{00AD}' => " SOFT HYPHEN",
        _ => "",
    };
    Some(format!(
        "the hostname contains an invisible formatting character, U+{:04X}{name}, at \
         character {}; such characters make one computer's name look like another's. Rename \
         the computer with letters, digits, dots and hyphens, then enroll again",
        c as u32,
        pos + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reports_every_bad_line() {
        let text = "agent,start,end\nws-1,2026-01-05T08:00:00Z,2026-01-05T16:00:00Z\n\
                    ws-2,yesterday,2026-01-05T16:00:00Z\n,2026-01-05T08:00:00Z,2026-01-05T09:00:00Z\n\
                    ws-3,2026-01-05T10:00:00Z,2026-01-05T09:00:00Z\n";
        let e = parse_shifts_csv(text).unwrap_err();
        let lines: Vec<usize> = e.iter().map(|p| p.0).collect();
        assert_eq!(lines, [3, 4, 5], "{e:?}");
    }

    #[test]
    fn hostnames_with_format_characters_are_refused() {
        assert_eq!(hostname_problem("ws-14.example.com"), None);
        // Letters of other scripts are fine: only what is invisible or reorders text is not.
        assert_eq!(hostname_problem("kassa-åäö-東京"), None);
        for (h, code) in [
            ("ws-\u{202E}41", "U+202E RIGHT-TO-LEFT OVERRIDE"),
            ("ws\u{200B}-14", "U+200B ZERO WIDTH SPACE"),
            ("\u{FEFF}ws-14", "U+FEFF"),
            ("ws\u{2066}14", "U+2066"),
            ("ws\u{00AD}14", "U+00AD SOFT HYPHEN"),
            ("ws\u{2028}14", "U+2028"),
        ] {
            let m = hostname_problem(h).unwrap_or_else(|| panic!("{h:?} accepted"));
            assert!(m.contains(code), "{m}");
        }
        assert!(
            hostname_problem("ws-\u{202E}41")
                .unwrap()
                .contains("at character 4")
        );
    }

    #[test]
    fn csv_reads_quoted_fields_and_any_column_order() {
        let text =
            "start,end,agent\n2026-01-05T08:00:00+01:00,2026-01-05T16:00:00+01:00,\"ws,1\"\n";
        let r = parse_shifts_csv(text).unwrap();
        assert_eq!(r[0].1, "ws,1");
        // 08:00 at +01:00 is 07:00 UTC.
        assert_eq!(
            r[0].2,
            chrono::DateTime::parse_from_rfc3339("2026-01-05T07:00:00Z")
                .unwrap()
                .timestamp_millis()
        );
    }
}
