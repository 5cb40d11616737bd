//! Recordings: when they start, what they hold, and that they survive.
mod common;
use common::*;

use std::path::{Path, PathBuf};

const RATE: u32 = 16000;
const N: usize = 320; // 20 ms at 16 kHz

fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wav") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_wav(path: &Path) -> (u32, u16, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let s: Vec<i16> = r.samples::<i16>().map(|x| x.unwrap()).collect();
    (spec.sample_rate, spec.channels, s)
}

/// Python's `wave` module, as an independent reader: (rate, channels, frames).
fn python_wave(path: &Path) -> Option<(u32, u16, u64)> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,wave; w=wave.open(sys.argv[1]); d=w.readframes(w.getnframes()); \
             assert len(d)==w.getnframes()*w.getsampwidth()*w.getnchannels(); \
             print(w.getframerate(), w.getnchannels(), w.getnframes())",
            path.to_str().unwrap(),
        ])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "python wave failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    let v: Vec<u64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
    Some((v[0] as u32, v[1] as u16, v[2]))
}

fn write_tone_wav(path: &Path, freq: f64, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut ph = 0.0;
    for s in sine(freq, RATE, (secs * RATE as f64) as usize, 6000.0, &mut ph) {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn room_conf(extra: &str) -> String {
    format!(
        "{MODULE_MANUAL}\n[profiles.default]\nrate = {RATE}\ninterval_ms = 20\n[profiles.default.sounds]\nmoh = \"hold.wav\"\n\
         [[rooms]]\nname = \"rec\"\nrecording_enabled = true\nannounce_join_leave = false\nmusic_on_hold = \"hold.wav\"\n{extra}\n"
    )
}

#[test]
fn record_from_start_skips_wait_music_and_matches_the_mix() {
    let dir = scratch_dir("rfs");
    write_tone_wav(&dir.join("sounds/hold.wav"), 250.0, 2.0);
    let h = Harness::in_dir(dir.clone(), &room_conf("wait_for_host = true"));
    let a = h
        .join("a", "{record=record-from-start,beep=false}rec")
        .unwrap();
    h.join("l", "{beep=false}rec").unwrap();
    let mut pa = 0.0;
    for _ in 0..50 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut pa), RATE);
        h.advance(20);
    }
    assert!(
        !h.event_names().contains(&"conference-start".to_string()),
        "waits for the host"
    );
    let waiting = h.heard("l").pcm;
    assert!(
        db(
            goertzel(&waiting, 250.0, RATE),
            goertzel(&waiting, 500.0, RATE)
        ) > 30.0,
        "waiting members hear music, not each other"
    );
    let host = h
        .join(
            "host",
            "{moderator=true,endConferenceOnExit=true,beep=false}rec",
        )
        .unwrap();
    let names = h.event_names();
    let start = names
        .iter()
        .position(|e| e == "conference-start")
        .expect("starts on host join");
    let rec = names
        .iter()
        .position(|e| e == "recording-in-progress")
        .expect("recording starts");
    assert!(rec > start);
    let mut ph = 0.0;
    for _ in 0..100 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut pa), RATE);
        h.send_l16(&host, &sine(800.0, RATE, N, 4000.0, &mut ph), RATE);
        h.advance(20);
    }
    h.hangup(&host);
    let done = h.events_named("recording-completed");
    assert_eq!(done.len(), 1, "{:?}", h.event_names());
    let files = wav_files(&dir.join("recordings"));
    assert_eq!(files.len(), 1);
    let (rate, channels, samples) = read_wav(&files[0]);
    assert_eq!((rate, channels), (RATE, 1));
    // 100 ticks ran after the start, then the host left: 100 frames, exactly.
    assert_eq!(samples.len(), 100 * N);
    // The listener heard 50 frames of music, then the mix: the recording is that mix.
    let heard = h.heard("l").pcm;
    assert_eq!(
        &heard[50 * N..150 * N],
        &samples[..],
        "sample-accurate against what a listener heard"
    );
    assert!(
        db(
            goertzel(&samples, 500.0, RATE),
            goertzel(&samples, 250.0, RATE)
        ) > 40.0,
        "no hold music in the recording"
    );
    if let Some((r, c, frames)) = python_wave(&files[0]) {
        assert_eq!((r, c, frames), (RATE, 1, 100 * N as u64));
    }
    let e = &done[0];
    assert_eq!(e.get("RecordingDuration"), Some("2"));
    assert_eq!(
        e.get("RecordingFileSize"),
        Some((44 + 100 * N * 2).to_string().as_str())
    );
    assert!(e.get("RecordingUrl").unwrap().starts_with("file://"));
}

