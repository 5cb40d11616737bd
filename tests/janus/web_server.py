"""The web side of trying janus.plugin.huddle: our minimal page
(web/room.html), janus.js and adapter.js from Debian's packages, and
Janus's own demo directory (janus-demos) with settings.js pointing at the
Janus we started and audiobridgetest.js asking for janus.plugin.huddle
instead of janus.plugin.audiobridge (the one change an AudioBridge
application needs)."""

import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
DEMOS = "/usr/share/janus/demos"
JS = "/usr/share/javascript"


def serve(janus_url, port=0):
    """Static files: our page, janus.js and adapter from Debian's packages,
    and Janus's demo directory with settings.js pointing at the test's Janus
    and audiobridgetest.js asking for janus.plugin.huddle."""

    class Handler(SimpleHTTPRequestHandler):
        def translate_path(self, path):
            path = path.split("?", 1)[0]
            fixed = {
                "/janus.js": f"{JS}/janus-gateway/janus.js",
                "/adapter.js": f"{JS}/webrtc-adapter/adapter.js",
                "/listen.js": f"{HERE}/web/listen.js",
                "/room.html": f"{HERE}/web/room.html",
            }
            if path in fixed:
                return fixed[path]
            if path.startswith("/demos/javascript/"):
                return JS + path[len("/demos/javascript"):]
            if path.startswith("/demos/"):
                return DEMOS + path[len("/demos"):]
            return "/nonexistent"

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/demos/settings.js":
                # The packaged settings, then what a deployment sets: where
                # Janus is, and the token/apisecret that upstream's
                # settings.js declares and Debian's 1.1.2 copy lacks (the
                # demos read them).
                with open(f"{DEMOS}/settings.js") as f:
                    return self.text(f.read() + f'\nserver = "{janus_url}";\n'
                                     "var token = null;\nvar apisecret = null;\n")
            if path == "/demos/audiobridgetest.js":
                with open(f"{DEMOS}/audiobridgetest.js") as f:
                    src = f.read()
                assert src.count('"janus.plugin.audiobridge"') == 1
                return self.text(src.replace('"janus.plugin.audiobridge"', '"janus.plugin.huddle"'))
            return super().do_GET()

        def text(self, body):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/javascript")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
