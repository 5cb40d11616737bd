//! Band-limited sample-rate conversion with a fixed frame contract.
//!
//! The mixer needs exactly one output frame for every input frame, every
//! tick, with no allocation. Rates in a whole ratio up to 6 (8↔16, 16↔48,
//! 8↔48 kHz...: every pair of room rates but those with 24 or 32 kHz on one
//! side and 8/16/48 on the other's odd multiple) go through [`Polyphase`], a
//! linear-phase FIR whose delay is 24 samples at the lower rate (3 ms at
//! 8 kHz, 1.5 ms at 16 kHz). Other ratios go through rubato's
//! `FftFixedInOut`, which provides exactly that
//! shape: for a ratio `from:to` reduced by their gcd, it consumes chunks that
//! are a multiple of `from/gcd` frames and produces the matching multiple of
//! `to/gcd`. Any `frames_in` for which `frames_in * to / from` is a whole
//! number is such a multiple, so the chunk is simply the caller's frame and
//! no FIFO is needed. Its anti-aliasing filter is a Blackman-Harris windowed
//! sinc as long as one input frame, applied by overlap-add FFT convolution;
//! the price is a latency of half an output frame ([`Resampler::latency`]).

use rubato::{FftFixedInOut, Resampler as _};
use std::fmt;

/// Highest rate accepted, to bound FFT sizes for odd file rates.
pub const MAX_RATE: u32 = 384_000;

#[derive(Debug, Clone, PartialEq)]
pub enum ResampleError {
    /// A rate is zero or above [`MAX_RATE`].
    InvalidRate { from: u32, to: u32 },
    /// `frames_in` is zero or `frames_in * to / from` is not a whole number.
    FrameSize {
        from: u32,
        to: u32,
        frames_in: usize,
    },
    /// `process` was given an input slice of the wrong length.
    InputLength { expected: usize, actual: usize },
    /// `process` was given an output slice of the wrong length.
    OutputLength { expected: usize, actual: usize },
    /// rubato refused the buffers (should be unreachable: sizes are checked).
    Backend(String),
}

impl fmt::Display for ResampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResampleError::InvalidRate { from, to } => {
                write!(f, "cannot resample {from} Hz to {to} Hz: rates must be 1..={MAX_RATE}")
            }
            ResampleError::FrameSize { from, to, frames_in } => write!(
                f,
                "a frame of {frames_in} samples at {from} Hz is not a whole number of samples at {to} Hz"
            ),
            ResampleError::InputLength { expected, actual } => {
                write!(f, "resampler input has {actual} samples, expected {expected}")
            }
            ResampleError::OutputLength { expected, actual } => {
                write!(f, "resampler output has {actual} samples, expected {expected}")
            }
            ResampleError::Backend(msg) => write!(f, "resampler failed: {msg}"),
        }
    }
}

impl std::error::Error for ResampleError {}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn check_rates(from: u32, to: u32) -> Result<(), ResampleError> {
    if from == 0 || to == 0 || from > MAX_RATE || to > MAX_RATE {
        return Err(ResampleError::InvalidRate { from, to });
    }
    Ok(())
}

/// Half the filter length of [`Polyphase`], in samples at the lower rate:
/// its delay. 24 gives a 70 dB stopband from the lower Nyquist frequency up
/// with the passband flat to within 0.01 dB up to 82% of it (3.3 kHz of an
/// 8 kHz stream's 4), where the FFT resampler's frame-long filter cost half
/// a frame (10 ms at 20 ms frames).
const POLY_HALF: usize = 24;

/// Stopband attenuation the Kaiser window is designed for, in dB.
const POLY_STOPBAND_DB: f64 = 70.0;

/// Zeroth-order modified Bessel function of the first kind (Kaiser window).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0f64, 1.0f64);
    for k in 1..50 {
        term *= (x / 2.0) / k as f64;
        let t = term * term;
        sum += t;
        if t < sum * 1e-12 {
            break;
        }
    }
    sum
}