#[test]
fn auto_record_starts_at_first_join() {
    let dir = scratch_dir("auto");
    let h = Harness::in_dir(dir.clone(), &room_conf("auto_record = true"));
    h.join("a", "{beep=false}rec").unwrap();
    assert_eq!(
        h.event_names(),
        ["participant-join", "recording-in-progress"]
    );
    h.advance(1000);
    h.api("end rec");
    let files = wav_files(&dir.join("recordings"));
    let (_, _, samples) = read_wav(&files[0]);
    assert_eq!(samples.len(), 50 * N, "one second from the first join");
    assert_eq!(
        h.events_named("recording-absent").len(),
        1,
        "nothing was said: absent"
    );
}

#[test]
fn api_start_pause_resume_stop_give_the_expected_length() {
    let dir = scratch_dir("api");
    let h = Harness::in_dir(dir.clone(), &room_conf(""));
    let a = h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    let mut ph = 0.0;
    let mut talk = |h: &Harness, ms: u64| {
        for _ in 0..ms / 20 {
            h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
            h.advance(20);
        }
    };
    assert!(h.api("record rec start").starts_with("+OK"));
    talk(&h, 1000);
    assert!(h.api("record rec pause").starts_with("+OK"));
    talk(&h, 1000);
    assert!(h.api("record rec resume").starts_with("+OK"));
    talk(&h, 1000);
    assert!(h.api("record rec stop").starts_with("+OK"));
    assert!(
        h.api("record rec stop").starts_with("-ERR"),
        "nothing left to stop"
    );
    let files = wav_files(&dir.join("recordings"));
    let (_, _, samples) = read_wav(&files[0]);
    let expected = 100 * N;
    assert!(
        (samples.len() as i64 - expected as i64).abs() <= N as i64,
        "{} samples, want {expected} ±1 frame",
        samples.len()
    );
    let done = &h.events_named("recording-completed")[0];
    assert_eq!(done.get("RecordingPausedMs"), Some("1000"));
    // The record beep opens the file; the rest is the talker's tone.
    assert!(rms(&samples[20 * N..]) > 2000.0);
}

#[test]
fn trim_silence_removes_leading_and_trailing_silence() {
    let dir = scratch_dir("trim");
    let h = Harness::in_dir(
        dir.clone(),
        &format!("{}\n", room_conf(""))
            .replace("[profiles.default.sounds]\nmoh = \"hold.wav\"\n", ""),
    );
    let a = h.join("a", "{beep=false,trim=trim-silence}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    h.api("record rec start");
    h.advance(2000); // record beep, then silence
    let mut ph = 0.0;
    for _ in 0..50 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
        h.advance(20);
    }
    h.advance(2000);
    h.api("record rec stop");
    let files = wav_files(&dir.join("recordings"));
    let (_, _, samples) = read_wav(&files[0]);
    // Kept: the record beep at the start (about 0.3 s), the gap after it, and
    // the one-second tone; the trailing two seconds of silence are gone.
    let secs = samples.len() as f64 / RATE as f64;
    assert!(secs > 2.9 && secs < 3.1, "trimmed to {secs:.2} s");
    assert!(
        rms(&samples[samples.len() - 1600..]) > 2000.0,
        "ends on the tone, not on silence"
    );
}

#[test]
fn paths_that_escape_the_recordings_dir_are_refused() {
    let dir = scratch_dir("esc");
    let h = Harness::in_dir(dir.clone(), &room_conf(""));
    h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    h.api("record rec start ../escape.wav");
    h.api("record rec start /tmp/escape.wav");
    let failed = h.events_named("recording-failed");
    assert_eq!(failed.len(), 2, "{:?}", h.event_names());
    assert!(failed[0].get("ErrorMessage").unwrap().contains(".."));
    assert!(!dir.join("escape.wav").exists());
    assert!(h.api("record rec start ok/inside.wav").starts_with("+OK"));
    h.api("record rec stop");
    assert!(dir.join("recordings/ok/inside.wav").exists());
}

