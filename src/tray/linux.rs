//! The tray's event pump on Linux: GTK on the main thread, tray-icon through appindicator (an
//! XEmbed status icon when there is no D-Bus session). The menu and its dispatch are
//! [`super::ui`]'s.

use crate::config::Loaded;
use gtk::glib;
use std::time::Duration;

/// Whether an appindicator library can be loaded (tray-icon panics without one).
fn appindicator_present() -> bool {
    let names = [
        "libayatana-appindicator3.so.1",
        "libappindicator3.so.1",
        "libayatana-appindicator3.so",
        "libappindicator3.so",
    ];
    let dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/usr/local/lib",
    ];
    let extra = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    dirs.iter()
        .map(|d| d.to_string())
        .chain(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        )
        .any(|d| {
            names
                .iter()
                .any(|n| std::path::Path::new(&d).join(n).exists())
        })
}

/// GTK starts (there is a display).
pub fn available() -> Result<(), super::TrayUnavailable> {
    gtk::init().map_err(|e| super::TrayUnavailable(format!("no display for the tray icon ({e})")))
}

/// `shiftready run` with the tray on Linux.
pub fn run(loaded: Loaded) -> anyhow::Result<i32> {
    gtk::init()?;
    let icon = appindicator_present();
    if !icon {
        tracing::warn!(
            "no appindicator library (libayatana-appindicator3) found; running without a tray icon"
        );
    }
    let (mut ui, worker) = super::ui::start(loaded, icon)?;
    glib::timeout_add_local(Duration::from_millis(250), move || {
        if ui.tick() {
            glib::ControlFlow::Continue
        } else {
            gtk::main_quit();
            glib::ControlFlow::Break
        }
    });
    gtk::main();
    worker.join()
}
