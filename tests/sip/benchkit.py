#!/usr/bin/env python3
"""Where the frames of scripts/bench-sip.sh drop: reads a capture (tcpdump
-i lo) of the RTP SIPp sent to huddle-sip and replays each stream's
arrival times through a model of huddle's jitter buffer (depth frames
before playing, at most depth + slack queued, the oldest dropped; one
frame played per 20 ms tick). What the model drops is what a perfect
host and mixer would drop too: the input arrived in bursts. Also prints
the input's lateness against each stream's 20 ms schedule.

usage: benchkit.py CAPTURE.pcap PORT_LO PORT_HI DEPTH SLACK"""
import struct
import sys

import rtpkit


def packets(path):
    for t, _, dport, rtp in rtpkit.read_pcap_timed(path):
        if len(rtp) >= 12 and rtp[0] >> 6 == 2 and rtp[1] & 0x7F == 0:
            yield t, dport, struct.unpack("!H", rtp[2:4])[0]


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    path, lo, hi, depth, slack = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    streams = {}
    for t, port, seq in packets(path):
        if lo <= port <= hi:
            streams.setdefault(port, []).append((t, seq))
    total = dropped = 0
    late = [0, 0, 0]  # > 40, > 80, > 200 ms behind the stream's schedule
    worst = 0.0
    for arr in streams.values():
        t0, s0 = arr[0]
        ext, prev = 0, s0
        sched = []
        for t, seq in arr:
            ext += (seq - prev + 32768) % 65536 - 32768
            prev = seq
            sched.append(t - (t0 + ext * 0.02))
        base = min(sched)
        for x in sched:
            x -= base
            worst = max(worst, x)
            for i, lim in enumerate((0.04, 0.08, 0.2)):
                late[i] += x > lim
        # The jitter buffer: starts playing once `depth` frames are queued,
        # then takes one per 20 ms tick; a push beyond depth + slack drops
        # the oldest.
        queue, tick, n = 0, None, 0
        for t, _ in arr:
            while tick is not None and tick <= t:
                queue = max(0, queue - 1)
                tick += 0.02
            queue += 1
            n += 1
            if queue > depth + slack:
                queue -= 1
                dropped += 1
            if tick is None and queue >= depth:
                tick = t + 0.02
        total += n
    print("benchkit: input %d streams, %d packets; behind schedule > 40 ms %.3f%%, > 80 ms %.3f%%, "
          "> 200 ms %.3f%%, worst %.0f ms" % (len(streams), total, 100.0 * late[0] / max(total, 1),
                                             100.0 * late[1] / max(total, 1), 100.0 * late[2] / max(total, 1),
                                             worst * 1000))
    print("benchkit: a jitter buffer of depth %d (+%d) fed these arrival times drops %d (%.3f%%)"
          % (depth, slack, dropped, 100.0 * dropped / max(total, 1)))


if __name__ == "__main__":
    main()
