//! The C reference host (ffi/refhost) as a test harness. A test writes a
//! config and a scenario (conf/scenarios/README.md) into a fresh directory;
//! refhost `dlopen`s the libhuddle.so of this build and plays the scenario
//! through the C ABI on the manual timer; the test reads back what came out:
//! the event log (huddle's events and the host's notes, such as
//! `host-api-reply`), what each leg heard (its WAV, on the scenario clock),
//! the hangup causes huddle gave, and module.log.
//!
//! Nothing here knows huddle's internals: expected values are the test's
//! own (the tones it sends, the files it writes), measured on the audio the
//! host received.
#![allow(dead_code)]

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use serde_json::Value;

#[path = "../fixtures/mod.rs"]
mod fixtures;
pub use fixtures::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A refhost run that has not finished by then is killed: a scenario is a
/// few simulated minutes at most, which the manual timer runs in seconds.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// target/<profile>/, found from this test binary (target/<profile>/deps/<test>-*).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Runs `cmd` to completion and asserts it succeeded.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The cdylib of this build, copied once per test binary so that a cargo
/// run rebuilding the library meanwhile (a shared target dir) cannot pull
/// it from under a running host. The rustc run that built the rlib this
/// test links also wrote `<profile>/deps/libhuddle.so` (the crate type
/// includes `cdylib`), which is always this build's; the copy in
/// `<profile>/` is only refreshed by `cargo build` and may be older. Built
/// on demand when neither is there.
pub fn libhuddle() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = profile_dir();
        let candidates = [dir.join("deps/libhuddle.so"), dir.join("libhuddle.so")];
        if !candidates.iter().any(|p| p.is_file()) {
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args(["build", "--lib"]).current_dir(ROOT);
            if dir.file_name().and_then(|n| n.to_str()) == Some("release") {
                cmd.arg("--release");
            }
            run(&mut cmd);
        }
        let found = candidates
            .iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("no libhuddle.so at {candidates:?}"));
        let copy = dir.join(format!("{}.libhuddle.so", host_name()));
        let tmp = copy.with_extension(format!("so.{}", std::process::id()));
        std::fs::copy(found, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", found.display()));
        std::fs::rename(&tmp, &copy).unwrap();
        copy
    })
    .clone()
}

/// `refhost-test-<test binary>`: each test binary builds its own host.
fn host_name() -> String {
    let exe = std::env::current_exe().unwrap();
    let stem = exe.file_stem().unwrap().to_string_lossy().into_owned();
    let test = stem.split('-').next().unwrap_or("test").to_string();
    format!("refhost-test-{test}")
}

/// Builds the reference host exactly as scripts/demo.sh does (warnings are
/// errors, so a warning in the example code fails the test), once per test
/// binary, into a file of its own (test binaries may run at the same time).
pub fn refhost() -> PathBuf {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        let out = profile_dir().join(host_name());
        run(Command::new("cc")
            .args([
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-O2",
                "-Iinclude",
                "-Iffi",
                "ffi/refhost/refhost.c",
                "ffi/refhost/scenario.c",
                "ffi/refhost/audio.c",
                "-o",
            ])
            .arg(&out)
            .args(["-ldl", "-lopus", "-lm", "-lpthread"])
            .current_dir(ROOT));
        out
    })
    .clone()
}

/// The call id refhost gives the leg declared `index`-th (0-based) in a
/// scenario: "CA" + index+1 as 16 hex digits + the leg's name (refhost.c).
pub fn call_id(index: usize, name: &str) -> String {
    format!("CA{:016x}{name}", index + 1)
}

/// The `[module]` block the C ABI tests load: the manual timer, one mixer
/// thread, debug logs, sounds and recordings beside the scenario.
pub const MODULE: &str = r#"
[module]
timer = "manual"
mixer_threads = 1
log_level = "debug"
sounds_dir = "sounds"
recordings_dir = "recordings"
"#;

