//! Which link the default route goes over (Ethernet or Wi-Fi), its Wi-Fi signal where the OS
//! tells, and the default gateway (the home router). One module per OS behind [`detect`]:
//! `linux.rs`, `windows.rs`, `macos.rs` (asks `route` and `networksetup`), `other.rs` (where
//! we cannot tell, the answer is "unknown", never a build failure). The parsers of the tools'
//! output live here, so they are tested on every OS.

use std::net::IpAddr;

/// The link's description is pure data, shared with the network verdict.
pub use shiftready_core::checks::network::{LinkInfo, LinkKind};

/// Reads the default route and its link from the OS.
pub fn detect() -> LinkInfo {
    os::detect()
}

/// Tells when links, addresses or routes change, so the link is read again then and not on a
/// clock: on Linux a netlink socket (rtnetlink(7)); elsewhere there is none (`start` says
/// why) and the caller reads the link now and then instead.
#[cfg(target_os = "linux")]
pub use linux::Watch;

/// No change events on this OS: [`Watch::start`] says so.
#[cfg(not(target_os = "linux"))]
pub struct Watch;

#[cfg(not(target_os = "linux"))]
impl Watch {
    pub fn start() -> std::io::Result<Watch> {
        Err(std::io::Error::other("no link change events on this OS"))
    }

    pub async fn changed(&mut self) -> std::io::Result<()> {
        std::future::pending().await
    }
}

/// Parses Linux's `/proc/net/route`: the default route (destination 0, mask 0) with the
/// lowest metric, as (interface, gateway).
pub fn parse_proc_route(text: &str) -> Option<(String, Option<std::net::Ipv4Addr>)> {
    let mut best: Option<(u32, String, Option<std::net::Ipv4Addr>)> = None;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (iface, dest, gw, flags, metric, mask) = (f[0], f[1], f[2], f[3], f[6], f[7]);
        let flags = u32::from_str_radix(flags, 16).unwrap_or(0);
        // RTF_UP = 0x1
        if dest != "00000000" || mask != "00000000" || flags & 1 == 0 {
            continue;
        }
        let metric: u32 = metric.parse().unwrap_or(u32::MAX);
        // The kernel prints the network-order word as a host integer: its native bytes are the
        // address.
        let gw = u32::from_str_radix(gw, 16)
            .ok()
            .filter(|&g| g != 0)
            .map(|g| std::net::Ipv4Addr::from(g.to_ne_bytes()));
        if best.as_ref().is_none_or(|b| metric < b.0) {
            best = Some((metric, iface.to_string(), gw));
        }
    }
    best.map(|(_, i, g)| (i, g))
}

/// Parses Linux's `/proc/net/wireless` for the signal level of `iface`, in dBm.
pub fn parse_proc_wireless(text: &str, iface: &str) -> Option<f64> {
    for line in text.lines().skip(2) {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != iface {
            continue;
        }
        // status, link quality, level, noise, ...
        let level = rest.split_whitespace().nth(2)?;
        let v: f64 = level.trim_end_matches('.').parse().ok()?;
        // Old drivers report an unsigned 8-bit value (e.g. 200 for −56 dBm).
        return Some(if v > 0.0 { v - 256.0 } else { v });
    }
    None
}

/// Parses macOS's `route -n get default` (route(8)): the `interface:` and `gateway:` lines of
/// the default route, as (interface, gateway). A VPN's default route may have no gateway.
pub fn parse_route_get(text: &str) -> Option<(String, Option<IpAddr>)> {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let iface = field("interface").filter(|i| !i.is_empty())?;
    let gateway = field("gateway").and_then(|g| g.parse().ok());
    Some((iface, gateway))
}

/// The kind of `iface` from macOS's `networksetup -listallhardwareports` (networksetup(8)):
/// blocks of `Hardware Port: NAME` / `Device: IFACE`. Wi-Fi (called AirPort before 10.7) is
/// Wi-Fi; Ethernet, "... LAN" and Thunderbolt Ethernet adapters are Ethernet; bridges, phones
/// and Bluetooth are other; an interface not listed (a VPN's `utun`, `ppp`) is other too.
pub fn macos_link_kind(hardware_ports: &str, iface: &str) -> LinkKind {
    let mut port: Option<&str> = None;
    for line in hardware_ports.lines() {
        if let Some(p) = line.strip_prefix("Hardware Port:") {
            port = Some(p.trim());
        } else if let Some(d) = line.strip_prefix("Device:") {
            if d.trim() != iface {
                continue;
            }
            let name = port.unwrap_or("").to_ascii_lowercase();
            return if name.contains("wi-fi") || name.contains("airport") {
                LinkKind::Wifi
            } else if name.contains("bridge") || name.contains("bluetooth") {
                LinkKind::Other
            } else if name.contains("ethernet") || name.contains("lan") {
                LinkKind::Ethernet
            } else {
                LinkKind::Other
            };
        }
    }
    if ["utun", "ipsec", "ppp", "gif", "stf"]
        .iter()
        .any(|p| iface.starts_with(p))
    {
        LinkKind::Other
    } else {
        LinkKind::Unknown
    }
}

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(any(target_os = "macos", test))]
mod macos;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
use other as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

#[cfg(test)]
mod tests {
    use super::*;

