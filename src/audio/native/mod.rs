//! The only audio code the compiler lets use `unsafe`: the libopus wrapper,
//! the switch to AVX2 kernels and the in-place view of L16 bytes as samples.
//! A leaf: it imports nothing from the rest of the crate, so nothing above
//! can reach it except through the safe functions it exports.

pub mod opus;
pub mod pcm;
pub mod simd;
