//! `shiftready-hq alert ...`: a site's alert rules and receivers (issue 15).

use clap::Subcommand;
use shiftready_hq::alerts::{self, config::AlertConfig};
use shiftready_hq::db::{self, Db};
use std::path::PathBuf;

/// Exit codes (sysexits.h), as the rest of the CLI uses them.
const USAGE: u8 = 64;
const DATA: u8 = 65;
const NO_INPUT: u8 = 66;
const UNAVAILABLE: u8 = 69;
const SOFTWARE: u8 = 70;
const CONFIG: u8 = 78;

#[derive(Debug, Subcommand)]
pub enum AlertCmd {
    /// Sets a site's alert rules and receivers from a TOML file ([rules.*], [[receivers]]);
    /// every problem is listed with its key.
    Set {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
        file: PathBuf,
    },
    /// Every site's rules and receivers (names and kinds; never a secret or a URL).
    List {
        /// Print one JSON document instead of the text.
        #[arg(long)]
        json: bool,
    },
    /// Sends one test message to every receiver of the site and says what failed, in words.
    Test {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
    },
    /// Removes a site's alert rules and receivers: nothing more is evaluated or sent for it;
    /// its open alerts are closed (without a resolved message); the history is kept.
    Unset {
        #[arg(long, default_value = db::DEFAULT_SITE)]
        site: String,
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
        return Err((USAGE, "--site must be 1 to 100 printable characters".into()));
    }
    Ok(())
}

/// The rules of a file in words: `incident_open (5 min: headset_gone, network_degraded)`.
fn rules_text(c: &AlertConfig) -> Vec<String> {
    let r = &c.rules;
    let mut out = Vec::new();
    if let Some(i) = &r.incident_open {
        out.push(format!(
            "incident_open ({} min: {})",
            i.minutes,
            i.incidents.join(", ")
        ));
    }
    if let Some(l) = &r.lost_contact {
        out.push(format!(
            "lost_contact (sign-outs within {} min)",
            l.within_minutes
        ));
    }
    if let Some(s) = &r.not_ready_share {
        out.push(format!(
            "not_ready_share (over {} % for {} min, {} signed in at least)",
            s.percent, s.minutes, s.min_signed_in
        ));
    }
    if let Some(k) = &r.correlated {
        out.push(format!(
            "correlated ({} agents{} within {} min)",
            k.agents,
            k.percent.map(|p| format!(" or {p} %")).unwrap_or_default(),
            k.window_minutes
        ));
    }
    out
}

/// Runs an `alert` command; the error is (exit code, message).
pub async fn run(cmd: AlertCmd, database_url: &Option<String>) -> Result<(), Fail> {
    match cmd {
        AlertCmd::Set { site, file } => {
            check_site(&site)?;
            let cfg: AlertConfig = proto::load::load_file(&file).map_err(|e| {
                let unreadable = e
                    .problems
                    .iter()
                    .any(|p| p.key.is_empty() && p.message.starts_with("cannot read"));
                let code = if unreadable { NO_INPUT } else { CONFIG };
                (code, e.to_string().trim_end().to_string())
            })?;
            let db = open(database_url).await?;
            alerts::store::set(&db, &site, &cfg).await.map_err(soft)?;
            println!(
                "Alert rules for site '{site}' set from {}: {}; {} receiver(s). Check them with \
                 `shiftready-hq alert test --site {site}`.",
                file.display(),
                rules_text(&cfg).join(", "),
                cfg.receivers.len()
            );
            Ok(())
        }
        AlertCmd::List { json } => {
            let db = open(database_url).await?;
            let all = alerts::store::all(&db).await.map_err(soft)?;
            if json {
                let v: Vec<serde_json::Value> = all
                    .iter()
                    .map(|(site, c, _)| {
                        serde_json::json!({
                            "site": site,
                            "rules": rules_text(c),
                            "receivers": c.receivers.iter().map(|r| serde_json::json!({
                                "name": r.name, "kind": r.kind.as_str(), "rules": r.rules,
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
                return Ok(());
            }
            if all.is_empty() {
                println!("No site has alert rules.");
            }
            for (site, c, _) in all {
                println!("{site}: {}", rules_text(&c).join("; "));
                for r in &c.receivers {
                    println!(
                        "  → {} ({}){}",
                        r.name,
                        r.kind.as_str(),
                        r.rules
                            .as_ref()
                            .map(|x| format!(", only {}", x.join(", ")))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        AlertCmd::Unset { site } => {
            check_site(&site)?;
            let db = open(database_url).await?;
            let done = alerts::store::unset(&db, &site, db::now_ms())
                .await
                .map_err(soft)?;
            if !done.had_rules {
                return Err((
                    DATA,
                    format!(
                        "site '{site}' has no alert rules; nothing changed \
                         (`shiftready-hq alert list` shows the sites that have them)"
                    ),
                ));
            }
            println!(
                "Alert rules for site '{site}' removed: nothing more is evaluated or sent for it.{}",
                match done.closed {
                    0 => String::new(),
                    n => format!(
                        " {n} open alert(s) closed without a resolved message; the history \
                         stays on /alerts."
                    ),
                }
            );
            Ok(())
        }
        AlertCmd::Test { site } => {
            check_site(&site)?;
            let db = open(database_url).await?;
            let results = alerts::test(&db, &site)
                .await
                .map_err(soft)?
                .map_err(|m| (UNAVAILABLE, format!("alert test failed: {m}")))?;
            let mut failed = 0;
            for (who, r) in &results {
                match r {
                    Ok(()) => println!("OK: {who} accepted the test message."),
                    Err(m) => {
                        failed += 1;
                        println!("FAILED: {who}: {m}");
                    }
                }
            }
            if failed > 0 {
                return Err((
                    UNAVAILABLE,
                    format!(
                        "alert test: {failed} of {} receiver(s) failed (see above)",
                        results.len()
                    ),
                ));
            }
            Ok(())
        }
    }
}
