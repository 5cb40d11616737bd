//! Every function the host can call, and the interface table it looks up.
//!
//! Threading, for every function here: callable from any host thread, at any
//! time, concurrently, unless its comment says otherwise. None of them holds a
//! huddle lock while calling back into the host. None may be called from
//! inside the host's `send_audio` (it runs inside a room's tick): such a call
//! does nothing and returns `HUDDLE_STATUS_INSIDE_CALLBACK`.
#![allow(non_camel_case_types, non_upper_case_globals)] // C names: this is the ABI.

use std::ffi::{c_char, CString};
use std::path::Path;
use std::sync::Arc;

use super::boundary::{
    bytes_arg, ffi_entry, opt_str_arg, ref_arg, refuse_inside_send_audio, str_arg, try_arg,
    try_handle, write_out,
};
use super::c_host::CHost;
use super::handles::{self, huddle_member, huddle_module};
use super::sys;
use crate::room::io::Codec;
use crate::runtime::status::Status;
use crate::runtime::Host;
use crate::runtime::{CallerInfo, InFrame, MemberPort, Module};

/// The ABI version this module implements; the host's `huddle_host.abi_version`
/// must match it.
pub const HUDDLE_ABI_VERSION: u32 = sys::HUDDLE_HOST_ABI_VERSION;

/// Largest frame payload accepted: 60 ms of 48 kHz stereo L16 with room to spare.
const MAX_FRAME_BYTES: usize = 16 * 1024;

/// Delivers what a call queued for the host (manual timer) however the call
/// returns, early returns on bad arguments included: the header promises the
/// log line naming a bad argument arrives before the call returns.
/// `FlushOnDrop(module, true)` also waits for the recording writer (see
/// `Module::flush_host_calls`); the per-frame path only delivers.
struct FlushOnDrop<'a>(&'a Module, bool);

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.flush_host_calls();
        } else {
            self.0.deliver_host_calls();
        }
    }
}

/// The table a host finds with `dlsym(lib, "huddle_module_interface")`.
///
/// Check `abi_version` against `HUDDLE_HOST_ABI_VERSION` from the header the
/// host was built with before calling anything else. Each field points to the
/// `huddle_*` function of the same name; they are also exported directly.
#[repr(C)]
pub struct huddle_interface {
    pub abi_version: u32,
    pub version: extern "C" fn() -> *const c_char,
    pub strerror: extern "C" fn(u32) -> *const c_char,
    pub load:
        extern "C" fn(*const sys::huddle_host, *const c_char, *mut *mut huddle_module) -> Status,
    pub reload: extern "C" fn(*mut huddle_module) -> Status,
    pub shutdown: extern "C" fn(*mut huddle_module) -> Status,
    pub advance: extern "C" fn(*mut huddle_module, u32) -> Status,
    pub api: extern "C" fn(*mut huddle_module, *const c_char, *mut *mut c_char) -> Status,
    pub app: extern "C" fn(
        *mut huddle_module,
        *const sys::huddle_caller,
        *const c_char,
        *mut *mut huddle_member,
    ) -> Status,
    pub member_audio: extern "C" fn(*mut huddle_member, *const sys::huddle_frame) -> Status,
    pub member_dtmf: extern "C" fn(*mut huddle_member, c_char) -> Status,
    pub member_hangup: extern "C" fn(*mut huddle_member) -> Status,
    pub str_free: extern "C" fn(*mut c_char),
}

/// The module's entry table, in the style of FreeSWITCH's
/// `<mod>_module_interface`.
#[no_mangle]
pub static huddle_module_interface: huddle_interface = huddle_interface {
    abi_version: HUDDLE_ABI_VERSION,
    version: huddle_version,
    strerror: huddle_strerror,
    load: huddle_module_load,
    reload: huddle_module_reload,
    shutdown: huddle_module_shutdown,
    advance: huddle_module_advance,
    api: huddle_module_api,
    app: huddle_conference_app,
    member_audio: huddle_member_audio,
    member_dtmf: huddle_member_dtmf,
    member_hangup: huddle_member_hangup,
    str_free: huddle_str_free,
};

