//! Recordings: the mixer hands each frame of the room mix to a writer thread
//! through a queue and never waits on disk.
//!
//! The queue itself is unbounded so that opening and closing a file never
//! blocks: those run under the room lock, and the writer takes room locks to
//! report finished files, so a blocking send there could deadlock. Audio is
//! bounded instead by `Backlog`: past `QUEUE_FRAMES` buffers in flight the
//! mixer counts a gap rather than queueing more.
//!
//! While a file is open a sidecar `<file>.inprogress` marks it unfinished and
//! its WAV sizes are rewritten at least once a second, so a killed host
//! leaves a valid file missing at most the last second. The next load finds
//! the markers, repairs the files and reports them (`Recovered=true`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};

use crate::audio::wav::{create_exclusive, repair_wav, trim_file, WavRecorder};
use crate::control::config::{Config, Profile};
use crate::room::events::{civil_from_days, rfc2822};
use crate::room::{RecordingCommand, Room};

use super::logging::{LogSink, Scope};
use super::outbox::{HostCall, Outbox};

/// A room as the recorder sees it. `rooms.rs` implements it for its cell,
/// so the recorder needs nothing of `rooms.rs` and the import between them
/// runs one way only.
pub trait RecordedRoom: Send + Sync + 'static {
    fn account(&self) -> &str;
    fn name(&self) -> &str;
    fn display_name(&self) -> String;
    /// Runs `f` on the room under its lock: the writer reports a finished
    /// file from its own thread, long after the tick that stopped it.
    fn with_room(&self, f: &mut dyn FnMut(&mut Room));
}

/// Where a room's outputs go: host calls to the outbox, recordings to the
/// writer, which reads the config a new recording starts from. Borrowed
/// from the module's parts, so rooms and the recorder need nothing of the
/// module that owns them.
pub struct Outlets<'a> {
    pub outbox: &'a Outbox,
    pub recorder: &'a Recorder,
    pub config: &'a RwLock<Arc<Config>>,
}

impl Outlets<'_> {
    pub fn config(&self) -> Arc<Config> {
        current_config(self.config)
    }
}

/// The config now in force (a `reload` swaps it).
pub fn current_config(config: &RwLock<Arc<Config>>) -> Arc<Config> {
    config.read().unwrap_or_else(|e| e.into_inner()).clone()
}

mod session;
mod writer;

pub use session::{apply, finish};

/// Frames of audio the queue holds before the mixer starts counting a gap:
/// 256 frames is 5 s at 20 ms, plenty for a disk hiccup.
const QUEUE_FRAMES: usize = 256;

/// The queue's sender with the count of audio buffers not yet written.
#[derive(Clone)]
struct Queue {
    tx: Sender<Job>,
    audio_in_flight: Arc<AtomicUsize>,
}

impl Queue {
    /// Control jobs (open, close, gap, barrier) always go through.
    fn send(&self, job: Job) -> Result<(), ()> {
        self.tx.send(job).map_err(|_| ())
    }

    /// Audio goes through only while the writer keeps up; hands the job back
    /// otherwise so its buffer can be counted as a gap.
    fn offer_audio(&self, job: Job) -> Result<(), ()> {
        if self.audio_in_flight.load(Ordering::Acquire) >= QUEUE_FRAMES {
            return Err(());
        }
        self.audio_in_flight.fetch_add(1, Ordering::AcqRel);
        self.tx.send(job).map_err(|_| {
            self.audio_in_flight.fetch_sub(1, Ordering::AcqRel);
        })
    }
}
/// Trim treats anything quieter than this as silence.
const SILENCE_DBOV: f32 = -55.0;
const MARKER_EXT: &str = "inprogress";

