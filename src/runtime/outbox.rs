//! Host callbacks that must not run on the mixer or under a lock: events,
//! log lines, hangups and dial-outs wait here in order.
//!
//! With the manual timer the host thread that made a huddle call delivers them
//! before the call returns; with the realtime timer the dispatcher thread does.
//! Either way no huddle lock is held, so a callback may re-enter huddle.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError};

use crossbeam::channel::{unbounded, Receiver, Sender};

use crate::room::io::{Channel, Event};
use crate::runtime::Host;

/// Log lines are dropped (and counted) past this many waiting calls, so
/// events keep the last LOG_ROOM places for themselves.
const LOG_ROOM: usize = 8 * 1024;
/// Events that only report a state (mute, talking, lock, ...) and dial-outs
/// are dropped (and counted) past this many waiting calls.
pub const CAPACITY: usize = 64 * 1024;

/// Whether losing `call` would leave the host out of step with huddle for
/// good: a leg it never hangs up, a member or room it thinks is still there,
/// a recording it thinks is still running. These are never dropped. Their
/// number is bounded by what the host itself does (one hangup and one leave
/// per leg it brought in, one start and end per room and per recording),
/// not by anything a caller can repeat, so the queue stays bounded.
fn must_arrive(call: &HostCall) -> bool {
    match call {
        HostCall::Hangup { .. } | HostCall::Stop => true,
        HostCall::Event(e) => matches!(
            e.name.as_str(),
            "conference-start"
                | "conference-end"
                | "participant-join"
                | "participant-leave"
                | "participant-kick"
                | "recording-in-progress"
                | "recording-completed"
                | "recording-failed"
                | "recording-absent"
        ),
        HostCall::Log { .. } | HostCall::Originate { .. } => false,
    }
}

#[derive(Debug)]
pub enum HostCall {
    Log {
        level: log::Level,
        target: String,
        message: String,
    },
    Event(Event),
    Hangup {
        channel: Channel,
        cause: u32,
    },
    Originate {
        destination: String,
        room: String,
        account: String,
    },
    /// Wakes the dispatcher so it can exit.
    Stop,
}

/// What a full queue dropped, by kind, and how much of it the host has been
/// told about.
#[derive(Default)]
struct Dropped {
    logs: AtomicU64,
    events: AtomicU64,
    dials: AtomicU64,
    /// The sum of the three when the host was last told.
    reported: AtomicU64,
}

