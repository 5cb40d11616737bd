//! Rate-limited log lines: a broken sender must not flood the host's log.
//!
//! One [`LogLimit`] per source (a member's port for frames refused at the
//! ABI, a member's input for packets that fail to decode in the room) lets
//! one line through per [`BAD_FRAME_LOG_EVERY_MS`], and the line that gets
//! through says how many were held back. Time is an argument, so the room
//! core stays clock-free; the state is atomic, so host media threads share
//! it without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// One bad-frame line per member per this many ms of room time.
pub const BAD_FRAME_LOG_EVERY_MS: u64 = 10_000;

#[derive(Debug, Default)]
pub struct LogLimit {
    /// Room time (ms) from which the next line may go out; 0 = now.
    next_ms: AtomicU64,
    /// Lines held back since the last one that went out.
    held: AtomicU64,
}

impl LogLimit {
    pub const fn new() -> LogLimit {
        LogLimit {
            next_ms: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` when a line may be logged
    /// at `now_ms`, at most once per `every_ms`; `None` when it must not.
    /// Two threads asking at once: only one of them gets to log.
    pub fn allow(&self, now_ms: u64, every_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Ordering::Relaxed);
        if now_ms < next
            || self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms.saturating_add(every_ms.max(1)),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            self.held.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.held.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_counting_the_rest() {
        let l = LogLimit::new();
        // A bad frame every 20 ms for 25 s: lines at 0, 10 s and 20 s.
        let allowed: Vec<(u64, u64)> = (0..1250u64)
            .filter_map(|i| l.allow(i * 20, 10_000).map(|held| (i * 20, held)))
            .collect();
        assert_eq!(allowed, [(0, 0), (10_000, 499), (20_000, 499)]);
    }

    #[test]
    fn sources_are_independent() {
        let (a, b) = (LogLimit::new(), LogLimit::new());
        assert_eq!(a.allow(5, 1000), Some(0));
        assert_eq!(a.allow(6, 1000), None);
        assert_eq!(b.allow(6, 1000), Some(0));
    }
}
