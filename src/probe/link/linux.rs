//! Linux: the default route from /proc/net/route, its kind from /sys/class/net, the Wi-Fi
//! signal from /proc/net/wireless.

use super::{LinkInfo, LinkKind, parse_proc_route, parse_proc_wireless};
use std::net::IpAddr;
use std::path::Path;

pub fn detect() -> LinkInfo {
    let Some((iface, gw)) = std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|t| parse_proc_route(&t))
    else {
        return LinkInfo::unknown();
    };
    let sys = Path::new("/sys/class/net").join(&iface);
    let uevent = std::fs::read_to_string(sys.join("uevent")).unwrap_or_default();
    let devtype = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVTYPE="))
        .unwrap_or("");
    let wifi = sys.join("wireless").exists() || devtype == "wlan";
    // ARPHRD_ETHER = 1 in /sys/class/net/IF/type; tunnels and bridges say otherwise.
    let arp_type = std::fs::read_to_string(sys.join("type")).unwrap_or_default();
    let kind = if wifi {
        LinkKind::Wifi
    } else if arp_type.trim() == "1" && devtype.is_empty() {
        LinkKind::Ethernet
    } else if arp_type.trim().is_empty() {
        LinkKind::Unknown
    } else {
        LinkKind::Other
    };
    let signal = if wifi {
        std::fs::read_to_string("/proc/net/wireless")
            .ok()
            .and_then(|t| parse_proc_wireless(&t, &iface))
    } else {
        None
    };
    LinkInfo {
        kind,
        interface: Some(iface),
        gateway: gw.map(IpAddr::V4),
        wifi_signal_dbm: signal,
    }
}
