//! The tray on Windows: tray-icon's notification-area icon on the main thread, which pumps
//! its Win32 messages (tray-icon's hidden window lives there); the daemon on a tokio runtime
//! in another thread. The icons, menu and state mapping are Linux's.

use super::icons::{self, Look};
use crate::config::Loaded;
use crate::daemon::core::{UiEnds, status_channel};
use crate::daemon::{Daemon, run_daemon};
use crate::ipc::{Request, StatusInfo};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tray_icon::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

const SIZE: u32 = 32;

/// Test hook: the path of a file whose lines are menu item ids (`run_check`, `sign`, `report`,
/// `open_hq`, `quit`), each handled exactly as a click on that item. tray-icon offers no way to
/// inject a click, so the tests drive the menu's path from the event to the daemon through
/// this. Not for production use.
pub const TEST_MENU_EVENTS_ENV: &str = "SHIFTREADY_TEST_TRAY_MENU_EVENTS";

/// Reads the lines appended to the test hook's file since the last look.
struct TestMenuEvents {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl TestMenuEvents {
    fn from_env() -> Option<TestMenuEvents> {
        let path = PathBuf::from(std::env::var_os(TEST_MENU_EVENTS_ENV)?);
        tracing::warn!(
            "test hook {TEST_MENU_EVENTS_ENV} is set: menu clicks are also read from {}",
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

struct Tray {
    icon: TrayIcon,
    sign: MenuItem,
    look: Look,
}

fn icon(look: Look) -> anyhow::Result<Icon> {
    Ok(Icon::from_rgba(icons::rgba(look, SIZE), SIZE, SIZE)?)
}

fn build(status: &StatusInfo, hq: bool) -> anyhow::Result<Tray> {
    let menu = Menu::new();
    let check = MenuItem::with_id("run_check", "Run check now", true, None);
    let sign = MenuItem::with_id(
        "sign",
        if status.signed_in {
            "Sign out"
        } else {
            "Sign in"
        },
        true,
        None,
    );
    let report = MenuItem::with_id("report", "Show last report", true, None);
    let open_hq = MenuItem::with_id("open_hq", "Open HQ", hq, None);
    let quit = MenuItem::with_id("quit", "Quit", true, None);
    menu.append_items(&[
        &check,
        &sign,
        &report,
        &open_hq,
        &PredefinedMenuItem::separator(),
        &quit,
    ])?;
    let look = Look::for_state(&status.state);
    let icon = TrayIconBuilder::new()
        .with_menu(Box::new(menu))
        .with_tooltip(super::tooltip(status))
        .with_title("ShiftReady")
        .with_icon(icon(look)?)
        .build()?;
    Ok(Tray { icon, sign, look })
}

impl Tray {
    fn update(&mut self, s: &StatusInfo) {
        let look = Look::for_state(&s.state);
        if look != self.look {
            match icon(look).map(|i| self.icon.set_icon(Some(i))) {
                Ok(Ok(())) => self.look = look,
                Ok(Err(e)) => tracing::warn!("tray: could not change the icon: {e}"),
                Err(e) => tracing::warn!("tray: {e:#}"),
            }
        }
        let _ = self.icon.set_tooltip(Some(super::tooltip(s)));
        self.sign
            .set_text(if s.signed_in { "Sign out" } else { "Sign in" });
    }
}

fn ask(tx: &mpsc::Sender<crate::ipc::Incoming>, req: Request) {
    let (reply, _ignored) = oneshot::channel();
    if tx.try_send((req, reply)).is_err() {
        tracing::warn!("tray: the daemon is busy; try again");
    }
}

/// `shiftready run` with the tray on Windows.
pub fn run(loaded: Loaded) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let daemon = rt.block_on(Daemon::start(loaded))?;
    let state_dir: PathBuf = daemon.state_dir().to_path_buf();
    let hq_url = daemon.hq_url();
    let (req_tx, req_rx) = mpsc::channel(16);
    let (status_tx, mut status_rx): (_, watch::Receiver<StatusInfo>) = status_channel();
    let quit = Arc::new(Notify::new());
    let ends = UiEnds {
        requests: req_rx,
        status: status_tx,
        quit: quit.clone(),
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("shiftready-daemon".into())
        .spawn(move || {
            let r = rt.block_on(run_daemon(daemon, Some(ends)));
            let _ = done_tx.send(());
            r
        })?;

    let mut tray = match build(&status_rx.borrow_and_update().clone(), hq_url.is_some()) {
        Ok(t) => {
            tracing::info!("tray icon shown");
            Some(t)
        }
        Err(e) => {
            tracing::warn!("no tray icon ({e:#}); running without one");
            None
        }
    };

    let mut test_menu = TestMenuEvents::from_env();
    loop {
        pump_messages(Duration::from_millis(250));
        if done_rx.try_recv().is_ok() {
            break;
        }
        if status_rx.has_changed().unwrap_or(false) {
            let s = status_rx.borrow_and_update().clone();
            if let Some(t) = tray.as_mut() {
                t.update(&s);
            }
        }
        let mut clicked: Vec<String> = Vec::new();
        while let Ok(ev) = MenuEvent::receiver().try_recv() {
            clicked.push(ev.id().as_ref().to_string());
        }
        if let Some(hook) = test_menu.as_mut() {
            clicked.extend(hook.take());
        }
        for id in clicked {
            let signed_in = status_rx.borrow().signed_in;
            tracing::info!(item = id, "tray menu");
            match id.as_str() {
                "run_check" => ask(&req_tx, Request::Check),
                "sign" if signed_in => ask(&req_tx, Request::SignOut),
                "sign" => ask(&req_tx, Request::SignIn),
                "report" => {
                    let s = status_rx.borrow().clone();
                    match super::write_report_page(&state_dir, &s) {
                        Ok(p) => super::open(&p.to_string_lossy()),
                        Err(e) => tracing::warn!("could not write the report page: {e:#}"),
                    }
                }
                "open_hq" => {
                    if let Some(u) = &hq_url {
                        super::open(u);
                    }
                }
                "quit" => quit.notify_one(),
                _ => {}
            }
        }
    }
    drop(tray);
    match worker.join() {
        Ok(r) => r,
        Err(_) => anyhow::bail!("the daemon thread panicked"),
    }
}

/// Dispatches this thread's window messages (the tray icon's clicks and menu), waiting up to
/// `wait` for the first.
#[allow(unsafe_code)]
fn pump_messages(wait: Duration) {
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        DispatchMessageW, MSG, MsgWaitForMultipleObjects, PM_REMOVE, PeekMessageW, QS_ALLINPUT,
        TranslateMessage,
    };
    // SAFETY: plain Win32 calls on a `MSG` we own; no handles are waited on (count 0).
    unsafe {
        MsgWaitForMultipleObjects(0, std::ptr::null(), 0, wait.as_millis() as u32, QS_ALLINPUT);
        let mut msg: MSG = std::mem::zeroed();
        while PeekMessageW(&mut msg, std::ptr::null_mut(), 0, 0, PM_REMOVE) != 0 {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}
