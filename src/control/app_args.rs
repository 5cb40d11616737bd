//! The `conference` dialplan application's argument string.
//!
//! Two grammars are accepted:
//!
//! * FreeSWITCH style: `name[@profile][+pin][+flags{f1|f2|...}][+settings{k=v|...}]`,
//!   e.g. `3000@wideband+1234+flags{moderator|endconf}`. Flags:
//!   `moderator`, `mute` (join muted), `deaf`, `hold` (join on hold),
//!   `endconf` (end the room when this member leaves), `wait-mod` (do not
//!   start the room: wait for a moderator/host), `mintwo` (end the room when
//!   fewer than two members remain), `nomoh` (no music while alone/waiting),
//!   `nobeep` (no enter/exit sound), `join-only` (only join an existing room,
//!   never create one), `ghost` (not counted, not announced), `bridge`
//!   (another node's cascade leg: a ghost that sends no events),
//!   `mute-non-moderator` (room flag used if this caller creates the room),
//!   `announce-name` / `no-announce-name` (this caller is, or is not,
//!   announced by name, whatever the room says). Settings, this caller's own
//!   values over the room's: `enter-sound=<file>`, `exit-sound=<file>`.
//!
//! * `<Conference>` attribute style: `{key=value,...}Room Name`, with keys
//!   spelled as Twilio spells them (see [`JoinOptions`]). A `\` escapes the
//!   next character (e.g. `\,`); a value may be wrapped in single quotes to
//!   contain `,` or `}` literally.

use std::fmt;

use super::{excerpt, redact_app_data, validate_pin, validate_room_name, PIN_MASK};

