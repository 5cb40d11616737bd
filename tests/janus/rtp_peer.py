"""A plain-RTP participant for tests: sends an Opus- or G.711-encoded
signal from a UDP socket on 127.0.0.1 and records what it receives,
decoded. Opus comes from the system libopus through ctypes (the same
library huddle uses); G.711 is this file's own, from the ITU-T tables'
definition, so the plugin's C companding is checked against an
independent one."""

import ctypes
import math
import operator
import socket
import struct
import threading
import time

_opus = ctypes.CDLL("libopus.so.0")
_opus.opus_encoder_create.restype = ctypes.c_void_p
_opus.opus_decoder_create.restype = ctypes.c_void_p
_opus.opus_encode.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int,
                              ctypes.c_char_p, ctypes.c_int32]
_opus.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                              ctypes.POINTER(ctypes.c_int16), ctypes.c_int, ctypes.c_int]
RATE = 48000
FRAME = 960  # 20 ms


def tone(freq, seconds, amplitude=8000):
    n = int(RATE * seconds)
    return [int(amplitude * math.sin(2 * math.pi * freq * i / RATE)) for i in range(n)]


def chirp(f0, f1, seconds, rate=RATE, amplitude=8000):
    """A linear sweep from f0 to f1 Hz: a signal with no period, so the
    lag at which it matches what a listener heard is unique."""
    n = int(rate * seconds)
    k = (f1 - f0) / seconds
    return [int(amplitude * math.sin(2 * math.pi * (f0 * t + k * t * t / 2)))
            for t in (i / rate for i in range(n))]


def ulaw_encode(x):
    """G.711 mu-law: 16-bit linear to one code (bias 0x84, 8 segments)."""
    sign = 0x80 if x < 0 else 0
    x = min(abs(x), 32635) + 0x84
    exp = max(x.bit_length() - 8, 0)
    mant = (x >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw_decode(u):
    u = ~u & 0xFF
    x = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)
    return 0x84 - x if u & 0x80 else x - 0x84


def alaw_encode(x):
    """G.711 A-law: 16-bit linear to one code (even bits inverted)."""
    sign = 0x80 if x >= 0 else 0
    x = min(abs(x) if x >= 0 else -x - 1, 32767) >> 3
    if x < 32:
        code = x >> 1
    else:
        exp = x.bit_length() - 5
        code = (exp << 4) | ((x >> exp) & 0x0F)
    return (sign | code) ^ 0x55


