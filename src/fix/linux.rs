//! Linux: PulseAudio or PipeWire's pulse server, through `pactl` (the same tool the headset
//! check reads). A headset is a source or sink whose `device.form_factor` says so, or, when the
//! server does not say, whose name is a known headset's (the check's own rule).

use super::{Change, FixError, LOW_INPUT_VOLUME};
use proto::{Msg, MsgArg};
use serde_json::Value;
use shiftready_core::checks::headset::{FormFactor, classify_name};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One source or sink of the sound server.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    description: String,
    headset: bool,
    mute: bool,
    /// The loudest channel's volume as a share of normal (1.0 = 100 %).
    volume: Option<f64>,
    /// What ties a headset's microphone to its speaker (the card's bus path or address).
    card: String,
}

/// Runs `pactl ARGS` with a time limit (a hung sound server must not hang the fix); its stdout,
/// or what went wrong in words.
fn pactl(args: &[&str]) -> Result<String, String> {
    let child = Command::new("pactl")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("pactl could not be started: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(Ok(out)) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => {
            // The waiting thread owns the child: end it by its pid.
            let _ = Command::new("kill").arg(pid.to_string()).status();
            Err("the sound server did not answer within 5 s".into())
        }
    }
}

fn nodes(list: &Value) -> Vec<Node> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let name = n["name"].as_str()?.to_string();
            let props = &n["properties"];
            let prop = |k: &str| props[k].as_str().unwrap_or_default();
            if prop("device.class") == "monitor" || name.ends_with(".monitor") {
                return None;
            }
            let description = n["description"].as_str().unwrap_or(&name).to_string();
            let headset = match prop("device.form_factor") {
                "headset" | "handset" | "hands-free" => true,
                "" => classify_name(&description).0 == FormFactor::Headset,
                _ => false,
            };
            let volume = n["volume"].as_object().and_then(|chans| {
                chans
                    .values()
                    .filter_map(|c| c["value"].as_f64())
                    .map(|v| v / 65536.0)
                    .reduce(f64::max)
            });
            let card = ["device.bus_path", "api.bluez5.address", "alsa.card"]
                .iter()
                .map(|k| prop(k))
                .find(|v| !v.is_empty())
                .unwrap_or(&name)
                .to_string();
            Some(Node {
                name,
                description,
                headset,
                mute: n["mute"].as_bool().unwrap_or(false),
                volume,
                card,
            })
        })
        .collect()
}

/// The headset node to use: the default if it is a headset already, else one on the same card
/// as `partner`, else the first headset.
fn pick<'a>(list: &'a [Node], default: &str, partner: Option<&Node>) -> Option<&'a Node> {
    let headsets = || list.iter().filter(|n| n.headset);
    headsets()
        .find(|n| n.name == default)
        .or_else(|| partner.and_then(|p| headsets().find(|n| n.card == p.card)))
        .or_else(|| headsets().next())
}

fn described(list: &[Node], name: &str) -> MsgArg {
    super::device_arg(
        list.iter()
            .find(|n| n.name == name)
            .map(|n| n.description.clone())
            .or_else(|| (!name.is_empty()).then(|| name.to_string())),
    )
}

/// What the server says, read once.
struct Server {
    sources: Vec<Node>,
    sinks: Vec<Node>,
    default_source: String,
    default_sink: String,
}

fn read() -> Result<Server, FixError> {
    let unsupported =
        |why: String| FixError::Unsupported(Msg::new("fix-no-sound-server").text("why", why));
    let info: Value =
        serde_json::from_str(&pactl(&["--format=json", "info"]).map_err(unsupported)?)
            .map_err(|e| unsupported(format!("unreadable answer: {e}")))?;
    let list = |what: &str| -> Result<Vec<Node>, FixError> {
        let text = pactl(&["--format=json", "list", what]).map_err(unsupported)?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| unsupported(format!("unreadable list of {what}: {e}")))?;
        Ok(nodes(&v))
    };
    Ok(Server {
        sources: list("sources")?,
        sinks: list("sinks")?,
        default_source: info["default_source_name"].as_str().unwrap_or("").into(),
        default_sink: info["default_sink_name"].as_str().unwrap_or("").into(),
    })
}

/// The changes, in the order they are made, with the `pactl` arguments of each.
fn plan(s: &Server) -> Result<Vec<(Change, Vec<String>)>, FixError> {
    let source = pick(&s.sources, &s.default_source, None);
    let sink = pick(&s.sinks, &s.default_sink, source);
    if source.is_none() && sink.is_none() {
        return Err(FixError::NoHeadset);
    }
    let mut out = Vec::new();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if let Some(n) = source {
        if n.name != s.default_source {
            out.push((
                Change::new(
                    "default_input",
                    Msg::new("fix-default-input")
                        .text("name", n.description.clone())
                        .arg("was", described(&s.sources, &s.default_source)),
                ),
                args(&["set-default-source", &n.name]),
            ));
        }
        if n.mute {
            out.push((
                Change::new(
                    "unmute_input",
                    Msg::new("fix-unmute-input").text("name", n.description.clone()),
                ),
                args(&["set-source-mute", &n.name, "0"]),
            ));
        }
        if let Some(v) = n.volume.filter(|v| *v < LOW_INPUT_VOLUME) {
            out.push((
                Change::new(
                    "input_volume",
                    Msg::new("fix-input-volume")
                        .text("name", n.description.clone())
                        .arg("from", MsgArg::Num(v * 100.0, 0)),
                ),
                args(&["set-source-volume", &n.name, "100%"]),
            ));
        }
    }
    if let Some(n) = sink {
        if n.name != s.default_sink {
            out.push((
                Change::new(
                    "default_output",
                    Msg::new("fix-default-output")
                        .text("name", n.description.clone())
                        .arg("was", described(&s.sinks, &s.default_sink)),
                ),
                args(&["set-default-sink", &n.name]),
            ));
        }
        if n.mute {
            out.push((
                Change::new(
                    "unmute_output",
                    Msg::new("fix-unmute-output").text("name", n.description.clone()),
                ),
                args(&["set-sink-mute", &n.name, "0"]),
            ));
        }
    }
    Ok(out)
}

