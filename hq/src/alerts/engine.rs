//! Evaluation: for each site with an alert file, reads its agents ([`snapshot`]), asks
//! [`super::rules::conditions`] what holds, then opens an alert for each condition that has held
//! long enough and has none open, and resolves each open alert whose condition no longer holds.
//! Each opening and resolution writes its messages to the outbox in the same transaction, one
//! per receiver. Several HQ processes on one database may evaluate at once: the unique index on
//! open alert keys lets one of them open an alert, and a conditional update lets one resolve it,
//! so every message is written once.

use super::config::{AlertConfig, CORRELATED};
use super::message::{Message, Status};
use super::rules::{self, Agent, Condition, OpenIncident, Since};
use super::store::Detail;
use crate::db::{Db, FleetFilter};
use proto::event::{Event, EventBody, IncidentState};
use sqlx::Row as _;
use std::collections::{BTreeMap, BTreeSet};

/// The outbox destination of a site's alert messages.
pub fn destination(site: &str) -> String {
    format!("alert:{site}")
}

/// The outbox kind of an alert message.
pub const ALERT_MESSAGE: &str = "alert_message";

/// An outbox row's payload: the message, its receiver, and the delivery's id.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    pub delivery_id: String,
    pub receiver: String,
    pub message: Message,
}

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub opened: Vec<String>,
    pub resolved: Vec<String>,
}

/// Evaluates every site's rules once.
pub async fn evaluate(db: &Db, now: i64) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    for (site, cfg, _) in super::store::all(db).await? {
        let o = evaluate_site(db, &site, &cfg, now).await?;
        out.opened.extend(o.opened);
        out.resolved.extend(o.resolved);
    }
    Ok(out)
}

/// The site's agents as the rules see them: the signed-in ones with their open incidents, and
/// those HQ signed out for lost contact and has not heard from since.
pub async fn snapshot(db: &Db, site: &str, now: i64) -> anyhow::Result<Vec<Agent>> {
    let filter = FleetFilter {
        site: Some(site.to_string()),
        state: Some("signed_in".into()),
        ..FleetFilter::default()
    };
    let (rows, _) = db.fleet(now, &filter).await?;
    let mut agents: BTreeMap<String, Agent> = rows
        .into_iter()
        .filter(|r| r.status == "active")
        .map(|r| {
            (
                r.id.clone(),
                Agent {
                    not_ready: r.state == "not_ready",
                    id: r.id,
                    hostname: r.name,
                    signed_in: r.signed_in,
                    ..Agent::default()
                },
            )
        })
        .collect();
    // Incidents of this shift (and of the last day at most), each name's latest event.
    let rows = sqlx::query(
        "SELECT e.device_id, e.body, a.prefix FROM events e JOIN devices d ON d.id = e.device_id \
         LEFT JOIN event_addrs a ON a.event_id = e.id \
         WHERE e.kind = 'incident' AND d.site = $1 AND d.signed_in = 1 AND d.status = 'active' \
         AND e.at >= COALESCE(d.shift_at, 0) AND e.at >= $2 ORDER BY e.at, e.received_at",
    )
    .bind(site)
    .bind(now - 86_400_000)
    .fetch_all(&db.pool)
    .await?;
    let mut open: BTreeMap<(String, String), OpenIncident> = BTreeMap::new();
    for r in &rows {
        let device: String = r.try_get("device_id")?;
        let Ok(e) = serde_json::from_str::<Event>(&r.try_get::<String, _>("body")?) else {
            continue;
        };
        let EventBody::Incident {
            name,
            state,
            detail,
            scope,
        } = e.body
        else {
            continue;
        };
        let k = (device, name.clone());
        match state {
            IncidentState::Started => {
                open.insert(
                    k,
                    OpenIncident {
                        name,
                        started_at: e.at.timestamp_millis(),
                        detail,
                        scope: scope.map(|s| s.as_str().to_string()),
                        prefix: r.try_get("prefix")?,
                    },
                );
            }
            IncidentState::Ended => {
                open.remove(&k);
            }
        }
    }
    for ((device, _), i) in open {
        if let Some(a) = agents.get_mut(&device) {
            a.incidents.push(i);
        }
    }
    let lost = sqlx::query(
        "SELECT id, hostname, shift_at FROM devices WHERE site = $1 AND status = 'active' \
         AND signed_in = 0 AND shift_reason = 'lost_contact' AND shift_at IS NOT NULL \
         AND (last_seen IS NULL OR last_seen <= shift_at)",
    )
    .bind(site)
    .fetch_all(&db.pool)
    .await?;
    for r in &lost {
        let id: String = r.try_get("id")?;
        agents.insert(
            id.clone(),
            Agent {
                id,
                hostname: r.try_get("hostname")?,
                lost_contact_at: r.try_get("shift_at")?,
                ..Agent::default()
            },
        );
    }
    Ok(agents.into_values().collect())
}

