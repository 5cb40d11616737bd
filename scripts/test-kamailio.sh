#!/usr/bin/env bash
# Scale-out behind Kamailio (conf/kamailio/kamailio.cfg) on loopback:
# Kamailio on 127.0.0.1 dispatches to two huddle-sip nodes on 127.0.0.2 and
# 127.0.0.3 (ports picked here), and SIPp calls through the proxy:
#   - 2 callers each for rooms 1001..1010: every caller lands on the node
#     the dispatcher's hash of the room number picks (the hash is computed
#     here in Python from Kamailio's ds_get_hash, not asked of Kamailio);
#     their BYEs travel the Record-Route through Kamailio;
#   - a talker and a listener in a room of node S; node V is killed
#     (SIGKILL by its PID) while they talk: a call for a room of V made
#     right away is answered by S (failover on silence), Kamailio's OPTIONS
#     probe marks V down within the probe interval plus one timeout, then
#     calls for all of V's rooms reach S; the listener's RTP never pauses
#     and it hears the talker's sentence (waveform correlation).
# 25-40 s on 2 cores after the library is built. Needs root or CAP_NET_RAW
# for tcpdump on lo.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS
step() { printf -- '--> kamailio: %s (%ds)\n' "$*" "$((SECONDS - started))"; }
fail() { printf 'test-kamailio: FAIL: %s\n' "$*" >&2; exit 1; }

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
lib=${HUDDLE_LIB:-$target_dir/debug/libhuddle.so}
[[ -f "$lib" ]] || cargo build --lib
work="$target_dir/kamailio-test"
rm -rf "$work"
mkdir -p "$work"
kit="python3 $root/tests/sip/rtpkit.py"
ping_s=1    # Kamailio's ds_ping_interval
fr_ms=1000  # how long Kamailio waits for any reply from a node

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

step "build huddle-sip"
make -s -C ffi/sip BUILD="$work/build" all
bin="$work/build/huddle-sip"

read -r kam_port node_port rtp2 rtp3 lp_batch lp_talk lp_listen lp_fail lp_after \
    mp_batch mp_talk mp_listen mp_fail mp_after < <(python3 tests/sip/freeports.py 14 100)

# Node n listens on 127.0.0.n: the same port on each address.
nodes=(127.0.0.2 127.0.0.3)
for n in 0 1; do
    ip=${nodes[$n]}
    rtp=$((n == 0 ? rtp2 : rtp3))
    mkdir -p "$work/node$n"
    cat >"$work/node$n/huddle.conf" <<CONF
[module]
timer = "realtime"
mixer_threads = 1
log_level = "info"
sounds_dir = "$root/conf/sounds"
recordings_dir = "$work/node$n/recordings"

[profiles.default]
rate = 8000
jitter_buffer_frames = 4
CONF
    cat >"$work/node$n/sip.conf" <<CONF
[sip]
listen = "$ip:$node_port"
library = "$lib"
huddle_config = "huddle.conf"
rtp_ip = "$ip"
rtp_port_min = $rtp
rtp_port_max = $((rtp + 99))
max_calls = 60
control_socket = "ctl.sock"
event_log = "events.jsonl"

[[dialplan]]
match = '^([0-9]{4})\$'
app = "\$1"
CONF
done
printf '1 sip:%s:%s\n' "${nodes[0]}" "$node_port" "${nodes[1]}" "$node_port" >"$work/nodes.list"

# The node the dispatcher's algorithm 7 picks for a room: Kamailio's
# ds_get_hash over $rU, modulo the number of nodes, indexes the set's
# nodes, which the dispatcher keeps in reverse list-file order (equal
# priorities; dispatch.c copies its list backwards).
pick() {
    python3 - "$@" <<'PY'
import sys
def ds_hash(s):
    b, h, m, i = s.encode(), 0, 0xFFFFFFFF, 0
    while i + 4 <= len(b):
        v = (b[i] << 24) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3]
        h = (h + (v ^ (v >> 3))) & m
        i += 4
    v = 0
    for c in b[i:]:
        v = ((v << 8) + c) & m
    h = (h + (v ^ (v >> 3))) & m
    h = (h + (h >> 11) + (h >> 13) + (h >> 23)) & m
    return h or 1
print(" ".join(str(1 - ds_hash(r) % 2) for r in sys.argv[1:]))
PY
}
rooms=(1001 1002 1003 1004 1005 1006 1007 1008 1009 1010)
read -r -a want < <(pick "${rooms[@]}")
echo "    hash: ${rooms[*]} -> nodes ${want[*]}"

