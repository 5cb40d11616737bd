//! What huddle needs from the host, as a safe Rust trait.
//!
//! `src/abi/c_host.rs` implements it over the C callback table; tests implement
//! it with a fake host that records what it was given.

use crate::room::io::{Channel, Event, OutFrame};

/// The host's side of the ABI. Implementations must be cheap to call and must
/// not block in `send_audio` (it runs on the mixer).
pub trait Host: Send + Sync {
    fn log(&self, level: log::Level, target: &str, message: &str);
    fn send_audio(&self, channel: &Channel, frame: &OutFrame<'_>);
    /// Returns false when the host has no hangup callback.
    fn hangup(&self, channel: &Channel, cause: u32) -> bool;
    fn event(&self, event: &Event);
    /// Returns Err with a reason when the dial could not be started.
    fn originate(&self, destination: &str, room: &str, account: &str) -> Result<(), String>;
}