struct OpenAlert {
    id: String,
    key: String,
    rule: String,
    subject: String,
    summary: String,
    detail: Detail,
    opened_at: i64,
}

/// Evaluates one site's rules once.
pub async fn evaluate_site(
    db: &Db,
    site: &str,
    cfg: &AlertConfig,
    now: i64,
) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let agents = snapshot(db, site, now).await?;
    let open: Vec<OpenAlert> = sqlx::query(
        "SELECT id, alert_key, rule, subject, summary, detail, opened_at FROM alerts \
         WHERE site = $1 AND resolved_at IS NULL",
    )
    .bind(site)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(OpenAlert {
            id: r.try_get("id")?,
            key: r.try_get("alert_key")?,
            rule: r.try_get("rule")?,
            subject: r.try_get("subject")?,
            summary: r.try_get("summary")?,
            detail: serde_json::from_str(&r.try_get::<String, _>("detail")?).unwrap_or_default(),
            opened_at: r.try_get("opened_at")?,
        })
    })
    .collect::<anyhow::Result<_>>()?;
    let in_correlated: BTreeSet<String> = open
        .iter()
        .filter(|a| a.rule == CORRELATED)
        .flat_map(|a| a.detail.agents.iter().map(|r| r.device_id.clone()))
        .collect();
    let conds = rules::conditions(site, cfg, &agents, &in_correlated, now);
    let since = first_seen(db, site, &conds, now).await?;
    let open_keys: BTreeSet<&str> = open.iter().map(|a| a.key.as_str()).collect();
    for c in &conds {
        let began = match c.since {
            Since::At(t) => t,
            Since::FirstSeen => since.get(&c.key).copied().unwrap_or(now),
        };
        if !c.may_open || open_keys.contains(c.key.as_str()) || now - began < c.after_ms {
            continue;
        }
        if let Some(id) = open_alert(db, site, cfg, c, now).await? {
            tracing::info!(site, key = c.key, "alert opened: {}", c.summary);
            out.opened.push(id);
        }
    }
    let holding: BTreeSet<&str> = conds.iter().map(|c| c.key.as_str()).collect();
    for a in open.iter().filter(|a| !holding.contains(a.key.as_str())) {
        if resolve_alert(db, site, cfg, a, now).await? {
            tracing::info!(site, key = a.key, "alert resolved: {}", a.summary);
            out.resolved.push(a.id.clone());
        }
    }
    Ok(out)
}

/// When each `FirstSeen` condition was first seen holding (now for a new one), by its key;
/// forgets the site's conditions that no longer hold.
///
/// Rows are the site's by an exact match on their `site` column and are told apart by
/// `(rule, subject)` (migration 0013). Found in review: keys `RULE:SITE:SUBJECT` matched by
/// prefix took site `a:b`'s rows for site `a`'s, and site `a`'s evaluation deleted them, so
/// site `a:b`'s not-ready share never held long enough to open an alert.
async fn first_seen(
    db: &Db,
    site: &str,
    conds: &[Condition],
    now: i64,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let wanted: BTreeMap<(&str, &str), &str> = conds
        .iter()
        .filter(|c| c.since == Since::FirstSeen)
        .map(|c| ((c.rule, c.subject.as_str()), c.key.as_str()))
        .collect();
    let rows = sqlx::query("SELECT rule, subject, since FROM alert_pending WHERE site = $1")
        .bind(site)
        .fetch_all(&db.pool)
        .await?;
    let mut have = BTreeMap::new();
    for r in &rows {
        let rule: String = r.try_get("rule")?;
        let subject: String = r.try_get("subject")?;
        match wanted.get(&(rule.as_str(), subject.as_str())) {
            Some(key) => {
                have.insert(key.to_string(), r.try_get::<i64, _>("since")?);
            }
            None => {
                sqlx::query(
                    "DELETE FROM alert_pending WHERE site = $1 AND rule = $2 AND subject = $3",
                )
                .bind(site)
                .bind(&rule)
                .bind(&subject)
                .execute(&db.pool)
                .await?;
            }
        }
    }
    for ((rule, subject), key) in wanted {
        if !have.contains_key(key) {
            sqlx::query(
                "INSERT INTO alert_pending (site, rule, subject, since) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (site, rule, subject) DO NOTHING",
            )
            .bind(site)
            .bind(rule)
            .bind(subject)
            .bind(now)
            .execute(&db.pool)
            .await?;
            have.insert(key.to_string(), now);
        }
    }
    Ok(have)
}