/// huddle's version, e.g. "0.1.0": a static string, never freed.
#[no_mangle]
pub extern "C" fn huddle_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A static description of a `huddle_status` value (or of an unknown one).
/// Never NULL, never freed.
#[no_mangle]
pub extern "C" fn huddle_strerror(status: u32) -> *const c_char {
    match Status::from_u32(status) {
        Some(s) => s.message().as_ptr().cast(),
        None => c"unknown huddle status".as_ptr(),
    }
}

/// Loads a module instance.
///
/// `host` is copied (the host may free it after the call); its `abi_version`
/// must equal `HUDDLE_HOST_ABI_VERSION`, otherwise `HUDDLE_STATUS_ABI_MISMATCH`
/// and a log line through `host->log`. `config_path` names the TOML config
/// (see conf/huddle.conf); errors name file:line:key in the log and return
/// `HUDDLE_STATUS_CONFIG`. On success `*out_module` receives a handle to
/// release with `huddle_module_shutdown`. Several instances may be loaded at
/// once; they share nothing.
#[no_mangle]
pub extern "C" fn huddle_module_load(
    host: *const sys::huddle_host,
    config_path: *const c_char,
    out_module: *mut *mut huddle_module,
) -> Status {
    ffi_entry!("huddle_module_load", Status::Panic, {
        refuse_inside_send_audio!("huddle_module_load");
        crate::runtime::logging::install();
        let table = *try_arg!("huddle_module_load", "host", ref_arg(host));
        let c_host = CHost::new(table);
        if table.abi_version != HUDDLE_ABI_VERSION {
            c_host.log(
                log::Level::Error,
                "huddle::ffi",
                &format!(
                    "huddle_module_load: host built for ABI version {}, this module implements {}; refusing to load",
                    table.abi_version, HUDDLE_ABI_VERSION
                ),
            );
            return Status::AbiMismatch;
        }
        if out_module.is_null() {
            c_host.log(
                log::Level::Error,
                "huddle::ffi",
                "huddle_module_load: argument 'out_module' is NULL",
            );
            return Status::NullArgument;
        }
        let path = match str_arg(config_path) {
            Ok(p) => p,
            Err(status) => {
                c_host.log(
                    log::Level::Error,
                    "huddle::ffi",
                    &format!(
                        "huddle_module_load: argument 'config_path': {}",
                        super::boundary::describe(status)
                    ),
                );
                return status;
            }
        };
        let host: Arc<dyn Host> = Arc::new(c_host);
        match Module::load(host.clone(), Path::new(path)) {
            Ok(module) => {
                let handle = handles::add_module(module.clone());
                module.flush_host_calls();
                try_arg!(
                    "huddle_module_load",
                    "out_module",
                    write_out(out_module, handle)
                );
                Status::Ok
            }
            Err(err) => {
                // Straight to the host (no module, so no log sink): escaped
                // here, as the sink escapes every other line.
                host.log(
                    log::Level::Error,
                    "huddle::config",
                    &crate::control::escape_controls(&format!("huddle_module_load: {err}")),
                );
                Status::Config
            }
        }
    })
}

/// Re-reads the config file. On error the old configuration stays in force,
/// the log names file:line:key and `HUDDLE_STATUS_CONFIG` is returned. New
/// rooms and members use the new file; live rooms keep their settings.
#[no_mangle]
pub extern "C" fn huddle_module_reload(module: *mut huddle_module) -> Status {
    ffi_entry!("huddle_module_reload", Status::Panic, {
        refuse_inside_send_audio!("huddle_module_reload");
        let module = try_handle!("huddle_module_reload", "module", module, handles::module);
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, true);
        let status = match module.reload(false) {
            Ok(_) => Status::Ok,
            Err(err) => {
                log::error!(target: "huddle::config", "reload refused, keeping the old configuration: {err}");
                Status::Config
            }
        };
        status
    })
}

