//! The manual-timer cases: kernels, L16 and Opus rooms, the codec floor, and
//! memory. Time is driven with `huddle_module_advance`, so a tick costs what
//! it costs, not 20 ms; CPU is this process's user+system time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use huddle::audio::mix::{accumulate, subtract};
use huddle::audio::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
use serde_json::json;

use super::abi::{self, audio, Huddle, Member, Sink, L16, OPUS};
use super::measure::{median, process_cpu, rss_kib, thread_cpu};
use super::streams::{self, OpusLoop, FRAME, RATE};
use super::{thousands, Mode, Options, Report};

const TICK_S: f64 = 0.020;

// ---------------------------------------------------------------- kernel

/// The baseline as a C programmer writes it (FreeSWITCH's conference_mix
/// shape): member-major loops, one sample at a time. The volatile loads keep
/// the compiler from turning it into SIMD, so it really is the scalar loop.
#[inline(never)]
#[allow(clippy::needless_range_loop)] // the indexed C loop, on purpose
fn scalar_mix_minus(inputs: &[Vec<i16>], sum: &mut [i32], out: &mut [i32]) {
    for x in 0..sum.len() {
        sum[x] = 0;
    }
    for m in inputs {
        for x in 0..sum.len() {
            // SAFETY: x < FRAME = m.len(); a plain aligned read.
            let s = unsafe { std::ptr::read_volatile(m.as_ptr().add(x)) };
            sum[x] += i32::from(s);
        }
    }
    for m in inputs {
        for x in 0..sum.len() {
            // SAFETY: as above.
            let s = unsafe { std::ptr::read_volatile(m.as_ptr().add(x)) };
            out[x] = sum[x] - i32::from(s);
        }
        black_box(&mut *out);
    }
}

/// The same loops without the volatile reads: what rustc makes of the
/// straightforward code when left alone (it may vectorise it).
#[inline(never)]
#[allow(clippy::needless_range_loop)] // the indexed C loop, on purpose
fn plain_mix_minus(inputs: &[Vec<i16>], sum: &mut [i32], out: &mut [i32]) {
    for x in 0..sum.len() {
        sum[x] = 0;
    }
    for m in inputs {
        for x in 0..sum.len() {
            sum[x] += i32::from(m[x]);
        }
    }
    for m in inputs {
        for x in 0..sum.len() {
            out[x] = sum[x] - i32::from(m[x]);
        }
        black_box(&mut *out);
    }
}

/// huddle's kernels: one `accumulate` per member, one `subtract` per member.
#[inline(never)]
fn huddle_mix_minus(inputs: &[Vec<i16>], sum: &mut [i32], out: &mut [i32]) {
    sum.fill(0);
    for m in inputs {
        accumulate(sum, m);
    }
    for m in inputs {
        subtract(sum, m, out);
        black_box(&mut *out);
    }
}

/// huddle's loops, compiled for AVX2 here in the bench: what a run-time
/// switch to AVX2 would gain over huddle's baseline (SSE2) build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2_mix_minus_inner(inputs: &[Vec<i16>], sum: &mut [i32], out: &mut [i32]) {
    sum.fill(0);
    for m in inputs {
        let n = sum.len().min(m.len());
        let (s, m) = (&mut sum[..n], &m[..n]);
        for i in 0..n {
            s[i] = s[i].wrapping_add(i32::from(m[i]));
        }
    }
    for m in inputs {
        let n = sum.len().min(m.len()).min(out.len());
        let (s, m, o) = (&sum[..n], &m[..n], &mut out[..n]);
        for i in 0..n {
            o[i] = s[i].wrapping_sub(i32::from(m[i]));
        }
        black_box(&mut *out);
    }
}

#[inline(never)]
fn avx2_mix_minus(inputs: &[Vec<i16>], sum: &mut [i32], out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { avx2_mix_minus_inner(inputs, sum, out) };
        return;
    }
    huddle_mix_minus(inputs, sum, out)
}

type MixFn = fn(&[Vec<i16>], &mut [i32], &mut [i32]);

