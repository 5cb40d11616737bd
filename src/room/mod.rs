//! The room core: a sans-IO state machine.
//!
//! Inputs: joins, PIN digits, commands, frames and ticks, each with `now` (room
//! time in ms). Outputs: events, hangups and dial-outs queued for the caller
//! to drain with `poll_output`, and audio handed to a `TickSink` during
//! `tick`. The core never calls the host, reads a clock, locks, spawns or does
//! I/O, which is what lets a two-hour conference run in a test in a second.

pub mod admission;
pub mod events;
pub mod invite;
pub mod io;
pub mod log_limit;
pub mod member;
mod mixer;
pub mod settings;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::audio::limiter::Limiter;
use crate::audio::vad::Vad;
use crate::room::io::{cause, Channel, Event, OutFrame};

use admission::{check_pin, FailureWindow, PinCheck, PinEntry};
pub use log_limit::{LogLimit, BAD_FRAME_LOG_EVERY_MS};
pub use member::{DecodeError, FrameError, InFrame, MemberCounters, MemberId, SPARE_BUFFERS};
use member::{Format, Input, Member};
use mixer::{MixScratch, Player};
use settings::{FirstSetter, MemberSpec, RoomSettings};

/// Where the tick's audio goes. The runtime forwards to the host and to the
/// recording writer; tests collect it.
pub trait TickSink {
    fn send_audio(&mut self, member: MemberId, channel: &Channel, frame: &OutFrame<'_>);
    /// The room mix at the room rate, while a recording runs; `speech` says
    /// whether a member was heard in it (a beep alone is not speech).
    fn record(&mut self, pcm: &[i16], speech: bool);
    /// With multitrack: what one member contributed to this tick's mix
    /// (silence when not heard), right after `record`.
    fn record_member(&mut self, _member: MemberId, _pcm: &[i16]) {}
}

/// Recording control the room decides; the runtime owns the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingCommand {
    Start {
        path: Option<String>,
        source: String,
    },
    Pause,
    Resume,
    Stop {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Event(Event),
    /// Hang up a leg huddle is done with; the member has already left.
    Hangup {
        member: MemberId,
        channel: Channel,
        cause: u32,
    },
    Originate {
        destination: String,
    },
    Recording(RecordingCommand),
}

/// A caller turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub cause: u32,
    pub reason: &'static str,
}

/// Who a command applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Id(MemberId),
    All,
    Last,
    NonModerator,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Adjust {
    To(f32),
    Up,
    Down,
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    NoHear,
    NoSpeak,
    Clear,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Mute(Target),
    Unmute(Target),
    ToggleMute(Target),
    Deaf(Target),
    Undeaf(Target),
    ToggleDeaf(Target),
    Hold(Target, Option<Arc<[i16]>>),
    Unhold(Target),
    Kick(Target),
    Hup(Target),
    /// `coach` whispers to `members` (replacing whom it whispered to before).
    Coach {
        coach: MemberId,
        members: Vec<MemberId>,
    },
    /// `coach` stops whispering and is heard by the room again.
    Uncoach {
        coach: MemberId,
    },
    Lock,
    Unlock,
    VolumeIn(Target, Adjust),
    VolumeOut(Target, Adjust),
    Energy(Target, Adjust),
    Play {
        sound: Arc<[i16]>,
        member: Option<MemberId>,
    },
    Stop {
        member: Option<MemberId>,
    },
    SetMaxMembers(u32),
    SetPin(Option<String>),
    SetHostPin(Option<String>),
    SetMusic(Option<Arc<[i16]>>),
    Relate {
        a: Vec<MemberId>,
        b: Vec<MemberId>,
        relation: Relation,
    },
    MuteAllNonModerators,
    UnmuteAllNonModerators,
    Announce(bool),
    Invite(String),
    Record(RecordingCommand),
    Leave,
    End,
}

