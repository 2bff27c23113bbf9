//! An X display of the test's own: Xvfb on a free display number. Needs the Debian package xvfb.

use crate::proc::{Proc, wait_until};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Xvfb {
    /// `:N`, for `DISPLAY`.
    pub display: String,
    _server: Proc,
}

fn taken(n: u32) -> bool {
    Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        || Path::new(&format!("/tmp/.X{n}-lock")).exists()
}

impl Xvfb {
    /// Starts Xvfb with one screen of `geometry` (`WxHxDEPTH`) on the first free display number
    /// from `base` plus this process's id modulo 200 (so test binaries running side by side
    /// look in different places), and waits for its socket.
    pub fn start(base: u32, geometry: &str) -> Xvfb {
        let first = base + std::process::id() % 200;
        let n = (first..first + 100)
            .find(|&n| !taken(n))
            .expect("a free X display number");
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", geometry, "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (Debian package xvfb)");
        let server = Proc(child);
        let socket = format!("/tmp/.X11-unix/X{n}");
        wait_until(
            "Xvfb's socket",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || Path::new(&socket).exists(),
            String::new,
        );
        Xvfb {
            display,
            _server: server,
        }
    }
}
