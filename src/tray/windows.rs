//! The tray's event pump on Windows: tray-icon's notification-area icon on the main thread,
//! which pumps its Win32 messages (tray-icon's hidden window lives there). The menu and its
//! dispatch are [`super::ui`]'s.

use crate::config::Loaded;
use std::time::Duration;

/// The notification area is always there.
pub fn available() -> Result<(), super::TrayUnavailable> {
    Ok(())
}

/// `shiftready run` with the tray on Windows.
pub fn run(loaded: Loaded) -> anyhow::Result<i32> {
    let (mut ui, worker) = super::ui::start(loaded, true)?;
    loop {
        pump_messages(Duration::from_millis(250));
        if !ui.tick() {
            break;
        }
    }
    drop(ui);
    worker.join()
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
