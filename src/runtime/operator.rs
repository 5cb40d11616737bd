//! Runs operator commands (`conference ...`) against live rooms and prints
//! the replies, as text for people or JSON for programs.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::control::api::{
    help_text, parse_api, ApiCommand, ApiError, ApiErrorCode, Level, MemberTarget, RecordAction,
    RoomParam, RoomRef, RoomSetting,
};
use crate::control::config::{Config, RoomConfig};
use crate::room::{Adjust, Command, CommandError, MemberView, RecordingCommand, Room, Target};

use super::idle_rooms::{Basis, IdleRooms};
use super::rooms::{self, Outlets, RoomCell};
use super::sounds::SoundCache;

/// What operator commands need of whoever runs the rooms. Defined here and
/// implemented by the module, so the operator depends on no module code.
pub trait Operated {
    fn config(&self) -> Arc<Config>;
    fn now_ms(&self) -> u64;
    /// Live rooms, in a stable order (account, then name).
    fn live_rooms(&self) -> Vec<Arc<RoomCell>>;
    /// A room the command ended: its owner lets it go.
    fn forget_room(&self, cell: &Arc<RoomCell>);
    fn outlets(&self) -> Outlets<'_>;
    fn sounds(&self) -> &SoundCache;
    /// What an idle room's scratch room is built from, now.
    fn basis(&self) -> Basis<'_>;
    fn idle(&self) -> &IdleRooms;
    /// Rereads the config file; the reply, or why the old config stays.
    fn reload(&self, apply_live: bool) -> Result<String, String>;
}

enum Reply {
    Text(String),
    Json(Value),
}

