//! Sleep announced by logind over D-Bus: a private `dbus-daemon` stands in for the system bus
//! and `dbus-send` plays logind's `PrepareForSleep` signal. The daemon signs out with reason
//! `suspend` before the sleep and, in a shift, signs in again after waking.
#![cfg(target_os = "linux")]

mod daemon_common;

use chrono::{Timelike, Utc};
use daemon_common::{Agent, shift_events, shift_toml};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Bus {
    child: Child,
    address: String,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn private_bus() -> Bus {
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon (Debian package dbus)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line.trim().to_string();
    assert!(!address.is_empty(), "dbus-daemon printed no address");
    Bus { child, address }
}

fn prepare_for_sleep(bus: &Bus, starting: bool) {
    let st = Command::new("dbus-send")
        .arg(format!("--bus={}", bus.address))
        .args([
            "--type=signal",
            "/org/freedesktop/login1",
            "org.freedesktop.login1.Manager.PrepareForSleep",
        ])
        .arg(format!("boolean:{starting}"))
        .status()
        .expect("dbus-send (Debian package dbus)");
    assert!(st.success());
}

#[test]
fn prepare_for_sleep_signs_out_with_reason_suspend_and_waking_signs_in_again() {
    let bus = private_bus();
    let start = Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(1);
    let end = start + chrono::Duration::seconds(120);
    let mut a = Agent::new(
        &shift_toml(start, end),
        "readiness_bar = \"ready\"\npre_shift_minutes = 1\nrecheck_seconds = 5",
    );
    shiftready::test_hooks::require(shiftready::test_hooks::LOGIND_ANY_SENDER);
    let log = std::fs::File::create(&a.log).unwrap();
    let child = a
        .command()
        .args(["run", "--headless"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .env("SHIFTREADY_TEST_LOGIND_ANY_SENDER", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    a.child = Some(child);
    a.wait_up();
    a.wait_for("sign-in", Duration::from_secs(10), |s| {
        s["signed_in"] == true
    });
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !a
        .logs()
        .contains("listening for sleep and shutdown from logind")
    {
        assert!(std::time::Instant::now() < until, "{}", a.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    prepare_for_sleep(&bus, true);
    a.wait_for("sign-out for sleep", Duration::from_secs(10), |s| {
        s["signed_in"] == false
    });
    prepare_for_sleep(&bus, false);
    a.wait_for("sign-in after waking", Duration::from_secs(15), |s| {
        s["signed_in"] == true
    });
    assert!(a.signal("-TERM").success());
    assert_eq!(
        shift_events(&a.spool_events()),
        [
            ("sign_in".into(), "auto".into()),
            ("sign_out".into(), "suspend".into()),
            ("sign_in".into(), "auto".into()),
            ("sign_out".into(), "shutdown".into()),
        ]
    );
}
