//! The `headset` check's verdict, and what a device is: the inventory the platform gives
//! (`checks::headset` in the agent lists it) against the policy, with the name-based
//! fallback classification.

use proto::policy::HeadsetPolicy;
use proto::{CheckResult, Msg, MsgArg, Status};
use serde::Serialize;

/// What kind of device it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FormFactor {
    Headset,
    Headphones,
    Speaker,
    Microphone,
    Unknown,
}

/// How it is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Usb,
    Analog,
    Bluetooth,
    BuiltIn,
    Hdmi,
    Virtual,
    Unknown,
}

/// Which source decided the form factor and transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// PulseAudio/PipeWire device properties.
    SoundServer,
    /// The ALSA card's USB product and interface descriptors.
    AlsaUsb,
    /// The ALSA card's driver (e.g. an HDA codec: built-in analog jack).
    AlsaCard,
    /// What cpal's host reported (WASAPI endpoint form factor, CoreAudio transport type).
    Host,
    /// The device name matched a known headset maker or a word like "headset".
    Name,
    /// Nothing known.
    None,
}

/// One audio device as `shiftready devices` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioDevice {
    /// Human name ("Jabra Evolve2 40 USB Headset").
    pub name: String,
    /// The platform's id (ALSA PCM name, PulseAudio source name, WASAPI endpoint id).
    pub id: String,
    pub input: bool,
    pub output: bool,
    pub default_input: bool,
    pub default_output: bool,
    pub form_factor: FormFactor,
    pub transport: Transport,
    pub source: Source,
}

impl AudioDevice {
    pub fn is_headset(&self) -> bool {
        self.form_factor == FormFactor::Headset
    }
}

/// Everything the platform told about the audio devices.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// Where the list came from (`alsa`, `pulseaudio`, `wasapi`, `coreaudio`).
    pub backend: String,
    pub devices: Vec<AudioDevice>,
    /// Why the defaults could not be told apart, if they could not.
    pub default_unknown: Option<String>,
    /// Where the OS keeps a second pair of defaults for calls (Windows's communications role,
    /// the "Default Communication Device": softphones use it), the ids of the devices there;
    /// `None` where the OS has no such role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub communications: Option<RoleDefaults>,
}

/// The devices (by [`AudioDevice::id`]) a second role's defaults point at.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoleDefaults {
    pub input: Option<String>,
    pub output: Option<String>,
}

/// Known headset makers and product words, lower case. Only the fallback.
const HEADSET_WORDS: &[&str] = &[
    "headset",
    "jabra",
    "plantronics",
    "poly ",
    "poly-",
    "blackwire",
    "voyager",
    "savi",
    "epos",
    "sennheiser",
    "logitech h",
    "logi zone",
    "zone wired",
    "zone vibe",
    "yealink uh",
    "yealink bh",
    "microsoft modern",
    "teams headset",
    "evolve",
    "biz ",
    "hyperx cloud",
    "corsair void",
    "steelseries arctis",
    "hands-free",
    "handsfree",
    "hfp",
];

/// Guesses form factor and transport from a name (the fallback source).
pub fn classify_name(name: &str) -> (FormFactor, Transport) {
    let n = format!("{} ", name.to_lowercase());
    let form = if HEADSET_WORDS.iter().any(|w| n.contains(w)) {
        FormFactor::Headset
    } else if n.contains("headphone") || n.contains("earbud") || n.contains("airpods") {
        FormFactor::Headphones
    } else if n.contains("speaker") {
        FormFactor::Speaker
    } else if n.contains("microphone") || n.contains(" mic ") || n.contains("webcam") {
        FormFactor::Microphone
    } else {
        FormFactor::Unknown
    };
    let transport = if n.contains("bluetooth")
        || n.contains(" bt ")
        || n.contains("hands-free")
        || n.contains("hfp")
        || n.contains("a2dp")
    {
        Transport::Bluetooth
    } else if n.contains("usb") {
        Transport::Usb
    } else if n.contains("hdmi") || n.contains("displayport") {
        Transport::Hdmi
    } else if n.contains("built-in") || n.contains("internal") {
        Transport::BuiltIn
    } else if n.contains("analog") || n.contains("3.5") {
        Transport::Analog
    } else {
        Transport::Unknown
    };
    (form, transport)
}

/// The hint when the computer has no microphone or speaker at all.
pub const NO_AUDIO_AT_ALL: &str = "headset-no-audio";

/// Whether the inventory holds no real audio device at all (only virtual ones, or none).
pub fn no_audio_at_all(inv: &Inventory) -> bool {
    inv.devices
        .iter()
        .all(|d| d.transport == Transport::Virtual && !d.is_headset())
}

