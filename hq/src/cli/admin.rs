//! IT's administration from the command line: list and revoke tokens and enrollment secrets,
//! list and remove users, devices and scheduled shifts, force a device to enroll again with a
//! one-time code. Each list prints a table, or one JSON document with `--json`; no list ever
//! prints a secret.

use super::{Fail, exit, fail, print_list, rfc3339, when};
use serde_json::json;
use shiftready_hq::db::Db;
use shiftready_hq::db_admin::Credential;

/// The one device `name` (an id or a hostname) names, or a data error saying why not.
pub async fn resolve(db: &Db, name: &str) -> Result<String, Fail> {
    let found = db.devices_named(name).await?;
    match found.as_slice() {
        [] => Err(fail(
            exit::DATA,
            format!(
                "no enrolled agent has the id or hostname '{name}' (`shiftready-hq device list` shows them)"
            ),
        )),
        [(id, _, _)] => Ok(id.clone()),
        several => Err(fail(
            exit::DATA,
            format!(
                "{} devices have the hostname '{name}' ({}); name one by its device id",
                several.len(),
                several
                    .iter()
                    .map(|(id, _, site)| format!("{id} at site {site}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// `token list [--json]`.
pub async fn token_list(db: &Db, as_json: bool) -> Result<(), Fail> {
    let tokens = db.tokens().await?;
    let doc = json!(
        tokens
            .iter()
            .map(|t| json!({
                "id": t.id, "name": t.name, "role": t.role,
                "created_at": rfc3339(Some(t.created_at)), "revoked_at": rfc3339(t.revoked_at),
            }))
            .collect::<Vec<_>>()
    );
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                if t.name.is_empty() {
                    "-".into()
                } else {
                    t.name.clone()
                },
                t.role.clone(),
                when(Some(t.created_at)),
                revoked(t.revoked_at),
            ]
        })
        .collect();
    print_list(
        as_json,
        doc,
        &["id", "name", "role", "created", "state"],
        &rows,
        "No API tokens (`shiftready-hq token create --role viewer` makes one).",
    );
    Ok(())
}

fn revoked(at: Option<i64>) -> String {
    match at {
        Some(_) => format!("revoked {}", when(at)),
        None => "active".into(),
    }
}

/// `enroll-secret list [--json]`.
pub async fn secret_list(db: &Db, as_json: bool) -> Result<(), Fail> {
    let secrets = db.enroll_secrets().await?;
    let doc = json!(
        secrets
            .iter()
            .map(|s| json!({
                "id": s.id, "site": s.site, "created_at": rfc3339(Some(s.created_at)),
                "last_used_at": rfc3339(s.last_used_at), "revoked_at": rfc3339(s.revoked_at),
            }))
            .collect::<Vec<_>>()
    );
    let rows: Vec<Vec<String>> = secrets
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.site.clone(),
                when(Some(s.created_at)),
                when(s.last_used_at),
                revoked(s.revoked_at),
            ]
        })
        .collect();
    print_list(
        as_json,
        doc,
        &["id", "site", "created", "last used", "state"],
        &rows,
        "No enrollment secrets (`shiftready-hq enroll-secret create --site SITE` makes one).",
    );
    Ok(())
}

/// `token revoke ID` and `enroll-secret revoke ID`.
pub async fn revoke(db: &Db, which: Credential, id: &str) -> Result<(), Fail> {
    let what = match which {
        Credential::Token => "API token",
        Credential::EnrollSecret => "Enrollment secret",
    };
    match db.revoke_credential(which, id).await? {
        Ok(true) => {
            let after = match which {
                Credential::Token => "it no longer opens the API or the dashboard",
                Credential::EnrollSecret => {
                    "it enrolls no new device (devices already enrolled keep working)"
                }
            };
            println!("{what} {id} revoked: {after}.");
            Ok(())
        }
        Ok(false) => {
            println!("{what} {id} was already revoked.");
            Ok(())
        }
        Err(m) => Err(fail(exit::DATA, m)),
    }
}

/// `user list [--json]`.
pub async fn user_list(db: &Db, as_json: bool) -> Result<(), Fail> {
    let users = db.users().await?;
    let doc = json!(
        users
            .iter()
            .map(|u| json!({"name": u.name, "role": u.role, "created_at": rfc3339(Some(u.created_at))}))
            .collect::<Vec<_>>()
    );
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| vec![u.name.clone(), u.role.clone(), when(Some(u.created_at))])
        .collect();
    print_list(
        as_json,
        doc,
        &["name", "role", "created"],
        &rows,
        "No dashboard users (`shiftready-hq user add NAME --role admin` adds one).",
    );
    Ok(())
}

