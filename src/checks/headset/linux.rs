//! Linux: devices from cpal (ALSA), the truth about them from the sound server when one runs
//! (PulseAudio or PipeWire through `pactl`), else from the ALSA card (`/proc/asound`, the USB
//! audio descriptors in sysfs), and the ALSA default from the ALSA configuration.

use super::{AudioDevice, FormFactor, Inventory, Source, Transport, classify_name};
use crate::platform::{home_dir, read_trimmed, sys_path, sysroot};
use cpal::traits::{DeviceTrait, HostTrait};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn inventory(_wanted_input: &str) -> anyhow::Result<Inventory> {
    if let Some(inv) = sound_server_inventory() {
        return Ok(inv);
    }
    alsa_inventory()
}

// ---------------------------------------------------------------------------------------
// Sound server (PulseAudio, or PipeWire's pulse server)

/// Runs a command with a time limit; `None` if it is missing, fails or hangs.
fn run_with_timeout(cmd: &str, args: &[&str], limit: Duration) -> Option<String> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let out = child.wait_with_output().ok()?;
                return status
                    .success()
                    .then(|| String::from_utf8_lossy(&out.stdout).into_owned());
            }
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn sound_server_inventory() -> Option<Inventory> {
    let limit = Duration::from_secs(3);
    // Three `pactl` runs: the server's info (its name and both defaults) and the two lists.
    let info = run_with_timeout("pactl", &["--format=json", "info"], limit)?;
    let info: serde_json::Value = serde_json::from_str(&info).ok()?;
    let backend = if info["server_name"]
        .as_str()
        .unwrap_or("")
        .contains("PipeWire")
    {
        "pipewire"
    } else {
        "pulseaudio"
    };
    let sources = run_with_timeout("pactl", &["--format=json", "list", "sources"], limit)?;
    let sinks = run_with_timeout("pactl", &["--format=json", "list", "sinks"], limit)?;
    let default = |key: &str, cmd: &str| match info[key].as_str() {
        Some(name) => Some(name.to_string()),
        None => run_with_timeout("pactl", &[cmd], limit).map(|s| s.trim().to_string()),
    };
    let def_in = default("default_source_name", "get-default-source");
    let def_out = default("default_sink_name", "get-default-sink");
    let sources: serde_json::Value = serde_json::from_str(&sources).ok()?;
    let sinks: serde_json::Value = serde_json::from_str(&sinks).ok()?;
    Some(from_pactl(
        backend,
        &sources,
        &sinks,
        def_in.as_deref(),
        def_out.as_deref(),
    ))
}

/// Builds the inventory from `pactl --format=json list sources/sinks` (pure, for tests).
pub fn from_pactl(
    backend: &str,
    sources: &serde_json::Value,
    sinks: &serde_json::Value,
    default_source: Option<&str>,
    default_sink: Option<&str>,
) -> Inventory {
    // One device per physical card: a headset's source and sink share `device.bus_path`
    // (or the Bluetooth address, or the ALSA card number).
    let mut devices: Vec<AudioDevice> = Vec::new();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for (list, is_input) in [(sources, true), (sinks, false)] {
        for node in list.as_array().into_iter().flatten() {
            let name = node["name"].as_str().unwrap_or_default();
            let props = &node["properties"];
            let prop = |k: &str| props[k].as_str().unwrap_or_default();
            if prop("device.class") == "monitor" || name.ends_with(".monitor") {
                continue;
            }
            let desc = node["description"].as_str().unwrap_or(name).to_string();
            let (name_form, name_transport) = classify_name(&desc);
            let form = match prop("device.form_factor") {
                "headset" | "handset" | "hands-free" => Some(FormFactor::Headset),
                "headphone" => Some(FormFactor::Headphones),
                "speaker" | "hifi" => Some(FormFactor::Speaker),
                "microphone" | "webcam" => Some(FormFactor::Microphone),
                _ => None,
            };
            let transport = match prop("device.bus") {
                "usb" => Some(Transport::Usb),
                "bluetooth" => Some(Transport::Bluetooth),
                "pci" => Some(Transport::BuiltIn),
                _ if prop("device.class") == "abstract" || prop("device.api") == "null" => {
                    Some(Transport::Virtual)
                }
                _ => None,
            };
            let source = if form.is_some() || transport.is_some() {
                Source::SoundServer
            } else if name_form != FormFactor::Unknown {
                Source::Name
            } else {
                Source::None
            };
            let key = [
                "device.bus_path",
                "api.bluez5.address",
                "bluez.path",
                "alsa.card",
            ]
            .iter()
            .map(|k| prop(k))
            .find(|v| !v.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("name:{name}"));
            let is_default = if is_input {
                default_source
            } else {
                default_sink
            } == Some(name);
            if let Some(&i) = by_key.get(&key) {
                let d = &mut devices[i];
                if is_input {
                    d.input = true;
                    d.default_input |= is_default;
                    // The source's name is the one a person picks as "microphone".
                    d.name = desc.clone();
                    d.id = name.to_string();
                } else {
                    d.output = true;
                    d.default_output |= is_default;
                }
                continue;
            }
            by_key.insert(key, devices.len());
            devices.push(AudioDevice {
                name: desc,
                id: name.to_string(),
                input: is_input,
                output: !is_input,
                default_input: is_input && is_default,
                default_output: !is_input && is_default,
                form_factor: form.unwrap_or(name_form),
                transport: transport.unwrap_or(name_transport),
                source,
            });
        }
    }
    Inventory {
        backend: backend.into(),
        devices,
        default_unknown: None,
        communications: None,
    }
}

