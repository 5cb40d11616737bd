//! The module configuration file (TOML). Deserialised with serde into raw
//! structs that reject unknown keys, then validated and resolved into the
//! typed [`Config`]. Every error names `file:line: key 'a.b': problem`; the
//! line of a semantic error is found by looking the key up in a
//! span-preserving parse of the same text.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml_edit::ImDocument;

use crate::audio::opus::EncoderSettings;
use crate::control::dtmf::DigitMap;
use crate::control::validate_room_name;
use crate::room::invite::InviteRules;

mod raw;
mod sections;
#[cfg(test)]
mod tests;
mod validator;

use raw::{RawConfig, RawProfile};
use sections::{resolve_module, resolve_profile, resolve_room, resolve_webhooks};
use validator::{k, path_string, Seg, Validator};

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
    /// Subscription words, FreeSWITCH words or event names (see
    /// `room::events::check_suppress_token`).
    pub suppress_events: Vec<String>,
    /// Folders outside `sounds_dir` that sound files named in this config
    /// may come from; nothing else outside `sounds_dir` is accepted.
    pub allowed_sound_dirs: Vec<PathBuf>,
    /// Permission bits of recording files and of the folders huddle makes
    /// for them, applied whatever the process umask is.
    pub recording_file_mode: u32,
    pub recording_dir_mode: u32,
    /// `tls_ca_file`'s certificates: CAs an https:// webhook or waitUrl
    /// server may be certified by, besides the system's. Read at load.
    pub tls_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
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
    /// A cascade bridge leg's jitter buffer, in frames.
    pub bridge_jitter_frames: u32,
    /// `None` = comfort noise off.
    pub comfort_noise_dbov: Option<f32>,
    pub max_members: u32,
    pub limiter: bool,
    /// 0 = mix every talker.
    pub top_n: u32,
    /// One encode per distinct mix (true) or per listener (false: the naive
    /// baseline the benchmarks measure against).
    pub share_encodes: bool,
    /// Inputs quieter than the member's gate are not decoded (true) or are
    /// decoded like any other (false: what AudioBridge does; to measure).
    pub skip_quiet_inputs: bool,
    /// What the room's Opus listeners get unless their app data says
    /// otherwise (`bitrate=`, `fec=`, `dtx=`).
    pub opus: EncoderSettings,
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

pub fn parse_config(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let mut v = Validator {
        text,
        file: origin.to_path_buf(),
        doc: None,
    };
    if text.len() > MAX_CONFIG_BYTES {
        return Err(v.err(&[], format!("config larger than {MAX_CONFIG_BYTES} bytes")));
    }
    // One parse: the document keeps every key's span for the line numbers
    // of later errors, and a copy of it is what serde reads.
    let parsed = ImDocument::parse(text).map_err(toml_edit::de::Error::from);
    v.doc = parsed.as_ref().ok().cloned();
    let raw = parsed
        .and_then(|doc| RawConfig::deserialize(toml_edit::de::Deserializer::from(doc)))
        .map_err(|e| {
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
