//! Routes `log` records to the host of the module instance that produced them.
//!
//! The `log` facade has one logger per process (per copy of huddle), but
//! several module instances may be loaded, each with its own host. Every
//! entry point and every huddle thread enters its module's scope; records
//! made outside any scope (e.g. a NULL module handle) go to every loaded
//! instance, so the host still hears about them.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use once_cell::sync::Lazy;

use super::outbox::{HostCall, Outbox};

/// One module's log destination and level.
pub struct LogSink {
    level: AtomicUsize,
    outbox: Outbox,
}

impl LogSink {
    pub fn new(level: log::LevelFilter, outbox: Outbox) -> Arc<LogSink> {
        let sink = Arc::new(LogSink {
            level: AtomicUsize::new(level as usize),
            outbox,
        });
        let mut all = ALL.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&sink));
        sink
    }

    /// Stops records made outside any scope (a stale handle's warning) from
    /// reaching this sink: a module shutting down hears only its own lines.
    pub fn detach(self: &Arc<Self>) {
        let me = Arc::as_ptr(self);
        ALL.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), me));
    }

    pub fn set_level(&self, level: log::LevelFilter) {
        self.level.store(level as usize, Ordering::Relaxed);
    }

    fn enabled(&self, level: log::Level) -> bool {
        (level as usize) <= self.level.load(Ordering::Relaxed)
    }

    fn push(&self, record: &log::Record<'_>) {
        if self.enabled(record.level()) {
            self.outbox.push_log(HostCall::Log {
                level: record.level(),
                target: record.target().to_string(),
                // One record is one line, whatever a caller, operator or
                // file put into the values it formats.
                message: crate::control::escape_controls(&record.args().to_string()).into_owned(),
            });
        }
    }
}

static ALL: Lazy<Mutex<Vec<Weak<LogSink>>>> = Lazy::new(|| Mutex::new(Vec::new()));

thread_local! {
    static CURRENT: RefCell<Option<Arc<LogSink>>> = const { RefCell::new(None) };
    /// A record went to every instance from this thread (no scope): the FFI
    /// boundary then delivers it before the call returns.
    static UNSCOPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The sink this thread's records go to now, if any: the panic hook keeps
/// it, so the boundary reports a panic to the instance whose call panicked.
pub fn current_sink() -> Option<Arc<LogSink>> {
    CURRENT.with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
}

/// Whether this thread logged outside any module's scope since last asked.
pub fn take_unscoped() -> bool {
    UNSCOPED.with(|u| u.replace(false))
}

/// While alive, this thread's records go to one sink; restores the previous
/// one on drop, so nested entry points (a host callback re-entering huddle)
/// keep working.
pub struct Scope {
    previous: Option<Arc<LogSink>>,
}

impl Scope {
    pub fn enter(sink: &Arc<LogSink>) -> Scope {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(sink.clone()));
        Scope { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

struct Router;

impl log::Log for Router {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let current = CURRENT.with(|c| c.borrow().clone());
        match current {
            Some(sink) => sink.push(record),
            None => {
                UNSCOPED.with(|u| u.set(true));
                let all: Vec<Arc<LogSink>> = ALL
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter_map(Weak::upgrade)
                    .collect();
                for sink in all {
                    sink.push(record);
                }
            }
        }
    }

    fn flush(&self) {}
}

static ROUTER: Router = Router;

/// Installs the router once. If the process already has a `log` logger (huddle
/// linked into a Rust host as an rlib), that logger keeps the records.
pub fn install() {
    if log::set_logger(&ROUTER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

pub fn parse_level(name: &str) -> Option<log::LevelFilter> {
    name.parse().ok()
}
