//! The administrative commands: enrollment secrets, users, tokens, policies, schedules,
//! revoking devices.

use crate::db::Db;
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
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(vec![(
            1,
            "the file is empty; the first line must be `agent,start,end`".into(),
        )]);
    };
    let cols: Vec<String> = split_csv(header.trim_start_matches('\u{feff}'))
        .into_iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let (Some(ia), Some(is), Some(ie)) = (find("agent"), find("start"), find("end")) else {
        return Err(vec![(
            1,
            format!(
                "the header must name the columns agent, start and end (it has: {})",
                cols.join(", ")
            ),
        )]);
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
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `shifts import FILE`: all lines or none. Returns how many shifts were imported.
pub async fn import_shifts(
    db: &Db,
    file: &Path,
    text: &str,
) -> anyhow::Result<Result<usize, String>> {
    let fmt = |ps: Vec<CsvProblem>| {
        ps.iter()
            .map(|(l, m)| format!("{}:{l}: {m}", file.display()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let rows = match parse_shifts_csv(text) {
        Ok(r) => r,
        Err(ps) => return Ok(Err(fmt(ps))),
    };
    let mut resolved = Vec::new();
    let mut problems = Vec::new();
    for (line, agent, s, e) in rows {
        match db.resolve_agent(&agent).await? {
            Ok(id) => resolved.push((id, s, e)),
            Err(m) => problems.push((line, m)),
        }
    }
    if !problems.is_empty() {
        return Ok(Err(fmt(problems)));
    }
    for (id, s, e) in &resolved {
        db.add_schedule(id, *s, *e).await?;
    }
    Ok(Ok(resolved.len()))
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
