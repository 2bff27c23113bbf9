//! Windows: the default route from the IP Helper's routing table (`GetIpForwardTable2`), the
//! winner being the lowest route metric plus interface metric (as Windows itself picks; the
//! interface metrics from `GetAdaptersAddresses`, which Wine implements too), its
//! adapter from `GetIfEntry2` (IfType 71 is Wi-Fi, 6 Ethernet, unless the physical medium says
//! 802.11), and for Wi-Fi the signal from the WLAN API (`WlanQueryInterface`: the RSSI in dBm,
//! else the 0-100 signal quality converted to dBm). wlanapi.dll is loaded when needed, not
//! linked, because Windows Server installs it only with the Wireless LAN Service.
#![allow(unsafe_code)]

use super::*;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use windows_sys::Win32::Foundation::{ERROR_BUFFER_OVERFLOW, FreeLibrary, HANDLE, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    FreeMibTable, GAA_FLAG_SKIP_ANYCAST, GAA_FLAG_SKIP_DNS_SERVER, GAA_FLAG_SKIP_MULTICAST,
    GAA_FLAG_SKIP_UNICAST, GetAdaptersAddresses, GetIfEntry2, GetIpForwardTable2,
    IF_TYPE_ETHERNET_CSMACD, IF_TYPE_IEEE80211, IP_ADAPTER_ADDRESSES_LH, MIB_IF_ROW2,
    MIB_IPFORWARD_TABLE2,
};
use windows_sys::Win32::NetworkManagement::Ndis::{
    NdisPhysicalMediumNative802_11, NdisPhysicalMediumWirelessLan,
};
use windows_sys::Win32::NetworkManagement::WiFi::{
    WLAN_CONNECTION_ATTRIBUTES, wlan_intf_opcode_current_connection, wlan_intf_opcode_rssi,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6, AF_UNSPEC};
use windows_sys::Win32::System::LibraryLoader::{
    GetProcAddress, LOAD_LIBRARY_SEARCH_SYSTEM32, LoadLibraryExW,
};
use windows_sys::core::GUID;

/// A default route (0.0.0.0/0 or ::/0) as the table has it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct DefaultRoute {
    pub if_index: u32,
    pub gateway: Option<IpAddr>,
    /// Route metric plus the interface's metric.
    pub metric: u64,
}

/// The route Windows uses: IPv4 before IPv6 (the gateway probe is IPv4), then the lowest
/// metric, then the lowest interface index (a stable tie-break).
pub(super) fn pick(routes: &[DefaultRoute]) -> Option<DefaultRoute> {
    routes
        .iter()
        .min_by_key(|r| {
            (
                !matches!(r.gateway, Some(IpAddr::V4(_))),
                r.metric,
                r.if_index,
            )
        })
        .copied()
}

/// The link kind from `MIB_IF_ROW2`'s `Type` (IANA ifType) and `PhysicalMediumType`.
pub(super) fn classify(if_type: u32, physical_medium: i32) -> LinkKind {
    let wireless_medium = physical_medium == NdisPhysicalMediumNative802_11
        || physical_medium == NdisPhysicalMediumWirelessLan;
    match if_type {
        IF_TYPE_IEEE80211 => LinkKind::Wifi,
        // Some Wi-Fi drivers present themselves as Ethernet; their medium tells.
        IF_TYPE_ETHERNET_CSMACD if wireless_medium => LinkKind::Wifi,
        IF_TYPE_ETHERNET_CSMACD => LinkKind::Ethernet,
        // Tunnels (131), PPP (23), mobile broadband (243, 244), loopback (24), virtual (53)...
        _ => LinkKind::Other,
    }
}

/// WLAN signal quality (0-100) to dBm: the WLAN API defines 0 as -100 dBm and 100 as -50 dBm,
/// linear between.
pub(super) fn quality_to_dbm(quality: u32) -> f64 {
    -100.0 + f64::from(quality.min(100)) / 2.0
}

