//! The runtime: threads, clocks, queues and the host. It owns the rooms
//! (each behind its own lock), runs their ticks on the manual clock or the
//! realtime mixer pool, and carries their outputs to the host.

mod host;
mod http_client;
mod idle_rooms;
pub mod logging;
mod module;
mod operator;
pub mod outbox;
pub(crate) mod panics;
pub(crate) mod paths;
mod pool;
mod recorder;
mod resolve;
mod rooms;
mod sounds;
pub mod status;
mod wait_url;
pub mod webhooks;

pub use crate::room::InFrame;
pub use host::Host;
pub use module::Module;
pub use resolve::CallerInfo;
pub use rooms::{inside_send_audio, MemberPort};
pub use status::Status;
