#!/usr/bin/env python3
"""mod_huddle in a real FreeSWITCH, driven the way users drive it.

Three SIPp callers (two PCMU, carol Opus) dial room 3000, type its PIN with RFC 4733 digits
and then speak in turns (espeak-ng clips, one voice and sentence each); a
fourth types a wrong PIN, a fifth reaches a dialplan entry whose app data has
an unknown flag. Asserts, from outside FreeSWITCH:
  - the right PIN admits (huddle::participant-join on the event socket,
    `huddle 3000 list` and `huddle json list 3000` show the three channels),
    the wrong one is hung up with CALL_REJECTED (21) after huddle::pin-failed,
    and so is the bad app data, with a log line naming the flag;
  - each caller hears the other two and not itself: the RTP FreeSWITCH sent
    to each caller (captured on lo) correlates with what the others sent;
    FreeSWITCH read each caller's packets to the end;
  - carol's Opus goes to huddle as Opus and comes back as Opus: huddle's
    stats count her decodes and its encodes, every packet to her is Opus;
    alice's PCMU goes to huddle as PCMU (her format in `huddle 3000 list`),
    bob's as L16 while a media bug (uuid_record) watches his side;
  - `huddle 3000 kick <id>` ends that call: SIPp gets a BYE, FreeSWITCH's
    CHANNEL_HANGUP_COMPLETE says NORMAL_CLEARING (16), huddle::participant-kick;
  - `unload mod_huddle` with live calls is refused as FreeSWITCH refuses any
    module in use; `unload -f` ends the calls (BYE), FreeSWITCH lives on and
    `load mod_huddle` brings the module back; `huddle reload` and
    `reload mod_huddle` work; an unknown huddle.conf.xml param refuses the
    load with a log line naming it;
  - `uuid_record` on bob's call (his side only) records his sentence:
    a recording, like any FreeSWITCH media bug, sees what huddle hears;
  - `huddle dial 3000 tone` originates through FreeSWITCH and the answered
    leg runs the huddle app into room 3000 (where it meets the PIN prompt).
usage: fs_test.py PREFIX LIBHUDDLE MOD_HUDDLE RUNDIR"""
import json
import os
import re
import struct
import subprocess
import sys
import time
import wave

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fsrun  # noqa: E402
import rtp  # noqa: E402

PIN = "4321"
SLOT = 3.5          # s between the callers' turns
LEAD = 2.0          # s of silence before the PIN: time to hear the prompt, as a caller does
FIRST_TURN = 4.0    # s into each caller's audio: the first turn
SPEECH_MAX = 3.0    # s of each clip used
CALLERS = [("alice", "en-us", "The quick brown fox jumps over the lazy dog near the river bank."),
           ("bob", "en+m3", "Seven large ships sailed north across the cold grey sea at dawn."),
           ("carol", "en+f3", "Please remember to water the tomato plants every single morning.")]
# carol's phone speaks Opus: her packets reach huddle as Opus and huddle's
# Opus reaches her, FreeSWITCH transcoding neither way.
CODEC = {"carol": "opus"}

# Every event huddle sends (README "Events"), subscribed to by name.
HUDDLE_EVENTS = ("conference-start conference-end participant-join participant-leave participant-kick "
                 "participant-mute participant-unmute participant-hold participant-unhold participant-deaf "
                 "participant-undeaf participant-coach participant-modify participant-speech-start "
                 "participant-speech-stop participant-speech-while-muted conference-lock conference-unlock "
                 "announcement pin-failed join-refused").split()


def step(msg, t0=[time.monotonic()]):
    print(f"  [{time.monotonic() - t0[0]:5.1f}s] {msg}", flush=True)


def silence(seconds):
    return ("audio", [0] * int(seconds * rtp.RATE))


def loud_frames(pcm):
    """How many 20 ms frames of 8 kHz samples are speech, not silence."""
    n = rtp.RATE // 50
    return sum(1 for i in range(0, len(pcm) - n + 1, n) if sum(abs(x) for x in pcm[i:i + n]) / n > 300)


