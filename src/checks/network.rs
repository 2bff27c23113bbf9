//! The `network` check and `shiftready probe`: the UDP voice probe to HQ's reflector, the
//! path to HQ (DNS, TCP, TLS, HTTP), the link (wired or Wi-Fi) and the home router, judged
//! against the policy's `[network]` bands, with a hint that says where the fault is.
//!
//! The reflector is `hq.reflector` from the config, else HQ's host (from `hq.url`) on
//! [`proto::probe::DEFAULT_PORT`] (8637). `SHIFTREADY_PROBE_GATEWAY` overrides the router to
//! ping (an IPv4 address, or `off`): for tests and diagnosis, never needed in normal use.

use super::CheckContext;
use crate::probe;
use crate::probe::gateway;
use crate::probe::link::{self, LinkInfo};
use crate::probe::path::{self, HqUrl};
use proto::CheckResult;
use proto::policy::Codec;
use std::net::IpAddr;
use std::time::Duration;

/// The test hook that overrides the gateway to ping (`off` skips it); see [`crate::test_hooks`].
pub const GATEWAY_ENV: &str = crate::test_hooks::PROBE_GATEWAY;
/// Time limit of each stage of the path to HQ (DNS, TCP, TLS, HTTP).
pub const STAGE_LIMIT: Duration = Duration::from_secs(5);

pub use shiftready_core::checks::network::{Findings, evaluate, gateway_is_bad, hints};

pub use crate::config::split_host_port;

/// The reflector to probe: the explicit one, else `hq.reflector`, else HQ's host on the
/// default port. `Ok(None)` when there is nothing to probe.
pub fn reflector_target(
    explicit: Option<&str>,
    config: &crate::config::HqConfig,
) -> Result<Option<(String, u16)>, String> {
    if let Some(r) = explicit {
        return split_host_port(r).map(Some);
    }
    if !config.reflector.trim().is_empty() {
        return split_host_port(&config.reflector).map(Some);
    }
    if config.url.trim().is_empty() {
        return Ok(None);
    }
    let url = HqUrl::parse(&config.url)?;
    Ok(Some((url.host, proto::probe::DEFAULT_PORT)))
}

fn gateway_to_probe(link: &LinkInfo) -> Result<IpAddr, String> {
    // Test hook: the gateway to probe instead of the route's (`off`: none).
    match crate::test_hooks::var(GATEWAY_ENV).map(|v| v.to_string_lossy().into_owned()) {
        Some(v) if v.trim() == "off" => Err(format!("turned off by {GATEWAY_ENV}")),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{GATEWAY_ENV}='{v}' is not an IP address")),
        None => link
            .gateway
            .ok_or_else(|| "the default route has no gateway".to_string()),
    }
}

/// Runs the probe, the path stages and the gateway probe at the same time.
pub async fn gather(
    target: (String, u16),
    hq: Option<HqUrl>,
    ca_file: &str,
    seconds: f64,
    codec: Codec,
    token: Option<proto::probe::Token>,
) -> Findings {
    let duration = Duration::from_secs_f64(seconds);
    let link = link::detect();
    let gw_addr = gateway_to_probe(&link);
    let reflector = if target.0.contains(':') {
        format!("[{}]:{}", target.0, target.1)
    } else {
        format!("{}:{}", target.0, target.1)
    };
    let probe_fut = async {
        match path::resolve(&target.0, target.1, STAGE_LIMIT).await {
            Err(e) => (Err(e), None),
            Ok((addr, dns_ms)) => {
                let r = probe::run_token(addr, duration, codec, token)
                    .await
                    .map_err(|e| format!("cannot send to {addr}: {e}"));
                (Ok(dns_ms), Some(r))
            }
        }
    };
    let path_fut = async {
        match &hq {
            Some(u) => Some(path::measure(u, ca_file, STAGE_LIMIT).await),
            None => None,
        }
    };
    let gw_fut = async {
        match gw_addr {
            Ok(a) => gateway::ping(a, duration, Duration::from_millis(20)).await,
            Err(e) => Err(e),
        }
    };
    let ((reflector_dns, probe), path, gateway) = tokio::join!(probe_fut, path_fut, gw_fut);
    Findings {
        reflector,
        reflector_dns,
        probe,
        path,
        link,
        gateway,
        seconds,
        codec,
        load: None,
    }
}

