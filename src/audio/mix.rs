//! Mixing kernels over plain slices.
//!
//! Every kernel first re-slices its arguments to one common length, so the
//! indexed inner loops carry no bounds checks and LLVM vectorises them. When
//! lengths differ only the common prefix is processed: the mixer always
//! passes equal-length frames, and silently doing the safe thing beats a
//! panic inside the audio tick.
//!
//! The crate is built for baseline x86-64 (SSE2, four `i32` lanes) so one
//! `libhuddle.so` loads on any host. The hot kernels are also compiled for
//! AVX2 (eight lanes) by `multiversion`, which picks that copy at run time
//! when the CPU has it: the baseline alone is 2-3x slower here (README,
//! Performance: the kernel case), and the switch needs `unsafe` that the
//! crate keeps inside that dependency rather than writing itself.

/// Unity gain in Q12 fixed point.
pub const UNITY_Q12: i32 = 4096;

/// Largest gain the kernels accept (+24 dB). Bounding it keeps
/// `i16 * gain` inside `i32`, so the scaled kernels need no widening.
pub const MAX_GAIN_Q12: i32 = 16 * UNITY_Q12;

const ROUND_Q12: i32 = 1 << 11;

/// `sum[i] += input[i]`.
///
/// Wrapping add: an `i32` accumulator cannot overflow with fewer than 65 537
/// full-scale inputs, and wrapping keeps debug builds free of overflow checks
/// in the loop.
#[multiversion::multiversion(targets("x86_64+avx2"))]
pub fn accumulate(sum: &mut [i32], input: &[i16]) {
    let n = sum.len().min(input.len());
    let (sum, input) = (&mut sum[..n], &input[..n]);
    for i in 0..n {
        sum[i] = sum[i].wrapping_add(i32::from(input[i]));
    }
}

/// `sum[i] += round(input[i] * gain_q12 / 4096)`; gain is clamped to
/// `0..=MAX_GAIN_Q12`. Unity gain adds the input exactly.
#[multiversion::multiversion(targets("x86_64+avx2"))]
pub fn accumulate_scaled(sum: &mut [i32], input: &[i16], gain_q12: i32) {
    let g = gain_q12.clamp(0, MAX_GAIN_Q12);
    if g == UNITY_Q12 {
        accumulate(sum, input);
        return;
    }
    let n = sum.len().min(input.len());
    let (sum, input) = (&mut sum[..n], &input[..n]);
    for i in 0..n {
        let scaled = (i32::from(input[i]) * g + ROUND_Q12) >> 12;
        sum[i] = sum[i].wrapping_add(scaled);
    }
}

/// Mix-minus: `out[i] = sum[i] - own[i]`, the room without this member.
#[multiversion::multiversion(targets("x86_64+avx2"))]
pub fn subtract(sum: &[i32], own: &[i16], out: &mut [i32]) {
    let n = sum.len().min(own.len()).min(out.len());
    let (sum, own, out) = (&sum[..n], &own[..n], &mut out[..n]);
    for i in 0..n {
        out[i] = sum[i].wrapping_sub(i32::from(own[i]));
    }
}

/// Decibels to a Q12 linear gain, rounded and clamped to
/// `0..=MAX_GAIN_Q12`. `-inf` (and anything below about -78 dB) mutes;
/// NaN is treated as unity so a bad config value cannot silence a member.
pub fn db_to_q12(db: f32) -> i32 {
    if db.is_nan() {
        return UNITY_Q12;
    }
    let linear = 10f64.powf(f64::from(db) / 20.0) * f64::from(UNITY_Q12);
    // The float-to-int cast saturates, and the clamp bounds the rest.
    (linear.round() as i64).clamp(0, i64::from(MAX_GAIN_Q12)) as i32
}

