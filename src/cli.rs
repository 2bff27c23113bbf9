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
