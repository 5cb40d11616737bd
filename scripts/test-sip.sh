#!/usr/bin/env bash
# The SIP front (ffi/sip, huddle-sip) end to end on 127.0.0.1: builds it,
# runs the G.711 and config unit tests, checks --check-config, starts huddle-sip on free
# ports with libhuddle.so, and drives it with SIPp and small Python probes:
#   - two callers in room 1234 each play a speech clip (espeak-ng -> sox ->
#     PCMU pcap); tcpdump captures what huddle-sip sends to each SIPp; each
#     must hear the other's clip (waveform correlation) and not its own;
#   - the same in a 16 kHz room between a PCMU caller and a G.722 caller
#     whose audio is coded and decoded by spandsp (tests/sip/g722kit.py), an
#     implementation independent of huddle-sip's ffi/common/g722.c, and in
#     another between a PCMU caller and baresip (its g722 module: a real UA
#     offering only G.722, playing a WAV);
#   - meanwhile: random bytes and stray RTP on every media port, malformed
#     SIP, INVITEs without SDP / with no common codec / to unknown numbers
#     (488/488/404), an INVITE flood beyond max_calls (200 or 503 each);
#   - RFC 4733 PIN entry admits; three wrong PINs get BYE with Q.850 cause 21;
#   - SIP INFO DTMF with the host PIN makes a moderator (dial 9000*777);
#   - a re-INVITE sendonly/sendrecv holds and unholds the member, one with
#     only PCMA changes the codec; RFC 4028 refreshes keep a call, a caller
#     that stops refreshing gets BYE with cause 102;
#   - `conference dial` sends an INVITE to originate_uri (a SIPp UAS) and the
#     answered leg joins the room;
#   - `conference kick` over the control socket sends BYE with cause 16;
#   - a caller renegotiates mid-call (UPDATE with SDP, re-INVITE, UPDATE
#     without SDP): each is answered 200 and it still hears bob afterwards;
#   - SIGTERM ends the server cleanly;
#   - a second server with session_expires_s = 2 refreshes a call that asked
#     for no timer with re-INVITEs every second; it rings (ring_ms) before
#     answering, and a caller that CANCELs while it rings gets 487 and never
#     joins a room; a room whose app data sets statusCallback: a local HTTP
#     server gets participant-join and participant-leave POSTs carrying the
#     SIP call's Call-ID, From and To (huddle's own webhook delivery).
# huddle-sip runs under ASan+UBSan (leaks checked at exit). 45-75 s on
# 2 cores after the library is built. Needs root or
# CAP_NET_RAW for tcpdump on lo.
source "$(dirname "$0")/lib.sh" sip sip-test
kit="python3 $root/tests/sip/rtpkit.py"
probe="python3 $root/tests/sip/sipprobe.py"

step "build huddle-sip; the G.711, G.722 and config unit tests"
# Under AddressSanitizer and UBSan: a memory error in the host fails the test.
make -s -C ffi/sip BUILD="$work/build" CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" all test
bin="$work/build/huddle-sip"

{
    read -r sip_port mp_a mp_b mp_pin mp_bad mp_info mp_hold mp_kick mp_flood mp_flood2 mp_uas mp_expire \
        lp1 lp2 lp3 lp4 lp5 lp6 lp7 lp8 lp9 lp10 uas_port lp11 lp12 lp13 lp14 lp15 lp16 \
        mp_c mp_d mp_u mp_h mp_x mp_e bs_sip bs_rtp
    read -r rtp_base
} < <(python3 tests/sip/freeports.py 37 4 1 200)

# The webhook receiver: it picks its own port and says which.
python3 tests/sip/hookserver.py "$work/hook.port" "$work/hooks.jsonl" 300 &
pids+=($!)
deadline=$((SECONDS + 10))
until [[ -s "$work/hook.port" ]]; do
    ((SECONDS < deadline)) || fail "the webhook receiver did not start"
    sleep 0.05
done
hook_port=$(cat "$work/hook.port")

step "configuration (SIP on $sip_port, RTP $rtp_base-$((rtp_base + 199)))"
cat >"$work/huddle.conf" <<CONF
[module]
timer = "realtime"
mixer_threads = 1
log_level = "info"
sounds_dir = "$root/conf/sounds"
recordings_dir = "$work/recordings"

