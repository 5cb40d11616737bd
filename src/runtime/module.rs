//! One loaded module instance: config, rooms, clock, threads and the host.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::control::app_args::{parse_app_args, HttpMethod};
use crate::control::config::{load_config, Config, Profile, Timer};
use crate::room::io::{cause, Channel};
use crate::room::{Command, InFrame, Room, BAD_FRAME_LOG_EVERY_MS};
use crate::runtime::status::Status;
use crate::runtime::Host;

use super::idle_rooms::{Basis, IdleRooms};
use super::logging::{LogSink, Scope};
use super::operator::Operated;
use super::outbox::{HostCall, Outbox};
use super::pool::{Pool, Ticker};
use super::recorder::Recorder;
use super::resolve::{member_spec, room_settings, CallSounds, CallerInfo};
use super::rooms::{self, MemberPort, Refusal, RoomCell, TickOutcome};
use super::sounds::SoundCache;
use super::wait_url::{self, WaitFetcher};
use super::webhooks::WebhookHost;

/// One line per member per this many ms about digits over its budget.
const DTMF_LOG_EVERY_MS: u64 = 10_000;

/// At most this many live rooms per module instance.
pub const MAX_ROOMS: usize = 10_000;

type RoomKey = (String, String);

/// A config and the profiles of it that rooms share, by name.
type SharedProfiles = (Arc<Config>, HashMap<String, Arc<Profile>>);

/// What the module's threads share.
pub struct Shared {
    pub host: Arc<dyn Host>,
    pub outbox: Outbox,
    pub config: RwLock<Arc<Config>>,
    pub sounds: SoundCache,
    pub recorder: Recorder,
    pub rooms: Mutex<HashMap<RoomKey, Arc<RoomCell>>>,
    /// Fetches `waitUrl`s given over HTTP.
    pub waits: WaitFetcher,
    /// What operators prepared on configured rooms nobody has called yet.
    pub idle: IdleRooms,
    pub timer: Timer,
    /// Manual timer: room time in ms. Realtime: unused.
    manual_now: AtomicU64,
    start: Instant,
    pub wall_epoch_ms: u64,
    next_sid: AtomicU64,
    /// The profiles new rooms share, for the config they were taken from.
    profiles: Mutex<Option<SharedProfiles>>,
}

impl Shared {
    pub fn config(&self) -> Arc<Config> {
        rooms::current_config(&self.config)
    }

    /// The parts a room's outputs go to.
    pub fn outlets(&self) -> rooms::Outlets<'_> {
        rooms::Outlets {
            outbox: &self.outbox,
            recorder: &self.recorder,
            config: &self.config,
        }
    }

    /// Room time: the manual clock, or ms since load.
    pub fn now_ms(&self) -> u64 {
        match self.timer {
            Timer::Manual => self.manual_now.load(Ordering::Acquire),
            Timer::Realtime => self.start.elapsed().as_millis() as u64,
        }
    }

    /// Realtime: the room time of a deadline.
    pub fn now_ms_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_millis() as u64
    }

    /// Realtime: the deadline of a room time.
    pub fn instant_at(&self, ms: u64) -> Instant {
        self.start + std::time::Duration::from_millis(ms)
    }

    /// `profile` of `config`, shared by every room that uses it; a reload
    /// (a new config) starts a new set.
    fn shared_profile(&self, config: &Arc<Config>, profile: &Profile) -> Arc<Profile> {
        let mut cache = self.profiles.lock().unwrap_or_else(|e| e.into_inner());
        if !cache.as_ref().is_some_and(|(c, _)| Arc::ptr_eq(c, config)) {
            *cache = Some((config.clone(), HashMap::new()));
        }
        let Some((_, by_name)) = cache.as_mut() else {
            return Arc::new(profile.clone());
        };
        by_name
            .entry(profile.name.clone())
            .or_insert_with(|| Arc::new(profile.clone()))
            .clone()
    }

    pub fn forget_room(&self, cell: &Arc<RoomCell>) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let key = (cell.account.clone(), cell.name.clone());
        if rooms.get(&key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            rooms.remove(&key);
        }
    }

    pub fn live_rooms(&self) -> Vec<Arc<RoomCell>> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Arc<RoomCell>> =
            rooms.values().filter(|c| !c.is_closed()).cloned().collect();
        v.sort_by(|a, b| (&a.account, &a.name).cmp(&(&b.account, &b.name)));
        v
    }
}

