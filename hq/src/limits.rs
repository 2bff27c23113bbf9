//! Limits shared by the request extractors and the handlers.

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;
