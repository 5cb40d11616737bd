#!/usr/bin/env python3
"""G.722 RTP for the huddle-sip tests, coded by an implementation other
than huddle's: spandsp's (libspandsp.so.2, Debian libspandsp2, which
baresip's g722 module uses), loaded with ctypes.

  g722kit.py pcap OUT.pcap SILENCE_BEFORE FILE.raw SILENCE_AFTER
      A libpcap file for SIPp's play_pcap_audio: G.722 (PT 9) 20 ms
      packets (160 octets, RTP timestamp step 160: RFC 3551's 8 kHz
      clock) of silence, the signed 16-bit 16 kHz FILE, silence.
  g722kit.py heard CAPTURE.pcap PORT[-PORT] OUT.raw
      The PT 9 packets a UDP port (or a range, for a phone that picks its
      own) received, decoded in RTP timestamp
      order and placed by timestamp, written as signed 16-bit 8 kHz (pairs
      averaged) so rtpkit.py match compares them with 8 kHz clips.
"""
import array
import ctypes
import struct
import sys

import rtpkit

PT_G722 = 9
OCTETS = 160  # 20 ms


def spandsp():
    try:
        lib = ctypes.CDLL("libspandsp.so.2")
    except OSError as e:
        sys.exit("g722kit: cannot load libspandsp.so.2 (Debian libspandsp2): %s" % e)
    for name in ("g722_encode_init", "g722_decode_init"):
        getattr(lib, name).restype = ctypes.c_void_p
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    lib.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    return lib


def make_pcap(out, before, path, after):
    raw = open(path, "rb").read()
    pcm = array.array("h", raw[: len(raw) // 2 * 2])
    pcm = array.array("h", [0] * int(before * 16000)) + pcm + array.array("h", [0] * int(after * 16000))
    pcm += array.array("h", [0] * (-len(pcm) % (2 * OCTETS)))
    lib = spandsp()
    enc = lib.g722_encode_init(None, 64000, 0)
    code = ctypes.create_string_buffer(len(pcm) // 2)
    buf = (ctypes.c_int16 * len(pcm)).from_buffer(pcm)
    n = lib.g722_encode(enc, code, buf, len(pcm))
    packets = []
    for k, off in enumerate(range(0, n, OCTETS)):
        hdr = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | PT_G722, (k + 1) & 0xFFFF, k * OCTETS, 0x47373232)
        packets.append((k * 20000, hdr + code.raw[off : off + OCTETS]))
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (t, rtp) in enumerate(packets):
            fr = rtpkit.frame_packet(rtp, i)
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)))
            f.write(fr)


def heard(capture, ports, out):
    lo, _, hi = ports.partition("-")
    lo, hi = int(lo), int(hi or lo)
    chunks = {}
    for _, dport, rtp in rtpkit.read_pcap(capture):
        if lo <= dport <= hi and len(rtp) > 12 and rtp[0] >> 6 == 2 and rtp[1] & 0x7F == PT_G722:
            chunks[struct.unpack("!I", rtp[4:8])[0]] = rtp[12:]
    if not chunks:
        sys.exit("g722kit: no G.722 packets to port %s in %s" % (ports, capture))
    base = min(chunks)
    total = (max(chunks) - base + OCTETS) * 2
    if total > 16000 * 600:
        sys.exit("g722kit: RTP timestamps jump by more than 10 minutes")
    lib = spandsp()
    dec = lib.g722_decode_init(None, 64000, 0)
    pcm16 = array.array("h", [0] * total)
    for ts in sorted(chunks):
        payload = chunks[ts]
        tmp = (ctypes.c_int16 * (2 * len(payload)))()
        n = lib.g722_decode(dec, tmp, payload, len(payload))
        at = (ts - base) * 2
        pcm16[at : at + n] = array.array("h", tmp[:n])
    pcm8 = array.array("h", ((pcm16[i] + pcm16[i + 1]) // 2 for i in range(0, total - 1, 2)))
    with open(out, "wb") as f:
        f.write(pcm8.tobytes())
    print("g722kit: %d packets, %.2f s to port %s" % (len(chunks), total / 16000, ports))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "pcap":
        make_pcap(sys.argv[2], float(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    elif len(sys.argv) == 5 and sys.argv[1] == "heard":
        heard(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
