//! Local IPC between `shiftready sign-in|sign-out|status` (and the tray) and the running
//! daemon: one JSON request line, one JSON response line.
//!
//! On Unix it is a socket in the state directory (created 0700), the socket itself 0600, and
//! the daemon also checks the peer's uid, so only the same user can talk to it.
//!
//! On Windows it is a named pipe, `\\.\pipe\shiftready-<user SID>-<hash of the state dir>`,
//! created with `FILE_FLAG_FIRST_PIPE_INSTANCE` (so a pipe of that name made by anyone else
//! first makes the daemon refuse to start rather than share it), `PIPE_REJECT_REMOTE_CLIENTS`,
//! and a protected DACL that grants the current user alone access (no Everyone, no
//! Administrators, nothing inherited). The daemon also checks that the client process runs as
//! its user, and the client that the server process does (so a pipe squatted by another user
//! gets no request and gives no answer).

use crate::i18n::Said;
use chrono::{DateTime, Utc};
use proto::{DaemonState, HqLink, Readiness};
use serde::{Deserialize, Serialize};
use shiftready_core::shift::ShiftWindow;
use std::path::{Path, PathBuf};

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    SignIn,
    SignOut,
    /// Run the whole check now (tray "Run check now").
    Check,
    /// Record a dropped call (`shiftready report-drop`, the tray's "Report a dropped call"),
    /// with the agent's note (at most `proto::sample::CALL_DROP_MAX_NOTE` characters).
    ReportDrop {
        #[serde(default)]
        note: String,
    },
}

/// What the daemon recorded for a [`Request::ReportDrop`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropReceipt {
    /// The `call_drop` event's id (as HQ will list it).
    pub id: uuid::Uuid,
    /// Seconds of per-second network history it carries (at most 900).
    pub seconds: usize,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    /// One sentence for the agent, in English (what `--json` prints).
    pub message: String,
    pub status: StatusInfo,
    /// The same as `message`, line by line as messages of the bundles, for the client to say
    /// in its language (`crate::i18n::say`). Never printed by `--json`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub said: Vec<Said>,
    /// For a [`Request::ReportDrop`]: the event recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_drop: Option<DropReceipt>,
}

impl Response {
    /// An answer whose message is `lines` (English in `message`, the lines beside it).
    pub fn saying(ok: bool, lines: Vec<Said>, status: StatusInfo) -> Response {
        Response {
            ok,
            message: crate::i18n::english_lines(&lines),
            status,
            said: lines,
            call_drop: None,
        }
    }

    /// The answer as `--json` prints it: English only, as it always was.
    pub fn for_json(&self) -> Response {
        Response {
            said: Vec::new(),
            status: self.status.for_json(),
            ..self.clone()
        }
    }
}

/// The daemon's state, as `status --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// What the tray shows: `ready`, `degraded`, `not_ready`, `unknown`, `signed_out` or
    /// `offline`.
    pub state: DaemonState,
    pub signed_in: bool,
    pub readiness: Readiness,
    /// The shift in progress, if any.
    pub shift: Option<ShiftWindow>,
    /// The next shift to start, if any.
    pub next_shift: Option<ShiftWindow>,
    pub last_check_at: Option<DateTime<Utc>>,
    /// Events in the spool not yet acknowledged by HQ.
    pub spool_events: u64,
    /// `none` (no HQ configured), `connected`, `unreachable`, or `must_enroll` (HQ refused
    /// this device's key: delivery is paused, nothing is dropped).
    pub hq: HqLink,
    /// Incidents in progress (`headset_gone`, `network_degraded`, ...).
    pub incidents: Vec<String>,
    pub pid: u32,
    /// Events HQ refused for good, set aside in the spool's quarantine (kept, not sent again).
    #[serde(default)]
    pub quarantined: u64,
    /// When HQ refused this device's key: what to do, as a sentence with the command
    /// ("This computer must be enrolled again (...): shiftready enroll --hq URL --token-file FILE
    /// --code-file CODE").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enroll_again: Option<String>,
    /// The first thing to fix, from the last check (its hint), when it did not pass: the one
    /// source `status` and the tray say it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_first: Option<String>,
    /// `fix_first` as a message, for the client's language. Never printed by `--json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_first_said: Option<Said>,
    /// `enroll_again` as a message, for the client's language. Never printed by `--json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enroll_again_said: Option<Said>,
}

impl StatusInfo {
    /// The state as `status --json` prints it: English only, as it always was.
    pub fn for_json(&self) -> StatusInfo {
        StatusInfo {
            fix_first_said: None,
            enroll_again_said: None,
            ..self.clone()
        }
    }

    /// The first thing to fix in this process's language.
    pub fn fix_first_text(&self) -> Option<String> {
        let english = self.fix_first.as_deref()?;
        Some(match &self.fix_first_said {
            Some(s) => crate::i18n::say(std::slice::from_ref(s), english),
            None => english.to_string(),
        })
    }

