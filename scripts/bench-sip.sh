#!/usr/bin/env bash
# SIP load benchmark (not part of scripts/test.sh): SIPp places CALLS
# concurrent PCMU calls (default 200) into ROOMS rooms (20) that each play
# 60 s of speech; huddle-sip (release build, release libhuddle.so) mixes
# them. Reports huddle-sip's CPU (from /proc over the steady state), its
# peak memory (VmHWM), huddle's per-room stats (frames in, dropped,
# concealed, late ticks, worst tick; drops by reason, packets played a
# tick late, quiet frames trimmed), what huddle-sip sent (tcpdump on
# lo: packets per call against the 50 a second expected, sequence gaps),
# the kernel's UDP receive-buffer drops, and where huddle's drops come
# from: tests/sip/benchkit.py replays the arrival times of what SIPp sent
# through a model of huddle's jitter buffer (what a perfect host would
# drop too) and reports how far behind schedule the input arrived.
#   CALLS=200 SECONDS_PER_CALL=60 JITTER=2 scripts/bench-sip.sh   (needs root for tcpdump)
# JITTER is the rooms' jitter_buffer_frames.
source "$(dirname "$0")/lib.sh" bench-sip sip-bench release
calls=${CALLS:-200}
hold_s=${SECONDS_PER_CALL:-60}
jitter=${JITTER:-2}
rooms=20

make -s -C ffi/sip BUILD="$work/build"
bin="$work/build/huddle-sip"

{
    read -r sip_port mp lp
    read -r rtp_base
} < <(python3 tests/sip/freeports.py 3 4 1 $((calls * 2 + 100)))
cat >"$work/huddle.conf" <<CONF
[module]
timer = "realtime"
log_level = "warn"
sounds_dir = "$root/conf/sounds"
recordings_dir = "$work/recordings"

[profiles.default]
rate = 8000
jitter_buffer_frames = $jitter
max_members = 50
CONF
# Call n goes to room r<parity of its tens digit><its units digit>: 20 rooms.
cat >"$work/sip.conf" <<CONF
[sip]
listen = "127.0.0.1:$sip_port"
library = "$target_dir/release/libhuddle.so"
huddle_config = "huddle.conf"
rtp_port_min = $rtp_base
rtp_port_max = $((rtp_base + calls * 2 + 99))
max_calls = $((calls + 50))
control_socket = "ctl.sock"
event_log = ""

[[dialplan]]
match = '^7([0-9])\$'
app = "r0\$1"

[[dialplan]]
match = '^7[0-9]*([02468])([0-9])\$'
app = "r0\$2"

[[dialplan]]
match = '^7[0-9]*([13579])([0-9])\$'
app = "r1\$2"
CONF

espeak-ng -w "$work/speech.wav" "This is one of many callers in a busy conference, talking now and then."
sox "$work/speech.wav" -r 8000 -c 1 -b 16 -e signed-integer -t raw "$work/speech.raw" norm -6
segments=()
for ((i = 0; i < hold_s / 8 + 1; i++)); do segments+=("speech:$work/speech.raw" silence:3); done
python3 tests/sip/rtpkit.py pcap "$work/talk.pcap" "${segments[@]}"
sed -e "s|@PCAP@|$work/talk.pcap|" -e 's/\[service\]@/[service][call_number]@/g' \
    -e '/@HDRS@/d' tests/sip/call.xml.in >"$work/bench.xml"

(cd "$work" && exec "$bin" -c sip.conf >server.log 2>&1) &
server=$!
pids+=("$server")
deadline=$((SECONDS + 10))
until [[ "$(python3 tests/sip/sipprobe.py "$sip_port" options)" == 200 ]]; do
    ((SECONDS < deadline)) || { cat "$work/server.log"; exit 1; }
done
# Both directions: what huddle-sip sent, and when SIPp's packets arrived.
tcpdump -i lo -U -s 64 -B 16384 -w "$work/sent.pcap" "udp and portrange $rtp_base-$((rtp_base + calls * 2 + 99))" \
    2>"$work/tcpdump.err" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
deadline=$((SECONDS + 10))
until grep -qs "listening on" "$work/tcpdump.err"; do
    ((SECONDS < deadline)) || exit 1
    sleep 0.1
done

ramp=$((calls / 50 + 1))
echo "bench-sip: $calls calls into $rooms rooms, $hold_s s each (ramp ${ramp} s)"
(cd "$work" && exec timeout $((hold_s + ramp + 60)) sipp -sf bench.xml -s 7 -key caller bench \
    -r 50 -m "$calls" -l "$calls" -d $((hold_s * 1000)) -i 127.0.0.1 -p "$lp" -mp "$mp" \
    -nostdin -trace_err "127.0.0.1:$sip_port" >sipp.out 2>&1) &
