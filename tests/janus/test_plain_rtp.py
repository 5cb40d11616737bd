"""janus.plugin.huddle end to end with plain-RTP participants: the
AudioBridge API (requests, events, error codes) and what each participant
hears, checked by tone energy.

usage: test_plain_rtp.py <libjanus_huddle.so> <libhuddle.so> <workdir>"""

import glob
import os
import subprocess
import sys
import time

from checks import check, finish
from janus_server import HUDDLE_ROOM, EventSink, Handle, Janus, deadline_loop
from rtp_peer import Peer, best_correlation, chirp, goertzel_power, opus_lbrr, to_8k, tone

FREQS = {"alice": 440.0, "bob": 700.0, "carol": 1100.0}


def hears(peer, since, until, freqs=FREQS):
    """Which talkers' tones `peer` heard in the window, by energy: a tone
    counts when its power stands 20 dB over the quietest of them."""
    pcm = peer.heard(since, until)
    powers = {n: goertzel_power(pcm, f) for n, f in freqs.items()}
    floor = max(min(powers.values()), 1e-3)
    return {n for n, p in powers.items() if p > 100 * floor and p > 1e3}, powers


def errors_case(janus, room):
    h = Handle(janus)
    cases = [
        ({"request": "join", "room": 999999}, 485, "No such room (999999)"),
        ({"request": "join", "room": room, "pin": "0000"}, 489, "Unauthorized (wrong pin)"),
        ({"request": "join", "room": room}, 483, "Missing mandatory element (pin)"),
        ({"request": "join"}, 483, "Missing mandatory element (room)"),
        ({"request": "join", "room": "abc"}, 484,
         "Invalid element type (room should be a positive integer)"),
        ({"request": "join", "room": room, "pin": "4321", "codec": "g729"}, 484,
         "Invalid element (codec must opus, pcmu or pcma)"),
    ]
    for body, code, text in cases:
        h.send(body)
        ev = h.wait_data(lambda d: "error_code" in d, what=f"the error for {body}")
        check(ev["error_code"] == code and (text is None or ev["error"] == text),
              f"join {body} -> {code} {text or ''} (got {ev['error_code']} {ev['error']!r})")
    sync = [
        ({"request": "frobnicate"}, 482, "Unknown request 'frobnicate'"),
        ({"nothing": 1}, 483, "Missing mandatory element (request)"),
        ({"request": "exists"}, 483, "Missing mandatory element (room)"),
        ({"request": "listparticipants", "room": 4242}, 485, "No such room (4242)"),
        ({"request": "kick", "room": room, "id": 1}, 483, "Missing mandatory element (secret)"),
        ({"request": "kick", "room": room, "id": 1, "secret": "nope"}, 489,
         "Unauthorized (wrong secret)"),
        ({"request": "kick", "room": room, "secret": "s3cret", "id": 77}, 492,
         f"No such user 77 in room {room}"),
        ({"request": "create", "room": room}, 486, f"Room {room} already exists"),
        ({"request": "configure", "muted": True}, None, None),
    ]
    for body, code, text in sync:
        if code is None:
            h.send(body)
            ev = h.wait_data(lambda d: "error_code" in d, what="configure's error")
            check(ev["error_code"] == 487, f"configure before join -> 487 (got {ev})")
            continue
        r = h.request(body)
        check(r.get("error_code") == code and r.get("error") == text,
              f"{body} -> {code} {text} (got {r})")
    # huddle's own refusal (an unknown conference-app attribute), then a
    # good join on the same handle: the late hangup of the refused attempt
    # must not end the new membership.
    h.send({"request": "join", "room": room, "pin": "4321", "id": 9, "huddle": {"bogus": 1}})
    ev = h.wait_data(lambda d: "error_code" in d, what="huddle's refusal")
    check(ev["error_code"] == 489 and ev["error"].startswith("Refused by huddle"),
          f"join with an attribute huddle refuses -> 489 ({ev})")
    h.send({"request": "join", "room": room, "pin": "4321", "id": 9,
            "huddle": {"label": "tester", "moderator": True}})
    ev = h.wait_data(lambda d: d.get("audiobridge") == "joined" and "id" in d,
                     what="the good join after the refused one")
    time.sleep(0.5)
    r = h.request({"request": "listparticipants", "room": room})
    check([p["id"] for p in r["participants"]] == [9],
          f"a good join after huddle's refusal stays in the room ({r})")
    h.send({"request": "leave"})
    h.wait_data(lambda d: d.get("audiobridge") == "left", what="the tester left")

    # A body that is not JSON at all: Janus's core refuses it; the plugin
    # never sees it, and Janus keeps running.
    try:
        r = janus.post(h.hurl, b'{"janus": "message", "body": {"request": ')
    except OSError as e:
        r = {"transport_error": str(e)}
    check(r.get("janus") == "error", f"malformed JSON refused by Janus (got {r})")
    h.close()


