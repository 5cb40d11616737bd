//! Recordings: when they start, what they hold, and that they survive.
mod common;
mod wav_check;
use common::*;
use wav_check::check_wav;

use std::path::{Path, PathBuf};

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

/// Exactly `n` frames.
fn exactly(n: usize) -> std::ops::RangeInclusive<u64> {
    n as u64..=n as u64
}

/// `n` frames, give or take one 20 ms frame.
fn about(n: usize) -> std::ops::RangeInclusive<u64> {
    n.saturating_sub(N) as u64..=(n + N) as u64
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
    write_tone_wav(&dir.join("sounds/hold.wav"), RATE, 250.0, 2.0, 6000.0);
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
    // 100 ticks ran after the start, then the host left: 100 frames, exactly.
    let samples = check_wav(&files[0], RATE, exactly(100 * N));
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
    let e = &done[0];
    assert_eq!(e.get("RecordingDuration"), Some("2"));
    assert_eq!(
        e.get("RecordingFileSize"),
        Some((44 + 100 * N * 2).to_string().as_str())
    );
    assert_eq!(
        e.get("RecordingFileSize").unwrap(),
        std::fs::metadata(&files[0]).unwrap().len().to_string()
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
    // One second from the first join.
    check_wav(&files[0], RATE, exactly(50 * N));
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
    // 3 s recorded, 1 s of them paused: 2 s, ±1 frame.
    let samples = check_wav(&files[0], RATE, about(100 * N));
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
    let samples = check_wav(&files[0], RATE, 0..=u64::MAX);
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
    h.advance(200);
    h.api("record rec stop");
    check_wav(&dir.join("recordings/ok/inside.wav"), RATE, exactly(10 * N));
}

/// Starts the ignored test `test` of this binary as a child process that
/// records into `dir` (HUDDLE_CHILD_DIR), its stdout piped to read its
/// progress from.
fn spawn_child(test: &str, dir: &Path) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HUDDLE_CHILD_DIR", dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
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
    let mut child = spawn_child("child_records_until_killed", &dir);
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
    let samples = check_wav(&files[0], RATE, 0..=u64::MAX);
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
    let repaired = check_wav(&files[0], RATE, samples.len() as u64..);
    assert_eq!(
        &repaired[..samples.len()],
        &samples[..],
        "repair keeps the audio"
    );
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
    let mix = check_wav(mix_path, RATE, exactly(150 * N));
    let track = |n: u32| {
        let p = files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(&format!("-member{n}.wav")))
            .unwrap();
        check_wav(p, RATE, exactly(150 * N))
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

/// A room "rec" with no hold music and no record beep, so the mix is exactly
/// what the members send and an expected file can be computed from that.
fn plain_conf(module_extra: &str, profile_extra: &str) -> String {
    format!(
        "{MODULE_MANUAL}{module_extra}\n[profiles.default]\nrate = {RATE}\ninterval_ms = 20\n\
         record_beep = false\n{profile_extra}\n[[rooms]]\nname = \"rec\"\nannounce_join_leave = false\n"
    )
}

fn only_file(dir: &Path) -> PathBuf {
    let files = wav_files(&dir.join("recordings"));
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn count(h: &Harness, name: &str) -> usize {
    h.events_named(name).len()
}

#[test]
fn record_from_start_with_two_plain_members_starts_at_conference_start() {
    let dir = scratch_dir("rfs2");
    let h = Harness::in_dir(dir.clone(), &plain_conf("", ""));
    let a = h
        .join("a", "{record=record-from-start,beep=false}rec")
        .unwrap();
    let (mut pa, mut pb) = (0.0, 0.0);
    // Alone: no conference yet, so nothing is recorded of this.
    for _ in 0..25 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut pa), RATE);
        h.advance(20);
    }
    assert_eq!(count(&h, "recording-in-progress"), 0);
    let b = h.join("b", "{beep=false}rec").unwrap();
    let names = h.event_names();
    let start = names
        .iter()
        .position(|e| e == "conference-start")
        .expect("two members start it");
    assert_eq!(
        names[start + 1..],
        ["recording-in-progress"],
        "recording starts with the conference"
    );
    h.clear_heard();
    let mut expected = Vec::new();
    for _ in 0..60 {
        let fa = sine(500.0, RATE, N, 4000.0, &mut pa);
        let fb = sine(800.0, RATE, N, 4000.0, &mut pb);
        expected.extend(fa.iter().zip(&fb).map(|(x, y)| x + y));
        h.send_l16(&a, &fa, RATE);
        h.send_l16(&b, &fb, RATE);
        h.advance(20);
    }
    h.api("end rec");
    let rec = check_wav(&only_file(&dir), RATE, exactly(60 * N));
    // The mix of two: what each member sent, summed, from the first tick
    // after the conference started, and what each heard of the other.
    assert!(rec == expected, "the file is the sum of the frames sent");
    let (ha, hb) = (h.heard("a").pcm, h.heard("b").pcm);
    let heard: Vec<i16> = ha.iter().zip(&hb).map(|(x, y)| x + y).collect();
    assert!(heard == rec, "the file is the mix the members heard");
    assert_eq!(
        h.events_named("recording-completed")[0].get("RecordingSource"),
        Some("record-from-start")
    );
}

