//! A minimal host that drives huddle only through its C entry points: the
//! same calls a softswitch makes after `dlopen`. Nothing here reaches past
//! the ABI into the runtime.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use huddle::abi::exports::{
    huddle_conference_app, huddle_member_audio, huddle_module_advance, huddle_module_api,
    huddle_module_load, huddle_module_shutdown, huddle_str_free, HUDDLE_ABI_VERSION,
};
use huddle::abi::handles::{huddle_member, huddle_module};
use huddle::abi::sys;
use huddle::runtime::Status;

pub const L16: u32 = 1;
pub const OPUS: u32 = 2;

/// Per-room tick timestamps taken in `send_audio`, for the lateness
/// distribution on the realtime timer. Only the first member of each room
/// (channel `r<room>-0`) is stamped: its frame is the first one a tick sends.
pub struct Stamps {
    base: Instant,
    per_room: usize,
    counts: Vec<AtomicUsize>,
    ns: Vec<AtomicU64>,
    /// Stamping starts when this is non-zero.
    pub armed: AtomicUsize,
}

impl Stamps {
    pub fn new(rooms: usize, per_room: usize) -> Stamps {
        Stamps {
            base: Instant::now(),
            per_room,
            counts: (0..rooms).map(|_| AtomicUsize::new(0)).collect(),
            ns: (0..rooms * per_room).map(|_| AtomicU64::new(0)).collect(),
            armed: AtomicUsize::new(0),
        }
    }

    fn stamp(&self, room: usize) {
        if room >= self.counts.len() || self.armed.load(Ordering::Relaxed) == 0 {
            return;
        }
        let i = self.counts[room].fetch_add(1, Ordering::Relaxed);
        if i < self.per_room {
            let t = self.base.elapsed().as_nanos() as u64;
            self.ns[room * self.per_room + i].store(t, Ordering::Relaxed);
        }
    }

    /// Each room's tick times, in ns since `base`.
    pub fn rooms(&self) -> Vec<Vec<u64>> {
        self.counts
            .iter()
            .enumerate()
            .map(|(r, c)| {
                let n = c.load(Ordering::Relaxed).min(self.per_room);
                (0..n)
                    .map(|i| self.ns[r * self.per_room + i].load(Ordering::Relaxed))
                    .collect()
            })
            .collect()
    }
}

/// What the host receives: counts only, so the callback costs next to nothing.
#[derive(Default)]
pub struct Sink {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub stamps: Option<Stamps>,
}

unsafe extern "C" fn send_audio(
    ctx: *mut c_void,
    channel: *const c_char,
    frame: *const sys::huddle_frame,
) {
    // SAFETY: ctx is the `Sink` the `Huddle` owning this module keeps alive
    // until after shutdown; huddle passes a valid frame and channel for the
    // duration of the call.
    let sink = unsafe { &*(ctx as *const Sink) };
    let frame = unsafe { &*frame };
    sink.frames.fetch_add(1, Ordering::Relaxed);
    sink.bytes.fetch_add(frame.len as u64, Ordering::Relaxed);
    if let Some(stamps) = &sink.stamps {
        // SAFETY: a NUL-terminated string borrowed for the call.
        let ch = unsafe { CStr::from_ptr(channel) }.to_bytes();
        if let Some(room) = ch.strip_prefix(b"r").and_then(|r| r.strip_suffix(b"-0")) {
            let idx = room.iter().try_fold(0usize, |a, &d| {
                d.is_ascii_digit().then(|| a * 10 + usize::from(d - b'0'))
            });
            if let Some(idx) = idx {
                stamps.stamp(idx);
            }
        }
    }
}

unsafe extern "C" fn event(_ctx: *mut c_void, _event: *const sys::huddle_event) {}

unsafe extern "C" fn hangup(_ctx: *mut c_void, _channel: *const c_char, _cause: u32) {}

/// A loaded module plus the sink its callbacks write to.
pub struct Huddle {
    module: *mut huddle_module,
    pub sink: Arc<Sink>,
    dir: PathBuf,
}

// SAFETY: huddle's entry points may be called from any thread (exports.rs);
// the handle is an opaque token and the sink is made of atomics.
unsafe impl Send for Huddle {}
unsafe impl Sync for Huddle {}

