#!/usr/bin/env bash
# mod_huddle vs mod_conference in one FreeSWITCH build under the same SIPp
# load (tests/freeswitch/bench.py): N PCMU callers, K=3 speaking, FreeSWITCH
# process CPU over a 20 s window, runs interleaved. Not part of CI: about
# 40 s per run, 8 runs for the default N list.
# usage: scripts/bench-freeswitch.sh [N ...]     (default 10 50 100 200; an N may repeat; env FS_PREFIX, K, WINDOW_S)
set -euo pipefail
cd "$(dirname "$0")/.."
(($# > 0)) || set -- 10 50 100 200
prefix=${FS_PREFIX:-/var/cache/huddle/freeswitch}
[[ -x "$prefix/bin/freeswitch" ]] || { echo "no FreeSWITCH install at $prefix (set FS_PREFIX; see README \"FreeSWITCH\")"; exit 1; }
cargo build --release --lib
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
make -s -C ffi/freeswitch FS_PREFIX="$prefix" OUT="$target_dir/freeswitch"
run=$(mktemp -d "${TMPDIR:-/tmp}/huddle-fs-bench.XXXXXX")
echo "runs under $run"
python3 tests/freeswitch/bench.py "$prefix" "$target_dir/release/libhuddle.so" \
    "$target_dir/freeswitch/mod_huddle.so" "$run" "$@"
