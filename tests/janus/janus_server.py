"""Start Debian's Janus with janus.plugin.huddle on 127.0.0.1 ports the test
picks, and talk to it over its HTTP API (the transport janus.js uses too).

Janus gets a private config dir with only the HTTP transport, the huddle
plugin (and, for comparison runs, nothing else) and optionally the sample
event handler pointing at a test HTTP server."""

import http.client
import json
import os
import shutil
import queue
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JANUS_LIB = "/usr/lib/x86_64-linux-gnu/janus"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADMIN_SECRET = "huddle-test-admin"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deadline_loop(seconds, what):
    """Yields until `seconds` pass, then raises naming `what`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        yield
    raise TimeoutError(f"timed out after {seconds}s waiting for {what}")


HUDDLE_ROOM = 4500


def write_huddle_conf(workdir):
    """huddle's config for the test: 48 kHz rooms, no music, no prompts."""
    path = os.path.join(workdir, "huddle.conf")
    os.makedirs(os.path.join(workdir, "recordings"), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"""[module]
timer = "realtime"
mixer_threads = 1
log_level = "info"
sounds_dir = "{ROOT}/conf/sounds"
recordings_dir = "{workdir}/recordings"

[profiles.default]
rate = 48000
interval_ms = 20

[profiles.default.sounds]
moh = ""
kicked = ""

# A room of huddle's own config, with huddle's PIN and host PIN.
[[rooms]]
name = "{HUDDLE_ROOM}"
pin = "1111"
host_pin = "2222"
""")
    return path


class EventSink:
    """The HTTP server Janus's sample event handler posts to."""

    def __init__(self):
        self.events = queue.Queue()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = []
                for e in data if isinstance(data, list) else [data]:
                    sink.events.put(e)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.seen = []

    def wait(self, pred, seconds, what):
        for _ in deadline_loop(seconds, what):
            for e in self.seen:
                if pred(e):
                    return e
            try:
                self.seen.append(self.events.get(timeout=0.2))
            except queue.Empty:
                pass

    def close(self):
        self.server.shutdown()


class Janus:
    def __init__(self, workdir, plugin_so, huddle_lib, huddle_conf, rooms="", events_url=None,
                 plugin_name="janus.plugin.huddle", extra_plugins=(), port=None):
        self.workdir = workdir
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        self.port = port or free_port()
        self.admin_port = free_port()
        conf = os.path.join(workdir, "conf")
        plugins = os.path.join(workdir, "plugins")
        transports = os.path.join(workdir, "transports")
        events = os.path.join(workdir, "events")
        for d in (conf, plugins, transports, events):
            os.makedirs(d, exist_ok=True)
        os.symlink(plugin_so, os.path.join(plugins, "libjanus_huddle.so"))
        for so in extra_plugins:
            os.symlink(so, os.path.join(plugins, os.path.basename(so)))
        os.symlink(f"{JANUS_LIB}/transports/libjanus_http.so",
                   os.path.join(transports, "libjanus_http.so"))
        if events_url:
            os.symlink(f"{JANUS_LIB}/events/libjanus_sampleevh.so",
                       os.path.join(events, "libjanus_sampleevh.so"))
        rtp_lo = 20000 + (self.port % 2000) * 10
        with open(os.path.join(conf, "janus.jcfg"), "w") as f:
            f.write(f"""general: {{
    configs_folder = "{conf}"
    plugins_folder = "{plugins}"
    transports_folder = "{transports}"
    events_folder = "{events}"
    loggers_folder = "{workdir}/loggers"
    debug_level = 4
    admin_secret = "{ADMIN_SECRET}"
    protected_folders = []
}}
media: {{
    rtp_port_range = "{rtp_lo}-{rtp_lo + 999}"
}}
nat: {{
    ignore_mdns = true
}}
events: {{
    broadcast = {"true" if events_url else "false"}
}}
""")
        with open(os.path.join(conf, "janus.transport.http.jcfg"), "w") as f:
            f.write(f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {self.port}
    ip = "127.0.0.1"
}}
admin: {{
    admin_base_path = "/admin"
    admin_http = true
    admin_port = {self.admin_port}
    admin_ip = "127.0.0.1"
}}
cors: {{
}}
""")
        if events_url:
            with open(os.path.join(conf, "janus.eventhandler.sampleevh.jcfg"), "w") as f:
                f.write(f"""general: {{
    enabled = true
    events = "plugins"
    grouping = false
    json = "compact"
    backend = "{events_url}"
}}
""")
        if huddle_conf is None:
            huddle_conf = write_huddle_conf(workdir)
        with open(os.path.join(conf, f"{plugin_name}.jcfg"), "w") as f:
            f.write(f"""general: {{
    library = "{huddle_lib}"
    config = "{huddle_conf}"
    local_ip = "127.0.0.1"
    events = true
}}
{rooms}
""")
        self.log_path = os.path.join(workdir, "janus.log")
        self.log = open(self.log_path, "w")
        run_env = dict(os.environ)
        # An ASan build of the plugin needs the runtime preloaded into Janus
        # (and only into Janus, not into this Python).
        if os.environ.get("JANUS_LD_PRELOAD"):
            run_env["LD_PRELOAD"] = os.environ["JANUS_LD_PRELOAD"]
        self.proc = subprocess.Popen(["janus", "-F", conf, "-C", os.path.join(conf, "janus.jcfg")],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=run_env)
        self.base = f"http://127.0.0.1:{self.port}/janus"
        for _ in deadline_loop(30, "Janus to answer on its HTTP port"):
            if self.proc.poll() is not None:
                raise RuntimeError(f"Janus exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.get(self.base + "/info").get("janus") == "server_info":
                    break
            except OSError:
                time.sleep(0.1)

    def get(self, url, timeout=5):
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read())

    def post(self, url, body, timeout=10):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def admin(self, body):
        body = dict(body, transaction="t", admin_secret=ADMIN_SECRET)
        return self.post(f"http://127.0.0.1:{self.admin_port}/admin", body)

    def stop(self, seconds=20):
        """SIGTERM, as an operator stops Janus; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"Janus did not stop within {seconds}s; see {self.log_path}")
        self.log.close()
        return self.proc.returncode


