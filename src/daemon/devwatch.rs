//! Linux: device-change events for the headset monitor, so that it looks at the headset when
//! something changed instead of every few seconds.
//!
//! Two sources, each optional: inotify on `/dev/snd` (ALSA's device nodes appear and vanish
//! when a card is plugged in or out; `/dev` itself is watched for `snd` appearing when there
//! was no card at all), and one long-lived `pactl subscribe` when a sound server (PulseAudio or
//! PipeWire's pulse server) runs, for its sources, sinks, cards and defaults. Idle, the daemon
//! sleeps in the kernel on both: no timer, no subprocess per look.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

/// Where ALSA's device nodes live.
pub const DEV_SND: &str = "/dev/snd";

/// What to watch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sources {
    /// Directories whose entries coming, going or changing mean a device change, each with an
    /// optional single entry name that alone counts.
    pub dirs: Vec<(PathBuf, Option<OsString>)>,
    /// Run `pactl subscribe` (when a sound server answers).
    pub sound_server: bool,
}

impl Sources {
    /// The real sources: `/dev/snd` (through `/dev` while it does not exist) and the sound
    /// server; plus, when the daemon reads a test report instead of running the checks, that
    /// file (the daemon tests change the headset by rewriting it).
    pub fn system() -> Sources {
        let mut s = Sources {
            dirs: vec![
                (PathBuf::from(DEV_SND), None),
                (PathBuf::from("/dev"), Some(OsString::from("snd"))),
            ],
            sound_server: true,
        };
        if let Some(report) = crate::test_hooks::var(crate::test_hooks::REPORT).map(PathBuf::from) {
            let dir = match report.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if let Some(name) = report.file_name() {
                s.dirs.push((dir, Some(name.to_os_string())));
            }
        }
        s
    }
}

/// inotify on a few directories.
pub struct DirWatch {
    fd: AsyncFd<OwnedFd>,
    /// Watch descriptor → (directory, the one name that counts, if only one).
    watches: Vec<(i32, PathBuf, Option<OsString>)>,
    /// Directories to add once they exist (`/dev/snd` when `snd` appears in `/dev`).
    pending: Vec<PathBuf>,
}

const DIR_EVENTS: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::ONLYDIR);

/// A directory watched for one entry (`snd` in `/dev`, a test report renamed into place) needs
/// only entries coming and going: with `CLOSE_WRITE` and `ATTRIB` on `/dev`, every write to
/// `/dev/null` by any process on the machine woke the daemon (several times a second on a
/// busy machine, measured with strace).
const ENTRY_EVENTS: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::ONLYDIR);

