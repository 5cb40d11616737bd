//! The realtime mixer pool: a few threads share one queue of room deadlines
//! and each takes the earliest due room, ticks it, and puts it back at its
//! next absolute deadline.
//!
//! One shared queue rather than rooms pinned to threads: if the host's
//! `send_audio` blocks while one room ticks, only that room waits; the other
//! threads carry every other room on time. A room is never ticked by two
//! threads at once, because it is out of the queue while it ticks. A room
//! with no members is parked: it leaves the queue but for one deadline, when
//! its state expires, and a join puts it back (a new generation, so the
//! parked deadline lapses as stale): an empty room costs nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::logging::{LogSink, Scope};
use super::rooms::{RoomCell, TickOutcome};

/// What the pool needs of whoever owns the rooms. The pool defines it and
/// the module implements it, so the pool depends on no module code.
pub trait Ticker: Send + Sync + 'static {
    /// Runs one tick of `cell` for its deadline `at`, queued with
    /// `generation`.
    fn tick(&self, cell: &Arc<RoomCell>, generation: u64, at: Instant) -> TickOutcome;

    /// The deadline of a room time.
    fn instant_at(&self, ms: u64) -> Instant;

    /// A room is over: its owner lets it go.
    fn forget_room(&self, cell: &Arc<RoomCell>);
}

/// A tick later than this behind its deadline counts as late.
const LATE_US: u64 = 2_000;

/// Ticks a room may fall behind and still catch up on.
const CATCH_UP_TICKS: u32 = crate::room::LATE_TICK_FRAMES as u32;

struct Due {
    at: Instant,
    seq: u64,
    /// The room's scheduling generation when this was queued.
    generation: u64,
    cell: Arc<RoomCell>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Queue {
    heap: BinaryHeap<Reverse<Due>>,
    seq: u64,
    stop: bool,
    /// A worker is waiting for the earliest deadline (see `next_due`).
    leader: bool,
}

struct Schedule {
    queue: Mutex<Queue>,
    /// Wakes the leader: a deadline earlier than the one it waits for, or stop.
    leader_wake: Condvar,
    /// Wakes an idle worker to become the leader.
    idle: Condvar,
}

impl Schedule {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a deadline and wakes whoever must see it: the leader when it
    /// is now the earliest, or, when nobody leads (every worker ticking),
    /// an idle worker if `wake_idle`. A worker putting back the room it just
    /// ticked passes false: it looks at the queue itself next, so waking
    /// another thread would only move the room to a colder cache.
    fn push(
        &self,
        q: &mut Queue,
        at: Instant,
        generation: u64,
        cell: Arc<RoomCell>,
        wake_idle: bool,
    ) {
        let earliest = q.heap.peek().is_none_or(|Reverse(d)| at < d.at);
        q.seq += 1;
        let seq = q.seq;
        q.heap.push(Reverse(Due {
            at,
            seq,
            generation,
            cell,
        }));
        if q.leader {
            if earliest {
                self.leader_wake.notify_one();
            }
        } else if wake_idle {
            self.idle.notify_one();
        }
    }
}

pub struct Pool {
    schedule: Arc<Schedule>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    pub fn start<T: Ticker>(threads: usize, ticker: Arc<T>, sink: Arc<LogSink>) -> Pool {
        let schedule = Arc::new(Schedule {
            queue: Mutex::new(Queue {
                heap: BinaryHeap::new(),
                seq: 0,
                stop: false,
                leader: false,
            }),
            leader_wake: Condvar::new(),
            idle: Condvar::new(),
        });
        let workers = (0..threads.clamp(1, 256))
            .filter_map(|i| {
                let (s, k, t) = (schedule.clone(), sink.clone(), ticker.clone());
                std::thread::Builder::new()
                    .name(format!("huddle-mix-{i}"))
                    .spawn(move || {
                        let _scope = Scope::enter(&k);
                        run(&s, &*t);
                    })
                    .map_err(|e| log::error!(target: "huddle::mixer", "could not start mixer thread {i}: {e}"))
                    .ok()
            })
            .collect();
        Pool { schedule, workers }
    }

