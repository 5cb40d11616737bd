//! The C ABI: every `extern "C"` function, the panic boundary, argument
//! checks, handles and the host's callback table. The only place the
//! compiler allows `unsafe`.

pub(crate) mod boundary;
pub(crate) mod c_host;
pub mod exports;
pub mod handles;
pub mod sys;
