#!/usr/bin/env python3
"""RTP helpers for the huddle-sip tests (standard library only).

  rtpkit.py pcap OUT.pcap SEGMENT...
      Writes a libpcap file of RTP for SIPp's play_pcap_audio: PCMU (PT 0)
      at 20 ms, and RFC 4733 telephone-events (PT 101). Segments, in order:
        silence:SECONDS    digital silence
        speech:FILE.raw    signed 16-bit 8 kHz mono (from sox)
        dtmf:DIGITS        each digit 100 ms of events + 3 end packets,
                           then 200 ms of silence
  rtpkit.py heard CAPTURE.pcap PORT OUT.raw
      What a UDP port received (tcpdump -i lo -w): the PCMU packets sent to
      PORT, placed by RTP timestamp, decoded to signed 16-bit 8 kHz; prints
      the capture time of the first packet (sample 0 of OUT). OUT.times
      gets one line per packet: its first sample's place in OUT and its
      capture time (see sent_at).
  rtpkit.py gaps CAPTURE.pcap PORT
      How many packets reached PORT and the longest gap between two, in ms.
  rtpkit.py match HEARD.raw CLIP.raw
      Prints how alike CLIP sounds inside HEARD (0..1: the median
      normalised cross-correlation of its half-second windows) and where
      it starts, in seconds: by its energy envelope (10 ms steps) and by
      the median of the windows' sample-exact positions.

  rtpkit.py once HEARD.raw CLIP.raw
      match's score and sample-exact start, then the gain at which CLIP
      sits in HEARD and the energy left around it once it is taken out
      (over the clip's energy): an echo leaves a residual, one copy at
      full level prints about "1.0 0.0".

The mu-law code here is written from G.711 on its own so that it checks
huddle-sip's C codec instead of repeating it.
"""
import math
import struct
import sys

PT_PCMU, PT_EVENT = 0, 101
FRAME = 160  # 20 ms at 8 kHz


def ulaw_encode(x):
    sign = 0x80 if x < 0 else 0
    m = min(abs(x), 32635) + 0x84
    seg = m.bit_length() - 8  # 0x84..0x7fff -> segments 0..7
    return ~(sign | (seg << 4) | ((m >> (seg + 3)) & 0x0F)) & 0xFF


def ulaw_decode(c):
    c = ~c & 0xFF
    seg, mant = (c >> 4) & 7, c & 0x0F
    v = (((mant << 3) + 0x84) << seg) - 0x84
    return -v if c & 0x80 else v


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame_packet(rtp, n):
    """Ethernet/IPv4/UDP around one RTP packet (SIPp rewrites addresses)."""
    lo = bytes([127, 0, 0, 1])
    udp_len = 8 + len(rtp)
    udp = struct.pack("!HHHH", 4000, 4000, udp_len, 0) + rtp
    csum = checksum(lo + lo + struct.pack("!BBH", 0, 17, udp_len) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, n & 0xFFFF, 0, 64, 17, 0, lo, lo)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + udp


def make_pcap(out, segments):
    packets = []  # (time_us, rtp bytes)
    seq, ts, t_us = 1, 0, 0
    ssrc = 0x48554444
    marker = True

    def audio(payload):
        nonlocal seq, ts, t_us, marker
        hdr = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | PT_PCMU, seq & 0xFFFF, ts, ssrc)
        packets.append((t_us, hdr + payload))
        marker = False
        seq += 1
        ts += FRAME
        t_us += 20000

    def silence(seconds):
        for _ in range(int(round(seconds * 50))):
            audio(bytes([0xFF]) * FRAME)

    for seg in segments:
        kind, _, arg = seg.partition(":")
        if kind == "silence":
            silence(float(arg))
        elif kind == "speech":
            raw = open(arg, "rb").read()
            pcm = struct.unpack("<%dh" % (len(raw) // 2), raw[: len(raw) // 2 * 2])
            pcm = list(pcm) + [0] * (-len(pcm) % FRAME)
            for off in range(0, len(pcm), FRAME):
                audio(bytes(ulaw_encode(s) for s in pcm[off : off + FRAME]))
        elif kind == "dtmf":
            for d in arg:
                code = "0123456789*#".index(d) if d in "0123456789*#" else None
                if code is None:
                    sys.exit("rtpkit: bad DTMF digit %r" % d)
                start_ts = ts
                for i in range(8):  # 5 progress packets, 3 end packets
                    end = i >= 5
                    dur = min(i + 1, 5) * FRAME
                    payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, dur)
                    hdr = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | PT_EVENT, seq & 0xFFFF, start_ts, ssrc)
                    packets.append((t_us, hdr + payload))
                    seq += 1
                    if i < 5:
                        ts += FRAME
                        t_us += 20000
                silence(0.2)
        else:
            sys.exit("rtpkit: unknown segment %r" % seg)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, (t, rtp) in enumerate(packets):
            fr = frame_packet(rtp, n)
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    for _, sport, dport, payload in read_pcap_timed(path):
        yield sport, dport, payload


