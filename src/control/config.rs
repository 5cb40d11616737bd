//! The module configuration file (TOML). Deserialised with serde into raw
//! structs that reject unknown keys, then validated and resolved into the
//! typed [`Config`]. Every error names `file:line: key 'a.b': problem`; the
//! line of a semantic error is found by looking the key up in a
//! span-preserving parse of the same text.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use crate::room::invite::{check_pattern, InvitePolicy, InviteRules};

use serde::Deserialize;
use toml_edit::{ImDocument, Item, Table, Value};

use super::dtmf::{default_caller_map, default_moderator_map, DigitMap, DtmfError};
use super::{validate_account, validate_pin, validate_room_name};
use crate::room::events;

/// A config bigger than this is certainly not hand-written; refusing it
/// keeps the line lookup and validation cheap.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
pub const MAX_ROOMS: usize = 10_000;
const MAX_TEXT: usize = 1024;
const TEMPLATE_VARS: [&str; 6] = [
    "account",
    "room",
    "date",
    "time",
    "conference_sid",
    "profile",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Mixer ticks driven by the module's own clock.
    Realtime,
    /// Mixer ticks driven by the host (tests, offline rendering).
    Manual,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModuleConfig {
    pub timer: Timer,
    /// 0 = one per core.
    pub mixer_threads: usize,
    pub log_level: log::LevelFilter,
    pub sounds_dir: PathBuf,
    pub recordings_dir: PathBuf,
    pub public_recording_url: Option<String>,
    /// URL prefixes a `waitUrl` over HTTP may be fetched from; empty = none.
    pub wait_url_allow: Vec<String>,
    /// Subscription words or event names (see `room::events::is_suppress_token`).
    pub suppress_events: Vec<String>,
    /// Folders outside `sounds_dir` that sound files named in this config
    /// may come from; nothing else outside `sounds_dir` is accepted.
    pub allowed_sound_dirs: Vec<PathBuf>,
    /// Permission bits of recording files and of the folders huddle makes
    /// for them, applied whatever the process umask is.
    pub recording_file_mode: u32,
    pub recording_dir_mode: u32,
}

/// Who may be made a moderator by the dialplan's app data
/// (`flags{moderator}`, `moderator=true`), see the README's trust model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustAppFlags {
    /// Always: the host vouches for every byte of the app data.
    Always,
    /// Only in rooms without a host PIN; where there is one, only the host
    /// PIN makes a moderator.
    NoHostPin,
    /// Never: moderators come from the host PIN alone.
    Never,
}

/// Prompt files, resolved against `module.sounds_dir`. `None` means no
/// prompt, except for `enter`/`exit` where it means a generated tone.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sounds {
    pub moh: Option<PathBuf>,
    pub enter: Option<PathBuf>,
    pub exit: Option<PathBuf>,
    pub pin: Option<PathBuf>,
    pub bad_pin: Option<PathBuf>,
    pub locked: Option<PathBuf>,
    pub muted: Option<PathBuf>,
    pub unmuted: Option<PathBuf>,
    pub deaf: Option<PathBuf>,
    pub undeaf: Option<PathBuf>,
    pub alone: Option<PathBuf>,
    pub kicked: Option<PathBuf>,
    pub wait_for_host: Option<PathBuf>,
    pub room_full: Option<PathBuf>,
    pub ended: Option<PathBuf>,
    pub denied: Option<PathBuf>,
    pub recording_started: Option<PathBuf>,
    pub recording_stopped: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub rate: u32,
    pub interval_ms: u32,
    pub energy_threshold_dbov: f32,
    pub talk_start_ms: u32,
    pub talk_stop_ms: u32,
    pub jitter_buffer_frames: u32,
    /// `None` = comfort noise off.
    pub comfort_noise_dbov: Option<f32>,
    pub max_members: u32,
    pub limiter: bool,
    /// 0 = mix every talker.
    pub top_n: u32,
    /// One encode per distinct mix (true) or per listener (false: the naive
    /// baseline the benchmarks measure against).
    pub share_encodes: bool,
    /// A beep into the room when a recording starts.
    pub record_beep: bool,
    /// Also one WAV per member (what each one said), for transcription.
    pub multitrack: bool,
    /// Stop a recording after this long with nobody heard; 0 = never.
    pub recording_timeout_s: u32,
    pub auto_record: bool,
    pub record_template: String,
    pub allow_dynamic_rooms: bool,
    pub pin_tries: u32,
    pub pin_first_digit_timeout_ms: u64,
    pub pin_inter_digit_timeout_ms: u64,
    /// 0 = no limit.
    pub pin_failures_per_minute: u32,
    pub dtmf_inter_digit_timeout_ms: u64,
    pub caller_controls: DigitMap,
    pub moderator_controls: DigitMap,
    /// Caller and moderator maps merged: what a member's `DtmfMatcher`
    /// runs on (moderator actions are refused later for non-moderators).
    pub controls: DigitMap,
    pub sounds: Sounds,
    pub trust_app_flags: TrustAppFlags,
    /// Who may `*8` invite, how often, and which numbers.
    pub invite: InviteRules,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoomConfig {
    pub name: String,
    /// `None` = global room, matched for any account.
    pub account: Option<String>,
    pub profile: String,
    pub max_participants: u32,
    pub pin: Option<String>,
    pub host_pin: Option<String>,
    pub wait_for_host: bool,
    pub mute_on_entry: bool,
    pub announce_join_leave: bool,
    pub recording_enabled: bool,
    pub auto_record: bool,
    /// Resolved (room override or the profile's); `None` = silence.
    pub music_on_hold: Option<PathBuf>,
    pub mute_non_moderators: bool,
    pub announce_caller_name: bool,
    /// Resolved (room override or the profile's); `None` = generated tone.
    pub enter_sound: Option<PathBuf>,
    pub exit_sound: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file this was loaded from (for `reload`).
    pub path: PathBuf,
    pub module: ModuleConfig,
    pub profiles: HashMap<String, Profile>,
    pub rooms: Vec<RoomConfig>,
    pub webhooks: WebhookConfig,
}

