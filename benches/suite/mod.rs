//! huddle's benchmark suite: kernels, rooms driven through the C ABI on the
//! manual and realtime timers, the codec floor, the Janus AudioBridge
//! comparison and memory. Shared by `benches/huddle_bench.rs` (the real runs)
//! and `tests/bench_smoke.rs` (one tiny iteration of everything, for CI).
#![allow(dead_code)] // each binary uses a different subset

pub mod abi;
pub mod cases;
pub mod measure;
pub mod realtime;
pub mod streams;

use std::path::PathBuf;

use serde_json::{json, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// One tiny iteration of every case: proves the harness works.
    Smoke,
    /// Every case at every size, short windows (a few minutes).
    Quick,
    /// The numbers to publish: full windows, medians of repeated runs.
    Full,
}

pub struct Options {
    pub mode: Mode,
    /// Case names to run (kernel, l16, opus, floor, janus, rooms, memory); empty = all.
    pub only: Vec<String>,
    pub opusloop: Option<PathBuf>,
    /// Janus peer `run.sh`: when set, AudioBridge is measured at each N
    /// right before huddle, interleaved, in this run.
    pub janus_run: Option<PathBuf>,
    pub json_out: Option<PathBuf>,
    /// Overrides the realtime measurement window, seconds.
    pub window_s: Option<f64>,
    /// Interleaved repetitions of the realtime AudioBridge comparison
    /// (each is a full window per variant); the median is reported.
    pub rt_reps: usize,
    /// Sizes for the AudioBridge comparison (default 10, 25, 50, 100).
    pub rt_sizes: Vec<usize>,
    /// Its input variants (level, packets, decode-all; default all three).
    pub rt_inputs: Vec<String>,
    /// Memory in this process instead of a child (the smoke test has no bench binary).
    pub memory_in_process: bool,
}

impl Options {
    pub fn smoke() -> Options {
        Options {
            mode: Mode::Smoke,
            only: Vec::new(),
            opusloop: None,
            janus_run: None,
            json_out: None,
            window_s: None,
            rt_reps: 1,
            rt_sizes: Vec::new(),
            rt_inputs: Vec::new(),
            memory_in_process: true,
        }
    }

    pub fn wants(&self, case: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|c| c == case)
    }

    /// (manual-timer ticks measured, repetitions whose median is reported)
    pub fn ticks(&self) -> (usize, usize) {
        match self.mode {
            Mode::Smoke => (3, 1),
            Mode::Quick => (50, 1),
            Mode::Full => (250, 3),
        }
    }

    /// (warmup, window) seconds for realtime runs.
    pub fn window(&self, default_full: f64) -> (f64, f64) {
        let (w, win) = match self.mode {
            Mode::Smoke => (0.2, 0.4),
            Mode::Quick => (2.0, 6.0),
            Mode::Full => (4.0, default_full),
        };
        (w, self.window_s.unwrap_or(win))
    }
}

/// The listeners' Opus complexity every case runs with, when not the
/// default profile's (`--opus-complexity`: AudioBridge encodes at 4).
static OPUS_COMPLEXITY: std::sync::OnceLock<u8> = std::sync::OnceLock::new();

pub fn set_opus_complexity(c: u8) {
    let _ = OPUS_COMPLEXITY.set(c);
}

/// Profile lines for that setting: empty for the default.
pub fn opus_profile_lines() -> String {
    OPUS_COMPLEXITY
        .get()
        .map(|c| format!("opus_complexity = {c}\n"))
        .unwrap_or_default()
}

/// One printed line: what was measured, the number, and its target.
pub struct Row {
    pub case: String,
    pub what: String,
    pub value: String,
    pub target: String,
    pub verdict: String,
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub results: Vec<Value>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn row(&mut self, case: &str, what: impl Into<String>, value: impl Into<String>) {
        self.rows.push(Row {
            case: case.into(),
            what: what.into(),
            value: value.into(),
            target: String::new(),
            verdict: String::new(),
        });
    }

