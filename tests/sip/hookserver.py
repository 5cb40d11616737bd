#!/usr/bin/env python3
"""A webhook receiver for the huddle-sip tests: an HTTP server on
127.0.0.1 (a free port, written to PORTFILE once listening) that answers
every request 200 and appends it to OUT as one JSON line:
{"method", "path", "fields"} (the form-encoded body or the query string).
Exits after LIFETIME seconds at most.

usage: hookserver.py PORTFILE OUT LIFETIME"""
import http.server
import json
import os
import sys
import threading
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fields = dict(urllib.parse.parse_qsl(body.decode() if body else url.query, keep_blank_values=True))
        with open(self.server.out, "a") as f:
            f.write(json.dumps({"method": self.command, "path": url.path, "fields": fields}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = handle_any

    def log_message(self, *args):
        pass


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.out = sys.argv[2]
    threading.Timer(float(sys.argv[3]), srv.shutdown).start()
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