pub const MAX_APP_DATA_LEN: usize = 4096;
/// Free-text values (URLs, paths, labels) are bounded so a runaway dialplan
/// variable can't balloon per-member state.
pub const MAX_VALUE_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beep {
    True,
    False,
    OnEnter,
    OnExit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordMode {
    DoNotRecord,
    RecordFromStart,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    TrimSilence,
    DoNotTrim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    L16,
    Opus,
    Pcmu,
    Pcma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitterBufferSize {
    Off,
    Small,
    Medium,
    Large,
}

/// Conference status-callback events (Twilio's `statusCallbackEvent`), also
/// the names used by `module.suppress_events` in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusEvent {
    Start,
    End,
    Join,
    Leave,
    Mute,
    Hold,
    Modify,
    Speaker,
    Announcement,
}

impl StatusEvent {
    pub const ALL: [StatusEvent; 9] = [
        StatusEvent::Start,
        StatusEvent::End,
        StatusEvent::Join,
        StatusEvent::Leave,
        StatusEvent::Mute,
        StatusEvent::Hold,
        StatusEvent::Modify,
        StatusEvent::Speaker,
        StatusEvent::Announcement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StatusEvent::Start => "start",
            StatusEvent::End => "end",
            StatusEvent::Join => "join",
            StatusEvent::Leave => "leave",
            StatusEvent::Mute => "mute",
            StatusEvent::Hold => "hold",
            StatusEvent::Modify => "modify",
            StatusEvent::Speaker => "speaker",
            StatusEvent::Announcement => "announcement",
        }
    }

    pub fn from_name(s: &str) -> Option<StatusEvent> {
        StatusEvent::ALL.into_iter().find(|e| e.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordingEvent {
    InProgress,
    Completed,
    Failed,
    Absent,
}

impl RecordingEvent {
    pub const ALL: [RecordingEvent; 4] = [
        RecordingEvent::InProgress,
        RecordingEvent::Completed,
        RecordingEvent::Failed,
        RecordingEvent::Absent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RecordingEvent::InProgress => "in-progress",
            RecordingEvent::Completed => "completed",
            RecordingEvent::Failed => "failed",
            RecordingEvent::Absent => "absent",
        }
    }
}

/// Per-join options. Every field is optional so "not given" stays distinct
/// from a default the room/profile would otherwise supply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JoinOptions {
    /// `muted=` / flag `mute`.
    pub muted: Option<bool>,
    /// `deaf=` / flag `deaf`.
    pub deaf: Option<bool>,
    /// `hold=` / flag `hold`.
    pub hold: Option<bool>,
    /// `moderator=` / flag `moderator`.
    pub moderator: Option<bool>,
    /// `beep=` / flag `nobeep` (= `Beep::False`).
    pub beep: Option<Beep>,
    /// `startConferenceOnEnter=` / flag `wait-mod` (= false).
    pub start_conference_on_enter: Option<bool>,
    /// `endConferenceOnExit=` / flag `endconf`.
    pub end_conference_on_exit: Option<bool>,
    /// `maxParticipants=` (2..1000).
    pub max_participants: Option<u32>,
    /// `coach=`: call id of the participant this caller coaches.
    pub coach: Option<String>,
    pub wait_url: Option<String>,
    pub wait_method: Option<HttpMethod>,
    pub record: Option<RecordMode>,
    pub trim: Option<Trim>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<HttpMethod>,
    pub status_callback_events: Option<Vec<StatusEvent>>,
    pub recording_status_callback: Option<String>,
    pub recording_status_callback_method: Option<HttpMethod>,
    pub recording_status_callback_events: Option<Vec<RecordingEvent>>,
    pub region: Option<String>,
    /// `eventCallbackUrl=`: POSTed when the conference ends (first setter).
    pub event_callback_url: Option<String>,
    /// `recordBeep=`: a beep when a recording starts (first setter).
    pub record_beep: Option<bool>,
    /// `announceCallerName=`: record and announce this caller's name, or
    /// not, whatever the room says.
    pub announce_caller_name: Option<bool>,
    /// `enterSound=` / `exitSound=`: files under the sounds directory played
    /// when this caller enters / leaves, instead of the room's.
    pub enter_sound: Option<String>,
    pub exit_sound: Option<String>,
    /// `recordingTimeout=` seconds with nobody heard before a recording
    /// stops, 0..86400, 0 = never (first setter).
    pub recording_timeout_s: Option<u32>,
    pub jitter_buffer_size: Option<JitterBufferSize>,
    pub codec: Option<Codec>,
    /// `bitrate=` in bit/s (6000..510000, Opus' range).
    pub bitrate: Option<u32>,
    pub fec: Option<bool>,
    pub dtx: Option<bool>,
    pub label: Option<String>,
    /// Flag `mintwo`.
    pub min_two: Option<bool>,
    /// Flag `nomoh`.
    pub no_moh: Option<bool>,
    /// Flag `join-only`.
    pub join_only: Option<bool>,
    /// Flag `ghost`.
    pub ghost: Option<bool>,
    /// Flag `bridge`: a cascade leg from another node (a ghost without events).
    pub bridge: Option<bool>,
    /// Flag `mute-non-moderator`.
    pub mute_non_moderators: Option<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppArgs {
    pub room: String,
    pub profile: Option<String>,
    /// PIN presented up-front (`+1234` or `pin=1234`): skips the prompt.
    pub pin: Option<String>,
    pub opts: JoinOptions,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppArgsError {
    /// The offending piece of input.
    pub token: String,
    /// What is wrong with it, phrased to precede the quoted token.
    pub problem: String,
    /// The whole argument string (cut to a readable length).
    pub input: String,
}

impl fmt::Display for AppArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conference app data: {} '{}' in \"{}\"",
            self.problem, self.token, self.input
        )
    }
}

impl std::error::Error for AppArgsError {}

struct Ctx<'a> {
    input: &'a str,
}

impl Ctx<'_> {
    fn err(&self, problem: impl Into<String>, token: &str) -> AppArgsError {
        AppArgsError {
            token: excerpt(token, 80),
            problem: problem.into(),
            // Logged and returned to the host: never with the PIN in it.
            input: excerpt(&redact_app_data(self.input), 200),
        }
    }
}

pub fn parse_app_args(s: &str) -> Result<AppArgs, AppArgsError> {
    let cx = Ctx { input: s };
    if s.len() > MAX_APP_DATA_LEN {
        return Err(cx.err(
            format!(
                "app data is {} bytes, longer than {MAX_APP_DATA_LEN}, starting",
                s.len()
            ),
            &excerpt(&redact_app_data(s), 20),
        ));
    }
    let s = s.trim();
    if s.is_empty() {
        return Err(cx.err("missing room name", ""));
    }
    if s.starts_with('{') {
        parse_attribute_style(&cx, s)
    } else {
        parse_fs_style(&cx, s)
    }
}

