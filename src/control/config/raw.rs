//! The file's shape as serde reads it: every table refuses unknown keys,
//! defaults are filled in, nothing is checked yet.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) module: RawModule,
    #[serde(default)]
    pub(super) profiles: BTreeMap<String, RawProfile>,
    #[serde(default)]
    pub(super) rooms: Vec<RawRoom>,
    #[serde(default)]
    pub(super) webhooks: RawWebhooks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawWebhooks {
    pub(super) enabled: bool,
    pub(super) allow: Vec<String>,
    pub(super) secret: String,
    pub(super) timeout_ms: i64,
    pub(super) max_attempts: i64,
    pub(super) retry_base_ms: i64,
    pub(super) queue: i64,
    pub(super) workers: i64,
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
pub(super) struct RawModule {
    pub(super) timer: String,
    pub(super) mixer_threads: i64,
    pub(super) log_level: String,
    pub(super) sounds_dir: String,
    pub(super) recordings_dir: String,
    pub(super) public_recording_url: String,
    pub(super) suppress_events: Vec<String>,
    pub(super) allowed_sound_dirs: Vec<String>,
    pub(super) recording_file_mode: String,
    pub(super) recording_dir_mode: String,
    pub(super) wait_url_allow: Vec<String>,
    pub(super) tls_ca_file: String,
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
            tls_ca_file: String::new(),
        }
    }
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum RawControls {
    Named(String),
    Table(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawProfile {
    pub(super) rate: i64,
    pub(super) interval_ms: i64,
    pub(super) energy_threshold_dbov: f64,
    pub(super) talk_start_ms: i64,
    pub(super) talk_stop_ms: i64,
    pub(super) jitter_buffer_frames: i64,
    pub(super) bridge_jitter_frames: i64,
    pub(super) comfort_noise_dbov: f64,
    pub(super) max_members: i64,
    pub(super) limiter: bool,
    pub(super) top_n: i64,
    pub(super) share_encodes: bool,
    pub(super) skip_quiet_inputs: bool,
    pub(super) opus_bitrate: i64,
    pub(super) opus_complexity: i64,
    pub(super) opus_fec: bool,
    pub(super) opus_dtx: bool,
    pub(super) opus_packet_loss_pct: i64,
    pub(super) record_beep: bool,
    pub(super) multitrack: bool,
    pub(super) recording_timeout_s: i64,
    pub(super) auto_record: bool,
    pub(super) record_template: String,
    pub(super) allow_dynamic_rooms: bool,
    pub(super) pin_tries: i64,
    pub(super) pin_first_digit_timeout_ms: i64,
    pub(super) pin_inter_digit_timeout_ms: i64,
    pub(super) pin_failures_per_minute: i64,
    pub(super) dtmf_inter_digit_timeout_ms: i64,
    pub(super) caller_controls: RawControls,
    pub(super) moderator_controls: RawControls,
    pub(super) sounds: RawSounds,
    pub(super) trust_app_flags: String,
    pub(super) invite: String,
    pub(super) invites_per_minute_member: i64,
    pub(super) invites_per_minute_room: i64,
    pub(super) invite_destinations: Vec<String>,
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
            bridge_jitter_frames: 1,
            comfort_noise_dbov: 0.0,
            max_members: 25,
            limiter: true,
            top_n: 0,
            share_encodes: true,
            skip_quiet_inputs: true,
            // From the measured table in the README (Audio): complexity 8
            // gives 10's PESQ-WB (3.82 at 32 kbit/s, 0.38 over 5) and costs
            // one encode per distinct mix, not per listener.
            opus_bitrate: 32_000,
            opus_complexity: 8,
            opus_fec: false,
            opus_dtx: false,
            opus_packet_loss_pct: 0,
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
        pub(super) struct RawSounds { $($field: String,)* }

        impl Default for RawSounds {
            fn default() -> Self {
                RawSounds { $($field: $default.to_string(),)* }
            }
        }

        pub(super) fn resolve_sounds(
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

pub(super) fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoom {
    pub(super) name: String,
    #[serde(default)]
    pub(super) account: String,
    #[serde(default)]
    pub(super) profile: Option<String>,
    #[serde(default)]
    pub(super) max_participants: Option<i64>,
    #[serde(default)]
    pub(super) pin: Option<String>,
    #[serde(default)]
    pub(super) host_pin: Option<String>,
    #[serde(default)]
    pub(super) wait_for_host: bool,
    #[serde(default)]
    pub(super) mute_on_entry: bool,
    #[serde(default = "yes")]
    pub(super) announce_join_leave: bool,
    #[serde(default = "yes")]
    pub(super) recording_enabled: bool,
    #[serde(default)]
    pub(super) auto_record: Option<bool>,
    #[serde(default)]
    pub(super) music_on_hold: Option<String>,
    #[serde(default)]
    pub(super) mute_non_moderators: bool,
    #[serde(default)]
    pub(super) announce_caller_name: bool,
    #[serde(default)]
    pub(super) enter_sound: Option<String>,
    #[serde(default)]
    pub(super) exit_sound: Option<String>,
}