/// `[webhooks]`: huddle posting events to the callback URLs itself.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    pub enabled: bool,
    /// URL prefixes a callback URL must start with to be delivered.
    pub allow: Vec<String>,
    /// HMAC-SHA1 key of the signature header; empty = no header.
    pub secret: String,
    pub timeout_ms: u64,
    pub max_attempts: u32,
    /// First retry delay; it doubles with each further attempt.
    pub retry_base_ms: u64,
    pub queue: usize,
    pub workers: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            enabled: false,
            allow: Vec::new(),
            secret: String::new(),
            timeout_ms: 5_000,
            max_attempts: 4,
            retry_base_ms: 1_000,
            queue: 1_000,
            workers: 2,
        }
    }
}

impl Config {
    /// An account-specific room wins over a global one of the same name.
    pub fn room(&self, account: &str, name: &str) -> Option<&RoomConfig> {
        self.rooms
            .iter()
            .find(|r| r.name == name && r.account.as_deref() == Some(account))
            .or_else(|| {
                self.rooms
                    .iter()
                    .find(|r| r.name == name && r.account.is_none())
            })
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key '{key}'")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for ConfigError {}

pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let err = |problem: String| ConfigError {
        file: path.to_path_buf(),
        line: None,
        key: None,
        problem,
    };
    parse_config(&read_bounded(path).map_err(err)?, path)
}

/// The config file's text. Only a regular file is read (a FIFO would block
/// `load`, a device never ends), and never more than one byte past the
/// limit, whatever size the file system reports: `/dev/zero` says 0.
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read config file: {e}");
    // Checked on the path first, so opening cannot block on a FIFO; then on
    // what was opened, in case the path changed in between.
    let kind = std::fs::metadata(path).map_err(cannot)?.file_type();
    let regular = |t: std::fs::FileType| -> Result<(), String> {
        if t.is_file() {
            Ok(())
        } else {
            Err(format!(
                "config file is not a regular file (it is a {})",
                file_kind(t)
            ))
        }
    };
    regular(kind)?;
    let file = std::fs::File::open(path).map_err(cannot)?;
    regular(file.metadata().map_err(cannot)?.file_type())?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(format!("config file larger than {MAX_CONFIG_BYTES} bytes"));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "config file is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

// ---------------------------------------------------------------------
// Raw (serde) layer

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    module: RawModule,
    #[serde(default)]
    profiles: BTreeMap<String, RawProfile>,
    #[serde(default)]
    rooms: Vec<RawRoom>,
    #[serde(default)]
    webhooks: RawWebhooks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWebhooks {
    enabled: bool,
    allow: Vec<String>,
    secret: String,
    timeout_ms: i64,
    max_attempts: i64,
    retry_base_ms: i64,
    queue: i64,
    workers: i64,
}

impl Default for RawWebhooks {
    fn default() -> Self {
        let d = WebhookConfig::default();
        RawWebhooks {
            enabled: d.enabled,
            allow: d.allow,
            secret: d.secret,
            timeout_ms: d.timeout_ms as i64,
            max_attempts: i64::from(d.max_attempts),
            retry_base_ms: d.retry_base_ms as i64,
            queue: d.queue as i64,
            workers: d.workers as i64,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawModule {
    timer: String,
    mixer_threads: i64,
    log_level: String,
    sounds_dir: String,
    recordings_dir: String,
    public_recording_url: String,
    suppress_events: Vec<String>,
    allowed_sound_dirs: Vec<String>,
    recording_file_mode: String,
    recording_dir_mode: String,
    wait_url_allow: Vec<String>,
}

impl Default for RawModule {
    fn default() -> Self {
        RawModule {
            timer: "realtime".into(),
            mixer_threads: 0,
            log_level: "info".into(),
            sounds_dir: "sounds".into(),
            recordings_dir: "recordings".into(),
            public_recording_url: String::new(),
            suppress_events: Vec::new(),
            allowed_sound_dirs: Vec::new(),
            recording_file_mode: "0640".into(),
            recording_dir_mode: "0750".into(),
            wait_url_allow: Vec::new(),
        }
    }
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawControls {
    Named(String),
    Table(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawProfile {
    rate: i64,
    interval_ms: i64,
    energy_threshold_dbov: f64,
    talk_start_ms: i64,
    talk_stop_ms: i64,
    jitter_buffer_frames: i64,
    comfort_noise_dbov: f64,
    max_members: i64,
    limiter: bool,
    top_n: i64,
    share_encodes: bool,
    record_beep: bool,
    multitrack: bool,
    recording_timeout_s: i64,
    auto_record: bool,
    record_template: String,
    allow_dynamic_rooms: bool,
    pin_tries: i64,
    pin_first_digit_timeout_ms: i64,
    pin_inter_digit_timeout_ms: i64,
    pin_failures_per_minute: i64,
    dtmf_inter_digit_timeout_ms: i64,
    caller_controls: RawControls,
    moderator_controls: RawControls,
    sounds: RawSounds,
    trust_app_flags: String,
    invite: String,
    invites_per_minute_member: i64,
    invites_per_minute_room: i64,
    invite_destinations: Vec<String>,
}

impl Default for RawProfile {
    fn default() -> Self {
        RawProfile {
            rate: 16000,
            interval_ms: 20,
            energy_threshold_dbov: -45.0,
            talk_start_ms: 40,
            talk_stop_ms: 600,
            jitter_buffer_frames: 1,
            comfort_noise_dbov: 0.0,
            max_members: 25,
            limiter: true,
            top_n: 0,
            share_encodes: true,
            record_beep: true,
            multitrack: false,
            recording_timeout_s: 0,
            auto_record: false,
            record_template: "${account}/${room}/${date}-${time}-${conference_sid}.wav".into(),
            allow_dynamic_rooms: true,
            pin_tries: 3,
            pin_first_digit_timeout_ms: 10_000,
            pin_inter_digit_timeout_ms: 5_000,
            pin_failures_per_minute: 10,
            dtmf_inter_digit_timeout_ms: 2_000,
            caller_controls: RawControls::Named("default".into()),
            moderator_controls: RawControls::Named("default".into()),
            sounds: RawSounds::default(),
            trust_app_flags: "no-host-pin".into(),
            invite: "moderators".into(),
            invites_per_minute_member: 3,
            invites_per_minute_room: 10,
            invite_destinations: Vec::new(),
        }
    }
}

macro_rules! raw_sounds {
    ($($field:ident = $default:expr),* $(,)?) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, default)]
        struct RawSounds { $($field: String,)* }

        impl Default for RawSounds {
            fn default() -> Self {
                RawSounds { $($field: $default.to_string(),)* }
            }
        }

        fn resolve_sounds(
            v: &Validator,
            base: &[Seg],
            raw: &RawSounds,
            module: &ModuleConfig,
        ) -> Result<Sounds, ConfigError> {
            Ok(Sounds {
                $($field: v.sound(base, stringify!($field), &raw.$field, module)?,)*
            })
        }
    };
}

raw_sounds! {
    moh = "hold.wav",
    enter = "",
    exit = "",
    pin = "pin.wav",
    bad_pin = "bad-pin.wav",
    locked = "locked.wav",
    muted = "muted.wav",
    unmuted = "unmuted.wav",
    deaf = "deaf.wav",
    undeaf = "undeaf.wav",
    alone = "alone.wav",
    kicked = "kicked.wav",
    wait_for_host = "wait-for-host.wav",
    room_full = "room-full.wav",
    ended = "ended.wav",
    denied = "denied.wav",
    recording_started = "recording-started.wav",
    recording_stopped = "recording-stopped.wav",
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoom {
    name: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    max_participants: Option<i64>,
    #[serde(default)]
    pin: Option<String>,
    #[serde(default)]
    host_pin: Option<String>,
    #[serde(default)]
    wait_for_host: bool,
    #[serde(default)]
    mute_on_entry: bool,
    #[serde(default = "yes")]
    announce_join_leave: bool,
    #[serde(default = "yes")]
    recording_enabled: bool,
    #[serde(default)]
    auto_record: Option<bool>,
    #[serde(default)]
    music_on_hold: Option<String>,
    #[serde(default)]
    mute_non_moderators: bool,
    #[serde(default)]
    announce_caller_name: bool,
    #[serde(default)]
    enter_sound: Option<String>,
    #[serde(default)]
    exit_sound: Option<String>,
}

// ---------------------------------------------------------------------
// Key paths and line lookup

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn k(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&clip(key));
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
            Node::Value(v) => v.span(),
        }
    }

    fn get_key(self, key: &str) -> Option<(Option<Range<usize>>, Node<'a>)> {
        let (kk, item) = match self {
            Node::Item(i) => i.as_table_like()?.get_key_value(key)?,
            Node::Table(t) => t.get_key_value(key)?,
            Node::Value(v) => v.as_inline_table()?.get_key_value(key)?,
        };
        Some((kk.span(), Node::Item(item)))
    }

    fn get_index(self, idx: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(i) => {
                if let Some(aot) = i.as_array_of_tables() {
                    aot.get(idx).map(Node::Table)
                } else {
                    i.as_array()?.get(idx).map(Node::Value)
                }
            }
            Node::Value(v) => v.as_array()?.get(idx).map(Node::Value),
            Node::Table(_) => None,
        }
    }