/// Every prompt a profile's `sounds` table names.
pub const PROMPTS: [&str; 18] = [
    "moh",
    "enter",
    "exit",
    "pin",
    "bad_pin",
    "locked",
    "muted",
    "unmuted",
    "deaf",
    "undeaf",
    "alone",
    "kicked",
    "wait_for_host",
    "room_full",
    "ended",
    "denied",
    "recording_started",
    "recording_stopped",
];

/// A `[profiles.default.sounds]` table in which each (prompt, file) of
/// `files` plays that file and every other prompt is off (""), so that a
/// leg hears only the test's own tones.
pub fn sounds(files: &[(&str, &str)]) -> String {
    let mut out = String::from("[profiles.default.sounds]\n");
    for prompt in PROMPTS {
        let file = files.iter().find(|(p, _)| *p == prompt).map_or("", |f| f.1);
        out.push_str(&format!("{prompt} = \"{file}\"\n"));
    }
    out
}

/// The PIN prompt the C ABI tests give the profile (Hz).
pub const PIN_PROMPT: f64 = 2900.0;

/// Level of refhost's `tone` action (its default), in dBFS.
pub const TONE_DBFS: f64 = -20.0;
/// Peak amplitude of the sound files the tests write.
pub const SOUND_AMPLITUDE: f64 = 6000.0;
/// Not heard: 40 dB below a talker.
pub const SILENT: f64 = 30.0;

/// Peak amplitude of a -20 dBFS sine: what a listener hears of one talker
/// at unity gain.
pub fn talker() -> f64 {
    from_dbov(TONE_DBFS)
}

/// Heard: at least a third of the talker's amplitude (about -10 dB).
pub fn audible() -> f64 {
    talker() / 3.0
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A scratch directory holding one scenario, its config (`huddle.conf`) and
/// its sounds (`sounds/`), and, after the run, refhost's outputs (`out/`).
pub struct Scene {
    pub dir: PathBuf,
}

impl Scene {
    pub fn new(tag: &str) -> Scene {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("refhost")
            .join(format!("{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sounds")).unwrap();
        Scene { dir }
    }

    /// Writes `sounds/<name>`: a 16 kHz WAV of `secs` of a sine at `hz`
    /// with peak `amplitude` (written with hound, not huddle).
    pub fn tone_wav(&self, name: &str, hz: f64, secs: f64, amplitude: f64) -> &Self {
        write_tone_wav(
            &self.dir.join("sounds").join(name),
            16000,
            hz,
            secs,
            amplitude,
        );
        self
    }

    /// Writes a file beside the scenario (a second config for `at T config`).
    pub fn file(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.dir.join(name), text).unwrap();
        self
    }

    /// Writes `huddle.conf` and `scene.scn` (`config huddle.conf` + `scenario`)
    /// and runs refhost on them with `--json`; waits at most RUN_LIMIT.
    pub fn run(&self, config: &str, scenario: &str) -> Run {
        self.run_with(config, scenario, &["--json"], RUN_LIMIT)
    }

    /// `run` with refhost's options `args` (`--json`, `--realtime`, ...)
    /// instead of `--json`, killed after `limit`.
    pub fn run_with(&self, config: &str, scenario: &str, args: &[&str], limit: Duration) -> Run {
        let child = self
            .command(config, scenario, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start refhost: {e}"));
        let output = wait_bounded(child, limit);
        self.read(output)
    }

    /// Writes the scene's files (as `run` does) and a fresh `out/`, and
    /// returns refhost's command line for them, with the options `args`,
    /// not yet started: for a test that talks to the host while it runs
    /// (`--interactive`). Read the outputs with `read`.
    pub fn command(&self, config: &str, scenario: &str, args: &[&str]) -> Command {
        std::fs::write(self.dir.join("huddle.conf"), config).unwrap();
        let scn = self.dir.join("scene.scn");
        std::fs::write(&scn, format!("config huddle.conf\n{scenario}")).unwrap();
        let out_dir = self.dir.join("out");
        let _ = std::fs::remove_dir_all(&out_dir);
        std::fs::create_dir_all(&out_dir).unwrap();
        let mut cmd = Command::new(refhost());
        cmd.args(args)
            .arg("--lib")
            .arg(libhuddle())
            .arg("--out")
            .arg(&out_dir)
            .arg(&scn)
            .current_dir(&self.dir);
        cmd
    }

    /// What the run that `output` came from left in `out/`.
    pub fn read(&self, output: Output) -> Run {
        Run::read(self.dir.join("out"), output)
    }
}

/// Waits for `child` at most `limit`, then kills it (that process, by its
/// pid) and fails the test.
pub fn wait_bounded(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("refhost (pid {pid}) did not finish within {limit:?}; killed");
        }
    }
}

