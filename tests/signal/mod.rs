//! Signals for the tests and their measurement: the tones test members say,
//! sines to send, Goertzel filters, RMS and dBov levels, and mono 16-bit
//! WAVs written and read with hound. All of it is computed here,
//! independently of the code under test, so that expected values are the
//! tests' own. Both harnesses re-export it: tests/common (in-process) and
//! tests/refhost (through the C reference host).
#![allow(dead_code)]

use std::path::Path;

/// Tones per member (Hz): what a, b, c and d say. Multiples of 10 Hz, away
/// from the enter/exit tones (523/784 Hz), the refusal tone (350 Hz) and the
/// hold music, so that a Goertzel filter over a 100 ms window sees whole
/// cycles and one tone does not leak into another's measurement.
pub const A: f64 = 440.0;
pub const B: f64 = 700.0;
pub const C: f64 = 1000.0;
pub const D: f64 = 1300.0;
/// The hold music the tests give a room, and the file operators play (Hz).
pub const MOH: f64 = 250.0;
pub const FILE_TONE: f64 = 1500.0;

/// Full scale of 16-bit audio: 0 dBov.
pub const FULL_SCALE: f64 = 32767.0;

/// A sine, continuous across calls through `phase` (radians).
pub fn sine(freq: f64, rate: u32, n: usize, amplitude: f64, phase: &mut f64) -> Vec<i16> {
    let step = 2.0 * std::f64::consts::PI * freq / rate as f64;
    (0..n)
        .map(|_| {
            let v = (amplitude * phase.sin()).round() as i16;
            *phase += step;
            v
        })
        .collect()
}

/// Power of one frequency in a signal (Goertzel): a sine of amplitude A over
/// n samples has power (A·n/2)². Compare ratios, or use `tone_amplitude`.
pub fn goertzel(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Peak amplitude of a sine of `freq` in `samples` (Goertzel power → peak
/// amplitude: a sine of amplitude A over n samples has power (A·n/2)²).
pub fn tone_amplitude(samples: &[i16], freq: f64, rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    // Rounding can leave a silent signal's power a hair below zero.
    2.0 * goertzel(samples, freq, rate).max(0.0).sqrt() / samples.len() as f64
}

/// Level ratio in dB between two Goertzel powers.
pub fn db(power_a: f64, power_b: f64) -> f64 {
    10.0 * ((power_a + 1e-9) / (power_b + 1e-9)).log10()
}

/// Level ratio in dB between two amplitudes (peak or RMS, both the same).
pub fn amplitude_db(a: f64, b: f64) -> f64 {
    20.0 * (a / b).log10()
}

/// A level (RMS or peak) in dB against full scale.
pub fn dbov(level: f64) -> f64 {
    amplitude_db(level, FULL_SCALE)
}

/// The level (RMS or peak) `db` dB against full scale: `dbov`'s inverse.
pub fn from_dbov(db: f64) -> f64 {
    FULL_SCALE * 10f64.powf(db / 20.0)
}

pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| (s as f64) * (s as f64)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// A mono 16-bit WAV, written with hound (independent of huddle's reader).
pub fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
}

/// A WAV of a steady tone, `secs` long.
pub fn write_tone_wav(path: &Path, rate: u32, freq: f64, secs: f64, amplitude: f64) {
    let mut phase = 0.0;
    let n = (rate as f64 * secs) as usize;
    write_wav(path, rate, &sine(freq, rate, n, amplitude, &mut phase));
}

/// A whole mono 16-bit WAV and its rate.
pub fn read_wav(path: &Path) -> (Vec<i16>, u32) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.bits_per_sample),
        (1, 16),
        "{}",
        path.display()
    );
    let pcm = r
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{} is not whole: {e}", path.display()));
    (pcm, spec.sample_rate)
}

/// G.711's 256 reconstruction levels, written out from the standard's
/// tables (each segment's first level and step, scaled from 14 bits for
/// mu-law and 13 bits for A-law to 16), as (octet, level, step): each level
/// is the middle of its decision interval, one step wide.
fn g711_levels(mu_law: bool) -> Vec<(u8, i32, i32)> {
    const MU: [(i32, i32); 8] = [
        (0, 8),
        (132, 16),
        (396, 32),
        (924, 64),
        (1980, 128),
        (4092, 256),
        (8316, 512),
        (16764, 1024),
    ];
    const A: [(i32, i32); 8] = [
        (8, 16),
        (264, 16),
        (528, 32),
        (1056, 64),
        (2112, 128),
        (4224, 256),
        (8448, 512),
        (16896, 1024),
    ];
    let mut out = Vec::with_capacity(256);
    for seg in 0..8u8 {
        for q in 0..16u8 {
            let (first, step) = if mu_law { MU } else { A }[seg as usize];
            let level = first + i32::from(q) * step;
            // mu-law octets are sent inverted, A-law's even bits; in both
            // the sign bit set is positive.
            let positive = if mu_law {
                !(seg << 4 | q)
            } else {
                (0x80 | seg << 4 | q) ^ 0x55
            };
            out.push((positive, level, step));
            out.push((positive ^ 0x80, -level, step));
        }
    }
    out
}

/// G.711 octets (mu-law or A-law) as samples.
pub fn g711_decode(mu_law: bool, octets: &[u8]) -> Vec<i16> {
    let mut table = [0i16; 256];
    for (c, level, _) in g711_levels(mu_law) {
        table[c as usize] = level as i16;
    }
    octets.iter().map(|&c| table[c as usize]).collect()
}

/// Which levels may code which samples: a sample may be coded by the level
/// whose decision interval holds it (its bounds included, where the laws'
/// conventions for a sample exactly on one differ), or, past the loudest
/// level, by that level.
pub struct G711Intervals {
    step_of: std::collections::HashMap<i32, i32>,
    top: i32,
    levels: Vec<(u8, i32, i32)>,
}

impl G711Intervals {
    pub fn new(mu_law: bool) -> G711Intervals {
        let levels = g711_levels(mu_law);
        G711Intervals {
            step_of: levels.iter().map(|&(_, l, step)| (l, step)).collect(),
            top: levels.iter().map(|l| l.1).max().unwrap_or(0),
            levels,
        }
    }

    pub fn codes(&self, sample: i16, level: i16) -> bool {
        let (s, l) = (i32::from(sample), i32::from(level));
        if s.abs() >= self.top && l.abs() == self.top {
            return l.signum() == s.signum();
        }
        self.step_of
            .get(&l)
            .is_some_and(|&step| 2 * (s - l).abs() <= step)
    }
}

/// Samples as G.711 octets: each the octet of the level whose decision
/// interval holds it.
pub fn g711_encode(mu_law: bool, samples: &[i16]) -> Vec<u8> {
    let iv = G711Intervals::new(mu_law);
    samples
        .iter()
        .map(|&s| {
            iv.levels
                .iter()
                .find(|&&(_, l, _)| iv.codes(s, l as i16))
                .map_or(0, |l| l.0)
        })
        .collect()
}
