"""A plain-RTP participant for tests: sends an Opus-encoded signal from a
UDP socket on 127.0.0.1 and records what it receives, decoded. Opus comes
from the system libopus through ctypes (the same library huddle uses)."""

import ctypes
import math
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


def goertzel_power(samples, freq):
    """Mean power of `freq` in `samples` (the energy a listener hears of one talker)."""
    if not samples:
        return 0.0
    k = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    return power / len(samples) ** 2


class Peer:
    def __init__(self, name, signal=None, audio_level=None, level_ext_id=1):
        self.name = name
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
        self.received = []  # (arrival, seq, ts, pt, marker, pcm list)
        self.lock = threading.Lock()
        self.sending = False
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
            n = _opus.opus_decode(self.dec, payload, len(payload), pcm, 5760, 0)
            with self.lock:
                self.received.append((time.monotonic(), seq, ts, pt, marker,
                                      list(pcm[:max(n, 0)])))

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
        self.sending = True
        threading.Thread(target=self._send, args=(seconds,), daemon=True).start()

    def _send(self, seconds):
        out = ctypes.create_string_buffer(4000)
        frames = int(seconds * 50)
        start = time.monotonic()
        for i in range(frames):
            if not self.sending or not self.running:
                break
            at = (i * FRAME) % max(len(self.signal) - FRAME, 1)
            chunk = self.signal[at:at + FRAME] or [0] * FRAME
            arr = (ctypes.c_int16 * FRAME)(*chunk)
            n = _opus.opus_encode(self.enc, arr, FRAME, out, 4000)
            if self.remote and n > 0:
                self.sock.sendto(self.packet(out.raw[:n], ext=self._level_ext()), self.remote)
            self.seq += 1
            self.ts += FRAME
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

    def packets(self):
        with self.lock:
            return list(self.received)

    def close(self):
        self.running = False
        self.sending = False
        self.rx.join(timeout=1)
        self.sock.close()