def alaw_decode(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a >> 4) & 7
    t = t + 8 if seg == 0 else (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


G711 = {"pcmu": (0, ulaw_encode, ulaw_decode), "pcma": (8, alaw_encode, alaw_decode)}


def to_8k(samples, rate):
    """Averages `rate`/8000 samples into one (a box filter, flat enough to
    3 kHz for the checks' signals)."""
    step = rate // 8000
    if step == 1:
        return list(samples)
    return [sum(samples[i:i + step]) / step for i in range(0, len(samples) - step + 1, step)]


def best_correlation(heard, reference, max_lag):
    """The normalised cross-correlation of `heard` with `reference` at the
    best lag in 0..max_lag, where reference[lag:] lines up with heard
    (reference starts max_lag samples earlier): 1.0 is the same waveform,
    near 0 is none of it."""
    n = len(heard)
    e_h = math.sqrt(sum(x * x for x in heard)) or 1.0
    best = 0.0
    squares = [x * x for x in reference]
    e_r = sum(squares[:n])
    for lag in range(0, min(max_lag, len(reference) - n) + 1):
        if lag:
            e_r += squares[lag + n - 1] - squares[lag - 1]
        dot = sum(map(operator.mul, heard, reference[lag:lag + n]))
        best = max(best, dot / (e_h * math.sqrt(max(e_r, 1.0))))
    return best


def opus_lbrr(payload):
    """Whether an Opus packet carries in-band FEC (LBRR) for its first
    frame: a SILK or hybrid mono packet (TOC config < 16) whose range-coded
    header, whose first two flags have probability 1/2 and so are the top
    bits of the first data byte (RFC 6716 4.2.3), has the LBRR flag set."""
    if len(payload) < 2 or payload[0] >> 3 >= 16 or payload[0] & 0x04 or payload[0] & 0x03:
        return False
    return bool(payload[1] & 0x40)


def goertzel_power(samples, freq, rate=RATE):
    """Mean power of `freq` in `samples` (the energy a listener hears of one talker)."""
    if not samples:
        return 0.0
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    return power / len(samples) ** 2


class Peer:
    def __init__(self, name, signal=None, audio_level=None, level_ext_id=1, codec="opus"):
        self.name = name
        self.codec = codec
        self.rate = RATE if codec == "opus" else 8000
        self.frame = self.rate // 50
        self.sent = []  # (time sent, pcm list)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.signal = signal or []
        self.audio_level = audio_level
        self.level_ext_id = level_ext_id
        err = ctypes.c_int()
        self.enc = _opus.opus_encoder_create(RATE, 1, 2048, ctypes.byref(err))
        self.dec = _opus.opus_decoder_create(RATE, 1, ctypes.byref(err))
        self.remote = None
        self.received = []  # (arrival, seq, ts, pt, marker, pcm list, payload)
        self.lock = threading.Lock()
        self.sending = False
        self.sender = None  # the thread of the current send, if any
        self.running = True
        self.seq = 1000
        self.ts = 5000
        self.ssrc = 0x1000 + self.port
        self.rx = threading.Thread(target=self._receive, daemon=True)
        self.rx.start()

    def _receive(self):
        pcm = (ctypes.c_int16 * 5760)()
        while self.running:
            try:
                data = self.sock.recv(2000)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            pt = data[1] & 0x7F
            marker = bool(data[1] & 0x80)
            seq, ts = struct.unpack("!HI", data[2:8])
            payload = data[12 + 4 * (data[0] & 0x0F):]
            if self.codec == "opus":
                n = _opus.opus_decode(self.dec, payload, len(payload), pcm, 5760, 0)
                samples = list(pcm[:max(n, 0)])
            else:
                samples = [G711[self.codec][2](b) for b in payload]
            with self.lock:
                self.received.append((time.monotonic(), seq, ts, pt, marker, samples, payload))

    def packet(self, payload, pt=100, marker=False, ext=None):
        first = 0x90 if ext else 0x80
        hdr = struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, self.seq & 0xFFFF,
                          self.ts & 0xFFFFFFFF, self.ssrc)
        return hdr + (ext or b"") + payload

    def _level_ext(self):
        if self.audio_level is None:
            return None
        # RFC 8285 one-byte header: id, length 0 (= 1 byte), V=1 and the level.
        return struct.pack("!HHBBBB", 0xBEDE, 1, (self.level_ext_id << 4), 0x80 | self.audio_level,
                           0, 0)

    def start_sending(self, seconds):
        """Sends the signal for `seconds`, from where the last send left
        off. A send still running is stopped first: two senders would
        interleave sequence numbers, and the older one, ending, would stop
        the newer one."""
        if self.sender is not None:
            self.sending = False
            self.sender.join()
        self.sending = True
        self.sender = threading.Thread(target=self._send, args=(seconds,), daemon=True)
        self.sender.start()

    def _encode(self, chunk, out):
        if self.codec != "opus":
            return bytes(G711[self.codec][1](x) for x in chunk)
        arr = (ctypes.c_int16 * FRAME)(*chunk)
        n = _opus.opus_encode(self.enc, arr, FRAME, out, 4000)
        return out.raw[:n] if n > 0 else b""

    def _send(self, seconds):
        out = ctypes.create_string_buffer(4000)
        frames = int(seconds * 50)
        start = time.monotonic()
        frame = self.frame
        pt = 100 if self.codec == "opus" else G711[self.codec][0]
        for i in range(frames):
            if not self.sending or not self.running:
                break
            at = (i * frame) % max(len(self.signal) - frame, 1)
            chunk = self.signal[at:at + frame] or [0] * frame
            payload = self._encode(chunk, out)
            if self.remote and payload:
                self.sock.sendto(self.packet(payload, pt=pt, ext=self._level_ext()), self.remote)
                with self.lock:
                    self.sent.append((time.monotonic(), chunk))
            self.seq += 1
            self.ts += frame
            # Absolute deadlines: no drift over the run.
            delay = start + (i + 1) * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.sending = False

    def send_dtmf(self, event, pt=101):
        """One RFC 4733 key press: three updates and three end packets."""
        ts = self.ts
        for i, end in enumerate([False, False, False, True, True, True]):
            dur = 160 * (min(i, 3) + 1)
            payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, dur)
            hdr = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | pt, self.seq & 0xFFFF,
                              ts, self.ssrc)
            self.sock.sendto(hdr + payload, self.remote)
            self.seq += 1
            time.sleep(0.02)

    def heard(self, since, until=None):
        """PCM received in [since, until), concatenated."""
        with self.lock:
            frames = [r[5] for r in self.received if r[0] >= since and (until is None or r[0] < until)]
        return [x for f in frames for x in f]

    def sent_since(self, since):
        """What this peer sent from `since` on, concatenated."""
        with self.lock:
            return [x for t, f in self.sent if t >= since for x in f]

    def packets(self):
        with self.lock:
            return list(self.received)

    def close(self):
        self.running = False
        self.sending = False
        self.rx.join(timeout=1)
        self.sock.close()
