//! `shiftready run [--headless]`: the daemon, with the tray icon when this build has one, the
//! desktop can show it and `--headless` was not given; else headless.

use crate::config::Loaded;
use crate::daemon::{Daemon, run_daemon};

/// `shiftready run [--headless]`.
pub fn run(loaded: &Loaded, headless: bool) -> anyhow::Result<i32> {
    #[cfg(feature = "tray")]
    if !headless {
        match crate::tray::available() {
            Ok(()) => return crate::tray::run(loaded.clone()),
            Err(why) => tracing::warn!("{why}; running without an icon"),
        }
    }
    #[cfg(not(feature = "tray"))]
    if !headless {
        tracing::warn!("this build has no tray icon; running headless");
    }
    headless_daemon(loaded)
}

/// The daemon without a UI. One thread is plenty for a daemon that mostly sleeps (checks that
/// block run on tokio's blocking pool), and each thread more costs its stack and a malloc arena.
fn headless_daemon(loaded: &Loaded) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let daemon = Daemon::start(loaded.clone()).await?;
        run_daemon(daemon, None).await
    })
}