#[test]
fn trim_silence_cuts_to_the_first_and_last_sound() {
    let dir = scratch_dir("trim2");
    let h = Harness::in_dir(dir.clone(), &plain_conf("", ""));
    let a = h.join("a", "{beep=false,trim=trim-silence}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    assert!(h.api("record rec start").starts_with("+OK"));
    h.clear_heard();
    h.advance(1000); // silence, no beep
    let mut ph = 0.3;
    for _ in 0..50 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
        h.advance(20);
    }
    h.advance(1000); // silence
    h.api("record rec stop");
    let file = only_file(&dir);
    let kept = check_wav(
        &file,
        RATE,
        50 * N as u64 - N as u64..=50 * N as u64 + 2 * N as u64,
    );
    // What b heard is the untrimmed mix (b is silent, a alone talks).
    let heard = h.heard("b").pcm;
    assert_eq!(heard.len(), 150 * N);
    let first = heard.iter().position(|s| *s != 0).unwrap();
    let last = heard.iter().rposition(|s| *s != 0).unwrap() + 1;
    // The tone spans ticks 50..100; when it stops, the member's last frame
    // is faded out over one more.
    assert!(
        first.abs_diff(50 * N) <= 1 && (100 * N..=101 * N).contains(&last),
        "the sound spans {first}..{last}"
    );
    let at = (first.saturating_sub(N)..=first)
        .find(|&o| heard.get(o..o + kept.len()) == Some(&kept[..]))
        .expect("the file is a stretch of the mix starting within a frame before the sound");
    let end = at + kept.len();
    assert!(
        end.abs_diff(last) <= N,
        "ends at {end}, the last sound at {last}"
    );
    let done = &h.events_named("recording-completed")[0];
    assert_eq!(
        done.get("RecordingDurationMs").unwrap(),
        (kept.len() as u64 * 1000 / RATE as u64).to_string()
    );
    assert_eq!(
        done.get("RecordingFileSize").unwrap(),
        std::fs::metadata(&file).unwrap().len().to_string()
    );
}

#[test]
fn recording_event_fields_describe_the_file() {
    let dir = scratch_dir("fields");
    let h = Harness::in_dir(dir.clone(), &plain_conf("", ""));
    let a = h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    assert!(h.api("record rec start").starts_with("+OK"));
    let started = h.events_named("recording-in-progress")[0].clone();
    let mut ph = 0.0;
    for _ in 0..75 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
        h.advance(20);
    }
    h.api("record rec stop");
    let file = only_file(&dir);
    let samples = check_wav(&file, RATE, exactly(75 * N));
    let done = h.events_named("recording-completed")[0].clone();
    let sid = started.get("RecordingSid").unwrap();
    assert!(sid.starts_with("RE") && sid.len() > 2, "{sid}");
    assert_eq!(done.get("RecordingSid"), Some(sid), "one sid per recording");
    let url = format!("file://{}", file.display());
    for (e, status) in [(&started, "in-progress"), (&done, "completed")] {
        assert_eq!(e.get("RecordingStatus"), Some(status));
        assert_eq!(e.get("RecordingChannels"), Some("1"));
        assert_eq!(e.get("RecordingSource"), Some("api"));
        assert_eq!(e.get("RecordingUrl"), Some(url.as_str()));
        assert_eq!(e.get("RecordingStatusCallback"), None, "nobody set one");
    }
    let size = std::fs::metadata(&file).unwrap().len();
    assert_eq!(size, 44 + 2 * samples.len() as u64);
    assert_eq!(
        done.get("RecordingFileSize"),
        Some(size.to_string().as_str())
    );
    // 1.5 s: whole seconds in RecordingDuration, milliseconds beside it.
    assert_eq!(done.get("RecordingDuration"), Some("1"));
    assert_eq!(done.get("RecordingDurationMs"), Some("1500"));
    // A second recording has a sid of its own.
    h.api("record rec start second.wav");
    h.advance(200);
    h.api("record rec stop");
    let second = &h.events_named("recording-in-progress")[1];
    let sid2 = second.get("RecordingSid").unwrap();
    assert!(sid2.starts_with("RE") && sid2 != sid, "{sid2} after {sid}");
    let ended = h.events().pop().unwrap();
    assert!(ended.name.starts_with("recording-"), "{}", ended.name);
    assert_eq!(ended.get("RecordingSid"), Some(sid2));
}

