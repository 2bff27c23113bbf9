//! The output of IT's list commands (`token list`, `enroll-secret list`, `user list`,
//! `device list`, `shifts list`): a table for people by default, one JSON document with
//! `--json` for scripts. Secrets are never printed here: only ids, names and times.

use serde_json::{Value, json};

pub mod admin;

/// Exit codes (sysexits.h), as the agent uses them.
pub mod exit {
    pub const USAGE: u8 = 64;
    pub const DATA: u8 = 65;
    pub const NO_INPUT: u8 = 66;
    pub const UNAVAILABLE: u8 = 69;
    pub const SOFTWARE: u8 = 70;
    pub const CONFIG: u8 = 78;
}

/// An error with its exit code.
pub struct Fail(pub u8, pub String);

impl<E: Into<anyhow::Error>> From<E> for Fail {
    fn from(e: E) -> Fail {
        Fail(exit::SOFTWARE, format!("{:#}", e.into()))
    }
}

pub fn fail(code: u8, msg: impl Into<String>) -> Fail {
    Fail(code, msg.into())
}

/// A time for a table: `2026-12-02 14:05 UTC`, or `-`.
pub fn when(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A time for JSON: RFC 3339 (UTC, milliseconds), or `null`.
pub fn rfc3339(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

/// A table: a header row, then rows, columns padded to their widest cell (by characters).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(width[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Prints a list: its JSON document with `json`, else the table, or `empty` when there are
/// no rows.
pub fn print_list(json: bool, doc: Value, header: &[&str], rows: &[Vec<String>], empty: &str) {
    if json {
        println!("{doc}");
    } else if rows.is_empty() {
        println!("{empty}");
    } else {
        print!("{}", table(header, rows));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns_by_characters() {
        let t = table(
            &["id", "name"],
            &[
                vec!["a1".into(), "kassa-åäö".into()],
                vec!["bb22".into(), "-".into()],
            ],
        );
        assert_eq!(t, "id    name\na1    kassa-åäö\nbb22  -\n");
    }

    #[test]
    fn times_in_tables_and_json() {
        assert_eq!(when(Some(0)), "1970-01-01 00:00 UTC");
        assert_eq!(when(None), "-");
        assert_eq!(rfc3339(Some(1_500)), json!("1970-01-01T00:00:01.500Z"));
        assert_eq!(rfc3339(None), Value::Null);
    }
}
