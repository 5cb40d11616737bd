//! The runtime: threads, clocks, queues and the host. It owns the rooms
//! (each behind its own lock), runs their ticks on the manual clock or the
//! realtime mixer pool, and carries their outputs to the host.

mod api;
mod idle_rooms;
pub mod logging;
mod module;
pub mod outbox;
mod pool;
mod recorder;
mod rooms;
mod settings;
mod sounds;
mod wait_url;
pub mod webhooks;

pub use crate::room::InFrame;
pub use module::{CallerInfo, Module};
pub use rooms::{inside_send_audio, MemberPort};