#[test]
fn recording_url_is_the_public_base_and_the_relative_path() {
    let dir = scratch_dir("pubUrl");
    let h = Harness::in_dir(
        dir.clone(),
        &plain_conf(
            "public_recording_url = \"https://media.example.com/rec/\"\n",
            "",
        ),
    );
    h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    // From the template, then from an API path.
    h.api("record rec start");
    h.advance(100);
    h.api("record rec stop");
    h.api("record rec start calls/x.wav");
    h.advance(100);
    h.api("record rec stop");
    let files = wav_files(&dir.join("recordings"));
    assert_eq!(files.len(), 2, "{files:?}");
    let recs = dir.join("recordings");
    let urls: Vec<String> = h
        .events_named("recording-absent")
        .iter()
        .map(|e| e.get("RecordingUrl").unwrap().to_string())
        .collect();
    let mut want: Vec<String> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&recs).unwrap();
            format!("https://media.example.com/rec/{}", rel.display())
        })
        .collect();
    let mut got = urls.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(urls[1], "https://media.example.com/rec/calls/x.wav");
    for f in &files {
        check_wav(f, RATE, exactly(5 * N));
    }
}

#[test]
fn recording_status_callback_event_filters_what_reaches_the_host() {
    let dir = scratch_dir("filter");
    let h = Harness::in_dir(dir.clone(), &plain_conf("", ""));
    let a = h
        .join(
            "a",
            "{beep=false,recordingStatusCallback=https://cb.example/r,recordingStatusCallbackEvent=completed}rec",
        )
        .unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    let mut ph = 0.0;
    let mut talk = |h: &Harness, ticks: usize| {
        for _ in 0..ticks {
            h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
            h.advance(20);
        }
    };
    // Speech: completed reaches the host, in-progress does not.
    assert!(h.api("record rec start").starts_with("+OK"));
    talk(&h, 25);
    h.api("record rec stop");
    assert_eq!(count(&h, "recording-in-progress"), 0);
    assert_eq!(count(&h, "recording-completed"), 1);
    // Nobody heard: absent, filtered out. A path outside: failed, filtered out.
    h.advance(100); // the fade of a's last frame
    h.api("record rec start quiet.wav");
    h.advance(500);
    h.api("record rec stop");
    h.api("record rec start ../out.wav");
    assert!(h.logged("recording not started"), "the failure is logged");
    assert_eq!(
        h.event_names()
            .iter()
            .filter(|n| n.starts_with("recording-"))
            .count(),
        1,
        "{:?}",
        h.event_names()
    );
    // Both recordings were made all the same.
    let files = wav_files(&dir.join("recordings"));
    assert_eq!(files.len(), 2);
    for f in &files {
        check_wav(f, RATE, exactly(25 * N));
    }

    // Another room subscribes to in-progress and absent only.
    let x = h
        .join(
            "x",
            "{beep=false,recordingStatusCallbackEvent='in-progress absent'}rec2",
        )
        .unwrap();
    h.join("y", "{beep=false}rec2").unwrap();
    let before = h.events().len();
    h.api("record rec2 start");
    h.advance(200);
    h.api("record rec2 stop");
    h.api("record rec2 start loud.wav");
    for _ in 0..10 {
        h.send_l16(&x, &sine(500.0, RATE, N, 4000.0, &mut 0.0), RATE);
        h.advance(20);
    }
    h.api("record rec2 stop");
    let names: Vec<String> = h.event_names()[before..]
        .iter()
        .filter(|n| n.starts_with("recording-"))
        .cloned()
        .collect();
    assert_eq!(
        names,
        [
            "recording-in-progress",
            "recording-absent",
            "recording-in-progress"
        ],
        "the second recording's completed is filtered out"
    );
}

