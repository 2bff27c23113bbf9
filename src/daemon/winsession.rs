//! Windows: the session and power messages. A hidden top-level window (not a message-only
//! `HWND_MESSAGE` window: those get no broadcasts) on a thread of its own with a `GetMessageW`
//! loop receives `WM_QUERYENDSESSION` / `WM_ENDSESSION` (log-off or shutdown) and
//! `WM_POWERBROADCAST` (suspend, resume); a console control handler catches the console being
//! closed (`CTRL_CLOSE_EVENT`) and, where Windows sends them to us, `CTRL_LOGOFF_EVENT` and
//! `CTRL_SHUTDOWN_EVENT`.
//!
//! Each becomes an [`Input`] for the daemon on the same path as logind's signals on Linux
//! (a [`PowerEvent`]). The window procedure (or control handler) blocks until the daemon has
//! put the sign-out in the spool; on log-off and shutdown it also waits (a few seconds at
//! most, what Windows allows) until the daemon has tried to deliver it and stopped, since
//! Windows ends the process once the message has been answered.
//!
//! Everything `unsafe` here is a plain Win32 call with strings and structures we own, or a
//! `'static` callback handed to Windows; each block says why it is sound.
#![allow(unsafe_code)]

use shiftready_core::shift::Input;
use std::sync::Mutex;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, WPARAM};
use windows_sys::Win32::System::Console::{
    CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT, SetConsoleCtrlHandler,
};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DispatchMessageW, ENDSESSION_LOGOFF, GetMessageW, MSG,
    PBT_APMRESUMEAUTOMATIC, PBT_APMSUSPEND, RegisterClassW, TranslateMessage, WM_ENDSESSION,
    WM_POWERBROADCAST, WM_QUERYENDSESSION, WNDCLASSW, WS_OVERLAPPED,
};

/// A power or session event and the channel to say "handled" on (the sign-out is in the spool).
pub type PowerEvent = (Input, oneshot::Sender<()>);

/// The hidden window's class name (tests find the window by it).
pub const WINDOW_CLASS: &str = "ShiftReadySessionWatch";

/// How long a window message or control event waits for the daemon to record the event.
const RECORD_WAIT: Duration = Duration::from_secs(5);
/// How long log-off / shutdown also waits for the daemon to deliver and stop (it flushes for
/// at most 3 s; Windows kills a hung application after about 5 s).
const STOP_WAIT: Duration = Duration::from_secs(4);

/// A message from the window thread (or control handler) and where to say it was handled.
type Bridge = (Input, std_mpsc::Sender<()>);

static BRIDGE: Mutex<Option<mpsc::Sender<Bridge>>> = Mutex::new(None);

/// What a window message means for the daemon, if anything.
pub fn input_for_message(msg: u32, wparam: WPARAM, lparam: LPARAM) -> Option<Input> {
    match msg {
        // wParam FALSE: the session is not ending after all (another application refused).
        WM_ENDSESSION if wparam != 0 => {
            if (lparam as u32) & ENDSESSION_LOGOFF != 0 {
                Some(Input::Logoff)
            } else {
                Some(Input::Shutdown)
            }
        }
        WM_POWERBROADCAST => match wparam as u32 {
            PBT_APMSUSPEND => Some(Input::Suspend),
            PBT_APMRESUMEAUTOMATIC => Some(Input::Resume),
            _ => None,
        },
        _ => None,
    }
}

/// What a console control event means for the daemon (Ctrl-C and Ctrl-Break are tokio's).
pub fn input_for_ctrl(ctrl: u32) -> Option<Input> {
    match ctrl {
        CTRL_CLOSE_EVENT | CTRL_SHUTDOWN_EVENT => Some(Input::Shutdown),
        CTRL_LOGOFF_EVENT => Some(Input::Logoff),
        _ => None,
    }
}

/// Hands `input` to the daemon and blocks until it was handled (bounded). False when no
/// daemon is listening.
fn deliver(input: Input) -> bool {
    let Some(tx) = BRIDGE.lock().ok().and_then(|b| b.clone()) else {
        return false;
    };
    let (reply, handled) = std_mpsc::channel();
    if tx.try_send((input, reply)).is_err() {
        return false;
    }
    let wait = match input {
        Input::Shutdown | Input::Logoff => RECORD_WAIT + STOP_WAIT,
        _ => RECORD_WAIT,
    };
    handled.recv_timeout(wait).is_ok()
}

