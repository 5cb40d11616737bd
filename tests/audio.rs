//! The audio engine seen from the members: what each hears, measured against
//! values the tests compute themselves.
mod common;
use common::*;

use std::sync::Arc;

use huddle::audio::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
use huddle::runtime::MemberPort;

fn profile(extra: &str) -> String {
    format!("[profiles.default]\nrate = {RATE}\ninterval_ms = 20\n{extra}\n")
}

/// A module with `profile(extra)`, and the samples in one of its frames.
fn harness(extra: &str) -> (Harness, usize) {
    (Harness::new(&profile(extra)), frame(RATE, 20))
}

/// A talker "t" and a listener "l" (members 1 and 2) join `room` without
/// beeps; the talker's port.
fn talker_and_listener(h: &Harness, room: &str) -> Arc<MemberPort> {
    let app = format!("{{beep=false}}{room}");
    let t = h.join("t", &app).unwrap();
    h.join("l", &app).unwrap();
    t
}

/// `harness(extra)` with `talker_and_listener` in `room`.
fn talker_room(extra: &str, room: &str) -> (Harness, Arc<MemberPort>, usize) {
    let (h, n) = harness(extra);
    let t = talker_and_listener(&h, room);
    (h, t, n)
}

/// The settings of the Opus senders here: 32 kb/s, complexity 5.
fn voice() -> EncoderSettings {
    EncoderSettings {
        bitrate: 32000,
        complexity: 5,
        ..Default::default()
    }
}

/// A 48 kHz Opus encoder with `voice()` settings.
fn encoder() -> OpusEncoder {
    OpusEncoder::new(48000, voice()).unwrap()
}

