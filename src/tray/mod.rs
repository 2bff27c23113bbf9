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

/// What "Show last report" opens: the daemon's live page (in the agent's language, with its
/// "Fix it" button) through a redirect file in the state directory, so that the page's secret
/// address never appears on a command line where other accounts could read it (Jupyter opens
/// its token URL through such a file for the same reason); else, when this process serves no
/// page, the static page of the last report.
pub fn report_page_to_open(state_dir: &Path, status: &StatusInfo) -> anyhow::Result<PathBuf> {
    match crate::daemon::report_page::served_url() {
        Some(url) => {
            let path = state_dir.join("report-open.html");
            crate::daemon::report_page::write_private(&path, redirect_page(url).as_bytes())?;
            Ok(path)
        }
        None => write_report_page(state_dir, status),
    }
}

/// A page that goes straight to `url` (a link too, for a browser that does not follow the
/// refresh). `url` is the daemon's own `http://127.0.0.1:PORT/KEY/`: no character in it
/// needs escaping in an attribute, and anything else is refused.
fn redirect_page(url: &str) -> String {
    let safe = url
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.'));
    let url = if safe { url } else { "about:blank" };
    format!(
        "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0; url={url}\">\
         <title>ShiftReady</title><p><a href=\"{url}\">ShiftReady</a></p>\n"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_goes_to_the_daemons_page_and_nowhere_else() {
        let url = "http://127.0.0.1:40123/0f1e2d3c4b5a69788796a5b4c3d2e1f0/";
        let page = redirect_page(url);
        assert!(
            page.contains(&format!("content=\"0; url={url}\"")),
            "{page}"
        );
        assert!(page.contains(&format!("href=\"{url}\"")), "{page}");
        // An address that could leave the attribute is never written into the page.
        let bad = redirect_page("http://127.0.0.1:1/\"><script>alert(1)</script>");
        assert!(!bad.contains("<script>"), "{bad}");
        assert!(bad.contains("url=about:blank"), "{bad}");
    }

    #[cfg(unix)]
    #[test]
    fn the_redirect_file_is_this_users_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sr-tray-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report-open.html");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        crate::daemon::report_page::write_private(&path, b"new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