def read_pcap_timed(path):
    """The UDP datagrams of a capture: (seconds, sport, dport, payload)."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off : off + 16])
        pkt = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        if link == 1:  # Ethernet
            if pkt[12:14] != b"\x08\x00":
                continue
            ip = pkt[14:]
        elif link == 113:  # Linux cooked
            ip = pkt[16:]
        else:
            ip = pkt
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        sport, dport = struct.unpack("!HH", ip[ihl : ihl + 4])
        yield sec + frac / (1e9 if nano else 1e6), sport, dport, ip[ihl + 8 :]


def heard(capture, port, out):
    chunks = []
    first = None
    for t, _, dport, rtp in read_pcap_timed(capture):
        if dport != port or len(rtp) < 12 or rtp[0] >> 6 != 2 or rtp[1] & 0x7F != PT_PCMU:
            continue
        ts = struct.unpack("!I", rtp[4:8])[0]
        chunks.append((ts, rtp[12:], t))
        first = t if first is None else first
    if not chunks:
        sys.exit("rtpkit: no PCMU packets to port %d in %s" % (port, capture))
    base = chunks[0][0]
    total = max((ts - base) & 0xFFFFFFFF for ts, _, _ in chunks) + FRAME
    if total > 8000 * 600:
        sys.exit("rtpkit: RTP timestamps jump by more than 10 minutes")
    pcm = [0] * total
    with open(out + ".times", "w") as f:
        for ts, _, t in chunks:
            f.write("%d %.6f\n" % ((ts - base) & 0xFFFFFFFF, t))
    for ts, payload, _ in chunks:
        at = (ts - base) & 0xFFFFFFFF
        for i, c in enumerate(payload):
            pcm[at + i] = ulaw_decode(c)
    with open(out, "wb") as f:
        f.write(struct.pack("<%dh" % len(pcm), *pcm))
    print("rtpkit: %d packets, %.2f s to port %d, the first at %.6f" % (len(chunks), total / 8000, port, first))


def sent_at(times_path, at, reach=8000):
    """When sample AT of a heard stream left its sender, from heard's
    OUT.times: the median, over the packets up to REACH samples either side
    of AT that follow each other without a jump in RTP time, of capture time
    less RTP offset. A jump is the sender resetting its clock after a stall
    (huddle-sip moves the timestamp by the time that passed, though the
    mixer catches up and nothing is lost), so the offsets on its far side
    do not date this stretch of audio; the median keeps out the few
    packets a stall delayed and the catch-up burst after it."""
    rows = [(int(o), float(t)) for o, t in (line.split() for line in open(times_path))]
    if not rows:
        sys.exit("rtpkit: no packets in %s" % times_path)
    i = max(0, max((k for k, (o, _) in enumerate(rows) if o <= at), default=0))
    lo = hi = i
    while lo > 0 and rows[lo][0] - rows[lo - 1][0] == FRAME and at - rows[lo - 1][0] <= reach:
        lo -= 1
    while hi + 1 < len(rows) and rows[hi + 1][0] - rows[hi][0] == FRAME and rows[hi + 1][0] - at <= reach:
        hi += 1
    zeros = sorted(t - o / 8000 for o, t in rows[lo : hi + 1])
    return zeros[len(zeros) // 2] + at / 8000


def gaps(capture, port):
    """How steadily RTP reached PORT: packets, and the longest silence
    between two of them in ms."""
    times = [t for t, _, dport, rtp in read_pcap_timed(capture) if dport == port and len(rtp) >= 12]
    if len(times) < 2:
        sys.exit("rtpkit: fewer than 2 packets to port %d in %s" % (port, capture))
    print("%d %.0f" % (len(times), 1000 * max(b - a for a, b in zip(times, times[1:]))))


def load_raw(path):
    raw = open(path, "rb").read()
    return struct.unpack("<%dh" % (len(raw) // 2), raw[: len(raw) // 2 * 2])


def envelope(x, n=80):
    return [math.log10(1 + sum(v * v for v in x[i : i + n]) / n) for i in range(0, len(x) - n + 1, n)]


def pearson(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    num = sum((p - ma) * (q - mb) for p, q in zip(a, b))
    den = math.sqrt(sum((p - ma) ** 2 for p in a) * sum((q - mb) ** 2 for q in b))
    return num / den if den else 0.0


def xcorr(h, c, at):
    seg = h[at : at + len(c)]
    if len(seg) < len(c):
        return 0.0
    den = math.sqrt(sum(v * v for v in seg) * sum(v * v for v in c))
    return sum(p * q for p, q in zip(seg, c)) / den if den else 0.0


def match(heard_path, clip_path):
    """Where CLIP sits in HEARD and how alike it sounds there: the 10 ms
    energy envelope finds the clip's place, then each half second of the
    clip that has speech is matched sample by sample within +-100 ms of
    where the previous half second matched (a mixer's jitter buffer shifts
    the audio by a frame whenever it conceals a late packet, and on a
    loaded machine those shifts add up over a sentence). The score is the
    median of those windows' normalised correlations."""
    score, lag, fine_lag = locate(load_raw(heard_path), load_raw(clip_path))
    print("%.3f %.3f %.4f" % (score, lag / 8000, fine_lag / 8000))