enum Job {
    Open {
        id: u64,
        path: PathBuf,
        rate: u32,
        marker: String,
        file_mode: u32,
        failed: Arc<AtomicBool>,
    },
    Samples {
        id: u64,
        buf: Vec<i16>,
    },
    Gap {
        id: u64,
        samples: u64,
    },
    /// One member's track (multitrack), after the mix of the same tick.
    Track {
        id: u64,
        member: u32,
        buf: Vec<i16>,
    },
    Close {
        id: u64,
        finish: Box<Finish>,
    },
    Barrier(Sender<()>),
    /// Fault injection: the writer sleeps, as it would on a stalled disk.
    Stall(Duration),
    Stop,
}

/// What the writer needs to report a finished recording.
struct Finish {
    cell: Arc<dyn RecordedRoom>,
    outbox: super::outbox::Outbox,
    trim: bool,
    info: EventInfo,
    paused_ms: u64,
    closing: Arc<AtomicU64>,
    heard_speech: bool,
}

#[derive(Clone)]
struct EventInfo {
    sid: String,
    url: String,
    source: String,
    start_time: String,
    callback: Option<(String, String)>,
    events: Option<Vec<String>>,
}

/// One running recording, owned by its room's state. `push` runs on the mixer.
pub struct Recording {
    id: u64,
    tx: Queue,
    free: Receiver<Vec<i16>>,
    gap: u64,
    info: EventInfo,
    pub path: PathBuf,
    paused_at: Option<Instant>,
    paused_ms_total: u64,
    paused_room_ms: Option<u64>,
    /// Whether any member was heard while recording: a file without is `absent`.
    heard_speech: bool,
    /// Set by the writer when the file can no longer be written (disk full).
    failed: Arc<AtomicBool>,
}

impl Recording {
    /// A member's own track. Dropped, not gap-filled, when the queue is full:
    /// the writer pads a track back into line with the mix when it resumes.
    pub fn push_track(&mut self, member: u32, pcm: &[i16]) {
        let mut buf = self.free.try_recv().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(pcm);
        let _ = self.tx.offer_audio(Job::Track {
            id: self.id,
            member,
            buf,
        });
    }

    /// The writer could not write the file: the recording must end (with
    /// `recording-failed`) instead of running on, writing nothing.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Never blocks and, once the buffers have cycled, never allocates.
    pub fn push(&mut self, pcm: &[i16], speech: bool) {
        self.heard_speech |= speech;
        if self.gap > 0 {
            // Only once the writer has caught up, so the silence lands
            // before the audio that follows it.
            if self.tx.audio_in_flight.load(Ordering::Acquire) >= QUEUE_FRAMES
                || self
                    .tx
                    .send(Job::Gap {
                        id: self.id,
                        samples: self.gap,
                    })
                    .is_err()
            {
                self.gap += pcm.len() as u64;
                return;
            }
            self.gap = 0;
        }
        let mut buf = self.free.try_recv().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(pcm);
        if self
            .tx
            .offer_audio(Job::Samples { id: self.id, buf })
            .is_err()
        {
            self.gap += pcm.len() as u64;
        }
    }
}

pub struct Recorder {
    tx: Queue,
    free_rx: Receiver<Vec<i16>>,
    handle: Mutex<Option<JoinHandle<()>>>,
    next_id: AtomicU64,
    dir: PathBuf,
    /// Closes queued whose events are not out yet.
    closing: Arc<AtomicU64>,
    /// Recordings running now.
    open: AtomicU64,
    /// Files opened but not yet created by the writer, so a recording
    /// started right after another cannot pick the same name. Held only for
    /// a set lookup, never across I/O.
    claimed: Arc<Mutex<HashSet<PathBuf>>>,
}