/// Judges the inventory against the policy (pure).
pub fn evaluate(inv: &Inventory, p: &HeadsetPolicy) -> CheckResult {
    let headsets: Vec<&AudioDevice> = inv.devices.iter().filter(|d| d.is_headset()).collect();
    let with_mic: Vec<&AudioDevice> = headsets.iter().copied().filter(|d| d.input).collect();
    let default_in = inv.devices.iter().find(|d| d.default_input);
    let default_out = inv.devices.iter().find(|d| d.default_output);
    // The headset we report on: the default input if it is one, else the first with a mic.
    let chosen = with_mic
        .iter()
        .copied()
        .find(|d| d.default_input)
        .or(with_mic.first().copied())
        .or(headsets.first().copied());
    let out_is_headset = default_out.is_some_and(|d| d.is_headset());
    // The communications role's devices, where the OS has one.
    let by_id = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| inv.devices.iter().find(|d| &d.id == id))
    };
    let comm_in = inv.communications.as_ref().map(|c| by_id(&c.input));
    let comm_out = inv.communications.as_ref().map(|c| by_id(&c.output));
    let mut r = CheckResult::new(Status::Pass, "")
        .with("backend", &inv.backend)
        .with("devices", inv.devices.len())
        .with("headset_present", !headsets.is_empty())
        .with("has_microphone", !with_mic.is_empty())
        .with("headset_name", chosen.map(|d| d.name.as_str()))
        .with("transport", chosen.map(|d| d.transport))
        .with("source", chosen.map(|d| d.source))
        .with("default_input", default_in.map(|d| d.name.as_str()))
        .with("default_output", default_out.map(|d| d.name.as_str()))
        .with("is_default_input", chosen.map(|d| d.default_input))
        .with("is_default_output", chosen.map(|_| out_is_headset))
        .with("bluetooth_allowed", p.bluetooth_allowed);
    if let (Some(ci), Some(co)) = (comm_in, comm_out) {
        r.set("comm_default_input", ci.map(|d| d.name.as_str()));
        r.set("comm_default_output", co.map(|d| d.name.as_str()));
        r.set(
            "is_comm_default_input",
            chosen.map(|h| ci.is_some_and(|d| d.id == h.id)),
        );
        r.set(
            "is_comm_default_output",
            chosen.map(|_| co.is_some_and(|d| d.is_headset())),
        );
    }
    let name_or_another = |d: Option<&AudioDevice>| {
        d.map_or(MsgArg::Id("headset-another-device"), |d| {
            MsgArg::Text(d.name.clone())
        })
    };
    let not_default_status = if p.must_be_default {
        Status::Fail
    } else {
        Status::Warn
    };

    let set = |mut r: CheckResult, s: Status, hint: Option<Msg>| {
        r.status = s;
        if let Some(m) = hint {
            crate::i18n::set_hint(&mut r, m);
        }
        r
    };
    if no_audio_at_all(inv) {
        // The check ran and found nothing to make calls with: not ready, not unknown.
        return set(r, Status::Fail, Some(Msg::new(NO_AUDIO_AT_ALL)));
    }
    let Some(h) = chosen else {
        let status = if p.required {
            Status::Fail
        } else {
            Status::Pass
        };
        let hint = p.required.then(|| Msg::new("headset-none"));
        return set(r, status, hint);
    };
    if with_mic.is_empty() {
        let status = if p.required {
            Status::Fail
        } else {
            Status::Warn
        };
        return set(
            r,
            status,
            Some(Msg::new("headset-no-mic").text("name", &h.name)),
        );
    }
    if h.transport == Transport::Bluetooth && !p.bluetooth_allowed {
        return set(
            r,
            Status::Fail,
            Some(Msg::new("headset-bluetooth").text("name", &h.name)),
        );
    }
    // The headset against the communications role (softphones) and the console role (the
    // default device: browsers, most apps); each wrong one said as such.
    let comm_in_is_h = comm_in.map(|d| d.is_some_and(|d| d.id == h.id));
    if !h.default_input && comm_in_is_h == Some(true) && inv.default_unknown.is_none() {
        return set(
            r,
            not_default_status,
            Some(
                Msg::new("headset-comm-not-default")
                    .arg("other", name_or_another(default_in))
                    .text("name", &h.name)
                    .text("fix", fixable(inv)),
            ),
        );
    }
    if !h.default_input {
        if let Some(why) = &inv.default_unknown {
            r.set("is_default_input", Option::<bool>::None);
            return set(
                r,
                Status::Warn,
                Some(
                    Msg::new("headset-default-unknown")
                        .text("name", &h.name)
                        .text("why", why),
                ),
            );
        }
        let status = if p.must_be_default {
            Status::Fail
        } else {
            Status::Warn
        };
        let other = default_in.map_or(MsgArg::Id("headset-another-device"), |d| {
            MsgArg::Text(d.name.clone())
        });
        return set(
            r,
            status,
            Some(
                Msg::new("headset-not-default")
                    .arg("other", other)
                    .text("name", &h.name)
                    .text("fix", fixable(inv)),
            ),
        );
    }
    if comm_in_is_h == Some(false) {
        return set(
            r,
            not_default_status,
            Some(
                Msg::new("headset-not-comm-default")
                    .arg("other", name_or_another(comm_in.flatten()))
                    .text("name", &h.name)
                    .text("fix", fixable(inv)),
            ),
        );
    }
    if !out_is_headset && inv.default_unknown.is_none() {
        let other = default_out.map_or(MsgArg::Id("headset-another-device"), |d| {
            MsgArg::Text(d.name.clone())
        });
        return set(
            r,
            Status::Warn,
            Some(
                Msg::new("headset-output")
                    .arg("other", other)
                    .text("name", &h.name)
                    .text("fix", fixable(inv)),
            ),
        );
    }
    if let Some(co) = comm_out.filter(|d| !d.is_some_and(|d| d.is_headset())) {
        return set(
            r,
            Status::Warn,
            Some(
                Msg::new("headset-comm-output")
                    .arg("other", name_or_another(co))
                    .text("name", &h.name)
                    .text("fix", fixable(inv)),
            ),
        );
    }
    r
}

