//! Which language the agent speaks to this person (issue 16): `--lang`, else `[agent]
//! language` in the agent configuration, else the OS locale (`sys-locale`: LANGUAGE, LC_ALL,
//! LC_MESSAGES, LANG on Unix; the user locale on Windows and macOS), else English. The texts
//! and bundles are in `shiftready_core::i18n`.

pub use shiftready_core::i18n::{
    Lang, current, hint, hint_in as text_hint, set_current, text, tr, trm,
};

use proto::{Msg, MsgArg};
use serde::{Deserialize, Serialize};

/// A message that crosses the local IPC (the daemon's answers to `sign-in`, `sign-out`,
/// `status` and the tray): its id and arguments as plain data, so the client says it in its
/// own language (its `--lang`), while the English sentence sent beside it is what `--json`
/// prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Said {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<(String, SaidArg)>,
}

/// An argument of a [`Said`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaidArg {
    Text(String),
    /// A number with this many decimals, written the language's way.
    Num(f64, u8),
    /// A whole number, also choosing the plural form.
    Count(i64),
    /// Another message, said in the same language.
    Said(Said),
}

impl Said {
    pub fn new(id: &str) -> Said {
        Said {
            id: id.to_string(),
            args: Vec::new(),
        }
    }

    /// Adds an argument (builder style).
    pub fn arg(mut self, name: &str, value: SaidArg) -> Said {
        self.args.push((name.to_string(), value));
        self
    }

    pub fn text(self, name: &str, value: impl Into<String>) -> Said {
        self.arg(name, SaidArg::Text(value.into()))
    }

    /// Adds another message as an argument.
    pub fn said(self, name: &str, value: Said) -> Said {
        self.arg(name, SaidArg::Said(value))
    }

    /// The message in `lang`; `None` when its id or an argument's name is not in the bundles
    /// (a daemon of another version), for the caller to show the English it got instead.
    pub fn text_in(&self, lang: Lang) -> Option<String> {
        let mut m = Msg::new(shiftready_core::i18n::intern(&self.id)?);
        for (name, a) in &self.args {
            let v = match a {
                SaidArg::Text(t) => MsgArg::Text(t.clone()),
                SaidArg::Num(v, d) => MsgArg::Num(*v, *d),
                SaidArg::Count(n) => MsgArg::Count(*n),
                SaidArg::Said(s) => MsgArg::Text(s.text_in(lang)?),
            };
            m = m.arg(shiftready_core::i18n::intern(name)?, v);
        }
        Some(text(lang, &m))
    }

    /// The message in English (what `--json` and the logs get).
    pub fn english(&self) -> String {
        self.text_in(Lang::En).unwrap_or_else(|| self.id.clone())
    }
}

impl From<&Msg> for Said {
    fn from(m: &Msg) -> Said {
        Said {
            id: m.id.to_string(),
            args: m
                .args
                .iter()
                .map(|(name, a)| {
                    let v = match a {
                        MsgArg::Text(t) => SaidArg::Text(t.clone()),
                        MsgArg::Num(v, d) => SaidArg::Num(*v, *d),
                        MsgArg::Count(n) => SaidArg::Count(*n),
                        MsgArg::Id(id) => SaidArg::Said(Said::new(id)),
                    };
                    (name.to_string(), v)
                })
                .collect(),
        }
    }
}

/// Lines the daemon said, in this process's language, one per line; `english` (what came
/// beside them) when there are none or one cannot be said here.
pub fn say(lines: &[Said], english: &str) -> String {
    let said: Option<Vec<String>> = lines.iter().map(|l| l.text_in(current())).collect();
    match said {
        Some(l) if !l.is_empty() => l.join("\n"),
        _ => english.to_string(),
    }
}

