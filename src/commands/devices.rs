//! `shiftready devices [--json]`: the audio devices and what is known of each.

use crate::checks::headset::inventory;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use serde::Serialize;

/// `shiftready devices`.
pub fn devices(loaded: &Loaded, json: bool) -> anyhow::Result<i32> {
    let inv = inventory(&loaded.config.audio.input_device).map_err(|e| {
        ExitError::new(
            exit::UNAVAILABLE,
            format!("could not list the audio devices: {e:#}"),
        )
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&inv)?);
        return Ok(0);
    }
    println!("Audio devices ({}):", inv.backend);
    if inv.devices.is_empty() {
        println!("  (none)");
    }
    for d in &inv.devices {
        let dir = match (d.input, d.output) {
            (true, true) => "in+out",
            (true, false) => "in",
            (false, true) => "out",
            _ => "-",
        };
        let mut defaults = Vec::new();
        if d.default_input {
            defaults.push("default input");
        }
        if d.default_output {
            defaults.push("default output");
        }
        println!(
            "  {:<40} {:<6} {:<10} {:<9} (by {}){}{}",
            d.name,
            dir,
            label(&d.form_factor),
            label(&d.transport),
            label(&d.source),
            if defaults.is_empty() { "" } else { "  ← " },
            defaults.join(", ")
        );
        if d.id != d.name {
            println!("      id: {}", d.id);
        }
    }
    if let Some(why) = &inv.default_unknown {
        println!("  The defaults could not be told apart: {why}");
    }
    Ok(0)
}

/// The snake_case name serde gives a unit enum variant (`usb`, `sound_server`).
fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
