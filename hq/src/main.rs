//! `shiftready-hq`: a thin shell over the library.

use clap::{Args, Parser, Subcommand, ValueEnum};
use proto::DeviceStatus;
use shiftready_hq::db::{self, Db, Role};
use shiftready_hq::{admin, reflector, server, simulate};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod alert_cli;
mod cli;
mod connector_cli;

use cli::admin as cmd;
use cli::{Fail, exit, fail};
use shiftready_hq::db_admin::Credential;

#[derive(Debug, Parser)]
#[command(
    name = "shiftready-hq",
    version,
    about = "ShiftReady headquarters: enrollment, shift log, UDP reflector, fleet dashboard and API"
)]
struct Cli {
    /// The database: sqlite://PATH or postgres://... (default: a SQLite file in the HQ's data
    /// directory, $XDG_DATA_HOME/shiftready-hq/hq.db).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SHIFTREADY_HQ_DATABASE_URL"
    )]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of `serve`'s many flags costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// The server: API, dashboard, metrics, and the UDP reflector.
    Serve(ServeArgs),
    /// The UDP probe reflector alone.
    Reflector(ReflectorArgs),
    /// Enrollment secrets for a site.
    #[command(subcommand)]
    EnrollSecret(SecretCmd),
    /// Dashboard users.
    #[command(subcommand)]
    User(UserCmd),
    /// API tokens for scripts.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Site policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Agents' shift schedules.
    #[command(subcommand)]
    Shifts(ShiftsCmd),
    /// Revoke a device or force it to enroll again.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// A simulated fleet heartbeating against an HQ on this machine (a load test).
    Simulate(SimArgs),
    /// A bare axum handler on loopback (no database, no middleware), the peer `simulate
    /// --saturate --bare-target` compares HQ with.
    #[command(hide = true)]
    BareAxum {
        #[arg(long, default_value = "127.0.0.1:18701")]
        listen: std::net::SocketAddr,
    },
    /// A site's contact-centre connector: set, test, platform users, status.
    #[command(subcommand)]
    Connector(connector_cli::ConnectorCmd),
    /// A site's alert rules and receivers: set, list, test, unset.
    #[command(subcommand)]
    Alert(alert_cli::AlertCmd),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address for HTTP(S).
    #[arg(long, default_value = "127.0.0.1:8640", value_name = "ADDR")]
    listen: SocketAddr,
    /// Address for the UDP reflector, or `off` (default: the --listen IP, port 8637).
    #[arg(long, value_name = "ADDR")]
    probe_listen: Option<String>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds between lost-contact sweeps.
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    sweep_seconds: f64,
    /// Enrollment attempts allowed per client address per minute.
    #[arg(long, default_value_t = 10, value_name = "N")]
    enroll_per_minute: i64,
    /// Reflector: probe packets per second answered per source IP address (at least 50, the
    /// rate of one voice probe).
    #[arg(long, default_value_t = reflector::DEFAULT_PER_SOURCE_PPS, value_name = "N")]
    probe_per_source_pps: u32,
    /// Reflector: probe packets per second answered in total.
    #[arg(long, default_value_t = reflector::DEFAULT_GLOBAL_PPS, value_name = "N")]
    probe_global_pps: u32,
    /// Reflector: the key of the probe tokens HQ gives enrolled devices (64 hex digits, made
    /// owner-only if missing); give a separate `reflector` the same file. Without it a new
    /// key is made at each start.
    #[arg(long, value_name = "FILE")]
    probe_key_file: Option<PathBuf>,
    /// A file whose first line is the bearer token `/metrics` then requires (at least 16
    /// characters); without it `/metrics` is open.
    #[arg(long, value_name = "PATH")]
    metrics_token_file: Option<PathBuf>,
    #[command(flatten)]
    quota: shiftready_hq::quota::QuotaArgs,
    #[command(flatten)]
    guard: shiftready_hq::limits::GuardArgs,
    #[command(flatten)]
    load: shiftready_hq::load::LoadArgs,
}

