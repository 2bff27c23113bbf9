//! Loading TOML configuration with every problem reported at once.
//!
//! A config file is deserialized with `deny_unknown_fields` and serde defaults. serde stops at
//! the first problem, so we record it with its key path and line, remove the offending key, and
//! try again; once the rest deserializes, [`Validate`] checks values and cross-field rules.
//! The result is a [`ConfigError`] listing every problem as `file:line: key: message`.

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `network.rtt_warn_ms` (empty for a syntax error).
    pub key: String,
    /// 1-based line of the key, when it is in the file.
    pub line: Option<usize>,
    pub message: String,
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{} has {} problem{}:",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "  {}", self.file.display())?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
            }
            if p.key.is_empty() {
                writeln!(f, ": {}", p.message)?;
            } else {
                writeln!(f, ": key `{}`: {}", p.key, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Cross-field and range checks run after a file deserialized. Push `(key path, message)`.
pub trait Validate {
    fn validate(&self, problems: &mut Vec<(String, String)>);
}

/// Reads and validates a TOML file.
pub fn load_file<T: DeserializeOwned + Validate>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        problems: vec![Problem {
            key: String::new(),
            line: None,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    load_str(path, &text)
}

/// Parses and validates TOML text; `file` names it in messages.
pub fn load_str<T: DeserializeOwned + Validate>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let err = |problems| ConfigError {
        file: file.to_path_buf(),
        problems,
    };
    let spanned = match toml_edit::Document::parse(text.to_string()) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start));
            return Err(err(vec![Problem {
                key: String::new(),
                line,
                message: format!("not valid TOML: {}", e.message().trim()),
            }]));
        }
    };
    let mut doc = spanned.clone().into_mut();
    let mut problems = Vec::new();
    // Each round removes one bad key, so this ends; the bound guards against a key we cannot
    // remove (then we stop and report what we have).
    for _ in 0..256 {
        let de = toml_edit::de::Deserializer::from(doc.clone());
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(value) => {
                let mut found = Vec::new();
                value.validate(&mut found);
                if problems.is_empty() && found.is_empty() {
                    return Ok(value);
                }
                for (key, message) in found {
                    let line = line_of_key(&spanned, text, &key);
                    problems.push(Problem { key, line, message });
                }
                // In the order of the file, whichever step found them.
                problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
                return Err(err(problems));
            }
            Err(e) => {
                let path = e.path().to_string();
                let message = e.inner().message().trim().to_string();
                // Name the unknown key itself, whichever path the deserializer reports.
                let key = match unknown_field_name(&message) {
                    Some(name) if path == "." || path.is_empty() => name.to_string(),
                    Some(name) if segments(&path).last() != Some(&name) => format!("{path}.{name}"),
                    _ => path.clone(),
                };
                let key = if key == "." { String::new() } else { key };
                let line = line_of_key(&spanned, text, &key);
                problems.push(Problem {
                    key: key.clone(),
                    line,
                    message: plain_words(&message),
                });
                if key.is_empty() || !remove_key(&mut doc, &key) {
                    return Err(err(problems));
                }
            }
        }
    }
    Err(err(problems))
}

