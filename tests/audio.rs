//! The audio engine seen from the members: what each hears, measured against
//! values the tests compute themselves.
mod common;
use common::*;

use huddle::ffi::opus::{EncoderSettings, OpusDecoder, OpusEncoder};

const RATE: u32 = 16000;

fn profile(extra: &str) -> String {
    format!("[profiles.default]\nrate = {RATE}\ninterval_ms = 20\n{extra}\n")
}

/// Zero-crossing frequency estimate of a pure tone.
fn tone_freq(samples: &[i16], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / rate as f64)
}

#[test]
fn three_talkers_sum_exactly_below_the_limiter() {
    let h = Harness::new(&profile(""));
    let n = frame(RATE, 20);
    let ids = ["t1", "t2", "t3"];
    let ports: Vec<_> = ids
        .iter()
        .map(|c| h.join(c, "{beep=false}sum").unwrap())
        .collect();
    let listener = h.join("l", "{beep=false}sum").unwrap();
    let _ = listener;
    let freqs = [300.0, 500.0, 700.0];
    let mut phases = [0.0; 3];
    let mut expected_l: Vec<i32> = Vec::new();
    let mut expected_t1: Vec<i32> = Vec::new();
    for _ in 0..100 {
        let frames: Vec<Vec<i16>> = (0..3)
            .map(|i| sine(freqs[i], RATE, n, 3000.0, &mut phases[i]))
            .collect();
        for i in 0..3 {
            h.send_l16(&ports[i], &frames[i], RATE);
        }
        for k in 0..n {
            expected_l.push(frames.iter().map(|f| f[k] as i32).sum());
            expected_t1.push(frames[1][k] as i32 + frames[2][k] as i32);
        }
        h.advance(20);
    }
    let heard_l = h.heard("l").pcm;
    let heard_t1 = h.heard("t1").pcm;
    assert_eq!(heard_l.len(), expected_l.len());
    let worst = |heard: &[i16], exp: &[i32]| {
        heard
            .iter()
            .zip(exp)
            .map(|(a, b)| (*a as i32 - b).abs())
            .max()
            .unwrap()
    };
    assert!(
        worst(&heard_l, &expected_l) <= 1,
        "listener hears the exact sum"
    );
    assert!(
        worst(&heard_t1, &expected_t1) <= 1,
        "a talker hears the others' exact sum"
    );
}

#[test]
fn overlapping_loud_talkers_are_limited_not_clipped() {
    let h = Harness::new(&profile(""));
    let n = frame(RATE, 20);
    let ports: Vec<_> = (0..3)
        .map(|i| h.join(&format!("t{i}"), "{beep=false}loud").unwrap())
        .collect();
    h.join("l", "{beep=false}loud").unwrap();
    let mut phase = [0.0; 3];
    let mut ideal = Vec::new();
    for _ in 0..50 {
        for (i, p) in ports.iter().enumerate() {
            // Same 400 Hz in phase: the sum peaks at 3 x 20000 = 60000.
            h.send_l16(p, &sine(400.0, RATE, n, 20000.0, &mut phase[i]), RATE);
        }
        let mut ph = phase[0] - 2.0 * std::f64::consts::PI * 400.0 * n as f64 / RATE as f64;
        ideal.extend(sine(400.0, RATE, n, 1.0 * 30000.0, &mut ph));
        h.advance(20);
    }
    let heard = h.heard("l").pcm;
    let tail = &heard[heard.len() - 8000..];
    let peak = tail.iter().map(|s| (*s as i32).abs()).max().unwrap();
    assert!(peak <= 32767 && peak > 20000, "peak {peak}");
    let at_rail = tail.iter().filter(|s| (**s as i32).abs() >= 32767).count();
    assert_eq!(
        at_rail, 0,
        "no sample sits at the rail: the limiter scaled, it did not clip"
    );
    // A hard clipper would flatten the tops into a square-ish wave with strong
    // odd harmonics; the limited sum stays a sine: 3rd harmonic 40 dB down.
    let fund = goertzel(tail, 400.0, RATE);
    let third = goertzel(tail, 1200.0, RATE);
    assert!(
        db(fund, third) > 40.0,
        "3rd harmonic only {:.1} dB down",
        db(fund, third)
    );
}