/// The default routes of the routing table (both families).
fn default_routes() -> Vec<DefaultRoute> {
    let mut table: *mut MIB_IPFORWARD_TABLE2 = std::ptr::null_mut();
    // SAFETY: `table` is a valid out-pointer; the table is freed with FreeMibTable below.
    if unsafe { GetIpForwardTable2(AF_UNSPEC, &mut table) } != NO_ERROR || table.is_null() {
        return Vec::new();
    }
    // SAFETY: the call succeeded: `table` holds NumEntries rows laid out after the count.
    let rows = unsafe {
        std::slice::from_raw_parts((*table).Table.as_ptr(), (*table).NumEntries as usize)
    };
    let metrics = interface_metrics();
    let mut out = Vec::new();
    for row in rows {
        if row.DestinationPrefix.PrefixLength != 0 || row.Loopback {
            continue;
        }
        // SAFETY: `si_family` is the tag every member of SOCKADDR_INET starts with.
        let family = unsafe { row.NextHop.si_family };
        let gateway = match family {
            // SAFETY: the family says which member is valid.
            AF_INET => Some(IpAddr::V4(Ipv4Addr::from(
                unsafe { row.NextHop.Ipv4.sin_addr.S_un.S_addr }.to_ne_bytes(),
            ))),
            // SAFETY: as above.
            AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(unsafe {
                row.NextHop.Ipv6.sin6_addr.u.Byte
            }))),
            _ => None,
        }
        .filter(|g| !g.is_unspecified());
        let if_metric = metrics
            .get(&row.InterfaceIndex)
            .map(|&(v4, v6)| if family == AF_INET6 { v6 } else { v4 })
            .unwrap_or(0);
        out.push(DefaultRoute {
            if_index: row.InterfaceIndex,
            gateway,
            metric: u64::from(row.Metric) + u64::from(if_metric),
        });
    }
    // SAFETY: allocated by GetIpForwardTable2, freed once; `rows` is not used after this.
    unsafe { FreeMibTable(table.cast()) };
    out
}

/// Each interface's own metrics, IPv4 and IPv6, by interface index.
fn interface_metrics() -> HashMap<u32, (u32, u32)> {
    let flags = GAA_FLAG_SKIP_UNICAST
        | GAA_FLAG_SKIP_ANYCAST
        | GAA_FLAG_SKIP_MULTICAST
        | GAA_FLAG_SKIP_DNS_SERVER;
    // u64s keep the list aligned for IP_ADAPTER_ADDRESSES; 16 KB fits most machines, and the
    // call says how much it needs when not.
    let mut buf = vec![0u64; 2048];
    let mut rc = ERROR_BUFFER_OVERFLOW;
    for _ in 0..3 {
        let mut size = (buf.len() * 8) as u32;
        // SAFETY: `buf` is writable for `size` bytes and aligned for the list.
        rc = unsafe {
            GetAdaptersAddresses(
                u32::from(AF_UNSPEC),
                flags,
                std::ptr::null(),
                buf.as_mut_ptr().cast(),
                &mut size,
            )
        };
        if rc != ERROR_BUFFER_OVERFLOW {
            break;
        }
        buf = vec![0u64; (size as usize).div_ceil(8)];
    }
    let mut out = HashMap::new();
    if rc != NO_ERROR {
        return out;
    }
    let mut p = buf.as_ptr().cast::<IP_ADAPTER_ADDRESSES_LH>();
    while !p.is_null() {
        // SAFETY: the call succeeded: `p` walks its linked list, every node inside `buf`.
        let a = unsafe { &*p };
        // SAFETY: IfIndex is the documented member of this union's struct view.
        let idx = unsafe { a.Anonymous1.Anonymous.IfIndex };
        out.insert(idx, (a.Ipv4Metric, a.Ipv6Metric));
        if a.Ipv6IfIndex != 0 && a.Ipv6IfIndex != idx {
            out.entry(a.Ipv6IfIndex)
                .or_insert((a.Ipv4Metric, a.Ipv6Metric));
        }
        p = a.Next;
    }
    out
}

/// The adapter behind `if_index`.
fn adapter(if_index: u32) -> Option<MIB_IF_ROW2> {
    let mut row = MIB_IF_ROW2 {
        InterfaceIndex: if_index,
        ..Default::default()
    };
    // SAFETY: `row` carries the index GetIfEntry2 looks up and is writable.
    (unsafe { GetIfEntry2(&mut row) } == NO_ERROR).then_some(row)
}