def g711_case(janus, admin):
    """AudioBridge's G.711 participants (`codec: pcmu/pcma`): an Opus talker,
    a PCMU talker and a PCMA listener who never sends (so huddle sends her
    the room's rate until the plugin's own 8 kHz). Each hears the others'
    waveforms: what they received, at 8 kHz, correlated against what the
    others sent, at the best lag. Erin also asks for AudioBridge's rtp.fec,
    hank (Opus, listening) does not: only erin's stream carries in-band FEC.
    (Chirps, not tones: libopus codes FEC only for what its VAD calls
    speech, and it calls a steady tone silence.)"""
    room = 4002
    admin.request({"request": "create", "room": room, "allow_rtp_participants": True})
    peers = {"erin": Peer("erin", chirp(300, 2400, 0.9)),
             "frank": Peer("frank", chirp(2400, 300, 0.9, rate=8000), codec="pcmu"),
             "gina": Peer("gina", codec="pcma"),
             "hank": Peer("hank")}
    handles = {}
    try:
        for i, (n, p) in enumerate(peers.items()):
            h = handles[n] = Handle(janus)
            h.send({"request": "join", "room": room, "id": 50 + i, "codec": p.codec,
                    "rtp": {"ip": "127.0.0.1", "port": p.port, "fec": n == "erin"}})
            ev = h.wait_data(lambda d: d.get("audiobridge") == "joined" and "id" in d,
                             what=f"{n} ({p.codec}) joined")
            want_pt = {"opus": 100, "pcmu": 0, "pcma": 8}[p.codec]
            check(ev["rtp"]["payload_type"] == want_pt,
                  f"{n}: joined with {p.codec}, payload type {ev['rtp']['payload_type']}")
            p.remote = ("127.0.0.1", ev["rtp"]["port"])
        for n in ("erin", "frank"):
            peers[n].start_sending(4.0)
        for _ in deadline_loop(10, "G.711 audio to flow"):
            if all(len(p.packets()) > 60 for p in peers.values()):
                break
            time.sleep(0.1)
        time.sleep(0.3)
        t1 = time.monotonic()
        time.sleep(0.5)
        t2 = time.monotonic()

        def corr(listener, talker):
            heard = to_8k(peers[listener].heard(t1, t2), peers[listener].rate)[:3200]
            # heard[0] left the talker at most 0.4 s before t1: the
            # reference starts there and the lag is searched over 0.4 s.
            sent = to_8k(peers[talker].sent_since(t1 - 0.4), peers[talker].rate)
            return best_correlation(heard, sent, 3200)

        for listener, talkers, alone in (("frank", ["erin"], True), ("erin", ["frank"], True),
                                         ("gina", ["erin", "frank"], False)):
            for talker in talkers:
                c = corr(listener, talker)
                want = 0.6 if alone else 0.35
                check(c > want, f"{listener} ({peers[listener].codec}) hears {talker} "
                      f"({peers[talker].codec}): correlation {c:.2f} > {want}")
        c = corr("frank", "frank")
        check(c < 0.2, f"frank does not hear himself: correlation {c:.2f} < 0.2")
        pk = peers["frank"].packets()
        tss = [x[2] for x in pk]
        check(all(x[3] == 0 and len(x[5]) == 160 for x in pk) and len(pk) > 60
              and all(((b - a) & 0xFFFFFFFF) % 160 == 0 for a, b in zip(tss, tss[1:])),
              f"frank gets PCMU: payload type 0, 160 samples, timestamps in 160 steps "
              f"({len(pk)} packets)")
        pk = peers["gina"].packets()
        check(all(x[3] == 8 and len(x[5]) == 160 for x in pk) and len(pk) > 60,
              f"gina gets PCMA: payload type 8, 160 samples ({len(pk)} packets)")

        def lbrr_share(name):
            pk = [x for x in peers[name].packets() if t1 <= x[0] < t2]
            return sum(1 for x in pk if opus_lbrr(x[6])) / max(len(pk), 1)
        check(lbrr_share("erin") > 0.5 and lbrr_share("hank") == 0,
              f"rtp.fec: in-band FEC in {lbrr_share('erin'):.0%} of erin's packets, "
              f"{lbrr_share('hank'):.0%} of hank's (no fec)")

        # changeroom keeps each one's codec (the request names none): gina
        # still gets PCMA and hears frank, whose PCMU is still decoded.
        admin.request({"request": "create", "room": room + 1, "allow_rtp_participants": True})
        for n in ("gina", "frank"):
            handles[n].send({"request": "changeroom", "room": room + 1})
            handles[n].wait_data(lambda d: d.get("audiobridge") == "roomchanged",
                                 what=f"{n} moved to {room + 1}")
        # The new room's first ticks reach gina after a moment that a loaded
        # machine stretches: half-second windows until she hears frank, for
        # up to 4 s of his 5.
        peers["frank"].start_sending(5.0)
        deadline = time.monotonic() + 4.0
        while True:
            t1 = time.monotonic()
            time.sleep(0.5)
            t2 = time.monotonic()
            c = corr("gina", "frank")
            if c > 0.6 or time.monotonic() > deadline:
                break
        pk = [x for x in peers["gina"].packets() if x[0] >= t1]
        if c <= 0.6:  # for the reader of a failed run: what huddle saw
            heard = peers["gina"].heard(t1, t2)
            print("     gina's rms:", (sum(v * v for v in heard) / max(len(heard), 1)) ** 0.5,
                  admin.request({"request": "huddle", "command": f"json stats {room + 1}"}),
                  admin.request({"request": "huddle", "command": f"json list {room + 1}"}))
        check(c > 0.6 and pk and all(x[3] == 8 for x in pk),
              f"after changeroom gina (still pcma) hears frank (still pcmu) alone: "
              f"correlation {c:.2f} > 0.6, {len(pk)} packets of type 8")
    finally:
        for h in handles.values():
            h.close()
        for p in peers.values():
            p.close()
    admin.request({"request": "destroy", "room": room})
    admin.request({"request": "destroy", "room": room + 1})


