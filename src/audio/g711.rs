//! ITU-T G.711 (mu-law and A-law), the telephone network's 8 kHz codecs.
//! huddle takes and sends them itself so a softswitch passes a PCMU/PCMA
//! call's packets through untouched: listeners who hear the same mix then
//! share one encode (room/out_stream.rs) instead of the softswitch encoding
//! the same audio once per channel.
//!
//! Both laws code a sample as sign, a 3-bit segment (a power-of-two range)
//! and a 4-bit step within it. Decoding is a 256-entry table built at
//! compile time; encoding finds the segment from the magnitude's highest
//! set bit, which costs less than a 64 KiB table's cache misses.

/// Which law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// mu-law (PCMU, RTP payload type 0), North America and Japan.
    Mu,
    /// A-law (PCMA, RTP payload type 8), the rest of the world.
    A,
}

/// G.711 always runs at this rate.
pub const RATE: u32 = 8000;

/// mu-law's bias: added before finding the segment so segment 0 has the
/// same step count as the others (33 in the standard's 14-bit scale).
const MU_BIAS: i32 = 0x84;
/// The largest magnitude mu-law codes; anything louder is clipped to it.
const MU_CLIP: i32 = 32635;

const fn mu_decode(code: u8) -> i16 {
    let c = !code;
    let segment = (c >> 4) & 7;
    let step = (c & 0x0F) as i32;
    let magnitude = (((step << 3) + MU_BIAS) << segment) - MU_BIAS;
    // The transmitted sign bit is set for positive samples.
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn a_decode(code: u8) -> i16 {
    // Even bits are inverted on the line (keeps idle channels toggling).
    let c = code ^ 0x55;
    let segment = (c >> 4) & 7;
    let step = (c & 0x0F) as i32;
    // Segments 0 and 1 share a step of 16; each later one doubles it.
    let magnitude = if segment == 0 {
        (step << 4) + 8
    } else {
        ((step << 4) + 0x108) << (segment - 1)
    };
    if c & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn table(law: Law) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match law {
            Law::Mu => mu_decode(i as u8),
            Law::A => a_decode(i as u8),
        };
        i += 1;
    }
    t
}

static MU_TABLE: [i16; 256] = table(Law::Mu);
static A_TABLE: [i16; 256] = table(Law::A);

/// Index of the highest set bit of a non-zero value.
fn top_bit(v: u32) -> u32 {
    31 - v.leading_zeros()
}

fn mu_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    let negative: u8 = if s < 0 { 0x80 } else { 0x00 };
    let magnitude = s.unsigned_abs().min(MU_CLIP as u32) + MU_BIAS as u32;
    // The bias puts every magnitude at or above bit 7: segment 0 is bit 7.
    let segment = top_bit(magnitude) - 7;
    let step = (magnitude >> (segment + 3)) & 0x0F;
    // Sent inverted (no all-zero octets on T1 lines), sign included.
    !(negative | (segment as u8) << 4 | step as u8)
}

fn a_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 {
        (0x80u8, s as u32)
    } else {
        // A-law's negative levels mirror the positive ones one below: -1
        // codes like 0.
        (0x00u8, (-s - 1) as u32)
    };
    // In units of 8 (A-law's 13-bit scale); segment 0 and 1 both step by 1.
    // At most 4095, so the segment is at most 7.
    let m = magnitude >> 3;
    let segment = if m < 32 { 0 } else { top_bit(m) - 4 };
    let step = (m >> segment.max(1)) & 0x0F;
    (sign | (segment as u8) << 4 | step as u8) ^ 0x55
}

/// Decodes `src` (one octet a sample) into `dst`.
///
/// # Panics
/// When the lengths differ; callers check them first.
pub fn decode(law: Law, src: &[u8], dst: &mut [i16]) {
    assert_eq!(src.len(), dst.len(), "G.711 payload and buffer sizes");
    let t = match law {
        Law::Mu => &MU_TABLE,
        Law::A => &A_TABLE,
    };
    for (d, &c) in dst.iter_mut().zip(src) {
        *d = t[usize::from(c)];
    }
}

/// Encodes `src` into `dst`, one octet a sample.
///
/// # Panics
/// When the lengths differ.
pub fn encode(law: Law, src: &[i16], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len(), "G.711 buffer and payload sizes");
    match law {
        Law::Mu => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = mu_encode(s)),
        Law::A => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = a_encode(s)),
    }
}