pub fn fix(dry_run: bool) -> Result<Vec<Change>, FixError> {
    let planned = plan(&read()?)?;
    let mut done = Vec::new();
    for (change, argv) in planned {
        if !dry_run {
            let a: Vec<&str> = argv.iter().map(String::as_str).collect();
            if let Err(e) = pactl(&a) {
                // What was already changed stays changed and is reported with the failure.
                return Err(FixError::Refused {
                    why: format!("{}: {e}", a.join(" ")),
                    done: done.iter().map(|c: &Change| c.msg.clone()).collect(),
                });
            }
        }
        done.push(change);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, desc: &str, ff: &str, bus: &str, mute: bool, vol: u32) -> Value {
        json!({"name": name, "description": desc, "mute": mute,
               "volume": {"front-left": {"value": vol}, "front-right": {"value": vol}},
               "properties": {"device.form_factor": ff, "device.bus_path": bus}})
    }

    /// The headset's microphone and speaker pair by card; the built-in default is replaced,
    /// a muted microphone at 5 % is unmuted and raised, and nothing else is touched.
    #[test]
    fn plans_exactly_what_is_wrong() {
        let sources = json!([
            node("builtin_in", "Built-in Mic", "", "pci-1f.3", false, 65536),
            node("usb_in", "USB Headset Mono", "headset", "usb-2", true, 3277),
            {"name": "usb_out.monitor", "description": "Monitor", "properties": {}},
        ]);
        let sinks = json!([
            node(
                "builtin_out",
                "Built-in Speaker",
                "",
                "pci-1f.3",
                false,
                65536
            ),
            node(
                "other_hs_out",
                "Other Headset",
                "headset",
                "usb-9",
                false,
                65536
            ),
            node("usb_out", "USB Headset", "headset", "usb-2", false, 65536),
        ]);
        let s = Server {
            sources: nodes(&sources),
            sinks: nodes(&sinks),
            default_source: "builtin_in".into(),
            default_sink: "builtin_out".into(),
        };
        let p = plan(&s).unwrap();
        let kinds: Vec<_> = p.iter().map(|(c, _)| c.kind).collect();
        assert_eq!(
            kinds,
            [
                "default_input",
                "unmute_input",
                "input_volume",
                "default_output"
            ]
        );
        assert_eq!(p[0].1, ["set-default-source", "usb_in"]);
        assert_eq!(
            p[0].0.what,
            "USB Headset Mono is now the default microphone (was Built-in Mic)."
        );
        assert_eq!(
            p[2].0.what,
            "The microphone volume of USB Headset Mono went from 5 % to 100 %."
        );
        // The same sentences in Swedish, a missing default said as a word, not left empty.
        let sv = |m: &Msg| crate::i18n::text(crate::i18n::Lang::Sv, m);
        assert_eq!(
            sv(&p[2].0.msg),
            "Mikrofonvolymen för USB Headset Mono har höjts från 5 % till 100 %."
        );
        assert_eq!(
            sv(&p[0].0.msg),
            "USB Headset Mono är nu standardmikrofon (tidigare: Built-in Mic)."
        );
        // The speaker on the microphone's card, not the first headset sink in the list.
        assert_eq!(p[3].1, ["set-default-sink", "usb_out"]);
    }

    #[test]
    fn nothing_to_do_when_already_right_and_no_headset_is_an_error() {
        let sources = json!([node(
            "usb_in",
            "Jabra Evolve2 40 Mono",
            "",
            "usb-2",
            false,
            40000
        )]);
        let sinks = json!([node(
            "usb_out",
            "Jabra Evolve2 40",
            "",
            "usb-2",
            false,
            65536
        )]);
        let s = Server {
            sources: nodes(&sources),
            sinks: nodes(&sinks),
            default_source: "usb_in".into(),
            default_sink: "usb_out".into(),
        };
        // Known by name only (no form factor from the server), at 61 %: nothing to change.
        assert!(plan(&s).unwrap().is_empty());
        let none = Server {
            sources: nodes(&json!([node("b", "Built-in Mic", "", "pci", false, 65536)])),
            sinks: Vec::new(),
            default_source: "b".into(),
            default_sink: String::new(),
        };
        assert!(matches!(plan(&none), Err(FixError::NoHeadset)));
    }
}