[profiles.default]
rate = 8000
# 80 ms: SIPp sends in bursts when the machine is busy with the flood.
jitter_buffer_frames = 4
pin_first_digit_timeout_ms = 8000
pin_failures_per_minute = 0

[webhooks]
enabled = true
allow = ["http://127.0.0.1:$hook_port/"]
retry_base_ms = 100

# G.722 callers keep their 16 kHz audio in this profile's rooms.
[profiles.wide]
rate = 16000
jitter_buffer_frames = 4

[[rooms]]
name = "777"
pin = "1234"
host_pin = "4321"

# Its own room: when the last member of a room leaves, the conference
# ends and takes callers still typing their PIN with it.
[[rooms]]
name = "778"
pin = "1234"
host_pin = "4321"

[[rooms]]
name = "5555"
max_participants = 10
CONF
cat >"$work/sip.conf" <<CONF
[sip]
listen = "127.0.0.1:$sip_port"
library = "$lib"
huddle_config = "huddle.conf"
rtp_ip = "127.0.0.1"
rtp_port_min = $rtp_base
rtp_port_max = $((rtp_base + 199))
codecs = ["PCMU", "PCMA", "G722", "opus"]
max_calls = 40
control_socket = "ctl.sock"
event_log = "events.jsonl"
session_min_se_s = 2
originate_uri = "sip:\${destination}@127.0.0.1:$uas_port"

[[dialplan]]
match = '^9000\*([0-9]{3,8})\$'
app = "\$1"

# Flood one room (55<n>) or many (880<n>).
[[dialplan]]
match = '^55[0-9]+\$'
app = "5555"

[[dialplan]]
match = '^880([0-9]+)\$'
app = "flood\$1"

[[dialplan]]
match = '^(123[79])\$'
app = "\$1@wide"

# Room 1238 reports joins and leaves to the webhook receiver.
[[dialplan]]
match = '^1238\$'
app = "{statusCallback=http://127.0.0.1:$hook_port/cb,statusCallbackEvent=join leave}1238"

[[dialplan]]
match = '^([0-9]{3,8})\$'
app = "\$1"
CONF
"$bin" --check-config -c "$work/sip.conf" >"$work/check.out" 2>&1 ||
    { cat "$work/check.out"; fail "--check-config refused a valid config"; }
grep -q "are valid (6 dialplan rule(s))" "$work/check.out"
sed 's/^max_calls = 40$/max_cals = 40/' "$work/sip.conf" >"$work/bad.conf"
if "$bin" --check-config -c "$work/bad.conf" >"$work/bad.out" 2>&1; then
    fail "--check-config accepted an unknown key"
fi
grep -q "bad.conf:9: unknown key 'sip.max_cals'" "$work/bad.out" ||
    { cat "$work/bad.out"; fail "the config error does not name file:line and key"; }
printf '[sip]\n[[dialplan]]\nmatch = "(["\napp = "x"\n' >"$work/badre.conf"
if "$bin" --check-config -c "$work/badre.conf" >"$work/badre.out" 2>&1; then
    fail "--check-config accepted a broken regex"
fi
grep -q "badre.conf:2: dialplan match '(\['" "$work/badre.out" ||
    { cat "$work/badre.out"; fail "a bad regex is not reported with its line"; }

step "speech clips and pcaps"
espeak-ng -w "$work/a.wav" "Alpha bravo charlie, the quick brown fox."
espeak-ng -v en+f3 -w "$work/b.wav" "Seven eight nine, jumps over the lazy dog."
espeak-ng -v en+m3 -w "$work/c.wav" "Wideband hotel india, one two three four."
for x in a b c; do
    sox "$work/$x.wav" -r 8000 -c 1 -b 16 -e signed-integer -t raw "$work/$x.raw" norm -3
