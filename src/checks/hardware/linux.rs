//! Linux power source from `/sys/class/power_supply` (kernel ABI: sysfs-class-power).

use super::Power;
use crate::platform::{read_trimmed, sys_path};

/// Mains online → AC; a discharging battery → battery; otherwise unknown (desktops have
/// no power_supply entries at all).
pub fn power() -> (Power, Option<f64>) {
    let dir = sys_path("/sys/class/power_supply");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return (Power::Unknown, None);
    };
    let (mut mains_online, mut mains_seen, mut discharging, mut capacity) =
        (false, false, false, None);
    for e in entries.flatten() {
        let p = e.path();
        let kind = read_trimmed(&p.join("type")).unwrap_or_default();
        match kind.as_str() {
            "Mains" | "USB" => {
                mains_seen = true;
                if read_trimmed(&p.join("online")).as_deref() == Some("1") {
                    mains_online = true;
                }
            }
            "Battery" => {
                // Peripheral batteries (a wireless mouse) have scope "Device".
                if read_trimmed(&p.join("scope")).as_deref() == Some("Device") {
                    continue;
                }
                if read_trimmed(&p.join("status")).as_deref() == Some("Discharging") {
                    discharging = true;
                }
                capacity = read_trimmed(&p.join("capacity")).and_then(|c| c.parse().ok());
            }
            _ => {}
        }
    }
    let power = if mains_online {
        Power::Ac
    } else if discharging || (mains_seen && capacity.is_some()) {
        Power::Battery
    } else if capacity.is_some() {
        // A battery that is full or charging with no mains entry: on AC.
        Power::Ac
    } else {
        Power::Unknown
    };
    (power, capacity)
}