fn check_room(cx: &Ctx, name: &str) -> Result<(), AppArgsError> {
    validate_room_name(name).map_err(|p| cx.err(format!("bad room name ({p})"), name))
}

fn check_profile(cx: &Ctx, name: &str) -> Result<(), AppArgsError> {
    // Profiles are config table keys; the room-name alphabet minus spaces
    // keeps them addressable from every grammar.
    if name.contains(' ') {
        return Err(cx.err("profile name contains a space", name));
    }
    validate_room_name(name).map_err(|p| {
        cx.err(
            format!("bad profile name ({})", p.replace("room name", "name")),
            name,
        )
    })
}

fn check_pin(cx: &Ctx, pin: &str) -> Result<(), AppArgsError> {
    validate_pin(pin).map_err(|p| cx.err(format!("bad PIN ({p})"), PIN_MASK))
}

fn parse_fs_style(cx: &Ctx, s: &str) -> Result<AppArgs, AppArgsError> {
    let (head, rest) = match s.find('+') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (room, profile) = match head.split_once('@') {
        Some((r, p)) => {
            check_profile(cx, p)?;
            (r, Some(p.to_string()))
        }
        None => (head, None),
    };
    check_room(cx, room)?;
    let mut args = AppArgs {
        room: room.to_string(),
        profile,
        pin: None,
        opts: JoinOptions::default(),
    };
    let Some(rest) = rest else {
        return Ok(args);
    };
    let mut seen_flags = false;
    let mut seen_settings = false;
    // Flags and settings may hold no '+', so splitting on it is unambiguous.
    for part in rest.split('+') {
        if let Some(items) = braced(cx, part, "settings", &mut seen_settings)? {
            for setting in items {
                apply_setting(cx, &mut args.opts, setting)?;
            }
        } else if let Some(items) = braced(cx, part, "flags", &mut seen_flags)? {
            for flag in items {
                apply_flag(cx, &mut args.opts, flag)?;
            }
        } else if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            if args.pin.is_some() {
                return Err(cx.err("PIN given twice", PIN_MASK));
            }
            check_pin(cx, part)?;
            args.pin = Some(part.to_string());
        } else if part.bytes().any(|b| b.is_ascii_digit()) {
            // Most likely a mistyped PIN (`97531x`): its digits stay out of
            // the message, which is logged.
            return Err(cx.err(
                "expected PIN digits or flags{...}, got a part with digits and other characters",
                PIN_MASK,
            ));
        } else {
            return Err(cx.err("expected PIN digits or flags{...}, got", part));
        }
    }
    Ok(args)
}

/// The `|`-separated items of `part` when it is `name{...}` (given once).
fn braced<'a>(
    cx: &Ctx,
    part: &'a str,
    name: &str,
    seen: &mut bool,
) -> Result<Option<impl Iterator<Item = &'a str>>, AppArgsError> {
    let Some(body) = part.strip_prefix(name).and_then(|b| b.strip_prefix('{')) else {
        return Ok(None);
    };
    let Some(body) = body.strip_suffix('}') else {
        return Err(cx.err(format!("unterminated {name} list (missing '}}')"), part));
    };
    if std::mem::replace(seen, true) {
        return Err(cx.err(format!("{name} given twice"), part));
    }
    Ok(Some(
        body.split('|').map(str::trim).filter(|f| !f.is_empty()),
    ))
}

fn apply_flag(cx: &Ctx, o: &mut JoinOptions, flag: &str) -> Result<(), AppArgsError> {
    let t = Some(true);
    match flag {
        "moderator" => o.moderator = t,
        "mute" => o.muted = t,
        "deaf" => o.deaf = t,
        "hold" => o.hold = t,
        "endconf" => o.end_conference_on_exit = t,
        "wait-mod" => o.start_conference_on_enter = Some(false),
        "mintwo" => o.min_two = t,
        "nomoh" => o.no_moh = t,
        "nobeep" => o.beep = Some(Beep::False),
        "join-only" => o.join_only = t,
        "ghost" => o.ghost = t,
        "bridge" => o.bridge = t,
        "mute-non-moderator" => o.mute_non_moderators = t,
        "announce-name" | "no-announce-name" => {
            let on = flag == "announce-name";
            if o.announce_caller_name.is_some_and(|was| was != on) {
                return Err(cx.err(
                    "announce-name and no-announce-name contradict each other",
                    flag,
                ));
            }
            o.announce_caller_name = Some(on);
        }
        _ => return Err(cx.err("unknown flag", flag)),
    }
    Ok(())
}