done
sox "$work/c.wav" -r 16000 -c 1 -b 16 -e signed-integer -t raw "$work/c16.raw" norm -3
# baresip's aufile source: 5 s of silence, the sentence, 3 s of silence.
sox "$work/c.wav" -r 16000 -c 1 -b 16 "$work/c16.wav" norm -3 pad 5 3
python3 tests/sip/g722kit.py pcap "$work/c.pcap" 5 "$work/c16.raw" 1
# A speaks from 1.5 s, B from 5 s: both are in the room by then.
$kit pcap "$work/a.pcap" silence:1.5 "speech:$work/a.raw" silence:4.5
$kit pcap "$work/b.pcap" silence:5 "speech:$work/b.raw" silence:1
$kit pcap "$work/pin-ok.pcap" silence:1 dtmf:1234# silence:3
$kit pcap "$work/pin-bad.pcap" silence:1 dtmf:1111# silence:1 dtmf:2222# silence:1 dtmf:3333# silence:6
$kit pcap "$work/silence.pcap" silence:6
scenario() { # template pcap out [cause [extra INVITE headers, \n between]]
    local hdrs=${5:-}
    sed -e "s|@PCAP@|$work/$2|" -e "s|@CAUSE@|${4:-16}|" -e "s|@D1@|4|;s|@D2@|3|;s|@D3@|2|;s|@D4@|1|;s|@D5@|#|" \
        -e "${hdrs:+s|@HDRS@|$hdrs|}" -e '/@HDRS@/d' "tests/sip/$1" >"$work/$3"
}
timer='Supported: timer\n      Session-Expires: 4;refresher=uac'
scenario call.xml.in a.pcap a.xml
scenario call.xml.in b.pcap b.xml
# carol offers only G.722 (PT 9, RFC 3551's G722/8000).
scenario call.xml.in c.pcap c.xml
sed -i -e 's|RTP/AVP 0 101|RTP/AVP 9 101|' -e 's|a=rtpmap:0 PCMU/8000|a=rtpmap:9 G722/8000|' "$work/c.xml"
scenario call.xml.in pin-ok.pcap pin-ok.xml
scenario hungup.xml.in pin-bad.pcap pin-bad.xml 21
scenario hungup.xml.in silence.pcap kick.xml 16
# The hold caller also asks for 4 s session timers and refreshes with its
# re-INVITEs at 1.5 s and 3.5 s: without them huddle-sip would end the call
# at 3 s (4 - 4/3). The expiring caller asks the same and never refreshes.
scenario hold.xml.in silence.pcap hold.xml 16 "$timer"
scenario hungup.xml.in silence.pcap expire.xml 102 "$timer"
scenario refreshed.xml.in silence.pcap refreshed.xml
scenario update.xml.in silence.pcap update.xml
scenario call.xml.in silence.pcap hooked.xml
scenario info.xml.in silence.pcap info.xml

step "start huddle-sip"
(cd "$work" && exec "$bin" -c sip.conf >server.log 2>&1) &
server=$!
pids+=("$server")
deadline=$((SECONDS + 10))
until [[ "$($probe "$sip_port" options)" == 200 ]]; do
    ((SECONDS < deadline)) || { cat "$work/server.log"; fail "huddle-sip does not answer OPTIONS"; }
done

tcpdump -i lo -U -w "$work/capture.pcap" "udp and (dst port $mp_a or dst port $mp_b or dst port $((mp_a + 1)) or dst port $mp_c or dst port $mp_d or dst port $mp_u or dst port $mp_e or dst portrange $bs_rtp-$((bs_rtp + 3)))" \
    2>"$work/tcpdump.err" &
pids+=($!)
tcpdump_pid=$!
deadline=$((SECONDS + 10))
until grep -qs "listening on" "$work/tcpdump.err"; do
    ((SECONDS < deadline)) || { cat "$work/tcpdump.err"; fail "tcpdump did not start"; }
    sleep 0.1
done

sipp_run() { # name scenario service local-port media-port caller [extra sipp args]
    local name=$1 xml=$2 service=$3 lport=$4 mport=$5 caller=$6
    shift 6
    (cd "$work" && exec timeout 60 sipp -sf "$xml" -s "$service" -key caller "$caller" -m 1 -l 1 \
        -i 127.0.0.1 -p "$lport" -mp "$mport" -nostdin -trace_err -trace_logs -trace_screen \
        "$@" "127.0.0.1:$sip_port" >"$name.out" 2>&1) &
    pids+=($!)
    eval "pid_$name=$!"
}
joined() { grep -c "$1\" <sip" "$work/server.log" 2>/dev/null || true; }
has_event() { # event from
    python3 tests/sip/jsonlines.py "$work/events.jsonl" "event=$1" "From=$2"
}
wait_event() { # event from count seconds
    local deadline=$((SECONDS + $4))
    until (($(has_event "$1" "$2") >= $3)); do
        ((SECONDS < deadline)) || fail "no $1 event for $2 within $4 s"
        sleep 0.1
    done
}