/// ns per member-frame: median over repetitions of a ~budget-long loop.
fn time_mix(f: MixFn, inputs: &[Vec<i16>], budget: Duration, reps: usize) -> f64 {
    let mut sum = vec![0i32; FRAME];
    let mut out = vec![0i32; FRAME];
    f(inputs, &mut sum, &mut out);
    let mut per = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        let mut iters = 0u64;
        while start.elapsed() < budget {
            for _ in 0..8 {
                f(black_box(inputs), &mut sum, &mut out);
            }
            iters += 8;
        }
        per.push(start.elapsed().as_nanos() as f64 / (iters as f64 * inputs.len() as f64));
    }
    median(&per)
}

pub fn kernel(o: &Options, r: &mut Report) {
    let (sizes, budget, reps): (&[usize], _, _) = match o.mode {
        Mode::Smoke => (&[10], Duration::from_millis(5), 1),
        Mode::Quick => (&[10, 100, 1000], Duration::from_millis(100), 3),
        Mode::Full => (&[10, 100, 1000], Duration::from_millis(300), 5),
    };
    let mut rng = 7u64;
    for &n in sizes {
        let inputs: Vec<Vec<i16>> = (0..n)
            .map(|_| {
                (0..FRAME)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        (rng >> 48) as i16
                    })
                    .collect()
            })
            .collect();
        // Same answers first: a fast wrong kernel is worth nothing.
        let (mut s1, mut o1, mut s2, mut o2) = (
            vec![0; FRAME],
            vec![0; FRAME],
            vec![0; FRAME],
            vec![0; FRAME],
        );
        huddle_mix_minus(&inputs[..1], &mut s1, &mut o1);
        scalar_mix_minus(&inputs[..1], &mut s2, &mut o2);
        assert_eq!((s1, o1), (s2, o2), "kernel disagrees with the scalar loop");

        let h = time_mix(huddle_mix_minus, &inputs, budget, reps);
        let s = time_mix(scalar_mix_minus, &inputs, budget, reps);
        let p = time_mix(plain_mix_minus, &inputs, budget, reps);
        let a = time_mix(avx2_mix_minus, &inputs, budget, reps);
        let per_sample = h / FRAME as f64;
        let case = format!("1 kernel N={n}");
        r.row(
            &case,
            "huddle accumulate+subtract, ns/member-frame",
            format!("{h:.1}"),
        );
        r.row(
            &case,
            "scalar loop (volatile loads), ns/member-frame",
            format!("{s:.1}"),
        );
        r.row(
            &case,
            "plain loop (rustc may vectorise), ns/member-frame",
            format!("{p:.1}"),
        );
        r.row(
            &case,
            "same loops built for AVX2 here (dispatch check), ns/member-frame",
            format!("{a:.1}"),
        );
        r.goal(
            &case,
            "speed-up vs scalar",
            format!("{:.1}x", s / h),
            ">= 4x",
            s / h >= 4.0,
        );
        r.goal(
            &case,
            "ns per sample",
            format!("{per_sample:.3}"),
            "<= 0.3",
            per_sample <= 0.3,
        );
        r.result(json!({
            "case": "kernel", "n": n, "frame": FRAME,
            "huddle_ns_per_member_frame": h, "scalar_ns_per_member_frame": s,
            "plain_ns_per_member_frame": p, "avx2_ns_per_member_frame": a, "huddle_ns_per_sample": per_sample,
            "speedup_vs_scalar": s / h, "speedup_vs_plain": p / h,
        }));
    }
}

// ---------------------------------------------------------------- codec floor

/// What libopus costs per 20 ms at 48 kHz on this machine, right now.
#[derive(Clone, Copy)]
pub struct Floor {
    pub decode_us: f64,
    pub encode_us: f64,
}

/// The encoder settings huddle gives a listener who asks for nothing: the
/// default profile's, as an empty config parses (with `--opus-complexity`).
pub fn listener_settings() -> EncoderSettings {
    let text = format!("[profiles.default]\n{}", super::opus_profile_lines());
    let config = huddle::control::config::parse_config(&text, std::path::Path::new("bench.conf"))
        .expect("an empty config parses");
    config
        .profile("default")
        .expect("the default profile always exists")
        .opus
}