/// One `key=value` of `+settings{...}`: what the `<Conference>` attributes
/// `enterSound`/`exitSound` set, in FreeSWITCH spelling.
fn apply_setting(cx: &Ctx, o: &mut JoinOptions, setting: &str) -> Result<(), AppArgsError> {
    let Some((key, value)) = setting.split_once('=') else {
        return Err(cx.err(
            "a setting is key=value (enter-sound=<file>, exit-sound=<file>), got",
            setting,
        ));
    };
    let slot = match key.trim() {
        "enter-sound" => &mut o.enter_sound,
        "exit-sound" => &mut o.exit_sound,
        _ => return Err(cx.err("unknown setting (expected enter-sound or exit-sound)", key)),
    };
    if slot.is_some() {
        return Err(cx.err("setting given twice", key));
    }
    *slot = Some(parse_text(cx, key.trim(), value.trim())?);
    Ok(())
}

type Pairs = Vec<(String, String)>;

/// Splits `{...}` into raw key/value pairs, honouring `\` escapes and
/// single-quoted values. Returns the pairs and the text after `}`.
fn split_attributes<'a>(cx: &Ctx, s: &'a str) -> Result<(Pairs, &'a str), AppArgsError> {
    let mut pairs = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    // Whether `cur` holds characters that came from quotes/escapes, so the
    // trim below doesn't eat deliberately included spaces.
    let mut literal_ranges: Vec<(usize, usize)> = Vec::new();
    let mut lit_start = 0;
    let body = &s[1..];
    for (i, c) in body.char_indices() {
        if escaped {
            literal_ranges.push((cur.len(), cur.len() + c.len_utf8()));
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '\'' => {
                if quoted {
                    literal_ranges.push((lit_start, cur.len()));
                } else {
                    lit_start = cur.len();
                }
                quoted = !quoted;
            }
            ',' | '}' if !quoted => {
                push_pair(cx, &mut pairs, &cur, &literal_ranges)?;
                cur.clear();
                literal_ranges.clear();
                if c == '}' {
                    return Ok((pairs, &body[i + 1..]));
                }
            }
            _ => cur.push(c),
        }
    }
    let problem = if quoted {
        "unterminated single quote in"
    } else {
        "unterminated '{' (missing '}') in"
    };
    Err(cx.err(problem, s))
}

fn push_pair(
    cx: &Ctx,
    pairs: &mut Vec<(String, String)>,
    raw: &str,
    literal: &[(usize, usize)],
) -> Result<(), AppArgsError> {
    if raw.trim().is_empty() && literal.is_empty() {
        return Ok(());
    }
    let Some(eq) = raw.find('=') else {
        return Err(cx.err("expected key=value, got", raw.trim()));
    };
    if literal.iter().any(|&(a, _)| a < eq) {
        return Err(cx.err(
            "quotes or escapes are only allowed in values, not keys",
            raw.trim(),
        ));
    }
    let key = raw[..eq].trim().to_string();
    let vstart = eq + 1;
    // Trim only whitespace outside literal (quoted/escaped) ranges.
    let lo = literal.iter().map(|r| r.0).min().unwrap_or(usize::MAX);
    let hi = literal.iter().map(|r| r.1).max().unwrap_or(0);
    let mut start = vstart;
    while start < raw.len() && start < lo && raw[start..].starts_with(char::is_whitespace) {
        start += raw[start..].chars().next().map_or(1, char::len_utf8);
    }
    let mut end = raw.len();
    while end > start && end > hi && raw[..end].ends_with(char::is_whitespace) {
        end -= raw[..end].chars().next_back().map_or(1, char::len_utf8);
    }
    let value = raw[start..end].to_string();
    if key.is_empty() {
        return Err(cx.err("empty key in", raw.trim()));
    }
    if pairs.iter().any(|(k, _)| *k == key) {
        return Err(cx.err("key given twice", &key));
    }
    pairs.push((key, value));
    Ok(())
}