// ---------------------------------------------------------------------------------------
// ALSA

/// A sound card from `/proc/asound/cards`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Card {
    pub index: u32,
    pub id: String,
    pub driver: String,
    pub name: String,
    pub long_name: String,
    pub capture: bool,
    pub playback: bool,
    /// USB product string, when it is a USB device.
    pub usb_product: Option<String>,
    /// USB audio terminal types found in its descriptors (0x0402 headset, ...).
    pub usb_terminals: Vec<u16>,
}

/// Parses `/proc/asound/cards`: ` 1 [Headset        ]: USB-Audio - Jabra EVOLVE 40` then the
/// long name on the next line.
pub fn parse_cards(text: &str) -> Vec<Card> {
    let mut cards = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let Some((idx, rest)) = t.split_once(' ') else {
            continue;
        };
        let Ok(index) = idx.parse::<u32>() else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((id, rest)) = rest.split_once(']') else {
            continue;
        };
        let rest = rest.trim_start().trim_start_matches(':').trim();
        let (driver, name) = rest.split_once(" - ").unwrap_or((rest, ""));
        let long_name = lines
            .next_if(|l| {
                l.starts_with(char::is_whitespace)
                    && l.trim()
                        .split(' ')
                        .next()
                        .and_then(|w| w.parse::<u32>().ok())
                        .is_none()
            })
            .map(|l| l.trim().to_string())
            .unwrap_or_default();
        cards.push(Card {
            index,
            id: id.trim().to_string(),
            driver: driver.trim().to_string(),
            name: name.trim().to_string(),
            long_name,
            ..Card::default()
        });
    }
    cards
}

/// Reads the cards under `root` (`/`, or a fake root in tests).
pub fn read_cards(root: &Path) -> Vec<Card> {
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    let text = std::fs::read_to_string(at("/proc/asound/cards")).unwrap_or_default();
    let mut cards = parse_cards(&text);
    for c in &mut cards {
        let dir = at(&format!("/proc/asound/card{}", c.index));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("pcm") && n.ends_with('c') {
                    c.capture = true;
                }
                if n.starts_with("pcm") && n.ends_with('p') {
                    c.playback = true;
                }
            }
        }
        // The card's sysfs device is the USB interface; its parent is the USB device.
        let usb = at(&format!("/sys/class/sound/card{}/device/..", c.index));
        if c.driver == "USB-Audio" || usb.join("idVendor").exists() {
            c.usb_product = read_trimmed(&usb.join("product"));
            if let Ok(bytes) = std::fs::read(usb.join("descriptors")) {
                c.usb_terminals = usb_audio_terminals(&bytes);
            }
        }
    }
    cards
}

