//! Child processes that end with the test, and waiting for a condition.

use std::process::Child;
use std::time::{Duration, Instant};

/// A child process killed (by its own pid) and reaped on drop.
pub struct Proc(pub Child);

impl Proc {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `pred` every `every` until it holds; panics with `what` (and `detail()`, say a log)
/// after `limit`.
pub fn wait_until(
    what: &str,
    limit: Duration,
    every: Duration,
    mut pred: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let until = Instant::now() + limit;
    while !pred() {
        assert!(
            Instant::now() < until,
            "timed out after {limit:?} waiting for {what}\n{}",
            detail()
        );
        std::thread::sleep(every);
    }
}

/// Sends SIGTERM with kill(1) and waits up to `limit` for the exit; kills it after that and
/// returns `None`.
pub fn terminate(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let until = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A finished command's exit code (-1 when a signal ended it), stdout and stderr as text.
pub fn code_out_err(out: &std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
