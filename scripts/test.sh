#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run): system packages, formatting,
# clippy, header freshness, every Rust and C harness test (the C programs
# also under ASan+UBSan; the 2 x 60 s stress test: HUDDLE_STRESS_SECS sets
# its length), the C lifecycle harness under valgrind, and the scenario
# parser's fuzz corpus under ASan, and the install (make install, pkg-config,
# the .debs, lintian). Long fuzzing: scripts/fuzz.sh. Idempotent.
# Most of the time is the first build and the stress test (2 x 60 s); each
# step's line shows the seconds elapsed when it started.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n==> %s (%ds)\n' "$*" "$((SECONDS - started))"; }
trap 'status=$?; if ((status != 0)); then printf "\n==> FAILED (exit %d) after %ds\n" "$status" "$((SECONDS - started))"; fi' EXIT

step "system packages"
bash scripts/deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --all-targets -- -D warnings

# First on its own, so a stale header is the first thing a reader sees.
step "header freshness"
cargo test --test header

step "cargo test"
cargo test

step "valgrind: C lifecycle harness"
# `cargo build --lib` is already up to date after `cargo test` (same unit);
# it puts libhuddle.so at <target>/debug/.
cargo build --lib
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
lib="$target_dir/debug/libhuddle.so"
work="$target_dir/valgrind-harness"
rm -rf "$work"
mkdir -p "$work/scratch"
cc -std=c11 -Wall -Wextra -Werror -pedantic -g -Iinclude -Iffi \
    -o "$work/lifecycle" tests/c/lifecycle.c tests/c/fake_host.c -ldl -lpthread -lm
# No suppression file. Only definite and indirect leaks count as errors:
# the one "possibly lost" block is std's handle for the host's main thread,
# kept in that thread's thread-local storage as a pointer inside its Arc
# (a main thread's TLS destructors never run). Every load/shutdown cycle
# would add to "definitely lost" if huddle leaked per instance.
valgrind --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    "$work/lifecycle" "$lib" "$work/scratch" 200

step "demo: the README's first command"
# scripts/demo.sh exactly as a new user runs it: release build, reference
# host, the demo meeting into demo-out/. tests/demo.rs checks what the
# meeting sounds like; this checks that the command itself works and leaves
# what the README promises.
bash scripts/demo.sh >"$work/demo.log" 2>&1 || { tail -40 "$work/demo.log"; exit 1; }
for f in recording.wav alice.wav bob.wav carol.wav dave.wav events.jsonl events.log \
    module.log timeline.svg summary.txt; do
    [[ -s "demo-out/$f" ]] || { echo "demo-out/$f is missing or empty"; exit 1; }
done
# An independent reader: sox must read the recording whole, 16 kHz mono.
sox --i demo-out/recording.wav
[[ "$(sox --i -r demo-out/recording.wav)" == 16000 && "$(sox --i -c demo-out/recording.wav)" == 1 ]]
grep -q '^recording: 45.5 s' demo-out/summary.txt

step "install: make install, pkg-config, the .debs"
# The demo's release build is the library installed and packaged, so this
# takes seconds. It also checks that the library exports huddle_* only.
timeout 300 bash scripts/test-install.sh

step "Janus plugin: plain RTP and headless Chromium (scripts/test-janus.sh)"
# After the demo step, so the release libhuddle.so it loads is already built.
bash scripts/test-janus.sh

step "FreeSWITCH: mod_huddle with SIPp callers"
# Skipped, with one line saying so, where no FreeSWITCH install is found
# (FS_PREFIX, default /var/cache/huddle/freeswitch). The release library is
# already built by the demo step.
bash scripts/test-freeswitch.sh

step "scenario parser: fuzz corpus under ASan+UBSan"
# The reference host's scenario parser is C; its libFuzzer target replays
# the regression corpus (each file once) with AddressSanitizer, UBSan and
# LeakSanitizer. The Rust targets' corpora are replayed by tests/corpus.rs.
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Iffi/refhost -o "$work/scenario_fuzz" fuzz/c/scenario_fuzz.c ffi/refhost/scenario.c -lm
ASAN_OPTIONS=detect_leaks=1 "$work/scenario_fuzz" tests/corpus/scenario/*

step "SIP front: huddle-sip with SIPp (scripts/test-sip.sh, 45-75 s)"
# Builds ffi/sip against the debug libhuddle.so built above.
HUDDLE_LIB="$lib" bash scripts/test-sip.sh

step "scale-out: Kamailio + 2 huddle-sip nodes, a cascaded room (scripts/test-kamailio.sh, 55-180 s)"
# Room affinity, OPTIONS probing and failover when a node is killed; a room
# cascaded over both nodes. CASCADE=0 leaves the cascade phase out (30 s).
HUDDLE_LIB="$lib" timeout 240 bash scripts/test-kamailio.sh

printf '\n==> OK: fmt, clippy, header, cargo test (incl. stress, faults, ASan C harness), valgrind, demo, install and .debs, Janus plugin, FreeSWITCH, scenario corpus, SIP, Kamailio scale-out — all passed in %ds\n' \
    "$((SECONDS - started))"
