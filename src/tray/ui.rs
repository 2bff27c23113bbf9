//! The tray's UI, written once for every OS that has a tray icon: the menu, the icon that
//! follows the daemon's state, the dispatch of menu clicks to the daemon, and the daemon thread
//! it talks to. Each OS file (`linux.rs`, `windows.rs`) keeps only its event pump: Linux runs
//! [`Ui::serve`] on GLib's main loop (woken by events only), Windows calls [`Ui::tick`].

use super::icons::{self, Look};
use crate::config::Loaded;
use crate::daemon::core::{UiEnds, status_channel};
use crate::daemon::{Daemon, run_daemon};
use crate::i18n::tr;
use crate::ipc::{Request, StatusInfo};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tray_icon::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

const SIZE: u32 = 32;

/// The icon and the one menu item whose text follows the state.
struct Tray {
    icon: TrayIcon,
    sign: MenuItem,
    look: Look,
    /// What the icon and the menu show now, so that a state change that does not change them
    /// (a heartbeat's new time) touches neither.
    tip: String,
    signed_in: bool,
}

fn icon(look: Look) -> anyhow::Result<Icon> {
    Ok(Icon::from_rgba(icons::rgba(look, SIZE), SIZE, SIZE)?)
}

/// The icon's tooltip: the shared one, and what to do when HQ refused this device's key.
fn tooltip(s: &StatusInfo) -> String {
    let mut t = super::tooltip(s);
    if let Some(m) = &s.enroll_again_text() {
        t.push('\n');
        t.push_str(m);
    }
    t
}

fn sign_text(signed_in: bool) -> String {
    tr(if signed_in {
        "tray-sign-out"
    } else {
        "tray-sign-in"
    })
}

fn build(status: &StatusInfo, hq: bool) -> anyhow::Result<Tray> {
    let menu = Menu::new();
    // The labels in the agent's language (core/i18n/*.ftl, tray-*).
    let check = MenuItem::with_id("run_check", tr("tray-run-check"), true, None);
    let fix = MenuItem::with_id("fix", tr("tray-fix"), true, None);
    let sign = MenuItem::with_id("sign", sign_text(status.signed_in), true, None);
    let report = MenuItem::with_id("report", tr("tray-report"), true, None);
    let report_drop = MenuItem::with_id("report_drop", tr("tray-report-drop"), true, None);
    let open_hq = MenuItem::with_id("open_hq", tr("tray-open-hq"), hq, None);
    let quit = MenuItem::with_id("quit", tr("tray-quit"), true, None);
    menu.append_items(&[
        &check,
        &fix,
        &sign,
        &report,
        &report_drop,
        &open_hq,
        &PredefinedMenuItem::separator(),
        &quit,
    ])?;
    let look = Look::for_state(status.state);
    let first = icon(look)?;
    // tray-icon panics when its platform library cannot be loaded (appindicator on Linux);
    // keep that from being reported as a bug, and run on without an icon instead.
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        TrayIconBuilder::new()
            .with_menu(Box::new(menu))
            .with_tooltip(tooltip(status))
            .with_title("ShiftReady")
            .with_icon(first)
            .build()
    }));
    std::panic::set_hook(prev);
    let icon = match built {
        Ok(r) => r?,
        Err(_) => anyhow::bail!("the tray icon's platform library could not be loaded"),
    };
    Ok(Tray {
        icon,
        sign,
        look,
        tip: tooltip(status),
        signed_in: status.signed_in,
    })
}

impl Tray {
    fn update(&mut self, s: &StatusInfo) {
        let look = Look::for_state(s.state);
        if look != self.look {
            match icon(look).map(|i| self.icon.set_icon(Some(i))) {
                Ok(Ok(())) => self.look = look,
                Ok(Err(e)) => tracing::warn!("tray: could not change the icon: {e}"),
                Err(e) => tracing::warn!("tray: {e:#}"),
            }
        }
        let tip = tooltip(s);
        if tip != self.tip {
            let _ = self.icon.set_tooltip(Some(&tip));
            self.tip = tip;
        }
        if s.signed_in != self.signed_in {
            self.sign.set_text(sign_text(s.signed_in));
            self.signed_in = s.signed_in;
        }
    }
}

/// The daemon's thread; [`Worker::join`] returns its exit code.
pub struct Worker(std::thread::JoinHandle<anyhow::Result<i32>>);

impl Worker {
    pub fn join(self) -> anyhow::Result<i32> {
        match self.0.join() {
            Ok(r) => r,
            Err(_) => anyhow::bail!("the daemon thread panicked"),
        }
    }
}

/// The UI's side of the daemon: its state, the requests the menu sends, and the icon.
pub struct Ui {
    req_tx: mpsc::Sender<crate::ipc::Incoming>,
    /// The daemon's runtime, for work a click starts (the fix).
    rt: tokio::runtime::Handle,
    status_rx: watch::Receiver<StatusInfo>,
    quit: Arc<Notify>,
    /// Sent (or dropped) when the daemon's thread ends.
    done_rx: oneshot::Receiver<()>,
    state_dir: PathBuf,
    hq_url: Option<String>,
    tray: Option<Tray>,
    test_menu: Option<TestMenuEvents>,
}

