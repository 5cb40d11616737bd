//! What each fuzz target does with its input, shared by the libFuzzer
//! targets (`fuzz/fuzz_targets/*.rs`) and the corpus replay test
//! (`tests/corpus.rs`), so a crash found by fuzzing reproduces in plain
//! `cargo test` through exactly the same code.
//!
//! Every body must return normally for any input: a panic is a finding.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use huddle::control::dtmf::{default_caller_map, default_moderator_map, DtmfMatcher};
use huddle::room::io::{Channel, Codec, Event, OutFrame};
use huddle::runtime::Host;
use huddle::runtime::{CallerInfo, InFrame, MemberPort, Module};

/// A fuzz target's body.
pub type Body = fn(&[u8]);

/// Every target, by the name of its corpus directory and fuzz target.
pub const TARGETS: &[(&str, Body)] = &[
    ("app_args", app_args),
    ("api_command", api_command),
    ("config", config),
    ("dtmf_matcher", dtmf_matcher),
    ("room_dtmf", room_dtmf),
    ("l16_frames", l16_frames),
    ("opus_frames", opus_frames),
    ("g711_frames", g711_frames),
    ("silk_vad", silk_vad),
    ("wav_sound", wav_sound),
    ("api_module", api_module),
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Dialplan app data (`huddle_conference_app`'s `app_data`).
pub fn app_args(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Err(e) = huddle::control::app_args::parse_app_args(s) {
            // The error is logged: a part that looks like a (mistyped) PIN
            // never appears in it. Parts found elsewhere in the input (the
            // room name, a flag) may be quoted from there.
            if !s.trim_start().starts_with('{') {
                for part in s.split('+').skip(1).filter(|p| {
                    !p.starts_with("flags{")
                        && p.len() >= 6
                        && p.bytes().filter(u8::is_ascii_digit).count() >= 4
                        && s.matches(*p).count() == 1
                }) {
                    // Field by field: the message's own quotes could join
                    // the end of one to a part.
                    for field in [&e.token, &e.input, &e.problem] {
                        assert!(!field.contains(part), "{part:?} in {e}");
                    }
                }
            }
        }
    }
}

/// Operator API command line.
pub fn api_command(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        match huddle::control::api::parse_api(s) {
            // Only ASCII space and tab separate words; nothing else that
            // breaks or spaces a line gets through.
            Ok(_) => assert!(!s.chars().any(|c| c != ' '
                && c != '\t'
                && (huddle::control::is_line_breaking(c) || c.is_whitespace()))),
            // An -ERR reply is one line.
            Err(e) => assert!(!e.to_string().contains(['\n', '\r'])),
        }
    }
}

/// The config file's text.
pub fn config(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = huddle::control::config::parse_config(s, Path::new("/fuzz/huddle.conf"));
    }
}

/// Pairs of (digit, time step) into a matcher over the default maps, with
/// polls in between.
pub fn dtmf_matcher(data: &[u8]) {
    let caller = default_caller_map();
    let map = match data.first() {
        Some(b) if b & 1 == 1 => caller.merged(&default_moderator_map()).unwrap_or(caller),
        _ => caller,
    };
    let timeout = 100 + u64::from(data.get(1).copied().unwrap_or(0)) * 40;
    let mut m = DtmfMatcher::new(timeout);
    let mut now: u64 = 0;
    for pair in data.get(2..).unwrap_or(&[]).chunks(2) {
        let digit = char::from(pair[0]);
        let step = u64::from(pair.get(1).copied().unwrap_or(0));
        // Steps past 200 go backwards: a clock that steps back must not panic.
        now = if step > 200 {
            now.saturating_sub((step - 200) * 50)
        } else {
            now + step * 20
        };
        let _ = m.feed(&map, digit, now);
        let _ = m.poll(&map, now + timeout / 2);
    }
    let _ = m.poll(&map, now.saturating_add(u64::MAX / 2));
}

/// A host that drops everything: the fuzz targets look for panics, not output.
#[derive(Default)]
pub struct NullHost {
    pub internal_errors: AtomicU64,
}

