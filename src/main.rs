use clap::Parser;
use shiftready::cli::{Cli, Command};
use shiftready::{checks, config, exit, ipc};
use std::process::ExitCode;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("shiftready: internal error (a bug, please report it): {info}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SHIFTREADY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shiftready: {e:#}");
            exit::code_of(&e)
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let loaded = config::load(config::find(cli.config.as_deref()).as_deref())?;
    if let Command::Run(args) = &cli.command {
        // The daemon builds its own runtime (and, with the tray, keeps the main thread for GTK).
        return shiftready::daemon::cmd_run(&loaded, args.headless);
    }
    let rt = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Check(args) => rt.block_on(checks::cmd_check(&loaded, &args)),
        Command::Devices(args) => checks::headset::cmd_devices(&loaded, args.json),
        Command::Noise(args) => rt.block_on(checks::noise::cmd_noise(&loaded, &args)),
        Command::Probe(args) => rt.block_on(checks::network::cmd_probe(&loaded, &args)),
        Command::SignIn(a) => ipc::cmd(&loaded.state_dir(), ipc::Request::SignIn, a.json),
        Command::SignOut(a) => ipc::cmd(&loaded.state_dir(), ipc::Request::SignOut, a.json),
        Command::Status(a) => ipc::cmd(&loaded.state_dir(), ipc::Request::Status, a.json),
        Command::Enroll(args) => rt.block_on(shiftready::enroll::cmd_enroll(&loaded, &args)),
        Command::Run(_) => Err(exit::ExitError::new(
            exit::UNAVAILABLE,
            "this command is not built yet",
        )),
    }
}
