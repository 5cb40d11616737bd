//! Replays the fuzz regression corpus (`tests/corpus/<target>/*`) through
//! the same functions the fuzz targets call (`fuzz/src/bodies.rs`), so every
//! crash the fuzzer once found stays fixed in a plain `cargo test`. See
//! `scripts/fuzz.sh` for running the fuzzers themselves.
#[path = "../fuzz/src/bodies.rs"]
mod bodies;

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in &entries {
        let data = std::fs::read(path).unwrap();
        let name = path.display().to_string();
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!("{target}: {name} panicked");
        }
    }
    entries.len()
}

#[test]
fn every_target_has_a_corpus() {
    for (target, _) in bodies::TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(target);
        assert!(dir.is_dir(), "no corpus for fuzz target {target}");
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let n = replay(stringify!($name), bodies::$name);
            assert!(n > 0, "empty corpus for {}", stringify!($name));
        }
    )*};
}

replay_tests!(
    app_args,
    api_command,
    config,
    dtmf_matcher,
    room_dtmf,
    l16_frames,
    opus_frames,
    g711_frames,
    silk_vad,
    wav_sound,
    api_module,
);
