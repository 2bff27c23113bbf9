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
//!                              bit 1 TOKEN: bytes 48..76 carry a probe token (below)
//!      7    1 reserved         0
//!      8    4 session          random per probe run; the reflector counts per (source, session)
//!     12    4 sequence         0, 1, 2, … within the session
//!     16    8 sender_ts_ns     the agent's send time, ns on its own monotonic clock
//!     24    8 reflector_rx_ns  reply only (zero in a request): reflector's receive time
//!     32    8 reflector_tx_ns  reply only: reflector's send time (same clock as rx)
//!     40    4 reflector_count  reply only: counted requests received from this (source,
//!                              session) so far, including this one (FLUSH ones excluded)
//!     44    4 reserved         0
//!     48   28 token            only with the TOKEN flag: the probe token HQ gave this
//!                              device in its policy ([`Token`]); echoed back in the reply
//!      …    …  padding          any bytes; a request is padded to look like voice (~200 B)
//! ```
//!
//! The token came after version 1 was in use, as a flag, so both old forms keep working: a
//! reflector that does not know the flag answers a request with a token like any other (it
//! never reads the padding), and a request without the flag (an agent without a policy or
//! from an older release) is answered by a new reflector from a small budget of its own.
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
/// Flag: bytes [`TOKEN_AT`]`..+`[`TOKEN_LEN`] carry a [`Token`].
pub const FLAG_TOKEN: u8 = 0x02;
/// The header's length; the shortest packet either side accepts.
pub const MIN_PACKET: usize = 48;
/// Where a request carries its token (right after the header).
pub const TOKEN_AT: usize = MIN_PACKET;
/// A probe token's length on the wire: subject (8), expiry (4), MAC (16).
pub const TOKEN_LEN: usize = 28;
/// The longest packet either side accepts (fits a 1500-byte MTU with IPv6 + UDP headers).
pub const MAX_PACKET: usize = 1400;
/// The probe's UDP payload size: about one 20 ms G.711 voice packet (160 B audio + RTP and
/// SRTP overhead).
pub const VOICE_PAYLOAD: usize = 200;
/// The UDP port the reflector listens on when nothing else is configured (chosen by us; not
/// an IANA assignment). The agent uses it with HQ's host when `hq.reflector` is empty.
pub const DEFAULT_PORT: u16 = 8637;

/// A probe token: HQ's proof that a device is enrolled, carried in its probe packets so the
/// reflector serves its sessions first. HQ makes it (an HMAC under a key only HQ and its
/// reflector hold, see `shiftready_hq::reflector::TokenKey`); here it is only bytes:
///
/// ```text
/// offset size
///      0    8 subject   who it was given to (HQ derives it from the device id)
///      8    4 expires   Unix seconds, big-endian; not valid from then on
///     12   16 mac       HMAC-SHA256(key, "shiftready probe token v1" | subject | expires),
///                       first 16 bytes
/// ```
///
/// In JSON (the policy answer's `probe_token`) it is 56 lowercase hex digits. Its `Debug`
/// shows the subject and expiry, never the MAC.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub [u8; TOKEN_LEN]);

impl Token {
    /// From its parts (as HQ makes it).
    pub fn from_parts(subject: [u8; 8], expires: u32, mac: [u8; 16]) -> Token {
        let mut b = [0u8; TOKEN_LEN];
        b[..8].copy_from_slice(&subject);
        b[8..12].copy_from_slice(&expires.to_be_bytes());
        b[12..].copy_from_slice(&mac);
        Token(b)
    }

    /// Who it was given to.
    pub fn subject(&self) -> [u8; 8] {
        let mut s = [0u8; 8];
        s.copy_from_slice(&self.0[..8]);
        s
    }

    /// Unix seconds from which it is no longer valid.
    pub fn expires(&self) -> u32 {
        u32_at(&self.0, 8)
    }

    /// The bytes the MAC covers (subject and expiry).
    pub fn signed_part(&self) -> &[u8] {
        &self.0[..12]
    }

    /// The MAC as carried.
    pub fn mac(&self) -> &[u8] {
        &self.0[12..]
    }

