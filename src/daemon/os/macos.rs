//! macOS: signals and the state directory as on every Unix; sleep, wake and log-out from
//! NSWorkspace's notification centre (`macos_events.rs` says what each means); notifications
//! through `osascript`'s `display notification` (Notification Center, from any process: the
//! UserNotifications framework wants an app bundle with a signed identity, which the daemon is
//! not). Built for macOS, not run on one (see the README).
#![allow(unsafe_code)]

use super::PowerEvent;
use super::macos_events::input_for;
pub use super::unix::{restrict_dir, wait_for_stop};
use block2::RcBlock;
use objc2_app_kit::{
    NSWorkspace, NSWorkspaceDidWakeNotification, NSWorkspaceSessionDidResignActiveNotification,
    NSWorkspaceWillPowerOffNotification, NSWorkspaceWillSleepNotification,
};
use objc2_foundation::{NSNotification, NSRunLoop};
use shiftready_core::shift::Input;
use std::process::{Command, Stdio};
use std::ptr::NonNull;
use tokio::sync::{mpsc, oneshot};

/// Hands sleep, wake and log-out to the daemon. The observers live on a thread of their own
/// that runs its run loop for as long as the process does.
pub async fn power_events(tx: mpsc::Sender<PowerEvent>) {
    let (bridge, mut inputs) = mpsc::unbounded_channel::<Input>();
    if let Err(e) = std::thread::Builder::new()
        .name("nsworkspace".into())
        .spawn(move || observe(bridge))
    {
        tracing::warn!("no sleep and log-out notifications (no thread: {e})");
        return;
    }
    tracing::info!("listening for sleep, wake and log-out from NSWorkspace");
    while let Some(input) = inputs.recv().await {
        let (done, handled) = oneshot::channel();
        if tx.send((input, done)).await.is_err() {
            return;
        }
        // macOS does not wait for NSWorkspace observers; the next event waits for this one.
        let _ = handled.await;
    }
}

fn observe(bridge: mpsc::UnboundedSender<Input>) {
    let workspace = NSWorkspace::sharedWorkspace();
    let center = workspace.notificationCenter();
    // SAFETY: AppKit's notification-name constants, immutable statics read once.
    let names = unsafe {
        [
            NSWorkspaceWillSleepNotification,
            NSWorkspaceDidWakeNotification,
            NSWorkspaceWillPowerOffNotification,
            NSWorkspaceSessionDidResignActiveNotification,
        ]
    };
    let mut tokens = Vec::new();
    for name in names {
        let bridge = bridge.clone();
        let block = RcBlock::new(move |n: NonNull<NSNotification>| {
            // SAFETY: the centre passes a live notification for the duration of the call.
            let name = unsafe { n.as_ref() }.name().to_string();
            if let Some(input) = input_for(&name) {
                tracing::info!("{name}: {input:?}");
                let _ = bridge.send(input);
            }
        });
        // SAFETY: no object filter; no queue (the block runs on the posting thread, and only
        // sends on a channel, which is thread-safe); the block is kept alive by the centre.
        let token = unsafe {
            center.addObserverForName_object_queue_usingBlock(Some(name), None, None, &block)
        };
        tokens.push(token);
    }
    // The observers stay registered (their tokens alive) while this thread's run loop runs.
    NSRunLoop::currentRunLoop().run();
    drop(tokens);
}

pub fn notify(summary: &str, body: &str) {
    // The strings are arguments of the script, never part of its text: nothing to escape.
    let spawned = Command::new("osascript")
        .args([
            "-e",
            "on run argv",
            "-e",
            "display notification (item 2 of argv) with title \"ShiftReady\" subtitle (item 1 of argv)",
            "-e",
            "end run",
            summary,
            body,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            let summary = summary.to_string();
            // Reaped on a thread of its own: the daemon never waits for it.
            std::thread::spawn(move || match child.wait() {
                Ok(s) if s.success() => tracing::info!("desktop notification shown: {summary}"),
                Ok(s) => tracing::info!("no desktop notification (osascript: {s}): {summary}"),
                Err(e) => tracing::info!("no desktop notification ({e}): {summary}"),
            });
        }
        Err(e) => tracing::info!(
            "no desktop notification ({e}); the agent was to be told: {summary}: {body}"
        ),
    }
}
