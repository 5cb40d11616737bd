"""Running a throwaway FreeSWITCH on 127.0.0.1 for mod_huddle's test and
benchmark: free ports, a minimal generated config, the process (stopped by
its PID), an event-socket client and SIPp callers."""
import os
import random
import socket
import subprocess
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ESL_PASSWORD = "huddle-test"


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def media_ports(n):
    """n SIPp media ports, 4 apart: SIPp binds each one and the 3 after it
    (RTCP, video RTP and RTCP). The whole block was free when checked."""
    for _ in range(200):
        base = free_port() & ~3
        held = []
        try:
            for p in range(base, base + 4 * n):
                t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(t)
                t.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for t in held:
                t.close()
        return [base + 4 * i for i in range(n)]
    raise SystemExit("no free block of UDP ports on 127.0.0.1")


# huddle's prompt and music files: none in these tests (enter/exit beeps
# are generated tones), so a test needs no sound files.
SOUNDS = ("moh enter exit pin bad_pin locked muted unmuted deaf undeaf alone kicked wait_for_host "
          "room_full ended denied recording_started recording_stopped").split()
HUDDLE_TOML = """[module]
timer = "realtime"
mixer_threads = {mixers}
sounds_dir = "{run}"
recordings_dir = "{run}/recordings"

[profiles.default]
rate = 8000
interval_ms = 20
{profile}
[profiles.default.sounds]
{sounds}
{rooms}"""


def huddle_toml(run, mixers=0, profile="", rooms=""):
    """huddle's config for a test FreeSWITCH: realtime, 8 kHz like PCMU."""
    path = os.path.join(run, "huddle.toml")
    with open(path, "w") as f:
        f.write(HUDDLE_TOML.format(run=run, mixers=mixers, profile=profile, rooms=rooms,
                                   sounds="\n".join(f'{s} = ""' for s in SOUNDS)))
    return path


