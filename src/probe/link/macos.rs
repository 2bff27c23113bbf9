//! macOS: the default route from `route -n get default`, its kind from `networksetup
//! -listallhardwareports`. Also compiled (not run) on Linux under cfg(test), so it is
//! type-checked there; macOS itself cannot be checked on the Linux CI.

use super::{LinkInfo, LinkKind, macos_link_kind, parse_route_get};

#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The default route from `route -n get default`, the interface's kind from
/// `networksetup -listallhardwareports`. The Wi-Fi signal is not read: since macOS 14.4
/// only `wdutil` (as root) tells it.
// Compiled on Linux too under cfg(test) (type-checked there), where nothing calls it.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub fn detect() -> LinkInfo {
    let Some((iface, gateway)) =
        output("/sbin/route", &["-n", "get", "default"]).and_then(|t| parse_route_get(&t))
    else {
        return LinkInfo::unknown();
    };
    let kind = output("/usr/sbin/networksetup", &["-listallhardwareports"])
        .map_or(LinkKind::Unknown, |t| macos_link_kind(&t, &iface));
    LinkInfo {
        kind,
        interface: Some(iface),
        gateway,
        wifi_signal_dbm: None,
    }
}