#[test]
fn recording_callback_comes_from_the_first_participant_that_set_it() {
    let dir = scratch_dir("firstcb");
    let h = Harness::in_dir(dir.clone(), &plain_conf("", ""));
    let a = h
        .join(
            "a",
            "{beep=false,recordingStatusCallback=https://a.example/rec,recordingStatusCallbackMethod=GET,\
             recordingStatusCallbackEvent='in-progress completed'}rec",
        )
        .unwrap();
    h.join(
        "b",
        "{beep=false,recordingStatusCallback=https://b.example/rec,recordingStatusCallbackMethod=POST,\
         recordingStatusCallbackEvent=failed}rec",
    )
    .unwrap();
    h.api("record rec start");
    let mut ph = 0.0;
    for _ in 0..10 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
        h.advance(20);
    }
    h.api("record rec stop");
    let rec: Vec<_> = h
        .events()
        .into_iter()
        .filter(|e| e.name.starts_with("recording-"))
        .collect();
    let names: Vec<&str> = rec.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["recording-in-progress", "recording-completed"],
        "a's filter, not b's"
    );
    for e in &rec {
        assert_eq!(
            e.get("RecordingStatusCallback"),
            Some("https://a.example/rec")
        );
        assert_eq!(e.get("RecordingStatusCallbackMethod"), Some("GET"));
    }

    // The first to set it need not be the first to join.
    h.join("x", "{beep=false}rec2").unwrap();
    let y = h
        .join(
            "y",
            "{beep=false,recordingStatusCallback=https://y.example/rec}rec2",
        )
        .unwrap();
    h.join(
        "z",
        "{beep=false,recordingStatusCallback=https://z.example/rec,recordingStatusCallbackMethod=GET}rec2",
    )
    .unwrap();
    let before = h.events().len();
    h.api("record rec2 start");
    h.send_l16(&y, &sine(500.0, RATE, N, 4000.0, &mut 0.0), RATE);
    h.advance(20);
    h.api("record rec2 stop");
    let rec: Vec<_> = h.events()[before..]
        .iter()
        .filter(|e| e.name.starts_with("recording-"))
        .cloned()
        .collect();
    assert_eq!(rec.len(), 2);
    for e in &rec {
        assert_eq!(
            e.get("RecordingStatusCallback"),
            Some("https://y.example/rec")
        );
        assert_eq!(
            e.get("RecordingStatusCallbackMethod"),
            Some("POST"),
            "the default"
        );
    }
}

#[test]
fn moderator_dtmf_records_pauses_resumes_and_stops() {
    let dir = scratch_dir("dtmf");
    let h = Harness::in_dir(dir.clone(), &plain_conf("", ""));
    let m = h.join("m", "{beep=false,moderator=true}rec").unwrap();
    let a = h.join("a", "{beep=false}rec").unwrap();
    let mut ph = 0.0;
    let mut talk = |h: &Harness, ticks: usize| {
        for _ in 0..ticks {
            h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
            h.advance(20);
        }
    };
    let state = |h: &Harness| {
        let l = h.api("list rec");
        l.split_whitespace()
            .find_map(|w| w.strip_prefix("recording="))
            .unwrap_or_else(|| panic!("{l}"))
            .to_string()
    };
    h.dtmf(&a, "*96");
    assert_eq!(state(&h), "off", "not a moderator: refused");
    assert!(h.logged("record-toggle (refused"), "{:?}", h.logs());
    assert_eq!(count(&h, "recording-in-progress"), 0);
    h.dtmf(&m, "*96");
    assert_eq!(state(&h), "on");
    let started = &h.events_named("recording-in-progress")[0];
    assert_eq!(started.get("RecordingSource"), Some("dtmf"));
    talk(&h, 50);
    h.dtmf(&m, "*97");
    assert_eq!(state(&h), "paused");
    talk(&h, 25);
    h.dtmf(&a, "*97");
    h.dtmf(&a, "*96");
    assert_eq!(state(&h), "paused", "a cannot resume or stop it");
    assert!(h.logged("record-pause (refused"));
    talk(&h, 25);
    h.dtmf(&m, "*97");
    assert_eq!(state(&h), "on");
    talk(&h, 50);
    h.dtmf(&m, "*96");
    assert_eq!(state(&h), "off");
    let done = h.events_named("recording-completed");
    assert_eq!(done.len(), 1, "{:?}", h.event_names());
    assert_eq!(done[0].get("RecordingPausedMs"), Some("1000"));
    assert_eq!(done[0].get("RecordingSource"), Some("dtmf"));
    // 3 s pressed through, 1 s of it paused.
    let samples = check_wav(&only_file(&dir), RATE, about(100 * N));
    assert!(rms(&samples) > 2000.0, "the talker throughout");
}