/// The `network` check of `shiftready check`.
pub async fn run(ctx: CheckContext) -> anyhow::Result<CheckResult> {
    let pol = &ctx.policy.network;
    let target = match reflector_target(None, &ctx.config.hq) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Ok(shiftready_core::i18n::hinted(
                proto::Status::Error,
                proto::Msg::new(hints::NO_HQ),
            ));
        }
        Err(e) => {
            return Ok(CheckResult::error(format!(
                "The HQ address in the configuration is wrong ({e}): ask IT to fix it."
            )));
        }
    };
    let hq = if ctx.config.hq.url.trim().is_empty() {
        None
    } else {
        HqUrl::parse(&ctx.config.hq.url).ok()
    };
    let mut f = gather(
        target,
        hq.clone(),
        &ctx.config.hq.ca_file,
        pol.probe_seconds,
        pol.codec,
        pol.probe_token,
    )
    .await;
    if ctx.load_phase && pol.load_test {
        f.load = Some(load_phase(&ctx, hq, &f).await);
    }
    Ok(evaluate(&f, pol))
}

/// The load phase after the voice probe (latency under load, [`crate::probe::load`]), or why
/// it is skipped: not enrolled, no HQ URL, or a voice probe that got no answers.
async fn load_phase(
    ctx: &CheckContext,
    hq: Option<HqUrl>,
    f: &Findings,
) -> Result<shiftready_core::checks::network::LoadFindings, String> {
    let pol = &ctx.policy.network;
    let Some(hq) = hq else {
        return Err("no HQ URL is configured".into());
    };
    let device =
        crate::hq_client::DeviceFile::load(&ctx.state_dir.join(crate::hq_client::DEVICE_FILE))
            .map_err(|e| e.to_string())?
            .ok_or("this computer is not enrolled with HQ")?;
    let reflector = match &f.probe {
        Some(Ok(p)) if p.answered() => p.reflector,
        _ => return Err("the voice probe got no answers, so there is nothing to time".into()),
    };
    let addr = match f.path.as_ref().and_then(|p| p.address) {
        Some(a) => a,
        None => path::resolve(&hq.host, hq.port, STAGE_LIMIT).await?.0,
    };
    let target = probe::load::LoadTarget {
        hq,
        addr,
        ca_file: ctx.config.hq.ca_file.clone(),
        key: device.device_key,
        reflector,
        token: pol.probe_token,
    };
    let plan = probe::load::LoadPlan {
        seconds: pol.load_seconds,
        max_bytes: (pol.load_max_mb * 1024.0 * 1024.0) as u64,
    };
    probe::load::run(&target, plan).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_parsing() {
        assert_eq!(
            split_host_port("hq.example.com:8637").unwrap(),
            ("hq.example.com".into(), 8637)
        );
        assert_eq!(split_host_port("[::1]:9").unwrap(), ("::1".into(), 9));
        assert!(split_host_port("hq.example.com").is_err());
        assert!(split_host_port("::1:80").is_err());
        assert!(split_host_port("h:0").is_err());
        assert!(split_host_port(":80").is_err());
        let mut hq = crate::config::HqConfig::default();
        assert_eq!(reflector_target(None, &hq).unwrap(), None);
        hq.url = "https://hq.example.com/x".into();
        assert_eq!(
            reflector_target(None, &hq).unwrap(),
            Some(("hq.example.com".into(), proto::probe::DEFAULT_PORT))
        );
        hq.reflector = "r.example.com:1000".into();
        assert_eq!(
            reflector_target(None, &hq).unwrap(),
            Some(("r.example.com".into(), 1000))
        );
        assert_eq!(
            reflector_target(Some("x:1"), &hq).unwrap(),
            Some(("x".into(), 1))
        );
    }
}
