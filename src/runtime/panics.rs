//! Panics in huddle's own code: a process-wide hook keeps them off the
//! host's stderr and remembers their message, so the C boundary (`abi`) and
//! huddle's own threads and room ticks can log them and go on.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Once};

use super::logging::{self, LogSink, Scope};

thread_local! {
    /// True while this thread runs inside a huddle entry point or a huddle
    /// thread, so the panic hook knows the panic is ours to report.
    static INSIDE: Cell<u32> = const { Cell::new(0) };
    /// The last panic's message and location, and the log sink (module
    /// instance) that was current where it happened.
    static LAST_PANIC: RefCell<Option<(String, Option<Arc<LogSink>>)>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs, once per process, a panic hook that keeps our panics off stderr
/// (the host owns stderr) and hands their message to the boundary, while
/// panics from the host's own Rust code still reach the previous hook.
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if INSIDE.with(|c| c.get()) > 0 {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_string());
                let what = format!("{payload} at {location}");
                LAST_PANIC.with(|p| *p.borrow_mut() = Some((what, logging::current_sink())));
            } else {
                previous(info);
            }
        }));
    });
}

/// The last panic's description, and a log scope for the instance that
/// was current where it happened (none: every instance hears of it).
fn take_panic() -> (String, Option<Scope>) {
    match LAST_PANIC.with(|p| p.borrow_mut().take()) {
        Some((what, sink)) => (what, sink.as_ref().map(Scope::enter)),
        None => ("unknown panic".to_string(), None),
    }
}

/// Runs `body` with panics caught; a panic comes back as its message and a
/// log scope for the instance that was current where it happened.
pub(crate) fn run_caught<T>(body: impl FnOnce() -> T) -> Result<T, (String, Option<Scope>)> {
    install_panic_hook();
    INSIDE.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    INSIDE.with(|c| c.set(c.get() - 1));
    result.map_err(|_| take_panic())
}

/// Like the boundary's guard, for huddle's own threads and for room ticks:
/// returns None after logging when `body` panicked.
pub fn catch<T>(what: &str, body: impl FnOnce() -> T) -> Option<T> {
    match run_caught(body) {
        Ok(v) => Some(v),
        Err((msg, scope)) => {
            log::error!(target: "huddle", "{what}: internal error: {msg}");
            drop(scope);
            None
        }
    }
}

/// No thread state left behind: outside every caught body, no panic pending.
#[cfg(test)]
pub(crate) fn settled() -> bool {
    INSIDE.with(|c| c.get()) == 0 && LAST_PANIC.with(|p| p.borrow().is_none())
}
