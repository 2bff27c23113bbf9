//! Linux: sleep and shutdown from logind (`crate::daemon::logind`), signals and the state
//! directory as on every Unix, and desktop notifications as `Notify` of the freedesktop
//! notification spec on the session D-Bus, straight through zbus (no `notify-send` needed);
//! without a session bus or a notification server the notice is only logged.

pub use super::unix::{restrict_dir, wait_for_stop};
use std::time::Duration;

pub async fn power_events(tx: tokio::sync::mpsc::Sender<super::PowerEvent>) {
    crate::daemon::logind::run(tx).await
}

pub fn notify(summary: &str, body: &str) {
    let (summary, body) = (summary.to_string(), body.to_string());
    tokio::spawn(async move {
        match desktop_notify(&summary, &body).await {
            Ok(id) => tracing::info!(id, "desktop notification shown: {summary}"),
            Err(e) => tracing::info!(
                "no desktop notification ({e}); the agent was to be told: {summary}: {body}"
            ),
        }
    });
}

/// `Notify` on the session bus; returns the id the notification server gave it.
async fn desktop_notify(summary: &str, body: &str) -> zbus::Result<u32> {
    let conn = zbus::Connection::session().await?;
    let mut hints: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> =
        std::collections::HashMap::new();
    // Urgency "normal" (1); the category tells servers what kind of message this is.
    hints.insert("urgency", zbus::zvariant::Value::U8(1));
    hints.insert("category", zbus::zvariant::Value::from("presence"));
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        conn.call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &(
                "ShiftReady",
                0u32,
                "shiftready",
                summary,
                body,
                Vec::<&str>::new(),
                hints,
                -1i32,
            ),
        ),
    )
    .await
    .map_err(|_| zbus::Error::Failure("the notification server did not answer".into()))??;
    reply.body().deserialize::<u32>()
}
