//! Test support: a fake host that records everything huddle gives it, and a
//! harness that drives a module on the manual clock. Signals and expected
//! values are computed independently of the code under test (tests/signal).
#![allow(dead_code)]

#[path = "../fixtures/mod.rs"]
mod fixtures;
pub use fixtures::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use huddle::room::io::{Channel, Codec, Event, OutFrame};
use huddle::runtime::Host;
use huddle::runtime::Status;
use huddle::runtime::{CallerInfo, InFrame, MemberPort, Module};

/// Audio a channel received: decoded L16 samples at the rate they came in,
/// plus the raw Opus packets and G.711 octets.
#[derive(Default, Debug, Clone)]
pub struct Heard {
    pub pcm: Vec<i16>,
    pub rate: u32,
    pub opus: Vec<Vec<u8>>,
    pub g711: Vec<u8>,
    /// The codec of the last frame.
    pub codec: Option<Codec>,
    pub frames: usize,
}

#[derive(Default)]
pub struct FakeHost {
    pub events: Mutex<Vec<Event>>,
    pub heard: Mutex<HashMap<String, Heard>>,
    pub hangups: Mutex<Vec<(String, u32)>>,
    pub logs: Mutex<Vec<(log::Level, String, String)>>,
    pub originates: Mutex<Vec<(String, String, String)>>,
    /// A channel whose every `send_audio` takes this long (a slow host).
    pub slow_send: Mutex<Option<(String, std::time::Duration)>>,
}

impl Host for FakeHost {
    fn log(&self, level: log::Level, target: &str, message: &str) {
        self.logs
            .lock()
            .unwrap()
            .push((level, target.to_string(), message.to_string()));
    }

    fn send_audio(&self, channel: &Channel, frame: &OutFrame<'_>) {
        let slow = self.slow_send.lock().unwrap().clone();
        if let Some((slow, delay)) = slow {
            if slow == channel.as_str() {
                std::thread::sleep(delay);
            }
        }
        let mut heard = self.heard.lock().unwrap();
        let h = heard.entry(channel.as_str().to_string()).or_default();
        h.frames += 1;
        h.rate = frame.rate;
        h.codec = Some(frame.codec);
        match frame.codec {
            Codec::L16 => h.pcm.extend(
                frame
                    .data
                    .chunks_exact(2)
                    .map(|b| i16::from_ne_bytes([b[0], b[1]])),
            ),
            Codec::Opus => h.opus.push(frame.data.to_vec()),
            Codec::Pcmu | Codec::Pcma => h.g711.extend_from_slice(frame.data),
        }
    }

    fn hangup(&self, channel: &Channel, cause: u32) -> bool {
        self.hangups
            .lock()
            .unwrap()
            .push((channel.as_str().to_string(), cause));
        true
    }

    fn event(&self, event: &Event) {
        self.events.lock().unwrap().push(event.clone());
    }

    fn originate(&self, destination: &str, room: &str, account: &str) -> Result<(), String> {
        self.originates.lock().unwrap().push((
            destination.to_string(),
            room.to_string(),
            account.to_string(),
        ));
        Ok(())
    }
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A scratch directory under target/, unique per test.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sounds")).unwrap();
    std::fs::create_dir_all(dir.join("recordings")).unwrap();
    dir
}

/// The `[module]` block every test config starts with: manual timer, local dirs.
pub const MODULE_MANUAL: &str = r#"
[module]
timer = "manual"
log_level = "debug"
sounds_dir = "sounds"
recordings_dir = "recordings"
"#;

pub struct Harness {
    pub module: Arc<Module>,
    pub host: Arc<FakeHost>,
    pub dir: PathBuf,
}

impl Harness {
    /// Loads a module whose config is MODULE_MANUAL followed by `rest`.
    pub fn new(rest: &str) -> Harness {
        Self::with_config(&format!("{MODULE_MANUAL}\n{rest}"))
    }

    pub fn with_config(text: &str) -> Harness {
        let dir = scratch_dir("huddle");
        Self::in_dir(dir, text)
    }

    pub fn in_dir(dir: PathBuf, text: &str) -> Harness {
        let path = dir.join("huddle.conf");
        std::fs::write(&path, text).unwrap();
        huddle::runtime::logging::install();
        let host = Arc::new(FakeHost::default());
        let module = Module::load(host.clone(), &path)
            .unwrap_or_else(|e| panic!("config did not load: {e}"));
        let h = Harness { module, host, dir };
        h.flush();
        h
    }

