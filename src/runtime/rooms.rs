//! A live room as the runtime holds it: the sans-IO core behind one lock,
//! the member ports frames arrive on, and the code that runs a tick and
//! carries its outputs to the host.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::audio::level::{rfc6464_to_dbov, rms_dbov};
use crate::control::config::Profile;
use crate::control::dtmf::{DtmfAction, DtmfMatcher, DtmfOutcome};
use crate::room::io::{Channel, Codec, OutFrame};
use crate::room::member::{validate_frame, FrameError};
use crate::room::{
    Adjust, Command, InFrame, LogLimit, MemberId, Output, RecordingCommand, RecordingState, Room,
    Target, TickSink,
};
use crate::runtime::Host;

use super::outbox::HostCall;
pub use super::recorder::{current_config, Outlets};
use super::recorder::{RecordedRoom, Recording};

/// Frames waiting between the host's media thread and the next tick. A
/// flooding sender loses its oldest frames here; memory stays bounded.
const INBOX_FRAMES: usize = 16;

/// Frames on their way from the host's thread to the tick, and payload
/// buffers on their way back. One lock, held only to move frames in or
/// out, never across a tick, and never waited for by the tick: two lock-free queues (frames, buffers) cost
/// a frame six cache lines written on one core and read on the other,
/// this costs two or three, and the queues were a fifth of a 1,000-member
/// room's CPU in real time.
#[derive(Default)]
struct Mailbox {
    frames: VecDeque<InFrame>,
    spare: Vec<Vec<u8>>,
}

/// Keeps a payload buffer for the next frame, up to SPARE_BUFFERS.
fn keep_spare(spare: &mut Vec<Vec<u8>>, buf: Vec<u8>) {
    if buf.capacity() > 0 && spare.len() < crate::room::SPARE_BUFFERS {
        spare.push(buf);
    }
}

/// Digits one member may send at once (a PIN of 20 and its '#', with room
/// to spare), then DTMF_PER_SECOND on average: about what a phone keypad's
/// RFC 4733 timing (40 ms tone, 40 ms gap) allows a person or a dialler.
/// Each digit can queue an event (a mute toggle does), so this is what one
/// caller can add to the host's queue: 32 at once and 16 a second after.
pub const DTMF_BURST: u64 = 32;
pub const DTMF_PER_SECOND: u64 = 16;

/// A token bucket in thousandths of a digit, under the room's lock.
#[derive(Debug)]
struct DtmfBudget {
    milli: u64,
    at_ms: u64,
}

/// `buf` (or a new buffer) holding `bytes`.
fn filled(buf: Option<Vec<u8>>, bytes: &[u8]) -> Vec<u8> {
    let mut buf = buf.unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(bytes);
    buf
}

/// The host's side of one member: frames cross here without the room lock.
pub struct MemberPort {
    pub member: MemberId,
    pub channel: Channel,
    pub room: std::sync::Weak<RoomCell>,
    mailbox: Mutex<Mailbox>,
    gone: AtomicBool,
    dropped: AtomicU64,
    bad_frames: AtomicU64,
    /// Rate limit of the log line for frames refused at the door.
    pub bad_frame_log: LogLimit,
    dtmf_budget: Mutex<DtmfBudget>,
    dtmf_refused: AtomicU64,
    /// Rate limit of the log line for digits over the budget.
    pub dtmf_log: LogLimit,
    interval_ms: u32,
    /// `f32` bits: frames measured quieter than this are queued without
    /// their payload. Set by each tick from the member's state; until the
    /// first, every payload is kept.
    door_dbov: AtomicU32,
}

impl MemberPort {
    pub fn new(
        member: MemberId,
        channel: Channel,
        room: &Arc<RoomCell>,
        interval_ms: u32,
    ) -> MemberPort {
        MemberPort {
            member,
            channel,
            room: Arc::downgrade(room),
            mailbox: Mutex::new(Mailbox::default()),
            gone: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            bad_frame_log: LogLimit::new(),
            dtmf_budget: Mutex::new(DtmfBudget {
                milli: DTMF_BURST * 1000,
                at_ms: 0,
            }),
            dtmf_refused: AtomicU64::new(0),
            dtmf_log: LogLimit::new(),
            interval_ms,
            door_dbov: AtomicU32::new(f32::NEG_INFINITY.to_bits()),
        }
    }

