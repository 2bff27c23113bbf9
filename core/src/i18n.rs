//! The agent's languages (issue 16): every text a person reads, in English and Swedish, from
//! the Fluent bundles `core/i18n/en.ftl` and `core/i18n/sv.ftl` (compiled in, no file is read).
//!
//! A message missing in the chosen language, or failing to format there, falls back to English
//! for that message alone; English holds every id (tests/i18n.rs and the tests below fail on a
//! missing one), so a person never sees a message id. Numbers are formatted here per language
//! ("7.5" / "7,5") before they reach Fluent, whose NUMBER knows no locale separators; whole
//! numbers reach Fluent as numbers so its plural selectors pick the right form.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use proto::{CheckResult, Msg, MsgArg, Status};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// The English bundle's source: the reference every other language is compared with.
pub const EN_FTL: &str = include_str!("../i18n/en.ftl");
/// The Swedish bundle's source.
pub const SV_FTL: &str = include_str!("../i18n/sv.ftl");

/// A language the agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Sv,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Sv];

    /// The language's code, as `--lang` and `[agent] language` take it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Sv => "sv",
        }
    }

    /// The language of a locale or language tag: `sv`, `sv-SE`, `sv_SE.UTF-8`, `en_GB`, `C`
    /// (English). `None` for a language the agent does not speak.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let lang = tag
            .trim()
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match lang.as_str() {
            "sv" => Some(Lang::Sv),
            "en" | "c" | "posix" => Some(Lang::En),
            _ => None,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => EN_FTL,
            Lang::Sv => SV_FTL,
        }
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Chooses the language of this process's texts (the agent does it once at start).
pub fn set_current(lang: Lang) {
    CURRENT.store(lang as u8, Ordering::Relaxed);
}

/// The language of this process's texts (English until [`set_current`]).
pub fn current() -> Lang {
    match CURRENT.load(Ordering::Relaxed) {
        1 => Lang::Sv,
        _ => Lang::En,
    }
}

fn build(lang: Lang) -> FluentBundle<FluentResource> {
    // A syntax error keeps the messages that parsed; the tests fail on any.
    let res = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(res, _)| res);
    let tag = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![tag]);
    // No Unicode isolation marks around arguments: the texts are shown on terminals and the
    // English hints must stay byte for byte what they were.
    bundle.set_use_isolating(false);
    // Ids are unique (tested), so adding cannot clash.
    let _ = bundle.add_resource(res);
    bundle
}

static EN: LazyLock<FluentBundle<FluentResource>> = LazyLock::new(|| build(Lang::En));
static SV: LazyLock<FluentBundle<FluentResource>> = LazyLock::new(|| build(Lang::Sv));

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    match lang {
        Lang::En => &EN,
        Lang::Sv => &SV,
    }
}

/// `v` with `decimals` decimals the language's way: Swedish writes a decimal comma and a
/// minus sign (U+2212), English a point and a hyphen-minus.
pub fn format_number(lang: Lang, v: f64, decimals: u8) -> String {
    let s = format!("{:.*}", usize::from(decimals), v);
    let s = if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string() // no "-0"
    } else {
        s
    };
    match lang {
        Lang::En => s,
        Lang::Sv => s.replace('.', ",").replace('-', "\u{2212}"),
    }
}

/// One message in one language and whether it formatted cleanly; `None` when the bundle
/// lacks it.
fn format_in(lang: Lang, msg: &Msg) -> Option<(String, bool)> {
    let b = bundle(lang);
    let pattern = b.get_message(msg.id)?.value()?;
    let mut args = FluentArgs::new();
    for (name, value) in &msg.args {
        let v: FluentValue = match value {
            MsgArg::Text(t) => t.clone().into(),
            MsgArg::Num(v, d) => format_number(lang, *v, *d).into(),
            MsgArg::Count(n) => (*n).into(),
            MsgArg::Id(id) => text(lang, &Msg::new(id)).into(),
        };
        args.set(*name, v);
    }
    let mut errors = Vec::new();
    let out = b.format_pattern(pattern, Some(&args), &mut errors);
    Some((out.into_owned(), errors.is_empty()))
}

