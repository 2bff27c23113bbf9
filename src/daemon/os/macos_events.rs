//! macOS: which NSWorkspace notification means what for the daemon. Pure (names in, inputs
//! out), so it is compiled and tested on Linux too; `macos.rs` observes the notifications.

use shiftready_core::shift::Input;

/// What a notification (by name) means. `willPowerOff` is posted for a log-out and for a
/// shutdown alike, and the session ends in both: the sign-out says `logoff`. A session that
/// resigns active (fast user switching: another user's session takes the screen) has left the
/// agent's desk too: also `logoff`.
pub fn input_for(name: &str) -> Option<Input> {
    match name {
        "NSWorkspaceWillSleepNotification" => Some(Input::Suspend),
        "NSWorkspaceDidWakeNotification" => Some(Input::Resume),
        "NSWorkspaceWillPowerOffNotification" => Some(Input::Logoff),
        "NSWorkspaceSessionDidResignActiveNotification" => Some(Input::Logoff),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_observed_notification_means_something_and_others_nothing() {
        // The four `macos.rs` observes.
        for name in [
            "NSWorkspaceWillSleepNotification",
            "NSWorkspaceDidWakeNotification",
            "NSWorkspaceWillPowerOffNotification",
            "NSWorkspaceSessionDidResignActiveNotification",
        ] {
            assert!(input_for(name).is_some(), "{name}");
        }
        assert_eq!(
            input_for("NSWorkspaceWillSleepNotification"),
            Some(Input::Suspend)
        );
        assert_eq!(
            input_for("NSWorkspaceDidWakeNotification"),
            Some(Input::Resume)
        );
        assert_eq!(
            input_for("NSWorkspaceWillPowerOffNotification"),
            Some(Input::Logoff)
        );
        assert_eq!(input_for("NSWorkspaceDidMountNotification"), None);
    }
}
