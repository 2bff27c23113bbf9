//! The tray icon: the UI on the main thread (GTK on Linux, a Win32 message loop on Windows),
//! the daemon on a tokio runtime in another thread, joined by channels
//! (`crate::daemon::UiLink`'s ends). Where there is no display or no appindicator library, the
//! daemon runs on without an icon and logs why.

pub mod icons;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(not(any(target_os = "linux", windows)))]
mod other;
#[cfg(not(any(target_os = "linux", windows)))]
use other as os;
#[cfg(any(target_os = "linux", windows))]
mod ui;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

use crate::config::Loaded;
use crate::ipc::StatusInfo;
use proto::DaemonState;
use std::path::{Path, PathBuf};

/// Why there is no tray icon here; `shiftready run` then runs the daemon without one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TrayUnavailable(pub String);

/// Whether the icon can be shown here; call on the main thread before [`run`].
pub fn available() -> Result<(), TrayUnavailable> {
    os::available()
}

/// `shiftready run` with the tray icon (once [`available`] said yes).
pub fn run(loaded: Loaded) -> anyhow::Result<i32> {
    os::run(loaded)
}

/// The tooltip: the state in words and the shift.
pub fn tooltip(s: &StatusInfo) -> String {
    use crate::i18n::{tr, trm};
    use proto::Msg;
    let state = tr(match s.state {
        DaemonState::Ready => "tip-ready",
        DaemonState::Degraded => "tip-degraded",
        DaemonState::Unknown if s.last_check_at.is_none() => "tip-not-checked",
        DaemonState::Unknown => "tip-unknown",
        DaemonState::NotReady => "tip-not-ready",
        DaemonState::Offline => "tip-offline",
        DaemonState::SignedOut => "tip-signed-out",
    });
    let hm = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono::Local).format("%H:%M").to_string()
    };
    let shift = match (s.shift, s.next_shift) {
        (Some(w), _) => trm(&Msg::new("tip-shift-until").text("end", hm(w.end))),
        (None, Some(w)) => trm(&Msg::new("tip-next-shift")
            .text("day", crate::i18n::local_time(w.start, "%a"))
            .text("start", hm(w.start))
            .text("end", hm(w.end))),
        (None, None) => tr("tip-no-shift"),
    };
    let signed = tr(if s.signed_in {
        "tip-signed-in-word"
    } else {
        "tip-signed-out-word"
    });
    let fix = s
        .fix_first_text()
        .map(|f| {
            format!(
                "\n{}",
                trm(&Msg::new("tip-fix-first").text("fix", f.as_str()))
            )
        })
        .unwrap_or_default();
    format!("ShiftReady: {state} ({signed})\n{shift}{fix}")
}

/// Writes the report page for the last check to the state dir and returns its path.
pub fn write_report_page(state_dir: &Path, status: &StatusInfo) -> anyhow::Result<PathBuf> {
    let report: Option<proto::Report> = std::fs::read(state_dir.join("last-report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let page = crate::daemon::report_page::render(report.as_ref(), status.state.as_str());
    let path = state_dir.join("report.html");
    std::fs::write(&path, page)?;
    Ok(path)
}