    fn keys(self) -> Vec<String> {
        let keys: Vec<&str> = match self {
            Node::Item(i) => match i.as_table_like() {
                Some(t) => t.iter().map(|(k, _)| k).collect(),
                None => Vec::new(),
            },
            Node::Table(t) => t.iter().map(|(k, _)| k).collect(),
            Node::Value(v) => match v.as_inline_table() {
                Some(t) => t.iter().map(|(k, _)| k).collect(),
                None => Vec::new(),
            },
        };
        keys.into_iter().map(str::to_string).collect()
    }

    fn len(self) -> usize {
        match self {
            Node::Item(i) => i
                .as_array_of_tables()
                .map(|a| a.len())
                .or_else(|| i.as_array().map(|a| a.len()))
                .unwrap_or(0),
            Node::Value(v) => v.as_array().map_or(0, |a| a.len()),
            Node::Table(_) => 0,
        }
    }
}

struct Validator<'t> {
    text: &'t str,
    file: PathBuf,
    doc: Option<ImDocument<&'t str>>,
}

impl Validator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// Span of the deepest part of `path` present in the file: a defaulted
    /// key isn't in the text, so the error points at its enclosing table.
    fn span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Item(doc.as_item());
        let mut best = None;
        for seg in path {
            match seg {
                Seg::Key(key) => {
                    let Some((kspan, child)) = node.get_key(key) else {
                        break;
                    };
                    best = kspan.or_else(|| child.span()).or(best);
                    node = child;
                }
                Seg::Index(i) => {
                    let Some(child) = node.get_index(*i) else {
                        break;
                    };
                    best = child.span().or(best);
                    node = child;
                }
            }
        }
        best
    }

    fn err(&self, path: &[Seg], problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.span_of(path).map(|s| self.line_of(s.start)),
            key: (!path.is_empty()).then(|| path_string(path)),
            problem: problem.into(),
        }
    }

    /// Deepest key whose key or value span holds `offset`: gives serde
    /// errors (which only carry a span) a key name.
    fn path_at(&self, offset: usize) -> Option<Vec<Seg>> {
        fn walk(node: Node, offset: usize, path: &mut Vec<Seg>, best: &mut Option<Vec<Seg>>) {
            let contains =
                |r: &Option<Range<usize>>| r.as_ref().is_some_and(|r| r.contains(&offset));
            for key in node.keys() {
                let Some((kspan, child)) = node.get_key(&key) else {
                    continue;
                };
                path.push(Seg::Key(key));
                if (contains(&kspan) || contains(&child.span()))
                    && best.as_ref().is_none_or(|b| b.len() <= path.len())
                {
                    *best = Some(path.clone());
                }
                walk(child, offset, path, best);
                path.pop();
            }
            for i in 0..node.len() {
                let Some(child) = node.get_index(i) else {
                    continue;
                };
                path.push(Seg::Index(i));
                if contains(&child.span()) && best.as_ref().is_none_or(|b| b.len() <= path.len()) {
                    *best = Some(path.clone());
                }
                walk(child, offset, path, best);
                path.pop();
            }
        }
        let doc = self.doc.as_ref()?;
        let mut best = None;
        walk(
            Node::Item(doc.as_item()),
            offset,
            &mut Vec::new(),
            &mut best,
        );
        best
    }

    fn range<T: PartialOrd + fmt::Display + Copy>(
        &self,
        path: &[Seg],
        v: T,
        lo: T,
        hi: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        // Written so NaN (which compares false) lands in the error branch.
        let in_range = v >= lo && v <= hi;
        if !in_range {
            return Err(self.err(path, format!("{v} is out of range {lo}..{hi}{what}")));
        }
        Ok(v)
    }

    fn int(&self, path: &[Seg], v: i64, lo: i64, hi: i64) -> Result<i64, ConfigError> {
        self.range(path, v, lo, hi, "")
    }

    /// One of a fixed set of words; the error lists them.
    fn choice<T: Copy>(
        &self,
        path: &[Seg],
        value: &str,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        options
            .iter()
            .find(|(word, _)| *word == value)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
                self.err(
                    path,
                    format!(
                        "'{}' is not a choice (expected one of: {})",
                        clip(value),
                        words.join(", ")
                    ),
                )
            })
    }

    fn resolve_path(&self, base: &Path, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    }

    fn sound(
        &self,
        base: &[Seg],
        key: &str,
        value: &str,
        module: &ModuleConfig,
    ) -> Result<Option<PathBuf>, ConfigError> {
        if value.is_empty() {
            return Ok(None);
        }
        let mut path = base.to_vec();
        path.push(k(key));
        self.text_value(&path, value)?;
        // Like `play`: under sounds_dir, unless the operator named the
        // folder in `allowed_sound_dirs`.
        let p = Path::new(value);
        if p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(self.err(
                &path,
                "contains '..'; sound files stay under sounds_dir or a folder in allowed_sound_dirs",
            ));
        }
        if p.is_absolute() {
            if !module.allowed_sound_dirs.iter().any(|d| p.starts_with(d)) {
                return Err(self.err(
                    &path,
                    format!(
                        "{} is outside sounds_dir; add its folder to [module] allowed_sound_dirs to use it",
                        clip(value)
                    ),
                ));
            }
            return Ok(Some(p.to_path_buf()));
        }
        Ok(Some(module.sounds_dir.join(p)))
    }

    fn text_value(&self, path: &[Seg], value: &str) -> Result<(), ConfigError> {
        if value.len() > MAX_TEXT {
            return Err(self.err(path, format!("value longer than {MAX_TEXT} bytes")));
        }
        if value.chars().any(char::is_control) {
            return Err(self.err(path, "value contains control characters"));
        }
        Ok(())
    }

    fn controls(
        &self,
        path: &[Seg],
        raw: &RawControls,
        default: fn() -> DigitMap,
    ) -> Result<DigitMap, ConfigError> {
        match raw {
            RawControls::Named(n) if n == "default" => Ok(default()),
            RawControls::Named(n) if n == "none" => Ok(DigitMap::empty()),
            RawControls::Named(n) => Err(self.err(
                path,
                format!("'{n}' is not a control map (expected \"default\", \"none\" or a table of sequence = action)"),
            )),
            RawControls::Table(t) => DigitMap::from_names(t.iter()).map_err(|e| self.dtmf_err(path, &e)),
        }
    }

    fn dtmf_err(&self, path: &[Seg], e: &DtmfError) -> ConfigError {
        let mut p = path.to_vec();
        p.push(Seg::Key(e.sequence.clone()));
        if self.span_of(&p) == self.span_of(path) {
            p.pop();
        }
        self.err(&p, e.to_string())
    }
}

