//! The probe token travels beside the policy in `GET /api/v1/policy`'s answer, never inside it:
//! an agent one release behind reads every level of the policy with `deny_unknown_fields`
//! (tests/version_skew.rs runs that agent against this HQ), and an HQ one release behind sends
//! no token at all.

use shiftready_proto::api::PolicyResponse;
use shiftready_proto::probe::Token;

fn token() -> Token {
    Token::from_parts([7; 8], 1_900_000_000, [9; 16])
}

#[test]
fn the_token_is_a_top_level_key_and_lands_in_the_network_policy() {
    let mut r = PolicyResponse {
        policy: shiftready_proto::Policy::default(),
        shifts: Vec::new(),
        event_kinds: Vec::new(),
    };
    r.policy.network.probe_token = Some(token());
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["probe_token"], token().to_hex());
    assert!(
        v["policy"]["network"].get("probe_token").is_none(),
        "not inside the policy: {v:#}"
    );
    let back: PolicyResponse = serde_json::from_value(v).unwrap();
    assert_eq!(back.policy.network.probe_token, Some(token()));
}

#[test]
fn an_answer_without_a_token_reads_and_writes_without_one() {
    // What an older HQ sends (and this HQ without a reflector key).
    let old = r#"{"policy": {}, "shifts": []}"#;
    let r: PolicyResponse = serde_json::from_str(old).unwrap();
    assert_eq!(r.policy.network.probe_token, None);
    let v = serde_json::to_value(&r).unwrap();
    assert!(v.get("probe_token").is_none(), "{v:#}");
    // shifts may be missing, as before.
    let r: PolicyResponse = serde_json::from_str(r#"{"policy": {}}"#).unwrap();
    assert!(r.shifts.is_empty());
}

#[test]
fn a_policy_file_cannot_carry_a_token() {
    // The token is never a policy setting: a policy that names it is refused like any
    // unknown key, and a policy serialised with one does not show it.
    let hex = token().to_hex();
    let json = format!(r#"{{"network": {{"probe_token": "{hex}"}}}}"#);
    assert!(serde_json::from_str::<shiftready_proto::Policy>(&json).is_err());
    let mut p = shiftready_proto::Policy::default();
    p.network.probe_token = Some(token());
    let text = serde_json::to_string(&p).unwrap();
    assert!(
        !text.contains("probe_token") && !text.contains(&hex),
        "{text}"
    );
}

#[test]
fn a_bad_token_in_an_answer_is_an_error_that_says_so() {
    let e = serde_json::from_str::<PolicyResponse>(r#"{"policy": {}, "probe_token": "xyz"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("probe token"), "{e}");
}