sipp_pid=$!
pids+=("$sipp_pid")

# CPU over the steady state: from when every call is up to 10 s before the end.
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
sleep $((ramp + 5))
c0=$(cpu)
t0=$(date +%s.%N)
sleep $((hold_s - 15))
c1=$(cpu)
t1=$(date +%s.%N)
# The kernel's per-socket drop counts (receive buffer full) of huddle-sip's
# RTP/RTCP sockets, while the calls are still up: the last column of
# /proc/net/udp, local port in hex after the colon.
sock_drops=$(python3 -c '
import sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
n = d = 0
for line in open("/proc/net/udp").read().splitlines()[1:]:
    f = line.split()
    if lo <= int(f[1].split(":")[1], 16) <= hi:
        n, d = n + 1, d + int(f[-1])
print("%d sockets, %d drops" % (n, d))' "$rtp_base" "$((rtp_base + calls * 2 + 99))")
for r in 0 1; do for u in 0 1 2 3 4 5 6 7 8 9; do
    "$bin" --cli "$work/ctl.sock" conference stats "r$r$u" || true
done; done >"$work/stats.txt"
calls_up=$("$bin" --cli "$work/ctl.sock" conference list | grep -c '^r[01][0-9] ' || true)
wait "$sipp_pid" || echo "bench-sip: SIPp reported failed calls (see $work/sipp.out)"
hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$server/status")
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true

python3 - "$work/sent.pcap" "$work/stats.txt" "$c0" "$c1" "$t0" "$t1" "$ticks" "$calls" "$hwm" "$calls_up" \
    "$rtp_base" "$((rtp_base + calls * 2 + 99))" <<'PY'
import struct, sys, re, collections
sys.path.insert(0, "tests/sip")
import rtpkit
pcap, stats, c0, c1, t0, t1, ticks, calls, hwm, up, lo, hi = sys.argv[1:]
cpu = (float(c1) - float(c0)) / float(ticks) / (float(t1) - float(t0)) * 100
per = collections.defaultdict(list)
for sport, dport, rtp in rtpkit.read_pcap(pcap):
    if int(lo) <= sport <= int(hi) and len(rtp) >= 12 and rtp[0] >> 6 == 2 and rtp[1] & 0x7F == 0:
        per[sport].append(struct.unpack("!H", rtp[2:4])[0])
gaps = sum(sum(((b - a) & 0xFFFF) - 1 for a, b in zip(s, s[1:]) if (b - a) & 0xFFFF != 1) for s in per.values())
sent = [len(s) for s in per.values()]
tot = collections.Counter()
late = worst = skipped = 0
for line in open(stats):
    for k, v in re.findall(r"\b(in|out|dropped|bad|concealed|dropped_\w+|played_late|trimmed)=(\d+)", line):
        tot[k] += int(v)
    m = re.search(r"late_ticks=(\d+).*worst_tick_us=(\d+)", line)
    if m:
        late += int(m.group(1)); worst = max(worst, int(m.group(2)))
    m = re.search(r"\bskipped_ticks=(\d+)", line)
    if m:
        skipped += int(m.group(1))
print("bench-sip: rooms running at the end: %s" % up)
print("bench-sip: huddle-sip CPU %.1f%% of one core (steady state), peak RSS %s" % (cpu, hwm))
print("bench-sip: huddle frames in %d, dropped %d, concealed %d, bad %d; late ticks %d, worst tick %.2f ms, "
      "ticks skipped (too far behind to catch up) %d"
      % (tot["in"], tot["dropped"], tot["concealed"], tot["bad"], late, worst / 1000, skipped))
print("bench-sip: dropped because: hand-off queue full %d, after the frame played %d, duplicate %d, "
      "jitter buffer full %d; played a tick late %d; quiet frames trimmed %d"
      % (tot["dropped_handoff"], tot["dropped_late"], tot["dropped_duplicate"], tot["dropped_overflow"],
         tot["played_late"], tot["trimmed"]))
if sent:
    print("bench-sip: RTP sent by huddle-sip: %d streams, %d..%d packets each (%.1f s..%.1f s at 50/s), %d sequence gaps"
          % (len(sent), min(sent), max(sent), min(sent) / 50, max(sent) / 50, gaps))
PY
echo "bench-sip: huddle-sip's RTP sockets, dropped by the kernel (receive buffer full): $sock_drops"
# The jitter buffer's bound: 2 frames of slack and 16 a late tick may find.
python3 tests/sip/benchkit.py "$work/sent.pcap" "$rtp_base" "$((rtp_base + calls * 2 + 99))" "$jitter" 18
kill -TERM "$server"
wait "$server" || true