    pub fn flush(&self) {
        self.module.flush_host_calls();
    }

    pub fn caller(channel: &str) -> CallerInfo {
        CallerInfo {
            channel: channel.to_string(),
            account: String::new(),
            call_id: format!("CA-{channel}"),
            from: format!("+1555{channel}"),
            to: "+15550000".to_string(),
            caller_name: channel.to_string(),
        }
    }

    pub fn join(&self, channel: &str, app: &str) -> Result<Arc<MemberPort>, Status> {
        self.join_as(Self::caller(channel), app)
    }

    pub fn join_as(&self, caller: CallerInfo, app: &str) -> Result<Arc<MemberPort>, Status> {
        let _s = self.module.log_scope();
        let r = self.module.app(caller, app);
        self.flush();
        r
    }

    pub fn dtmf(&self, port: &MemberPort, digits: &str) {
        let _s = self.module.log_scope();
        for d in digits.chars() {
            self.module.member_dtmf(port, d);
        }
        self.flush();
    }

    pub fn hangup(&self, port: &MemberPort) {
        let _s = self.module.log_scope();
        self.module.member_hangup(port);
        self.flush();
    }

    pub fn api(&self, cmd: &str) -> String {
        let _s = self.module.log_scope();
        let r = self.module.api(cmd);
        self.flush();
        r
    }

    pub fn advance(&self, ms: u64) {
        let _s = self.module.log_scope();
        self.module.advance(ms).unwrap();
        self.flush();
    }

    /// One L16 frame from a member.
    pub fn send_l16(&self, port: &MemberPort, samples: &[i16], rate: u32) -> Status {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_ne_bytes()).collect();
        self.module.member_audio(
            port,
            InFrame {
                codec: Codec::L16,
                rate,
                samples: samples.len() as u32,
                data,
                audio_level: None,
                sequence: None,
            },
        )
    }

    /// One G.711 frame (8 kHz, a sample an octet) from a member.
    pub fn send_g711(&self, port: &MemberPort, codec: Codec, octets: &[u8]) -> Status {
        self.module.member_audio(
            port,
            InFrame {
                codec,
                rate: 8000,
                samples: octets.len() as u32,
                data: octets.to_vec(),
                audio_level: None,
                sequence: None,
            },
        )
    }

    pub fn send_opus(&self, port: &MemberPort, packet: &[u8], rate: u32) -> Status {
        self.module.member_audio(
            port,
            InFrame {
                codec: Codec::Opus,
                rate,
                samples: 0,
                data: packet.to_vec(),
                audio_level: None,
                sequence: None,
            },
        )
    }

    pub fn events(&self) -> Vec<Event> {
        self.host.events.lock().unwrap().clone()
    }

    pub fn event_names(&self) -> Vec<String> {
        self.events().iter().map(|e| e.name.clone()).collect()
    }

    pub fn events_named(&self, name: &str) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.name == name)
            .collect()
    }

    pub fn heard(&self, channel: &str) -> Heard {
        self.host
            .heard
            .lock()
            .unwrap()
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }

    pub fn clear_heard(&self) {
        self.host.heard.lock().unwrap().clear();
    }

    pub fn hangups(&self) -> Vec<(String, u32)> {
        self.host.hangups.lock().unwrap().clone()
    }

    /// The hangups, sorted by channel (then cause).
    pub fn hangups_sorted(&self) -> Vec<(String, u32)> {
        let mut hung = self.hangups();
        hung.sort();
        hung
    }

    pub fn logs(&self) -> Vec<String> {
        self.host
            .logs
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t, m)| format!("{t}: {m}"))
            .collect()
    }

    pub fn shutdown(&self) {
        let _s = self.module.log_scope();
        self.module.shutdown();
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.module.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Frame size at a rate for an interval.
pub fn frame(rate: u32, interval_ms: u32) -> usize {
    (rate * interval_ms / 1000) as usize
}

// ---- Helpers for the room and API tests (rooms.rs, api.rs, config_rooms.rs).

/// The default profile's rate and interval, which most tests run at.
pub const RATE: u32 = 16000;
pub const TICK_MS: u64 = 20;

/// A field of an event, if present.
pub fn field<'a>(e: &'a Event, key: &str) -> Option<&'a str> {
    e.fields
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