def speech(run, name, voice, text, seconds, loop=False):
    """An espeak-ng sentence as 8 kHz samples, 3 dB below full scale, cut
    to `seconds` (and repeated up to them with `loop`)."""
    wav, raw = os.path.join(run, f"{name}.wav"), os.path.join(run, f"{name}.raw")
    subprocess.run(["espeak-ng", "-v", voice, "-w", wav, text], check=True)
    subprocess.run(["sox", wav, "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", raw,
                    "gain", "-n", "-3"], check=True)
    data = open(raw, "rb").read()
    pcm = [int.from_bytes(data[i:i + 2], "little", signed=True) for i in range(0, len(data) - 1, 2)]
    n = int(seconds * 8000)
    return (pcm * (n // len(pcm) + 1))[:n] if loop else pcm[:n]


def wait_until(what, cond, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


CONF = {
    "freeswitch.xml": """<?xml version="1.0"?>
<document type="freeswitch/xml">
  <section name="configuration">
    <X-PRE-PROCESS cmd="include" data="autoload_configs/*.xml"/>
  </section>
  <section name="dialplan">
    <X-PRE-PROCESS cmd="include" data="dialplan/*.xml"/>
  </section>
  <section name="directory"><domain name="127.0.0.1"/></section>
</document>
""",
    "autoload_configs/modules.conf.xml": """<configuration name="modules.conf">
  <modules>
{modules}
  </modules>
</configuration>
""",
    "autoload_configs/switch.conf.xml": """<configuration name="switch.conf">
  <settings>
    <param name="loglevel" value="info"/>
    <param name="max-sessions" value="1000"/>
    <param name="sessions-per-second" value="1000"/>
    <param name="rtp-start-port" value="{rtp_lo}"/>
    <param name="rtp-end-port" value="{rtp_hi}"/>
    <param name="dump-cores" value="no"/>
  </settings>
</configuration>
""",
    "autoload_configs/logfile.conf.xml": """<configuration name="logfile.conf">
  <profiles><profile name="default"><settings>
    <param name="logfile" value="{run}/freeswitch.log"/>
  </settings><mappings><map name="all" value="console,debug,info,notice,warning,err,crit,alert"/></mappings>
  </profile></profiles>
</configuration>
""",
    "autoload_configs/event_socket.conf.xml": """<configuration name="event_socket.conf">
  <settings>
    <param name="listen-ip" value="127.0.0.1"/>
    <param name="listen-port" value="{esl}"/>
    <param name="password" value="{password}"/>
  </settings>
</configuration>
""",
    "autoload_configs/sofia.conf.xml": """<configuration name="sofia.conf">
  <profiles>
    <profile name="test">
      <settings>
        <param name="sip-ip" value="127.0.0.1"/>
        <param name="rtp-ip" value="127.0.0.1"/>
        <param name="ext-sip-ip" value="127.0.0.1"/>
        <param name="ext-rtp-ip" value="127.0.0.1"/>
        <param name="sip-port" value="{sip}"/>
        <param name="context" value="test"/>
        <param name="dialplan" value="XML"/>
        <param name="auth-calls" value="false"/>
        <param name="disable-register" value="true"/>
        <param name="manage-presence" value="false"/>
        <param name="inbound-codec-prefs" value="OPUS,PCMU"/>
        <param name="outbound-codec-prefs" value="PCMU"/>
        <param name="dtmf-type" value="rfc2833"/>
        <param name="rtp-timer-name" value="soft"/>
        <param name="rtp-timeout-sec" value="300"/>
      </settings>
    </profile>
  </profiles>
</configuration>
""",
    "autoload_configs/huddle.conf.xml": """<configuration name="huddle.conf">
  <settings>
    <param name="library" value="{library}"/>
    <param name="config" value="{huddle_toml}"/>
    <param name="dial-template" value="loopback/${{destination}}/test"/>
  </settings>
</configuration>
""",
    # mod_opus's defaults; without the file it logs an error at load.
    "autoload_configs/opus.conf.xml": """<configuration name="opus.conf"><settings/></configuration>
""",
    "autoload_configs/conference.conf.xml": """<configuration name="conference.conf">
  <profiles><profile name="default">
    <param name="rate" value="8000"/>
    <param name="interval" value="20"/>
    <param name="energy-level" value="100"/>
    <param name="comfort-noise" value="true"/>
    <param name="caller-controls" value="none"/>
  </profile></profiles>
  <caller-controls><group name="none"/></caller-controls>
</configuration>
""",
    "dialplan/test.xml": """<include>
  <context name="test">
    <extension name="huddle-room">
      <condition field="destination_number" expression="^(3\\d\\d\\d)$">
        <action application="huddle" data="$1"/>
      </condition>
    </extension>
    <extension name="bad-app-data">
      <condition field="destination_number" expression="^bad$">
        <action application="huddle" data="3000+flags{{bogus}}"/>
      </condition>
    </extension>
    <extension name="conference-room">
      <condition field="destination_number" expression="^conf(\\d+)$">
        <action application="answer"/>
        <action application="conference" data="$1@default"/>
      </condition>
    </extension>
    <extension name="tone">
      <condition field="destination_number" expression="^tone$">
        <action application="answer"/>
        <action application="playback" data="tone_stream://%(2000,0,440);loops=-1"/>
      </condition>
    </extension>
  </context>
</include>
""",
}

MODULES = ["mod_logfile", "mod_event_socket", "mod_commands", "mod_dptools", "mod_dialplan_xml",
           "mod_sofia", "mod_loopback", "mod_tone_stream", "mod_opus"]


class FreeSwitch:
    """One FreeSWITCH under `run`, with a private module dir: FreeSWITCH's
    own modules linked in, plus the mod_huddle.so under test."""

    def __init__(self, prefix, run, mod_huddle, library, huddle_toml, extra_modules=(), load_huddle=True,
                 priority="-np"):
        self.prefix, self.run = prefix, run
        self.sip = free_port()
        self.esl = free_port(socket.SOCK_STREAM)
        # Below the kernel's ephemeral range, where free_port's picks (SIPp's
        # ports) and every other process's outgoing sockets land.
        base = random.randrange(10000, 28000, 2)
        vals = dict(run=run, sip=self.sip, esl=self.esl, password=ESL_PASSWORD, rtp_lo=base,
                    rtp_hi=base + 1600, library=library, huddle_toml=huddle_toml)
        mods = MODULES + list(extra_modules) + (["mod_huddle"] if load_huddle else [])
        vals["modules"] = "\n".join(f'    <load module="{m}"/>' for m in mods)
        for d in ("conf/autoload_configs", "conf/dialplan", "mod", "log", "db", "run", "tmp"):
            os.makedirs(os.path.join(run, d), exist_ok=True)
        for name, text in CONF.items():
            with open(os.path.join(run, "conf", name), "w") as f:
                f.write(text.format(**vals) if "{" in text else text)
        moddir = os.path.join(prefix, "lib", "freeswitch", "mod")
        for so in os.listdir(moddir):
            if so.endswith(".so"):
                os.symlink(os.path.join(moddir, so), os.path.join(run, "mod", so))
        os.symlink(os.path.abspath(mod_huddle), os.path.join(run, "mod", "mod_huddle.so"))
        self.out = open(os.path.join(run, "stdout.log"), "w")
        r = lambda d: os.path.join(run, d)
        self.proc = subprocess.Popen(
            [os.path.join(prefix, "bin", "freeswitch"), "-nc", "-nf", priority, "-nonat", "-conf", r("conf"),
             "-log", r("log"), "-db", r("db"), "-run", r("run"), "-temp", r("tmp"), "-mod", r("mod")],
            stdout=self.out, stderr=subprocess.STDOUT)
        try:
            self.api_conn = wait_until("the event socket", self._try_connect, 40)
            wait_until("sofia profile 'test'", lambda: "RUNNING" in self.api("sofia status"), 20)
        except BaseException:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def _try_connect(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"FreeSWITCH exited with {self.proc.returncode}; see {self.run}/stdout.log")
        try:
            return Esl(self.esl)
        except OSError:
            return None

    def api(self, cmd):
        return self.api_conn.api(cmd)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None and hasattr(self, "api_conn"):
            try:
                self.api_conn.send("api fsctl shutdown")
            except OSError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.out.close()


class Esl:
    """A minimal event-socket client: `api` commands, and events collected
    by a reader thread when `events` is given."""

    def __init__(self, port, events=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.lock = threading.Lock()
        self.events = []
        self._read()  # auth/request
        self.send(f"auth {ESL_PASSWORD}")
        reply = self._read()
        if "+OK" not in reply[0].get("Reply-Text", ""):
            raise OSError("event socket refused the password")
        if events:
            self.send("event plain " + events)
            self._read()
            self.sock.settimeout(None)
            threading.Thread(target=self._collect, daemon=True).start()

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n\n")

    def _line_block(self):
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("event socket closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\n\n", 1)
        return dict(l.split(": ", 1) for l in head.decode().split("\n") if ": " in l)

    def _read(self):
        head = self._line_block()
        n = int(head.get("Content-Length", 0))
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("event socket closed")
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return head, body.decode(errors="replace")

    def api(self, cmd):
        self.send("api " + cmd)
        head, body = self._read()
        return body

    def _collect(self):
        try:
            while True:
                head, body = self._read()
                if head.get("Content-Type") != "text/event-plain":
                    continue
                ev = {}
                for line in body.split("\n"):
                    if ": " in line:
                        k, v = line.split(": ", 1)
                        ev[k] = urllib.parse.unquote(v)
                with self.lock:
                    self.events.append(ev)
        except OSError:
            pass

    def find(self, pred):
        with self.lock:
            return [e for e in self.events if pred(e)]


SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="huddle caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{name}" <sip:{name}@[local_ip]:[local_port]>;tag=[pid]t[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:{name}@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=huddle 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
{media}a=ptime:20
a=sendrecv
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{name}" <sip:{name}@[local_ip]:[local_port]>;tag=[pid]t[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:{name}@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0
]]></send>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
</scenario>
"""


# The SDP media of a caller: PCMU, or Opus (with telephone-event at Opus's
# 48 kHz clock, as rtp.write_pcap times its digits).
MEDIA = {
    "pcmu": """m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
""",
    "opus": """m=audio [media_port] RTP/AVP 96 101
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=0; stereo=0
a=rtpmap:101 telephone-event/48000
a=fmtp:101 0-16
""",
}


def sipp(fs, run, name, pcap, media_port, service, calls=1, rate=None, timeout=120, nice=0, codec="pcmu"):
    """SIPp callers from `name` dialling `service`, playing `pcap`, who wait
    for FreeSWITCH to hang up (BYE) and exit 0 when every call got one.
    A negative `nice` (root only) keeps their RTP on time on a busy machine."""
    path = os.path.join(run, f"{name}.xml")
    with open(path, "w") as f:
        f.write(SCENARIO.format(name=name, pcap=pcap, media=MEDIA[codec]))
    cmd = (["nice", "-n", str(nice)] if nice else []) + ["sipp", f"127.0.0.1:{fs.sip}", "-s", service, "-i", "127.0.0.1", "-mi", "127.0.0.1",
           "-p", str(free_port()), "-mp", str(media_port), "-sf", path, "-m", str(calls), "-l", str(calls),
           "-nostdin", "-trace_err", "-timeout", f"{timeout}s", "-max_socket", "2000",
           "-error_file", os.path.join(run, f"{name}.err")]
    if rate:
        cmd += ["-r", str(rate)]
    log = open(os.path.join(run, f"{name}.out"), "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=run)
