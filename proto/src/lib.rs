//! Wire types shared by the ShiftReady agent (`shiftready`) and HQ (`shiftready-hq`).
//!
//! Everything that crosses the network or is printed with `--json` is defined here, so the
//! two programs cannot drift apart. The JSON shapes follow the contract in `docs/DESIGN.md`;
//! fields may be added, never renamed.

pub mod api;
pub mod event;
pub mod load;
pub mod names;
pub mod policy;
pub mod probe;
pub mod report;
pub mod sample;

pub use event::{Event, EventBody, ShiftReason};
pub use names::{
    CheckName, DaemonState, DeviceStatus, FleetState, HqLink, IncidentName, NetScope, metric,
};
pub use policy::Policy;
pub use report::{CheckResult, Msg, MsgArg, Readiness, Report, Status};

/// The schema version of reports and events. Bumped only for incompatible changes.
pub const SCHEMA: u32 = 1;