/// The terminal types (USB Audio Class 1.0/2.0, "Universal Serial Bus Device Class
/// Definition for Terminal Types", section 2) declared by the Audio Control interfaces in a
/// device's raw descriptors, as sysfs exposes them in `descriptors`.
pub fn usb_audio_terminals(bytes: &[u8]) -> Vec<u16> {
    const INTERFACE: u8 = 0x04;
    const CS_INTERFACE: u8 = 0x24;
    const AUDIO: u8 = 0x01;
    const AUDIOCONTROL: u8 = 0x01;
    const INPUT_TERMINAL: u8 = 0x02;
    const OUTPUT_TERMINAL: u8 = 0x03;
    let mut out = Vec::new();
    let mut in_ac = false;
    let mut i = 0;
    while i + 2 <= bytes.len() {
        let len = bytes[i] as usize;
        if len < 2 || i + len > bytes.len() {
            break;
        }
        let d = &bytes[i..i + len];
        match d[1] {
            INTERFACE if len >= 9 => in_ac = d[5] == AUDIO && d[6] == AUDIOCONTROL,
            CS_INTERFACE
                if in_ac && len >= 6 && (d[2] == INPUT_TERMINAL || d[2] == OUTPUT_TERMINAL) =>
            {
                let t = u16::from_le_bytes([d[4], d[5]]);
                // 0x0101 is the USB streaming terminal itself, not a physical one.
                if t != 0x0101 && !out.contains(&t) {
                    out.push(t);
                }
            }
            _ => {}
        }
        i += len;
    }
    out
}

/// What a card is, from the best evidence it offers.
fn classify_card(c: &Card) -> (FormFactor, Transport, Source) {
    let is_usb = c.driver == "USB-Audio" || c.usb_product.is_some();
    if is_usb {
        let t = &c.usb_terminals;
        // Bi-directional terminal types (0x04xx): handset, headset, speakerphone.
        let form = if t.iter().any(|&x| x == 0x0401 || x == 0x0402) {
            Some(FormFactor::Headset)
        } else if t.contains(&0x0403) {
            Some(FormFactor::Speaker)
        } else if t.contains(&0x0302) && t.contains(&0x0201) {
            // Headphones plus a microphone on one device: a headset that declares them apart.
            Some(FormFactor::Headset)
        } else if t.contains(&0x0302) {
            Some(FormFactor::Headphones)
        } else if t.contains(&0x0201) || t.contains(&0x0205) {
            Some(FormFactor::Microphone)
        } else {
            None
        };
        if let Some(form) = form {
            return (form, Transport::Usb, Source::AlsaUsb);
        }
        let name = c.usb_product.clone().unwrap_or_else(|| c.long_name.clone());
        return (classify_name(&name).0, Transport::Usb, Source::Name);
    }
    if c.driver.starts_with("HDA") || c.driver.contains("sof") || c.id == "PCH" {
        let (form, _) = classify_name(&c.name);
        return (form, Transport::BuiltIn, Source::AlsaCard);
    }
    let (form, transport) = classify_name(&format!("{} {}", c.name, c.long_name));
    (form, transport, Source::Name)
}

/// PCMs that are views of a card or of the sound system, not devices of their own.
fn is_alias_pcm(id: &str) -> bool {
    let base = id.split(':').next().unwrap_or(id);
    matches!(
        base,
        "null"
            | "default"
            | "sysdefault"
            | "pulse"
            | "pipewire"
            | "jack"
            | "oss"
            | "lavrate"
            | "samplerate"
            | "speexrate"
            | "upmix"
            | "vdownmix"
            | "speex"
            | "dmix"
            | "dsnoop"
            | "front"
            | "rear"
            | "center_lfe"
            | "side"
            | "surround21"
            | "surround40"
            | "surround41"
            | "surround50"
            | "surround51"
            | "surround71"
            | "iec958"
            | "spdif"
            | "plughw"
            | "usbstream"
            | "a52"
            | "dpl"
    )
}

fn card_of_pcm(id: &str) -> Option<&str> {
    let args = id.split_once(':')?.1;
    args.split(',').find_map(|kv| kv.strip_prefix("CARD="))
}

/// One PCM as cpal lists it: its ALSA id, description and directions.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub id: String,
    pub name: String,
    pub input: bool,
    pub output: bool,
}

