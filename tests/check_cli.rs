//! The real `shiftready` binary: `check --json` follows the contract, exit codes follow
//! readiness, configuration errors name every problem, and the headset check sees devices
//! through cpal's real ALSA host, configured by an `~/.asoundrc` in a temporary HOME.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_shiftready");

/// A temporary HOME with an ALSA configuration, an empty fake sysroot (no sound cards, no
/// pending reboot flag of this machine) and a state dir.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(asoundrc: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".asoundrc"), asoundrc).unwrap();
        std::fs::create_dir_all(dir.path().join("sysroot")).unwrap();
        // Never let pactl start a sound server of its own: these tests are about ALSA.
        std::fs::write(dir.path().join("client.conf"), "autospawn = no\n").unwrap();
        Env { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        shiftready::test_hooks::require(shiftready::test_hooks::SYSROOT);
        Command::new(BIN)
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("SHIFTREADY_SYSROOT", self.path("sysroot"))
            .env_remove("PULSE_SERVER")
            .env("PULSE_RUNTIME_PATH", self.path("no-pulse"))
            .env("XDG_RUNTIME_DIR", self.path("no-runtime"))
            .env("PULSE_CLIENTCONFIG", self.path("client.conf"))
            .output()
            .expect("run shiftready")
    }
}

fn json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const BUILTIN: &str = r#"pcm.builtin { type null; hint { show on; description "Built-in Audio Analog Stereo" } }
"#;
const JABRA: &str = r#"pcm.jabra { type null; hint { show on; description "Jabra Evolve2 40 USB Headset" } }
"#;
const SONY_BT: &str = r#"pcm.sony { type null; hint { show on; description "Sony WH-1000XM4 Bluetooth Headset" } }
"#;

fn default_to(name: &str) -> String {
    format!("pcm.!default {{ type plug; slave.pcm \"{name}\" }}\n")
}

fn headset(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec!["check", "--json", "--only", "headset"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    let v = json(&out);
    v["checks"]["headset"].clone()
}

/// The contract's readiness rule (proto's `Readiness::from_statuses`, written out again here so
/// the binary is held to the rule, not to itself): a `fail` is not ready, else an `error` (or no
/// check) unknown, else a `warn` degraded, else ready.
fn readiness_by_the_contract(statuses: &[&str]) -> &'static str {
    if statuses.contains(&"fail") {
        "not_ready"
    } else if statuses.is_empty() || statuses.contains(&"error") {
        "unknown"
    } else if statuses.contains(&"warn") {
        "degraded"
    } else {
        "ready"
    }
}

/// The contract's exit codes, one per readiness.
fn exit_code_by_the_contract(readiness: &str) -> i32 {
    match readiness {
        "ready" => 0,
        "degraded" => 1,
        "not_ready" => 2,
        "unknown" => 3,
        other => panic!("readiness {other}"),
    }
}

