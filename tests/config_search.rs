//! Which configuration file the real `shiftready` reads without `--config`: the per-user file
//! when it exists, else the system-wide `/etc/shiftready/agent.toml` that the Linux package
//! installs (here under `SHIFTREADY_SYSROOT`), else the built-in defaults; `--config` always
//! wins. Each file names a different reflector, and `probe --json` reports the one in force.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Writes an agent config naming `reflector`, with a policy beside it for a short probe.
fn write_config(dir: &Path, reflector: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("agent.toml"),
        format!("[hq]\nreflector = \"{reflector}\"\n\n[agent]\npolicy_file = \"policy.toml\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("policy.toml"), "[network]\nprobe_seconds = 1.0\n").unwrap();
}

/// A local UDP port with nothing listening (bound, then closed): the probe ends quickly.
fn closed_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `shiftready [extra] probe --json` with its config search rooted in `root`: the metrics.
fn probe(root: &Path, extra: &[&str]) -> Value {
    shiftready::test_hooks::require(shiftready::test_hooks::SYSROOT);
    let out = Command::new(env!("CARGO_BIN_EXE_shiftready"))
        .args(extra)
        .args(["probe", "--json"])
        .env("SHIFTREADY_SYSROOT", root.join("sys"))
        .env("XDG_CONFIG_HOME", root.join("user-config"))
        .env("XDG_DATA_HOME", root.join("data"))
        .env("HOME", root)
        .env("SHIFTREADY_PROBE_GATEWAY", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["metrics"].clone()
}

#[test]
fn user_file_then_system_file_then_defaults() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let (system, user, explicit) = (
        format!("127.0.0.1:{}", closed_port()),
        format!("127.0.0.1:{}", closed_port()),
        format!("127.0.0.1:{}", closed_port()),
    );

    // No file anywhere: the built-in defaults have no HQ, so nothing is probed.
    shiftready::test_hooks::require(shiftready::test_hooks::SYSROOT);
    let out = Command::new(env!("CARGO_BIN_EXE_shiftready"))
        .args(["probe", "--json"])
        .env("SHIFTREADY_SYSROOT", root.join("sys"))
        .env("XDG_CONFIG_HOME", root.join("user-config"))
        .env("HOME", root)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "error", "{v}");
    assert!(v["hint"].as_str().unwrap().contains("No HQ"), "{v}");

    // The package's /etc/shiftready/agent.toml, its relative policy file beside it.
    write_config(&root.join("sys/etc/shiftready"), &system);
    let m = probe(root, &[]);
    assert_eq!(m["reflector"], system.as_str(), "{m}");
    assert_eq!(m["seconds"], 1.0, "the policy beside the system file: {m}");

    // A per-user file takes precedence.
    write_config(&root.join("user-config/shiftready"), &user);
    assert_eq!(probe(root, &[])["reflector"], user.as_str());

    // --config always wins.
    write_config(&root.join("given"), &explicit);
    let given = root.join("given/agent.toml");
    assert_eq!(
        probe(root, &["--config", given.to_str().unwrap()])["reflector"],
        explicit.as_str()
    );
}