/// Where `shiftready fix` can change the defaults (a PulseAudio or PipeWire sound server,
/// Windows's Core Audio, macOS's CoreAudio), the
/// sentence that offers it ("yes" selects it in the bundles); elsewhere "no", so no hint
/// offers what cannot be done.
fn fixable(inv: &Inventory) -> &'static str {
    match inv.backend.as_str() {
        "pulseaudio" | "pipewire" | "wasapi" | "coreaudio" => "yes",
        _ => "no",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str, input: bool, output: bool, form: FormFactor, t: Transport) -> AudioDevice {
        AudioDevice {
            name: name.into(),
            id: name.into(),
            input,
            output,
            default_input: false,
            default_output: false,
            form_factor: form,
            transport: t,
            source: Source::Name,
        }
    }

    fn inv(devices: Vec<AudioDevice>) -> Inventory {
        Inventory {
            backend: "test".into(),
            devices,
            default_unknown: None,
            communications: None,
        }
    }

    fn builtin(default: bool) -> AudioDevice {
        let mut d = dev(
            "Built-in Audio",
            true,
            true,
            FormFactor::Unknown,
            Transport::BuiltIn,
        );
        d.default_input = default;
        d.default_output = default;
        d
    }

    fn jabra(default: bool) -> AudioDevice {
        let mut d = dev(
            "Jabra Evolve2 40",
            true,
            true,
            FormFactor::Headset,
            Transport::Usb,
        );
        d.default_input = default;
        d.default_output = default;
        d
    }

    #[test]
    fn no_headset_fails_with_plug_in_hint() {
        let r = evaluate(&inv(vec![builtin(true)]), &HeadsetPolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.hint.starts_with("No headset found: plug in"),
            "{}",
            r.hint
        );
        assert_eq!(r.metrics["headset_present"], false);
    }

    #[test]
    fn headset_not_default_says_so_plainly() {
        let r = evaluate(
            &inv(vec![builtin(true), jabra(false)]),
            &HeadsetPolicy::default(),
        );
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.hint
                .contains("still uses Built-in Audio as the microphone"),
            "{}",
            r.hint
        );
        assert!(
            r.hint.contains("make Jabra Evolve2 40 the default input"),
            "{}",
            r.hint
        );
        assert_eq!(r.metrics["is_default_input"], false);
    }

    #[test]
    fn default_headset_passes() {
        let r = evaluate(
            &inv(vec![builtin(false), jabra(true)]),
            &HeadsetPolicy::default(),
        );
        assert_eq!(r.status, Status::Pass, "{}", r.hint);
        assert_eq!(r.metrics["transport"], "usb");
        assert_eq!(r.metrics["is_default_output"], true);
    }

    #[test]
    fn bluetooth_disallowed_fails_allowed_passes() {
        let mut bt = dev(
            "WH-1000XM4",
            true,
            true,
            FormFactor::Headset,
            Transport::Bluetooth,
        );
        bt.default_input = true;
        bt.default_output = true;
        let mut p = HeadsetPolicy::default();
        assert_eq!(evaluate(&inv(vec![bt.clone()]), &p).status, Status::Pass);
        p.bluetooth_allowed = false;
        let r = evaluate(&inv(vec![bt]), &p);
        assert_eq!(r.status, Status::Fail);
        assert!(r.hint.contains("Bluetooth"), "{}", r.hint);
    }

    #[test]
    fn headphones_without_mic_fail() {
        let mut h = dev(
            "Jabra Elite",
            false,
            true,
            FormFactor::Headset,
            Transport::Bluetooth,
        );
        h.default_output = true;
        let r = evaluate(&inv(vec![builtin(false), h]), &HeadsetPolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert!(r.hint.contains("has no microphone"), "{}", r.hint);
    }

    #[test]
    fn output_elsewhere_warns() {
        let mut j = jabra(true);
        j.default_output = false;
        let mut b = builtin(false);
        b.default_output = true;
        let r = evaluate(&inv(vec![b, j]), &HeadsetPolicy::default());
        assert_eq!(r.status, Status::Warn);
        assert!(
            r.hint.contains("Sound plays through Built-in Audio"),
            "{}",
            r.hint
        );
    }

    #[test]
    fn no_audio_device_at_all_is_a_fail_not_unknown() {
        // The check ran and found nothing the policy requires: not ready (issue 13).
        let r = evaluate(&inv(vec![]), &HeadsetPolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.hint, crate::i18n::english_id(NO_AUDIO_AT_ALL));
        let virt = dev("null", true, true, FormFactor::Unknown, Transport::Virtual);
        let r = evaluate(&inv(vec![virt]), &HeadsetPolicy::default());
        assert_eq!(r.status, Status::Fail);
        assert!(no_audio_at_all(&inv(vec![])));
        assert!(!no_audio_at_all(&inv(vec![builtin(true)])));
    }

    /// Windows: the console default and the communications default are two settings; a headset
    /// that is one but not the other is reported as exactly that.
    #[test]
    fn communications_role_is_judged_on_its_own() {
        let comm = |input: &str, output: &str| RoleDefaults {
            input: Some(input.into()),
            output: Some(output.into()),
        };
        let p = HeadsetPolicy::default();
        // Both roles on the headset: pass, and the metrics say so.
        let mut i = inv(vec![builtin(false), jabra(true)]);
        i.communications = Some(comm("Jabra Evolve2 40", "Jabra Evolve2 40"));
        let r = evaluate(&i, &p);
        assert_eq!(r.status, Status::Pass, "{}", r.hint);
        assert_eq!(r.metrics["is_comm_default_input"], true);
        assert_eq!(r.metrics["comm_default_output"], "Jabra Evolve2 40");
        // Console default, but calls go to the built-in microphone.
        i.communications = Some(comm("Built-in Audio", "Jabra Evolve2 40"));
        let r = evaluate(&i, &p);
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.hint.starts_with("Jabra Evolve2 40 is the default microphone, but calling apps that use the communication device still use Built-in Audio"),
            "{}",
            r.hint
        );
        assert_eq!(r.metrics["is_comm_default_input"], false);
        assert_eq!(r.metrics["is_default_input"], true);
        // The reverse: the communications default, not the console default.
        let mut i = inv(vec![builtin(true), jabra(false)]);
        i.communications = Some(comm("Jabra Evolve2 40", "Jabra Evolve2 40"));
        let r = evaluate(&i, &p);
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.hint.starts_with("Jabra Evolve2 40 is the default communication microphone, but apps that use the default device (browsers, many softphones) still use Built-in Audio"),
            "{}",
            r.hint
        );
        assert_eq!(r.metrics["is_comm_default_input"], true);
        // Only the communications playback elsewhere: a warning that names it.
        let mut i = inv(vec![builtin(false), jabra(true)]);
        i.communications = Some(comm("Jabra Evolve2 40", "Built-in Audio"));
        let r = evaluate(&i, &p);
        assert_eq!(r.status, Status::Warn);
        assert!(
            r.hint
                .starts_with("Calling apps play the other side through Built-in Audio"),
            "{}",
            r.hint
        );
        // No such role (Linux, macOS): no comm metrics at all.
        let r = evaluate(&inv(vec![builtin(false), jabra(true)]), &p);
        assert!(!r.metrics.contains_key("is_comm_default_input"));
    }

    #[test]
    fn names_are_only_a_fallback_but_work() {
        assert_eq!(
            classify_name("Jabra Evolve2 40 USB Headset"),
            (FormFactor::Headset, Transport::Usb)
        );
        assert_eq!(
            classify_name("Poly Voyager Focus 2 (Bluetooth)"),
            (FormFactor::Headset, Transport::Bluetooth)
        );
        assert_eq!(
            classify_name("Built-in Audio Analog Stereo").0,
            FormFactor::Unknown
        );
        assert_eq!(
            classify_name("HDA Intel PCH, ALC3246 Analog").0,
            FormFactor::Unknown
        );
    }
}