/// What one refhost run left behind.
pub struct Run {
    pub out: PathBuf,
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Every line of events.jsonl, in the order the host saw them.
    pub lines: Vec<Value>,
    pub module_log: String,
    /// Each leg's heard WAV, read (with hound) when first asked for.
    heard: HashMap<String, OnceCell<(Vec<i16>, u32)>>,
}

impl Run {
    fn read(out: PathBuf, output: Output) -> Run {
        let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap_or_default();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect::<Vec<Value>>();
        let heard = lines
            .iter()
            .filter(|l| l["event"] == "host-leg")
            .map(|l| (l["leg"].as_str().unwrap().to_string(), OnceCell::new()))
            .collect();
        Run {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            module_log: std::fs::read_to_string(out.join("module.log")).unwrap_or_default(),
            lines,
            heard,
            out,
        }
    }

    /// The run ended with status 0: no failed C call, no ERROR log line.
    pub fn assert_clean(&self) -> &Self {
        assert_eq!(
            self.status,
            Some(0),
            "refhost failed\n--- stderr\n{}\n--- module.log\n{}",
            self.stderr,
            self.module_log
        );
        self
    }

    /// huddle's events, in delivery order.
    pub fn events(&self) -> Vec<&Value> {
        self.lines
            .iter()
            .filter(|l| l["source"] == "huddle")
            .collect()
    }

    /// huddle's event names, in delivery order.
    pub fn names(&self) -> Vec<&str> {
        self.events()
            .into_iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect()
    }

    /// huddle's events of one name.
    pub fn named(&self, name: &str) -> Vec<&Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// huddle's events of one name about one leg (by its CallSid).
    pub fn of(&self, name: &str, leg: &str) -> Vec<&Value> {
        self.named(name)
            .into_iter()
            .filter(|e| e["leg"] == leg)
            .collect()
    }

    /// The host's notes of one name.
    pub fn notes(&self, name: &str) -> Vec<&Value> {
        self.lines
            .iter()
            .filter(|l| l["source"] == "host" && l["event"] == name)
            .collect()
    }

    /// The reply to each `at T api <cmd>` with exactly this command, in order.
    pub fn replies(&self, cmd: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut waiting = false;
        for l in &self.lines {
            if l["event"] == "host-api" {
                waiting = l["Command"] == cmd;
            } else if l["event"] == "host-api-reply" && waiting {
                out.push(l["Reply"].as_str().unwrap().to_string());
                waiting = false;
            }
        }
        out
    }

    /// The one reply to `cmd`.
    pub fn reply(&self, cmd: &str) -> String {
        let r = self.replies(cmd);
        assert_eq!(r.len(), 1, "replies to '{cmd}': {r:?}");
        r.into_iter().next().unwrap()
    }

    /// The one reply to `cmd`, parsed as JSON.
    pub fn json(&self, cmd: &str) -> Value {
        let r = self.reply(cmd);
        serde_json::from_str(&r).unwrap_or_else(|e| panic!("{cmd}: {e}: {r}"))
    }

