//! Output limiter for one listener's mix.
//!
//! A conference sum routinely exceeds 16 bits when several people talk at
//! once. Clipping it turns speech into a buzz, and wrapping it is worse, so
//! every output stream passes through a peak limiter. The limiter must not
//! colour normal speech at all: while the sum stays under the threshold and
//! the gain has recovered, samples pass through bit-exact.
//!
//! Gain is decided per frame from the frame's peak (instant attack: the
//! whole frame is scaled so its loudest sample lands on the threshold), and
//! released linearly per sample back to exactly unity. Using the frame peak
//! rather than each sample keeps the waveform's shape: a sine three times
//! full scale comes out as a quieter sine, not a square wave.

/// Limiting threshold, about -1 dBFS (`32767 * 10^(-1/20)`).
pub const THRESHOLD: i32 = 29204;

/// Time to release from full attenuation back to unity.
pub const RELEASE_MS: u32 = 50;

/// Per-output-stream limiter state. Allocation-free.
#[derive(Debug, Clone)]
pub struct Limiter {
    gain: f32,
    release_step: f32,
}

impl Limiter {
    /// State for a stream at `rate` Hz (a rate of 0 is treated as 8 kHz).
    pub fn new(rate: u32) -> Self {
        let rate = if rate == 0 { 8000 } else { rate };
        let release_samples = (rate as f32) * (RELEASE_MS as f32) / 1000.0;
        Limiter {
            gain: 1.0,
            release_step: 1.0 / release_samples,
        }
    }

    /// Current gain (1.0 = transparent); useful for metering.
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Forgets any gain reduction, e.g. when a stream restarts.
    pub fn reset(&mut self) {
        self.gain = 1.0;
    }