    /// 56 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write;
        self.0
            .iter()
            .fold(String::with_capacity(2 * TOKEN_LEN), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    /// Parses [`Token::to_hex`]'s form.
    pub fn from_hex(s: &str) -> Result<Token, String> {
        let s = s.trim();
        if s.len() != 2 * TOKEN_LEN || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "a probe token is {} hex digits (this is {} characters)",
                2 * TOKEN_LEN,
                s.len()
            ));
        }
        let mut b = [0u8; TOKEN_LEN];
        for (i, out) in b.iter_mut().enumerate() {
            *out = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Token(b))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subject: String = self.subject().iter().map(|b| format!("{b:02x}")).collect();
        f.debug_struct("Token")
            .field("subject", &subject)
            .field("expires", &self.expires())
            .finish_non_exhaustive()
    }
}

impl serde::Serialize for Token {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        let s = String::deserialize(d)?;
        Token::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

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
        self.encode_with(buf, None);
    }

    /// [`Request::encode`] carrying `token` (with the TOKEN flag) when given.
    ///
    /// # Panics
    /// As [`Request::encode`], and if a token is given and `buf` is shorter than
    /// `TOKEN_AT + TOKEN_LEN`.
    pub fn encode_with(&self, buf: &mut [u8], token: Option<&Token>) {
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
        if let Some(t) = token {
            buf[6] |= FLAG_TOKEN;
            buf[TOKEN_AT..TOKEN_AT + TOKEN_LEN].copy_from_slice(&t.0);
        }
    }

    /// The token a request carries: `None` without the TOKEN flag or when the packet is too
    /// short to hold one (such a request is served as one without a token). Call on a
    /// packet [`Request::decode`] accepted.
    pub fn token(buf: &[u8]) -> Option<Token> {
        if buf.len() < TOKEN_AT + TOKEN_LEN || buf[6] & FLAG_TOKEN == 0 {
            return None;
        }
        let mut t = [0u8; TOKEN_LEN];
        t.copy_from_slice(&buf[TOKEN_AT..TOKEN_AT + TOKEN_LEN]);
        Some(Token(t))
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

    fn token() -> Token {
        Token::from_parts(*b"subject!", 0x6000_0001, [0x5A; 16])
    }

    #[test]
    fn a_token_rides_after_the_header_and_old_requests_have_none() {
        let mut b = vec![0xAA; VOICE_PAYLOAD];
        let req = Request {
            session: 9,
            seq: 1,
            sender_ts_ns: 2,
            flush: true,
        };
        req.encode_with(&mut b, Some(&token()));
        assert_eq!(b[6], FLAG_FLUSH | FLAG_TOKEN);
        assert_eq!(&b[48..56], b"subject!");
        assert_eq!(&b[56..60], &[0x60, 0, 0, 1]);
        assert!(b[60..76].iter().all(|&x| x == 0x5A));
        assert!(
            b[76..].iter().all(|&x| x == 0),
            "padding after the token zeroed"
        );
        // Still a version-1 request to anyone (an older reflector answers it).
        assert_eq!(b[4], 1);
        assert_eq!(Request::decode(&b).unwrap(), req);
        assert_eq!(Request::token(&b), Some(token()));
        // The reply echoes it, and the flush flag is still read right.
        make_reply(&mut b, 1, 1);
        assert!(Reply::decode(&b).unwrap().flush);
        // Without a token: no flag, nothing read even if the padding happens to hold bytes.
        let mut old = request(VOICE_PAYLOAD);
        assert_eq!(Request::token(&old), None);
        old[48..76].copy_from_slice(&token().0);
        assert_eq!(Request::token(&old), None);
        // The flag on a packet too short for a token: no token.
        let mut short = vec![0u8; 60];
        req.encode(&mut short);
        short[6] |= FLAG_TOKEN;
        assert_eq!(Request::token(&short), None);
    }

    #[test]
    fn a_token_reads_back_from_hex_and_debug_hides_the_mac() {
        let t = token();
        assert_eq!((t.subject(), t.expires()), (*b"subject!", 0x6000_0001));
        let hex = t.to_hex();
        assert_eq!(hex.len(), 56);
        assert!(hex.starts_with("7375626a6563742160000001"), "{hex}");
        assert_eq!(Token::from_hex(&hex), Ok(t));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<Token>(&json).unwrap(), t);
        assert!(
            Token::from_hex("abc")
                .unwrap_err()
                .contains("56 hex digits")
        );
        assert!(Token::from_hex(&"zz".repeat(28)).is_err());
        assert!(serde_json::from_str::<Token>("\"12\"").is_err());
        let dbg = format!("{t:?}");
        assert!(
            dbg.contains("7375626a65637421") && dbg.contains("1610612737"),
            "{dbg}"
        );
        assert!(!dbg.contains("5a5a") && !dbg.contains("90, 90"), "{dbg}");
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
