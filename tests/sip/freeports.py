#!/usr/bin/env python3
"""Prints COUNT port numbers on 127.0.0.1, each the start of SPAN
consecutive ports free for both UDP and TCP right now, none overlapping.
usage: freeports.py COUNT SPAN"""
import random
import socket
import sys


def free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def main():
    count, span = int(sys.argv[1]), int(sys.argv[2])
    taken, out = set(), []
    for _ in range(2000):
        if len(out) == count:
            break
        base = random.randrange(20000, 60000 - span) & ~1  # even: RTP
        block = range(base, base + span)
        if any(p in taken for p in block) or not all(free(p) for p in block):
            continue
        taken.update(block)
        out.append(base)
    if len(out) < count:
        sys.exit("freeports: could not find %d free blocks of %d ports" % (count, span))
    print(" ".join(map(str, out)))


if __name__ == "__main__":
    main()
