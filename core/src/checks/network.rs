//! The `network` check's verdict: what the voice probe, the path to HQ, the link and the
//! home router measured (the agent's `probe` modules measure it), judged against the policy's
//! `[network]` bands, with a hint that says where the fault is.

use crate::stats::ProbeResult;
use proto::metric;
use proto::policy::{Codec, NetworkPolicy};
use proto::{CheckResult, Msg, Status};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

/// The hints: message ids, translated in `core/i18n/*.ftl`;
/// `crate::i18n::english_id(id)` gives the English text HQ receives. Each is one sentence saying what to do.
pub mod hints {
    use proto::Msg;
    pub const UDP_BLOCKED: &str = "net-udp-blocked";
    pub const HQ_UNREACHABLE: &str = "net-hq-unreachable";
    pub const REFLECTOR_SILENT: &str = "net-reflector-silent";
    pub const DNS_FAILED: &str = "net-dns-failed";
    pub const NO_HQ: &str = "net-no-hq";
    pub const SEND_FAILED: &str = "net-send-failed";
    pub const HOME_WIFI: &str = "net-home-wifi";
    pub const HOME_LINE: &str = "net-home-line";
    pub const BEYOND_HOME: &str = "net-beyond-home";
    pub const GENERIC: &str = "net-generic";
    pub const WIRED_REQUIRED: &str = "net-wired-required";
    pub const HTTPS_FAILED: &str = "net-https-failed";
    /// The line's latency rises too far when it is busy (bufferbloat): `ms` added under load.
    pub fn bufferbloat(added_ms: f64) -> Msg {
        Msg::new(BUFFERBLOAT).arg("ms", proto::MsgArg::Num(added_ms.round(), 0))
    }
    pub const BUFFERBLOAT: &str = "net-bufferbloat";
    /// The reflector's host answered "port unreachable": the address is wrong or nothing
    /// listens there (a firewall on the way drops packets silently instead).
    pub fn nothing_answers(reflector: &str) -> Msg {
        Msg::new("net-nothing-answers").text("reflector", reflector)
    }
}

/// The kind of link the default route uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Ethernet,
    Wifi,
    /// A tunnel, a mobile modem, a bridge: something else.
    Other,
    Unknown,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Ethernet => "ethernet",
            LinkKind::Wifi => "wifi",
            LinkKind::Other => "other",
            LinkKind::Unknown => "unknown",
        }
    }
}

/// What is known of the default route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkInfo {
    pub kind: LinkKind,
    /// The interface name (`eth0`, `wlp2s0`).
    pub interface: Option<String>,
    /// The default gateway, if the route has one.
    pub gateway: Option<IpAddr>,
    /// Wi-Fi signal level in dBm.
    pub wifi_signal_dbm: Option<f64>,
}

impl LinkInfo {
    pub fn unknown() -> LinkInfo {
        LinkInfo {
            kind: LinkKind::Unknown,
            interface: None,
            gateway: None,
            wifi_signal_dbm: None,
        }
    }
}

/// What the gateway probe found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayStats {
    pub address: IpAddr,
    /// `ping_socket` or `raw_socket`.
    pub method: &'static str,
    pub sent: u32,
    pub received: u32,
    pub loss_pct: f64,
    pub rtt_ms_median: Option<f64>,
    pub rtt_ms_max: Option<f64>,
    /// RFC 3550 jitter of the round trips, ms.
    pub jitter_ms: Option<f64>,
}

/// The stage at which the path failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Dns,
    Tcp,
    Tls,
    Http,
}

/// What the stages measured, ms. A stage not reached is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PathTimings {
    pub dns_ms: Option<f64>,
    /// The address DNS gave and TCP used.
    pub address: Option<SocketAddr>,
    pub tcp_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub http_ms: Option<f64>,
    pub http_status: Option<u16>,
    /// Where and why it stopped, if it did.
    pub failed: Option<(Stage, String)>,
}

