//! The panic boundary and the argument checks every export goes through.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr};
use std::sync::Once;

use crate::status::Status;

/// Longest string huddle reads from the host (app data, API commands, caller
/// fields, config paths). Anything longer is refused before it is copied.
pub(crate) const MAX_STRING: usize = 4096;

thread_local! {
    /// True while this thread runs inside a huddle entry point or a huddle
    /// thread, so the panic hook knows the panic is ours to report.
    static INSIDE: Cell<u32> = const { Cell::new(0) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
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
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{payload} at {location}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body` with panics caught: a panic is logged (through the host's log
/// callback, via the `log` facade) and becomes `on_panic`.
pub(crate) fn guard<T>(function: &str, on_panic: T, body: impl FnOnce() -> T) -> T {
    install_panic_hook();
    INSIDE.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    INSIDE.with(|c| c.set(c.get() - 1));
    if crate::runtime::logging::take_unscoped() {
        // A line about a NULL or unknown handle: every instance got it.
        super::handles::flush_all();
    }
    match result {
        Ok(v) => v,
        Err(_) => {
            let what = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "unknown panic".to_string());
            log::error!(target: "huddle::ffi", "{function}: internal error caught at the boundary: {what}");
            on_panic
        }
    }
}

/// Like `guard`, for huddle's own threads and for room ticks: returns None
/// after logging when `body` panicked.
pub fn catch<T>(what: &str, body: impl FnOnce() -> T) -> Option<T> {
    install_panic_hook();
    INSIDE.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    INSIDE.with(|c| c.set(c.get() - 1));
    match result {
        Ok(v) => Some(v),
        Err(_) => {
            let msg = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "unknown panic".to_string());
            log::error!(target: "huddle", "{what}: internal error: {msg}");
            None
        }
    }
}

/// Each export's body: `ffi_entry!("huddle_x", Status::Panic, { ... })`.
/// The macro sits inside the function so cbindgen sees a plain signature.
macro_rules! ffi_entry {
    ($name:literal, $on_panic:expr, $body:block) => {
        $crate::ffi::boundary::guard($name, $on_panic, || $body)
    };
}
pub(crate) use ffi_entry;

/// Returns early from an export with a status, logging which argument of
/// which function was wrong.
macro_rules! try_arg {
    ($function:literal, $arg:literal, $expr:expr) => {
        match $expr {
            Ok(v) => v,
            Err(status) => {
                log::warn!(target: "huddle::ffi", "{}: argument '{}': {}", $function, $arg,
                    $crate::ffi::boundary::describe(status));
                return status;
            }
        }
    };
}
pub(crate) use try_arg;

pub(crate) fn describe(status: Status) -> &'static str {
    status.message().trim_end_matches('\0')
}

/// Borrows a NUL-terminated UTF-8 string of at most MAX_STRING bytes.
pub(crate) fn str_arg<'a>(p: *const c_char) -> Result<&'a str, Status> {
    if p.is_null() {
        return Err(Status::NullArgument);
    }
    // SAFETY: the ABI says string arguments are NUL-terminated and readable
    // for the call; strnlen stops at MAX_STRING + 1 so an unterminated or
    // huge buffer is never read past that bound.
    let len = unsafe { libc::strnlen(p, MAX_STRING + 1) };
    if len > MAX_STRING {
        return Err(Status::TooLong);
    }
    // SAFETY: strnlen found a NUL at `len` within the readable bound.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|_| Status::InvalidUtf8)
}

/// Like `str_arg`, with NULL read as "".
pub(crate) fn opt_str_arg<'a>(p: *const c_char) -> Result<&'a str, Status> {
    if p.is_null() {
        Ok("")
    } else {
        str_arg(p)
    }
}

/// Borrows a `(ptr, len)` byte buffer; `(NULL, 0)` is empty.
pub(crate) fn bytes_arg<'a>(p: *const u8, len: usize, max: usize) -> Result<&'a [u8], Status> {
    if len > max {
        return Err(Status::TooLong);
    }
    if p.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Status::NullArgument)
        };
    }
    // SAFETY: the ABI says `p` points to `len` readable bytes for the call;
    // len is bounded above so a garbage length cannot span the address space.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Borrows a struct the host passes by pointer.
pub(crate) fn ref_arg<'a, T>(p: *const T) -> Result<&'a T, Status> {
    // SAFETY: the ABI says a non-NULL struct pointer is valid and aligned for
    // the call; `as_ref` handles NULL.
    unsafe { p.as_ref() }.ok_or(Status::NullArgument)
}

/// Writes an out-parameter (only ever on success).
pub(crate) fn write_out<T>(out: *mut T, value: T) -> Result<(), Status> {
    if out.is_null() {
        return Err(Status::NullArgument);
    }
    // SAFETY: `out` is non-NULL and the ABI says it points to writable,
    // aligned storage for one T.
    unsafe { out.write(value) };
    Ok(())
}
