//! A host that misuses huddle the ways an outside review did (issue 21),
//! driving it only through the exported C functions: re-entrant hangups on
//! a small stack, a flood of digits behind a slow event callback, calls
//! into huddle from inside `send_audio`, frames on released handles while
//! shutting down, and L16 frames whose `samples` disagrees with `len`.
//!
//! The callbacks are `extern "C"` functions reading a `Host` through `ctx`,
//! as a C host's would.

mod common;

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::PathBuf;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use huddle::abi::exports::{
    huddle_conference_app, huddle_member_audio, huddle_member_dtmf, huddle_member_hangup,
    huddle_module_advance, huddle_module_api, huddle_module_load, huddle_module_shutdown,
    huddle_str_free, HUDDLE_ABI_VERSION,
};
use huddle::abi::handles::{huddle_member, huddle_module};
use huddle::abi::sys;
use huddle::runtime::Status;

/// What the host does in its callbacks, and what it saw.
#[derive(Default)]
struct Host {
    module: AtomicUsize,
    /// Channel → member handle (as an address), for hangups and re-entry.
    members: Mutex<HashMap<String, usize>>,
    /// The hangup callback releases the member, as a host's would.
    release_on_hangup: AtomicBool,
    hangups: Mutex<Vec<String>>,
    release_statuses: Mutex<Vec<u32>>,
    events: AtomicU64,
    /// While set, the event callback waits (a host stuck on a slow
    /// webhook); bounded by a deadline so a broken test cannot hang.
    hold_events: AtomicBool,
    logs: Mutex<Vec<String>>,
    /// Each log callback spins this long (a host writing to a slow disk).
    log_spin_us: AtomicU64,
    /// The next send_audio calls into huddle once per entry point.
    reenter_from_send_audio: AtomicBool,
    reentry: Mutex<Vec<(&'static str, u32)>>,
}

fn host_of<'a>(ctx: *mut c_void) -> &'a Host {
    // SAFETY: ctx is the `Host` the test keeps alive (in an Arc) until after
    // shutdown; huddle passes it back unchanged.
    unsafe { &*(ctx as *const Host) }
}

fn text<'a>(p: *const c_char) -> &'a str {
    // SAFETY: huddle passes NUL-terminated strings borrowed for the callback.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
}

unsafe extern "C" fn on_log(
    ctx: *mut c_void,
    _level: sys::huddle_log_level,
    _target: *const c_char,
    message: *const c_char,
) {
    let h = host_of(ctx);
    let spin = Duration::from_micros(h.log_spin_us.load(Ordering::Relaxed));
    let start = Instant::now();
    while start.elapsed() < spin {
        std::hint::spin_loop();
    }
    h.logs.lock().unwrap().push(text(message).to_string());
}

unsafe extern "C" fn on_send_audio(
    ctx: *mut c_void,
    channel: *const c_char,
    _frame: *const sys::huddle_frame,
) {
    let h = host_of(ctx);
    if !h.reenter_from_send_audio.swap(false, Ordering::AcqRel) {
        return;
    }
    let module = h.module.load(Ordering::Acquire) as *mut huddle_module;
    let member = h.members.lock().unwrap()[text(channel)] as *mut huddle_member;
    let mut reply: *mut c_char = ptr::null_mut();
    let mut out = h.reentry.lock().unwrap();
    out.push((
        "api",
        huddle_module_api(module, c"list".as_ptr(), &mut reply) as u32,
    ));
    huddle_str_free(reply);
    out.push(("dtmf", huddle_member_dtmf(member, b'5' as c_char) as u32));
    out.push(("hangup", huddle_member_hangup(member) as u32));
    out.push(("advance", huddle_module_advance(module, 20) as u32));
    let frame = l16_frame(&[0; 320], 320);
    out.push(("audio", huddle_member_audio(member, &frame) as u32));
}

unsafe extern "C" fn on_hangup(ctx: *mut c_void, channel: *const c_char, _cause: u32) {
    let h = host_of(ctx);
    let channel = text(channel).to_string();
    h.hangups.lock().unwrap().push(channel.clone());
    if h.release_on_hangup.load(Ordering::Acquire) {
        let member = h.members.lock().unwrap().remove(&channel);
        if let Some(m) = member {
            let status = huddle_member_hangup(m as *mut huddle_member);
            h.release_statuses.lock().unwrap().push(status as u32);
        }
    }
}

unsafe extern "C" fn on_event(ctx: *mut c_void, _event: *const sys::huddle_event) {
    let h = host_of(ctx);
    h.events.fetch_add(1, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.hold_events.load(Ordering::Acquire) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A loaded module on the manual timer, with its host.
struct Huddle {
    module: *mut huddle_module,
    host: Arc<Host>,
    dir: PathBuf,
}

// SAFETY: huddle's entry points may be called from any thread; the handle is
// an opaque id and the host is made of locks and atomics.
unsafe impl Send for Huddle {}
unsafe impl Sync for Huddle {}

impl Huddle {
    fn load(tag: &str, profile: &str) -> Huddle {
        Self::load_timer(tag, "manual", profile)
    }

    fn load_timer(tag: &str, timer: &str, profile: &str) -> Huddle {
        let dir = common::scratch_dir(&format!("hostile-{tag}"));
        let path = dir.join("huddle.conf");
        std::fs::write(
            &path,
            format!(
                "[module]\ntimer = \"{timer}\"\nmixer_threads = 1\nsounds_dir = \"sounds\"\n\
                 recordings_dir = \"recordings\"\nlog_level = \"info\"\n\
                 [profiles.default]\nrate = 16000\ninterval_ms = 20\n{profile}\n"
            ),
        )
        .unwrap();
        let host = Arc::new(Host::default());
        let table = sys::huddle_host {
            abi_version: HUDDLE_ABI_VERSION,
            ctx: Arc::as_ptr(&host) as *mut c_void,
            log: Some(on_log),
            send_audio: Some(on_send_audio),
            hangup: Some(on_hangup),
            event: Some(on_event),
            originate: None,
        };
        let cpath = CString::new(path.to_str().unwrap()).unwrap();
        let mut module = ptr::null_mut();
        assert_eq!(
            huddle_module_load(&table, cpath.as_ptr(), &mut module),
            Status::Ok
        );
        host.module.store(module as usize, Ordering::Release);
        Huddle { module, host, dir }
    }

    fn join(&self, channel: &str, app_data: &str) -> *mut huddle_member {
        let ch = CString::new(channel).unwrap();
        let data = CString::new(app_data).unwrap();
        let caller = sys::huddle_caller {
            channel: ch.as_ptr(),
            account: ptr::null(),
            call_id: ch.as_ptr(),
            from: ptr::null(),
            to: ptr::null(),
            caller_name: ptr::null(),
        };
        let mut m = ptr::null_mut();
        let st = huddle_conference_app(self.module, &caller, data.as_ptr(), &mut m);
        assert_eq!(st, Status::Ok, "join {channel}");
        self.host
            .members
            .lock()
            .unwrap()
            .insert(channel.to_string(), m as usize);
        m
    }

    fn api(&self, command: &str) -> String {
        let c = CString::new(command).unwrap();
        let mut reply = ptr::null_mut();
        assert_eq!(
            huddle_module_api(self.module, c.as_ptr(), &mut reply),
            Status::Ok
        );
        // SAFETY: on success huddle wrote a NUL-terminated string we own.
        let s = unsafe { CStr::from_ptr(reply) }
            .to_string_lossy()
            .into_owned();
        huddle_str_free(reply);
        s
    }

    fn advance(&self, ms: u32) {
        assert_eq!(huddle_module_advance(self.module, ms), Status::Ok);
    }

    fn shutdown(mut self) {
        let module = std::mem::replace(&mut self.module, ptr::null_mut());
        assert_eq!(huddle_module_shutdown(module), Status::Ok);
    }
}

impl Drop for Huddle {
    /// `host` is the callbacks' `ctx` and is freed with this value: a test
    /// that fails before `shutdown` must not leave its module loaded, or
    /// the next record logged outside a module's scope (another test's
    /// stale handle) is delivered into freed memory and corrupts the heap
    /// of the whole test binary.
    fn drop(&mut self) {
        if !self.module.is_null() {
            self.host.hold_events.store(false, Ordering::Release);
            let _ = huddle_module_shutdown(self.module);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn l16_frame(pcm: &[i16], samples: u32) -> sys::huddle_frame {
    sys::huddle_frame {
        codec: 1,
        sample_rate: 16000,
        samples,
        data: pcm.as_ptr().cast(),
        len: std::mem::size_of_val(pcm),
        audio_level: -1,
        sequence: -1,
    }
}

/// `hup all` on 1,000 members whose host releases each member from inside
/// its hangup callback (as the README allows) runs on a thread with a
/// 256 KiB stack: delivery is a loop, not one nested callback per member
/// (1,000 levels of 0.6-1 KiB overflowed it before).
#[test]
fn hup_all_on_1000_members_releasing_from_the_hangup_callback_fits_a_small_stack() {
    let h = Arc::new(Huddle::load("reentrant", "max_members = 1000"));
    for i in 0..1000 {
        h.join(&format!("leg{i}"), "{beep=false}big");
    }
    h.advance(40);
    h.host.release_on_hangup.store(true, Ordering::Release);
    let h2 = h.clone();
    let reply = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || h2.api("hup big all"))
        .unwrap()
        .join()
        .expect("the small-stack thread survived");
    assert!(reply.starts_with("+OK"), "{reply}");
    let hangups = h.host.hangups.lock().unwrap().len();
    assert_eq!(hangups, 1000);
    let statuses = h.host.release_statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 1000);
    assert!(statuses.iter().all(|s| *s == Status::Ok as u32));
    assert!(h.host.members.lock().unwrap().is_empty());
    Arc::try_unwrap(h).ok().unwrap().shutdown();
}

/// The issue's flood: while the host's event callback is stuck (half a
/// second and more), one caller sends 70,000 mute-toggle digits and an
/// operator mutes and unmutes a 100-member room 800 times (80,000 events,
/// more than the queue holds). Then the members of 50 other rooms are
/// kicked. Once the callback is free, every one of the 50 hangups arrives;
/// the flood's own queue share is bounded (the digits past the member's
/// budget are refused), and the drop is reported in the log.
#[test]
fn a_flood_behind_a_slow_event_callback_never_loses_a_hangup() {
    let h = Arc::new(Huddle::load("flood", "max_members = 200"));
    let flooder = h.join("flooder", "{beep=false}noisy");
    for i in 0..100 {
        h.join(&format!("crowd{i}"), "{beep=false}noisy");
    }
    for i in 0..50 {
        h.join(&format!("other{i}"), &format!("{{beep=false}}other{i}"));
    }
    h.advance(40);
    // Another host thread is inside the event callback, holding the
    // delivery order: everything below queues behind it.
    let before = h.host.events.load(Ordering::Acquire);
    h.host.hold_events.store(true, Ordering::Release);
    let h2 = h.clone();
    let stuck = std::thread::spawn(move || h2.api("lock noisy"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.host.events.load(Ordering::Acquire) == before {
        assert!(Instant::now() < deadline, "the event callback never ran");
        std::thread::yield_now();
    }
    let mut refused = 0;
    for _ in 0..70_000 {
        match huddle_member_dtmf(flooder, b'0' as c_char) {
            Status::Ok => {}
            Status::Limit => refused += 1,
            other => panic!("dtmf: {other:?}"),
        }
    }
    // The member's budget: 32 at once (no time passes on the manual clock).
    assert_eq!(refused, 70_000 - 32);
    for i in 0..800 {
        let cmd = if i % 2 == 0 { "mute" } else { "unmute" };
        h.api(&format!("{cmd} noisy all"));
    }
    for i in 0..50 {
        h.api(&format!("kick other{i} all"));
    }
    h.host.hold_events.store(false, Ordering::Release);
    stuck.join().unwrap();
    // Whatever is left is delivered by the next call.
    h.advance(20);
    let mut hung: Vec<String> = h.host.hangups.lock().unwrap().clone();
    hung.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("other{i}")).collect();
    want.sort();
    assert_eq!(hung, want, "every kicked leg is hung up");
    let delivered = h.host.events.load(Ordering::Acquire) - before;
    assert!(delivered >= 60_000, "only {delivered} events delivered");
    let logs = h.host.logs.lock().unwrap().clone();
    let report: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("calls dropped"))
        .collect();
    assert!(!report.is_empty(), "no report of the dropped calls");
    let digits: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("digits faster than"))
        .collect();
    assert_eq!(digits.len(), 1, "{digits:?}");
    Arc::try_unwrap(h).ok().unwrap().shutdown();
}

/// `send_audio` runs while huddle delivers a tick's frames: a host that
/// calls back into huddle from there (forbidden by the header) gets
/// HUDDLE_STATUS_INSIDE_CALLBACK from every entry point instead of a room,
/// the API and shutdown hung forever, and nothing was done (the member is
/// still in the room, its handle still valid).
#[test]
fn calls_from_inside_send_audio_are_refused_not_deadlocked() {
    let h = Arc::new(Huddle::load("inside", ""));
    let a = h.join("a", "{beep=false}r");
    h.join("b", "{beep=false}r");
    h.host
        .reenter_from_send_audio
        .store(true, Ordering::Release);
    let h2 = h.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let ticker = std::thread::spawn(move || {
        h2.advance(20);
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "the tick deadlocked inside send_audio"
    );
    // The ticker drops its `h2` after sending: without the join, the
    // `try_unwrap` below lost that race about once in 20 runs.
    ticker.join().unwrap();
    let got = h.host.reentry.lock().unwrap().clone();
    let inside = 1013u32;
    assert_eq!(
        got,
        vec![
            ("api", inside),
            ("dtmf", inside),
            ("hangup", inside),
            ("advance", inside),
            ("audio", inside)
        ]
    );
    assert!(h.api("count r").contains('2'), "{}", h.api("count r"));
    let frame = l16_frame(&[0; 320], 320);
    assert_eq!(huddle_member_audio(a, &frame), Status::Ok);
    assert_eq!(huddle_member_hangup(a), Status::Ok);
    let logs = h.host.logs.lock().unwrap().clone();
    assert!(logs
        .iter()
        .any(|l| l.contains("huddle_module_api: called from inside send_audio")));
    Arc::try_unwrap(h).ok().unwrap().shutdown();
}

/// Media threads keep sending frames on a released handle while the host
/// shuts the module down (realtime timer), behind a 20 µs log callback:
/// shutdown returns in bounded time (before, it delivered a warning per
/// frame until the queue was empty, which it never was while the frames
/// came), and the warnings about the stale handle are a trickle, not one
/// per call.
#[test]
fn shutdown_finishes_while_frames_arrive_on_released_handles() {
    // Realtime: the media threads only queue their warnings; the event
    // thread (and, at shutdown, the shutting thread) delivers them.
    let h = Huddle::load_timer("stale", "realtime", "");
    let m = h.join("a", "{beep=false}r") as usize;
    assert_eq!(huddle_member_hangup(m as *mut huddle_member), Status::Ok);
    h.host.log_spin_us.store(20, Ordering::Release);
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    // Two media threads, so calls come faster than the log callback takes
    // their warnings.
    let media: Vec<_> = (0..2)
        .map(|_| {
            let (stop, calls) = (stop.clone(), calls.clone());
            std::thread::spawn(move || {
                let pcm = [0i16; 320];
                let frame = l16_frame(&pcm, 320);
                let deadline = Instant::now() + Duration::from_secs(15);
                while !stop.load(Ordering::Acquire) && Instant::now() < deadline {
                    let st = huddle_member_audio(m as *mut huddle_member, &frame);
                    assert_eq!(st, Status::StaleHandle);
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.load(Ordering::Relaxed) < 20_000 {
        assert!(Instant::now() < deadline, "the media thread made no calls");
        std::thread::yield_now();
    }
    let host = h.host.clone();
    let start = Instant::now();
    h.shutdown();
    let took = start.elapsed();
    stop.store(true, Ordering::Release);
    for t in media {
        t.join().unwrap();
    }
    eprintln!("shutdown took {took:?}");
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    let stale = host
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("huddle_member_audio: argument 'member'"))
        .count();
    let n = calls.load(Ordering::Relaxed);
    assert!(
        stale <= 20,
        "{stale} warnings for {n} calls on one stale handle"
    );
}

/// An L16 frame's `samples` must agree with its `len` (samples * 2 bytes):
/// 321, 0 and 2^32 - 1 with 640 bytes are refused with
/// HUDDLE_STATUS_BAD_FRAME, counted in `stats` and logged; the consistent
/// frame is taken. On both timers: the realtime one queues a good frame by
/// a shorter path, which must hand every refusal to the one that reports it.
#[test]
fn l16_frames_whose_samples_disagree_with_len_are_refused() {
    for timer in ["manual", "realtime"] {
        let h = Huddle::load_timer(&format!("samples-{timer}"), timer, "");
        let m = h.join("a", "{beep=false}r");
        let pcm = [0i16; 320];
        for samples in [321, 0, u32::MAX, 319, 640] {
            let f = l16_frame(&pcm, samples);
            assert_eq!(
                huddle_member_audio(m, &f),
                Status::BadFrame,
                "{timer} {samples}"
            );
        }
        assert_eq!(
            huddle_member_audio(m, &l16_frame(&pcm, 320)),
            Status::Ok,
            "{timer}"
        );
        if timer == "manual" {
            h.advance(20);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let logged = |h: &Huddle| {
            h.host
                .logs
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("declares 321 samples but holds 640 bytes"))
        };
        while !logged(&h) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(logged(&h), "{timer}: {:?}", h.host.logs.lock().unwrap());
        let stats = h.api("stats r");
        assert!(stats.contains(" bad=5 "), "{timer}: {stats}");
        assert_eq!(huddle_member_hangup(m), Status::Ok, "{timer}");
        h.shutdown();
    }
}
