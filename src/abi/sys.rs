//! bindgen's view of `ffi/huddle_host.h`: the host callback table, frames,
//! caller info and events, exactly as C lays them out.
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code
)]
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/host_bindings.rs"));
