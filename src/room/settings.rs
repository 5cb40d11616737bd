//! What a room and a member are made from: resolved settings, with the
//! config, the profile and the app args already merged by the control layer.

use std::sync::Arc;

use crate::audio::opus::EncoderSettings;
use crate::audio::vad::VadConfig;
use crate::room::io::Channel;

/// Decoded sounds at the room rate, loaded by the runtime (the core does no I/O).
#[derive(Clone, Default, Debug)]
pub struct Sounds {
    pub moh: Option<Arc<[i16]>>,
    pub enter: Option<Arc<[i16]>>,
    pub exit: Option<Arc<[i16]>>,
    pub pin: Option<Arc<[i16]>>,
    pub bad_pin: Option<Arc<[i16]>>,
    pub locked: Option<Arc<[i16]>>,
    pub muted: Option<Arc<[i16]>>,
    pub unmuted: Option<Arc<[i16]>>,
    pub alone: Option<Arc<[i16]>>,
    pub kicked: Option<Arc<[i16]>>,
    pub refused: Option<Arc<[i16]>>,
    /// Loaded even when the profile's `record_beep` is off: a caller's
    /// `recordBeep=true` may still ask for it.
    pub record_beep: Option<Arc<[i16]>>,
    /// "Say your name after the tone".
    pub name_prompt: Option<Arc<[i16]>>,
}

#[derive(Clone, Debug)]
pub struct RoomSettings {
    pub account: String,
    pub name: String,
    pub profile: String,
    pub rate: u32,
    pub interval_ms: u32,
    pub max_members: u32,
    pub pin: Option<String>,
    pub host_pin: Option<String>,
    pub pin_tries: u32,
    pub pin_first_digit_timeout_ms: u64,
    pub pin_inter_digit_timeout_ms: u64,
    pub pin_failures_per_minute: u32,
    pub wait_for_host: bool,
    pub mute_on_entry: bool,
    pub announce_join_leave: bool,
    pub mute_non_moderators: bool,
    pub vad: VadConfig,
    pub jitter_frames: usize,
    /// A cascade bridge's depth (`room::cascade`).
    pub bridge_jitter_frames: usize,
    pub limiter: bool,
    pub top_n: usize,
    /// 0 = off, else the comfort noise level in dBov.
    pub comfort_noise_dbov: f32,
    /// Encode once per distinct mix (true) or once per member (false, the
    /// naive baseline the benchmarks compare against).
    pub share_encodes: bool,
    /// Skip decoding inputs quieter than the member's gate (true), or
    /// decode every input (false, the baseline the benchmarks compare with).
    pub skip_quiet_inputs: bool,
    /// The profile's Opus encoder settings: where each member's start.
    pub opus: EncoderSettings,
    pub recording_enabled: bool,
    /// 0 = recordings never time out for silence.
    pub recording_timeout_ms: u64,
    /// The profile's `record_beep` (a first setter's `recordBeep` wins).
    pub record_beep: bool,
    /// One extra track per member while recording.
    pub multitrack: bool,
    /// Joiners say their name; it is played to the room on entry and exit.
    pub announce_caller_name: bool,
    pub auto_record: bool,
    pub sounds: Sounds,
    /// Wall clock (Unix ms) at room time 0, for event timestamps.
    pub wall_epoch_ms: u64,
    /// Event names never delivered (from the config).
    pub suppress_events: Vec<String>,
    /// Seed for comfort noise and ids, so a run is reproducible.
    pub seed: u64,
    /// Who may `*8` invite, how often, where to.
    pub invite: super::invite::InviteRules,
}

/// `beep` as `<Conference>` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Beep {
    #[default]
    Both,
    None,
    OnEnter,
    OnExit,
}

impl Beep {
    pub fn on_enter(self) -> bool {
        matches!(self, Beep::Both | Beep::OnEnter)
    }
    pub fn on_exit(self) -> bool {
        matches!(self, Beep::Both | Beep::OnExit)
    }
}

/// Room-wide options the first participant that sets them decides
/// (`statusCallback*`, `record`, `trim`, ...).
#[derive(Clone, Debug, Default)]
pub struct FirstSetter {
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
    pub status_callback_event: Option<Vec<String>>,
    pub recording_status_callback: Option<String>,
    pub recording_status_callback_method: Option<String>,
    pub recording_status_callback_event: Option<Vec<String>>,
    pub record_from_start: Option<bool>,
    pub trim_silence: Option<bool>,
    /// `eventCallbackUrl`: where `conference-end` is posted.
    pub event_callback_url: Option<String>,
    /// `recordBeep`: overrides the profile's `record_beep`.
    pub record_beep: Option<bool>,
    /// `recordingTimeout` in ms: overrides the profile's `recording_timeout_s`.
    pub recording_timeout_ms: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct MemberSpec {
    pub channel: Channel,
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub caller_name: String,
    pub label: String,
    pub moderator: bool,
    pub muted: bool,
    pub deaf: bool,
    pub hold: bool,
    pub start_on_enter: bool,
    pub end_on_exit: bool,
    /// `mintwo`: once this member is in, the room ends when fewer than two
    /// members remain.
    pub min_two: bool,
    /// Not counted, not announced (FreeSWITCH `ghost`).
    pub ghost: bool,
    /// A cascade's bridge leg to another node's room: a ghost that also
    /// sends no events (see `room::cascade`).
    pub bridge: bool,
    pub beep: Beep,
    /// Call id of the member this one coaches.
    pub coach: Option<String>,
    /// A PIN given up front (app args); otherwise the caller is prompted when
    /// the room has a PIN.
    pub pin: Option<String>,
    pub max_participants: Option<u32>,
    pub wait_music: Option<Arc<[i16]>>,
    pub opus: EncoderSettings,
    pub jitter_frames: Option<usize>,
    /// The codec to send before the member's first frame shows what it uses.
    pub out_codec: Option<crate::room::io::Codec>,
    pub first_setter: FirstSetter,
    /// `announceCallerName=`: this caller's own choice over the room's.
    pub announce_name: Option<bool>,
    /// `enterSound=` / `exitSound=`: played for this member's entry / exit
    /// instead of the room's sounds.
    pub enter_sound: Option<Arc<[i16]>>,
    pub exit_sound: Option<Arc<[i16]>>,
}
