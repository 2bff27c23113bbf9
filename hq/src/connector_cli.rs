//! `shiftready-hq connector ...`: a site's contact-centre connector (issue 14).

use clap::Subcommand;
use shiftready_hq::connectors::{self, config::ConnectorConfig};
use shiftready_hq::db::{self, Db};
use std::path::PathBuf;

/// Exit codes (sysexits.h), as the rest of the CLI uses them.
const DATA: u8 = 65;
const NO_INPUT: u8 = 66;
const UNAVAILABLE: u8 = 69;
const SOFTWARE: u8 = 70;
const CONFIG: u8 = 78;

#[derive(Debug, Subcommand)]
pub enum ConnectorCmd {
    /// Sets a site's connector from a TOML file (kind, base_url, credentials by file path,
    /// [states]); every problem is listed with its key.
    Set {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
        file: PathBuf,
    },
    /// Makes one harmless authenticated call to the site's platform and says what is wrong.
    Test {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
    },
    /// Which platform user each agent is.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Every connector's health, last error and changes waiting.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Imports `agent,platform_user` lines (agent = hostname or device id); nothing is
    /// imported unless every line is good.
    Import {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
        file: PathBuf,
    },
}

type Fail = (u8, String);

fn soft(e: anyhow::Error) -> Fail {
    (SOFTWARE, format!("{e:#}"))
}

async fn open(url: &Option<String>) -> Result<Db, Fail> {
    let url = url.clone().unwrap_or_else(db::default_database_url);
    Db::connect(&url)
        .await
        .map_err(|e| (UNAVAILABLE, format!("{e:#}")))
}

fn check_site(site: &str) -> Result<(), Fail> {
    if site.is_empty() || site.len() > 100 || site.chars().any(char::is_control) {
        return Err((64, "--site must be 1 to 100 printable characters".into()));
    }
    Ok(())
}

/// Runs a `connector` command; the error is (exit code, message).
pub async fn run(cmd: ConnectorCmd, database_url: &Option<String>) -> Result<(), Fail> {
    match cmd {
        ConnectorCmd::Set { site, file } => {
            check_site(&site)?;
            let cfg: ConnectorConfig = proto::load::load_file(&file).map_err(|e| {
                let unreadable = e
                    .problems
                    .iter()
                    .any(|p| p.key.is_empty() && p.message.starts_with("cannot read"));
                let code = if unreadable { NO_INPUT } else { CONFIG };
                (code, e.to_string().trim_end().to_string())
            })?;
            let db = open(database_url).await?;
            connectors::set(&db, &site, &cfg).await.map_err(soft)?;
            println!(
                "Connector for site '{site}' set from {}: {} at {}. Check it with \
                 `shiftready-hq connector test --site {site}`.",
                file.display(),
                cfg.kind.as_str(),
                cfg.endpoint()
            );
            Ok(())
        }
        ConnectorCmd::Test { site } => {
            check_site(&site)?;
            let db = open(database_url).await?;
            match connectors::test(&db, &site).await.map_err(soft)? {
                Ok(said) => {
                    println!("OK: {said}.");
                    Ok(())
                }
                Err(what) => Err((UNAVAILABLE, format!("connector test failed: {what}"))),
            }
        }
        ConnectorCmd::Users(UsersCmd::Import { site, file }) => {
            check_site(&site)?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| (NO_INPUT, format!("cannot read {}: {e}", file.display())))?;
            let db = open(database_url).await?;
            match connectors::import_users(&db, &site, &file, &text)
                .await
                .map_err(soft)?
            {
                Ok(n) => {
                    println!(
                        "Imported {n} platform users for site '{site}' from {}.",
                        file.display()
                    );
                    Ok(())
                }
                Err(problems) => Err((
                    DATA,
                    format!("nothing imported; fix these lines:\n{problems}"),
                )),
            }
        }
        ConnectorCmd::Status => {
            let db = open(database_url).await?;
            let all = connectors::health(&db).await.map_err(soft)?;
            if all.is_empty() {
                println!("No connector is set.");
            }
            for h in all {
                println!(
                    "{}: {} {} ({} waiting){}",
                    h.site,
                    h.kind,
                    h.health,
                    h.pending,
                    h.last_error
                        .map(|e| format!("; last error: {e}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}