pub fn execute(module: &dyn Operated, line: &str) -> String {
    let request = match parse_api(line) {
        Ok(r) => r,
        Err(e) => {
            // JSON was asked for if the line says so, even when it failed to parse.
            let json = line.split_whitespace().take(2).any(|w| w == "json");
            return error_reply(&e, json);
        }
    };
    match run(module, request.cmd, request.json) {
        Ok(Reply::Text(t)) => format!("+OK {t}"),
        Ok(Reply::Json(v)) => json!({"ok": true, "result": v}).to_string(),
        Err(e) => {
            // The reply may echo a bad PIN to the operator who typed it;
            // the log keeps none.
            let hide = |t: &str| crate::control::redact_api_text(line, t);
            log::info!(target: "huddle::api", "'{}': {}", truncate(&hide(line), 120), hide(&e.message));
            error_reply(&e, request.json)
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn error_reply(e: &ApiError, json: bool) -> String {
    if json {
        json!({"ok": false, "error": {"code": e.code.code(), "name": e.code.name(), "message": e.message}}).to_string()
    } else {
        e.to_string()
    }
}

fn find_room(module: &dyn Operated, r: &RoomRef) -> Result<Arc<RoomCell>, ApiError> {
    let rooms = module.live_rooms();
    let matches: Vec<Arc<RoomCell>> = rooms
        .into_iter()
        .filter(|c| c.name == r.name && r.account.as_ref().is_none_or(|a| *a == c.account))
        .collect();
    match matches.len() {
        0 => Err(ApiError::unknown_room(r)),
        1 => Ok(matches.into_iter().next().expect("one match")),
        _ => Err(ApiError::new(
            ApiErrorCode::BadArguments,
            format!(
                "room '{}' exists in {} accounts: say account/name",
                r.name,
                matches.len()
            ),
        )),
    }
}

/// A configured room (`[[rooms]]`) with no conference running: the one a
/// caller of `r` would create. `None` when the config has no such room.
fn idle_room(module: &dyn Operated, r: &RoomRef) -> Option<Result<RoomConfig, ApiError>> {
    let config = module.config();
    if let Some(account) = &r.account {
        return config.room(account, &r.name).cloned().map(Ok);
    }
    let mut named = config.rooms.iter().filter(|c| c.name == r.name);
    let first = named.next()?.clone();
    if named.next().is_some() {
        return Some(Err(ApiError::new(
            ApiErrorCode::BadArguments,
            format!(
                "room '{}' is configured for several accounts: say account/name",
                r.name
            ),
        )));
    }
    Some(Ok(first))
}

/// `<account/name|name>` of a configured room.
fn config_display(cfg: &RoomConfig) -> String {
    match &cfg.account {
        Some(a) => format!("{a}/{}", cfg.name),
        None => cfg.name.clone(),
    }
}

/// Configured rooms with no conference running: every `[[rooms]]` entry
/// that no live room of the same name (and account, if it names one) stands for.
fn idle_rooms(module: &dyn Operated, live: &[Arc<RoomCell>]) -> Vec<RoomConfig> {
    let config = module.config();
    config
        .rooms
        .iter()
        .filter(|cfg| {
            !live
                .iter()
                .any(|c| c.name == cfg.name && cfg.account.as_ref().is_none_or(|a| *a == c.account))
        })
        .cloned()
        .collect()
}

/// The idle room as its first caller would find it (with what operators prepared).
fn idle_scratch(module: &dyn Operated, cfg: &RoomConfig) -> Result<Room, ApiError> {
    module
        .idle()
        .scratch(&module.basis(), &module.config(), cfg)
        .ok_or_else(|| {
            ApiError::new(
                ApiErrorCode::Internal,
                format!("room '{}': unknown profile '{}'", cfg.name, cfg.profile),
            )
        })
}

/// A command on a room that is not running: the operator may prepare a
/// configured room (lock, PINs, limits, music); anything about members
/// needs a conference.
fn idle_command(
    module: &dyn Operated,
    r: &RoomRef,
    cmd: Command,
    not_live: ApiError,
) -> Result<String, ApiError> {
    let Some(cfg) = idle_room(module, r) else {
        return Err(not_live);
    };
    let cfg = cfg?;
    let prepares = matches!(
        cmd,
        Command::Lock
            | Command::Unlock
            | Command::SetPin(_)
            | Command::SetHostPin(_)
            | Command::SetMaxMembers(_)
            | Command::SetMusic(_)
    );
    if !prepares {
        return Err(ApiError::new(
            ApiErrorCode::UnknownRoom,
            format!("room '{r}' is configured but idle: nobody has called it yet"),
        ));
    }
    module
        .idle()
        .command(&module.basis(), &module.config(), &cfg, cmd)
        .map_err(|e| command_error(r, e))
}

/// The mixing rate of a live or idle room (for loading a sound at it).
fn room_rate(module: &dyn Operated, r: &RoomRef) -> Result<u32, ApiError> {
    match find_room(module, r) {
        Ok(cell) => Ok(cell.lock().room.settings.rate),
        Err(e) => match idle_room(module, r) {
            Some(cfg) => Ok(idle_scratch(module, &cfg?)?.settings.rate),
            None => Err(e),
        },
    }
}

fn target(t: MemberTarget) -> Target {
    match t {
        MemberTarget::Id(id) => Target::Id(id),
        MemberTarget::All => Target::All,
        MemberTarget::Last => Target::Last,
        MemberTarget::NonModerator => Target::NonModerator,
    }
}

fn adjust(l: Level) -> Adjust {
    match l {
        Level::Up => Adjust::Up,
        Level::Down => Adjust::Down,
        Level::Set(v) => Adjust::To(v),
    }
}

fn command_error(room: &RoomRef, e: CommandError) -> ApiError {
    match e {
        CommandError::UnknownMember(id) => ApiError::unknown_member(room, id),
        CommandError::NoMembers => ApiError::new(
            ApiErrorCode::UnknownMember,
            format!("no member of {room} matches"),
        ),
        CommandError::Refused(why) => ApiError::refused(why),
        CommandError::Invalid(why) => ApiError::new(ApiErrorCode::BadArguments, why),
    }
}

/// Runs a room command with the room locked, then hands its outputs on.
fn room_command(module: &dyn Operated, r: &RoomRef, cmd: Command) -> Result<String, ApiError> {
    let cell = match find_room(module, r) {
        Ok(cell) => cell,
        Err(e) => return idle_command(module, r, cmd, e),
    };
    let now = module.now_ms();
    let mut state = cell.lock();
    let result = state.room.command(None, cmd, now);
    rooms::drain_outputs(&cell, &mut state, &module.outlets(), now);
    let over = state.room.is_over();
    drop(state);
    if over {
        module.forget_room(&cell);
    }
    result.map_err(|e| command_error(r, e))
}

fn load_sound(module: &dyn Operated, room: &RoomRef, file: &str) -> Result<Arc<[i16]>, ApiError> {
    let config = module.config();
    let path =
        super::paths::confined(&config.module.sounds_dir, file).map_err(ApiError::refused)?;
    let rate = room_rate(module, room)?;
    module
        .sounds()
        .get(&path, rate)
        .map_err(|e| ApiError::new(ApiErrorCode::BadArguments, e))
}

fn run(module: &dyn Operated, cmd: ApiCommand, json_out: bool) -> Result<Reply, ApiError> {
    let text = |s: String| Ok(Reply::Text(s));
    // A command on one target: its reply is the room's answer.
    let on_target = |room: RoomRef, t: MemberTarget, make: &dyn Fn(Target) -> Command| {
        room_command(module, &room, make(target(t))).map(Reply::Text)
    };
    match cmd {
        ApiCommand::Help => text(help_text().to_string()),
        ApiCommand::List { room: None } => {
            let cells = module.live_rooms();
            let idle: Vec<(RoomConfig, Room)> = idle_rooms(module, &cells)
                .into_iter()
                .filter_map(|cfg| idle_scratch(module, &cfg).ok().map(|r| (cfg, r)))
                .collect();
            if json_out {
                let live = cells.iter().map(|c| room_json(module, c, false));
                let idle = idle.iter().map(|(cfg, r)| idle_json(cfg, r));
                return Ok(Reply::Json(Value::Array(live.chain(idle).collect())));
            }
            let mut out = format!("{} room(s)\n", cells.len() + idle.len());
            for c in cells {
                out.push_str(&room_line(module, &c));
                out.push('\n');
            }
            for (cfg, r) in &idle {
                out.push_str(&idle_line(cfg, r));
                out.push('\n');
            }
            text(out)
        }
        ApiCommand::List { room: Some(r) } => {
            let cell = match find_room(module, &r) {
                Ok(cell) => cell,
                Err(e) => {
                    let cfg = idle_room(module, &r).ok_or(e)??;
                    let room = idle_scratch(module, &cfg)?;
                    return if json_out {
                        Ok(Reply::Json(idle_json(&cfg, &room)))
                    } else {
                        text(format!("{}\n", idle_line(&cfg, &room)))
                    };
                }
            };
            if json_out {
                return Ok(Reply::Json(room_json(module, &cell, true)));
            }
            let members = cell.lock().room.members();
            let mut out = format!("{}\n", room_line(module, &cell));
            for m in members {
                out.push_str(&member_line(&m));
                out.push('\n');
            }
            text(out)
        }
        ApiCommand::Count { room } => {
            let n: usize = match room {
                Some(r) => match find_room(module, &r) {
                    Ok(cell) => cell.lock().room.member_count(),
                    // A configured room nobody called holds nobody.
                    Err(e) => idle_room(module, &r).ok_or(e)?.map(|_| 0)?,
                },
                None => module
                    .live_rooms()
                    .iter()
                    .map(|c| c.lock().room.member_count())
                    .sum(),
            };
            if json_out {
                Ok(Reply::Json(json!({"count": n})))
            } else {
                text(n.to_string())
            }
        }
        ApiCommand::Kick { room, target: t } => on_target(room, t, &Command::Kick),
        ApiCommand::Hup { room, target: t } => on_target(room, t, &Command::Hup),
        ApiCommand::Mute { room, target: t } => on_target(room, t, &Command::Mute),
        ApiCommand::Unmute { room, target: t } => on_target(room, t, &Command::Unmute),
        ApiCommand::Tmute { room, target: t } => on_target(room, t, &Command::ToggleMute),
        ApiCommand::Deaf { room, target: t } => on_target(room, t, &Command::Deaf),
        ApiCommand::Undeaf { room, target: t } => on_target(room, t, &Command::Undeaf),
        ApiCommand::Hold {
            room,
            target: t,
            file,
        } => {
            let music = match file {
                Some(f) => Some(load_sound(module, &room, &f)?),
                None => None,
            };
            text(room_command(
                module,
                &room,
                Command::Hold(target(t), music),
            )?)
        }
        ApiCommand::Unhold { room, target: t } => on_target(room, t, &Command::Unhold),
        ApiCommand::Coach {
            room,
            coach,
            members,
        } => text(room_command(
            module,
            &room,
            Command::Coach { coach, members },
        )?),
        ApiCommand::Uncoach { room, coach } => {
            text(room_command(module, &room, Command::Uncoach { coach })?)
        }
        ApiCommand::Lock { room } => text(room_command(module, &room, Command::Lock)?),
        ApiCommand::Unlock { room } => text(room_command(module, &room, Command::Unlock)?),
        ApiCommand::VolumeIn {
            room,
            target: t,
            level,
        } => on_target(room, t, &|t| Command::VolumeIn(t, adjust(level))),
        ApiCommand::VolumeOut {
            room,
            target: t,
            level,
        } => on_target(room, t, &|t| Command::VolumeOut(t, adjust(level))),
        ApiCommand::Energy {
            room,
            target: t,
            level,
        } => on_target(room, t, &|t| Command::Energy(t, adjust(level))),
        ApiCommand::Play { room, file, member } => {
            let sound = load_sound(module, &room, &file)?;
            text(room_command(
                module,
                &room,
                Command::Play { sound, member },
            )?)
        }
        ApiCommand::Stop { room, member } => {
            text(room_command(module, &room, Command::Stop { member })?)
        }
        ApiCommand::Record { room, action, path } => {
            let rc = match action {
                RecordAction::Start => RecordingCommand::Start {
                    path,
                    source: "api".to_string(),
                },
                RecordAction::Stop => RecordingCommand::Stop {
                    reason: "api".to_string(),
                },
                RecordAction::Pause => RecordingCommand::Pause,
                RecordAction::Resume => RecordingCommand::Resume,
            };
            text(room_command(module, &room, Command::Record(rc))?)
        }
        ApiCommand::Dial { room, destination } => {
            text(room_command(module, &room, Command::Invite(destination))?)
        }
        ApiCommand::Cascade { room, uri } => {
            text(room_command(module, &room, Command::Cascade(uri))?)
        }
        ApiCommand::Uncascade { room, uri } => {
            text(room_command(module, &room, Command::Uncascade(uri))?)
        }
        ApiCommand::End { room } => text(room_command(module, &room, Command::End)?),
        ApiCommand::Pin { room, pin } => text(room_command(module, &room, Command::SetPin(pin))?),
        ApiCommand::HostPin { room, pin } => {
            text(room_command(module, &room, Command::SetHostPin(pin))?)
        }
        ApiCommand::Set { room, setting } => {
            let cmd = match setting {
                RoomSetting::MaxMembers(n) => Command::SetMaxMembers(n),
                RoomSetting::Pin(p) => Command::SetPin(p),
                RoomSetting::HostPin(p) => Command::SetHostPin(p),
                RoomSetting::Locked(true) => Command::Lock,
                RoomSetting::Locked(false) => Command::Unlock,
                RoomSetting::Moh(file) => Command::SetMusic(match file {
                    Some(f) => Some(load_sound(module, &room, &f)?),
                    None => None,
                }),
            };
            text(room_command(module, &room, cmd)?)
        }
        ApiCommand::Get { room, param } => {
            let value = match find_room(module, &room) {
                Ok(cell) => room_param(&cell.lock().room, param),
                Err(e) => {
                    let cfg = idle_room(module, &room).ok_or(e)??;
                    room_param(&idle_scratch(module, &cfg)?, param)
                }
            };
            if json_out {
                Ok(Reply::Json(json!({"param": param.name(), "value": value})))
            } else {
                text(format!("{} {}", param.name(), value))
            }
        }
        ApiCommand::Relate {
            room,
            from,
            to,
            relation,
        } => text(room_command(
            module,
            &room,
            Command::Relate {
                a: from,
                b: to,
                relation,
            },
        )?),
        ApiCommand::Stats { room } => {
            let cell = find_room(module, &room)?;
            let v = stats_json(&cell);
            if json_out {
                Ok(Reply::Json(v))
            } else {
                text(stats_text(&v))
            }
        }
        ApiCommand::Reload { apply_live } => {
            module.reload(apply_live).map(Reply::Text).map_err(|e| {
                ApiError::new(
                    ApiErrorCode::Refused,
                    format!("reload refused, the old configuration stays: {e}"),
                )
            })
        }
    }
}

/// A `get` value. PINs are never printed: an operator console is not a
/// safe place for them.
fn room_param(r: &Room, param: RoomParam) -> String {
    let s = &r.settings;
    let set = |b: bool| if b { "set" } else { "none" }.to_string();
    match param {
        RoomParam::MaxMembers => s.max_members.to_string(),
        RoomParam::Pin => set(s.pin.is_some()),
        RoomParam::HostPin => set(s.host_pin.is_some()),
        RoomParam::Locked => r.locked().to_string(),
        RoomParam::Moh => set(s.sounds.moh.is_some()),
    }
}

fn flags(m: &MemberView) -> String {
    let mut f = Vec::new();
    if !m.admitted {
        f.push("pin-entry");
    }
    if !m.deaf && !m.hold {
        f.push("hear");
    }
    if !m.muted && !m.hold && m.admitted {
        f.push("speak");
    }
    if m.talking {
        f.push("talking");
    }
    if m.hold {
        f.push("hold");
    }
    if m.moderator {
        f.push("moderator");
    }
    if !m.coaching.is_empty() {
        f.push("coach");
    }
    if m.bridge {
        f.push("bridge");
    }
    f.join("|")
}

/// `id;channel;call_id;from;name;flags;volume_in;volume_out;energy;codec/rate`
///
/// `flags` are `|`-joined, in this order: `pin-entry` (not admitted yet),
/// `hear`, `speak`, `talking`, `hold`, `moderator`, `coach`, `bridge`. Volumes are
/// signed whole dB, energy whole dBov, e.g. `1;a;CA-a;+1555a;a;hear|speak;+0;+0;-45;L16/16000`.
fn member_line(m: &MemberView) -> String {
    format!(
        "{};{};{};{};{};{};{:+.0};{:+.0};{:.0};{}/{}",
        m.id,
        list_field(&m.channel),
        list_field(&m.call_id),
        list_field(&m.from),
        list_field(&m.caller_name),
        flags(m),
        m.in_gain_db,
        m.out_gain_db,
        m.energy_dbov,
        m.codec,
        m.rate
    )
}

/// A caller-supplied field of a `list` line: control characters escaped
/// (`\n`, `\u{1b}`, a `\` doubled) and the field separator written `\;`,
/// so a caller's name can neither add a line nor shift the fields after it.
/// JSON output carries the same fields unchanged.
fn list_field(s: &str) -> String {
    crate::control::escape_controls(s).replace(';', "\\;")
}

fn run_time_s(module: &dyn Operated, started: Option<u64>) -> u64 {
    started.map_or(0, |s| module.now_ms().saturating_sub(s) / 1000)
}

/// One room in `list` / `list <room>` text output. The format is stable
/// (scripts parse it; tests/api.rs pins it):
///
/// ```text
/// <account/name|name> members=<n> started=yes|no locked=yes|no recording=off|on|paused rate=<Hz> runtime=<s>s
/// ```
///
/// `list` prints `<n> room(s)` then one such line per room, sorted by account
/// then name; `list <room>` prints the room line, then one [`member_line`]
/// per member (admitted or still entering a PIN) in join order. `count`
/// prints the admitted members of one room or of all rooms as a bare number.
fn room_line(module: &dyn Operated, cell: &RoomCell) -> String {
    let state = cell.lock();
    let r = &state.room;
    format!(
        "{} members={} started={} locked={} recording={} rate={} runtime={}s",
        cell.display_name(),
        r.member_count(),
        if r.started() { "yes" } else { "no" },
        if r.locked() { "yes" } else { "no" },
        recording_word(r.recording()),
        r.settings.rate,
        run_time_s(module, r.started_at_ms())
    )
}

/// A configured room nobody has called: the `list` line, marked `idle=yes`.
fn idle_line(cfg: &RoomConfig, r: &Room) -> String {
    format!(
        "{} members=0 started=no locked={} recording=off rate={} runtime=0s idle=yes",
        config_display(cfg),
        if r.locked() { "yes" } else { "no" },
        r.settings.rate,
    )
}

fn idle_json(cfg: &RoomConfig, r: &Room) -> Value {
    json!({
        "account": cfg.account.clone().unwrap_or_default(),
        "name": cfg.name,
        "idle": true,
        "members": 0,
        "started": false,
        "locked": r.locked(),
        "recording": "off",
        "rate": r.settings.rate,
        "interval_ms": r.settings.interval_ms,
        "max_members": r.settings.max_members,
        "runtime_s": 0,
    })
}

fn recording_word(r: crate::room::RecordingState) -> &'static str {
    match r {
        crate::room::RecordingState::Off => "off",
        crate::room::RecordingState::Running => "on",
        crate::room::RecordingState::Paused => "paused",
    }
}

fn room_json(module: &dyn Operated, cell: &RoomCell, with_members: bool) -> Value {
    let state = cell.lock();
    let r = &state.room;
    let mut v = json!({
        "account": cell.account,
        "name": cell.name,
        "idle": false,
        "conference_sid": r.sid,
        "members": r.member_count(),
        "started": r.started(),
        "locked": r.locked(),
        "recording": recording_word(r.recording()),
        "rate": r.settings.rate,
        "interval_ms": r.settings.interval_ms,
        "max_members": r.settings.max_members,
        "runtime_s": run_time_s(module, r.started_at_ms()),
        "last_sequence_number": r.last_sequence(),
    });
    if with_members {
        v["member_list"] = Value::Array(
            r.members()
                .iter()
                .map(|m| {
                    json!({
                        "id": m.id, "channel": m.channel, "call_sid": m.call_id, "from": m.from,
                        "caller_name": m.caller_name, "admitted": m.admitted, "moderator": m.moderator, "bridge": m.bridge,
                        "muted": m.muted, "deaf": m.deaf, "hold": m.hold, "talking": m.talking,
                        "coaching": m.coaching.first(), "coaching_ids": m.coaching, "volume_in_db": m.in_gain_db, "volume_out_db": m.out_gain_db,
                        "energy_dbov": m.energy_dbov, "level_dbov": m.level_dbov, "codec": m.codec, "rate": m.rate,
                    })
                })
                .collect(),
        );
    }
    v
}

fn stats_json(cell: &RoomCell) -> Value {
    let state = cell.lock();
    let c = state.room.counters;
    let t = state.stats;
    let members: Vec<Value> = state
        .room
        .members()
        .iter()
        .map(|m| {
            let port = state.ports.get(&m.id);
            json!({
                "id": m.id,
                "frames_in": m.counters.frames_in,
                "frames_out": m.counters.frames_out,
                "dropped": m.counters.dropped + port.map_or(0, |p| p.dropped()),
                // Why: the hand-off queue to the tick was full; after the
                // last frame played; a duplicate; past the jitter buffer's bound.
                "dropped_handoff": port.map_or(0, |p| p.dropped()),
                "dropped_late": m.counters.dropped_late,
                "dropped_duplicate": m.counters.dropped_duplicate,
                "dropped_overflow": m.counters.dropped_overflow,
                "played_late": m.counters.played_late,
                "bad_frames": m.counters.bad_frames + port.map_or(0, |p| p.bad_frames()),
                "concealed": m.counters.concealed,
                "trimmed": m.counters.trimmed,
                "queued": m.queued,
                "fec_recovered": m.counters.fec_recovered,
                "decodes": m.counters.decodes,
                "decodes_skipped": m.counters.decodes_skipped,
            })
        })
        .collect();
    json!({
        "room": cell.display_name(),
        "ticks": c.ticks,
        "late_ticks": t.late_ticks,
        "skipped_ticks": t.skipped_ticks,
        "worst_lateness_us": t.worst_lateness_us,
        "worst_tick_us": t.worst_tick_us,
        "mean_tick_us": t.total_tick_us.checked_div(c.ticks).unwrap_or(0),
        "worst_send_audio_us": t.worst_send_audio_us,
        "opus_encodes": c.opus_encodes,
        "opus_encodes_last_tick": c.last_tick_encodes,
        "opus_decodes": c.opus_decodes,
        "decodes_skipped": c.decodes_skipped,
        "members": members,
    })
}

fn stats_text(v: &Value) -> String {
    let mut out = String::new();
    if let Some(o) = v.as_object() {
        for (k, val) in o {
            if k != "members" {
                out.push_str(&format!("{k}={val} "));
            }
        }
    }
    out.push('\n');
    for m in v["members"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "member {} in={} out={} dropped={} bad={} concealed={} trimmed={} queued={} decodes={} skipped={} \
             dropped_handoff={} dropped_late={} dropped_duplicate={} dropped_overflow={} played_late={}\n",
            m["id"],
            m["frames_in"],
            m["frames_out"],
            m["dropped"],
            m["bad_frames"],
            m["concealed"],
            m["trimmed"],
            m["queued"],
            m["decodes"],
            m["decodes_skipped"],
            m["dropped_handoff"],
            m["dropped_late"],
            m["dropped_duplicate"],
            m["dropped_overflow"],
            m["played_late"]
        ));
    }
    out
}
