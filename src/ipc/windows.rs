//! Windows: the daemon's named pipe, client and server, admitting only the current user.
#![allow(unsafe_code)]

use super::conn::handle;
use super::*;
use crate::platform::windows::{SecurityDescriptor, current_user_sid, process_user_sid};
use std::os::windows::io::AsRawHandle;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeServer, PipeMode, ServerOptions};
use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY};
use windows_sys::Win32::System::Pipes::{
    GetNamedPipeClientProcessId, GetNamedPipeServerProcessId, WaitNamedPipeW,
};

/// Whether a pipe of this name exists (anyone's, busy or not), without connecting to it.
pub(super) fn pipe_exists(name: &str) -> bool {
    let w = crate::platform::windows::wide(name);
    // SAFETY: a NUL-terminated name; waits at most 1 ms.
    if unsafe { WaitNamedPipeW(w.as_ptr(), 1) } != 0 {
        return true;
    }
    // ERROR_SEM_TIMEOUT (all instances busy), access denied...: it is there.
    std::io::Error::last_os_error().raw_os_error() != Some(ERROR_FILE_NOT_FOUND as i32)
}

/// Which process is at the other end of a pipe handle.
fn peer_pid(handle: &impl AsRawHandle, server_side: bool) -> std::io::Result<u32> {
    let mut pid = 0u32;
    let h = handle.as_raw_handle();
    // SAFETY: `h` is an open pipe handle borrowed for the call; `pid` is a valid
    // out-pointer.
    let ok = unsafe {
        if server_side {
            GetNamedPipeClientProcessId(h, &mut pid)
        } else {
            GetNamedPipeServerProcessId(h, &mut pid)
        }
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid)
}

/// The user SID the process at the other end runs as.
fn peer_sid(handle: &impl AsRawHandle, server_side: bool) -> std::io::Result<(u32, String)> {
    let pid = peer_pid(handle, server_side)?;
    Ok((pid, process_user_sid(pid)?))
}

async fn request_pipe(name: &str, req: Request) -> anyhow::Result<Response> {
    // All instances busy: the daemon makes a new one as soon as it accepted a client.
    let busy_until = Instant::now() + Duration::from_secs(5);
    let client = loop {
        match ClientOptions::new().pipe_mode(PipeMode::Byte).open(name) {
            Ok(c) => break c,
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)
                    && Instant::now() < busy_until =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(not_running(name, &e)),
        }
    };
    let me = current_user_sid()?;
    match peer_sid(&client, false) {
        Ok((_, sid)) if sid == me => {}
        Ok((pid, sid)) => {
            return Err(IpcError::NotOurs(format!(
                "{name} is held by process {pid} of another user ({sid}), not by this \
                 user's ShiftReady daemon; nothing was sent"
            ))
            .into());
        }
        Err(e) => {
            return Err(IpcError::NotOurs(format!(
                "cannot tell who serves {name} ({e}); nothing was sent"
            ))
            .into());
        }
    }
    let (r, mut w) = tokio::io::split(client);
    let mut line = serde_json::to_string(&req)?;
    line.push('\n');
    w.write_all(line.as_bytes()).await.map_err(no_answer)?;
    let mut answer = String::new();
    tokio::time::timeout(
        ANSWER_WAIT,
        BufReader::new(r.take(1 << 20)).read_line(&mut answer),
    )
    .await
    .map_err(|_| no_answer("timed out"))?
    .map_err(no_answer)?;
    parse_answer(&answer)
}

/// Makes one instance of the pipe, open to the current user alone.
pub(super) fn create_instance(name: &str, first: bool) -> std::io::Result<NamedPipeServer> {
    let sd = SecurityDescriptor::current_user_only()?;
    let mut sa = sd.attributes();
    let mut opts = ServerOptions::new();
    opts.first_pipe_instance(first)
        .reject_remote_clients(true)
        .pipe_mode(PipeMode::Byte)
        .in_buffer_size(4096)
        .out_buffer_size(64 * 1024);
    // SAFETY: `sa` and the descriptor it points to (`sd`) are alive for the call, which
    // copies the descriptor into the pipe object.
    unsafe { opts.create_with_security_attributes_raw(name, (&raw mut sa).cast()) }
}