impl Dropped {
    fn total(&self) -> u64 {
        self.logs.load(Ordering::Relaxed)
            + self.events.load(Ordering::Relaxed)
            + self.dials.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
pub struct Outbox {
    tx: Sender<HostCall>,
    rx: Receiver<HostCall>,
    dropped: Arc<Dropped>,
    /// Serialises delivery so callbacks reach the host in queue order even when
    /// several host threads flush at once.
    delivering: Arc<Mutex<()>>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    pub fn new() -> Outbox {
        let (tx, rx) = unbounded();
        Outbox {
            tx,
            rx,
            dropped: Arc::new(Dropped::default()),
            delivering: Arc::new(Mutex::new(())),
        }
    }

    /// Never blocks. Past CAPACITY waiting calls, a state event or a dial-out
    /// is dropped and counted; hangups and the events that must arrive
    /// (see `must_arrive`) always go in.
    pub fn push(&self, call: HostCall) {
        if self.tx.len() >= CAPACITY && !must_arrive(&call) {
            let counter = match call {
                HostCall::Originate { .. } => &self.dropped.dials,
                HostCall::Log { .. } => &self.dropped.logs,
                _ => &self.dropped.events,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Only fails once every receiver is gone, and the outbox holds one.
        let _ = self.tx.send(call);
    }

    /// Log lines yield to events when the host is slow to drain.
    pub fn push_log(&self, call: HostCall) {
        if self.tx.len() >= CAPACITY - LOG_ROOM {
            self.dropped.logs.fetch_add(1, Ordering::Relaxed);
        } else {
            self.push(call);
        }
    }

    /// Calls dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.total()
    }

    /// Tells the host, once the queue has room again, what a full queue
    /// dropped since it was last told: one warning, straight to its log
    /// callback (the queue is what overflowed). Called by the thread that
    /// holds the delivery order.
    fn report_dropped(&self, host: &dyn Host) {
        let d = &self.dropped;
        let total = d.total();
        let reported = d.reported.load(Ordering::Relaxed);
        if total == reported || self.rx.len() >= CAPACITY / 2 {
            return;
        }
        d.reported.store(total, Ordering::Relaxed);
        host.log(
            log::Level::Warn,
            "huddle::outbox",
            &format!(
                "the host was slow to take callbacks and {CAPACITY} calls waited: {} calls dropped since the last report \
                 (so far {} state events, {} log lines, {} dial-outs; hangups and join/leave/end/recording events are never dropped)",
                total - reported,
                d.events.load(Ordering::Relaxed),
                d.logs.load(Ordering::Relaxed),
                d.dials.load(Ordering::Relaxed),
            ),
        );
    }

    /// Delivers everything queued now, in queue order, without blocking.
    ///
    /// One thread delivers at a time: two host threads each popping and
    /// delivering would hand the host a room's events out of order (seen as
    /// SequenceNumber 33 before 32 in tests/stress.rs). A thread that finds
    /// another one delivering returns at once and leaves its calls to that
    /// one (a media thread must never wait for another thread's callback).
    /// Re-entrant without nesting: a callback that calls back into huddle
    /// (a `hangup` handler releasing its member, an `event` handler running
    /// the API) queues what that call produces and returns; the delivery
    /// loop already running on this thread delivers it next, in order. So
    /// the stack stays one callback deep however many calls a command
    /// queues (`hup all` on 1,000 members nested 1,000 deep before).
    pub fn deliver_pending(&self, host: &dyn Host) {
        self.deliver(host, usize::MAX);
    }

    /// Like `deliver_pending`, but stops after what is queued now: for
    /// shutdown, which must return in bounded time even while other host
    /// threads keep making calls that queue more.
    pub fn deliver_queued(&self, host: &dyn Host) {
        self.deliver(host, self.rx.len());
    }

    fn deliver(&self, host: &dyn Host, mut budget: usize) {
        // The common case on a media thread, once per frame: nothing queued.
        if self.rx.is_empty() {
            return;
        }
        let id = Arc::as_ptr(&self.delivering) as usize;
        if DELIVERING.with(|d| d.borrow().contains(&id)) {
            return;
        }
        loop {
            let _order = match self.delivering.try_lock() {
                Ok(g) => g,
                // A host callback that panicked: the order still holds.
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                // Another thread is delivering; it drains what we queued.
                Err(TryLockError::WouldBlock) => return,
            };
            DELIVERING.with(|d| d.borrow_mut().push(id));
            let _unmark = Unmark(id);
            while budget > 0 {
                let Ok(call) = self.rx.try_recv() else {
                    break;
                };
                budget -= 1;
                deliver(host, call);
            }
            self.report_dropped(host);
            drop(_unmark);
            drop(_order);
            // A call queued by a thread that gave up while we held the lock,
            // after our last look, would wait for the next huddle call: look
            // once more now that the lock is free.
            if self.rx.is_empty() || budget == 0 {
                return;
            }
        }
    }

    /// Dispatcher loop for the realtime timer; returns on `Stop`.
    pub fn run_dispatcher(&self, host: &dyn Host) {
        let _order = self.delivering.lock().unwrap_or_else(|e| e.into_inner());
        while let Ok(call) = self.rx.recv() {
            if matches!(call, HostCall::Stop) {
                break;
            }
            deliver(host, call);
            self.report_dropped(host);
        }
    }
}

thread_local! {
    /// The outboxes (by their lock's address) this thread is delivering
    /// for right now.
    static DELIVERING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Takes an outbox off this thread's list, also when a callback unwinds.
struct Unmark(usize);

impl Drop for Unmark {
    fn drop(&mut self) {
        DELIVERING.with(|d| {
            let mut d = d.borrow_mut();
            if let Some(i) = d.iter().rposition(|x| *x == self.0) {
                d.remove(i);
            }
        });
    }
}

fn deliver(host: &dyn Host, call: HostCall) {
    match call {
        HostCall::Log {
            level,
            target,
            message,
        } => host.log(level, &target, &message),
        HostCall::Event(event) => host.event(&event),
        HostCall::Hangup { channel, cause } => {
            host.hangup(&channel, cause);
        }
        HostCall::Originate {
            destination,
            room,
            account,
        } => {
            if let Err(why) = host.originate(&destination, &room, &account) {
                host.log(
                    log::Level::Warn,
                    "huddle::invite",
                    &format!("dial of {destination} for room {room} failed: {why}"),
                );
            }
        }
        HostCall::Stop => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::io::OutFrame;

    /// Records the order log lines arrive in; a little slow, like a host.
    #[derive(Default)]
    struct OrderHost(Mutex<Vec<u64>>);

    impl Host for OrderHost {
        fn log(&self, _: log::Level, _: &str, message: &str) {
            std::thread::yield_now();
            self.0.lock().unwrap().push(message.parse().unwrap());
        }
        fn send_audio(&self, _: &Channel, _: &OutFrame<'_>) {}
        fn hangup(&self, _: &Channel, _: u32) -> bool {
            true
        }
        fn event(&self, _: &Event) {}
        fn originate(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    /// Several host threads queueing and flushing at once (the manual timer
    /// with many media threads) still hand the host every call in queue
    /// order, and none is left behind.
    #[test]
    fn concurrent_flushes_deliver_in_queue_order() {
        let outbox = Outbox::new();
        let host = Arc::new(OrderHost::default());
        let next = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (outbox, host, next) = (outbox.clone(), host.clone(), next.clone());
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        {
                            // Numbered in queue order, as a room numbers its
                            // events under its lock.
                            let mut n = next.lock().unwrap();
                            *n += 1;
                            outbox.push(HostCall::Log {
                                level: log::Level::Info,
                                target: String::new(),
                                message: n.to_string(),
                            });
                        }
                        outbox.deliver_pending(&*host);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        outbox.deliver_pending(&*host);
        let got = host.0.lock().unwrap();
        assert_eq!(got.len(), 4000);
        let first_out_of_order = got.windows(2).position(|w| w[1] != w[0] + 1);
        assert_eq!(first_out_of_order, None, "delivered out of order");
    }
}
