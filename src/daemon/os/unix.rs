//! Linux and macOS alike: SIGTERM / Ctrl-C stop the daemon with `shutdown`, SIGHUP (the
//! session ended) with `logoff`; the state directory is mode 0700.

use shiftready_core::shift::Input;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;

pub async fn wait_for_stop(quit: Arc<Notify>) -> Input {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return Input::Shutdown;
    };
    tokio::select! {
        _ = term.recv() => Input::Shutdown,
        _ = tokio::signal::ctrl_c() => Input::Shutdown,
        _ = hup.recv() => Input::Logoff,
        _ = quit.notified() => Input::Shutdown,
    }
}

pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