/// Linear-phase low-pass of `2 * POLY_HALF * ratio + 1` taps at the higher
/// rate, its stopband starting at the lower rate's Nyquist frequency (no
/// aliasing above 70 dB down), unity gain at DC.
fn poly_taps(ratio: usize) -> Vec<f64> {
    let delay = POLY_HALF * ratio;
    let n = 2 * delay + 1;
    let beta = 0.1102 * (POLY_STOPBAND_DB - 8.7);
    // Kaiser's estimate of the transition width (as a fraction of the higher
    // rate) that n taps reach at this attenuation.
    let transition =
        (POLY_STOPBAND_DB - 7.95) / (2.285 * 2.0 * std::f64::consts::PI * (n - 1) as f64);
    let cutoff = 0.5 / ratio as f64 - transition / 2.0;
    let i0_beta = bessel_i0(beta);
    let mut h: Vec<f64> = (0..n)
        .map(|k| {
            let t = k as f64 - delay as f64;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
            };
            let r = t / delay as f64;
            sinc * bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v /= sum;
    }
    h
}

/// Whole-ratio conversion (up or down by 2 to 6) by a polyphase FIR: only
/// the taps that meet real samples are computed, each output a dot product
/// over a contiguous slice of the input history.
struct Polyphase {
    ratio: usize,
    up: bool,
    /// Down: the symmetric filter. Up: per output phase, its taps in input
    /// order, scaled by the ratio (zero stuffing's gain), `per_phase` each.
    taps: Vec<f32>,
    per_phase: usize,
    /// The last `keep` input samples, then this frame's.
    hist: Vec<f32>,
    keep: usize,
    out: Vec<f32>,
}

impl Polyphase {
    fn new(ratio: usize, up: bool, frames_in: usize, frames_out: usize) -> Polyphase {
        let h = poly_taps(ratio);
        let n = h.len();
        let (taps, per_phase) = if up {
            let per_phase = n.div_ceil(ratio);
            let mut taps = vec![0.0f32; per_phase * ratio];
            for p in 0..ratio {
                for u in 0..per_phase {
                    let k = (per_phase - 1 - u) * ratio + p;
                    if k < n {
                        taps[p * per_phase + u] = (h[k] * ratio as f64) as f32;
                    }
                }
            }
            (taps, per_phase)
        } else {
            (h.iter().map(|&v| v as f32).collect(), n)
        };
        let keep = per_phase - 1;
        Polyphase {
            ratio,
            up,
            taps,
            per_phase,
            hist: vec![0.0; keep + frames_in],
            keep,
            out: vec![0.0; frames_out],
        }
    }

    /// Delay in output samples.
    fn latency(&self) -> usize {
        if self.up {
            POLY_HALF * self.ratio
        } else {
            POLY_HALF
        }
    }

    fn run(&mut self, input: &[i16]) {
        for (d, &s) in self.hist[self.keep..].iter_mut().zip(input) {
            *d = f32::from(s);
        }
        if self.up {
            for (q, chunk) in self.out.chunks_exact_mut(self.ratio).enumerate() {
                let x = &self.hist[q..q + self.per_phase];
                for (p, y) in chunk.iter_mut().enumerate() {
                    *y = dot(&self.taps[p * self.per_phase..(p + 1) * self.per_phase], x);
                }
            }
        } else {
            for (m, y) in self.out.iter_mut().enumerate() {
                let start = m * self.ratio;
                *y = dot(&self.taps, &self.hist[start..start + self.per_phase]);
            }
        }
        let len = self.hist.len();
        self.hist.copy_within(len - self.keep.., 0);
    }
}

/// Dot product in eight running sums: float addition is not associative, so
/// a single sum would keep the compiler from using SIMD lanes (5x slower).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The engine behind a non-identity [`Resampler`], with its preallocated
/// single-channel float buffers.
struct Engine {
    fft: FftFixedInOut<f32>,
    input: Vec<Vec<f32>>,
    output: Vec<Vec<f32>>,
}

impl Engine {
    fn new(from: u32, to: u32, frames_in: usize) -> Result<Self, ResampleError> {
        let fft = FftFixedInOut::<f32>::new(from as usize, to as usize, frames_in, 1)
            .map_err(|_| ResampleError::InvalidRate { from, to })?;
        let frames_out = fft.output_frames_next();
        if fft.input_frames_next() != frames_in {
            return Err(ResampleError::FrameSize {
                from,
                to,
                frames_in,
            });
        }
        Ok(Engine {
            fft,
            input: vec![vec![0.0; frames_in]],
            output: vec![vec![0.0; frames_out]],
        })
    }

