//! Hints name only things that exist (issue 13): every `shiftready <command>`, every `--flag`
//! and every tray menu item ('Run check now' in the tray menu) that a string in src/ or
//! core/src/ mentions is looked up in the real CLI (`shiftready <command> --help`) and in the
//! tray menu (src/tray/ui.rs); the English bundle core/i18n/en.ftl is scanned the same way
//! (issue 16: the hints live there). A bare `--flag` belongs to the command whose file it is in
//! (src/commands/probe.rs: `probe`), else to `check`, which shows every check's hint.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

/// Flags every command takes.
const GLOBAL: [&str; 3] = ["config", "help", "version"];

/// Flags of other programs that messages name on purpose (cargo's `--features`).
const OTHER_PROGRAMS: [&str; 1] = ["features"];

/// Phrases naming things ShiftReady does not have.
const NOWHERE: [&str; 3] = [
    "ShiftReady settings",
    "ShiftReady preferences",
    "ShiftReady options",
];

/// The real CLI: each command and its long flags, from `--help`.
fn cli() -> BTreeMap<String, BTreeSet<String>> {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?} --help");
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&[]);
    let commands: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .expect("a Commands: section")
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.contains(&"check".to_string()), "{top}");
    commands
        .into_iter()
        .map(|c| {
            let flags = long_flags(&help(&[&c]));
            (c, flags)
        })
        .collect()
}

/// The long flags a text mentions (`--token-file`), without the dashes.
fn long_flags(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while let Some(off) = text[i..].find("--") {
        let at = i + off;
        let before_ok = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'-');
        let mut end = at + 2;
        while end < b.len()
            && (b[end].is_ascii_lowercase() || b[end].is_ascii_digit() || b[end] == b'-')
        {
            end += 1;
        }
        let name = text[at + 2..end].trim_end_matches('-');
        if before_ok && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.insert(name.to_string());
        }
        i = end.max(at + 2);
    }
    out
}

/// The tray menu's items: the labels in src/tray/ui.rs, and (issue 16) the English labels
/// it takes from core/i18n/en.ftl (`tray-*` messages).
fn tray_items(root: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root.join("src/tray/ui.rs")).unwrap();
    let mut items: BTreeSet<String> = string_literals(&text)
        .into_iter()
        .filter(|s| s.starts_with(|c: char| c.is_ascii_uppercase()) && s.len() < 30)
        .collect();
    let en = std::fs::read_to_string(root.join("core/i18n/en.ftl")).unwrap();
    for (id, label) in en.lines().filter_map(|l| l.split_once(" = ")) {
        if id.starts_with("tray-") && string_literals(&text).iter().any(|s| s == id) {
            items.insert(label.to_string());
        }
    }
    assert!(items.contains("Run check now"), "{items:?}");
    items
}

/// The string literals of Rust source, outside comments, with `\` line continuations joined.
fn string_literals(src: &str) -> Vec<String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            // A char literal ('"', '\'') or a lifetime ('a).
            '\'' => {
                if c.get(i + 1) == Some(&'\\') {
                    i += 2;
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if c.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            'r' if !c[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
                && matches!(c.get(i + 1), Some('"') | Some('#')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                j += 1;
                let start = j;
                loop {
                    if j >= c.len() {
                        break;
                    }
                    if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                        break;
                    }
                    j += 1;
                }
                out.push(c[start..j.min(c.len())].iter().collect());
                i = j + 1 + hashes;
            }
            '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                while j < c.len() && c[j] != '"' {
                    if c[j] == '\\' {
                        match c.get(j + 1) {
                            Some('\n') => {
                                j += 2;
                                while j < c.len() && c[j].is_whitespace() {
                                    j += 1;
                                }
                                continue;
                            }
                            Some('n') => s.push('\n'),
                            Some(other) => s.push(*other),
                            None => {}
                        }
                        j += 2;
                    } else {
                        s.push(c[j]);
                        j += 1;
                    }
                }
                out.push(s);
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The source of a file without its test module (tests may name things on purpose).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The command a bare `--flag` in this file belongs to.
fn command_of_file(rel: &str) -> &'static [&'static str] {
    match rel {
        "src/commands/check.rs" => &["check"],
        "src/commands/noise.rs" => &["noise"],
        "src/commands/probe.rs" => &["probe"],
        // `seconds_arg`: the commands that take `--seconds`.
        "src/commands/mod.rs" => &["noise", "probe"],
        "src/commands/devices.rs" => &["devices"],
        "src/commands/run.rs" => &["run"],
        "src/commands/session.rs" => &["sign-in", "sign-out", "status"],
        // The enrollment secret's and HQ's messages are shown by `enroll`.
        "src/commands/enroll.rs" | "src/enroll.rs" => &["enroll"],
        _ => &["check"],
    }
}

