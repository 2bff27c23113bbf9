//! Windows Core Audio (the MMDevice API): the active endpoints with their names, form factors,
//! containers, mute and volume, the default endpoint per direction and role (console,
//! multimedia, communications), and the changes `shiftready fix` makes: the default per role
//! through `IPolicyConfig`, mute and volume through `IAudioEndpointVolume`. The headset check
//! (`checks/headset/windows.rs`) and the fix (`fix/windows.rs`) both read [`Audio::snapshot`].
//!
//! Everything `unsafe` here is a COM call on interfaces this module holds, with strings and
//! out-pointers it owns; each block says why it is sound.
#![allow(unsafe_code)]

use super::wide;
use crate::fix::roles::{Direction, Endpoint, Role, Snapshot};
use shiftready_core::checks::headset::{FormFactor, Source, Transport, classify_name};
use windows::Win32::Devices::FunctionDiscovery::{
    PKEY_Device_ContainerId, PKEY_Device_EnumeratorName, PKEY_Device_FriendlyName,
};
use windows::Win32::Foundation::PROPERTYKEY;
use windows::Win32::Media::Audio::Endpoints::IAudioEndpointVolume;
use windows::Win32::Media::Audio::{
    DEVICE_STATE_ACTIVE, EDataFlow, ERole, IMMDevice, IMMDeviceEnumerator, MMDeviceEnumerator,
    PKEY_AudioEndpoint_FormFactor, eCapture, eCommunications, eConsole, eMultimedia, eRender,
};
use windows::Win32::System::Com::StructuredStorage::{PropVariantClear, PropVariantToStringAlloc};
use windows::Win32::System::Com::{
    CLSCTX_ALL, COINIT_MULTITHREADED, CoCreateInstance, CoInitializeEx, CoTaskMemFree,
    CoUninitialize, STGM_READ,
};
use windows::Win32::UI::Shell::PropertiesSystem::IPropertyStore;
use windows_core::{GUID, HRESULT, IUnknown, IUnknown_Vtbl, Interface, PCWSTR, PWSTR, interface};

/// `IPolicyConfig`: the undocumented interface through which Windows's own Sound control panel
/// sets the default endpoint per role. It is in neither the Windows SDK nor the `windows`
/// crate; declared here as the device-switching tools declare it: EarTrumpet
/// (`EarTrumpet.Interop/PolicyConfig.h` in File-New-Project/EarTrumpet), AudioSwitcher
/// (`IPolicyConfig.cs` in davkean/audio-switcher), AudioDeviceCmdlets, SoundSwitch. Class
/// `PolicyConfigClient` [`CLSID_POLICY_CONFIG_CLIENT`]; the interface id below is the one used
/// since Windows 7 (AudioSwitcher, AudioDeviceCmdlets), EarTrumpet's two Windows 10 ids are the
/// fallbacks ([`IID_POLICY_CONFIG_TH`]). In every version ten methods we never call come before
/// `SetDefaultEndpoint`: for those only the slot count matters, so they are declared without
/// arguments and never called (the names are Rust's; only the order reaches the vtable).
#[interface("f8679f50-850a-41cf-9c72-430f290290c8")]
unsafe trait IPolicyConfig: IUnknown {
    fn reserved1(&self) -> HRESULT;
    fn reserved2(&self) -> HRESULT;
    fn reserved3(&self) -> HRESULT;
    fn reserved4(&self) -> HRESULT;
    fn reserved5(&self) -> HRESULT;
    fn reserved6(&self) -> HRESULT;
    fn reserved7(&self) -> HRESULT;
    fn reserved8(&self) -> HRESULT;
    fn reserved9(&self) -> HRESULT;
    fn reserved10(&self) -> HRESULT;
    fn set_default_endpoint(&self, device_id: PCWSTR, role: ERole) -> HRESULT;
}

