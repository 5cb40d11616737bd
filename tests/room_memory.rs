//! What a room costs in memory (issue 21 item 14), counted by a global
//! allocator in this test binary: the live heap bytes before and after
//! 1,000 one-member rooms join and tick, divided by 1,000. The count is
//! huddle's own allocations only, independent of the allocator's overhead
//! and of RSS noise from other tests (this binary holds just this test).
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;

use huddle::room::io::{Channel, Event, OutFrame};
use huddle::runtime::Host;
use huddle::runtime::{CallerInfo, Module};

/// Counts what it is given and keeps nothing, so the count below is
/// huddle's memory alone.
#[derive(Default)]
struct LeanHost {
    frames: AtomicU64,
    events: AtomicU64,
}

impl Host for LeanHost {
    fn log(&self, _: log::Level, _: &str, _: &str) {}
    fn send_audio(&self, _: &Channel, _: &OutFrame<'_>) {
        self.frames.fetch_add(1, Ordering::Relaxed);
    }
    fn hangup(&self, _: &Channel, _: u32) -> bool {
        true
    }
    fn event(&self, _: &Event) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }
    fn originate(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout, straight through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout, straight through.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ROOMS: usize = 1000;

fn caller(channel: &str) -> CallerInfo {
    CallerInfo {
        channel: channel.to_string(),
        call_id: format!("CA-{channel}"),
        from: "+15551234567".to_string(),
        to: "+15550000".to_string(),
        caller_name: format!("Caller {channel}"),
        ..Default::default()
    }
}

#[test]
fn a_one_member_room_costs_at_most_8_kib() {
    let dir = common::scratch_dir("room-memory");
    let path = dir.join("huddle.conf");
    std::fs::write(
        &path,
        "[module]\ntimer = \"manual\"\nsounds_dir = \"sounds\"\nrecordings_dir = \"recordings\"\n\
         log_level = \"warn\"\n[profiles.default]\nrate = 16000\ninterval_ms = 20\n",
    )
    .unwrap();
    huddle::runtime::logging::install();
    let host = Arc::new(LeanHost::default());
    let module = Module::load(host.clone(), &path).unwrap();
    let _scope = module.log_scope();
    // One room first, so the module's own tables and caches (the tones
    // every room shares, this thread's mixing buffers) are not counted.
    let warm = module.app(caller("warm"), "{beep=false}warm").unwrap();
    module.advance(100).unwrap();
    module.flush_host_calls();
    let before = LIVE.load(Ordering::SeqCst);
    let mut ports = Vec::with_capacity(ROOMS);
    for i in 0..ROOMS {
        ports.push(
            module
                .app(caller(&format!("c{i}")), &format!("{{beep=false}}room{i}"))
                .unwrap(),
        );
    }
    let joined = LIVE.load(Ordering::SeqCst);
    // Every room ticks (each member hears its frames) and is idle again.
    let frames = host.frames.load(Ordering::Relaxed);
    module.advance(200).unwrap();
    module.flush_host_calls();
    assert!(host.frames.load(Ordering::Relaxed) - frames >= (ROOMS * 10) as u64);
    let after = LIVE.load(Ordering::SeqCst);
    let per_room = (after - before) / ROOMS as isize;
    eprintln!(
        "one-member room: {per_room} bytes ({} before its first tick)",
        (joined - before) / ROOMS as isize
    );
    assert!(
        per_room <= 8 * 1024,
        "a one-member room costs {per_room} bytes"
    );
    drop((warm, ports));
    module.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
