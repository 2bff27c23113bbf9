//! Local IPC between `shiftready sign-in|sign-out|status` (and the tray) and the running
//! daemon: one JSON request line, one JSON response line.
//!
//! On Unix it is a socket in the state directory (created 0700), the socket itself 0600, and
//! the daemon also checks the peer's uid, so only the same user can talk to it. On Windows the
//! named pipe is not built yet: the commands say so clearly.

use crate::exit::{self, ExitError};
use crate::shift::ShiftWindow;
use chrono::{DateTime, Utc};
use proto::Readiness;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a client asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    SignIn,
    SignOut,
    /// Run the whole check now (tray "Run check now").
    Check,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    /// One sentence for the agent.
    pub message: String,
    pub status: StatusInfo,
}

/// The daemon's state, as `status --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// What the tray shows: `ready`, `degraded`, `not_ready`, `unknown`, `signed_out` or
    /// `offline`.
    pub state: String,
    pub signed_in: bool,
    pub readiness: Readiness,
    /// The shift in progress, if any.
    pub shift: Option<ShiftWindow>,
    /// The next shift to start, if any.
    pub next_shift: Option<ShiftWindow>,
    pub last_check_at: Option<DateTime<Utc>>,
    /// Events in the spool not yet acknowledged by HQ.
    pub spool_events: u64,
    /// `none` (no HQ configured), `connected` or `unreachable`.
    pub hq: String,
    /// Incidents in progress (`headset_gone`, `network_degraded`, ...).
    pub incidents: Vec<String>,
    pub pid: u32,
}

/// The socket of the daemon that keeps its state in `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    let p = state_dir.join("daemon.sock");
    // sun_path holds about 100 bytes; a deep state dir uses the runtime dir instead.
    if p.as_os_str().len() < 100 {
        return p;
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in state_dir.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("shiftready-{h:016x}.sock"))
}

fn not_running(path: &Path, e: &std::io::Error) -> anyhow::Error {
    ExitError::new(
        exit::UNAVAILABLE,
        format!(
            "the ShiftReady daemon is not running for this user (nothing answers on {}: {e}); \
             start it with `shiftready run`",
            path.display()
        ),
    )
}

/// Sends one request to the daemon and waits for its answer.
#[cfg(unix)]
pub fn request(state_dir: &Path, req: Request) -> anyhow::Result<Response> {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let path = socket_path(state_dir);
    let mut stream = UnixStream::connect(&path).map_err(|e| not_running(&path, &e))?;
    // A whole check may take as long as the slowest check's time limit.
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
    let mut line = serde_json::to_string(&req)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(|e| {
        ExitError::new(
            exit::UNAVAILABLE,
            format!("the ShiftReady daemon did not answer: {e}"),
        )
    })?;
    if answer.trim().is_empty() {
        return Err(ExitError::new(
            exit::UNAVAILABLE,
            "the ShiftReady daemon closed the connection without answering (it may be \
             stopping, or running as another user)",
        ));
    }
    Ok(serde_json::from_str(&answer)?)
}

#[cfg(not(unix))]
pub fn request(state_dir: &Path, _req: Request) -> anyhow::Result<Response> {
    let path = socket_path(state_dir);
    Err(not_running(
        &path,
        &std::io::Error::other("local IPC is not built for this platform yet"),
    ))
}

/// A request as the daemon receives it, with the channel for its answer.
pub type Incoming = (Request, tokio::sync::oneshot::Sender<Response>);

/// Listens on the daemon's socket and hands each request to `to_daemon`.
#[cfg(unix)]
pub struct Server {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    uid: u32,
}

#[cfg(unix)]
impl Server {
    /// Binds the socket. The caller holds the instance lock, so a socket file already there
    /// is left over from a daemon that died, and is replaced.
    pub fn bind(state_dir: &Path) -> anyhow::Result<Server> {
        use std::os::unix::fs::PermissionsExt;
        let path = socket_path(state_dir);
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).map_err(|e| {
            ExitError::new(
                exit::CANT_CREATE,
                format!("cannot listen on {}: {e}", path.display()),
            )
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

#[cfg(unix)]
impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
async fn handle(
    stream: tokio::net::UnixStream,
    to_daemon: tokio::sync::mpsc::Sender<Incoming>,
) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    // Requests are tiny; a client that sends more is cut off.
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        BufReader::new(r.take(4096)).read_line(&mut line),
    )
    .await??;
    if n == 0 {
        return Ok(());
    }
    let req: Request = match serde_json::from_str(line.trim()) {
        Ok(r) => r,
        Err(e) => {
            let msg = serde_json::json!({"ok": false, "message": format!("bad request: {e}")});
            w.write_all(format!("{msg}\n").as_bytes()).await?;
            return Ok(());
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    to_daemon.send((req, tx)).await?;
    let resp = rx.await?;
    let mut out = serde_json::to_string(&resp)?;
    out.push('\n');
    w.write_all(out.as_bytes()).await?;
    Ok(())
}

#[cfg(unix)]
use tokio::io::AsyncReadExt as _;

/// `shiftready sign-in`, `sign-out` and `status`: ask the daemon and print its answer.
pub fn cmd(state_dir: &Path, req: Request, json: bool) -> anyhow::Result<i32> {
    let resp = request(state_dir, req)?;
    if json {
        let doc = if req == Request::Status {
            serde_json::to_string_pretty(&resp.status)?
        } else {
            serde_json::to_string_pretty(&resp)?
        };
        println!("{doc}");
    } else {
        if !resp.message.is_empty() {
            println!("{}", resp.message);
        }
        if req == Request::Status {
            print!("{}", render_status(&resp.status));
        }
    }
    Ok(if resp.ok { 0 } else { exit::UNAVAILABLE })
}

/// The human form of `status`.
pub fn render_status(s: &StatusInfo) -> String {
    let when = |t: DateTime<Utc>| {
        t.with_timezone(&chrono::Local)
            .format("%a %Y-%m-%d %H:%M")
            .to_string()
    };
    let mut o = String::new();
    o.push_str(&format!("State:      {}\n", s.state.replace('_', " ")));
    o.push_str(&format!(
        "Signed in:  {}\nReadiness:  {}\n",
        if s.signed_in { "yes" } else { "no" },
        s.readiness.as_str().replace('_', " ")
    ));
    match s.shift {
        Some(w) => o.push_str(&format!("Shift:      until {}\n", when(w.end))),
        None => o.push_str("Shift:      none now\n"),
    }
    if let Some(w) = s.next_shift {
        o.push_str(&format!(
            "Next shift: {} – {}\n",
            when(w.start),
            when(w.end)
        ));
    }
    o.push_str(&format!(
        "HQ:         {} ({} event(s) waiting)\n",
        s.hq, s.spool_events
    ));
    if !s.incidents.is_empty() {
        o.push_str(&format!("Incidents:  {}\n", s.incidents.join(", ")));
    }
    o
}
