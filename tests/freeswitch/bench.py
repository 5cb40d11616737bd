#!/usr/bin/env python3
"""mod_huddle against mod_conference in the same FreeSWITCH, same SIPp load:
N PCMU callers in one room, K of them speaking (espeak-ng), the rest
listening to a room (their own line low noise, below both modules' talk
thresholds). For each N the two modules run back to back, in alternating
order, each in a fresh FreeSWITCH; measured: FreeSWITCH's process CPU over
a window once all N are in, and the packets per second FreeSWITCH sends to
each listener (50 is real time for 20 ms PCMU).
usage: bench.py PREFIX LIBHUDDLE MOD_HUDDLE RUNDIR N [N...]   (env K, WINDOW_S; an N may repeat)
Prints one JSON line per run and a table."""
import json
import os
import random
import re
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fsrun  # noqa: E402
import rtp  # noqa: E402

K = int(os.environ.get("K", "3"))
WINDOW = float(os.environ.get("WINDOW_S", "20"))
JOIN_RATE = 25  # calls per second
TEXTS = [("en-us", "Alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima."),
         ("en+m3", "The meeting will now review the quarterly numbers and the plans for spring."),
         ("en+f3", "Could everyone please mute their line when they are not speaking, thank you.")]
def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def thread_ticks(pid):
    """utime+stime per thread name (FreeSWITCH names its threads)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            out[(tid, name)] = cpu_ticks(f"{pid}/task/{tid}")
        except OSError:
            continue
    return out


def by_name(before, after, hz, secs):
    groups = {}
    for key, t in after.items():
        groups.setdefault(key[1], [0, 0])
        groups[key[1]][0] += t - before.get(key, 0)
        groups[key[1]][1] += 1
    top = sorted(groups.items(), key=lambda g: -g[1][0])[:6]
    return {f"{name} x{n}": round(t / hz / secs, 3) for name, (t, n) in top}


def inputs(run, seconds):
    out = []
    for i, (voice, text) in enumerate(TEXTS):
        pcm = fsrun.speech(run, f"s{i}", voice, text, seconds, loop=True)
        path = os.path.join(run, f"speech{i}.pcap")
        rtp.write_pcap(path, [("audio", pcm)])
        out.append(path)
    rnd = random.Random(7)
    noise = [int(rnd.gauss(0, 20)) for _ in range(int(seconds * 8000))]
    path = os.path.join(run, "noise.pcap")
    rtp.write_pcap(path, [("audio", noise)])
    return out, path


def count(fs, module):
    reply = fs.api("conference 3000 list count" if module == "conference" else "huddle count 3000").strip()
    m = re.fullmatch(r"(?:\+OK )?(\d+)", reply)
    return int(m.group(1)) if m else 0


def one_run(prefix, lib, mod, base, n, module, speech, noise, seconds, rep):
    run = os.path.join(base, f"{module}-N{n}-{rep}")
    os.makedirs(run)
    toml = fsrun.huddle_toml(run, profile="max_members = 1000\n")
    fs = fsrun.FreeSwitch(prefix, run, mod, lib, toml, extra_modules=["mod_conference"])
    procs = []
    try:
        service = "conf3000" if module == "conference" else "3000"
        lis_port, *spk_ports = fsrun.media_ports(K + 1)
        for i in range(K):
            procs.append(fsrun.sipp(fs, run, f"spk{i}", speech[i % len(speech)], spk_ports[i],
                                    service, timeout=seconds + 30))
        if n > K:
            procs.append(fsrun.sipp(fs, run, "lis", noise, lis_port, service, calls=n - K, rate=JOIN_RATE,
                                    timeout=seconds + 30))
        t0 = time.monotonic()
        fsrun.wait_until(f"{n} members", lambda: count(fs, module) >= n, n / JOIN_RATE + 30, step=0.5)
        joined = time.monotonic() - t0
        time.sleep(3)  # let the joins' own work settle before measuring
        pid, hz = fs.proc.pid, os.sysconf("SC_CLK_TCK")
        th0, c0, w0 = thread_ticks(pid), cpu_ticks(pid), time.monotonic()
        time.sleep(WINDOW)
        c1, w1, th1 = cpu_ticks(pid), time.monotonic(), thread_ticks(pid)
        threads = by_name(th0, th1, hz, w1 - w0)
        load = open("/proc/loadavg").read().split()[0]  # the machine is shared: say how busy
        cap = os.path.join(run, "listeners.pcap")
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "-s", "100", "-c", str(150 * (n - K + 1)),
                               "-w", cap, f"udp and dst port {lis_port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            td.wait(8)
        except subprocess.TimeoutExpired:
            pass
        td.terminate()
        td.wait(5)
        in_room = count(fs, module)
        pps = listener_pps(cap)
        fs.api("hupall NORMAL_CLEARING")
        for p in procs:
            p.wait(30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(5)
        fs.stop()
    cores = (c1 - c0) / hz / (w1 - w0)
    return {"module": module, "N": n, "K": K, "joined_s": round(joined, 1), "in_room": in_room,
            "fs_cores": round(cores, 3), "ms_per_participant_s": round(cores * 1000 / n, 2),
            "listener_streams": len(pps), "pps_min": round(min(pps), 1) if pps else 0,
            "pps_max": round(max(pps), 1) if pps else 0, "threads": threads, "loadavg_1min": float(load)}


def listener_pps(cap):
    """Packets per second from each FreeSWITCH RTP port to the listeners',
    over each stream's own first-to-last packet span."""
    data = open(cap, "rb").read()
    link = struct.unpack("<I", data[20:24])[0]
    l2 = {1: 14, 113: 16, 276: 20}[link]
    per, pos = {}, 24
    while pos + 16 <= len(data):
        sec, usec, incl = struct.unpack("<III", data[pos:pos + 12])
        ip = data[pos + 16 + l2:pos + 16 + incl]
        pos += 16 + incl
        ihl = (ip[0] & 15) * 4
        sport = struct.unpack("!H", ip[ihl:ihl + 2])[0]
        per.setdefault(sport, []).append(sec + usec / 1e6)
    return [(len(t) - 1) / (t[-1] - t[0]) for t in per.values() if len(t) > 10 and t[-1] > t[0]]


def main():
    prefix, lib, mod, base = sys.argv[1:5]
    ns = [int(a) for a in sys.argv[5:]]
    seconds = max(ns) / JOIN_RATE + WINDOW + 40
    speech, noise = inputs(base, seconds)
    results, pairs = [], []
    for i, n in enumerate(ns):
        order = ["conference", "huddle"] if i % 2 == 0 else ["huddle", "conference"]
        pair = {}
        for module in order:
            r = one_run(prefix, lib, mod, base, n, module, speech, noise, seconds, i)
            print(json.dumps(r), flush=True)
            results.append(r)
            pair[module] = r
        pairs.append((n, pair))
    print("\n| N | K | module | in room | FS cores | ms/participant/s | listener streams | pps min-max | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['N']} | {r['K']} | {r['module']} | {r['in_room']} | {r['fs_cores']:.3f} | "
              f"{r['ms_per_participant_s']:.2f} | {r['listener_streams']} | {r['pps_min']}-{r['pps_max']} | "
              f"{r['loadavg_1min']} |")
    for n, pair in pairs:
        c, h = pair["conference"], pair["huddle"]
        if c["fs_cores"] > 0:
            print(f"N={n}: mod_huddle uses {h['fs_cores'] / c['fs_cores']:.2f}x mod_conference's FreeSWITCH CPU")


if __name__ == "__main__":
    main()