    /// Runs one chunk from `self.input` into `self.output`.
    fn run(&mut self) -> Result<(), ResampleError> {
        self.fft
            .process_into_buffer(&self.input, &mut self.output, None)
            .map(|_| ())
            .map_err(|e| ResampleError::Backend(e.to_string()))
    }
}

/// Streaming mono resampler: one fixed-size frame in, one fixed-size frame
/// out. Allocation happens only in [`Resampler::new`].
pub struct Resampler {
    frames_in: usize,
    frames_out: usize,
    kind: Kind,
}

enum Kind {
    /// Equal rates: frames are copied.
    Copy,
    Poly(Polyphase),
    Fft(Box<Engine>),
}

impl fmt::Debug for Resampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resampler")
            .field("frames_in", &self.frames_in)
            .field("frames_out", &self.frames_out)
            .field("identity", &matches!(self.kind, Kind::Copy))
            .finish()
    }
}

impl Resampler {
    /// Converts frames of `frames_in` samples at `from_rate` to frames of
    /// `frames_in * to_rate / from_rate` samples at `to_rate`.
    pub fn new(from_rate: u32, to_rate: u32, frames_in: usize) -> Result<Self, ResampleError> {
        check_rates(from_rate, to_rate)?;
        let size_err = ResampleError::FrameSize {
            from: from_rate,
            to: to_rate,
            frames_in,
        };
        let scaled = (frames_in as u128) * u128::from(to_rate);
        if frames_in == 0 || scaled % u128::from(from_rate) != 0 {
            return Err(size_err);
        }
        let frames_out = usize::try_from(scaled / u128::from(from_rate)).map_err(|_| size_err)?;
        let (lo, hi) = (from_rate.min(to_rate), from_rate.max(to_rate));
        let kind = if from_rate == to_rate {
            Kind::Copy
        } else if hi % lo == 0 && hi / lo <= 6 {
            let up = to_rate > from_rate;
            Kind::Poly(Polyphase::new(
                (hi / lo) as usize,
                up,
                frames_in,
                frames_out,
            ))
        } else {
            Kind::Fft(Box::new(Engine::new(from_rate, to_rate, frames_in)?))
        };
        Ok(Resampler {
            frames_in,
            frames_out,
            kind,
        })
    }

    pub fn frames_in(&self) -> usize {
        self.frames_in
    }

    pub fn frames_out(&self) -> usize {
        self.frames_out
    }

    /// Delay, in output samples, between a sound entering and leaving.
    pub fn latency(&self) -> usize {
        match &self.kind {
            Kind::Copy => 0,
            Kind::Poly(p) => p.latency(),
            Kind::Fft(e) => e.fft.output_delay(),
        }
    }

    /// Converts one frame. `input.len()` must be `frames_in()` and
    /// `out.len()` must be `frames_out()`. Filter overshoot past 16 bits is
    /// clipped; [`Resampler::process_wide`] keeps it for a limiter.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> Result<(), ResampleError> {
        self.check(input.len(), out.len())?;
        let converted = match self.convert(input)? {
            Some(c) => c,
            None => {
                out.copy_from_slice(input);
                return Ok(());
            }
        };
        for (d, &s) in out.iter_mut().zip(converted) {
            *d = s.round().clamp(-32768.0, 32767.0) as i16;
        }
        Ok(())
    }

    /// [`Resampler::process`] into 32-bit samples: a full-scale input's
    /// filter overshoot is kept, not clipped, so a limiter after the
    /// resampler can bring it down smoothly.
    pub fn process_wide(&mut self, input: &[i16], out: &mut [i32]) -> Result<(), ResampleError> {
        self.check(input.len(), out.len())?;
        let converted = match self.convert(input)? {
            Some(c) => c,
            None => {
                for (d, &s) in out.iter_mut().zip(input) {
                    *d = i32::from(s);
                }
                return Ok(());
            }
        };
        for (d, &s) in out.iter_mut().zip(converted) {
            // A 16-bit input's overshoot is a fraction of full scale: far
            // inside i32.
            *d = s.round() as i32;
        }
        Ok(())
    }

    /// Runs the engine on one frame; `None` for equal rates.
    fn convert(&mut self, input: &[i16]) -> Result<Option<&[f32]>, ResampleError> {
        match &mut self.kind {
            Kind::Copy => Ok(None),
            Kind::Poly(p) => {
                p.run(input);
                Ok(Some(&p.out))
            }
            Kind::Fft(engine) => {
                for (d, &s) in engine.input[0].iter_mut().zip(input) {
                    *d = f32::from(s);
                }
                engine.run()?;
                Ok(Some(&engine.output[0]))
            }
        }
    }

    fn check(&self, input: usize, out: usize) -> Result<(), ResampleError> {
        if input != self.frames_in {
            return Err(ResampleError::InputLength {
                expected: self.frames_in,
                actual: input,
            });
        }
        if out != self.frames_out {
            return Err(ResampleError::OutputLength {
                expected: self.frames_out,
                actual: out,
            });
        }
        Ok(())
    }
}

