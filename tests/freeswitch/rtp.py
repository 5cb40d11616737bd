"""RTP as the FreeSWITCH tests need it: G.711 mu-law both ways, Opus both
ways (the system libopus through ctypes, the library huddle uses), a
libpcap writer for SIPp's play_pcap_audio (speech plus RFC 4733 digits), and
a reader that splits a tcpdump capture of lo into per-port RTP streams."""
import ctypes
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "janus"))

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
TE_PT = 101  # telephone-event payload type offered in the SDP
OPUS_PT = 96  # Opus payload type offered in the SDP of an Opus caller
OPUS_CLOCK = 48000  # Opus RTP timestamps (and telephone-event/48000) count at 48 kHz


class Opus:
    """One Opus encoder and decoder, mono at the tests' 8 kHz (libopus
    converts to and from what the packets carry). The library comes as the
    Janus tests' plain-RTP peer loads and declares it."""

    def __init__(self):
        from rtp_peer import _opus as lib  # tests/janus: libopus through ctypes, prototypes declared
        self.lib = lib
        err = ctypes.c_int()
        self.enc = lib.opus_encoder_create(RATE, 1, 2048, ctypes.byref(err))  # OPUS_APPLICATION_VOIP
        self.dec = lib.opus_decoder_create(RATE, 1, ctypes.byref(err))
        if not self.enc or not self.dec:
            raise SystemExit(f"libopus: encoder/decoder create failed ({err.value})")
        self.pcm = (ctypes.c_int16 * (FRAME * 6))()
        self.out = ctypes.create_string_buffer(1500)

    def encode(self, samples):
        n = self.lib.opus_encode(self.enc, (ctypes.c_int16 * FRAME)(*samples), FRAME, self.out, 1500)
        if n < 0:
            raise SystemExit(f"opus_encode failed ({n})")
        return self.out.raw[:n]

    def decode(self, payload):
        n = self.lib.opus_decode(self.dec, payload, len(payload), self.pcm, FRAME * 6, 0)
        return list(self.pcm[:n]) if n > 0 else []


def lin2ulaw(s):
    bias, clip = 0x84, 32635
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), clip) + bias
    exp, mask = 7, 0x4000
    while exp > 0 and not s & mask:
        exp -= 1
        mask >>= 1
    return ~(sign | (exp << 4) | ((s >> (exp + 3)) & 0x0F)) & 0xFF


def _ulaw2lin(u):
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


ULAW = [_ulaw2lin(u) for u in range(256)]