fn parse_attribute_style(cx: &Ctx, s: &str) -> Result<AppArgs, AppArgsError> {
    let (pairs, room) = split_attributes(cx, s)?;
    let room = room.trim();
    check_room(cx, room)?;
    let mut args = AppArgs {
        room: room.to_string(),
        profile: None,
        pin: None,
        opts: JoinOptions::default(),
    };
    for (key, value) in &pairs {
        apply_attribute(cx, &mut args, key, value)?;
    }
    Ok(args)
}

fn parse_bool(cx: &Ctx, key: &str, v: &str) -> Result<bool, AppArgsError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(cx.err(format!("{key} must be true or false, not"), v)),
    }
}

fn parse_range(cx: &Ctx, key: &str, v: &str, lo: u32, hi: u32) -> Result<u32, AppArgsError> {
    match v.parse::<u32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(cx.err(format!("{key} must be an integer {lo}..{hi}, not"), v)),
    }
}

fn parse_method(cx: &Ctx, key: &str, v: &str) -> Result<HttpMethod, AppArgsError> {
    match v.to_ascii_uppercase().as_str() {
        "GET" => Ok(HttpMethod::Get),
        "POST" => Ok(HttpMethod::Post),
        _ => Err(cx.err(format!("{key} must be GET or POST, not"), v)),
    }
}

fn parse_text(cx: &Ctx, key: &str, v: &str) -> Result<String, AppArgsError> {
    if v.is_empty() {
        return Err(cx.err(format!("{key} needs a value, got"), v));
    }
    if v.len() > MAX_VALUE_LEN {
        return Err(cx.err(format!("{key} value longer than {MAX_VALUE_LEN} bytes"), v));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(cx.err(format!("{key} contains control character {:?} in", c), v));
    }
    Ok(v.to_string())
}

