//! No local IPC on this OS yet: every request says the daemon is not running.

use super::{Request, Response, not_running};
use std::path::Path;

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