pub fn codec_floor(o: &Options, r: &mut Report, opus: &OpusLoop) -> Floor {
    let rounds = match o.mode {
        Mode::Smoke => 1,
        Mode::Quick => 2,
        Mode::Full => 5,
    };
    let packets = &opus.talkers[0];
    let mut pcm = vec![0i16; FRAME];
    let decoded = decode_all(packets);
    let (mut dec_us, mut enc_us) = (Vec::new(), Vec::new());
    let mut out = vec![0u8; 1275];
    for _ in 0..rounds {
        let mut d = OpusDecoder::new(RATE).expect("decoder");
        let t = thread_cpu();
        for p in packets {
            let _ = black_box(d.decode(&p.data, &mut pcm));
        }
        dec_us.push((thread_cpu() - t).as_secs_f64() * 1e6 / packets.len() as f64);
        let mut e = OpusEncoder::new(RATE, listener_settings()).expect("encoder");
        let t = thread_cpu();
        for f in decoded.chunks_exact(FRAME) {
            let _ = black_box(e.encode(f, &mut out));
        }
        enc_us.push((thread_cpu() - t).as_secs_f64() * 1e6 / packets.len() as f64);
    }
    let f = Floor {
        decode_us: median(&dec_us),
        encode_us: median(&enc_us),
    };
    r.row(
        "6 codec floor",
        "libopus decode, us per 20 ms frame",
        format!("{:.1}", f.decode_us),
    );
    r.row(
        "6 codec floor",
        format!(
            "libopus encode ({} bit/s, complexity {}), us/frame",
            listener_settings().bitrate,
            listener_settings().complexity
        ),
        format!("{:.1}", f.encode_us),
    );
    r.result(
        json!({"case": "codec_floor", "decode_us": f.decode_us, "encode_us": f.encode_us,
        "encoder": format!("48 kHz mono VOIP {:?}", listener_settings()), "frames": packets.len()}),
    );
    f
}

/// A talker's packets decoded in order by one decoder, as 48 kHz samples.
fn decode_all(packets: &[streams::Packet]) -> Vec<i16> {
    let mut d = OpusDecoder::new(RATE).expect("decoder");
    let mut pcm = vec![0i16; FRAME];
    let mut all = Vec::with_capacity(packets.len() * FRAME);
    for p in packets {
        let _ = d.decode(&p.data, &mut pcm);
        all.extend_from_slice(&pcm);
    }
    all
}

/// The same codec work as a realtime tick, `decodes` decodes and
/// `encodes` encodes (each of its own state, as a room keeps them), run
/// once per 20 ms on a thread that sleeps in between, over `seconds`:
/// cores, by that thread's CPU time. A tick meets libopus with caches that
/// the sleep and other threads have cooled, so this costs more than the
/// back-to-back floor; it is what the codec alone costs at the rate a room
/// runs it, with none of huddle's work around it.
pub fn paced_codec_cores(opus: &OpusLoop, decodes: usize, encodes: usize, seconds: f64) -> f64 {
    let talkers = &opus.talkers;
    let mut pcm = vec![0i16; FRAME];
    let mut decoders: Vec<OpusDecoder> = (0..decodes)
        .map(|_| OpusDecoder::new(RATE).expect("decoder"))
        .collect();
    let mut encoders: Vec<OpusEncoder> = (0..encodes)
        .map(|_| OpusEncoder::new(RATE, listener_settings()).expect("encoder"))
        .collect();
    // What each encoder is given: a talker's speech, decoded once here.
    let speech: Vec<Vec<i16>> = talkers.iter().map(|p| decode_all(p)).collect();
    let mut out = vec![0u8; 1275];
    let ticks = (seconds * 50.0).max(1.0) as usize;
    let start = Instant::now();
    let cpu0 = thread_cpu();
    for t in 0..ticks {
        super::measure::sleep_until(start + Duration::from_millis(20 * t as u64));
        for (i, d) in decoders.iter_mut().enumerate() {
            let packets = &talkers[i % talkers.len()];
            let _ = black_box(d.decode(&packets[t % packets.len()].data, &mut pcm));
        }
        for (i, e) in encoders.iter_mut().enumerate() {
            let s = &speech[i % speech.len()];
            let frames = s.len() / FRAME;
            let at = (t % frames) * FRAME;
            let _ = black_box(e.encode(&s[at..at + FRAME], &mut out));
        }
    }
    (thread_cpu() - cpu0).as_secs_f64() / start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------- rooms

/// One manual-timer measurement of a room set: the members and what each
/// sends per tick.
struct Load<'a> {
    members: Vec<(Member, Feed<'a>)>,
    rooms: Vec<String>,
}

#[derive(Clone, Copy)]
enum Feed<'a> {
    L16 {
        rate: u32,
        frames: &'a [Vec<u8>],
    },
    Opus {
        packets: &'a [streams::Packet],
        level: bool,
        offset: usize,
    },
}

