//! Any other OS: Ctrl-C or the UI's quit stop the daemon; no power events (sleep is noticed
//! from the wall clock's jump); notifications are logged; the state directory keeps the
//! permissions it was made with.

pub use super::{
    ctrl_c_or_quit as wait_for_stop, leave_dir as restrict_dir, log_notice as notify,
    no_power_events as power_events,
};
