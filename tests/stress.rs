//! Concurrency stress: 16 host threads do joins, leaves, frames, DTMF and
//! operator commands at random (seeded) on 50 rooms, then the module shuts
//! down. Run once per timer mode; on the manual timer one more thread keeps
//! advancing the clock.
//!
//! Asserts: no host-facing call takes over a second (every one is timed:
//! the random operations, the releases of members huddle hung up, the drain
//! after the run and shutdown; a watchdog samples every call in flight and
//! aborts the process if one is stuck for 20 s, so a deadlock is a failure
//! rather than a hung CI), no panic reached the host log, event
//! SequenceNumbers per ConferenceSid arrive strictly increasing without gaps,
//! recordings were made, every `recording-completed` event names a file that
//! hound reads whole with the sample count its RecordingDurationMs implies
//! (within one frame), every recording left on disk is a valid WAV, and after
//! shutdown the thread count and heap are back to their baseline. Operations
//! drawn but impossible at that moment (a join with 40 members held, a frame
//! with none) are counted as skipped, apart from the calls made.
//!
//! `HUDDLE_STRESS_SECS` sets the seconds per timer mode (default 60);
//! `HUDDLE_STRESS_SEED` the seed (default: fixed, printed).
mod common;
mod rng;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use huddle::room::io::{Channel, Codec, Event, OutFrame};
use huddle::runtime::Host;
use huddle::runtime::{CallerInfo, InFrame, MemberPort, Module};

const THREADS: usize = 16;
const ROOMS: usize = 50;
const MAX_CALL: Duration = Duration::from_secs(1);
const STUCK: Duration = Duration::from_secs(20);

/// Counts what huddle gives it; keeps events' numbering per conference.
#[derive(Default)]
struct StressHost {
    /// ConferenceSid → SequenceNumbers in arrival order.
    sequences: Mutex<HashMap<String, Vec<u64>>>,
    internal_errors: Mutex<Vec<String>>,
    events: AtomicU64,
    frames: AtomicU64,
    hangups: AtomicU64,
    /// (RecordingUrl, RecordingDurationMs) of each `recording-completed`.
    completed: Mutex<Vec<(String, u64)>>,
    /// Other recording endings: `recording-absent` (nobody heard) and
    /// `recording-failed`.
    absent: AtomicU64,
    failed: Mutex<Vec<String>>,
}

impl Host for StressHost {
    fn log(&self, _level: log::Level, target: &str, message: &str) {
        if message.contains("internal error") || message.contains("panicked") {
            self.internal_errors
                .lock()
                .unwrap()
                .push(format!("{target}: {message}"));
        }
    }
    fn send_audio(&self, _channel: &Channel, _frame: &OutFrame<'_>) {
        self.frames.fetch_add(1, Ordering::Relaxed);
    }
    fn hangup(&self, _channel: &Channel, _cause: u32) -> bool {
        self.hangups.fetch_add(1, Ordering::Relaxed);
        true
    }
    fn event(&self, event: &Event) {
        self.events.fetch_add(1, Ordering::Relaxed);
        if let (Some(sid), Some(seq)) = (event.get("ConferenceSid"), event.get("SequenceNumber")) {
            let seq: u64 = seq.parse().expect("SequenceNumber is a number");
            self.sequences
                .lock()
                .unwrap()
                .entry(sid.to_string())
                .or_default()
                .push(seq);
        }
        if event.name == "recording-completed" {
            let url = event.get("RecordingUrl").unwrap_or_default().to_string();
            let ms = event
                .get("RecordingDurationMs")
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX);
            self.completed.lock().unwrap().push((url, ms));
        }
        if event.name == "recording-absent" {
            self.absent.fetch_add(1, Ordering::Relaxed);
        }
        if event.name == "recording-failed" {
            let why = event.get("ErrorMessage").unwrap_or_default().to_string();
            self.failed.lock().unwrap().push(why);
        }
    }
    fn originate(&self, _d: &str, _r: &str, _a: &str) -> Result<(), String> {
        Ok(())
    }
}

/// What one call of a worker is doing, for the watchdog.
#[derive(Default)]
struct InFlight {
    /// ms since the run's start when the current call began; 0 = idle.
    since_ms: AtomicU64,
    op: AtomicU64,
}