impl Command {
    /// Moderator-only when a member sends it by DTMF.
    pub fn needs_moderator(&self) -> bool {
        !matches!(
            self,
            Command::ToggleMute(Target::Id(_))
                | Command::Mute(Target::Id(_))
                | Command::Unmute(Target::Id(_))
                | Command::ToggleDeaf(Target::Id(_))
                | Command::VolumeIn(Target::Id(_), _)
                | Command::VolumeOut(Target::Id(_), _)
                | Command::Energy(Target::Id(_), _)
                | Command::Invite(_)
                | Command::Leave
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    UnknownMember(MemberId),
    NoMembers,
    Refused(String),
    Invalid(String),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::UnknownMember(id) => write!(f, "no member {id} in this room"),
            CommandError::NoMembers => write!(f, "no member matches"),
            CommandError::Refused(why) => write!(f, "refused: {why}"),
            CommandError::Invalid(why) => write!(f, "{why}"),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RoomCounters {
    pub ticks: u64,
    pub opus_encodes: u64,
    pub opus_decodes: u64,
    pub decodes_skipped: u64,
    pub last_tick_encodes: u32,
    pub mixes: u64,
}

/// A public view of one member, for `conference list` and tests.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub id: MemberId,
    pub channel: String,
    pub call_id: String,
    pub from: String,
    pub caller_name: String,
    pub admitted: bool,
    pub moderator: bool,
    pub muted: bool,
    pub deaf: bool,
    pub hold: bool,
    pub talking: bool,
    /// Whom this member whispers to as a coach; empty when not coaching.
    pub coaching: Vec<MemberId>,
    pub in_gain_db: f32,
    pub out_gain_db: f32,
    pub energy_dbov: f32,
    pub level_dbov: f32,
    pub joined_at_ms: u64,
    pub codec: &'static str,
    pub rate: u32,
    pub counters: MemberCounters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingState {
    Off,
    Running,
    Paused,
}

const VOLUME_STEP_DB: f32 = 3.0;
/// How long a joiner has to say their name for announce-caller-name.
const NAME_MS: u64 = 2000;
/// Quieter than this is not part of a recorded name.
const NAME_SILENCE_DBOV: f32 = -50.0;

/// One sound after another (a tone, then a recorded name). Allocates, at a
/// join or a leave, never in the tick.
fn then(first: Option<Arc<[i16]>>, second: Option<Arc<[i16]>>) -> Option<Arc<[i16]>> {
    match (first, second) {
        (Some(a), Some(b)) => Some(a.iter().chain(b.iter()).copied().collect()),
        (a, None) => a,
        (None, b) => b,
    }
}
const ENERGY_STEP_DB: f32 = 6.0;
/// How long wrong PINs count against a room: `FailureWindow`'s minute.
const FAILURE_MEMORY_MS: u64 = 60_000;

pub struct Room {
    pub settings: RoomSettings,
    pub sid: String,
    members: Vec<Member>,
    next_id: MemberId,
    started: bool,
    ended: bool,
    locked: bool,
    announce: bool,
    mute_non_moderators: bool,
    /// A `mintwo` member got in: end when fewer than two remain.
    end_below_two: bool,
    /// Someone was admitted: there is a conference to end.
    ever_admitted: bool,
    /// Room time a member was last heard, or the recording started, for
    /// `recording_timeout_s`.
    last_heard_ms: u64,
    seq: u64,
    outputs: VecDeque<Output>,
    first: FirstSetter,
    failures: FailureWindow,
    invites: invite::InviteLog,
    /// Room time of the latest wrong PIN: an empty room remembers it for
    /// [`FAILURE_MEMORY_MS`].
    last_failure_ms: Option<u64>,
    now_ms: u64,
    started_ms: Option<u64>,
    frame: usize,
    players: Vec<Player>,
    /// Where the last `exchange_frames` found its member: frames are handed
    /// over in member order, so the next one is almost always the next slot,
    /// and a thousand members are walked, not searched a thousand times.
    exchange_cursor: usize,
    scratch: MixScratch,
    recording: RecordingState,
    pub counters: RoomCounters,
    last_joined: Option<MemberId>,
}

impl Room {
    pub fn new(settings: RoomSettings, sid: String, now_ms: u64) -> Room {
        let frame = crate::audio::frame_samples(settings.rate, settings.interval_ms);
        let announce = settings.announce_join_leave;
        let mute_non_moderators = settings.mute_non_moderators;
        let scratch = MixScratch::new(frame, settings.rate, settings.seed);
        Room {
            settings,
            sid,
            members: Vec::new(),
            next_id: 1,
            started: false,
            ended: false,
            locked: false,
            announce,
            mute_non_moderators,
            end_below_two: false,
            ever_admitted: false,
            last_heard_ms: now_ms,
            seq: 0,
            outputs: VecDeque::new(),
            first: FirstSetter::default(),
            failures: FailureWindow::default(),
            invites: invite::InviteLog::default(),
            last_failure_ms: None,
            now_ms,
            started_ms: None,
            frame,
            players: Vec::new(),
            scratch,
            exchange_cursor: usize::MAX,
            recording: RecordingState::Off,
            counters: RoomCounters::default(),
            last_joined: None,
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn is_over(&self) -> bool {
        self.ended
    }

    /// `None` while anyone is in the room, or once it is over: it needs its
    /// tick every interval. `Some(t)` while it is empty: nothing happens in
    /// it until someone joins, except that at room time `t` its memory of
    /// wrong PINs runs out and the next tick ends it (see `linger_over`).
    /// The runtime then ticks it once at `t`, not every interval.
    pub fn idle_until_ms(&self) -> Option<u64> {
        if self.ended || !self.members.is_empty() {
            return None;
        }
        Some(
            self.last_failure_ms
                .map_or(self.now_ms, |t| t + FAILURE_MEMORY_MS),
        )
    }

    pub fn started(&self) -> bool {
        self.started
    }

    pub fn locked(&self) -> bool {
        self.locked
    }

    /// A member's own wait music, fetched after it joined (`waitUrl` over
    /// HTTP): from the start of the clip.
    pub fn set_wait_music(&mut self, id: MemberId, music: Arc<[i16]>) {
        if let Some(m) = self.member_mut(id) {
            m.hold_music = Some(music);
            m.hold_pos = 0;
        }
    }

    /// The lock an operator set before the conference existed: no event,
    /// the conference has not begun and the lock was reported to nobody.
    pub fn preset_lock(&mut self, locked: bool) {
        self.locked = locked;
    }

    pub fn recording(&self) -> RecordingState {
        self.recording
    }

    /// The room time of the latest input.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Takes a member's new frames and gives back the payload buffers its
    /// input has finished with, for the host side to fill again. Returns the
    /// level below which the member's next frames may come without payload
    /// (`Member::door_threshold_dbov`).
    pub fn exchange_frames(
        &mut self,
        id: MemberId,
        incoming: impl Iterator<Item = InFrame>,
        mut give_back: impl FnMut(Vec<u8>),
    ) -> f32 {
        let next = self.exchange_cursor.wrapping_add(1);
        let slot = match self.members.get(next) {
            Some(m) if m.id == id => Some(next),
            _ => self.members.binary_search_by_key(&id, |m| m.id).ok(),
        };
        let Some(slot) = slot else {
            incoming.for_each(drop);
            return f32::NEG_INFINITY;
        };
        self.exchange_cursor = slot;
        let m = &mut self.members[slot];
        for frame in incoming {
            m.push_frame(frame);
        }
        m.input.take_spent().for_each(&mut give_back);
        m.door_threshold_dbov()
    }

    /// `reload apply-live`: takes the new config's policy; the audio format
    /// (rate, interval) and identity of a running room stay.
    pub fn apply_live_settings(&mut self, fresh: RoomSettings) {
        let keep = &self.settings;
        let merged = RoomSettings {
            account: keep.account.clone(),
            name: keep.name.clone(),
            profile: keep.profile.clone(),
            rate: keep.rate,
            interval_ms: keep.interval_ms,
            wall_epoch_ms: keep.wall_epoch_ms,
            seed: keep.seed,
            ..fresh
        };
        self.announce = merged.announce_join_leave;
        self.mute_non_moderators = merged.mute_non_moderators;
        self.settings = merged;
    }

    pub fn last_sequence(&self) -> u64 {
        self.seq
    }

    pub fn frame_samples(&self) -> usize {
        self.frame
    }

    pub fn started_at_ms(&self) -> Option<u64> {
        self.started_ms
    }

    pub fn first_setter(&self) -> &FirstSetter {
        &self.first
    }

    /// Members in the conference, as `ParticipantCount` and the limits count
    /// them: ghosts are not counted.
    pub fn member_count(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.admitted && !m.spec.ghost)
            .count()
    }

    pub fn members(&self) -> Vec<MemberView> {
        self.members.iter().map(view).collect()
    }

    pub fn member(&self, id: MemberId) -> Option<MemberView> {
        self.members.iter().find(|m| m.id == id).map(view)
    }

    /// Frames a member has waiting in its jitter buffer (bounded by its
    /// depth plus a little slack, however fast it sends).
    pub fn queued_frames(&self, id: MemberId) -> Option<usize> {
        self.member_ref(id).map(|m| m.input.queued())
    }

    pub fn waiting_for_pin(&self, id: MemberId) -> bool {
        self.members.iter().any(|m| m.id == id && m.pin.is_some())
    }

    /// A caller arrives. Checks run in the documented order: PIN, lock, size.
    pub fn join(&mut self, spec: MemberSpec, now_ms: u64) -> Result<MemberId, Refusal> {
        self.now_ms = now_ms;
        if self.ended {
            return Err(Refusal {
                cause: cause::NORMAL_CLEARING,
                reason: "the conference has ended",
            });
        }
        if self.members.len() >= 1000 + 16 {
            return Err(Refusal {
                cause: cause::NO_CIRCUIT,
                reason: "too many callers are waiting to enter",
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let settings = &self.settings;
        let vad = Vad::new(settings.vad, settings.interval_ms);
        let depth = spec.jitter_frames.unwrap_or(settings.jitter_frames);
        let needs_pin = settings.pin.is_some() || settings.host_pin.is_some();
        let member = Member {
            id,
            joined_at_ms: now_ms,
            admitted: false,
            moderator: spec.moderator,
            muted: spec.muted,
            deaf: spec.deaf,
            hold: spec.hold,
            coaching: Vec::new(),
            input: Input::new(self.frame, depth, vad),
            in_gain_db: 0.0,
            out_gain_db: 0.0,
            energy_dbov: settings.vad.threshold_dbov,
            // Until the member's first frame shows its format: what the app args
            // said, else L16 at the room rate. Opus goes out at 48 kHz unless the
            // room rate is one Opus has.
            out_format: match spec.out_codec {
                Some(crate::room::io::Codec::Opus) => Format {
                    codec: crate::room::io::Codec::Opus,
                    rate: if crate::audio::opus::OPUS_RATES.contains(&settings.rate) {
                        settings.rate
                    } else {
                        48_000
                    },
                },
                _ => Format {
                    codec: crate::room::io::Codec::L16,
                    rate: settings.rate,
                },
            },
            limiter: Limiter::new(settings.rate),
            out: mixer::OutStream::new(),
            contributing: false,
            in_speech: false,
            prompts: VecDeque::new(),
            hold_music: spec.wait_music.clone(),
            hold_pos: 0,
            pin: None,
            counters: MemberCounters::default(),
            decode_log: LogLimit::new(),
            no_hear: Vec::new(),
            leaving_at_ms: None,
            naming_until_ms: None,
            name_buf: Vec::new(),
            name_clip: None,
            spec,
        };
        self.members.push(member);
        if needs_pin {
            if self.pin_rate_limited(now_ms) {
                log::warn!(target: "huddle::pin", "room {}: PIN attempt refused, {} failures in the last minute",
                    self.settings.name, self.settings.pin_failures_per_minute);
                self.remove_silently(id);
                self.emit_refusal("pin-rate-limited", None);
                return Err(Refusal {
                    cause: cause::CALL_REJECTED,
                    reason: "too many PIN failures in the last minute",
                });
            }
            let presented = self.member_mut(id).and_then(|m| m.spec.pin.clone());
            match presented {
                Some(pin) => {
                    if let Some(m) = self.member_mut(id) {
                        m.pin = Some(PinEntry {
                            digits: pin,
                            tries: 0,
                            deadline_ms: now_ms,
                        });
                    }
                    return match self.finish_pin(id, now_ms) {
                        // Refused at the door (locked, full, out of tries):
                        // the caller must not stay behind as a member.
                        Some(refusal) => {
                            self.remove_silently(id);
                            Err(refusal)
                        }
                        None if self.members.iter().any(|m| m.id == id) => Ok(id),
                        None => Err(Refusal {
                            cause: cause::CALL_REJECTED,
                            reason: "wrong PIN",
                        }),
                    };
                }
                None => {
                    let first = self.settings.pin_first_digit_timeout_ms;
                    let prompt = self.settings.sounds.pin.clone();
                    if let Some(m) = self.member_mut(id) {
                        m.pin = Some(PinEntry {
                            digits: String::new(),
                            tries: 0,
                            deadline_ms: now_ms + first,
                        });
                        m.queue_prompt(&prompt);
                    }
                    return Ok(id);
                }
            }
        }
        match self.admit(id, now_ms) {
            Ok(()) => Ok(id),
            Err(refusal) => {
                self.remove_silently(id);
                Err(refusal)
            }
        }
    }

    /// A digit typed during PIN entry. Returns false when the member is not
    /// entering a PIN (the digit is then a caller control).
    pub fn pin_digit(&mut self, id: MemberId, digit: char, now_ms: u64) -> bool {
        self.now_ms = now_ms;
        let inter = self.settings.pin_inter_digit_timeout_ms;
        let Some(m) = self.member_mut(id) else {
            return false;
        };
        let Some(entry) = m.pin.as_mut() else {
            return false;
        };
        if digit == '#' {
            entry.deadline_ms = now_ms;
            self.finish_pin_or_hangup(id, now_ms);
        } else if entry.digits.len() < 20 {
            entry.digits.push(digit);
            entry.deadline_ms = now_ms + inter;
            // A prompt stops when the caller starts typing.
            m.prompts.clear();
        } else {
            // Longer than any PIN can be: check now rather than buffer more.
            entry.deadline_ms = now_ms;
            self.finish_pin_or_hangup(id, now_ms);
        }
        true
    }

    /// The room's wrong-PIN budget for the last minute is spent
    /// (`pin_failures_per_minute`; 0 = no limit).
    fn pin_rate_limited(&mut self, now_ms: u64) -> bool {
        let limit = self.settings.pin_failures_per_minute as usize;
        limit > 0 && self.failures.count(now_ms) >= limit
    }

    fn finish_pin_or_hangup(&mut self, id: MemberId, now_ms: u64) {
        if let Some(refusal) = self.finish_pin(id, now_ms) {
            self.hang_up(id, refusal.cause, refusal.reason);
        }
    }

    /// Checks a finished entry. Returns a refusal when the caller must go.
    fn finish_pin(&mut self, id: MemberId, now_ms: u64) -> Option<Refusal> {
        let (pin, host_pin) = (self.settings.pin.clone(), self.settings.host_pin.clone());
        let max_tries = self.settings.pin_tries.max(1);
        let first = self.settings.pin_first_digit_timeout_ms;
        let bad_pin = self.settings.sounds.bad_pin.clone();
        // Checked per attempt, not only at the door: callers who all reach
        // the prompt first would otherwise each get their own tries, and the
        // room's budget would not bound the guesses.
        if self.member_ref(id)?.pin.is_some() && self.pin_rate_limited(now_ms) {
            log::warn!(target: "huddle::pin", "room {}: PIN attempt refused unchecked, {} failures in the last minute",
                self.settings.name, self.settings.pin_failures_per_minute);
            self.emit_refusal("pin-rate-limited", Some(id));
            return Some(Refusal {
                cause: cause::CALL_REJECTED,
                reason: "too many PIN failures in the last minute",
            });
        }
        let m = self.member_mut(id)?;
        let entry = m.pin.as_mut()?;
        let digits = std::mem::take(&mut entry.digits);
        match check_pin(&digits, pin.as_deref(), host_pin.as_deref()) {
            PinCheck::Host | PinCheck::Room => {
                let host =
                    check_pin(&digits, pin.as_deref(), host_pin.as_deref()) == PinCheck::Host;
                m.pin = None;
                m.prompts.clear();
                if host {
                    m.moderator = true;
                    m.spec.start_on_enter = true;
                }
                self.admit(id, now_ms).err()
            }
            PinCheck::Wrong => {
                entry.tries += 1;
                let tries = entry.tries;
                entry.deadline_ms = now_ms + first;
                m.queue_prompt(&bad_pin);
                self.failures.record(now_ms);
                self.last_failure_ms = Some(now_ms);
                let call_id = self
                    .member_ref(id)
                    .map(|m| m.spec.call_id.clone())
                    .unwrap_or_default();
                log::info!(target: "huddle::pin", "room {}: wrong PIN from call {} (try {tries} of {max_tries})",
                    self.settings.name, call_id);
                self.emit_for(
                    "pin-failed",
                    id,
                    vec![
                        ("Attempt", tries.to_string()),
                        ("MaxAttempts", max_tries.to_string()),
                    ],
                );
                if tries >= max_tries {
                    return Some(Refusal {
                        cause: cause::CALL_REJECTED,
                        reason: "wrong PIN",
                    });
                }
                if self.pin_rate_limited(now_ms) {
                    log::warn!(target: "huddle::pin", "room {}: PIN entry locked out, {} failures in the last minute",
                        self.settings.name, self.settings.pin_failures_per_minute);
                    return Some(Refusal {
                        cause: cause::CALL_REJECTED,
                        reason: "too many PIN failures in the last minute",
                    });
                }
                None
            }
        }
    }

    fn admit(&mut self, id: MemberId, now_ms: u64) -> Result<(), Refusal> {
        if self.locked {
            self.emit_refusal("locked", Some(id));
            return Err(Refusal {
                cause: cause::CALL_REJECTED,
                reason: "the conference is locked",
            });
        }
        let limit = self
            .member_ref(id)
            .and_then(|m| m.spec.max_participants)
            .map_or(self.settings.max_members, |mp| {
                mp.min(self.settings.max_members)
            });
        if self.member_count() >= limit as usize {
            self.emit_refusal("full", Some(id));
            return Err(Refusal {
                cause: cause::NO_CIRCUIT,
                reason: "the conference is full",
            });
        }
        // `coach=<CallSid>` names one call; the API may set more later.
        let coach_target = self.member_ref(id).and_then(|m| m.spec.coach.clone());
        let coaching = match coach_target {
            Some(call_id) => match self
                .members
                .iter()
                .find(|m| m.admitted && m.spec.call_id == call_id)
            {
                Some(target) => Some(vec![target.id]),
                None => {
                    log::warn!(target: "huddle::room", "room {}: coach refused, call {call_id} is not in the room",
                        self.settings.name);
                    self.emit_refusal("coach-target-absent", Some(id));
                    return Err(Refusal {
                        cause: cause::CALL_REJECTED,
                        reason: "the call to coach is not in the room",
                    });
                }
            },
            None => None,
        };
        let announce_name = self
            .member_ref(id)
            .and_then(|m| m.spec.announce_name)
            .unwrap_or(self.settings.announce_caller_name);
        if announce_name {
            let prompt = self.settings.sounds.name_prompt.clone();
            let rate = u64::from(self.settings.rate);
            let name_len = (NAME_MS * rate / 1000) as usize;
            if let Some(m) = self
                .member_mut(id)
                .filter(|m| m.name_clip.is_none() && !m.spec.ghost)
            {
                if m.naming_until_ms.is_none() {
                    // First the caller says their name after the tone; the join
                    // completes when that time is up (see `names_done`).
                    m.queue_prompt(&prompt);
                    let prompt_ms = prompt.as_ref().map_or(0, |p| p.len() as u64 * 1000 / rate);
                    m.naming_until_ms = Some(now_ms + prompt_ms + NAME_MS);
                    m.name_buf = Vec::with_capacity(name_len);
                    return Ok(());
                }
            }
        }
        let mute_on_entry = self.settings.mute_on_entry;
        let wait_for_host = self.settings.wait_for_host;
        let mute_nm = self.mute_non_moderators;
        let first_time_setter = self
            .member_ref(id)
            .map(|m| m.spec.first_setter.clone())
            .unwrap_or_default();
        self.adopt_first_setter(first_time_setter);
        let Some(m) = self.member_mut(id) else {
            return Err(Refusal {
                cause: cause::NORMAL_CLEARING,
                reason: "the caller left",
            });
        };
        m.admitted = true;
        m.joined_at_ms = now_ms;
        if let Some(targets) = coaching {
            m.coaching = targets;
        }
        let coaching = !m.coaching.is_empty();
        if !m.moderator && (mute_on_entry || mute_nm) {
            m.muted = true;
        }
        if wait_for_host && !m.moderator {
            m.spec.start_on_enter = false;
        }
        let (beep, ghost) = (m.spec.beep, m.spec.ghost);
        self.end_below_two |= m.spec.min_two;
        self.ever_admitted = true;
        self.last_joined = Some(id);
        let first_admitted = self.member_count() == 1;
        if first_admitted && (self.settings.auto_record) && self.settings.recording_enabled {
            self.start_recording(None, "auto-start");
        }
        self.emit_for("participant-join", id, vec![]);
        if coaching {
            self.emit_for("participant-coach", id, vec![]);
        }
        let was_started = self.started;
        self.check_start(now_ms);
        // A join that starts the conference is announced too when the caller
        // recorded a name: the members who waited must hear who arrived.
        let name = self
            .member_ref(id)
            .and_then(|m| m.name_clip.clone())
            .filter(|n| !n.is_empty());
        if self.announce
            && beep.on_enter()
            && self.started
            && !ghost
            && (was_started || name.is_some())
        {
            let tone = self
                .member_ref(id)
                .and_then(|m| m.spec.enter_sound.clone())
                .or_else(|| self.settings.sounds.enter.clone());
            self.play_room(then(tone, name), Some(id));
        }
        if !self.started && self.member_count() == 1 {
            let alone = self.settings.sounds.alone.clone();
            if let Some(m) = self.member_mut(id) {
                m.queue_prompt(&alone);
            }
        }
        Ok(())
    }

    fn adopt_first_setter(&mut self, offered: FirstSetter) {
        let f = &mut self.first;
        if f.status_callback.is_none() && offered.status_callback.is_some() {
            f.status_callback = offered.status_callback;
            f.status_callback_method = offered.status_callback_method;
        }
        if f.recording_status_callback.is_none() && offered.recording_status_callback.is_some() {
            f.recording_status_callback = offered.recording_status_callback;
            f.recording_status_callback_method = offered.recording_status_callback_method;
        }
        fn keep_first<T>(slot: &mut Option<T>, offered: Option<T>) {
            if slot.is_none() {
                *slot = offered;
            }
        }
        keep_first(&mut f.status_callback_event, offered.status_callback_event);
        keep_first(
            &mut f.recording_status_callback_event,
            offered.recording_status_callback_event,
        );
        keep_first(&mut f.record_from_start, offered.record_from_start);
        keep_first(&mut f.trim_silence, offered.trim_silence);
        keep_first(&mut f.event_callback_url, offered.event_callback_url);
        keep_first(&mut f.record_beep, offered.record_beep);
        keep_first(&mut f.recording_timeout_ms, offered.recording_timeout_ms);
    }

    /// The conference starts once two members are in and one of them may start it.
    fn check_start(&mut self, now_ms: u64) {
        if self.started || self.ended {
            return;
        }
        let admitted: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| m.admitted && !m.spec.ghost)
            .collect();
        if admitted.len() >= 2 && admitted.iter().any(|m| m.spec.start_on_enter) {
            self.started = true;
            self.started_ms = Some(now_ms);
            for m in self.members.iter_mut() {
                m.prompts.clear();
            }
            self.emit("conference-start", vec![]);
            if self.first.record_from_start == Some(true) && self.settings.recording_enabled {
                self.start_recording(None, "record-from-start");
            }
        }
    }

    fn start_recording(&mut self, path: Option<String>, source: &str) -> bool {
        if self.recording != RecordingState::Off || !self.settings.recording_enabled {
            return false;
        }
        self.recording = RecordingState::Running;
        self.last_heard_ms = self.now_ms;
        self.outputs
            .push_back(Output::Recording(RecordingCommand::Start {
                path,
                source: source.to_string(),
            }));
        if self.first.record_beep.unwrap_or(self.settings.record_beep) {
            let beep = self.settings.sounds.record_beep.clone();
            self.play_room(beep, None);
        }
        true
    }

    fn stop_recording(&mut self, reason: &str) {
        if self.recording != RecordingState::Off {
            self.recording = RecordingState::Off;
            self.outputs
                .push_back(Output::Recording(RecordingCommand::Stop {
                    reason: reason.to_string(),
                }));
        }
    }

    /// The runtime says the recording stopped by itself (disk error, timeout).
    pub fn recording_ended(&mut self) {
        self.recording = RecordingState::Off;
    }

    /// The host says the leg is gone.
    pub fn hangup(&mut self, id: MemberId, now_ms: u64) {
        self.now_ms = now_ms;
        self.leave(id, "hangup");
    }

    fn leave(&mut self, id: MemberId, reason: &str) {
        let Some(idx) = self.members.iter().position(|m| m.id == id) else {
            return;
        };
        let was_admitted = self.members[idx].admitted;
        if was_admitted {
            if std::mem::take(&mut self.members[idx].in_speech) {
                self.emit_for("participant-speech-stop", id, vec![]);
            }
            let (beep, ghost) = (self.members[idx].spec.beep, self.members[idx].spec.ghost);
            self.emit_for(
                "participant-leave",
                id,
                vec![("Reason", reason.to_string())],
            );
            if self.announce && beep.on_exit() && self.started && !ghost {
                let tone = self.members[idx]
                    .spec
                    .exit_sound
                    .clone()
                    .or_else(|| self.settings.sounds.exit.clone());
                let name = self.members[idx].name_clip.clone();
                self.play_room(then(tone, name), Some(id));
            }
        }
        let end_on_exit = self.members[idx].spec.end_on_exit && was_admitted;
        let call_id = self.members[idx].spec.call_id.clone();
        self.members.remove(idx);
        for m in self.members.iter_mut() {
            m.no_hear.retain(|x| *x != id);
            m.coaching.retain(|x| *x != id);
        }
        self.players.retain(|p| p.only != Some(id));
        if end_on_exit && !self.ended {
            self.end("participant-with-end-conference-on-exit-left", call_id);
        } else if was_admitted && self.member_count() == 0 && !self.ended {
            self.end("last-participant-left", call_id);
        } else if was_admitted && self.end_below_two && self.member_count() < 2 && !self.ended {
            self.end("fewer-than-two-participants", call_id);
        } else if self.members.is_empty() && !self.ended {
            // Only callers who never got in: no conference to end, just go,
            // unless recent wrong PINs must be remembered (see `linger_over`).
            self.linger_over(self.now_ms);
        }
    }

    /// A room nobody got into stays while its PIN failure window holds
    /// failures: ending it would forget them, and a guesser calling into an
    /// empty room again and again would meet a fresh limit every time.
    fn linger_over(&mut self, now_ms: u64) {
        if self.members.is_empty()
            && !self.started
            && !self.ended
            && self.failures.count(now_ms) == 0
        {
            self.ended = true;
        }
    }

    /// Ends the conference: every remaining leg is hung up.
    /// The kicked member hears the kicked prompt, is no longer heard, and is
    /// hung up when the prompt ends (at once when there is no prompt).
    fn kick(&mut self, id: MemberId) {
        let now = self.now_ms;
        let (sound, rate) = (
            self.settings.sounds.kicked.clone(),
            u64::from(self.settings.rate),
        );
        match (sound, self.member_mut(id)) {
            (Some(sound), Some(m)) => {
                m.prompts.clear();
                m.queue_prompt(&Some(sound.clone()));
                m.leaving_at_ms = Some(now + sound.len() as u64 * 1000 / rate.max(1));
                m.input.reset_vad();
                if std::mem::take(&mut m.in_speech) {
                    self.emit_for("participant-speech-stop", id, vec![]);
                }
            }
            _ => self.hang_up(id, cause::NORMAL_CLEARING, "kicked"),
        }
    }

    /// Keeps what a naming member says; completes their join when time is up.
    fn names_done(&mut self, now_ms: u64) {
        let rate = self.settings.rate;
        let mut due = Vec::new();
        for m in self.members.iter_mut() {
            let Some(until) = m.naming_until_ms else {
                continue;
            };
            if m.prompts.is_empty() && m.name_buf.len() < m.name_buf.capacity() {
                let room = m.name_buf.capacity() - m.name_buf.len();
                let take = room.min(m.input.pcm.len());
                // A quiet frame's pcm is not filled in: it is a pause.
                if m.input.has_audio {
                    m.name_buf.extend_from_slice(&m.input.pcm[..take]);
                } else {
                    m.name_buf.resize(m.name_buf.len() + take, 0);
                }
            }
            if now_ms >= until {
                let kept = crate::audio::wav::trim_silence(&m.name_buf, NAME_SILENCE_DBOV, rate);
                let clip: Arc<[i16]> = m.name_buf[kept].into();
                // Said nothing: an empty name, so they are not asked again.
                m.name_clip = Some(clip);
                m.name_buf = Vec::new();
                m.naming_until_ms = None;
                due.push(m.id);
            }
        }
        for id in due {
            if let Err(refusal) = self.admit(id, now_ms) {
                self.hang_up(id, refusal.cause, refusal.reason);
            }
        }
    }

    /// Stops a recording nobody has been heard in for `recording_timeout_s`.
    fn recording_timeout(&mut self, now_ms: u64, heard: bool) {
        if heard {
            self.last_heard_ms = now_ms;
        }
        let timeout = self
            .first
            .recording_timeout_ms
            .unwrap_or(self.settings.recording_timeout_ms);
        if timeout > 0
            && self.recording == RecordingState::Running
            && now_ms.saturating_sub(self.last_heard_ms) >= timeout
        {
            log::info!(target: "huddle::recording", "room {}: nobody heard for {} s, recording stops",
                self.settings.name, timeout / 1000);
            self.stop_recording("timeout");
        }
    }

    /// Hangs up kicked members whose prompt has played (called by the tick).
    fn kicked_done(&mut self, now_ms: u64) {
        let due: Vec<MemberId> = self
            .members
            .iter()
            .filter(|m| m.leaving_at_ms.is_some_and(|t| now_ms >= t))
            .map(|m| m.id)
            .collect();
        for id in due {
            self.hang_up(id, cause::NORMAL_CLEARING, "kicked");
        }
    }

    fn end(&mut self, reason: &str, ended_by: String) {
        self.stop_recording("conference-end");
        self.ended = true;
        let ids: Vec<MemberId> = self.members.iter().map(|m| m.id).collect();
        for id in ids {
            self.hang_up(id, cause::NORMAL_CLEARING, reason);
        }
        // A room nobody ever got into had no conference to end.
        if self.ever_admitted {
            // Whole seconds from conference-start (0 if it never started).
            let duration_s = self
                .started_ms
                .map_or(0, |t| self.now_ms.saturating_sub(t) / 1000);
            // Always present, so a receiver can rely on the keys; empty when
            // no call ended it (the API's `end`).
            let mut fields = vec![
                ("ReasonConferenceEnded", reason.to_string()),
                ("CallSidEndingConference", ended_by.clone()),
                ("CallSidLegacy", ended_by),
                ("ConferenceDuration", duration_s.to_string()),
            ];
            if let Some(url) = &self.first.event_callback_url {
                fields.push(("EventCallbackUrl", url.clone()));
            }
            self.emit("conference-end", fields);
        }
    }

    /// Removes a member huddle decided to drop and tells the host to hang up.
    fn hang_up(&mut self, id: MemberId, cause: u32, reason: &str) {
        let Some(m) = self.member_ref(id) else { return };
        let channel = m.spec.channel.clone();
        let ending = self.ended;
        if ending {
            // The conference is already over: say who left, without starting another end.
            if let Some(idx) = self.members.iter().position(|m| m.id == id) {
                if self.members[idx].admitted {
                    if std::mem::take(&mut self.members[idx].in_speech) {
                        self.emit_for("participant-speech-stop", id, vec![]);
                    }
                    self.emit_for(
                        "participant-leave",
                        id,
                        vec![("Reason", reason.to_string())],
                    );
                }
                self.members.remove(idx);
            }
        } else {
            self.leave(id, reason);
        }
        self.outputs.push_back(Output::Hangup {
            member: id,
            channel,
            cause,
        });
    }

    fn remove_silently(&mut self, id: MemberId) {
        self.members.retain(|m| m.id != id);
        if self.members.is_empty() && !self.started && self.seq == 0 {
            self.ended = true;
        }
    }

    /// Runs a command from the operator (`actor` None) or from a member's
    /// DTMF (`actor` Some), which may not use moderator commands unless it is one.
    pub fn command(
        &mut self,
        actor: Option<MemberId>,
        cmd: Command,
        now_ms: u64,
    ) -> Result<String, CommandError> {
        self.now_ms = now_ms;
        if let Some(a) = actor {
            let is_mod = self
                .member_ref(a)
                .ok_or(CommandError::UnknownMember(a))?
                .moderator;
            if cmd.needs_moderator() && !is_mod {
                let refuse = self.settings.sounds.refused.clone();
                if let Some(m) = self.member_mut(a) {
                    m.queue_prompt(&refuse);
                }
                return Err(CommandError::Refused("a moderator control".to_string()));
            }
        }
        match cmd {
            Command::Mute(t) => self.each(t, |room, id| room.set_muted(id, true, actor)),
            Command::Unmute(t) => self.each(t, |room, id| room.set_muted(id, false, actor)),
            Command::ToggleMute(t) => self.each(t, |room, id| {
                let muted = room.member_ref(id).is_some_and(|m| m.muted);
                room.set_muted(id, !muted, actor)
            }),
            Command::Deaf(t) => self.each(t, |room, id| room.set_deaf(id, true)),
            Command::Undeaf(t) => self.each(t, |room, id| room.set_deaf(id, false)),
            Command::ToggleDeaf(t) => self.each(t, |room, id| {
                let deaf = room.member_ref(id).is_some_and(|m| m.deaf);
                room.set_deaf(id, !deaf)
            }),
            Command::Hold(t, music) => {
                self.each(t, |room, id| room.set_hold(id, true, music.clone()))
            }
            Command::Unhold(t) => self.each(t, |room, id| room.set_hold(id, false, None)),
            Command::Kick(t) => self.each(t, |room, id| {
                room.emit_for("participant-kick", id, vec![]);
                room.kick(id);
                Ok(())
            }),
            Command::Hup(t) => self.each(t, |room, id| {
                room.hang_up(id, cause::NORMAL_CLEARING, "hangup-by-operator");
                Ok(())
            }),
            Command::Coach { coach, mut members } => {
                if members.contains(&coach) {
                    return Err(CommandError::Invalid(
                        "a member cannot coach itself".to_string(),
                    ));
                }
                let mut seen = Vec::with_capacity(members.len());
                members.retain(|id| {
                    let first = !seen.contains(id);
                    seen.push(*id);
                    first
                });
                if members.is_empty() || members.len() > member::MAX_COACHED {
                    return Err(CommandError::Invalid(format!(
                        "a coach whispers to 1 to {} members",
                        member::MAX_COACHED
                    )));
                }
                for &id in &members {
                    self.member_ref(id)
                        .filter(|m| m.admitted)
                        .ok_or(CommandError::UnknownMember(id))?;
                }
                let c = self
                    .member_mut(coach)
                    .ok_or(CommandError::UnknownMember(coach))?;
                // The app-arg target no longer applies: at admission (a coach
                // still entering a PIN) the list set here stands.
                c.spec.coach = None;
                let list = members
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let plural = if members.len() == 1 { "" } else { "s" };
                c.coaching = members;
                self.emit_for("participant-coach", coach, vec![]);
                Ok(format!("member {coach} now coaches member{plural} {list}"))
            }
            Command::Uncoach { coach } => {
                let c = self
                    .member_mut(coach)
                    .ok_or(CommandError::UnknownMember(coach))?;
                if c.coaching.is_empty() {
                    return Err(CommandError::Invalid(format!(
                        "member {coach} is not coaching"
                    )));
                }
                c.coaching.clear();
                c.spec.coach = None;
                // Coaching=false and no CallSidToCoach: the whisper is over.
                self.emit_for("participant-coach", coach, vec![]);
                Ok(format!("member {coach} no longer coaches"))
            }
            Command::Lock => {
                self.locked = true;
                self.emit("conference-lock", vec![]);
                Ok("locked".to_string())
            }
            Command::Unlock => {
                self.locked = false;
                self.emit("conference-unlock", vec![]);
                Ok("unlocked".to_string())
            }
            Command::VolumeIn(t, adj) => self.each(t, |room, id| {
                let m = room.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                m.in_gain_db = adjust(m.in_gain_db, adj, 0.0, VOLUME_STEP_DB, -24.0, 24.0);
                Ok(())
            }),
            Command::VolumeOut(t, adj) => self.each(t, |room, id| {
                let m = room.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                m.out_gain_db = adjust(m.out_gain_db, adj, 0.0, VOLUME_STEP_DB, -24.0, 24.0);
                Ok(())
            }),
            Command::Energy(t, adj) => self.each(t, |room, id| {
                let default = room.settings.vad.threshold_dbov;
                let m = room.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                m.energy_dbov = adjust(m.energy_dbov, adj, default, ENERGY_STEP_DB, -96.0, 0.0);
                m.input.vad.set_threshold(m.energy_dbov);
                Ok(())
            }),
            Command::Play { sound, member } => {
                match member {
                    Some(id) => {
                        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
                        m.queue_prompt(&Some(sound));
                    }
                    None => self.play_room(Some(sound), None),
                }
                Ok("playing".to_string())
            }
            Command::Stop { member } => {
                match member {
                    Some(id) => self
                        .member_mut(id)
                        .ok_or(CommandError::UnknownMember(id))?
                        .prompts
                        .clear(),
                    None => self.players.clear(),
                }
                Ok("stopped".to_string())
            }
            Command::SetMaxMembers(n) => {
                if !(2..=1000).contains(&n) {
                    return Err(CommandError::Invalid(format!(
                        "max members {n} is not in 2..1000"
                    )));
                }
                self.settings.max_members = n;
                Ok(format!("max members {n}"))
            }
            Command::SetPin(pin) => {
                if pin.is_some() && pin == self.settings.host_pin {
                    return Err(CommandError::Invalid(
                        "the PIN must differ from the host PIN, or every caller would be a moderator"
                            .to_string(),
                    ));
                }
                if pin.is_none() && self.settings.host_pin.is_some() {
                    return Err(CommandError::Invalid(
                        "remove the host PIN first: a host PIN needs a room PIN".to_string(),
                    ));
                }
                self.settings.pin = pin;
                Ok("pin set".to_string())
            }
            Command::SetHostPin(pin) => {
                if pin.is_some() && pin == self.settings.pin {
                    return Err(CommandError::Invalid(
                        "the host PIN must differ from the PIN, or every caller would be a moderator"
                            .to_string(),
                    ));
                }
                if pin.is_some() && self.settings.pin.is_none() {
                    return Err(CommandError::Invalid(
                        "a host PIN needs a room PIN".to_string(),
                    ));
                }
                self.settings.host_pin = pin;
                Ok("host pin set".to_string())
            }
            Command::SetMusic(music) => {
                self.settings.sounds.moh = music;
                Ok("music set".to_string())
            }
            Command::Relate { a, b, relation } => {
                for id in a.iter().chain(b.iter()) {
                    self.member_ref(*id)
                        .ok_or(CommandError::UnknownMember(*id))?;
                }
                for &x in &a {
                    for &y in &b {
                        if x == y {
                            continue;
                        }
                        match relation {
                            // x does not hear y
                            Relation::NoHear => self.relate(x, y, true),
                            // x is not heard by y
                            Relation::NoSpeak => self.relate(y, x, true),
                            Relation::Clear => {
                                self.relate(x, y, false);
                                self.relate(y, x, false);
                            }
                        }
                    }
                }
                Ok("relation set".to_string())
            }
            Command::MuteAllNonModerators => {
                self.mute_non_moderators = true;
                self.each(Target::NonModerator, |room, id| {
                    room.set_muted(id, true, None)
                })
                .or_else(|e| {
                    if e == CommandError::NoMembers {
                        Ok(String::new())
                    } else {
                        Err(e)
                    }
                })?;
                Ok("muted all non-moderators".to_string())
            }
            Command::UnmuteAllNonModerators => {
                self.mute_non_moderators = false;
                self.each(Target::NonModerator, |room, id| {
                    room.set_muted(id, false, None)
                })
                .or_else(|e| {
                    if e == CommandError::NoMembers {
                        Ok(String::new())
                    } else {
                        Err(e)
                    }
                })?;
                Ok("unmuted all non-moderators".to_string())
            }
            Command::Announce(on) => {
                self.announce = on;
                Ok(format!(
                    "join/leave announcements {}",
                    if on { "on" } else { "off" }
                ))
            }
            Command::Invite(destination) => {
                if destination.is_empty() || destination.len() > 64 {
                    return Err(CommandError::Invalid("no number to dial".to_string()));
                }
                // A member's keypad (not the operator's API) is held to the
                // profile's rules.
                if let Some(id) = actor {
                    if let Err(why) = self.may_invite(id, &destination, now_ms) {
                        let refuse = self.settings.sounds.refused.clone();
                        if let Some(m) = self.member_mut(id) {
                            m.queue_prompt(&refuse);
                        }
                        return Err(CommandError::Refused(why.to_string()));
                    }
                }
                self.outputs.push_back(Output::Originate {
                    destination: destination.clone(),
                });
                Ok(format!("dialling {destination}"))
            }
            Command::Record(rc) => self.record_command(rc),
            Command::Leave => {
                let id = actor.ok_or(CommandError::Invalid("leave needs a member".to_string()))?;
                self.hang_up(id, cause::NORMAL_CLEARING, "left");
                Ok("left".to_string())
            }
            Command::End => {
                if self.ended {
                    return Err(CommandError::Invalid(
                        "the conference has already ended".to_string(),
                    ));
                }
                self.end("ended-via-api", String::new());
                Ok("ended".to_string())
            }
        }
    }

    fn may_invite(&mut self, id: MemberId, number: &str, now_ms: u64) -> Result<(), &'static str> {
        let (admitted, moderator) = self
            .member_ref(id)
            .map_or((false, false), |m| (m.admitted, m.moderator));
        let rules = &self.settings.invite;
        match rules.who {
            invite::InvitePolicy::Nobody => return Err("invites are off in this profile"),
            invite::InvitePolicy::Moderators if !moderator => {
                return Err("only moderators may invite")
            }
            _ => {}
        }
        // A caller still waiting (PIN entry, or for the conference to
        // start) has not been let in and dials nobody.
        if !admitted || (!self.started && !moderator) {
            return Err("a waiting caller may not invite");
        }
        if !rules.destination_allowed(number) {
            return Err("the number matches no invite_destinations pattern");
        }
        self.invites.admit(rules, id, now_ms)
    }

    fn record_command(&mut self, rc: RecordingCommand) -> Result<String, CommandError> {
        match rc {
            RecordingCommand::Start { path, source } => {
                if !self.settings.recording_enabled {
                    return Err(CommandError::Refused(
                        "recording is not enabled for this room".to_string(),
                    ));
                }
                if !self.start_recording(path, &source) {
                    return Err(CommandError::Invalid(
                        "a recording is already running".to_string(),
                    ));
                }
                Ok("recording started".to_string())
            }
            RecordingCommand::Pause => {
                if self.recording != RecordingState::Running {
                    return Err(CommandError::Invalid(
                        "no running recording to pause".to_string(),
                    ));
                }
                self.recording = RecordingState::Paused;
                self.outputs
                    .push_back(Output::Recording(RecordingCommand::Pause));
                Ok("recording paused".to_string())
            }
            RecordingCommand::Resume => {
                if self.recording != RecordingState::Paused {
                    return Err(CommandError::Invalid(
                        "no paused recording to resume".to_string(),
                    ));
                }
                self.recording = RecordingState::Running;
                self.outputs
                    .push_back(Output::Recording(RecordingCommand::Resume));
                Ok("recording resumed".to_string())
            }
            RecordingCommand::Stop { reason } => {
                if self.recording == RecordingState::Off {
                    return Err(CommandError::Invalid("no recording to stop".to_string()));
                }
                self.stop_recording(&reason);
                Ok("recording stopped".to_string())
            }
        }
    }

    fn relate(&mut self, listener: MemberId, speaker: MemberId, on: bool) {
        if let Some(m) = self.member_mut(listener) {
            if on {
                if !m.no_hear.contains(&speaker) && m.no_hear.len() < 1000 {
                    m.no_hear.push(speaker);
                }
            } else {
                m.no_hear.retain(|x| *x != speaker);
            }
        }
    }

    fn set_muted(
        &mut self,
        id: MemberId,
        muted: bool,
        actor: Option<MemberId>,
    ) -> Result<(), CommandError> {
        let mute_nm = self.mute_non_moderators;
        let (muted_prompt, unmuted_prompt, refused_prompt) = (
            self.settings.sounds.muted.clone(),
            self.settings.sounds.unmuted.clone(),
            self.settings.sounds.refused.clone(),
        );
        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
        if !muted && mute_nm && !m.moderator && actor == Some(id) {
            // The caller pressed a key: tell them it did nothing.
            m.queue_prompt(&refused_prompt);
            return Err(CommandError::Refused(
                "mute-non-moderators is on: only a moderator can unmute you".to_string(),
            ));
        }
        if m.muted == muted {
            return Ok(());
        }
        m.muted = muted;
        m.queue_prompt(if muted {
            &muted_prompt
        } else {
            &unmuted_prompt
        });
        self.emit_for(
            if muted {
                "participant-mute"
            } else {
                "participant-unmute"
            },
            id,
            vec![],
        );
        Ok(())
    }

    fn set_deaf(&mut self, id: MemberId, deaf: bool) -> Result<(), CommandError> {
        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
        if m.deaf == deaf {
            return Ok(());
        }
        m.deaf = deaf;
        self.emit_for(
            if deaf {
                "participant-deaf"
            } else {
                "participant-undeaf"
            },
            id,
            vec![],
        );
        Ok(())
    }

    fn set_hold(
        &mut self,
        id: MemberId,
        hold: bool,
        music: Option<Arc<[i16]>>,
    ) -> Result<(), CommandError> {
        let m = self.member_mut(id).ok_or(CommandError::UnknownMember(id))?;
        if music.is_some() {
            m.hold_music = music;
            m.hold_pos = 0;
        }
        if m.hold == hold {
            return Ok(());
        }
        m.hold = hold;
        if hold {
            m.input.reset_vad();
        }
        let stop_talking = hold && std::mem::take(&mut m.in_speech);
        // Back from hold while talking: the room hears them from now on.
        let start_talking = !hold && m.talking();
        let muted = m.muted;
        if start_talking {
            m.in_speech = true;
        }
        if stop_talking {
            self.emit_for("participant-speech-stop", id, vec![]);
        }
        self.emit_for(
            if hold {
                "participant-hold"
            } else {
                "participant-unhold"
            },
            id,
            vec![],
        );
        if start_talking {
            let name = if muted {
                "participant-speech-while-muted"
            } else {
                "participant-speech-start"
            };
            self.emit_for(name, id, vec![]);
        }
        Ok(())
    }

    /// Applies `f` to every admitted member the target names.
    fn each(
        &mut self,
        target: Target,
        mut f: impl FnMut(&mut Room, MemberId) -> Result<(), CommandError>,
    ) -> Result<String, CommandError> {
        let ids: Vec<MemberId> = match target {
            Target::Id(id) => {
                self.member_ref(id)
                    .filter(|m| m.admitted)
                    .ok_or(CommandError::UnknownMember(id))?;
                vec![id]
            }
            Target::All => self
                .members
                .iter()
                .filter(|m| m.admitted)
                .map(|m| m.id)
                .collect(),
            Target::NonModerator => self
                .members
                .iter()
                .filter(|m| m.admitted && !m.moderator)
                .map(|m| m.id)
                .collect(),
            Target::Last => self
                .members
                .iter()
                .filter(|m| m.admitted)
                .max_by_key(|m| (m.joined_at_ms, m.id))
                .map(|m| m.id)
                .into_iter()
                .collect(),
        };
        if ids.is_empty() {
            return Err(CommandError::NoMembers);
        }
        for id in &ids {
            f(self, *id)?;
        }
        Ok(format!(
            "{} member{}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        ))
    }

    fn play_room(&mut self, sound: Option<Arc<[i16]>>, except: Option<MemberId>) {
        if let Some(s) = sound {
            if self.players.len() < 8 {
                self.players.push(Player {
                    sound: s,
                    pos: 0,
                    except,
                    only: None,
                });
            }
        }
    }

    /// Members stay in id order (ids grow with each join; removal keeps the
    /// order), so a lookup is a binary search, not a scan: `push_frame` runs
    /// it for every frame of every member.
    fn member_ref(&self, id: MemberId) -> Option<&Member> {
        let i = self.members.binary_search_by_key(&id, |m| m.id).ok()?;
        self.members.get(i)
    }

    fn member_mut(&mut self, id: MemberId) -> Option<&mut Member> {
        let i = self.members.binary_search_by_key(&id, |m| m.id).ok()?;
        self.members.get_mut(i)
    }

    fn emit_refusal(&mut self, reason: &str, id: Option<MemberId>) {
        match id {
            Some(id) => self.emit_for("join-refused", id, vec![("Reason", reason.to_string())]),
            None => self.emit("join-refused", vec![("Reason", reason.to_string())]),
        }
    }

    /// An event about one member.
    fn emit_for(&mut self, name: &str, id: MemberId, extra: Vec<(&'static str, String)>) {
        let Some(m) = self.member_ref(id) else { return };
        // Comma-separated, in the order the coach was given them.
        let coached_calls = (!m.coaching.is_empty()).then(|| {
            m.coaching
                .iter()
                .filter_map(|c| self.member_ref(*c))
                .map(|c| c.spec.call_id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        });
        let mut fields = vec![
            ("CallSid", m.spec.call_id.clone()),
            // The seeds' backward-compatible copy of CallSid; huddle has one id.
            ("CallSidLegacy", m.spec.call_id.clone()),
            ("From", m.spec.from.clone()),
            ("To", m.spec.to.clone()),
            ("ParticipantLabel", m.spec.label.clone()),
            ("Muted", m.muted.to_string()),
            ("Hold", m.hold.to_string()),
            ("Coaching", (!m.coaching.is_empty()).to_string()),
            ("StartConferenceOnEnter", m.spec.start_on_enter.to_string()),
            ("EndConferenceOnExit", m.spec.end_on_exit.to_string()),
            ("MemberId", m.id.to_string()),
        ];
        if let Some(calls) = coached_calls {
            fields.push(("CallSidToCoach", calls));
        }
        fields.extend(extra);
        self.emit(name, fields);
    }

    /// Queues an event with the conference fields, numbered if delivered.
    fn emit(&mut self, name: &str, extra: Vec<(&'static str, String)>) {
        if events::suppressed(name, &self.settings.suppress_events) {
            return;
        }
        if !events::subscribed(name, self.first.status_callback_event.as_deref()) {
            return;
        }
        self.seq += 1;
        let mut fields = vec![
            ("AccountSid", self.settings.account.clone()),
            ("ConferenceSid", self.sid.clone()),
            ("FriendlyName", self.settings.name.clone()),
            ("StatusCallbackEvent", name.to_string()),
            ("SequenceNumber", self.seq.to_string()),
            (
                "Timestamp",
                events::rfc2822(self.settings.wall_epoch_ms + self.now_ms),
            ),
            ("ParticipantCount", self.member_count().to_string()),
        ];
        if let Some(url) = &self.first.status_callback {
            fields.push(("StatusCallback", url.clone()));
            fields.push((
                "StatusCallbackMethod",
                self.first
                    .status_callback_method
                    .clone()
                    .unwrap_or_else(|| "POST".to_string()),
            ));
        }
        fields.extend(extra);
        self.outputs
            .push_back(Output::Event(events::event(name, fields)));
    }

    /// Events the runtime makes on the room's behalf (recordings), numbered in
    /// the same sequence.
    pub fn emit_external(&mut self, name: &str, fields: Vec<(&'static str, String)>, now_ms: u64) {
        self.now_ms = now_ms;
        self.emit(name, fields);
    }

    /// PIN-entry timeouts: called by the tick.
    fn pin_timeouts(&mut self, now_ms: u64) {
        let due: Vec<MemberId> = self
            .members
            .iter()
            .filter(|m| m.pin.as_ref().is_some_and(|p| now_ms >= p.deadline_ms))
            .map(|m| m.id)
            .collect();
        for id in due {
            self.finish_pin_or_hangup(id, now_ms);
        }
        if self.members.is_empty() {
            self.linger_over(now_ms);
        }
    }
}

fn adjust(current: f32, adj: Adjust, default: f32, step: f32, lo: f32, hi: f32) -> f32 {
    match adj {
        Adjust::To(v) => v,
        Adjust::Up => current + step,
        Adjust::Down => current - step,
        Adjust::Reset => default,
    }
    .clamp(lo, hi)
}

fn view(m: &Member) -> MemberView {
    MemberView {
        id: m.id,
        channel: m.spec.channel.as_str().to_string(),
        call_id: m.spec.call_id.clone(),
        from: m.spec.from.clone(),
        caller_name: m.spec.caller_name.clone(),
        admitted: m.admitted,
        moderator: m.moderator,
        muted: m.muted,
        deaf: m.deaf,
        hold: m.hold,
        talking: m.talking(),
        coaching: m.coaching.clone(),
        in_gain_db: m.in_gain_db,
        out_gain_db: m.out_gain_db,
        energy_dbov: m.energy_dbov,
        level_dbov: m.input.level_dbov,
        joined_at_ms: m.joined_at_ms,
        codec: m.out_format.codec.name(),
        rate: m.out_format.rate,
        counters: m.counters,
    }
}
