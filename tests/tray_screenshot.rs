//! The tray for real: `shiftready run` (with the icon) under Xvfb with trayer as the tray
//! host; screenshots with ImageMagick's `import` into `target/`, one per readiness, and the
//! icon changes when the readiness does. Needs the Debian packages xvfb, trayer, imagemagick
//! and libayatana-appindicator3-1 (CI installs them).
#![cfg(target_os = "linux")]

mod daemon_common;

use daemon_common::Agent;
use shiftready_testkit::Proc;
use shiftready_testkit::x11::Xvfb;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn shots_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tray-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The top-left corner of the screen, where trayer shows the icon, as RGB bytes.
fn corner(display: &str, name: &str) -> Vec<u8> {
    let png = shots_dir().join(format!("{name}.png"));
    let st = Command::new("import")
        .args(["-window", "root"])
        .arg(&png)
        .env("DISPLAY", display)
        .status()
        .expect("ImageMagick's `import` (Debian package imagemagick)");
    assert!(st.success());
    let out = Command::new("convert")
        .arg(&png)
        .args(["-crop", "48x40+0+0", "+repage", "-depth", "8", "rgb:-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

fn count(px: &[u8], pred: impl Fn(u8, u8, u8) -> bool) -> usize {
    px.chunks(3).filter(|p| pred(p[0], p[1], p[2])).count()
}

fn differ(a: &[u8], b: &[u8]) -> usize {
    a.chunks(3).zip(b.chunks(3)).filter(|(x, y)| x != y).count()
}

/// Waits until the screenshot's corner satisfies `pred` (the icon is redrawn asynchronously).
fn wait_shot(display: &str, name: &str, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let px = corner(display, name);
        if pred(&px) {
            return px;
        }
        assert!(
            Instant::now() < until,
            "the icon never became {name}; see target/tray-screenshots/{name}.png"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn tray_icon_shows_in_a_real_tray_and_changes_with_readiness() {
    let x = Xvfb::start(60, "400x100x24");
    let display = x.display.clone();
    let _trayer = Proc(
        Command::new("trayer")
            .args([
                "--edge",
                "top",
                "--align",
                "left",
                "--widthtype",
                "request",
                "--height",
                "32",
                "--heighttype",
                "pixel",
                "--transparent",
                "false",
                "--tint",
                "0xffffff",
            ])
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("trayer (Debian package trayer)"),
    );
    std::thread::sleep(Duration::from_secs(1));
    let empty = corner(&display, "tray-0-empty");

    let mut a = Agent::new("", "readiness_bar = \"ready\"");
    a.set_report(&[("headset", "pass")]);
    // With the icon: no --headless; no D-Bus session, so appindicator uses an XEmbed icon.
    a.spawn(&["run"], |c| {
        c.env("DISPLAY", &display)
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
    });
    // The icon is shown by the tray's thread, which may come after the daemon answers.
    a.wait_log("tray icon shown", Duration::from_secs(15));

    // Signed out: a grey badge with a pause sign.
    let grey = |r: u8, g: u8, b: u8| {
        r.abs_diff(0x6b) < 12 && g.abs_diff(0x6b) < 12 && b.abs_diff(0x6b) < 12
    };
    let paused = wait_shot(&display, "tray-1-signed-out", |p| count(p, grey) > 200);
    assert!(differ(&empty, &paused) > 300, "no icon appeared");

    // Signed in and ready: green with a check mark.
    assert!(a.cli(&["sign-in"]).status.success());
    let green = |r: u8, g: u8, b: u8| g > 110 && r < 60 && b < 90;
    let ready = wait_shot(&display, "tray-2-ready", |p| count(p, green) > 200);
    assert!(count(&ready, grey) < 30, "grey left in the ready icon");

    // The headset fails: red with a cross.
    a.set_report(&[("headset", "fail")]);
    let red = |r: u8, g: u8, b: u8| r > 170 && g < 70 && b < 70;
    let not_ready = wait_shot(&display, "tray-3-not-ready", |p| count(p, red) > 200);
    assert!(
        count(&not_ready, green) < 30,
        "green left in the not-ready icon"
    );

    // A warning: an amber triangle with an exclamation mark.
    a.set_report(&[("headset", "warn")]);
    let amber = |r: u8, g: u8, b: u8| r > 190 && (110..170).contains(&g) && b < 40;
    let degraded = wait_shot(&display, "tray-4-degraded", |p| count(p, amber) > 60);
    assert!(count(&degraded, red) < 30, "red left in the degraded icon");

    for (x, y) in [
        (&paused, &ready),
        (&ready, &not_ready),
        (&not_ready, &degraded),
    ] {
        assert!(differ(x, y) > 300);
    }
    // Quitting stops the daemon and signs out.
    assert!(a.signal("-TERM").success());
    assert!(
        a.logs().contains("signed out reason=\"shutdown\""),
        "{}",
        a.logs()
    );
}

#[test]
fn without_a_display_the_daemon_runs_without_an_icon_and_says_so() {
    let mut a = Agent::new("", "readiness_bar = \"ready\"");
    a.spawn(&["run"], |c| {
        c.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    });
    assert!(a.cli(&["sign-in"]).status.success());
    assert!(a.signal("-TERM").success());
    assert!(a.logs().contains("running without an icon"), "{}", a.logs());
}
