//! Windows: log-off, shutdown and sleep from the session window's messages
//! (`crate::daemon::winsession`); Ctrl-C or the tray's quit stop the daemon; notifications are
//! logged (the tray shows the state). The state directory lives under the user's
//! `%LOCALAPPDATA%`, whose ACL already admits that user alone.

pub use super::{ctrl_c_or_quit as wait_for_stop, leave_dir as restrict_dir, log_notice as notify};

pub async fn power_events(tx: tokio::sync::mpsc::Sender<super::PowerEvent>) {
    crate::daemon::winsession::run(tx).await
}