// ---------------------------------------------------------------------
// Resolution

pub fn parse_config(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let mut v = Validator {
        text,
        file: origin.to_path_buf(),
        doc: None,
    };
    if text.len() > MAX_CONFIG_BYTES {
        return Err(v.err(&[], format!("config larger than {MAX_CONFIG_BYTES} bytes")));
    }
    v.doc = ImDocument::parse(text).ok();
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        let path = offset.and_then(|o| v.path_at(o));
        ConfigError {
            file: v.file.clone(),
            line: offset.map(|o| v.line_of(o)),
            key: path.map(|p| path_string(&p)),
            problem: e.message().trim().to_string(),
        }
    })?;

    // Relative paths are relative to the config file, not the process'
    // working directory, which for a softswitch is often `/`.
    let base = origin.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = std::path::absolute(&base).unwrap_or(base);
    let module = resolve_module(&v, &raw.module, &base)?;

    let mut profiles = HashMap::new();
    for (name, rp) in &raw.profiles {
        let path = [k("profiles"), k(name)];
        if name.contains(' ') || validate_room_name(name).is_err() {
            return Err(v.err(&path, "profile names use letters, digits and - _ . only"));
        }
        profiles.insert(name.clone(), resolve_profile(&v, name, rp, &module)?);
    }
    if !profiles.contains_key("default") {
        profiles.insert(
            "default".into(),
            resolve_profile(&v, "default", &RawProfile::default(), &module)?,
        );
    }

    if raw.rooms.len() > MAX_ROOMS {
        return Err(v.err(&[k("rooms")], format!("more than {MAX_ROOMS} rooms")));
    }
    let mut rooms: Vec<RoomConfig> = Vec::with_capacity(raw.rooms.len());
    for (i, rr) in raw.rooms.iter().enumerate() {
        let room = resolve_room(&v, i, rr, &profiles, &module)?;
        if let Some(j) = rooms
            .iter()
            .position(|r| r.name == room.name && r.account == room.account)
        {
            return Err(v.err(
                &[k("rooms"), Seg::Index(i), k("name")],
                format!(
                    "room '{}' already defined for this account at rooms[{j}]",
                    room.name
                ),
            ));
        }
        rooms.push(room);
    }
    let webhooks = resolve_webhooks(&v, &raw.webhooks)?;
    Ok(Config {
        path: origin.to_path_buf(),
        module,
        profiles,
        rooms,
        webhooks,
    })
}

/// A list of `http://` URL prefixes (allow-lists of where huddle may
/// connect). `no_tls` explains why `https://` is refused.
fn http_prefixes(
    v: &Validator,
    table: &str,
    key: &str,
    list: &[String],
    no_tls: &str,
) -> Result<Vec<String>, ConfigError> {
    for (i, prefix) in list.iter().enumerate() {
        let path = [k(table), k(key), Seg::Index(i)];
        v.text_value(&path, prefix)?;
        if prefix.starts_with("https://") {
            return Err(v.err(&path, no_tls));
        }
        // A bare "http://" would allow every host: name one.
        if !prefix.starts_with("http://") || prefix.len() <= "http://".len() {
            return Err(v.err(&path, "must be http://<host>[...]"));
        }
    }
    Ok(list.to_vec())
}

