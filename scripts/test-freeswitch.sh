#!/usr/bin/env bash
# mod_huddle in a real FreeSWITCH. First legs.c's own test (no FreeSWITCH
# needed); then it builds the module (-Werror) against the
# FreeSWITCH install at $FS_PREFIX (default /var/cache/huddle/freeswitch),
# stages `make install DESTDIR=...`, and runs tests/freeswitch/fs_test.py:
# SIPp callers (PCMU, and one Opus passed through to huddle) with RFC 4733
# PIN digits in one room, who hears whom (RTP captured on lo), `huddle` API
# and events over the event socket, kick, dial-out, unload with live calls.
# About 30 s.
# Without a FreeSWITCH install it says so in one line and succeeds: the
# README's "FreeSWITCH" section says how to build one.
set -euo pipefail
cd "$(dirname "$0")/.."

# The audio hand-over between huddle's mixer and the channel threads is
# plain C: tested everywhere, under ASan and UBSan.
legs_test="${TMPDIR:-/tmp}/huddle-legs-test.$$"
cc -std=gnu11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -Iffi -Iffi/freeswitch -o "$legs_test" tests/freeswitch/legs_test.c ffi/freeswitch/legs.c -lpthread
"$legs_test"
rm -f "$legs_test"

prefix=${FS_PREFIX:-/var/cache/huddle/freeswitch}
if [[ ! -x "$prefix/bin/freeswitch" || ! -f "$prefix/include/freeswitch/switch.h" ]]; then
    echo "FreeSWITCH tests skipped: no FreeSWITCH install at $prefix (set FS_PREFIX; see README \"FreeSWITCH\")"
    exit 0
fi
if [[ "$(id -u)" -ne 0 ]]; then
    # tcpdump on lo and FreeSWITCH's realtime priority both need root.
    echo "FreeSWITCH tests skipped: not root (tcpdump on lo needs it)"
    exit 0
fi
for tool in sipp tcpdump espeak-ng sox python3; do
    command -v "$tool" >/dev/null || { echo "test-freeswitch: $tool is missing (scripts/deps.sh installs it)"; exit 1; }
done

cargo build --release --lib
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out="$target_dir/freeswitch"
make -s -C ffi/freeswitch FS_PREFIX="$prefix" OUT="$out"

run=$(mktemp -d "${TMPDIR:-/tmp}/huddle-fs.XXXXXX")
make -s -C ffi/freeswitch FS_PREFIX="$prefix" OUT="$out" install DESTDIR="$run/stage"
[[ -x "$run/stage$prefix/lib/freeswitch/mod/mod_huddle.so" ]] || { echo "make install DESTDIR: mod_huddle.so not staged"; exit 1; }

if ! timeout 180 python3 tests/freeswitch/fs_test.py "$prefix" "$target_dir/release/libhuddle.so" \
    "$out/mod_huddle.so" "$run"; then
    echo "--- last lines of FreeSWITCH's log ($run/freeswitch.log):"
    tail -40 "$run/freeswitch.log" 2>/dev/null || true
    exit 1
fi
rm -rf "$run"
