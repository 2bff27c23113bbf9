//! macOS: signals and the state directory as on every Unix. Sleep is noticed from the wall
//! clock's jump after waking (no IOKit power notifications yet); notifications are logged
//! (no Notification Center yet).

pub use super::unix::{restrict_dir, wait_for_stop};
pub use super::{log_notice as notify, no_power_events as power_events};
