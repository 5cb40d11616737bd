#!/usr/bin/env python3
"""Prints port numbers on 127.0.0.1 free for both UDP and TCP right now,
one line per COUNT SPAN pair: COUNT block starts, each the first of SPAN
consecutive ports. No two blocks overlap, across all pairs of one call,
so a script asks for all its ports at once.
Blocks are taken below the kernel's ephemeral range, where no client
socket opened later in the test can land on them.
usage: freeports.py COUNT SPAN [COUNT SPAN ...]"""
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


def search_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    if ephemeral_low - 10000 >= 5000:
        return 10000, ephemeral_low
    return 20000, 60000


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2 or not all(a.isdigit() and int(a) > 0 for a in args):
        sys.exit("usage: freeports.py COUNT SPAN [COUNT SPAN ...]")
    low, high = search_range()
    taken = set()
    for count, span in zip(map(int, args[0::2]), map(int, args[1::2])):
        out = []
        for _ in range(4000):
            if len(out) == count:
                break
            base = random.randrange(low, high - span) & ~1  # even: RTP
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
