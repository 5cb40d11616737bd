//! `cargo bench --bench huddle_bench -- [--quick|--full|--smoke] [--only CASE,...]
//! [--opusloop FILE] [--janus RUN_SH] [--json FILE] [--window SECONDS] [--reps N]
//! [--sizes N,...] [--inputs level,packets,decode-all] [--opus-complexity 0..10]`
//!
//! Cases: kernel, floor, l16, opus, janus, rooms, memory. Prints a table and,
//! with `--json`, writes the results for tracking (docs/bench/).
mod suite;

use std::path::PathBuf;

use suite::{Mode, Options};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        memory_in_process: false,
        mode: Mode::Quick,
        ..Options::smoke()
    };
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--smoke" => o.mode = Mode::Smoke,
            "--quick" => o.mode = Mode::Quick,
            "--full" => o.mode = Mode::Full,
            "--only" => o.only = val("--only").split(',').map(str::to_string).collect(),
            "--opusloop" => o.opusloop = Some(PathBuf::from(val("--opusloop"))),
            "--janus" => o.janus_run = Some(PathBuf::from(val("--janus"))),
            "--json" => o.json_out = Some(PathBuf::from(val("--json"))),
            "--sizes" => {
                o.rt_sizes = val("--sizes")
                    .split(',')
                    .filter_map(|v| v.parse().ok())
                    .collect()
            }
            "--inputs" => o.rt_inputs = val("--inputs").split(',').map(str::to_string).collect(),
            "--reps" => o.rt_reps = val("--reps").parse().unwrap_or(1),
            "--window" => o.window_s = val("--window").parse().ok(),
            "--opus-complexity" => {
                let c: u8 = val("--opus-complexity")
                    .parse()
                    .ok()
                    .filter(|c| *c <= 10)
                    .expect("--opus-complexity takes 0..10");
                suite::set_opus_complexity(c);
            }
            "--child-memory" => {
                // Internal: one memory measurement in a fresh process.
                let kind = val("--child-memory");
                let n = args.next().and_then(|v| v.parse().ok()).unwrap_or(10_000);
                println!("MEMORY {}", suite::cases::memory_in_process(&kind, n));
                return;
            }
            "--profile-run" => {
                // Internal: a short run of one room for callgrind (scripts/bench.sh --profile).
                let kind = val("--profile-run");
                let n = args.next().and_then(|v| v.parse().ok()).unwrap_or(1000);
                let rest: Vec<String> = args.collect();
                let opusloop = rest
                    .iter()
                    .position(|a| a == "--opusloop")
                    .and_then(|i| rest.get(i + 1))
                    .map(PathBuf::from);
                suite::cases::profile_run(&kind, n, opusloop.as_deref(), 50);
                return;
            }
            "--bench" => {} // cargo bench passes this to harness = false targets
            other => {
                eprintln!("unknown argument {other}; see the top of benches/huddle_bench.rs");
                std::process::exit(2);
            }
        }
    }
    suite::run(&o);
}