/// serde's message for a bad value in words a person reads ("must be a number"), not in Rust
/// types ("invalid type: string \"x\", expected f64"). Messages it does not know stay as
/// they are, with backquotes turned into quotes.
pub fn plain_words(message: &str) -> String {
    let message = message.replace('`', "'");
    let what_found = |found: &str| -> String {
        let found = found.trim();
        if let Some(v) = found.strip_prefix("string ") {
            format!("it is the text {v}")
        } else if let Some(v) = found
            .strip_prefix("integer ")
            .or_else(|| found.strip_prefix("floating point "))
        {
            format!("it is the number {}", v.trim_matches('\''))
        } else if let Some(v) = found.strip_prefix("boolean ") {
            format!("it is {}", v.trim_matches('\''))
        } else {
            match found {
                "sequence" => "it is a list".into(),
                "map" => "it is a table".into(),
                other => format!("it is {other}"),
            }
        }
    };
    let wanted = |expected: &str| -> Option<&'static str> {
        let e = expected.trim();
        Some(match e {
            "f64" | "f32" => "must be a number",
            "u8" | "u16" | "u32" | "u64" | "usize" => "must be a whole number, 0 or more",
            "i8" | "i16" | "i32" | "i64" | "isize" => "must be a whole number",
            "a boolean" => "must be true or false",
            "a string" => "must be text in quotes",
            "a sequence" => "must be a list in brackets, like [\"a\", \"b\"]",
            _ if e.starts_with("struct ") || e.starts_with("a map") => {
                "must be a table of settings"
            }
            _ => return None,
        })
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                if let Some(w) = wanted(expected) {
                    return format!("{w} ({})", what_found(found));
                }
            }
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let choices = expected.trim_start_matches("one of ").replace('\'', "\"");
            return format!(
                "{} is not one of the choices: {choices}",
                found.replace('\'', "\"")
            );
        }
    }
    message
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Reads JSON into `T` (whose structs may `deny_unknown_fields`, as a config file's do),
/// leaving out the keys `T` does not know instead of refusing them: what a newer sender (HQ
/// one release ahead) added. Returns the value and the dotted paths of the keys left out. Any
/// other problem (a known key with a bad value) is still an error.
pub fn from_json_ignoring_unknown<T: DeserializeOwned>(
    mut value: serde_json::Value,
) -> Result<(T, Vec<String>), serde_json::Error> {
    let mut ignored = Vec::new();
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(v) => return Ok((v, ignored)),
            Err(e) => e,
        };
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        let Some(name) = unknown_field_name(&message) else {
            return Err(inner);
        };
        let mut parent = segments(&path);
        if parent.last() == Some(&name) {
            parent.pop();
        }
        let mut at = &mut value;
        for seg in &parent {
            let next = match at {
                serde_json::Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                serde_json::Value::Object(o) => o.get_mut(*seg),
                _ => None,
            };
            match next {
                Some(n) => at = n,
                None => return Err(inner),
            }
        }
        let removed = at.as_object_mut().and_then(|o| o.remove(name)).is_some();
        if !removed || ignored.len() >= 256 {
            return Err(inner);
        }
        parent.push(name);
        ignored.push(parent.join("."));
    }
}

/// Splits `a.b[2].c` into `["a", "b", "2", "c"]`.
fn segments(key: &str) -> Vec<&str> {
    key.split(['.', '[', ']'])
        .filter(|s| !s.is_empty())
        .collect()
}

fn get_item<'a>(mut item: &'a toml_edit::Item, key: &str) -> Option<&'a toml_edit::Item> {
    for seg in segments(key) {
        item = match seg.parse::<usize>() {
            Ok(i) if item.is_array_of_tables() || item.is_array() => item.get(i)?,
            _ => item.get(seg)?,
        };
    }
    Some(item)
}

fn line_of_key(doc: &toml_edit::Document<String>, text: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    // The key itself if present, else its nearest ancestor that is.
    let segs = segments(key);
    for n in (1..=segs.len()).rev() {
        let partial = segs[..n].join(".");
        if let Some(item) = get_item(doc.as_item(), &partial) {
            let span = match item {
                toml_edit::Item::Value(v) => v.span(),
                toml_edit::Item::Table(t) => t.span(),
                toml_edit::Item::ArrayOfTables(a) => a.span(),
                toml_edit::Item::None => None,
            };
            if let Some(s) = span {
                return Some(line_of(text, s.start));
            }
        }
    }
    None
}