#[test]
fn muted_member_contributes_nothing() {
    let h = Harness::new(&profile(""));
    let n = frame(RATE, 20);
    let a = h.join("a", "{beep=false}m").unwrap();
    let b = h.join("b", "{beep=false}m").unwrap();
    h.join("l", "{beep=false}m").unwrap();
    assert!(h.api("mute m 1").starts_with("+OK"));
    let (mut pa, mut pb) = (0.0, 0.0);
    let mut expected = Vec::new();
    for _ in 0..50 {
        let fa = sine(600.0, RATE, n, 5000.0, &mut pa);
        let fb = sine(900.0, RATE, n, 5000.0, &mut pb);
        h.send_l16(&a, &fa, RATE);
        h.send_l16(&b, &fb, RATE);
        expected.extend(fb);
        h.advance(20);
    }
    assert_eq!(
        h.heard("l").pcm,
        expected,
        "only the unmuted member, bit-exact"
    );
    let events = h.event_names();
    assert!(events.contains(&"participant-mute".to_string()));
    assert!(
        events.contains(&"participant-speech-while-muted".to_string()),
        "talk detection keeps running on a muted line: {events:?}"
    );
}

#[test]
fn narrowband_l16_and_fullband_opus_hear_each_other() {
    let h = Harness::new(&profile(""));
    let a = h.join("a8k", "{beep=false}mix").unwrap();
    let b = h.join("b48k", "{beep=false,codec=opus}mix").unwrap();
    let mut enc = OpusEncoder::new(
        48000,
        EncoderSettings {
            bitrate: 32000,
            complexity: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let mut packet = vec![0u8; 1500];
    let (mut pa, mut pb) = (0.0, 0.0);
    for _ in 0..100 {
        h.send_l16(
            &a,
            &sine(1000.0, 8000, frame(8000, 20), 8000.0, &mut pa),
            8000,
        );
        let pcm = sine(440.0, 48000, frame(48000, 20), 8000.0, &mut pb);
        let len = enc.encode(&pcm, &mut packet).unwrap();
        h.send_opus(&b, &packet[..len], 48000);
        h.advance(20);
    }
    let heard_a = h.heard("a8k");
    assert_eq!(heard_a.rate, 8000, "the 8 kHz member hears 8 kHz L16");
    let tail_a = &heard_a.pcm[heard_a.pcm.len() - 8000..];
    let fa = tone_freq(tail_a, 8000);
    assert!(
        (fa - 440.0).abs() < 4.4,
        "8 kHz member hears {fa:.1} Hz, want 440 ±1%"
    );

    let heard_b = h.heard("b48k");
    assert_eq!(heard_b.rate, 48000);
    assert!(
        heard_b.opus.len() >= 90,
        "Opus frames out: {}",
        heard_b.opus.len()
    );
    let mut dec = OpusDecoder::new(48000).unwrap();
    let mut pcm = Vec::new();
    let mut buf = vec![0i16; 960];
    for p in &heard_b.opus {
        let n = dec.decode(p, &mut buf).unwrap();
        pcm.extend_from_slice(&buf[..n]);
    }
    let tail_b = &pcm[pcm.len() - 48000..];
    let fb = tone_freq(tail_b, 48000);
    assert!(
        (fb - 1000.0).abs() < 10.0,
        "Opus member hears {fb:.1} Hz, want 1000 ±1%"
    );
    assert!(
        db(
            goertzel(tail_b, 1000.0, 48000),
            goertzel(tail_b, 440.0, 48000)
        ) > 30.0,
        "and not itself"
    );
}

/// A spoken sentence from espeak-ng, or syllable-like bursts when espeak-ng is
/// absent, at RATE, starting at its first frame above -60 dBov.
fn sentence() -> Vec<i16> {
    let dir = scratch_dir("speech");
    let wav = dir.join("s.wav");
    let spoken = std::process::Command::new("espeak-ng")
        .args([
            "-w",
            wav.to_str().unwrap(),
            "Good morning, this is the first syllable test.",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let samples = if spoken {
        huddle::audio::wav::load_sound(&wav, RATE).unwrap()
    } else {
        eprintln!("espeak-ng not found: using synthetic syllables");
        let mut v = Vec::new();
        let mut ph = 0.0;
        for i in 0..10 {
            v.extend(sine(180.0 + 20.0 * i as f64, RATE, 3200, 9000.0, &mut ph));
            v.extend(vec![0i16; 1600]);
        }
        v
    };
    let n = frame(RATE, 20);
    let first = samples.chunks(n).position(|f| {
        let r = rms(f);
        20.0 * (r / 32767.0 + 1e-12).log10() > -60.0
    });
    samples[first.unwrap() * n..].to_vec()
}

#[test]
fn first_twenty_ms_of_speech_in_an_idle_room_are_mixed() {
    let h = Harness::new(&profile(""));
    let n = frame(RATE, 20);
    let talker = h.join("t", "{beep=false}idle").unwrap();
    h.join("l", "{beep=false}idle").unwrap();
    for _ in 0..50 {
        h.send_l16(&talker, &vec![0; n], RATE);
        h.advance(20);
    }
    let speech = sentence();
    let frames: Vec<&[i16]> = speech.chunks_exact(n).collect();
    for f in &frames {
        h.send_l16(&talker, f, RATE);
        h.advance(20);
    }
    let heard = h.heard("l").pcm;
    let start = 50 * n;
    assert!(
        heard[..start].iter().all(|s| *s == 0),
        "silence is digital zero"
    );
    let first: Vec<i32> = heard[start..start + n].iter().map(|s| *s as i32).collect();
    let sent: Vec<i32> = frames[0].iter().map(|s| *s as i32).collect();
    let worst = first
        .iter()
        .zip(&sent)
        .map(|(a, b)| (a - b).abs())
        .max()
        .unwrap();
    assert!(
        worst <= 1,
        "the first 20 ms frame of the sentence reaches the listener unchanged (worst {worst})"
    );
}

#[test]
fn speech_events_follow_the_hysteresis() {
    // 40 ms to start, 600 ms to stop, 20 ms frames: start 2 frames after the
    // tone begins, stop 30 frames after it ends.
    let h = Harness::new(&profile("talk_start_ms = 40\ntalk_stop_ms = 600"));
    let n = frame(RATE, 20);
    let t = h.join("t", "{beep=false}vad").unwrap();
    h.join("l", "{beep=false}vad").unwrap();
    let mut phase = 0.0;
    let mut start_at = None;
    let mut stop_at = None;
    for k in 0..200u32 {
        let f = if (50..100).contains(&k) {
            sine(500.0, RATE, n, 3000.0, &mut phase)
        } else {
            vec![0; n]
        };
        h.send_l16(&t, &f, RATE);
        h.advance(20);
        let names = h.event_names();
        if start_at.is_none() && names.iter().any(|e| e == "participant-speech-start") {
            start_at = Some(k);
        }
        if stop_at.is_none() && names.iter().any(|e| e == "participant-speech-stop") {
            stop_at = Some(k);
        }
    }
    let (start, stop) = (
        start_at.expect("speech-start"),
        stop_at.expect("speech-stop"),
    );
    // The tone's first frame is frame 50: the detector has seen 2 loud frames at frame 51.
    assert!(
        (start as i32 - 51).abs() <= 1,
        "speech-start at frame {start}"
    );
    // Last loud frame 99, then 30 quiet frames: stop at frame 129.
    assert!(
        (stop as i32 - 129).abs() <= 1,
        "speech-stop at frame {stop}"
    );
}

#[test]
fn a_flood_of_frames_stays_bounded_and_audio_goes_on() {
    let h = Harness::new(&profile(""));
    let n = frame(RATE, 20);
    let t = h.join("t", "{beep=false}flood").unwrap();
    h.join("l", "{beep=false}flood").unwrap();
    let mut phase = 0.0;
    for _ in 0..1000 {
        h.send_l16(&t, &sine(500.0, RATE, n, 3000.0, &mut phase), RATE);
    }
    h.advance(20);
    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats flood")).unwrap();
    let m = &stats["result"]["members"][0];
    // 16 frames fit the hand-off queue, 1 frame the jitter buffer + 2 slack.
    let dropped = m["dropped"].as_u64().unwrap();
    assert!(
        dropped >= 1000 - 16,
        "dropped {dropped}: the flood did not queue up"
    );
    for _ in 0..20 {
        h.send_l16(&t, &sine(500.0, RATE, n, 3000.0, &mut phase), RATE);
        h.advance(20);
    }
    let heard = h.heard("l").pcm;
    let tail = &heard[heard.len() - 10 * n..];
    assert!(
        rms(tail) > 1500.0,
        "the member is still heard after the flood"
    );
}

#[test]
fn corrupt_opus_is_survived() {
    let h = Harness::new(&profile(""));
    let n = frame(RATE, 20);
    let bad = h.join("bad", "{beep=false}corrupt").unwrap();
    let good = h.join("good", "{beep=false}corrupt").unwrap();
    h.join("l", "{beep=false}corrupt").unwrap();
    let mut seed = 7u64;
    let mut phase = 0.0;
    for _ in 0..50 {
        let junk: Vec<u8> = (0..80)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        h.send_opus(&bad, &junk, 48000);
        h.send_opus(&bad, &[0xff, 0xff, 0xff], 48000);
        h.send_l16(&good, &sine(700.0, RATE, n, 4000.0, &mut phase), RATE);
        h.advance(20);
    }
    let heard = h.heard("l").pcm;
    let tail = &heard[heard.len() - 8000..];
    assert!(
        db(goertzel(tail, 700.0, RATE), goertzel(tail, 300.0, RATE)) > 20.0,
        "the good member is heard"
    );
    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats corrupt")).unwrap();
    let m = &stats["result"]["members"][0];
    assert!(
        m["bad_frames"].as_u64().unwrap() + m["dropped"].as_u64().unwrap() > 0,
        "{m}"
    );
}

#[test]
fn five_hundred_opus_listeners_cost_one_shared_encode() {
    let h = Harness::new("[profiles.default]\nrate = 48000\ninterval_ms = 20\nmax_members = 1000\n[[rooms]]\nname = \"big\"\nmax_participants = 1000\nannounce_join_leave = false\n");
    let t1 = h.join("t1", "{beep=false,codec=opus}big").unwrap();
    let t2 = h.join("t2", "{beep=false,codec=opus}big").unwrap();
    for i in 0..500 {
        h.join(&format!("l{i}"), "{beep=false,codec=opus}big")
            .unwrap();
    }
    let settings = EncoderSettings {
        bitrate: 32000,
        complexity: 5,
        ..Default::default()
    };
    let mut e1 = OpusEncoder::new(48000, settings).unwrap();
    let mut e2 = OpusEncoder::new(48000, settings).unwrap();
    let mut buf = vec![0u8; 1500];
    let (mut p1, mut p2) = (0.0, 0.0);
    for _ in 0..10 {
        let n1 = e1
            .encode(&sine(300.0, 48000, 960, 6000.0, &mut p1), &mut buf)
            .unwrap();
        h.send_opus(&t1, &buf[..n1], 48000);
        let n2 = e2
            .encode(&sine(800.0, 48000, 960, 6000.0, &mut p2), &mut buf)
            .unwrap();
        h.send_opus(&t2, &buf[..n2], 48000);
        h.advance(20);
    }
    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats big")).unwrap();
    let r = &stats["result"];
    // Two talkers each hear the other (2 mixes) and 500 listeners share one.
    assert_eq!(
        r["opus_encodes_last_tick"], 3,
        "{}",
        r["opus_encodes_last_tick"]
    );
    assert_eq!(
        h.heard("l499").opus.len(),
        10,
        "every listener got every frame"
    );
    assert_eq!(
        h.heard("l0").opus,
        h.heard("l499").opus,
        "listeners share the very same packets"
    );
}

#[test]
fn top_n_mixes_only_the_loudest() {
    let h = Harness::new(&profile("top_n = 2"));
    let n = frame(RATE, 20);
    let amps = [9000.0, 6000.0, 1500.0];
    let freqs = [300.0, 500.0, 700.0];
    let ports: Vec<_> = (0..3)
        .map(|i| h.join(&format!("t{i}"), "{beep=false}top").unwrap())
        .collect();
    h.join("l", "{beep=false}top").unwrap();
    let mut ph = [0.0; 3];
    for _ in 0..50 {
        for i in 0..3 {
            h.send_l16(
                &ports[i],
                &sine(freqs[i], RATE, n, amps[i], &mut ph[i]),
                RATE,
            );
        }
        h.advance(20);
    }
    let heard = h.heard("l").pcm;
    let tail = &heard[heard.len() - 8000..];
    let quiet = goertzel(tail, 700.0, RATE);
    assert!(
        db(goertzel(tail, 500.0, RATE), quiet) > 40.0,
        "the third-loudest is left out"
    );
    assert!(db(goertzel(tail, 300.0, RATE), quiet) > 40.0);
}

#[test]
fn comfort_noise_fills_silence_at_its_level() {
    let h = Harness::new(&profile("comfort_noise_dbov = -50"));
    h.join("a", "{beep=false}cn").unwrap();
    h.join("b", "{beep=false}cn").unwrap();
    h.advance(2000);
    let heard = h.heard("a").pcm;
    let level = 20.0 * (rms(&heard) / 32767.0).log10();
    assert!(
        (level + 50.0).abs() < 1.5,
        "comfort noise at {level:.1} dBov, want -50"
    );
}

#[test]
fn a_broken_music_file_is_named_and_the_room_goes_on() {
    let dir = scratch_dir("badmoh");
    std::fs::write(dir.join("sounds/hold.wav"), b"this is not a wav file").unwrap();
    let h = Harness::in_dir(
        dir,
        &format!("{MODULE_MANUAL}\n[profiles.default]\nrate = 16000\n[profiles.default.sounds]\nmoh = \"hold.wav\"\n"),
    );
    let a = h.join("a", "{beep=false}moh").unwrap();
    h.join("b", "{beep=false}moh").unwrap();
    let logs = h.logs().join("\n");
    assert!(
        logs.contains("hold.wav") && logs.contains("going on without it"),
        "{logs}"
    );
    let mut ph = 0.0;
    for _ in 0..25 {
        h.send_l16(
            &a,
            &sine(500.0, RATE, frame(RATE, 20), 3000.0, &mut ph),
            RATE,
        );
        h.advance(20);
    }
    assert!(
        rms(&h.heard("b").pcm) > 1000.0,
        "members still hear each other"
    );
}

#[test]
fn quiet_opus_senders_are_not_decoded() {
    let h = Harness::new("[profiles.default]\nrate = 48000\ninterval_ms = 20\nmax_members = 200\n[[rooms]]\nname = \"q\"\nmax_participants = 200\nannounce_join_leave = false\n");
    let settings = EncoderSettings {
        bitrate: 32000,
        complexity: 5,
        ..Default::default()
    };
    let ports: Vec<_> = (0..100)
        .map(|i| {
            h.join(&format!("m{i}"), "{beep=false,codec=opus}q")
                .unwrap()
        })
        .collect();
    let mut encoders: Vec<OpusEncoder> = (0..100)
        .map(|_| OpusEncoder::new(48000, settings).unwrap())
        .collect();
    let mut phases = vec![0.0; 100];
    let mut seed = 99u64;
    let mut buf = vec![0u8; 1500];
    let frames = 100;
    for _ in 0..frames {
        for i in 0..100 {
            let pcm: Vec<i16> = if i < 3 {
                // A talker: a steady voiced sound.
                sine(150.0 + 60.0 * i as f64, 48000, 960, 8000.0, &mut phases[i])
            } else {
                // An open microphone in a quiet room: -65 dBFS white noise.
                (0..960)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        ((seed % 37) as i16) - 18
                    })
                    .collect()
            };
            let n = encoders[i].encode(&pcm, &mut buf).unwrap();
            h.send_opus(&ports[i], &buf[..n], 48000);
        }
        h.advance(20);
    }
    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats q")).unwrap();
    let r = &stats["result"];
    let decodes = r["opus_decodes"].as_u64().unwrap();
    let skipped = r["decodes_skipped"].as_u64().unwrap();
    println!("100 Opus members x {frames} frames: {decodes} decodes, {skipped} skipped");
    assert_eq!(
        decodes + skipped,
        100 * frames,
        "every frame was either decoded or skipped"
    );
    assert!(
        skipped >= 97 * frames * 9 / 10,
        "the 97 quiet senders were mostly skipped: {skipped}"
    );
    assert!(
        decodes >= 3 * frames,
        "the 3 talkers were decoded: {decodes}"
    );
}

#[test]
fn rfc6464_levels_skip_decodes_too() {
    let h = Harness::new(&profile(""));
    let n = frame(RATE, 20);
    let quiet = h.join("quiet", "{beep=false}lvl").unwrap();
    h.join("l", "{beep=false}lvl").unwrap();
    let mut ph = 0.0;
    for _ in 0..50 {
        let data: Vec<u8> = sine(500.0, RATE, n, 30.0, &mut ph)
            .iter()
            .flat_map(|s| s.to_ne_bytes())
            .collect();
        h.module.member_audio(
            &quiet,
            huddle::runtime::InFrame {
                codec: huddle::host::Codec::L16,
                rate: RATE,
                samples: n as u32,
                data,
                // The sender measured -70 dBov.
                audio_level: Some(70),
                sequence: None,
            },
        );
        h.advance(20);
    }
    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats lvl")).unwrap();
    assert_eq!(stats["result"]["decodes_skipped"], 50);
}

/// Sends a voiced sound as Opus with packet 50 lost; returns (fec_recovered,
/// the energy missing around the loss, in frames at full level).
fn lose_one_packet(fec: bool) -> (u64, f64) {
    let h = Harness::new("[profiles.default]\nrate = 48000\ninterval_ms = 20\n");
    // Three frames of buffering: the packet after a lost one is here in time.
    let talker = h
        .join("t", "{beep=false,jitterBufferSize=medium}fec")
        .unwrap();
    h.join("l", "{beep=false}fec").unwrap();
    let settings = EncoderSettings {
        bitrate: 32000,
        complexity: 5,
        fec,
        packet_loss_pct: if fec { 20 } else { 0 },
        ..Default::default()
    };
    let mut enc = OpusEncoder::new(48000, settings).unwrap();
    let mut buf = vec![0u8; 1500];
    for seq in 0..100u16 {
        // Speech-like (a voiced tone swelling at 3 Hz): libopus codes FEC only
        // for frames its VAD calls active, which a steady tone soon is not.
        let pcm: Vec<i16> = (0..960)
            .map(|i| {
                let t = (seq as usize * 960 + i) as f64 / 48000.0;
                let tau = 2.0 * std::f64::consts::PI;
                (6000.0 * (tau * 220.0 * t).sin() * (1.0 + 0.5 * (tau * 3.0 * t).sin())) as i16
            })
            .collect();
        let n = enc.encode(&pcm, &mut buf).unwrap();
        if seq != 50 {
            h.module.member_audio(
                &talker,
                huddle::runtime::InFrame {
                    codec: huddle::host::Codec::Opus,
                    rate: 48000,
                    samples: 960,
                    data: buf[..n].to_vec(),
                    audio_level: None,
                    sequence: Some(seq.wrapping_add(65500)),
                },
            );
        }
        h.advance(20);
    }
    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats fec")).unwrap();
    let recovered = stats["result"]["members"][0]["fec_recovered"]
        .as_u64()
        .unwrap();
    // Against the same sound without a loss, frame by frame (the swell makes
    // levels vary): how much level the loss cost, in frames at full level.
    let heard: Vec<f64> = h.heard("l").pcm.chunks_exact(960).map(rms).collect();
    let shift = 3; // the jitter buffer's depth
    let reference: Vec<f64> = (0..100)
        .map(|f| {
            let pcm: Vec<i16> = (0..960)
                .map(|i| {
                    let t = (f * 960 + i) as f64 / 48000.0;
                    let tau = 2.0 * std::f64::consts::PI;
                    (6000.0 * (tau * 220.0 * t).sin() * (1.0 + 0.5 * (tau * 3.0 * t).sin())) as i16
                })
                .collect();
            rms(&pcm)
        })
        .collect();
    let missing = (45..75)
        .map(|f| (1.0 - heard[f + shift] / reference[f]).max(0.0))
        .sum::<f64>();
    (recovered, missing)
}

#[test]
fn a_lost_opus_packet_is_rebuilt_from_the_next_packets_fec() {
    let (recovered, with_fec) = lose_one_packet(true);
    let (plc_recovered, with_plc) = lose_one_packet(false);
    println!("level missing around one lost packet: FEC stream {with_fec:.2} frames, plain stream (PLC) {with_plc:.2} frames");
    assert_eq!(
        recovered, 1,
        "the lost frame came from the next packet's FEC"
    );
    assert_eq!(
        plc_recovered, 0,
        "a stream without FEC data is concealed instead"
    );
    assert!(
        with_fec < with_plc,
        "FEC ({with_fec:.2}) rebuilds more than concealment ({with_plc:.2})"
    );
    assert!(
        with_fec < 1.5,
        "a lost packet with FEC costs under 1.5 frames of level: {with_fec:.2}"
    );
}