fn resolve_webhooks(v: &Validator, w: &RawWebhooks) -> Result<WebhookConfig, ConfigError> {
    let p = |key: &str| [k("webhooks"), k(key)];
    let allow = http_prefixes(
        v,
        "webhooks",
        "allow",
        &w.allow,
        "https:// is not delivered by this build (no TLS stack): post to a local \
         TLS-terminating proxy over http://, or let the host deliver",
    )?;
    if w.enabled && allow.is_empty() {
        return Err(v.err(
            &p("allow"),
            "webhooks are enabled but no URL prefix is allowed",
        ));
    }
    v.text_value(&p("secret"), &w.secret)?;
    Ok(WebhookConfig {
        enabled: w.enabled,
        allow,
        secret: w.secret.clone(),
        timeout_ms: v.int(&p("timeout_ms"), w.timeout_ms, 50, 60_000)? as u64,
        max_attempts: v.int(&p("max_attempts"), w.max_attempts, 1, 10)? as u32,
        retry_base_ms: v.int(&p("retry_base_ms"), w.retry_base_ms, 10, 60_000)? as u64,
        queue: v.int(&p("queue"), w.queue, 1, 100_000)? as usize,
        workers: v.int(&p("workers"), w.workers, 1, 16)? as usize,
    })
}

fn resolve_module(v: &Validator, m: &RawModule, base: &Path) -> Result<ModuleConfig, ConfigError> {
    let p = |key: &str| [k("module"), k(key)];
    let timer = match m.timer.as_str() {
        "realtime" => Timer::Realtime,
        "manual" => Timer::Manual,
        other => {
            return Err(v.err(
                &p("timer"),
                format!("'{other}' is not a timer (expected realtime or manual)"),
            ))
        }
    };
    let mixer_threads = v.int(&p("mixer_threads"), m.mixer_threads, 0, 256)? as usize;
    let log_level = match m.log_level.as_str() {
        "off" => log::LevelFilter::Off,
        "error" => log::LevelFilter::Error,
        "warn" => log::LevelFilter::Warn,
        "info" => log::LevelFilter::Info,
        "debug" => log::LevelFilter::Debug,
        "trace" => log::LevelFilter::Trace,
        other => {
            return Err(v.err(
                &p("log_level"),
                format!(
                "'{other}' is not a log level (expected off, error, warn, info, debug or trace)"
            ),
            ))
        }
    };
    for key in ["sounds_dir", "recordings_dir"] {
        let val = if key == "sounds_dir" {
            &m.sounds_dir
        } else {
            &m.recordings_dir
        };
        if val.is_empty() {
            return Err(v.err(&p(key), "must not be empty"));
        }
        v.text_value(&p(key), val)?;
    }
    v.text_value(&p("public_recording_url"), &m.public_recording_url)?;
    let public_recording_url = if m.public_recording_url.is_empty() {
        None
    } else if m.public_recording_url.starts_with("http://")
        || m.public_recording_url.starts_with("https://")
    {
        Some(m.public_recording_url.clone())
    } else {
        return Err(v.err(
            &p("public_recording_url"),
            "must start with http:// or https://",
        ));
    };
    let mut suppress_events = Vec::new();
    for (i, name) in m.suppress_events.iter().enumerate() {
        if !events::is_suppress_token(name) {
            return Err(v.err(
                &[k("module"), k("suppress_events"), Seg::Index(i)],
                format!(
                    "unknown event '{name}' (expected a word: {}; or an event name such as participant-join)",
                    events::SUBSCRIPTION_WORDS.join(", ")
                ),
            ));
        }
        if !suppress_events.contains(name) {
            suppress_events.push(name.clone());
        }
    }
    let mut allowed_sound_dirs = Vec::new();
    for (i, d) in m.allowed_sound_dirs.iter().enumerate() {
        let key = [k("module"), k("allowed_sound_dirs"), Seg::Index(i)];
        v.text_value(&key, d)?;
        if d.is_empty() || Path::new(d).components().any(|c| c == Component::ParentDir) {
            return Err(v.err(&key, "must be a folder path without '..'"));
        }
        allowed_sound_dirs.push(v.resolve_path(base, d));
    }
    let mode = |key: &str, text: &str| -> Result<u32, ConfigError> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let bits = (!digits.is_empty() && digits.len() <= 4)
            .then(|| u32::from_str_radix(digits, 8).ok())
            .flatten()
            .filter(|m| *m <= 0o777);
        bits.ok_or_else(|| {
            v.err(
                &p(key),
                format!(
                    "'{}' is not permission bits in octal, 0000..0777 (e.g. \"0640\")",
                    clip(text)
                ),
            )
        })
    };
    let wait_url_allow = http_prefixes(
        v,
        "module",
        "wait_url_allow",
        &m.wait_url_allow,
        "https:// is not fetched by this build (no TLS stack): use http:// or a local file",
    )?;
    Ok(ModuleConfig {
        wait_url_allow,
        timer,
        mixer_threads,
        log_level,
        sounds_dir: v.resolve_path(base, &m.sounds_dir),
        recordings_dir: v.resolve_path(base, &m.recordings_dir),
        public_recording_url,
        suppress_events,
        allowed_sound_dirs,
        recording_file_mode: mode("recording_file_mode", &m.recording_file_mode)?,
        recording_dir_mode: mode("recording_dir_mode", &m.recording_dir_mode)?,
    })
}

fn check_template(v: &Validator, path: &[Seg], t: &str) -> Result<(), ConfigError> {
    if t.is_empty() {
        return Err(v.err(path, "must not be empty"));
    }
    v.text_value(path, t)?;
    let mut rest = t;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(v.err(path, "unterminated '${' in template"));
        };
        let var = &after[..end];
        if !TEMPLATE_VARS.contains(&var) {
            return Err(v.err(
                path,
                format!(
                    "unknown variable '${{{var}}}' (expected one of: {})",
                    TEMPLATE_VARS.join(", ")
                ),
            ));
        }
        rest = &after[end + 1..];
    }
    // Recordings stay under recordings_dir. Variables expand to safe names
    // (never `..` or `/`), so only the literal text can lead out; say so here
    // rather than at the first recording. The runtime checks again (links).
    if t.starts_with('/') || t.starts_with('\\') {
        return Err(v.err(
            path,
            "is an absolute path; it must be relative to recordings_dir",
        ));
    }
    if t.split(['/', '\\']).any(|c| c == "..") {
        return Err(v.err(
            path,
            "contains '..'; recordings must stay under recordings_dir",
        ));
    }
    Ok(())
}

