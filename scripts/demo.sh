#!/usr/bin/env bash
# The README's first command: builds huddle and the reference host, runs the
# demo meeting (conf/scenarios/demo.scn) and shows what happened.
#
#   scripts/demo.sh [--json] [--realtime] [--interactive]   (passed to refhost)
#
# Works on a fresh Debian machine: missing packages are installed first
# (as root, or with sudo). Outputs go to demo-out/:
#   recording.wav        the conference recording (what huddle recorded)
#   alice.wav, bob.wav…  what each caller heard
#   events.jsonl         every event, JSON lines (huddle's and the host's)
#   module.log           huddle's log
#   timeline.svg         the meeting as a picture (also docs/demo-timeline.svg)
# pipefail: a refhost that fails (a module error, a bad scenario) fails the
# command, even though its output goes through tee.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/demo-out
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

# 1. packages
if [ -x scripts/deps.sh ]; then
    scripts/deps.sh
else
    missing=""
    for pkg in libopus-dev libclang-dev clang pkg-config espeak-ng sox python3; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "demo: installing$missing"
        SUDO=""
        [ "$(id -u)" = 0 ] || SUDO=sudo
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
    fi
fi
command -v cargo >/dev/null 2>&1 || {
    echo "demo: cargo not found; install Rust from https://rustup.rs" >&2
    exit 1
}

# 2. build: the module and the reference host
cargo build --release --lib
mkdir -p "$TARGET/release"
cc -std=c11 -Wall -Wextra -Werror -pedantic -O2 -Iinclude -Iffi \
    ffi/refhost/refhost.c ffi/refhost/scenario.c ffi/refhost/audio.c \
    -o "$TARGET/release/refhost" -ldl -lopus -lm -lpthread

# 3. sounds: prompts, hold music, the meeting's speech
scripts/make-clips.sh

# 4. run the meeting
rm -rf "$OUT"
mkdir -p "$OUT"
"$TARGET/release/refhost" --lib "$TARGET/release/libhuddle.so" --out "$OUT" "$@" \
    conf/scenarios/demo.scn | tee "$OUT/events.log"

# 5. picture and summary
python3 scripts/timeline.py "$OUT/events.jsonl" "$OUT/recording.wav" -o "$OUT/timeline.svg" --summary \
    > "$OUT/summary.txt"
cp "$OUT/timeline.svg" docs/demo-timeline.svg 2>/dev/null || { mkdir -p docs && cp "$OUT/timeline.svg" docs/demo-timeline.svg; }

echo
echo "== demo summary"
cat "$OUT/summary.txt"
echo
echo "== files in demo-out/"
echo "  recording.wav   the conference recording"
for wav in "$OUT"/*.wav; do
    name=$(basename "$wav" .wav)
    [ "$name" = recording ] && continue
    printf '  %-15s what %s heard\n' "$name.wav" "$name"
done
echo "  events.jsonl    all events (JSON lines); events.log: the same as text"
echo "  module.log      huddle's log"
echo "  timeline.svg    the meeting as a timeline (copied to docs/demo-timeline.svg)"
