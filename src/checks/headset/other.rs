//! macOS (and any OS but Linux and Windows): cpal's host tells the form factor and the
//! transport (CoreAudio transport type) in the device description. macOS's CoreAudio defaults
//! are one per direction, so there is no second role to judge.

use super::{AudioDevice, FormFactor, Inventory, Source, Transport, classify_name};
use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{DeviceType, InterfaceType};

pub fn inventory(_wanted_input: &str) -> anyhow::Result<Inventory> {
    let host = cpal::default_host();
    let default_in = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|i| i.to_string());
    let default_out = host
        .default_output_device()
        .and_then(|d| d.id().ok())
        .map(|i| i.to_string());
    let mut devices = Vec::new();
    for dev in host.devices()? {
        let Ok(desc) = dev.description() else {
            continue;
        };
        let id = dev.id().map(|i| i.to_string()).unwrap_or_default();
        let name = desc.name().to_string();
        let host_form = match desc.device_type() {
            DeviceType::Headset | DeviceType::Handset | DeviceType::Earpiece => {
                Some(FormFactor::Headset)
            }
            DeviceType::Headphones => Some(FormFactor::Headphones),
            DeviceType::Speaker => Some(FormFactor::Speaker),
            DeviceType::Microphone => Some(FormFactor::Microphone),
            _ => None,
        };
        let host_transport = match desc.interface_type() {
            InterfaceType::Usb => Some(Transport::Usb),
            InterfaceType::Bluetooth => Some(Transport::Bluetooth),
            InterfaceType::BuiltIn => Some(Transport::BuiltIn),
            InterfaceType::Line => Some(Transport::Analog),
            InterfaceType::Hdmi | InterfaceType::DisplayPort => Some(Transport::Hdmi),
            InterfaceType::Virtual | InterfaceType::Aggregate => Some(Transport::Virtual),
            _ => None,
        };
        let (name_form, name_transport) = classify_name(&name);
        let source = if host_form.is_some() || host_transport.is_some() {
            Source::Host
        } else if name_form != FormFactor::Unknown {
            Source::Name
        } else {
            Source::None
        };
        // One endpoint per direction on these hosts: merge a headset's two by name.
        let input = desc.supports_input();
        let output = desc.supports_output();
        let is_def_in = input && default_in.as_deref() == Some(id.as_str());
        let is_def_out = output && default_out.as_deref() == Some(id.as_str());
        if let Some(d) = devices
            .iter_mut()
            .find(|d: &&mut AudioDevice| d.name == name)
        {
            d.input |= input;
            d.output |= output;
            d.default_input |= is_def_in;
            d.default_output |= is_def_out;
            continue;
        }
        devices.push(AudioDevice {
            name,
            id,
            input,
            output,
            default_input: is_def_in,
            default_output: is_def_out,
            form_factor: host_form.unwrap_or(name_form),
            transport: host_transport.unwrap_or(name_transport),
            source,
        });
    }
    Ok(Inventory {
        backend: host.id().name().to_lowercase(),
        devices,
        default_unknown: None,
        communications: None,
    })
}
