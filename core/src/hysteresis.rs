//! Alert hysteresis (DESIGN.md): raise when 3 of the last 5 samples cross a limit, clear when
//! 5 in a row are back inside, so one bad sample neither alarms nor hides a real problem.

use std::collections::VecDeque;

/// Samples considered for raising.
pub const WINDOW: usize = 5;
/// Crossing samples among the last [`WINDOW`] that raise the alert.
pub const RAISE_AT: usize = 3;
/// Consecutive samples inside the limit that clear it.
pub const CLEAR_AFTER: usize = 5;

/// A change of the alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Raised,
    Cleared,
}

/// One alert's hysteresis.
#[derive(Debug, Clone, Default)]
pub struct Hysteresis {
    recent: VecDeque<bool>,
    inside_run: usize,
    raised: bool,
}

impl Hysteresis {
    pub fn new() -> Hysteresis {
        Hysteresis::default()
    }

    pub fn raised(&self) -> bool {
        self.raised
    }

    /// Adds a sample (`true`: it crossed the limit) and says whether the alert changed.
    pub fn push(&mut self, crossed: bool) -> Option<Change> {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(crossed);
        self.inside_run = if crossed { 0 } else { self.inside_run + 1 };
        if !self.raised && self.recent.iter().filter(|c| **c).count() >= RAISE_AT {
            self.raised = true;
            return Some(Change::Raised);
        }
        if self.raised && self.inside_run >= CLEAR_AFTER {
            self.raised = false;
            return Some(Change::Cleared);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(h: &mut Hysteresis, samples: &str) -> Vec<Option<Change>> {
        samples.chars().map(|c| h.push(c == 'x')).collect()
    }

    #[test]
    fn one_bad_sample_does_not_alarm() {
        let mut h = Hysteresis::new();
        assert!(feed(&mut h, "x....x....x....").iter().all(Option::is_none));
        assert!(!h.raised());
    }

    #[test]
    fn three_of_five_raise_and_five_inside_in_a_row_clear() {
        let mut h = Hysteresis::new();
        let got = feed(&mut h, "x.x.x");
        assert_eq!(got[4], Some(Change::Raised));
        assert!(got[..4].iter().all(Option::is_none));
        // One good sample among bad ones does not clear it; four in a row do not either.
        let got = feed(&mut h, "....x");
        assert!(got.iter().all(Option::is_none));
        assert!(h.raised());
        let got = feed(&mut h, ".....");
        assert_eq!(got, [None, None, None, None, Some(Change::Cleared)]);
        // After clearing, the window is all inside: one bad sample does not re-raise.
        assert_eq!(h.push(true), None);
    }

    #[test]
    fn two_of_five_never_raise() {
        let mut h = Hysteresis::new();
        assert!(feed(&mut h, "xx...xx...xx...").iter().all(Option::is_none));
    }
}
