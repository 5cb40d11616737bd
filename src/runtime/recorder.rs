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
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};

use crate::audio::wav::{create_exclusive, repair_wav, trim_silence, WavRecorder};
use crate::room::events::{civil_from_days, rfc2822};
use crate::room::RecordingCommand;

use super::logging::{LogSink, Scope};
use super::module::Shared;
use super::outbox::HostCall;
use super::rooms::{RoomCell, RoomState};

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
    cell: Arc<RoomCell>,
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
                writer(rx, recycle, &in_flight, &created);
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

    pub fn shutdown(&self, _shared: &Shared) {
        let _ = self.tx.send(Job::Stop);
        if let Some(h) = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }

    /// Finds recordings a crashed host left unfinished, repairs and reports them.
    pub fn recover(&self, shared: &Shared) {
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
                    shared
                        .outbox
                        .push(HostCall::Event(crate::room::events::event(
                            "recording-completed",
                            vec![
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
                        )));
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

/// `${account}/${room}/${date}-${time}-${conference_sid}.wav` and friends.
pub fn expand_template(
    template: &str,
    account: &str,
    room: &str,
    sid: &str,
    profile: &str,
    unix_ms: u64,
) -> String {
    let secs = unix_ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .replace("..", "_")
    };
    template
        .replace(
            "${account}",
            &if account.is_empty() {
                "_global".to_string()
            } else {
                clean(account)
            },
        )
        .replace("${room}", &clean(room))
        .replace("${conference_sid}", &clean(sid))
        .replace("${profile}", &clean(profile))
        .replace("${date}", &format!("{y:04}-{m:02}-{d:02}"))
        .replace(
            "${time}",
            &format!("{:02}{:02}{:02}", rem / 3600, (rem / 60) % 60, rem % 60),
        )
}

/// Starts, pauses, resumes or stops the room's recording as the core decided.
pub fn apply(
    cell: &Arc<RoomCell>,
    state: &mut RoomState,
    shared: &Shared,
    cmd: RecordingCommand,
    now_ms: u64,
) {
    match cmd {
        RecordingCommand::Start { path, source } => {
            if state.recording.is_some() {
                return;
            }
            match open(cell, state, shared, path, &source, now_ms) {
                Ok(rec) => {
                    let fields = rec_fields(&rec.info, "in-progress", None);
                    emit(state, &rec.info, "recording-in-progress", fields, now_ms);
                    state.recording = Some(rec);
                }
                Err(why) => {
                    log::error!(target: "huddle::recording", "room {}: recording not started: {why}", cell.display_name());
                    state.room.recording_ended();
                    let info = EventInfo {
                        sid: String::new(),
                        url: String::new(),
                        source,
                        start_time: String::new(),
                        callback: None,
                        events: state
                            .room
                            .first_setter()
                            .recording_status_callback_event
                            .clone(),
                    };
                    let mut fields = rec_fields(&info, "failed", None);
                    fields.push(("ErrorMessage", why));
                    emit(state, &info, "recording-failed", fields, now_ms);
                }
            }
        }
        RecordingCommand::Pause => {
            if let Some(r) = state.recording.as_mut() {
                r.paused_at = Some(Instant::now());
                r.paused_room_ms = Some(now_ms);
            }
        }
        RecordingCommand::Resume => {
            if let Some(r) = state.recording.as_mut() {
                if let Some(at) = r.paused_room_ms.take() {
                    r.paused_ms_total += now_ms.saturating_sub(at);
                }
                r.paused_at = None;
            }
        }
        RecordingCommand::Stop { reason } => {
            if let Some(rec) = state.recording.take() {
                finish(cell, state, shared, rec, &reason, now_ms);
            }
        }
    }
}

fn open(
    cell: &RoomCell,
    state: &mut RoomState,
    shared: &Shared,
    path: Option<String>,
    source: &str,
    now_ms: u64,
) -> Result<Recording, String> {
    let config = shared.config();
    let dir = &config.module.recordings_dir;
    let dir_mode = config.module.recording_dir_mode;
    make_dirs(dir, dir_mode)?;
    let room = &state.room;
    let wall = room.settings.wall_epoch_ms + now_ms;
    let from_template = path.is_none();
    let relative = match path {
        Some(p) => p,
        None => expand_template(
            &state.profile.record_template,
            &cell.account,
            &cell.name,
            &room.sid,
            &room.settings.profile,
            wall,
        ),
    };
    let relative = if relative.ends_with(".wav") {
        relative
    } else {
        format!("{relative}.wav")
    };
    let mut full = super::paths::confined(dir, &relative)?;
    if let Some(parent) = full.parent() {
        make_dirs(parent, dir_mode)?;
        // The directory now exists: check again that no link led it elsewhere.
        super::paths::confined(dir, &relative)?;
    }
    let claimed = &shared.recorder.claimed;
    let taken = |p: &Path| {
        p.exists()
            || marker_of(p).exists()
            || claimed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(p)
    };
    let mut relative = relative;
    if taken(&full) {
        // A template names the same file for two recordings in one second
        // (stop and start again): the later one becomes `<name>-2.wav`, ...
        // A path the operator gave is theirs to choose again.
        let stem = relative.strip_suffix(".wav").unwrap_or(&relative);
        let free = (2..=99)
            .map(|n| format!("{stem}-{n}.wav"))
            .find(|r| from_template && !taken(&dir.join(r)))
            .ok_or_else(|| {
                format!(
                    "{} already exists; recordings never overwrite",
                    full.display()
                )
            })?;
        full = super::paths::confined(dir, &free)?;
        relative = free;
    }
    let id = shared.recorder.next_id.fetch_add(1, Ordering::Relaxed);
    let first = room.first_setter();
    let url = match &config.module.public_recording_url {
        Some(base) if !base.is_empty() => format!("{}/{}", base.trim_end_matches('/'), relative),
        _ => format!("file://{}", full.display()),
    };
    let info = EventInfo {
        sid: format!("RE{:016x}{:08x}", room.settings.wall_epoch_ms, id),
        url,
        source: source.to_string(),
        start_time: rfc2822(wall),
        callback: first.recording_status_callback.clone().map(|u| {
            (
                u,
                first
                    .recording_status_callback_method
                    .clone()
                    .unwrap_or_else(|| "POST".to_string()),
            )
        }),
        events: first.recording_status_callback_event.clone(),
    };
    let marker = format!(
        "conference_sid={}\naccount={}\nroom={}\nrecording_sid={}\nurl={}\n",
        room.sid, cell.account, cell.name, info.sid, info.url
    );
    let failed = Arc::new(AtomicBool::new(false));
    let claim = |on: bool| {
        let mut set = claimed.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            set.insert(full.clone());
        } else {
            set.remove(&full);
        }
    };
    claim(true);
    shared
        .recorder
        .tx
        .send(Job::Open {
            id,
            path: full.clone(),
            rate: room.settings.rate,
            marker,
            file_mode: config.module.recording_file_mode,
            failed: failed.clone(),
        })
        .map_err(|()| {
            claim(false);
            "the recording thread has stopped".to_string()
        })?;
    shared.recorder.open.fetch_add(1, Ordering::AcqRel);
    Ok(Recording {
        failed,
        id,
        tx: shared.recorder.tx.clone(),
        free: shared.recorder.free_rx.clone(),
        gap: 0,
        info,
        path: full,
        paused_at: None,
        paused_ms_total: 0,
        paused_room_ms: None,
        heard_speech: false,
    })
}