/// A member handle, usable from any thread.
#[derive(Clone, Copy)]
pub struct Member(*mut huddle_member);
// SAFETY: as for `Huddle`.
unsafe impl Send for Member {}
unsafe impl Sync for Member {}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The config every case uses: one profile, dynamic rooms, no announcements
/// (members join with `beep=false`).
pub fn config(timer: &str, threads: usize, rate: u32, share_encodes: bool) -> String {
    format!(
        "[module]\ntimer = \"{timer}\"\nmixer_threads = {threads}\nsounds_dir = \"sounds\"\n\
         recordings_dir = \"recordings\"\nlog_level = \"warn\"\n\
         [profiles.default]\nrate = {rate}\ninterval_ms = 20\nmax_members = 1000\n\
         share_encodes = {share_encodes}\n{}",
        super::opus_profile_lines()
    )
}

impl Huddle {
    pub fn load(config: &str, sink: Sink) -> Huddle {
        let dir = std::env::temp_dir().join(format!(
            "huddle-bench-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join("sounds")).expect("temp dir");
        std::fs::create_dir_all(dir.join("recordings")).expect("temp dir");
        let path = dir.join("huddle.conf");
        std::fs::write(&path, config).expect("write config");
        let sink = Arc::new(sink);
        let host = sys::huddle_host {
            abi_version: HUDDLE_ABI_VERSION,
            ctx: Arc::as_ptr(&sink) as *mut c_void,
            log: None,
            send_audio: Some(send_audio),
            hangup: Some(hangup),
            event: Some(event),
            originate: None,
        };
        let cpath = CString::new(path.to_str().expect("utf-8 temp dir")).expect("no NUL");
        let mut module = ptr::null_mut();
        let st = huddle_module_load(&host, cpath.as_ptr(), &mut module);
        assert!(st == Status::Ok, "huddle_module_load: {st:?}\n{config}");
        Huddle { module, sink, dir }
    }

    pub fn join(&self, channel: &str, app_data: &str) -> Member {
        let ch = CString::new(channel).expect("no NUL");
        let data = CString::new(app_data).expect("no NUL");
        let caller = sys::huddle_caller {
            channel: ch.as_ptr(),
            account: ptr::null(),
            call_id: ptr::null(),
            from: ptr::null(),
            to: ptr::null(),
            caller_name: ptr::null(),
        };
        let mut m = ptr::null_mut();
        let st = huddle_conference_app(self.module, &caller, data.as_ptr(), &mut m);
        assert!(st == Status::Ok, "join {channel} {app_data}: {st:?}");
        Member(m)
    }

    /// `rooms` rooms r0, r1, ... of five members each, without beeps: each
    /// member with its place (0..5) in its room.
    pub fn join_rooms_of_five(&self, rooms: usize) -> Vec<(Member, usize)> {
        (0..rooms * 5)
            .map(|i| {
                let (room, place) = (i / 5, i % 5);
                let m = self.join(
                    &format!("r{room}-{place}"),
                    &format!("{{beep=false}}r{room}"),
                );
                (m, place)
            })
            .collect()
    }

    pub fn advance(&self, ms: u32) {
        let st = huddle_module_advance(self.module, ms);
        debug_assert!(st == Status::Ok);
    }

    pub fn api(&self, command: &str) -> String {
        let c = CString::new(command).expect("no NUL");
        let mut reply = ptr::null_mut();
        let st = huddle_module_api(self.module, c.as_ptr(), &mut reply);
        assert!(st == Status::Ok, "api {command}: {st:?}");
        // SAFETY: on success huddle wrote a NUL-terminated string we own.
        let s = unsafe { CStr::from_ptr(reply) }
            .to_string_lossy()
            .into_owned();
        huddle_str_free(reply);
        s
    }

    /// `json stats <room>`: the `result` of `{"ok":true,"result":{...}}`,
    /// or Null (and a line on stderr) when the command failed.
    pub fn stats(&self, room: &str) -> serde_json::Value {
        let reply = self.api(&format!("json stats {room}"));
        let mut v: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
        if v["ok"] != serde_json::Value::Bool(true) {
            eprintln!("stats {room}: {reply}");
            return serde_json::Value::Null;
        }
        v["result"].take()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Huddle {
    fn drop(&mut self) {
        huddle_module_shutdown(self.module);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One frame into a member, exactly as a host media thread hands it over.
pub fn audio(m: Member, codec: u32, rate: u32, samples: u32, data: &[u8], level: i32) {
    let frame = sys::huddle_frame {
        codec,
        sample_rate: rate,
        samples,
        data: data.as_ptr(),
        len: data.len(),
        audio_level: level,
        sequence: -1,
    };
    let _ = huddle_member_audio(m.0, &frame);
}

pub fn l16_bytes(pcm: &[i16]) -> Vec<u8> {
    pcm.iter().flat_map(|s| s.to_ne_bytes()).collect()
}
