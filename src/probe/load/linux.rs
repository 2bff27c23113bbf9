//! Linux: `TCP_NOTSENT_LOWAT` keeps at most [`LOWAT`] unsent bytes in an upload's socket, so
//! the load sits in the network's queues (which is what is measured), not in this computer's.

use tokio::net::TcpStream;

/// Unsent bytes a load connection may hold in its socket.
pub const LOWAT: u32 = 32 * 1024;

/// Limits the unsent bytes of `s` (best effort: without it the upload only drains longer).
pub fn limit_unsent(s: &TcpStream) {
    if let Err(e) = socket2::SockRef::from(s).set_tcp_notsent_lowat(LOWAT) {
        tracing::debug!("TCP_NOTSENT_LOWAT not set: {e}");
    }
}
