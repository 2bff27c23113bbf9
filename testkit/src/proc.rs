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
    wait_or_kill(child, limit)
}

/// Waits up to `limit` for the child to exit; kills and reaps it after that and returns
/// `None`.
fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
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
        std::thread::sleep(Duration::from_millis(20));
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

/// How long a command under test may run before the test calls it hung. Far above every time
/// limit of the programs (a probe's seconds, a check's stage limits), so a loaded two-core
/// machine cannot trip it: the property it guards is "returns", not "is fast" (speed is for
/// the benchmarks).
pub const HANG: Duration = Duration::from_secs(90);

/// `cmd.output()`, except that a command still running after `limit` is killed and the test
/// fails with what it printed so far: a "never hangs" test fails instead of hanging.
pub fn output_within(cmd: &mut std::process::Command, limit: Duration) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = wait_or_kill(&mut child, limit);
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    let Some(status) = status else {
        panic!(
            "{cmd:?} still ran after {limit:?} (killed): it hangs\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command that outlives the limit is killed and fails the caller; one that ends in
    /// time gives its output as `Command::output` would.
    #[test]
    fn output_within_kills_what_hangs_and_passes_what_returns() {
        let out = output_within(
            std::process::Command::new("sh").args(["-c", "echo hi; echo err >&2; exit 3"]),
            Duration::from_secs(30),
        );
        assert_eq!(code_out_err(&out), (3, "hi\n".into(), "err\n".into()));
        let t = Instant::now();
        let hung = std::panic::catch_unwind(|| {
            output_within(
                std::process::Command::new("sh").args(["-c", "echo started; exec sleep 60"]),
                Duration::from_millis(300),
            )
        });
        let msg = *hung.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("it hangs") && msg.contains("started"), "{msg}");
        assert!(
            t.elapsed() < Duration::from_secs(50),
            "killed, not waited for"
        );
    }
}
