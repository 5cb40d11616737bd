//! The C boundary: every `extern "C"` function, the panic boundary, argument
//! checks, handles, the host callback wrapper and the libopus wrapper. The
//! only place with `unsafe`.

pub(crate) mod boundary;
pub mod exports;
pub mod handles;
pub(crate) mod host;
pub mod opus;
pub(crate) mod pcm;
pub(crate) mod simd;
pub mod sys;

pub use boundary::catch;
