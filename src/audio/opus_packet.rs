//! Reading the SILK voice-activity flag straight out of an Opus packet, so
//! talk detection can skip decoding for members who are silent.
//!
//! RFC 6716 §4.2.3: a SILK frame's first range-coded symbols are its VAD
//! flags, each coded with probability 1/2. The first such symbol of a
//! range-coded stream equals the most significant bit of its first byte, so
//! the first frame's VAD flag is the top bit of the first byte of that
//! frame's data. Hybrid frames start with the SILK layer, so the same holds.

/// Frame duration in 2.5 ms units for each TOC configuration (RFC 6716
/// §3.1, Table 2); 120 ms = 48 units is the packet maximum.
fn config_units(config: u8) -> u32 {
    match config {
        // SILK NB/MB/WB: 10, 20, 40, 60 ms.
        0..=11 => [4, 8, 16, 24][(config % 4) as usize],
        // Hybrid SWB/FB: 10, 20 ms.
        12..=15 => [4, 8][(config % 2) as usize],
        // CELT: 2.5, 5, 10, 20 ms.
        _ => [1, 2, 4, 8][(config % 4) as usize],
    }
}

/// Reads a §3.2.1 frame length (one byte, or two when the first is ≥ 252)
/// at `pos`; returns (length, bytes used).
fn frame_len(packet: &[u8], pos: usize) -> Option<(usize, usize)> {
    let b0 = usize::from(*packet.get(pos)?);
    if b0 < 252 {
        Some((b0, 1))
    } else {
        let b1 = usize::from(*packet.get(pos + 1)?);
        Some((b0 + 4 * b1, 2))
    }
}

/// Byte range of the first frame's data, validating the packet framing of
/// RFC 6716 §3.2 (the [R1]-[R7] rules that the first frame depends on).
fn first_frame(packet: &[u8]) -> Option<std::ops::Range<usize>> {
    let toc = *packet.first()?;
    let len = packet.len();
    match toc & 0x03 {
        0 => Some(1..len),
        1 => {
            let payload = len - 1;
            if payload % 2 != 0 {
                return None;
            }
            Some(1..1 + payload / 2)
        }
        2 => {
            let (n1, used) = frame_len(packet, 1)?;
            let start = 1 + used;
            if start + n1 > len {
                return None;
            }
            Some(start..start + n1)
        }
        _ => {
            let fc = *packet.get(1)?;
            let vbr = fc & 0x80 != 0;
            let has_padding = fc & 0x40 != 0;
            let m = usize::from(fc & 0x3f);
            if m == 0 || m as u32 * config_units(toc >> 3) > 48 {
                return None;
            }
            let mut pos = 2;
            let mut padding = 0usize;
            if has_padding {
                loop {
                    let b = *packet.get(pos)?;
                    pos += 1;
                    padding += if b == 255 { 254 } else { usize::from(b) };
                    if b != 255 {
                        break;
                    }
                }
            }
            let available = len.checked_sub(pos)?.checked_sub(padding)?;
            if vbr {
                let mut sizes_total = 0usize;
                let mut first = None;
                for _ in 0..m - 1 {
                    let (n, used) = frame_len(packet, pos)?;
                    pos += used;
                    sizes_total += n;
                    first.get_or_insert(n);
                }
                let data = len.checked_sub(pos)?.checked_sub(padding)?;
                if sizes_total > data {
                    return None;
                }
                // With one frame its length is whatever remains.
                let n1 = first.unwrap_or(data);
                Some(pos..pos + n1)
            } else {
                if available % m != 0 {
                    return None;
                }
                let n1 = available / m;
                Some(pos..pos + n1)
            }
        }
    }
}

/// The first frame's SILK VAD flag, or `None` for CELT-only packets and for
/// packets that are malformed or whose first frame is empty (DTX).
pub fn silk_voice_activity(packet: &[u8]) -> Option<bool> {
    let toc = *packet.first()?;
    if toc >> 3 >= 16 {
        return None;
    }
    let range = first_frame(packet)?;
    if range.is_empty() {
        return None;
    }
    let first = *packet.get(range.start)?;
    Some(first & 0x80 != 0)
}

