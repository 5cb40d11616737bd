//! Host callbacks that must not run on the mixer or under a lock: events,
//! log lines, hangups and dial-outs wait here in order.
//!
//! With the manual timer the host thread that made a huddle call delivers them
//! before the call returns; with the realtime timer the dispatcher thread does.
//! Either way no huddle lock is held, so a callback may re-enter huddle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam::channel::{bounded, Receiver, Sender, TrySendError};

use crate::host::{Channel, Event, Host};

/// Log lines are dropped (and counted) past this many waiting calls; events
/// and hangups get the rest of the room up to the hard bound.
const LOG_ROOM: usize = 8 * 1024;
const CAPACITY: usize = 64 * 1024;

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

#[derive(Clone)]
pub struct Outbox {
    tx: Sender<HostCall>,
    rx: Receiver<HostCall>,
    dropped: Arc<AtomicU64>,
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
        let (tx, rx) = bounded(CAPACITY);
        Outbox {
            tx,
            rx,
            dropped: Arc::new(AtomicU64::new(0)),
            delivering: Arc::new(Mutex::new(())),
        }
    }

    /// Never blocks: a full queue drops the call and counts it.
    pub fn push(&self, call: HostCall) {
        match self.tx.try_send(call) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Log lines yield to events when the host is slow to drain.
    pub fn push_log(&self, call: HostCall) {
        if self.tx.len() >= CAPACITY - LOG_ROOM {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.push(call);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Delivers everything queued now. Re-entrant: a callback that calls back
    /// into huddle delivers what that call queued from inside, in order.
    pub fn deliver_pending(&self, host: &dyn Host) {
        while let Ok(call) = self.rx.try_recv() {
            deliver(host, call);
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
        }
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
