//! `shiftready devices [--json]`: the audio devices and what is known of each.

use crate::checks::headset::inventory;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use crate::i18n::{tr, trm};
use proto::Msg;
use serde::Serialize;

/// `shiftready devices`.
pub fn devices(loaded: &Loaded, json: bool) -> anyhow::Result<i32> {
    let inv = inventory(&loaded.config.audio.input_device).map_err(|e| {
        ExitError::new(
            exit::UNAVAILABLE,
            trm(&Msg::new("devices-cannot-list").text("error", format!("{e:#}"))),
        )
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&inv)?);
        return Ok(0);
    }
    println!(
        "{}",
        trm(&Msg::new("devices-header").text("backend", inv.backend.to_string()))
    );
    if inv.devices.is_empty() {
        println!("  {}", tr("devices-none"));
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
            defaults.push(tr("devices-default-input"));
        }
        if d.default_output {
            defaults.push(tr("devices-default-output"));
        }
        println!(
            "  {:<40} {:<6} {:<10} {:<9} ({}){}{}",
            d.name,
            dir,
            label(&d.form_factor),
            label(&d.transport),
            trm(&Msg::new("devices-by").text("source", label(&d.source))),
            if defaults.is_empty() { "" } else { "  ← " },
            defaults.join(", ")
        );
        if d.id != d.name {
            println!("      id: {}", d.id);
        }
    }
    if let Some(why) = &inv.default_unknown {
        println!(
            "  {}",
            trm(&Msg::new("devices-defaults-unknown").text("why", why.clone()))
        );
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