const OPS: [&str; 15] = [
    "join",
    "leave",
    "frame",
    "dtmf",
    "list",
    "kick all",
    "mute all",
    "hup all",
    "reload",
    "record start",
    "record stop",
    "advance",
    "release gone",
    "drain hangup",
    "shutdown",
];
const ADVANCE: usize = 11;
const RELEASE: usize = 12;
const DRAIN: usize = 13;
const SHUTDOWN: usize = 14;

#[derive(Default, Clone)]
struct Timings {
    /// Calls made, per operation.
    count: [u64; OPS.len()],
    /// Drawn but not possible then (no member to act on, 40 held).
    skipped: [u64; OPS.len()],
    max_us: [u64; OPS.len()],
    over: Vec<(String, Duration)>,
    /// Joins admitted (the rest of `count[0]` were refused).
    admitted: u64,
}

impl Timings {
    fn add(&mut self, t: &Timings) {
        for i in 0..OPS.len() {
            self.count[i] += t.count[i];
            self.skipped[i] += t.skipped[i];
            self.max_us[i] = self.max_us[i].max(t.max_us[i]);
        }
        self.over.extend(t.over.iter().cloned());
        self.admitted += t.admitted;
    }
}

fn secs() -> u64 {
    std::env::var("HUDDLE_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

fn proc_status(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Threads, resident memory (kB) and heap bytes in use (kB), after handing
/// freed memory back.
fn footprint() -> (u64, u64, u64) {
    // SAFETY: malloc_trim only releases free heap pages and mallinfo2 reads
    // counters; no pointers of ours are involved.
    let in_use = unsafe {
        libc::malloc_trim(0);
        let m = libc::mallinfo2();
        (m.uordblks + m.hblkhd) as u64 / 1024
    };
    (proc_status("Threads:"), proc_status("VmRSS:"), in_use)
}

fn config(timer: &str) -> String {
    format!(
        r#"
[module]
timer = "{timer}"
mixer_threads = 2
log_level = "info"
sounds_dir = "sounds"
recordings_dir = "recordings"

[profiles.default]
rate = 16000
interval_ms = 20
record_beep = false
max_members = 40
"#
    )
}

struct Run {
    calls: u64,
    timings: Timings,
    events: u64,
    conferences: usize,
    recordings: usize,
    completed: usize,
    frames_out: u64,
}

fn run(timer: &str, seed: u64, duration: Duration) -> Run {
    let dir = common::scratch_dir(&format!("stress-{timer}"));
    let path = dir.join("huddle.conf");
    std::fs::write(&path, config(timer)).unwrap();
    huddle::runtime::logging::install();
    let host = Arc::new(StressHost::default());
    let module = Module::load(host.clone(), &path).unwrap();
    let manual = timer == "manual";
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // The watchdog outlives the workers: it also watches their drain and
    // shutdown, which run after `stop`.
    let watch_stop = Arc::new(AtomicBool::new(false));
    // One slot per worker, one for the advancer, one for the main thread.
    let flights: Arc<Vec<InFlight>> =
        Arc::new((0..THREADS + 2).map(|_| InFlight::default()).collect());

    // The watchdog: the longest call seen in flight, and an abort if stuck.
    let watchdog = {
        let (stop, flights) = (watch_stop.clone(), flights.clone());
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(20));
                let now = start.elapsed().as_millis() as u64;
                for (i, f) in flights.iter().enumerate() {
                    let since = f.since_ms.load(Ordering::Acquire);
                    if since == 0 {
                        continue;
                    }
                    let d = Duration::from_millis(now.saturating_sub(since));
                    worst = worst.max(d);
                    if d > STUCK {
                        eprintln!(
                            "stress: thread {i} stuck in '{}' for {d:?}: deadlock",
                            OPS[f.op.load(Ordering::Relaxed) as usize]
                        );
                        std::process::abort();
                    }
                }
            }
            worst
        })
    };

    // Times one host-facing call. `body` returns false when the operation
    // was not possible (nothing to act on): counted as skipped, not timed.
    let timed =
        move |flight: &InFlight, t: &mut Timings, op: usize, body: &mut dyn FnMut() -> bool| {
            flight.op.store(op as u64, Ordering::Relaxed);
            flight
                .since_ms
                .store(start.elapsed().as_millis() as u64 + 1, Ordering::Release);
            let t0 = Instant::now();
            let called = body();
            let d = t0.elapsed();
            flight.since_ms.store(0, Ordering::Release);
            if !called {
                t.skipped[op] += 1;
                return;
            }
            t.count[op] += 1;
            t.max_us[op] = t.max_us[op].max(d.as_micros() as u64);
            if d > MAX_CALL {
                t.over.push((OPS[op].to_string(), d));
            }
        };

    let mut handles = Vec::new();
    for w in 0..THREADS {
        let (module, stop, flights) = (module.clone(), stop.clone(), flights.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = rng::Rng((seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
            let mut t = Timings::default();
            let mut ports: Vec<Arc<MemberPort>> = Vec::new();
            let mut n = 0u64;
            let pcm: Vec<u8> = (0..320)
                .flat_map(|i| (((i as f64 * 0.17).sin() * 6000.0) as i16).to_ne_bytes())
                .collect();
            let flight = &flights[w];
            while !stop.load(Ordering::Acquire) {
                let room = format!("r{}", rng.below(ROOMS));
                let r = rng.below(100);
                let m = &*module;
                // Frames dominate, as on a real host; commands are rarer.
                let op = match r {
                    0..=11 => 0,
                    12..=19 => 1,
                    20..=79 => 2,
                    80..=89 => 3,
                    90..=92 => 4,
                    93 => 5,
                    94 => 6,
                    95 => 7,
                    96 => 8,
                    97 => 9,
                    _ => 10,
                };
                let mut admitted = 0;
                let mut body = || match op {
                    0 if ports.len() < 40 => {
                        n += 1;
                        let caller = CallerInfo {
                            channel: format!("w{w}-{n}"),
                            call_id: format!("CA{w}x{n}"),
                            account: ["", "acme", "globex"][rng.below(3)].to_string(),
                            ..Default::default()
                        };
                        let app = ["", "+flags{moderator}", "+flags{mute}"][rng.below(3)];
                        if let Ok(p) = m.app(caller, &format!("{room}{app}")) {
                            ports.push(p);
                            admitted += 1;
                        }
                        m.flush_host_calls();
                        true
                    }
                    1 if !ports.is_empty() => {
                        let p = ports.swap_remove(rng.below(ports.len()));
                        m.member_hangup(&p);
                        m.flush_host_calls();
                        true
                    }
                    2 if !ports.is_empty() => {
                        let p = &ports[rng.below(ports.len())];
                        let _ = m.member_audio(
                            p,
                            InFrame {
                                codec: Codec::L16,
                                rate: 16000,
                                samples: 320,
                                data: pcm.clone(),
                                audio_level: None,
                                sequence: None,
                            },
                        );
                        m.deliver_host_calls();
                        true
                    }
                    3 if !ports.is_empty() => {
                        let p = &ports[rng.below(ports.len())];
                        let d = b"0123456789*#"[rng.below(12)] as char;
                        let _ = m.member_dtmf(p, d);
                        m.flush_host_calls();
                        true
                    }
                    4..=10 => {
                        let cmd = match op {
                            4 => "list".to_string(),
                            5 => format!("kick {room} all"),
                            6 => format!("mute {room} all"),
                            7 => format!("hup {room} all"),
                            8 => "reload".to_string(),
                            9 => format!("record {room} start"),
                            _ => format!("record {room} stop"),
                        };
                        let _ = m.api(&cmd);
                        m.flush_host_calls();
                        true
                    }
                    _ => false,
                };
                timed(flight, &mut t, op, &mut body);
                t.admitted += admitted;
                // A host's threads do other work between calls; without a
                // pause 16 threads on a 2-core CI machine measure CPU
                // starvation, not huddle.
                std::thread::sleep(Duration::from_micros(300));
                // Members huddle hung up (kick, hup) are released like a
                // host would: member_hangup once the leg is gone.
                if rng.below(20) == 0 {
                    let mut i = 0;
                    while i < ports.len() {
                        if ports[i].is_gone() {
                            let p = ports.swap_remove(i);
                            timed(flight, &mut t, RELEASE, &mut || {
                                m.member_hangup(&p);
                                true
                            });
                        } else {
                            i += 1;
                        }
                    }
                }
            }
            // The host hangs up every leg it still has, then delivers.
            for p in ports.drain(..) {
                timed(flight, &mut t, DRAIN, &mut || {
                    module.member_hangup(&p);
                    module.flush_host_calls();
                    true
                });
            }
            t
        }));
    }
    let advancer = manual.then(|| {
        let (module, stop, flights) = (module.clone(), stop.clone(), flights.clone());
        std::thread::spawn(move || {
            let mut t = Timings::default();
            while !stop.load(Ordering::Acquire) {
                timed(&flights[THREADS], &mut t, ADVANCE, &mut || {
                    module.advance(20).unwrap();
                    module.flush_host_calls();
                    true
                });
                std::thread::sleep(Duration::from_millis(1));
            }
            t
        })
    });

    std::thread::sleep(duration);
    stop.store(true, Ordering::Release);
    let mut timings = Timings::default();
    for h in handles.into_iter().chain(advancer) {
        timings.add(&h.join().expect("a host thread panicked"));
    }
    let t0 = Instant::now();
    timed(&flights[THREADS + 1], &mut timings, SHUTDOWN, &mut || {
        module.shutdown();
        true
    });
    let shutdown_took = t0.elapsed();
    watch_stop.store(true, Ordering::Release);
    let worst_in_flight = watchdog.join().unwrap();
    drop(module);

    let calls: u64 = timings.count.iter().sum();
    println!("{timer}: {calls} calls in {duration:?}, shutdown {shutdown_took:?}, worst call seen in flight {worst_in_flight:?}");
    for (i, op) in OPS.iter().enumerate() {
        if timings.count[i] + timings.skipped[i] > 0 {
            let admitted = if i == 0 {
                format!(" ({} admitted)", timings.admitted)
            } else {
                String::new()
            };
            println!(
                "  {op:<12} {:>8} calls, max {:>8.2} ms, {:>6} skipped{admitted}",
                timings.count[i],
                timings.max_us[i] as f64 / 1000.0,
                timings.skipped[i],
            );
        }
    }
    // Includes shutdown and every member_hangup of the drain.
    assert!(
        timings.over.is_empty(),
        "{timer}: calls over {MAX_CALL:?}: {:?}",
        timings.over
    );
    assert_eq!(timings.count[SHUTDOWN], 1);
    let errors = host.internal_errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{timer}: panics reached the host log: {errors:?}"
    );

    let sequences = host.sequences.lock().unwrap();
    for (sid, seqs) in sequences.iter() {
        for (i, s) in seqs.iter().enumerate() {
            assert_eq!(
                *s,
                i as u64 + 1,
                "{timer}: conference {sid}: SequenceNumbers arrived as {:?}",
                &seqs[i.saturating_sub(3)..(i + 3).min(seqs.len())]
            );
        }
    }
    let recordings = check_recordings(&dir.join("recordings"));
    let completed = host.completed.lock().unwrap().clone();
    let checked = check_completed(timer, &completed);
    println!(
        "  {} events over {} conferences, {} recordings on disk valid, {} completed events \
         with files matching their duration ({:.1} s in all), {} absent, {} failed, \
         {} frames out, {} hangups",
        host.events.load(Ordering::Relaxed),
        sequences.len(),
        recordings,
        completed.len(),
        checked as f64 / 1000.0,
        host.absent.load(Ordering::Relaxed),
        host.failed.lock().unwrap().len(),
        host.frames.load(Ordering::Relaxed),
        host.hangups.load(Ordering::Relaxed),
    );
    // Nothing wrong with the disk here: no recording may fail.
    let failed = host.failed.lock().unwrap();
    assert!(failed.is_empty(), "{timer}: recordings failed: {failed:?}");
    drop(failed);
    // Every file on disk was ended with an event (completed, or absent when
    // nobody was heard): none was left open or forgotten at shutdown.
    let absent = host.absent.load(Ordering::Relaxed) as usize;
    assert_eq!(
        recordings,
        completed.len() + absent,
        "{timer}: {recordings} files on disk, {} completed + {absent} absent events",
        completed.len()
    );

    let run = Run {
        calls,
        timings,
        events: host.events.load(Ordering::Relaxed),
        conferences: sequences.len(),
        recordings,
        completed: completed.len(),
        frames_out: host.frames.load(Ordering::Relaxed),
    };
    drop(sequences);
    drop(errors);
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// Each `recording-completed` event's file exists and hound reads it whole,
/// with as many samples as RecordingDurationMs says (within one 20 ms
/// frame). Returns the milliseconds checked.
fn check_completed(timer: &str, completed: &[(String, u64)]) -> u64 {
    let mut total_ms = 0;
    for (url, ms) in completed {
        let path = url
            .strip_prefix("file://")
            .unwrap_or_else(|| panic!("{timer}: RecordingUrl {url:?} is not a file:// URL"));
        let mut r = hound::WavReader::open(path)
            .unwrap_or_else(|e| panic!("{timer}: completed recording {path}: {e}"));
        let rate = u64::from(r.spec().sample_rate);
        let frame = rate / 50;
        let len = u64::from(r.len());
        let read = r.samples::<i16>().map_while(Result::ok).count() as u64;
        assert_eq!(
            read, len,
            "{timer}: {path}: only {read} of {len} samples read"
        );
        let want = ms * rate / 1000;
        assert!(
            len.abs_diff(want) <= frame,
            "{timer}: {path}: {len} samples, but the event says {ms} ms ({want} samples)"
        );
        total_ms += ms;
    }
    total_ms
}

