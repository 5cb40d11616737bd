//! Merges config, profile and app args into what the room core takes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audio::tone::ToneKind;
use crate::audio::vad::VadConfig;
use crate::control::app_args::{self, AppArgs};
use crate::control::config::{Config, Profile, RoomConfig, TrustAppFlags};
use crate::room::io::{Channel, Codec};
use crate::room::settings::{Beep, FirstSetter, MemberSpec, RoomSettings, Sounds};

use super::sounds::SoundCache;

/// Who is calling, copied from the host's `huddle_caller`.
#[derive(Debug, Clone, Default)]
pub struct CallerInfo {
    pub channel: String,
    pub account: String,
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub caller_name: String,
}

#[allow(clippy::too_many_arguments)] // each is a distinct input the merge needs
/// A room's settings when it is created: the config's room entry (if any)
/// over its profile, and, for a dynamic room, the creating caller's `+pin`.
pub fn room_settings(
    config: &Config,
    profile: &Profile,
    room: Option<&RoomConfig>,
    account: &str,
    name: &str,
    mute_non_moderators: bool,
    sounds: &SoundCache,
    wall_epoch_ms: u64,
    seed: u64,
) -> RoomSettings {
    let rate = profile.rate;
    let load = |p: &Option<PathBuf>| sounds.optional(p.as_deref(), rate);
    let tone = |k: ToneKind| -> Option<Arc<[i16]>> { Some(sounds.tone(k, rate)) };
    let s = &profile.sounds;
    let moh_path = room.map_or(s.moh.clone(), |r| r.music_on_hold.clone());
    let enter_path = room.map_or(s.enter.clone(), |r| r.enter_sound.clone());
    let exit_path = room.map_or(s.exit.clone(), |r| r.exit_sound.clone());
    let sounds = Sounds {
        moh: load(&moh_path),
        enter: load(&enter_path).or_else(|| tone(ToneKind::Enter)),
        exit: load(&exit_path).or_else(|| tone(ToneKind::Exit)),
        pin: load(&s.pin),
        bad_pin: load(&s.bad_pin),
        locked: load(&s.locked),
        muted: load(&s.muted),
        unmuted: load(&s.unmuted),
        alone: load(&s.alone),
        kicked: load(&s.kicked),
        refused: load(&s.denied).or_else(|| tone(ToneKind::Refuse)),
        record_beep: load(&s.recording_started).or_else(|| tone(ToneKind::Record)),
        name_prompt: tone(ToneKind::Record),
    };
    // A dynamic room has no PIN until an operator sets one (`pin <room> <digits>`):
    // the app args' PIN is what the caller presents, never what the room asks.
    let (pin, host_pin) = room.map_or((None, None), |r| (r.pin.clone(), r.host_pin.clone()));
    RoomSettings {
        account: account.to_string(),
        name: name.to_string(),
        profile: profile.name.clone(),
        rate,
        interval_ms: profile.interval_ms,
        max_members: room.map_or(profile.max_members, |r| r.max_participants),
        pin,
        host_pin,
        pin_tries: profile.pin_tries,
        pin_first_digit_timeout_ms: profile.pin_first_digit_timeout_ms,
        pin_inter_digit_timeout_ms: profile.pin_inter_digit_timeout_ms,
        pin_failures_per_minute: profile.pin_failures_per_minute,
        wait_for_host: room.is_some_and(|r| r.wait_for_host),
        mute_on_entry: room.is_some_and(|r| r.mute_on_entry),
        announce_join_leave: room.is_none_or(|r| r.announce_join_leave),
        mute_non_moderators: room.is_some_and(|r| r.mute_non_moderators) || mute_non_moderators,
        vad: VadConfig {
            threshold_dbov: profile.energy_threshold_dbov,
            start_ms: profile.talk_start_ms,
            stop_ms: profile.talk_stop_ms,
        },
        jitter_frames: profile.jitter_buffer_frames as usize,
        bridge_jitter_frames: profile.bridge_jitter_frames as usize,
        limiter: profile.limiter,
        top_n: profile.top_n as usize,
        comfort_noise_dbov: profile.comfort_noise_dbov.unwrap_or(0.0),
        share_encodes: profile.share_encodes,
        skip_quiet_inputs: profile.skip_quiet_inputs,
        opus: profile.opus,
        recording_enabled: room.is_none_or(|r| r.recording_enabled),
        recording_timeout_ms: u64::from(profile.recording_timeout_s) * 1000,
        record_beep: profile.record_beep,
        multitrack: profile.multitrack,
        announce_caller_name: room.is_some_and(|r| r.announce_caller_name),
        auto_record: room.map_or(profile.auto_record, |r| r.auto_record),
        sounds,
        wall_epoch_ms,
        suppress_events: config.module.suppress_events.clone(),
        seed,
        invite: profile.invite.clone(),
    }
}