def _udp_frame(payload, sport=4000, dport=4000):
    """Ethernet/IPv4/UDP around one payload; SIPp rewrites the addresses."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    csum = sum(struct.unpack("!10H", ip))
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    ip = ip[:10] + struct.pack("!H", ~csum & 0xFFFF) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + udp


def write_pcap(path, timeline, codec="pcmu"):
    """timeline: list of ('audio', samples) and ('digits', text) pieces, in
    order. Audio goes out as 20 ms PCMU packets, or Opus ones (codec="opus",
    timestamps at 48 kHz like its telephone-event); each digit as RFC 4733
    events (100 ms tone, 3 end packets, 60 ms gap), as a phone sends them."""
    packets = []  # (time_us, rtp bytes)
    seq, ts, t_us = 1, 0, 0
    ssrc = 0x4855444C
    opus = Opus() if codec == "opus" else None
    step = OPUS_CLOCK // 50 if opus else FRAME  # timestamp units per 20 ms

    def rtp(pt, marker, payload, stamp):
        nonlocal seq
        packets.append((t_us, struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt,
                                          seq & 0xFFFF, stamp & 0xFFFFFFFF, ssrc) + payload))
        seq += 1

    for kind, value in timeline:
        if kind == "audio":
            for off in range(0, len(value) - FRAME + 1, FRAME):
                chunk = value[off:off + FRAME]
                if opus:
                    rtp(OPUS_PT, False, opus.encode(chunk), ts)
                else:
                    rtp(0, False, bytes(lin2ulaw(s) for s in chunk), ts)
                ts += step
                t_us += 20000
        else:
            for d in value:
                event = "0123456789*#".index(d)
                start = ts
                for i in range(1, 6):
                    rtp(TE_PT, i == 1, struct.pack("!BBH", event, 10, i * step), start)
                    t_us += 20000
                for _ in range(3):
                    rtp(TE_PT, False, struct.pack("!BBH", event, 0x80 | 10, 5 * step), start)
                ts += 6 * step
                t_us += 20000
                ts += 3 * step  # the gap: silence, nothing sent
                t_us += 60000
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, pkt in packets:
            frame = _udp_frame(pkt)
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(frame), len(frame)))
            f.write(frame)
    return t_us / 1e6


def read_rtp(path, ports, opus_ports=()):
    """Audio packets of a capture, decoded to 8 kHz, per port:
    {port: {'to': [(t, pcm)], 'from': [...]}} where 'to' is what FreeSWITCH
    sent to that port and 'from' what the caller on it sent: PCMU, or on
    `opus_ports` Opus (anything else there is counted in 'not_opus').
    Times are capture seconds."""
    out = {p: {"to": [], "from": [], "not_opus": 0} for p in ports}
    decoders = {(p, d): Opus() for p in opus_ports for d in ("to", "from")}
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack(end + "I", data[20:24])[0]
    l2 = {1: 14, 113: 16, 276: 20, 0: 4}.get(link)
    if l2 is None:
        raise SystemExit(f"capture {path}: link type {link} not understood")
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[pos:pos + 16])
        pkt = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ip = pkt[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        rtp = ip[ihl + 8:]
        if len(rtp) < 13 or rtp[0] >> 6 != 2:
            continue
        pt = rtp[1] & 0x7F
        body = rtp[12 + 4 * (rtp[0] & 15):]
        t = sec + frac / (1e9 if nano else 1e6)
        for port, way in ((dport, "to"), (sport, "from")):
            if port not in out or pt == TE_PT:
                continue
            if port in opus_ports:
                if pt != OPUS_PT:
                    out[port]["not_opus"] += 1
                    continue
                pcm = decoders[(port, way)].decode(body)
            elif pt == 0 and len(body) >= FRAME:
                pcm = [ULAW[b] for b in body[:FRAME]]
            else:
                continue
            if pcm:
                out[port][way].append((t, pcm))
    return out


def envelope(stream, t0, bins, width=0.02):
    """Mean |sample| per 20 ms bin of capture time from t0."""
    env = [0.0] * bins
    for t, pcm in stream:
        i = int((t - t0) / width)
        if 0 <= i < bins:
            env[i] = max(env[i], sum(abs(s) for s in pcm) / len(pcm))
    return env


def correlation(heard, said, max_lag):
    """Best Pearson correlation of `heard` with `said` delayed by 0..max_lag
    bins: how much of what one caller said another caller heard."""
    best = -1.0
    n = len(heard)
    for lag in range(max_lag + 1):
        a = heard[lag:]
        b = said[:n - lag]
        m = len(a)
        if m < 10:
            break
        ma, mb = sum(a) / m, sum(b) / m
        sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
        saa = sum((x - ma) ** 2 for x in a)
        sbb = sum((y - mb) ** 2 for y in b)
        if saa > 0 and sbb > 0:
            best = max(best, sab / (saa * sbb) ** 0.5)
    return best


def hearing(heard, said, max_lag, window=50):
    """How well `heard` follows `said`: the mean over `window`-bin stretches
    (1 s of 20 ms bins) of each stretch's best correlation at a delay of
    0..max_lag bins. A jitter buffer that re-buffers after a late packet
    moves the delay once in a while; each stretch finds its own."""
    rs = []
    for lo in range(0, len(heard) - window // 2, window):
        hi = min(len(heard), lo + window + max_lag)
        if max(said[lo:hi], default=0) > 0:
            rs.append(correlation(heard[lo:hi], said[lo:hi], max_lag))
    return sum(rs) / len(rs) if rs else -1.0