type WlanOpenHandle = unsafe extern "system" fn(u32, *const c_void, *mut u32, *mut HANDLE) -> u32;
type WlanCloseHandle = unsafe extern "system" fn(HANDLE, *const c_void) -> u32;
type WlanQueryInterface = unsafe extern "system" fn(
    HANDLE,
    *const GUID,
    i32,
    *const c_void,
    *mut u32,
    *mut *mut c_void,
    *mut i32,
) -> u32;
type WlanFreeMemory = unsafe extern "system" fn(*const c_void);
/// What GetProcAddress returns, unwrapped.
type Farproc = unsafe extern "system" fn() -> isize;
use std::ffi::c_void;

/// The Wi-Fi signal of the adapter `guid` in dBm, from the WLAN API, if it is connected and
/// the API is there.
fn wifi_signal_dbm(guid: &GUID) -> Option<f64> {
    let name = crate::platform::windows::wide("wlanapi.dll");
    // SAFETY: a NUL-terminated name; the module is freed below.
    let lib = unsafe {
        LoadLibraryExW(
            name.as_ptr(),
            std::ptr::null_mut(),
            LOAD_LIBRARY_SEARCH_SYSTEM32,
        )
    };
    if lib.is_null() {
        return None;
    }
    // SAFETY: each symbol is looked up by its documented name and cast to its documented
    // signature (wlanapi.h); all four are used only while `lib` is loaded.
    let r = unsafe {
        let f = |n: &[u8]| GetProcAddress(lib, n.as_ptr());
        match (
            f(b"WlanOpenHandle\0"),
            f(b"WlanCloseHandle\0"),
            f(b"WlanQueryInterface\0"),
            f(b"WlanFreeMemory\0"),
        ) {
            (Some(open), Some(close), Some(query), Some(free)) => query_signal(
                std::mem::transmute::<Farproc, WlanOpenHandle>(open),
                std::mem::transmute::<Farproc, WlanCloseHandle>(close),
                std::mem::transmute::<Farproc, WlanQueryInterface>(query),
                std::mem::transmute::<Farproc, WlanFreeMemory>(free),
                guid,
            ),
            _ => None,
        }
    };
    // SAFETY: loaded above, freed once, after the last call into it.
    unsafe { FreeLibrary(lib) };
    r
}

/// # Safety
/// The functions must be wlanapi.dll's, loaded for the whole call.
unsafe fn query_signal(
    open: WlanOpenHandle,
    close: WlanCloseHandle,
    query: WlanQueryInterface,
    free: WlanFreeMemory,
    guid: &GUID,
) -> Option<f64> {
    let mut version = 0u32;
    let mut h: HANDLE = std::ptr::null_mut();
    // SAFETY: client version 2 (Vista and later); out-pointers valid.
    if unsafe { open(2, std::ptr::null(), &mut version, &mut h) } != NO_ERROR {
        return None;
    }
    let ask = |opcode: i32| -> Option<(*mut c_void, u32)> {
        let mut size = 0u32;
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: `h` is open; out-pointers valid; `data` is freed by the caller.
        let rc = unsafe {
            query(
                h,
                guid,
                opcode,
                std::ptr::null(),
                &mut size,
                &mut data,
                std::ptr::null_mut(),
            )
        };
        (rc == NO_ERROR && !data.is_null()).then_some((data, size))
    };
    let mut dbm = None;
    if let Some((data, size)) = ask(wlan_intf_opcode_rssi) {
        if size as usize >= std::mem::size_of::<i32>() {
            // SAFETY: the API returned at least an i32 (the RSSI in dBm) at `data`.
            let rssi = unsafe { data.cast::<i32>().read_unaligned() };
            if (-120..0).contains(&rssi) {
                dbm = Some(f64::from(rssi));
            }
        }
        // SAFETY: allocated by the WLAN API, freed once.
        unsafe { free(data) };
    }
    if dbm.is_none() {
        if let Some((data, size)) = ask(wlan_intf_opcode_current_connection) {
            if size as usize >= std::mem::size_of::<WLAN_CONNECTION_ATTRIBUTES>() {
                // SAFETY: the API returned a WLAN_CONNECTION_ATTRIBUTES at `data`.
                let q = unsafe {
                    data.cast::<WLAN_CONNECTION_ATTRIBUTES>()
                        .read_unaligned()
                        .wlanAssociationAttributes
                        .wlanSignalQuality
                };
                dbm = Some(quality_to_dbm(q));
            }
            // SAFETY: as above.
            unsafe { free(data) };
        }
    }
    // SAFETY: opened above, closed once.
    unsafe { close(h, std::ptr::null()) };
    dbm
}