/// Whether app data that asks for a moderator gets one, under the
/// profile's `trust_app_flags` (the README's trust model): in a room with a
/// host PIN, by default only that PIN makes a moderator.
fn app_data_moderator(trust: TrustAppFlags, room_has_host_pin: bool) -> bool {
    match trust {
        TrustAppFlags::Always => true,
        TrustAppFlags::NoHostPin => !room_has_host_pin,
        TrustAppFlags::Never => false,
    }
}

/// A caller's member spec from the app args. `sounds_dir` confines
/// `waitUrl` as `play` is confined (the app refuses an escaping one first).
pub fn member_spec(
    caller: &CallerInfo,
    args: &AppArgs,
    room: &RoomSettings,
    trust: TrustAppFlags,
    sounds: &SoundCache,
    sounds_dir: &Path,
) -> MemberSpec {
    let o = &args.opts;
    let rate = room.rate;
    let asked = o.moderator == Some(true);
    let moderator = asked && app_data_moderator(trust, room.host_pin.is_some());
    if asked && !moderator {
        log::warn!(target: "huddle::app",
            "call {}: app data asks for a moderator; not granted in room {} (trust_app_flags; the host PIN makes moderators)",
            caller.channel, room.name);
    }
    let wait_music = match (&o.wait_url, o.no_moh) {
        (_, Some(true)) => Some(Arc::<[i16]>::from(Vec::new())),
        // Fetched after the join (wait_url.rs); the room's music until then.
        (Some(url), _) if super::wait_url::is_remote(url) => None,
        (Some(url), _) => {
            match super::paths::confined(sounds_dir, super::wait_url::local_path(url)) {
                Ok(path) => sounds.optional(Some(&path), rate),
                Err(e) => {
                    log::warn!(target: "huddle::app", "waitUrl: {e}; using the room's music");
                    None
                }
            }
        }
        _ => None,
    };
    // The profile's settings, then this leg's own: what the host negotiated
    // for it (SDP's maxaveragebitrate, useinbandfec, usedtx) arrives as app data.
    let mut opus = room.opus;
    if let Some(b) = o.bitrate {
        opus.bitrate = b as i32;
    }
    if let Some(f) = o.fec {
        opus.fec = f;
        // FEC without a loss estimate codes nothing: the profile's, or 10%.
        opus.packet_loss_pct = match (f, room.opus.packet_loss_pct) {
            (false, _) => 0,
            (true, 0) => 10,
            (true, pct) => pct,
        };
    }
    if let Some(d) = o.dtx {
        opus.dtx = d;
    }
    let events = |v: &Option<Vec<app_args::StatusEvent>>| {
        v.as_ref()
            .map(|e| e.iter().map(|x| x.name().to_string()).collect())
    };
    MemberSpec {
        channel: Channel::new(&caller.channel),
        call_id: if caller.call_id.is_empty() {
            caller.channel.clone()
        } else {
            caller.call_id.clone()
        },
        from: caller.from.clone(),
        to: caller.to.clone(),
        caller_name: caller.caller_name.clone(),
        label: o.label.clone().unwrap_or_default(),
        moderator,
        muted: o.muted == Some(true),
        deaf: o.deaf == Some(true),
        hold: o.hold == Some(true),
        start_on_enter: o.start_conference_on_enter.unwrap_or(true),
        end_on_exit: o.end_conference_on_exit == Some(true),
        min_two: o.min_two == Some(true),
        ghost: o.ghost == Some(true),
        bridge: o.bridge == Some(true),
        beep: match o.beep {
            Some(app_args::Beep::False) => Beep::None,
            Some(app_args::Beep::OnEnter) => Beep::OnEnter,
            Some(app_args::Beep::OnExit) => Beep::OnExit,
            _ => Beep::Both,
        },
        coach: o.coach.clone(),
        pin: args.pin.clone(),
        max_participants: o.max_participants,
        wait_music,
        opus,
        jitter_frames: o.jitter_buffer_size.map(jitter_frames),
        out_codec: o.codec.map(codec_of),
        first_setter: FirstSetter {
            status_callback: o.status_callback.clone(),
            status_callback_method: o.status_callback_method.map(method_name),
            status_callback_event: events(&o.status_callback_events),
            recording_status_callback: o.recording_status_callback.clone(),
            recording_status_callback_method: o.recording_status_callback_method.map(method_name),
            recording_status_callback_event: o
                .recording_status_callback_events
                .as_ref()
                .map(|e| e.iter().map(|x| x.name().to_string()).collect()),
            record_from_start: o.record.map(|r| r == app_args::RecordMode::RecordFromStart),
            trim_silence: o.trim.map(|t| t == app_args::Trim::TrimSilence),
            event_callback_url: o.event_callback_url.clone(),
            record_beep: o.record_beep,
            recording_timeout_ms: o.recording_timeout_s.map(|s| u64::from(s) * 1000),
        },
        announce_name: o.announce_caller_name,
        // Filled in by `CallSounds::load_into`, once the file names are checked.
        enter_sound: None,
        exit_sound: None,
    }
}