/// `user remove NAME`: the user and their sessions.
pub async fn user_remove(db: &Db, name: &str) -> Result<(), Fail> {
    if db.remove_user(name).await? {
        println!("User '{name}' removed and signed out of the dashboard everywhere.");
        Ok(())
    } else {
        Err(fail(
            exit::DATA,
            format!("there is no user '{name}' (`shiftready-hq user list` shows them)"),
        ))
    }
}

/// `device list [--site SITE] [--json]`, warning about hostnames several devices share.
pub async fn device_list(db: &Db, site: Option<&str>, as_json: bool) -> Result<(), Fail> {
    let devices = db.devices(site).await?;
    let doc = json!(
        devices
            .iter()
            .map(|d| json!({
                "id": d.id, "hostname": d.hostname, "site": d.site, "status": d.status,
                "enrolled_at": rfc3339(Some(d.enrolled_at)), "last_seen": rfc3339(d.last_seen),
                "reenroll_code_expires_at": rfc3339(d.reenroll_code_expires_at),
                "same_hostname": d.same_hostname,
            }))
            .collect::<Vec<_>>()
    );
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            let mut note = Vec::new();
            if !d.same_hostname.is_empty() {
                note.push("hostname shared!".to_string());
            }
            if d.status == "reenroll" {
                note.push(match d.reenroll_code_expires_at {
                    Some(t) => format!("code valid until {}", when(Some(t))),
                    None => "no valid code".into(),
                });
            }
            vec![
                d.id.clone(),
                d.hostname.clone(),
                d.site.clone(),
                d.status.clone(),
                when(d.last_seen),
                note.join("; "),
            ]
        })
        .collect();
    print_list(
        as_json,
        doc,
        &["id", "hostname", "site", "status", "last seen", "note"],
        &rows,
        "No devices enrolled.",
    );
    if !as_json {
        let mut seen = std::collections::BTreeSet::new();
        for d in devices.iter().filter(|d| !d.same_hostname.is_empty()) {
            let mut ids = d.same_hostname.clone();
            ids.push(d.id.clone());
            ids.sort();
            if seen.insert(ids.clone()) {
                println!(
                    "Warning: {} devices at site '{}' have the hostname '{}': {}. Name them by \
                     id in `shifts import` and device commands; remove the one no longer in use \
                     (`shiftready-hq device remove ID`).",
                    ids.len(),
                    d.site,
                    d.hostname,
                    ids.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// `device remove ID --yes`: the device with its history.
pub async fn device_remove(db: &Db, name: &str, yes: bool) -> Result<(), Fail> {
    let id = resolve(db, name).await?;
    if !yes {
        return Err(fail(
            exit::USAGE,
            format!(
                "`device remove` deletes device {id} with its whole shift log and reports, which \
                 payroll may still need; add --yes to do it (`device revoke` only stops its key)"
            ),
        ));
    }
    let Some(r) = db.remove_device(&id).await? else {
        return Err(fail(exit::DATA, format!("device {id} is already gone")));
    };
    println!(
        "Device {id} removed with {} events, {} shift-log lines and {} scheduled shifts.",
        r.events, r.shift_log, r.schedules
    );
    Ok(())
}

/// `device reenroll ID`: marks the device and prints its one-time code, last line.
pub async fn device_reenroll(db: &Db, name: &str) -> Result<(), Fail> {
    let id = resolve(db, name).await?;
    let Some((code, expires)) = db.issue_reenroll_code(&id).await? else {
        return Err(fail(exit::DATA, format!("device {id} is gone")));
    };
    println!("Device {id} must enroll again (`shiftready enroll`): its key no longer works.");
    println!(
        "Give the code below to the person at that computer (valid once, until {}). Put it in \
         a file and run: shiftready enroll --hq URL --token-file SECRET_FILE --code-file \
         CODE_FILE. Without the code an enrollment of that hostname is a new device.",
        when(Some(expires))
    );
    println!("Re-enrollment code (shown once):");
    println!("{code}");
    Ok(())
}

/// A time given on the command line: RFC 3339, or a date (`2026-12-01`, midnight UTC).
pub fn parse_time(flag: &str, v: &str) -> Result<i64, Fail> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v.trim()) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d") {
        return Ok(d
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    Err(fail(
        exit::USAGE,
        format!(
            "{flag} '{v}' is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T08:00:00Z)"
        ),
    ))
}

/// `shifts list [--agent A] [--from T] [--to T] [--json]`.
pub async fn shifts_list(
    db: &Db,
    agent: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    as_json: bool,
) -> Result<(), Fail> {
    let id = match agent {
        Some(a) => Some(resolve(db, a).await?),
        None => None,
    };
    let from = from
        .map(|v| parse_time("--from", v))
        .transpose()?
        .unwrap_or(i64::MIN / 2);
    let to = to
        .map(|v| parse_time("--to", v))
        .transpose()?
        .unwrap_or(i64::MAX / 2);
    let rows = db.schedules(id.as_deref(), from, to).await?;
    let doc = json!(
        rows.iter()
            .map(|r| json!({
                "agent_id": r.agent_id, "hostname": r.hostname,
                "start": rfc3339(Some(r.start)), "end": rfc3339(Some(r.end)),
            }))
            .collect::<Vec<_>>()
    );
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.agent_id.clone(),
                r.hostname.clone(),
                when(Some(r.start)),
                when(Some(r.end)),
            ]
        })
        .collect();
    print_list(
        as_json,
        doc,
        &["agent", "hostname", "start", "end"],
        &table,
        "No scheduled shifts.",
    );
    Ok(())
}