impl PathTimings {
    /// Whether HQ's `/healthz` answered with a 2xx.
    pub fn https_ok(&self) -> bool {
        self.failed.is_none() && self.http_status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Everything the check gathered, before judging.
#[derive(Debug, Clone)]
pub struct Findings {
    /// The reflector as configured (`HOST:PORT`).
    pub reflector: String,
    /// The reflector's address lookup: time in ms, or why it failed.
    pub reflector_dns: Result<f64, String>,
    /// The voice probe: `None` when it could not start (the lookup failed), `Err` when the OS
    /// refused to send.
    pub probe: Option<Result<ProbeResult, String>>,
    /// The path to HQ; `None` when no HQ URL is configured.
    pub path: Option<PathTimings>,
    pub link: LinkInfo,
    /// The gateway probe, or why it is unavailable.
    pub gateway: Result<GatewayStats, String>,
    pub seconds: f64,
    pub codec: Codec,
    /// The load phase (latency under load): `None` when it was not asked for (the daemon,
    /// `shiftready probe`), `Err` with the reason when it was skipped.
    pub load: Option<Result<LoadFindings, String>>,
}

/// What the load phase measured: the UDP probes' round trips while the line to HQ was full
/// upstream, then downstream, and what moved. Judged by [`evaluate`] against
/// `network.added_latency_ms`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadFindings {
    /// Round trips of the probes answered while uploading, ms.
    pub rtt_up_ms: Vec<f64>,
    /// Round trips of the probes answered while downloading, ms.
    pub rtt_down_ms: Vec<f64>,
    /// Probes sent while uploading and while downloading.
    pub probes_up: u32,
    pub probes_down: u32,
    /// Bytes HQ received, and over how many seconds (HQ's own clock).
    pub up_bytes: u64,
    pub up_seconds: f64,
    /// Bytes the agent received, and over how many seconds.
    pub down_bytes: u64,
    pub down_seconds: f64,
}

/// The middle value of `v` (the mean of the two middle ones for an even count).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The mean of `v` after dropping the values above its 95th percentile: the "TM95" trimmed
/// mean of draft-ietf-ippm-responsiveness ("Responsiveness under Working Conditions",
/// section 4.1), which keeps a few stray outliers from deciding the result.
pub fn trimmed_mean_95(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let keep = ((s.len() as f64 * 0.95).ceil() as usize).clamp(1, s.len());
    Some(s[..keep].iter().sum::<f64>() / keep as f64)
}

/// Round trips per minute under working conditions: 60 000 ms divided by the trimmed mean
/// (TM95) of every round trip measured under load. draft-ietf-ippm-responsiveness defines
/// RPM as 60 divided by the working latency in seconds, from HTTP/TCP/TLS probes on and beside
/// the loaded connections; ours are the UDP voice probes to HQ's reflector (the latency a call
/// would see), so the figure is in the draft's units but not its exact probe mix.
pub fn rpm(loaded_rtts_ms: &[f64]) -> Option<f64> {
    trimmed_mean_95(loaded_rtts_ms)
        .filter(|t| *t > 0.0)
        .map(|t| (60_000.0 / t).round())
}

/// Kilobits per second from bytes over seconds.
fn kbps(bytes: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0 && bytes > 0).then(|| (bytes as f64 * 8.0 / seconds / 1000.0).round())
}

/// What the load figures say: the metrics set on `r`, and the added latency when known.
fn load_metrics(
    r: &mut CheckResult,
    load: &Option<Result<LoadFindings, String>>,
    idle: Option<f64>,
) -> Option<f64> {
    let Some(load) = load else { return None };
    let l = match load {
        Err(why) => {
            r.set("load_test", "skipped");
            r.set("load_note", why);
            return None;
        }
        Ok(l) => l,
    };
    let up = median(&l.rtt_up_ms);
    let down = median(&l.rtt_down_ms);
    r.set("load_test", "measured");
    r.set(metric::RTT_LOADED_UP_MS, up.map(round1));
    r.set(metric::RTT_LOADED_DOWN_MS, down.map(round1));
    let worst = match (up, down) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let added = worst.zip(idle).map(|(w, i)| (w - i).max(0.0));
    r.set(metric::ADDED_LATENCY_MS, added.map(round1));
    r.set(metric::THROUGHPUT_UP_KBPS, kbps(l.up_bytes, l.up_seconds));
    r.set(
        metric::THROUGHPUT_DOWN_KBPS,
        kbps(l.down_bytes, l.down_seconds),
    );
    let all: Vec<f64> = l.rtt_up_ms.iter().chain(&l.rtt_down_ms).copied().collect();
    r.set(metric::RPM, rpm(&all));
    let lost = |sent: u32, got: usize| {
        (sent > 0).then(|| round1(100.0 * (sent as f64 - got as f64).max(0.0) / sent as f64))
    };
    r.set("loss_loaded_up_pct", lost(l.probes_up, l.rtt_up_ms.len()));
    r.set(
        "loss_loaded_down_pct",
        lost(l.probes_down, l.rtt_down_ms.len()),
    );
    r.set("load_bytes", l.up_bytes + l.down_bytes);
    if worst.is_none() {
        r.set("load_note", "no probe came back while the line was loaded");
    }
    added
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn codec_name(c: Codec) -> &'static str {
    match c {
        Codec::G711Plc => "g711_plc",
        Codec::G711 => "g711",
        Codec::G729a => "g729a",
    }
}