/// Ends every room (hanging up their legs through the host), finalises
/// recordings, joins every huddle thread and releases the handle and every
/// member handle it issued. Later calls with these handles return
/// `HUDDLE_STATUS_STALE_HANDLE`. Blocks until done; do not call it from inside
/// a huddle callback.
#[no_mangle]
pub extern "C" fn huddle_module_shutdown(module: *mut huddle_module) -> Status {
    ffi_entry!("huddle_module_shutdown", Status::Panic, {
        refuse_inside_send_audio!("huddle_module_shutdown");
        let module = try_handle!(
            "huddle_module_shutdown",
            "module",
            module,
            handles::remove_module
        );
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, true);
        module.shutdown();
        Status::Ok
    })
}

/// With `timer = "manual"`: advances the module's clock by `ms` milliseconds,
/// running every mixer tick that falls due, in order, on the calling thread,
/// then delivers the callbacks they produced. Returns
/// `HUDDLE_STATUS_WRONG_TIMER` with the realtime timer. `ms` ≤ 3,600,000.
#[no_mangle]
pub extern "C" fn huddle_module_advance(module: *mut huddle_module, ms: u32) -> Status {
    ffi_entry!("huddle_module_advance", Status::Panic, {
        refuse_inside_send_audio!("huddle_module_advance");
        let module = try_handle!("huddle_module_advance", "module", module, handles::module);
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, true);
        if ms > 3_600_000 {
            log::warn!(target: "huddle::ffi", "huddle_module_advance: argument 'ms': {ms} is more than an hour");
            return Status::InvalidArgument;
        }
        let status = match module.advance(u64::from(ms)) {
            Ok(()) => Status::Ok,
            Err(_) => {
                log::warn!(target: "huddle::ffi", "huddle_module_advance: the module runs the realtime timer");
                Status::WrongTimer
            }
        };
        status
    })
}

/// Runs one operator command (`conference list`, `conference json list`,
/// `kick 3000 all`, ...; the leading word "conference" is optional; at most
/// 4096 bytes). `*out_reply` receives the reply, text or JSON, to free with
/// `huddle_str_free`. A command that fails (unknown room, bad arguments) still
/// returns `HUDDLE_STATUS_OK` with an error reply (`-ERR <code> <message>`, or
/// `{"ok":false,...}`): the status is about the call, the reply about the
/// command.
#[no_mangle]
pub extern "C" fn huddle_module_api(
    module: *mut huddle_module,
    command: *const c_char,
    out_reply: *mut *mut c_char,
) -> Status {
    ffi_entry!("huddle_module_api", Status::Panic, {
        refuse_inside_send_audio!("huddle_module_api");
        let module = try_handle!("huddle_module_api", "module", module, handles::module);
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, true);
        if out_reply.is_null() {
            log::warn!(target: "huddle::ffi", "huddle_module_api: argument 'out_reply' is NULL");
            return Status::NullArgument;
        }
        let command = try_arg!("huddle_module_api", "command", str_arg(command));
        let reply = module.api(command);
        let reply = CString::new(reply.replace('\0', "?")).unwrap_or_default();
        try_arg!(
            "huddle_module_api",
            "out_reply",
            write_out(out_reply, reply.into_raw())
        );
        Status::Ok
    })
}

