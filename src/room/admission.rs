//! PIN entry, before a caller is admitted.

use std::collections::VecDeque;

/// A caller typing a PIN.
#[derive(Debug, Clone)]
pub struct PinEntry {
    pub digits: String,
    pub tries: u32,
    /// When entry times out if nothing more is typed.
    pub deadline_ms: u64,
}

/// Outcome of checking what a caller typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    Room,
    Host,
    Wrong,
}

/// Compares in time that depends only on the lengths, so a caller cannot learn
/// how many leading digits were right from how long the refusal takes.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    diff == 0
}

/// Host PIN first: a caller who knows it becomes a moderator.
pub fn check_pin(entered: &str, pin: Option<&str>, host_pin: Option<&str>) -> PinCheck {
    let host = host_pin.is_some_and(|h| constant_time_eq(entered, h));
    let room = pin.is_some_and(|p| constant_time_eq(entered, p));
    if host {
        PinCheck::Host
    } else if room {
        PinCheck::Room
    } else {
        PinCheck::Wrong
    }
}

/// Failed attempts in the last minute, per room, to slow brute force.
#[derive(Debug, Default)]
pub struct FailureWindow {
    times_ms: VecDeque<u64>,
}

impl FailureWindow {
    pub fn record(&mut self, now_ms: u64) {
        self.prune(now_ms);
        // Bounded: only the count within the window matters.
        if self.times_ms.len() < 10_000 {
            self.times_ms.push_back(now_ms);
        }
    }

    pub fn count(&mut self, now_ms: u64) -> usize {
        self.prune(now_ms);
        self.times_ms.len()
    }

    fn prune(&mut self, now_ms: u64) {
        while self
            .times_ms
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= 60_000)
        {
            self.times_ms.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_compare_exactly() {
        assert!(constant_time_eq("1234", "1234"));
        assert!(!constant_time_eq("1234", "1235"));
        assert!(!constant_time_eq("123", "1234"));
        assert!(!constant_time_eq("12345", "1234"));
        assert!(!constant_time_eq("", "1"));
        assert!(constant_time_eq("", ""));
        assert_eq!(
            check_pin("9999", Some("1234"), Some("9999")),
            PinCheck::Host
        );
        assert_eq!(
            check_pin("1234", Some("1234"), Some("9999")),
            PinCheck::Room
        );
        assert_eq!(
            check_pin("0000", Some("1234"), Some("9999")),
            PinCheck::Wrong
        );
    }

    #[test]
    fn failure_window_forgets_after_a_minute() {
        let mut w = FailureWindow::default();
        for t in 0..5 {
            w.record(t * 1000);
        }
        assert_eq!(w.count(10_000), 5);
        assert_eq!(w.count(60_500), 4);
        assert_eq!(w.count(120_000), 0);
    }
}
