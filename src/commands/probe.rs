//! `shiftready probe`: the UDP voice probe (and the path, link and router) alone.

use crate::checks::network::{STAGE_LIMIT, evaluate, gather, hints, reflector_target};
use crate::cli::ProbeArgs;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use crate::probe::path::HqUrl;
use proto::{Msg, MsgArg, Status};
use std::time::Duration;

/// The shortest probe that says something about jitter and loss (50 packets at 20 ms).
pub const MIN_SECONDS: f64 = 1.0;

/// `shiftready probe [--reflector HOST:PORT] [--seconds N] [--json]`: exit 0 pass, 1 warn,
/// 2 fail, 3 could not run, 64 for a bad argument.
pub async fn probe(loaded: &Loaded, args: &ProbeArgs) -> anyhow::Result<i32> {
    let pol = &loaded.policy.network;
    let seconds = match args.seconds {
        Some(s) => super::seconds_arg(s, MIN_SECONDS, 300.0, "err-seconds-why-probe")?,
        None => pol.probe_seconds,
    };
    let target = match reflector_target(args.reflector.as_deref(), &loaded.config.hq) {
        Ok(t) => t,
        Err(e) if args.reflector.is_some() => {
            return Err(ExitError::new(exit::USAGE, format!("--reflector {e}")));
        }
        Err(e) => return Err(ExitError::new(exit::CONFIG, format!("hq: {e}"))),
    };
    let result = match target {
        None => shiftready_core::i18n::hinted(proto::Status::Error, proto::Msg::new(hints::NO_HQ)),
        Some(target) => {
            let hq = HqUrl::parse(&loaded.config.hq.url).ok();
            let limit = Duration::from_secs_f64(seconds) + STAGE_LIMIT * 4 + Duration::from_secs(2);
            let (ca, token) = (&loaded.config.hq.ca_file, pol.probe_token);
            let work = gather(target, hq, ca, seconds, pol.codec, token);
            match tokio::time::timeout(limit, work).await {
                Ok(f) => evaluate(&f, pol),
                Err(_) => shiftready_core::i18n::hinted(
                    Status::Error,
                    Msg::new("net-probe-timeout")
                        .arg("seconds", MsgArg::Count(limit.as_secs() as i64)),
                )
                .with("timed_out", true),
            }
        }
    };
    super::print_one("network", &result, &loaded.policy, args.json)
}