/// `CPolicyConfigClient` {870AF99C-171D-4F9E-AF0D-E63DF40C2BC9}.
const CLSID_POLICY_CONFIG_CLIENT: GUID = GUID::from_u128(0x870af99c_171d_4f9e_af0d_e63df40c2bc9);
/// EarTrumpet's `IID_IPolicyConfig_TH1` and `_TH2` (Windows 10 builds).
const IID_POLICY_CONFIG_TH: [GUID; 2] = [
    GUID::from_u128(0xca286fc3_91fd_42c3_8e9b_caafa66242e3),
    GUID::from_u128(0x6be54be8_a068_4875_a49d_0c2966473b11),
];

/// COM on this thread for as long as the value lives.
struct Com {
    ours: bool,
}

impl Com {
    fn init() -> Com {
        // SAFETY: no reserved pointer. S_OK and S_FALSE are balanced by `CoUninitialize` in
        // `drop`; RPC_E_CHANGED_MODE (the thread is already in another apartment) leaves COM
        // usable and not ours to end.
        let hr = unsafe { CoInitializeEx(None, COINIT_MULTITHREADED) };
        Com { ours: hr.is_ok() }
    }
}

impl Drop for Com {
    fn drop(&mut self) {
        if self.ours {
            // SAFETY: balances the successful `CoInitializeEx` of `init` on this thread (the
            // value is not `Send`: it holds COM interfaces beside it).
            unsafe { CoUninitialize() };
        }
    }
}

/// The Core Audio device enumerator, with COM held for it.
pub struct Audio {
    enumerator: IMMDeviceEnumerator,
    // Declared last: dropped after the interface above is released.
    _com: Com,
}

/// The roles Windows keeps per direction, in the order the fix reports them.
const ROLES: [(ERole, Role); 3] = [
    (eConsole, Role::Console),
    (eMultimedia, Role::Multimedia),
    (eCommunications, Role::Communications),
];

fn flow(d: Direction) -> EDataFlow {
    match d {
        Direction::Input => eCapture,
        Direction::Output => eRender,
    }
}

/// A `PWSTR` that COM allocated, as a `String`, freed.
fn take_pwstr(p: PWSTR) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: COM returned a NUL-terminated string it allocated with CoTaskMemAlloc; it is
    // read once, then freed once.
    let s = unsafe { p.to_string() }.unwrap_or_default();
    // SAFETY: as above; the pointer is not used after this.
    unsafe { CoTaskMemFree(Some(p.0 as *const _)) };
    s
}

/// A property as text (`PropVariantToStringAlloc` renders strings, numbers and GUIDs alike);
/// `None` when it is missing or empty.
fn prop(store: &IPropertyStore, key: &PROPERTYKEY) -> Option<String> {
    // SAFETY: `key` is a valid PROPERTYKEY; the PROPVARIANT returned is ours and cleared below.
    let mut v = unsafe { store.GetValue(key) }.ok()?;
    // SAFETY: `v` is an initialised PROPVARIANT; the string returned is taken (and freed).
    let s = unsafe { PropVariantToStringAlloc(&v) }.ok().map(take_pwstr);
    // SAFETY: clears the PROPVARIANT we own exactly once.
    let _ = unsafe { PropVariantClear(&mut v) };
    s.filter(|s| !s.is_empty())
}