/// The realtime pool's view of the module.
impl Ticker for Shared {
    fn tick(&self, cell: &Arc<RoomCell>, generation: u64, at: Instant) -> TickOutcome {
        rooms::run_tick(
            cell,
            generation,
            self.now_ms_at(at),
            &*self.host,
            &self.outlets(),
        )
    }

    fn instant_at(&self, ms: u64) -> Instant {
        Shared::instant_at(self, ms)
    }

    fn forget_room(&self, cell: &Arc<RoomCell>) {
        Shared::forget_room(self, cell)
    }
}

/// Manual timer: room deadlines in order, ties broken by scheduling order so
/// a run is reproducible. A heap, so each tick costs log(rooms), not a scan.
/// Each entry in `cells` has one deadline in the heap at a time; a room woken
/// from parking gets a new entry, and its old one lapses as stale.
#[derive(Default)]
struct ManualQueue {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    /// The room and the scheduling generation it was queued with.
    cells: HashMap<u64, (Arc<RoomCell>, u64)>,
    next_seq: u64,
}

pub struct Module {
    pub(crate) shared: Arc<Shared>,
    sink: Arc<LogSink>,
    config_path: PathBuf,
    /// Serialises manual `advance` calls.
    advancing: Mutex<()>,
    /// Manual timer: each room's next tick, by room time.
    due: Mutex<ManualQueue>,
    pool: Mutex<Option<Pool>>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    shut: AtomicBool,
}

/// The operator API's view of the module.
impl Operated for Module {
    fn config(&self) -> Arc<Config> {
        Module::config(self)
    }

    fn now_ms(&self) -> u64 {
        Module::now_ms(self)
    }

    fn live_rooms(&self) -> Vec<Arc<RoomCell>> {
        self.shared.live_rooms()
    }

    fn forget_room(&self, cell: &Arc<RoomCell>) {
        self.shared.forget_room(cell)
    }

    fn outlets(&self) -> rooms::Outlets<'_> {
        self.shared.outlets()
    }

    fn sounds(&self) -> &SoundCache {
        &self.shared.sounds
    }

    fn basis(&self) -> Basis<'_> {
        Basis {
            sounds: &self.shared.sounds,
            wall_epoch_ms: self.shared.wall_epoch_ms,
            now_ms: self.shared.now_ms(),
        }
    }

    fn idle(&self) -> &IdleRooms {
        &self.shared.idle
    }

    fn reload(&self, apply_live: bool) -> Result<String, String> {
        Module::reload(self, apply_live)
    }
}