/// The English of lines the daemon says, one per line.
pub fn english_lines(lines: &[Said]) -> String {
    lines
        .iter()
        .map(Said::english)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads English words back as the message of `ids` they are (the first that fits), its
/// variables as text: for words made from the bundle's English elsewhere (a configuration
/// problem, carried as a plain string through `proto::load`) to be said again in another
/// language. Messages with selectors are not read back.
pub fn read_back(ids: &[&'static str], words: &str) -> Option<Msg> {
    const MARK: char = '\u{1}';
    let vars = shiftready_core::i18n::ids_and_vars(shiftready_core::i18n::EN_FTL).0;
    for &id in ids {
        let Some((_, names)) = vars.iter().find(|(i, _)| i == id) else {
            continue;
        };
        let mut m = Msg::new(id);
        for n in names {
            m = m.arg(intern_name(n)?, MsgArg::Text(format!("{MARK}{n}{MARK}")));
        }
        let pattern = text(Lang::En, &m);
        // Literal, variable, literal, ...: odd pieces are variable names.
        let pieces: Vec<&str> = pattern.split(MARK).collect();
        let mut rest = words;
        let mut got = Msg::new(id);
        let mut ok = rest.starts_with(pieces[0]);
        if ok {
            rest = &rest[pieces[0].len()..];
        }
        let mut i = 1;
        while ok && i + 1 < pieces.len() {
            let (name, after) = (pieces[i], pieces[i + 1]);
            let last = i + 2 >= pieces.len();
            let end = if last {
                rest.len()
                    .checked_sub(after.len())
                    .filter(|&e| rest[e..] == *after)
            } else if after.is_empty() {
                None
            } else {
                rest.find(after)
            };
            match end {
                Some(e) => {
                    got = got.arg(intern_name(name)?, MsgArg::Text(rest[..e].to_string()));
                    rest = &rest[e + after.len()..];
                }
                None => ok = false,
            }
            i += 2;
        }
        if ok && rest.is_empty() && text(Lang::En, &got) == words {
            return Some(got);
        }
    }
    None
}

fn intern_name(name: &str) -> Option<&'static str> {
    shiftready_core::i18n::intern(name)
}

/// A weekday's short name in `lang` ("Mon" / "mån").
pub fn weekday(lang: Lang, day: chrono::Weekday) -> String {
    use chrono::Weekday::*;
    let id = match day {
        Mon => "day-mon",
        Tue => "day-tue",
        Wed => "day-wed",
        Thu => "day-thu",
        Fri => "day-fri",
        Sat => "day-sat",
        Sun => "day-sun",
    };
    text(lang, &Msg::new(id))
}

/// A time in the local time zone, `format` being chrono's with `%a` (the weekday) said in
/// this process's language.
pub fn local_time(t: chrono::DateTime<chrono::Utc>, format: &str) -> String {
    use chrono::Datelike;
    let local = t.with_timezone(&chrono::Local);
    let day = weekday(current(), local.weekday());
    format
        .split("%a")
        .map(|part| local.format(part).to_string())
        .collect::<Vec<_>>()
        .join(&day)
}

/// A check's name as shown in `lang` ("os", "hardware"; "system", "dator" in Swedish).
pub fn check_title(lang: Lang, name: &str) -> String {
    let id = match name {
        "os" => "check-os",
        "hardware" => "check-hardware",
        "network" => "check-network",
        "headset" => "check-headset",
        "noise" => "check-noise",
        other => return other.to_string(),
    };
    text(lang, &proto::Msg::new(id))
}

/// `v` with `decimals` decimals in this process's language ("7.5" / "7,5").
pub fn number(v: f64, decimals: u8) -> String {
    shiftready_core::i18n::format_number(current(), v, decimals)
}

/// The language chosen from the flag, the configured value and the OS locale, in that order;
/// with a one-line note when the person asked for a language the agent does not speak (then
/// English). An OS locale the agent does not speak is English without a note.
pub fn resolve(flag: Option<&str>, configured: &str, os: Option<&str>) -> (Lang, Option<String>) {
    for (asked, source) in [
        (flag.unwrap_or(""), "--lang"),
        (configured, "[agent] language"),
    ] {
        let asked = asked.trim();
        if asked.is_empty() {
            continue;
        }
        return match Lang::from_tag(asked) {
            Some(l) => (l, None),
            None => (
                Lang::En,
                Some(format!(
                    "shiftready: {source} \"{asked}\" is not a language ShiftReady speaks \
                     (en, sv); using English."
                )),
            ),
        };
    }
    (os.and_then(Lang::from_tag).unwrap_or(Lang::En), None)
}

/// Chooses this process's language (see [`resolve`]) and prints the note, if any, on stderr.
pub fn choose(flag: Option<&str>, configured: &str) {
    let os = sys_locale::get_locale();
    let (lang, note) = resolve(flag, configured, os.as_deref());
    set_current(lang);
    if let Some(n) = note {
        eprintln!("{n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_config_then_the_os() {
        assert_eq!(resolve(Some("en"), "sv", Some("sv_SE.UTF-8")).0, Lang::En);
        assert_eq!(resolve(None, "sv", Some("en_US.UTF-8")).0, Lang::Sv);
        assert_eq!(resolve(None, "", Some("sv_SE.UTF-8")), (Lang::Sv, None));
        assert_eq!(resolve(None, "", Some("de_DE.UTF-8")), (Lang::En, None));
        assert_eq!(resolve(None, "", None), (Lang::En, None));
    }

    #[test]
    fn said_crosses_the_ipc_and_is_said_in_the_client_language() {
        let said = Said::from(
            &Msg::new("hw-cores")
                .arg("cores", MsgArg::Count(1))
                .arg("min", MsgArg::Count(4)),
        );
        let wire = serde_json::to_string(&said).unwrap();
        let back: Said = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, said);
        assert!(
            back.text_in(Lang::Sv)
                .unwrap()
                .contains("en processorkärna")
        );
        assert!(back.english().contains("1 processor core(s)"));
        // Nested: a message as another's argument, in the same language.
        let line = Said::new("tip-fix-first").said("fix", Said::new("hw-battery"));
        assert_eq!(
            line.text_in(Lang::Sv).unwrap(),
            "Åtgärda först: Datorn går på batteri: sätt i laddaren innan passet börjar."
        );
        // An id this build does not know: the caller shows the English it got.
        assert_eq!(Said::new("from-a-newer-daemon").text_in(Lang::Sv), None);
        assert_eq!(
            Said::new("tip-fix-first")
                .text("nope", "x")
                .text_in(Lang::En),
            None
        );
    }

    #[test]
    fn weekdays_per_language() {
        assert_eq!(weekday(Lang::En, chrono::Weekday::Mon), "Mon");
        assert_eq!(weekday(Lang::Sv, chrono::Weekday::Thu), "tors");
    }

    #[test]
    fn an_unknown_language_asked_for_is_english_with_a_note() {
        let (lang, note) = resolve(Some("fi"), "", Some("sv_SE.UTF-8"));
        assert_eq!(lang, Lang::En);
        let note = note.expect("a note");
        assert!(
            note.contains("--lang \"fi\"") && note.contains("English"),
            "{note}"
        );
        let (lang, note) = resolve(None, "klingon", None);
        assert_eq!(lang, Lang::En);
        assert!(note.unwrap().contains("[agent] language"));
    }
}
