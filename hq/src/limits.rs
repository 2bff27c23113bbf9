//! Limits shared by the request extractors and the handlers, and HQ's guards against abuse:
//! the login throttles, the HTTP timeouts and connection cap, and which client address a
//! request comes from when HQ sits behind a proxy it trusts.

use crate::throttle::Throttle;
use axum::http::HeaderMap;
use std::net::IpAddr;
use std::time::Duration;

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Failed-or-not sign-in attempts allowed per minute, per client address and per user name
/// (the default of `serve --login-per-minute`).
pub const DEFAULT_LOGIN_PER_MINUTE: u32 = 10;

/// The sign-in throttles: one bucket per client address and one per user name.
#[derive(Debug)]
pub struct LoginGuard {
    pub per_addr: Throttle,
    pub per_user: Throttle,
}

impl LoginGuard {
    pub fn new(per_minute: u32) -> LoginGuard {
        LoginGuard {
            per_addr: Throttle::new(per_minute, crate::throttle::MAX_KEYS),
            per_user: Throttle::new(per_minute, crate::throttle::MAX_KEYS),
        }
    }

    /// Takes one attempt for this address and user; `Err(wait)` when either is held back (and
    /// then nothing is taken from the other).
    pub fn attempt(&self, addr: &str, user: &str) -> Result<(), Duration> {
        let user = user_key(user);
        if let Some(w) = self.per_user.wait(&user) {
            return Err(w);
        }
        self.per_addr.take(addr)?;
        self.per_user.take(&user)
    }

    /// A user signed in: their earlier typos no longer hold them back.
    pub fn signed_in(&self, user: &str) {
        self.per_user.forget(&user_key(user));
    }
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard::new(DEFAULT_LOGIN_PER_MINUTE)
    }
}

fn user_key(user: &str) -> String {
    user.trim().to_lowercase()
}

/// How long a client may take over a request, and how many connections HQ holds.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// From connecting (or the end of the last answer) to the end of the request's headers.
    pub header_timeout: Duration,
    /// For the whole request once its headers are in: reading the body and answering.
    pub request_timeout: Duration,
    /// Open connections at most; further ones are closed at once until some end.
    pub max_connections: usize,
    /// Proxies whose `X-Forwarded-For` is believed (see [`client_ip`]); none by default.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `serve`'s flags for the limits above.
#[derive(Debug, Clone, clap::Args)]
pub struct GuardArgs {
    /// Sign-in attempts allowed per minute per client address, and per user name (further
    /// attempts are answered 429 with Retry-After).
    #[arg(long, default_value_t = DEFAULT_LOGIN_PER_MINUTE, value_name = "N")]
    pub login_per_minute: u32,
    /// Seconds a client has to send a request's headers (from connecting, or from the previous
    /// answer on a kept-alive connection); a slower connection is closed.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub header_timeout_seconds: f64,
    /// Seconds a request may take once its headers are in (reading the body and answering);
    /// a slower one is answered 408 and its connection closed. A body that stops arriving for
    /// --header-timeout-seconds fails sooner.
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub request_timeout_seconds: f64,
    /// Open HTTP connections at most; connections past it are closed at once.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// A reverse proxy in front of HQ whose X-Forwarded-For is believed for the per-address
    /// limits (repeat for several). Without it the header is ignored.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<IpAddr>,
}

impl GuardArgs {
    /// The HTTP limits, or a usage error naming the flag.
    pub fn http(&self) -> Result<HttpLimits, String> {
        let secs = |flag: &str, v: f64| {
            if (0.1..=3600.0).contains(&v) {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!("{flag} must be between 0.1 and 3600"))
            }
        };
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err("--max-connections must be between 1 and 1000000".into());
        }
        if self.login_per_minute == 0 || self.login_per_minute > 100_000 {
            return Err("--login-per-minute must be between 1 and 100000".into());
        }
        Ok(HttpLimits {
            header_timeout: secs("--header-timeout-seconds", self.header_timeout_seconds)?,
            request_timeout: secs("--request-timeout-seconds", self.request_timeout_seconds)?,
            max_connections: self.max_connections,
            trusted_proxies: self
                .trusted_proxies
                .iter()
                .map(|ip| canonical(*ip))
                .collect(),
        })
    }
}

/// The client's address: the connection's peer, or, when that peer is a proxy HQ was told to
/// trust (`serve --trusted-proxy`), the right-most `X-Forwarded-For` address that is not one of
/// the trusted proxies (the left part of the header is whatever the client wrote; only what the
/// trusted proxies appended can be believed). From any other peer the header is ignored.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.contains(&canonical(*ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else { return peer };
        hops.extend(v.split(','));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // Garbage in the part the trusted proxies vouch for: believe nothing past it.
            return client;
        };
        let ip = canonical(ip);
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_address_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        let trusted = [proxy];
        let h = xff(&["203.0.113.7"]);
        assert_eq!(client_ip(proxy, &h, &trusted).to_string(), "203.0.113.7");
        // Not from the proxy: the header is the client's own words.
        assert_eq!(client_ip(other, &h, &trusted), other);
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
        // The client wrote a forged left part; the proxy appended the real address.
        let h = xff(&["1.1.1.1, 203.0.113.7"]);
        assert_eq!(client_ip(proxy, &h, &trusted).to_string(), "203.0.113.7");
        let h = xff(&["1.1.1.1", "203.0.113.7"]);
        assert_eq!(client_ip(proxy, &h, &trusted).to_string(), "203.0.113.7");
        // Two trusted proxies in a row.
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        let h = xff(&["203.0.113.7, 10.0.0.2"]);
        assert_eq!(
            client_ip(proxy, &h, &[proxy, inner]).to_string(),
            "203.0.113.7"
        );
        // Garbage where the proxy should have written an address: the proxy's own address.
        assert_eq!(
            client_ip(proxy, &xff(&["1.1.1.1, nonsense"]), &trusted),
            proxy
        );
        // No header: the proxy.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        // IPv4-mapped peer.
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(mapped, &xff(&["203.0.113.7"]), &trusted).to_string(),
            "203.0.113.7"
        );
    }

    #[test]
    fn login_guard_holds_back_an_address_and_a_user() {
        let g = LoginGuard::new(3);
        for _ in 0..3 {
            g.attempt("a", "alice").unwrap();
        }
        // alice is held back from any address; another user from the same address too.
        assert!(g.attempt("b", "Alice").is_err());
        assert!(g.attempt("a", "bob").is_err());
        assert!(g.attempt("c", "bob").is_ok());
        g.signed_in("ALICE ");
        assert!(g.attempt("d", "alice").is_ok());
    }
}
