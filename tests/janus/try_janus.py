"""Try janus.plugin.huddle by hand: Debian's Janus with the plugin (room 1234)
on 127.0.0.1:8088 and Janus's own AudioBridge demo page, switched to
janus.plugin.huddle, on http://127.0.0.1:8000/demos/audiobridgetest.html.
Open it in two browser tabs and talk. Ctrl-C stops everything.

usage: try_janus.py <libjanus_huddle.so> <libhuddle.so> <workdir> [janus-port] [web-port]"""

import signal
import sys

from janus_server import Janus
from web_server import serve


def main():
    plugin_so, huddle_lib, workdir = sys.argv[1:4]
    janus_port = int(sys.argv[4]) if len(sys.argv) > 4 else 8088
    web_port = int(sys.argv[5]) if len(sys.argv) > 5 else 8000
    rooms = 'room-1234: {\n  description = "Demo Room"\n  secret = "adminpwd"\n}\n'
    janus = Janus(workdir, plugin_so, huddle_lib, None, rooms=rooms, port=janus_port)
    web = serve(janus.base, web_port)
    site = f"http://127.0.0.1:{web.server_address[1]}"
    print(f"""
Janus with janus.plugin.huddle: {janus.base} (log: {janus.log_path})
Open in two browser tabs and press Start, then pick a name:
  {site}/demos/audiobridgetest.html   Janus's AudioBridge demo, plugin name changed
  {site}/room.html?server={janus.base}&room=1234&name=me   a minimal janus.js page
Ctrl-C to stop.""", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        web.shutdown()
        print(f"Janus stopped (exit {janus.stop()})")


if __name__ == "__main__":
    main()
