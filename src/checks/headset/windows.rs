//! Windows: the endpoints from Core Audio (`crate::platform::windows::audio`), one device per
//! endpoint (a headset's microphone and earphone are two endpoints, with different names), the
//! console default as the default input and output, and the communications default (the
//! "Default Communication Device" softphones use) beside it, so the verdict can say which of
//! the two is not the headset.

use super::{AudioDevice, Inventory};
use crate::fix::roles::{Direction, Role, Snapshot};
use crate::platform::windows::audio::Audio;
use shiftready_core::checks::headset::RoleDefaults;

pub fn inventory(_wanted_input: &str) -> anyhow::Result<Inventory> {
    let audio = Audio::open().map_err(anyhow::Error::msg)?;
    Ok(from_snapshot(
        &audio.snapshot().map_err(anyhow::Error::msg)?,
    ))
}

fn from_snapshot(s: &Snapshot) -> Inventory {
    let console_in = s.default_of(Direction::Input, Role::Console);
    let console_out = s.default_of(Direction::Output, Role::Console);
    let devices = s
        .endpoints
        .iter()
        .map(|e| {
            let input = e.direction == Direction::Input;
            AudioDevice {
                name: e.name.clone(),
                id: e.id.clone(),
                input,
                output: !input,
                default_input: input && console_in == Some(e.id.as_str()),
                default_output: !input && console_out == Some(e.id.as_str()),
                form_factor: e.form_factor,
                transport: e.transport,
                source: e.source,
            }
        })
        .collect();
    let comm = |d| s.default_of(d, Role::Communications).map(str::to_string);
    Inventory {
        backend: "wasapi".into(),
        devices,
        default_unknown: None,
        communications: Some(RoleDefaults {
            input: comm(Direction::Input),
            output: comm(Direction::Output),
        }),
    }
}
