//! ShiftReady HQ: enrollment, event ingest, the shift log with automatic sign-out, the fleet
//! dashboard and API for IT, and the UDP reflector for the agents' voice probe.
//!
//! `main.rs` is a thin shell over this library; `server::app` builds the whole HTTP
//! application over a [`db::Db`], so tests drive it with `oneshot` or as the real binary.

pub mod adherence;
pub mod admin;
pub mod alerts;
pub mod api;
pub mod auth;
pub mod connectors;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod db_admin;
pub mod drops;
pub mod error;
pub mod ingest;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod outbox;
pub mod quota;
pub mod readiness;
pub mod reflector;
pub mod samples;
pub mod server;
pub mod simulate;
pub mod state;
pub mod throttle;
