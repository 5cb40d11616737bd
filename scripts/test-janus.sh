#!/usr/bin/env bash
# janus.plugin.huddle's tests: the shared RTP helpers' C test (under
# ASan+UBSan), the plugin's build with -Werror, `make install` into a
# staging dir, then Debian's Janus with the plugin on 127.0.0.1 ports the
# tests pick: plain-RTP participants (AudioBridge API, errors, who hears
# whom, mute, DTMF, RFC 6464, kick, events, Admin API, clean shutdown with
# rooms live) and headless Chromium with janus.js and Janus's own
# AudioBridge demo page. Called by scripts/test.sh; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n--> janus: %s (%ds)\n' "$*" "$((SECONDS - started))"; }

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
work="$target_dir/janus-test"
rm -rf "$work"
mkdir -p "$work"

step "ffi/common/rtp C test (ASan+UBSan)"
cc -std=c11 -Wall -Wextra -Werror -pedantic -g -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined -Iffi/common -o "$work/rtp_test" \
    tests/rtp/rtp_test.c ffi/common/rtp.c
"$work/rtp_test"

step "libhuddle.so (release) and the plugin"
cargo build --release --lib
lib="$target_dir/release/libhuddle.so"
make -s -C ffi/janus BUILD="$work/plugin"
plugin="$work/plugin/libjanus_huddle.so"
# Janus finds the plugin by one symbol; nothing else leaks out of it.
exports=$(nm -D --defined-only "$plugin" | awk '$2 == "T" {print $3}')
[[ "$exports" == create ]] || { echo "plugin exports: $exports (want only create)"; exit 1; }

step "make install (DESTDIR staging)"
make -s -C ffi/janus BUILD="$work/plugin" install DESTDIR="$work/stage" PREFIX=/usr
for f in usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_huddle.so \
    etc/janus/janus.plugin.huddle.jcfg etc/janus/huddle.conf; do
    [[ -s "$work/stage/$f" ]] || { echo "make install did not put $f"; exit 1; }
done
grep -q 'library = "/usr/lib/x86_64-linux-gnu/libhuddle.so"' \
    "$work/stage/etc/janus/janus.plugin.huddle.jcfg"

step "Janus + plain-RTP participants (the plugin under ASan+UBSan)"
# The plugin built with the sanitizers, their runtimes preloaded into Janus
# only. Leak checking is off: Janus itself does not free everything at exit;
# any memory error or undefined behaviour in the plugin aborts Janus, which
# fails the test (and the log is checked as well).
make -s -C ffi/janus BUILD="$work/plugin-asan" LDFLAGS="-fsanitize=address,undefined" \
    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
JANUS_LD_PRELOAD="$(cc -print-file-name=libasan.so):$(cc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    timeout 180 python3 tests/janus/test_plain_rtp.py "$work/plugin-asan/libjanus_huddle.so" "$lib" "$work/plain"
if grep -E 'AddressSanitizer|runtime error' "$work/plain/janus.log"; then
    echo "sanitizer reports in $work/plain/janus.log"
    exit 1
fi

if [[ -f tests/janus/test_browser.py ]]; then
    step "Janus + headless Chromium (janus.js, the AudioBridge demo page)"
    timeout 240 python3 tests/janus/test_browser.py "$plugin" "$lib" "$work/browser"
fi

printf '\n--> janus: all passed in %ds\n' "$((SECONDS - started))"