def pcaps(run):
    """Each caller: a pause, the PIN, silence until its turn, its sentence,
    silence to the common end. The wrong-PIN caller: a pause, 1111#.
    Digits sent the instant a call is answered may arrive before FreeSWITCH
    reads the channel and be flushed with the backlog; a caller waits for
    the prompt first. Also returns each caller's sentence."""
    out, spoken, total = {}, {}, FIRST_TURN + SLOT * len(CALLERS) + 1.0
    for k, (name, voice, text) in enumerate(CALLERS):
        lead = [silence(LEAD), ("digits", PIN + "#")]
        head = LEAD + 0.2 * (len(PIN) + 1)
        clip = spoken[name] = fsrun.speech(run, name, voice, text, SPEECH_MAX)
        start = FIRST_TURN + SLOT * k
        tl = lead + [silence(start - head), ("audio", clip),
                     silence(total - start - len(clip) / rtp.RATE)]
        path = os.path.join(run, f"{name}.pcap")
        out[name] = (path, rtp.write_pcap(path, tl, CODEC.get(name, "pcmu")))
    path = os.path.join(run, "dave.pcap")
    out["dave"] = (path, rtp.write_pcap(path, [silence(LEAD), ("digits", "1111#"), silence(6)]))
    path = os.path.join(run, "eve.pcap")
    out["eve"] = (path, rtp.write_pcap(path, [silence(6)]))
    return out, spoken


def hangups(esl, who):
    return esl.find(lambda e: e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE"
                    and e.get("Caller-Caller-ID-Number") == who)


def huddle_events(esl, name, pred=lambda e: True):
    return esl.find(lambda e: e.get("Event-Subclass") == "huddle::" + name and pred(e))


def member_lines(fs, room):
    reply = fs.api(f"huddle {room} list")
    return [l.split(";") for l in reply.splitlines() if re.match(r"^\d+;", l)]


def only_idle_room(reply):
    """`huddle list` with no conference running: just the configured room
    3000, listed idle (huddle lists configured rooms before anyone calls)."""
    lines = reply.strip().splitlines()
    return (len(lines) == 2 and lines[0].startswith("+OK 1 room")
            and lines[1].startswith("3000 ") and lines[1].endswith("idle=yes"))