fn alsa_inventory() -> anyhow::Result<Inventory> {
    let host = cpal::host_from_id(cpal::HostId::Alsa)?;
    let mut pcms = Vec::new();
    for dev in host.devices()? {
        let Ok(desc) = dev.description() else {
            continue;
        };
        pcms.push(Pcm {
            id: dev.id().map(|i| i.id().to_string()).unwrap_or_default(),
            name: desc.name().to_string(),
            input: desc.supports_input(),
            output: desc.supports_output(),
        });
    }
    let cards = read_cards(&sysroot());
    Ok(assemble(&pcms, &cards, &AlsaConf::load()))
}

/// Builds the inventory from cpal's PCMs, the cards and the ALSA configuration (pure).
pub fn assemble(pcms: &[Pcm], cards: &[Card], conf: &AlsaConf) -> Inventory {
    let mut devices: Vec<AudioDevice> = Vec::new();
    let mut card_slot: BTreeMap<u32, usize> = BTreeMap::new();
    for pcm in pcms {
        let id = &pcm.id;
        if let Some(card_ref) = card_of_pcm(id) {
            let Some(card) = cards
                .iter()
                .find(|c| c.id == card_ref || c.index.to_string() == card_ref)
            else {
                continue;
            };
            let slot = *card_slot.entry(card.index).or_insert_with(|| {
                let (form, transport, source) = classify_card(card);
                devices.push(AudioDevice {
                    name: card
                        .usb_product
                        .clone()
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| card.name.clone()),
                    id: format!("hw:CARD={}", card.id),
                    input: card.capture,
                    output: card.playback,
                    default_input: false,
                    default_output: false,
                    form_factor: form,
                    transport,
                    source,
                });
                devices.len() - 1
            });
            let d = &mut devices[slot];
            d.input |= pcm.input && card.capture;
            d.output |= pcm.output && card.playback;
            continue;
        }
        if is_alias_pcm(id) {
            continue;
        }
        let (mut form, mut transport) = classify_name(&pcm.name);
        let mut source = if form == FormFactor::Unknown {
            Source::None
        } else {
            Source::Name
        };
        if id.starts_with("bluealsa") {
            transport = Transport::Bluetooth;
            if form == FormFactor::Unknown {
                form = FormFactor::Headset;
            }
            source = Source::AlsaCard;
        }
        devices.push(AudioDevice {
            name: pcm.name.clone(),
            id: id.clone(),
            input: pcm.input,
            output: pcm.output,
            default_input: false,
            default_output: false,
            form_factor: form,
            transport,
            source,
        });
    }
    let mut default_unknown = None;
    match conf.resolve_default(&devices, cards) {
        DefaultTarget::Device(i) => {
            devices[i].default_input = devices[i].input;
            devices[i].default_output = devices[i].output;
        }
        DefaultTarget::SoundServer(s) => {
            default_unknown = Some(format!("ALSA's default goes to {s}, which is not running"));
        }
        DefaultTarget::Unresolved(s) => default_unknown = Some(s),
        DefaultTarget::Nothing => {}
    }
    Inventory {
        backend: "alsa".into(),
        devices,
        default_unknown,
        communications: None,
    }
}

/// Where ALSA's `default` PCM leads.
#[derive(Debug, PartialEq)]
enum DefaultTarget {
    /// One of the inventory's devices.
    Device(usize),
    /// The PulseAudio/PipeWire plugin.
    SoundServer(String),
    /// Somewhere we could not follow (the reason).
    Unresolved(String),
    /// Nowhere: no configuration and no card.
    Nothing,
}

/// The parts of the ALSA configuration (`/etc/asound.conf`, `~/.asoundrc`) that say where
/// `default` goes, flattened to dotted keys (`pcm.default.slave.pcm` → `"jabra"`).
#[derive(Debug, Default)]
pub struct AlsaConf {
    pub values: BTreeMap<String, String>,
}

impl AlsaConf {
    fn load() -> AlsaConf {
        let mut conf = AlsaConf::default();
        let mut files = vec![sys_path("/etc/asound.conf")];
        if let Some(h) = home_dir() {
            files.push(h.join(".asoundrc"));
        }
        for f in files {
            if let Ok(text) = std::fs::read_to_string(&f) {
                conf.parse(&text);
            }
        }
        conf
    }