fn resolve_profile(
    v: &Validator,
    name: &str,
    r: &RawProfile,
    module: &ModuleConfig,
) -> Result<Profile, ConfigError> {
    let p = |key: &str| [k("profiles"), k(name), k(key)];
    let rate = r.rate;
    if ![8000, 16000, 24000, 32000, 48000].contains(&rate) {
        return Err(v.err(
            &p("rate"),
            format!("{rate} is not a supported rate (expected 8000, 16000, 24000, 32000 or 48000)"),
        ));
    }
    let interval_ms = r.interval_ms;
    if ![10, 20, 40, 60].contains(&interval_ms) {
        return Err(v.err(
            &p("interval_ms"),
            format!("{interval_ms} is not a supported interval (expected 10, 20, 40 or 60)"),
        ));
    }
    let energy = v.range(
        &p("energy_threshold_dbov"),
        r.energy_threshold_dbov,
        -96.0,
        0.0,
        " dBov",
    )?;
    let comfort_noise_dbov = if r.comfort_noise_dbov == 0.0 {
        None
    } else {
        Some(v.range(
            &p("comfort_noise_dbov"),
            r.comfort_noise_dbov,
            -90.0,
            -30.0,
            " dBov (or 0 = off)",
        )? as f32)
    };
    let max_members = v.int(&p("max_members"), r.max_members, 2, 1000)?;
    let top_n = v.int(&p("top_n"), r.top_n, 0, max_members)?;
    check_template(v, &p("record_template"), &r.record_template)?;
    let caller_controls = v.controls(
        &p("caller_controls"),
        &r.caller_controls,
        default_caller_map,
    )?;
    let moderator_controls = v.controls(
        &p("moderator_controls"),
        &r.moderator_controls,
        default_moderator_map,
    )?;
    let controls = caller_controls
        .merged(&moderator_controls)
        .map_err(|e| v.dtmf_err(&p("moderator_controls"), &e))?;
    let sounds = resolve_sounds(v, &[k("profiles"), k(name), k("sounds")], &r.sounds, module)?;
    Ok(Profile {
        name: name.to_string(),
        rate: rate as u32,
        interval_ms: interval_ms as u32,
        energy_threshold_dbov: energy as f32,
        talk_start_ms: v.int(&p("talk_start_ms"), r.talk_start_ms, 0, 5000)? as u32,
        talk_stop_ms: v.int(&p("talk_stop_ms"), r.talk_stop_ms, 0, 10_000)? as u32,
        jitter_buffer_frames: v.int(&p("jitter_buffer_frames"), r.jitter_buffer_frames, 1, 10)?
            as u32,
        comfort_noise_dbov,
        max_members: max_members as u32,
        limiter: r.limiter,
        top_n: top_n as u32,
        share_encodes: r.share_encodes,
        record_beep: r.record_beep,
        multitrack: r.multitrack,
        recording_timeout_s: v.int(&p("recording_timeout_s"), r.recording_timeout_s, 0, 86_400)?
            as u32,
        auto_record: r.auto_record,
        record_template: r.record_template.clone(),
        allow_dynamic_rooms: r.allow_dynamic_rooms,
        pin_tries: v.int(&p("pin_tries"), r.pin_tries, 1, 10)? as u32,
        pin_first_digit_timeout_ms: v.int(
            &p("pin_first_digit_timeout_ms"),
            r.pin_first_digit_timeout_ms,
            1000,
            60_000,
        )? as u64,
        pin_inter_digit_timeout_ms: v.int(
            &p("pin_inter_digit_timeout_ms"),
            r.pin_inter_digit_timeout_ms,
            500,
            30_000,
        )? as u64,
        pin_failures_per_minute: v.int(
            &p("pin_failures_per_minute"),
            r.pin_failures_per_minute,
            0,
            1000,
        )? as u32,
        dtmf_inter_digit_timeout_ms: v.int(
            &p("dtmf_inter_digit_timeout_ms"),
            r.dtmf_inter_digit_timeout_ms,
            100,
            10_000,
        )? as u64,
        caller_controls,
        moderator_controls,
        controls,
        sounds,
        trust_app_flags: v.choice(
            &p("trust_app_flags"),
            &r.trust_app_flags,
            &[
                ("always", TrustAppFlags::Always),
                ("no-host-pin", TrustAppFlags::NoHostPin),
                ("never", TrustAppFlags::Never),
            ],
        )?,
        invite: InviteRules {
            who: v.choice(
                &p("invite"),
                &r.invite,
                &[
                    ("moderators", InvitePolicy::Moderators),
                    ("anyone", InvitePolicy::Anyone),
                    ("nobody", InvitePolicy::Nobody),
                ],
            )?,
            per_member_per_minute: v.int(
                &p("invites_per_minute_member"),
                r.invites_per_minute_member,
                0,
                60,
            )? as u32,
            per_room_per_minute: v.int(
                &p("invites_per_minute_room"),
                r.invites_per_minute_room,
                0,
                600,
            )? as u32,
            destinations: {
                let mut out = Vec::new();
                for (i, pat) in r.invite_destinations.iter().enumerate() {
                    check_pattern(pat).map_err(|e| {
                        v.err(
                            &[
                                k("profiles"),
                                k(name),
                                k("invite_destinations"),
                                Seg::Index(i),
                            ],
                            e,
                        )
                    })?;
                    out.push(pat.clone());
                }
                out
            },
        },
    })
}

/// A value as an error quotes it: at most 64 characters, so an over-long
/// value is not echoed whole into the host's log.
fn clip(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &value[..end]),
        None => value.to_string(),
    }
}

