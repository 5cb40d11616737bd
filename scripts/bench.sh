#!/usr/bin/env bash
# scripts/bench.sh [--quick|--full|--smoke] [--janus] [--only CASES] [--profile]
#                  [--reps N] [--sizes L] [--inputs L] [--opus-complexity C]
#
# Runs huddle's benchmark (benches/huddle_bench.rs) and writes
# docs/bench/results-<mode>.json.
#   --quick    every case, short windows (default; a few minutes)
#   --full     the numbers to publish: 25 s realtime windows, 30 s lateness
#              window, medians of 3 (about 30 minutes with --janus)
#   --janus    also measure Janus AudioBridge (bench/janus peer: run.sh), at
#              each N right before huddle, on the same OPUSLOOP packets
#   --only     comma list of: kernel,floor,l16,opus,janus,rooms,memory
#   --reps N   interleaved repetitions of the AudioBridge comparison (median)
#   --sizes L  its sizes, e.g. 100 or 10,25 (default 10,25,50,100)
#   --inputs L its input variants: level,packets,decode-all (default all)
#   --opus-complexity C  listeners' Opus complexity for every case (default:
#              the default profile's, 8; AudioBridge encodes at 4)
#   --profile  callgrind a short manual-timer run per size (docs/bench/profile.md)
# Env: JANUS_DIR (default /work/shared/bench/janus), OPUSLOOP (packet file;
# made with the peer's gen_streams.py when its venv exists), CARGO_TARGET_DIR.
# The machine should be quiet: the script prints the load average first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=--quick; JANUS=0; PROFILE=0; EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick|--full|--smoke) MODE=$1 ;;
    --janus) JANUS=1 ;;
    --profile) PROFILE=1 ;;
    --only) EXTRA+=(--only "$2"); shift ;;
    --reps) EXTRA+=(--reps "$2"); shift ;;
    --sizes) EXTRA+=(--sizes "$2"); shift ;;
    --inputs) EXTRA+=(--inputs "$2"); shift ;;
    --opus-complexity) EXTRA+=(--opus-complexity "$2"); shift ;;
    *) echo "unknown argument $1 (see the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
JANUS_DIR=${JANUS_DIR:-/work/shared/bench/janus}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"

# The same packets the AudioBridge peer sends: its OPUSLOOP file.
if [ -z "${OPUSLOOP:-}" ]; then
  PY=${PY:-/opt/janus-peer-venv/bin/python}
  WORK=${WORK:-/tmp/janus-peer-run}
  if [ -x "$PY" ] && [ -f "$JANUS_DIR/inputs.sh" ]; then
    mkdir -p "$WORK"
    OPUSLOOP=$(HERE="$JANUS_DIR" WORK="$WORK" PY="$PY" K=3 QUIET=noise \
      bash -c 'source "$HERE/inputs.sh" >&2; echo "$STREAMS"')
  fi
fi
ARGS=("$MODE" --json "$ROOT/docs/bench/results-${MODE#--}.json" "${EXTRA[@]}")
[ -n "${OPUSLOOP:-}" ] && [ -s "$OPUSLOOP" ] && ARGS+=(--opusloop "$OPUSLOOP")
if [ "$JANUS" = 1 ]; then
  command -v janus >/dev/null || { echo "janus missing: run $JANUS_DIR/setup.sh" >&2; exit 2; }
  ARGS+=(--janus "$JANUS_DIR/run.sh")
fi
cd "$ROOT"
cargo bench --bench huddle_bench -- "${ARGS[@]}"

if [ "$PROFILE" = 1 ]; then
  command -v valgrind >/dev/null || { echo "valgrind missing" >&2; exit 2; }
  BIN=$(cargo bench --bench huddle_bench --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*huddle_bench[^"]*\)".*/\1/p' | tail -1)
  OUT=${PROFILE_DIR:-/tmp/huddle-profile}; mkdir -p "$OUT"
  for c in "l16 10" "l16 1000" "l16 10000" "opus 10" "opus 1000" "opus-all 100" "opus-naive 100"; do
    set -- $c
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$1.$2" \
      --collect-atstart=no --toggle-collect=huddle_module_advance --toggle-collect=huddle_member_audio \
      "$BIN" --profile-run "$1" "$2" ${OPUSLOOP:+--opusloop "$OPUSLOOP"} >/dev/null 2>&1
    echo "== $1 N=$2 (inclusive top, $OUT/cg.$1.$2)"
    "$ROOT/scripts/cg_top.py" "$OUT/cg.$1.$2" 12
  done
fi
