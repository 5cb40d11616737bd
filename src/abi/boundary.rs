//! The panic boundary and the argument checks every export goes through.

use std::ffi::{c_char, CStr};
use std::time::Instant;

use once_cell::sync::Lazy;

use crate::room::LogLimit;
use crate::runtime::logging;
use crate::runtime::panics;
use crate::runtime::status::Status;

/// Longest string huddle reads from the host (app data, API commands, caller
/// fields, config paths). Anything longer is refused before it is copied.
pub(crate) const MAX_STRING: usize = 4096;

/// Runs `body` with panics caught: a panic is logged (through the host's log
/// callback, via the `log` facade) and becomes `on_panic`.
pub(crate) fn guard<T>(function: &str, on_panic: T, body: impl FnOnce() -> T) -> T {
    let result = panics::run_caught(body);
    let panicked = result.is_err();
    let out = match result {
        Ok(v) => v,
        Err((what, scope)) => {
            // The body's log scope unwound with it: `scope` reports to the
            // instance that was current where the panic happened.
            log::error!(target: "huddle::ffi", "{function}: internal error caught at the boundary: {what}");
            drop(scope);
            on_panic
        }
    };
    // Inside send_audio a room's tick is under way: host callbacks wait for
    // the next call (the line about the refused call included).
    if (logging::take_unscoped() || panicked) && !crate::runtime::inside_send_audio() {
        // A line about a NULL or unknown handle (every instance got it), or
        // about a panic: deliver it before returning (manual timer). Host
        // callbacks run here, outside the body: a panicking one (a Rust
        // host) must not unwind into the host either.
        let _ = panics::catch("delivering host calls", super::handles::flush_all);
    }
    out
}

/// Each export's body: `ffi_entry!("huddle_x", Status::Panic, { ... })`.
/// The macro sits inside the function so cbindgen sees a plain signature.
macro_rules! ffi_entry {
    ($name:literal, $on_panic:expr, $body:block) => {
        $crate::abi::boundary::guard($name, $on_panic, || $body)
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
                    $crate::abi::boundary::describe(status));
                return status;
            }
        }
    };
}
pub(crate) use try_arg;

pub(crate) fn describe(status: Status) -> &'static str {
    status.message().trim_end_matches('\0')
}

/// Warnings a host can trigger on every call, whatever state huddle is in:
/// a stale or NULL handle (a media thread still sending after its hangup or
/// after shutdown), a call from inside `send_audio`. One line per second per
/// slot, the line saying how many were held back; a handle (or a function,
/// for `send_audio`) hashes to one of the slots, so a host spraying handles
/// still gets at most SLOTS lines a second. Unthrottled, these lines kept
/// `huddle_module_shutdown` delivering them for 11 s behind a 20 µs log
/// callback.
const NOISY_SLOTS: usize = 64;
const NOISY_EVERY_MS: u64 = 1000;
static STALE_LOG: [LogLimit; NOISY_SLOTS] = [const { LogLimit::new() }; NOISY_SLOTS];
static INSIDE_LOG: [LogLimit; NOISY_SLOTS] = [const { LogLimit::new() }; NOISY_SLOTS];
static NOISY_EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// `Some(lines held back)` when a warning keyed by `key` may be logged now.
fn noisy_allow(slots: &[LogLimit; NOISY_SLOTS], key: usize) -> Option<u64> {
    let slot =
        key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - NOISY_SLOTS.trailing_zeros());
    let now_ms = NOISY_EPOCH.elapsed().as_millis() as u64;
    slots[slot % NOISY_SLOTS].allow(now_ms, NOISY_EVERY_MS)
}

/// For a bad handle's warning, keyed by handle and function.
pub(crate) fn stale_log_allow(key: usize) -> Option<u64> {
    noisy_allow(&STALE_LOG, key)
}

/// For a call from inside `send_audio`, keyed by function.
pub(crate) fn inside_log_allow(key: usize) -> Option<u64> {
    noisy_allow(&INSIDE_LOG, key)
}

/// Looks a handle up, returning early from an export with the lookup's
/// status; the warning naming the function is rate-limited per handle and
/// function.
macro_rules! try_handle {
    ($function:literal, $arg:literal, $handle:expr, $lookup:expr) => {
        match $lookup($handle) {
            Ok(v) => v,
            Err(status) => {
                let key = $handle.addr() ^ $function.as_ptr().addr();
                if let Some(held) = $crate::abi::boundary::stale_log_allow(key) {
                    log::warn!(target: "huddle::ffi", "{}: argument '{}': {}{}", $function, $arg,
                        $crate::abi::boundary::describe(status),
                        $crate::abi::boundary::held_note(held));
                }
                return status;
            }
        }
    };
}
pub(crate) use try_handle;