impl DirWatch {
    /// Watches the directories that exist; `None` when inotify is unavailable or none exists.
    /// Must be called within the tokio runtime.
    pub fn new(dirs: &[(PathBuf, Option<OsString>)]) -> Option<DirWatch> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)
            .map_err(|e| tracing::info!("inotify is not available: {e}"))
            .ok()?;
        // `AsyncFd::new` is deprecated because an arbitrary `AsRawFd` may hand out another fd
        // later; an `OwnedFd` is one open descriptor for its whole life, which is what the
        // safe constructor needs (`register`, the replacement, is `unsafe`, which we forbid).
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)
            .map_err(|e| tracing::info!("inotify cannot be polled: {e}"))
            .ok()?;
        let mut w = DirWatch {
            fd,
            watches: Vec::new(),
            pending: Vec::new(),
        };
        for (dir, only) in dirs {
            if !w.add(dir, only.clone()) && only.is_none() {
                w.pending.push(dir.clone());
            }
        }
        (!w.watches.is_empty()).then_some(w)
    }

    fn add(&mut self, dir: &Path, only: Option<OsString>) -> bool {
        let events = if only.is_some() {
            ENTRY_EVENTS
        } else {
            DIR_EVENTS
        };
        match inotify::add_watch(self.fd.get_ref(), dir, events) {
            Ok(wd) => {
                self.watches.retain(|(w, _, _)| *w != wd);
                self.watches.push((wd, dir.to_path_buf(), only));
                true
            }
            Err(_) => false,
        }
    }

    /// The directories being watched.
    pub fn watched(&self) -> Vec<&Path> {
        self.watches.iter().map(|(_, d, _)| d.as_path()).collect()
    }

    /// Waits for the next changes that count and describes them ("/dev/snd: pcmC1D0c gone").
    pub async fn changed(&mut self) -> std::io::Result<Vec<String>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut seen = Vec::new();
            let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
            let drained = {
                let mut reader = inotify::Reader::new(guard.get_inner(), &mut buf);
                loop {
                    match reader.next() {
                        Ok(ev) => {
                            let name = ev
                                .file_name()
                                .map(|n| OsStr::from_bytes(n.to_bytes()).to_os_string());
                            seen.push((ev.wd(), ev.events(), name));
                        }
                        Err(rustix::io::Errno::AGAIN) => break true,
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            if drained {
                guard.clear_ready();
            }
            drop(guard);
            let mut out = Vec::new();
            for (wd, flags, name) in seen {
                if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                    out.push("inotify: events lost".to_string());
                    continue;
                }
                let Some((_, dir, only)) = self.watches.iter().find(|(w, _, _)| *w == wd).cloned()
                else {
                    continue;
                };
                if flags.contains(ReadFlags::IGNORED) {
                    // The directory went away: wait for it to come back.
                    self.watches.retain(|(w, _, _)| *w != wd);
                    if only.is_none() {
                        self.pending.push(dir.clone());
                        out.push(format!("{}: gone", dir.display()));
                    }
                    continue;
                }
                if only.is_some() && name != only {
                    continue;
                }
                let what = name
                    .as_deref()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let verb = if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                    "new"
                } else if flags.intersects(ReadFlags::DELETE | ReadFlags::MOVED_FROM) {
                    "gone"
                } else {
                    "changed"
                };
                out.push(format!("{}: {what} {verb}", dir.display()));
            }
            // A pending directory may exist now (`snd` created in `/dev`).
            let pending = std::mem::take(&mut self.pending);
            for dir in pending {
                if self.add(&dir, None) {
                    out.push(format!("{}: watched", dir.display()));
                } else {
                    self.pending.push(dir);
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }
}

/// Whether a `pactl subscribe` line is a change of the devices or defaults: `new`, `remove`
/// or `change` on a `source`, `sink`, `card` or the `server` (its defaults). Streams
/// (`sink-input`, `source-output`), clients and modules are not.
pub fn pactl_event_counts(line: &str) -> bool {
    let Some(rest) = line.trim().strip_prefix("Event '") else {
        return false;
    };
    let Some((kind, rest)) = rest.split_once("' on ") else {
        return false;
    };
    let facility = rest.split_whitespace().next().unwrap_or("");
    matches!(kind, "new" | "remove" | "change")
        && matches!(facility, "source" | "sink" | "card" | "server")
}

/// Runs `pactl subscribe` for the daemon's life, restarting it with backoff when the server
/// goes away (which is itself a change). Ends when `pactl` cannot be started at all.
async fn subscribe(tx: mpsc::Sender<String>) {
    let mut backoff = Duration::from_secs(5);
    loop {
        let started = tokio::time::Instant::now();
        let child = tokio::process::Command::new("pactl")
            .arg("subscribe")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::info!("no sound server events (pactl: {e})");
                return;
            }
        };
        let mut lines_seen = 0u64;
        if let Some(stdout) = child.stdout.take() {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                lines_seen += 1;
                if lines_seen == 1 {
                    tracing::debug!("watching the sound server's devices (pactl subscribe)");
                }
                if pactl_event_counts(&line) && tx.send(format!("pactl: {line}")).await.is_err() {
                    return;
                }
            }
        }
        let _ = child.wait().await;
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(5);
            if tx.send("pactl: sound server gone".into()).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(300));
    }
}

/// The running watch: device changes come out of [`DeviceWatch::next`]. Dropping it stops the
/// watch (and its `pactl`).
pub struct DeviceWatch {
    rx: mpsc::Receiver<String>,
    _tasks: JoinSet<()>,
}

