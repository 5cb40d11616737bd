//! Rooms the config defines that nobody has called yet: the operator sees
//! them in `list` and can prepare them (`lock`, `pin`, `set`, `get`) before
//! the first caller. What the operator prepared is kept here and given to
//! every conference created in that room, like a setting of the config,
//! until the next `reload` (which makes the file the authority again).
//!
//! The room core stays the one judge of what a command may change: a
//! command on an idle room runs on a scratch `Room` built from the config
//! plus what was prepared so far, and what it leaves behind is kept. The
//! scratch room's events are dropped with it; the real conference numbers
//! its events from its own start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::control::config::{Config, RoomConfig};
use crate::room::{Command, CommandError, Room};

use super::resolve::room_settings;
use super::sounds::SoundCache;

/// `(account or "" for a room of every account, name)`, as in the config.
type Key = (String, String);

fn key(cfg: &RoomConfig) -> Key {
    (cfg.account.clone().unwrap_or_default(), cfg.name.clone())
}

/// What an operator changed on an idle room.
#[derive(Clone)]
struct Prepared {
    pin: Option<String>,
    host_pin: Option<String>,
    max_members: u32,
    moh: Option<Arc<[i16]>>,
    locked: bool,
}

impl Prepared {
    fn of(room: &Room) -> Prepared {
        let s = &room.settings;
        Prepared {
            pin: s.pin.clone(),
            host_pin: s.host_pin.clone(),
            max_members: s.max_members,
            moh: s.sounds.moh.clone(),
            locked: room.locked(),
        }
    }

    fn apply(self, room: &mut Room) {
        let s = &mut room.settings;
        s.pin = self.pin;
        s.host_pin = self.host_pin;
        s.max_members = self.max_members;
        s.sounds.moh = self.moh;
        room.preset_lock(self.locked);
    }
}

/// What a scratch room is built from besides the config: the module's sound
/// cache, the wall clock at room time 0, and the room time now.
pub struct Basis<'a> {
    pub sounds: &'a SoundCache,
    pub wall_epoch_ms: u64,
    pub now_ms: u64,
}

/// Bounded by the config: one entry per `[[rooms]]` entry at most.
#[derive(Default)]
pub struct IdleRooms {
    prepared: Mutex<HashMap<Key, Prepared>>,
}

impl IdleRooms {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Prepared>> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives what was prepared for `cfg` to a new conference there. It
    /// stays: a caller refused by a prepared lock must not lift the lock
    /// for the next one.
    pub fn hand_over(&self, cfg: &RoomConfig, room: &mut Room) {
        if let Some(p) = self.map().get(&key(cfg)).cloned() {
            p.apply(room);
        }
    }

    /// `reload`: the file is the authority again.
    pub fn clear(&self) {
        self.map().clear();
    }

    /// The idle room as its first caller would find it.
    pub fn scratch(&self, basis: &Basis, config: &Config, cfg: &RoomConfig) -> Option<Room> {
        let profile = config.profile(&cfg.profile)?;
        let settings = room_settings(
            config,
            profile,
            Some(cfg),
            cfg.account.as_deref().unwrap_or(""),
            &cfg.name,
            false,
            basis.sounds,
            basis.wall_epoch_ms,
            0,
        );
        let mut room = Room::new(settings, String::new(), basis.now_ms);
        if let Some(p) = self.map().get(&key(cfg)).cloned() {
            p.apply(&mut room);
        }
        Some(room)
    }

    /// Runs an operator command on the idle room and keeps its effect.
    pub fn command(
        &self,
        basis: &Basis,
        config: &Config,
        cfg: &RoomConfig,
        cmd: Command,
    ) -> Result<String, CommandError> {
        let mut room = self
            .scratch(basis, config, cfg)
            .ok_or_else(|| CommandError::Invalid(format!("unknown profile '{}'", cfg.profile)))?;
        let reply = room.command(None, cmd, basis.now_ms)?;
        self.map().insert(key(cfg), Prepared::of(&room));
        Ok(reply)
    }
}
