//! Opus through the jitter buffer under random packet loss (issue 22): a lost
//! packet is rebuilt from the next packet's in-band FEC when it carries some,
//! and concealed otherwise. What a listener hears is compared with what the
//! same stream gives without loss.
mod common;
use common::*;

use huddle::audio::opus::{EncoderSettings, OpusEncoder};

const ROOM_RATE: u32 = 16000;
/// Ticks between a packet's arrival and its playing with
/// `jitterBufferSize=medium` (3 frames): playing starts in the tick the third
/// packet arrives.
const DELAY: usize = 2;

/// Per-frame spectral-envelope distance (dB) between `got` and `want`: the
/// RMS over 16 log-spaced bands from 100 Hz to 8 kHz of the difference of
/// their band levels (Hann-windowed DFT), each floored at -70 dBov so that
/// silence against silence scores zero. Bands, not bins, because a codec
/// does not keep the fine structure of noise-like bands; a frame of silence
/// where speech should be still scores tens of dB.
fn log_spectral_distance(got: &[i16], want: &[i16]) -> f64 {
    let n = got.len();
    let rate = ROOM_RATE as f64;
    let floor = (from_dbov(-70.0) * n as f64 / 2.0).powi(2);
    let power = |x: &[i16], k: usize| {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (i, &s) in x.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
            let ph = 2.0 * std::f64::consts::PI * (k * i) as f64 / n as f64;
            re += w * s as f64 * ph.cos();
            im -= w * s as f64 * ph.sin();
        }
        re * re + im * im
    };
    let bands = 16;
    let edge = |b: usize| 100.0 * (8000.0f64 / 100.0).powf(b as f64 / bands as f64);
    let bin = |hz: f64| ((hz * n as f64 / rate).round() as usize).clamp(1, n / 2);
    let level = |x: &[i16], b: usize| {
        let (lo, hi) = (bin(edge(b)), bin(edge(b + 1)).max(bin(edge(b)) + 1));
        let p = (lo..hi).map(|k| power(x, k)).sum::<f64>() / (hi - lo) as f64;
        10.0 * (p + floor).log10()
    };
    ((0..bands)
        .map(|b| (level(got, b) - level(want, b)).powi(2))
        .sum::<f64>()
        / bands as f64)
        .sqrt()
}

/// What one run measured.
struct Run {
    heard: Vec<i16>,
    lost: Vec<usize>,
    fec_recovered: u64,
    concealed: u64,
}

/// An Opus talker (16 kHz, 32 kbit/s) says `speech` into a 16 kHz room with
/// a 3-frame jitter buffer; each packet is lost with probability `loss`
/// (a seeded generator). `fec`: the sender codes in-band FEC, told to expect
/// that loss.
fn run(speech: &[i16], loss: f64, fec: bool) -> Run {
    let h = Harness::new(&format!(
        "[profiles.default]\nrate = {ROOM_RATE}\ninterval_ms = 20\n"
    ));
    let talker = h
        .join("t", "{beep=false,codec=opus,jitterBufferSize=medium}loss")
        .unwrap();
    h.join("l", "{beep=false}loss").unwrap();
    let settings = EncoderSettings {
        bitrate: 32000,
        complexity: 5,
        fec,
        packet_loss_pct: if fec {
            (loss * 100.0).round() as i32
        } else {
            0
        },
        dtx: false,
    };
    let mut enc = OpusEncoder::new(ROOM_RATE, settings).unwrap();
    let mut packet = vec![0u8; 1500];
    let mut seed = 0x2222_u64;
    let mut lost = Vec::new();
    let n = frame(ROOM_RATE, 20);
    let frames = speech.len() / n;
    for f in 0..frames + DELAY {
        if f < frames {
            let len = enc
                .encode(&speech[f * n..(f + 1) * n], &mut packet)
                .unwrap();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // The first and last packets always arrive: the stream's start and
            // end are not what this measures.
            let drop = f > 0 && f + 1 < frames && (seed % 10_000) as f64 / 10_000.0 < loss;
            if drop {
                lost.push(f);
            } else {
                h.module.member_audio(
                    &talker,
                    huddle::runtime::InFrame {
                        codec: huddle::room::io::Codec::Opus,
                        rate: ROOM_RATE,
                        samples: n as u32,
                        data: packet[..len].to_vec(),
                        audio_level: None,
                        sequence: Some((f as u16).wrapping_add(60_000)),
                    },
                );
            }
        }
        h.advance(20);
    }
    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats loss")).unwrap();
    let member = &stats["result"]["members"][0];
    let heard = h.heard("l").pcm[DELAY * n..(frames + DELAY) * n].to_vec();
    Run {
        heard,
        lost,
        fec_recovered: member["fec_recovered"].as_u64().unwrap(),
        concealed: member["concealed"].as_u64().unwrap(),
    }
}