    /// Adds a configuration text; later definitions override earlier ones.
    pub fn parse(&mut self, text: &str) {
        let tokens = tokenize(text);
        let mut pos = 0;
        parse_block(&tokens, &mut pos, "", &mut self.values);
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Follows `pcm.default` through plug/slave chains to a device of the inventory.
    fn resolve_default(&self, devices: &[AudioDevice], cards: &[Card]) -> DefaultTarget {
        let mut name = "default".to_string();
        for _ in 0..16 {
            let base = format!("pcm.{name}");
            if let Some(i) = devices.iter().position(|d| d.id == name) {
                return DefaultTarget::Device(i);
            }
            let ty = self.get(&format!("{base}.type"));
            if matches!(ty, Some("pulse" | "pipewire")) {
                return DefaultTarget::SoundServer(ty.unwrap_or_default().into());
            }
            if matches!(ty, Some("hw"))
                || (ty.is_none() && self.get(&base).is_none() && name == "default")
            {
                let card = self
                    .get(&format!("{base}.card"))
                    .or(self.get("defaults.pcm.card"))
                    .unwrap_or("0");
                return match cards
                    .iter()
                    .find(|c| c.id == card || c.index.to_string() == card)
                {
                    Some(c) => devices
                        .iter()
                        .position(|d| d.id == format!("hw:CARD={}", c.id))
                        .map_or(DefaultTarget::Nothing, DefaultTarget::Device),
                    None => DefaultTarget::Nothing,
                };
            }
            // A plain alias (`pcm.!default "jabra"`) or a plugin with a slave.
            let next = self
                .get(&base)
                .or(self.get(&format!("{base}.slave.pcm")))
                .or(self.get(&format!("{base}.playback.pcm")))
                .or(self.get(&format!("{base}.capture.pcm")));
            match next {
                Some(n) if n != name => name = n.to_string(),
                _ => {
                    // A plugin whose slave is an inline block, e.g. `slave { pcm { type hw card 1 } }`.
                    if let Some(card) = self.get(&format!("{base}.slave.pcm.card")) {
                        if let Some(c) = cards
                            .iter()
                            .find(|c| c.id == card || c.index.to_string() == card)
                        {
                            return devices
                                .iter()
                                .position(|d| d.id == format!("hw:CARD={}", c.id))
                                .map_or(DefaultTarget::Nothing, DefaultTarget::Device);
                        }
                    }
                    return DefaultTarget::Unresolved(format!(
                        "ALSA's default is '{name}', which is not one of the listed devices"
                    ));
                }
            }
        }
        DefaultTarget::Unresolved("ALSA's default PCM chain is too long to follow".into())
    }
}

fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '#' => while chars.next_if(|&c| c != '\n').is_some() {},
            c if c.is_whitespace() || c == ';' || c == ',' => {
                chars.next();
            }
            '{' | '}' | '[' | ']' => {
                out.push(c.to_string());
                chars.next();
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::new();
                while let Some(ch) = chars.next() {
                    if ch == c {
                        break;
                    }
                    if ch == '\\' {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                        continue;
                    }
                    s.push(ch);
                }
                // Mark quoted strings so `"{"` is not taken for a brace.
                out.push(format!("\u{0}{s}"));
            }
            _ => {
                let mut s = String::new();
                while let Some(ch) = chars.next_if(|&ch| {
                    !(ch.is_whitespace()
                        || matches!(ch, ';' | ',' | '{' | '}' | '[' | ']' | '"' | '\'' | '#'))
                }) {
                    s.push(ch);
                }
                out.push(s);
            }
        }
    }
    out
}

fn clean_key(k: &str) -> String {
    k.split('.')
        .map(|p| p.trim_start_matches(['!', '?', '+', '-']))
        .collect::<Vec<_>>()
        .join(".")
}

