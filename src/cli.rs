//! The command line (the contract of `DESIGN.md`: every command takes `--config FILE`).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shiftready",
    version,
    about = "Checks that this workstation is ready for calls and signs you in and out of shifts"
)]
pub struct Cli {
    /// The agent configuration file (TOML; defaults in config/agent.toml). Without it: the
    /// per-user file (~/.config/shiftready/agent.toml) if it exists, else
    /// /etc/shiftready/agent.toml if it exists, else the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The language of what ShiftReady says: en or sv. Without it: `[agent] language` in the
    /// agent configuration, else the computer's language, else English. JSON output and
    /// what HQ receives stay in English.
    #[arg(long, global = true, value_name = "LANG")]
    pub lang: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole pre-shift check. Exit 0 ready, 1 degraded, 2 not ready, 3 unknown.
    Check(CheckArgs),
    /// The background-noise check alone, from the microphone or a WAV file.
    Noise(NoiseArgs),
    /// The UDP voice probe alone.
    Probe(ProbeArgs),
    /// The audio devices and what is known of each.
    Devices(JsonArg),
    /// Makes the headset the default microphone and speaker, unmutes it and raises a
    /// microphone volume set near zero, then runs the headset check again. Says exactly what
    /// it changed. Exit 0–3 as the headset check after it, 69 when this system's sound
    /// settings cannot be changed by ShiftReady.
    Fix(FixArgs),
    /// Trades the site's enrollment secret for this device's key.
    Enroll(EnrollArgs),
    /// The daemon, with the tray icon unless --headless.
    Run(RunArgs),
    /// Asks the running daemon to sign you in to the shift. Below the site's readiness bar it
    /// says what to fix first; exit 0 signed in, 2 refused because the site's policy
    /// (`shift.manual_sign_in_below_bar = "refuse"`) allows no sign-in below the bar, 69 no
    /// daemon running.
    SignIn(JsonArg),
    /// Asks the running daemon to sign you out of the shift.
    SignOut(JsonArg),
    /// Shows the running daemon's state.
    Status(JsonArg),
    /// Tells the running daemon that a call just dropped: it records the last 15 minutes of
    /// this computer's network history, the headset and the noise, with your note, for IT.
    /// Exit 0 recorded, 64 a note over 1000 characters, 69 no daemon running.
    ReportDrop(ReportDropArgs),
}

#[derive(Debug, Args)]
pub struct ReportDropArgs {
    /// What happened, in your words (at most 1000 characters).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Run only these checks (comma-separated: os,hardware,network,headset,noise).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Do not send the report to HQ even when enrolled.
    #[arg(long)]
    pub no_send: bool,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// Say what would change, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print exactly one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NoiseArgs {
    /// Analyse this WAV file instead of the microphone.
    #[arg(long, value_name = "WAV")]
    pub file: Option<PathBuf>,
    /// Seconds to record, at least 1 (default from the policy).
    #[arg(long, allow_negative_numbers = true)]
    pub seconds: Option<f64>,
    /// Input device (name or part of it); default from the config, else the system default.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The UDP reflector, HOST:PORT (HQ's by default).
    #[arg(long, value_name = "HOST:PORT")]
    pub reflector: Option<String>,
    /// Seconds to probe, at least 1 (default from the policy).
    #[arg(long, allow_negative_numbers = true)]
    pub seconds: Option<f64>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// HQ's base URL.
    #[arg(long, value_name = "URL")]
    pub hq: String,
    /// The site's enrollment secret on the command line (other users of this computer can see
    /// it in the process list while enroll runs: prefer --token-file or SHIFTREADY_ENROLL_TOKEN).
    #[arg(long, value_name = "SECRET")]
    pub token: Option<String>,
    /// Reads the site's enrollment secret from a file (`-` for standard input).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<std::path::PathBuf>,
    /// Reads the one-time re-enrollment code IT gave you (`shiftready-hq device reenroll`)
    /// from a file (`-` for standard input); or set SHIFTREADY_REENROLL_CODE. With it this
    /// computer takes over the device IT asked to enroll again, keeping its history.
    #[arg(long, value_name = "PATH")]
    pub code_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// No tray icon (servers, tests, SSH sessions).
    #[arg(long)]
    pub headless: bool,
}