impl Feed<'_> {
    fn send(&self, m: Member, t: usize) {
        match *self {
            Feed::L16 { rate, frames } => {
                let f = &frames[t % frames.len()];
                audio(m, L16, rate, (f.len() / 2) as u32, f, -1);
            }
            Feed::Opus {
                packets,
                level,
                offset,
            } => {
                let p = &packets[(t + offset) % packets.len()];
                audio(
                    m,
                    OPUS,
                    RATE,
                    FRAME as u32,
                    &p.data,
                    if level { p.level } else { -1 },
                );
            }
        }
    }
}

struct Sample {
    cpu_per_tick_us: f64,
    feed_per_tick_us: f64,
    mixer_mean_tick_us: f64,
    decodes_per_tick: f64,
    skipped_per_tick: f64,
    encodes_per_tick: f64,
    frames_out_per_tick: f64,
}

fn stat(h: &Huddle, rooms: &[String], key: &str) -> f64 {
    rooms
        .iter()
        .map(|r| h.stats(r)[key].as_f64().unwrap_or(0.0))
        .sum()
}

/// Warm up, then `ticks` ticks of: every member sends one frame through
/// `huddle_member_audio`, then `huddle_module_advance(20)`.
fn drive(h: &Huddle, load: &Load<'_>, warmup: usize, ticks: usize) -> Sample {
    for t in 0..warmup {
        for (m, f) in &load.members {
            f.send(*m, t);
        }
        h.advance(20);
    }
    let keys = ["ticks", "opus_decodes", "decodes_skipped", "opus_encodes"];
    let before: Vec<f64> = keys.iter().map(|k| stat(h, &load.rooms, k)).collect();
    let frames0 = h.sink.frames.load(std::sync::atomic::Ordering::Relaxed);
    let mut feed = Duration::ZERO;
    let cpu0 = process_cpu();
    for t in warmup..warmup + ticks {
        let f0 = thread_cpu();
        for (m, f) in &load.members {
            f.send(*m, t);
        }
        feed += thread_cpu() - f0;
        h.advance(20);
    }
    let cpu = process_cpu() - cpu0;
    let after: Vec<f64> = keys.iter().map(|k| stat(h, &load.rooms, k)).collect();
    let frames = h.sink.frames.load(std::sync::atomic::Ordering::Relaxed) - frames0;
    let room_ticks = (after[0] - before[0]).max(1.0);
    let per_room_tick = |i: usize| (after[i] - before[i]) / room_ticks * load.rooms.len() as f64;
    // mean_tick_us is over the room's whole life; good enough after warmup.
    let mixer_mean: f64 = stat(h, &load.rooms, "mean_tick_us");
    Sample {
        cpu_per_tick_us: cpu.as_secs_f64() * 1e6 / ticks as f64,
        feed_per_tick_us: feed.as_secs_f64() * 1e6 / ticks as f64,
        mixer_mean_tick_us: mixer_mean,
        decodes_per_tick: per_room_tick(1),
        skipped_per_tick: per_room_tick(2),
        encodes_per_tick: per_room_tick(3),
        frames_out_per_tick: frames as f64 / ticks as f64,
    }
}

