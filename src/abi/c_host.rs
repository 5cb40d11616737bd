//! The host's C callback table behind the safe `Host` trait.

use std::ffi::{c_char, CString};

use super::sys;
use crate::room::io::{Channel, Event, OutFrame};
use crate::runtime::Host;

/// A copy of the host's table, checked at load.
pub(crate) struct CHost {
    table: sys::huddle_host,
}

// SAFETY: the ABI (ffi/huddle_host.h) requires every callback to be callable
// from any thread, and `ctx` is only ever passed back to those callbacks.
unsafe impl Send for CHost {}
// SAFETY: as above; huddle never reads or writes through `ctx` itself.
unsafe impl Sync for CHost {}

impl CHost {
    pub(crate) fn new(table: sys::huddle_host) -> CHost {
        CHost { table }
    }
}

/// Strings huddle builds may contain NUL only by mistake; replace rather than
/// drop the whole line.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}

impl Host for CHost {
    fn log(&self, level: log::Level, target: &str, message: &str) {
        let Some(log) = self.table.log else { return };
        let level = match level {
            log::Level::Error => sys::huddle_log_level::HUDDLE_LOG_ERROR,
            log::Level::Warn => sys::huddle_log_level::HUDDLE_LOG_WARN,
            log::Level::Info => sys::huddle_log_level::HUDDLE_LOG_INFO,
            log::Level::Debug => sys::huddle_log_level::HUDDLE_LOG_DEBUG,
            log::Level::Trace => sys::huddle_log_level::HUDDLE_LOG_TRACE,
        };
        let target = c_string(target);
        let message = c_string(message);
        // SAFETY: the host gave this function pointer for this purpose; both
        // strings are NUL-terminated and outlive the call.
        unsafe { log(self.table.ctx, level, target.as_ptr(), message.as_ptr()) };
    }

    fn send_audio(&self, channel: &Channel, frame: &OutFrame<'_>) {
        let Some(send) = self.table.send_audio else {
            return;
        };
        let c_frame = sys::huddle_frame {
            codec: frame.codec as u32,
            sample_rate: frame.rate,
            samples: frame.samples,
            data: frame.data.as_ptr(),
            len: frame.data.len(),
            audio_level: -1,
            sequence: -1,
        };
        // SAFETY: the frame and its data, and the channel string, live until
        // the callback returns, which is all the ABI promises.
        unsafe { send(self.table.ctx, channel.as_c_str().as_ptr(), &c_frame) };
    }

    fn hangup(&self, channel: &Channel, cause: u32) -> bool {
        let Some(hangup) = self.table.hangup else {
            return false;
        };
        // SAFETY: a host-provided callback with a NUL-terminated channel id
        // that outlives the call.
        unsafe { hangup(self.table.ctx, channel.as_c_str().as_ptr(), cause) };
        true
    }

    fn event(&self, event: &Event) {
        let Some(callback) = self.table.event else {
            return;
        };
        let name = c_string(&event.name);
        let strings: Vec<(CString, CString)> = event
            .fields
            .iter()
            .map(|(k, v)| (c_string(k), c_string(v)))
            .collect();
        let fields: Vec<sys::huddle_event_field> = strings
            .iter()
            .map(|(k, v)| sys::huddle_event_field {
                key: k.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let c_event = sys::huddle_event {
            name: name.as_ptr(),
            fields: fields.as_ptr(),
            field_count: fields.len(),
        };
        // SAFETY: every pointer in c_event points into `name`, `strings` and
        // `fields`, which outlive the call.
        unsafe { callback(self.table.ctx, &c_event) };
    }

    fn originate(&self, destination: &str, room: &str, account: &str) -> Result<(), String> {
        let Some(originate) = self.table.originate else {
            return Err("the host has no originate callback".to_string());
        };
        let (d, r, a) = (c_string(destination), c_string(room), c_string(account));
        let (dp, rp, ap): (*const c_char, *const c_char, *const c_char) =
            (d.as_ptr(), r.as_ptr(), a.as_ptr());
        // SAFETY: host-provided callback; the three strings outlive the call.
        let rc = unsafe { originate(self.table.ctx, dp, rp, ap) };
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("the host's originate returned {rc}"))
        }
    }
}