step "start 2 nodes and Kamailio (probe every $ping_s s)"
node_pids=()
for n in 0 1; do
    (cd "$work/node$n" && exec "$bin" -c sip.conf >server.log 2>&1) &
    node_pids+=($!)
    pids+=($!)
done
mkdir -p "$work/kamrun"
kamailio -f "$root/conf/kamailio/kamailio.cfg" -DD -E -Y "$work/kamrun" \
    -A "LISTEN=udp:127.0.0.1:$kam_port" -A "DS_LIST=\"$work/nodes.list\"" \
    -A "DS_PING_INTERVAL=$ping_s" -A "FR_TIMER_MS=$fr_ms" -A LOG_LEVEL=2 \
    >"$work/kamailio.log" 2>&1 &
kam=$!
pids+=("$kam")
deadline=$((SECONDS + 15))
for n in 0 1; do
    until grep -q "listening on" "$work/node$n/server.log"; do
        ((SECONDS < deadline)) || { cat "$work/node$n/server.log"; fail "node $n did not start"; }
        sleep 0.1
    done
done
until grep -q "Listening on" "$work/kamailio.log" || grep -q "udp: 127.0.0.1.*:$kam_port" "$work/kamailio.log"; do
    kill -0 "$kam" 2>/dev/null || { cat "$work/kamailio.log"; fail "Kamailio exited"; }
    ((SECONDS < deadline)) || { cat "$work/kamailio.log"; fail "Kamailio did not start"; }
    sleep 0.1
done

step "clips"
espeak-ng -w "$work/talk.wav" "Seven eight nine, the quick brown fox jumps over the lazy dog."
sox "$work/talk.wav" -r 8000 -c 1 -b 16 -e signed-integer -t raw "$work/talk.raw" norm -3
$kit pcap "$work/talk.pcap" silence:3 "speech:$work/talk.raw" silence:1
$kit pcap "$work/silence.pcap" silence:1
sed "s|@PCAP@|$work/silence.pcap|" tests/kamailio/call.xml.in >"$work/quiet.xml"
sed "s|@PCAP@|$work/talk.pcap|" tests/kamailio/call.xml.in >"$work/talk.xml"

