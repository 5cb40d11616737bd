//! The room core: a sans-IO state machine.
//!
//! Inputs: joins, PIN digits, commands, frames and ticks, each with `now` (room
//! time in ms). Outputs: events, hangups and dial-outs queued for the caller
//! to drain with `poll_output`, and audio handed to a `TickSink` during
//! `tick`. The core never calls the host, reads a clock, locks, spawns or does
//! I/O, which is what lets a two-hour conference run in a test in a second.

pub mod admission;
mod cascade;
mod commands;
pub mod events;
pub mod invite;
pub mod io;
mod lifecycle;
pub mod log_limit;
pub mod member;
mod mixer;
mod out_stream;
pub mod settings;
#[cfg(test)]
mod sim;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::audio::limiter::Limiter;
use crate::audio::vad::Vad;
use crate::room::io::{cause, Channel, OutFrame};

use admission::{check_pin, FailureWindow, PinCheck, PinEntry};
pub use commands::{Adjust, Command, CommandError, Relation, Target};
pub use log_limit::{LogLimit, BAD_FRAME_LOG_EVERY_MS};
pub use member::{
    DecodeError, FrameError, InFrame, MemberCounters, MemberId, LATE_TICK_FRAMES, SPARE_BUFFERS,
};
use member::{Input, Member, Pacing};
use mixer::{MixScratch, Player};
use out_stream::Format;
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
    Event(events::RoomEvent),
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
    /// A cascade's bridge leg (see `cascade`).
    pub bridge: bool,
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
    /// Frames waiting in its jitter buffer.
    pub queued: usize,
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
    /// The strings every event repeats, made at the first event and again
    /// after the first participant's settings change them.
    event_tag: Option<Arc<events::RoomTag>>,
    failures: FailureWindow,
    invites: invite::InviteLog,
    /// Room time of the latest wrong PIN: an empty room remembers it for
    /// [`FAILURE_MEMORY_MS`].
    last_failure_ms: Option<u64>,
    now_ms: u64,
    /// Room time of the last tick, to notice ticks the scheduler skipped.
    last_tick_ms: Option<u64>,
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
    cascades: Vec<cascade::Cascade>,
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
            event_tag: None,
            failures: FailureWindow::default(),
            invites: invite::InviteLog::default(),
            last_failure_ms: None,
            now_ms,
            last_tick_ms: None,
            started_ms: None,
            frame,
            players: Vec::new(),
            scratch,
            exchange_cursor: usize::MAX,
            recording: RecordingState::Off,
            counters: RoomCounters::default(),
            last_joined: None,
            cascades: Vec::new(),
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
        if self.settings.skip_quiet_inputs {
            m.door_threshold_dbov()
        } else {
            f32::NEG_INFINITY
        }
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
    fn emit_for(&mut self, name: &'static str, id: MemberId, extra: Vec<(&'static str, String)>) {
        let Some(m) = self.member_ref(id) else { return };
        // A cascade's bridge is plumbing, not a participant.
        if m.spec.bridge {
            return;
        }
        let coached = (!m.coaching.is_empty()).then(|| {
            m.coaching
                .iter()
                .filter_map(|c| self.member_ref(*c))
                .map(|c| Arc::clone(&c.tag))
                .collect()
        });
        let facts = events::MemberFacts {
            tag: Arc::clone(&m.tag),
            id: m.id,
            muted: m.muted,
            hold: m.hold,
            start_on_enter: m.spec.start_on_enter,
            end_on_exit: m.spec.end_on_exit,
            coached,
        };
        self.emit_event(name, Some(facts), extra);
    }

    /// Queues an event with the conference fields, numbered if delivered.
    fn emit(&mut self, name: &'static str, extra: Vec<(&'static str, String)>) {
        self.emit_event(name, None, extra);
    }

    /// Numbers and queues a typed event; its strings are made later, off
    /// the room lock ([`events::RoomEvent::format`]).
    fn emit_event(
        &mut self,
        name: &'static str,
        member: Option<events::MemberFacts>,
        extra: Vec<(&'static str, String)>,
    ) {
        if events::suppressed(name, &self.settings.suppress_events) {
            return;
        }
        if !events::subscribed(name, self.first.status_callback_event.as_deref()) {
            return;
        }
        self.seq += 1;
        let room = match &self.event_tag {
            Some(tag) => Arc::clone(tag),
            None => {
                let tag = Arc::new(events::RoomTag {
                    account: self.settings.account.clone(),
                    sid: self.sid.clone(),
                    name: self.settings.name.clone(),
                    status_callback: self.first.status_callback.as_ref().map(|url| {
                        let method = self.first.status_callback_method.as_deref();
                        (url.clone(), method.unwrap_or("POST").to_string())
                    }),
                });
                self.event_tag = Some(Arc::clone(&tag));
                tag
            }
        };
        let event = events::RoomEvent {
            name,
            seq: self.seq,
            unix_ms: self.settings.wall_epoch_ms + self.now_ms,
            participant_count: self.member_count(),
            room,
            member,
            extra,
        };
        self.outputs.push_back(Output::Event(event));
    }

    /// Events the runtime makes on the room's behalf (recordings), numbered in
    /// the same sequence.
    /// `name` must be in [`events::CATALOGUE`]; any other is not sent.
    pub fn emit_external(&mut self, name: &str, fields: Vec<(&'static str, String)>, now_ms: u64) {
        self.now_ms = now_ms;
        let Some(name) = events::catalogued(name) else {
            debug_assert!(false, "event {name} is not in the catalogue");
            return;
        };
        self.emit(name, fields);
    }
}

fn view(m: &Member) -> MemberView {
    MemberView {
        queued: m.input.queued(),
        id: m.id,
        channel: m.spec.channel.as_str().to_string(),
        call_id: m.spec.call_id.clone(),
        from: m.spec.from.clone(),
        caller_name: m.spec.caller_name.clone(),
        admitted: m.admitted,
        moderator: m.moderator,
        bridge: m.spec.bridge,
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
