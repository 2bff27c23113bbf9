//! A key HQ refuses (issue 12): IT marks the device for re-enrollment while the daemon runs.
//! Delivery pauses instead of retrying forever, `status` (human and `--json`) says what to do
//! with HQ's real URL, nothing in the spool is dropped, and once `shiftready enroll` has
//! written a new key delivery resumes by itself: HQ then holds exactly what the daemon
//! recorded.

mod daemon_common;

use daemon_common::{Agent, AgentExt, Hq, hq_shift_log, recorded_ids};
use std::collections::BTreeSet;
use std::time::Duration;

const POLICY: &str = "readiness_bar = \"ready\"\npre_shift_minutes = 1\nheartbeat_seconds = 5\nrecheck_seconds = 5\nlost_contact_after_missed = 100";

fn pair(k: &str, r: &str) -> (String, String) {
    (k.to_string(), r.to_string())
}

#[test]
fn a_device_told_to_enroll_again_pauses_delivery_says_so_and_resumes_after_enroll() {
    let hq = Hq::start(POLICY);
    let mut a = Agent::new("", POLICY);
    let device = a.enroll(&hq);
    a.start();
    assert!(a.cli(&["sign-in"]).status.success());
    a.wait_for("delivery", Duration::from_secs(15), |s| {
        s["spool_events"] == 0 && s["hq"] == "connected"
    });

    let (code, out, err) = hq.cmd(&["device", "reenroll", &device]);
    assert_eq!(code, 0, "{err}");
    // The one-time code IT gives the person at the computer (issue 12), on the last line.
    let code_file = a.dir.path().join("reenroll-code");
    std::fs::write(&code_file, out.lines().last().unwrap()).unwrap();
    assert!(a.cli(&["sign-out"]).status.success());
    assert!(a.cli(&["sign-in"]).status.success());
    let want = format!(
        "This computer must be enrolled again (IT gives you the secret and, for this computer, a \
         re-enrollment code): shiftready enroll --hq {} --token-file FILE --code-file CODE",
        hq.url
    );
    let s = a.wait_for("must enroll", Duration::from_secs(20), |s| {
        s["hq"] == "must_enroll"
    });
    assert_eq!(s["enroll_again"], want.as_str(), "{s}");
    assert_ne!(
        s["state"], "offline",
        "a refused key is not 'HQ unreachable': {s}"
    );
    let waiting = s["spool_events"].as_u64().unwrap();
    assert!(waiting >= 2, "the sign-out and the sign-in wait: {s}");
    let human = a.cli(&["status"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains(&want), "{human}");
    assert!(human.contains("must_enroll"), "{human}");

    // Paused, not retried: a few heartbeats later, still one refusal in the log, and the
    // events are all still there.
    std::thread::sleep(Duration::from_secs(6));
    let s = a.status();
    assert!(s["spool_events"].as_u64().unwrap() >= waiting, "{s}");
    assert_eq!(s["hq"], "must_enroll", "{s}");
    let refusals = a.logs().matches("delivery to HQ paused").count();
    assert_eq!(refusals, 1, "{}", a.logs());

    // A new enrollment with the code (the same computer: HQ keeps its id): delivery resumes
    // by itself.
    let out = a.cli(&[
        "enroll",
        "--hq",
        &hq.url,
        "--token",
        &hq.secret,
        "--code-file",
        code_file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&device));
    let s = a.wait_for("delivery after enrolling", Duration::from_secs(20), |s| {
        s["spool_events"] == 0 && s["hq"] == "connected"
    });
    assert!(s.get("enroll_again").is_none(), "{s}");
    assert!(a.cli(&["sign-out"]).status.success());
    a.wait_for("the sign-out delivered", Duration::from_secs(15), |s| {
        s["spool_events"] == 0
    });
    assert!(a.signal("-TERM").success());

    assert_eq!(
        hq_shift_log(&hq, &device),
        [
            pair("sign_in", "manual"),
            pair("sign_out", "manual"),
            pair("sign_in", "manual"),
            pair("sign_out", "manual"),
        ]
    );
    let recorded: BTreeSet<String> = recorded_ids(&a.logs()).into_iter().collect();
    let at_hq: BTreeSet<String> = hq.event_ids(&device).into_iter().collect();
    assert_eq!(
        recorded.difference(&at_hq).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "recorded, never at HQ"
    );
    assert_eq!(
        at_hq.difference(&recorded).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "at HQ, never recorded"
    );
    assert!(a.spool_events().is_empty());
}