unsafe extern "system" fn wndproc(hwnd: HWND, msg: u32, wparam: WPARAM, lparam: LPARAM) -> LRESULT {
    if let Some(input) = input_for_message(msg, wparam, lparam) {
        tracing::info!(?input, msg, "session or power message");
        deliver(input);
    }
    match msg {
        // Never stand in the way of a log-off or shutdown.
        WM_QUERYENDSESSION | WM_POWERBROADCAST => 1,
        WM_ENDSESSION => 0,
        // SAFETY: the arguments Windows gave us, passed on.
        _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
    }
}

unsafe extern "system" fn ctrl_handler(ctrl: u32) -> windows_sys::core::BOOL {
    match input_for_ctrl(ctrl) {
        Some(input) => {
            tracing::info!(?input, ctrl, "console control event");
            deliver(input);
            1
        }
        // Not ours: the next handler (tokio's Ctrl-C) decides.
        None => 0,
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// The window thread: creates the hidden window and pumps its messages forever (the process
/// ends with the daemon).
fn window_thread(ready: std_mpsc::Sender<Result<(), String>>) {
    let class = wide(WINDOW_CLASS);
    let title = wide("ShiftReady");
    // SAFETY: plain Win32 calls with valid, NUL-terminated strings that outlive them; the
    // window procedure is a `'static` function.
    unsafe {
        let hinstance = GetModuleHandleW(std::ptr::null());
        let wc = WNDCLASSW {
            style: 0,
            lpfnWndProc: Some(wndproc),
            cbClsExtra: 0,
            cbWndExtra: 0,
            hInstance: hinstance,
            hIcon: std::ptr::null_mut(),
            hCursor: std::ptr::null_mut(),
            hbrBackground: std::ptr::null_mut(),
            lpszMenuName: std::ptr::null(),
            lpszClassName: class.as_ptr(),
        };
        // Zero when the class exists already (a second start in one process): fine.
        RegisterClassW(&wc);
        let hwnd = CreateWindowExW(
            0,
            class.as_ptr(),
            title.as_ptr(),
            WS_OVERLAPPED,
            0,
            0,
            0,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            hinstance,
            std::ptr::null(),
        );
        if hwnd.is_null() {
            let _ = ready.send(Err(format!(
                "CreateWindowExW failed ({})",
                std::io::Error::last_os_error()
            )));
            return;
        }
        let _ = ready.send(Ok(()));
        let mut msg: MSG = std::mem::zeroed();
        while GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}

/// Watches session and power messages and hands them to the daemon until it goes away.
pub async fn run(tx: mpsc::Sender<PowerEvent>) {
    let (b_tx, mut b_rx) = mpsc::channel::<Bridge>(4);
    if let Ok(mut b) = BRIDGE.lock() {
        *b = Some(b_tx);
    }
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("session-window".into())
        .spawn(move || window_thread(ready_tx));
    let window = match spawned {
        Ok(_) => tokio::task::spawn_blocking(move || ready_rx.recv_timeout(RECORD_WAIT))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .and_then(|r| r),
        Err(e) => Err(e.to_string()),
    };
    match &window {
        Ok(()) => tracing::info!("listening for log-off, shutdown and sleep from Windows"),
        Err(e) => tracing::warn!(
            "no window for session and power messages ({e}); sign-out on log-off, shutdown \
             and sleep is best effort"
        ),
    }
    // SAFETY: registers a `'static` handler function that only takes a lock and sends on
    // channels.
    if unsafe { SetConsoleCtrlHandler(Some(ctrl_handler), 1) } == 0 {
        tracing::info!(
            "no console control handler ({})",
            std::io::Error::last_os_error()
        );
    }
    while let Some((input, reply)) = b_rx.recv().await {
        let (done, handled) = oneshot::channel();
        if tx.send((input, done)).await.is_err() {
            break;
        }
        let _ = tokio::time::timeout(RECORD_WAIT, handled).await;
        if matches!(input, Input::Shutdown | Input::Logoff) {
            // The daemon delivers what it can, then stops (and drops its receiver).
            let _ = tokio::time::timeout(STOP_WAIT, tx.closed()).await;
        }
        let _ = reply.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windows_sys::Win32::UI::WindowsAndMessaging::{FindWindowW, SendMessageW};

    #[test]
    fn messages_map_to_inputs() {
        // ENDSESSION_LOGOFF in lParam: the user logs off; without it the system shuts down
        // (Microsoft's WM_ENDSESSION documentation).
        assert_eq!(
            input_for_message(WM_ENDSESSION, 1, ENDSESSION_LOGOFF as LPARAM),
            Some(Input::Logoff)
        );
        assert_eq!(
            input_for_message(WM_ENDSESSION, 1, 0),
            Some(Input::Shutdown)
        );
        assert_eq!(input_for_message(WM_ENDSESSION, 0, 0), None);
        assert_eq!(input_for_message(WM_QUERYENDSESSION, 0, 0), None);
        assert_eq!(
            input_for_message(WM_POWERBROADCAST, PBT_APMSUSPEND as WPARAM, 0),
            Some(Input::Suspend)
        );
        assert_eq!(
            input_for_message(WM_POWERBROADCAST, PBT_APMRESUMEAUTOMATIC as WPARAM, 0),
            Some(Input::Resume)
        );
        // PBT_POWERSETTINGCHANGE (0x8013) is not ours.
        assert_eq!(input_for_message(WM_POWERBROADCAST, 0x8013, 0), None);
        assert_eq!(input_for_ctrl(CTRL_CLOSE_EVENT), Some(Input::Shutdown));
        assert_eq!(input_for_ctrl(CTRL_SHUTDOWN_EVENT), Some(Input::Shutdown));
        assert_eq!(input_for_ctrl(CTRL_LOGOFF_EVENT), Some(Input::Logoff));
        assert_eq!(input_for_ctrl(0), None); // CTRL_C_EVENT is tokio's
    }

    /// The real hidden window: found as a top-level window by its class, and messages sent
    /// to it reach the daemon's channel; the sender waits until the daemon has handled them.
    #[test]
    fn the_hidden_window_forwards_messages() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, mut rx) = mpsc::channel::<PowerEvent>(4);
        let class = wide(WINDOW_CLASS);
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sent2 = sent.clone();
        // The sender: finds the window, then SendMessageW (which blocks until handled).
        let sender = std::thread::spawn(move || {
            // SAFETY (every block in this thread): Win32 calls with a NUL-terminated string we
            // own and a window handle Windows gave us; the messages carry no pointers.
            let mut hwnd = std::ptr::null_mut();
            for _ in 0..200 {
                hwnd = unsafe { FindWindowW(class.as_ptr(), std::ptr::null()) };
                if !hwnd.is_null() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(
                !hwnd.is_null(),
                "no top-level window of class {WINDOW_CLASS}"
            );
            let r = unsafe { SendMessageW(hwnd, WM_POWERBROADCAST, PBT_APMSUSPEND as WPARAM, 0) };
            assert_eq!(r, 1);
            sent2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let r = unsafe { SendMessageW(hwnd, WM_QUERYENDSESSION, 0, 0) };
            assert_eq!(r, 1, "the query must allow the session to end");
            unsafe { SendMessageW(hwnd, WM_ENDSESSION, 1, ENDSESSION_LOGOFF as LPARAM) };
            sent2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        rt.block_on(async {
            let watch = tokio::spawn(run(tx));
            let (input, done) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("no suspend within 20 s")
                .unwrap();
            assert_eq!(input, Input::Suspend);
            // The window procedure waits for "handled".
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 0);
            done.send(()).unwrap();
            let (input, done) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("no log-off within 20 s")
                .unwrap();
            assert_eq!(input, Input::Logoff);
            done.send(()).unwrap();
            // Log-off also waits for the daemon to stop: it has not yet.
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 1);
            drop(rx);
            let until = std::time::Instant::now() + Duration::from_secs(20);
            while sent.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                assert!(
                    std::time::Instant::now() < until,
                    "WM_ENDSESSION never returned"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            watch.abort();
        });
        sender.join().unwrap();
    }
}
