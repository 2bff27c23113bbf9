//! The voice-probe packet format shared by the agent's probe and HQ's UDP reflector.
//!
//! TWAMP-light in spirit, but our own small versioned format. All integers are big-endian.
//!
//! ```text
//! offset size field
//!      0    4 magic            "SRPB"
//!      4    1 version          1
//!      5    1 kind             1 = request (agent → reflector), 2 = reply
//!      6    1 flags            bit 0 FLUSH: not counted by the reflector (end-of-run probes)
//!      7    1 reserved         0
//!      8    4 session          random per probe run; the reflector counts per (source, session)
//!     12    4 sequence         0, 1, 2, … within the session
//!     16    8 sender_ts_ns     the agent's send time, ns on its own monotonic clock
//!     24    8 reflector_rx_ns  reply only (zero in a request): reflector's receive time
//!     32    8 reflector_tx_ns  reply only: reflector's send time (same clock as rx)
//!     40    4 reflector_count  reply only: counted requests received from this (source,
//!                              session) so far, including this one (FLUSH ones excluded)
//!     44    4 reserved         0
//!     48    …  padding          any bytes; a request is padded to look like voice (~200 B)
//! ```
//!
//! A request is at least [`MIN_PACKET`] bytes so that the reply fits in the same length: the
//! reflector rewrites bytes 5 and 24..48 in place and sends back exactly as many bytes as it
//! received, never more (no amplification). Anything shorter than [`MIN_PACKET`], longer than
//! [`MAX_PACKET`], with another magic, another version or the reply kind is not answered.
//!
//! The two clocks are never compared with each other: per-direction jitter uses only
//! differences of stamps taken on the same side, so clock offsets cancel.

/// The first four bytes of every probe packet.
pub const MAGIC: [u8; 4] = *b"SRPB";
/// The format version this code speaks.
pub const VERSION: u8 = 1;
/// `kind` of a packet sent by the agent.
pub const KIND_REQUEST: u8 = 1;
/// `kind` of a packet sent back by the reflector.
pub const KIND_REPLY: u8 = 2;
/// Flag: the reflector answers but does not count this request (end-of-run count queries).
pub const FLAG_FLUSH: u8 = 0x01;
/// The header's length; the shortest packet either side accepts.
pub const MIN_PACKET: usize = 48;
/// The longest packet either side accepts (fits a 1500-byte MTU with IPv6 + UDP headers).
pub const MAX_PACKET: usize = 1400;
/// The probe's UDP payload size: about one 20 ms G.711 voice packet (160 B audio + RTP and
/// SRTP overhead).
pub const VOICE_PAYLOAD: usize = 200;
/// The UDP port the reflector listens on when nothing else is configured (chosen by us; not
/// an IANA assignment). The agent uses it with HQ's host when `hq.reflector` is empty.
pub const DEFAULT_PORT: u16 = 8637;

/// Why a packet was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// Shorter than [`MIN_PACKET`].
    TooShort,
    /// Longer than [`MAX_PACKET`].
    TooLong,
    /// Not our magic: someone else's traffic.
    Foreign,
    /// Our magic, another version.
    BadVersion(u8),
    /// A kind we do not expect here (a reply sent to the reflector, or vice versa).
    WrongKind(u8),
}

impl std::fmt::Display for PacketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PacketError::TooShort => write!(f, "shorter than {MIN_PACKET} bytes"),
            PacketError::TooLong => write!(f, "longer than {MAX_PACKET} bytes"),
            PacketError::Foreign => f.write_str("not a ShiftReady probe packet"),
            PacketError::BadVersion(v) => write!(f, "probe format version {v}, not {VERSION}"),
            PacketError::WrongKind(k) => write!(f, "unexpected packet kind {k}"),
        }
    }
}

impl std::error::Error for PacketError {}

/// A request as the agent sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub session: u32,
    pub seq: u32,
    pub sender_ts_ns: u64,
    /// An end-of-run request that the reflector does not count.
    pub flush: bool,
}

/// A reply as the reflector sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub session: u32,
    pub seq: u32,
    pub sender_ts_ns: u64,
    pub flush: bool,
    pub reflector_rx_ns: u64,
    pub reflector_tx_ns: u64,
    pub reflector_count: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn check(buf: &[u8], kind: u8) -> Result<(), PacketError> {
    if buf.len() >= 4 && buf[..4] != MAGIC {
        return Err(PacketError::Foreign);
    }
    if buf.len() < MIN_PACKET {
        return Err(PacketError::TooShort);
    }
    if buf.len() > MAX_PACKET {
        return Err(PacketError::TooLong);
    }
    if buf[4] != VERSION {
        return Err(PacketError::BadVersion(buf[4]));
    }
    if buf[5] != kind {
        return Err(PacketError::WrongKind(buf[5]));
    }
    Ok(())
}

impl Request {
    /// Writes the request into `buf`, whose whole length is the packet (at least
    /// [`MIN_PACKET`], at most [`MAX_PACKET`]); the padding is zeroed.
    ///
    /// # Panics
    /// If `buf` is outside those lengths: the caller chooses the size.
    pub fn encode(&self, buf: &mut [u8]) {
        assert!(
            (MIN_PACKET..=MAX_PACKET).contains(&buf.len()),
            "probe packet size {} outside {MIN_PACKET}..={MAX_PACKET}",
            buf.len()
        );
        buf.fill(0);
        buf[..4].copy_from_slice(&MAGIC);
        buf[4] = VERSION;
        buf[5] = KIND_REQUEST;
        buf[6] = if self.flush { FLAG_FLUSH } else { 0 };
        buf[8..12].copy_from_slice(&self.session.to_be_bytes());
        buf[12..16].copy_from_slice(&self.seq.to_be_bytes());
        buf[16..24].copy_from_slice(&self.sender_ts_ns.to_be_bytes());
    }