callers() { # name xml local-port media-port hold-ms room:caller...
    local name=$1 xml=$2 lport=$3 mport=$4 hold=$5
    shift 5
    {
        echo SEQUENTIAL
        for rc in "$@"; do echo "${rc%%:*};${rc#*:}"; done
    } >"$work/$name.csv"
    (cd "$work" && exec timeout 60 sipp -sf "$xml" -inf "$name.csv" -m "$#" -l "$#" -r 20 -d "$hold" \
        -i 127.0.0.1 -p "$lport" -mp "$mport" -nostdin -trace_err -trace_stat \
        "127.0.0.1:$kam_port" >"$name.out" 2>&1) &
    pids+=($!)
    eval "pid_$name=$!"
}
finish() { # name
    local v="pid_$1"
    wait "${!v}" || { tail -20 "$work/$1.out"; cat "$work"/*errors.log 2>/dev/null | tail -20; fail "SIPp $1: not every call succeeded"; }
}
joins() { # node room...: how many participant-join events the node logged for each room
    python3 - "$work/node$1/events.jsonl" "${@:2}" <<'PY'
import json, sys
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    lines = []
rooms = [json.loads(l).get("FriendlyName") for l in lines if l.strip() and json.loads(l).get("event") == "participant-join"]
print(" ".join(str(rooms.count(r)) for r in sys.argv[2:]))
PY
}
wait_joins() { # node room count seconds
    local deadline=$((SECONDS + $4))
    until (($(joins "$1" "$2") >= $3)); do
        ((SECONDS < deadline)) || fail "node $1: fewer than $3 joins in room $2 within $4 s"
        sleep 0.05
    done
}

step "room affinity: 2 callers each for rooms ${rooms[0]}..${rooms[9]}"
batch=()
for r in "${rooms[@]}"; do batch+=("$r:${r}a" "$r:${r}b"); done
callers batch "$work/quiet.xml" "$lp_batch" "$mp_batch" 1500 "${batch[@]}"
finish batch
read -r -a on0 < <(joins 0 "${rooms[@]}")
read -r -a on1 < <(joins 1 "${rooms[@]}")
for i in "${!rooms[@]}"; do
    r=${rooms[$i]} w=${want[$i]}
    if ((w == 0)); then on_w=${on0[$i]} on_o=${on1[$i]}; else on_w=${on1[$i]} on_o=${on0[$i]}; fi
    ((on_w == 2 && on_o == 0)) ||
        fail "room $r: expected both callers on node $w (${nodes[$w]}), got $on_w there and $on_o on the other"
done
echo "    every room's callers on its hashed node (node 0: $(grep -o '0' <<<"${want[*]}" | wc -l) rooms, node 1: $(grep -o '1' <<<"${want[*]}" | wc -l))"
byes=$(grep -c "in-dialog BYE" "$work/kamailio.log" || true)
((byes == ${#batch[@]})) || fail "expected ${#batch[@]} BYEs through Kamailio's Record-Route, saw $byes"

# S survives, V is killed: S is room 1001's node.
s=${want[0]}
v=$((1 - s))
talk_room=${rooms[0]}
v_rooms=()
for i in "${!rooms[@]}"; do ((want[i] == v)) && v_rooms+=("${rooms[$i]}"); done

step "node $v (${nodes[$v]}) dies while room $talk_room talks on node $s"
tcpdump -i lo -U -w "$work/capture.pcap" "udp and dst port $mp_listen" 2>"$work/tcpdump.err" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
deadline=$((SECONDS + 10))
until grep -qs "listening on" "$work/tcpdump.err"; do
    ((SECONDS < deadline)) || { cat "$work/tcpdump.err"; fail "tcpdump did not start"; }
    sleep 0.1
done
callers listen "$work/quiet.xml" "$lp_listen" "$mp_listen" 9000 "$talk_room:listener"
wait_joins "$s" "$talk_room" 3 10
callers talk "$work/talk.xml" "$lp_talk" "$mp_talk" 8000 "$talk_room:talker"
wait_joins "$s" "$talk_room" 4 10

kill -KILL "${node_pids[$v]}"
wait "${node_pids[$v]}" 2>/dev/null || true
killed_at=$(date +%s.%N)
# Before any probe can have noticed: this INVITE goes to the dead node
# first and fails over when it stays silent for fr_ms.
callers fail "$work/quiet.xml" "$lp_fail" "$mp_fail" 1000 "${v_rooms[0]}:early"
wait_joins "$s" "${v_rooms[0]}" 1 $((fr_ms / 1000 + 4))
answered=$(python3 -c "import sys, time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$killed_at")
echo "    a call for room ${v_rooms[0]} made at the kill joined node $s after ${answered} s"
deadline=$((SECONDS + ping_s + fr_ms / 1000 + 3))
until grep -q "node down: OPTIONS sip:${nodes[$v]}:$node_port" "$work/kamailio.log" ||
    grep -q "${nodes[$v]}:$node_port did not answer; marked down" "$work/kamailio.log"; do
    ((SECONDS < deadline)) || { tail -20 "$work/kamailio.log"; fail "Kamailio did not mark node $v down within $((ping_s + fr_ms / 1000 + 3)) s"; }
    sleep 0.05
done
down=$(python3 -c "import sys, time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$killed_at")
echo "    Kamailio marked node $v down ${down} s after the kill (probe every $ping_s s, timeout $fr_ms ms)"
after=()
for r in "${v_rooms[@]}"; do after+=("$r:after$r"); done
callers after "$work/quiet.xml" "$lp_after" "$mp_after" 500 "${after[@]}"
finish after
finish fail
read -r -a got < <(joins "$s" "${v_rooms[@]}")
for i in "${!v_rooms[@]}"; do
    # The affinity round's callers went to node v; the new ones to s.
    want_s=$((i == 0 ? 2 : 1))
    ((got[i] == want_s)) || fail "room ${v_rooms[$i]}: after the kill, expected $want_s caller(s) on node $s, got ${got[$i]}"
done
echo "    all ${#v_rooms[@]} rooms of the dead node now answered by node $s"
finish talk
finish listen
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true

step "what the listener on the surviving node got"
read -r packets gap < <($kit gaps "$work/capture.pcap" "$mp_listen")
echo "    $packets RTP packets, longest gap ${gap} ms"
((packets >= 350)) || fail "the listener got $packets RTP packets in 9 s, expected at least 350"
((gap <= 200)) || fail "the listener's RTP paused for $gap ms around the kill"
$kit heard "$work/capture.pcap" "$mp_listen" "$work/heard.raw"
r=$($kit match "$work/heard.raw" "$work/talk.raw" | cut -d' ' -f1)
echo "    listener vs talker's sentence: correlation $r"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.8 else 1)" "$r" ||
    fail "the listener did not hear the talker after the kill (correlation $r)"

step "stop"
kill -0 "${node_pids[$s]}" || fail "the surviving node died (see $work/node$s/server.log)"
kill -TERM "${node_pids[$s]}"
wait "${node_pids[$s]}" || fail "node $s exited with status $?"
kill -TERM "$kam"
wait "$kam" || true
printf -- '--> kamailio: OK (%ds)\n' "$((SECONDS - started))"