#[derive(Debug, Args)]
struct ReflectorArgs {
    /// UDP address to answer probes on.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// Probe packets per second answered per source IP address (at least 50, the rate of one
    /// voice probe).
    #[arg(long, default_value_t = reflector::DEFAULT_PER_SOURCE_PPS, value_name = "N")]
    per_source_pps: u32,
    /// Probe packets per second answered in total.
    #[arg(long, default_value_t = reflector::DEFAULT_GLOBAL_PPS, value_name = "N")]
    global_pps: u32,
    /// The key file `serve --probe-key-file` uses: requests with HQ's probe tokens are served
    /// first. Without it no token is checked and every request shares the small budget of
    /// unauthenticated ones.
    #[arg(long, value_name = "FILE")]
    probe_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum SecretCmd {
    /// Prints a new enrollment secret for the site as its last line.
    Create {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
    },
    /// Lists enrollment secrets: id, site, created, last used, revoked (never the secret).
    List(JsonFlag),
    /// Revokes an enrollment secret by the id `enroll-secret list` shows: it enrolls no new
    /// device; devices already enrolled keep working.
    Revoke { id: String },
}

#[derive(Debug, Args)]
struct JsonFlag {
    /// Print one JSON document (an array) instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Adds a user (or sets their password and role); reads the password from stdin.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Lists dashboard users: name, role, created.
    List(JsonFlag),
    /// Removes a user and ends their dashboard sessions.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Prints a new API token as its last line.
    Create {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// What the token is for, shown by `token list`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Lists API tokens: id, name, role, created, revoked (never the token).
    List(JsonFlag),
    /// Revokes an API token by the id `token list` shows.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Sets a site's policy from a TOML file of the same form as config/policy.toml.
    Set {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ShiftsCmd {
    /// Imports shifts from CSV: agent (device id or hostname), start, end (RFC 3339). All
    /// lines or none: every bad line is reported at once; shifts HQ already has are skipped;
    /// a shift overlapping another of the same agent is refused.
    Import { file: PathBuf },
    /// Lists scheduled shifts.
    List {
        /// Only this agent's (device id or hostname).
        #[arg(long, value_name = "AGENT")]
        agent: Option<String>,
        /// Only shifts ending after this date or RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only shifts starting before this date or RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Deletes an agent's scheduled shifts: the one starting at --start, or those starting
    /// from --from until --to.
    Delete {
        /// The agent (device id or hostname).
        #[arg(long, value_name = "AGENT")]
        agent: String,
        #[arg(long, value_name = "TIME", conflicts_with_all = ["from", "to"])]
        start: Option<String>,
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCmd {
    /// Revokes a device's key for good.
    Revoke { id: String },
    /// Makes a device enroll again (it keeps its id and history): prints a one-time code,
    /// valid for 7 days, that the enrollment must present (`shiftready enroll --code-file`).
    Reenroll { id: String },
    /// Lists devices: id, hostname, site, status, last seen; warns about shared hostnames.
    List {
        /// Only this site's devices.
        #[arg(long)]
        site: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Removes a device with its shift log, reports and schedule (needs --yes).
    Remove {
        id: String,
        /// Yes, delete its history too.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
struct SimArgs {
    /// Simulated agents (at most 1,000,000).
    #[arg(long)]
    agents: u64,
    /// Seconds between one agent's heartbeats.
    #[arg(long, default_value_t = 30.0)]
    interval: f64,
    /// Seconds to run (at most 3600).
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// The HQ to load, on this machine (http://127.0.0.1:PORT).
    #[arg(long)]
    target: String,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seconds spent measuring the bare axum ceiling first.
    #[arg(long, default_value_t = 5.0)]
    bare_seconds: f64,
    /// The site the simulated devices belong to: a site of their own, which must not exist
    /// yet (or hold only what an interrupted simulate left); removed with them at the end.
    #[arg(long, default_value = "simulated")]
    site: String,
    /// Saturate instead: --concurrency clients in a closed loop (each sends its next heartbeat
    /// as soon as the last is acknowledged), against the bare handler, HQ, and the bare
    /// handler again, --duration seconds each; prints requests/s of each and the ratio.
    #[arg(long)]
    saturate: bool,
    /// With --saturate: the bare handler to compare with (`shiftready-hq bare-axum`, e.g.
    /// pinned to HQ's CPU); by default one inside this process.
    #[arg(long, value_name = "URL")]
    bare_target: Option<String>,
    /// Every other heartbeat of each agent carries the minute's `sample` event too (one
    /// sample per agent a minute at --interval 30), to measure the samples' ingest.
    #[arg(long)]
    samples: bool,
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("shiftready-hq: internal error (a bug, please report it): {info}");
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SHIFTREADY_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shiftready-hq: cannot start the runtime: {e}");
            return ExitCode::from(exit::SOFTWARE);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("shiftready-hq: {msg}");
            ExitCode::from(code)
        }
    }
}

async fn open(url: &Option<String>) -> Result<Db, Fail> {
    let url = url.clone().unwrap_or_else(db::default_database_url);
    Db::connect(&url)
        .await
        .map_err(|e| fail(exit::UNAVAILABLE, format!("{e:#}")))
}

async fn run(cli: Cli) -> Result<(), Fail> {
    match cli.command {
        Command::Connector(c) => connector_cli::run(c, &cli.database_url)
            .await
            .map_err(|(code, m)| fail(code, m)),
        Command::Alert(c) => alert_cli::run(c, &cli.database_url)
            .await
            .map_err(|(code, m)| fail(code, m)),
        Command::Serve(a) => {
            let probe_listen = match a.probe_listen.as_deref() {
                Some("off") => None,
                Some(s) => Some(s.parse::<SocketAddr>().map_err(|e| {
                    fail(
                        exit::USAGE,
                        format!("--probe-listen '{s}': {e} (use HOST:PORT or off)"),
                    )
                })?),
                None => Some(SocketAddr::new(a.listen.ip(), proto::probe::DEFAULT_PORT)),
            };
            if !(0.05..=3600.0).contains(&a.sweep_seconds) {
                return Err(fail(
                    exit::USAGE,
                    "--sweep-seconds must be between 0.05 and 3600",
                ));
            }
            let mut reflector = reflector_limits(
                a.probe_per_source_pps,
                a.probe_global_pps,
                "--probe-per-source-pps",
                "--probe-global-pps",
            )?;
            reflector.token_key = Some(match &a.probe_key_file {
                Some(f) => probe_key(f)?,
                None => reflector::TokenKey::random()
                    .map_err(|e| fail(exit::UNAVAILABLE, format!("no random probe key: {e}")))?,
            });
            if let Some(path) = &a.metrics_token_file {
                shiftready_hq::metrics::read_token_file(path)
                    .and_then(shiftready_hq::metrics::require_token)
                    .map_err(|e| fail(exit::USAGE, e))?;
            }
            let db = open(&cli.database_url).await?;
            let opts = server::ServeOptions {
                listen: a.listen,
                probe_listen,
                tls: a.tls_cert.zip(a.tls_key),
                sweep_every: Duration::from_secs_f64(a.sweep_seconds),
                enroll_per_minute: a.enroll_per_minute,
                reflector,
                ingest: a.quota.limits().map_err(|e| fail(exit::USAGE, e))?,
                http: a.guard.http().map_err(|e| fail(exit::USAGE, e))?,
                login_per_minute: a.guard.login_per_minute,
                load: a.load.limits().map_err(|e| fail(exit::USAGE, e))?,
            };
            server::serve(db, opts)
                .await
                .map_err(|e| fail(exit::UNAVAILABLE, format!("{e:#}")))
        }
        Command::Reflector(a) => {
            let mut limits = reflector_limits(
                a.per_source_pps,
                a.global_pps,
                "--per-source-pps",
                "--global-pps",
            )?;
            limits.token_key = a.probe_key_file.as_deref().map(probe_key).transpose()?;
            let r = reflector::Reflector::bind(a.listen, limits)
                .await
                .map_err(|e| {
                    fail(
                        exit::UNAVAILABLE,
                        format!("cannot listen on udp://{}: {e}", a.listen),
                    )
                })?;
            println!("shiftready-hq: reflector on udp://{}", r.local_addr());
            r.run(server::shutdown_signal()).await?;
            Ok(())
        }
        Command::EnrollSecret(SecretCmd::List(j)) => {
            cmd::secret_list(&open(&cli.database_url).await?, j.json).await
        }
        Command::EnrollSecret(SecretCmd::Revoke { id }) => {
            let db = open(&cli.database_url).await?;
            cmd::revoke(&db, Credential::EnrollSecret, &id).await
        }
        Command::User(UserCmd::List(j)) => {
            cmd::user_list(&open(&cli.database_url).await?, j.json).await
        }
        Command::User(UserCmd::Remove { name }) => {
            cmd::user_remove(&open(&cli.database_url).await?, &name).await
        }
        Command::Token(TokenCmd::List(j)) => {
            cmd::token_list(&open(&cli.database_url).await?, j.json).await
        }
        Command::Token(TokenCmd::Revoke { id }) => {
            let db = open(&cli.database_url).await?;
            cmd::revoke(&db, Credential::Token, &id).await
        }
        Command::Shifts(ShiftsCmd::List {
            agent,
            from,
            to,
            json,
        }) => {
            let db = open(&cli.database_url).await?;
            cmd::shifts_list(
                &db,
                agent.as_deref(),
                from.as_deref(),
                to.as_deref(),
                json.json,
            )
            .await
        }
        Command::Shifts(ShiftsCmd::Delete {
            agent,
            start,
            from,
            to,
        }) => {
            let db = open(&cli.database_url).await?;
            cmd::shifts_delete(
                &db,
                &agent,
                start.as_deref(),
                from.as_deref(),
                to.as_deref(),
            )
            .await
        }
        Command::Device(DeviceCmd::List { site, json }) => {
            let db = open(&cli.database_url).await?;
            cmd::device_list(&db, site.as_deref(), json.json).await
        }
        Command::Device(DeviceCmd::Remove { id, yes }) => {
            cmd::device_remove(&open(&cli.database_url).await?, &id, yes).await
        }
        Command::Device(DeviceCmd::Reenroll { id }) => {
            cmd::device_reenroll(&open(&cli.database_url).await?, &id).await
        }
        Command::EnrollSecret(SecretCmd::Create { site }) => {
            check_name("--site", &site)?;
            let db = open(&cli.database_url).await?;
            let secret = db.create_enroll_secret(&site).await?;
            println!("Enrollment secret for site '{site}' (shown once; put it in the installer):");
            println!("{secret}");
            Ok(())
        }
        Command::User(UserCmd::Add { name, role }) => {
            check_name("user name", &name)?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| {
                    fail(
                        exit::NO_INPUT,
                        format!("reading the password from stdin: {e}"),
                    )
                })?;
            let password = password.lines().next().unwrap_or("").to_string();
            if password.chars().count() < 8 {
                return Err(fail(
                    exit::DATA,
                    "the password (first line of stdin) must have at least 8 characters",
                ));
            }
            let db = open(&cli.database_url).await?;
            db.add_user(&name, &password, role.into()).await?;
            println!(
                "User '{name}' can now sign in to the dashboard as {}.",
                Role::from(role).as_str()
            );
            Ok(())
        }
        Command::Token(TokenCmd::Create { role, name }) => {
            if let Some(n) = &name {
                check_name("--name", n)?;
            }
            let db = open(&cli.database_url).await?;
            let token = db.create_token(role.into()).await?;
            if let Some(n) = &name {
                db.name_token(&token, n).await?;
            }
            println!(
                "API token ({}; shown once; send it as Authorization: Bearer):",
                Role::from(role).as_str()
            );
            println!("{token}");
            Ok(())
        }
        Command::Policy(PolicyCmd::Set { site, file }) => {
            check_name("--site", &site)?;
            let policy: proto::Policy = proto::load::load_file(&file).map_err(|e| {
                let code = if e
                    .problems
                    .iter()
                    .any(|p| p.message.starts_with("cannot read"))
                {
                    exit::NO_INPUT
                } else {
                    exit::CONFIG
                };
                fail(code, e.to_string().trim_end().to_string())
            })?;
            let db = open(&cli.database_url).await?;
            db.set_policy(&site, &policy).await?;
            cmd::warn_empty_site(&db, &site).await?;
            println!(
                "Policy for site '{site}' set from {} (heartbeat every {} s, lost contact after {} missed).",
                file.display(),
                policy.shift.heartbeat_seconds,
                policy.shift.lost_contact_after_missed
            );
            Ok(())
        }
        Command::Shifts(ShiftsCmd::Import { file }) => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                fail(
                    exit::NO_INPUT,
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            let db = open(&cli.database_url).await?;
            match admin::import_shifts(&db, &file, &text).await? {
                Ok(n) => {
                    print!("Imported {} shifts from {}", n.added, file.display());
                    if n.already > 0 {
                        print!(
                            "; {} HQ already had {} skipped",
                            n.already,
                            if n.already == 1 { "was" } else { "were" }
                        );
                    }
                    println!(".");
                    Ok(())
                }
                Err(problems) => Err(fail(
                    exit::DATA,
                    format!("nothing imported; fix these lines:\n{problems}"),
                )),
            }
        }
        Command::Device(DeviceCmd::Revoke { id }) => {
            let db = open(&cli.database_url).await?;
            let id = cmd::resolve(&db, &id).await?;
            db.set_device_status(&id, DeviceStatus::Revoked.as_str())
                .await?;
            println!("Device {id} revoked: its key no longer works.");
            Ok(())
        }
        Command::BareAxum { listen } => {
            simulate::serve_bare(listen).await?;
            Ok(())
        }
        Command::Simulate(a) => {
            if !simulate::is_loopback_url(&a.target) {
                return Err(fail(
                    exit::USAGE,
                    format!(
                        "--target {} is not on this machine; simulate loads loopback only",
                        a.target
                    ),
                ));
            }
            if a.agents == 0 || a.agents > simulate::MAX_AGENTS {
                return Err(fail(
                    exit::USAGE,
                    format!("--agents must be between 1 and {}", simulate::MAX_AGENTS),
                ));
            }
            if !(1.0..=3600.0).contains(&a.interval)
                || !(1.0..=simulate::MAX_DURATION).contains(&a.duration)
            {
                return Err(fail(
                    exit::USAGE,
                    "--interval and --duration must be between 1 and 3600 seconds",
                ));
            }
            if !(1..=4096).contains(&a.concurrency) || !(0.5..=60.0).contains(&a.bare_seconds) {
                return Err(fail(
                    exit::USAGE,
                    "--concurrency must be 1..4096 and --bare-seconds 0.5..60",
                ));
            }
            if let Some(b) = a
                .bare_target
                .as_deref()
                .filter(|b| !simulate::is_loopback_url(b))
            {
                return Err(fail(
                    exit::USAGE,
                    format!("--bare-target {b} is not on this machine"),
                ));
            }
            check_name("--site", &a.site)?;
            let db = open(&cli.database_url).await?;
            simulate::claim_site(&db, &a.site)
                .await?
                .map_err(|m| fail(exit::USAGE, m))?;
            let opts = simulate::SimOptions {
                agents: a.agents,
                interval: a.interval,
                duration: a.duration,
                target: a.target,
                concurrency: a.concurrency,
                bare_seconds: a.bare_seconds,
                site: a.site,
                saturate: a.saturate,
                bare_target: a.bare_target,
                samples: a.samples,
            };
            simulate::run(&db, &opts).await?;
            Ok(())
        }
    }
}

/// The probe-token key in `path` (made if missing), or a config error naming the file.
fn probe_key(path: &std::path::Path) -> Result<reflector::TokenKey, Fail> {
    reflector::TokenKey::load_or_create(path)
        .map_err(|e| fail(exit::CONFIG, format!("--probe-key-file {e}")))
}

/// The reflector's limits from the command line, or a usage error naming the flag.
fn reflector_limits(
    per_source: u32,
    global: u32,
    per_source_flag: &str,
    global_flag: &str,
) -> Result<reflector::ReflectorConfig, Fail> {
    reflector::ReflectorConfig::with_rates(per_source as f64, global as f64).map_err(|e| {
        let flag = match e {
            reflector::LimitError::PerSource(_) => per_source_flag,
            reflector::LimitError::Global { .. } => global_flag,
        };
        fail(exit::USAGE, format!("{flag} {e}"))
    })
}

fn check_name(what: &str, v: &str) -> Result<(), Fail> {
    if v.is_empty() || v.len() > 100 || v.chars().any(char::is_control) {
        return Err(fail(
            exit::USAGE,
            format!("{what} must be 1 to 100 printable characters"),
        ));
    }
    Ok(())
}
