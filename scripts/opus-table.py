#!/usr/bin/env python3
"""Scores benches/opus_settings' WAVs with PESQ-WB (ITU-T P.862.2, PyPI `pesq`)
and prints the README's table. Reads the bench's CSV on stdin."""
import csv
import sys
import wave

import numpy as np
from pesq import pesq


def load(path):
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)


def score(ref, path):
    deg = load(path)
    n = min(len(ref), len(deg))
    return pesq(16000, ref[:n], deg[:n], "wb")


rows = list(csv.DictReader(line for line in sys.stdin if "," in line))
if not rows:
    sys.exit("no rows from the bench")
ref = load(rows[0]["single"].rsplit("/", 1)[0] + "/ref.wav")
print("| bitrate | complexity | CPU per 20 ms encode | PESQ-WB, one encode | PESQ-WB, after a sender's encode |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {int(r['bitrate']) // 1000} kbit/s | {r['complexity']} | {float(r['us_per_encode']):.0f} µs "
          f"| {score(ref, r['single']):.2f} | {score(ref, r['tandem']):.2f} |")