/// Space-separated event lists; Twilio also tolerates commas, but commas
/// already separate attributes here, so only whitespace is accepted.
fn parse_events<T: Copy + PartialEq>(
    cx: &Ctx,
    key: &str,
    v: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, AppArgsError> {
    let mut out = Vec::new();
    for word in v.split_whitespace() {
        let Some(ev) = all.iter().copied().find(|e| name(*e) == word) else {
            let names: Vec<&str> = all.iter().map(|e| name(*e)).collect();
            return Err(cx.err(
                format!("unknown {key} event (expected any of: {})", names.join(" ")),
                word,
            ));
        };
        if !out.contains(&ev) {
            out.push(ev);
        }
    }
    if out.is_empty() {
        return Err(cx.err(format!("{key} lists no events"), v));
    }
    Ok(out)
}

fn apply_attribute(cx: &Ctx, a: &mut AppArgs, key: &str, v: &str) -> Result<(), AppArgsError> {
    let o = &mut a.opts;
    match key {
        "muted" => o.muted = Some(parse_bool(cx, key, v)?),
        "deaf" => o.deaf = Some(parse_bool(cx, key, v)?),
        "hold" => o.hold = Some(parse_bool(cx, key, v)?),
        "moderator" => o.moderator = Some(parse_bool(cx, key, v)?),
        "beep" => {
            o.beep = Some(match v {
                "true" => Beep::True,
                "false" => Beep::False,
                "onEnter" => Beep::OnEnter,
                "onExit" => Beep::OnExit,
                _ => return Err(cx.err("beep must be true, false, onEnter or onExit, not", v)),
            })
        }
        "startConferenceOnEnter" => o.start_conference_on_enter = Some(parse_bool(cx, key, v)?),
        "endConferenceOnExit" => o.end_conference_on_exit = Some(parse_bool(cx, key, v)?),
        "maxParticipants" => o.max_participants = Some(parse_range(cx, key, v, 2, 1000)?),
        "coach" => o.coach = Some(parse_text(cx, key, v)?),
        "waitUrl" => o.wait_url = Some(parse_text(cx, key, v)?),
        "waitMethod" => o.wait_method = Some(parse_method(cx, key, v)?),
        "record" => {
            o.record = Some(match v {
                "do-not-record" => RecordMode::DoNotRecord,
                "record-from-start" => RecordMode::RecordFromStart,
                _ => {
                    return Err(cx.err("record must be do-not-record or record-from-start, not", v))
                }
            })
        }
        "trim" => {
            o.trim = Some(match v {
                "trim-silence" => Trim::TrimSilence,
                "do-not-trim" => Trim::DoNotTrim,
                _ => return Err(cx.err("trim must be trim-silence or do-not-trim, not", v)),
            })
        }
        "statusCallback" => o.status_callback = Some(parse_text(cx, key, v)?),
        "statusCallbackMethod" => o.status_callback_method = Some(parse_method(cx, key, v)?),
        "statusCallbackEvent" => {
            o.status_callback_events = Some(parse_events(
                cx,
                key,
                v,
                &StatusEvent::ALL,
                StatusEvent::name,
            )?)
        }
        "recordingStatusCallback" => o.recording_status_callback = Some(parse_text(cx, key, v)?),
        "recordingStatusCallbackMethod" => {
            o.recording_status_callback_method = Some(parse_method(cx, key, v)?)
        }
        "recordingStatusCallbackEvent" => {
            o.recording_status_callback_events = Some(parse_events(
                cx,
                key,
                v,
                &RecordingEvent::ALL,
                RecordingEvent::name,
            )?)
        }
        "region" => o.region = Some(parse_text(cx, key, v)?),
        "eventCallbackUrl" => o.event_callback_url = Some(parse_text(cx, key, v)?),
        "recordBeep" => o.record_beep = Some(parse_bool(cx, key, v)?),
        "announceCallerName" => o.announce_caller_name = Some(parse_bool(cx, key, v)?),
        "enterSound" => o.enter_sound = Some(parse_text(cx, key, v)?),
        "exitSound" => o.exit_sound = Some(parse_text(cx, key, v)?),
        "recordingTimeout" => o.recording_timeout_s = Some(parse_range(cx, key, v, 0, 86_400)?),
        "jitterBufferSize" => {
            o.jitter_buffer_size = Some(match v {
                "off" => JitterBufferSize::Off,
                "small" => JitterBufferSize::Small,
                "medium" => JitterBufferSize::Medium,
                "large" => JitterBufferSize::Large,
                _ => {
                    return Err(cx.err(
                        "jitterBufferSize must be off, small, medium or large, not",
                        v,
                    ))
                }
            })
        }
        "pin" => {
            check_pin(cx, v)?;
            a.pin = Some(v.to_string());
        }
        "profile" => {
            check_profile(cx, v)?;
            a.profile = Some(v.to_string());
        }
        "codec" => {
            o.codec = Some(match v.to_ascii_lowercase().as_str() {
                "l16" => Codec::L16,
                "opus" => Codec::Opus,
                "pcmu" => Codec::Pcmu,
                "pcma" => Codec::Pcma,
                _ => return Err(cx.err("codec must be L16, opus, PCMU or PCMA, not", v)),
            })
        }
        "bitrate" => o.bitrate = Some(parse_range(cx, key, v, 6000, 510_000)?),
        "fec" => o.fec = Some(parse_bool(cx, key, v)?),
        "dtx" => o.dtx = Some(parse_bool(cx, key, v)?),
        "label" => o.label = Some(parse_text(cx, key, v)?),
        _ => return Err(cx.err("unknown attribute", key)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testutil::Rng;

    #[test]
    fn fs_full() {
        let a = parse_app_args("3000@wideband+1234+flags{moderator|endconf}").unwrap();
        assert_eq!(a.room, "3000");
        assert_eq!(a.profile.as_deref(), Some("wideband"));
        assert_eq!(a.pin.as_deref(), Some("1234"));
        assert_eq!(a.opts.moderator, Some(true));
        assert_eq!(a.opts.end_conference_on_exit, Some(true));
        assert_eq!(a.opts.muted, None);
    }

    #[test]
    fn fs_variants() {
        let a = parse_app_args("3000").unwrap();
        assert_eq!((a.room.as_str(), a.profile, a.pin), ("3000", None, None));
        let a = parse_app_args("room@default+flags{mute|deaf|wait-mod|mintwo|nomoh|join-only|ghost|nobeep|hold|mute-non-moderator}").unwrap();
        let o = &a.opts;
        assert_eq!(o.start_conference_on_enter, Some(false));
        assert_eq!(o.beep, Some(Beep::False));
        assert_eq!(
            (
                o.muted,
                o.deaf,
                o.min_two,
                o.no_moh,
                o.join_only,
                o.ghost,
                o.hold,
                o.mute_non_moderators
            ),
            (
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(true)
            )
        );
        let a = parse_app_args("x+flags{}").unwrap();
        assert_eq!(a.opts, JoinOptions::default());
        let a = parse_app_args(
            "x+flags{announce-name}+settings{enter-sound=in.wav|exit-sound=a/out.wav}",
        )
        .unwrap();
        assert_eq!(a.opts.announce_caller_name, Some(true));
        assert_eq!(a.opts.enter_sound.as_deref(), Some("in.wav"));
        assert_eq!(a.opts.exit_sound.as_deref(), Some("a/out.wav"));
        let a = parse_app_args("x+settings{}+flags{no-announce-name}").unwrap();
        assert_eq!(a.opts.announce_caller_name, Some(false));
        let a = parse_app_args("x+flags{moderator}+42").unwrap();
        assert_eq!(a.pin.as_deref(), Some("42"));
    }

    #[test]
    fn fs_errors() {
        let e = parse_app_args("3000+flags{foo}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "conference app data: unknown flag 'foo' in \"3000+flags{foo}\""
        );
        assert_eq!(e.token, "foo");
        assert_eq!(parse_app_args("3000+12a4").unwrap_err().token, PIN_MASK);
        assert!(parse_app_args("3000+flags{mute")
            .unwrap_err()
            .problem
            .contains("unterminated"));
        assert!(parse_app_args("3000+1+2")
            .unwrap_err()
            .problem
            .contains("twice"));
        assert!(parse_app_args("3000++1").is_err());
        for (bad, says) in [
            ("x+flags{announce-name|no-announce-name}", "contradict"),
            ("x+settings{enter-sound=a.wav|enter-sound=b.wav}", "twice"),
            ("x+settings{volume=3}", "unknown setting"),
            ("x+settings{enter-sound}", "key=value"),
            ("x+settings{exit-sound=}", "needs a value"),
            ("x+settings{exit-sound=a.wav", "unterminated"),
            ("x+settings{}+settings{}", "settings given twice"),
        ] {
            let e = parse_app_args(bad).unwrap_err();
            assert!(e.problem.contains(says), "{bad}: {e}");
        }
        assert!(parse_app_args("3000+123456789012345678901")
            .unwrap_err()
            .problem
            .contains("PIN"));
        assert_eq!(parse_app_args("acct/room").unwrap_err().token, "acct/room");
        assert!(parse_app_args("").is_err());
        assert!(parse_app_args("3000@").is_err());
        assert!(parse_app_args(&"r".repeat(65)).is_err());
        let e = parse_app_args(&"r".repeat(5000)).unwrap_err();
        assert!(e.problem.contains("4096"), "{e}");
        assert!(e.to_string().len() < 400);
    }

    #[test]
    fn attribute_full() {
        let s = "{muted=true,beep=onEnter,startConferenceOnEnter=false,endConferenceOnExit=true,maxParticipants=10,coach=CA123,waitUrl=conf/sounds/hold.wav,record=record-from-start,trim=trim-silence,statusCallbackEvent=start end join leave mute hold speaker}Room 1234";
        let a = parse_app_args(s).unwrap();
        assert_eq!(a.room, "Room 1234");
        let o = &a.opts;
        assert_eq!(o.muted, Some(true));
        assert_eq!(o.beep, Some(Beep::OnEnter));
        assert_eq!(o.start_conference_on_enter, Some(false));
        assert_eq!(o.end_conference_on_exit, Some(true));
        assert_eq!(o.max_participants, Some(10));
        assert_eq!(o.coach.as_deref(), Some("CA123"));
        assert_eq!(o.wait_url.as_deref(), Some("conf/sounds/hold.wav"));
        assert_eq!(o.record, Some(RecordMode::RecordFromStart));
        assert_eq!(o.trim, Some(Trim::TrimSilence));
        use StatusEvent::*;
        assert_eq!(
            o.status_callback_events.as_deref(),
            Some(&[Start, End, Join, Leave, Mute, Hold, Speaker][..])
        );
    }

    #[test]
    fn attribute_more_keys() {
        let s = "{statusCallback=https://h/x?a=1,statusCallbackMethod=GET,waitMethod=post,recordingStatusCallback=https://h/r,recordingStatusCallbackMethod=POST,recordingStatusCallbackEvent=in-progress completed failed absent,region=ie1,jitterBufferSize=small,pin=0042,profile=wideband,moderator=true,deaf=false,hold=false,codec=opus,bitrate=32000,fec=true,dtx=false,label=agent 7}r";
        let a = parse_app_args(s).unwrap();
        assert_eq!(a.pin.as_deref(), Some("0042"));
        assert_eq!(a.profile.as_deref(), Some("wideband"));
        let o = &a.opts;
        assert_eq!(o.status_callback.as_deref(), Some("https://h/x?a=1"));
        assert_eq!(o.status_callback_method, Some(HttpMethod::Get));
        assert_eq!(o.wait_method, Some(HttpMethod::Post));
        assert_eq!(
            o.recording_status_callback_events.as_ref().map(Vec::len),
            Some(4)
        );
        assert_eq!(o.jitter_buffer_size, Some(JitterBufferSize::Small));
        assert_eq!(o.codec, Some(Codec::Opus));
        assert_eq!(o.bitrate, Some(32000));
        assert_eq!((o.fec, o.dtx), (Some(true), Some(false)));
        assert_eq!(o.label.as_deref(), Some("agent 7"));
    }

    #[test]
    fn attribute_escapes_and_quotes() {
        let a = parse_app_args(r"{label=a\,b,waitUrl='x,y}z', region = ie1 }Room").unwrap();
        assert_eq!(a.opts.label.as_deref(), Some("a,b"));
        assert_eq!(a.opts.wait_url.as_deref(), Some("x,y}z"));
        assert_eq!(a.opts.region.as_deref(), Some("ie1"));
        let a = parse_app_args("{label=' padded '}Room").unwrap();
        assert_eq!(a.opts.label.as_deref(), Some(" padded "));
        let a = parse_app_args("{}Room").unwrap();
        assert_eq!(a.opts, JoinOptions::default());
        let a = parse_app_args("{muted=true,}Room").unwrap();
        assert_eq!(a.opts.muted, Some(true));
    }

    #[test]
    fn attribute_errors() {
        let cases: &[(&str, &str)] = &[
            ("{mutd=true}R", "mutd"),
            ("{muted=yes}R", "yes"),
            ("{maxParticipants=1}R", "1"),
            ("{maxParticipants=1001}R", "1001"),
            ("{beep=sometimes}R", "sometimes"),
            ("{statusCallbackEvent=start bogus}R", "bogus"),
            ("{recordingStatusCallbackEvent=done}R", "done"),
            ("{bitrate=5999}R", "5999"),
            ("{codec=g711}R", "g711"),
            ("{muted=true,muted=false}R", "muted"),
            ("{muted}R", "muted"),
            ("{pin=12ab}R", PIN_MASK),
            ("{statusCallbackMethod=PUT}R", "PUT"),
            ("{muted=true}", ""),
            ("{muted=true}a/b", "a/b"),
        ];
        for (input, token) in cases {
            let e = parse_app_args(input).unwrap_err();
            assert_eq!(e.token, *token, "{input}: {e}");
        }
        assert!(parse_app_args("{muted=true")
            .unwrap_err()
            .problem
            .contains("unterminated"));
        assert!(parse_app_args("{label='abc}R")
            .unwrap_err()
            .problem
            .contains("quote"));
        assert!(parse_app_args(&format!("{{label={}}}R", "x".repeat(1025))).is_err());
    }

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let mut rng = Rng::new(42);
        let alphabet: Vec<char> = "{}=,'\\+@|/ aZ09_-.flags{}é\u{0}\n#*".chars().collect();
        let seeds = [
            "3000@wideband+1234+flags{moderator|endconf}",
            "{muted=true,beep=onEnter,label='a,b',maxParticipants=10}Room 1234",
            r"{label=a\,b}R",
        ];
        for i in 0..5000 {
            let s = if i % 2 == 0 {
                rng.string(&alphabet, 60)
            } else {
                let seed = seeds[rng.below(seeds.len())];
                rng.mutate(seed, &alphabet)
            };
            if let Err(e) = parse_app_args(&s) {
                assert!(!e.problem.is_empty());
                let _ = e.to_string();
            }
        }
    }
}
