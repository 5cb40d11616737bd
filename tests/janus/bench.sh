#!/usr/bin/env bash
# tests/janus/bench.sh [N ...] — Janus CPU with janus.plugin.huddle against
# AudioBridge on the same load (../shared/bench/janus, the AudioBridge load
# generator: N plain-RTP Opus participants, K = 3 talkers), interleaved
# (AudioBridge, huddle, AudioBridge, huddle, ... for each N) so that both see
# the same machine load. Prints one line per run and the ratio of the medians.
# A run in which the listeners got fewer than 45 of their 50 packets a second
# is left out of the medians: the plugin could not keep up (the machine was
# saturated), so it did less work than the load asks and its CPU figure is
# too low.
# Not a test: a benchmark (RUNS=3 by default; BENCH=<the bench folder>;
# DECODE_ALL=1 makes huddle decode every input).
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${BENCH:-$(cd ../shared/bench/janus 2>/dev/null && pwd || echo /work/shared/bench/janus)}
RUNS=${RUNS:-3}
Ns=("$@")
[[ ${#Ns[@]} -gt 0 ]] || Ns=(10 25 50 100)

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
work="$(realpath -m "$target_dir/janus-bench")"  # make -C needs it absolute
rm -rf "$work"
mkdir -p "$work/plugins" "$work/conf" "$work/recordings"
cargo build --release --lib
make -s -C ffi/janus BUILD="$work/build"
cp "$work/build/libjanus_huddle.so" "$work/plugins/"

# The bench's own Janus config, with a plugins folder that holds huddle only.
sed -e "s|^\(\s*plugins_folder\s*=\).*|\1 \"$work/plugins\"|" "$BENCH/conf/janus.jcfg" \
    >"$work/conf/janus.jcfg"
cp "$BENCH/conf/janus.transport.http.jcfg" "$work/conf/"
cat >"$work/conf/janus.plugin.huddle.jcfg" <<JCFG
general: {
	library = "$target_dir/release/libhuddle.so"
	config = "$work/huddle.conf"
	local_ip = "127.0.0.1"
	events = false
}
JCFG
# DECODE_ALL=1: huddle decodes every input, as AudioBridge does (the
# profile's skip_quiet_inputs = false), for the issue's second goal.
decode_all=""
[[ ${DECODE_ALL:-0} == 1 ]] && decode_all="skip_quiet_inputs = false"
sed -e "s|^recordings_dir.*|recordings_dir = \"$work/recordings\"|" \
    -e "s|^log_level.*|log_level = \"warn\"|" \
    -e "s|^max_members = 1000|&\n$decode_all|" ffi/janus/huddle-janus.conf >"$work/huddle.conf"

results="$work/results.txt"
: >"$results"
for n in "${Ns[@]}"; do
    for run in $(seq "$RUNS"); do
        for plugin in audiobridge huddle; do
            if [[ $plugin == huddle ]]; then
                env=(PLUGIN=janus.plugin.huddle JANUS_CONF="$work/conf")
            else
                env=()
            fi
            out=$(env "${env[@]}" WORK="$work/run" "$BENCH/run.sh" "$n" 3)
            cores=$(awk '/janus cores used/ {print $4}' <<<"$out")
            pkts=$(grep -o 'median=[0-9.]*' <<<"$out" | head -1 | cut -d= -f2)
            echo "N=$n run=$run $plugin cores=$cores pkts=$pkts load=$(cut -d' ' -f1 /proc/loadavg)" |
                tee -a "$results"
        done
    done
done
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"N=(\d+) run=\d+ (\w+) cores=([\d.]+) pkts=([\d.]+)", line)
    if m and float(m[4]) >= 45:
        rows.setdefault(int(m[1]), {}).setdefault(m[2], []).append(float(m[3]))
print("| N | AudioBridge, cores | janus.plugin.huddle, cores | huddle ÷ AudioBridge |")
print("|---|---|---|---|")
for n, r in sorted(rows.items()):
    ab, hu = r.get("audiobridge", []), r.get("huddle", [])
    ratio = statistics.median(hu) / statistics.median(ab) if ab and hu else float("nan")
    print(f"| {n} | {', '.join(f'{x:.3f}' for x in ab)} | {', '.join(f'{x:.3f}' for x in hu)} "
          f"| {ratio:.2f} |")
PY