/// The RMS level in dBov (`level::rms_dbov`) of what a payload decodes
/// to, measured without decoding it into a buffer.
pub fn level_dbov(law: Law, src: &[u8]) -> f32 {
    let t = match law {
        Law::Mu => &MU_TABLE,
        Law::A => &A_TABLE,
    };
    let energy = src
        .iter()
        .map(|&c| {
            let v = i32::from(t[usize::from(c)]);
            u64::from((v * v) as u32)
        })
        .sum();
    crate::audio::level::energy_dbov(energy, src.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_signal::goertzel_amp;

    fn dec(law: Law, c: u8) -> i16 {
        let mut out = [0i16; 1];
        decode(law, &[c], &mut out);
        out[0]
    }

    fn enc(law: Law, s: i16) -> u8 {
        let mut out = [0u8; 1];
        encode(law, &[s], &mut out);
        out[0]
    }

    /// Values from the standard's tables at the ends of the scale (the
    /// whole of both tables, against a copy written out from the
    /// standard, is tests/audio.rs `g711_is_the_standards`).
    #[test]
    fn known_levels() {
        assert_eq!(dec(Law::Mu, 0xFF), 0);
        assert_eq!(dec(Law::Mu, 0x7F), 0);
        assert_eq!(dec(Law::Mu, 0xFE), 8);
        assert_eq!(dec(Law::Mu, 0x80), 32124);
        assert_eq!(dec(Law::Mu, 0x00), -32124);
        assert_eq!(dec(Law::A, 0xD5), 8);
        assert_eq!(dec(Law::A, 0x55), -8);
        assert_eq!(dec(Law::A, 0xAA), 32256);
        assert_eq!(dec(Law::A, 0x2A), -32256);
    }

    /// Every code survives decode then encode (mu-law's two zeros become
    /// the positive one), and every sample encodes to one of the two
    /// levels around it (which one, the standard's decision intervals say:
    /// tests/audio.rs `g711_is_the_standards`).
    #[test]
    fn encoding_picks_the_level_around_each_sample() {
        for law in [Law::Mu, Law::A] {
            for c in 0..=255u8 {
                let back = enc(law, dec(law, c));
                let want = if law == Law::Mu && c == 0x7F { 0xFF } else { c };
                assert_eq!(back, want, "{law:?} code {c:#04x}");
            }
            let mut levels: Vec<i32> = (0..=255u8).map(|c| i32::from(dec(law, c))).collect();
            levels.sort_unstable();
            levels.dedup();
            for s in i16::MIN..=i16::MAX {
                let got = i32::from(dec(law, enc(law, s)));
                let s = i32::from(s);
                let i = levels.partition_point(|&l| l < s);
                let below = levels[i.saturating_sub(1)];
                let above = levels[i.min(levels.len() - 1)];
                assert!(
                    got == below || got == above,
                    "{law:?}: {s} coded as {got}, between {below} and {above}"
                );
            }
        }
    }

    /// A tone at -10 dBFS keeps G.711's ~38 dB signal-to-noise.
    #[test]
    fn a_tone_survives_with_g711_snr() {
        let rate = f64::from(RATE);
        let x: Vec<i16> = (0..8000)
            .map(|i| {
                (10362.0 * (2.0 * std::f64::consts::PI * 1013.0 * i as f64 / rate).sin()) as i16
            })
            .collect();
        for law in [Law::Mu, Law::A] {
            let mut coded = vec![0u8; x.len()];
            encode(law, &x, &mut coded);
            let mut y = vec![0i16; x.len()];
            decode(law, &coded, &mut y);
            let signal: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
            let noise: f64 = x
                .iter()
                .zip(&y)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
            let snr = 10.0 * (signal / noise).log10();
            assert!(snr > 35.0, "{law:?}: SNR {snr:.1} dB");
            let amp = goertzel_amp(&y, 1013.0, rate);
            assert!((amp - 10362.0).abs() < 100.0, "{law:?}: tone at {amp:.0}");
            assert_eq!(level_dbov(law, &coded), crate::audio::level::rms_dbov(&y));
            // A -10 dBFS sine is 3 dB under that as RMS against a square wave.
            let level = level_dbov(law, &coded);
            assert!((level + 13.0).abs() < 0.1, "{law:?}: level {level} dBov");
        }
    }

    #[test]
    fn loud_samples_clip_to_the_top_level() {
        assert_eq!(dec(Law::Mu, enc(Law::Mu, i16::MAX)), 32124);
        assert_eq!(dec(Law::Mu, enc(Law::Mu, i16::MIN)), -32124);
        assert_eq!(dec(Law::A, enc(Law::A, i16::MAX)), 32256);
        assert_eq!(dec(Law::A, enc(Law::A, i16::MIN)), -32256);
    }
}