    /// Whether a frame at `level_dbov` can be queued without its payload.
    pub fn quiet_at_door(&self, level_dbov: f32) -> bool {
        level_dbov < f32::from_bits(self.door_dbov.load(Ordering::Relaxed))
    }

    pub fn interval_ms(&self) -> u32 {
        self.interval_ms
    }

    fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A payload buffer holding `bytes`, reusing one the room has finished
    /// with when there is one: a steady stream allocates nothing per frame
    /// (with 10,000 members, malloc and the page faults of a heap that grew
    /// and shrank every tick were half the cost of feeding frames).
    pub fn payload(&self, bytes: &[u8]) -> Vec<u8> {
        let buf = self.mailbox().spare.pop();
        filled(buf, bytes)
    }

    pub fn recycle(&self, buf: Vec<u8>) {
        if buf.capacity() > 0 {
            keep_spare(&mut self.mailbox().spare, buf);
        }
    }

    /// Queues a frame for the next tick; never waits for one.
    pub fn push(&self, frame: InFrame) {
        self.push_locked(&mut self.mailbox(), frame);
    }

    /// Queues a frame with a copy of `bytes` as its payload: `payload` and
    /// `push` under one lock.
    pub fn push_copy(&self, mut frame: InFrame, bytes: &[u8]) {
        let mut mailbox = self.mailbox();
        frame.data = filled(mailbox.spare.pop(), bytes);
        self.push_locked(&mut mailbox, frame);
    }