pub fn detect() -> LinkInfo {
    let Some(route) = pick(&default_routes()) else {
        return LinkInfo::unknown();
    };
    let Some(row) = adapter(route.if_index) else {
        return LinkInfo {
            kind: LinkKind::Unknown,
            interface: None,
            gateway: route.gateway,
            wifi_signal_dbm: None,
        };
    };
    let kind = classify(row.Type, row.PhysicalMediumType);
    let alias = crate::platform::windows::from_wide(&row.Alias);
    LinkInfo {
        kind,
        interface: Some(if alias.is_empty() {
            format!("interface {}", route.if_index)
        } else {
            alias
        }),
        gateway: route.gateway,
        wifi_signal_dbm: if kind == LinkKind::Wifi {
            wifi_signal_dbm(&row.InterfaceGuid)
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(if_index: u32, gw: &str, metric: u64) -> DefaultRoute {
        DefaultRoute {
            if_index,
            gateway: Some(gw.parse().unwrap()),
            metric,
        }
    }

    /// A laptop docked on Ethernet (route 0 + interface 25) with Wi-Fi up too (0 + 35), as
    /// `route print` shows such a machine: Ethernet wins; an IPv6 default never beats IPv4.
    #[test]
    fn lowest_total_metric_wins_and_ipv4_first() {
        let wifi = r(12, "192.168.1.1", 35);
        let eth = r(7, "10.0.0.1", 25);
        let v6 = r(7, "fe80::1", 1);
        assert_eq!(pick(&[wifi, eth, v6]), Some(eth));
        assert_eq!(pick(&[v6]), Some(v6));
        assert_eq!(pick(&[]), None);
        // Equal metrics: the lower index, whatever the order.
        assert_eq!(
            pick(&[r(9, "10.0.0.1", 5), r(3, "10.0.0.2", 5)])
                .unwrap()
                .if_index,
            3
        );
    }

    /// IANA ifType values (RFC 1213 / IANAifType-MIB): 6 ethernetCsmacd, 71 ieee80211,
    /// 131 tunnel, 243 wwanPP; NDIS_PHYSICAL_MEDIUM 9 is Native 802.11.
    #[test]
    fn adapter_kinds() {
        assert_eq!(classify(6, 0), LinkKind::Ethernet);
        assert_eq!(classify(6, 14), LinkKind::Ethernet); // NdisPhysicalMedium802_3
        assert_eq!(classify(71, 9), LinkKind::Wifi);
        assert_eq!(classify(6, 9), LinkKind::Wifi);
        assert_eq!(classify(131, 0), LinkKind::Other);
        assert_eq!(classify(243, 0), LinkKind::Other);
    }

    /// WLAN_ASSOCIATION_ATTRIBUTES.wlanSignalQuality: "0 indicates -100 dBm, 100 indicates
    /// -50 dBm" (wlantypes.h docs), linear between.
    #[test]
    fn signal_quality_in_dbm() {
        assert_eq!(quality_to_dbm(0), -100.0);
        assert_eq!(quality_to_dbm(100), -50.0);
        assert_eq!(quality_to_dbm(70), -65.0);
        assert_eq!(quality_to_dbm(250), -50.0);
    }

    /// This machine's (or Wine's) routing table: when it has a default route, detect() names
    /// its adapter and a kind, and the gateway is the table's.
    #[test]
    fn detect_reads_this_machine() {
        let routes = default_routes();
        let info = detect();
        eprintln!("default routes {routes:?}; link {info:?}");
        match pick(&routes) {
            None => assert_eq!(info, LinkInfo::unknown()),
            Some(best) => {
                assert_eq!(info.gateway, best.gateway);
                assert!(info.interface.is_some(), "{info:?}");
                assert_ne!(info.kind, LinkKind::Unknown, "{info:?}");
                if info.kind != LinkKind::Wifi {
                    assert_eq!(info.wifi_signal_dbm, None);
                }
            }
        }
    }
}