fn median_sample(samples: Vec<Sample>) -> Sample {
    let m = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    Sample {
        cpu_per_tick_us: m(|s| s.cpu_per_tick_us),
        feed_per_tick_us: m(|s| s.feed_per_tick_us),
        mixer_mean_tick_us: m(|s| s.mixer_mean_tick_us),
        decodes_per_tick: m(|s| s.decodes_per_tick),
        skipped_per_tick: m(|s| s.skipped_per_tick),
        encodes_per_tick: m(|s| s.encodes_per_tick),
        frames_out_per_tick: m(|s| s.frames_out_per_tick),
    }
}

/// Joins `n` members in rooms of at most 1000 (huddle's room limit), the
/// first `talkers` of each room talking.
fn join_rooms<'a>(
    h: &Huddle,
    n: usize,
    app: &str,
    talkers: usize,
    talk: impl Fn(usize, usize) -> Feed<'a>,
    quiet: impl Fn(usize) -> Feed<'a>,
) -> Load<'a> {
    let per_room = 1000;
    let rooms: Vec<String> = (0..n.div_ceil(per_room))
        .map(|i| format!("big{i}"))
        .collect();
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let (room, j) = (i / per_room, i % per_room);
        let m = h.join(&format!("c{i}"), &format!("{app}{}", rooms[room]));
        let feed = if j < talkers { talk(room, j) } else { quiet(i) };
        members.push((m, feed));
    }
    Load { members, rooms }
}

/// `join_rooms` of L16 members without beeps, three talking (`talk[k]`
/// for the k-th talker of a room), the rest sending `quiet`.
fn join_l16_rooms<'a>(
    h: &Huddle,
    n: usize,
    talk: &'a [Vec<Vec<u8>>],
    quiet: &'a [Vec<u8>],
) -> Load<'a> {
    join_rooms(
        h,
        n,
        "{beep=false}",
        3,
        |_, k| Feed::L16 {
            rate: RATE,
            frames: &talk[k],
        },
        |_| Feed::L16 {
            rate: RATE,
            frames: quiet,
        },
    )
}

/// The two CPU rows of a case: per tick (labelled `what`), and the part of
/// it spent feeding frames through the ABI.
fn cpu_rows(r: &mut Report, case: &str, what: &str, s: &Sample) {
    r.row(case, what, format!("{:.0}", s.cpu_per_tick_us));
    r.row(
        case,
        "  of which feeding frames via ABI, us",
        format!("{:.0}", s.feed_per_tick_us),
    );
}

pub fn l16_rooms(o: &Options, r: &mut Report) {
    let sizes: &[usize] = match o.mode {
        Mode::Smoke => &[10],
        _ => &[10, 100, 1000, 10_000],
    };
    let (ticks, reps) = o.ticks();
    let frames: Vec<Vec<Vec<u8>>> = (0..3)
        .map(|k| streams::l16_talker_frames(k, RATE, 100))
        .collect();
    let silence = vec![abi::l16_bytes(&[0i16; FRAME])];
    for &n in sizes {
        let mut samples = Vec::new();
        for _ in 0..reps {
            let h = Huddle::load(&abi::config("manual", 1, RATE, true), Sink::default());
            let load = join_l16_rooms(&h, n, &frames, &silence);
            samples.push(drive(&h, &load, 10, ticks));
        }
        let s = median_sample(samples);
        let per_core = n as f64 * TICK_S * 1e6 / s.cpu_per_tick_us;
        let case = format!("2 L16 48k N={}", thousands(n as f64));
        cpu_rows(r, &case, "CPU per tick, us (feed + mix + send)", &s);
        r.row(
            &case,
            "  mixer's own mean tick (stats), us",
            format!("{:.0}", s.mixer_mean_tick_us),
        );
        r.row(
            &case,
            "cores at 50 ticks/s",
            format!("{:.3}", s.cpu_per_tick_us / (TICK_S * 1e6)),
        );
        let rooms_note = if n > 1000 {
            format!(" ({} rooms of 1,000, 3 talkers each)", n / 1000)
        } else {
            String::new()
        };
        r.goal(
            &case,
            format!("members per core in real time{rooms_note}"),
            thousands(per_core),
            ">= 20,000",
            per_core >= 20_000.0,
        );
        r.result(json!({
            "case": "l16_room", "n": n, "rate": RATE, "talkers_per_room": 3, "rooms": n.div_ceil(1000),
            "ticks": ticks, "reps": reps,
            "cpu_per_tick_us": s.cpu_per_tick_us, "feed_per_tick_us": s.feed_per_tick_us,
            "mixer_mean_tick_us": s.mixer_mean_tick_us, "members_per_core": per_core,
            "frames_out_per_tick": s.frames_out_per_tick,
        }));
    }
}