impl Host for NullHost {
    fn log(&self, level: log::Level, _target: &str, message: &str) {
        // The boundary reports a caught panic at error level. Lower levels
        // may echo what the input said ("play 'internal error'" is a file
        // name), which is not a finding.
        if level == log::Level::Error
            && (message.contains("internal error") || message.contains("panicked"))
        {
            self.internal_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn send_audio(&self, _channel: &Channel, _frame: &OutFrame<'_>) {}
    fn hangup(&self, _channel: &Channel, _cause: u32) -> bool {
        true
    }
    fn event(&self, _event: &Event) {}
    fn originate(&self, _d: &str, _r: &str, _a: &str) -> Result<(), String> {
        Ok(())
    }
}

const FUZZ_CONFIG: &str = r#"
[module]
timer = "manual"
log_level = "debug"
sounds_dir = "sounds"
recordings_dir = "recordings"

[profiles.default]
rate = 16000
interval_ms = 20
jitter_buffer_frames = 3

[profiles.narrow]
rate = 8000
interval_ms = 10

[profiles.wide48]
rate = 48000
interval_ms = 40

[[rooms]]
name = "pinroom"
pin = "1234"
host_pin = "9999"
"#;

pub struct FuzzModule {
    pub module: Arc<Module>,
    pub host: Arc<NullHost>,
    pub dir: PathBuf,
}

/// One module for the whole process (loading per input would fuzz thread
/// start-up, not the byte paths).
pub fn fuzz_module() -> &'static FuzzModule {
    static M: OnceLock<FuzzModule> = OnceLock::new();
    M.get_or_init(|| {
        // Under cargo test, inside target/ (set at compile time for
        // integration tests); for the fuzz binaries, the system temp dir.
        let base =
            option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!("huddle-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sounds")).unwrap();
        std::fs::create_dir_all(dir.join("recordings")).unwrap();
        let path = dir.join("huddle.conf");
        std::fs::write(&path, FUZZ_CONFIG).unwrap();
        huddle::runtime::logging::install();
        let host = Arc::new(NullHost::default());
        let module = Module::load(host.clone(), &path).expect("fuzz config loads");
        FuzzModule { module, host, dir }
    })
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn caller(n: u64) -> CallerInfo {
    CallerInfo {
        channel: format!("leg-{n}"),
        account: String::new(),
        call_id: format!("CA{n}"),
        from: "+15550001".into(),
        to: "+15550000".into(),
        caller_name: format!("fuzz {n}"),
    }
}

/// Joins two members (a talker and a listener) to a fresh room of the
/// profile picked by `selector`, runs `body`, hangs both up and lets the
/// room end.
fn in_room(selector: u8, body: impl FnOnce(&Module, &str, &MemberPort, &MemberPort)) {
    let fm = fuzz_module();
    let m = &*fm.module;
    let _scope = m.log_scope();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let profile = ["default", "narrow", "wide48"][usize::from(selector % 3)];
    let room = format!("fuzz{n}");
    let app = format!("{room}@{profile}+flags{{moderator}}");
    let (Ok(a), Ok(b)) = (m.app(caller(2 * n), &app), m.app(caller(2 * n + 1), &app)) else {
        panic!("fuzz room {app} refused a member");
    };
    body(m, &room, &a, &b);
    m.member_hangup(&a);
    m.member_hangup(&b);
    let _ = m.advance(100);
    m.flush_host_calls();
    assert_eq!(
        fm.host.internal_errors.load(Ordering::Relaxed),
        0,
        "a panic was caught inside the module"
    );
}

/// DTMF digits and time steps into a room through `Module::member_dtmf`,
/// as a plain member, a moderator, or a caller at a PIN prompt.
pub fn room_dtmf(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fm = fuzz_module();
    let m = &*fm.module;
    let _scope = m.log_scope();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let room = if mode & 1 == 1 {
        "pinroom".to_string()
    } else {
        format!("dtmf{n}")
    };
    let flags = if mode & 2 == 2 {
        "+flags{moderator}"
    } else {
        ""
    };
    let ports: Vec<_> = (0..2)
        .filter_map(|i| m.app(caller(2 * n + i), &format!("{room}{flags}")).ok())
        .collect();
    for pair in rest.chunks(2) {
        let who = usize::from(pair[0] >> 7) % ports.len().max(1);
        let digit = char::from(pair[0] & 0x7f);
        if let Some(p) = ports.get(who) {
            let _ = m.member_dtmf(p, digit);
        }
        let step = u64::from(pair.get(1).copied().unwrap_or(0));
        let _ = m.advance(step * 20);
    }
    for p in &ports {
        m.member_hangup(p);
    }
    let _ = m.advance(100);
    m.flush_host_calls();
    assert_eq!(fm.host.internal_errors.load(Ordering::Relaxed), 0);
}

/// Reads little-endian fields off the front of the input.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.u8()?) | u16::from(self.u8()?) << 8)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

const RATES: [u32; 8] = [8000, 16000, 24000, 32000, 48000, 0, 44100, 12000];

/// Frames of any declared rate, sample count and byte length, with level
/// and sequence, interleaved with ticks.
fn frames(data: &[u8], codec: Codec) {
    let mut r = Reader(data);
    let Some(sel) = r.u8() else { return };
    in_room(sel, |m, _room, a, b| {
        while let Some(hdr) = r.u8() {
            let rate = RATES[usize::from(hdr & 7)];
            let len = usize::from(r.u16().unwrap_or(0) % 4000);
            // G.711 frames are PCMU or PCMA by a header bit.
            let codec = match codec {
                Codec::Pcmu | Codec::Pcma if hdr & 0x40 != 0 => Codec::Pcma,
                Codec::Pcmu | Codec::Pcma => Codec::Pcmu,
                c => c,
            };
            let samples = match codec {
                Codec::L16 => (len / 2) as u32 ^ u32::from(hdr >> 6 == 3),
                Codec::Pcmu | Codec::Pcma => len as u32 ^ u32::from(hdr >> 6 == 3),
                Codec::Opus => u32::from(r.u8().unwrap_or(0)),
            };
            let level = r.u8().unwrap_or(255);
            let seq = r.u16();
            let frame = InFrame {
                codec,
                rate,
                samples,
                data: r.bytes(len).to_vec(),
                audio_level: (level < 128).then_some(level),
                sequence: if hdr & 0x08 != 0 { seq } else { None },
            };
            let port = if hdr & 0x10 != 0 { b } else { a };
            let _ = m.member_audio(port, frame);
            if hdr & 0x20 != 0 {
                let _ = m.advance(20);
            }
        }
        let _ = m.advance(200);
    });
}

/// L16 frames through `Module::member_audio` + `advance`.
pub fn l16_frames(data: &[u8]) {
    frames(data, Codec::L16)
}

/// Opus packets through `Module::member_audio` + `advance` (libopus decodes).
pub fn opus_frames(data: &[u8]) {
    frames(data, Codec::Opus)
}

/// PCMU and PCMA frames through `Module::member_audio` + `advance`.
pub fn g711_frames(data: &[u8]) {
    frames(data, Codec::Pcmu)
}

/// The SILK VAD bit reader on a raw packet.
pub fn silk_vad(data: &[u8]) {
    let _ = huddle::audio::silk_voice_activity(data);
}

/// `load_sound` on arbitrary file bytes, at a target rate from the first byte.
pub fn wav_sound(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let path = std::env::temp_dir().join(format!(
        "huddle-fuzz-wav-{}-{:?}.wav",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, body).unwrap();
    let rate = [8000, 16000, 48000, 0][usize::from(sel & 3)];
    let _ = huddle::audio::load_sound(&path, rate);
    let _ = std::fs::remove_file(&path);
}

/// Operator commands (one per line) run against a module with a live room,
/// including what the parser accepts but the runtime must still check.
pub fn api_module(data: &[u8]) {
    let input = text(data);
    in_room(0, |m, room, _a, _b| {
        for line in input.lines().take(16) {
            // `$R` stands for the live room, whose name changes per input.
            let _ = m.api(&line.replace("$R", room));
            let _ = m.advance(20);
        }
    });
}