    /// `route -n get default` on a Mac on Wi-Fi, in the layout route(8) prints.
    const MAC_ROUTE: &str = "   route to: default
destination: default
       mask: default
    gateway: 192.168.1.1
  interface: en0
      flags: <UP,GATEWAY,DONE,STATIC,PRFCON>
 recvpipe  sendpipe  ssthresh  rtt,msec    rttvar  hopcount      mtu     expire
       0         0         0         0         0         0      1500         0
";

    /// `networksetup -listallhardwareports` on a MacBook with a USB Ethernet adapter.
    const MAC_PORTS: &str = "
Hardware Port: Thunderbolt Bridge
Device: bridge0
Ethernet Address: 36:11:2a:55:80:00

Hardware Port: Wi-Fi
Device: en0
Ethernet Address: a4:83:e7:01:02:03

Hardware Port: USB 10/100/1000 LAN
Device: en7
Ethernet Address: 00:e0:4c:68:01:02

Hardware Port: Thunderbolt 1
Device: en1
Ethernet Address: 36:11:2a:55:80:01

VLAN Configurations
===================
";

    #[test]
    fn macos_default_route_and_its_kind() {
        let (iface, gw) = parse_route_get(MAC_ROUTE).unwrap();
        assert_eq!(iface, "en0");
        assert_eq!(gw, Some("192.168.1.1".parse().unwrap()));
        assert_eq!(macos_link_kind(MAC_PORTS, "en0"), LinkKind::Wifi);
        assert_eq!(macos_link_kind(MAC_PORTS, "en7"), LinkKind::Ethernet);
        assert_eq!(macos_link_kind(MAC_PORTS, "bridge0"), LinkKind::Other);
        assert_eq!(macos_link_kind(MAC_PORTS, "en1"), LinkKind::Other);
        assert_eq!(macos_link_kind(MAC_PORTS, "utun3"), LinkKind::Other);
        assert_eq!(macos_link_kind(MAC_PORTS, "en9"), LinkKind::Unknown);
        // A VPN's default route: an interface, no gateway; no default route at all: none.
        let vpn = "   route to: default\ndestination: default\n  interface: utun3\n";
        assert_eq!(parse_route_get(vpn), Some(("utun3".to_string(), None)));
        assert_eq!(
            parse_route_get("route: writing to routing socket: not in table\n"),
            None
        );
    }

    /// A real /proc/net/route from a laptop with Wi-Fi (metric 600) and a docking-station
    /// Ethernet (metric 100): the Ethernet default wins.
    #[test]
    fn default_route_with_lowest_metric() {
        let t = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                 enp0s31f6\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                 wlp2s0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n";
        let (iface, gw) = parse_proc_route(t).unwrap();
        assert_eq!(iface, "enp0s31f6");
        assert_eq!(gw, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_proc_route("Iface\tDestination\n"), None);
    }

    #[test]
    fn wifi_signal_from_proc_net_wireless() {
        let t = "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n \
                 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n \
                 wlp2s0: 0000   54.  -56.  -256        0      0      0      0     12        0\n";
        assert_eq!(parse_proc_wireless(t, "wlp2s0"), Some(-56.0));
        assert_eq!(parse_proc_wireless(t, "eth0"), None);
        let old = "h\nh\n wlan0: 0000   54.  200.  0  0 0 0 0 0 0\n";
        assert_eq!(parse_proc_wireless(old, "wlan0"), Some(-56.0));
    }

    /// `ip -4 route show default` (iproute2 asks the kernel over netlink, not through
    /// /proc/net/route): the default route with the lowest metric, as (interface, gateway).
    #[cfg(target_os = "linux")]
    fn ip_route_default() -> Option<(String, Option<IpAddr>)> {
        let out = std::process::Command::new("ip")
            .args(["-4", "route", "show", "default"])
            .output()
            .expect("iproute2's `ip` (the independent view of the routing table)");
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .filter_map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let after = |key: &str| {
                    let i = words.iter().position(|w| *w == key)?;
                    words.get(i + 1).copied()
                };
                let metric: u32 = after("metric").map_or(0, |m| m.parse().unwrap());
                let gateway = after("via").map(|g| g.parse().unwrap());
                Some((metric, after("dev")?.to_string(), gateway))
            })
            .min_by_key(|r| r.0)
            .map(|(_, dev, gw)| (dev, gw))
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn detect_reads_this_machine() {
        // This machine's default route, as iproute2 sees it, must be the one found; a physical
        // Ethernet card (on a bus, `link/ether`, not wireless) must be called Ethernet.
        let info = detect();
        match ip_route_default() {
            Some((iface, gateway)) => {
                assert_eq!(info.interface.as_deref(), Some(iface.as_str()), "{info:?}");
                assert_eq!(info.gateway, gateway, "{info:?}");
                assert_ne!(info.kind, LinkKind::Unknown, "{info:?}");
                let link = std::process::Command::new("ip")
                    .args(["-o", "-d", "link", "show", "dev", &iface])
                    .output()
                    .unwrap();
                let link = String::from_utf8(link.stdout).unwrap();
                let wireless = std::path::Path::new("/sys/class/net")
                    .join(&iface)
                    .join("wireless")
                    .exists();
                if link.contains("link/ether") && link.contains("parentbus") && !wireless {
                    assert_eq!(info.kind, LinkKind::Ethernet, "{link}");
                }
            }
            None => assert_eq!(info, LinkInfo::unknown()),
        }
    }
}