/// Mean spectral distance of `got` from `want` over those of `frames` where
/// `want` is speech (above -50 dBov).
fn distance(got: &[i16], want: &[i16], frames: &[usize]) -> f64 {
    let n = frame(ROOM_RATE, 20);
    let d: Vec<f64> = frames
        .iter()
        .map(|&f| (&got[f * n..(f + 1) * n], &want[f * n..(f + 1) * n]))
        .filter(|(_, w)| dbov(rms(w)) > -50.0)
        .map(|(g, w)| log_spectral_distance(g, w))
        .collect();
    d.iter().sum::<f64>() / d.len() as f64
}

/// The loss-free heard signal with the lost frames replaced by silence: what
/// a listener would get with neither FEC nor concealment.
fn zero_filled(clean: &[i16], lost: &[usize]) -> Vec<i16> {
    let n = frame(ROOM_RATE, 20);
    let mut out = clean.to_vec();
    for &f in lost {
        out[f * n..(f + 1) * n].fill(0);
    }
    out
}

#[test]
fn random_loss_is_rebuilt_from_fec_or_concealed() {
    let mut talk = speech(
        "Good morning everyone. Shall we start the meeting? The numbers for this quarter are in.",
        ROOM_RATE,
        -26.0,
    );
    let n = frame(ROOM_RATE, 20);
    talk.truncate(talk.len() / n * n);
    for loss in [0.05, 0.20] {
        let clean_fec = run(&talk, 0.0, true);
        let clean_plain = run(&talk, 0.0, false);
        assert!(
            clean_fec.lost.is_empty() && clean_fec.concealed == 0,
            "clean run concealed {}",
            clean_fec.concealed
        );
        let fec = run(&talk, loss, true);
        let plain = run(&talk, loss, false);
        assert_eq!(
            fec.lost, plain.lost,
            "the same packets are lost in both runs"
        );
        let d_fec = distance(&fec.heard, &clean_fec.heard, &fec.lost);
        let d_plc = distance(&plain.heard, &clean_plain.heard, &fec.lost);
        let zero = zero_filled(&clean_fec.heard, &fec.lost);
        let d_zero = distance(&zero, &clean_fec.heard, &fec.lost);
        let all: Vec<usize> = (0..talk.len() / n).collect();
        let d_fec_all = distance(&fec.heard, &clean_fec.heard, &all);
        let d_plc_all = distance(&plain.heard, &clean_plain.heard, &all);
        // A lost packet whose successor arrived can be rebuilt from it.
        let rebuildable = fec
            .lost
            .iter()
            .filter(|f| !fec.lost.contains(&(**f + 1)))
            .count() as u64;
        println!(
            "{:.0}% loss ({} of {} packets, {rebuildable} followed by a packet): \
             spectral distance from the loss-free stream in the lost speech frames: \
             FEC stream {d_fec:.2} dB ({} rebuilt from FEC), plain stream with PLC {d_plc:.2} dB, \
             left silent {d_zero:.2} dB; over all speech frames: FEC {d_fec_all:.2} dB, PLC {d_plc_all:.2} dB",
            loss * 100.0,
            fec.lost.len(),
            talk.len() / n,
            fec.fec_recovered,
        );
        assert_eq!(
            fec.concealed,
            fec.lost.len() as u64,
            "every lost packet's slot was filled"
        );
        assert!(
            fec.fec_recovered > 0 && fec.fec_recovered <= rebuildable,
            "FEC rebuilt {} of {rebuildable} lost packets that had a successor",
            fec.fec_recovered
        );
        assert_eq!(plain.fec_recovered, 0, "a stream without FEC is concealed");
        assert!(
            d_plc < d_zero,
            "concealment ({d_plc:.2} dB) beats silence ({d_zero:.2} dB)"
        );
        assert!(
            d_fec < d_plc,
            "FEC ({d_fec:.2} dB) beats concealment alone ({d_plc:.2} dB)"
        );
    }
}
