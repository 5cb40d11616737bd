//! Faults a host can throw at huddle: callbacks that block, an event handler
//! that re-enters the API from inside the callback, a full recordings disk
//! on the realtime timer. (Shutdown while frames still arrive is
//! tests/c/shutdown_race.c, run plain and under ASan by tests/c_harness.rs.)
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use huddle::host::{Channel, Codec, Event, Host, OutFrame};
use huddle::runtime::{CallerInfo, InFrame, MemberPort, Module};

fn caller(c: &str) -> CallerInfo {
    CallerInfo {
        channel: c.to_string(),
        call_id: format!("CA-{c}"),
        ..Default::default()
    }
}

fn load(host: Arc<dyn Host>, timer: &str, extra: &str) -> (Arc<Module>, std::path::PathBuf) {
    let dir = common::scratch_dir(&format!("faults-{timer}"));
    let path = dir.join("huddle.conf");
    std::fs::write(
        &path,
        format!(
            "[module]\ntimer = \"{timer}\"\nmixer_threads = 2\nlog_level = \"debug\"\n\
             sounds_dir = \"sounds\"\nrecordings_dir = \"recordings\"\n{extra}"
        ),
    )
    .unwrap();
    huddle::runtime::logging::install();
    (Module::load(host, &path).unwrap(), dir)
}

/// 20 ms of a loud 500 Hz tone at 16 kHz, continuing from `phase`.
fn tone_frame(phase: &mut f64) -> InFrame {
    let pcm = common::sine(500.0, 16000, 320, 6000.0, phase);
    InFrame {
        codec: Codec::L16,
        rate: 16000,
        samples: 320,
        data: pcm.iter().flat_map(|s| s.to_ne_bytes()).collect(),
        audio_level: None,
        sequence: None,
    }
}