fn remove_key(doc: &mut toml_edit::DocumentMut, key: &str) -> bool {
    let segs = segments(key);
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut item = doc.as_item_mut();
    for seg in parents {
        item = match seg.parse::<usize>() {
            Ok(i) if item.is_array_of_tables() || item.is_array() => match item.get_mut(i) {
                Some(x) => x,
                None => return false,
            },
            _ => match item.get_mut(*seg) {
                Some(x) => x,
                None => return false,
            },
        };
    }
    if let Some(t) = item.as_table_like_mut() {
        return t.remove(last).is_some();
    }
    if let (Ok(i), Some(a)) = (last.parse::<usize>(), item.as_array_mut()) {
        if i < a.len() {
            a.remove(i);
            return true;
        }
    }
    false
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_from_a_newer_sender_keeps_what_it_knows_and_names_what_it_left_out() {
        let v = serde_json::json!({
            "shift": {"heartbeat_seconds": 7, "lunch_minutes": 30},
            "network": {"token_v9": "x"},
            "canteen": {"open": true}
        });
        let (p, ignored): (crate::Policy, _) = from_json_ignoring_unknown(v).unwrap();
        assert_eq!(p.shift.heartbeat_seconds, 7);
        let mut ignored = ignored;
        ignored.sort();
        assert_eq!(
            ignored,
            ["canteen", "network.token_v9", "shift.lunch_minutes"]
        );
        // A known key with a bad value is still refused.
        let bad = serde_json::json!({"shift": {"heartbeat_seconds": "often", "x": 1}});
        assert!(from_json_ignoring_unknown::<crate::Policy>(bad).is_err());
    }
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        a: u32,
        b: String,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Top {
        x: u32,
        inner: Inner,
    }

    impl Validate for Top {
        fn validate(&self, problems: &mut Vec<(String, String)>) {
            if self.inner.a > 10 {
                problems.push(("inner.a".into(), "must be at most 10".into()));
            }
        }
    }

    fn load(text: &str) -> Result<Top, ConfigError> {
        load_str(Path::new("t.toml"), text)
    }

    #[test]
    fn good_file_loads() {
        let t = load("x = 3\n[inner]\na = 2\nb = \"hi\"\n").unwrap();
        assert_eq!(t.x, 3);
        assert_eq!(t.inner.b, "hi");
    }

    #[test]
    fn every_problem_is_reported_with_line_and_key() {
        let text = "x = \"three\"\nbogus = 1\n[inner]\na = 20\nzzz = true\n";
        let e = load(text).unwrap_err();
        let keys: Vec<_> = e
            .problems
            .iter()
            .map(|p| (p.key.as_str(), p.line))
            .collect();
        assert!(keys.contains(&("x", Some(1))), "{e}");
        assert!(keys.contains(&("bogus", Some(2))), "{e}");
        assert!(keys.contains(&("inner.zzz", Some(5))), "{e}");
        assert!(keys.contains(&("inner.a", Some(4))), "{e}");
        assert_eq!(e.problems.len(), 4, "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains("t.toml:2: key `bogus`: unknown field"),
            "{shown}"
        );
    }

    #[test]
    fn values_of_the_wrong_kind_are_told_in_plain_words() {
        // No Rust types reach a person (issue 13).
        let e = load("x = \"three\"\n[inner]\nb = 5\n").unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("key `x`: must be a whole number, 0 or more (it is the text \"three\")"),
            "{shown}"
        );
        assert!(
            shown.contains("key `inner.b`: must be text in quotes (it is the number 5)"),
            "{shown}"
        );
        for jargon in ["invalid type", "expected", "u32", "f64"] {
            assert!(!shown.contains(jargon), "{jargon} in {shown}");
        }
        assert_eq!(
            plain_words("invalid type: string \"soon\", expected f64"),
            "must be a number (it is the text \"soon\")"
        );
        assert_eq!(
            plain_words("unknown variant `sometimes`, expected one of `ready`, `degraded`, `any`"),
            "\"sometimes\" is not one of the choices: \"ready\", \"degraded\", \"any\""
        );
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = load("x = 1\n[inner\n").unwrap_err();
        assert_eq!(e.problems[0].line, Some(2), "{e}");
        assert!(e.problems[0].message.contains("not valid TOML"));
    }
}