step "calls: two talkers, PIN right and wrong, INFO host PIN, hold, kick"
sipp_run a a.xml 1234 "$lp1" "$mp_a" alice -d 10000
wait_event participant-join alice 1 10
sipp_run b b.xml 1234 "$lp2" "$mp_b" bob -d 9500
sipp_run updater update.xml 1234 "$lp13" "$mp_u" updater -d 6500
sipp_run dave a.xml 1237 "$lp12" "$mp_d" dave -d 10000
wait_event participant-join dave 1 10
sipp_run carol c.xml 1237 "$lp11" "$mp_c" carol -d 9500
# baresip calls room 1239 once erin is there; its call ends when its WAV does.
sipp_run erin a.xml 1239 "$lp16" "$mp_e" erin -d 10000
wait_event participant-join erin 1 10
mkdir -p "$work/bs"
printf '%s\n' "sip_listen 127.0.0.1:$bs_sip" "audio_source aufile,$work/c16.wav" 'audio_player aubridge,sink' \
    'ausrc_srate 16000' 'ausrc_channels 1' 'module_path /usr/lib/baresip/modules' 'module stdio.so' \
    'module g722.so' 'module aufile.so' 'module aubridge.so' 'module account.so' 'module menu.so' \
    "rtp_ports $bs_rtp-$((bs_rtp + 3))" >"$work/bs/config"
echo '<sip:baresip@127.0.0.1>;regint=0;audio_codecs=G722' >"$work/bs/accounts"
(exec timeout 30 baresip -f "$work/bs" -e "/dial sip:1239@127.0.0.1:$sip_port" -t 13 \
    >"$work/baresip.out" 2>&1 </dev/null) &
pids+=($!)
pid_baresip=$!
sipp_run pinok pin-ok.xml 777 "$lp3" "$mp_pin" pinok -d 4000
sipp_run pinbad pin-bad.xml 778 "$lp4" "$mp_bad" pinbad
sipp_run info info.xml '9000*777' "$lp5" "$mp_info" infohost -d 5000
sipp_run hold hold.xml 4000 "$lp6" "$mp_hold" holder
sipp_run kick kick.xml 4444 "$lp7" "$mp_kick" kickme
sipp_run expire expire.xml 4545 "$lp10" "$mp_expire" expiring -trace_msg
wait_event participant-join bob 1 10
wait_event participant-join kickme 1 10
# The host PIN (sent by SIP INFO) makes a moderator.
wait_event participant-join infohost 1 15
"$bin" --cli "$work/ctl.sock" conference list 777 >"$work/list777.out" || fail "conference list 777"
grep -q '^[0-9]*;[^;]*;[^;]*;infohost;[^;]*;[^;]*moderator' "$work/list777.out" ||
    { cat "$work/list777.out"; fail "the host PIN caller is not a moderator"; }

wait_event participant-join holder 1 10
step "dial-out: conference dial -> INVITE to originate_uri -> joins room 4000 (the hold test's)"
(cd "$work" && exec timeout 60 sipp -sn uas -i 127.0.0.1 -p "$uas_port" -mp "$mp_uas" -m 1 \
    -nostdin -trace_err "127.0.0.1:$sip_port" >uas.out 2>&1) &
uas=$!
pids+=("$uas")
reply=$("$bin" --cli "$work/ctl.sock" conference dial 4000 5000) || fail "dial: $reply"
wait_event participant-join huddle 1 10
grep -q '"From":"huddle","To":"5000"' "$work/events.jsonl" || fail "the dialled leg joined without To=5000"