    fn push_locked(&self, mailbox: &mut Mailbox, frame: InFrame) {
        if mailbox.frames.len() >= INBOX_FRAMES {
            if let Some(oldest) = mailbox.frames.pop_front() {
                keep_spare(&mut mailbox.spare, oldest.data);
            }
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        mailbox.frames.push_back(frame);
    }

    /// Takes one digit from the member's budget at `now_ms`; false (and
    /// counted) when the budget is spent.
    pub fn take_dtmf(&self, now_ms: u64) -> bool {
        let mut b = self.dtmf_budget.lock().unwrap_or_else(|e| e.into_inner());
        let refill = now_ms
            .saturating_sub(b.at_ms)
            .saturating_mul(DTMF_PER_SECOND);
        b.milli = (b.milli.saturating_add(refill)).min(DTMF_BURST * 1000);
        b.at_ms = b.at_ms.max(now_ms);
        if b.milli < 1000 {
            self.dtmf_refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        b.milli -= 1000;
        true
    }

    /// Digits refused because the member sent them faster than its budget.
    pub fn dtmf_refused(&self) -> u64 {
        self.dtmf_refused.load(Ordering::Relaxed)
    }

    pub fn count_bad_frame(&self) {
        self.bad_frames.fetch_add(1, Ordering::Relaxed);
    }

    pub fn bad_frames(&self) -> u64 {
        self.bad_frames.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Frames of this member held anywhere before they play: the hand-off
    /// queue plus the room's jitter buffer. Takes the room lock briefly; for
    /// diagnostics and tests, not the media path.
    pub fn queued_frames(&self) -> usize {
        let in_room = self
            .room
            .upgrade()
            .and_then(|cell| cell.lock().room.queued_frames(self.member))
            .unwrap_or(0);
        self.mailbox().frames.len() + in_room
    }

    /// Queues a frame the host handed in, or says why not. Counts and logs
    /// nothing on a refusal: the caller does, so a path that tries this
    /// first can hand a refusal to the one that reports it.
    pub fn take_frame(&self, mut frame: InFrame, data: &[u8]) -> Result<(), Refusal> {
        if self.is_gone() {
            return Err(Refusal::Gone);
        }
        validate_frame(&frame, data.len(), self.interval_ms).map_err(Refusal::Bad)?;
        if frame.audio_level.is_none() {
            match (frame.codec, frame.codec.g711()) {
                (_, Some(law)) => {
                    frame.audio_level =
                        Some(rfc6464_level(crate::audio::g711::level_dbov(law, data)));
                }
                (Codec::L16, _) => match crate::audio::pcm::samples_of(data) {
                    Some(samples) => frame.audio_level = Some(rfc6464_level(rms_dbov(samples))),
                    // Host memory not aligned for samples: measure the copy.
                    None => {
                        frame.data = self.payload(data);
                        if let Some(samples) = crate::audio::pcm::samples_of(&frame.data) {
                            frame.audio_level = Some(rfc6464_level(rms_dbov(samples)));
                        }
                    }
                },
                _ => {}
            }
        }
        // An L16 or G.711 frame quieter than the gate goes on as its level
        // alone. A quiet Opus packet (RFC 6464 level, or the sender's
        // encoder cleared its SILK voice-activity bit) keeps its payload, a
        // few dozen bytes: the room skips decoding it but decodes the last
        // one before a talk spurt, to prime the decoder (room/member.rs
        // `primer`).
        let quiet = frame.codec != Codec::Opus
            && frame
                .audio_level
                .is_some_and(|l| self.quiet_at_door(rfc6464_to_dbov(l)));
        if quiet {
            self.recycle(std::mem::take(&mut frame.data));
            self.push(frame);
        } else if frame.data.is_empty() {
            self.push_copy(frame, data);
        } else {
            self.push(frame);
        }
        Ok(())
    }

    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    pub fn mark_gone(&self) {
        self.gone.store(true, Ordering::Release);
    }
}

/// Why a frame the host handed in was not queued.
#[derive(Debug)]
pub enum Refusal {
    /// The member has left.
    Gone,
    Bad(FrameError),
}

/// The RFC 6464 level of a dBov level, rounded towards loud so a frame is
/// never judged quieter than it is.
fn rfc6464_level(dbov: f32) -> u8 {
    (-dbov).floor().clamp(0.0, 127.0) as u8
}

/// Mixer timing, measured by whoever runs the ticks.
#[derive(Debug, Default, Clone, Copy)]
pub struct TickStats {
    pub late_ticks: u64,
    /// Ticks never run: the pool was too far behind to catch up.
    pub skipped_ticks: u64,
    pub worst_lateness_us: u64,
    pub worst_tick_us: u64,
    pub total_tick_us: u64,
    pub worst_send_audio_us: u64,
}

/// A room's standing with its scheduler (the manual queue or the pool),
/// kept under the room lock so a join and a tick agree on it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scheduling {
    /// Empty: no tick every interval until someone joins.
    pub parked: bool,
    /// Bumped when a parked room is woken by a join: a deadline queued
    /// before that (its one wake-up to expire) is stale and is dropped, so
    /// a room never has two live deadlines.
    pub generation: u64,
}

/// What the scheduler does with a room after `run_tick`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    /// Tick again one interval after this deadline.
    Next,
    /// Empty: no ticks until a join wakes it ([`resume`]), but one at this
    /// room time, when its state expires.
    Parked { wake_ms: u64 },
    /// Over: forget it.
    Over,
    /// A deadline from before the room was woken again: not ticked.
    Stale,
}

/// The room's member ports, in member order, which is the order the room
/// keeps its members in: the tick hands each its frames in one walk.
#[derive(Default)]
pub struct Ports {
    by_id: BTreeMap<MemberId, Arc<MemberPort>>,
    /// The same ports as one shared list, made again after a join or a
    /// leave. A tick walks it rather than the tree, and its frames for the
    /// host name their port by position in it: the list is shared once a
    /// tick, where a reference count per frame was the costliest line of
    /// the send path in a 1,000-member room (the port's count, written by
    /// the host's media thread on every frame it hands in, moved between
    /// cores twice a frame).
    list: Option<PortList>,
}

/// Ports by member id, in member order, as a tick sees them.
type PortList = Arc<[(MemberId, Arc<MemberPort>)]>;

impl Ports {
    pub fn insert(&mut self, id: MemberId, port: Arc<MemberPort>) {
        self.by_id.insert(id, port);
        self.list = None;
    }

    pub fn remove(&mut self, id: &MemberId) -> Option<Arc<MemberPort>> {
        let port = self.by_id.remove(id);
        if port.is_some() {
            self.list = None;
        }
        port
    }