/// Whether the home router itself shows the trouble: loss above the pass band, jitter above
/// half the jitter pass band (a home LAN should use little of the end-to-end budget), or a
/// round trip to the router above a quarter of the RTT pass band.
pub fn gateway_is_bad(g: &GatewayStats, pol: &NetworkPolicy) -> bool {
    g.loss_pct > pol.loss_pct.pass
        || g.jitter_ms.is_some_and(|j| j > pol.jitter_ms.pass / 2.0)
        || g.rtt_ms_median.is_some_and(|r| r > pol.rtt_ms.pass / 4.0)
        || g.received == 0
}

/// Judges the findings against the policy: status, hint and metrics.
pub fn evaluate(f: &Findings, pol: &NetworkPolicy) -> CheckResult {
    let mut r = CheckResult::new(Status::Pass, "");
    let probe_ok = f.probe.as_ref().and_then(|p| p.as_ref().ok());
    let s = probe_ok.map(|p| &p.stats);
    r.set(metric::RTT_MS_MIN, s.and_then(|s| s.rtt_ms_min));
    r.set(metric::RTT_MS_MEDIAN, s.and_then(|s| s.rtt_ms_median));
    r.set(metric::RTT_MS_P95, s.and_then(|s| s.rtt_ms_p95));
    r.set(metric::RTT_MS_MAX, s.and_then(|s| s.rtt_ms_max));
    r.set(metric::JITTER_UP_MS, s.and_then(|s| s.jitter_up_ms));
    r.set(metric::JITTER_DOWN_MS, s.and_then(|s| s.jitter_down_ms));
    r.set(metric::LOSS_UP_PCT, s.and_then(|s| s.loss_up_pct));
    r.set(metric::LOSS_DOWN_PCT, s.and_then(|s| s.loss_down_pct));
    r.set(metric::REORDERED, s.map(|s| s.reordered));
    r.set(metric::MOS, s.and_then(|s| s.mos));
    r.set(metric::R_FACTOR, s.and_then(|s| s.r_factor));
    r.set("reordered_up", s.map(|s| s.reordered_up));
    r.set("duplicates", s.map(|s| s.duplicates));
    r.set("sent", s.map(|s| s.sent));
    r.set("received", s.map(|s| s.received));
    r.set("reflector_received", s.and_then(|s| s.reflector_received));
    r.set("icmp_errors", probe_ok.map(|p| p.icmp_errors));
    r.set("reflector", &f.reflector);
    r.set("codec", codec_name(f.codec));
    r.set("seconds", f.seconds);
    let path = f.path.as_ref();
    let dns_ms = path
        .and_then(|p| p.dns_ms)
        .or(f.reflector_dns.as_ref().ok().copied());
    r.set(metric::DNS_MS, dns_ms);
    r.set(metric::TCP_MS, path.and_then(|p| p.tcp_ms));
    r.set(metric::TLS_MS, path.and_then(|p| p.tls_ms));
    r.set(metric::HTTP_MS, path.and_then(|p| p.http_ms));
    r.set("http_status", path.and_then(|p| p.http_status));
    r.set(
        "path_error",
        path.and_then(|p| p.failed.as_ref()).map(|(st, e)| {
            format!(
                "{}: {e}",
                serde_json::to_value(st)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            )
        }),
    );
    r.set(metric::LINK, f.link.kind.as_str());
    r.set("interface", &f.link.interface);
    r.set(metric::WIFI_SIGNAL_DBM, f.link.wifi_signal_dbm);
    match &f.gateway {
        Ok(g) => {
            r.set("gateway", g.address.to_string());
            r.set("gateway_probe", g.method);
            r.set(metric::GATEWAY_RTT_MS, g.rtt_ms_median);
            r.set(metric::GATEWAY_JITTER_MS, g.jitter_ms);
            r.set(metric::GATEWAY_LOSS_PCT, g.loss_pct);
        }
        Err(e) => {
            r.set("gateway", f.link.gateway.map(|g| g.to_string()));
            r.set("gateway_probe", "unavailable");
            r.set("gateway_unavailable", e);
            r.set(metric::GATEWAY_RTT_MS, None::<f64>);
            r.set(metric::GATEWAY_JITTER_MS, None::<f64>);
            r.set(metric::GATEWAY_LOSS_PCT, None::<f64>);
        }
    }

    let added = load_metrics(&mut r, &f.load, s.and_then(|s| s.rtt_ms_median));

    let https = path.map(|p| p.https_ok());
    let dns_failed = f.reflector_dns.is_err()
        || path.is_some_and(|p| p.failed.as_ref().is_some_and(|(st, _)| *st == Stage::Dns));
    let (status, hint): (Status, Option<Msg>) =
        if dns_failed && !probe_ok.is_some_and(|p| p.answered()) {
            (Status::Fail, Some(Msg::new(hints::DNS_FAILED)))
        } else if !probe_ok.is_some_and(|p| p.answered()) {
            let refused = probe_ok.is_some_and(|p| p.icmp_errors > 0);
            match https {
                Some(false) => (Status::Fail, Some(Msg::new(hints::HQ_UNREACHABLE))),
                // A "port unreachable" came back: the packets got there and nothing listens.
                _ if refused => (Status::Fail, Some(hints::nothing_answers(&f.reflector))),
                Some(true) => (Status::Fail, Some(Msg::new(hints::UDP_BLOCKED))),
                None if matches!(f.probe, Some(Err(_))) => {
                    (Status::Fail, Some(Msg::new(hints::SEND_FAILED)))
                }
                None => (Status::Fail, Some(Msg::new(hints::REFLECTOR_SILENT))),
            }
        } else {
            let s = s.expect("answered implies stats");
            let nan = f64::NAN;
            let jitter = s
                .jitter_up_ms
                .unwrap_or(0.0)
                .max(s.jitter_down_ms.unwrap_or(0.0));
            let loss = s
                .loss_up_pct
                .unwrap_or(nan)
                .max(s.loss_down_pct.unwrap_or(nan));
            let voice = [
                pol.rtt_ms.status(s.rtt_ms_median.unwrap_or(nan)),
                pol.jitter_ms.status(jitter),
                pol.loss_pct.status(loss),
                pol.mos.status(s.mos.unwrap_or(nan)),
            ]
            .into_iter()
            .max()
            .unwrap_or(Status::Error);
            let wired_warn = pol.require_wired && f.link.kind == LinkKind::Wifi;
            if voice > Status::Pass {
                let hint = match &f.gateway {
                    Ok(g) if gateway_is_bad(g, pol) => {
                        if f.link.kind == LinkKind::Wifi {
                            hints::HOME_WIFI
                        } else {
                            hints::HOME_LINE
                        }
                    }
                    Ok(_) => hints::BEYOND_HOME,
                    Err(_) if f.link.kind == LinkKind::Wifi => hints::HOME_WIFI,
                    Err(_) => hints::GENERIC,
                };
                (voice, Some(Msg::new(hint)))
            } else if https == Some(false) {
                (Status::Warn, Some(Msg::new(hints::HTTPS_FAILED)))
            } else if wired_warn {
                (Status::Warn, Some(Msg::new(hints::WIRED_REQUIRED)))
            } else {
                (Status::Pass, None)
            }
        };
    // Latency under load decides only when it is worse than everything else: a voice or path
    // problem keeps its own, more basic, hint.
    let (status, hint) = match added {
        Some(a) if pol.added_latency_ms.status(a) > status => {
            (pol.added_latency_ms.status(a), Some(hints::bufferbloat(a)))
        }
        _ => (status, hint),
    };
    r.status = status;
    if let Some(m) = hint {
        crate::i18n::set_hint(&mut r, m);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::english_id;
    use crate::stats::{ProbeResult, ProbeStats};

    fn stats(rtt: f64, jit: f64, loss: f64) -> ProbeStats {
        let (r, m) = crate::emodel::score(Codec::G711Plc, rtt, jit, loss);
        ProbeStats {
            sent: 250,
            received: 250,
            reflector_received: Some(250),
            rtt_ms_min: Some(rtt),
            rtt_ms_median: Some(rtt),
            rtt_ms_p95: Some(rtt),
            rtt_ms_max: Some(rtt),
            jitter_up_ms: Some(jit),
            jitter_down_ms: Some(0.1),
            loss_up_pct: Some(loss),
            loss_down_pct: Some(0.0),
            reordered: 0,
            reordered_up: 0,
            duplicates: 0,
            r_factor: Some(r),
            mos: Some(m),
        }
    }

    fn findings(
        st: Option<ProbeStats>,
        https: Option<bool>,
        gw: Option<(f64, f64)>,
        kind: LinkKind,
    ) -> Findings {
        let probe = st.map(|stats| {
            Ok(ProbeResult {
                reflector: "127.0.0.1:8637".parse().unwrap(),
                stats,
                icmp_errors: 0,
                elapsed_s: 5.0,
            })
        });
        let path = https.map(|ok| PathTimings {
            dns_ms: Some(1.0),
            tcp_ms: Some(1.0),
            http_ms: ok.then_some(2.0),
            http_status: ok.then_some(200),
            failed: (!ok).then(|| (Stage::Tcp, "refused".into())),
            ..Default::default()
        });
        let gateway = match gw {
            Some((loss, jit)) => Ok(GatewayStats {
                address: "192.168.1.1".parse().unwrap(),
                method: "raw_socket",
                sent: 250,
                received: 250 - (loss * 2.5) as u32,
                loss_pct: loss,
                rtt_ms_median: Some(1.0),
                rtt_ms_max: Some(3.0),
                jitter_ms: Some(jit),
            }),
            None => Err("unavailable".into()),
        };
        Findings {
            reflector: "hq:8637".into(),
            reflector_dns: Ok(1.0),
            probe,
            path,
            link: LinkInfo {
                kind,
                interface: Some("eth0".into()),
                gateway: None,
                wifi_signal_dbm: None,
            },
            gateway,
            seconds: 5.0,
            codec: Codec::G711Plc,
            load: None,
        }
    }

    fn empty_stats() -> ProbeStats {
        crate::stats::analyze(&[], 250, Codec::G711Plc)
    }

    #[test]
    fn clean_line_passes_with_every_contract_key() {
        let pol = NetworkPolicy::default();
        let r = evaluate(
            &findings(
                Some(stats(30.0, 2.0, 0.0)),
                Some(true),
                Some((0.0, 0.2)),
                LinkKind::Ethernet,
            ),
            &pol,
        );
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(r.hint, "");
        // Every key the contract requires of the network check, measured (not null).
        for &k in proto::metric::required(proto::CheckName::Network) {
            assert!(
                r.metrics.get(k).is_some_and(|v| !v.is_null()),
                "{k} missing in {r:?}"
            );
        }
    }

    #[test]
    fn udp_blocked_while_https_works_fails_with_the_exact_hint() {
        let pol = NetworkPolicy::default();
        let r = evaluate(
            &findings(Some(empty_stats()), Some(true), None, LinkKind::Ethernet),
            &pol,
        );
        assert_eq!(r.status, Status::Fail);
        assert_eq!(
            r.hint,
            "UDP to HQ is blocked (firewall or VPN): voice calls will fail"
        );
        assert_eq!(
            r.metric_f64("http_ms"),
            Some(2.0),
            "HTTPS timings still reported"
        );
        let r = evaluate(
            &findings(Some(empty_stats()), Some(false), None, LinkKind::Ethernet),
            &pol,
        );
        assert_eq!(
            (r.status, r.hint.as_str()),
            (Status::Fail, english_id(hints::HQ_UNREACHABLE).as_str())
        );
    }

    #[test]
    fn port_unreachable_says_nothing_answers_not_blocked() {
        // A closed port answers ICMP "port unreachable": the address is wrong, UDP is not
        // blocked; silence stays "blocked on the way" (issue 13).
        let pol = NetworkPolicy::default();
        for https in [Some(true), None] {
            let mut f = findings(Some(empty_stats()), https, None, LinkKind::Ethernet);
            if let Some(Ok(p)) = f.probe.as_mut() {
                p.icmp_errors = 3;
            }
            let r = evaluate(&f, &pol);
            assert_eq!(r.status, Status::Fail);
            assert!(
                r.hint.starts_with("Nothing answers at hq:8637"),
                "{}",
                r.hint
            );
            assert!(!r.hint.contains("blocked"), "{}", r.hint);
        }
    }

    #[test]
    fn where_the_fault_is() {
        let pol = NetworkPolicy::default();
        // 45 ms jitter upstream warns. The router shows 20 ms jitter: the home network.
        let bad = || Some(stats(40.0, 45.0, 0.0));
        let r = evaluate(
            &findings(bad(), Some(true), Some((0.0, 20.0)), LinkKind::Wifi),
            &pol,
        );
        assert_eq!(
            (r.status, r.hint.as_str()),
            (Status::Warn, english_id(hints::HOME_WIFI).as_str())
        );
        let r = evaluate(
            &findings(bad(), Some(true), Some((3.0, 0.5)), LinkKind::Ethernet),
            &pol,
        );
        assert_eq!(r.hint, english_id(hints::HOME_LINE).as_str());
        // Router clean: beyond the home.
        let r = evaluate(
            &findings(bad(), Some(true), Some((0.0, 0.3)), LinkKind::Ethernet),
            &pol,
        );
        assert_eq!(r.hint, english_id(hints::BEYOND_HOME).as_str());
        // Router unknown: generic advice.
        let r = evaluate(&findings(bad(), Some(true), None, LinkKind::Ethernet), &pol);
        assert_eq!(r.hint, english_id(hints::GENERIC).as_str());
    }

    #[test]
    fn bands_decide_the_status() {
        let pol = NetworkPolicy::default();
        let st = |rtt, jit, loss| {
            evaluate(
                &findings(
                    Some(stats(rtt, jit, loss)),
                    None,
                    Some((0.0, 0.1)),
                    LinkKind::Ethernet,
                ),
                &pol,
            )
            .status
        };
        assert_eq!(
            st(200.0, 1.0, 0.0),
            Status::Pass.max(
                pol.mos
                    .status(crate::emodel::score(Codec::G711Plc, 200.0, 1.0, 0.0).1)
            )
        );
        assert_eq!(
            st(300.0, 1.0, 0.0),
            Status::Warn.max(
                pol.mos
                    .status(crate::emodel::score(Codec::G711Plc, 300.0, 1.0, 0.0).1)
            )
        );
        assert_eq!(st(450.0, 1.0, 0.0), Status::Fail);
        assert_eq!(st(20.0, 1.0, 2.0), Status::Warn);
        assert_eq!(st(20.0, 1.0, 3.0), Status::Fail);
        assert_eq!(st(20.0, 61.0, 0.0), Status::Fail);
    }

    fn loaded(up: &[f64], down: &[f64]) -> LoadFindings {
        LoadFindings {
            rtt_up_ms: up.to_vec(),
            rtt_down_ms: down.to_vec(),
            probes_up: up.len() as u32 + 2,
            probes_down: down.len() as u32,
            up_bytes: 375_000,
            up_seconds: 3.0,
            down_bytes: 3_000_000,
            down_seconds: 2.4,
        }
    }

    #[test]
    fn added_latency_decides_by_its_band_with_the_bufferbloat_hint() {
        let pol = NetworkPolicy::default();
        let clean = || {
            findings(
                Some(stats(30.0, 2.0, 0.0)),
                Some(true),
                Some((0.0, 0.2)),
                LinkKind::Ethernet,
            )
        };
        // Idle 30 ms; loaded medians 80 (up) and 40 (down): 50 ms added passes.
        let mut f = clean();
        f.load = Some(Ok(loaded(&[70.0, 80.0, 90.0], &[40.0, 40.0])));
        let r = evaluate(&f, &pol);
        assert_eq!((r.status, r.hint.as_str()), (Status::Pass, ""));
        assert_eq!(r.metric_f64("rtt_loaded_up_ms"), Some(80.0));
        assert_eq!(r.metric_f64("rtt_loaded_down_ms"), Some(40.0));
        assert_eq!(r.metric_f64("added_latency_ms"), Some(50.0));
        // 375 000 bytes in 3 s = 1000 kbit/s; 3 MB in 2.4 s = 10 000 kbit/s.
        assert_eq!(r.metric_f64("throughput_up_kbps"), Some(1000.0));
        assert_eq!(r.metric_f64("throughput_down_kbps"), Some(10000.0));
        // TM95 of the five round trips (none trimmed at n = 5: ceil(4.75) = 5) = 64 ms.
        assert_eq!(r.metric_f64("rpm"), Some((60_000.0_f64 / 64.0).round()));
        assert_eq!(r.metric_f64("loss_loaded_up_pct"), Some(40.0));
        // 130 ms added: warn, and the hint says what to do about a busy line.
        f.load = Some(Ok(loaded(&[160.0], &[40.0])));
        let r = evaluate(&f, &pol);
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.hint_msg.as_ref().map(|m| m.id), Some(hints::BUFFERBLOAT));
        assert!(r.hint.contains("130 ms"), "{}", r.hint);
        assert!(r.hint.contains("smart queue management"), "{}", r.hint);
        // 400 ms added: fail.
        f.load = Some(Ok(loaded(&[40.0], &[430.0])));
        assert_eq!(evaluate(&f, &pol).status, Status::Fail);
        // Exactly at the pass limit: pass (bands have no gaps).
        f.load = Some(Ok(loaded(&[130.0], &[])));
        assert_eq!(evaluate(&f, &pol).status, Status::Pass);
    }

    #[test]
    fn a_skipped_load_phase_is_a_note_never_a_failure() {
        let pol = NetworkPolicy::default();
        let mut f = findings(
            Some(stats(30.0, 2.0, 0.0)),
            Some(true),
            Some((0.0, 0.2)),
            LinkKind::Ethernet,
        );
        f.load = Some(Err("HQ does not serve the load test".into()));
        let r = evaluate(&f, &pol);
        assert_eq!((r.status, r.hint.as_str()), (Status::Pass, ""));
        assert_eq!(r.metrics["load_test"], "skipped");
        assert_eq!(r.metrics["load_note"], "HQ does not serve the load test");
        for k in [
            "rtt_loaded_up_ms",
            "rtt_loaded_down_ms",
            "rpm",
            "added_latency_ms",
        ] {
            assert!(r.metrics.get(k).is_none(), "{k} present in {r:?}");
        }
        // Nothing came back under load: no verdict on it, and said so.
        f.load = Some(Ok(loaded(&[], &[])));
        let r = evaluate(&f, &pol);
        assert_eq!(r.status, Status::Pass);
        assert!(r.metrics["rtt_loaded_up_ms"].is_null());
        assert_eq!(
            r.metrics["load_note"],
            "no probe came back while the line was loaded"
        );
    }

    #[test]
    fn a_voice_problem_keeps_its_hint_over_bufferbloat() {
        let pol = NetworkPolicy::default();
        let mut f = findings(
            Some(stats(40.0, 45.0, 0.0)),
            Some(true),
            Some((0.0, 0.3)),
            LinkKind::Ethernet,
        );
        f.load = Some(Ok(loaded(&[200.0], &[])));
        let r = evaluate(&f, &pol);
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.hint, english_id(hints::BEYOND_HOME));
    }

    #[test]
    fn trimmed_mean_drops_the_top_five_percent() {
        // 20 values: ceil(19) = 19 kept, the outlier 1000 dropped.
        let mut v: Vec<f64> = (1..=19).map(|i| i as f64).collect();
        v.push(1000.0);
        assert_eq!(trimmed_mean_95(&v), Some(10.0));
        assert_eq!(rpm(&[100.0]), Some(600.0));
        assert_eq!(rpm(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }

    #[test]
    fn wifi_warns_only_when_the_site_requires_wired() {
        let mut pol = NetworkPolicy::default();
        let f = findings(
            Some(stats(20.0, 1.0, 0.0)),
            Some(true),
            Some((0.0, 0.2)),
            LinkKind::Wifi,
        );
        assert_eq!(evaluate(&f, &pol).status, Status::Pass);
        pol.require_wired = true;
        let r = evaluate(&f, &pol);
        assert_eq!(
            (r.status, r.hint.as_str()),
            (Status::Warn, english_id(hints::WIRED_REQUIRED).as_str())
        );
    }
}