    /// Schedules a new room, or a parked one a join woke, with its
    /// scheduling `generation`. Its first deadline is spread over the interval
    /// (a golden-ratio sequence), so rooms created together do not all fall
    /// due in the same instant and queue behind each other every tick.
    pub fn add(&self, cell: Arc<RoomCell>, generation: u64) {
        let interval_us = cell.interval_ms * 1000;
        let mut q = self.schedule.lock();
        let phase_us = (q.seq.wrapping_mul(0x9E37_79B9) >> 8) % interval_us.max(1);
        let at = Instant::now() + Duration::from_micros(interval_us + phase_us);
        self.schedule.push(&mut q, at, generation, cell, true);
    }

    pub fn stop(self) {
        self.schedule.lock().stop = true;
        self.schedule.leader_wake.notify_all();
        self.schedule.idle.notify_all();
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// The next room to tick, when it falls due; `None` once the pool stops.
///
/// One worker at a time, the leader, sleeps until the earliest deadline;
/// the others sleep without a timeout until the leader takes a room and
/// hands its place on. A room ticked alone therefore wakes one thread once
/// a tick, and the same thread: it puts its room back and leads again.
/// Before, every worker slept until the earliest deadline, so each tick
/// woke them all, and the room went to whichever won the lock, on a core
/// whose caches did not hold its codecs.
fn next_due(schedule: &Schedule) -> Option<Due> {
    let mut q = schedule.lock();
    loop {
        if q.stop {
            return None;
        }
        let now = Instant::now();
        match q.heap.peek() {
            Some(Reverse(d)) if d.at <= now => {
                let due = q.heap.pop().map(|Reverse(d)| d);
                // Someone must watch the next deadline while this one ticks.
                if !q.leader && !q.heap.is_empty() {
                    schedule.idle.notify_one();
                }
                return due;
            }
            _ if q.leader => q = schedule.idle.wait(q).unwrap_or_else(|e| e.into_inner()),
            head => {
                let wait = head.map(|Reverse(d)| d.at - now);
                q.leader = true;
                q = match wait {
                    Some(wait) => {
                        schedule
                            .leader_wake
                            .wait_timeout(q, wait)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                    None => schedule
                        .leader_wake
                        .wait(q)
                        .unwrap_or_else(|e| e.into_inner()),
                };
                q.leader = false;
            }
        }
    }
}

fn run<T: Ticker>(schedule: &Schedule, ticker: &T) {
    while let Some(Due {
        at,
        generation,
        cell,
        ..
    }) = next_due(schedule)
    {
        let lateness = Instant::now().saturating_duration_since(at).as_micros() as u64;
        let outcome = ticker.tick(&cell, generation, at);
        if outcome != TickOutcome::Stale {
            let mut state = cell.lock();
            state.stats.worst_lateness_us = state.stats.worst_lateness_us.max(lateness);
            if lateness > LATE_US {
                state.stats.late_ticks += 1;
            }
        }
        let next = match outcome {
            TickOutcome::Next => {
                let interval = Duration::from_millis(cell.interval_ms);
                let mut next = at + interval;
                // Behind: the ticks owed run back to back, as many as the
                // members' jitter buffers keep frames for a late tick, so a
                // process that waited for a core loses no frame. Further
                // behind (a stalled host, a suspended VM): skip ahead on the
                // grid rather than burst ticks to catch up, and count it
                // (each skipped tick is a frame every listener never gets).
                let now = Instant::now();
                let mut skipped = 0;
                while next + interval * CATCH_UP_TICKS < now {
                    next += interval;
                    skipped += 1;
                }
                if skipped > 0 {
                    cell.lock().stats.skipped_ticks += skipped;
                }
                next
            }
            TickOutcome::Parked { wake_ms } => ticker.instant_at(wake_ms),
            TickOutcome::Over => {
                ticker.forget_room(&cell);
                continue;
            }
            TickOutcome::Stale => continue,
        };
        let mut q = schedule.lock();
        schedule.push(&mut q, next, generation, cell, false);
    }
}