/// Listens on the daemon's named pipe and hands each request to `to_daemon`.
pub struct Server {
    path: PathBuf,
    name: String,
    sid: String,
    first: NamedPipeServer,
}

impl Server {
    /// Creates the pipe's first instance. The caller holds the instance lock, so a pipe
    /// of this name that already exists belongs to someone else: refused, never shared.
    pub fn bind(state_dir: &Path) -> anyhow::Result<Server> {
        let name = pipe_name(state_dir)?;
        // FILE_FLAG_FIRST_PIPE_INSTANCE refuses an existing name on Windows; Wine ignores
        // that flag, so look first as well (harmless on Windows).
        if pipe_exists(&name) {
            return Err(IpcError::CannotListen(format!(
                "cannot listen on {name}: it already exists (another ShiftReady daemon for \
                 this state directory, or another program holds this pipe name)"
            ))
            .into());
        }
        let first = create_instance(&name, true).map_err(|e| {
            IpcError::CannotListen(format!(
                "cannot listen on {name}: {e} (another program already holds this pipe name)"
            ))
        })?;
        Ok(Server {
            path: PathBuf::from(&name),
            name,
            sid: current_user_sid()?,
            first,
        })
    }

    /// The pipe's name, as a path for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves until the task is dropped. A new instance is made as soon as a client
    /// connected, so the pipe never goes away while the daemon runs.
    pub async fn serve(self, to_daemon: tokio::sync::mpsc::Sender<Incoming>) {
        tracing::info!(
            "listening for sign-in, sign-out and status on {}",
            self.name
        );
        let Server {
            name, sid, first, ..
        } = self;
        let mut waiting = Some(first);
        loop {
            let server = match waiting.take() {
                Some(s) => s,
                None => match create_instance(&name, false) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("ipc: cannot make a new instance of {name}: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            if let Err(e) = server.connect().await {
                tracing::warn!("ipc: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            waiting = create_instance(&name, false)
                .inspect_err(|e| tracing::warn!("ipc: new instance of {name}: {e}"))
                .ok();
            match peer_sid(&server, true) {
                Ok((_, s)) if s == sid => {}
                peer => {
                    tracing::warn!(?peer, "ipc: refused a connection from another user");
                    continue;
                }
            }
            let tx = to_daemon.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(server, tx).await {
                    tracing::debug!("ipc: {e:#}");
                }
            });
        }
    }
}

/// The named pipe of the daemon that keeps its state in `state_dir`: one per user (their SID
/// is in the name) and per state directory (as the lock and the Unix socket are), the
/// directory compared the way Windows compares paths (absolute, case-insensitive).
pub fn pipe_name(state_dir: &Path) -> anyhow::Result<String> {
    let sid = crate::platform::windows::current_user_sid()
        .map_err(|e| anyhow::anyhow!("cannot tell which user this is: {e}"))?;
    let abs = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let key = abs
        .to_string_lossy()
        .trim_end_matches(['\\', '/'])
        .replace('/', "\\")
        .to_lowercase();
    Ok(format!(
        r"\\.\pipe\shiftready-{sid}-{:016x}",
        fnv1a(key.as_bytes())
    ))
}

/// Where the daemon for `state_dir` listens: its named pipe.
pub fn endpoint(state_dir: &Path) -> String {
    match pipe_name(state_dir) {
        Ok(name) => name,
        Err(_) => socket_path(state_dir).display().to_string(),
    }
}

/// Sends one request to the daemon's named pipe and waits for its answer.
pub fn request(state_dir: &Path, req: Request) -> anyhow::Result<Response> {
    let name = pipe_name(state_dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(request_pipe(&name, req))
}
