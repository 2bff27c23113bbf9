//! No local IPC on this OS yet: the daemon's server listens nowhere, and every request says
//! the daemon is not running.

use super::{Incoming, Request, Response, not_running};
use std::path::{Path, PathBuf};

/// Where the daemon would listen.
pub fn endpoint(state_dir: &Path) -> String {
    super::socket_path(state_dir).display().to_string()
}

/// Always "not running".
pub fn request(state_dir: &Path, _req: Request) -> anyhow::Result<Response> {
    Err(not_running(
        &endpoint(state_dir),
        &std::io::Error::other("local IPC is not built for this platform"),
    ))
}

/// A server that listens nowhere: the daemon runs, and only its UI (the tray) talks to it.
pub struct Server {
    path: PathBuf,
}

impl Server {
    pub fn bind(state_dir: &Path) -> anyhow::Result<Server> {
        Ok(Server {
            path: super::socket_path(state_dir),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns at once: no request comes this way.
    pub async fn serve(self, _to_daemon: tokio::sync::mpsc::Sender<Incoming>) {
        tracing::info!(
            "no local IPC on this platform: `shiftready status` cannot reach the daemon"
        );
    }
}
