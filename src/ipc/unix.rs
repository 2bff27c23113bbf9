//! Unix: the daemon's socket in its state dir (mode 0600, peers checked by uid).

use super::conn::handle;
use super::{
    ANSWER_WAIT, Incoming, IpcError, Request, Response, no_answer, not_running, parse_answer,
    socket_path,
};
use std::path::{Path, PathBuf};

/// Where the daemon for `state_dir` listens: its socket.
pub fn endpoint(state_dir: &Path) -> String {
    socket_path(state_dir).display().to_string()
}

/// Sends one request to the daemon and waits for its answer.
pub fn request(state_dir: &Path, req: Request) -> anyhow::Result<Response> {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let path = socket_path(state_dir);
    let mut stream =
        UnixStream::connect(&path).map_err(|e| not_running(&path.display().to_string(), &e))?;
    stream.set_read_timeout(Some(ANSWER_WAIT))?;
    let mut line = serde_json::to_string(&req)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(no_answer)?;
    parse_answer(&answer)
}

/// Listens on the daemon's socket and hands each request to `to_daemon`.
pub struct Server {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    uid: u32,
}

impl Server {
    /// Binds the socket. The caller holds the instance lock, so a socket file already there
    /// is left over from a daemon that died, and is replaced.
    pub fn bind(state_dir: &Path) -> anyhow::Result<Server> {
        use std::os::unix::fs::PermissionsExt;
        let path = socket_path(state_dir);
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).map_err(|e| {
            IpcError::CannotListen(format!("cannot listen on {}: {e}", path.display()))
        })?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let uid = rustix::process::getuid().as_raw();
        Ok(Server {
            listener,
            path,
            uid,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves until the task is dropped.
    pub async fn serve(self, to_daemon: tokio::sync::mpsc::Sender<Incoming>) {
        tracing::info!(
            "listening for sign-in, sign-out and status on {}",
            self.path.display()
        );
        loop {
            let (stream, _) = match self.listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("ipc: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            };
            let peer = stream.peer_cred().map(|c| c.uid()).ok();
            if peer != Some(self.uid) {
                tracing::warn!(?peer, "ipc: refused a connection from another user");
                continue;
            }
            let tx = to_daemon.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, tx).await {
                    tracing::debug!("ipc: {e:#}");
                }
            });
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
