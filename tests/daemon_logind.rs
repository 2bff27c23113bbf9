//! Sleep announced by logind over D-Bus: a private `dbus-daemon` stands in for the system bus
//! and `dbus-send` plays logind's `PrepareForSleep` signal. The daemon signs out with reason
//! `suspend` before the sleep and, in a shift, signs in again after waking.
#![cfg(target_os = "linux")]

mod daemon_common;

use chrono::{Timelike, Utc};
use daemon_common::{Agent, AgentExt, shift_events, shift_toml};
use shiftready_testkit::dbus::Bus;
use std::time::Duration;

fn prepare_for_sleep(bus: &Bus, starting: bool) {
    bus.send_signal(
        "/org/freedesktop/login1",
        "org.freedesktop.login1.Manager.PrepareForSleep",
        &[&format!("boolean:{starting}")],
    );
}

#[test]
fn prepare_for_sleep_signs_out_with_reason_suspend_and_waking_signs_in_again() {
    let bus = Bus::start();
    let start = Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(1);
    let end = start + chrono::Duration::seconds(120);
    let mut a = Agent::new(
        &shift_toml(start, end),
        "readiness_bar = \"ready\"\npre_shift_minutes = 1\nrecheck_seconds = 5",
    );
    shiftready::test_hooks::require(shiftready::test_hooks::LOGIND_ANY_SENDER);
    a.spawn(&["run", "--headless"], |c| {
        c.env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .env("SHIFTREADY_TEST_LOGIND_ANY_SENDER", "1");
    });
    a.wait_for("sign-in", Duration::from_secs(10), |s| {
        s["signed_in"] == true
    });
    a.wait_log(
        "listening for sleep and shutdown from logind",
        Duration::from_secs(10),
    );
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
