"""janus.plugin.huddle with real WebRTC clients: headless Chromium on
Janus's own janus.js. Two of our minimal pages (web/room.html) and Janus's
AudioBridge demo page (janus-demos' audiobridgetest.html/.js, served with
"janus.plugin.audiobridge" replaced by "janus.plugin.huddle" and nothing
else changed) join one room. Each browser's fake microphone plays a tone
of its own; each must hear the other two and not itself (an AnalyserNode
on the received track, plus getStats packets and energy). Then mute through
configure, kick through the API, events at a test event handler, a
screenshot for the README, and Janus stopping cleanly with the room live.

usage: test_browser.py <libjanus_huddle.so> <libhuddle.so> <workdir> [screenshot.png]"""

import os
import re
import subprocess
import sys
import time

from cdp import Chromium
from checks import check, finish
from janus_server import EventSink, Handle, Janus
from web_server import serve

FREQS = {"alice": 440.0, "bob": 700.0, "carol": 1100.0}
ROOM = 1234


def tone_wav(workdir, name, freq):
    path = os.path.join(workdir, f"{name}.wav")
    # Beeps (300 ms on, 200 ms off), not a steady tone: Chromium's noise
    # suppression learns a stationary tone as noise and fades it out.
    subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", path, "synth", "0.3",
                    "sine", str(freq), "vol", "0.3", "pad", "0", "0.2", "repeat", "59"],
                   check=True)
    return path


def heard(page, seconds=2.0):
    """The talkers whose tone stands 20 dB over the quietest of the three."""
    db = page.eval(f"hl.measure({int(seconds * 1000)}, {list(FREQS.values())})",
                   timeout=seconds + 10)
    levels = dict(zip(FREQS, db))
    floor = min(levels.values())
    return {n for n, v in levels.items() if v > floor + 20}, levels


def hears(page, expected, never, windows=5):
    """Waits (up to `windows` 2 s windows) until `page` hears exactly
    `expected`; a window in which any of `never` is heard fails at once.
    On a loaded machine a browser's capture can stall for a second or two:
    the test waits that out, but never lets through what must not be heard."""
    seen = []
    for _ in range(windows):
        who, levels = heard(page)
        seen.append(sorted(who))
        if who & never:
            return False, seen, levels
        if who == expected:
            return True, seen, levels
    return False, seen, levels