/// Whether the first frame carries LBRR (in-band FEC) data for the frame
/// before it: the SILK header's LBRR flag, the bit after the VAD flag of a
/// mono 10/20 ms SILK frame (RFC 6716 §4.2.4). `None` for CELT-only or
/// malformed packets, and for 40/60 ms frames (more VAD flags come first).
pub fn silk_has_fec(packet: &[u8]) -> Option<bool> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    if config >= 16 || toc & 0x04 != 0 {
        return None;
    }
    // SILK configs come in groups of four sizes: 10, 20, 40, 60 ms.
    if config < 12 && config % 4 >= 2 {
        return None;
    }
    let range = first_frame(packet)?;
    let first = *packet.get(range.start)?;
    Some(first & 0x40 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::opus::{EncoderSettings, OpusEncoder};
    use std::f64::consts::PI;

    #[test]
    fn hand_built_packets() {
        // Config 1 (SILK NB 20 ms), code 0, first payload byte 0x80: VAD set.
        assert_eq!(silk_voice_activity(&[0x08, 0x80, 0x00]), Some(true));
        assert_eq!(silk_voice_activity(&[0x08, 0x7f, 0xff]), Some(false));
        // Hybrid (config 13), code 0.
        assert_eq!(silk_voice_activity(&[13 << 3, 0xc0]), Some(true));
        // CELT-only (config 31).
        assert_eq!(silk_voice_activity(&[31 << 3, 0xff, 0xff]), None);
        // Code 1: two frames of 2 bytes; the first frame decides.
        assert_eq!(
            silk_voice_activity(&[0x09, 0x00, 0x11, 0x80, 0x22]),
            Some(false)
        );
        assert_eq!(
            silk_voice_activity(&[0x09, 0x80, 0x11, 0x00, 0x22]),
            Some(true)
        );
        // Code 2: first frame of 1 byte (length byte 1), then the second.
        assert_eq!(
            silk_voice_activity(&[0x0a, 1, 0x80, 0x00, 0x00]),
            Some(true)
        );
        // Code 2 with a two-byte length: 252 + 4*0 = 252 bytes.
        let mut p = vec![0x0a, 252, 0, 0x80];
        p.resize(3 + 252 + 3, 0);
        assert_eq!(silk_voice_activity(&p), Some(true));
        // Code 3 CBR, 2 frames of 2 bytes, with 1 byte of padding.
        assert_eq!(
            silk_voice_activity(&[0x0b, 0x42, 1, 0x80, 0, 0, 0, 0xee]),
            Some(true)
        );
        // Code 3 VBR, 2 frames: sizes 1 then rest.
        assert_eq!(
            silk_voice_activity(&[0x0b, 0x82, 1, 0x00, 0x80, 0x80]),
            Some(false)
        );
        // Code 3, 1 frame VBR: the whole remainder.
        assert_eq!(silk_voice_activity(&[0x0b, 0x81, 0x80]), Some(true));
    }

    #[test]
    fn malformed_packets_are_none() {
        assert_eq!(silk_voice_activity(&[]), None);
        // Code 0 with no payload (DTX).
        assert_eq!(silk_voice_activity(&[0x08]), None);
        // Code 1 odd payload.
        assert_eq!(silk_voice_activity(&[0x09, 0x80, 0, 0]), None);
        // Code 2 length past the end / missing second length byte.
        assert_eq!(silk_voice_activity(&[0x0a, 10, 0x80]), None);
        assert_eq!(silk_voice_activity(&[0x0a, 253]), None);
        // Code 3: missing count byte, zero frames, over 120 ms (3 x 60 ms).
        assert_eq!(silk_voice_activity(&[0x0b]), None);
        assert_eq!(silk_voice_activity(&[0x0b, 0x00, 0x80]), None);
        assert_eq!(
            silk_voice_activity(&[(3 << 3) | 3, 0x03, 0x80, 0x80, 0x80]),
            None
        );
        // Code 3 CBR whose data does not divide evenly.
        assert_eq!(silk_voice_activity(&[0x0b, 0x02, 0x80, 0, 0]), None);
        // Padding longer than the packet.
        assert_eq!(silk_voice_activity(&[0x0b, 0x41, 200, 0x80]), None);
        // Unterminated padding run.
        assert_eq!(silk_voice_activity(&[0x0b, 0x41, 255, 255]), None);
        // VBR sizes exceeding the data.
        assert_eq!(silk_voice_activity(&[0x0b, 0x83, 100, 100, 0x80]), None);
    }

    #[test]
    fn random_and_truncated_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..300usize {
            let p: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            for cut in 0..=p.len().min(8) {
                let _ = silk_voice_activity(&p[..cut]);
            }
            let _ = silk_voice_activity(&p);
        }
    }

    /// Encodes `frames` 20 ms frames produced by `signal(sample_index)` and
    /// returns the VAD reading of each packet.
    fn encode_vads(rate: u32, frames: usize, signal: impl Fn(usize) -> f64) -> Vec<Option<bool>> {
        let settings = EncoderSettings {
            bitrate: 20_000,
            fec: false,
            dtx: false,
            complexity: 5,
            packet_loss_pct: 0,
        };
        let mut enc = OpusEncoder::new(rate, settings).expect("encoder");
        let n = (rate / 50) as usize;
        let mut pcm = vec![0i16; n];
        let mut packet = [0u8; 1275];
        (0..frames)
            .map(|f| {
                for (i, s) in pcm.iter_mut().enumerate() {
                    *s = signal(f * n + i).round().clamp(-32768.0, 32767.0) as i16;
                }
                let len = enc.encode(&pcm, &mut packet).expect("encode");
                silk_voice_activity(&packet[..len])
            })
            .collect()
    }

    #[test]
    fn libopus_clears_vad_for_faint_noise() {
        for rate in [16000u32, 48000] {
            // Uniform noise in ±17: RMS 17/sqrt(3) = 9.8, about -70 dBFS.
            let mut x: u32 = 0xdead_beef;
            let noise = move |_i: usize| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                f64::from((x >> 16) % 35) - 17.0
            };
            let noise = std::cell::RefCell::new(noise);
            let vads = encode_vads(rate, 50, |i| (noise.borrow_mut())(i));
            // Skip the encoder's first frames while its noise estimate settles.
            for (k, v) in vads.iter().enumerate().skip(10) {
                assert_eq!(*v, Some(false), "{rate} Hz frame {k}: {vads:?}");
            }
        }
    }

    #[test]
    fn libopus_sets_vad_for_speech_like_signal() {
        for rate in [16000u32, 48000] {
            // SILK's VAD tracks a per-band noise floor and adapts to any
            // steady signal: a constant tone, or even a harmonic tone with
            // gentle amplitude modulation, loses its flag after ~0.5 s.
            // What it reliably flags is speech-shaped input: syllables of
            // 170 ms separated by 80 ms pauses, each a gliding 110-190 Hz
            // fundamental with 1/h harmonics up to 3 kHz.
            let r = f64::from(rate);
            let voice = |i: usize| {
                let t = i as f64 / r;
                let syllable = (t / 0.25).floor();
                let ts = t - syllable * 0.25;
                if ts >= 0.17 {
                    return 0.0;
                }
                let env = (PI * ts / 0.17).sin();
                let f0 = 110.0 + 40.0 * (syllable % 3.0) + 100.0 * ts;
                // Phase of a linear glide: integral of f0 over the syllable.
                let base = 2.0 * PI * ((110.0 + 40.0 * (syllable % 3.0)) * ts + 50.0 * ts * ts);
                let mut v = 0.0;
                let mut h = 1.0;
                while h * f0 < 3000.0 {
                    v += (h * base + h).sin() / h;
                    h += 1.0;
                }
                8000.0 * env * v
            };
            let vads = encode_vads(rate, 50, voice);
            // Frames whose 20 ms lie in the middle 130 ms of a syllable.
            let mut voiced = 0;
            let mut flagged = 0;
            for (k, v) in vads.iter().enumerate().skip(2) {
                let ts = (k as f64 * 0.02) % 0.25;
                if (0.02..=0.13).contains(&ts) {
                    voiced += 1;
                    flagged += usize::from(*v == Some(true));
                }
            }
            assert!(
                flagged * 10 >= voiced * 9,
                "{rate} Hz: {flagged}/{voiced} flagged: {vads:?}"
            );
        }
    }

    #[test]
    fn lbrr_flag_follows_the_encoders_fec_setting() {
        let count = |fec: bool| {
            let settings = EncoderSettings {
                bitrate: 32000,
                complexity: 5,
                fec,
                packet_loss_pct: if fec { 20 } else { 0 },
                ..Default::default()
            };
            let mut enc = OpusEncoder::new(48000, settings).expect("encoder");
            let mut out = vec![0u8; 1500];
            let mut flagged = 0;
            for f in 0..100 {
                let pcm: Vec<i16> = (0..960)
                    .map(|i| {
                        let t = (f * 960 + i) as f64 / 48000.0;
                        (8000.0
                            * (2.0 * PI * 220.0 * t).sin()
                            * (1.0 + 0.5 * (2.0 * PI * 3.0 * t).sin()))
                            as i16
                    })
                    .collect();
                let n = enc.encode(&pcm, &mut out).expect("encode");
                if silk_has_fec(&out[..n]) == Some(true) {
                    flagged += 1;
                }
            }
            flagged
        };
        let (with, without) = (count(true), count(false));
        assert!(with > 50, "FEC on: {with} of 100 packets flag LBRR");
        assert_eq!(without, 0, "FEC off: no packet flags LBRR");
    }
}