/// The child half of `a_killed_host_leaves_a_readable_file_that_the_next_load_repairs`.
#[test]
#[ignore = "run as a child process by the SIGKILL test"]
fn child_records_until_killed() {
    use std::io::Write;
    let Ok(dir) = std::env::var("HUDDLE_CHILD_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let h = Harness::in_dir(dir, &room_conf("auto_record = true"));
    let a = h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    let mut ph = 0.0;
    for second in 1..=120u64 {
        for _ in 0..50 {
            h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
            h.advance(20);
        }
        println!("elapsed_ms={}", second * 1000);
        std::io::stdout().flush().unwrap();
    }
    std::mem::forget(h);
}

#[test]
fn a_killed_host_leaves_a_readable_file_that_the_next_load_repairs() {
    use std::io::BufRead;
    let dir = scratch_dir("kill");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_records_until_killed",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HUDDLE_CHILD_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut elapsed = 0u64;
    for line in std::io::BufReader::new(stdout).lines().take(200) {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("elapsed_ms=") {
            elapsed = v.parse().unwrap();
            if elapsed >= 5000 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(elapsed >= 5000, "the child recorded");
    let files = wav_files(&dir.join("recordings"));
    assert_eq!(files.len(), 1);
    // Readable as it was left, before any repair.
    let (rate, _, samples) = read_wav(&files[0]);
    assert_eq!(rate, RATE);
    let held_ms = samples.len() as u64 * 1000 / RATE as u64;
    assert!(
        held_ms + 1000 >= elapsed,
        "holds {held_ms} ms of {elapsed} ms"
    );
    let marker = PathBuf::from(format!("{}.inprogress", files[0].display()));
    assert!(marker.exists(), "left in the unfinished state");
    // The next load repairs it and says so.
    let h = Harness::in_dir(dir.clone(), &room_conf(""));
    let recovered = h.events_named("recording-completed");
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].get("Recovered"), Some("true"));
    assert!(!marker.exists());
    let (_, _, repaired) = read_wav(&files[0]);
    assert!(repaired.len() >= samples.len());
    if let Some((_, _, frames)) = python_wave(&files[0]) {
        assert_eq!(frames, repaired.len() as u64);
    }
}

/// Unmounts the tiny filesystem even when an assertion fails.
struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_recording_and_the_room_goes_on() {
    let dir = scratch_dir("full");
    let recs = dir.join("recordings");
    let mounted = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=48k",
            "tmpfs",
            recs.to_str().unwrap(),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        mounted || unsafe_not_root(),
        "could not mount a tmpfs as root"
    );
    if !mounted {
        eprintln!("not root: a full disk cannot be made here; skipping");
        return;
    }
    let _mount = Mount(recs.clone());
    let h = Harness::in_dir(dir.clone(), &room_conf(""));
    let a = h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    h.api("record rec start");
    let mut ph = 0.0;
    // 48 KiB hold 1.5 s of 16 kHz audio; talk for 4 s.
    for _ in 0..200 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
        h.advance(20);
    }
    h.api("record rec stop");
    let failed = h.events_named("recording-failed");
    assert_eq!(failed.len(), 1, "{:?}", h.event_names());
    let why = failed[0].get("ErrorMessage").unwrap();
    assert!(
        why.contains("No space left") || why.contains("space"),
        "{why}"
    );
    h.clear_heard();
    for _ in 0..25 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
        h.advance(20);
    }
    assert!(rms(&h.heard("b").pcm) > 2000.0, "the room keeps mixing");
}

fn unsafe_not_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout != b"0\n")
        .unwrap_or(true)
}

#[test]
fn multitrack_writes_one_aligned_track_per_member() {
    let dir = scratch_dir("multi");
    let h = Harness::in_dir(
        dir.clone(),
        &format!("{MODULE_MANUAL}\n[profiles.default]\nrate = {RATE}\nmultitrack = true\nrecord_beep = false\n[[rooms]]\nname = \"rec\"\nannounce_join_leave = false\n"),
    );
    let a = h.join("a", "{beep=false}rec").unwrap();
    let b = h.join("b", "{beep=false}rec").unwrap();
    h.api("record rec start");
    let (mut pa, mut pb) = (0.0, 0.0);
    for k in 0..150 {
        if k < 100 {
            h.send_l16(&a, &sine(500.0, RATE, N, 3000.0, &mut pa), RATE);
        }
        if k >= 50 {
            h.send_l16(&b, &sine(800.0, RATE, N, 3000.0, &mut pb), RATE);
        }
        if k == 75 {
            // A late joiner who says nothing: a track of silence, aligned.
            h.join("c", "{beep=false}rec").unwrap();
        }
        h.advance(20);
    }
    h.api("record rec stop");
    let done = &h.events_named("recording-completed")[0];
    assert_eq!(done.get("RecordingTracks"), Some("3"));
    let files = wav_files(&dir.join("recordings"));
    assert_eq!(files.len(), 4, "{files:?}");
    let mix_path = files
        .iter()
        .find(|p| !p.to_string_lossy().contains("-member"))
        .unwrap();
    let (_, _, mix) = read_wav(mix_path);
    let track = |n: u32| {
        let p = files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(&format!("-member{n}.wav")))
            .unwrap();
        read_wav(p).2
    };
    let (t1, t2, t3) = (track(1), track(2), track(3));
    assert_eq!(mix.len(), 150 * N);
    // c's track starts where c joined and is padded to the start of the mix.
    for t in [&t1, &t2, &t3] {
        assert_eq!(t.len(), mix.len(), "every track spans the whole recording");
    }
    assert!(t3.iter().all(|s| *s == 0));
    let worst = (0..mix.len())
        .map(|i| (mix[i] as i32 - t1[i] as i32 - t2[i] as i32).abs())
        .max()
        .unwrap();
    assert!(
        worst <= 1,
        "the mix is the sum of the tracks, sample for sample (worst {worst})"
    );
    assert!(
        db(goertzel(&t1, 500.0, RATE), goertzel(&t1, 800.0, RATE)) > 60.0,
        "a's track holds only a"
    );
}