step "bad input while they talk: junk SIP, bad INVITEs, RTP garbage, a flood"
[[ "$($probe "$sip_port" junk)" == 200 ]] || fail "OPTIONS after junk SIP not answered 200"
[[ "$($probe "$sip_port" invite 99)" == 404 ]] || fail "unknown number: expected 404"
[[ "$($probe "$sip_port" invite-nosdp 1234)" == 488 ]] || fail "INVITE without SDP: expected 488"
[[ "$($probe "$sip_port" invite-g729 1234)" == 488 ]] || fail "no common codec: expected 488"
[[ "$($probe "$sip_port" invite-badsdp 1234)" == 488 ]] || fail "malformed SDP: expected 488"
[[ "$($probe "$sip_port" invite-se1 1234)" == 422 ]] || fail "Session-Expires below Min-SE: expected 422"
# The answer keeps the offer's order; Opus passes through both ways (in
# a room of its own: a joiner's beep would land in the talkers' audio).
order=$($probe "$sip_port" order 1235)
[[ "$order" == "200 8 0" ]] || fail "offer PCMA, PCMU: expected the answer 200 8 0, got '$order'"
opus=$($probe "$sip_port" opus 1236)
[[ "$opus" =~ ^200\ 111\ 0\ rx=([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 25)) ||
    fail "offer Opus, PCMU: expected 200 111 0 and Opus packets back, got '$opus'"
echo "    Opus call: $opus"
python3 - "$rtp_base" <<'PY'
# Random datagrams and well-formed PCMU RTP from a stranger's address on
# every media port: dropped (the calls latched to their phones).
import random, socket, struct, sys, time
base = int(sys.argv[1])
rng = random.Random(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 1.5
n = 0
while time.monotonic() < end and n < 20000:
    port = base + rng.randrange(200)
    if rng.random() < 0.5:
        pkt = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 400)))
    else:
        pkt = struct.pack("!BBHII", 0x80, 0, rng.randrange(65536), rng.getrandbits(32), 0xBAD) + bytes(160)
    s.sendto(pkt, ("127.0.0.1", port))
    n += 1
    if n % 200 == 0:
        time.sleep(0.02)
print("garbage: %d datagrams" % n)
PY
flood() { # name service calls
    (cd "$work" && exec timeout 60 sipp -sf "$root/tests/sip/flood.xml" -s "$2" -key caller flood \
        -r 400 -m "$3" -l "$3" -d 2000 -i 127.0.0.1 -p "$4" -mp "$5" -nostdin \
        -trace_err "127.0.0.1:$sip_port" >"$1.out" 2>&1)
}
# 60 INVITEs into room 5555 (10 places): huddle refuses the rest with
# Q.850 34, which is 503; then 100 into rooms of their own until
# max_calls (40) is reached: 503 from huddle-sip itself.
flood flood1 55 60 "$lp8" "$mp_flood" &
flood1=$!
pids+=("$flood1")
deadline=$((SECONDS + 10))
until grep -q "cause 34 -> 503" "$work/server.log"; do
    ((SECONDS < deadline)) || fail "room 5555 never refused a caller as full"
    sleep 0.05
done
flood flood2 880 100 "$lp9" "$mp_flood2" || fail "flood into many rooms: some INVITE got neither 200 nor 503 (see $work/flood2.out)"
wait "$flood1" || fail "flood into one room: some INVITE got neither 200 nor 503 (see $work/flood1.out)"
grep -q "max_calls reached" "$work/server.log" || fail "the flood never reached max_calls"

step "kick over the control socket"
reply=$("$bin" --cli "$work/ctl.sock" conference kick 4444 all) || fail "kick: $reply"