def locate(h, c, places=1):
    """match's work: (score, envelope lag, sample-exact lag), lags in samples.
    Sentences of about the same length and rhythm can fit the envelope
    nearly as well as the right one: with PLACES > 1, when the best envelope
    place does not match sample by sample (0.9), the next ones (half a
    second apart at least) are tried and the best match wins."""
    if len(h) < len(c):
        h = list(h) + [0] * (len(c) - len(h))
    eh, ec = envelope(h), envelope(c)
    ranked = sorted(range(len(eh) - len(ec) + 1), key=lambda k: -pearson(eh[k : k + len(ec)], ec))
    tried = []
    for k in ranked:
        if all(abs(k - p) >= 50 for p in tried):
            tried.append(k)
        if len(tried) == places:
            break
    best = _fine(h, c, tried[0] * 80)
    for k in tried[1:]:
        if best[0] >= 0.9:
            break
        best = max(best, _fine(h, c, k * 80), key=lambda r: r[0])
    return best


def _fine(h, c, lag):
    """locate at one envelope place LAG: (score, LAG, sample-exact lag)."""
    win = 4000
    loud = [math.sqrt(sum(v * v for v in c[i : i + win]) / win) for i in range(0, len(c) - win + 1, win)]
    scores, lags = [], []
    drift = 0
    for n, rms in enumerate(loud):
        if rms < 0.1 * max(loud):
            continue
        w = c[n * win : (n + 1) * win]
        base = lag + n * win + drift
        lo, hi = max(0, base - 800), max(0, min(len(h) - win, base + 800))
        coarse = max(range(lo, hi + 1, 3), key=lambda at: xcorr(h, w, at), default=lo)
        at, fine = max(((at, xcorr(h, w, at)) for at in range(max(0, coarse - 3), coarse + 4)), key=lambda x: x[1])
        drift = at - lag - n * win
        scores.append(fine)
        lags.append(at - n * win)
    scores.sort()
    lags.sort()
    score = scores[len(scores) // 2] if scores else 0.0
    fine_lag = lags[len(lags) // 2] if lags else lag
    return score, lag, fine_lag


def once(h, c):
    """Whether clip C is in heard H once, at its own level: (match score,
    sample-exact lag, least-squares gain of C, what is left once C is taken
    out, over C's energy). Each 100 ms of C is placed on its own within
    +-30 ms (a jitter buffer may slip a frame mid-sentence without anything
    being heard twice); what is left counts those windows and the 200 ms
    after C, where an echo over a bridge would land. One clean copy leaves
    almost nothing; an echo or a second copy leaves about as much as C."""
    score, _, at = locate(h, c, places=3)
    win, reach = 800, 240
    cc = sum(v * v for v in c)
    if not cc:
        sys.exit("rtpkit: the clip is silent")
    dot = rest = 0.0
    for k in range(0, len(c), win):
        w = c[k : k + win]
        ww = sum(v * v for v in w)
        if not ww:
            continue

        base = at + k
        # The sentence's own place first: voiced speech repeats every pitch
        # period, so only a clearly better fit elsewhere moves the window.
        pos = base
        if xcorr(h, w, base) < 0.99:
            coarse = max(range(max(0, base - reach), base + reach + 1, 4), key=lambda a: xcorr(h, w, a))
            pos = max(range(max(0, coarse - 4), coarse + 5), key=lambda a: xcorr(h, w, a))
        seg = list(h[pos : pos + len(w)]) + [0] * max(0, pos + len(w) - len(h))
        g = max(sum(p * q for p, q in zip(seg, w)), 0.0) / ww
        dot += g * ww
        rest += sum((p - g * q) ** 2 for p, q in zip(seg, w))
    tail = h[at + len(c) : at + len(c) + 1600]
    rest += sum(v * v for v in tail)
    return score, at, dot / cc, rest / cc


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "pcap":
        make_pcap(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 5 and sys.argv[1] == "heard":
        heard(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "gaps":
        gaps(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "once":
        score, at, gain, rest = once(load_raw(sys.argv[2]), load_raw(sys.argv[3]))
        print("%.3f %.4f %.3f %.3f" % (score, at / 8000, gain, rest))
    elif len(sys.argv) == 4 and sys.argv[1] == "match":
        match(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
