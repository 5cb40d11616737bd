pub mod audio;
pub mod ffi;
