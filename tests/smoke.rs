//! Two callers in a dynamic room: each hears the other's tone, not its own.
//! And a burst of frames from one caller leaves memory where it was.
mod common;
use common::*;

use std::sync::Mutex;

/// The heap test measures the whole process: the tests here take turns.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn two_members_hear_each_other_not_themselves() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let h = Harness::new("");
    let a = h.join("a", "smoke").unwrap();
    let b = h.join("b", "smoke").unwrap();
    let n = frame(16000, 20);
    let (mut pa, mut pb) = (0.0, 0.0);
    for _ in 0..50 {
        h.send_l16(&a, &sine(440.0, 16000, n, 8000.0, &mut pa), 16000);
        h.send_l16(&b, &sine(1000.0, 16000, n, 8000.0, &mut pb), 16000);
        h.advance(20);
    }
    let heard_a = h.heard("a").pcm;
    let heard_b = h.heard("b").pcm;
    let tail = |v: &Vec<i16>| v[v.len() - 16000..].to_vec();
    let (ta, tb) = (tail(&heard_a), tail(&heard_b));
    assert!(
        db(goertzel(&ta, 1000.0, 16000), goertzel(&ta, 440.0, 16000)) > 40.0,
        "a hears b over itself"
    );
    assert!(
        db(goertzel(&tb, 440.0, 16000), goertzel(&tb, 1000.0, 16000)) > 40.0,
        "b hears a over itself"
    );
    assert_eq!(
        h.event_names()[..3],
        ["participant-join", "participant-join", "conference-start"]
    );
}

/// Heap bytes in use after handing freed memory back (as tests/large_room.rs
/// measures it).
fn heap_bytes() -> u64 {
    // SAFETY: malloc_trim releases free pages; mallinfo2 reads counters.
    unsafe {
        libc::malloc_trim(0);
        let m = libc::mallinfo2();
        (m.uordblks + m.hblkhd) as u64
    }
}

#[test]
fn a_burst_of_a_thousand_frames_leaves_memory_bounded() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const RATE: u32 = 48000;
    let h = Harness::new("[profiles.default]\nrate = 48000\ninterval_ms = 20\n");
    let n = frame(RATE, 20);
    let t = h.join("t", "{beep=false}burst").unwrap();
    h.join("l", "{beep=false}burst").unwrap();
    let mut phase = 0.0;
    let mut tone = || sine(500.0, RATE, n, 4000.0, &mut phase);
    // Steady state first: buffers sized, payload buffers recycling.
    for _ in 0..50 {
        h.send_l16(&t, &tone(), RATE);
        h.advance(20);
    }
    let clear = |h: &Harness| {
        h.clear_heard();
        h.host.events.lock().unwrap().clear();
        h.host.logs.lock().unwrap().clear();
    };
    clear(&h);
    let before = heap_bytes();

    // 1,000 frames at once (1,920 bytes each, 1.9 MB if all were kept).
    let burst: Vec<Vec<i16>> = (0..1000).map(|_| tone()).collect();
    for f in &burst {
        h.send_l16(&t, f, RATE);
    }
    drop(burst);
    let queued_after_burst = t.queued_frames();
    h.advance(20);
    let queued_after_tick = t.queued_frames();
    // The sender goes back to one frame per tick: it is heard again.
    for _ in 0..10 {
        h.send_l16(&t, &tone(), RATE);
        h.advance(20);
    }
    let still_heard = rms(&h.tail("l", 100));
    clear(&h);
    let after = heap_bytes();

    let stats: serde_json::Value = serde_json::from_str(&h.api("json stats burst")).unwrap();
    let dropped = stats["result"]["members"][0]["dropped"].as_u64().unwrap();
    let grew = after as i64 - before as i64;
    println!(
        "burst of 1000 frames: {queued_after_burst} queued after it, {queued_after_tick} after a tick, \
         {dropped} dropped, heap {before} -> {after} bytes ({grew:+})"
    );
    // The hand-off queue holds 16; a tick moves them into the jitter buffer
    // (depth 1 + 2 slack + 16 a late tick may find), dropping the rest.
    assert!(queued_after_burst <= 16 + 3, "{queued_after_burst} queued");
    assert!(
        queued_after_tick <= 3 + 16,
        "{queued_after_tick} queued after a tick"
    );
    assert!(dropped >= 1000 - 16 - 3, "dropped {dropped}");
    assert!(
        grew < 64 * 1024,
        "heap grew by {grew} bytes over the burst (1000 frames are 1.9 MB)"
    );
    assert!(still_heard > 2000.0, "the member is heard after the burst");
}
