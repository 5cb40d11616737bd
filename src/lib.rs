pub mod audio;
pub mod control;
pub mod ffi;
