//! Windows: log-off, shutdown and sleep from the session window's messages
//! (`crate::daemon::winsession`); Ctrl-C or the tray's quit stop the daemon; notifications are
//! WinRT toasts (below). The state directory lives under the user's `%LOCALAPPDATA%`, whose ACL
//! already admits that user alone.
//!
//! Toasts through the `windows` crate's own WinRT projection (`ToastNotificationManager`),
//! not a toast crate: `tauri-winrt-notification` and `winrt-notification` (what notify-rust
//! uses on Windows) are thin layers over the same three calls but each pins its own `windows`
//! release, a second copy of that crate beside the 0.62 that cpal already brings in. An
//! unpackaged program may show toasts under an AppUserModelID registered in the user's
//! registry (`HKCU\Software\Classes\AppUserModelId\<id>` with a `DisplayName`, the way the
//! Windows Community Toolkit's compat layer registers one); the daemon writes that key (no
//! administrator needed) before its first toast. Where WinRT or the notification platform is
//! missing (Wine, Server Core) the toast fails and the notice is logged instead; it runs on a
//! thread of its own, so the daemon never waits for it and a failure cannot take it down.
#![allow(unsafe_code)]

pub use super::{ctrl_c_or_quit as wait_for_stop, leave_dir as restrict_dir};
use crate::platform::windows::wide;
use windows::Data::Xml::Dom::XmlDocument;
use windows::UI::Notifications::{ToastNotification, ToastNotificationManager};
use windows_core::HSTRING;

pub async fn power_events(tx: tokio::sync::mpsc::Sender<super::PowerEvent>) {
    crate::daemon::winsession::run(tx).await
}

/// The AppUserModelID the daemon's toasts are shown under.
const AUMID: &str = "ShiftReady.Agent";

pub fn notify(summary: &str, body: &str) {
    let (s, b) = (summary.to_string(), body.to_string());
    let spawned = std::thread::Builder::new()
        .name("toast".into())
        .spawn(move || match toast(&s, &b) {
            Ok(()) => tracing::info!("desktop notification shown: {s}"),
            Err(e) => {
                tracing::info!("no desktop notification ({e}); the agent was to be told: {s}: {b}")
            }
        });
    if let Err(e) = spawned {
        tracing::info!("no desktop notification (no thread: {e}): {summary}: {body}");
    }
}

/// Text for the toast's XML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The toast's XML: the generic template, the summary as its title.
pub fn toast_xml(summary: &str, body: &str) -> String {
    format!(
        "<toast><visual><binding template=\"ToastGeneric\"><text>{}</text><text>{}</text>\
         </binding></visual></toast>",
        escape(summary),
        escape(body)
    )
}

/// Registers [`AUMID`] for this user (display name "ShiftReady"); best effort.
fn register_aumid() {
    use windows_sys::Win32::System::Registry::{HKEY_CURRENT_USER, REG_SZ, RegSetKeyValueW};
    let key = wide(format!("Software\\Classes\\AppUserModelId\\{AUMID}"));
    let name = wide("DisplayName");
    let value = wide("ShiftReady");
    // SAFETY: every string is NUL-terminated UTF-16 that outlives the call; the data length is
    // the value's size in bytes, its NUL included, as REG_SZ wants.
    let rc = unsafe {
        RegSetKeyValueW(
            HKEY_CURRENT_USER,
            key.as_ptr(),
            name.as_ptr(),
            REG_SZ,
            value.as_ptr().cast(),
            (value.len() * 2) as u32,
        )
    };
    if rc != 0 {
        tracing::debug!("the toast's AppUserModelID could not be registered (error {rc})");
    }
}

fn toast(summary: &str, body: &str) -> windows_core::Result<()> {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(register_aumid);
    let doc = XmlDocument::new()?;
    doc.LoadXml(&HSTRING::from(toast_xml(summary, body)))?;
    let toast = ToastNotification::CreateToastNotification(&doc)?;
    ToastNotificationManager::CreateToastNotifierWithId(&HSTRING::from(AUMID))?.Show(&toast)
}

#[cfg(test)]
mod tests {
    /// The text is escaped (a device name with `&` or `<` must not break the XML), and a toast
    /// where the notification platform is missing (Wine) returns an error or shows, never
    /// panics or hangs.
    #[test]
    fn toast_xml_escapes_and_a_toast_never_panics() {
        let x = super::toast_xml("Jabra & <Co>", "say \"hi\"");
        assert!(x.contains("Jabra &amp; &lt;Co&gt;"), "{x}");
        assert!(x.contains("say &quot;hi&quot;"), "{x}");
        let r = super::toast("ShiftReady test", "a test toast");
        eprintln!("toast: {r:?}");
    }
}