/// The Opus room: `n` members, 3 talking, the rest sending the quiet stream,
/// with or without RFC 6464 levels, shared or per-listener encodes.
fn opus_room(
    o: &Options,
    opus: &OpusLoop,
    n: usize,
    level: bool,
    share: bool,
    ticks: usize,
) -> Sample {
    let (_, reps) = o.ticks();
    let reps = if share { reps } else { 1 };
    let mut samples = Vec::new();
    for _ in 0..reps {
        let h = Huddle::load(&abi::config("manual", 1, RATE, share), Sink::default());
        let load = join_rooms(
            &h,
            n,
            "{beep=false,codec=opus}",
            3,
            |_, k| Feed::Opus {
                packets: &opus.talkers[k],
                level,
                offset: 0,
            },
            |i| Feed::Opus {
                packets: &opus.quiet,
                level,
                offset: i * 7,
            },
        );
        samples.push(drive(&h, &load, 25, ticks));
    }
    median_sample(samples)
}

pub fn opus_rooms(o: &Options, r: &mut Report, opus: &OpusLoop, floor: Floor) {
    let sizes: &[usize] = match o.mode {
        Mode::Smoke => &[10],
        _ => &[10, 100, 1000],
    };
    let (ticks, _) = o.ticks();
    for &n in sizes {
        for level in [true, false] {
            let case = format!(
                "3 Opus N={} {}",
                thousands(n as f64),
                if level { "RFC6464" } else { "no level" }
            );
            let s = opus_room(o, opus, n, level, true, ticks);
            let cores = s.cpu_per_tick_us / (TICK_S * 1e6);
            let per_core = n as f64 / cores;
            // The floor: every talker decoded once, every distinct mix encoded once.
            let floor_us = 3.0 * floor.decode_us + s.encodes_per_tick * floor.encode_us;
            cpu_rows(r, &case, "CPU per tick, us", &s);
            r.row(
                &case,
                "Opus decodes / skipped per tick",
                format!("{:.1} / {:.1}", s.decodes_per_tick, s.skipped_per_tick),
            );
            r.row(
                &case,
                "Opus encodes per tick",
                format!("{:.2}", s.encodes_per_tick),
            );
            r.row(&case, "members per core", thousands(per_core));
            let vs_floor = s.cpu_per_tick_us / floor_us;
            // Naive: same room, every listener encoded separately. Few ticks:
            // at 1,000 members it runs several times slower than real time.
            let naive_ticks = match o.mode {
                Mode::Smoke => 2,
                Mode::Quick => 10,
                Mode::Full => 25,
            };
            let nv = opus_room(o, opus, n, level, false, naive_ticks);
            let ratio = nv.cpu_per_tick_us / s.cpu_per_tick_us;
            r.row(
                &case,
                "naive (share_encodes=false) CPU per tick, us",
                format!("{:.0}", nv.cpu_per_tick_us),
            );
            r.row(
                &case,
                "naive encodes per tick",
                format!("{:.1}", nv.encodes_per_tick),
            );
            let big = n >= 1000 && level;
            if big {
                r.goal(
                    &case,
                    "cores",
                    format!("{cores:.4}"),
                    "<= 0.15",
                    cores <= 0.15,
                );
                r.goal(
                    &case,
                    "naive / huddle",
                    format!("{ratio:.1}x"),
                    ">= 30x",
                    ratio >= 30.0,
                );
                r.goal(
                    &case,
                    "CPU / codec floor (3 dec + encodes x enc)",
                    format!("{vs_floor:.2}x"),
                    "<= 1.5x",
                    vs_floor <= 1.5,
                );
            } else {
                r.row(&case, "cores", format!("{cores:.4}"));
                r.row(&case, "naive / huddle", format!("{ratio:.1}x"));
                r.row(&case, "CPU / codec floor", format!("{vs_floor:.2}x"));
            }
            r.result(json!({
                "case": "opus_room", "n": n, "rfc6464_level": level, "talkers": 3, "ticks": ticks,
                "cpu_per_tick_us": s.cpu_per_tick_us, "feed_per_tick_us": s.feed_per_tick_us,
                "mixer_mean_tick_us": s.mixer_mean_tick_us, "cores": cores,
                "decodes_per_tick": s.decodes_per_tick, "decodes_skipped_per_tick": s.skipped_per_tick,
                "encodes_per_tick": s.encodes_per_tick, "members_per_core": per_core,
                "floor_us": floor_us, "vs_floor": vs_floor,
                "naive_cpu_per_tick_us": nv.cpu_per_tick_us, "naive_encodes_per_tick": nv.encodes_per_tick,
                "naive_ticks": naive_ticks, "naive_over_huddle": ratio,
            }));
        }
    }
}