/// Scales samples in place by a Q12 gain (clamped like [`db_to_q12`]),
/// rounding to nearest and saturating at the i16 range.
pub fn apply_gain_i16(samples: &mut [i16], gain_q12: i32) {
    let g = gain_q12.clamp(0, MAX_GAIN_Q12);
    if g == UNITY_Q12 {
        return;
    }
    for s in samples.iter_mut() {
        let v = (i32::from(*s) * g + ROUND_Q12) >> 12;
        *s = v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorised loops against plain sums, at lengths that leave
    /// vector tails.
    #[test]
    fn kernels_equal_plain_sums_at_every_tail_length() {
        let mut x = 0x2545_f491_u32;
        let mut noise = |n: usize| -> Vec<i16> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as i16
                })
                .collect()
        };
        for n in [0, 1, 7, 8, 15, 16, 17, 31, 960, 963] {
            let (a, b) = (noise(n), noise(n));
            let mut sum = vec![0i32; n];
            accumulate(&mut sum, &a);
            accumulate(&mut sum, &b);
            let expected: Vec<i32> = a
                .iter()
                .zip(&b)
                .map(|(&p, &q)| i32::from(p) + i32::from(q))
                .collect();
            assert_eq!(sum, expected, "accumulate against plain sums, n = {n}");
            let mut out = vec![0i32; n];
            subtract(&sum, &a, &mut out);
            assert_eq!(
                out,
                b.iter().map(|&q| i32::from(q)).collect::<Vec<_>>(),
                "subtract, n = {n}"
            );
        }
    }

    #[test]
    fn accumulate_adds_samples() {
        let mut sum = [0, 10, -10, 100_000, -100_000];
        accumulate(&mut sum, &[1, -1, 32767, -32768, 5]);
        assert_eq!(sum, [1, 9, 32757, 67_232, -99_995]);
    }

    #[test]
    fn accumulate_only_touches_common_prefix() {
        let mut sum = [1, 1, 1];
        accumulate(&mut sum, &[5]);
        assert_eq!(sum, [6, 1, 1]);
    }

    #[test]
    fn accumulate_many_full_scale_inputs_stays_exact() {
        let mut sum = vec![0i32; 64];
        let loud = vec![i16::MIN; 64];
        for _ in 0..1000 {
            accumulate(&mut sum, &loud);
        }
        assert!(sum.iter().all(|&s| s == -32_768_000));
    }

    #[test]
    fn accumulate_scaled_golden() {
        let mut sum = [0i32; 6];
        // Half gain: 100 -> 50, -101 -> -50.5 rounds up to -50, 1 -> 0.5 -> 1.
        accumulate_scaled(&mut sum, &[100, -101, 1, 32767, -32768, 3], 2048);
        assert_eq!(sum, [50, -50, 1, 16384, -16384, 2]);
    }

    #[test]
    fn accumulate_scaled_unity_and_double() {
        let mut a = [7i32, 7];
        accumulate_scaled(&mut a, &[-3, 1234], 4096);
        assert_eq!(a, [4, 1241]);
        let mut b = [0i32, 0];
        accumulate_scaled(&mut b, &[32767, -32768], 8192);
        assert_eq!(b, [65534, -65536]);
    }

    #[test]
    fn accumulate_scaled_clamps_extreme_gain() {
        let mut sum = [0i32; 2];
        accumulate_scaled(&mut sum, &[32767, -32768], i32::MAX);
        assert_eq!(sum, [32767 * 16, -32768 * 16]);
        let mut sum = [0i32; 1];
        accumulate_scaled(&mut sum, &[1000], -5);
        assert_eq!(sum, [0]);
    }

    #[test]
    fn subtract_removes_own_voice() {
        let mut out = [0i32; 4];
        subtract(&[100, -50, 70_000, 0], &[100, 25, 32767, -32768], &mut out);
        assert_eq!(out, [0, -75, 37_233, 32768]);
    }

    #[test]
    fn db_to_q12_golden() {
        assert_eq!(db_to_q12(0.0), 4096);
        // 10^(6/20) = 1.99526 -> 8172.6
        assert_eq!(db_to_q12(6.0), 8173);
        // 10^(-6/20) = 0.501187 -> 2052.9
        assert_eq!(db_to_q12(-6.0), 2053);
        // 10^(-20/20) = 0.1 -> 409.6
        assert_eq!(db_to_q12(-20.0), 410);
        assert_eq!(db_to_q12(f32::NEG_INFINITY), 0);
        assert_eq!(db_to_q12(f32::INFINITY), MAX_GAIN_Q12);
        assert_eq!(db_to_q12(60.0), MAX_GAIN_Q12);
        assert_eq!(db_to_q12(f32::NAN), 4096);
    }

    #[test]
    fn apply_gain_saturates_and_rounds() {
        let mut s = [1000i16, -1000, 20000, -20000, 3, 0];
        apply_gain_i16(&mut s, 8192);
        assert_eq!(s, [2000, -2000, 32767, -32768, 6, 0]);
        let mut s = [1001i16, -1001, 1];
        apply_gain_i16(&mut s, 2048);
        // 500.5 -> 501, -500.5 -> -500 (round half up), 0.5 -> 1
        assert_eq!(s, [501, -500, 1]);
        let mut s = [1234i16, -32768];
        apply_gain_i16(&mut s, 4096);
        assert_eq!(s, [1234, -32768]);
        apply_gain_i16(&mut s, 0);
        assert_eq!(s, [0, 0]);
    }
}