    /// A row checked against a goal (`met` = the goal holds).
    pub fn goal(
        &mut self,
        case: &str,
        what: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) {
        self.rows.push(Row {
            case: case.into(),
            what: what.into(),
            value: value.into(),
            target: target.into(),
            verdict: if met { "MET" } else { "MISSED" }.into(),
        });
    }

    pub fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("note: {s}");
        self.notes.push(s);
    }

    pub fn result(&mut self, v: Value) {
        self.results.push(v);
    }

    pub fn print(&self) {
        let w = |f: fn(&Row) -> &str, min: usize| {
            self.rows
                .iter()
                .map(|r| f(r).len())
                .max()
                .unwrap_or(0)
                .max(min)
        };
        let (wc, ww, wv, wt) = (
            w(|r| &r.case, 4),
            w(|r| &r.what, 11),
            w(|r| &r.value, 5),
            w(|r| &r.target, 6),
        );
        println!();
        println!(
            "{:wc$} | {:ww$} | {:>wv$} | {:wt$} | verdict",
            "case", "measurement", "value", "target"
        );
        println!("{}", "-".repeat(wc + ww + wv + wt + 20));
        for r in &self.rows {
            println!(
                "{:wc$} | {:ww$} | {:>wv$} | {:wt$} | {}",
                r.case, r.what, r.value, r.target, r.verdict
            );
        }
        for n in &self.notes {
            println!("note: {n}");
        }
    }

    pub fn to_json(&self, o: &Options, load_before: f64, load_after: f64) -> Value {
        json!({
            "mode": format!("{:?}", o.mode).to_lowercase(),
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "cpu_model": cpu_model(),
            "load1_before": load_before,
            "load1_after": load_after,
            "huddle_version": env!("CARGO_PKG_VERSION"),
            "results": self.results,
            "table": self.rows.iter().map(|r| json!({
                "case": r.case, "measurement": r.what, "value": r.value,
                "target": r.target, "verdict": r.verdict,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default()
}

/// Runs the selected cases, prints the table, writes the JSON.
pub fn run(o: &Options) -> Report {
    let load_before = measure::load1();
    let mut r = Report::default();
    eprintln!(
        "huddle bench: mode {:?}, load average {load_before:.2}",
        o.mode
    );
    // Memory first, in fresh child processes: RSS is only meaningful before
    // other cases have grown (and fragmented) this process's heap.
    if o.wants("memory") {
        cases::memory(o, &mut r);
    }
    let opus = match &o.opusloop {
        Some(p) => match streams::OpusLoop::read(p) {
            Ok(l) => l,
            Err(e) => {
                r.note(format!("{e}; using synthetic Opus streams"));
                streams::OpusLoop::synthetic(3, 750)
            }
        },
        None => {
            let frames = if o.mode == Mode::Smoke { 50 } else { 750 };
            streams::OpusLoop::synthetic(3, frames)
        }
    };
    r.note(format!("Opus input: {}", opus.source));
    if o.wants("kernel") {
        cases::kernel(o, &mut r);
    }
    let floor = if o.wants("floor") || o.wants("opus") || o.wants("janus") {
        Some(cases::codec_floor(o, &mut r, &opus))
    } else {
        None
    };
    if o.wants("l16") {
        cases::l16_rooms(o, &mut r);
    }
    if o.wants("opus") {
        cases::opus_rooms(o, &mut r, &opus, floor.expect("floor measured with opus"));
    }
    if o.wants("janus") {
        realtime::versus_janus(o, &mut r, &opus, floor.expect("floor measured with janus"));
    }
    if o.wants("rooms") {
        realtime::many_rooms(o, &mut r);
    }
    let load_after = measure::load1();
    r.note(format!(
        "load average (1 min) {load_before:.2} before, {load_after:.2} after, on {} CPUs",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    ));
    r.print();
    if let Some(path) = &o.json_out {
        let v = r.to_json(o, load_before, load_after);
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match std::fs::write(
            path,
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
        ) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("could not write {}: {e}", path.display()),
        }
    }
    r
}

/// "12,345" for humans.
pub fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}
