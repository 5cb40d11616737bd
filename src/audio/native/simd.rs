//! Wider vectors where the CPU has them. The crate is built for baseline
//! x86-64 (SSE2, four `i32` lanes) so that one `libhuddle.so` loads on any
//! host; the mixing kernels run in a copy compiled for AVX2 (eight lanes)
//! when the CPU reports it at run time. Calling code compiled for a CPU
//! feature is `unsafe`, which is why the switch lives here.

/// Runs `kernel` in a copy compiled for AVX2 when the CPU has it, else as
/// built. `kernel` is inlined into that copy, so its loops are vectorised
/// for the wider registers; the result is the same either way.
#[inline(always)]
pub fn widest<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above; the kernel
        // itself is safe code.
        return unsafe { with_avx2(kernel) };
    }
    kernel()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}