/// Loads a config and returns the error it is refused with.
fn load_error(dir: &Path, text: &str) -> String {
    let path = dir.join("huddle.conf");
    std::fs::write(&path, text).unwrap();
    huddle::runtime::logging::install();
    match huddle::runtime::Module::load(std::sync::Arc::new(FakeHost::default()), &path) {
        Ok(m) => {
            m.shutdown();
            panic!("loaded: {text}")
        }
        Err(e) => e,
    }
}

#[test]
fn record_templates_that_leave_the_recordings_dir_are_refused_at_load() {
    let dir = scratch_dir("tplconf");
    let conf = dir.join("huddle.conf");
    for (template, why) in [
        ("../${room}.wav", "'..'"),
        ("${account}/../../etc/${room}.wav", "'..'"),
        ("/tmp/${room}.wav", "absolute"),
    ] {
        // MODULE_MANUAL is 6 lines after its leading newline; the
        // template is on line 9.
        let text =
            format!("{MODULE_MANUAL}\n[profiles.default]\nrecord_template = \"{template}\"\n");
        assert_eq!(
            text.lines().nth(8).unwrap(),
            format!("record_template = \"{template}\"")
        );
        let e = load_error(&dir, &text);
        let head = format!(
            "{}:9: key 'profiles.default.record_template': ",
            conf.display()
        );
        assert!(e.starts_with(&head) && e.contains(why), "{template}: {e}");
    }
    // Two dots inside a name lead nowhere: accepted.
    let h = Harness::in_dir(
        dir.clone(),
        &plain_conf("", "record_template = \"${room}..take.wav\""),
    );
    h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    assert!(h.api("record rec start").starts_with("+OK"));
    h.advance(100);
    h.api("record rec stop");
    check_wav(&dir.join("recordings/rec..take.wav"), RATE, exactly(5 * N));
}

#[test]
fn a_template_through_a_link_out_is_refused_when_recording_starts() {
    let dir = scratch_dir("tpllink");
    let outside = dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("recordings/out")).unwrap();
    let h = Harness::in_dir(
        dir.clone(),
        &plain_conf("", "record_template = \"out/${room}.wav\""),
    );
    h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    h.api("record rec start");
    h.advance(100);
    let failed = h.events_named("recording-failed");
    assert_eq!(failed.len(), 1, "{:?}", h.event_names());
    assert!(
        failed[0]
            .get("ErrorMessage")
            .unwrap()
            .contains("symbolic link"),
        "{:?}",
        failed[0]
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // The API path through the same link is refused the same way.
    h.api("record rec start out/x.wav");
    assert_eq!(count(&h, "recording-failed"), 2);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn a_template_name_already_taken_gets_a_numbered_sibling() {
    let dir = scratch_dir("taken");
    let h = Harness::in_dir(
        dir.clone(),
        &plain_conf("", "record_template = \"${room}.wav\""),
    );
    let m = h.join("m", "{beep=false,moderator=true}rec").unwrap();
    let a = h.join("a", "{beep=false}rec").unwrap();
    let mut ph = 0.0;
    // Three takes by *96, each stopped and restarted at once.
    for take in 1..=3 {
        h.dtmf(&m, "*96");
        for _ in 0..5 * take {
            h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
            h.advance(20);
        }
        h.dtmf(&m, "*96");
    }
    assert_eq!(count(&h, "recording-completed"), 3, "{:?}", h.event_names());
    let recs = dir.join("recordings");
    for (name, take) in [("rec.wav", 1), ("rec-2.wav", 2), ("rec-3.wav", 3)] {
        check_wav(&recs.join(name), RATE, exactly(5 * take * N));
    }
    // An operator's path that is taken is refused, not renamed or overwritten.
    h.api("record rec start rec.wav");
    let failed = h.events_named("recording-failed");
    assert_eq!(failed.len(), 1);
    assert!(failed[0]
        .get("ErrorMessage")
        .unwrap()
        .contains("already exists"));
    check_wav(&recs.join("rec.wav"), RATE, exactly(5 * N));
    // Stop and start again before the writer has created the first file
    // (it is held up, as by a slow disk): the name is still taken.
    h.module
        .stall_recordings_disk(std::time::Duration::from_millis(200));
    h.module.api("record rec start");
    h.module.api("record rec stop");
    h.module.api("record rec start");
    h.module.api("record rec stop");
    h.flush();
    assert_eq!(count(&h, "recording-failed"), 1, "{:?}", h.event_names());
    assert_eq!(count(&h, "recording-absent"), 2);
    for name in ["rec-4.wav", "rec-5.wav"] {
        check_wav(&recs.join(name), RATE, exactly(0));
    }
}

/// The child half of `a_killed_realtime_host_leaves_a_file_missing_at_most_a_second`:
/// records on the realtime timer, a member talking in real time, until killed.
#[test]
#[ignore = "run as a child process by the realtime SIGKILL test"]
fn child_records_in_real_time_until_killed() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let Ok(dir) = std::env::var("HUDDLE_CHILD_DIR") else {
        return;
    };
    let conf = plain_conf("", "").replace("timer = \"manual\"", "timer = \"realtime\"");
    assert!(conf.contains("timer = \"realtime\""));
    let h = Harness::in_dir(PathBuf::from(dir), &conf);
    let a = h.join("a", "{beep=false}rec").unwrap();
    h.join("b", "{beep=false}rec").unwrap();
    assert!(h.api("record rec start").starts_with("+OK"));
    println!("recording");
    std::io::stdout().flush().unwrap();
    // Frames at absolute 20 ms deadlines; bounded in case nobody kills us.
    let t0 = Instant::now();
    let mut ph = 0.0;
    for k in 1..=3000u32 {
        h.send_l16(&a, &sine(500.0, RATE, N, 4000.0, &mut ph), RATE);
        if let Some(wait) =
            (t0 + Duration::from_millis(20) * k).checked_duration_since(Instant::now())
        {
            std::thread::sleep(wait);
        }
    }
    std::mem::forget(h);
}