/// Closes the file on the writer thread; its completion event follows from there.
pub fn finish(
    cell: &Arc<RoomCell>,
    state: &mut RoomState,
    shared: &Shared,
    mut rec: Recording,
    reason: &str,
    now_ms: u64,
) {
    if let Some(at) = rec.paused_room_ms.take() {
        rec.paused_ms_total += now_ms.saturating_sub(at);
    }
    if rec.gap > 0 {
        let _ = rec.tx.send(Job::Gap {
            id: rec.id,
            samples: rec.gap,
        });
    }
    let trim = state.room.first_setter().trim_silence == Some(true);
    shared.recorder.open.fetch_sub(1, Ordering::AcqRel);
    log::info!(target: "huddle::recording", "room {}: recording {} stops ({reason})", cell.display_name(), rec.path.display());
    shared.recorder.closing.fetch_add(1, Ordering::AcqRel);
    let sent = rec.tx.send(Job::Close {
        id: rec.id,
        finish: Box::new(Finish {
            cell: cell.clone(),
            outbox: shared.outbox.clone(),
            trim,
            info: rec.info.clone(),
            paused_ms: rec.paused_ms_total,
            closing: shared.recorder.closing.clone(),
            heard_speech: rec.heard_speech,
        }),
    });
    if sent.is_err() {
        shared.recorder.closing.fetch_sub(1, Ordering::AcqRel);
    }
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
    state: &mut RoomState,
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
    state.room.emit_external(name, fields, now_ms);
}

