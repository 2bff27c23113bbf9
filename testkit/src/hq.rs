//! The real `shiftready-hq` as a child process: `serve` on a loopback port, and its admin
//! commands against a database. The one way every test starts HQ.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// The `shiftready-hq` binary next to the running test (see [`crate::workspace_bin`]); HQ's own
/// tests pass `env!("CARGO_BIN_EXE_shiftready-hq")` instead.
pub fn bin() -> PathBuf {
    crate::workspace_bin("shiftready-hq")
}

/// A running `shiftready-hq serve`; killed on drop.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub url: String,
    pub port: u16,
    /// Where its stderr goes (appended to across restarts).
    pub log: PathBuf,
}

/// How to start `serve`, for what [`Server::start`] does not cover (another probe address, a
/// wrapper such as `ip netns exec NS`).
pub struct Serve<'a> {
    pub bin: &'a Path,
    pub db_url: &'a str,
    /// `XDG_DATA_HOME` of the server.
    pub data_dir: &'a Path,
    pub listen: &'a str,
    pub probe_listen: &'a str,
    pub extra: &'a [&'a str],
    /// Where its stderr is appended.
    pub log: &'a Path,
    /// A command the server runs under (`["ip", "netns", "exec", NS]`), or none.
    pub wrapper: &'a [&'a str],
}

impl Server {
    /// `BIN serve --listen LISTEN --probe-listen 127.0.0.1:0 EXTRA...` with its database at
    /// `db_url` and `XDG_DATA_HOME` at `data_dir`, stderr appended to `log`; returns once it
    /// printed where it listens (panics with the log when it exits first).
    pub fn start(
        bin: &Path,
        db_url: &str,
        data_dir: &Path,
        listen: &str,
        extra: &[&str],
        log: &Path,
    ) -> Server {
        Serve {
            bin,
            db_url,
            data_dir,
            listen,
            probe_listen: "127.0.0.1:0",
            extra,
            log,
            wrapper: &[],
        }
        .start()
    }
}

impl Serve<'_> {
    /// Starts the server; returns once it printed where it listens (the reflector, when it has
    /// one, is bound before that line), or panics with its log when it exits first.
    pub fn start(self) -> Server {
        let Serve {
            bin,
            db_url,
            data_dir,
            listen,
            probe_listen,
            extra,
            log,
            wrapper,
        } = self;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .args(["serve", "--listen", listen, "--probe-listen", probe_listen])
            .args(extra)
            .env("SHIFTREADY_HQ_DATABASE_URL", db_url)
            .env("XDG_DATA_HOME", data_dir)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut url = None;
        for _ in 0..5 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(u) = line.trim().strip_prefix("shiftready-hq: listening on ") {
                url = Some(u.to_string());
                break;
            }
        }
        let Some(url) = url else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "HQ did not start: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no port in {url:?}"));
        Server {
            child,
            url,
            port,
            log: log.to_path_buf(),
        }
    }
}

impl Server {
    /// SIGTERM, then waits for the exit; panics when it has not stopped within 10 s.
    pub fn stop(&mut self) -> ExitStatus {
        crate::proc::terminate(&mut self.child, Duration::from_secs(10))
            .expect("the server did not stop within 10 s of SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an HQ admin command (`token create ...`, `policy set ...`) against `db_url`, with
/// `stdin` written to its standard input (closed right away without it); returns (exit code,
/// stdout, stderr).
pub fn admin(
    bin: &Path,
    db_url: &str,
    data_dir: Option<&Path>,
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("SHIFTREADY_HQ_DATABASE_URL", db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = data_dir {
        cmd.env("XDG_DATA_HOME", d);
    }
    let mut child = cmd.spawn().unwrap();
    {
        let mut si = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            // The command may exit (a usage error) before it reads stdin.
            let _ = si.write_all(s.as_bytes());
        }
    }
    crate::proc::code_out_err(&child.wait_with_output().unwrap())
}

/// The last line of a command's output (secrets and tokens are printed there).
pub fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or("").trim().to_string()
}
