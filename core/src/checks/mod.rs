//! The checks' verdicts: facts or samples in, a [`proto::CheckResult`] (status, hint,
//! metrics) out. Gathering the facts (sysinfo, cpal, the sound server, sockets) is the
//! agent's; each module here is the policy side of the agent's `checks::<name>`.

pub mod hardware;
pub mod headset;
pub mod network;
pub mod noise;
pub mod os;
