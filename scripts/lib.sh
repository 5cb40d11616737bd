# Sourced first by the SIP and scale-out test and bench scripts: what each
# of them set up the same way.
#   source "$(dirname "$0")/lib.sh" NAME WORK [release]
# Turns on `set -euo pipefail`, moves to the repository root and sets root,
# target_dir, lib (libhuddle.so: the release build with `release`, else
# HUDDLE_LIB, else the debug build; the builds are brought up to date), work
# ($target_dir/WORK, emptied), an empty pids array whose processes are ended
# on exit (each by its PID), step (a progress line naming NAME) and fail (a
# message naming the script, exit 1).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
started=$SECONDS
lib_name=$1
step() { printf -- '--> %s: %s (%ds)\n' "$lib_name" "$*" "$((SECONDS - started))"; }
fail() { printf '%s: FAIL: %s\n' "${0##*/}" "$*" >&2; exit 1; }

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
if [[ "${3:-}" == release ]]; then
    cargo build --release --lib
    lib=$target_dir/release/libhuddle.so
elif [[ -n "${HUDDLE_LIB:-}" ]]; then
    lib=$HUDDLE_LIB
else
    # Built even when one is there: a library older than the tree tests old code.
    cargo build --lib
    lib=$target_dir/debug/libhuddle.so
fi
work="$target_dir/$2"
rm -rf "$work"
mkdir -p "$work"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