/// The `conference` dialplan application: puts the call leg described by
/// `caller` (channel required) into the room named by `app_data` (grammar in
/// the README: `3000@default+1234+flags{moderator}` or
/// `{muted=true,...}Room`).
///
/// On success `*out_member` receives the member handle; the caller may still
/// be entering a PIN or waiting for the host. On refusal (bad app data,
/// unknown room, locked, full, too many PIN failures) the host's hangup
/// callback receives the Q.850 cause, the log names the reason, and
/// `HUDDLE_STATUS_REFUSED` is returned. Release every member handle exactly
/// once with `huddle_member_hangup`, whoever ended the call.
#[no_mangle]
pub extern "C" fn huddle_conference_app(
    module: *mut huddle_module,
    caller: *const sys::huddle_caller,
    app_data: *const c_char,
    out_member: *mut *mut huddle_member,
) -> Status {
    ffi_entry!("huddle_conference_app", Status::Panic, {
        refuse_inside_send_audio!("huddle_conference_app");
        let handle = module;
        let module = try_handle!("huddle_conference_app", "module", module, handles::module);
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, true);
        let caller = try_arg!("huddle_conference_app", "caller", ref_arg(caller));
        if out_member.is_null() {
            log::warn!(target: "huddle::ffi", "huddle_conference_app: argument 'out_member' is NULL");
            return Status::NullArgument;
        }
        let info = CallerInfo {
            channel: try_arg!(
                "huddle_conference_app",
                "caller->channel",
                str_arg(caller.channel)
            )
            .to_string(),
            account: try_arg!(
                "huddle_conference_app",
                "caller->account",
                opt_str_arg(caller.account)
            )
            .to_string(),
            call_id: try_arg!(
                "huddle_conference_app",
                "caller->call_id",
                opt_str_arg(caller.call_id)
            )
            .to_string(),
            from: try_arg!(
                "huddle_conference_app",
                "caller->from",
                opt_str_arg(caller.from)
            )
            .to_string(),
            to: try_arg!(
                "huddle_conference_app",
                "caller->to",
                opt_str_arg(caller.to)
            )
            .to_string(),
            caller_name: try_arg!(
                "huddle_conference_app",
                "caller->caller_name",
                opt_str_arg(caller.caller_name)
            )
            .to_string(),
        };
        let app_data = try_arg!("huddle_conference_app", "app_data", str_arg(app_data));
        let status = match module.app(info, app_data) {
            Ok(port) => {
                let member = handles::add_member(handle, port);
                try_arg!(
                    "huddle_conference_app",
                    "out_member",
                    write_out(out_member, member)
                );
                Status::Ok
            }
            Err(status) => status,
        };
        status
    })
}

/// Hands one received frame to the member's jitter buffer. Never blocks on a
/// mixer tick: frames cross to the mixer through a bounded mailbox per member
/// whose lock is held only to move frames in or out (when it holds 16 frames
/// the oldest is dropped and counted). A malformed frame returns
/// `HUDDLE_STATUS_BAD_FRAME` and is counted in `conference stats`. Typically
/// called from the host's media thread.
#[no_mangle]
pub extern "C" fn huddle_member_audio(
    member: *mut huddle_member,
    frame: *const sys::huddle_frame,
) -> Status {
    ffi_entry!("huddle_member_audio", Status::Panic, {
        refuse_inside_send_audio!("huddle_member_audio");
        let (port, module) = try_handle!(
            "huddle_member_audio",
            "member",
            member,
            handles::member_for_frame
        );
        let module = match module {
            Some(module) => module,
            None => {
                if let Some(status) = member_audio_quick(&port, frame) {
                    return status;
                }
                try_handle!("huddle_member_audio", "member", member, handles::member).0
            }
        };
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, false);
        member_audio(&module, &port, frame)
    })
}

/// A good frame for a member of a realtime module, queued without taking
/// the module, its log scope or its host-call delivery (none of which a
/// good frame needs): each of those wrote a line that all media threads
/// share, every frame. `None` for anything else (a bad argument or frame, a
/// member gone): the full path then counts, logs and answers it, having
/// done nothing here.
fn member_audio_quick(port: &MemberPort, frame: *const sys::huddle_frame) -> Option<Status> {
    let frame = ref_arg(frame).ok()?;
    let data = bytes_arg(frame.data, frame.len, MAX_FRAME_BYTES).ok()?;
    let input = in_frame(frame, Codec::from_u32(frame.codec)?);
    port.take_frame(input, data).ok().map(|()| Status::Ok)
}