/// Every WAV under `dir` reads whole with hound; returns how many.
fn check_recordings(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wav") {
                let mut r = hound::WavReader::open(&p)
                    .unwrap_or_else(|e| panic!("{}: not a valid WAV: {e}", p.display()));
                let len = r.len();
                let read = r.samples::<i16>().filter(|s| s.as_ref().is_ok()).count();
                assert_eq!(
                    read as u32,
                    len,
                    "{}: header and data disagree",
                    p.display()
                );
                n += 1;
            }
        }
    }
    n
}

#[test]
fn sixteen_threads_fifty_rooms_both_timers() {
    let seed = std::env::var("HUDDLE_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026);
    let duration = Duration::from_secs(secs());
    println!("seed {seed} (HUDDLE_STRESS_SEED), {duration:?} per timer (HUDDLE_STRESS_SECS)");
    // Warm up process-wide state (logging, lazy statics) before the baseline.
    let _ = run("manual", seed, Duration::from_millis(200));
    let (threads0, rss0, heap0) = footprint();
    for timer in ["manual", "realtime"] {
        let r = run(timer, seed, duration);
        assert!(r.calls > 1000 && r.events > 100 && r.conferences > 10);
        assert!(r.frames_out > 1000, "{timer}: {} frames out", r.frames_out);
        // Joins actually made and admitted, not just drawn.
        assert!(
            r.timings.admitted > 100 && r.timings.count[DRAIN] > 0,
            "{timer}: {} joins admitted of {} made ({} skipped), {} members drained",
            r.timings.admitted,
            r.timings.count[0],
            r.timings.skipped[0],
            r.timings.count[DRAIN]
        );
        assert!(
            r.recordings > 0 && r.completed > 0,
            "{timer}: no recordings were made ({} files, {} completed events)",
            r.recordings,
            r.completed
        );
        // Threads exit after join; give the kernel a moment to reap.
        let mut after = footprint();
        for _ in 0..50 {
            if after.0 <= threads0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            after = footprint();
        }
        println!(
            "  after {timer}: threads {} (baseline {threads0}), VmRSS {} kB (baseline {rss0} kB, {:+} kB), heap in use {} kB (baseline {heap0} kB)",
            after.0,
            after.1,
            after.1 as i64 - rss0 as i64,
            after.2
        );
        assert!(
            after.0 <= threads0,
            "{timer}: {} threads left, baseline {threads0}",
            after.0
        );
        // Heap: every allocation huddle made is freed (a few kB of process
        // statics aside). VmRSS: glibc keeps up to 40 MiB of joined threads'
        // stacks cached for reuse, which is not ours to free; more than
        // that on top of the baseline would be.
        assert!(
            after.2 < heap0 + 2 * 1024,
            "{timer}: heap in use {} kB after shutdown, baseline {heap0} kB",
            after.2
        );
        assert!(
            after.1 < rss0 + 64 * 1024,
            "{timer}: VmRSS {} kB after shutdown, baseline {rss0} kB",
            after.1
        );
    }
}
