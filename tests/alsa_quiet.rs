//! alsa-lib prints its own error lines on stderr ("ALSA lib ... cannot find card") when a
//! device is missing; the agent keeps them off stderr unless `SHIFTREADY_LOG` asks for debug.
//! The real binary, with an ALSA default that names a card no machine has (deterministic with
//! or without a sound card).

use std::process::Command;

fn noise(home: &std::path::Path, log: Option<&str>) -> (String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shiftready"));
    c.args(["noise", "--seconds", "1", "--json"])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("SHIFTREADY_LOG");
    if let Some(l) = log {
        c.env("SHIFTREADY_LOG", l);
    }
    let out = c.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn alsa_lib_errors_stay_off_stderr_unless_debugging() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".asoundrc"),
        "pcm.!default { type hw; card \"NoSuchCard\" }\n",
    )
    .unwrap();
    // Debug logging leaves alsa-lib's lines alone: they are there to be seen.
    let (_, err) = noise(home.path(), Some("debug"));
    assert!(
        err.contains("ALSA lib") && err.contains("NoSuchCard"),
        "alsa-lib did not complain; the test cannot tell anything: {err}"
    );
    // At the normal level the agent says it in its own words, and only that.
    let (out, err) = noise(home.path(), None);
    assert!(!err.contains("ALSA lib"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "error", "{v}");
    assert!(!v["hint"].as_str().unwrap().is_empty());
}
