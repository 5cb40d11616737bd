//! Opaque handles are ids, not pointers.
#![allow(non_camel_case_types)] // C names: these types are the ABI.
//!
//! A host that uses a handle after releasing it (a race between its hangup
//! and its media thread is the usual way) gets `HUDDLE_STATUS_STALE_HANDLE`,
//! never a use-after-free: ids are looked up in this registry and never
//! reused. The pointer a host holds carries no provenance and is never
//! dereferenced.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use once_cell::sync::Lazy;

use crate::runtime::status::Status;
use crate::runtime::{MemberPort, Module};

/// Stands for a loaded huddle module instance (`huddle_module *`). Opaque:
/// the pointer is an id, never dereferenced by anyone.
pub struct huddle_module {
    _private: [u8; 0],
}

/// Stands for one call leg in a conference (`huddle_member *`). Opaque, like
/// `huddle_module`.
pub struct huddle_member {
    _private: [u8; 0],
}

/// Every frame looks its member up here. The keys are ids huddle hands out
/// one after another, not attacker-chosen, so SipHash's flood resistance
/// buys nothing; one multiply spreads them over the table's bits.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // 2^64 / golden ratio: consecutive ids land far apart, high bits included.
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type IdMap<V> = HashMap<usize, V, BuildHasherDefault<IdHasher>>;

struct Registry {
    next_id: usize,
    modules: IdMap<Arc<Module>>,
    members: IdMap<(usize, Arc<MemberPort>)>,
}

static REGISTRY: Lazy<RwLock<Registry>> = Lazy::new(|| {
    RwLock::new(Registry {
        // Start high so a small integer or a zeroed struct field is never a live handle.
        next_id: 0x1000,
        modules: IdMap::default(),
        members: IdMap::default(),
    })
});

fn read() -> std::sync::RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn add_module(module: Arc<Module>) -> *mut huddle_module {
    let mut reg = write();
    reg.next_id += 1;
    let id = reg.next_id;
    reg.modules.insert(id, module);
    std::ptr::without_provenance_mut(id)
}

pub(crate) fn module(handle: *const huddle_module) -> Result<Arc<Module>, Status> {
    if handle.is_null() {
        return Err(Status::NullArgument);
    }
    read()
        .modules
        .get(&handle.addr())
        .cloned()
        .ok_or(Status::StaleHandle)
}

/// Removes the module and every member handle it issued.
pub(crate) fn remove_module(handle: *const huddle_module) -> Result<Arc<Module>, Status> {
    if handle.is_null() {
        return Err(Status::NullArgument);
    }
    let mut reg = write();
    let id = handle.addr();
    let module = reg.modules.remove(&id).ok_or(Status::StaleHandle)?;
    reg.members.retain(|_, (owner, _)| *owner != id);
    // The last module gone: give the tables' memory back, so a host that
    // unloads huddle is left holding none of it.
    if reg.modules.is_empty() {
        reg.modules = IdMap::default();
        reg.members = IdMap::default();
    }
    Ok(module)
}

pub(crate) fn add_member(
    module: *const huddle_module,
    port: Arc<MemberPort>,
) -> *mut huddle_member {
    let mut reg = write();
    reg.next_id += 1;
    let id = reg.next_id;
    reg.members.insert(id, (module.addr(), port));
    std::ptr::without_provenance_mut(id)
}

pub(crate) fn member(
    handle: *const huddle_member,
) -> Result<(Arc<Module>, Arc<MemberPort>), Status> {
    if handle.is_null() {
        return Err(Status::NullArgument);
    }
    let reg = read();
    let (owner, port) = reg.members.get(&handle.addr()).ok_or(Status::StaleHandle)?;
    let module = reg.modules.get(owner).cloned().ok_or(Status::StaleHandle)?;
    Ok((module, port.clone()))
}

/// The member's port, for the per-frame path, with its module only where a
/// frame needs it: `None` when the module delivers host calls on its own
/// threads (realtime timer). No count is taken on such a module: its count
/// is one cache line that every media thread of every call would write
/// twice a frame.
pub(crate) fn member_for_frame(
    handle: *const huddle_member,
) -> Result<(Arc<MemberPort>, Option<Arc<Module>>), Status> {
    if handle.is_null() {
        return Err(Status::NullArgument);
    }
    let reg = read();
    let (owner, port) = reg.members.get(&handle.addr()).ok_or(Status::StaleHandle)?;
    let module = reg.modules.get(owner).ok_or(Status::StaleHandle)?;
    let module = (!module.delivers_on_own_threads()).then(|| module.clone());
    Ok((port.clone(), module))
}

pub(crate) fn remove_member(
    handle: *const huddle_member,
) -> Result<(Arc<Module>, Arc<MemberPort>), Status> {
    if handle.is_null() {
        return Err(Status::NullArgument);
    }
    let mut reg = write();
    let (owner, port) = reg
        .members
        .remove(&handle.addr())
        .ok_or(Status::StaleHandle)?;
    let module = reg
        .modules
        .get(&owner)
        .cloned()
        .ok_or(Status::StaleHandle)?;
    Ok((module, port))
}

/// Delivers what every live module has queued (manual timer).
pub(crate) fn flush_all() {
    let modules: Vec<Arc<Module>> = read().modules.values().cloned().collect();
    for m in modules {
        m.deliver_host_calls();
    }
}