    /// What to do when HQ refused this device's key, in this process's language.
    pub fn enroll_again_text(&self) -> Option<String> {
        let english = self.enroll_again.as_deref()?;
        Some(match &self.enroll_again_said {
            Some(s) => crate::i18n::say(std::slice::from_ref(s), english),
            None => english.to_string(),
        })
    }
}

/// What `status` and the tray say when HQ refused this device's key (in English).
pub fn enroll_again_message(hq_url: &str) -> String {
    enroll_again_said(hq_url).english()
}

/// [`enroll_again_message`] as a message, for the client's language.
pub fn enroll_again_said(hq_url: &str) -> Said {
    Said::new("ipc-enroll-again").text("hq", hq_url)
}

#[cfg(any(unix, windows))]
mod conn;
#[cfg(not(any(unix, windows)))]
mod other;
#[cfg(not(any(unix, windows)))]
pub use other::{Server, endpoint, request};
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{Server, endpoint, request};
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{Server, endpoint, pipe_name, request};

/// FNV-1a of `bytes`: a short, stable name for a state directory.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100000001b3);
    }
    h
}

/// The socket of the daemon that keeps its state in `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    let p = state_dir.join("daemon.sock");
    // sun_path holds about 100 bytes; a deep state dir uses the runtime dir instead.
    if p.as_os_str().len() < 100 {
        return p;
    }
    let h = fnv1a(state_dir.as_os_str().as_encoded_bytes());
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("shiftready-{h:016x}.sock"))
}

/// Why a client got no answer, or the daemon cannot listen (exit codes: `crate::exit`).
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error(
        "the ShiftReady daemon is not running for this user (nothing answers on {endpoint}: \
         {detail}); start it with `shiftready run`"
    )]
    NotRunning { endpoint: String, detail: String },
    #[error("the ShiftReady daemon did not answer: {0}")]
    NoAnswer(String),
    #[error(
        "the ShiftReady daemon closed the connection without answering (it may be stopping, \
         or running as another user)"
    )]
    Closed,
    /// The endpoint is served by someone else, or who serves it cannot be told: nothing was
    /// sent.
    #[error("{0}")]
    NotOurs(String),
    /// The daemon cannot make its endpoint.
    #[error("{0}")]
    CannotListen(String),
}

fn not_running(endpoint: &str, e: &std::io::Error) -> anyhow::Error {
    IpcError::NotRunning {
        endpoint: endpoint.to_string(),
        detail: e.to_string(),
    }
    .into()
}

fn no_answer(e: impl std::fmt::Display) -> anyhow::Error {
    IpcError::NoAnswer(e.to_string()).into()
}

/// The daemon's answer line, or why there was none.
fn parse_answer(answer: &str) -> anyhow::Result<Response> {
    if answer.trim().is_empty() {
        return Err(IpcError::Closed.into());
    }
    Ok(serde_json::from_str(answer)?)
}

/// How long a client waits for the answer: a whole check may take as long as the slowest
/// check's time limit.
const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A request as the daemon receives it, with the channel for its answer.
pub type Incoming = (Request, tokio::sync::oneshot::Sender<Response>);