impl Recorder {
    pub fn new(dir: &Path, sink: Arc<LogSink>) -> Result<Recorder, String> {
        let (tx, rx) = unbounded();
        let (recycle, free_rx) = bounded(QUEUE_FRAMES + 8);
        let tx = Queue {
            tx,
            audio_in_flight: Arc::new(AtomicUsize::new(0)),
        };
        let in_flight = tx.audio_in_flight.clone();
        let claimed = Arc::new(Mutex::new(HashSet::new()));
        let created = claimed.clone();
        let handle = std::thread::Builder::new()
            .name("huddle-rec".to_string())
            .spawn(move || {
                let _scope = Scope::enter(&sink);
                writer::run(rx, recycle, &in_flight, &created);
            })
            .map_err(|e| format!("could not start the recording thread: {e}"))?;
        Ok(Recorder {
            tx,
            free_rx,
            handle: Mutex::new(Some(handle)),
            next_id: AtomicU64::new(1),
            dir: dir.to_path_buf(),
            closing: Arc::new(AtomicU64::new(0)),
            open: AtomicU64::new(0),
            claimed,
        })
    }

    /// Manual timer: waits for queued closes so their events are delivered by
    /// the same call, as deterministic as every other event.
    /// Also waits while recordings run, so with a manual clock the file on disk
    /// keeps pace with `advance` (the realtime mixer never waits like this).
    pub fn settle(&self) {
        if self.closing.load(Ordering::Acquire) > 0 || self.open.load(Ordering::Acquire) > 0 {
            self.barrier();
        }
    }

    /// Waits until the writer has done everything queued so far.
    pub fn barrier(&self) {
        let (tx, rx) = bounded(1);
        if self.tx.send(Job::Barrier(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(30));
        }
    }

    /// Fault injection for tests: the writer stops writing for `d`, the way
    /// it would if the disk stopped answering.
    pub fn stall(&self, d: Duration) {
        let _ = self.tx.send(Job::Stall(d));
    }

    pub fn shutdown(&self) {
        let _ = self.tx.send(Job::Stop);
        if let Some(h) = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }

    /// Finds recordings a crashed host left unfinished, repairs and reports
    /// them to `outbox`, filtered by `config`'s `suppress_events`.
    pub fn recover(&self, outbox: &Outbox, config: &Config) {
        let mut markers = Vec::new();
        find_markers(&self.dir, 0, &mut markers);
        for marker in markers {
            let wav = marker.with_extension("");
            let meta = std::fs::read_to_string(&marker).unwrap_or_default();
            let field = |k: &str| {
                meta.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .unwrap_or("")
                    .to_string()
            };
            for track in meta.lines().filter_map(|l| l.strip_prefix("track=")) {
                if let Err(e) = repair_wav(Path::new(track)) {
                    log::error!(target: "huddle::recording", "could not repair {track}: {e}");
                }
            }
            match repair_wav(&wav) {
                Ok(report) => {
                    let size = std::fs::metadata(&wav).map(|m| m.len()).unwrap_or(0);
                    let secs = report.samples
                        / u64::from(report.rate.max(1))
                        / u64::from(report.channels.max(1));
                    log::warn!(target: "huddle::recording", "recovered unfinished recording {} ({secs} s)", wav.display());
                    // No room is behind this event to filter it: suppress_events
                    // is applied here, as the room applies it to its own.
                    let suppress = &config.module.suppress_events;
                    if !crate::room::events::suppressed("recording-completed", suppress) {
                        outbox.push(HostCall::Event(crate::room::io::Event {
                            name: "recording-completed".to_string(),
                            fields: vec![
                                ("AccountSid", field("account")),
                                ("ConferenceSid", field("conference_sid")),
                                ("FriendlyName", field("room")),
                                ("StatusCallbackEvent", "recording-completed".to_string()),
                                ("RecordingSid", field("recording_sid")),
                                ("RecordingUrl", field("url")),
                                ("RecordingStatus", "completed".to_string()),
                                ("RecordingFileSize", size.to_string()),
                                ("RecordingDuration", secs.to_string()),
                                ("RecordingChannels", report.channels.to_string()),
                                ("Recovered", "true".to_string()),
                            ],
                        }));
                    }
                    let _ = std::fs::remove_file(&marker);
                }
                Err(e) => {
                    log::error!(target: "huddle::recording", "could not repair {}: {e}", wav.display());
                }
            }
        }
    }
}