/// `check --json --only headset` with this ALSA configuration and policy file: the whole
/// report and the exit code.
fn headset_only(asoundrc: &str, policy: &str) -> (Value, Option<i32>) {
    let env = Env::new(asoundrc);
    let pol = env.write("policy.toml", policy);
    let cfg = env.write(
        "agent.toml",
        &format!("[agent]\npolicy_file = \"{}\"\n", pol.display()),
    );
    let out = env.run(&[
        "check",
        "--json",
        "--only",
        "headset",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    (json(&out), out.status.code())
}

#[test]
fn check_json_follows_the_contract() {
    let env = Env::new(&(BUILTIN.to_string() + JABRA + &default_to("jabra")));
    let cfg = env.write(
        "agent.toml",
        "[checks]\nnetwork_timeout_seconds = 20.0\nnoise_timeout_seconds = 20.0\n",
    );
    let out = env.run(&["check", "--json", "--config", cfg.to_str().unwrap()]);
    let v = json(&out);
    assert_eq!(v["schema"], 1);
    let mut statuses = Vec::new();
    for name in ["os", "hardware", "network", "headset", "noise"] {
        let c = &v["checks"][name];
        let status = c["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {c}"));
        assert!(
            ["pass", "warn", "fail", "error"].contains(&status),
            "{name}: {status}"
        );
        statuses.push(status);
        assert!(c["metrics"].is_object(), "{name}: {c}");
        assert!(c["hint"].is_string(), "{name}: {c}");
        if status != "pass" {
            assert!(
                !c["hint"].as_str().unwrap().is_empty(),
                "{name} has no hint: {c}"
            );
        }
    }
    assert_eq!(v["checks"].as_object().unwrap().len(), 5);
    // This machine: the OS check reads os-release.
    assert_eq!(v["checks"]["os"]["metrics"]["family"], std::env::consts::OS);
    // What this machine's hardware, network and noise give is not up to the test, so the
    // readiness is held to the contract's rule over the five statuses, and the exit code to
    // the contract's table; `exit_code_is_set_by_the_scenario` pins each code from a scenario.
    let readiness = readiness_by_the_contract(&statuses);
    assert_eq!(v["readiness"], readiness, "{v:#}");
    assert_eq!(
        out.status.code(),
        Some(exit_code_by_the_contract(readiness)),
        "{v:#}"
    );
    assert!(
        v["checks"]["headset"]["status"] == "pass",
        "the Jabra is the default: {v:#}"
    );
}

/// One scenario per readiness, each set up so that the headset check alone decides it: the
/// expected exit code is the scenario's, not read back from the output.
#[test]
fn exit_code_is_set_by_the_scenario() {
    let jabra_default = BUILTIN.to_string() + JABRA + &default_to("jabra");
    let jabra_not_default = BUILTIN.to_string() + JABRA + &default_to("builtin");
    let no_headset = BUILTIN.to_string() + &default_to("builtin");
    for (what, alsa, policy, readiness, code) in [
        (
            "the headset is the default: pass",
            &jabra_default[..],
            "",
            "ready",
            0,
        ),
        (
            "plugged in but not the default, which the site lets go with a warning",
            &jabra_not_default[..],
            "[headset]\nmust_be_default = false\n",
            "degraded",
            1,
        ),
        ("no headset: fail", &no_headset[..], "", "not_ready", 2),
        (
            "no audio system at all: the check ran and found nothing, not ready (issue 13)",
            "",
            "",
            "not_ready",
            2,
        ),
    ] {
        let (v, got) = headset_only(alsa, policy);
        assert_eq!(
            (v["readiness"].as_str(), got),
            (Some(readiness), Some(code)),
            "{what}: {v}"
        );
    }
}

#[test]
fn exit_code_is_readiness_for_a_single_check() {
    let alsa = BUILTIN.to_string() + &default_to("builtin");
    // No headset: not ready, exit 2.
    let (v, code) = headset_only(&alsa, "");
    assert_eq!(v["readiness"], "not_ready");
    assert_eq!(code, Some(2));
    // Headset not required by policy: ready, exit 0.
    let (v, code) = headset_only(&alsa, "[headset]\nrequired = false\n");
    assert_eq!(v["readiness"], "ready", "{v}");
    assert_eq!(code, Some(0));
}

#[test]
fn human_output_shows_hint_under_failed_check() {
    let env = Env::new(&(BUILTIN.to_string() + JABRA + &default_to("builtin")));
    let out = env.run(&["check", "--only", "headset"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT READY"), "{text}");
    assert!(text.contains("✘ fail   headset"), "{text}");
    assert!(
        text.contains("→ Your headset is plugged in, but the computer still uses"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes when stdout is not a terminal: {text}"
    );
}

#[test]
fn headset_absent() {
    let env = Env::new(&(BUILTIN.to_string() + &default_to("builtin")));
    let h = headset(&env, &[]);
    assert_eq!(h["status"], "fail", "{h}");
    assert_eq!(h["metrics"]["headset_present"], false);
    assert!(
        h["hint"].as_str().unwrap().starts_with("No headset found"),
        "{h}"
    );
}

#[test]
fn headset_present_but_builtin_mic_is_default() {
    let env = Env::new(&(BUILTIN.to_string() + JABRA + &default_to("builtin")));
    let h = headset(&env, &[]);
    assert_eq!(h["status"], "fail", "{h}");
    assert_eq!(h["metrics"]["headset_present"], true);
    assert_eq!(h["metrics"]["is_default_input"], false);
    assert_eq!(
        h["metrics"]["default_input"],
        "Built-in Audio Analog Stereo"
    );
    let hint = h["hint"].as_str().unwrap();
    assert!(
        hint.contains("still uses Built-in Audio Analog Stereo as the microphone")
            && hint.contains("make Jabra Evolve2 40 USB Headset the default input"),
        "{hint}"
    );
}

#[test]
fn headset_default_passes() {
    let env = Env::new(&(BUILTIN.to_string() + JABRA + &default_to("jabra")));
    let h = headset(&env, &[]);
    assert_eq!(h["status"], "pass", "{h}");
    assert_eq!(h["metrics"]["headset_name"], "Jabra Evolve2 40 USB Headset");
    assert_eq!(h["metrics"]["is_default_input"], true);
    assert_eq!(h["metrics"]["is_default_output"], true);
    assert_eq!(h["metrics"]["transport"], "usb");
    assert_eq!(h["metrics"]["source"], "name");
    assert_eq!(h["metrics"]["backend"], "alsa");
}

#[test]
fn bluetooth_headset_disallowed_by_policy() {
    let env = Env::new(&(BUILTIN.to_string() + SONY_BT + &default_to("sony")));
    assert_eq!(headset(&env, &[])["status"], "pass");
    let pol = env.write("policy.toml", "[headset]\nbluetooth_allowed = false\n");
    let cfg = env.write(
        "agent.toml",
        &format!("[agent]\npolicy_file = \"{}\"\n", pol.display()),
    );
    let h = headset(&env, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(h["status"], "fail", "{h}");
    assert_eq!(h["metrics"]["transport"], "bluetooth");
    assert!(h["hint"].as_str().unwrap().contains("Bluetooth"), "{h}");
}

#[test]
fn no_audio_system_at_all_is_not_ready_not_a_panic() {
    // The headset check ran and found nothing the policy requires: fail, not unknown; the
    // noise check could not record and says why, not "close other programs" (issue 13).
    let env = Env::new("");
    let out = env.run(&["check", "--json", "--only", "headset,noise"]);
    let v = json(&out);
    assert_eq!(v["checks"]["headset"]["status"], "fail", "{v}");
    assert_eq!(v["readiness"], "not_ready");
    assert_eq!(out.status.code(), Some(2));
    let noise = &v["checks"]["noise"];
    assert_eq!(noise["status"], "error", "{v}");
    assert_eq!(noise["metrics"]["capture_error"], "no_audio_device", "{v}");
    assert!(
        noise["hint"]
            .as_str()
            .unwrap()
            .contains("no microphone at all"),
        "{v}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn devices_lists_what_alsa_shows() {
    let env = Env::new(&(BUILTIN.to_string() + JABRA + &default_to("jabra")));
    let out = env.run(&["devices", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let devs = v["devices"].as_array().unwrap();
    let jabra = devs
        .iter()
        .find(|d| d["name"] == "Jabra Evolve2 40 USB Headset")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(jabra["form_factor"], "headset");
    assert_eq!(jabra["default_input"], true);
    let text = String::from_utf8_lossy(&env.run(&["devices"]).stdout).into_owned();
    assert!(text.contains("Jabra Evolve2 40 USB Headset"), "{text}");
    assert!(text.contains("default input"), "{text}");
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn config_with_unknown_key_wrong_type_and_bad_value_names_each_problem() {
    let env = Env::new("");
    let cfg = env.write(
        "agent.toml",
        "[hq]\nurl = \"ftp://hq\"\nbogus = 1\n\n[checks]\nnoise_timeout_seconds = \"soon\"\nos_timeout_seconds = -3.0\n",
    );
    let out = env.run(&["check", "--config", cfg.to_str().unwrap()]);
    let code = out.status.code().unwrap();
    assert!(code >= 64, "exit {code}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout for a config error"
    );
    let err = stderr_of(&out);
    let f = cfg.display().to_string();
    for needle in [
        format!("{f}:3: key `hq.bogus`: unknown field"),
        format!("{f}:6: key `checks.noise_timeout_seconds`: must be a number"),
        format!("{f}:2: key `hq.url`"),
        format!("{f}:7: key `checks.os_timeout_seconds`"),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    }
    assert!(err.contains("4 problems"), "{err}");
}

#[test]
fn bad_policy_file_is_named_too() {
    let env = Env::new("");
    let pol = env.write("policy.toml", "[network]\nrtt_ms = { pass = 400.0, warn = 200.0 }\n[shift]\nreadiness_bar = \"sometimes\"\n");
    let cfg = env.write(
        "agent.toml",
        &format!("[agent]\npolicy_file = \"{}\"\n", pol.display()),
    );
    let out = env.run(&["check", "--json", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.code().unwrap() >= 64);
    assert!(out.stdout.is_empty());
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("{}:4: key `shift.readiness_bar`", pol.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:2: key `network.rtt_ms`", pol.display())),
        "{err}"
    );
}

#[test]
fn missing_config_file_and_bad_usage_exit_64_or_more() {
    let env = Env::new("");
    let out = env.run(&["check", "--config", "/nonexistent/agent.toml"]);
    assert!(out.status.code().unwrap() >= 64);
    assert!(stderr_of(&out).contains("/nonexistent/agent.toml"));
    let out = env.run(&["check", "--bogus-flag"]);
    assert_eq!(out.status.code(), Some(64));
    let out = env.run(&["check", "--only", "nose"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr_of(&out).contains("no check named 'nose'"));
}

#[test]
fn shipped_config_files_load_through_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = Env::new("");
    let agent = root.join("config/agent.toml");
    let out = env.run(&[
        "check",
        "--json",
        "--only",
        "os",
        "--config",
        agent.to_str().unwrap(),
    ]);
    assert!(out.status.code().unwrap() < 64, "{}", stderr_of(&out));
    json(&out);
}