class Handle:
    """One Janus session with one handle attached to the plugin, and a
    thread long-polling its events."""

    def __init__(self, janus, plugin="janus.plugin.huddle"):
        self.janus = janus
        r = janus.post(janus.base, {"janus": "create", "transaction": "c"})
        self.session = r["data"]["id"]
        self.url = f"{janus.base}/{self.session}"
        r = janus.post(self.url, {"janus": "attach", "plugin": plugin, "transaction": "a"})
        if r.get("janus") != "success":
            raise RuntimeError(f"attach failed: {r}")
        self.handle = r["data"]["id"]
        self.hurl = f"{self.url}/{self.handle}"
        self.events = queue.Queue()
        self.seen = []
        self.alive = True
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self):
        while self.alive:
            try:
                r = self.janus.get(f"{self.url}?maxev=5", timeout=35)
            except (OSError, http.client.HTTPException, ValueError):
                if self.alive:
                    time.sleep(0.2)
                continue
            for e in r if isinstance(r, list) else [r]:
                if e.get("janus") != "keepalive":
                    self.events.put(e)

    def request(self, body, jsep=None):
        """A synchronous request: returns plugindata.data (or the Janus error)."""
        msg = {"janus": "message", "body": body, "transaction": "m"}
        if jsep:
            msg["jsep"] = jsep
        r = self.janus.post(self.hurl, msg)
        if "plugindata" in r:
            return r["plugindata"]["data"]
        return r

    def send(self, body, jsep=None):
        r = self.request(body, jsep)
        assert r.get("janus") == "ack", f"expected an ack for {body}, got {r}"

    def wait(self, pred, seconds=10, what="an event"):
        for _ in deadline_loop(seconds, what):
            for e in self.seen:
                if pred(e):
                    self.seen.remove(e)
                    return e
            try:
                self.seen.append(self.events.get(timeout=0.2))
            except queue.Empty:
                pass

    def wait_data(self, pred, seconds=10, what="a plugin event"):
        e = self.wait(lambda e: "plugindata" in e and pred(e["plugindata"]["data"]), seconds, what)
        return e["plugindata"]["data"]

    def close(self):
        self.alive = False
        try:
            self.janus.post(self.url, {"janus": "destroy", "transaction": "d"})
        except OSError:
            pass
