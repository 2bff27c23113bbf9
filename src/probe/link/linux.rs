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

/// Netlink route messages about links, IPv4 addresses and IPv4 routes (rtnetlink(7):
/// `RTMGRP_LINK`, `RTMGRP_IPV4_IFADDR`, `RTMGRP_IPV4_ROUTE`), read only as "something changed".
const GROUPS: u32 = 0x1 | 0x10 | 0x40;

/// A netlink socket subscribed to [`GROUPS`]: the link is read again when the kernel says
/// something changed instead of every second.
pub struct Watch {
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

impl Watch {
    pub fn start() -> std::io::Result<Watch> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType, netlink};
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None, // NETLINK_ROUTE
        )?;
        rustix::net::bind(&fd, &netlink::SocketAddrNetlink::new(0, GROUPS))?;
        // `AsyncFd::new` is deprecated because an arbitrary `AsRawFd` may hand out another fd
        // later; an `OwnedFd` is one descriptor for its whole life (see `daemon::devwatch`).
        #[allow(deprecated)]
        let fd = tokio::io::unix::AsyncFd::new(fd)?;
        Ok(Watch { fd })
    }

    /// Waits until the kernel tells of a change, then takes every message waiting (a burst
    /// is one change). A full socket buffer (`ENOBUFS`: changes were dropped) is a change too.
    pub async fn changed(&mut self) -> std::io::Result<()> {
        let mut buf = [0u8; 8192];
        loop {
            let mut guard = self.fd.readable().await?;
            let mut any = false;
            loop {
                match rustix::net::recv(
                    guard.get_inner(),
                    &mut buf[..],
                    rustix::net::RecvFlags::DONTWAIT,
                ) {
                    Ok(_) => any = true,
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(rustix::io::Errno::NOBUFS) => any = true,
                    Err(e) => return Err(e.into()),
                }
            }
            guard.clear_ready();
            if any {
                return Ok(());
            }
        }
    }
}
