#!/usr/bin/env python3
"""Counts the lines of a JSON-lines file (huddle-sip's event_log, the
webhook receiver's log) whose fields have the given values. A key
`a.b` looks inside the object under `a`. A missing file counts 0.

usage: jsonlines.py FILE KEY=VALUE..."""
import json
import sys


def get(obj, key):
    for part in key.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    want = [a.split("=", 1) for a in sys.argv[2:]]
    try:
        lines = open(sys.argv[1]).read().splitlines()
    except FileNotFoundError:
        lines = []
    records = [json.loads(line) for line in lines if line.strip()]
    print(sum(1 for r in records if all(get(r, k) == v for k, v in want)))


if __name__ == "__main__":
    main()
