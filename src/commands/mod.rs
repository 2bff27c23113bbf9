//! Every command of the `shiftready` CLI: each reads its arguments, calls the library (checks,
//! probe, enroll, ipc, daemon), prints what a person or a script reads, and returns the exit
//! code. The library modules return data and typed errors; the exit code of an error is
//! decided in one place, [`crate::exit::code_of`].

pub mod check;
pub mod devices;
pub mod enroll;
pub mod errors;
pub mod fix;
pub mod noise;
pub mod probe;
pub mod render;
pub mod report_drop;
pub mod run;
pub mod session;

use crate::cli::{Cli, Command};
use crate::config;
use crate::ipc::Request;

/// Runs the command line; returns the exit code (errors are mapped by the caller with
/// [`crate::exit::code_of`]).
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    crate::i18n::choose(cli.lang.as_deref(), "");
    let loaded = config::load(config::find(cli.config.as_deref()).as_deref())?;
    if cli.lang.is_none() {
        crate::i18n::choose(None, &loaded.config.agent.language);
    }
    match cli.command {
        // The daemon builds its own runtime (and, with the tray, keeps the main thread for GTK).
        Command::Run(args) => run::run(&loaded, args.headless),
        Command::Check(args) => block_on(check::check(&loaded, &args)),
        Command::Devices(args) => devices::devices(&loaded, args.json),
        Command::Fix(args) => block_on(fix::fix(&loaded, &args)),
        Command::Noise(args) => block_on(noise::noise(&loaded, &args)),
        Command::Probe(args) => block_on(probe::probe(&loaded, &args)),
        Command::SignIn(a) => session::ask(&loaded.state_dir(), Request::SignIn, a.json),
        Command::SignOut(a) => session::ask(&loaded.state_dir(), Request::SignOut, a.json),
        Command::Status(a) => session::ask(&loaded.state_dir(), Request::Status, a.json),
        Command::ReportDrop(a) => {
            report_drop::report_drop(&loaded.state_dir(), a.note.as_deref(), a.json)
        }
        Command::Enroll(args) => block_on(enroll::enroll(&loaded, &args)),
    }
}

/// Prints the result of one check (`noise`, `probe`): JSON with `json`, else its line of the
/// report. Returns the exit code of a check of that one: 0 pass, 1 warn, 2 fail, 3 error.
fn print_one(
    name: &str,
    result: &proto::CheckResult,
    policy: &proto::Policy,
    json: bool,
) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(result)?);
    } else {
        print!(
            "{}",
            render::render_check(name, result, Some(policy), render::use_color())
        );
    }
    Ok(proto::Readiness::from_statuses([result.status]).exit_code())
}

/// Checks a `--seconds` argument the same way in every command that takes one: a number
/// from `min` to `max` seconds, else a usage error (exit 64) that says so in the agent's
/// language, with the message `why_min` saying why shorter does not work.
fn seconds_arg(seconds: f64, min: f64, max: f64, why_min: &'static str) -> anyhow::Result<f64> {
    if seconds.is_finite() && seconds >= min && seconds <= max {
        return Ok(seconds);
    }
    Err(crate::exit::ExitError::said(
        crate::exit::USAGE,
        proto::Msg::new("err-seconds-range")
            .text("given", format!("{seconds}"))
            .arg("min", seconds_num(min))
            .arg("max", seconds_num(max))
            .arg("why", proto::MsgArg::Id(why_min)),
    ))
}

/// A number of seconds shown as written: no decimals for a whole number, else up to two.
fn seconds_num(s: f64) -> proto::MsgArg {
    let decimals = if s.fract() == 0.0 {
        0
    } else if (s * 10.0).fract() == 0.0 {
        1
    } else {
        2
    };
    proto::MsgArg::Num(s, decimals)
}

/// Runs an async command on a multi-threaded runtime of its own.
fn block_on(
    command: impl std::future::Future<Output = anyhow::Result<i32>>,
) -> anyhow::Result<i32> {
    tokio::runtime::Runtime::new()?.block_on(command)
}

#[cfg(test)]
mod tests {
    use crate::i18n::Lang;

    #[test]
    fn seconds_are_checked_alike() {
        let why = "err-seconds-why-probe";
        let msg = |s| {
            super::seconds_arg(s, 1.0, 300.0, why)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            msg(-1.0),
            "--seconds -1: give a number of seconds from 1 to 300 (a shorter probe cannot \
             measure jitter and loss)"
        );
        assert_eq!(
            msg(0.0),
            "--seconds 0: give a number of seconds from 1 to 300 (a shorter probe cannot \
             measure jitter and loss)"
        );
        assert!(msg(f64::NAN).starts_with("--seconds NaN: give"));
        assert_eq!(super::seconds_arg(1.0, 1.0, 300.0, why).unwrap(), 1.0);
        // Said in Swedish with Swedish numbers when the agent speaks Swedish.
        let err = super::seconds_arg(0.25, 0.5, 3600.0, "err-seconds-why-noise").unwrap_err();
        let sv = super::errors::text_in(Lang::Sv, &err);
        assert!(
            sv.starts_with("--seconds 0.25: ange ett antal sekunder från 0,5 till 3600 ("),
            "{sv}"
        );
        assert!(sv.contains("bakgrundsljudet"), "{sv}");
    }
}
