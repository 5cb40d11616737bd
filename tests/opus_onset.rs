//! What a listener hears at the start of each word of an Opus talker, against
//! what a continuously decoding libopus makes of the same packets (issue 22).
//! huddle skips the packets whose voice-activity bit is clear, so its decoder
//! sees a stream with holes; the onset of each talk spurt must still come out
//! at the level the sender meant.
mod common;
use common::*;

use huddle::audio::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
use huddle::audio::silk_voice_activity;

/// Speech at -26 dBov cut to start in the middle of its first loud frame,
/// as when a sender's mute or its own silence suppression opens mid-word:
/// the onset a fresh decoder gets wrong.
fn spoken(text: &str, rate: u32) -> Vec<i16> {
    let speech = speech(text, rate, -26.0);
    let n = frame(rate, 20);
    let loud = speech
        .chunks(n)
        .position(|f| dbov(rms(f)) > -30.0)
        .expect("the speech has loud frames");
    speech[loud * n + n / 3..].to_vec()
}

/// One Opus talker (32 kbit/s, complexity 5) joins a room at `rate` and sends
/// digital silence for a second, then says three phrases with 1.2 s of
/// silence between them (longer than the talk detector's 600 ms
/// hangover, so skipping resumes). Returns, per talk spurt, the level
/// difference (heard minus continuous libopus, dB) of each of its first five
/// 20 ms frames.
fn onsets(rate: u32) -> Vec<Vec<f64>> {
    let h = Harness::new(&format!(
        "[profiles.default]\nrate = {rate}\ninterval_ms = 20\n"
    ));
    let talker = h.join("t", "{beep=false,codec=opus}onset").unwrap();
    h.join("l", "{beep=false}onset").unwrap();
    let n = frame(rate, 20);
    let mut signal = vec![0i16; 50 * n];
    for text in [
        "Good morning everyone.",
        "Shall we start the meeting?",
        "Thank you, goodbye.",
    ] {
        let mut words = spoken(text, rate);
        words.resize(words.len().div_ceil(n) * n, 0);
        signal.extend(words);
        signal.extend(vec![0i16; 60 * n]);
    }
    let settings = EncoderSettings {
        bitrate: 32000,
        complexity: 5,
        ..EncoderSettings::default()
    };
    let mut enc = OpusEncoder::new(rate, settings).unwrap();
    let mut reference = OpusDecoder::new(rate).unwrap();
    let mut expected = Vec::new();
    let mut active = Vec::new();
    let mut packet = vec![0u8; 1500];
    let mut out = vec![0i16; n];
    for f in signal.chunks_exact(n) {
        let len = enc.encode(f, &mut packet).unwrap();
        assert_eq!(reference.decode(&packet[..len], &mut out).unwrap(), n);
        expected.extend_from_slice(&out);
        active.push(silk_voice_activity(&packet[..len]) != Some(false));
        h.send_opus(&talker, &packet[..len], rate);
        h.advance(20);
    }
    let heard = h.heard("l").pcm;
    assert_eq!(heard.len(), expected.len(), "one frame heard per tick");
    // A talk spurt starts at a packet marked active after at least 40 marked
    // inactive: by then the detector's hangover has closed and huddle skips.
    let mut spurts = Vec::new();
    let mut quiet_run = 0;
    for (i, a) in active.iter().enumerate() {
        if *a {
            if quiet_run >= 40 {
                spurts.push(i);
            }
            quiet_run = 0;
        } else {
            quiet_run += 1;
        }
    }
    assert_eq!(spurts.len(), 3, "three phrases, three spurts: {spurts:?}");
    assert_eq!(spurts[0], 50, "the first spurt follows the silent join");
    spurts
        .iter()
        .map(|&i| {
            (i..i + 5)
                .map(|j| {
                    let at = j * n..(j + 1) * n;
                    let want = rms(&expected[at.clone()]);
                    assert!(
                        dbov(want) > -45.0,
                        "frame {j} of a spurt is speech ({:.1} dBov)",
                        dbov(want)
                    );
                    amplitude_db(rms(&heard[at]), want)
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_talk_spurt_starts_at_the_level_a_continuous_decoder_gives() {
    for rate in [16000, 48000] {
        let spurts = onsets(rate);
        for (k, diffs) in spurts.iter().enumerate() {
            let shown: Vec<String> = diffs.iter().map(|d| format!("{d:+.2}")).collect();
            println!(
                "{rate} Hz spurt {k}: heard against continuous libopus, 20 ms frames: {} dB",
                shown.join(" ")
            );
        }
        for (k, diffs) in spurts.iter().enumerate() {
            assert!(
                diffs[0].abs() <= 1.0,
                "{rate} Hz spurt {k}: the first 20 ms are {:+.2} dB off a continuous decoder",
                diffs[0]
            );
            assert!(
                diffs.iter().all(|d| d.abs() <= 1.0),
                "{rate} Hz spurt {k}: the first 100 ms stray: {diffs:?}"
            );
        }
    }
}