fn find_markers(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    if depth > 8 || out.len() > 10_000 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            find_markers(&p, depth + 1, out);
        } else if ft.is_file() && p.extension().is_some_and(|x| x == MARKER_EXT) {
            out.push(p);
        }
    }
}

/// Creates `path` and any missing folder above it with permission bits
/// `mode`, whatever the umask; folders that exist keep theirs.
fn make_dirs(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        make_dirs(parent, mode)?;
    }
    let made = std::fs::DirBuilder::new().mode(mode).create(path);
    match made {
        Ok(()) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", path.display())),
        // Made by another thread in between: theirs, with the same mode.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn marker_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(MARKER_EXT);
    PathBuf::from(s)
}

/// The first participant's `recordingStatusCallback` and its method.
fn recording_callback(first: &crate::room::settings::FirstSetter) -> Option<(String, String)> {
    first.recording_status_callback.clone().map(|u| {
        let method = first.recording_status_callback_method.clone();
        (u, method.unwrap_or_else(|| "POST".to_string()))
    })
}

fn rec_fields(
    info: &EventInfo,
    status: &str,
    extra: Option<Vec<(&'static str, String)>>,
) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("RecordingSid", info.sid.clone()),
        ("RecordingUrl", info.url.clone()),
        ("RecordingStatus", status.to_string()),
        ("RecordingChannels", "1".to_string()),
        ("RecordingSource", info.source.clone()),
        ("RecordingStartTime", info.start_time.clone()),
    ];
    if let Some((url, method)) = &info.callback {
        f.push(("RecordingStatusCallback", url.clone()));
        f.push(("RecordingStatusCallbackMethod", method.clone()));
    }
    f.extend(extra.unwrap_or_default());
    f
}

/// Emits through the room so the event takes its place in the room's sequence,
/// unless the first participant's `recordingStatusCallbackEvent` filtered it out.
fn emit(
    room: &mut Room,
    info: &EventInfo,
    name: &str,
    fields: Vec<(&'static str, String)>,
    now_ms: u64,
) {
    let word = name.trim_start_matches("recording-");
    if let Some(events) = &info.events {
        if !events.iter().any(|e| e == word) {
            return;
        }
    }
    room.emit_external(name, fields, now_ms);
}

#[cfg(test)]
mod tests {
    use super::session::expand_template;
    use super::*;

    #[test]
    fn template_expands_and_cannot_climb() {
        // 2026-11-22 02:26:01 UTC
        let s = expand_template(
            "${account}/${room}/${date}-${time}-${conference_sid}.wav",
            "acme",
            "3000",
            "CF1",
            "default",
            1_795_314_361_000,
        );
        assert_eq!(s, "acme/3000/2026-11-22-022601-CF1.wav");
        let s = expand_template("${account}/${room}.wav", "", "../x", "CF1", "p", 0);
        assert_eq!(s, "_global/__x.wav");
    }

    /// A full audio queue must never hold up an open or close: those are sent
    /// under a room lock the writer may be waiting for.
    #[test]
    fn full_audio_queue_never_blocks_control_jobs() {
        let (tx, rx) = unbounded();
        let queue = Queue {
            tx,
            audio_in_flight: Arc::new(AtomicUsize::new(0)),
        };
        let audio = |q: &Queue| {
            q.offer_audio(Job::Samples {
                id: 1,
                buf: vec![0; 160],
            })
        };
        let accepted = (0..QUEUE_FRAMES + 50)
            .filter(|_| audio(&queue).is_ok())
            .count();
        assert_eq!(accepted, QUEUE_FRAMES);
        for id in 0..(QUEUE_FRAMES as u64 * 4) {
            assert!(queue.send(Job::Gap { id, samples: 160 }).is_ok());
        }
        assert_eq!(rx.len(), QUEUE_FRAMES * 5);
        assert!(audio(&queue).is_err());
    }
}