// ---------------------------------------------------------------- memory

/// RSS growth from 0 to `n` members, in bytes per member. Runs in this
/// process; `memory` runs it in a fresh child for a clean heap.
pub fn memory_in_process(kind: &str, n: usize) -> serde_json::Value {
    let opus = if kind == "l16" {
        None
    } else {
        Some(OpusLoop::synthetic(1, 20))
    };
    let silence = abi::l16_bytes(&[0i16; FRAME]);
    let h = Huddle::load(&abi::config("manual", 1, RATE, true), Sink::default());
    // 999 measured members + the room's first one fill a 1,000-member room.
    let rooms = n.div_ceil(999);
    let app = match kind {
        "l16" => "{beep=false}",
        // Muted, sending speech: decoded every tick (a decoder each) but never
        // mixed, so no encoder of its own: the costliest kind of listener.
        "opus-decoded" => "{beep=false,codec=opus,muted=true}",
        _ => "{beep=false,codec=opus}",
    };
    // Start each room's fixed costs (one member each) before the baseline.
    let firsts: Vec<Member> = (0..rooms)
        .map(|i| h.join(&format!("first{i}"), &format!("{app}big{i}")))
        .collect();
    let feed = |m: Member, t: usize| match &opus {
        None => audio(m, L16, RATE, FRAME as u32, &silence, -1),
        Some(o) => {
            let p = if kind == "opus-decoded" {
                &o.talkers[0][t % o.frames()]
            } else {
                &o.quiet[t % o.frames()]
            };
            audio(m, OPUS, RATE, FRAME as u32, &p.data, p.level)
        }
    };
    for _ in 0..5 {
        for m in &firsts {
            feed(*m, 0);
        }
        h.advance(20);
    }
    let rss0 = rss_kib();
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        members.push(h.join(&format!("c{i}"), &format!("{app}big{}", i / 999)));
    }
    for t in 0..10 {
        for m in members.iter().chain(&firsts) {
            feed(*m, t);
        }
        h.advance(20);
    }
    let rss1 = rss_kib();
    let decodes = (0..rooms)
        .map(|i| {
            h.stats(&format!("big{i}"))["opus_decodes"]
                .as_f64()
                .unwrap_or(0.0)
        })
        .sum::<f64>();
    let per = (rss1.saturating_sub(rss0)) as f64 * 1024.0 / n as f64;
    json!({"kind": kind, "n": n, "rss0_kib": rss0, "rss1_kib": rss1, "bytes_per_member": per, "opus_decodes": decodes})
}