def main():
    plugin_so, huddle_lib, workdir = sys.argv[1:4]
    shot = sys.argv[4] if len(sys.argv) > 4 else None
    sink = EventSink()
    rooms = f'room-{ROOM}: {{\n  description = "Demo Room"\n  secret = "adminpwd"\n}}\n'
    janus = Janus(workdir, plugin_so, huddle_lib, None, rooms=rooms,
                  events_url=f"http://127.0.0.1:{sink.port}/events")
    web = serve(janus.base)
    site = f"http://127.0.0.1:{web.server_address[1]}"
    pages = {}
    try:
        ids = {"alice": 101, "bob": 102}
        for name in ("alice", "bob", "carol"):
            pages[name] = Chromium(workdir, name, tone_wav(workdir, name, FREQS[name]))
        # Bob talks G.711 (PCMU), as AudioBridge lets a WebRTC participant.
        codecs = {"alice": "opus", "bob": "pcmu"}
        for name, pid in ids.items():
            pages[name].goto(f"{site}/room.html?server={janus.base}&room={ROOM}&id={pid}"
                             f"&name={name}&codec={codecs[name]}")
        carol = pages["carol"]
        carol.goto(f"{site}/demos/audiobridgetest.html")
        carol.wait("document.readyState === 'complete' && typeof $ === 'function' && $('#start').length",
                   20, "the demo page to load")
        carol.eval("$('#start').click(); true")
        carol.wait("$('#username').is(':visible')", 20, "the demo page's name field")
        carol.eval("$('#username').val('carol'); $('#register').click(); true")

        for name in ("alice", "bob"):
            try:
                pages[name].wait("state.pcUp && window.hl && hl.analyser", 30,
                                 f"{name}'s PeerConnection and remote track")
            except TimeoutError:
                print(f"{name}'s page state: {pages[name].eval('JSON.stringify(state)')}")
                print(pages[name].eval("JSON.stringify({hl: typeof hl, an: !!(window.hl && hl.analyser), rx: handle.webrtcStuff.pc.getReceivers().map(r => r.track && r.track.readyState + r.track.kind), rs: !!handle.webrtcStuff.remoteStream, err: window.lastErr || null})"))
                raise
        carol.wait("webrtcUp && $('#roomaudio').length && $('#roomaudio')[0].srcObject", 30,
                   "the demo page's PeerConnection")
        carol.eval("(() => { const s = document.createElement('script');"
                   f" s.src = '{site}/listen.js';"
                   " document.head.appendChild(s); return true; })()")
        carol.wait("window.hl", 10, "listen.js in the demo page")
        carol.eval("hl.attach($('#roomaudio')[0].srcObject); true")
        check(True, "two janus.js pages and the AudioBridge demo page joined and set up WebRTC")
        for name, codec in codecs.items():
            answer = pages[name].eval("handle.webrtcStuff.pc.remoteDescription.sdp")
            rtpmaps = re.findall(r"a=rtpmap:\d+ ([\w-]+)/", answer)
            want = {"opus": "opus", "pcmu": "PCMU"}[codec]
            check([c for c in rtpmaps if c != "telephone-event"] == [want],
                  f"{name}'s answer has {want} only ({rtpmaps})")

        # The demo page lists the two others, from AudioBridge-shaped events.
        carol.wait("$('#list li').length === 2", 15, "the demo page to list alice and bob")
        check(True, "the demo page lists the two other participants")

        for name, page in pages.items():
            others = set(FREQS) - {name}
            ok, seen, levels = hears(page, others, {name})
            check(ok, f"{name} hears {sorted(others)} and not itself "
                  f"(windows {seen}, last dB {({k: round(v) for k, v in levels.items()})})")
        # Our pages do not play the mix (see listen.js), so getStats has
        # packets but no playout energy there; the demo page plays it.
        for name in ("alice", "bob"):
            st = pages[name].eval("hl.stats(handle.webrtcStuff.pc)")
            check(st.get("packetsReceived", 0) > 50 and st.get("packetsSent", 0) > 50,
                  f"{name}'s getStats: {st}")
        st = carol.eval("hl.stats(mixertest.webrtcStuff.pc)")
        check(st.get("packetsReceived", 0) > 50 and st.get("totalAudioEnergy", 0) > 0,
              f"the demo page's getStats: {st}")

        if shot:
            carol.screenshot(shot)
            check(os.path.getsize(shot) > 10000, f"screenshot saved to {shot}")

        # Alice mutes herself through configure: bob and carol stop hearing her.
        pages["alice"].eval("handle.send({message: {request: 'configure', muted: true}}); true")
        carol.wait(f"$('#rp{ids['alice']} > i.abmuted').is(':visible')", 10,
                   "the demo page to show alice muted")
        check(True, "the demo page shows alice muted")
        time.sleep(0.5)
        ok, seen, _ = hears(pages["bob"], {"carol"}, {"alice", "bob"})
        check(ok, f"alice muted: bob hears only carol (windows {seen})")
        ok, seen, _ = hears(carol, {"bob"}, {"alice", "carol"})
        check(ok, f"alice muted: carol hears only bob (windows {seen})")

        # Kick bob through the API: his PeerConnection ends.
        admin = Handle(janus)
        r = admin.request({"request": "kick", "room": ROOM, "secret": "adminpwd", "id": ids["bob"]})
        check(r == {"audiobridge": "success"}, f"kick bob -> success ({r})")
        pages["bob"].wait("state.pcDown || state.cleanedUp", 15, "bob's PeerConnection to end")
        check(True, "kick ended bob's PeerConnection")
        carol.wait(f"$('#rp{ids['bob']}').length === 0", 10, "the demo page to drop bob")
        check(True, "the demo page dropped bob from its list")

        e = sink.wait(lambda e: e.get("event", {}).get("data", {}).get("name") == "participant-kick",
                      10, "huddle's participant-kick at the event handler")
        check(e["event"]["data"]["fields"]["FriendlyName"] == str(ROOM),
              "the event handler got huddle's participant-kick")
        admin.alive = False
    finally:
        for p in pages.values():
            p.close()
        status = janus.stop()
        web.shutdown()
        sink.close()
    finish("test_browser", janus, status)


if __name__ == "__main__":
    main()