    /// The lines (huddle's events and host notes) before the reply to `cmd`.
    pub fn before_reply(&self, cmd: &str) -> Vec<&Value> {
        let mut waiting = false;
        for (i, l) in self.lines.iter().enumerate() {
            if l["event"] == "host-api" {
                waiting = l["Command"] == cmd;
            } else if l["event"] == "host-api-reply" && waiting {
                return self.lines[..i].iter().collect();
            }
        }
        panic!("no reply to '{cmd}'");
    }

    /// The causes huddle hung this leg up with (host->hangup), in order.
    pub fn hangups(&self, leg: &str) -> Vec<u32> {
        self.notes("host-hangup-by-module")
            .into_iter()
            .filter(|n| n["leg"] == leg)
            .map(|n| n["Cause"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// The legs huddle hung up, sorted.
    pub fn hung_up_legs(&self) -> Vec<String> {
        let mut legs: Vec<String> = self
            .notes("host-hangup-by-module")
            .into_iter()
            .map(|n| n["leg"].as_str().unwrap_or("?").to_string())
            .collect();
        legs.sort();
        legs
    }

    /// Everything a leg heard, from scenario time 0, and its rate.
    pub fn heard(&self, leg: &str) -> (&[i16], u32) {
        let (pcm, rate) = self
            .heard
            .get(leg)
            .unwrap_or_else(|| panic!("no leg {leg} in the scenario"))
            .get_or_init(|| read_wav(&self.out.join(format!("{leg}.wav"))));
        (pcm, *rate)
    }

    /// What a leg heard between two scenario times (seconds).
    pub fn window(&self, leg: &str, from: f64, to: f64) -> &[i16] {
        let (pcm, rate) = self.heard(leg);
        let at = |t: f64| ((t * rate as f64) as usize).min(pcm.len());
        &pcm[at(from)..at(to)]
    }

    /// Peak amplitude of a sine of `hz` in what `leg` heard in [from, to).
    pub fn tone(&self, leg: &str, hz: f64, from: f64, to: f64) -> f64 {
        let (_, rate) = self.heard(leg);
        tone_amplitude(self.window(leg, from, to), hz, rate)
    }

    /// Whether `leg` heard a talker's tone of `hz` in [from, to).
    pub fn hears(&self, leg: &str, hz: f64, from: f64, to: f64) -> bool {
        self.tone(leg, hz, from, to) > audible()
    }

    /// Whether `leg` heard nothing of `hz` in [from, to).
    pub fn silent(&self, leg: &str, hz: f64, from: f64, to: f64) -> bool {
        self.tone(leg, hz, from, to) < SILENT
    }

    /// RMS of what `leg` heard in [from, to).
    pub fn rms(&self, leg: &str, from: f64, to: f64) -> f64 {
        rms(self.window(leg, from, to))
    }

    /// module.log's lines at ERROR: each one makes refhost exit with 1.
    pub fn error_lines(&self) -> Vec<&str> {
        self.module_log
            .lines()
            .filter(|l| l.contains(" ERROR "))
            .collect()
    }

    /// The recording refhost copied to out/recording.wav, and its rate.
    pub fn recording(&self) -> (Vec<i16>, u32) {
        read_wav(&self.out.join("recording.wav"))
    }
}

impl Drop for Run {
    /// A passing test leaves nothing behind (a long scenario's WAVs run to
    /// hundreds of MB); a failing one keeps its directory to look at.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            if let Some(scene) = self.out.parent() {
                let _ = std::fs::remove_dir_all(scene);
            }
        }
    }
}

/// A string field of an event or note ("" when absent).
pub fn field<'a>(ev: &'a Value, key: &str) -> &'a str {
    ev[key].as_str().unwrap_or("")
}

/// The scenario time of an event or note, in seconds.
pub fn time(ev: &Value) -> f64 {
    ev["t"].as_f64().unwrap()
}