/// Starts the daemon on a tokio runtime in a thread of its own, with the icon (when `icon`)
/// shown before the daemon runs, so it is there once the daemon answers.
/// The daemon's runtime has one thread, as the headless daemon's (`commands::run`): checks that
/// block run on its blocking pool, and what a click starts is spawned onto it from the UI.
pub fn start(loaded: Loaded, icon: bool) -> anyhow::Result<(Ui, Worker)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let daemon = rt.block_on(Daemon::start(loaded))?;
    let state_dir: PathBuf = daemon.state_dir().to_path_buf();
    let hq_url = daemon.hq_url();
    let (req_tx, req_rx) = mpsc::channel(16);
    let (status_tx, status_rx): (_, watch::Receiver<StatusInfo>) = status_channel();
    let quit = Arc::new(Notify::new());
    let ends = UiEnds {
        requests: req_rx,
        status: status_tx,
        quit: quit.clone(),
    };
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let mut ui = Ui {
        req_tx,
        rt: rt.handle().clone(),
        status_rx,
        quit,
        done_rx,
        state_dir,
        hq_url,
        tray: None,
        test_menu: TestMenuEvents::from_env(),
    };
    if icon {
        ui.show_icon();
    }
    let worker = std::thread::Builder::new()
        .name("shiftready-daemon".into())
        .spawn(move || {
            let r = rt.block_on(run_daemon(daemon, Some(ends)));
            let _ = done_tx.send(());
            r
        })?;
    Ok((ui, Worker(worker)))
}

impl Ui {
    /// Shows the icon and its menu; without one the daemon runs on and this says why.
    fn show_icon(&mut self) {
        let status = self.status_rx.borrow_and_update().clone();
        match build(&status, self.hq_url.is_some()) {
            Ok(t) => {
                tracing::info!("tray icon shown");
                self.tray = Some(t);
            }
            Err(e) => tracing::warn!("no tray icon ({e:#}); running without one"),
        }
    }

    /// Shows the daemon's latest state.
    fn follow_status(&mut self) {
        let s = self.status_rx.borrow_and_update().clone();
        if let Some(t) = self.tray.as_mut() {
            t.update(&s);
        }
    }

    /// The UI on an event loop that runs futures (GLib's main loop on Linux): sleeps until the
    /// daemon's state changes, a menu item is clicked or the daemon stops, and returns then. No
    /// timer: an idle daemon's tray never wakes (only the test hook's file is read every 250 ms,
    /// in test builds with it set). tokio's channels need no tokio runtime to be awaited.
    #[cfg(target_os = "linux")]
    pub async fn serve(mut self) {
        let (tx, mut menu) = mpsc::unbounded_channel::<String>();
        MenuEvent::set_event_handler(Some(move |ev: MenuEvent| {
            let _ = tx.send(ev.id().as_ref().to_string());
        }));
        let hook = self.test_menu.is_some();
        loop {
            let hook_turn = async {
                if hook {
                    gtk::glib::timeout_future(std::time::Duration::from_millis(250)).await
                } else {
                    std::future::pending::<()>().await
                }
            };
            tokio::select! {
                biased;
                _ = &mut self.done_rx => return,
                changed = self.status_rx.changed() => match changed {
                    Ok(()) => self.follow_status(),
                    Err(_) => return,
                },
                Some(id) = menu.recv() => self.clicked(&id),
                () = hook_turn => {
                    let ids = self.test_menu.as_mut().map(|h| h.take()).unwrap_or_default();
                    for id in ids {
                        self.clicked(&id);
                    }
                }
            }
        }
    }