/// The message in `lang`; per message in English when `lang` lacks it or cannot format it.
/// Only an id English lacks too (a bug the tests catch) comes back as the id itself.
pub fn text(lang: Lang, msg: &Msg) -> String {
    match format_in(lang, msg) {
        Some((s, true)) => s,
        _ => format_in(Lang::En, msg).map_or_else(|| msg.id.to_string(), |(s, _)| s),
    }
}

/// The message in English: the text HQ and `--json` get.
pub fn english(msg: &Msg) -> String {
    text(Lang::En, msg)
}

/// A message without arguments in English.
pub fn english_id(id: &'static str) -> String {
    english(&Msg::new(id))
}

/// A message without arguments in the process's language.
pub fn tr(id: &'static str) -> String {
    text(current(), &Msg::new(id))
}

/// A message with arguments in the process's language.
pub fn trm(msg: &Msg) -> String {
    text(current(), msg)
}

/// A check result whose hint is `msg`: the English text in `hint` (the wire), the message
/// beside it for the agent's own screens.
pub fn hinted(status: Status, msg: Msg) -> CheckResult {
    let mut r = CheckResult::new(status, "");
    set_hint(&mut r, msg);
    r
}

/// Sets the hint of `r` to `msg` (English in `hint`, the message beside it).
pub fn set_hint(r: &mut CheckResult, msg: Msg) {
    r.hint = english(&msg);
    r.hint_msg = Some(msg);
}

/// The hint of `r` in `lang`: from its message when it has one, else the English `hint` as it
/// came (a report read back from the spool or from HQ).
pub fn hint_in(lang: Lang, r: &CheckResult) -> String {
    match &r.hint_msg {
        Some(m) => text(lang, m),
        None => r.hint.clone(),
    }
}

/// The hint of `r` in the process's language.
pub fn hint(r: &CheckResult) -> String {
    hint_in(current(), r)
}

