//! Large rooms: 1,000 members join one room, an operator runs `hup all`,
//! twenty times over; memory and threads must not grow from round to round.
//! Each round also ticks the full room, so the mixer runs at 1,000 members.
mod common;
use common::*;

use std::time::Instant;

const MEMBERS: usize = 1000;
const ROUNDS: usize = 20;

/// Threads, and heap bytes in use (kB) after handing freed memory back.
fn footprint() -> (u64, u64) {
    let threads = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    // SAFETY: malloc_trim releases free pages; mallinfo2 reads counters.
    let heap = unsafe {
        libc::malloc_trim(0);
        let m = libc::mallinfo2();
        (m.uordblks + m.hblkhd) as u64 / 1024
    };
    (threads, heap)
}

#[test]
fn thousand_members_hup_all_twenty_times() {
    let h = Harness::new(
        r#"
[profiles.default]
rate = 16000
interval_ms = 20
max_members = 1000
record_beep = false
"#,
    );
    let started = Instant::now();
    let mut per_round = Vec::new();
    let silence = vec![0i16; frame(RATE, TICK_MS as u32)];
    for round in 0..ROUNDS {
        let t0 = Instant::now();
        let ports: Vec<_> = (0..MEMBERS)
            .map(|i| {
                let _s = h.module.log_scope();
                let p = h
                    .module
                    .app(Harness::caller(&format!("r{round}-{i}")), "{beep=false}big")
                    .unwrap_or_else(|s| panic!("round {round}: member {i} refused: {s:?}"));
                h.flush();
                p
            })
            .collect();
        for p in ports.iter().take(20) {
            h.send_l16(p, &silence, RATE);
        }
        h.advance(3 * TICK_MS);
        let list: serde_json::Value = serde_json::from_str(&h.api("json list big")).unwrap();
        assert_eq!(
            list["result"]["member_list"].as_array().map(|a| a.len()),
            Some(MEMBERS),
            "round {round}"
        );
        let reply = h.api("hup big all");
        assert!(reply.starts_with("+OK"), "{reply}");
        for p in &ports {
            h.hangup(p);
        }
        h.advance(TICK_MS);
        drop(ports);
        h.clear_heard();
        h.host.events.lock().unwrap().clear();
        h.host.logs.lock().unwrap().clear();
        h.host.hangups.lock().unwrap().clear();
        let gone: serde_json::Value = serde_json::from_str(&h.api("json list big")).unwrap();
        assert_eq!(
            gone["ok"], false,
            "round {round}: the room outlived its members"
        );
        per_round.push((t0.elapsed(), footprint()));
    }
    for (i, (d, (threads, heap))) in per_round.iter().enumerate() {
        println!("round {i:>2}: {d:>10.2?}, threads {threads}, heap in use {heap} kB");
    }
    println!(
        "{ROUNDS} rounds of {MEMBERS} members in {:?}",
        started.elapsed()
    );
    // Round 0 warms up (caches, the recorder and outbox queues); from then
    // on nothing may grow.
    let (_, (threads1, heap1)) = per_round[1];
    let (_, (threads_n, heap_n)) = per_round[ROUNDS - 1];
    assert!(
        threads_n <= threads1,
        "threads grew: {threads1} -> {threads_n}"
    );
    assert!(
        heap_n < heap1 + 1024,
        "heap in use grew over {} rounds: {heap1} kB -> {heap_n} kB",
        ROUNDS - 2
    );
}