impl Module {
    pub fn load(host: Arc<dyn Host>, config_path: &Path) -> Result<Arc<Module>, String> {
        let config = load_config(config_path).map_err(|e| e.to_string())?;
        let outbox = Outbox::new();
        let sink = LogSink::new(config.module.log_level, outbox.clone());
        let _scope = Scope::enter(&sink);
        // Opt-in: events then also go to their callback URLs, off every
        // huddle and host thread (see webhooks.rs). Set at load only.
        let host = WebhookHost::wrap(host, &config.webhooks, &config.module.tls_roots, &sink);
        let wait_url_allow = config.module.wait_url_allow.clone();
        let tls_roots = config.module.tls_roots.clone();
        let wall_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let timer = config.module.timer;
        let threads = match config.module.mixer_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let shared = Arc::new(Shared {
            host: host.clone(),
            outbox: outbox.clone(),
            recorder: Recorder::new(&config.module.recordings_dir, sink.clone())?,
            config: RwLock::new(Arc::new(config)),
            sounds: SoundCache::default(),
            rooms: Mutex::new(HashMap::new()),
            idle: IdleRooms::default(),
            waits: WaitFetcher::start(wait_url_allow, &tls_roots, &sink),
            timer,
            manual_now: AtomicU64::new(0),
            start: Instant::now(),
            wall_epoch_ms,
            next_sid: AtomicU64::new(1),
            profiles: Mutex::new(None),
        });
        let module = Arc::new(Module {
            shared: shared.clone(),
            sink: sink.clone(),
            config_path: config_path.to_path_buf(),
            advancing: Mutex::new(()),
            due: Mutex::new(ManualQueue::default()),
            pool: Mutex::new(None),
            dispatcher: Mutex::new(None),
            shut: AtomicBool::new(false),
        });
        if timer == Timer::Realtime {
            *module.pool.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Pool::start(threads, shared.clone(), sink.clone()));
            let (out, h) = (outbox.clone(), host.clone());
            let dispatcher = std::thread::Builder::new()
                .name("huddle-events".to_string())
                .spawn(move || out.run_dispatcher(&*h))
                .map_err(|e| format!("could not start the event thread: {e}"))?;
            *module.dispatcher.lock().unwrap_or_else(|e| e.into_inner()) = Some(dispatcher);
        }
        shared.recorder.recover(&shared.outbox, &shared.config());
        log::info!(target: "huddle", "huddle {} loaded {} ({:?} timer, {} mixer thread(s))",
            env!("CARGO_PKG_VERSION"), config_path.display(), timer, if timer == Timer::Realtime { threads } else { 0 });
        Ok(module)
    }

    pub fn log_scope(&self) -> Scope {
        Scope::enter(&self.sink)
    }

    pub fn config(&self) -> Arc<Config> {
        self.shared.config()
    }

    pub fn now_ms(&self) -> u64 {
        self.shared.now_ms()
    }

    /// Delivers queued host calls without waiting for the recording writer:
    /// cheap enough for every frame.
    pub fn deliver_host_calls(&self) {
        if self.delivers_on_own_threads() {
            return;
        }
        if self.shut.load(Ordering::Acquire) {
            self.shared.outbox.deliver_queued(&*self.shared.host);
        } else {
            self.shared.outbox.deliver_pending(&*self.shared.host);
        }
    }

    /// Delivers queued host calls on this thread (manual timer). With the
    /// realtime timer the dispatcher thread does it.
    pub fn flush_host_calls(&self) {
        if self.shut.load(Ordering::Acquire) {
            self.shared.recorder.settle();
            self.shared.outbox.deliver_queued(&*self.shared.host);
        } else if self.shared.timer == Timer::Manual {
            self.shared.recorder.settle();
            self.shared.outbox.deliver_pending(&*self.shared.host);
        }
    }

    pub fn reload(&self, apply_live: bool) -> Result<String, String> {
        let config = load_config(&self.config_path).map_err(|e| e.to_string())?;
        if config.module.timer != self.shared.timer {
            log::warn!(target: "huddle::config", "reload: the timer mode changes only at the next load");
        }
        if config.webhooks != self.shared.config().webhooks {
            log::warn!(target: "huddle::config", "reload: [webhooks] changes only at the next load");
        }
        self.sink.set_level(config.module.log_level);
        self.shared.sounds.clear();
        self.shared.idle.clear();
        let config = Arc::new(config);
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = config.clone();
        let mut applied = 0;
        if apply_live {
            for cell in self.shared.live_rooms() {
                let mut state = cell.lock();
                let profile_name = state.room.settings.profile.clone();
                let Some(profile) = config.profile(&profile_name) else {
                    continue;
                };
                // A running room keeps its rate and interval, so its sounds
                // are decoded at its rate, not the new profile's.
                let mut profile = profile.clone();
                profile.rate = state.room.settings.rate;
                profile.interval_ms = state.room.settings.interval_ms;
                let fresh = room_settings(
                    &config,
                    &profile,
                    config.room(&cell.account, &cell.name),
                    &cell.account,
                    &cell.name,
                    state.room.settings.mute_non_moderators,
                    &self.shared.sounds,
                    self.shared.wall_epoch_ms,
                    0,
                );
                state.room.apply_live_settings(fresh);
                state.profile = Arc::new(profile);
                applied += 1;
            }
        }
        log::info!(target: "huddle::config", "reloaded {}{}", self.config_path.display(),
            if apply_live { format!(", applied to {applied} live room(s)") } else { String::new() });
        Ok(if apply_live {
            format!("reloaded, applied to {applied} live room(s)")
        } else {
            "reloaded".to_string()
        })
    }

    /// Puts a caller into a room (the `conference` dialplan application).
    pub fn app(&self, caller: CallerInfo, app_data: &str) -> Result<Arc<MemberPort>, Status> {
        if self.shut.load(Ordering::Acquire) {
            return Err(Status::StaleHandle);
        }
        let channel = Channel::new(&caller.channel);
        let refuse = |cause: u32, why: &str| {
            log::warn!(target: "huddle::app", "conference app: call {} refused: {why}", caller.channel);
            self.shared.outbox.push(HostCall::Hangup {
                channel: channel.clone(),
                cause,
            });
            Err(Status::Refused)
        };
        if caller.channel.is_empty() {
            return refuse(cause::CALL_REJECTED, "the caller has no channel id");
        }
        // An empty account is the global namespace; a named one must be valid.
        if let Err(why) = Some(&caller.account)
            .filter(|a| !a.is_empty())
            .map_or(Ok(()), |a| crate::control::validate_account(a))
        {
            return refuse(cause::CALL_REJECTED, &format!("account: {why}"));
        }
        let args = match parse_app_args(app_data) {
            Ok(a) => a,
            Err(e) => return refuse(cause::CALL_REJECTED, &e.to_string()),
        };
        let config = self.config();
        // Confined like `play`, before any room is made for this caller.
        if let Some(url) = &args.opts.wait_url {
            if let Err(why) = super::paths::confined(&config.module.sounds_dir, url) {
                return refuse(cause::CALL_REJECTED, &format!("waitUrl: {why}"));
            }
        }
        let call_sounds = match CallSounds::check(&args, &config.module.sounds_dir) {
            Ok(s) => s,
            Err(why) => return refuse(cause::CALL_REJECTED, &why),
        };
        let room_cfg = config.room(&caller.account, &args.room);
        let profile_name = args
            .profile
            .clone()
            .or_else(|| room_cfg.map(|r| r.profile.clone()))
            .unwrap_or_else(|| "default".to_string());
        let Some(profile) = config.profile(&profile_name) else {
            return refuse(
                cause::CALL_REJECTED,
                &format!("unknown profile '{profile_name}'"),
            );
        };
        if room_cfg.is_none() && !profile.allow_dynamic_rooms {
            return refuse(
                cause::UNALLOCATED_NUMBER,
                &format!(
                    "no room '{}' and profile '{profile_name}' does not create rooms on demand",
                    args.room
                ),
            );
        }
        let now = self.now_ms();
        let key = (caller.account.clone(), args.room.clone());
        let (cell, created) = {
            let mut rooms = self.shared.rooms.lock().unwrap_or_else(|e| e.into_inner());
            match rooms.get(&key).filter(|c| !c.is_closed()) {
                Some(c) => (c.clone(), false),
                None if args.opts.join_only == Some(true) => {
                    drop(rooms);
                    return refuse(
                        cause::UNALLOCATED_NUMBER,
                        &format!("join-only: room '{}' is not running", args.room),
                    );
                }
                None => {
                    if rooms.len() >= MAX_ROOMS {
                        drop(rooms);
                        return refuse(cause::NO_CIRCUIT, "the module has reached its room limit");
                    }
                    let sid_n = self.shared.next_sid.fetch_add(1, Ordering::Relaxed);
                    let sid = format!("CF{:016x}{:016x}", self.shared.wall_epoch_ms, sid_n);
                    let settings = room_settings(
                        &config,
                        profile,
                        room_cfg,
                        &caller.account,
                        &args.room,
                        args.opts.mute_non_moderators == Some(true),
                        &self.shared.sounds,
                        self.shared.wall_epoch_ms,
                        sid_n,
                    );
                    let mut room = Room::new(settings, sid, now);
                    if let Some(cfg) = room_cfg {
                        self.shared.idle.hand_over(cfg, &mut room);
                    }
                    let cell = Arc::new(RoomCell::new(
                        caller.account.clone(),
                        args.room.clone(),
                        room,
                        self.shared.shared_profile(&config, profile),
                    ));
                    rooms.insert(key.clone(), cell.clone());
                    (cell, true)
                }
            }
        };
        let mut state = cell.lock();
        let mut spec = member_spec(
            &caller,
            &args,
            &state.room.settings,
            state.profile.trust_app_flags,
            &self.shared.sounds,
            &config.module.sounds_dir,
        );
        call_sounds.load_into(&mut spec, state.room.settings.rate, &self.shared.sounds);
        let result = state.room.join(spec, now);
        let outcome = match result {
            Ok(id) => {
                if let Some(url) = args
                    .opts
                    .wait_url
                    .as_deref()
                    .filter(|u| wait_url::is_remote(u))
                {
                    let method = match args.opts.wait_method {
                        Some(HttpMethod::Get) => wait_url::Method::Get,
                        _ => wait_url::Method::Post,
                    };
                    let rate = state.room.settings.rate;
                    self.shared.waits.request(url, method, rate, &cell, id);
                }
                let port = Arc::new(MemberPort::new(
                    id,
                    channel.clone(),
                    &cell,
                    state.room.settings.interval_ms,
                ));
                state.ports.insert(id, port.clone());
                Ok(port)
            }
            Err(refusal) => {
                log::warn!(target: "huddle::app", "conference app: call {} refused from room {}: {}",
                    caller.channel, cell.display_name(), refusal.reason);
                self.shared.outbox.push(HostCall::Hangup {
                    channel: channel.clone(),
                    cause: refusal.cause,
                });
                Err(Status::Refused)
            }
        };
        rooms::drain_outputs(&cell, &mut state, &self.shared.outlets(), now);
        let over = state.room.is_over();
        // A new room starts ticking; an empty one parked by its scheduler
        // wakes now that someone is in it.
        let generation = if created {
            Some(state.sched.generation)
        } else {
            rooms::resume(&mut state)
        };
        drop(state);
        if over {
            self.shared.forget_room(&cell);
        } else if let Some(generation) = generation {
            self.schedule(cell, generation, now);
        }
        outcome
    }

    /// Queues a room's next tick one interval from now.
    fn schedule(&self, cell: Arc<RoomCell>, generation: u64, now: u64) {
        match self.shared.timer {
            Timer::Manual => {
                let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
                due.next_seq += 1;
                let seq = due.next_seq;
                due.heap.push(Reverse((now + cell.interval_ms, seq)));
                due.cells.insert(seq, (cell, generation));
            }
            Timer::Realtime => {
                if let Some(pool) = self.pool.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    pool.add(cell, generation);
                }
            }
        }
    }

    /// Manual timer: runs every tick due up to now + `ms`, in deadline order.
    pub fn advance(&self, ms: u64) -> Result<(), Status> {
        if self.shared.timer != Timer::Manual {
            return Err(Status::WrongTimer);
        }
        let _one_at_a_time = self.advancing.lock().unwrap_or_else(|e| e.into_inner());
        let target = self.now_ms() + ms;
        loop {
            let next = {
                let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
                match due.heap.peek() {
                    Some(Reverse((t, _))) if *t <= target => {
                        let Some(Reverse((t, seq))) = due.heap.pop() else {
                            break;
                        };
                        due.cells.get(&seq).cloned().map(|c| (seq, t, c))
                    }
                    _ => break,
                }
            };
            let Some((seq, t, (cell, generation))) = next else {
                continue;
            };
            self.shared.manual_now.store(t, Ordering::Release);
            let outcome = rooms::run_tick(
                &cell,
                generation,
                t,
                &*self.shared.host,
                &self.shared.outlets(),
            );
            let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                TickOutcome::Next => due.heap.push(Reverse((t + cell.interval_ms, seq))),
                TickOutcome::Parked { wake_ms } => due.heap.push(Reverse((wake_ms, seq))),
                TickOutcome::Stale => {
                    due.cells.remove(&seq);
                }
                TickOutcome::Over => {
                    due.cells.remove(&seq);
                    drop(due);
                    self.shared.forget_room(&cell);
                }
            }
        }
        self.shared.manual_now.store(target, Ordering::Release);
        Ok(())
    }

    /// One received frame, payload included (the Rust API's form).
    pub fn member_audio(&self, port: &MemberPort, mut frame: InFrame) -> Status {
        let data = std::mem::take(&mut frame.data);
        self.member_audio_borrowed(port, frame, &data)
    }

    /// One received frame whose payload is still the host's, borrowed for
    /// this call: it is copied into a buffer of the member's only when the
    /// room will use it. An L16 or G.711 frame is measured here, on the host's
    /// thread, while its bytes are in cache; one quieter than the member's
    /// mixing gate (and the member not talking) is queued as its level
    /// alone. In a room of a thousand listeners those copies, and the tick
    /// reading them back, were most of the memory traffic.
    pub fn member_audio_borrowed(&self, port: &MemberPort, frame: InFrame, data: &[u8]) -> Status {
        match port.take_frame(frame, data) {
            Ok(()) => Status::Ok,
            Err(Refusal::Gone) => Status::MemberGone,
            Err(Refusal::Bad(e)) => {
                port.count_bad_frame();
                // A broken sender must not flood the host's log: one line per
                // member per interval, the same limit as frames that fail to
                // decode in the room.
                if let Some(held) = port
                    .bad_frame_log
                    .allow(self.now_ms(), BAD_FRAME_LOG_EVERY_MS)
                {
                    log::warn!(target: "huddle::audio", "member {} ({}): frame dropped: {e} ({} bad frames so far, {held} not logged since the last line)",
                        port.member, port.channel, port.bad_frames());
                }
                Status::BadFrame
            }
        }
    }

    /// Whether host calls reach the host from huddle's own threads (realtime
    /// timer, not shut down), so a call that queues none need not deliver
    /// any on the caller's thread.
    pub fn delivers_on_own_threads(&self) -> bool {
        self.shared.timer == Timer::Realtime && !self.shut.load(Ordering::Acquire)
    }

    pub fn member_dtmf(&self, port: &MemberPort, digit: char) -> Status {
        let Some(cell) = port.room.upgrade() else {
            return Status::MemberGone;
        };
        let now = self.now_ms();
        let mut state = cell.lock();
        if port.is_gone() {
            return Status::MemberGone;
        }
        if !port.take_dtmf(now) {
            if let Some(held) = port.dtmf_log.allow(now, DTMF_LOG_EVERY_MS) {
                log::warn!(target: "huddle::dtmf", "member {} ({}): digits faster than {} a second (after a burst of {}) are dropped; {} so far, {held} not logged since the last line",
                    port.member, port.channel, rooms::DTMF_PER_SECOND, rooms::DTMF_BURST, port.dtmf_refused());
            }
            return Status::Limit;
        }
        let inter_digit = state.profile.dtmf_inter_digit_timeout_ms;
        if !state.room.pin_digit(port.member, digit, now) {
            rooms::dtmf(&mut state, port.member, digit, now, inter_digit);
        }
        rooms::drain_outputs(&cell, &mut state, &self.shared.outlets(), now);
        Status::Ok
    }

    pub fn member_hangup(&self, port: &MemberPort) {
        let Some(cell) = port.room.upgrade() else {
            return;
        };
        let now = self.now_ms();
        let mut state = cell.lock();
        if !port.is_gone() {
            state.room.hangup(port.member, now);
            state.ports.remove(&port.member);
            state.matchers.remove(&port.member);
            port.mark_gone();
            rooms::drain_outputs(&cell, &mut state, &self.shared.outlets(), now);
        }
        let over = state.room.is_over();
        drop(state);
        if over {
            self.shared.forget_room(&cell);
        }
    }

    pub fn api(&self, command: &str) -> String {
        super::operator::execute(self, command)
    }

    /// Ends every room, finalises recordings, joins every thread.
    /// Fault injection for tests: the recordings writer stalls for `d`, as on
    /// a disk that stops answering.
    #[doc(hidden)]
    pub fn stall_recordings_disk(&self, d: std::time::Duration) {
        self.shared.recorder.stall(d);
    }

    pub fn shutdown(&self) {
        if self.shut.swap(true, Ordering::AcqRel) {
            return;
        }
        // Other host threads may go on calling with handles that are now
        // stale; their warnings no longer reach this instance.
        self.sink.detach();
        if let Some(pool) = self.pool.lock().unwrap_or_else(|e| e.into_inner()).take() {
            pool.stop();
        }
        let now = self.now_ms();
        for cell in self.shared.live_rooms() {
            let mut state = cell.lock();
            if !state.room.is_over() {
                let _ = state.room.command(None, Command::End, now);
            }
            rooms::drain_outputs(&cell, &mut state, &self.shared.outlets(), now);
        }
        self.shared
            .rooms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.due.lock().unwrap_or_else(|e| e.into_inner()) = ManualQueue::default();
        self.shared.recorder.shutdown();
        if let Some(dispatcher) = self
            .dispatcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            self.shared.outbox.push(HostCall::Stop);
            let _ = dispatcher.join();
        }
        log::info!(target: "huddle", "huddle shut down");
        self.shared.outbox.deliver_queued(&*self.shared.host);
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // A module dropped without shutdown (a Rust host's early return) still
        // stops its threads.
        self.shutdown();
    }
}