/// The form factor, transport and which source decided them. A headset is a headset whether
/// Windows says so (`Headset`, `Handset`) or only its name does: many USB headsets' endpoints
/// are "Speakers (Jabra EVOLVE 20)" with the generic `Speakers` form factor.
fn classify(
    name: &str,
    form_factor: Option<u32>,
    enumerator: Option<&str>,
) -> (FormFactor, Transport, Source) {
    // EndpointFormFactor (mmdeviceapi.h): 1 Speakers, 3 Headphones, 4 Microphone, 5 Headset,
    // 6 Handset.
    let host_form = match form_factor {
        Some(5 | 6) => Some(FormFactor::Headset),
        Some(3) => Some(FormFactor::Headphones),
        Some(1) => Some(FormFactor::Speaker),
        Some(4) => Some(FormFactor::Microphone),
        _ => None,
    };
    let (name_form, name_transport) = classify_name(name);
    let host_transport = match enumerator.map(str::to_ascii_uppercase).as_deref() {
        Some("USB") => Some(Transport::Usb),
        Some("BTHENUM" | "BTHHFENUM" | "BTHLEDEVICE" | "BTHLE") => Some(Transport::Bluetooth),
        Some("HDAUDIO" | "INTELAUDIO") => Some(Transport::BuiltIn),
        Some("SWD" | "ROOT") => Some(Transport::Virtual),
        _ => None,
    };
    let transport = host_transport.unwrap_or(name_transport);
    match (host_form, name_form) {
        (Some(FormFactor::Headset), _) => (FormFactor::Headset, transport, Source::Host),
        (_, FormFactor::Headset) => (FormFactor::Headset, transport, Source::Name),
        (Some(f), _) => (f, transport, Source::Host),
        (None, f) if f != FormFactor::Unknown => (f, transport, Source::Name),
        (None, f) => {
            let source = if host_transport.is_some() {
                Source::Host
            } else {
                Source::None
            };
            (f, transport, source)
        }
    }
}

impl Audio {
    /// COM and the device enumerator; the error in words when Core Audio is not there.
    pub fn open() -> Result<Audio, String> {
        let com = Com::init();
        // SAFETY: a class id constant; returns an owned interface.
        let enumerator: IMMDeviceEnumerator =
            unsafe { CoCreateInstance(&MMDeviceEnumerator, None, CLSCTX_ALL) }
                .map_err(|e| format!("no Core Audio device enumerator: {e}"))?;
        Ok(Audio {
            enumerator,
            _com: com,
        })
    }

    fn endpoint(&self, device: &IMMDevice, direction: Direction) -> Option<Endpoint> {
        // SAFETY: `device` is a live IMMDevice; the id string is taken (and freed).
        let id = take_pwstr(unsafe { device.GetId() }.ok()?);
        // SAFETY: as above; the store is an owned interface.
        let store = unsafe { device.OpenPropertyStore(STGM_READ) }.ok()?;
        let name = prop(&store, &PKEY_Device_FriendlyName).unwrap_or_else(|| id.clone());
        let form = prop(&store, &PKEY_AudioEndpoint_FormFactor).and_then(|s| s.parse().ok());
        let enumerator = prop(&store, &PKEY_Device_EnumeratorName);
        let (form_factor, transport, source) = classify(&name, form, enumerator.as_deref());
        let group = prop(&store, &PKEY_Device_ContainerId).unwrap_or_default();
        // SAFETY: activating a documented interface on a live device; owned on success.
        let volume: Option<IAudioEndpointVolume> =
            unsafe { device.Activate(CLSCTX_ALL, None) }.ok();
        // SAFETY: plain getters on the live volume interface.
        let muted = volume
            .as_ref()
            .and_then(|v| unsafe { v.GetMute() }.ok())
            .map(|b| b.as_bool());
        // SAFETY: as above.
        let level = volume
            .as_ref()
            .and_then(|v| unsafe { v.GetMasterVolumeLevelScalar() }.ok())
            .map(f64::from);
        Some(Endpoint {
            id,
            name,
            direction,
            form_factor,
            transport,
            source,
            group,
            muted,
            volume: level,
        })
    }

    /// The active endpoints and the default of every direction and role.
    pub fn snapshot(&self) -> Result<Snapshot, String> {
        let mut s = Snapshot::default();
        for direction in [Direction::Input, Direction::Output] {
            // SAFETY: a plain call on the live enumerator; the collection is owned.
            let list = unsafe {
                self.enumerator
                    .EnumAudioEndpoints(flow(direction), DEVICE_STATE_ACTIVE)
            }
            .map_err(|e| format!("the audio endpoints cannot be listed: {e}"))?;
            // SAFETY: as above.
            let n = unsafe { list.GetCount() }.unwrap_or(0);
            for i in 0..n {
                // SAFETY: `i` is below the count the collection gave.
                if let Ok(device) = unsafe { list.Item(i) } {
                    s.endpoints.extend(self.endpoint(&device, direction));
                }
            }
            for (erole, role) in ROLES {
                // SAFETY: a plain call on the live enumerator; E_NOTFOUND (no device for the
                // role) is `Err` and means no default.
                let id = unsafe {
                    self.enumerator
                        .GetDefaultAudioEndpoint(flow(direction), erole)
                }
                .ok()
                // SAFETY: a live device; the string is taken (and freed).
                .and_then(|d| unsafe { d.GetId() }.ok())
                .map(take_pwstr);
                s.defaults.push((direction, role, id));
            }
        }
        Ok(s)
    }