/// `jitterBufferSize` words as frames of buffering.
fn jitter_frames(size: app_args::JitterBufferSize) -> usize {
    match size {
        app_args::JitterBufferSize::Off | app_args::JitterBufferSize::Small => 1,
        app_args::JitterBufferSize::Medium => 3,
        app_args::JitterBufferSize::Large => 6,
    }
}

fn method_name(m: app_args::HttpMethod) -> String {
    match m {
        app_args::HttpMethod::Get => "GET".to_string(),
        app_args::HttpMethod::Post => "POST".to_string(),
    }
}

pub fn codec_of(c: app_args::Codec) -> Codec {
    match c {
        app_args::Codec::L16 => Codec::L16,
        app_args::Codec::Opus => Codec::Opus,
        app_args::Codec::Pcmu => Codec::Pcmu,
        app_args::Codec::Pcma => Codec::Pcma,
    }
}

/// A caller's own enter/exit sounds (`enterSound`, `exitSound`), checked
/// before the caller gets anywhere: like the API's `play`, only files inside
/// the sounds directory, and a missing file refuses the call with its name.
#[derive(Debug, Default)]
pub struct CallSounds {
    enter: Option<PathBuf>,
    exit: Option<PathBuf>,
}

impl CallSounds {
    pub fn check(args: &AppArgs, sounds_dir: &Path) -> Result<CallSounds, String> {
        let one = |key: &str, name: &Option<String>| -> Result<Option<PathBuf>, String> {
            let Some(name) = name else { return Ok(None) };
            let path =
                super::paths::confined(sounds_dir, name).map_err(|e| format!("{key}: {e}"))?;
            if !path.is_file() {
                return Err(format!("{key}: no file {name} in the sounds directory"));
            }
            Ok(Some(path))
        };
        Ok(CallSounds {
            enter: one("enterSound", &args.opts.enter_sound)?,
            exit: one("exitSound", &args.opts.exit_sound)?,
        })
    }

    /// Decodes the files at the room's rate; one that does not decode is
    /// logged and the room's sound plays instead.
    pub fn load_into(&self, spec: &mut MemberSpec, rate: u32, sounds: &SoundCache) {
        spec.enter_sound = sounds.optional(self.enter.as_deref(), rate);
        spec.exit_sound = sounds.optional(self.exit.as_deref(), rate);
    }
}
