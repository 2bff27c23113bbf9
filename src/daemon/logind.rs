//! Linux: logind announces sleep and shutdown on the system D-Bus (`PrepareForSleep`,
//! `PrepareForShutdown` of `org.freedesktop.login1.Manager`). The daemon holds a "delay"
//! inhibitor lock so the machine waits (up to logind's `InhibitDelayMaxSec`) until the
//! sign-out is in the spool, then lets go; after waking it takes a new lock.
//!
//! Without a system bus (containers, CI) this task logs once and ends: suspend is then
//! noticed from the wall clock's jump after waking, and shutdown from SIGTERM.

use futures::StreamExt;
use shiftready_core::shift::Input;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const LOGIND: &str = "org.freedesktop.login1";
const PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";

/// A power event and the channel to say "handled" on (then the lock is released).
pub type PowerEvent = (Input, oneshot::Sender<()>);

async fn inhibit(conn: &zbus::Connection) -> Option<zbus::zvariant::OwnedFd> {
    let reply = conn
        .call_method(
            Some(LOGIND),
            PATH,
            Some(MANAGER),
            "Inhibit",
            &(
                "sleep:shutdown",
                "ShiftReady",
                "Signing you out of your shift",
                "delay",
            ),
        )
        .await;
    match reply {
        Ok(m) => m.body().deserialize::<zbus::zvariant::OwnedFd>().ok(),
        Err(e) => {
            tracing::info!("no logind inhibitor lock ({e}); sign-out on sleep is best effort");
            None
        }
    }
}

/// Listens for logind's signals and hands them to the daemon until it goes away.
pub async fn run(tx: mpsc::Sender<PowerEvent>) {
    if let Err(e) = listen(tx).await {
        tracing::info!(
            "no logind on the system D-Bus ({e}); suspend is noticed from the clock after \
             waking, shutdown from SIGTERM"
        );
    }
}

async fn listen(tx: mpsc::Sender<PowerEvent>) -> zbus::Result<()> {
    let conn = zbus::Connection::system().await?;
    let mut rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(MANAGER)?
        .path(PATH)?;
    // Test hook: accept the signals from any sender (a test bus has no real logind).
    if crate::test_hooks::var(crate::test_hooks::LOGIND_ANY_SENDER).is_none() {
        rule = rule.sender(LOGIND)?;
    }
    let mut stream = zbus::MessageStream::for_match_rule(rule.build(), &conn, None).await?;
    let mut lock = inhibit(&conn).await;
    tracing::info!("listening for sleep and shutdown from logind");
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { continue };
        let member = msg.header().member().map(|m| m.as_str().to_string());
        let Ok((starting,)) = msg.body().deserialize::<(bool,)>() else {
            continue;
        };
        let input = match (member.as_deref(), starting) {
            (Some("PrepareForSleep"), true) => Input::Suspend,
            (Some("PrepareForSleep"), false) => Input::Resume,
            (Some("PrepareForShutdown"), true) => Input::Shutdown,
            _ => continue,
        };
        tracing::info!(?input, "logind");
        let (done, handled) = oneshot::channel();
        if tx.send((input, done)).await.is_err() {
            return Ok(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), handled).await;
        match input {
            // The sign-out is in the spool: let the machine go.
            Input::Suspend | Input::Shutdown => lock = None,
            _ if lock.is_none() => lock = inhibit(&conn).await,
            _ => {}
        }
    }
    drop(lock);
    Ok(())
}