/// `shifts delete --agent A (--start T | --from T --to T)`.
pub async fn shifts_delete(
    db: &Db,
    agent: &str,
    start: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(), Fail> {
    let (lo, hi) = match (start, from, to) {
        (Some(s), None, None) => {
            let s = parse_time("--start", s)?;
            (s, s + 1)
        }
        (None, Some(f), Some(t)) => {
            let (f, t) = (parse_time("--from", f)?, parse_time("--to", t)?);
            if t <= f {
                return Err(fail(exit::USAGE, "--to must be after --from"));
            }
            (f, t)
        }
        _ => {
            return Err(fail(
                exit::USAGE,
                "say which shifts: --start TIME (one shift) or --from TIME --to TIME (the \
                 shifts starting in that range)",
            ));
        }
    };
    let id = resolve(db, agent).await?;
    let n = db.delete_schedules(&id, lo, hi).await?;
    if n == 0 {
        return Err(fail(
            exit::DATA,
            format!(
                "agent {id} has no shift starting there (`shiftready-hq shifts list --agent {id}` \
                 shows its shifts)"
            ),
        ));
    }
    println!(
        "Deleted {n} shift{} of agent {id}.",
        if n == 1 { "" } else { "s" }
    );
    Ok(())
}

/// After `policy set`: a warning when no device belongs to the site (a typo, or a site whose
/// devices enroll with another site's secret).
pub async fn warn_empty_site(db: &Db, site: &str) -> Result<(), Fail> {
    if db.site_device_count(site).await? > 0 {
        return Ok(());
    }
    let mut with_devices = Vec::new();
    for d in db.devices(None).await? {
        if !with_devices.contains(&d.site) {
            with_devices.push(d.site);
        }
    }
    let others = if with_devices.is_empty() {
        "no site has devices yet".to_string()
    } else {
        format!("sites with devices: {}", with_devices.join(", "))
    };
    eprintln!(
        "shiftready-hq: warning: no device belongs to site '{site}' ({others}). Devices join \
         a site by enrolling with its secret (`shiftready-hq enroll-secret create --site {site}`)."
    );
    Ok(())
}