/// Realtime timer, where the writer is never waited for: the file a SIGKILL
/// leaves holds all but at most the last second of what was recorded.
#[test]
fn a_killed_realtime_host_leaves_a_file_missing_at_most_a_second() {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let dir = scratch_dir("killrt");
    let mut child = spawn_child("child_records_in_real_time_until_killed", &dir);
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.ends_with("recording") => break Instant::now(),
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("the child never started recording: {e}");
            }
        }
    };
    // The one wall-clock wait in these tests: the realtime writer at work.
    std::thread::sleep(Duration::from_millis(3000));
    child.kill().unwrap(); // SIGKILL
    let elapsed = started.elapsed();
    child.wait().unwrap();
    let file = only_file(&dir);
    let marker = PathBuf::from(format!("{}.inprogress", file.display()));
    assert!(marker.exists(), "left in the unfinished state");
    let at_least = (elapsed.as_millis() as u64).saturating_sub(1000) * RATE as u64 / 1000;
    let left = check_wav(&file, RATE, at_least..);
    println!(
        "killed after {elapsed:?} of recording: the file held {} ms",
        left.len() as u64 * 1000 / RATE as u64
    );
    assert!(
        rms(&left[left.len() / 2..]) > 2000.0,
        "the talker, not silence"
    );
    // The next load repairs it and reports it.
    let h = Harness::in_dir(dir.clone(), &plain_conf("", ""));
    let recovered = h.events_named("recording-completed");
    assert_eq!(recovered.len(), 1, "{:?}", h.event_names());
    let e = &recovered[0];
    assert_eq!(e.get("Recovered"), Some("true"));
    assert!(!marker.exists());
    let repaired = check_wav(&file, RATE, left.len() as u64..);
    assert_eq!(&repaired[..left.len()], &left[..], "repair keeps the audio");
    assert_eq!(
        e.get("RecordingFileSize").unwrap(),
        std::fs::metadata(&file).unwrap().len().to_string()
    );
    assert_eq!(
        e.get("RecordingDuration").unwrap(),
        (repaired.len() as u64 / RATE as u64).to_string()
    );
    assert_eq!(
        e.get("RecordingUrl").unwrap(),
        format!("file://{}", file.display())
    );
    println!(
        "repaired: {} ms on disk after the kill",
        repaired.len() as u64 * 1000 / RATE as u64
    );
}