/// One member's file beside the mix (multitrack).
struct Track {
    member: u32,
    writer: WavRecorder,
    path: PathBuf,
}

struct Open {
    writer: Option<WavRecorder>,
    tracks: Vec<Track>,
    /// Samples written since the header last matched the file.
    unflushed: u64,
    path: PathBuf,
    marker: PathBuf,
    rate: u32,
    file_mode: u32,
    dirty: bool,
    error: Option<String>,
    gaps: u64,
    failed: Arc<AtomicBool>,
}

fn writer(
    rx: Receiver<Job>,
    recycle: Sender<Vec<i16>>,
    audio_in_flight: &AtomicUsize,
    claimed: &Mutex<HashSet<PathBuf>>,
) {
    let mut files: HashMap<u64, Open> = HashMap::new();
    let mut last_flush = Instant::now();
    loop {
        let job = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(j) => Some(j),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match job {
            Some(Job::Open {
                id,
                path,
                rate,
                marker,
                file_mode,
                failed,
            }) => {
                let marker_path = marker_of(&path);
                // Created, never followed: a link planted under the marker's
                // name would otherwise have huddle write where it points.
                let result = create_exclusive(&marker_path, file_mode)
                    .and_then(|mut m| {
                        use std::io::Write;
                        m.write_all(marker.as_bytes())
                    })
                    .and_then(|_| WavRecorder::create(&path, rate, 1, file_mode))
                    .and_then(|mut w| w.flush_header().map(|_| w));
                // On disk now (or not at all): the name no longer needs holding.
                claimed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&path);
                let (writer, error) = match result {
                    Ok(w) => (Some(w), None),
                    Err(e) => {
                        log::error!(target: "huddle::recording", "{}: {e}", path.display());
                        failed.store(true, Ordering::Release);
                        (None, Some(e.to_string()))
                    }
                };
                files.insert(
                    id,
                    Open {
                        writer,
                        tracks: Vec::new(),
                        unflushed: 0,
                        path,
                        marker: marker_path,
                        rate,
                        file_mode,
                        dirty: false,
                        error,
                        gaps: 0,
                        failed,
                    },
                );
            }
            Some(Job::Samples { id, buf }) => {
                audio_in_flight.fetch_sub(1, Ordering::AcqRel);
                if let Some(f) = files.get_mut(&id) {
                    write(f, &buf);
                }
                let _ = recycle.try_send(buf);
            }
            Some(Job::Gap { id, samples }) => {
                if let Some(f) = files.get_mut(&id) {
                    log::warn!(target: "huddle::recording", "{}: the disk fell behind, {} ms filled with silence",
                        f.path.display(), samples * 1000 / u64::from(f.rate.max(1)));
                    f.gaps += samples;
                    let zeros = vec![0i16; 960];
                    let mut left = samples;
                    while left > 0 && f.error.is_none() {
                        let n = left.min(960) as usize;
                        write(f, &zeros[..n]);
                        left -= n as u64;
                    }
                }
            }
            Some(Job::Track { id, member, buf }) => {
                audio_in_flight.fetch_sub(1, Ordering::AcqRel);
                if let Some(f) = files.get_mut(&id) {
                    write_track(f, member, &buf);
                }
                let _ = recycle.try_send(buf);
            }
            Some(Job::Close { id, finish }) => {
                if let Some(f) = files.remove(&id) {
                    close(f, *finish);
                }
            }
            Some(Job::Barrier(done)) => {
                let _ = done.send(());
            }
            Some(Job::Stall(d)) => std::thread::sleep(d),
            Some(Job::Stop) => break,
            None => {}
        }
        if last_flush.elapsed() >= Duration::from_millis(500) {
            for f in files.values_mut().filter(|f| f.dirty) {
                flush(f);
            }
            last_flush = Instant::now();
        }
    }
    // Shutdown with files still open (rooms ended without a close): finish them
    // as valid files and drop their markers.
    for (_, mut f) in files.drain() {
        if let Some(w) = f.writer.take() {
            let _ = w.finalize();
        }
        for t in f.tracks.drain(..) {
            let _ = t.writer.finalize();
        }
        let _ = std::fs::remove_file(&f.marker);
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

fn write(f: &mut Open, samples: &[i16]) {
    if f.error.is_some() {
        return;
    }
    if let Some(w) = f.writer.as_mut() {
        match w.write(samples) {
            Ok(()) => {
                f.dirty = true;
                f.unflushed += samples.len() as u64;
                // Also by audio time, so a host driving a manual clock faster
                // than real time still never has more than a second unaccounted.
                if f.unflushed >= u64::from(f.rate) {
                    flush(f);
                }
            }
            Err(e) => {
                let path = f.path.clone();
                fail(f, &path, &format!("write failed: {e}"));
            }
        }
    }
}

/// Appends to a member's track, creating it (padded with silence to where
/// the mix is) the first time that member is heard from.
fn write_track(f: &mut Open, member: u32, samples: &[i16]) {
    if f.error.is_some() {
        return;
    }
    let mix_at = f.writer.as_ref().map_or(0, |w| w.samples_written());
    let pos = match f.tracks.iter().position(|t| t.member == member) {
        Some(p) => p,
        None => {
            if f.tracks.len() >= 1000 {
                return;
            }
            let path = track_path(&f.path, member);
            let created = WavRecorder::create(&path, f.rate, 1, f.file_mode).and_then(|w| {
                // Listed in the marker so a crash repairs the tracks too.
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut m = std::fs::OpenOptions::new()
                    .append(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&f.marker)?;
                writeln!(m, "track={}", path.display())?;
                Ok(w)
            });
            match created {
                Ok(w) => f.tracks.push(Track {
                    member,
                    writer: w,
                    path,
                }),
                Err(e) => {
                    fail(f, &path, &e.to_string());
                    return;
                }
            }
            f.tracks.len() - 1
        }
    };
    let t = &mut f.tracks[pos];
    // Keep the track in line with the mix: pad what it missed (a late join, a full queue).
    let behind = mix_at
        .saturating_sub(samples.len() as u64)
        .saturating_sub(t.writer.samples_written());
    let zeros = [0i16; 960];
    let mut left = behind;
    while left > 0 {
        let n = left.min(960) as usize;
        if t.writer.write(&zeros[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    if let Err(e) = t.writer.write(samples) {
        let path = t.path.clone();
        fail(f, &path, &format!("write failed: {e}"));
    }
}

/// The file (or one of its tracks) cannot be written: the recording ends
/// with `recording-failed` at the next tick.
fn fail(f: &mut Open, path: &Path, why: &str) {
    log::error!(target: "huddle::recording", "{}: {why}", path.display());
    f.error = Some(why.to_string());
    f.failed.store(true, Ordering::Release);
}

/// `<recording>-member<N>.wav` beside the recording.
fn track_path(mix: &Path, member: u32) -> PathBuf {
    let stem = mix
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    mix.with_file_name(format!("{stem}-member{member}.wav"))
}

fn flush(f: &mut Open) {
    f.unflushed = 0;
    for t in f.tracks.iter_mut() {
        let _ = t.writer.flush_header();
    }
    if let Some(w) = f.writer.as_mut() {
        if let Err(e) = w.flush_header() {
            if f.error.is_none() {
                let path = f.path.clone();
                fail(f, &path, &e.to_string());
            }
        }
    }
    f.dirty = false;
}

fn close(mut f: Open, finish: Finish) {
    let samples = f.writer.as_ref().map_or(0, |w| w.samples_written());
    let mut track_urls = Vec::new();
    for t in f.tracks.drain(..) {
        let path = t.path.clone();
        match t.writer.finalize() {
            Ok(_) => track_urls.push(format!("file://{}", path.display())),
            Err(e) => log::error!(target: "huddle::recording", "{}: {e}", path.display()),
        }
    }
    let finalized = match f.writer.take() {
        Some(w) if f.error.is_none() => w.finalize().map_err(|e| e.to_string()),
        Some(w) => {
            let _ = w.finalize();
            Err(f.error.clone().unwrap_or_default())
        }
        None => Err(f
            .error
            .clone()
            .unwrap_or_else(|| "the file could not be created".to_string())),
    };
    let _ = std::fs::remove_file(&f.marker);
    let mut kept = samples;
    if finalized.is_ok() {
        match post_process(&f.path, f.rate, finish.trim, f.file_mode) {
            Ok(k) => kept = k,
            Err(e) => {
                log::warn!(target: "huddle::recording", "{}: trim skipped: {e}", f.path.display())
            }
        }
    }
    let audible = finish.heard_speech;
    let (name, status, extra) = match &finalized {
        Ok(_) if !audible => ("recording-absent", "absent", vec![]),
        Ok(_) => ("recording-completed", "completed", vec![]),
        Err(e) => (
            "recording-failed",
            "failed",
            vec![("ErrorMessage", e.clone())],
        ),
    };
    let size = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
    let mut fields = rec_fields(
        &finish.info,
        status,
        Some(vec![
            ("RecordingFileSize", size.to_string()),
            (
                "RecordingDuration",
                (kept / u64::from(f.rate.max(1))).to_string(),
            ),
            (
                "RecordingDurationMs",
                (kept * 1000 / u64::from(f.rate.max(1))).to_string(),
            ),
            ("RecordingPausedMs", finish.paused_ms.to_string()),
            (
                "RecordingGapMs",
                (f.gaps * 1000 / u64::from(f.rate.max(1))).to_string(),
            ),
            ("RecordingTracks", track_urls.len().to_string()),
            ("RecordingTrackUrls", track_urls.join(",")),
        ]),
    );
    fields.extend(extra);
    let mut state = finish.cell.lock();
    let now = state.room.now_ms();
    if finalized.is_err() {
        state.room.recording_ended();
    }
    emit(&mut state, &finish.info, name, fields, now);
    while let Some(out) = state.room.poll_output() {
        if let crate::room::Output::Event(e) = out {
            finish.outbox.push(HostCall::Event(e));
        }
    }
    drop(state);
    finish.closing.fetch_sub(1, Ordering::AcqRel);
}

/// Trims leading/trailing silence when asked; returns the samples kept.
fn post_process(path: &Path, rate: u32, trim: bool, mode: u32) -> Result<u64, String> {
    let mut reader = hound::WavReader::open(path).map_err(|e| e.to_string())?;
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let range = trim_silence(&samples, SILENCE_DBOV, rate);
    if !trim || range.is_empty() || (range.start == 0 && range.end == samples.len()) {
        return Ok(samples.len() as u64);
    }
    let tmp = path.with_extension("trim.tmp");
    // Ours, left by a trim that was interrupted.
    let _ = std::fs::remove_file(&tmp);
    let mut w = WavRecorder::create(&tmp, rate, 1, mode).map_err(|e| e.to_string())?;
    w.write(&samples[range.clone()])
        .map_err(|e| e.to_string())?;
    w.finalize().map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())?;
    Ok(range.len() as u64)
}

#[cfg(test)]
mod tests {
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