    /// Parses a request (what the reflector does with every datagram).
    pub fn decode(buf: &[u8]) -> Result<Request, PacketError> {
        check(buf, KIND_REQUEST)?;
        Ok(Request {
            session: u32_at(buf, 8),
            seq: u32_at(buf, 12),
            sender_ts_ns: u64_at(buf, 16),
            flush: buf[6] & FLAG_FLUSH != 0,
        })
    }
}

/// Turns a valid request in `buf` into the reply in place: same length, so a reply is never
/// larger than its request. `reflector_tx_ns` is written separately, just before sending, by
/// [`stamp_tx`].
pub fn make_reply(buf: &mut [u8], reflector_rx_ns: u64, reflector_count: u32) {
    debug_assert!(buf.len() >= MIN_PACKET);
    buf[5] = KIND_REPLY;
    buf[24..32].copy_from_slice(&reflector_rx_ns.to_be_bytes());
    buf[32..40].fill(0);
    buf[40..44].copy_from_slice(&reflector_count.to_be_bytes());
    buf[44..48].fill(0);
}

/// Writes the reflector's send time into a reply made by [`make_reply`].
pub fn stamp_tx(buf: &mut [u8], reflector_tx_ns: u64) {
    buf[32..40].copy_from_slice(&reflector_tx_ns.to_be_bytes());
}

impl Reply {
    /// Parses a reply (what the agent does with every datagram it receives).
    pub fn decode(buf: &[u8]) -> Result<Reply, PacketError> {
        check(buf, KIND_REPLY)?;
        Ok(Reply {
            session: u32_at(buf, 8),
            seq: u32_at(buf, 12),
            sender_ts_ns: u64_at(buf, 16),
            flush: buf[6] & FLAG_FLUSH != 0,
            reflector_rx_ns: u64_at(buf, 24),
            reflector_tx_ns: u64_at(buf, 32),
            reflector_count: u32_at(buf, 40),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(len: usize) -> Vec<u8> {
        let mut b = vec![0xAA; len];
        Request {
            session: 0xDEAD_BEEF,
            seq: 7,
            sender_ts_ns: 123_456_789_012,
            flush: false,
        }
        .encode(&mut b);
        b
    }

    #[test]
    fn request_round_trips_and_layout_is_as_documented() {
        let b = request(VOICE_PAYLOAD);
        assert_eq!(&b[..8], b"SRPB\x01\x01\x00\x00");
        assert_eq!(&b[8..12], &[0xDE, 0xAD, 0xBE, 0xEF]);
        assert_eq!(&b[12..16], &[0, 0, 0, 7]);
        assert!(
            b[24..].iter().all(|&x| x == 0),
            "padding and reply fields zeroed"
        );
        let r = Request::decode(&b).unwrap();
        assert_eq!(
            (r.session, r.seq, r.sender_ts_ns, r.flush),
            (0xDEAD_BEEF, 7, 123_456_789_012, false)
        );
    }

    #[test]
    fn reply_is_made_in_place_with_the_same_length() {
        let mut b = request(VOICE_PAYLOAD);
        make_reply(&mut b, 1_000, 42);
        stamp_tx(&mut b, 1_500);
        assert_eq!(b.len(), VOICE_PAYLOAD);
        let r = Reply::decode(&b).unwrap();
        assert_eq!(r.seq, 7);
        assert_eq!(r.sender_ts_ns, 123_456_789_012);
        assert_eq!(
            (r.reflector_rx_ns, r.reflector_tx_ns, r.reflector_count),
            (1_000, 1_500, 42)
        );
        // A reply is not a request: the reflector must never answer it (no ping-pong).
        assert_eq!(Request::decode(&b), Err(PacketError::WrongKind(KIND_REPLY)));
    }

    #[test]
    fn bad_packets_are_rejected_with_the_reason() {
        assert_eq!(Request::decode(b"hello"), Err(PacketError::Foreign));
        assert_eq!(Request::decode(&[]), Err(PacketError::TooShort));
        let b = request(MIN_PACKET);
        assert_eq!(
            Request::decode(&b[..MIN_PACKET - 1]),
            Err(PacketError::TooShort)
        );
        let mut long = request(MAX_PACKET);
        long.push(0);
        assert_eq!(Request::decode(&long), Err(PacketError::TooLong));
        let mut v2 = request(64);
        v2[4] = 2;
        assert_eq!(Request::decode(&v2), Err(PacketError::BadVersion(2)));
        assert!(Request::decode(&request(MIN_PACKET)).is_ok());
        assert!(Request::decode(&request(MAX_PACKET)).is_ok());
    }

    #[test]
    fn flush_flag_round_trips() {
        let mut b = vec![0; 64];
        Request {
            session: 1,
            seq: 2,
            sender_ts_ns: 3,
            flush: true,
        }
        .encode(&mut b);
        assert!(Request::decode(&b).unwrap().flush);
        make_reply(&mut b, 0, 0);
        assert!(Reply::decode(&b).unwrap().flush);
    }
}