def huddle_room_case(janus, admin):
    """A room from huddle's own config (not created through the API): listed,
    joinable, its PIN checked by huddle, its host PIN making a moderator."""
    room = HUDDLE_ROOM
    r = admin.request({"request": "list"})
    listed = [x for x in r.get("list", []) if x["room"] == room]
    check(len(listed) == 1 and listed[0]["pin_required"] is True,
          f"list shows huddle's configured room {room} ({listed})")
    check(admin.request({"request": "exists", "room": room}).get("exists") is True,
          f"exists {room} -> true")
    peers, handles = [], []
    try:
        for body, code, prefix in (({}, 483, "Missing mandatory element (pin)"),
                                   ({"pin": "9999"}, 489, "Unauthorized (wrong pin)"),
                                   ({"pin": "12ab"}, 484, "Invalid element (pin")):
            h = Handle(janus)
            handles.append(h)
            h.send(dict({"request": "join", "room": room, "id": 70}, **body))
            ev = h.wait_data(lambda d: "error_code" in d, what=f"join {room} with {body}")
            check(ev["error_code"] == code and ev["error"].startswith(prefix),
                  f"join {room} with {body} -> {code} {prefix}... ({ev})")
        for pid, pin in ((71, "1111"), (72, "2222")):
            p = Peer(f"p{pid}")
            h = Handle(janus)
            peers.append(p)
            handles.append(h)
            h.send({"request": "join", "room": room, "id": pid, "pin": pin,
                    "rtp": {"ip": "127.0.0.1", "port": p.port}})
            ev = h.wait_data(lambda d: d.get("audiobridge") == "joined" and "id" in d,
                             what=f"{pid} joined {room} with PIN {pin}")
            check(ev["id"] == pid, f"join {room} with huddle's PIN {pin} -> joined")
        r = admin.request({"request": "huddle", "command": f"json list {room}"})
        members = r.get("huddle", {}).get("result", {}).get("member_list", [])
        mods = {m["from"]: m["moderator"] for m in members}
        check(mods == {"71": False, "72": True},
              f"huddle's host PIN made 72 a moderator, the PIN 71 not ({mods})")
    finally:
        for h in handles:
            h.close()
        for p in peers:
            p.close()