    pub fn get(&self, id: &MemberId) -> Option<&Arc<MemberPort>> {
        self.by_id.get(id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Arc<MemberPort>> {
        self.by_id.values()
    }

    /// Every port, in member order.
    fn list(&mut self) -> PortList {
        self.list
            .get_or_insert_with(|| self.by_id.iter().map(|(id, p)| (*id, p.clone())).collect())
            .clone()
    }
}

pub struct RoomState {
    pub room: Room,
    pub sched: Scheduling,
    pub ports: Ports,
    pub matchers: HashMap<MemberId, DtmfMatcher>,
    /// Shared with every room created from the same profile of the same
    /// config (a copy was 2 KiB a room, mostly its DTMF maps).
    pub profile: Arc<Profile>,
    pub stats: TickStats,
    pub recording: Option<Recording>,
}

pub struct RoomCell {
    pub account: String,
    pub name: String,
    pub interval_ms: u64,
    state: Mutex<RoomState>,
    closed: AtomicBool,
}

impl RoomCell {
    pub fn new(account: String, name: String, room: Room, profile: Arc<Profile>) -> RoomCell {
        RoomCell {
            account,
            name,
            interval_ms: u64::from(room.settings.interval_ms),
            state: Mutex::new(RoomState {
                room,
                ports: Ports::default(),
                matchers: HashMap::new(),
                profile,
                stats: TickStats::default(),
                recording: None,
                sched: Scheduling::default(),
            }),
            closed: AtomicBool::new(false),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub fn display_name(&self) -> String {
        if self.account.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.account, self.name)
        }
    }
}

impl RecordedRoom for RoomCell {
    fn account(&self) -> &str {
        &self.account
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn display_name(&self) -> String {
        RoomCell::display_name(self)
    }

    fn with_room(&self, f: &mut dyn FnMut(&mut Room)) {
        f(&mut self.lock().room);
    }
}

/// One tick's frames for the host, in the order the tick made them. Each
/// mixing thread keeps one (`OUTGOING`) between ticks, grown to the largest
/// tick it has run, so a steady tick allocates nothing and an idle room
/// holds no buffer.
#[derive(Default)]
pub struct Outgoing {
    frames: Vec<Queued>,
    bytes: Vec<u8>,
    /// The room's ports this tick; frames name theirs by position.
    ports: Option<PortList>,
    /// Address and length of the room's buffer the last frame was copied
    /// from: the same buffer again in the same tick holds the same bytes
    /// (each output stream renders at most once a tick, before its sends).
    last_source: (usize, usize),
}

/// A frame waiting for the host: whose port (its place in
/// `Outgoing::ports`), its format, and where its payload is in
/// `Outgoing::bytes`.
struct Queued {
    port: usize,
    codec: Codec,
    rate: u32,
    samples: u32,
    payload: std::ops::Range<usize>,
}

impl Outgoing {
    /// Hands every frame to the host and empties the buffer; returns the
    /// longest `send_audio` in microseconds. A member who left in the same
    /// tick (its hangup is already queued for the host) gets nothing more.
    fn send(&mut self, host: &dyn Host) -> u64 {
        let mut worst_us = 0;
        let ports = self.ports.take();
        let ports = ports.as_deref().unwrap_or_default();
        // One clock reading per frame: each call ends where the next begins.
        let mut began = Instant::now();
        for q in self.frames.drain(..) {
            let Some((_, port)) = ports.get(q.port).filter(|(_, p)| !p.is_gone()) else {
                continue;
            };
            let frame = OutFrame {
                codec: q.codec,
                rate: q.rate,
                samples: q.samples,
                data: &self.bytes[q.payload],
            };
            {
                let _mark = SendAudioMark::enter();
                host.send_audio(&port.channel, &frame);
            }
            let ended = Instant::now();
            worst_us = worst_us.max(ended.duration_since(began).as_micros() as u64);
            began = ended;
        }
        self.bytes.clear();
        self.last_source = (0, 0);
        worst_us
    }
}

/// Collects the tick's audio for the host (sent after the room's lock is
/// released) and hands the mix to the recording.
struct QueueSink<'a> {
    /// The room's ports in member order, the order the tick sends in: the
    /// cursor finds each frame's port without a search.
    ports: &'a [(MemberId, Arc<MemberPort>)],
    cursor: usize,
    out: &'a mut Outgoing,
    recording: Option<&'a mut Recording>,
}

impl<'a> QueueSink<'a> {
    fn new(
        ports: &'a [(MemberId, Arc<MemberPort>)],
        out: &'a mut Outgoing,
        recording: Option<&'a mut Recording>,
    ) -> QueueSink<'a> {
        QueueSink {
            ports,
            cursor: 0,
            out,
            recording,
        }
    }

    /// The position of `member`'s port in `ports`.
    fn port(&mut self, member: MemberId) -> Option<usize> {
        while let Some((id, _)) = self.ports.get(self.cursor) {
            if *id == member {
                return Some(self.cursor);
            }
            if *id > member {
                break;
            }
            self.cursor += 1;
        }
        self.ports.binary_search_by_key(&member, |(id, _)| *id).ok()
    }
}

thread_local! {
    /// This thread's frames waiting for the host (see `Outgoing`).
    static OUTGOING: std::cell::RefCell<Outgoing> = std::cell::RefCell::new(Outgoing::default());
    /// Set while this thread is inside the host's `send_audio`. It runs
    /// inside the room's tick, holding the room's outgoing frames: a huddle
    /// call from there that ticks (advance) or waits for the mixer thread
    /// (shutdown) would wait forever.
    static IN_SEND_AUDIO: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside the host's `send_audio` callback.
pub fn inside_send_audio() -> bool {
    IN_SEND_AUDIO.with(|c| c.get())
}

/// Clears the mark however `send_audio` returns (a Rust host may panic).
struct SendAudioMark;

impl SendAudioMark {
    fn enter() -> SendAudioMark {
        IN_SEND_AUDIO.with(|c| c.set(true));
        SendAudioMark
    }
}

impl Drop for SendAudioMark {
    fn drop(&mut self) {
        IN_SEND_AUDIO.with(|c| c.set(false));
    }
}

impl TickSink for QueueSink<'_> {
    fn send_audio(&mut self, member: MemberId, _channel: &Channel, frame: &OutFrame<'_>) {
        // Every member the room sends to has a port; one without is a
        // member the runtime already let go of.
        let Some(port) = self.port(member) else {
            return;
        };
        // Listeners who share a mix are sent its one buffer one after
        // another: its bytes are kept once (a 1,000-member room would
        // otherwise copy 1,000 identical frames a tick).
        let source = (frame.data.as_ptr().addr(), frame.data.len());
        let payload = match self.out.frames.last() {
            Some(last) if source == self.out.last_source => {
                debug_assert!(self.out.bytes[last.payload.clone()] == *frame.data);
                last.payload.clone()
            }
            _ => {
                let start = self.out.bytes.len();
                self.out.bytes.extend_from_slice(frame.data);
                self.out.last_source = source;
                start..self.out.bytes.len()
            }
        };
        self.out.frames.push(Queued {
            port,
            codec: frame.codec,
            rate: frame.rate,
            samples: frame.samples,
            payload,
        });
    }

    fn record(&mut self, pcm: &[i16], speech: bool) {
        if let Some(r) = self.recording.as_deref_mut() {
            r.push(pcm, speech);
        }
    }

    fn record_member(&mut self, member: MemberId, pcm: &[i16]) {
        if let Some(r) = self.recording.as_deref_mut() {
            r.push_track(member, pcm);
        }
    }
}

/// Runs one tick of `cell` at `now_ms` for a deadline queued with
/// `generation`, and says when the room wants the next one.
pub fn run_tick(
    cell: &Arc<RoomCell>,
    generation: u64,
    now_ms: u64,
    host: &dyn Host,
    ctx: &Outlets,
) -> TickOutcome {
    if cell.is_closed() {
        return TickOutcome::Over;
    }
    let started = Instant::now();
    let mut guard = cell.lock();
    let state = &mut *guard;
    if state.sched.generation != generation {
        return TickOutcome::Stale;
    }
    // Taken, not borrowed, so no borrow is held across the host's code; a
    // tick of one room never overlaps the next (the scheduler queues it
    // again only after this returns), so its frames go out in tick order.
    let mut outgoing = OUTGOING.with(|o| o.take());
    let ports = state.ports.list();
    for (id, port) in ports.iter() {
        // A host thread preempted while it hands a frame in must not stall
        // the room (its lock is held here): that member's frames wait for
        // the next tick instead.
        let mut mailbox = match port.mailbox.try_lock() {
            Ok(m) => m,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => continue,
        };
        let Mailbox { frames, spare } = &mut *mailbox;
        let door = state
            .room
            .exchange_frames(*id, frames.drain(..), |buf| keep_spare(spare, buf));
        drop(mailbox);
        // Written only when it moves: the host's thread reads it every frame.
        let door = door.to_bits();
        if port.door_dbov.load(Ordering::Relaxed) != door {
            port.door_dbov.store(door, Ordering::Relaxed);
        }
    }
    // DTMF sequences that complete by timeout.
    let due: Vec<(MemberId, DtmfOutcome)> = state
        .matchers
        .iter_mut()
        .filter(|(_, m)| !m.is_idle())
        .map(|(id, m)| (*id, m.poll(&state.profile.controls, now_ms)))
        .collect();
    for (id, outcome) in due {
        apply_dtmf_outcome(state, id, outcome, now_ms);
    }
    let ok = super::panics::catch("mixer tick", || {
        let mut sink = QueueSink::new(&ports, &mut outgoing, state.recording.as_mut());
        state.room.tick(now_ms, &mut sink);
    });
    match ok {
        Some(()) => {}
        None => {
            // A bug in this room's code: end it rather than run on broken state.
            log::error!(target: "huddle::mixer", "room {}: ending it after an internal error", cell.display_name());
            let _ = state.room.command(None, Command::End, now_ms);
        }
    }
    // The writer could not write (disk full): end the recording now, with
    // `recording-failed`, rather than let it run on writing nothing.
    if state.recording.as_ref().is_some_and(|r| r.failed()) {
        if let Some(rec) = state.recording.take() {
            super::recorder::finish(cell, &mut state.room, ctx, rec, "write error", now_ms);
        }
    }
    drain_outputs(cell, state, ctx, now_ms);
    let outcome = if state.room.is_over() {
        TickOutcome::Over
    } else if let Some(expires) = state.room.idle_until_ms() {
        // An empty room costs nothing: it is not ticked again until a join
        // wakes it, or until its memory of wrong PINs runs out.
        state.sched.parked = true;
        TickOutcome::Parked {
            wake_ms: expires.max(now_ms + cell.interval_ms),
        }
    } else {
        TickOutcome::Next
    };
    // The host is called with the room unlocked: a slow `send_audio` delays
    // this room's next tick, never its DTMF, commands or joins.
    drop(guard);
    outgoing.ports = Some(ports);
    let send_us = outgoing.send(host);
    OUTGOING.with(|o| o.replace(outgoing));
    let took = started.elapsed().as_micros() as u64;
    {
        let mut state = cell.lock();
        state.stats.worst_send_audio_us = state.stats.worst_send_audio_us.max(send_us);
        state.stats.worst_tick_us = state.stats.worst_tick_us.max(took);
        state.stats.total_tick_us += took;
    }
    if outcome == TickOutcome::Over {
        cell.close();
    }
    outcome
}

/// After a join: a parked room that has members again needs its ticks.
/// Returns the generation to schedule it with, or `None` when it is
/// scheduled already.
pub fn resume(state: &mut RoomState) -> Option<u64> {
    if !state.sched.parked || state.room.is_over() || state.room.idle_until_ms().is_some() {
        return None;
    }
    state.sched.parked = false;
    state.sched.generation += 1;
    Some(state.sched.generation)
}

/// Carries the room's queued outputs to the outbox and the recorder.
pub fn drain_outputs(cell: &Arc<RoomCell>, state: &mut RoomState, ctx: &Outlets, now_ms: u64) {
    while let Some(out) = state.room.poll_output() {
        match out {
            Output::Event(e) => ctx.outbox.push(HostCall::RoomEvent(e)),
            Output::Hangup {
                member,
                channel,
                cause,
            } => {
                if let Some(port) = state.ports.remove(&member) {
                    port.mark_gone();
                }
                state.matchers.remove(&member);
                ctx.outbox.push(HostCall::Hangup { channel, cause });
            }
            Output::Originate { destination } => ctx.outbox.push(HostCall::Originate {
                destination,
                room: cell.name.clone(),
                account: cell.account.clone(),
            }),
            Output::Recording(cmd) => super::recorder::apply(
                cell,
                &mut state.room,
                &mut state.recording,
                &state.profile,
                ctx,
                cmd,
                now_ms,
            ),
        }
    }
    if state.room.is_over() {
        if let Some(rec) = state.recording.take() {
            super::recorder::finish(cell, &mut state.room, ctx, rec, "conference-end", now_ms);
        }
        for port in state.ports.values() {
            port.mark_gone();
        }
        cell.close();
    }
}

/// Handles one DTMF digit outside PIN entry.
pub fn dtmf(
    state: &mut RoomState,
    member: MemberId,
    digit: char,
    now_ms: u64,
    inter_digit_ms: u64,
) {
    let matcher = state
        .matchers
        .entry(member)
        .or_insert_with(|| DtmfMatcher::new(inter_digit_ms));
    let outcome = matcher.feed(&state.profile.controls, digit, now_ms);
    apply_dtmf_outcome(state, member, outcome, now_ms);
}

fn apply_dtmf_outcome(state: &mut RoomState, member: MemberId, outcome: DtmfOutcome, now_ms: u64) {
    let (action, number) = match outcome {
        DtmfOutcome::Action(a, n) => (a, n),
        DtmfOutcome::NoMatch(seq) => {
            log::debug!(target: "huddle::dtmf", "member {member}: '{seq}' is no control");
            return;
        }
        DtmfOutcome::Idle | DtmfOutcome::Pending => return,
    };
    let me = Target::Id(member);
    let cmd = match action {
        DtmfAction::ToggleMute => Command::ToggleMute(me),
        DtmfAction::Mute => Command::Mute(me),
        DtmfAction::Unmute => Command::Unmute(me),
        DtmfAction::ToggleDeaf => Command::ToggleDeaf(me),
        DtmfAction::Invite => Command::Invite(number.unwrap_or_default()),
        DtmfAction::VolumeInUp => Command::VolumeIn(me, Adjust::Up),
        DtmfAction::VolumeInDown => Command::VolumeIn(me, Adjust::Down),
        DtmfAction::VolumeInReset => Command::VolumeIn(me, Adjust::Reset),
        DtmfAction::VolumeOutUp => Command::VolumeOut(me, Adjust::Up),
        DtmfAction::VolumeOutDown => Command::VolumeOut(me, Adjust::Down),
        DtmfAction::VolumeOutReset => Command::VolumeOut(me, Adjust::Reset),
        DtmfAction::EnergyUp => Command::Energy(me, Adjust::Up),
        DtmfAction::EnergyDown => Command::Energy(me, Adjust::Down),
        DtmfAction::EnergyReset => Command::Energy(me, Adjust::Reset),
        DtmfAction::Leave => Command::Leave,
        DtmfAction::UnmuteAllNonModerators => Command::UnmuteAllNonModerators,
        DtmfAction::MuteAllNonModerators => Command::MuteAllNonModerators,
        DtmfAction::Lock => Command::Lock,
        DtmfAction::Unlock => Command::Unlock,
        DtmfAction::AnnounceOff => Command::Announce(false),
        DtmfAction::AnnounceOn => Command::Announce(true),
        DtmfAction::RecordToggle => Command::Record(match state.room.recording() {
            RecordingState::Off => RecordingCommand::Start {
                path: None,
                source: "dtmf".to_string(),
            },
            _ => RecordingCommand::Stop {
                reason: "dtmf".to_string(),
            },
        }),
        DtmfAction::RecordPause => Command::Record(match state.room.recording() {
            RecordingState::Paused => RecordingCommand::Resume,
            _ => RecordingCommand::Pause,
        }),
    };
    if let Err(e) = state.room.command(Some(member), cmd, now_ms) {
        log::info!(target: "huddle::dtmf", "room {}: member {member}: {} ({e})", state.room.settings.name, action.name());
    }
}
