//! The tray's event pump on Linux: GTK on the main thread, tray-icon through appindicator (an
//! XEmbed status icon when there is no D-Bus session). The menu and its dispatch are
//! [`super::ui`]'s.

use crate::config::Loaded;
use gtk::glib;

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
///
/// With `GDK_GL=disable` while GTK starts (unless the person set `GDK_GL` themselves): GTK 3 on
/// X11 otherwise opens OpenGL at start-up only to rank the screen's visuals, which maps the GL
/// driver (Mesa's, with its LLVM: about 50 MB resident, 30 MB PSS, measured by
/// `scripts/bench_daemon.sh`). Nothing here draws with GL (the icon is a PNG, the menu is drawn
/// with cairo); the variable is removed again once GTK has read it, so programs the tray
/// starts (the browser for the report page) do not inherit it.
pub fn available() -> Result<(), super::TrayUnavailable> {
    let set = std::env::var_os("GDK_GL").is_none() && single_threaded();
    if set {
        #[allow(unsafe_code)]
        // SAFETY: the process has one thread (just checked, and nothing here starts one), so
        // no other thread reads or writes the environment meanwhile.
        unsafe {
            std::env::set_var("GDK_GL", "disable")
        };
    }
    let started = gtk::init();
    if set && single_threaded() {
        #[allow(unsafe_code)]
        // SAFETY: as above, checked again after GTK started (it reads GDK_GL in gtk_init).
        unsafe {
            std::env::remove_var("GDK_GL")
        };
    }
    started.map_err(|e| super::TrayUnavailable(format!("no display for the tray icon ({e})")))
}

/// Whether this process has a single thread (`/proc/self/task`).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
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
    let (ui, worker) = super::ui::start(loaded, icon)?;
    // Woken by the daemon's state, a click or the daemon's end; no polling timer.
    glib::MainContext::default().spawn_local(async move {
        ui.serve().await;
        gtk::main_quit();
    });
    gtk::main();
    worker.join()
}
