#!/usr/bin/env bash
# Scale-out figure (not part of scripts/test.sh): Kamailio in front of
# NODES huddle-sip nodes on 127.0.0.2.. (release builds), SIPp placing
# ROOMS rooms x CALLERS callers through it, each caller playing speech for
# HOLD seconds. Prints, per node, the rooms and calls the dispatcher gave it
# and its CPU over the steady state (from /proc), as a README table row.
#   NODES=2 ROOMS=20 CALLERS=5 HOLD=40 scripts/bench-scale.sh
source "$(dirname "$0")/lib.sh" bench-scale scale-bench release
nodes_n=${NODES:-2}
rooms_n=${ROOMS:-20}
callers_n=${CALLERS:-5}
hold_s=${HOLD:-40}
((nodes_n >= 1 && nodes_n <= 8)) || fail "NODES must be 1..8"
((hold_s >= 25)) || fail "HOLD must be at least 25 s (ramp, then 10 s measured)"

make -s -C ffi/sip BUILD="$work/build"
bin="$work/build/huddle-sip"
kit="python3 $root/tests/sip/rtpkit.py"
source scripts/scaleout-lib.sh

total=$((rooms_n * callers_n))
span=$(((total * 2 + 100) & ~1))
{
    read -r kam_port node_port lp mp
    read -r -a node_rtp
} < <(python3 tests/sip/freeports.py 4 4 "$nodes_n" "$span")
uris=()
for ((n = 0; n < nodes_n; n++)); do
    rtp=${node_rtp[n]}
    node_conf "$n" "127.0.0.$((n + 2))" "$node_port" "$rtp" "$span" "max_members = $((callers_n + 5))"
    start_node "$n"
    uris+=("sip:127.0.0.$((n + 2)):$node_port")
done
start_kamailio "$kam_port" 5 2000 "${uris[@]}"

espeak-ng -w "$work/speech.wav" "This is one of many callers in a busy conference, talking now and then."
sox "$work/speech.wav" -r 8000 -c 1 -b 16 -e signed-integer -t raw "$work/speech.raw" norm -6
segments=()
for ((i = 0; i < hold_s / 6 + 1; i++)); do segments+=("speech:$work/speech.raw" silence:2); done
$kit pcap "$work/talk.pcap" "${segments[@]}"
sed "s|@PCAP@|$work/talk.pcap|" tests/kamailio/call.xml.in >"$work/talk.xml"

list=()
for ((r = 0; r < rooms_n; r++)); do
    for ((c = 0; c < callers_n; c++)); do list+=("$((3000 + r)):c$r-$c"); done
done
echo "bench-scale: $nodes_n node(s), $rooms_n rooms x $callers_n callers, $hold_s s"
sipp_rate=50 sipp_timeout=$((hold_s + 60)) callers load "$work/talk.xml" "$lp" "$mp" $((hold_s * 1000)) "${list[@]}"

deadline=$((SECONDS + 30))
up() {
    local sum=0 n
    for ((n = 0; n < nodes_n; n++)); do
        sum=$((sum + $(grep -cs '"participant-join"' "$work/node$n/events.jsonl" || true)))
    done
    echo "$sum"
}
until (($(up) >= total)); do
    ((SECONDS < deadline)) || fail "only $(up) of $total calls joined within 30 s"
    sleep 0.2
done
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/${node_pids[$1]}/stat"; }
declare -a c0 c1
for ((n = 0; n < nodes_n; n++)); do c0[n]=$(cpu "$n"); done
t0=$(date +%s.%N)
sleep 10
for ((n = 0; n < nodes_n; n++)); do c1[n]=$(cpu "$n"); done
t1=$(date +%s.%N)
printf '| nodes | rooms x callers | node | rooms | calls | CPU (%% of one core) |\n|---|---|---|---|---|---|\n'
for ((n = 0; n < nodes_n; n++)); do
    python3 - "$work/node$n/events.jsonl" "${c0[n]}" "${c1[n]}" "$t0" "$t1" "$ticks" "$n" "$nodes_n" "$rooms_n" "$callers_n" <<'PY'
import json, sys
path, c0, c1, t0, t1, ticks, n, nodes, rooms, callers = sys.argv[1:]
joins = [json.loads(l) for l in open(path) if '"participant-join"' in l]
cpu = (float(c1) - float(c0)) / float(ticks) / (float(t1) - float(t0)) * 100
print("| %s | %s x %s | 127.0.0.%d | %d | %d | %.1f |" % (nodes, rooms, callers, int(n) + 2,
      len({j["FriendlyName"] for j in joins}), len(joins), cpu))
PY
done
# A benchmark reports failed calls instead of stopping on them.
wait "$pid_load" || true
ok=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$work/load.out" | tail -1)
bad=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); print $3}' "$work/load.out" | tail -1)
echo "bench-scale: SIPp: ${ok:-?} calls succeeded, ${bad:-?} failed (see $work/load.out)"
