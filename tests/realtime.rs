//! The realtime mixer pool. These are the only tests on the wall clock: what
//! they check (deadlines, a blocked host thread) does not exist on the manual
//! timer. Each runs about a second and asserts with wide margins.
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use huddle::host::{Channel, Event, Host, OutFrame};
use huddle::runtime::{CallerInfo, Module};

/// Records when each channel got audio; blocks on the channel named "slow".
#[derive(Default)]
struct ClockHost {
    arrivals: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Host for ClockHost {
    fn log(&self, _: log::Level, _: &str, _: &str) {}
    fn send_audio(&self, channel: &Channel, _: &OutFrame<'_>) {
        if channel.as_str() == "slow" {
            std::thread::sleep(Duration::from_millis(300));
        }
        self.arrivals
            .lock()
            .unwrap()
            .entry(channel.as_str().to_string())
            .or_default()
            .push(Instant::now());
    }
    fn hangup(&self, _: &Channel, _: u32) -> bool {
        true
    }
    fn event(&self, _: &Event) {}
    fn originate(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

fn caller(c: &str) -> CallerInfo {
    CallerInfo {
        channel: c.to_string(),
        call_id: c.to_string(),
        ..Default::default()
    }
}

#[test]
fn a_blocking_send_audio_does_not_delay_other_rooms() {
    let dir = common::scratch_dir("rt");
    let path = dir.join("huddle.conf");
    std::fs::write(
        &path,
        "[module]\ntimer = \"realtime\"\nmixer_threads = 2\nsounds_dir = \"sounds\"\nrecordings_dir = \"recordings\"\n",
    )
    .unwrap();
    huddle::runtime::logging::install();
    let host = Arc::new(ClockHost::default());
    let module = Module::load(host.clone(), &path).unwrap();
    module.app(caller("slow"), "{beep=false}stuck").unwrap();
    module.app(caller("s2"), "{beep=false}stuck").unwrap();
    module.app(caller("fast"), "{beep=false}fine").unwrap();
    module.app(caller("f2"), "{beep=false}fine").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        if host
            .arrivals
            .lock()
            .unwrap()
            .get("fast")
            .map_or(0, |v| v.len())
            >= 60
        {
            break;
        }
    }
    module.shutdown();
    let arrivals = host.arrivals.lock().unwrap();
    let fast = arrivals.get("fast").expect("the other room was mixed");
    assert!(fast.len() >= 60, "{} frames", fast.len());
    // 20 ms apart on average, and never a gap as long as the 300 ms block: a
    // room waiting on another room's callback would show one. (The margin
    // absorbs scheduling delays on a loaded 2-core machine.)
    let gaps: Vec<u128> = fast.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    let worst = *gaps.iter().max().unwrap();
    assert!(
        worst < 250,
        "worst gap {worst} ms while another room's host callback blocked for 300 ms"
    );
    let span = (fast[fast.len() - 1] - fast[0]).as_secs_f64();
    let per_frame = span / (fast.len() - 1) as f64;
    assert!(
        (per_frame - 0.020).abs() < 0.004,
        "{:.1} ms per frame",
        per_frame * 1000.0
    );
    let slow = arrivals.get("slow").map_or(0, |v| v.len());
    assert!(
        slow < fast.len() / 3,
        "the blocked room fell behind ({slow} frames): the test did block"
    );
}
