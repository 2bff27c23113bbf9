//! What an agent's platform state should be, decided inside the transaction that changed the
//! agent (the ingest writer's, the lost-contact sweep's), and the outbox row when it moved.
//! Signed in and meeting the site's readiness bar → available; an open incident the connector
//! blocks on → not ready with that incident as the reason; under the bar → not ready
//! (`below_bar`); recovered → available; signed out for any reason → offline.

use super::config::ConnectorConfig;
use super::push::{Change, Target};
use crate::outbox;
use proto::event::{Event, EventBody, IncidentState};
use proto::policy::ReadinessBar;
use sqlx::Row;
use std::collections::BTreeSet;

/// The outbox destination of a site's connector.
pub fn destination(site: &str) -> String {
    format!("connector:{site}")
}

/// The outbox kind of an agent's state change.
pub const AGENT_STATE: &str = "agent_state";

/// Called in the transaction that stored `events` (new, in the order HQ received them, each
/// with its device) or changed the `devices`' shift state: for every such device mapped to a
/// platform user of a site with a connector, updates its open incidents and, when the state
/// the platform should show moved, writes the change to the outbox. One query when none of
/// the devices is mapped (the common case).
pub async fn after_events(
    conn: &mut sqlx::AnyConnection,
    postgres: bool,
    devices: &[&str],
    events: &[(&str, &Event)],
    now: i64,
) -> anyhow::Result<()> {
    let mut ids: BTreeSet<&str> = devices.iter().copied().collect();
    ids.extend(events.iter().map(|(d, _)| *d));
    if ids.is_empty() {
        return Ok(());
    }
    let list = if postgres {
        "SELECT json_array_elements_text($1::json)"
    } else {
        "SELECT value FROM json_each($1)"
    };
    let sql = format!(
        "SELECT cu.device_id, cu.platform_user, cu.incidents, cu.desired, d.signed_in, \
         d.readiness, d.shift_reason, d.hostname, d.site, s.policy, c.config \
         FROM connector_users cu JOIN devices d ON d.id = cu.device_id \
         JOIN connectors c ON c.site = d.site JOIN sites s ON s.name = d.site \
         WHERE cu.device_id IN ({list}) AND cu.site = d.site"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::to_string(&ids)?)
        .fetch_all(&mut *conn)
        .await?;
    for r in rows {
        let device: String = r.try_get("device_id")?;
        let cfg: ConnectorConfig = serde_json::from_str(&r.try_get::<String, _>("config")?)?;
        let old_incidents: String = r.try_get("incidents")?;
        let mut incidents: BTreeSet<String> = old_incidents
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        for (_, e) in events.iter().filter(|(d, _)| *d == device) {
            match &e.body {
                // A shift starts and ends with no incident open: the daemon raises them again
                // during the next one.
                EventBody::SignIn { .. } | EventBody::SignOut { .. } => incidents.clear(),
                EventBody::Incident { name, state, .. } => {
                    match state {
                        IncidentState::Started => incidents.insert(name.clone()),
                        IncidentState::Ended => incidents.remove(name),
                    };
                }
                _ => {}
            }
        }
        let signed_in = r.try_get::<i64, _>("signed_in")? == 1;
        let readiness = r
            .try_get::<Option<String>, _>("readiness")?
            .and_then(|s| serde_json::from_value(serde_json::Value::String(s)).ok())
            .unwrap_or(proto::Readiness::Unknown);
        let policy: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("policy")?)?;
        let bar: ReadinessBar =
            serde_json::from_value(policy["shift"]["readiness_bar"].clone()).unwrap_or_default();
        let shift_reason: Option<String> = r.try_get("shift_reason")?;
        let (target, reason) = if !signed_in {
            (
                Target::Offline,
                shift_reason.unwrap_or_else(|| "signed_out".into()),
            )
        } else if let Some(i) = incidents.iter().find(|i| cfg.blocks(i)) {
            (Target::NotReady, i.clone())
        } else if !readiness.meets(bar) {
            (Target::NotReady, "below_bar".to_string())
        } else {
            (Target::Available, String::new())
        };
        let key = match target {
            Target::NotReady => format!("not_ready:{reason}"),
            t => t.as_str().to_string(),
        };
        let old: Option<String> = r.try_get("desired")?;
        let was = old.as_deref().unwrap_or("offline");
        let new_incidents = incidents.into_iter().collect::<Vec<_>>().join(",");
        if was == key && new_incidents == old_incidents {
            continue;
        }
        sqlx::query("UPDATE connector_users SET incidents = $2, desired = $3 WHERE device_id = $1")
            .bind(&device)
            .bind(&new_incidents)
            .bind(&key)
            .execute(&mut *conn)
            .await?;
        if was == key {
            continue;
        }
        let reason = match target {
            Target::Available if was == "offline" => "signed_in".to_string(),
            Target::Available => "recovered".to_string(),
            _ => reason,
        };
        let change = Change {
            id: uuid::Uuid::new_v4(),
            device_id: device.clone(),
            hostname: r.try_get("hostname")?,
            platform_user: r.try_get("platform_user")?,
            state: target,
            reason,
            at: now,
        };
        let site: String = r.try_get("site")?;
        outbox::enqueue(
            conn,
            &destination(&site),
            &device,
            AGENT_STATE,
            &serde_json::to_string(&change)?,
            now,
        )
        .await?;
    }
    Ok(())
}
