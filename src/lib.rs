//! huddle: conference rooms for softswitches, as a `cdylib` with a C ABI.
//!
//! Layers, each importing only those below it (`tests/layers.rs` checks):
//! - `abi`: every `extern "C"` function, handles, the panic boundary and the
//!   host callback table;
//! - `runtime`: threads, clocks, queues, the host outbox, recordings;
//! - `control`: app args, the operator API, DTMF maps, config;
//! - `room`: the sans-IO room core (time is an argument);
//! - `audio`: pure kernels and codecs that know nothing of rooms.
//!
//! `unsafe` is refused everywhere but in `abi`, where the compiler is told
//! so explicitly: libopus is reached through the safe `audiopus` crate and
//! the L16 byte view through `bytemuck`.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod abi;
pub mod audio;
pub mod control;
pub mod room;
pub mod runtime;
