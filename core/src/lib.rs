//! The agent's pure logic: everything here computes, nothing reads a device, a socket, a
//! file or the clock. The agent (`shiftready`) does the I/O and calls in here; the split is
//! enforced by the dependency list (`scripts/check-core-pure.sh` fails if an I/O crate such
//! as tokio, cpal, sqlx or reqwest ever enters it).

pub mod checks;
pub mod dsp;
pub mod emodel;
pub mod hysteresis;
pub mod i18n;
pub mod shift;
pub mod stats;
