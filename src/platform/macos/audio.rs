//! macOS CoreAudio: the audio devices (one `AudioObjectID` serves both directions), their
//! names, transports, input mute and volume, the three default-device properties of the system
//! object (`kAudioHardwarePropertyDefaultInputDevice`, `...DefaultOutputDevice`,
//! `...DefaultSystemOutputDevice`), and the changes `shiftready fix` makes through
//! `AudioObjectSetPropertyData`. Built for macOS but not run on one (see the README).
//!
//! Everything `unsafe` here is an `AudioObject{Get,Set}PropertyData` call with an address, a
//! size and a buffer this module owns; each block says why it is sound.
#![allow(unsafe_code)]

use crate::fix::roles::{Direction, Endpoint, Role, Snapshot};
use objc2_core_audio::{
    AudioObjectGetPropertyData, AudioObjectGetPropertyDataSize, AudioObjectID,
    AudioObjectPropertyAddress, AudioObjectSetPropertyData, kAudioDevicePropertyMute,
    kAudioDevicePropertyStreams, kAudioDevicePropertyTransportType,
    kAudioDevicePropertyVolumeScalar, kAudioDeviceTransportTypeBluetooth,
    kAudioDeviceTransportTypeBluetoothLE, kAudioDeviceTransportTypeBuiltIn,
    kAudioDeviceTransportTypeDisplayPort, kAudioDeviceTransportTypeHDMI,
    kAudioDeviceTransportTypeUSB, kAudioDeviceTransportTypeVirtual,
    kAudioHardwarePropertyDefaultInputDevice, kAudioHardwarePropertyDefaultOutputDevice,
    kAudioHardwarePropertyDefaultSystemOutputDevice, kAudioHardwarePropertyDevices,
    kAudioObjectPropertyElementMain, kAudioObjectPropertyName, kAudioObjectPropertyScopeGlobal,
    kAudioObjectPropertyScopeInput, kAudioObjectPropertyScopeOutput, kAudioObjectSystemObject,
    kAudioObjectUnknown,
};
use objc2_core_foundation::{CFRetained, CFString};
use shiftready_core::checks::headset::{FormFactor, Source, Transport, classify_name};
use std::ffi::c_void;
use std::ptr::{NonNull, null};

const SYSTEM: AudioObjectID = kAudioObjectSystemObject as AudioObjectID;

fn address(selector: u32, scope: u32, element: u32) -> AudioObjectPropertyAddress {
    AudioObjectPropertyAddress {
        mSelector: selector,
        mScope: scope,
        mElement: element,
    }
}

fn scope_of(d: Direction) -> u32 {
    match d {
        Direction::Input => kAudioObjectPropertyScopeInput,
        Direction::Output => kAudioObjectPropertyScopeOutput,
    }
}

/// A fixed-size property (`u32`, `f32`); the OSStatus when CoreAudio refuses.
fn get<T: Copy + Default>(
    object: AudioObjectID,
    addr: AudioObjectPropertyAddress,
) -> Result<T, i32> {
    let mut addr = addr;
    let mut value = T::default();
    let mut size = size_of::<T>() as u32;
    // SAFETY: the address, the size and the value are ours and live across the call; CoreAudio
    // writes at most `size` bytes, the size of `value`.
    let status = unsafe {
        AudioObjectGetPropertyData(
            object,
            NonNull::from(&mut addr),
            0,
            null(),
            NonNull::from(&mut size),
            NonNull::from(&mut value).cast::<c_void>(),
        )
    };
    if status == 0 { Ok(value) } else { Err(status) }
}

/// A fixed-size property set; the OSStatus when CoreAudio refuses.
fn set<T: Copy>(
    object: AudioObjectID,
    addr: AudioObjectPropertyAddress,
    value: T,
) -> Result<(), i32> {
    let mut addr = addr;
    let mut value = value;
    // SAFETY: the address and the value are ours and live across the call; the size given is
    // the value's.
    let status = unsafe {
        AudioObjectSetPropertyData(
            object,
            NonNull::from(&mut addr),
            0,
            null(),
            size_of::<T>() as u32,
            NonNull::from(&mut value).cast::<c_void>(),
        )
    };
    if status == 0 { Ok(()) } else { Err(status) }
}