    /// Limits `input` into `out`. Only the common prefix of the two slices is
    /// processed.
    pub fn process(&mut self, input: &[i32], out: &mut [i16]) {
        let n = input.len().min(out.len());
        let (input, out) = (&input[..n], &mut out[..n]);

        let peak = input.iter().map(|&x| x.unsigned_abs()).max().unwrap_or(0);

        if peak <= THRESHOLD as u32 && self.gain >= 1.0 {
            // Fast path, and the reason bit-transparency holds: every sample
            // fits in i16 and is copied unchanged.
            for i in 0..n {
                out[i] = input[i] as i16;
            }
            return;
        }

        // The ceiling is the largest gain that keeps this frame's peak at or
        // under the threshold; release may never lift the gain above it.
        let ceiling = if peak > THRESHOLD as u32 {
            THRESHOLD as f32 / peak as f32
        } else {
            1.0
        };
        if ceiling < self.gain {
            self.gain = ceiling;
        }

        for i in 0..n {
            if self.gain < ceiling {
                self.gain = (self.gain + self.release_step).min(ceiling);
            }
            let y = if self.gain >= 1.0 {
                input[i] as f32
            } else {
                (input[i] as f32 * self.gain).round()
            };
            // The ceiling already bounds |y| by THRESHOLD; the clamp is the
            // belt to that brace against float rounding.
            out[i] = y.clamp(-32767.0, 32767.0) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine_i32(amp: f64, freq: f64, rate: f64, n: usize) -> Vec<i32> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / rate).sin()).round() as i32)
            .collect()
    }

    #[test]
    fn below_threshold_is_bit_exact() {
        let mut lim = Limiter::new(48000);
        let input: Vec<i32> = (0..960).map(|i| ((i * 7919) % 58409) - 29204).collect();
        assert!(input.iter().all(|x| x.abs() <= THRESHOLD));
        let mut out = vec![0i16; 960];
        for _ in 0..5 {
            lim.process(&input, &mut out);
            for (o, i) in out.iter().zip(&input) {
                assert_eq!(i32::from(*o), *i);
            }
        }
    }

    #[test]
    fn loud_sum_is_limited_without_wrapping() {
        let mut lim = Limiter::new(16000);
        // Two full-scale positive talkers plus one negative: sums far past i16.
        let input = vec![70_000i32, -90_000, 65_534, 1, -1, 0, 100_000, -29_205];
        let mut out = vec![0i16; input.len()];
        lim.process(&input, &mut out);
        for (o, i) in out.iter().zip(&input) {
            assert!(i32::from(*o).abs() <= THRESHOLD, "{o} from {i}");
            // Sign preserved: wrapping would flip it.
            assert!(i.signum() == 0 || i32::from(o.signum()) == i.signum() || *o == 0);
        }
        // The peak sample lands on the threshold.
        assert_eq!(out[6], 29204);
    }

    #[test]
    fn three_times_full_scale_sine_stays_a_sine() {
        let rate = 48000.0;
        let mut lim = Limiter::new(48000);
        let amp = 3.0 * 32767.0;
        let input = sine_i32(amp, 1000.0, rate, 4800);
        let mut out = vec![0i16; 4800];
        for (i, o) in input.chunks_exact(480).zip(out.chunks_exact_mut(480)) {
            lim.process(i, o);
        }
        assert!(out.iter().all(|&s| s > i16::MIN));
        // Least-squares fit of a*sin + b*cos at 1 kHz, then the residual:
        // a clipped square wave would leave ~ -10 dB of harmonics.
        let (mut s_sin, mut s_cos, mut energy) = (0.0, 0.0, 0.0);
        for (k, &y) in out.iter().enumerate() {
            let w = 2.0 * PI * 1000.0 * k as f64 / rate;
            s_sin += f64::from(y) * w.sin();
            s_cos += f64::from(y) * w.cos();
            energy += f64::from(y).powi(2);
        }
        let n = out.len() as f64;
        let (a, b) = (2.0 * s_sin / n, 2.0 * s_cos / n);
        let mut resid = 0.0;
        for (k, &y) in out.iter().enumerate() {
            let w = 2.0 * PI * 1000.0 * k as f64 / rate;
            resid += (f64::from(y) - a * w.sin() - b * w.cos()).powi(2);
        }
        let distortion_db = 10.0 * (resid / energy).log10();
        assert!(distortion_db < -60.0, "distortion {distortion_db} dB");
        let fitted_peak = (a * a + b * b).sqrt();
        assert!(fitted_peak <= 32767.0);
        // Scaled to land near the threshold, not squashed to nothing.
        assert!(fitted_peak > 0.9 * f64::from(THRESHOLD), "{fitted_peak}");
    }

    #[test]
    fn releases_back_to_exact_unity() {
        let mut lim = Limiter::new(8000);
        let mut out = [0i16; 80];
        lim.process(&[60_000; 80], &mut out);
        assert!(lim.gain() < 0.5);
        // 50 ms = 400 samples at 8 kHz: six 10 ms frames is past full release.
        let quiet: Vec<i32> = (0..80).map(|i| i * 300 - 12_000).collect();
        for _ in 0..6 {
            lim.process(&quiet, &mut out);
        }
        assert_eq!(lim.gain(), 1.0);
        lim.process(&quiet, &mut out);
        for (o, i) in out.iter().zip(&quiet) {
            assert_eq!(i32::from(*o), *i);
        }
    }

    #[test]
    fn release_is_gradual() {
        let mut lim = Limiter::new(8000);
        let mut out = [0i16; 80];
        lim.process(&[58_408; 80], &mut out);
        assert!((lim.gain() - 0.5).abs() < 1e-3);
        lim.process(&[10_000; 80], &mut out);
        // After 10 ms of a 50 ms full-scale release, gain rose by ~0.2.
        let g = lim.gain();
        assert!((g - 0.7).abs() < 0.01, "gain {g}");
        // Monotone rise, no jump back to unity.
        assert!(out.windows(2).all(|w| w[1] >= w[0]));
        assert!(out[79] < 10_000);
    }
}
