//! The input audio: the `OPUSLOOP` packet file the Janus AudioBridge peer
//! benchmark sends (so both mixers decode the same bytes), or, without it, an
//! equivalent loop encoded here. Plus L16 talker signals.

use std::path::Path;

use huddle::audio::opus::{EncoderSettings, OpusDecoder, OpusEncoder};

pub const RATE: u32 = 48_000;
pub const FRAME: usize = 960;

/// K talker streams and one quiet stream of 20 ms, 48 kHz mono Opus packets,
/// each packet with its RFC 6464 level (-dBov of the decoded frame, what a
/// sender's client-to-mixer extension would carry).
pub struct OpusLoop {
    pub source: String,
    pub talkers: Vec<Vec<Packet>>,
    pub quiet: Vec<Packet>,
}

pub struct Packet {
    pub data: Vec<u8>,
    pub level: i32,
}

impl OpusLoop {
    /// Reads the file format documented in gen_streams.py:
    /// `OPUSLOOP` u32 version=1, u32 n_streams, u32 frames, u32 sample_rate,
    /// u32 frame_samples, then per stream per frame: u16 len, bytes. The last
    /// stream is the quiet one.
    pub fn read(path: &Path) -> Result<OpusLoop, String> {
        let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bad = |what: &str| format!("{}: not an OPUSLOOP file ({what})", path.display());
        if b.len() < 28 || &b[..8] != b"OPUSLOOP" {
            return Err(bad("magic"));
        }
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let (version, n, frames, rate, fs) =
            (u32_at(8), u32_at(12), u32_at(16), u32_at(20), u32_at(24));
        if version != 1 || rate != RATE || fs as usize != FRAME || n < 2 {
            return Err(bad("want version 1, 48 kHz, 960-sample frames, 2+ streams"));
        }
        let mut pos = 28;
        let mut streams = Vec::new();
        for _ in 0..n {
            let mut s = Vec::with_capacity(frames as usize);
            for _ in 0..frames {
                if pos + 2 > b.len() {
                    return Err(bad("truncated"));
                }
                let len = u16::from_le_bytes([b[pos], b[pos + 1]]) as usize;
                pos += 2;
                if pos + len > b.len() {
                    return Err(bad("truncated"));
                }
                s.push(b[pos..pos + len].to_vec());
                pos += len;
            }
            streams.push(s);
        }
        let quiet = streams.pop().expect("n >= 2");
        Ok(OpusLoop::with_levels(
            format!("{} ({} talkers x {frames} frames)", path.display(), n - 1),
            streams,
            quiet,
        ))
    }

    /// Without the file: talkers are syllable-like tone bursts around
    /// -20 dBFS (as gen_streams.py makes without a speech WAV), the quiet
    /// stream -65 dBFS white noise; encoded at 32 kbit/s, complexity 10.
    pub fn synthetic(talkers: usize, frames: usize) -> OpusLoop {
        let settings = EncoderSettings {
            bitrate: 32_000,
            fec: false,
            dtx: false,
            complexity: 10,
            packet_loss_pct: 0,
        };
        let encode = |pcm: &[i16]| -> Vec<Vec<u8>> {
            let mut enc = OpusEncoder::new(RATE, settings).expect("encoder");
            let mut out = vec![0u8; 1275];
            pcm.chunks_exact(FRAME)
                .map(|f| {
                    let n = enc.encode(f, &mut out).expect("encode");
                    out[..n].to_vec()
                })
                .collect()
        };
        let streams = (0..talkers)
            .map(|k| encode(&talker_pcm(k, frames * FRAME)))
            .collect();
        let mut rng = 1234u64;
        let quiet: Vec<i16> = (0..frames * FRAME)
            .map(|_| (gauss(&mut rng) * 32768.0 * 10f64.powf(-65.0 / 20.0)).round() as i16)
            .collect();
        OpusLoop::with_levels(
            format!("synthetic ({talkers} talkers x {frames} frames)"),
            streams,
            encode(&quiet),
        )
    }

    fn with_levels(source: String, talkers: Vec<Vec<Vec<u8>>>, quiet: Vec<Vec<u8>>) -> OpusLoop {
        let levels = |s: Vec<Vec<u8>>| -> Vec<Packet> {
            let mut dec = OpusDecoder::new(RATE).expect("decoder");
            let mut pcm = vec![0i16; FRAME];
            s.into_iter()
                .map(|data| {
                    let level = match dec.decode(&data, &mut pcm) {
                        Ok(_) => {
                            let dbov = huddle::audio::level::rms_dbov(&pcm);
                            (-dbov).round().clamp(0.0, 127.0) as i32
                        }
                        Err(_) => 127,
                    };
                    Packet { data, level }
                })
                .collect()
        };
        OpusLoop {
            source,
            talkers: talkers.into_iter().map(levels).collect(),
            quiet: levels(quiet),
        }
    }

    pub fn frames(&self) -> usize {
        self.quiet.len()
    }
}

/// A talker: a 1.5 s cycle of a voiced "syllable" (harmonics, 4 Hz envelope)
/// and a pause, different pitch per talker, about -20 dBFS while voiced.
pub fn talker_pcm(k: usize, len: usize) -> Vec<i16> {
    let f0 = 110.0 + 37.0 * k as f64;
    let amp = 32768.0 * 10f64.powf(-20.0 / 20.0) * 2f64.sqrt() / 1.5;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(RATE) + k as f64 * 0.41;
            let cycle = t % 1.5;
            let env = if cycle < 1.1 {
                (std::f64::consts::PI * 4.0 * cycle).sin().abs()
            } else {
                0.0
            };
            let w = 2.0 * std::f64::consts::PI * f0 * t;
            (amp * env * (w.sin() + 0.4 * (2.0 * w).sin() + 0.1 * (3.0 * w).sin())).round() as i16
        })
        .collect()
}

/// L16 talker frames at `rate`: the same signal, resampled by index.
pub fn l16_talker_frames(k: usize, rate: u32, frames: usize) -> Vec<Vec<u8>> {
    let n = rate as usize / 50;
    let src = talker_pcm(k, frames * FRAME);
    (0..frames)
        .map(|f| {
            let pcm: Vec<i16> = (0..n).map(|i| src[f * FRAME + i * FRAME / n]).collect();
            super::abi::l16_bytes(&pcm)
        })
        .collect()
}

fn gauss(rng: &mut u64) -> f64 {
    let mut u = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        ((*rng >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (a, b) = (u(), u());
    (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
}
