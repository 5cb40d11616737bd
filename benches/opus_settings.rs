//! `cargo bench --bench opus_settings -- OUT_DIR`: the table behind the Opus
//! encoder defaults (README, Audio). Speech from espeak-ng at -26 dBov, 48 kHz
//! (a WebRTC listener's rate), is encoded with each (bitrate, complexity)
//! once, and in tandem after a sender's encode (32 kbit/s, complexity 10, as
//! a browser sends): what a listener of a talker hears. Writes 16 kHz WAVs
//! for PESQ-WB (scripts/opus-table.sh scores them) and prints, per setting,
//! the CPU one encode of a 20 ms frame costs on this machine.
use std::path::{Path, PathBuf};
use std::time::Instant;

use huddle::audio::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
use huddle::audio::resample::resample_all;

const RATE: u32 = 48000;
const FRAME: usize = 960;

fn speech(dir: &Path) -> Vec<i16> {
    let wav = dir.join("espeak.wav");
    let ok = std::process::Command::new("espeak-ng")
        .args([
            "-w",
            wav.to_str().expect("utf-8 path"),
            "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
             It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "espeak-ng is needed for the speech");
    let raw = huddle::audio::wav::load_sound(&wav, RATE).expect("espeak-ng's WAV loads");
    let level =
        |x: &[i16]| (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let active: Vec<f64> = raw
        .chunks(FRAME)
        .map(level)
        .filter(|r| *r > 32767.0 * 10f64.powf(-50.0 / 20.0))
        .collect();
    let rms = (active.iter().map(|r| r * r).sum::<f64>() / active.len() as f64).sqrt();
    let gain = 32767.0 * 10f64.powf(-26.0 / 20.0) / rms;
    let mut out: Vec<i16> = raw
        .iter()
        .map(|&s| (f64::from(s) * gain).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    out.truncate(out.len() / FRAME * FRAME);
    out
}

/// Encodes and decodes `pcm`; returns the decoded audio and the encoder's
/// CPU time per frame in µs (best of three passes: the machine is shared).
fn code(pcm: &[i16], s: EncoderSettings) -> (Vec<i16>, f64) {
    let mut best = f64::INFINITY;
    let mut decoded = Vec::new();
    for _ in 0..3 {
        let mut enc = OpusEncoder::new(RATE, s).expect("valid settings");
        let mut dec = OpusDecoder::new(RATE).expect("valid rate");
        let mut packet = vec![0u8; 1500];
        let mut out = vec![0i16; FRAME];
        let mut spent = 0.0;
        decoded.clear();
        for f in pcm.chunks_exact(FRAME) {
            let t = Instant::now();
            let n = enc.encode(f, &mut packet).expect("encodes");
            spent += t.elapsed().as_secs_f64();
            dec.decode(&packet[..n], &mut out).expect("decodes");
            decoded.extend_from_slice(&out);
        }
        best = best.min(spent * 1e6 / (pcm.len() / FRAME) as f64);
    }
    (decoded, best)
}

fn write16k(path: &Path, pcm: &[i16]) {
    let x: Vec<f32> = pcm.iter().map(|&s| f32::from(s)).collect();
    let y = resample_all(&x, RATE, 16000).expect("48k -> 16k");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("WAV opens");
    for s in y {
        w.write_sample(s.round().clamp(-32768.0, 32767.0) as i16)
            .expect("WAV writes");
    }
    w.finalize().expect("WAV closes");
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("huddle-opus-table"));
    std::fs::create_dir_all(&dir).expect("output folder");
    let clean = speech(&dir);
    write16k(&dir.join("ref.wav"), &clean);
    let sender = EncoderSettings {
        bitrate: 32_000,
        complexity: 10,
        fec: false,
        dtx: false,
        packet_loss_pct: 0,
    };
    let (heard_from_sender, _) = code(&clean, sender);
    println!("bitrate,complexity,us_per_encode,single,tandem");
    for bitrate in [16_000, 24_000, 32_000, 48_000] {
        for complexity in [0, 2, 4, 5, 6, 8, 10] {
            let s = EncoderSettings {
                bitrate,
                complexity,
                ..sender
            };
            let (single, us) = code(&clean, s);
            let (tandem, _) = code(&heard_from_sender, s);
            let name = |kind: &str| dir.join(format!("{kind}-{bitrate}-{complexity}.wav"));
            write16k(&name("single"), &single);
            write16k(&name("tandem"), &tandem);
            println!(
                "{bitrate},{complexity},{us:.1},{},{}",
                name("single").display(),
                name("tandem").display()
            );
        }
    }
}
