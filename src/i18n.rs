//! Which language the agent speaks to this person (issue 16): `--lang`, else `[agent]
//! language` in the agent configuration, else the OS locale (`sys-locale`: LANGUAGE, LC_ALL,
//! LC_MESSAGES, LANG on Unix; the user locale on Windows and macOS), else English. The texts
//! and bundles are in `shiftready_core::i18n`.

pub use shiftready_core::i18n::{
    Lang, current, hint, hint_in as text_hint, set_current, text, tr, trm,
};

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
