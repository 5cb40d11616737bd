//! A room's recording from the room's side: the file name from the
//! template, start, stop, pause and resume as the room decides them, and the
//! recording events.

use super::*;

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
pub fn apply<C: RecordedRoom>(
    cell: &Arc<C>,
    room: &mut Room,
    recording: &mut Option<Recording>,
    profile: &Profile,
    out: &Outlets,
    cmd: RecordingCommand,
    now_ms: u64,
) {
    match cmd {
        RecordingCommand::Start { path, source } => {
            if recording.is_some() {
                return;
            }
            match open(&**cell, room, profile, out, path, &source, now_ms) {
                Ok(rec) => {
                    let fields = rec_fields(&rec.info, "in-progress", None);
                    emit(room, &rec.info, "recording-in-progress", fields, now_ms);
                    *recording = Some(rec);
                }
                Err(why) => {
                    log::error!(target: "huddle::recording", "room {}: recording not started: {why}", cell.display_name());
                    room.recording_ended();
                    let first = room.first_setter();
                    // A recording that never started still reports to the
                    // recording callback, like one that failed later.
                    let info = EventInfo {
                        sid: String::new(),
                        url: String::new(),
                        source,
                        start_time: String::new(),
                        callback: recording_callback(first),
                        events: first.recording_status_callback_event.clone(),
                    };
                    let mut fields = rec_fields(&info, "failed", None);
                    fields.push(("ErrorMessage", why));
                    emit(room, &info, "recording-failed", fields, now_ms);
                }
            }
        }
        RecordingCommand::Pause => {
            if let Some(r) = recording.as_mut() {
                r.paused_at = Some(Instant::now());
                r.paused_room_ms = Some(now_ms);
            }
        }
        RecordingCommand::Resume => {
            if let Some(r) = recording.as_mut() {
                if let Some(at) = r.paused_room_ms.take() {
                    r.paused_ms_total += now_ms.saturating_sub(at);
                }
                r.paused_at = None;
            }
        }
        RecordingCommand::Stop { reason } => {
            if let Some(rec) = recording.take() {
                finish(cell, room, out, rec, &reason, now_ms);
            }
        }
    }
}

pub(super) fn open(
    cell: &dyn RecordedRoom,
    room: &Room,
    profile: &Profile,
    out: &Outlets,
    path: Option<String>,
    source: &str,
    now_ms: u64,
) -> Result<Recording, String> {
    let config = out.config();
    let dir = &config.module.recordings_dir;
    let dir_mode = config.module.recording_dir_mode;
    make_dirs(dir, dir_mode)?;
    let wall = room.settings.wall_epoch_ms + now_ms;
    let from_template = path.is_none();
    let relative = match path {
        Some(p) => p,
        None => expand_template(
            &profile.record_template,
            cell.account(),
            cell.name(),
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
    let mut full = crate::runtime::paths::confined(dir, &relative)?;
    if let Some(parent) = full.parent() {
        make_dirs(parent, dir_mode)?;
        // The directory now exists: check again that no link led it elsewhere.
        crate::runtime::paths::confined(dir, &relative)?;
    }
    let claimed = &out.recorder.claimed;
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
        full = crate::runtime::paths::confined(dir, &free)?;
        relative = free;
    }
    let id = out.recorder.next_id.fetch_add(1, Ordering::Relaxed);
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
        callback: recording_callback(first),
        events: first.recording_status_callback_event.clone(),
    };
    let marker = format!(
        "conference_sid={}\naccount={}\nroom={}\nrecording_sid={}\nurl={}\n",
        room.sid,
        cell.account(),
        cell.name(),
        info.sid,
        info.url
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
    out.recorder
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
    out.recorder.open.fetch_add(1, Ordering::AcqRel);
    Ok(Recording {
        failed,
        id,
        tx: out.recorder.tx.clone(),
        free: out.recorder.free_rx.clone(),
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
pub fn finish<C: RecordedRoom>(
    cell: &Arc<C>,
    room: &mut Room,
    out: &Outlets,
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
    let trim = room.first_setter().trim_silence == Some(true);
    out.recorder.open.fetch_sub(1, Ordering::AcqRel);
    log::info!(target: "huddle::recording", "room {}: recording {} stops ({reason})", cell.display_name(), rec.path.display());
    out.recorder.closing.fetch_add(1, Ordering::AcqRel);
    let sent = rec.tx.send(Job::Close {
        id: rec.id,
        finish: Box::new(Finish {
            cell: Arc::clone(cell) as Arc<dyn RecordedRoom>,
            outbox: out.outbox.clone(),
            trim,
            info: rec.info.clone(),
            paused_ms: rec.paused_ms_total,
            closing: out.recorder.closing.clone(),
            heard_speech: rec.heard_speech,
        }),
    });
    if sent.is_err() {
        out.recorder.closing.fetch_sub(1, Ordering::AcqRel);
    }
}