impl DeviceWatch {
    /// Starts watching; `None` when no source could be watched (the caller polls then).
    pub fn start(sources: &Sources) -> Option<DeviceWatch> {
        let (tx, rx) = mpsc::channel(64);
        let mut tasks = JoinSet::new();
        let mut any = false;
        if let Some(mut w) = DirWatch::new(&sources.dirs) {
            tracing::debug!(dirs = ?w.watched(), "watching device nodes");
            any = true;
            let tx = tx.clone();
            tasks.spawn(async move {
                loop {
                    match w.changed().await {
                        Ok(changes) => {
                            for c in changes {
                                if tx.send(c).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!("stopped watching the device nodes: {e}");
                            return;
                        }
                    }
                }
            });
        }
        if sources.sound_server && which("pactl") {
            any = true;
            tasks.spawn(subscribe(tx));
        }
        any.then_some(DeviceWatch { rx, _tasks: tasks })
    }

    /// The next device change (a short description); `None` when every source has ended.
    pub async fn next(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}

/// Whether `cmd` is an executable file on `PATH`.
fn which(cmd: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p)
            .any(|d| rustix::fs::access(d.join(cmd), rustix::fs::Access::EXEC_OK).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pactl_lines_that_count() {
        // Lines as `pactl subscribe` (PulseAudio 16) prints them.
        assert!(pactl_event_counts("Event 'remove' on source #5"));
        assert!(pactl_event_counts("Event 'new' on sink #2"));
        assert!(pactl_event_counts("Event 'change' on card #0"));
        assert!(pactl_event_counts("Event 'change' on server"));
        assert!(!pactl_event_counts("Event 'change' on sink-input #14"));
        assert!(!pactl_event_counts("Event 'new' on source-output #3"));
        assert!(!pactl_event_counts("Event 'new' on client #9"));
        assert!(!pactl_event_counts("Event 'remove' on module #24"));
        assert!(!pactl_event_counts("garbage"));
    }

    async fn next_within(w: &mut DirWatch, secs: u64) -> Option<Vec<String>> {
        tokio::time::timeout(Duration::from_secs(secs), w.changed())
            .await
            .ok()
            .map(|r| r.unwrap())
    }

    #[tokio::test]
    async fn device_nodes_coming_and_going_are_seen() {
        let tmp = tempfile::tempdir().unwrap();
        let snd = tmp.path().join("snd");
        std::fs::create_dir(&snd).unwrap();
        let mut w = DirWatch::new(&[(snd.clone(), None)]).expect("inotify works here");
        std::fs::write(snd.join("pcmC1D0c"), b"").unwrap();
        let got = next_within(&mut w, 5).await.expect("the new node is seen");
        assert!(got.iter().any(|c| c.ends_with("pcmC1D0c new")), "{got:?}");
        std::fs::remove_file(snd.join("pcmC1D0c")).unwrap();
        let got = next_within(&mut w, 5).await.expect("the removal is seen");
        assert!(got.iter().any(|c| c.ends_with("pcmC1D0c gone")), "{got:?}");
        // Nothing happens: nothing is reported.
        assert!(next_within(&mut w, 1).await.is_none());
    }

    #[tokio::test]
    async fn a_directory_that_appears_later_is_watched_then() {
        let tmp = tempfile::tempdir().unwrap();
        let snd = tmp.path().join("snd");
        let mut w = DirWatch::new(&[
            (snd.clone(), None),
            (tmp.path().to_path_buf(), Some(OsString::from("snd"))),
        ])
        .expect("the parent is watched");
        // Other entries of the parent do not count.
        std::fs::write(tmp.path().join("tty5"), b"").unwrap();
        assert!(next_within(&mut w, 1).await.is_none());
        // Nor does writing to an entry that exists (as every `>/dev/null` does to `null`):
        // the watch does not even wake for it.
        std::fs::write(tmp.path().join("tty5"), b"x").unwrap();
        let woke = tokio::time::timeout(Duration::from_secs(1), w.fd.readable()).await;
        assert!(woke.is_err(), "woken by a write to another entry");
        std::fs::create_dir(&snd).unwrap();
        let got = next_within(&mut w, 5).await.expect("snd appearing is seen");
        assert!(got.iter().any(|c| c.ends_with("snd new")), "{got:?}");
        assert!(got.iter().any(|c| c.ends_with("snd: watched")), "{got:?}");
        std::fs::write(snd.join("controlC0"), b"").unwrap();
        let got = next_within(&mut w, 5).await.expect("a node in it is seen");
        assert!(got.iter().any(|c| c.ends_with("controlC0 new")), "{got:?}");
    }

    #[tokio::test]
    async fn only_the_named_file_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w =
            DirWatch::new(&[(tmp.path().to_path_buf(), Some("report.json".into()))]).unwrap();
        std::fs::write(tmp.path().join("daemon.log"), b"x").unwrap();
        assert!(next_within(&mut w, 1).await.is_none());
        // Written aside and renamed over, as the daemon tests do.
        std::fs::write(tmp.path().join("report.tmp"), b"{}").unwrap();
        std::fs::rename(
            tmp.path().join("report.tmp"),
            tmp.path().join("report.json"),
        )
        .unwrap();
        let got = next_within(&mut w, 5).await.expect("the report is seen");
        assert!(
            got.iter().any(|c| c.ends_with("report.json new")),
            "{got:?}"
        );
    }

    #[tokio::test]
    async fn nothing_to_watch_is_none() {
        assert!(DirWatch::new(&[(PathBuf::from("/nonexistent/snd"), None)]).is_none());
    }
}
