# Shared by scripts/test-kamailio.sh and scripts/bench-scale.sh (sourced):
# huddle-sip nodes on loopback addresses behind Kamailio. The caller sets
# root, work, lib, bin, kit, and a pids array cleaned up on exit.

# node_conf N IP PORT RTP_BASE RTP_COUNT [EXTRA_HUDDLE_CONF]: writes
# $work/nodeN/{huddle,sip}.conf. Numbers of 4 digits are rooms; the other
# node's cascade leg (cascade-<room>) joins as a bridge member.
node_conf() {
    local n=$1 ip=$2 port=$3 rtp=$4 span=$5 extra=${6:-}
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
record_beep = false
$extra
CONF
    cat >"$work/node$n/sip.conf" <<CONF
[sip]
listen = "$ip:$port"
library = "$lib"
huddle_config = "huddle.conf"
rtp_ip = "$ip"
rtp_port_min = $rtp
rtp_port_max = $((rtp + span - 1))
max_calls = $((span / 2))
control_socket = "ctl.sock"
event_log = "events.jsonl"

[[dialplan]]
match = '^cascade-([0-9]{4})\$'
app = "\$1+flags{bridge}"

[[dialplan]]
match = '^([0-9]{4})\$'
app = "\$1"
CONF
}

listening() { # N: how many times node N's log says it started
    local c
    c=$(grep -cs "listening on" "$work/node$1/server.log" || true)
    echo "${c:-0}"
}

node_pids=()
start_node() { # N: starts node N and waits (10 s at most) until it listens
    local n=$1 deadline=$((SECONDS + 10)) before
    before=$(listening "$n")
    (cd "$work/node$n" && exec "$bin" -c sip.conf >>server.log 2>&1) &
    node_pids[n]=$!
    pids+=($!)
    until (($(listening "$n") > before)); do
        kill -0 "${node_pids[n]}" 2>/dev/null || { tail "$work/node$n/server.log"; fail "node $n exited"; }
        ((SECONDS < deadline)) || { tail "$work/node$n/server.log"; fail "node $n did not start"; }
        sleep 0.1
    done
}

# start_kamailio PORT PING_S FR_MS NODE_URI...: Kamailio on 127.0.0.1:PORT
# with conf/kamailio/kamailio.cfg and the nodes in that order.
start_kamailio() {
    local port=$1 ping=$2 fr=$3 deadline=$((SECONDS + 15))
    shift 3
    printf '1 %s\n' "$@" >"$work/nodes.list"
    mkdir -p "$work/kamrun"
    kamailio -f "$root/conf/kamailio/kamailio.cfg" -DD -E -Y "$work/kamrun" \
        -A "LISTEN=udp:127.0.0.1:$port" -A "DS_LIST=\"$work/nodes.list\"" \
        -A "DS_PING_INTERVAL=$ping" -A "FR_TIMER_MS=$fr" -A LOG_LEVEL=2 \
        >"$work/kamailio.log" 2>&1 &
    kam=$!
    pids+=("$kam")
    until grep -qs "udp: 127.0.0.1.*:$port" "$work/kamailio.log"; do
        kill -0 "$kam" 2>/dev/null || { cat "$work/kamailio.log"; fail "Kamailio exited"; }
        ((SECONDS < deadline)) || { cat "$work/kamailio.log"; fail "Kamailio did not start"; }
        sleep 0.1
    done
}

# callers NAME XML LOCAL_PORT MEDIA_PORT HOLD_MS ROOM:CALLER...: one SIPp
# running the calls (tests/kamailio/call.xml.in made into XML) to
# $call_to, else to Kamailio ($kam_port), in the background; its PID is
# pid_NAME.
callers() {
    local name=$1 xml=$2 lport=$3 mport=$4 hold=$5
    shift 5
    {
        echo SEQUENTIAL
        for rc in "$@"; do echo "${rc%%:*};${rc#*:}"; done
    } >"$work/$name.csv"
    (cd "$work" && exec timeout "${sipp_timeout:-60}" sipp -sf "$xml" -inf "$name.csv" -m "$#" -l "$#" \
        -r "${sipp_rate:-20}" -d "$hold" -i 127.0.0.1 -p "$lport" -mp "$mport" -nostdin -trace_err -trace_stat \
        "${call_to:-127.0.0.1:$kam_port}" >"$name.out" 2>&1) &
    pids+=($!)
    eval "pid_$name=$!"
}

finish() { # NAME: waits for callers NAME; every call must have succeeded
    local v="pid_$1"
    wait "${!v}" || { tail -20 "$work/$1.out"; cat "$work"/*errors.log 2>/dev/null | tail -20; fail "SIPp $1: not every call succeeded"; }
}

joins() { # N ROOM...: participant-join events node N logged for each room
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

wait_joins() { # N ROOM COUNT SECONDS: until node N logged COUNT joins in ROOM
    local deadline=$((SECONDS + $4))
    until (($(joins "$1" "$2") >= $3)); do
        ((SECONDS < deadline)) || fail "node $1: fewer than $3 joins in room $2 within $4 s"
        sleep 0.05
    done
}
