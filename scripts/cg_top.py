#!/usr/bin/env python3
"""Sums callgrind_annotate's file:function lines by function (inlined code
is reported under the file it came from) and prints the top entries.
usage: cg_top.py CALLGRIND_OUT [N]"""
import re
import subprocess
import sys

path = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", path],
                     capture_output=True, text=True).stdout
total, by_fn = 0, {}
for line in out.splitlines():
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
    if not m:
        continue
    n, rest = int(m.group(1).replace(",", "")), m.group(2)
    if "PROGRAM TOTALS" in rest:
        total = n
        continue
    fn = rest.split(":", 1)[1] if ":" in rest else rest
    obj = re.search(r" \[(.*)\]$", fn)
    fn = re.sub(r" \[.*\]$", "", fn).strip()
    if fn.startswith("0x") and obj:
        # A stripped library (Debian's libopus): count it as one entry.
        fn = obj.group(1).rsplit("/", 1)[-1] + " (no symbols)"
    by_fn[fn] = by_fn.get(fn, 0) + n
print(f"total {total:,} instructions")
for fn, n in sorted(by_fn.items(), key=lambda kv: -kv[1])[:top]:
    print(f"{100.0 * n / max(total, 1):5.1f}%  {n:>14,}  {fn[:110]}")
