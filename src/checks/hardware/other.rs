//! Windows and macOS: the power source is not read yet (GetSystemPowerStatus / IOKit power
//! sources), so it is reported as unknown rather than guessed.

use super::Power;

pub fn power() -> (Power, Option<f64>) {
    (Power::Unknown, None)
}
