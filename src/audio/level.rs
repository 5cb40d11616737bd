//! Signal levels in dBov, the unit RFC 6464 audio-level headers use.

/// Level reported for digital silence, the bottom of the RFC 6464 scale.
pub const SILENCE_DBOV: f32 = -127.0;

/// RMS level of `samples` in dBov, where 0 dBov is a full-scale square
/// wave (every sample at ±32767) and a full-scale sine is about -3 dBov.
/// The result is clamped to `-127.0..=0.0`; silence and empty input give
/// -127.
pub fn rms_dbov(samples: &[i16]) -> f32 {
    energy_dbov(energy(samples), samples.len())
}

/// `rms_dbov` of `n` samples whose squares sum to `energy`.
pub fn energy_dbov(energy: u64, n: usize) -> f32 {
    if n == 0 || energy == 0 {
        return SILENCE_DBOV;
    }
    let mean = energy as f64 / n as f64;
    let full = 32767.0f64 * 32767.0;
    let db = 10.0 * (mean / full).log10();
    (db as f32).clamp(SILENCE_DBOV, 0.0)
}

/// Sum of squares, exact. Every member's frame goes through this each tick,
/// so it is written for vectors: two squares summed in 32 bits (at most
/// 2^31, which fits unsigned; the multiply-add instructions do exactly
/// this), then widened and summed in 64 bits, which cannot overflow below
/// 2^33 samples.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn energy(samples: &[i16]) -> u64 {
    let pairs = samples.chunks_exact(2);
    let odd = pairs.remainder().first().map_or(0, |&s| {
        let s = i32::from(s);
        u64::from((s * s) as u32)
    });
    pairs
        .map(|p| {
            let (a, b) = (i32::from(p[0]), i32::from(p[1]));
            u64::from((a * a).wrapping_add(b * b) as u32)
        })
        .sum::<u64>()
        + odd
}

/// Converts an RFC 6464 level to dBov. The level field holds -dBov in its
/// low seven bits; the top bit is the voice-activity flag and is ignored, so
/// the raw extension byte can be passed as-is.
pub fn rfc6464_to_dbov(level: u8) -> f32 {
    -f32::from(level & 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_square_is_zero() {
        let sq: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 32767 } else { -32767 })
            .collect();
        assert!(rms_dbov(&sq).abs() < 1e-4);
        // -32768 is a hair over full scale and still clamps to 0.
        assert_eq!(rms_dbov(&[-32768; 10]), 0.0);
    }

    #[test]
    fn sine_and_scaled_levels() {
        let sine: Vec<i16> = (0..800)
            .map(|i| (32767.0 * (2.0 * std::f64::consts::PI * i as f64 / 80.0).sin()) as i16)
            .collect();
        // 20*log10(1/sqrt(2)) = -3.0103
        assert!((rms_dbov(&sine) + 3.0103).abs() < 0.01);
        // A constant 3277 (one tenth of full scale) is -20 dBov.
        assert!((rms_dbov(&[3277; 50]) + 20.0).abs() < 0.01);
    }

    #[test]
    fn energy_is_exact_at_the_extremes() {
        // Two -32768s are 2^31 together: one past i32, still exact here.
        assert_eq!(energy(&[-32768, -32768]), 1 << 31);
        assert_eq!(energy(&[-32768; 961]), 961 << 30);
        let mixed: Vec<i16> = (0..1001).map(|i| (i * 65 - 32768) as i16).collect();
        let expect: u64 = mixed
            .iter()
            .map(|&s| (i64::from(s) * i64::from(s)) as u64)
            .sum();
        assert_eq!(energy(&mixed), expect);
        assert_eq!(energy(&[]), 0);
        assert_eq!(energy(&[3]), 9);
    }

    #[test]
    fn silence_is_floor() {
        assert_eq!(rms_dbov(&[]), -127.0);
        assert_eq!(rms_dbov(&[0; 160]), -127.0);
        // One LSB is about -90 dBov, above the floor.
        assert!((rms_dbov(&[1; 160]) + 90.309).abs() < 0.01);
    }

    #[test]
    fn rfc6464_levels() {
        assert_eq!(rfc6464_to_dbov(0), 0.0);
        assert_eq!(rfc6464_to_dbov(45), -45.0);
        assert_eq!(rfc6464_to_dbov(127), -127.0);
        // V flag set, level 30.
        assert_eq!(rfc6464_to_dbov(0x80 | 30), -30.0);
    }
}