/// Refuses an export called from inside `send_audio` (it runs inside the
/// room's tick: the call could deadlock) with `HUDDLE_STATUS_INSIDE_CALLBACK`.
macro_rules! refuse_inside_send_audio {
    ($function:literal) => {
        if $crate::runtime::inside_send_audio() {
            if let Some(held) = $crate::abi::boundary::inside_log_allow($function.as_ptr().addr()) {
                log::warn!(target: "huddle::ffi", "{}: called from inside send_audio, which may not call into huddle; refused{}",
                    $function, $crate::abi::boundary::held_note(held));
            }
            return $crate::runtime::status::Status::InsideCallback;
        }
    };
}
pub(crate) use refuse_inside_send_audio;

pub(crate) fn held_note(held: u64) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} more like it not logged since the last line)")
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::sync::Mutex;

    use crate::room::io::{Channel, Event, OutFrame};
    use crate::runtime::Host;
    use crate::runtime::{CallerInfo, Module};

    /// Keeps its log lines; its event callback panics once when armed.
    #[derive(Default)]
    struct FakeHost {
        logs: Mutex<Vec<(log::Level, String)>>,
        explode: AtomicBool,
    }

    impl FakeHost {
        /// The lines containing `needle`, waiting up to 2 s for at least
        /// one: a test running beside this one on another thread may be
        /// delivering this module's queue (unscoped lines reach every
        /// module), and then the line arrives just after the guard returns.
        fn logged_soon(&self, needle: &str) -> Vec<String> {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            loop {
                let lines = self.logged(needle);
                if !lines.is_empty() || std::time::Instant::now() > deadline {
                    return lines;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }

        fn logged(&self, needle: &str) -> Vec<String> {
            let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
            logs.iter()
                .filter(|(_, l)| l.contains(needle))
                .map(|(lv, l)| format!("{lv} {l}"))
                .collect()
        }
    }

    impl Host for FakeHost {
        fn log(&self, level: log::Level, target: &str, message: &str) {
            let line = format!("{target}: {message}");
            let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
            logs.push((level, line));
        }
        fn send_audio(&self, _: &Channel, _: &OutFrame<'_>) {}
        fn hangup(&self, _: &Channel, _: u32) -> bool {
            true
        }
        fn event(&self, e: &Event) {
            if self.explode.swap(false, Ordering::AcqRel) {
                panic!("event callback exploded on {}", e.name);
            }
        }
        fn originate(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// For errors that only implement `Debug` (`Status`).
    fn debug(e: impl std::fmt::Debug) -> String {
        format!("{e:?}")
    }

    /// A manual-timer module on `host`, registered as a C handle.
    fn module(
        host: Arc<FakeHost>,
        tag: &str,
    ) -> Result<(Arc<Module>, std::path::PathBuf), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("huddle-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sounds"))?;
        std::fs::create_dir_all(dir.join("recordings"))?;
        let path = dir.join("huddle.conf");
        std::fs::write(
            &path,
            "[module]\ntimer = \"manual\"\nsounds_dir = \"sounds\"\nrecordings_dir = \"recordings\"\n",
        )?;
        crate::runtime::logging::install();
        Ok((Module::load(host, &path)?, dir))
    }

    /// The wrapper itself: a panicking body becomes `on_panic`, the host log
    /// gets one error line naming the function, the message and where, the
    /// thread goes on, and the next call through the wrapper is normal.
    #[test]
    fn a_panicking_body_is_caught_logged_and_becomes_the_error_value() -> TestResult {
        let host = Arc::new(FakeHost::default());
        let (m, dir) = module(host.clone(), "boundary-guard")?;
        // Registered like a loaded module: the boundary delivers to those.
        let handle = super::super::handles::add_module(m.clone());
        // As in every export: the body enters the module's log scope.
        let status = guard("huddle_test_entry", Status::Panic, || -> Status {
            let _scope = m.log_scope();
            let v: Vec<u32> = Vec::new();
            // An out-of-bounds index: a real bug, not an explicit panic!.
            Status::from_u32(v[usize::from(v.is_empty())]).unwrap_or(Status::Ok)
        });
        assert_eq!(status, Status::Panic);
        let lines = host.logged_soon("huddle_test_entry: internal error caught at the boundary");
        assert_eq!(lines.len(), 1, "{:?}", host.logged(""));
        assert!(lines[0].starts_with("ERROR huddle::ffi: "), "{}", lines[0]);
        assert!(lines[0].contains("index out of bounds"), "{}", lines[0]);
        assert!(lines[0].contains("src/abi/boundary.rs:"), "{}", lines[0]);
        // Other return types get their own error value.
        let p = guard("huddle_test_ptr", std::ptr::null::<u8>(), || {
            let _scope = m.log_scope();
            panic!("no pointer")
        });
        assert!(p.is_null());
        assert_eq!(host.logged_soon("huddle_test_ptr: internal error").len(), 1);
        // The thread is not left inside the boundary; the next call is normal.
        assert!(panics::settled());
        assert_eq!(
            guard("huddle_test_entry", Status::Panic, || Status::Ok),
            Status::Ok
        );
        super::super::handles::remove_module(handle)
            .map_err(debug)?
            .shutdown();
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }

    /// The real path: `huddle_module_api` through its C signature, on a
    /// module whose host's event callback panics (a Rust host can). The call
    /// returns HUDDLE_STATUS_PANIC, the line naming the function has reached
    /// host->log by the time it returns, and the module goes on working.
    #[test]
    fn a_panic_inside_an_export_returns_status_panic_and_the_module_goes_on() -> TestResult {
        use super::super::exports::{huddle_module_api, huddle_module_shutdown, huddle_str_free};
        let host = Arc::new(FakeHost::default());
        let (m, dir) = module(host.clone(), "boundary-export")?;
        let caller = |c: &str| CallerInfo {
            channel: c.to_string(),
            call_id: c.to_string(),
            ..Default::default()
        };
        m.app(caller("a"), "{beep=false}room").map_err(debug)?;
        m.app(caller("b"), "{beep=false}room").map_err(debug)?;
        m.flush_host_calls();
        let handle = super::super::handles::add_module(m.clone());
        let api = |cmd: &CStr| {
            let mut reply: *mut c_char = std::ptr::null_mut();
            let status = huddle_module_api(handle, cmd.as_ptr(), &mut reply);
            let text = if reply.is_null() {
                None
            } else {
                // SAFETY: a reply huddle returned, NUL-terminated, freed below.
                let t = unsafe { CStr::from_ptr(reply) }
                    .to_string_lossy()
                    .into_owned();
                huddle_str_free(reply);
                Some(t)
            };
            (status, text)
        };
        host.explode.store(true, Ordering::Release);
        let (status, _) = api(c"mute room all");
        assert_eq!(status, Status::Panic);
        let lines = host.logged("huddle_module_api: internal error caught at the boundary");
        assert_eq!(lines.len(), 1, "{:?}", host.logged(""));
        assert!(
            lines[0].contains("event callback exploded on participant-"),
            "{}",
            lines[0]
        );
        // The process and the module go on: the room is intact, commands and
        // their events work, and shutdown is clean.
        let (status, reply) = api(c"unmute room all");
        assert_eq!(status, Status::Ok);
        assert!(reply.ok_or("no reply")?.starts_with("+OK"));
        let (status, reply) = api(c"count room");
        assert_eq!(status, Status::Ok);
        assert!(reply.ok_or("no reply")?.contains('2'));
        assert_eq!(huddle_module_shutdown(handle), Status::Ok);
        // Only this instance heard of its panic (the other test's panics,
        // in parallel, went to theirs).
        assert_eq!(host.logged("internal error").len(), 1);
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }

    /// Every export runs its body inside `ffi_entry!` under its own name, so
    /// the two tests above cover them all. `huddle_version` and
    /// `huddle_strerror` only return static strings and have no body to guard.
    #[test]
    fn every_export_goes_through_the_boundary() -> TestResult {
        let src = include_str!("exports.rs");
        let mut checked = 0;
        for (i, _) in src.match_indices("pub extern \"C\" fn ") {
            let rest = &src[i + "pub extern \"C\" fn ".len()..];
            let name = &rest[..rest.find('(').ok_or("no parameter list")?];
            let body = &rest[..rest.find("\n}\n").ok_or("no end of body")?];
            if name == "huddle_version" || name == "huddle_strerror" {
                continue;
            }
            assert!(
                body.contains(&format!("ffi_entry!(\"{name}\"")),
                "{name} does not run inside ffi_entry!(\"{name}\", ...)"
            );
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} exports found");
        Ok(())
    }
}
