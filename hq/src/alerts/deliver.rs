//! Delivers the outbox's alert messages: each row is one message for one receiver of a site,
//! sent with [`super::send::send`]; the delivery's state (`sent`, `retrying`, `failed`) and
//! last error are recorded for the history page and API. A receiver that is down delays its
//! messages (retried with the outbox's backoff, `Retry-After` honoured) and loses none; one
//! that refuses a message for good gets it marked `failed` with its answer in words, and so
//! does a message HQ cannot read back from its outbox row.

use super::engine::Payload;
use crate::db::Db;
use crate::outbox::{self, Verdict};
use std::future::Future;

/// The outbox worker's deliverer for destinations `alert:SITE`.
pub struct Alerts {
    pub db: Db,
    pub http: reqwest::Client,
}

impl outbox::Deliver for Alerts {
    fn deliver(&self, row: outbox::Row) -> impl Future<Output = Verdict> + Send {
        self.deliver_row(row)
    }
}

impl Alerts {
    async fn deliver_row(&self, row: outbox::Row) -> Verdict {
        match self.try_deliver(&row).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("alert delivery {}: {e:#}", row.id);
                Verdict::Retry {
                    after: outbox::backoff(row.attempts),
                    error: format!("{e:#}"),
                }
            }
        }
    }

    async fn try_deliver(&self, row: &outbox::Row) -> anyhow::Result<Verdict> {
        let now = crate::db::now_ms();
        let p: Payload = match serde_json::from_str(&row.payload) {
            Ok(p) => p,
            Err(e) => {
                // Found in review: the outbox row was given up but its delivery stayed
                // `pending` for ever on the page and in the API.
                let note = format!(
                    "HQ could not read this message (written by another HQ version, or \
                     damaged), so it was not sent: {e}"
                );
                tracing::warn!("alert outbox row {}: {note}", row.id);
                super::store::fail_unreadable(&self.db, row, &note, now).await?;
                return Ok(Verdict::Done {
                    outcome: "rejected",
                    note,
                });
            }
        };
        let rc = super::store::load(&self.db, &p.message.site)
            .await?
            .and_then(|c| c.receivers.into_iter().find(|r| r.name == p.receiver));
        let Some(rc) = rc else {
            let note = format!(
                "the receiver '{}' is no longer in site '{}''s alert file",
                p.receiver, p.message.site
            );
            super::store::note_delivery(&self.db, &p.delivery_id, "failed", Some(&note), now)
                .await?;
            return Ok(Verdict::Done {
                outcome: "rejected",
                note,
            });
        };
        match super::send::send(&self.http, &rc, &p.message, &p.delivery_id).await {
            Ok(()) => {
                super::store::note_delivery(&self.db, &p.delivery_id, "sent", None, now).await?;
                Ok(Verdict::Done {
                    outcome: "ok",
                    note: String::new(),
                })
            }
            Err(e) if e.permanent => {
                tracing::warn!(
                    site = p.message.site,
                    receiver = p.receiver,
                    "alert message refused: {}",
                    e.message
                );
                super::store::note_delivery(
                    &self.db,
                    &p.delivery_id,
                    "failed",
                    Some(&e.message),
                    now,
                )
                .await?;
                Ok(Verdict::Done {
                    outcome: "rejected",
                    note: e.message,
                })
            }
            Err(e) => {
                tracing::warn!(
                    site = p.message.site,
                    receiver = p.receiver,
                    "alert message not delivered yet: {}",
                    e.message
                );
                super::store::note_delivery(
                    &self.db,
                    &p.delivery_id,
                    "retrying",
                    Some(&e.message),
                    now,
                )
                .await?;
                Ok(Verdict::Retry {
                    after: e
                        .retry_after
                        .unwrap_or_else(|| outbox::backoff(row.attempts)),
                    error: e.message,
                })
            }
        }
    }
}