def main():
    prefix, lib, mod, run = sys.argv[1:5]
    toml = fsrun.huddle_toml(run, mixers=1, profile="pin_tries = 1\ntalk_stop_ms = 300\n",
                             rooms=f'\n[[rooms]]\nname = "3000"\npin = "{PIN}"\n')
    clips, sentences = pcaps(run)
    step("clips and pcaps made")
    # Realtime priority, as FreeSWITCH runs in production: on a machine
    # busy with other work its media threads still keep time.
    fs = fsrun.FreeSwitch(prefix, run, mod, lib, toml, priority="-rp", extra_modules=["mod_sndfile"])
    procs = {}
    tcpdump = None
    try:
        step(f"FreeSWITCH up (SIP {fs.sip}, ESL {fs.esl})")
        esl = fsrun.Esl(fs.esl, events="CHANNEL_HANGUP_COMPLETE CUSTOM " + " ".join(
            "huddle::" + e for e in HUDDLE_EVENTS))
        assert only_idle_room(fs.api("huddle list")), "the huddle API does not answer"
        ports = dict(zip(clips, fsrun.media_ports(len(clips))))
        cap = os.path.join(run, "rtp.pcap")
        filt = "udp and (" + " or ".join(f"port {p}" for p in ports.values()) + ")"
        errf = open(os.path.join(run, "tcpdump.err"), "w")
        tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "-s", "400", "-w", cap, filt],
                                   stdout=subprocess.DEVNULL, stderr=errf)
        fsrun.wait_until("tcpdump to listen",
                         lambda: "listening" in open(os.path.join(run, "tcpdump.err")).read(), 10)
        for name, (pcap, _) in clips.items():
            # eve's dialplan entry gives huddle an unknown flag
            procs[name] = fsrun.sipp(fs, run, name, pcap, ports[name], "bad" if name == "eve" else "3000",
                                     timeout=90, nice=-10, codec=CODEC.get(name, "pcmu"))
        t_dial = time.monotonic()
        step("callers dialled 3000")

        # The right PIN admits, the wrong one is refused with its cause.
        joins = fsrun.wait_until("three participant-join events",
                                 lambda: (lambda j: j if len(j) >= 3 else None)(
                                     huddle_events(esl, "participant-join")), 20)
        sid = {e["From"]: e["CallSid"] for e in joins}
        assert sorted(sid) == [c[0] for c in CALLERS], f"joined: {sorted(sid)}"
        step("alice, bob and carol admitted by PIN: " + ", ".join(f"{k}={v[:8]}" for k, v in sid.items()))
        # A media bug on bob's call, his side only; his turn is still ahead.
        bob_wav = os.path.join(run, "bob-record.wav")
        assert fs.api(f"uuid_setvar {sid['bob']} RECORD_READ_ONLY true").startswith("+OK")
        reply = fs.api(f"uuid_record {sid['bob']} start {bob_wav}")
        assert reply.startswith("+OK"), f"uuid_record: {reply}"
        dave = fsrun.wait_until("dave hung up", lambda: hangups(esl, "dave"), 20)[0]
        assert dave.get("Hangup-Cause") == "CALL_REJECTED", f"dave: {dave.get('Hangup-Cause')}"
        assert huddle_events(esl, "pin-failed"), "no huddle::pin-failed event"
        assert "dave" not in sid
        step("dave's wrong PIN: pin-failed, hung up with CALL_REJECTED (21)")
        eve = fsrun.wait_until("eve hung up", lambda: hangups(esl, "eve"), 20)[0]
        assert eve.get("Hangup-Cause") == "CALL_REJECTED", f"eve: {eve.get('Hangup-Cause')}"
        fsrun.wait_until("the log line naming the flag", lambda: "bogus"
                         in open(os.path.join(run, "freeswitch.log")).read(), 10)
        step("eve's app data with an unknown flag: CALL_REJECTED, the log names the flag")

        rows = member_lines(fs, 3000)
        assert sorted(r[1] for r in rows) == sorted(sid.values()), f"huddle 3000 list: {rows}"
        snap = json.loads(fs.api("huddle json list 3000"))
        assert snap.get("ok") is True, snap
        assert len(re.findall("|".join(sid.values()), json.dumps(snap))) >= 3, snap
        step("huddle 3000 list and huddle json list 3000 show the three channels")
        # What each call sends huddle, and so hears from it (the list's last
        # field): alice's PCMU as it came (no FreeSWITCH decode or encode),
        # bob's decoded to L16 by FreeSWITCH's core read while a media bug
        # (the recording) watches his side, carol's Opus as it came.
        want = {sid["alice"]: "PCMU/8000", sid["bob"]: "L16/8000", sid["carol"]: "opus/48000"}
        # bob's format turns L16 with his first frame read after the bug came.
        fsrun.wait_until("each call's format in huddle 3000 list", lambda: {
            r[1]: r[9] for r in member_lines(fs, 3000)} == want, 5, step=0.1)
        step("alice's PCMU and carol's Opus reach huddle as they came; bob's, recorded, as L16")

        # Every caller takes its turn: the clips have had time to play out
        # and huddle's talk detector has ended each caller's last talk spurt
        # (as many huddle::participant-speech-stop as -start, at least one).
        def spoken():
            if time.monotonic() < t_dial + max(d for _, d in clips.values()) + 0.5:
                return False
            for who in sid.values():
                n = [len(huddle_events(esl, f"participant-speech-{k}", lambda e: e.get("CallSid") == who))
                     for k in ("start", "stop")]
                if n[0] == 0 or n[0] != n[1]:
                    return False
            return True
        fsrun.wait_until("each caller's turn to end", spoken, FIRST_TURN + SLOT * len(CALLERS) + 30, step=0.25)
        step("each caller spoke its turn (huddle::participant-speech-start/stop)")
        reply = fs.api(f"uuid_record {sid['bob']} stop {bob_wav}")
        assert reply.startswith("+OK"), f"uuid_record stop: {reply}"
        with wave.open(bob_wav) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (rtp.RATE, 1, 2), w.getparams()
            recorded = list(struct.unpack(f"<{w.getnframes()}h", w.readframes(w.getnframes())))
        want, got = loud_frames(sentences["bob"]), loud_frames(recorded)
        assert 0.8 * want <= got <= 1.2 * want, f"bob's recording: {got} frames of speech, his sentence has {want}"
        step(f"uuid_record of bob's side: {got} frames of speech, his sentence has {want}")
        carol_id = next(r[0] for r in rows if r[1] == sid["carol"])
        # Opus passed through: huddle decoded carol's own packets (a call
        # FreeSWITCH had decoded would reach huddle as L16: no decodes) and
        # encoded Opus for her.
        stats = fs.api("huddle stats 3000")
        decodes = re.search(rf"^member {carol_id} .*\bdecodes=(\d+)", stats, re.M)
        encodes = re.search(r"\bopus_encodes=(\d+)", stats)
        assert decodes and int(decodes.group(1)) > 50, f"carol's Opus did not reach huddle as Opus: {stats}"
        assert encodes and int(encodes.group(1)) > 50, f"huddle encoded no Opus for carol: {stats}"
        step(f"carol's Opus call: huddle decoded {decodes.group(1)} of her packets, encoded {encodes.group(1)} for her")
        reply = fs.api(f"huddle 3000 kick {carol_id}")
        assert reply.startswith("+OK"), reply
        hc = fsrun.wait_until("carol hung up", lambda: hangups(esl, "carol"), 15)[0]
        assert hc.get("Hangup-Cause") == "NORMAL_CLEARING", hc.get("Hangup-Cause")
        assert huddle_events(esl, "participant-kick", lambda e: e.get("CallSid") == sid["carol"])
        assert procs["carol"].wait(15) == 0, "carol's SIPp did not get its BYE"
        step("kick: carol got a BYE, NORMAL_CLEARING (16), huddle::participant-kick")

        # Dial-out: FreeSWITCH originates, the answered leg runs the app and
        # meets the room's PIN like any caller.
        reply = fs.api("huddle dial 3000 tone")
        assert reply.startswith("+OK"), reply
        dialled = fsrun.wait_until("the dialled leg in room 3000", lambda: [
            r for r in member_lines(fs, 3000) if r[1] not in sid.values()], 15)
        assert "pin-entry" in dialled[0][5], dialled
        step("huddle dial 3000 tone: FreeSWITCH originated a leg that runs the app (at the PIN prompt)")

        busy = fs.api("unload mod_huddle")
        assert busy.startswith("-ERR") and len(member_lines(fs, 3000)) == 3, busy
        reply = fs.api("unload -f mod_huddle")
        assert reply.startswith("+OK"), reply
        for who in ("alice", "bob"):
            assert procs[who].wait(20) == 0, f"{who}'s SIPp did not get its BYE"
        assert fs.alive() and "UP" in fs.api("status"), "FreeSWITCH died at unload"
        assert fs.api("load mod_huddle").startswith("+OK")
        assert only_idle_room(fs.api("huddle list")), fs.api("huddle list")
        step("unload with live calls: refused while in use; -f ended them (BYE), load worked")
        reply = fs.api("huddle reload")
        assert reply.startswith("+OK"), reply
        reply = fs.api("reload mod_huddle")  # reloadxml, unload, load
        assert "-ERR" not in reply and only_idle_room(fs.api("huddle list")), reply
        step("huddle reload (huddle's TOML) and reload mod_huddle (huddle.conf.xml too)")

        # A bad huddle.conf.xml refuses the load and the log names the problem.
        xml = os.path.join(run, "conf", "autoload_configs", "huddle.conf.xml")
        good = open(xml).read()
        with open(xml, "w") as f:
            f.write(good.replace('<param name="dial-template"', '<param name="colour" value="blue"/>\n'
                                 '    <param name="dial-template"'))
        reply = fs.api("reload mod_huddle")
        assert "-ERR" in reply, reply
        # FreeSWITCH's logger thread writes the file after the API reply returns.
        fsrun.wait_until("the log line naming the unknown param", lambda: "unknown param 'colour'"
                         in open(os.path.join(run, "freeswitch.log")).read(), 10)
        with open(xml, "w") as f:
            f.write(good)
        assert "+OK" in fs.api("reloadxml")
        assert fs.api("load mod_huddle").startswith("+OK")
        step("a huddle.conf.xml with an unknown param is refused, naming it; the good one loads")

        # (eve's BYE comes right after the 200, before SIPp's scenario expects
        # one, so SIPp counts her call failed; her hangup cause is checked above.)
        assert procs["dave"].wait(10) == 0, "dave's SIPp did not get its BYE"
    except BaseException:
        with open(os.path.join(run, "stats.txt"), "w") as f:  # for a reader of a failed run
            f.write(fs.api("huddle stats 3000"))
        raise
    finally:
        with open(os.path.join(run, "events.txt"), "w") as f:  # for a reader of a failed run
            # with each call's RTP counters (variable_rtp_audio_in_*)
            for e in esl.find(lambda e: e.get("Event-Subclass", "").startswith("huddle::")
                              or e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE"):
                f.write(json.dumps(e) + "\n")
        if tcpdump:
            time.sleep(0.3)  # the last packets written by -U
            tcpdump.terminate()
            tcpdump.wait(5)
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(5)
        fs.stop()

    # Who heard whom: envelopes of what each caller sent and was sent.
    opus_ports = [ports[n] for n in CODEC]
    streams = rtp.read_rtp(cap, [ports[n] for n, _, _ in CALLERS], opus_ports)
    for port in opus_ports:
        assert streams[port]["not_opus"] == 0, f"{streams[port]['not_opus']} packets to or from an Opus caller were not Opus"
        assert len(streams[port]["to"]) > 500, f"FreeSWITCH sent the Opus caller {len(streams[port]['to'])} Opus packets"
    t0 = min(t for s in streams.values() for t, _ in s["from"][:1])
    t1 = max(t for s in streams.values() for d in ("to", "from") for t, _ in s[d][-1:])
    bins = int((t1 - t0) / 0.02) + 50
    said = {n: rtp.envelope(streams[ports[n]]["from"], t0, bins) for n, _, _ in CALLERS}
    heard = {n: rtp.envelope(streams[ports[n]]["to"], t0, bins) for n, _, _ in CALLERS}
    # Each caller's turn, from what it sent: its first to last loud bin.
    turns = {}
    for n, _, _ in CALLERS:
        loud = [i for i, v in enumerate(said[n]) if v > 300]
        turns[n] = (max(0, loud[0] - 10), loud[-1] + 25)
    failures = []
    for listener, _, _ in CALLERS:
        pkts = len(streams[ports[listener]]["to"])
        row = []
        level = {}
        for talker, _, _ in CALLERS:
            lo, hi = turns[talker]
            level[talker] = sum(heard[listener][lo:hi]) / (hi - lo)
            if talker == listener:
                continue
            r = rtp.hearing(heard[listener][lo:hi], said[talker][lo:hi], 25)
            row.append(f"{talker} r={r:+.2f}")
            if r < 0.7:
                failures.append(f"{listener} does not hear {talker} (r={r:.2f})")
        others = [level[t] for t, _, _ in CALLERS if t != listener]
        row.append(f"own turn {level[listener]:.0f} vs others' {min(others):.0f}")
        if level[listener] > 0.1 * min(others):
            failures.append(f"{listener} hears itself ({level[listener]:.0f} during its own turn)")
        print(f"  {listener} heard ({pkts} packets): " + ", ".join(row))
    # The channel thread read each caller's socket to the end: what the
    # caller sent, FreeSWITCH counted in (a thread kept writing, or stuck,
    # leaves speech and RFC 2833 digits unread in the socket).
    for name, _, _ in CALLERS:
        sent = len(streams[ports[name]]["from"])
        hc = hangups(esl, name)
        got = int(hc[0].get("variable_rtp_audio_in_media_packet_count", 0)) if hc else 0
        print(f"  {name}: FreeSWITCH read {got} of the {sent} audio packets sent")
        if got < 0.98 * sent:
            failures.append(f"FreeSWITCH read {got} of {name}'s {sent} packets")
    assert not failures, "; ".join(failures)
    print("  each caller heard the other two and not itself")


if __name__ == "__main__":
    main()