    fn volume_of(&self, id: &str) -> Result<IAudioEndpointVolume, String> {
        let w = wide(id);
        // SAFETY: `w` is a NUL-terminated UTF-16 string that outlives the call.
        let device = unsafe { self.enumerator.GetDevice(PCWSTR(w.as_ptr())) }
            .map_err(|e| format!("the endpoint {id} is gone: {e}"))?;
        // SAFETY: activating a documented interface on a live device; owned on success.
        unsafe { device.Activate(CLSCTX_ALL, None) }
            .map_err(|e| format!("the endpoint's volume control is not available: {e}"))
    }

    /// Unmutes the endpoint.
    pub fn unmute(&self, id: &str) -> Result<(), String> {
        let v = self.volume_of(id)?;
        // SAFETY: a plain call on the live interface; no event context.
        unsafe { v.SetMute(false, std::ptr::null()) }.map_err(|e| format!("SetMute: {e}"))
    }

    /// Sets the endpoint's volume to full scale.
    pub fn raise_volume(&self, id: &str) -> Result<(), String> {
        let v = self.volume_of(id)?;
        // SAFETY: as above.
        unsafe { v.SetMasterVolumeLevelScalar(1.0, std::ptr::null()) }
            .map_err(|e| format!("SetMasterVolumeLevelScalar: {e}"))
    }

    /// The policy interface that sets defaults; the reason in words where Windows (or Wine)
    /// does not have it.
    pub fn policy(&self) -> Result<Policy, String> {
        // SAFETY: a class id constant; returns an owned IUnknown.
        let unknown: IUnknown =
            unsafe { CoCreateInstance(&CLSID_POLICY_CONFIG_CLIENT, None, CLSCTX_ALL) }
                .map_err(|e| format!("no PolicyConfigClient to set the default device: {e}"))?;
        for iid in std::iter::once(IPolicyConfig::IID).chain(IID_POLICY_CONFIG_TH) {
            let mut raw = std::ptr::null_mut();
            // SAFETY: `raw` is a valid out-pointer; on success it holds a reference that we own
            // (QueryInterface added it).
            let hr = unsafe { unknown.query(&iid, &mut raw) };
            if hr.is_ok() && !raw.is_null() {
                // SAFETY: every IPolicyConfig version has the same first fourteen slots
                // (IUnknown's three, ten unused, SetDefaultEndpoint: see the declaration), so
                // the pointer is used only through slots it has; `from_raw` takes over the
                // reference QueryInterface gave.
                let config = unsafe { IPolicyConfig::from_raw(raw) };
                return Ok(Policy { config });
            }
        }
        Err("PolicyConfigClient has no IPolicyConfig interface".into())
    }
}

/// `IPolicyConfig` of a Windows that has it.
pub struct Policy {
    config: IPolicyConfig,
}

impl Policy {
    /// Makes the endpoint the default for each of these roles.
    pub fn set_default(&self, id: &str, roles: &[Role]) -> Result<(), String> {
        let w = wide(id);
        for role in roles {
            let Some((erole, _)) = ROLES.iter().find(|(_, r)| r == role) else {
                continue;
            };
            // SAFETY: `w` is a NUL-terminated UTF-16 endpoint id that outlives the call; the
            // role is one of the three ERole values.
            unsafe { self.config.set_default_endpoint(PCWSTR(w.as_ptr()), *erole) }
                .ok()
                .map_err(|e| format!("SetDefaultEndpoint({role:?}): {e}"))?;
        }
        Ok(())
    }
}