/// The reply to `json stats <room>`.
fn json_stats(h: &Harness, room: &str) -> serde_json::Value {
    serde_json::from_str(&h.api(&format!("json stats {room}"))).unwrap()
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
    let (h, n) = harness("");
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
    let (h, n) = harness("");
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
fn an_8k_listener_of_loud_talkers_peaks_at_or_under_minus_one_dbfs() {
    // -1 dBFS, the limiter's promise, as the largest 16-bit sample under it.
    let ceiling = (32767.0 * 10f64.powf(-1.0 / 20.0)).round() as i32;
    let (h, n) = harness("");
    let talkers: Vec<_> = (0..3)
        .map(|i| h.join(&format!("t{i}"), "{beep=false}peaks").unwrap())
        .collect();
    let listener = h.join("l8k", "{beep=false}peaks").unwrap();
    let n8 = frame(8000, 20);
    for tick in 0..100 {
        // Square waves: the room limits their sum to -1 dBFS at 16 kHz, and
        // going to 8 kHz drops their harmonics above 4 kHz, which makes the
        // band-limited wave ring about 9% past the limited peak.
        let square: Vec<i16> = (0..n)
            .map(|i| {
                if ((tick * n + i) / 8) % 2 == 0 {
                    20000
                } else {
                    -20000
                }
            })
            .collect();
        for t in &talkers {
            h.send_l16(t, &square, RATE);
        }
        h.send_l16(&listener, &vec![0; n8], 8000);
        h.advance(20);
    }
    let heard = h.heard("l8k");
    assert_eq!(heard.rate, 8000);
    let tail = &heard.pcm[heard.pcm.len() / 2..];
    let peak = tail.iter().map(|s| (*s as i32).abs()).max().unwrap();
    println!(
        "8 kHz listener of three square waves: peak {peak} ({:.2} dBFS), ceiling {ceiling}",
        dbov(peak as f64)
    );
    assert!(peak <= ceiling, "peak {peak} over -1 dBFS ({ceiling})");
    assert!(
        peak as f64 > from_dbov(-3.0),
        "the overshoot is taken back, not the level: peak {peak}"
    );
}

#[test]
fn muted_member_contributes_nothing() {
    let (h, n) = harness("");
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
    let mut enc = encoder();
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

/// huddle's G.711 against the standard's tables (tests/signal): every
/// octet decodes to the standard's level, every sample encodes to a level
/// whose decision interval holds it.
#[test]
fn g711_is_the_standards() {
    use huddle::audio::g711::{self, Law};
    for (law, mu) in [(Law::Mu, true), (Law::A, false)] {
        let octets: Vec<u8> = (0..=255).collect();
        let mut got = vec![0i16; 256];
        g711::decode(law, &octets, &mut got);
        assert_eq!(got, g711_decode(mu, &octets), "{law:?} levels");
        let samples: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut coded = vec![0u8; samples.len()];
        g711::encode(law, &samples, &mut coded);
        let levels = g711_decode(mu, &coded);
        let intervals = G711Intervals::new(mu);
        let bad: Vec<_> = samples
            .iter()
            .zip(&levels)
            .filter(|&(&s, &level)| !intervals.codes(s, level))
            .take(5)
            .collect();
        assert!(bad.is_empty(), "{law:?}: (sample, level coded) {bad:?}");
    }
}

/// A PCMU caller, a PCMA caller and a 16 kHz L16 caller in a 16 kHz room:
/// each hears the other two at the level they spoke, in its own format,
/// and not itself. Two PCMU listeners get the very same octets (one shared
/// encode), and G.711 frames of the wrong length or rate are refused.
#[test]
fn pcmu_pcma_and_l16_callers_hear_each_other() {
    use huddle::room::io::Codec;
    let h = Harness::new(&profile(""));
    let u = h.join("u", "{beep=false}g").unwrap();
    let a = h.join("a", "{beep=false}g").unwrap();
    let w = h.join("w", "{beep=false}g").unwrap();
    h.join("l1", "{beep=false,codec=pcmu}g").unwrap();
    h.join("l2", "{beep=false,codec=pcmu}g").unwrap();
    let (fu, fa, fw) = (A, B, C);
    let (mut pu, mut pa, mut pw) = (0.0, 0.0, 0.0);
    for _ in 0..100 {
        let tone = sine(fu, 8000, 160, TALK_AMPLITUDE, &mut pu);
        assert_eq!(
            h.send_g711(&u, Codec::Pcmu, &g711_encode(true, &tone)),
            huddle::runtime::Status::Ok
        );
        let tone = sine(fa, 8000, 160, TALK_AMPLITUDE, &mut pa);
        assert_eq!(
            h.send_g711(&a, Codec::Pcma, &g711_encode(false, &tone)),
            huddle::runtime::Status::Ok
        );
        h.send_l16(
            &w,
            &sine(fw, RATE, frame(RATE, 20), TALK_AMPLITUDE, &mut pw),
            RATE,
        );
        h.advance(20);
    }
    // The last half second, past the jitter buffer's start.
    let tail = |pcm: &[i16], rate: u32| pcm[pcm.len() - rate as usize / 2..].to_vec();
    let expect = [
        ("u", Codec::Pcmu, fu),
        ("a", Codec::Pcma, fa),
        ("w", Codec::L16, fw),
    ];
    for (name, codec, _) in expect {
        let heard = h.heard(name);
        assert_eq!(
            heard.codec,
            Some(codec),
            "{name} hears in the codec it sends"
        );
        let (pcm, rate) = match codec {
            Codec::L16 => (heard.pcm.clone(), RATE),
            _ => (g711_decode(codec == Codec::Pcmu, &heard.g711), 8000),
        };
        assert_eq!(heard.rate, rate);
        assert_eq!(pcm.len(), 100 * frame(rate, 20), "{name}: one frame a tick");
        let pcm = tail(&pcm, rate);
        for (other, _, f) in expect {
            let amp = tone_amplitude(&pcm, f, rate);
            if other == name {
                assert!(amp < SILENT, "{name} hears itself at {amp:.0}");
            } else {
                // G.711's own error is 1-2% of the level; the 8/16 kHz
                // resamplers' passband ripple less.
                assert!(
                    (amp - TALK_AMPLITUDE).abs() < 0.05 * TALK_AMPLITUDE,
                    "{name} hears {other} ({f} Hz) at {amp:.0}, sent at {TALK_AMPLITUDE}"
                );
            }
        }
    }
    let (l1, l2) = (h.heard("l1"), h.heard("l2"));
    assert_eq!(l1.codec, Some(Codec::Pcmu), "codec=pcmu before any frame");
    assert_eq!(l1.g711.len(), 100 * 160);
    assert_eq!(l1.g711, l2.g711, "listeners of one mix share its encode");
    let all = tail(&g711_decode(true, &l1.g711), 8000);
    for f in [fu, fa, fw] {
        let amp = tone_amplitude(&all, f, 8000);
        assert!(
            (amp - TALK_AMPLITUDE).abs() < 0.05 * TALK_AMPLITUDE,
            "l1 hears {f} Hz at {amp:.0}"
        );
    }

    let bad = huddle::runtime::Status::BadFrame;
    assert_eq!(
        h.send_g711(&u, Codec::Pcmu, &[0xFF; 320]),
        bad,
        "40 ms in a 20 ms room"
    );
    assert_eq!(
        h.module.member_audio(
            &u,
            huddle::runtime::InFrame {
                codec: Codec::Pcma,
                rate: 16000,
                samples: 320,
                data: vec![0xD5; 320],
                audio_level: None,
                sequence: None,
            },
        ),
        bad,
        "G.711 at 16 kHz"
    );
    let stats = json_stats(&h, "g");
    assert_eq!(stats["result"]["members"][0]["bad_frames"], 2);
    assert!(
        h.logs()
            .iter()
            .any(|l| l.contains("PCMU frame of 320 bytes, expected 160")),
        "the log names the problem"
    );
}

/// A spoken sentence (see `speech`) at RATE, starting at its first frame
/// above -60 dBov.
fn sentence() -> Vec<i16> {
    let samples = speech(
        "Good morning, this is the first syllable test.",
        RATE,
        -26.0,
    );
    let n = frame(RATE, 20);
    let first = samples.chunks(n).position(|f| dbov(rms(f)) > -60.0);
    samples[first.unwrap() * n..].to_vec()
}

#[test]
fn first_twenty_ms_of_speech_in_an_idle_room_are_mixed() {
    let (h, talker, n) = talker_room("", "idle");
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
    let (h, t, n) = talker_room("talk_start_ms = 40\ntalk_stop_ms = 600", "vad");
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
    let (h, t, n) = talker_room("", "flood");
    let mut phase = 0.0;
    for _ in 0..1000 {
        h.send_l16(&t, &sine(500.0, RATE, n, 3000.0, &mut phase), RATE);
    }
    h.advance(20);
    let stats = json_stats(&h, "flood");
    let m = &stats["result"]["members"][0];
    // 16 frames fit the hand-off queue, and the jitter buffer keeps them all
    // (as a late tick's burst), so the rest of the flood is dropped at the door.
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
fn corrupt_opus_is_counted_logged_once_per_interval_and_good_frames_play() {
    let (h, n) = harness("");
    let bad = h.join("bad", "{beep=false,codec=opus}corrupt").unwrap();
    let good = h.join("good", "{beep=false}corrupt").unwrap();
    h.join("l", "{beep=false}corrupt").unwrap();
    // Code 3 (RFC 6716 §3.2.5) announcing 63 frames: more than 120 ms, so
    // libopus refuses it outright (-4, "corrupted stream").
    let junk = [0xffu8, 0xff, 0xff];
    let mut probe = OpusDecoder::new(RATE).unwrap();
    let refused = probe.decode(&junk, &mut vec![0i16; 5760]).unwrap_err();
    assert_eq!(refused.code(), -4);
    let mut enc = encoder();
    let mut packet = vec![0u8; 1500];
    let (mut p_bad, mut p_good) = (0.0, 0.0);
    // 25 s, one packet per tick from the bad member: three good ones (a
    // 500 Hz tone), then a corrupt one.
    let ticks = 1250;
    let is_junk = |k: usize| k % 4 == 3;
    let mut junk_sent = 0u64;
    for k in 0..ticks {
        let pcm = sine(500.0, 48000, frame(48000, 20), 6000.0, &mut p_bad);
        let len = enc.encode(&pcm, &mut packet).unwrap();
        if is_junk(k) {
            h.send_opus(&bad, &junk, 48000);
            junk_sent += 1;
        } else {
            h.send_opus(&bad, &packet[..len], 48000);
        }
        h.send_l16(&good, &sine(700.0, RATE, n, 4000.0, &mut p_good), RATE);
        h.advance(20);
    }
    let stats = json_stats(&h, "corrupt");
    let m = &stats["result"]["members"][0];
    assert_eq!(m["id"], 1, "{m}");
    assert_eq!(
        m["bad_frames"].as_u64().unwrap(),
        junk_sent,
        "every corrupt packet, and nothing else, counted bad: {m}"
    );
    assert_eq!(m["dropped"], 0, "one packet per tick: nothing dropped: {m}");

    // Tick k's mix is in the listener's frame k. The bad member's good
    // frames play: its tone is there in every tick with a good packet (after
    // the first cycle) and absent from every tick with a corrupt one.
    let heard = h.heard("l").pcm;
    assert_eq!(heard.len(), ticks * n);
    let (mut played, mut good_ticks) = (0, 0);
    for (k, f) in heard.chunks_exact(n).enumerate().skip(4) {
        let tone = tone_amplitude(f, 500.0, RATE);
        if is_junk(k) {
            assert!(
                tone < 100.0,
                "tick {k}: a corrupt packet played ({tone:.0})"
            );
        } else {
            good_ticks += 1;
            if tone > 3000.0 {
                played += 1;
            }
        }
        assert!(
            tone_amplitude(f, 700.0, RATE) > 3500.0,
            "tick {k}: the good member is heard"
        );
    }
    println!(
        "corrupt Opus: {junk_sent} bad frames counted, {played} of {good_ticks} good frames played"
    );
    assert_eq!(played, good_ticks, "every good frame of the member played");

    // One line per member per 10 s, naming the member and the error: bad
    // packets every 80 ms for 25 s give three lines, ~10 s apart.
    let lines: Vec<String> = h
        .logs()
        .into_iter()
        .filter(|l| l.contains("frame not decoded"))
        .collect();
    let mut expected = 0;
    let mut next_ok = 0u64;
    for k in (0..ticks).filter(|k| is_junk(*k)) {
        let t = k as u64 * 20;
        if t >= next_ok {
            expected += 1;
            next_ok = t + 10_000;
        }
    }
    assert_eq!(expected, 3);
    assert_eq!(lines.len(), expected, "{lines:#?}");
    println!("{}", lines[0]);
    for l in &lines {
        assert!(
            l.contains("member 1 (bad)") && l.contains("corrupted stream"),
            "{l}"
        );
    }
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
    let mut e1 = encoder();
    let mut e2 = encoder();
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
    let stats = json_stats(&h, "big");
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
    let (h, n) = harness("top_n = 2");
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
    let level = dbov(rms(&heard));
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

/// 100 Opus members for `frames` ticks: 3 talkers, 97 open microphones in
/// a quiet room. Returns the room's stats and how many quiet packets the
/// senders' encoders marked inactive.
fn hundred_opus_members(extra_profile: &str, frames: u64) -> (serde_json::Value, u64) {
    let h = Harness::new(&format!("[profiles.default]\nrate = 48000\ninterval_ms = 20\nmax_members = 200\n{extra_profile}[[rooms]]\nname = \"q\"\nmax_participants = 200\nannounce_join_leave = false\n"));
    let ports: Vec<_> = (0..100)
        .map(|i| {
            h.join(&format!("m{i}"), "{beep=false,codec=opus}q")
                .unwrap()
        })
        .collect();
    let mut encoders: Vec<OpusEncoder> = (0..100).map(|_| encoder()).collect();
    let mut phases = vec![0.0; 100];
    let mut seed = 99u64;
    let mut buf = vec![0u8; 1500];
    // Quiet packets whose sender's encoder cleared the SILK VAD flag, read
    // here from the bytes (RFC 6716 §3.1, §4.2.3): a one-frame (code 0) SILK
    // or hybrid packet's first range-coded bit, the top bit of byte 1.
    let mut marked_inactive = 0u64;
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
            let (toc, first) = (buf[0], buf[1]);
            if i >= 3 && toc >> 3 < 16 && toc & 0x03 == 0 && first & 0x80 == 0 {
                marked_inactive += 1;
            }
            h.send_opus(&ports[i], &buf[..n], 48000);
        }
        h.advance(20);
    }
    (json_stats(&h, "q"), marked_inactive)
}

#[test]
fn quiet_opus_senders_are_not_decoded() {
    let frames = 100;
    let (stats, marked_inactive) = hundred_opus_members("", frames);
    let r = &stats["result"];
    let decodes = r["opus_decodes"].as_u64().unwrap();
    let skipped = r["decodes_skipped"].as_u64().unwrap();
    // libopus marks low noise inactive from its very first frame: no
    // warm-up frames, so every quiet frame is skipped and every talker frame
    // (the onset sets the flag, then the room's detector holds the door open)
    // is decoded.
    let expected_skipped = 97 * frames;
    println!(
        "100 Opus members x {frames} frames: {decodes} decodes, {skipped} skipped \
         (expected 97 x {frames} = {expected_skipped}; {marked_inactive} quiet packets marked inactive)"
    );
    assert_eq!(
        marked_inactive, expected_skipped,
        "the senders' encoders marked every quiet frame inactive"
    );
    assert_eq!(skipped, expected_skipped, "every quiet frame was skipped");
    assert_eq!(decodes, 3 * frames, "every talker frame was decoded");
    for (i, m) in r["members"].as_array().unwrap().iter().enumerate() {
        let want = if i < 3 { (frames, 0) } else { (0, frames) };
        assert_eq!(
            (
                m["decodes"].as_u64().unwrap(),
                m["decodes_skipped"].as_u64().unwrap()
            ),
            want,
            "member {} (decodes, skipped)",
            m["id"]
        );
    }
}

/// `skip_quiet_inputs = false`: every packet is decoded, as AudioBridge
/// does.
#[test]
fn a_profile_can_decode_every_input() {
    let frames = 20;
    let (stats, _) = hundred_opus_members("skip_quiet_inputs = false\n", frames);
    let r = &stats["result"];
    assert_eq!(r["decodes_skipped"].as_u64(), Some(0));
    assert_eq!(r["opus_decodes"].as_u64(), Some(100 * frames));
}

#[test]
fn rfc6464_levels_skip_decodes_too() {
    let (h, n) = harness("");
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
                codec: huddle::room::io::Codec::L16,
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
    let stats = json_stats(&h, "lvl");
    assert_eq!(stats["result"]["decodes_skipped"], 50);
}

/// Sends a voiced sound as Opus with packet 50 lost; returns (fec_recovered,
/// the energy missing around the loss, in frames at full level).
/// Frame `f` (20 ms at 48 kHz) of a speech-like sound: a voiced tone
/// swelling at 3 Hz. libopus codes FEC only for frames its VAD calls
/// active, which a steady tone soon is not.
fn swelling_frame(f: usize) -> Vec<i16> {
    let tau = 2.0 * std::f64::consts::PI;
    (0..960)
        .map(|i| {
            let t = (f * 960 + i) as f64 / 48000.0;
            (6000.0 * (tau * 220.0 * t).sin() * (1.0 + 0.5 * (tau * 3.0 * t).sin())) as i16
        })
        .collect()
}

fn lose_one_packet(fec: bool) -> (u64, f64) {
    let h = Harness::new("[profiles.default]\nrate = 48000\ninterval_ms = 20\n");
    // Three frames of buffering: the packet after a lost one is here in time.
    let talker = h
        .join("t", "{beep=false,jitterBufferSize=medium}fec")
        .unwrap();
    h.join("l", "{beep=false}fec").unwrap();
    let settings = EncoderSettings {
        fec,
        packet_loss_pct: if fec { 20 } else { 0 },
        ..voice()
    };
    let mut enc = OpusEncoder::new(48000, settings).unwrap();
    let mut buf = vec![0u8; 1500];
    for seq in 0..100u16 {
        let n = enc.encode(&swelling_frame(seq as usize), &mut buf).unwrap();
        if seq != 50 {
            h.module.member_audio(
                &talker,
                huddle::runtime::InFrame {
                    codec: huddle::room::io::Codec::Opus,
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
    let stats = json_stats(&h, "fec");
    let recovered = stats["result"]["members"][0]["fec_recovered"]
        .as_u64()
        .unwrap();
    // Against the same sound without a loss, frame by frame (the swell makes
    // levels vary): how much level the loss cost, in frames at full level.
    let heard: Vec<f64> = h.heard("l").pcm.chunks_exact(960).map(rms).collect();
    let shift = 3; // the jitter buffer's depth
    let reference: Vec<f64> = (0..100).map(|f| rms(&swelling_frame(f))).collect();
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

/// The events about member `id`, by name, in delivery order.
fn member_event_names(h: &Harness, id: u32) -> Vec<String> {
    h.events()
        .iter()
        .filter(|e| field(e, "MemberId") == Some(id.to_string().as_str()))
        .map(|e| e.name.clone())
        .collect()
}

/// A talker (member 1) and a listener in room `r`; the talker sends its
/// tone until it is reported talking.
fn talking_member(h: &Harness) -> Arc<MemberPort> {
    let t = talker_and_listener(h, "r");
    h.talk(&[(&t, 500.0)], 200);
    assert_eq!(
        member_event_names(h, 1),
        ["participant-join", "participant-speech-start"]
    );
    t
}

/// What a talker kicked mid-word gets after its speech start: the speech
/// stop comes after the kick, before the leave.
const KICKED_WHILE_TALKING: [&str; 3] = [
    "participant-kick",
    "participant-speech-stop",
    "participant-leave",
];

/// The talker's (member 1's) events were its join, its speech start, then `then`.
fn assert_talker_events(h: &Harness, then: &[&str]) {
    let mut want = vec!["participant-join", "participant-speech-start"];
    want.extend_from_slice(then);
    assert_eq!(member_event_names(h, 1), want);
}

#[test]
fn a_talker_who_hangs_up_gets_a_final_speech_stop_before_leaving() {
    let h = Harness::new(&profile(""));
    let t = talking_member(&h);
    h.hangup(&t);
    assert_talker_events(&h, &["participant-speech-stop", "participant-leave"]);
}

#[test]
fn a_kicked_talker_gets_a_final_speech_stop_before_leaving() {
    // No kicked prompt: hung up at once.
    let h = Harness::new(&profile(""));
    let _t = talking_member(&h);
    assert!(h.api("kick r 1").starts_with("+OK"));
    assert_talker_events(&h, &KICKED_WHILE_TALKING);

    // With a kicked prompt (0.5 s) the member is shown out while still
    // talking into the line: one stop at the kick, no new start, then the leave.
    let dir = scratch_dir("kicked");
    write_tone_wav(&dir.join("sounds/kicked.wav"), RATE, 800.0, 0.5, 4000.0);
    let h = Harness::in_dir(
        dir,
        &format!(
            "{MODULE_MANUAL}\n{}[profiles.default.sounds]\nkicked = \"kicked.wav\"\n",
            profile("")
        ),
    );
    let t = talking_member(&h);
    assert!(h.api("kick r 1").starts_with("+OK"));
    h.talk(&[(&t, 500.0)], 1000);
    assert_talker_events(&h, &KICKED_WHILE_TALKING);
    assert!(
        h.hears("t", 800.0, 400) > 1000.0,
        "the kicked prompt played"
    );
}

#[test]
fn a_talker_put_on_hold_gets_a_final_speech_stop_then_none_while_held() {
    let h = Harness::new(&profile(""));
    let t = talking_member(&h);
    assert!(h.api("hold r 1").starts_with("+OK"));
    // Talking on while held: not heard, so no speech events.
    h.talk(&[(&t, 500.0)], 1000);
    assert_talker_events(&h, &["participant-speech-stop", "participant-hold"]);
    // Back from hold and still talking: a new start, then a stop once quiet.
    assert!(h.api("unhold r 1").starts_with("+OK"));
    h.talk(&[(&t, 500.0)], 200);
    h.advance(1000);
    assert_eq!(
        member_event_names(&h, 1)[4..],
        [
            "participant-unhold",
            "participant-speech-start",
            "participant-speech-stop"
        ]
    );
}

#[test]
fn a_coach_whispers_to_two_of_four_members() {
    let h = Harness::new(&profile(""));
    let names = ["a", "b", "c", "d"];
    let tones = [300.0, 500.0, 700.0, 900.0];
    let coach_tone = 1100.0;
    let ports: Vec<_> = names
        .iter()
        .map(|n| h.join(n, "{beep=false}r").unwrap())
        .collect();
    let coach = h.join("e", "{beep=false}r").unwrap();
    let reply = h.api("coach r 5 2,3");
    assert_eq!(reply, "+OK member 5 now coaches members 2, 3");
    let ev = h.member_events("participant-coach", 5);
    assert_eq!(field(&ev[0], "Coaching"), Some("true"));
    assert_eq!(field(&ev[0], "CallSidToCoach"), Some("CA-b,CA-c"));
    let list: serde_json::Value = serde_json::from_str(&h.api("json list r")).unwrap();
    assert_eq!(
        list["result"]["member_list"][4]["coaching_ids"],
        serde_json::json!([2, 3])
    );

    let mut voices: Vec<(&huddle::runtime::MemberPort, f64)> =
        ports.iter().map(|p| &**p).zip(tones).collect();
    voices.push((&coach, coach_tone));
    h.talk(&voices, 1000);
    // Amplitude 8000 is heard at 8000; nothing at all is heard at 0.
    let hears = |who: &str, f: f64| h.hears(who, f, 500);
    for (i, who) in names.iter().enumerate() {
        let coached = who == &"b" || who == &"c";
        let coach_level = hears(who, coach_tone);
        if coached {
            assert!(
                (coach_level - 8000.0).abs() < 200.0,
                "{who} hears the coach: {coach_level:.0}"
            );
        } else {
            assert!(
                coach_level < 10.0,
                "{who} does not hear the coach: {coach_level:.0}"
            );
        }
        for (j, f) in tones.iter().enumerate() {
            let level = hears(who, *f);
            if i == j {
                assert!(level < 10.0, "{who} does not hear itself: {level:.0}");
            } else {
                assert!(
                    (level - 8000.0).abs() < 200.0,
                    "{who} hears {}: {level:.0}",
                    names[j]
                );
            }
        }
    }
    for (j, f) in tones.iter().enumerate() {
        let level = hears("e", *f);
        assert!(
            (level - 8000.0).abs() < 200.0,
            "the coach hears {}: {level:.0}",
            names[j]
        );
    }
    assert!(
        hears("e", coach_tone) < 10.0,
        "the coach does not hear itself"
    );

    // One of the coached leaves: the whisper goes on to the other.
    h.hangup(&ports[1]);
    let voices: Vec<(&huddle::runtime::MemberPort, f64)> = vec![
        (&ports[0], tones[0]),
        (&ports[2], tones[2]),
        (&coach, coach_tone),
    ];
    h.talk(&voices, 600);
    assert!(hears("c", coach_tone) > 7800.0);
    assert!(hears("a", coach_tone) < 10.0);

    // Uncoached: the room hears the coach again.
    assert_eq!(h.api("uncoach r 5"), "+OK member 5 no longer coaches");
    let ev = h.member_events("participant-coach", 5);
    assert_eq!(field(&ev[1], "Coaching"), Some("false"));
    assert_eq!(field(&ev[1], "CallSidToCoach"), None);
    h.talk(&voices, 600);
    for who in ["a", "c", "d"] {
        assert!(hears(who, coach_tone) > 7800.0, "{who} hears the coach");
    }
    assert!(
        h.api("uncoach r 5").starts_with("-ERR"),
        "not coaching any more"
    );

    // One id works as it always did.
    assert_eq!(h.api("coach r 5 1"), "+OK member 5 now coaches member 1");
    let ev = h.member_events("participant-coach", 5);
    assert_eq!(field(&ev[2], "CallSidToCoach"), Some("CA-a"));
    h.talk(&voices, 600);
    assert!(hears("a", coach_tone) > 7800.0);
    assert!(hears("c", coach_tone) < 10.0);
}

#[test]
fn coached_listeners_cost_one_mix_each_the_rest_share_one() {
    // Opus listeners: one encode per distinct mix. Eight silent members, a
    // coach whispering to three of them: the three hear the whisper (3
    // mixes), the other five and the coach hear the room (1 shared mix).
    let h = Harness::new("[profiles.default]\nrate = 48000\ninterval_ms = 20\n");
    let ports: Vec<_> = (0..8)
        .map(|i| {
            h.join(&format!("m{i}"), "{beep=false,codec=opus}w")
                .unwrap()
        })
        .collect();
    let coach = h.join("coach", "{beep=false,codec=opus}w").unwrap();
    assert!(h.api("coach w 9 2,4,6").starts_with("+OK"));
    let mut enc = encoder();
    let mut buf = vec![0u8; 1500];
    let mut phase = 0.0;
    for _ in 0..10 {
        let n = enc
            .encode(&sine(600.0, 48000, 960, 6000.0, &mut phase), &mut buf)
            .unwrap();
        h.send_opus(&coach, &buf[..n], 48000);
        h.advance(20);
    }
    let stats = json_stats(&h, "w");
    assert_eq!(stats["result"]["opus_encodes_last_tick"], 4, "{stats}");
    drop(ports);
}

fn room_ticks(h: &Harness, room: &str) -> Option<u64> {
    json_stats(h, room)["result"]["ticks"].as_u64()
}

#[test]
fn an_empty_room_is_not_ticked_and_resumes_when_someone_joins() {
    let h = Harness::new(&format!(
        "{}[[rooms]]\nname = \"p\"\npin = \"1234\"\n",
        profile("")
    ));
    // A guesser types a wrong PIN and hangs up: nobody is in the room, but it
    // remembers the failure for a minute.
    let g = h.join("g", "p").unwrap();
    h.advance(100);
    h.dtmf(&g, "0000#");
    assert_eq!(h.events_named("pin-failed").len(), 1);
    h.hangup(&g);
    h.advance(20);
    let parked = room_ticks(&h, "p").expect("the room is kept");
    h.advance(10_000);
    assert_eq!(
        room_ticks(&h, "p"),
        Some(parked),
        "no tick in 10 s of an empty room"
    );

    // Someone joins: the same room (its event sequence goes on, the same
    // conference) ticks every interval again while they enter a PIN.
    let g2 = h.join("g2", "p").unwrap();
    h.advance(1000);
    assert_eq!(room_ticks(&h, "p"), Some(parked + 1000 / 20));
    h.dtmf(&g2, "1111#");
    let failed = h.events_named("pin-failed");
    assert_eq!(failed.len(), 2);
    assert_eq!(
        field(&failed[1], "ConferenceSid"),
        field(&failed[0], "ConferenceSid")
    );
    let seq =
        |e: &huddle::room::io::Event| field(e, "SequenceNumber").unwrap().parse::<u64>().unwrap();
    assert_eq!(seq(&failed[1]), seq(&failed[0]) + 1);
    let failed_at = h.module.now_ms();

    // Empty again: parked until the last wrong PIN is a minute old, then it
    // ends, never ticked in between.
    h.hangup(&g2);
    h.advance(20);
    let parked = room_ticks(&h, "p").expect("still remembering the wrong PINs");
    let left = failed_at + 60_000 - h.module.now_ms();
    h.advance(left - 40);
    assert_eq!(room_ticks(&h, "p"), Some(parked), "still parked");
    h.advance(60);
    assert_eq!(
        room_ticks(&h, "p"),
        None,
        "the room is gone: {}",
        h.api("list")
    );
    // Only the configured room is listed, idle.
    let list = h.api("list");
    assert!(
        list.starts_with("+OK 1 room(s)\np ") && list.contains("idle=yes"),
        "{list}"
    );
}

#[test]
fn a_missing_l16_frame_fades_out_then_is_exact_silence() {
    let (h, t, n) = talker_room("", "fade");
    let mut phase = 0.0;
    let mut last = Vec::new();
    for _ in 0..20 {
        last = sine(500.0, RATE, n, 8000.0, &mut phase);
        h.send_l16(&t, &last, RATE);
        h.advance(20);
    }
    // The talker's frames stop: five ticks with nothing from it.
    h.advance(5 * 20);
    let heard = h.heard("l").pcm;
    assert_eq!(heard.len(), 25 * n);
    let frames: Vec<&[i16]> = heard.chunks_exact(n).collect();
    assert_eq!(frames[19], &last[..], "the last real frame, as sent");
    // The first missing frame is the last one fading out: quarter by quarter
    // its level falls, from near the original's to near nothing.
    let concealed = frames[20];
    let quarters: Vec<f64> = concealed.chunks_exact(n / 4).map(rms).collect();
    let original = rms(&last);
    println!(
        "L16 concealment: last frame rms {original:.0}, concealed quarters {quarters:.0?}, then {} zero frames",
        frames[21..].len()
    );
    assert!(quarters.windows(2).all(|w| w[1] < w[0]), "{quarters:?}");
    assert!(quarters[0] > 0.6 * original && quarters[0] < original);
    assert!(quarters[3] < 0.25 * original);
    assert!(
        concealed
            .iter()
            .zip(&last)
            .all(|(c, l)| c.unsigned_abs() <= l.unsigned_abs()),
        "the fade only ever scales the last frame down"
    );
    // Then exact digital zero.
    for (k, f) in frames[21..].iter().enumerate() {
        assert!(
            f.iter().all(|s| *s == 0),
            "missing frame {} is not silence",
            k + 2
        );
    }
}

#[test]
fn dtmf_volume_keys_step_by_three_db() {
    let (h, n) = harness("");
    let t = h.join("t", "{beep=false}vol").unwrap();
    let l = h.join("l", "{beep=false}vol").unwrap();
    let mut phase = 0.0;
    // What the listener hears of a steady 500 Hz tone (amplitude 4000,
    // well under the limiter) after each key, over 10 frames.
    let mut level = |keys: &str, who: &huddle::runtime::MemberPort| {
        h.dtmf(who, keys);
        for _ in 0..10 {
            h.send_l16(&t, &sine(500.0, RATE, n, 4000.0, &mut phase), RATE);
            h.advance(20);
        }
        h.hears("l", 500.0, 160)
    };
    let base = level("", &l);
    let step_db = |a: f64, b: f64| amplitude_db(b, a);
    // Listener: `6` volume-out up, `4` down, `5` reset; talker: `3`
    // volume-in up, `1` down, `2` reset (the default map).
    let out_up = level("6", &l);
    let out_up2 = level("6", &l);
    let out_reset = level("5", &l);
    let out_down = level("4", &l);
    level("5", &l);
    let in_up = level("3", &t);
    let in_down = level("11", &t);
    let in_reset = level("2", &t);
    println!(
        "volume steps: out +{:.2} +{:.2} dB, reset {:.2} dB, out {:.2} dB; in +{:.2} dB, in {:.2} dB (two steps), reset {:.2} dB",
        step_db(base, out_up),
        step_db(out_up, out_up2),
        step_db(base, out_reset),
        step_db(base, out_down),
        step_db(base, in_up),
        step_db(in_up, in_down),
        step_db(base, in_reset)
    );
    let near = |got: f64, want: f64| (got - want).abs() < 0.1;
    assert!(near(step_db(base, out_up), 3.0));
    assert!(near(step_db(out_up, out_up2), 3.0));
    assert!(near(step_db(base, out_reset), 0.0));
    assert!(near(step_db(base, out_down), -3.0));
    assert!(near(step_db(base, in_up), 3.0));
    assert!(near(step_db(in_up, in_down), -6.0));
    assert!(near(step_db(base, in_reset), 0.0));
}

/// An L16 frame whose every sample is `value`, carrying RTP sequence `seq`.
fn marked_frame(value: i16, seq: u16) -> huddle::runtime::InFrame {
    let n = frame(RATE, 20);
    huddle::runtime::InFrame {
        codec: huddle::room::io::Codec::L16,
        rate: RATE,
        samples: n as u32,
        data: vec![value; n]
            .iter()
            .flat_map(|s| s.to_ne_bytes())
            .collect(),
        audio_level: None,
        sequence: Some(seq),
    }
}

/// The values of the whole marked frames listener "l" heard, in order:
/// not the silence before, nor a fade-out after.
fn marked_frames_heard(h: &Harness) -> Vec<i16> {
    h.heard("l")
        .pcm
        .chunks_exact(frame(RATE, 20))
        .filter(|f| f[0] != 0 && f.iter().all(|s| *s == f[0]))
        .map(|f| f[0])
        .collect()
}

#[test]
fn a_ten_frame_jitter_buffer_puts_reordered_packets_back_in_order() {
    let (h, t, n) = talker_room("jitter_buffer_frames = 10", "jb");
    // Packet s carries the value 100 * (s + 1), sent one per tick, each
    // block of ten in reverse (9, 8, ..., 0, 19, 18, ...): up to nine
    // places out of order, within the depth. Sequence numbers wrap at 65535.
    let base: u16 = 65530;
    let blocks = 6;
    for b in 0..blocks {
        for j in (0..10).rev() {
            let s = b * 10 + j;
            h.module.member_audio(
                &t,
                marked_frame(100 * (s as i16 + 1), base.wrapping_add(s as u16)),
            );
            h.advance(20);
            assert!(
                t.queued_frames() <= 10 + 2,
                "bounded: {}",
                t.queued_frames()
            );
        }
    }
    h.advance(10 * 20);
    let played = marked_frames_heard(&h);
    let expected: Vec<i16> = (0..blocks * 10).map(|s| 100 * (s as i16 + 1)).collect();
    assert_eq!(played, expected, "every packet, in sequence order");
    // Playing starts once ten are buffered: packet 0 plays in tick 10.
    let heard = h.heard("l").pcm;
    assert!(heard[..9 * n].iter().all(|s| *s == 0));
    assert_eq!(heard[9 * n], 100);

    // A packet older than one already played is dropped, not played out of
    // order; a duplicate of a queued one too.
    let stats = json_stats(&h, "jb");
    let dropped_before = stats["result"]["members"][0]["dropped"].as_u64().unwrap();
    h.clear_heard();
    let next = base.wrapping_add(60);
    for k in 0..12u16 {
        h.module
            .member_audio(&t, marked_frame(7000, next.wrapping_add(k)));
        if k == 11 {
            h.module.member_audio(&t, marked_frame(-7000, next)); // played two ticks ago
            h.module
                .member_audio(&t, marked_frame(-7000, next.wrapping_add(k))); // duplicate
        }
        h.advance(20);
        let st = json_stats(&h, "jb");
        println!(
            "DBG k={k} dropped={} queued={}",
            st["result"]["members"][0]["dropped"],
            t.queued_frames()
        );
    }
    h.advance(20 * 20);
    assert!(
        h.heard("l").pcm.iter().all(|s| *s >= 0),
        "the late and duplicate packets never played"
    );
    let stats = json_stats(&h, "jb");
    assert_eq!(
        stats["result"]["members"][0]["dropped"].as_u64().unwrap(),
        dropped_before + 2
    );
}

#[test]
fn tick_timing_stats_are_there_and_sane_on_the_manual_timer() {
    let (h, t, n) = talker_room("", "timing");
    let mut phase = 0.0;
    for _ in 0..100 {
        h.send_l16(&t, &sine(500.0, RATE, n, 4000.0, &mut phase), RATE);
        h.advance(20);
    }
    let stats = json_stats(&h, "timing");
    let r = &stats["result"];
    let get = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("stats field {k} missing: {r}"))
    };
    let (ticks, late, worst, mean) = (
        get("ticks"),
        get("late_ticks"),
        get("worst_tick_us"),
        get("mean_tick_us"),
    );
    println!("manual timer: {ticks} ticks, {late} late, worst {worst} us, mean {mean} us");
    assert_eq!(ticks, 100);
    // The manual clock runs each tick exactly at its deadline.
    assert_eq!(late, 0);
    assert_eq!(get("worst_lateness_us"), 0);
    assert!(worst >= mean, "worst {worst} < mean {mean}");
    assert!(worst > 0 && worst < 1_000_000, "worst tick {worst} us");
    let text = h.api("stats timing");
    assert!(
        text.contains("late_ticks=0") && text.contains("worst_tick_us="),
        "{text}"
    );
}

/// L16 frames carry no level; huddle measures each where it arrives. One
/// quieter than the mixing gate (threshold - 15 dB, here -60 dBov) from a
/// member who is not talking is never decoded or mixed; the same soft
/// sound at the end of a word (the member still talking) is heard.
#[test]
fn soft_l16_is_skipped_at_the_door_unless_it_ends_a_word() {
    let (h, t, n) = talker_room("", "door");
    // -70 dBov: RMS 32767 * 10^(-70/20) = 10.4, a sine of amplitude 14.7.
    let soft_amplitude = from_dbov(-70.0) * 2f64.sqrt();
    let mut ph = 0.0;
    let mut send = |amplitude: f64, frames: usize| {
        for _ in 0..frames {
            h.send_l16(&t, &sine(700.0, RATE, n, amplitude, &mut ph), RATE);
            h.advance(20);
        }
    };
    let skipped = |h: &Harness| {
        let stats = json_stats(h, "door");
        stats["result"]["decodes_skipped"].as_u64().unwrap()
    };
    // Idle and soft: 50 frames, none decoded, the listener hears zeros.
    send(soft_amplitude, 50);
    assert_eq!(skipped(&h), 50);
    assert!(h.tail("l", 1000).iter().all(|&s| s == 0));
    // A word at -20 dBov, then its soft ending: 10 frames (200 ms), well
    // inside the 600 ms the talker stays talking.
    send(3000.0, 25);
    send(soft_amplitude, 10);
    assert_eq!(skipped(&h), 50, "the ending of a word is decoded");
    let tail = h.tail("l", 200);
    let heard_dbov = dbov(rms(&tail));
    assert!(
        (heard_dbov + 70.0).abs() < 1.0,
        "the soft ending is mixed at its level: {heard_dbov:.1} dBov"
    );
    // Once the member has stopped talking, soft frames are skipped again.
    send(0.0, 40);
    let before = skipped(&h);
    send(soft_amplitude, 20);
    assert_eq!(skipped(&h), before + 20);
    assert!(h.tail("l", 400).iter().all(|&s| s == 0));
}

/// A packet late for a slot that was concealed plays a tick late and the
/// buffer keeps one frame more; after another stall it is full, and the
/// next arrival pushes the oldest out. That frame is gone for good: the
/// buffer must go on from the frame after it, not conceal the hole and
/// push out the next oldest at every arrival (which on a loaded SIP
/// bench concealed three quarters of some streams for the rest of the
/// call).
#[test]
fn a_full_jitter_buffer_drops_a_frame_and_plays_on() {
    let (h, t, _) = talker_room("jitter_buffer_frames = 2", "late");
    let mut seq: u16 = 100;
    let mut send = |h: &Harness, count: usize| {
        for _ in 0..count {
            h.module
                .member_audio(&t, marked_frame(100 + (seq % 200) as i16, seq));
            seq = seq.wrapping_add(1);
        }
    };
    // Steady; a stall of three ticks leaves the buffer a frame fuller (its
    // held packets come at once, one of them for a slot already
    // concealed); then two packets inside one tick (a mixer tick late, or
    // a sender's burst) overflow it.
    for _ in 0..10 {
        send(&h, 1);
        h.advance(20);
    }
    h.advance(3 * 20);
    send(&h, 4);
    h.advance(20);
    for _ in 0..5 {
        send(&h, 1);
        h.advance(20);
    }
    send(&h, 2);
    h.advance(20);
    let before = json_stats(&h, "late")["result"]["members"][0].clone();
    h.clear_heard();
    // Then 100 packets exactly on time.
    for _ in 0..100 {
        send(&h, 1);
        h.advance(20);
    }
    let after = json_stats(&h, "late")["result"]["members"][0].clone();
    let delta = |k: &str| after[k].as_u64().unwrap() - before[k].as_u64().unwrap();
    let played = marked_frames_heard(&h).len();
    assert!(
        delta("concealed") <= 2 && delta("dropped") <= 2 && played >= 97,
        "100 on-time packets: {played} played whole, {} concealed, {} dropped",
        delta("concealed"),
        delta("dropped")
    );
}

/// A tick 200 ms late: the talker's ten packets of that time are all
/// waiting when it runs, and the ticks it owes run back to back (as the
/// manual clock and the realtime pool both catch up). The jitter buffer
/// keeps the whole burst: the listener hears every packet once, in order,
/// and the buffer is back at its depth after the catch-up. The stats say
/// why frames were dropped (here: never).
#[test]
fn a_burst_after_a_late_tick_is_all_played_and_the_buffer_returns_to_its_depth() {
    let h = Harness::new(&profile("jitter_buffer_frames = 2"));
    let t = talker_and_listener(&h, "burst");
    let mut seq: u16 = 65_520; // wraps during the test
    let send = |count: u16, seq: &mut u16| {
        for _ in 0..count {
            h.module
                .member_audio(&t, marked_frame(100 + (*seq % 300) as i16, *seq));
            *seq = seq.wrapping_add(1);
        }
    };
    let first = seq;
    for _ in 0..20 {
        send(1, &mut seq);
        h.advance(20);
    }
    let depth = t.queued_frames();
    send(10, &mut seq);
    h.advance(10 * 20);
    assert_eq!(
        t.queued_frames(),
        depth,
        "back at its depth after the burst"
    );
    for _ in 0..20 {
        send(1, &mut seq);
        h.advance(20);
    }
    // Counted while the talker still talks: its stream's end is concealed.
    let stats = json_stats(&h, "burst");
    h.advance(5 * 20);
    let played = marked_frames_heard(&h);
    let expected: Vec<i16> = (0..50u16)
        .map(|k| 100 + (first.wrapping_add(k) % 300) as i16)
        .collect();
    assert_eq!(played, expected, "every packet, once, in order");
    let m = &stats["result"]["members"][0];
    for key in [
        "dropped",
        "dropped_handoff",
        "dropped_late",
        "dropped_duplicate",
        "dropped_overflow",
        "concealed",
        "trimmed",
    ] {
        assert_eq!(m[key].as_u64(), Some(0), "{key} in {m}");
    }
    let text = h.api("stats burst");
    assert!(
        text.contains("dropped=0 ")
            && text.contains("dropped_overflow=0 ")
            && text.contains("trimmed=0"),
        "{text}"
    );
}

#[test]
fn profile_opus_settings_reach_listeners_and_app_data_overrides_them() {
    let h = Harness::new(
        "[profiles.default]\nrate = 48000\ninterval_ms = 20\nopus_bitrate = 12000\nopus_complexity = 2\n",
    );
    let talker = h.join("t", "{beep=false}enc").unwrap();
    h.join("low", "{beep=false,codec=opus}enc").unwrap();
    h.join("high", "{beep=false,codec=opus,bitrate=48000}enc")
        .unwrap();
    let n = frame(48000, 20);
    for f in 0..100 {
        // A voiced sound that swells and moves, so the encoder spends its
        // whole budget: 220 Hz and its harmonics, vibrato, 3 Hz swell.
        let pcm: Vec<i16> = (0..n)
            .map(|i| {
                let t = (f * n + i) as f64 / 48000.0;
                let tau = 2.0 * std::f64::consts::PI;
                let env = 1.0 + 0.5 * (tau * 3.0 * t).sin();
                let ph = tau * 220.0 * t + 3.0 * (tau * 5.0 * t).sin();
                (env * (5000.0 * ph.sin() + 2500.0 * (2.0 * ph).sin() + 1200.0 * (3.0 * ph).sin()))
                    as i16
            })
            .collect();
        h.send_l16(&talker, &pcm, 48000);
        h.advance(20);
    }
    // Average bit rate of the last second, from the packets' sizes.
    let kbps = |who: &str| {
        let p = h.heard(who).opus;
        let last = &p[p.len() - 50..];
        last.iter().map(|x| x.len() * 8).sum::<usize>() as f64 / 1000.0
    };
    let (low, high) = (kbps("low"), kbps("high"));
    println!(
        "profile opus_bitrate = 12000: {low:.1} kbit/s; app data bitrate=48000: {high:.1} kbit/s"
    );
    assert!(
        (low - 12.0).abs() < 12.0 * 0.3,
        "profile's 12 kbit/s: {low:.1}"
    );
    assert!(
        (high - 48.0).abs() < 48.0 * 0.3,
        "the leg's 48 kbit/s: {high:.1}"
    );
}
