//! A private D-Bus bus: `dbus-daemon --session` of the test's own, standing in for the session
//! bus (notifications) or the system bus (logind). Needs the Debian package dbus.

use crate::proc::Proc;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

pub struct Bus {
    pub address: String,
    _daemon: Proc,
}

impl Bus {
    /// Starts the bus daemon and reads the address it prints.
    pub fn start() -> Bus {
        let mut child = Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--nopidfile",
                "--nosyslog",
                "--print-address=1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        let daemon = Proc(child);
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed {address:?}, not a bus address"
        );
        Bus {
            address,
            _daemon: daemon,
        }
    }

    /// Emits a signal on this bus with dbus-send (`args` are its typed arguments, e.g.
    /// `boolean:true`).
    pub fn send_signal(&self, path: &str, member: &str, args: &[&str]) {
        let st = Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args(["--type=signal", path, member])
            .args(args)
            .status()
            .expect("dbus-send (Debian package dbus)");
        assert!(st.success(), "dbus-send {member} failed");
    }
}