pub fn memory(o: &Options, r: &mut Report) {
    let n = if o.mode == Mode::Smoke { 200 } else { 10_000 };
    for kind in ["l16", "opus-skipped", "opus-decoded"] {
        let v = if o.memory_in_process {
            memory_in_process(kind, n)
        } else {
            let exe = std::env::current_exe().expect("own path");
            let out = std::process::Command::new(exe)
                .args(["--child-memory", kind, &n.to_string()])
                .output();
            match out.ok().and_then(|o| {
                String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
                    l.strip_prefix("MEMORY ")
                        .and_then(|j| serde_json::from_str(j).ok())
                })
            }) {
                Some(v) => v,
                None => {
                    r.note(format!("memory {kind}: child run failed"));
                    continue;
                }
            }
        };
        let per = v["bytes_per_member"].as_f64().unwrap_or(f64::NAN) / 1024.0;
        let (limit, what) = match kind {
            "l16" => (16.0, "L16 48 kHz listener"),
            "opus-skipped" => (64.0, "Opus listener, inactive input skipped (no decoder)"),
            _ => (
                64.0,
                "Opus listener, input decoded every tick (muted talker)",
            ),
        };
        r.goal(
            &format!("8 memory N={}", thousands(n as f64)),
            format!("KiB per {what}"),
            format!("{per:.1}"),
            format!("<= {limit} KiB"),
            per <= limit,
        );
        r.result(json!({"case": "memory", "detail": v}));
    }
}

// ---------------------------------------------------------------- profiling

/// A short manual-timer run of one room size, for callgrind/perf: 25 warmup
/// ticks and `ticks` measured ones, nothing else.
pub fn profile_run(kind: &str, n: usize, opusloop: Option<&std::path::Path>, ticks: usize) {
    let h;
    let frames: Vec<Vec<Vec<u8>>> = (0..3)
        .map(|k| streams::l16_talker_frames(k, RATE, 100))
        .collect();
    let silence = vec![abi::l16_bytes(&[0i16; FRAME])];
    let opus = match opusloop.map(OpusLoop::read) {
        Some(Ok(l)) => l,
        _ => OpusLoop::synthetic(3, 100),
    };
    if kind == "rooms" {
        // n rooms of 5 L16 16 kHz members, 2 talking: case 7's manual half.
        let h = Huddle::load(&abi::config("manual", 1, 16_000, true), Sink::default());
        let talk: Vec<Vec<Vec<u8>>> = (0..2)
            .map(|k| streams::l16_talker_frames(k, 16_000, 100))
            .collect();
        let quiet = abi::l16_bytes(&[0i16; 320]);
        let members: Vec<(Member, usize)> = h.join_rooms_of_five(n);
        let cpu0 = process_cpu();
        for t in 0..25 + ticks {
            for (m, j) in &members {
                let f = if *j < 2 { &talk[*j][t % 100] } else { &quiet };
                audio(*m, L16, 16_000, 320, f, -1);
            }
            h.advance(20);
        }
        let per = (process_cpu() - cpu0).as_secs_f64() * 1e6 / (25 + ticks) as f64;
        println!("rooms N={n}: {per:.0} us CPU per tick");
        return;
    }
    let load = if kind == "l16" {
        h = Huddle::load(&abi::config("manual", 1, RATE, true), Sink::default());
        join_l16_rooms(&h, n, &frames, &silence)
    } else {
        // opus-all: every input decoded and no RFC 6464 levels, as in the
        // Janus bench with DECODE_ALL=1.
        let decode_all = kind == "opus-all";
        let mut config = abi::config("manual", 1, RATE, kind != "opus-naive");
        if decode_all {
            config.push_str("skip_quiet_inputs = false\n");
        }
        h = Huddle::load(&config, Sink::default());
        join_rooms(
            &h,
            n,
            "{beep=false,codec=opus}",
            3,
            |_, k| Feed::Opus {
                packets: &opus.talkers[k],
                level: !decode_all,
                offset: 0,
            },
            |i| Feed::Opus {
                packets: &opus.quiet,
                level: !decode_all,
                offset: i * 7,
            },
        )
    };
    let s = drive(&h, &load, 25, ticks);
    // The counts show what was measured: a run whose room skipped what it
    // was meant to decode says so here.
    println!(
        "{kind} N={n}: {:.0} us CPU per tick, {:.1} decodes, {:.1} skipped, {:.1} encodes",
        s.cpu_per_tick_us, s.decodes_per_tick, s.skipped_per_tick, s.encodes_per_tick
    );
}