// ---- The help in the agent's language (issue 16) ----
//
// Agents run `shiftready --help`. The texts above (doc comments) are the English; every one of
// them is also a message of the core's bundles (`help-*` ids, tests/i18n.rs checks that the
// English ones are the same words), and [`command_in`] puts the bundle's text of the chosen
// language on each command and argument at run time, with clap's own words (headings, the help
// and version flags) said in that language too.

use crate::i18n::{Lang, text};
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches};
use proto::Msg;

/// A message of the bundle by an id made at run time; `None` when the bundle lacks it.
fn said(lang: Lang, id: &str) -> Option<String> {
    let id = shiftready_core::i18n::intern(id)?;
    Some(text(lang, &Msg::new(id)))
}

/// The id of a command's about text: `help-about` for `shiftready` itself, else
/// `help-<command>`.
pub fn about_id(command: Option<&str>) -> String {
    match command {
        None => "help-about".into(),
        Some(c) => format!("help-{c}"),
    }
}

/// The id of an argument's help: `help-<command>-<arg>` (`help-opt-<arg>` for the global
/// ones), the argument's name with `-` for `_`.
pub fn arg_id(command: Option<&str>, arg: &str) -> String {
    let arg = arg.replace('_', "-");
    match command {
        None => format!("help-opt-{arg}"),
        Some(c) => format!("help-{c}-{arg}"),
    }
}

/// A text for clap's arguments that take `&'static str` (headings, value names): made once per
/// process, when the command line is parsed, so keeping them is a few hundred bytes.
fn keep(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The clap command with every help text in `lang`.
pub fn command_in(lang: Lang) -> clap::Command {
    let word = |id: &'static str| text(lang, &Msg::new(id));
    let options = keep(word("help-heading-options"));
    let commands = keep(word("help-heading-commands"));
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{}: {{usage}}\n\n{{all-args}}{{after-help}}",
        word("help-heading-usage")
    );
    let placeholder_options = word("help-usage-options");
    let own = |c: clap::Command, name: Option<&str>| -> clap::Command {
        let mut c = c
            .help_template(template.clone())
            .disable_help_flag(true)
            .arg(
                Arg::new("help")
                    .short('h')
                    .long("help")
                    .action(ArgAction::Help)
                    .help(word("help-flag-help"))
                    .help_heading(options),
            );
        if let Some(about) = said(lang, &about_id(name)) {
            c = c.about(about);
        }
        let ids: Vec<String> = c
            .get_arguments()
            .filter(|a| a.get_id() != "help" && a.get_id() != "version")
            .map(|a| a.get_id().to_string())
            .collect();
        for id in ids {
            let help = said(lang, &arg_id(name, &id));
            c = c.mut_arg(id.as_str(), |a| {
                let a = a.help_heading(options);
                let a = match help {
                    Some(h) => a.help(h),
                    None => a,
                };
                // FILE, LANG, ... said in the language ("FIL", "SPRÅK").
                let mut names: Vec<String> = a
                    .get_value_names()
                    .map(|v| v.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default();
                if names.is_empty() && a.get_action().takes_values() {
                    // clap shows the argument's name in capitals.
                    names.push(a.get_id().as_str().to_uppercase());
                }
                if names.is_empty() {
                    return a;
                }
                let shown: Vec<&'static str> = names
                    .iter()
                    .map(|v| {
                        let id = format!("help-value-{}", v.to_lowercase().replace(':', "-"));
                        keep(said(lang, &id).unwrap_or_else(|| v.clone()))
                    })
                    .collect();
                a.value_names(shown)
            });
        }
        c
    };
    let mut cmd = own(Cli::command(), None)
        .disable_version_flag(true)
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(word("help-flag-version"))
                .help_heading(options),
        )
        .subcommand_help_heading(commands)
        .subcommand_value_name(keep(word("help-usage-command")))
        .override_usage(format!(
            "shiftready [{placeholder_options}] <{}>",
            word("help-usage-command")
        ))
        .disable_help_subcommand(true);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let usage = format!("shiftready {name} [{placeholder_options}]");
        let template_own = &own;
        cmd = cmd.mut_subcommand(name.as_str(), |s| {
            template_own(s, Some(name.as_str())).override_usage(usage)
        });
    }
    cmd
}