/// Every message id and variable name of the English bundle, borrowed from its source.
static NAMES: LazyLock<std::collections::BTreeSet<&'static str>> = LazyLock::new(|| {
    use fluent_syntax::ast;
    let res = match fluent_syntax::parser::parse(EN_FTL) {
        Ok(r) => r,
        Err((r, _)) => r,
    };
    fn walk(e: &ast::Expression<&'static str>, out: &mut std::collections::BTreeSet<&'static str>) {
        let inline =
            |i: &ast::InlineExpression<&'static str>,
             out: &mut std::collections::BTreeSet<&'static str>| match i {
                ast::InlineExpression::VariableReference { id } => {
                    out.insert(id.name);
                }
                ast::InlineExpression::Placeable { expression } => walk(expression, out),
                _ => {}
            };
        match e {
            ast::Expression::Inline(i) => inline(i, out),
            ast::Expression::Select { selector, variants } => {
                inline(selector, out);
                for v in variants {
                    pattern(&v.value, out);
                }
            }
        }
    }
    fn pattern(p: &ast::Pattern<&'static str>, out: &mut std::collections::BTreeSet<&'static str>) {
        for el in &p.elements {
            if let ast::PatternElement::Placeable { expression } = el {
                walk(expression, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for entry in &res.body {
        if let ast::Entry::Message(m) = entry {
            out.insert(m.id.name);
            if let Some(p) = &m.value {
                pattern(p, &mut out);
            }
        }
    }
    out
});

/// The bundle's own `&'static` spelling of a message id or variable name that came as text
/// (from the local IPC); `None` for a name English does not have.
pub fn intern(name: &str) -> Option<&'static str> {
    NAMES.get(name).copied()
}

/// The ids of a bundle's messages with the variables each uses, sorted; and the syntax errors.
/// For the test that every id exists in every language.
pub fn ids_and_vars(source: &str) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    use fluent_syntax::ast;
    let (res, errors) = match fluent_syntax::parser::parse(source) {
        Ok(r) => (r, Vec::new()),
        Err((r, e)) => (r, e.iter().map(|e| format!("{e:?}")).collect()),
    };
    fn walk_pattern(p: &ast::Pattern<&str>, vars: &mut Vec<String>) {
        for el in &p.elements {
            if let ast::PatternElement::Placeable { expression } = el {
                walk_expr(expression, vars);
            }
        }
    }
    fn walk_inline(e: &ast::InlineExpression<&str>, vars: &mut Vec<String>) {
        match e {
            ast::InlineExpression::VariableReference { id } => vars.push(id.name.to_string()),
            ast::InlineExpression::Placeable { expression } => walk_expr(expression, vars),
            _ => {}
        }
    }
    fn walk_expr(e: &ast::Expression<&str>, vars: &mut Vec<String>) {
        match e {
            ast::Expression::Inline(i) => walk_inline(i, vars),
            ast::Expression::Select { selector, variants } => {
                walk_inline(selector, vars);
                for v in variants {
                    walk_pattern(&v.value, vars);
                }
            }
        }
    }
    let mut out = Vec::new();
    for entry in &res.body {
        if let ast::Entry::Message(m) = entry {
            let mut vars = Vec::new();
            if let Some(p) = &m.value {
                walk_pattern(p, &mut vars);
            }
            vars.sort();
            vars.dedup();
            out.push((m.id.name.to_string(), vars));
        }
    }
    out.sort();
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_is_in_both_languages_with_the_same_variables() {
        let (en, en_err) = ids_and_vars(EN_FTL);
        let (sv, sv_err) = ids_and_vars(SV_FTL);
        assert!(en_err.is_empty(), "en.ftl: {en_err:?}");
        assert!(sv_err.is_empty(), "sv.ftl: {sv_err:?}");
        let en_ids: Vec<&str> = en.iter().map(|(i, _)| i.as_str()).collect();
        let mut dedup = en_ids.clone();
        dedup.dedup();
        assert_eq!(en_ids, dedup, "an id appears twice in en.ftl");
        let missing_sv: Vec<&str> = en_ids
            .iter()
            .copied()
            .filter(|id| !sv.iter().any(|(s, _)| s == id))
            .collect();
        let missing_en: Vec<&str> = sv
            .iter()
            .map(|(i, _)| i.as_str())
            .filter(|id| !en_ids.contains(id))
            .collect();
        assert!(missing_sv.is_empty(), "missing in sv.ftl: {missing_sv:?}");
        assert!(missing_en.is_empty(), "missing in en.ftl: {missing_en:?}");
        assert_eq!(
            en, sv,
            "the variables of a message differ between en and sv"
        );
    }

    #[test]
    fn numbers_are_formatted_per_language() {
        assert_eq!(format_number(Lang::En, 7.5, 1), "7.5");
        assert_eq!(format_number(Lang::Sv, 7.5, 1), "7,5");
        assert_eq!(format_number(Lang::Sv, -38.0, 0), "\u{2212}38");
        assert_eq!(format_number(Lang::En, -0.01, 0), "0");
        assert_eq!(format_number(Lang::Sv, 95.4, 0), "95");
    }

    #[test]
    fn plurals_follow_the_language() {
        let m = |n| {
            Msg::new("hw-cores")
                .arg("cores", MsgArg::Count(n))
                .arg("min", MsgArg::Count(4))
        };
        assert!(text(Lang::Sv, &m(1)).contains("en processorkärna"));
        assert!(text(Lang::Sv, &m(2)).contains("2 processorkärnor"));
    }

    #[test]
    fn a_missing_message_falls_back_to_english_never_to_the_id() {
        // sv lacks nothing (tested above), so a message formatted with a missing argument
        // stands in for a broken translation: it must come out in English.
        let m = Msg::new("hw-battery");
        assert_ne!(text(Lang::Sv, &m), "hw-battery");
        let broken = Msg::new("hw-disk-low"); // $free missing: Fluent reports an error
        let shown = text(Lang::Sv, &broken);
        assert!(shown.contains("GB of disk space is free"), "{shown}");
    }

    #[test]
    fn names_that_came_as_text_are_the_bundle_own() {
        assert_eq!(intern("hw-cores"), Some("hw-cores"));
        assert_eq!(intern("cores"), Some("cores"));
        assert_eq!(intern("no-such-id"), None);
    }

    #[test]
    fn locale_tags() {
        assert_eq!(Lang::from_tag("sv_SE.UTF-8"), Some(Lang::Sv));
        assert_eq!(Lang::from_tag("sv-FI"), Some(Lang::Sv));
        assert_eq!(Lang::from_tag("en_GB"), Some(Lang::En));
        assert_eq!(Lang::from_tag("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::from_tag("de_DE"), None);
    }
}