step "wait for the callers"
for name in a b dave carol erin updater pinok pinbad info hold kick expire; do
    pid_var="pid_$name"
    wait "${!pid_var}" || { cat "$work/$name.out" "$work"/*errors* 2>/dev/null | tail -30; fail "SIPp $name failed"; }
done
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true

grep -q "Session-Expires: 4;refresher=uac" "$work"/expire_*_messages.log ||
    fail "the 200 OK did not confirm Session-Expires: 4;refresher=uac"

step "what each talker heard"
$kit heard "$work/capture.pcap" "$mp_a" "$work/heard-a.raw"
$kit heard "$work/capture.pcap" "$mp_b" "$work/heard-b.raw"
check() { # heard clip min max
    local r
    r=$($kit match "$work/$1" "$work/$2" | cut -d' ' -f1)
    printf '    %s vs %s: correlation %s\n' "$1" "$2" "$r"
    python3 -c "import sys; r=float(sys.argv[1]); sys.exit(0 if $3 <= r <= $4 else 1)" "$r" ||
        fail "$1 against $2: correlation $r, expected $3..$4"
}
check heard-a.raw b.raw 0.8 1.0  # alice hears bob
check heard-b.raw a.raw 0.8 1.0  # bob hears alice
check heard-a.raw a.raw 0 0.3    # nobody hears themselves
check heard-b.raw b.raw 0 0.3
# After its UPDATEs and re-INVITE (the first 2.5 s) the updater still
# hears the room: bob speaks from 5 s.
$kit heard "$work/capture.pcap" "$mp_u" "$work/heard-u.raw"
check heard-u.raw b.raw 0.8 1.0
grep -q "UPDATE with SDP answered" "$work/server.log" || fail "no UPDATE with SDP answered"
grep -q "UPDATE answered" "$work/server.log" || fail "the UPDATE without SDP was not answered"
# G.722 both ways through a 16 kHz room: carol's spandsp-coded speech,
# decoded by huddle-sip, reaches dave; dave's, coded by huddle-sip,
# decodes with spandsp at carol's end.
$kit heard "$work/capture.pcap" "$mp_d" "$work/heard-d.raw"
python3 tests/sip/g722kit.py heard "$work/capture.pcap" "$mp_c" "$work/heard-c.raw"
check heard-d.raw c.raw 0.8 1.0  # dave (PCMU) hears carol (G.722)
check heard-c.raw a.raw 0.8 1.0  # carol (G.722) hears dave (PCMU)
check heard-c.raw c.raw 0 0.3
check heard-d.raw a.raw 0 0.3
# The same with baresip: erin (PCMU) hears its WAV, and what huddle-sip
# sent baresip, decoded by spandsp, is erin's sentence.
wait "$pid_baresip" || { tail -20 "$work/baresip.out"; fail "baresip did not end cleanly"; }
grep -q "Set audio encoder: G722" "$work/baresip.out" || { tail -20 "$work/baresip.out"; fail "baresip did not send G.722"; }
$kit heard "$work/capture.pcap" "$mp_e" "$work/heard-e.raw"
python3 tests/sip/g722kit.py heard "$work/capture.pcap" "$bs_rtp-$((bs_rtp + 3))" "$work/heard-bs.raw"
check heard-e.raw c.raw 0.8 1.0   # erin hears baresip
check heard-bs.raw a.raw 0.8 1.0  # baresip hears erin
check heard-bs.raw c.raw 0 0.3

# libre's RTCP: reports (SR 200 / RR 201) reach the talker's RTCP port,
# and a sender report counts the RTP sent to her under that RTP's SSRC.
rtcp=$(python3 - "$work/capture.pcap" "$mp_a" <<'PY'
import struct, sys
sys.path.insert(0, "tests/sip")
import rtpkit
port = int(sys.argv[2])
pkts = list(rtpkit.read_pcap(sys.argv[1]))
ssrcs = {struct.unpack("!I", p[8:12])[0] for _, d, p in pkts if d == port and len(p) > 12}
reports = [p for _, d, p in pkts if d == port + 1 and len(p) >= 8 and p[1] in (200, 201)]
counted = max([struct.unpack("!I", p[20:24])[0] for p in reports
               if p[1] == 200 and len(p) >= 28 and struct.unpack("!I", p[4:8])[0] in ssrcs] or [0])
print(len(reports), counted)
PY
)
read -r n_rtcp sr_count <<<"$rtcp"
echo "    RTCP reports to alice: $n_rtcp, the largest sender packet count: $sr_count"
((n_rtcp >= 1)) || fail "no RTCP report reached alice's RTCP port"
((sr_count >= 100)) || fail "no sender report counts the RTP sent to alice (largest count $sr_count)"

step "events"
(($(has_event participant-join pinok) == 1)) || fail "the right PIN did not admit"
grep -q "carol joined '1237@wide' (codec pt 9)" "$work/server.log" || fail "the G.722 caller did not join with G.722"
grep -q "baresip joined '1239@wide' (codec pt 9)" "$work/server.log" || fail "baresip did not join with G.722"
(($(has_event participant-join pinbad) == 0)) || fail "a wrong PIN admitted"
grep -c '"event":"pin-failed"' "$work/events.jsonl" | grep -qx 3 || fail "expected 3 pin-failed events"
(($(has_event participant-join infohost) == 1)) || fail "the INFO host PIN did not admit"
(($(has_event participant-hold holder) == 1)) || fail "re-INVITE sendonly did not hold"
(($(has_event participant-unhold holder) == 1)) || fail "re-INVITE sendrecv did not unhold"
(($(has_event participant-kick kickme) == 1)) || fail "no participant-kick"

step "stop"
kill -0 "$server" || fail "huddle-sip died (see $work/server.log)"
kill -TERM "$server"
deadline=$((SECONDS + 10))
while kill -0 "$server" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "huddle-sip did not stop within 10 s of SIGTERM"
    sleep 0.1
done
wait "$server" || fail "huddle-sip exited with status $?"
# The dialled leg got its BYE at shutdown and answered it.
wait "$uas" || { tail -20 "$work/uas.out"; fail "the dialled SIPp (uas) did not end cleanly"; }
if grep -a -E "panic|PANIC|Segmentation|AddressSanitizer|LeakSanitizer|runtime error" "$work/server.log"; then
    fail "errors in the server log"
fi

step "we refresh a caller that asks for no session timer (session_expires_s = 2)"
sed -e 's/^event_log = .*/event_log = "events2.jsonl"/' -e 's/^control_socket = .*/control_socket = "ctl2.sock"/' \
    -e 's/^\[sip\]$/[sip]\nsession_expires_s = 2\nring_ms = 1500/' "$work/sip.conf" >"$work/sip2.conf"
(cd "$work" && exec "$bin" -c sip2.conf >server2.log 2>&1) &
server2=$!
pids+=("$server2")
deadline=$((SECONDS + 10))
until [[ "$($probe "$sip_port" options)" == 200 ]]; do
    ((SECONDS < deadline)) || { cat "$work/server2.log"; fail "the second huddle-sip does not answer"; }
done
sipp_run refreshed refreshed.xml 1234 "$lp1" "$mp_a" refreshed
# Shorter than the 1 s refresh: this server re-INVITEs (session_expires_s = 2).
sipp_run hooked hooked.xml 1238 "$lp14" "$mp_h" hooked -d 500 -trace_msg
(cd "$work" && exec timeout 30 sipp -sf "$root/tests/sip/cancel.xml" -s 1234 -key caller canceller -m 1 -l 1 \
    -i 127.0.0.1 -p "$lp15" -mp "$mp_x" -nostdin -trace_err "127.0.0.1:$sip_port" >cancel.out 2>&1) &
pid_cancel=$!
pids+=("$pid_cancel")
wait "$pid_cancel" || { tail -20 "$work/cancel.out" "$work"/cancel*errors* 2>/dev/null; fail "CANCEL while ringing: expected 200 to the CANCEL, 487 to the INVITE, no 200"; }
wait "$pid_refreshed" || { tail -20 "$work/refreshed.out"; fail "huddle-sip did not refresh the session (re-INVITE)"; }
wait "$pid_hooked" || { tail -20 "$work/hooked.out"; fail "SIPp hooked failed"; }
# The cancelled caller never reached a room, though ring_ms has passed.
(($(python3 tests/sip/jsonlines.py "$work/events2.jsonl" From=canceller) == 0)) ||
    fail "the cancelled caller has events (joined a room)"
grep -q "refreshed joined" "$work/server2.log" || fail "the ringing server never answered the refreshed caller"

step "webhooks: participant-join and -leave for the call to room 1238"
callid=$(grep -m1 -i '^Call-ID:' "$work"/hooked_*_messages.log | sed 's/^[^:]*: *//' | tr -d '\r')
[[ -n "$callid" ]] || fail "no Call-ID in the hooked caller's SIPp log"
hooks() { # prints how many POSTs of event $1 carry the SIP call's fields
    python3 tests/sip/jsonlines.py "$work/hooks.jsonl" method=POST path=/cb "fields.StatusCallbackEvent=$1" \
        "fields.CallSid=$callid" fields.From=hooked fields.To=1238 fields.FriendlyName=1238
}
deadline=$((SECONDS + 10))
until (($(hooks participant-join) == 1 && $(hooks participant-leave) == 1)); do
    ((SECONDS < deadline)) || { cat "$work/hooks.jsonl" 2>/dev/null; fail "the webhook receiver did not get one participant-join and one participant-leave for Call-ID $callid"; }
    sleep 0.1
done
echo "    webhook POSTs: $(wc -l <"$work/hooks.jsonl") (join and leave for $callid)"
kill -TERM "$server2"
wait "$server2" || fail "the second huddle-sip exited with status $?"
printf -- '--> sip: OK (%ds)\n' "$((SECONDS - started))"