def main():
    plugin_so, huddle_lib, workdir = sys.argv[1:4]
    sink = EventSink()
    janus = Janus(workdir, plugin_so, huddle_lib, None,
                  events_url=f"http://127.0.0.1:{sink.port}/events")
    peers = {}
    handles = {}
    try:
        admin = Handle(janus)
        room = 4000
        r = admin.request({"request": "create", "room": room, "description": "plain rtp",
                           "secret": "s3cret", "pin": "4321", "allow_rtp_participants": True,
                           "sampling_rate": 48000})
        check(r == {"audiobridge": "created", "room": room, "permanent": False},
              f"create -> created ({r})")
        r = admin.request({"request": "exists", "room": room})
        check(r.get("exists") is True, "exists -> true")
        r = admin.request({"request": "list"})
        listed = [x for x in r.get("list", []) if x["room"] == room]
        check(len(listed) == 1 and listed[0]["pin_required"] is True
              and listed[0]["description"] == "plain rtp", f"list shows the room ({listed})")

        errors_case(janus, room)
        g711_case(janus, admin)
        huddle_room_case(janus, admin)

        for n in FREQS:
            peers[n] = Peer(n, tone(FREQS[n], 1.0))
            handles[n] = Handle(janus)
        ids = {"alice": 11, "bob": 22, "carol": 33}
        for n in FREQS:
            handles[n].send({"request": "join", "room": room, "id": ids[n], "display": n,
                             "pin": "4321",
                             "rtp": {"ip": "127.0.0.1", "port": peers[n].port,
                                     "payload_type": 100, "audiolevel_ext": 1}})
            ev = handles[n].wait_data(lambda d: d.get("audiobridge") == "joined" and "id" in d,
                                      what=f"{n} joined")
            check(ev["room"] == room and ev["id"] == ids[n] and ev.get("display") == n,
                  f"{n}: joined event ({ev.get('id')})")
            check(ev["rtp"]["ip"] == "127.0.0.1" and ev["rtp"]["port"] > 0,
                  f"{n}: joined carries the plugin's RTP address ({ev['rtp']})")
            peers[n].remote = ("127.0.0.1", ev["rtp"]["port"])
        # Alice saw Bob and Carol join (AudioBridge's "joined" to the others).
        for other in ("bob", "carol"):
            handles["alice"].wait_data(
                lambda d, o=other: d.get("audiobridge") == "joined" and "id" not in d
                and d["participants"][0]["id"] == ids[o], what=f"alice told {other} joined")
        check(True, "alice was told bob and carol joined")
        r = admin.request({"request": "listparticipants", "room": room})
        check(sorted(p["id"] for p in r["participants"]) == [11, 22, 33]
              and all(p["setup"] and not p["muted"] for p in r["participants"]),
              f"listparticipants lists the three ({r})")

        for p in peers.values():
            p.start_sending(8.0)
        time.sleep(0.1)
        t0 = time.monotonic()
        for _ in deadline_loop(10, "audio to flow"):
            if all(len(p.packets()) > 50 for p in peers.values()):
                break
            time.sleep(0.1)
        t1 = time.monotonic()
        time.sleep(1.5)
        t2 = time.monotonic()
        for n, p in peers.items():
            heard, powers = hears(p, t1, t2)
            others = set(FREQS) - {n}
            check(heard == others, f"{n} hears {sorted(others)} and not itself "
                  f"(heard {sorted(heard)}; powers {({k: round(v) for k, v in powers.items()})})")

        # Continuity of what the plugin sends: one SSRC, sequence +1 per
        # packet, timestamp +960 per 20 ms.
        pk = peers["alice"].packets()
        seqs = [x[1] for x in pk]
        gaps = sum(1 for a, b in zip(seqs, seqs[1:]) if (b - a) & 0xFFFF != 1)
        check(gaps == 0 and len(seqs) > 50, f"alice's stream: {len(seqs)} packets, {gaps} seq gaps")
        tss = [x[2] for x in pk]
        bad_ts = sum(1 for a, b in zip(tss, tss[1:]) if ((b - a) & 0xFFFFFFFF) % 960 != 0)
        check(bad_ts == 0 and all(x[3] == 100 for x in pk),
              f"alice's stream: timestamps in 960-sample steps, payload type 100 ({bad_ts} bad)")

        # Mute Bob with configure: the others stop hearing him; he still hears them.
        handles["bob"].send({"request": "configure", "muted": True})
        ev = handles["bob"].wait_data(lambda d: d.get("result") == "ok", what="configure ok")
        check(ev["room"] == room, "configure -> event result ok")
        handles["alice"].wait_data(
            lambda d: any(p["id"] == 22 and p["muted"] for p in d.get("participants", []))
            and d.get("audiobridge") == "event", what="alice told bob is muted")
        check(True, "alice is told bob is muted (participants event)")
        time.sleep(0.3)
        t3 = time.monotonic()
        time.sleep(1.2)
        t4 = time.monotonic()
        check(hears(peers["alice"], t3, t4)[0] == {"carol"}, "muted bob: alice hears only carol")
        check(hears(peers["carol"], t3, t4)[0] == {"alice"}, "muted bob: carol hears only alice")
        check(hears(peers["bob"], t3, t4)[0] == {"alice", "carol"}, "muted bob still hears both")

        # DTMF through RFC 4733: '0' is huddle's toggle-mute key.
        peers["bob"].send_dtmf(0)
        handles["carol"].wait_data(
            lambda d: any(p["id"] == 22 and not p["muted"] for p in d.get("participants", [])),
            what="carol told bob is unmuted by his DTMF 0")
        check(True, "bob's RFC 4733 '0' unmuted him (huddle's caller controls)")
        # The same key as a request (DTMF signalled out of band) mutes him again.
        handles["bob"].send({"request": "dtmf", "tones": "0"})
        handles["bob"].wait_data(lambda d: d.get("result") == "ok" and "room" not in d,
                                 what="dtmf request ok")
        handles["carol"].wait_data(
            lambda d: any(p["id"] == 22 and p["muted"] for p in d.get("participants", [])),
            what="carol told bob is muted by his dtmf request")
        check(True, "a 'dtmf' request with '0' muted bob again")
        handles["bob"].send({"request": "dtmf", "tones": "0"})
        handles["carol"].wait_data(
            lambda d: any(p["id"] == 22 and not p["muted"] for p in d.get("participants", [])),
            what="carol told bob is unmuted again")
        r = handles["bob"].request({"request": "dtmf", "tones": "x"})
        if r.get("janus") == "ack":
            r = handles["bob"].wait_data(lambda d: "error_code" in d, what="bad tones error")
        check(r.get("error_code") == 484, f"dtmf with a bad key -> 484 ({r})")

        # RFC 6464: a quiet member's frames that their sender marks as
        # silence (level 127) are not even decoded, however loud the payload;
        # unmarked, the same payload is heard.
        with_dave = dict(FREQS, dave=1500.0)
        peers["dave"] = Peer("dave", tone(1500.0, 1.0), audio_level=127)
        handles["dave"] = Handle(janus)
        handles["dave"].send({"request": "join", "room": room, "id": 44, "pin": "4321",
                              "rtp": {"ip": "127.0.0.1", "port": peers["dave"].port,
                                      "audiolevel_ext": 1}})
        ev = handles["dave"].wait_data(lambda d: d.get("audiobridge") == "joined" and "id" in d,
                                       what="dave joined")
        peers["dave"].remote = ("127.0.0.1", ev["rtp"]["port"])
        peers["dave"].start_sending(6.0)
        time.sleep(0.5)
        t5 = time.monotonic()
        time.sleep(1.0)
        t6 = time.monotonic()
        check("dave" not in hears(peers["alice"], t5, t6, with_dave)[0],
              "dave's loud frames marked level 127 are not heard (RFC 6464 reaches huddle)")
        peers["dave"].audio_level = None
        time.sleep(0.5)
        t7 = time.monotonic()
        time.sleep(1.0)
        who, powers = hears(peers["alice"], t7, time.monotonic(), with_dave)
        check("dave" in who, f"the same frames unmarked are heard (alice heard {sorted(who)}, "
              f"powers {({k: round(v) for k, v in powers.items()})})")
        handles["dave"].send({"request": "leave"})
        handles["dave"].wait_data(lambda d: d.get("audiobridge") == "left", what="dave left")

        # Events reach Janus's event handlers.
        e = sink.wait(lambda e: e.get("event", {}).get("plugin") == "janus.plugin.huddle"
                      and e["event"].get("data", {}).get("name") == "participant-join",
                      10, "a huddle participant-join at the event handler")
        check(e["event"]["data"]["fields"].get("FriendlyName") == str(room),
              "the event handler got huddle's participant-join")

        # The Admin API reaches huddle's conference API.
        r = janus.admin({"janus": "message_plugin", "plugin": "janus.plugin.huddle",
                         "request": {"request": "huddle", "command": "json list"}})
        data = r.get("response", {}).get("huddle", {})
        check(r.get("janus") == "success" and data.get("ok") is True,
              f"admin message_plugin runs 'conference json list' ({str(r)[:200]})")
        r = admin.request({"request": "huddle", "command": f"count {room}"})
        check(r.get("audiobridge") == "success" and r.get("huddle", "").strip() == "+OK 3",
              f"huddle request passes 'count' through ({r})")

        # Kick Carol: everyone gets "kicked", the others "leaving", her stream stops.
        r = admin.request({"request": "kick", "room": room, "secret": "s3cret", "id": 33})
        check(r == {"audiobridge": "success"}, f"kick -> success ({r})")
        ev = handles["carol"].wait_data(lambda d: d.get("kicked") == 33, what="carol kicked")
        handles["alice"].wait_data(lambda d: d.get("leaving") == 33, what="alice told carol left")
        check(True, "carol got 'kicked'; alice got 'leaving'")
        time.sleep(0.5)
        n_before = len(peers["carol"].packets())
        time.sleep(0.5)
        check(len(peers["carol"].packets()) == n_before, "carol receives nothing after the kick")
        r = admin.request({"request": "listparticipants", "room": room})
        check(sorted(p["id"] for p in r["participants"]) == [11, 22], "carol is gone from the list")

        # Leave: Alice gets "left", Bob "leaving".
        handles["alice"].send({"request": "leave"})
        handles["alice"].wait_data(lambda d: d.get("audiobridge") == "left" and d["id"] == 11,
                                   what="alice left")
        handles["bob"].wait_data(lambda d: d.get("leaving") == 11, what="bob told alice left")
        check(True, "leave -> left / leaving")

        # A second room stays live while Janus shuts down.
        r = admin.request({"request": "create", "room": 4001, "allow_rtp_participants": True})
        handles["alice"].send({"request": "join", "room": 4001, "id": 5,
                               "rtp": {"ip": "127.0.0.1", "port": peers["alice"].port}})
        handles["alice"].wait_data(lambda d: d.get("audiobridge") == "joined" and "id" in d,
                                   what="alice joined room 4001")

        # changeroom: bob moves from 4000 to 4001 without a new join.
        handles["bob"].send({"request": "changeroom", "room": 4001, "id": 6, "display": "bob"})
        ev = handles["bob"].wait_data(lambda d: d.get("audiobridge") == "roomchanged",
                                      what="bob's roomchanged")
        check(ev["room"] == 4001 and ev["id"] == 6
              and [p["id"] for p in ev["participants"]] == [5],
              f"changeroom -> roomchanged with alice in the new room ({ev})")
        handles["alice"].wait_data(lambda d: d.get("audiobridge") == "joined"
                                   and d["participants"][0]["id"] == 6, what="alice told bob came")
        r = admin.request({"request": "listparticipants", "room": 4000})
        check(r["participants"] == [], f"bob left room 4000 ({r})")
        # His RTP stream carries on in the new room.
        n_moved = len(peers["bob"].packets())
        time.sleep(0.5)
        check(len(peers["bob"].packets()) > n_moved + 10,
              "bob's plain-RTP stream goes on after changeroom")

        # Teardown races: participants whose Janus session is destroyed
        # (no leave) while their frames are in flight and being mixed. Under
        # ASan any use after free aborts Janus; the room must end up as before.
        churn = []
        for i in range(12):
            p = Peer(f"churn{i}", tone(300.0 + 50 * i, 0.5))
            h = Handle(janus)
            h.send({"request": "join", "room": 4001, "id": 100 + i,
                    "rtp": {"ip": "127.0.0.1", "port": p.port}})
            ev = h.wait_data(lambda d: d.get("audiobridge") == "joined" and "id" in d,
                             what=f"churn {i} joined")
            p.remote = ("127.0.0.1", ev["rtp"]["port"])
            p.start_sending(2.0)
            churn.append((p, h))
            if len(churn) > 3:
                old_p, old_h = churn.pop(0)
                old_h.close()
                old_p.close()
        for p, h in churn:
            h.close()
            p.close()
        for _ in deadline_loop(10, "the churned participants to be gone"):
            r = admin.request({"request": "listparticipants", "room": 4001})
            if sorted(x["id"] for x in r["participants"]) == [5, 6]:
                break
            time.sleep(0.1)
        check(True, "12 participants destroyed mid-stream; room 4001 back to alice and bob")
        r = admin.request({"request": "huddle", "command": "count 4001"})
        check(r.get("huddle", "").strip() == "+OK 2", f"huddle agrees: {r.get('huddle')!r}")

        # enable_recording: huddle records room 4001 to a WAV that sox reads.
        r = admin.request({"request": "enable_recording", "room": 4001, "record": True})
        check(r == {"audiobridge": "success"}, f"enable_recording true -> success ({r})")
        time.sleep(1.0)
        r = admin.request({"request": "enable_recording", "room": 4001, "record": False})
        check(r == {"audiobridge": "success"}, f"enable_recording false -> success ({r})")
        wavs = []
        for _ in deadline_loop(10, "the recording to be finalised"):
            wavs = glob.glob(os.path.join(janus.workdir, "recordings", "**", "*.wav"),
                             recursive=True)
            info = subprocess.run(["sox", "--i", "-D", wavs[0]], capture_output=True,
                                  text=True) if wavs else None
            if info and info.returncode == 0 and float(info.stdout or 0) > 0.5:
                break
            time.sleep(0.2)
        check(len(wavs) == 1, f"the room's recording is a WAV sox reads ({wavs})")

        # edit and destroy.
        r = admin.request({"request": "edit", "room": 4000, "secret": "s3cret",
                           "new_description": "renamed", "new_pin": ""})
        check(r == {"audiobridge": "edited", "room": 4000}, f"edit -> edited ({r})")
        r = admin.request({"request": "list"})
        listed = [x for x in r["list"] if x["room"] == 4000]
        check(listed and listed[0]["description"] == "renamed"
              and listed[0]["pin_required"] is False, f"list shows the edit ({listed})")
        r = admin.request({"request": "destroy", "room": 4000, "secret": "s3cret"})
        check(r == {"audiobridge": "destroyed", "room": 4000, "permanent": False},
              f"destroy -> destroyed ({r})")
        r = admin.request({"request": "exists", "room": 4000})
        check(r.get("exists") is False, "exists after destroy -> false")
    finally:
        for p in peers.values():
            p.close()
        for h in handles.values():
            h.alive = False
        status = janus.stop()
        sink.close()
    finish("test_plain_rtp", janus, status)


if __name__ == "__main__":
    main()