fn resolve_room(
    v: &Validator,
    i: usize,
    r: &RawRoom,
    profiles: &HashMap<String, Profile>,
    module: &ModuleConfig,
) -> Result<RoomConfig, ConfigError> {
    let p = |key: &str| [k("rooms"), Seg::Index(i), k(key)];
    validate_room_name(&r.name)
        .map_err(|e| v.err(&p("name"), format!("'{}': {e}", clip(&r.name))))?;
    let account = if r.account.is_empty() {
        None
    } else {
        validate_account(&r.account)
            .map_err(|e| v.err(&p("account"), format!("'{}': {e}", clip(&r.account))))?;
        Some(r.account.clone())
    };
    let profile_name = r.profile.clone().unwrap_or_else(|| "default".into());
    let Some(profile) = profiles.get(&profile_name) else {
        let mut known: Vec<&str> = profiles.keys().map(String::as_str).collect();
        known.sort();
        return Err(v.err(
            &p("profile"),
            format!(
                "no profile named '{profile_name}' (defined: {})",
                known.join(", ")
            ),
        ));
    };
    let max_participants = match r.max_participants {
        Some(n) => v.int(&p("max_participants"), n, 2, 1000)? as u32,
        None => profile.max_members,
    };
    for (key, pin) in [("pin", &r.pin), ("host_pin", &r.host_pin)] {
        if let Some(pin) = pin {
            // Never the PIN itself: config errors reach the host's log.
            validate_pin(pin).map_err(|e| v.err(&p(key), format!("'{}': {e}", super::PIN_MASK)))?;
        }
    }
    if r.host_pin.is_some() && r.pin.is_none() {
        return Err(v.err(
            &p("host_pin"),
            "host_pin requires pin (otherwise nobody is asked for a PIN)",
        ));
    }
    if r.host_pin.is_some() && r.host_pin == r.pin {
        return Err(v.err(
            &p("host_pin"),
            "host_pin must differ from pin, or hosts can't be told apart",
        ));
    }
    let auto_record = r.auto_record.unwrap_or(profile.auto_record);
    if auto_record && !r.recording_enabled {
        return Err(v.err(
            &p("auto_record"),
            "auto_record needs recording_enabled = true",
        ));
    }
    let sound = |key: &str, over: &Option<String>, inherited: &Option<PathBuf>| match over {
        Some(s) => v.sound(&[k("rooms"), Seg::Index(i)], key, s, module),
        None => Ok(inherited.clone()),
    };
    Ok(RoomConfig {
        name: r.name.clone(),
        account,
        profile: profile_name.clone(),
        max_participants,
        pin: r.pin.clone(),
        host_pin: r.host_pin.clone(),
        wait_for_host: r.wait_for_host,
        mute_on_entry: r.mute_on_entry,
        announce_join_leave: r.announce_join_leave,
        recording_enabled: r.recording_enabled,
        auto_record,
        music_on_hold: sound("music_on_hold", &r.music_on_hold, &profile.sounds.moh)?,
        mute_non_moderators: r.mute_non_moderators,
        announce_caller_name: r.announce_caller_name,
        enter_sound: sound("enter_sound", &r.enter_sound, &profile.sounds.enter)?,
        exit_sound: sound("exit_sound", &r.exit_sound, &profile.sounds.exit)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::dtmf::DtmfAction;
    use crate::control::testutil::Rng;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_config(text, Path::new("/etc/huddle/huddle.conf"))
    }

    fn err(text: &str) -> ConfigError {
        parse(text).expect_err(text)
    }

    #[test]
    fn webhook_and_wait_url_prefixes_are_checked() {
        let e = err("[webhooks]\nenabled = true\n");
        assert_eq!(e.key.as_deref(), Some("webhooks.allow"), "{e}");
        let e = err("[webhooks]\nallow = [\"http://a/\", \"https://b/\"]\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.problem.contains("TLS"), "{e}");
        let e = err("[module]\nwait_url_allow = [\"http://\"]\n");
        assert!(e.problem.contains("http://<host>"), "{e}");
        let e = err("[webhooks]\nqueue = 0\n");
        assert_eq!(e.key.as_deref(), Some("webhooks.queue"), "{e}");
        let e = err("[webhooks]\nretries = 3\n");
        assert!(e.to_string().contains("retries"), "{e}");
    }

    #[test]
    fn shipped_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/huddle.conf");
        let c = load_config(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.profile("default").unwrap().rate, 16000);
        assert_eq!(c.profile("default").unwrap().interval_ms, 20);
        assert_eq!(c.profile("wideband").unwrap().rate, 48000);
        assert_eq!(c.profile("narrowband").unwrap().rate, 8000);
        for name in [
            "meeting",
            "webinar",
            "training",
            "confidential",
            "openline",
            "demo",
        ] {
            assert!(c.room("any", name).is_some(), "{name}");
        }
        let demo = c.room("", "demo").unwrap();
        assert_eq!(demo.pin.as_deref(), Some("1234"));
        assert_eq!(demo.host_pin.as_deref(), Some("4321"));
        assert!(demo.wait_for_host && demo.recording_enabled);
        let webinar = c.room("", "webinar").unwrap();
        assert_eq!(webinar.max_participants, 1000);
        assert!(webinar.auto_record && webinar.wait_for_host);
        assert!(c.room("", "training").unwrap().mute_on_entry);
        assert!(c.room("", "meeting").unwrap().pin.is_none());
        let conf_dir = path.parent().unwrap();
        assert_eq!(
            c.module.sounds_dir,
            std::path::absolute(conf_dir.join("sounds")).unwrap()
        );
        let moh = c
            .room("", "meeting")
            .unwrap()
            .music_on_hold
            .clone()
            .unwrap();
        assert!(
            moh.is_absolute() && moh.ends_with("sounds/hold.wav"),
            "{moh:?}"
        );
        let wb = c.profile("wideband").unwrap();
        assert_eq!(wb.controls.lookup("*0"), Some(DtmfAction::Leave));
        assert_eq!(wb.controls.lookup("*92"), Some(DtmfAction::Lock));
        assert_eq!(wb.controls.lookup("#"), None);
    }

    #[test]
    fn empty_config_has_default_profile() {
        let c = parse("").unwrap();
        let p = c.profile("default").unwrap();
        assert_eq!(
            (p.rate, p.max_members, p.comfort_noise_dbov),
            (16000, 25, None)
        );
        assert_eq!(c.module.timer, Timer::Realtime);
        assert_eq!(c.module.sounds_dir, Path::new("/etc/huddle/sounds"));
        assert_eq!(
            p.sounds.pin.as_deref(),
            Some(Path::new("/etc/huddle/sounds/pin.wav"))
        );
        assert_eq!(p.sounds.enter, None);
        assert_eq!(
            p.controls.lookup("*91"),
            Some(DtmfAction::MuteAllNonModerators)
        );
    }

    #[test]
    fn account_room_wins_over_global() {
        let c = parse(
            "[[rooms]]\nname = \"r\"\nmax_participants = 5\n\
             [[rooms]]\nname = \"r\"\naccount = \"AC1\"\nmax_participants = 7\n",
        )
        .unwrap();
        assert_eq!(c.room("AC1", "r").unwrap().max_participants, 7);
        assert_eq!(c.room("AC2", "r").unwrap().max_participants, 5);
        assert!(c.room("AC1", "x").is_none());
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e =
            err("[module]\ntimer = \"manual\"\n\n[profiles.default]\nrate = 16000\nratee = 8000\n");
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.problem.contains("ratee"), "{e}");
        assert_eq!(e.key.as_deref(), Some("profiles.default.ratee"), "{e}");
        assert!(
            e.to_string()
                .starts_with("/etc/huddle/huddle.conf:6: key 'profiles.default.ratee': "),
            "{e}"
        );
        let e = err("[[rooms]]\nname = \"a\"\nwait_for_hots = true\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().contains("wait_for_hots"), "{e}");
    }

    #[test]
    fn out_of_range_names_file_line_key() {
        let e = err("[profiles.default]\ninterval_ms = 20\nrate = 44100\n");
        assert_eq!(
            e.to_string(),
            "/etc/huddle/huddle.conf:3: key 'profiles.default.rate': 44100 is not a supported rate \
             (expected 8000, 16000, 24000, 32000 or 48000)"
        );
        let e = err("[profiles.x]\nmax_members = 1001\n");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("profiles.x.max_members"))
        );
        let e = err("[profiles.x]\ncomfort_noise_dbov = -20.0\n");
        assert_eq!(e.line, Some(2));
        let e = err("[profiles.x]\nenergy_threshold_dbov = nan\n");
        assert_eq!(e.line, Some(2), "{e}");
        let e = err("[profiles.x]\nmax_members = 10\ntop_n = 11\n");
        assert_eq!(e.key.as_deref(), Some("profiles.x.top_n"));
        let e = err("[module]\nlog_level = \"loud\"\n");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("module.log_level"))
        );
        let e = err("[module]\nsuppress_events = [\"join\", \"explode\"]\n");
        assert!(e.to_string().contains("explode"), "{e}");
        let e = err("[profiles.x]\nrecord_template = \"${room}-${rom}.wav\"\n");
        assert!(e.problem.contains("${rom}"), "{e}");
        let e = err("[profiles.x]\nrate = \"fast\"\n");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("profiles.x.rate")),
            "{e}"
        );
    }

    #[test]
    fn room_rules() {
        let e = err("[[rooms]]\nname = \"a\"\n\n[[rooms]]\nname = \"b\"\nhost_pin = \"99\"\n");
        assert_eq!(e.line, Some(6), "{e}");
        assert_eq!(e.key.as_deref(), Some("rooms[1].host_pin"));
        assert!(e.problem.contains("requires pin"));
        let e = err("[[rooms]]\nname = \"b\"\npin = \"12x\"\n");
        assert_eq!(e.line, Some(3));
        let e = err("[[rooms]]\nname = \"b\"\npin = \"123456789012345678901\"\n");
        assert!(e.problem.contains("1-20"));
        let e = err("[[rooms]]\nname = \"b\"\npin = \"1\"\nhost_pin = \"1\"\n");
        assert!(e.problem.contains("differ"));
        let e = err("[[rooms]]\nname = \"a/b\"\n");
        assert_eq!(e.key.as_deref(), Some("rooms[0].name"));
        let e = err("[[rooms]]\nname = \"a\"\n[[rooms]]\nname = \"a\"\n");
        assert_eq!(e.line, Some(4), "{e}");
        let e = err("[[rooms]]\nname = \"a\"\nprofile = \"hd\"\n");
        assert!(e.problem.contains("'hd'") && e.line == Some(3), "{e}");
        let e = err("[[rooms]]\nname = \"a\"\nmax_participants = 1\n");
        assert_eq!(e.line, Some(3));
        let e = err("[[rooms]]\nname = \"a\"\nrecording_enabled = false\nauto_record = true\n");
        assert_eq!(e.key.as_deref(), Some("rooms[0].auto_record"));
        let e = err("[[rooms]]\npin = \"1\"\n");
        assert!(e.problem.contains("name"), "{e}");
    }

    #[test]
    fn bad_digit_maps() {
        let e = err("[profiles.default.caller_controls]\n\"*1\" = \"toggle-mute\"\n\"*2\" = \"self-destruct\"\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert_eq!(
            e.key.as_deref(),
            Some("profiles.default.caller_controls.*2")
        );
        assert!(e.problem.contains("self-destruct"), "{e}");
        let e = err("[profiles.default.caller_controls]\n\"*x\" = \"mute\"\n");
        assert_eq!(e.line, Some(2), "{e}");
        let e = err("[profiles.default]\ncaller_controls = \"fancy\"\n");
        assert_eq!(e.line, Some(2));
        let e = err("[profiles.default.moderator_controls]\n\"*1\" = \"lock\"\n");
        assert!(e.problem.contains("both"), "{e}");
        let c = parse(
            "[profiles.default]\ncaller_controls = \"none\"\nmoderator_controls = \"none\"\n",
        )
        .unwrap();
        assert!(c.profile("default").unwrap().controls.is_empty());
    }

    #[test]
    fn syntax_error_and_missing_file() {
        let e = err("[module]\ntimer = \n");
        assert_eq!(e.line, Some(2), "{e}");
        let e = load_config(Path::new("/nonexistent/huddle.conf")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/huddle.conf: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn mutated_configs_never_panic() {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/huddle.conf"))
                .unwrap();
        let mut rng = Rng::new(3);
        let alphabet: Vec<char> = "[]=\"\n#.abc019*- {}".chars().collect();
        for _ in 0..300 {
            let s = rng.mutate(&text, &alphabet);
            if let Err(e) = parse(&s) {
                assert!(!e.problem.is_empty());
            }
        }
        for _ in 0..300 {
            let _ = parse(&rng.string(&alphabet, 80));
        }
    }
}