fn parse_block(
    tokens: &[String],
    pos: &mut usize,
    prefix: &str,
    out: &mut BTreeMap<String, String>,
) {
    while *pos < tokens.len() {
        let key = &tokens[*pos];
        if key == "}" || key == "]" {
            *pos += 1;
            return;
        }
        *pos += 1;
        let key = clean_key(key.trim_start_matches('\u{0}'));
        let full = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        // `key = value` is allowed too.
        if tokens.get(*pos).map(String::as_str) == Some("=") {
            *pos += 1;
        }
        match tokens.get(*pos).map(String::as_str) {
            Some("{") | Some("[") => {
                *pos += 1;
                // A redefinition replaces the old block.
                out.retain(|k, _| !(k == &full || k.starts_with(&format!("{full}."))));
                parse_block(tokens, pos, &full, out);
            }
            Some(v) => {
                *pos += 1;
                out.retain(|k, _| !k.starts_with(&format!("{full}.")));
                out.insert(full, v.trim_start_matches('\u{0}').to_string());
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_usb_headset_card_in_a_sysroot() {
        // A fake procfs/sysfs root: card 1 is a USB headset whose descriptors declare a
        // headset terminal; cpal lists its hw PCM; ALSA's default is card 0.
        let root = tempfile::tempdir().unwrap();
        let w = |p: &str, data: &[u8]| {
            let p = root.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        w("proc/asound/cards", b" 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n                      HDA Intel PCH at 0xf7f10000 irq 33\n 1 [Headset        ]: USB-Audio - Jabra EVOLVE 40\n                      Jabra EVOLVE 40 at usb-0000:00:14.0-2\n");
        for (card, f) in [(0, "pcm0p"), (0, "pcm0c"), (1, "pcm0p"), (1, "pcm0c")] {
            w(&format!("proc/asound/card{card}/{f}/info"), b"");
        }
        w("sys/devices/usb1/1-2/product", b"Jabra EVOLVE 40\n");
        w("sys/devices/usb1/1-2/idVendor", b"0b0e\n");
        let mut d = vec![9, 4, 0, 0, 0, 1, 1, 0, 0];
        d.extend([12, 0x24, 2, 1, 0x02, 0x04, 0, 1, 0, 0, 0, 0]);
        w("sys/devices/usb1/1-2/descriptors", &d);
        std::fs::create_dir_all(root.path().join("sys/devices/usb1/1-2/1-2:1.0")).unwrap();
        std::fs::create_dir_all(root.path().join("sys/class/sound/card1")).unwrap();
        std::os::unix::fs::symlink(
            root.path().join("sys/devices/usb1/1-2/1-2:1.0"),
            root.path().join("sys/class/sound/card1/device"),
        )
        .unwrap();
        let cards = read_cards(root.path());
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[1].usb_product.as_deref(), Some("Jabra EVOLVE 40"));
        assert_eq!(cards[1].usb_terminals, vec![0x0402]);
        let pcms = [
            Pcm {
                id: "hw:CARD=PCH,DEV=0".into(),
                name: "HDA Intel PCH".into(),
                input: true,
                output: true,
            },
            Pcm {
                id: "hw:CARD=Headset,DEV=0".into(),
                name: "Jabra EVOLVE 40".into(),
                input: true,
                output: true,
            },
            Pcm {
                id: "front:CARD=PCH,DEV=0".into(),
                name: "HDA Intel PCH".into(),
                input: false,
                output: true,
            },
        ];
        let inv = assemble(&pcms, &cards, &AlsaConf::default());
        assert_eq!(inv.devices.len(), 2, "{inv:?}");
        let h = &inv.devices[1];
        assert_eq!(
            (h.form_factor, h.transport, h.source),
            (FormFactor::Headset, Transport::Usb, Source::AlsaUsb)
        );
        assert!(!h.default_input, "default is card 0 without configuration");
        assert!(inv.devices[0].default_input);
        let mut conf = AlsaConf::default();
        conf.parse("defaults.pcm.card 1\n");
        assert!(assemble(&pcms, &cards, &conf).devices[1].default_input);
    }

    #[test]
    fn proc_asound_cards_parse() {
        let text = " 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n                      HDA Intel PCH at 0xf7f10000 irq 33\n 1 [Headset        ]: USB-Audio - Jabra EVOLVE 40\n                      Jabra Jabra EVOLVE 40 at usb-0000:00:14.0-2, full speed\n";
        let cards = parse_cards(text);
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[1].index, 1);
        assert_eq!(cards[1].id, "Headset");
        assert_eq!(cards[1].driver, "USB-Audio");
        assert_eq!(cards[1].name, "Jabra EVOLVE 40");
        assert!(
            cards[1]
                .long_name
                .starts_with("Jabra Jabra EVOLVE 40 at usb")
        );
        assert!(parse_cards("--- no soundcards ---\n").is_empty());
    }

    /// A minimal UAC1 configuration: an Audio Control interface with a headset input
    /// terminal (0x0402) and a USB streaming output terminal (0x0101, ignored).
    #[test]
    fn usb_headset_terminal_is_found() {
        let mut d = vec![9, 2, 0, 0, 2, 1, 0, 0x80, 50]; // configuration
        d.extend([9, 4, 0, 0, 0, 1, 1, 0, 0]); // interface: class audio, subclass control
        d.extend([12, 0x24, 2, 1, 0x02, 0x04, 0, 1, 0, 0, 0, 0]); // input terminal: headset
        d.extend([9, 0x24, 3, 2, 0x01, 0x01, 0, 1, 0]); // output terminal: USB streaming
        d.extend([9, 4, 1, 0, 0, 1, 2, 0, 0]); // interface: audio streaming
        assert_eq!(usb_audio_terminals(&d), vec![0x0402]);
        let card = Card {
            driver: "USB-Audio".into(),
            usb_terminals: vec![0x0402],
            ..Card::default()
        };
        assert_eq!(
            classify_card(&card),
            (FormFactor::Headset, Transport::Usb, Source::AlsaUsb)
        );
        // Garbage never panics.
        assert!(usb_audio_terminals(&[0, 1, 2, 255, 4]).is_empty());
    }

    #[test]
    fn alsa_default_chain_is_followed() {
        let mut conf = AlsaConf::default();
        conf.parse(
            "pcm.!default { type plug; slave.pcm \"jabra\" }\n\
             pcm.jabra { type null; hint { show on description \"Jabra\" } } # comment\n",
        );
        assert_eq!(conf.get("pcm.default.slave.pcm"), Some("jabra"));
        assert_eq!(conf.get("pcm.jabra.hint.description"), Some("Jabra"));
        let dev = |id: &str| AudioDevice {
            name: id.into(),
            id: id.into(),
            input: true,
            output: true,
            default_input: false,
            default_output: false,
            form_factor: FormFactor::Unknown,
            transport: Transport::Unknown,
            source: Source::None,
        };
        let devices = vec![dev("builtin"), dev("jabra")];
        assert_eq!(
            conf.resolve_default(&devices, &[]),
            DefaultTarget::Device(1)
        );
        conf.parse("pcm.!default { type plug slave { pcm \"builtin\" } }");
        assert_eq!(
            conf.resolve_default(&devices, &[]),
            DefaultTarget::Device(0)
        );
        conf.parse("pcm.!default { type pulse }");
        assert!(matches!(
            conf.resolve_default(&devices, &[]),
            DefaultTarget::SoundServer(_)
        ));
    }

    #[test]
    fn pactl_json_merges_source_and_sink_of_one_headset() {
        let sources = serde_json::json!([
            {"name": "alsa_input.usb-Jabra.mono", "description": "Jabra Evolve2 40 Mono",
             "properties": {"device.form_factor": "headset", "device.bus": "usb", "device.bus_path": "pci-0000:00:14.0-usb-0:2:1.0"}},
            {"name": "alsa_output.usb-Jabra.monitor", "description": "Monitor of Jabra",
             "properties": {"device.class": "monitor"}},
            {"name": "alsa_input.pci.analog", "description": "Built-in Audio Analog Stereo",
             "properties": {"device.bus": "pci", "device.bus_path": "pci-0000:00:1f.3"}}
        ]);
        let sinks = serde_json::json!([
            {"name": "alsa_output.usb-Jabra", "description": "Jabra Evolve2 40 Analog Stereo",
             "properties": {"device.form_factor": "headset", "device.bus": "usb", "device.bus_path": "pci-0000:00:14.0-usb-0:2:1.0"}}
        ]);
        let inv = from_pactl(
            "pulseaudio",
            &sources,
            &sinks,
            Some("alsa_input.pci.analog"),
            Some("alsa_output.usb-Jabra"),
        );
        assert_eq!(inv.devices.len(), 2, "{inv:?}");
        let jabra = &inv.devices[0];
        assert!(jabra.input && jabra.output && jabra.default_output && !jabra.default_input);
        assert_eq!(jabra.source, Source::SoundServer);
        assert_eq!(jabra.transport, Transport::Usb);
        assert!(inv.devices[1].default_input);
    }
}