/// The language for the help, before anything is parsed: `--lang` on the command line, else
/// `[agent] language` of the configuration file the command would use, else the OS locale.
fn help_language(args: &[std::ffi::OsString]) -> Lang {
    let mut flag = None;
    let mut config = None;
    let mut it = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if let Some(v) = a.strip_prefix("--lang=") {
            flag = Some(v.to_string());
        } else if a == "--lang" {
            flag = it.next().map(str::to_string);
        } else if let Some(v) = a.strip_prefix("--config=") {
            config = Some(PathBuf::from(v));
        } else if a == "--config" {
            config = it.next().map(PathBuf::from);
        }
    }
    let configured = crate::config::find(config.as_deref())
        .and_then(|p| crate::config::load(Some(&p)).ok())
        .map(|l| l.config.agent.language.clone())
        .unwrap_or_default();
    let os = sys_locale::get_locale();
    crate::i18n::resolve(flag.as_deref(), &configured, os.as_deref()).0
}

/// Why the command line was not parsed: the help or version asked for, or a usage error.
#[derive(Debug)]
pub struct ParseError {
    /// As clap words it (the help in the agent's language already).
    pub clap: clap::Error,
    /// A usage error said in the agent's language, when clap's English is not what to show.
    pub said: Option<String>,
}

impl ParseError {
    /// Whether this is an error (stderr, exit 64) rather than the help or version (stdout, 0).
    pub fn use_stderr(&self) -> bool {
        self.clap.use_stderr()
    }

    /// Prints it where it belongs.
    pub fn print(&self) {
        match &self.said {
            Some(s) => eprint!("{s}"),
            None => {
                let _ = self.clap.print();
            }
        }
    }
}

/// Parses the command line with its help and usage errors in the agent's language.
pub fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Cli, ParseError> {
    let lang = help_language(&args);
    let mut cmd = command_in(lang);
    let result = cmd
        .try_get_matches_from_mut(args)
        .and_then(|m| Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd)));
    result.map_err(|clap| ParseError {
        said: usage_error_in(lang, &clap),
        clap,
    })
}

/// [`parse_from`] of this process's arguments.
pub fn parse() -> Result<Cli, ParseError> {
    parse_from(std::env::args_os().collect())
}

/// The usage errors an agent makes (a mistyped option or command, a bad value, a missing
/// argument) in `lang`; `None` for English (clap's own words) and for what is not one of them.
fn usage_error_in(lang: Lang, e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if lang == Lang::En {
        return None;
    }
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        Some(ContextValue::StyledStr(v)) => Some(v.to_string()),
        _ => None,
    };
    let m = match e.kind() {
        ErrorKind::UnknownArgument => {
            Msg::new("help-error-unknown-argument").text("arg", ctx(ContextKind::InvalidArg)?)
        }
        ErrorKind::InvalidSubcommand => {
            Msg::new("help-error-unknown-command").text("arg", ctx(ContextKind::InvalidSubcommand)?)
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            Msg::new("help-error-invalid-value")
                .text("value", ctx(ContextKind::InvalidValue)?)
                .text("arg", ctx(ContextKind::InvalidArg)?)
        }
        ErrorKind::MissingRequiredArgument => {
            Msg::new("help-error-missing").text("arg", ctx(ContextKind::InvalidArg)?)
        }
        _ => return None,
    };
    let word = |id: &'static str| text(lang, &Msg::new(id));
    let usage = ctx(ContextKind::Usage)
        .map(|u| {
            let u = u.trim();
            let u = u.split_once(": ").map_or(u, |(_, rest)| rest);
            format!("\n\n{}: {u}", word("help-heading-usage"))
        })
        .unwrap_or_default();
    Some(format!(
        "{}: {}{usage}\n\n{}\n",
        word("help-error"),
        text(lang, &m),
        word("help-error-more")
    ))
}
