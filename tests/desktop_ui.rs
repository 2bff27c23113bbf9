//! What the agent sees and clicks, for real: a desktop notification received by a notification
//! server of the test's own (zbus, `org.freedesktop.Notifications`) on a private D-Bus session
//! bus when the pre-shift check fails; and tray menu clicks ("Sign in", "Sign out", "Quit")
//! taking the menu's path into the daemon and on to HQ's shift log, under Xvfb. Clicks come
//! through the daemon's test hook `SHIFTREADY_TEST_TRAY_MENU_EVENTS` (tray-icon cannot inject
//! a click). Needs the Debian packages dbus and xvfb.
#![cfg(target_os = "linux")]

mod daemon_common;

use chrono::Timelike;
use daemon_common::{Agent, AgentExt, Hq, hq_shift_log, shift_toml};
use shiftready_testkit::dbus::Bus;
use shiftready_testkit::x11::Xvfb;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const POLICY: &str = "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 5\nlost_contact_after_missed = 100";

/// One `Notify` call as the server received it.
#[derive(Debug)]
struct Shown {
    app_name: String,
    summary: String,
    body: String,
    urgency: Option<u8>,
}

/// A notification server of our own: records every `Notify` call.
struct Server {
    tx: mpsc::UnboundedSender<Shown>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let _ = self.tx.send(Shown {
            app_name,
            summary,
            body,
            urgency,
        });
        7
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "test".into(),
            "shiftready-tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }
}

/// An agent with notifications on, a shift 40 s away (inside the pre-shift minute, so the
/// daemon checks at once) and a failing headset.
fn failing_before_a_shift() -> Agent {
    let start = chrono::Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(40);
    let a = Agent::new(
        &shift_toml(start, start + chrono::Duration::seconds(60)),
        POLICY,
    );
    let cfg = std::fs::read_to_string(&a.config).unwrap();
    std::fs::write(
        &a.config,
        cfg.replace("notifications = false", "notifications = true"),
    )
    .unwrap();
    a.set_report(&[("os", "pass"), ("headset", "fail"), ("network", "pass")]);
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pre_shift_check_shows_a_desktop_notification() {
    let bus = Bus::start();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _server = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at("/org/freedesktop/Notifications", Server { tx })
        .unwrap()
        .build()
        .await
        .unwrap();

    let mut a = failing_before_a_shift();
    tokio::task::block_in_place(|| {
        a.spawn(&["run", "--headless"], |c| {
            c.env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        })
    });

    let shown = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no notification within 30 s:\n{}", a.logs()))
        .unwrap();
    assert_eq!(shown.app_name, "ShiftReady");
    assert_eq!(shown.summary, "Not ready for your shift", "{shown:?}");
    assert!(
        shown.body.contains("Fix the headset."),
        "the hint is in the body: {shown:?}"
    );
    assert!(shown.body.starts_with("Your shift starts "), "{shown:?}");
    assert_eq!(shown.urgency, Some(1));
    let until = Instant::now() + Duration::from_secs(5);
    while !a.logs().contains("desktop notification shown") {
        assert!(Instant::now() < until, "{}", a.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        a.logs()
            .contains("desktop notification shown: Not ready for your shift id=7"),
        "{}",
        a.logs()
    );
    tokio::task::block_in_place(|| assert!(a.signal("-TERM").success()));
}

#[test]
fn without_a_notification_server_the_notice_is_logged_and_the_daemon_runs_on() {
    let bus = Bus::start();
    let mut a = failing_before_a_shift();
    a.spawn(&["run", "--headless"], |c| {
        c.env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    });
    let until = Instant::now() + Duration::from_secs(30);
    while !a.logs().contains("no desktop notification") {
        assert!(Instant::now() < until, "{}", a.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        a.logs()
            .contains("the agent was to be told: Not ready for your shift"),
        "{}",
        a.logs()
    );
    assert!(a.status()["pid"].is_number());
    assert!(a.signal("-TERM").success());
}

#[test]
fn tray_menu_sign_in_sign_out_and_quit_reach_the_daemon_and_hq() {
    let x = Xvfb::start(300, "400x100x24");
    let hq = Hq::start(POLICY);
    let mut a = Agent::new("", POLICY);
    let device = a.enroll(&hq);
    let clicks = a.dir.path().join("menu-clicks");
    std::fs::write(&clicks, "").unwrap();
    let click = |id: &str| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&clicks)
            .unwrap();
        writeln!(f, "{id}").unwrap();
    };
    shiftready::test_hooks::require(shiftready::test_hooks::TRAY_MENU_EVENTS);
    a.spawn(&["run"], |c| {
        c.env("DISPLAY", &x.display)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("SHIFTREADY_TEST_TRAY_MENU_EVENTS", &clicks);
    });
    let pid = a.pid();
    assert!(
        a.logs()
            .contains("test hook SHIFTREADY_TEST_TRAY_MENU_EVENTS is set"),
        "{}",
        a.logs()
    );

    click("sign");
    a.wait_for("signed in from the menu", Duration::from_secs(15), |s| {
        s["signed_in"] == true
    });
    click("run_check");
    click("sign");
    a.wait_for("signed out from the menu", Duration::from_secs(15), |s| {
        s["signed_in"] == false
    });
    a.wait_for("delivery", Duration::from_secs(20), |s| {
        s["spool_events"] == 0
    });
    assert_eq!(
        hq_shift_log(&hq, &device),
        [
            ("sign_in".to_string(), "manual".to_string()),
            ("sign_out".to_string(), "manual".to_string())
        ],
        "{}",
        a.logs()
    );
    let logs = a.logs();
    assert!(logs.contains("tray menu item=\"run_check\""), "{logs}");
    assert!(logs.contains("running the check"), "{logs}");

    // Quit: the daemon ends, cleanly.
    click("quit");
    let mut child = a.child.take().unwrap();
    let until = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < until,
            "pid {pid} still runs after Quit:\n{}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}: {}", a.logs());
}
