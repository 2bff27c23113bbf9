//! No ICMP here: the gateway probe is unavailable.

use super::GatewayStats;
use std::net::Ipv4Addr;
use std::time::Duration;

/// No ICMP here: unavailable.
pub async fn ping(
    _addr: Ipv4Addr,
    _duration: Duration,
    _interval: Duration,
) -> Result<GatewayStats, String> {
    Err("the gateway probe is not available on this OS yet".into())
}
