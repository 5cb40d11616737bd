//! The writer thread: WAV files (and one per member for multitrack), their
//! in-progress markers, periodic header rewrites, trimming and the final
//! rename; nothing here runs on the mixer.

use super::*;

/// One member's file beside the mix (multitrack).
pub(super) struct Track {
    member: u32,
    writer: WavRecorder,
    path: PathBuf,
}

pub(super) struct Open {
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

pub(super) fn run(
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

pub(super) fn write(f: &mut Open, samples: &[i16]) {
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
pub(super) fn write_track(f: &mut Open, member: u32, samples: &[i16]) {
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
pub(super) fn fail(f: &mut Open, path: &Path, why: &str) {
    log::error!(target: "huddle::recording", "{}: {why}", path.display());
    f.error = Some(why.to_string());
    f.failed.store(true, Ordering::Release);
}

/// `<recording>-member<N>.wav` beside the recording.
pub(super) fn track_path(mix: &Path, member: u32) -> PathBuf {
    let stem = mix
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    mix.with_file_name(format!("{stem}-member{member}.wav"))
}

pub(super) fn flush(f: &mut Open) {
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

pub(super) fn close(mut f: Open, finish: Finish) {
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
        match trim_file(&f.path, f.rate, SILENCE_DBOV, finish.trim, f.file_mode) {
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
    finish.cell.with_room(&mut |room| {
        let now = room.now_ms();
        if finalized.is_err() {
            room.recording_ended();
        }
        emit(room, &finish.info, name, std::mem::take(&mut fields), now);
        while let Some(out) = room.poll_output() {
            if let crate::room::Output::Event(e) = out {
                finish.outbox.push(HostCall::RoomEvent(e));
            }
        }
    });
    finish.closing.fetch_sub(1, Ordering::AcqRel);
}
