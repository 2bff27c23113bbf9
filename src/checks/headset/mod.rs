//! The `headset` check and `shiftready devices`.
//!
//! cpal enumerates the input and output devices and the defaults; the platform module then
//! says what each device really is (form factor and transport) from the best source it has:
//! the sound server's properties (PulseAudio/PipeWire `device.form_factor`, `device.bus`),
//! the ALSA card's USB metadata, or what cpal's host reports (WASAPI form factor, CoreAudio
//! transport; on Windows, Core Audio's endpoints with the console and the communications
//! defaults). Matching the name against known headset makers is only the fallback, and every
//! device records which source decided.

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(not(any(target_os = "linux", windows)))]
mod other;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
use linux as os;
#[cfg(not(any(target_os = "linux", windows)))]
use other as os;
#[cfg(windows)]
use windows as os;

use super::CheckContext;
use proto::CheckResult;
// What the OS files share (`windows.rs` builds its devices from Core Audio's own types).
#[cfg_attr(windows, allow(unused_imports))]
use shiftready_core::checks::headset::{
    AudioDevice, FormFactor, Inventory, Source, Transport, classify_name, evaluate,
};

/// Lists the audio devices of this computer.
pub fn inventory(ctx_input: &str) -> anyhow::Result<Inventory> {
    os::inventory(ctx_input)
}

pub async fn run(ctx: CheckContext) -> anyhow::Result<CheckResult> {
    let wanted = ctx.config.audio.input_device.clone();
    let inv = tokio::task::spawn_blocking(move || inventory(&wanted)).await?;
    Ok(match inv {
        Ok(inv) => evaluate(&inv, &ctx.policy.headset),
        Err(e) => CheckResult::error(format!(
            "Could not list the audio devices ({e:#}): check that the sound system is running."
        )),
    })
}