/// The amplitude `Harness::talk` sends each voice at.
pub const TALK_AMPLITUDE: f64 = 8000.0;
/// A voice sent by `talk` is heard at least at this amplitude (the
/// limiter's reach allowed for).
pub const AUDIBLE: f64 = 2000.0;
/// Leakage of other tones stays far below this.
pub const SILENT: f64 = 40.0;

impl Harness {
    /// Every voice sends its tone (amplitude TALK_AMPLITUDE, phase
    /// continuous in room time) for `ms`, one 20 ms frame per tick, while
    /// the clock advances.
    pub fn talk(&self, voices: &[(&MemberPort, f64)], ms: u64) {
        let voices: Vec<_> = voices
            .iter()
            .map(|&(port, freq)| (port, freq, TALK_AMPLITUDE))
            .collect();
        self.talk_at(&voices, ms);
    }

    /// `talk`, each voice at its own amplitude: (port, Hz, amplitude).
    pub fn talk_at(&self, voices: &[(&MemberPort, f64, f64)], ms: u64) {
        let n = frame(RATE, TICK_MS as u32);
        for _ in 0..ms / TICK_MS {
            let t0 = self.module.now_ms() * RATE as u64 / 1000;
            for (port, freq, amplitude) in voices {
                let mut phase = 2.0 * std::f64::consts::PI * freq * t0 as f64 / RATE as f64;
                self.send_l16(port, &sine(*freq, RATE, n, *amplitude, &mut phase), RATE);
            }
            self.advance(TICK_MS);
        }
    }

    /// The last `ms` of what `channel` heard (at the rate it was sent).
    pub fn tail(&self, channel: &str, ms: u64) -> Vec<i16> {
        let h = self.heard(channel);
        let rate = if h.rate == 0 { RATE } else { h.rate };
        let n = (rate as u64 * ms / 1000) as usize;
        h.pcm[h.pcm.len().saturating_sub(n)..].to_vec()
    }

    /// Amplitude of `freq` in the last `ms` `channel` heard.
    pub fn hears(&self, channel: &str, freq: f64, ms: u64) -> f64 {
        let h = self.heard(channel);
        let rate = if h.rate == 0 { RATE } else { h.rate };
        tone_amplitude(&self.tail(channel, ms), freq, rate)
    }

    /// Events of one name whose MemberId field is `id`.
    pub fn member_events(&self, name: &str, id: u32) -> Vec<Event> {
        self.events_named(name)
            .into_iter()
            .filter(|e| field(e, "MemberId") == Some(id.to_string().as_str()))
            .collect()
    }

    /// A caller of an account.
    pub fn caller_in(channel: &str, account: &str) -> CallerInfo {
        CallerInfo {
            account: account.to_string(),
            ..Self::caller(channel)
        }
    }

    /// Whether a log line contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.logs().iter().any(|l| l.contains(needle))
    }
}

/// `text` spoken by espeak-ng at `rate`, scaled so that its active frames
/// (those above -50 dBov) have an RMS level of `level_dbov` (ITU-T P.56's
/// usual test level is -26). Without espeak-ng: syllable-like voiced bursts.
pub fn speech(text: &str, rate: u32, level_dbov: f64) -> Vec<i16> {
    let dir = scratch_dir("speech");
    let wav = dir.join("s.wav");
    let spoken = std::process::Command::new("espeak-ng")
        .args(["-w", wav.to_str().unwrap(), text])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let raw = if spoken {
        huddle::audio::wav::load_sound(&wav, rate).unwrap()
    } else {
        eprintln!("espeak-ng not found: using synthetic syllables");
        let mut v = Vec::new();
        let mut ph = 0.0;
        for i in 0..6 {
            let f = 140.0 + 25.0 * i as f64;
            v.extend(sine(f, rate, rate as usize / 5, 9000.0, &mut ph));
            v.extend(vec![0i16; rate as usize / 10]);
        }
        v
    };
    let n = frame(rate, 20);
    let active: Vec<f64> = raw
        .chunks(n)
        .map(rms)
        .filter(|r| dbov(*r) > -50.0)
        .collect();
    let level = (active.iter().map(|r| r * r).sum::<f64>() / active.len() as f64).sqrt();
    let gain = from_dbov(level_dbov) / level;
    raw.iter()
        .map(|s| (*s as f64 * gain).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}