/// The frame as huddle queues it, its payload not yet copied.
fn in_frame(frame: &sys::huddle_frame, codec: Codec) -> InFrame {
    InFrame {
        codec,
        rate: frame.sample_rate,
        samples: frame.samples,
        data: Vec::new(),
        audio_level: (0..=127)
            .contains(&frame.audio_level)
            .then_some(frame.audio_level as u8),
        sequence: (0..=65535)
            .contains(&frame.sequence)
            .then_some(frame.sequence as u16),
    }
}

/// `huddle_member_audio` once its member is found.
fn member_audio(
    module: &Module,
    port: &crate::runtime::MemberPort,
    frame: *const sys::huddle_frame,
) -> Status {
    let frame = try_arg!("huddle_member_audio", "frame", ref_arg(frame));
    let data = try_arg!(
        "huddle_member_audio",
        "frame->data",
        bytes_arg(frame.data, frame.len, MAX_FRAME_BYTES)
    );
    let Some(codec) = Codec::from_u32(frame.codec) else {
        port.count_bad_frame();
        log::debug!(target: "huddle::ffi", "huddle_member_audio: argument 'frame->codec': unknown codec {}", frame.codec);
        return Status::BadFrame;
    };
    module.member_audio_borrowed(port, in_frame(frame, codec), data)
}

/// Hands one DTMF digit (0-9, *, #, A-D) to the member: PIN entry or caller
/// controls. Takes the room's lock briefly; callable from any host thread.
/// A member may send 32 digits at once and 16 a second after that; digits
/// past that budget are dropped, counted and logged (rate-limited) and return
/// `HUDDLE_STATUS_LIMIT`.
#[no_mangle]
pub extern "C" fn huddle_member_dtmf(member: *mut huddle_member, digit: c_char) -> Status {
    ffi_entry!("huddle_member_dtmf", Status::Panic, {
        refuse_inside_send_audio!("huddle_member_dtmf");
        let (module, port) = try_handle!("huddle_member_dtmf", "member", member, handles::member);
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, true);
        let digit = digit as u8 as char;
        if !matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D') {
            log::warn!(target: "huddle::ffi", "huddle_member_dtmf: argument 'digit': {digit:?} is not a DTMF digit");
            return Status::InvalidArgument;
        }
        module.member_dtmf(&port, digit)
    })
}

/// The call leg is gone (or the host is done with it after huddle hung it
/// up): the member leaves its room and the handle is released. Call exactly
/// once per member handle; a second call returns `HUDDLE_STATUS_STALE_HANDLE`.
/// May be called from inside the `hangup` callback (the usual way to release
/// a member huddle hung up); from inside `send_audio` it returns
/// `HUDDLE_STATUS_INSIDE_CALLBACK` and the handle stays valid.
#[no_mangle]
pub extern "C" fn huddle_member_hangup(member: *mut huddle_member) -> Status {
    ffi_entry!("huddle_member_hangup", Status::Panic, {
        refuse_inside_send_audio!("huddle_member_hangup");
        let (module, port) = try_handle!(
            "huddle_member_hangup",
            "member",
            member,
            handles::remove_member
        );
        let _scope = module.log_scope();
        let _flush = FlushOnDrop(&module, true);
        module.member_hangup(&port);
        Status::Ok
    })
}

/// Frees a string huddle returned (API replies). `huddle_str_free(NULL)` does
/// nothing. Passing anything else than a string huddle returned is undefined
/// behaviour, as with `free`.
// The pointer is the C caller's promise; an `unsafe fn` would not show in C.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
#[no_mangle]
pub extern "C" fn huddle_str_free(s: *mut c_char) {
    ffi_entry!("huddle_str_free", (), {
        if !s.is_null() {
            // SAFETY: the ABI says `s` came from CString::into_raw in
            // huddle_module_api and is freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