    /// One turn of the UI, called by the OS's event pump every 250 ms or so (Windows): follows
    /// the daemon's state and handles the menu clicks since the last turn. `false` once the
    /// daemon has stopped.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub fn tick(&mut self) -> bool {
        if !matches!(
            self.done_rx.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ) {
            return false;
        }
        if self.status_rx.has_changed().unwrap_or(false) {
            self.follow_status();
        }
        let mut clicked: Vec<String> = Vec::new();
        while let Ok(ev) = MenuEvent::receiver().try_recv() {
            clicked.push(ev.id().as_ref().to_string());
        }
        if let Some(hook) = self.test_menu.as_mut() {
            clicked.extend(hook.take());
        }
        for id in clicked {
            self.clicked(&id);
        }
        true
    }

    /// What a click on the menu item `id` does.
    fn clicked(&self, id: &str) {
        let signed_in = self.status_rx.borrow().signed_in;
        tracing::info!(item = id, "tray menu");
        match id {
            "run_check" => self.ask(Request::Check),
            // Changing the sound settings runs `pactl` (up to seconds): on the daemon's runtime,
            // off the UI thread; then a notification saying what changed and a fresh check so
            // the icon shows the result.
            "fix" => {
                let tx = self.req_tx.clone();
                self.rt.spawn(async move {
                    let outcome = tokio::task::spawn_blocking(|| crate::fix::fix(false)).await;
                    let (summary, body) = match outcome {
                        Ok(Ok(c)) if c.is_empty() => {
                            (tr("tray-fix-nothing"), tr("tray-fix-nothing-body"))
                        }
                        Ok(Ok(c)) => (
                            tr("tray-fix-done"),
                            c.iter().map(|c| c.text()).collect::<Vec<_>>().join("\n"),
                        ),
                        Ok(Err(e)) => (tr("tray-fix-failed"), e.text()),
                        Err(e) => (tr("tray-fix-failed"), e.to_string()),
                    };
                    tracing::info!(%summary, %body, "tray: fix");
                    crate::daemon::os::notify(&summary, &body);
                    let (reply, _ignored) = oneshot::channel();
                    let _ = tx.send((Request::Check, reply)).await;
                });
            }
            // As `shiftready report-drop` without a note; the answer (what was recorded) comes
            // back as a notification.
            "report_drop" => {
                let tx = self.req_tx.clone();
                self.rt.spawn(async move {
                    let (reply, answer) = oneshot::channel();
                    let req = Request::ReportDrop {
                        note: String::new(),
                    };
                    if tx.send((req, reply)).await.is_err() {
                        return;
                    }
                    if let Ok(r) = answer.await {
                        let body = crate::i18n::say(&r.said, &r.message);
                        tracing::info!(ok = r.ok, %body, "tray: dropped call");
                        let summary = if r.ok {
                            "tray-drop-reported"
                        } else {
                            "tray-drop-failed"
                        };
                        crate::daemon::os::notify(&tr(summary), &body);
                    }
                });
            }
            "sign" if signed_in => self.ask(Request::SignOut),
            "sign" => self.ask(Request::SignIn),
            "report" => {
                let s = self.status_rx.borrow().clone();
                match super::report_page_to_open(&self.state_dir, &s) {
                    Ok(p) => crate::platform::open(&p.to_string_lossy()),
                    Err(e) => tracing::warn!("could not write the report page: {e:#}"),
                }
            }
            "open_hq" => {
                if let Some(u) = &self.hq_url {
                    crate::platform::open(u);
                }
            }
            "quit" => self.quit.notify_one(),
            _ => {}
        }
    }

    fn ask(&self, req: Request) {
        let (reply, _ignored) = oneshot::channel();
        if self.req_tx.try_send((req, reply)).is_err() {
            tracing::warn!("tray: the daemon is busy; try again");
        }
    }
}

/// Reads the lines appended since the last look to the file named by the test hook
/// [`crate::test_hooks::TRAY_MENU_EVENTS`]: menu item ids (`run_check`, `fix`, `sign`, `report`,
/// `report_drop`, `open_hq`, `quit`), each handled exactly as a click on that item. tray-icon
/// offers no way to inject a click, so the tests drive the menu's path from the event to the
/// daemon through this.
struct TestMenuEvents {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl TestMenuEvents {
    fn from_env() -> Option<TestMenuEvents> {
        use crate::test_hooks::TRAY_MENU_EVENTS;
        let path = PathBuf::from(crate::test_hooks::var(TRAY_MENU_EVENTS)?);
        tracing::warn!(
            "test hook {TRAY_MENU_EVENTS} is set: menu clicks are also read from {}",
            path.display()
        );
        Some(TestMenuEvents {
            path,
            offset: 0,
            partial: String::new(),
        })
    }

    fn take(&mut self) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut buf = String::new();
        let read = std::fs::File::open(&self.path).and_then(|mut f| {
            f.seek(SeekFrom::Start(self.offset))?;
            f.read_to_string(&mut buf)
        });
        if read.is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.push_str(&buf);
        let Some(end) = self.partial.rfind('\n') else {
            return Vec::new();
        };
        let done: String = self.partial.drain(..=end).collect();
        done.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key HQ refused: the tooltip says what to do, with HQ's URL; otherwise nothing more.
    #[test]
    fn the_tooltip_says_when_the_computer_must_be_enrolled_again() {
        let (_, rx) = status_channel();
        let mut s = rx.borrow().clone();
        assert!(!tooltip(&s).contains("enrolled again"));
        s.enroll_again = Some(crate::ipc::enroll_again_message("https://hq.example.com"));
        let t = tooltip(&s);
        assert!(
            t.ends_with(
                "\nThis computer must be enrolled again (IT gives you the secret and, for this \
                 computer, a re-enrollment code): shiftready enroll --hq https://hq.example.com \
                 --token-file FILE --code-file CODE"
            ),
            "{t}"
        );
    }
}