/// Every problem in one string: commands, flags and tray items that do not exist.
fn problems_in(
    s: &str,
    file_commands: &[&str],
    cli: &BTreeMap<String, BTreeSet<String>>,
    tray: &BTreeSet<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    // Split at each `shiftready <command>`: a flag after it belongs to that command.
    let mut pieces: Vec<(Vec<String>, &str)> = Vec::new();
    let mut rest = s;
    let mut current: Vec<String> = file_commands.iter().map(|c| c.to_string()).collect();
    while let Some(at) = rest.find("shiftready ") {
        pieces.push((current.clone(), &rest[..at]));
        let after = &rest[at + "shiftready ".len()..];
        let word: String = after
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if word.is_empty() || word.starts_with('-') {
            // `shiftready --config …`: global flags, checked below against every command.
            current = cli.keys().cloned().collect();
        } else if cli.contains_key(&word) {
            current = vec![word.clone()];
        } else {
            found.push(format!("`shiftready {word}`: there is no such command"));
            current = Vec::new();
        }
        rest = &after[word.len()..];
    }
    pieces.push((current, rest));
    for (commands, text) in pieces {
        for flag in long_flags(text) {
            if GLOBAL.contains(&flag.as_str())
                || OTHER_PROGRAMS.contains(&flag.as_str())
                || commands.is_empty()
            {
                continue;
            }
            let missing: Vec<&String> = commands
                .iter()
                .filter(|c| !cli[c.as_str()].contains(&flag))
                .collect();
            if !missing.is_empty() {
                found.push(format!(
                    "`--{flag}`: `shiftready {}` has no such flag",
                    missing[0]
                ));
            }
        }
    }
    for phrase in NOWHERE {
        if s.contains(phrase) {
            found.push(format!("'{phrase}' does not exist"));
        }
    }
    // 'Item' in the tray menu
    let mut rest = s;
    while let Some(at) = rest.find("' in the tray menu") {
        let head = &rest[..at];
        if let Some(open) = head.rfind('\'') {
            let item = &head[open + 1..];
            if !tray.contains(item) {
                found.push(format!("'{item}' is not an item of the tray menu"));
            }
        }
        rest = &rest[at + 1..];
    }
    found
}

#[test]
fn every_command_flag_and_menu_item_a_message_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cli = cli();
    let tray = tray_items(root);
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("core/src"), &mut files);
    let mut problems = Vec::new();
    let mut seen = 0;
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "src/cli.rs" {
            continue; // the CLI's own definition
        }
        let text = std::fs::read_to_string(f).unwrap();
        // A message is a sentence; a string without a space is an argument to another
        // program (`pactl --format=json`).
        for s in string_literals(without_tests(&text))
            .into_iter()
            .filter(|s| s.contains(' '))
        {
            if s.contains("--") || s.contains("shiftready ") || s.contains("tray menu") {
                seen += 1;
            }
            for p in problems_in(&s, command_of_file(&rel), &cli, &tray) {
                problems.push(format!("{rel}: {p}\n    in: {s:?}"));
            }
        }
    }
    // The texts in English (issue 16): the check hints and most messages live in the bundle
    // now, one message a line (a select's variants on lines of their own).
    let en = std::fs::read_to_string(root.join("core/i18n/en.ftl")).unwrap();
    for line in en
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(' '))
    {
        if line.contains("--") || line.contains("shiftready ") || line.contains("tray menu") {
            seen += 1;
        }
        // As with the files: an `enroll-*` message, the enrollment secret's errors and the
        // help of `enroll` are shown by `enroll`, a `devices-*` one by `devices`
        // (src/commands/enroll.rs, devices.rs), the help of `run` by `run`, a `--seconds`
        // error by the commands that take it, the rest by `check`.
        let commands: &[&str] = if line.starts_with("enroll-")
            || line.starts_with("err-secret-")
            || line.starts_with("help-enroll")
        {
            &["enroll"]
        } else if line.starts_with("devices-") {
            &["devices"]
        } else if line.starts_with("help-run") {
            &["run"]
        } else if line.starts_with("err-seconds-") {
            &["noise", "probe"]
        } else {
            &["check"]
        };
        for p in problems_in(line, commands, &cli, &tray) {
            problems.push(format!("core/i18n/en.ftl: {p}\n    in: {line:?}"));
        }
    }
    assert!(
        seen > 5,
        "the scan found only {seen} strings naming commands or flags"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The hints issue 13 found: the scan catches each of them.
#[test]
fn the_scan_catches_what_was_wrong_before() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cli = cli();
    let tray = tray_items(root);
    let check = &["check"][..];
    let old_no_hq = "No HQ is configured, so the network cannot be probed: enrol with \
        `shiftready enroll --hq URL --token-file FILE`, or give `--reflector HOST:PORT`.";
    let p = problems_in(old_no_hq, check, &cli, &tray);
    assert!(
        p.iter()
            .any(|p| p.contains("--reflector") && p.contains("enroll")),
        "{p:?}"
    );
    // Said of `check` with no command named, it is still check's flag that is missing.
    let p = problems_in("or give `--reflector HOST:PORT`.", check, &cli, &tray);
    assert_eq!(p, ["`--reflector`: `shiftready check` has no such flag"]);
    let old_not_found = "The configured microphone is not connected: plug in your headset, \
        or pick it again in the ShiftReady settings.";
    assert!(!problems_in(old_not_found, check, &cli, &tray).is_empty());
    let p = problems_in("choose 'Check now' in the tray menu", check, &cli, &tray);
    assert_eq!(p, ["'Check now' is not an item of the tray menu"]);
    let p = problems_in("run `shiftready probe --reflector H:P`", check, &cli, &tray);
    assert!(p.is_empty(), "{p:?}");
    let p = problems_in("run `shiftready doctor`", check, &cli, &tray);
    assert_eq!(p, ["`shiftready doctor`: there is no such command"]);
}
