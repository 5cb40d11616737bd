//! The realtime mixer pool: a few threads, each ticking its rooms at absolute
//! deadlines. A room with no members has no deadline and costs nothing; one
//! room's slow tick delays only the rooms on the same thread, never the host.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use super::logging::{LogSink, Scope};
use super::module::Shared;
use super::rooms::{run_tick, RoomCell};

enum Msg {
    Add(Arc<RoomCell>),
    Stop,
}

struct Worker {
    tx: Sender<Msg>,
    rooms: Arc<AtomicUsize>,
    handle: JoinHandle<()>,
}

pub struct Pool {
    workers: Vec<Worker>,
}

/// A tick later than this behind its deadline counts as late.
const LATE_US: u64 = 2_000;

impl Pool {
    pub fn start(threads: usize, shared: Arc<Shared>, sink: Arc<LogSink>) -> Pool {
        let workers = (0..threads.clamp(1, 256))
            .filter_map(|i| {
                let (tx, rx) = unbounded();
                let rooms = Arc::new(AtomicUsize::new(0));
                let (s, k, r) = (shared.clone(), sink.clone(), rooms.clone());
                std::thread::Builder::new()
                    .name(format!("huddle-mix-{i}"))
                    .spawn(move || {
                        let _scope = Scope::enter(&k);
                        run(rx, s, r);
                    })
                    .map_err(|e| log::error!(target: "huddle::mixer", "could not start mixer thread {i}: {e}"))
                    .ok()
                    .map(|handle| Worker { tx, rooms, handle })
            })
            .collect();
        Pool { workers }
    }

    /// Gives the room to the thread with the fewest rooms.
    pub fn add(&self, cell: Arc<RoomCell>) {
        if let Some(w) = self
            .workers
            .iter()
            .min_by_key(|w| w.rooms.load(Ordering::Relaxed))
        {
            w.rooms.fetch_add(1, Ordering::Relaxed);
            let _ = w.tx.send(Msg::Add(cell));
        }
    }

    pub fn stop(self) {
        for w in &self.workers {
            let _ = w.tx.send(Msg::Stop);
        }
        for w in self.workers {
            let _ = w.handle.join();
        }
    }
}

fn run(rx: Receiver<Msg>, shared: Arc<Shared>, count: Arc<AtomicUsize>) {
    // (deadline, sequence to break ties, room)
    let mut heap: BinaryHeap<Reverse<(Instant, u64, usize)>> = BinaryHeap::new();
    let mut rooms: std::collections::HashMap<usize, Arc<RoomCell>> =
        std::collections::HashMap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        let wait = heap
            .peek()
            .map(|Reverse((due, _, _))| due.saturating_duration_since(now));
        let msg = match wait {
            Some(d) if d.is_zero() => None,
            Some(d) => match rx.recv_timeout(d) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            },
        };
        match msg {
            Some(Msg::Stop) => return,
            Some(Msg::Add(cell)) => {
                let id = Arc::as_ptr(&cell) as usize;
                let due = Instant::now() + Duration::from_millis(cell.interval_ms);
                seq += 1;
                heap.push(Reverse((due, seq, id)));
                rooms.insert(id, cell);
                continue;
            }
            None => {}
        }
        let Some(Reverse((due, _, id))) = heap.pop() else {
            continue;
        };
        let Some(cell) = rooms.get(&id).cloned() else {
            continue;
        };
        let lateness = Instant::now().saturating_duration_since(due).as_micros() as u64;
        let room_ms = shared.now_ms_at(due);
        let alive = run_tick(&cell, room_ms, &*shared.host, &shared);
        {
            let mut state = cell.lock();
            state.stats.worst_lateness_us = state.stats.worst_lateness_us.max(lateness);
            if lateness > LATE_US {
                state.stats.late_ticks += 1;
            }
        }
        if alive {
            let interval = Duration::from_millis(cell.interval_ms);
            let mut next = due + interval;
            // Far behind (a stalled host, a suspended VM): skip ahead rather
            // than burst ticks to catch up; the media clock stays on the grid.
            let now = Instant::now();
            while next + interval * 5 < now {
                next += interval;
            }
            seq += 1;
            heap.push(Reverse((next, seq, id)));
        } else {
            rooms.remove(&id);
            count.fetch_sub(1, Ordering::Relaxed);
            shared.forget_room(&cell);
        }
    }
}