/// One-shot conversion of a whole signal (e.g. a sound file) between any
/// two rates, returning `ceil(len * to / from)` samples aligned with the
/// input (the filter delay is removed). Allocates; not for the audio tick.
pub fn resample_all(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    check_rates(from, to)?;
    if from == to {
        return Ok(input.to_vec());
    }
    let g = gcd(u64::from(from), u64::from(to));
    let unit_in = (u64::from(from) / g) as usize;
    // Aim for chunks of about 1024 input samples: long enough for a steep
    // filter, short enough to keep the FFTs cheap. An even multiple of the
    // unit keeps both chunk lengths even, which puts the filter's centre
    // (and so the delay removed below) on a whole output sample.
    let units = 1024usize.div_ceil(unit_in).next_multiple_of(2);
    let chunk_in = unit_in * units;
    let mut engine = Engine::new(from, to, chunk_in)?;
    let delay = engine.fft.output_delay();
    let want = usize::try_from(((input.len() as u128) * u128::from(to)).div_ceil(u128::from(from)))
        .map_err(|_| ResampleError::InvalidRate { from, to })?;

    let mut produced = Vec::with_capacity(want + delay + engine.output[0].len());
    let mut pos = 0;
    while produced.len() < want + delay {
        let end = (pos + chunk_in).min(input.len());
        let take = end.saturating_sub(pos);
        let buf = &mut engine.input[0];
        if take > 0 {
            buf[..take].copy_from_slice(&input[pos..end]);
        }
        buf[take..].fill(0.0);
        pos += chunk_in;
        engine.run()?;
        produced.extend_from_slice(&engine.output[0]);
    }
    Ok(produced[delay..delay + want].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::ROOM_RATES;
    use std::f64::consts::PI;

    fn sine(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Runs `signal` through a fresh resampler frame by frame.
    fn stream(from: u32, to: u32, frame_ms: u32, signal: &[i16]) -> (Vec<i16>, usize) {
        let fin = (from * frame_ms / 1000) as usize;
        let mut r = Resampler::new(from, to, fin).expect("valid rates");
        let mut out = Vec::new();
        let mut frame = vec![0i16; r.frames_out()];
        for chunk in signal.chunks_exact(fin) {
            r.process(chunk, &mut frame).expect("sizes match");
            out.extend_from_slice(&frame);
        }
        (out, r.latency())
    }

    /// Frequency from the interpolated positions of the first and last
    /// upward zero crossings.
    fn zero_crossing_freq(x: &[i16], rate: u32) -> f64 {
        let mut crossings = Vec::new();
        for i in 1..x.len() {
            let (a, b) = (f64::from(x[i - 1]), f64::from(x[i]));
            if a < 0.0 && b >= 0.0 {
                crossings.push((i - 1) as f64 + a / (a - b));
            }
        }
        let span = crossings[crossings.len() - 1] - crossings[0];
        (crossings.len() - 1) as f64 * f64::from(rate) / span
    }

    fn check_tone_survives(from: u32, to: u32, frame_ms: u32) {
        let input = sine(1000.0, from, from as usize / 2, 16000.0);
        let (out, latency) = stream(from, to, frame_ms, &input);
        // Skip the latency plus a frame of filter warm-up.
        let settled = &out[latency + (to * frame_ms / 1000) as usize..];
        let f = zero_crossing_freq(settled, to);
        assert!((f - 1000.0).abs() < 10.0, "{from}->{to}: {f} Hz");
        let gain_db = 20.0 * (rms(settled) / rms(&input)).log10();
        assert!(gain_db.abs() < 1.0, "{from}->{to}: {gain_db} dB");
    }

    #[test]
    fn one_khz_up_8k_to_48k() {
        check_tone_survives(8000, 48000, 20);
        check_tone_survives(8000, 48000, 10);
    }

    #[test]
    fn one_khz_down_48k_to_8k() {
        check_tone_survives(48000, 8000, 20);
        check_tone_survives(48000, 8000, 10);
    }

    #[test]
    fn all_room_rate_pairs_keep_a_tone() {
        for &from in &ROOM_RATES {
            for &to in &ROOM_RATES {
                check_tone_survives(from, to, 20);
            }
        }
    }

    #[test]
    fn five_khz_is_removed_going_to_8k() {
        let input = sine(5000.0, 48000, 24000, 16000.0);
        for frame_ms in [10, 20] {
            let (out, latency) = stream(48000, 8000, frame_ms, &input);
            let settled = &out[latency + (8 * frame_ms) as usize..];
            let atten = 20.0 * (rms(settled) / rms(&input)).log10();
            assert!(atten < -40.0, "{frame_ms} ms frames: only {atten} dB");
        }
    }

    /// SNR (dB) of a frame-by-frame conversion against the ideal
    /// band-limited signal at the new rate: a sum of tones, all below 80%
    /// of the lower Nyquist frequency (speech's band on a phone line is
    /// 300-3400 Hz of 4000), computed directly at both rates.
    fn snr_against_ideal(r: &mut Resampler, from: u32, to: u32) -> f64 {
        let nyq = f64::from(from.min(to)) / 2.0;
        let tones: Vec<(f64, f64)> = (1..=7)
            .map(|k| (0.8 * nyq * k as f64 / 7.0, 0.3 + 0.1 * k as f64))
            .collect();
        let at = |i: usize, rate: u32| -> f64 {
            tones
                .iter()
                .map(|&(f, ph)| 3000.0 * (2.0 * PI * f * i as f64 / f64::from(rate) + ph).sin())
                .sum()
        };
        let fin = r.frames_in();
        let input: Vec<i16> = (0..fin * 50).map(|i| at(i, from).round() as i16).collect();
        let mut out = Vec::new();
        let mut frame = vec![0i16; r.frames_out()];
        for chunk in input.chunks_exact(fin) {
            r.process(chunk, &mut frame).expect("sizes match");
            out.extend_from_slice(&frame);
        }
        let lat = r.latency();
        let (mut sig, mut err) = (0.0f64, 0.0f64);
        for (i, &y) in out.iter().enumerate().skip(lat + r.frames_out() * 5) {
            let ideal = at(i - lat, to);
            sig += ideal * ideal;
            err += (f64::from(y) - ideal).powi(2);
        }
        10.0 * (sig / err).log10()
    }

    /// The whole-ratio filter against the FFT resampler it replaced for those
    /// ratios: under a tenth of the delay, and as faithful in the band that
    /// matters (run with --nocapture for the table).
    #[test]
    fn whole_ratios_cut_the_delay_and_keep_the_band() {
        for (from, to) in [
            (8000, 16000),
            (16000, 8000),
            (16000, 48000),
            (48000, 16000),
            (8000, 48000),
            (48000, 8000),
        ] {
            let fin = (from / 50) as usize;
            let mut poly = Resampler::new(from, to, fin).expect("valid");
            assert!(matches!(poly.kind, Kind::Poly(_)), "{from}->{to}");
            let mut fft = Resampler {
                frames_in: fin,
                frames_out: poly.frames_out(),
                kind: Kind::Fft(Box::new(Engine::new(from, to, fin).expect("valid"))),
            };
            let ms = |r: &Resampler| r.latency() as f64 * 1000.0 / f64::from(to);
            let (snr_poly, snr_fft) = (
                snr_against_ideal(&mut poly, from, to),
                snr_against_ideal(&mut fft, from, to),
            );
            println!(
                "{from} -> {to} Hz, 20 ms frames: delay {:.2} ms (FFT {:.2} ms), \
                 SNR against the ideal signal {snr_poly:.1} dB (FFT {snr_fft:.1} dB)",
                ms(&poly),
                ms(&fft)
            );
            assert!(ms(&poly) <= 3.0, "{from}->{to}: {} ms", ms(&poly));
            assert!(ms(&poly) * 3.0 < ms(&fft));
            // 16-bit rounding alone bounds the SNR of this signal near 80 dB.
            assert!(snr_poly > 60.0, "{from}->{to}: {snr_poly:.1} dB");
        }
    }

    #[test]
    fn equal_rates_copy() {
        let mut r = Resampler::new(16000, 16000, 320).expect("valid");
        assert_eq!(r.latency(), 0);
        let input: Vec<i16> = (0..320).map(|i| (i * 97 % 65536 - 32768) as i16).collect();
        let mut out = vec![0i16; 320];
        r.process(&input, &mut out).expect("sizes match");
        assert_eq!(out, input);
    }

    #[test]
    fn frame_contract_is_enforced() {
        assert!(matches!(
            Resampler::new(0, 8000, 160),
            Err(ResampleError::InvalidRate { .. })
        ));
        assert!(matches!(
            Resampler::new(8000, 48000, 0),
            Err(ResampleError::FrameSize { .. })
        ));
        // 7 samples at 24 kHz is 9.33 samples at 32 kHz.
        assert!(matches!(
            Resampler::new(24000, 32000, 7),
            Err(ResampleError::FrameSize { .. })
        ));
        let mut r = Resampler::new(24000, 32000, 480).expect("valid");
        assert_eq!(r.frames_out(), 640);
        let mut out = vec![0i16; 640];
        assert_eq!(
            r.process(&[0; 479], &mut out),
            Err(ResampleError::InputLength {
                expected: 480,
                actual: 479
            })
        );
        assert_eq!(
            r.process(&[0; 480], &mut out[..639]),
            Err(ResampleError::OutputLength {
                expected: 640,
                actual: 639
            })
        );
        r.process(&[0; 480], &mut out).expect("sizes match");
        assert!(out.iter().all(|&s| s == 0));
    }

    #[test]
    fn full_scale_does_not_wrap() {
        // Filter ringing can overshoot full scale; it must clamp, not wrap.
        let square: Vec<i16> = (0..9600)
            .map(|i| if (i / 40) % 2 == 0 { 32767 } else { -32768 })
            .collect();
        let (out, _) = stream(48000, 16000, 20, &square);
        let (hi, lo) = (
            out.iter().filter(|&&s| s > 20000).count(),
            out.iter().filter(|&&s| s < -20000).count(),
        );
        // Plateaus survive on both sides; a wrap would scatter signs.
        assert!(hi > 1000 && lo > 1000, "{hi} {lo}");
    }

    #[test]
    fn one_shot_handles_odd_file_rates() {
        for (from, to) in [
            (44100, 16000),
            (22050, 48000),
            (11025, 8000),
            (44100, 44100),
        ] {
            let input: Vec<f32> = (0..from as usize)
                .map(|i| (8000.0 * (2.0 * PI * 440.0 * i as f64 / f64::from(from)).sin()) as f32)
                .collect();
            let out = resample_all(&input, from, to).expect("valid rates");
            assert_eq!(out.len(), to as usize);
            // Aligned: compare to the ideal sine at the new rate, away from
            // the edges where the filter sees the zero padding.
            let mut err = 0.0f64;
            let mut sig = 0.0f64;
            for (i, &y) in out
                .iter()
                .enumerate()
                .skip(to as usize / 10)
                .take(to as usize / 2)
            {
                let ideal = 8000.0 * (2.0 * PI * 440.0 * i as f64 / f64::from(to)).sin();
                err += (f64::from(y) - ideal).powi(2);
                sig += ideal.powi(2);
            }
            let snr = 10.0 * (sig / err).log10();
            assert!(snr > 40.0, "{from}->{to}: SNR {snr} dB");
        }
    }
}
