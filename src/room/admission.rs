//! PIN entry, before a caller is admitted.

use std::collections::VecDeque;
use std::hint::black_box;

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

/// How many byte positions `constant_time_eq` always visits: more than the
/// longest PIN (20 digits) or PIN entry, so for every real input the time
/// taken says nothing about either length.
pub const COMPARE_WIDTH: usize = 32;

/// Compares in time that depends on neither content nor (up to
/// COMPARE_WIDTH) length, so a caller cannot learn how many leading digits
/// were right, or how long the PIN is, from how long the refusal takes.
///
/// Every position up to the longer input (at least COMPARE_WIDTH) is visited;
/// a position past an input's end reads as 0. The length difference is
/// folded into the accumulator instead of tested, nothing exits early, and
/// `black_box` on each step's value keeps the optimiser from proving that
/// the result is settled after the first difference and cutting the loop
/// short.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let width = a.len().max(b.len()).max(COMPARE_WIDTH);
    // Nonzero exactly when the lengths differ (all bits of a usize kept:
    // lengths 256 apart must not cancel).
    let mut diff: usize = black_box(a.len() ^ b.len());
    for i in 0..width {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff = black_box(diff | usize::from(x ^ y));
    }
    black_box(diff) == 0
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

    /// The comparison agrees with `==` on every pair of a set built to
    /// catch the ways a hand-written comparison goes wrong: prefixes, one
    /// byte off at the start, middle or end, NULs, lengths that differ by
    /// 256 (which cancel if the length is cut to a byte), inputs longer than
    /// COMPARE_WIDTH, and non-ASCII text.
    #[test]
    fn agrees_with_eq_on_tricky_pairs() {
        let mut set: Vec<String> = vec![
            String::new(),
            "\0".into(),
            "0".into(),
            "1234".into(),
            "1234\0".into(),
            "\u{0}1234".into(),
            "1235".into(),
            "0234".into(),
            "1204".into(),
            "123".into(),
            "12345".into(),
            "é".into(),
            "e\u{301}".into(),
        ];
        for n in [19, 20, 21, 31, 32, 33, 44, 256, 300, 512] {
            let base = "7".repeat(n);
            set.push(base.clone());
            let mut first = base.clone().into_bytes();
            first[0] = b'8';
            set.push(String::from_utf8(first).unwrap());
            let mut last = base.into_bytes();
            last[n - 1] = b'8';
            set.push(String::from_utf8(last).unwrap());
        }
        let mut pairs = 0;
        for a in &set {
            for b in &set {
                assert_eq!(constant_time_eq(a, b), a == b, "{a:?} vs {b:?}");
                pairs += 1;
            }
        }
        assert!(pairs > 1000);
        // Lengths 256 apart over a common prefix: not equal.
        assert!(!constant_time_eq(&"1".repeat(300), &"1".repeat(44)));
        assert!(!constant_time_eq(&"1".repeat(256), ""));
    }

    /// Random digit strings of random lengths (seeded), a fifth of them
    /// compared with themselves.
    #[test]
    fn agrees_with_eq_on_random_pins() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let pin = |next: &mut dyn FnMut() -> u64| {
            let len = (next() % 24) as usize;
            (0..len)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect::<String>()
        };
        for _ in 0..20_000 {
            let a = pin(&mut next);
            let b = if next() % 5 == 0 {
                a.clone()
            } else {
                pin(&mut next)
            };
            assert_eq!(constant_time_eq(&a, &b), a == b, "{a:?} vs {b:?}");
        }
    }

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
