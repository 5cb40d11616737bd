//! huddle: conference rooms for softswitches, as a `cdylib` with a C ABI.
//!
//! Layers, each using only those below it:
//! - `ffi`: every `extern "C"` function, handles, the panic boundary, the
//!   host callback wrapper and libopus (the only `unsafe` code);
//! - `runtime`: threads, clocks, queues, the host outbox, recordings;
//! - `control`: app args, the operator API, DTMF maps, config;
//! - `room`: the sans-IO room core (time is an argument);
//! - `audio`: pure kernels and codecs that know nothing of rooms.

pub mod audio;
pub mod control;
pub mod ffi;
pub mod host;
pub mod room;
pub mod runtime;
pub mod status;
