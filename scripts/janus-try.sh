#!/usr/bin/env bash
# Try huddle in Janus: builds libhuddle.so and janus.plugin.huddle, starts
# Debian's Janus with the plugin on 127.0.0.1:8088 and serves Janus's own
# AudioBridge demo page (switched to janus.plugin.huddle) on
# http://127.0.0.1:8000/demos/audiobridgetest.html. Open it in two tabs.
# Ports: JANUS_PORT, WEB_PORT. Nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --lib
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
make -s -C ffi/janus BUILD="$target_dir/janus-plugin"
exec python3 tests/janus/try_janus.py "$target_dir/janus-plugin/libjanus_huddle.so" \
    "$target_dir/release/libhuddle.so" "$target_dir/janus-try" "${JANUS_PORT:-8088}" "${WEB_PORT:-8000}"