/// An array-of-ids property (the device list, a device's streams in one scope).
fn get_ids(
    object: AudioObjectID,
    addr: AudioObjectPropertyAddress,
) -> Result<Vec<AudioObjectID>, i32> {
    let mut addr = addr;
    let mut size = 0u32;
    // SAFETY: the address and the size are ours and live across the call.
    let status = unsafe {
        AudioObjectGetPropertyDataSize(
            object,
            NonNull::from(&mut addr),
            0,
            null(),
            NonNull::from(&mut size),
        )
    };
    if status != 0 {
        return Err(status);
    }
    let mut ids: Vec<AudioObjectID> = vec![0; size as usize / size_of::<AudioObjectID>()];
    if ids.is_empty() {
        return Ok(ids);
    }
    // SAFETY: `ids` holds `size` bytes (rounded down to whole ids, and `size` says so);
    // CoreAudio writes at most `size` bytes and says how many it wrote.
    let mut size = (ids.len() * size_of::<AudioObjectID>()) as u32;
    let status = unsafe {
        AudioObjectGetPropertyData(
            object,
            NonNull::from(&mut addr),
            0,
            null(),
            NonNull::from(&mut size),
            NonNull::from(&mut ids[0]).cast::<c_void>(),
        )
    };
    if status != 0 {
        return Err(status);
    }
    ids.truncate(size as usize / size_of::<AudioObjectID>());
    Ok(ids)
}

/// The object's name (`kAudioObjectPropertyName`, a CFString the caller owns).
fn name_of(object: AudioObjectID) -> Option<String> {
    let mut addr = address(
        kAudioObjectPropertyName,
        kAudioObjectPropertyScopeGlobal,
        kAudioObjectPropertyElementMain,
    );
    let mut s: *mut CFString = std::ptr::null_mut();
    let mut size = size_of::<*mut CFString>() as u32;
    // SAFETY: as in `get`: the out value is one pointer, as large as `size` says.
    let status = unsafe {
        AudioObjectGetPropertyData(
            object,
            NonNull::from(&mut addr),
            0,
            null(),
            NonNull::from(&mut size),
            NonNull::from(&mut s).cast::<c_void>(),
        )
    };
    if status != 0 {
        return None;
    }
    // SAFETY: the name properties follow CoreFoundation's copy rule: the string is ours
    // (+1), released once when the CFRetained drops.
    let s = unsafe { CFRetained::from_raw(NonNull::new(s)?) };
    Some(s.to_string())
}

fn transport_of(device: AudioObjectID) -> Transport {
    let global = address(
        kAudioDevicePropertyTransportType,
        kAudioObjectPropertyScopeGlobal,
        kAudioObjectPropertyElementMain,
    );
    match get::<u32>(device, global) {
        Ok(t) if t == kAudioDeviceTransportTypeUSB => Transport::Usb,
        Ok(t)
            if t == kAudioDeviceTransportTypeBluetooth
                || t == kAudioDeviceTransportTypeBluetoothLE =>
        {
            Transport::Bluetooth
        }
        Ok(t) if t == kAudioDeviceTransportTypeBuiltIn => Transport::BuiltIn,
        Ok(t)
            if t == kAudioDeviceTransportTypeHDMI || t == kAudioDeviceTransportTypeDisplayPort =>
        {
            Transport::Hdmi
        }
        Ok(t) if t == kAudioDeviceTransportTypeVirtual => Transport::Virtual,
        _ => Transport::Unknown,
    }
}

/// The input volume's element: the main one where the device has it, else channel 1.
fn volume_element(device: AudioObjectID) -> Option<(u32, f32)> {
    [kAudioObjectPropertyElementMain, 1]
        .into_iter()
        .find_map(|el| {
            get::<f32>(
                device,
                address(
                    kAudioDevicePropertyVolumeScalar,
                    kAudioObjectPropertyScopeInput,
                    el,
                ),
            )
            .ok()
            .map(|v| (el, v))
        })
}

