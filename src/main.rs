use shiftready::{cli, commands, exit};
use std::process::ExitCode;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("shiftready: internal error (a bug, please report it): {info}");
    }));
    // The help and usage errors in the agent's language (`cli::parse`).
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            e.print();
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
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shiftready: {}", commands::errors::text_of(&e));
            exit::code_of(&e)
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