#[cfg(all(test, any(unix, windows)))]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn status(signed_in: bool) -> StatusInfo {
        StatusInfo {
            state: if signed_in {
                DaemonState::Ready
            } else {
                DaemonState::SignedOut
            },
            signed_in,
            readiness: Readiness::Ready,
            shift: None,
            next_shift: None,
            last_check_at: None,
            spool_events: 3,
            hq: HqLink::None,
            incidents: vec!["headset_gone".into()],
            pid: std::process::id(),
            quarantined: 0,
            enroll_again: None,
            fix_first: None,
            fix_first_said: None,
            enroll_again_said: None,
        }
    }

    /// A stand-in for the daemon's core: answers every request, naming it.
    fn answer_all(mut rx: mpsc::Receiver<Incoming>) -> tokio::task::JoinHandle<u32> {
        tokio::spawn(async move {
            let mut n = 0;
            while let Some((req, reply)) = rx.recv().await {
                n += 1;
                let _ = reply.send(Response {
                    ok: req != Request::Check,
                    message: format!("{req:?}"),
                    status: status(req == Request::SignIn),
                    said: Vec::new(),
                    call_drop: None,
                });
            }
            n
        })
    }

    async fn ask(dir: PathBuf, req: Request) -> anyhow::Result<Response> {
        tokio::task::spawn_blocking(move || request(&dir, req))
            .await
            .unwrap()
    }

    /// The real server and the real client (`request`, as `shiftready status` runs it, with
    /// its own runtime on another thread) over the platform's endpoint: a Unix socket or the
    /// named pipe. Answers arrive whole, to several clients at once, and once the server is
    /// gone the client says the daemon is not running (`IpcError::NotRunning`, which
    /// `crate::exit` maps to UNAVAILABLE).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_round_trip_through_the_real_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::bind(dir.path()).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let serving = tokio::spawn(server.serve(tx));
        let daemon = answer_all(rx);
        // A dropped call's note at its longest, in characters of four bytes: it fits the
        // daemon's request line.
        let note = "\u{1F4DE}".repeat(proto::sample::CALL_DROP_MAX_NOTE);
        for req in [
            Request::Status,
            Request::SignIn,
            Request::SignOut,
            Request::Check,
            Request::ReportDrop { note },
        ] {
            let r = ask(dir.path().to_path_buf(), req.clone()).await.unwrap();
            assert_eq!(r.message, format!("{req:?}"));
            assert_eq!(r.ok, req != Request::Check);
            assert_eq!(r.status, status(req == Request::SignIn));
        }
        let many: Vec<_> = (0..8)
            .map(|_| tokio::spawn(ask(dir.path().to_path_buf(), Request::Status)))
            .collect();
        for m in many {
            assert_eq!(m.await.unwrap().unwrap().message, "Status");
        }
        #[cfg(windows)]
        {
            // A second daemon for the same state dir cannot take the pipe over.
            let e = Server::bind(dir.path()).err().expect("second bind refused");
            assert!(
                matches!(e.downcast_ref(), Some(IpcError::CannotListen(_))),
                "{e:#}"
            );
            let name = pipe_name(dir.path()).unwrap();
            assert!(windows::pipe_exists(&name));
            // And FILE_FLAG_FIRST_PIPE_INSTANCE alone refuses it, where it is honoured.
            match windows::create_instance(&name, true) {
                Err(e) => assert_eq!(e.raw_os_error(), Some(5), "access denied: {e}"),
                Ok(_) if crate::platform::windows::is_wine() => {
                    eprintln!("Wine ignores FILE_FLAG_FIRST_PIPE_INSTANCE; pipe_exists covers it")
                }
                Ok(_) => panic!("FILE_FLAG_FIRST_PIPE_INSTANCE did not refuse {name}"),
            }
        }
        serving.abort();
        let _ = serving.await;
        assert_eq!(daemon.await.unwrap(), 13);
        #[cfg(windows)]
        {
            // The pipe goes with its last instance (a connection's task may still be
            // finishing its answer).
            let name = pipe_name(dir.path()).unwrap();
            let t0 = std::time::Instant::now();
            while windows::pipe_exists(&name) {
                assert!(t0.elapsed().as_secs() < 5, "{name} outlived its server");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        let e = ask(dir.path().to_path_buf(), Request::Status)
            .await
            .unwrap_err();
        assert!(
            matches!(e.downcast_ref(), Some(IpcError::NotRunning { .. })),
            "{e:#}"
        );
        assert!(format!("{e:#}").contains("not running"), "{e:#}");
    }

    /// A line that is not a request gets a JSON error line, and the server goes on serving.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_gets_an_error_line_and_the_server_goes_on() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let server = Server::bind(dir.path()).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let serving = tokio::spawn(server.serve(tx));
        let _daemon = answer_all(rx);
        #[cfg(unix)]
        let stream = tokio::net::UnixStream::connect(socket_path(dir.path()))
            .await
            .unwrap();
        #[cfg(windows)]
        let stream = tokio::net::windows::named_pipe::ClientOptions::new()
            .open(pipe_name(dir.path()).unwrap())
            .unwrap();
        let (r, mut w) = tokio::io::split(stream);
        w.write_all(b"{\"cmd\": \"format_disk\"}\n").await.unwrap();
        let mut line = String::new();
        BufReader::new(r).read_line(&mut line).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], false);
        assert!(
            v["message"].as_str().unwrap().starts_with("bad request"),
            "{v}"
        );
        assert_eq!(
            ask(dir.path().to_path_buf(), Request::Status)
                .await
                .unwrap()
                .message,
            "Status"
        );
        serving.abort();
    }

    /// The pipe's DACL is protected and has one entry: the current user's.
    #[cfg(windows)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pipe_admits_the_current_user_alone() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let server = Server::bind(dir.path()).unwrap();
        let name = pipe_name(dir.path()).unwrap();
        let sid = crate::platform::windows::current_user_sid().unwrap();
        assert!(name.starts_with(r"\\.\pipe\shiftready-S-1-"), "{name}");
        assert!(name.contains(&sid), "{name} names the user {sid}");
        // Another state dir, another pipe; the same dir spelt differently, the same pipe.
        let other = tempfile::tempdir().unwrap();
        assert_ne!(pipe_name(other.path()).unwrap(), name);
        let upper = PathBuf::from(dir.path().to_string_lossy().to_uppercase() + "\\");
        assert_eq!(pipe_name(&upper).unwrap(), name);
        // READ_CONTROL only: enough to read the DACL.
        let f = std::fs::OpenOptions::new()
            .access_mode(0x0002_0000)
            .open(&name)
            .unwrap();
        let dacl = crate::platform::windows::dacl_sddl(&f).unwrap();
        assert!(
            dacl.starts_with("D:P("),
            "protected, nothing inherited: {dacl}"
        );
        assert_eq!(dacl.matches('(').count(), 1, "one entry: {dacl}");
        assert!(
            dacl.starts_with("D:P(A;;") && dacl.ends_with(&format!(";;;{sid})")),
            "{dacl}"
        );
        drop(f);
        drop(server);
    }
}