/// Fails the test (by aborting: a deadlocked test would otherwise hang CI)
/// if `body` has not finished within `limit`.
fn within<T>(limit: Duration, what: &str, body: impl FnOnce() -> T) -> T {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let what = what.to_string();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while !flag.load(Ordering::Acquire) {
            if t0.elapsed() > limit {
                eprintln!("{what}: still running after {limit:?}: deadlock");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let r = body();
    done.store(true, Ordering::Release);
    r
}

/// Blocks the first event and the first log line after it (`BLOCK` each);
/// records when the channel "fast" got audio.
#[derive(Default)]
struct BlockingHost {
    arrivals: Mutex<Vec<Instant>>,
    event_blocked: AtomicBool,
    log_blocked: AtomicBool,
    blocked_at: Mutex<Vec<(&'static str, Instant, Instant)>>,
}

const BLOCK: Duration = Duration::from_secs(1);

impl Host for BlockingHost {
    fn log(&self, _: log::Level, _: &str, _: &str) {
        if self.event_blocked.load(Ordering::Acquire)
            && !self.log_blocked.swap(true, Ordering::AcqRel)
        {
            let t0 = Instant::now();
            std::thread::sleep(BLOCK);
            self.blocked_at
                .lock()
                .unwrap()
                .push(("log", t0, Instant::now()));
        }
    }
    fn send_audio(&self, channel: &Channel, _: &OutFrame<'_>) {
        if channel.as_str() == "fast" {
            self.arrivals.lock().unwrap().push(Instant::now());
        }
    }
    fn hangup(&self, _: &Channel, _: u32) -> bool {
        true
    }
    fn event(&self, _: &Event) {
        if !self.event_blocked.swap(true, Ordering::AcqRel) {
            let t0 = Instant::now();
            std::thread::sleep(BLOCK);
            self.blocked_at
                .lock()
                .unwrap()
                .push(("event", t0, Instant::now()));
        }
    }
    fn originate(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Realtime timer: the host's event handler blocks for a second, then its
/// log callback does. Neither may delay any room's audio: both run on the
/// event thread, behind a queue that never blocks the mixer.
#[test]
fn blocking_event_and_log_callbacks_do_not_delay_audio() {
    let host = Arc::new(BlockingHost::default());
    let (module, dir) = load(host.clone(), "realtime", "");
    // The first event (this room's start) blocks the event thread.
    module.app(caller("slow"), "{beep=false}stuck").unwrap();
    module.app(caller("s2"), "{beep=false}stuck").unwrap();
    module.app(caller("fast"), "{beep=false}fine").unwrap();
    module.app(caller("f2"), "{beep=false}fine").unwrap();
    // Keep events and log lines coming while the callbacks block.
    let t0 = Instant::now();
    while t0.elapsed() < 2 * BLOCK + Duration::from_millis(500) {
        let _ = module.api("list");
        std::thread::sleep(Duration::from_millis(50));
    }
    module.shutdown();
    let blocked = host.blocked_at.lock().unwrap().clone();
    assert_eq!(blocked.len(), 2, "both callbacks blocked once: {blocked:?}");
    let arrivals = host.arrivals.lock().unwrap();
    // Only frames sent while a callback was blocked count.
    let (from, to) = (blocked[0].1, blocked[1].2);
    let during: Vec<_> = arrivals
        .iter()
        .filter(|t| **t >= from && **t <= to)
        .collect();
    let worst_gap = during
        .windows(2)
        .map(|w| w[1].duration_since(*w[0]))
        .max()
        .unwrap_or_default();
    println!(
        "{} frames to 'fast' while event then log blocked {:?} each; worst gap {:?} (lateness {:?})",
        during.len(),
        BLOCK,
        worst_gap,
        worst_gap.saturating_sub(Duration::from_millis(20))
    );
    // 2 s at 20 ms is 100 frames; allow for a loaded CI machine.
    assert!(
        during.len() >= 70,
        "only {} frames in {:?}",
        during.len(),
        to - from
    );
    assert!(
        worst_gap < Duration::from_millis(200),
        "a frame was {worst_gap:?} late"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// An event handler that calls back into huddle from inside the callback:
/// the app (one new member per join, bounded), kick and hup.
#[derive(Default)]
struct ReentrantHost {
    module: OnceLock<Weak<Module>>,
    joined: Mutex<Vec<Arc<MemberPort>>>,
    reentered: AtomicUsize,
    events: AtomicUsize,
}

impl Host for ReentrantHost {
    fn log(&self, _: log::Level, _: &str, _: &str) {}
    fn send_audio(&self, _: &Channel, _: &OutFrame<'_>) {}
    fn hangup(&self, _: &Channel, _: u32) -> bool {
        true
    }
    fn event(&self, event: &Event) {
        self.events.fetch_add(1, Ordering::Relaxed);
        let Some(m) = self.module.get().and_then(Weak::upgrade) else {
            return;
        };
        let n = self.reentered.fetch_add(1, Ordering::Relaxed);
        match event.name.as_str() {
            "participant-join" if n < 40 => {
                if let Ok(p) = m.app(caller(&format!("re-{n}")), "{beep=false}re") {
                    self.joined.lock().unwrap().push(p);
                }
                let _ = m.api("list re");
            }
            "participant-join" => {
                let _ = m.api("kick re last");
            }
            "participant-kick" | "participant-leave" if n % 7 == 0 => {
                let _ = m.api("hup re all");
            }
            _ => {
                let _ = m.api("mute re last");
            }
        }
        m.flush_host_calls();
    }
    fn originate(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

fn reentrant(timer: &str) {
    let host = Arc::new(ReentrantHost::default());
    let (module, dir) = load(host.clone(), timer, "");
    host.module.set(Arc::downgrade(&module)).unwrap();
    within(
        Duration::from_secs(30),
        &format!("re-entrant {timer}"),
        || {
            let a = module.app(caller("a"), "{beep=false}re").unwrap();
            let b = module.app(caller("b"), "{beep=false}re").unwrap();
            module.flush_host_calls();
            if timer == "manual" {
                module.advance(500).unwrap();
                module.flush_host_calls();
            } else {
                let t0 = Instant::now();
                while host.reentered.load(Ordering::Relaxed) < 60
                    && t0.elapsed() < Duration::from_secs(5)
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            module.member_hangup(&a);
            module.member_hangup(&b);
            let joined: Vec<_> = host.joined.lock().unwrap().drain(..).collect();
            for p in &joined {
                module.member_hangup(p);
            }
            module.flush_host_calls();
            module.shutdown();
        },
    );
    let n = host.reentered.load(Ordering::Relaxed);
    println!("{timer}: {n} events handled by re-entering huddle");
    assert!(n >= 40, "{timer}: only {n} re-entrant events");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn event_handler_reenters_the_api_manual() {
    reentrant("manual");
}

#[test]
fn event_handler_reenters_the_api_realtime() {
    reentrant("realtime");
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Realtime timer: the recordings disk fills up (a 48 KiB tmpfs, 1.5 s of
/// 16 kHz audio). The recording fails with an event; no room's audio waits.
/// Needs root for the mount; skipped (with a line saying so) otherwise.
#[test]
fn full_recordings_disk_on_the_realtime_timer() {
    let host = Arc::new(ArrivalHost::default());
    let dir = common::scratch_dir("faults-disk");
    let recs = dir.join("recordings");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48k", "tmpfs"])
        .arg(&recs)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("could not mount a tmpfs (not root?): full-disk fault skipped");
        return;
    }
    let _unmount = Unmount(recs);
    let path = dir.join("huddle.conf");
    std::fs::write(
        &path,
        "[module]\ntimer = \"realtime\"\nmixer_threads = 2\nsounds_dir = \"sounds\"\n\
         recordings_dir = \"recordings\"\n[profiles.default]\nrecord_beep = false\n",
    )
    .unwrap();
    huddle::runtime::logging::install();
    let module = Module::load(host.clone(), &path).unwrap();
    let talker = module.app(caller("r1"), "{beep=false}rec").unwrap();
    module.app(caller("r2"), "{beep=false}rec").unwrap();
    module.app(caller("fast"), "{beep=false}fine").unwrap();
    module.app(caller("f2"), "{beep=false}fine").unwrap();
    assert!(module.api("record rec start").starts_with("+OK"));
    let t0 = Instant::now();
    let mut phase = 0.0;
    let mut took = None;
    while t0.elapsed() < Duration::from_secs(6) {
        module.member_audio(&talker, tone_frame(&mut phase));
        std::thread::sleep(Duration::from_millis(20));
        match took {
            None if host.event("recording-failed").is_some() => took = Some(t0.elapsed()),
            Some(t) if t0.elapsed() > t + Duration::from_millis(500) => break,
            _ => {}
        }
    }
    let took = took.unwrap_or_else(|| {
        let names: Vec<_> = host
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.name.clone())
            .collect();
        let df = std::process::Command::new("df")
            .arg(dir.join("recordings"))
            .output()
            .unwrap();
        panic!(
            "no recording-failed event within {:?}: {names:?}\n{}",
            t0.elapsed(),
            String::from_utf8_lossy(&df.stdout)
        )
    });
    module.shutdown();
    let (frames, worst_gap) = host.worst_gap("fast");
    println!(
        "recordings disk full after {took:?}; {frames} frames to 'fast', worst gap {worst_gap:?}"
    );
    assert!(
        worst_gap < Duration::from_millis(200),
        "a frame was {worst_gap:?} late"
    );
}

/// Every frame the host receives, by channel, with when it came.
#[derive(Default)]
struct ArrivalHost {
    arrivals: Mutex<Vec<(String, Instant)>>,
    events: Mutex<Vec<Event>>,
}

impl ArrivalHost {
    fn worst_gap(&self, channel: &str) -> (usize, Duration) {
        let arrivals = self.arrivals.lock().unwrap();
        let times: Vec<Instant> = arrivals
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, t)| *t)
            .collect();
        let worst = times
            .windows(2)
            .map(|w| w[1].duration_since(w[0]))
            .max()
            .unwrap_or_default();
        (times.len(), worst)
    }

    fn event(&self, name: &str) -> Option<Event> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.name == name)
            .cloned()
    }
}

impl Host for ArrivalHost {
    fn log(&self, _: log::Level, _: &str, _: &str) {}
    fn send_audio(&self, channel: &Channel, _: &OutFrame<'_>) {
        self.arrivals
            .lock()
            .unwrap()
            .push((channel.as_str().to_string(), Instant::now()));
    }
    fn hangup(&self, _: &Channel, _: u32) -> bool {
        true
    }
    fn event(&self, e: &Event) {
        self.events.lock().unwrap().push(e.clone());
    }
    fn originate(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Realtime timer: the recordings disk stops answering for 8 s, longer than
/// the writer's 5 s queue, and the recording is stopped while it still hangs.
/// Neither the recorded room nor another room may wait on the disk, the stop
/// must return at once, and the file must come out as long as the recording
/// was, the lost stretch filled with silence and reported in the event.
#[test]
fn stalled_recordings_disk_on_the_realtime_timer() {
    let host = Arc::new(ArrivalHost::default());
    let (module, dir) = load(
        host.clone(),
        "realtime",
        "[profiles.default]\nrecord_beep = false\n",
    );
    let talker = module.app(caller("r1"), "{beep=false}rec").unwrap();
    module.app(caller("r2"), "{beep=false}rec").unwrap();
    module.app(caller("fast"), "{beep=false}fine").unwrap();
    module.app(caller("f2"), "{beep=false}fine").unwrap();
    let mut phase = 0.0;
    let mut talk_for = |d: Duration| {
        let until = Instant::now() + d;
        while Instant::now() < until {
            module.member_audio(&talker, tone_frame(&mut phase));
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let started = Instant::now();
    assert!(module.api("record rec start").starts_with("+OK"));
    talk_for(Duration::from_secs(1));
    module.stall_recordings_disk(Duration::from_secs(8));
    talk_for(Duration::from_secs(7));
    let t = Instant::now();
    let reply = module.api("record rec stop");
    let stop_took = t.elapsed();
    let recorded = started.elapsed();
    assert!(reply.starts_with("+OK"), "{reply}");
    assert!(
        stop_took < Duration::from_millis(200),
        "stopping a recording waited {stop_took:?} on the stalled disk"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let done = loop {
        if let Some(e) = host.event("recording-completed") {
            break e;
        }
        assert!(Instant::now() < deadline, "no recording-completed event");
        std::thread::sleep(Duration::from_millis(50));
    };
    module.shutdown();
    let (frames_rec, gap_rec) = host.worst_gap("r2");
    let (frames_fine, gap_fine) = host.worst_gap("fast");
    let field = |k: &str| done.get(k).unwrap().parse::<u64>().unwrap();
    let lost_ms = field("RecordingGapMs");
    let file_ms = field("RecordingDurationMs");
    let url = done.get("RecordingUrl").unwrap();
    let path = url.strip_prefix("file://").unwrap();
    let reader = hound::WavReader::open(path).unwrap();
    let wav_ms = u64::from(reader.duration()) * 1000 / u64::from(reader.spec().sample_rate);
    println!(
        "disk stalled 8 s: stop took {stop_took:?}; worst gap to r2 {gap_rec:?} ({frames_rec} frames), \
         to 'fast' {gap_fine:?} ({frames_fine} frames); recording {recorded:?}, file {wav_ms} ms, \
         {lost_ms} ms filled with silence; dir {}",
        dir.display()
    );
    assert!(
        gap_rec < Duration::from_millis(200),
        "r2 waited {gap_rec:?}"
    );
    assert!(
        gap_fine < Duration::from_millis(200),
        "'fast' waited {gap_fine:?}"
    );
    // 7 s of the 8 s stall were recorded; the queue holds 5.12 s of them.
    assert!(
        (1000..=3000).contains(&lost_ms),
        "{lost_ms} ms reported lost"
    );
    assert_eq!(wav_ms, file_ms);
    let recorded_ms = recorded.as_millis() as u64;
    assert!(
        wav_ms.abs_diff(recorded_ms) < 400,
        "file {wav_ms} ms for {recorded_ms} ms of recording"
    );
}
