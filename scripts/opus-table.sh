#!/bin/sh
# The Opus encoder settings table (README, Audio): CPU per encode against
# PESQ-WB, one encode and in tandem after a sender's. Not part of CI: it needs
# the PyPI `pesq` package, installed here into a venv (target/pesq-venv).
# Timings come from whatever else the machine is doing: run it on a quiet one.
set -eu
cd "$(dirname "$0")/.."
venv=target/pesq-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q pesq numpy
fi
out=target/opus-table
cargo bench --bench opus_settings -- "$PWD/$out" | tee "$out.csv" | "$venv/bin/python" scripts/opus-table.py
