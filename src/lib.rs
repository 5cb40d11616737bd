pub mod audio;
pub mod control;