/// Opens the alert of `c` unless one is open for its key (another process was first); writes
/// its firing messages in the same transaction. Returns the new alert's id.
async fn open_alert(
    db: &Db,
    site: &str,
    cfg: &AlertConfig,
    c: &Condition,
    now: i64,
) -> anyhow::Result<Option<String>> {
    let id = uuid::Uuid::new_v4().to_string();
    let detail = Detail {
        lines: c.lines.clone(),
        agents: c.agents.clone(),
    };
    let mut tx = db.pool.begin().await?;
    let r = sqlx::query(
        "INSERT INTO alerts (id, alert_key, rule, site, subject, summary, detail, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (alert_key) WHERE resolved_at IS NULL DO NOTHING",
    )
    .bind(&id)
    .bind(&c.key)
    .bind(c.rule)
    .bind(site)
    .bind(&c.subject)
    .bind(&c.summary)
    .bind(serde_json::to_string(&detail)?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    let msg = Message {
        status: Status::Firing,
        alert_id: Some(id.clone()),
        key: c.key.clone(),
        rule: c.rule.to_string(),
        site: site.to_string(),
        subject: c.subject.clone(),
        summary: c.summary.clone(),
        lines: c.lines.clone(),
        agents: c.agents.clone(),
        opened_at: now,
        resolved_at: None,
        dashboard_url: cfg.dashboard_url.clone(),
    };
    enqueue(&mut tx, cfg, &msg, now).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Resolves an open alert (unless another process did) and writes its resolved messages.
async fn resolve_alert(
    db: &Db,
    site: &str,
    cfg: &AlertConfig,
    a: &OpenAlert,
    now: i64,
) -> anyhow::Result<bool> {
    let mut tx = db.pool.begin().await?;
    let r = sqlx::query("UPDATE alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL")
        .bind(&a.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if r.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    let msg = Message {
        status: Status::Resolved,
        alert_id: Some(a.id.clone()),
        key: a.key.clone(),
        rule: a.rule.clone(),
        site: site.to_string(),
        subject: a.subject.clone(),
        summary: a.summary.clone(),
        lines: a.detail.lines.clone(),
        agents: a.detail.agents.clone(),
        opened_at: a.opened_at,
        resolved_at: Some(now),
        dashboard_url: cfg.dashboard_url.clone(),
    };
    enqueue(&mut tx, cfg, &msg, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// One delivery per receiver that takes the message's rule: a row in `alert_deliveries` and
/// one in the outbox, ordered per receiver (a receiver that is down holds back only its own
/// messages, and its resolved message never overtakes the firing one).
async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    cfg: &AlertConfig,
    msg: &Message,
    now: i64,
) -> anyhow::Result<()> {
    for rc in cfg.receivers.iter().filter(|r| r.takes(&msg.rule)) {
        let delivery_id = uuid::Uuid::new_v4().to_string();
        let payload = Payload {
            delivery_id: delivery_id.clone(),
            receiver: rc.name.clone(),
            message: msg.clone(),
        };
        let outbox_id = crate::outbox::enqueue(
            conn,
            &destination(&msg.site),
            &format!("alert:{}:{}", msg.site, rc.name),
            ALERT_MESSAGE,
            &serde_json::to_string(&payload)?,
            now,
        )
        .await?;
        // The delivery knows its outbox row: a row whose payload cannot be read still marks
        // its delivery failed ([`super::deliver`]).
        sqlx::query(
            "INSERT INTO alert_deliveries (id, alert_id, site, message, receiver, receiver_kind, \
             state, created_at, updated_at, outbox_id) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $8)",
        )
        .bind(&delivery_id)
        .bind(&msg.alert_id)
        .bind(&msg.site)
        .bind(msg.status.as_str())
        .bind(&rc.name)
        .bind(rc.kind.as_str())
        .bind(now)
        .bind(outbox_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