fn endpoint(device: AudioObjectID, direction: Direction) -> Option<Endpoint> {
    let scope = scope_of(direction);
    let streams = get_ids(
        device,
        address(
            kAudioDevicePropertyStreams,
            scope,
            kAudioObjectPropertyElementMain,
        ),
    )
    .ok()?;
    if streams.is_empty() {
        return None;
    }
    let name = name_of(device).unwrap_or_else(|| format!("audio device {device}"));
    let transport = transport_of(device);
    let (name_form, _) = classify_name(&name);
    // CoreAudio has no form factor: the name decides, and a Bluetooth device with a
    // microphone is a headset (the hands-free profile is what gives it one).
    let bluetooth_headset = transport == Transport::Bluetooth && direction == Direction::Input;
    let (form_factor, source) = match name_form {
        FormFactor::Headset => (FormFactor::Headset, Source::Name),
        _ if bluetooth_headset => (FormFactor::Headset, Source::Host),
        FormFactor::Unknown => (FormFactor::Unknown, Source::None),
        f => (f, Source::Name),
    };
    let (muted, volume) = match direction {
        Direction::Input => (
            get::<u32>(
                device,
                address(
                    kAudioDevicePropertyMute,
                    scope,
                    kAudioObjectPropertyElementMain,
                ),
            )
            .ok()
            .map(|m| m != 0),
            volume_element(device).map(|(_, v)| f64::from(v)),
        ),
        Direction::Output => (
            get::<u32>(
                device,
                address(
                    kAudioDevicePropertyMute,
                    scope,
                    kAudioObjectPropertyElementMain,
                ),
            )
            .ok()
            .map(|m| m != 0),
            None,
        ),
    };
    Some(Endpoint {
        id: device.to_string(),
        name,
        direction,
        form_factor,
        transport,
        source,
        // One object is both the microphone and the speaker of a device.
        group: device.to_string(),
        muted,
        volume,
    })
}

/// The three default-device properties and the roles they stand for.
const DEFAULTS: [(Direction, Role, u32); 3] = [
    (
        Direction::Input,
        Role::Console,
        kAudioHardwarePropertyDefaultInputDevice,
    ),
    (
        Direction::Output,
        Role::Console,
        kAudioHardwarePropertyDefaultOutputDevice,
    ),
    (
        Direction::Output,
        Role::Alerts,
        kAudioHardwarePropertyDefaultSystemOutputDevice,
    ),
];

/// The devices and the three defaults.
pub fn snapshot() -> Result<Snapshot, String> {
    let global = |sel| {
        address(
            sel,
            kAudioObjectPropertyScopeGlobal,
            kAudioObjectPropertyElementMain,
        )
    };
    let devices = get_ids(SYSTEM, global(kAudioHardwarePropertyDevices))
        .map_err(|s| format!("CoreAudio lists no devices (OSStatus {s})"))?;
    let mut s = Snapshot::default();
    for d in devices {
        for direction in [Direction::Input, Direction::Output] {
            s.endpoints.extend(endpoint(d, direction));
        }
    }
    for (direction, role, selector) in DEFAULTS {
        let id = get::<AudioObjectID>(SYSTEM, global(selector))
            .ok()
            .filter(|id| *id != kAudioObjectUnknown)
            .map(|id| id.to_string());
        s.defaults.push((direction, role, id));
    }
    Ok(s)
}

fn device_of(id: &str) -> Result<AudioObjectID, String> {
    id.parse()
        .map_err(|_| format!("not a CoreAudio device id: {id}"))
}

/// Makes the device the default for each role (property) of the direction.
pub fn set_default(id: &str, direction: Direction, roles: &[Role]) -> Result<(), String> {
    let device = device_of(id)?;
    for role in roles {
        let Some((_, _, selector)) = DEFAULTS
            .iter()
            .find(|(d, r, _)| *d == direction && r == role)
        else {
            continue;
        };
        set(
            SYSTEM,
            address(
                *selector,
                kAudioObjectPropertyScopeGlobal,
                kAudioObjectPropertyElementMain,
            ),
            device,
        )
        .map_err(|s| format!("AudioObjectSetPropertyData({role:?}): OSStatus {s}"))?;
    }
    Ok(())
}

/// Unmutes the device in one direction.
pub fn unmute(id: &str, direction: Direction) -> Result<(), String> {
    let addr = address(
        kAudioDevicePropertyMute,
        scope_of(direction),
        kAudioObjectPropertyElementMain,
    );
    set(device_of(id)?, addr, 0u32).map_err(|s| format!("unmute: OSStatus {s}"))
}

/// Sets the input volume to full scale.
pub fn raise_volume(id: &str) -> Result<(), String> {
    let device = device_of(id)?;
    let (el, _) = volume_element(device).ok_or("the microphone has no volume control")?;
    set(
        device,
        address(
            kAudioDevicePropertyVolumeScalar,
            kAudioObjectPropertyScopeInput,
            el,
        ),
        1.0f32,
    )
    .map_err(|s| format!("volume: OSStatus {s}"))
}
