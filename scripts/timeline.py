#!/usr/bin/env python3
"""Draws a conference as a timeline (SVG) from the reference host's event
log, and prints a short summary.

    scripts/timeline.py demo-out/events.jsonl demo-out/recording.wav \
        -o demo-out/timeline.svg [--summary]

One lane per call leg: connecting (dialled, entering the PIN), waiting for
the host (hold music), in the conference, talking, muted, on hold, and
marks for wrong PINs, DTMF, kicks and hang-ups. Below them the recording's
span and its waveform, on the same time axis. Standard library only.

The drawing carries what it shows as attributes, so a test can check the
picture against the scenario without reading pixels (times in seconds):
  <rect class="lane" data-member=LEG data-joined=T data-left=T>
  <rect class="span KIND" data-member=LEG data-start=T data-end=T>
      KIND: connecting waiting present talking talking-muted muted hold
  <path|text class="mark KIND" data-member=LEG data-t=T data-label=TEXT>
      KIND: bad (wrong PIN, kicked, refused: a path), dtmf, hangup (text)
  <line class="conference-start|conference-end" data-t=T>
  <rect class="span recording" data-start=T data-end=T>
  <polygon class="waveform" data-start=T data-end=T>  (the recording's audio)
"""

import argparse
import json
import sys
import wave
from array import array
from html import escape

COLORS = {
    "connecting": "#d9dde3",
    "waiting": "#f6d98b",
    "present": "#cfe3f7",
    "talking": "#2f9e57",
    "talking-muted": "#a7c9b2",
    "muted": "#e4572e",
    "hold": "#8e6cc4",
    "recording": "#c0392b",
    "wave": "#34495e",
}
LEGEND = [
    ("connecting", "dialled / PIN entry"),
    ("waiting", "waiting for host (hold music)"),
    ("present", "in the conference"),
    ("talking", "talking"),
    ("talking-muted", "talking while muted (not heard)"),
    ("muted", "muted"),
    ("hold", "on hold"),
    ("recording", "recording"),
]


def load_events(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
    return events


class Lane:
    def __init__(self, leg, info):
        self.leg = leg
        self.label = info.get("CallerName") or leg
        codec = info.get("Codec", "l16")
        rate = int(info.get("Rate", "0") or 0)
        self.detail = f"{'Opus' if codec == 'opus' else 'L16'} {rate // 1000} kHz"
        self.member_id = None
        self.spans = []  # (kind, start, end)
        self.marks = []  # (t, kind, text)
        self.open = {}  # kind -> start
        self.joined = None
        self.left = None
        self.talk = 0.0

    def start(self, kind, t):
        self.open.setdefault(kind, t)

    def stop(self, kind, t):
        s = self.open.pop(kind, None)
        if s is not None and t > s:
            self.spans.append((kind, s, t))
            if kind == "talking":
                self.talk += t - s

    def close_all(self, t):
        for kind in list(self.open):
            self.stop(kind, t)


# Member events that only open or close a state of the member's lane.
OPENS = {
    "participant-speech-start": "talking",
    "participant-speech-while-muted": "talking-muted",
    "participant-mute": "muted",
    "participant-hold": "hold",
}
CLOSES = {
    "participant-speech-stop": ("talking", "talking-muted"),
    "participant-unmute": ("muted",),
    "participant-unhold": ("hold",),
}


def analyse(events):
    lanes = {}
    order = []
    conf_start = conf_end = rec_start = rec_end = None
    end_reason = ""
    operator = []  # (t, text)
    end = 0.0

    def lane(ev):
        leg = ev.get("leg")
        if not leg:
            return None
        if leg not in lanes:
            lanes[leg] = Lane(leg, {})
            order.append(leg)
        return lanes[leg]

    for ev in events:
        t = float(ev["t"])
        end = max(end, t)
        name = ev["event"]
        if name == "host-leg":
            lanes[ev["leg"]] = Lane(ev["leg"], ev)
            order.append(ev["leg"])
            continue
        ln = lane(ev)
        if ln and ev.get("MemberId"):
            ln.member_id = ev["MemberId"]
        if name == "host-dial":
            ln.start("connecting", t)
        elif name == "host-dtmf":
            ln.marks.append((t, "dtmf", ev.get("Digits", "")))
        elif name == "pin-failed":
            ln.marks.append((t, "bad", "wrong PIN"))
        elif name == "participant-join":
            ln.stop("connecting", t)
            ln.joined = t
            if conf_start is None:
                ln.start("waiting", t)
            else:
                ln.start("present", t)
            if ev.get("Muted") == "true":
                ln.start("muted", t)
        elif name == "conference-start":
            conf_start = t
            for other in lanes.values():
                if "waiting" in other.open:
                    other.stop("waiting", t)
                    other.start("present", t)
        elif name in OPENS:
            ln.start(OPENS[name], t)
        elif name in CLOSES:
            for state in CLOSES[name]:
                ln.stop(state, t)
        elif name == "participant-kick":
            ln.marks.append((t, "bad", "kicked"))
        elif name == "participant-leave":
            ln.left = t
            ln.close_all(t)
        elif name in ("join-refused",) and ln:
            ln.marks.append((t, "bad", "refused"))
            ln.close_all(t)
        elif name == "host-hangup" and ln:
            ln.marks.append((t, "hangup", "hangs up"))
            ln.close_all(t)
        elif name == "conference-end":
            conf_end = t
            end_reason = ev.get("ReasonConferenceEnded", "")
        elif name == "recording-in-progress":
            rec_start = t
        elif name in ("recording-completed", "recording-failed"):
            rec_end = t
        elif name == "host-api":
            operator.append((t, ev.get("Command", "")))
        elif name == "host-end":
            end = t
    for ln in lanes.values():
        ln.close_all(end)
    if rec_start is not None and rec_end is None:
        rec_end = end
    return {
        "lanes": [lanes[k] for k in order],
        "conf_start": conf_start,
        "conf_end": conf_end,
        "end_reason": end_reason,
        "rec": (rec_start, rec_end) if rec_start is not None else None,
        "operator": operator,
        "end": end,
    }


def read_wave(path):
    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2:
                return None, 0
            rate = w.getframerate()
            ch = w.getnchannels()
            data = array("h")
            data.frombytes(w.readframes(w.getnframes()))
            if sys.byteorder == "big":
                data.byteswap()
            if ch > 1:
                data = array("h", data[::ch])
            return data, rate
    except (OSError, wave.Error, EOFError):
        return None, 0


def attr_t(t):
    """A time attribute value: seconds, or "" when it never happened."""
    return "" if t is None else f"{t:.3f}"


def svg(model, samples, rate, title):
    lanes = model["lanes"]
    end = max(model["end"], 1.0)
    left, right, top = 190, 70, 78
    width = 1200
    plot = width - left - right
    lane_h, gap = 34, 10
    x = lambda t: left + plot * t / end  # noqa: E731
    y = top
    out = []
    add = out.append
    rows_h = len(lanes) * (lane_h + gap) + 40 + 30 + 110
    height = top + rows_h + 70
    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">'
    )
    add(
        "<defs><pattern id='hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
        "patternTransform='rotate(45)'><rect width='6' height='6' fill='#a7c9b2'/>"
        "<line x1='0' y1='0' x2='0' y2='6' stroke='#e4572e' stroke-width='2'/></pattern></defs>"
    )
    add(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    add(f'<text x="{left}" y="30" font-size="20" font-weight="bold" fill="#222">{escape(title)}</text>')
    sub = []
    if model["conf_start"] is not None:
        sub.append(f"conference {model['conf_start']:.1f} s → " + (f"{model['conf_end']:.1f} s" if model["conf_end"] else "end"))
    if model["end_reason"]:
        sub.append(f"ended: {model['end_reason']}")
    add(f'<text x="{left}" y="52" font-size="13" fill="#555">{escape(" · ".join(sub))}</text>')

    # time grid
    grid_bottom = top + len(lanes) * (lane_h + gap) + 40 + 30 + 100
    step = 5 if end <= 120 else 30 if end <= 900 else 300
    t = 0
    while t <= end + 1e-9:
        add(f'<line x1="{x(t):.1f}" y1="{top - 8}" x2="{x(t):.1f}" y2="{grid_bottom}" stroke="#eceff3"/>')
        add(f'<text x="{x(t):.1f}" y="{grid_bottom + 16}" font-size="11" text-anchor="middle" fill="#666">{t:g}</text>')
        t += step
    add(f'<text x="{left + plot / 2}" y="{grid_bottom + 34}" font-size="12" text-anchor="middle" fill="#444">time (s)</text>')
    if model["conf_start"] is not None:
        for t, label, anchor, dx in ((model["conf_start"], "start", "start", 3), (model["conf_end"], "end", "end", -3)):
            if t is not None:
                add(f'<line class="conference-{label}" data-t="{attr_t(t)}" x1="{x(t):.1f}" y1="{top - 8}" '
                    f'x2="{x(t):.1f}" y2="{grid_bottom}" stroke="#2c3e50" stroke-dasharray="4 3"/>')
                add(f'<text x="{x(t) + dx:.1f}" y="{top - 12}" font-size="11" text-anchor="{anchor}" fill="#2c3e50">conference {label}</text>')

    # member lanes
    for ln in lanes:
        cy = y + lane_h / 2
        add(f'<text x="{left - 12}" y="{cy - 2:.1f}" font-size="14" font-weight="bold" text-anchor="end" fill="#222">{escape(ln.label)}</text>')
        detail = ln.detail + (f" · member {ln.member_id}" if ln.member_id else "")
        add(f'<text x="{left - 12}" y="{cy + 13:.1f}" font-size="11" text-anchor="end" fill="#777">{escape(detail)}</text>')
        member = f'data-member="{escape(ln.leg)}"'
        add(f'<rect class="lane" {member} data-joined="{attr_t(ln.joined)}" data-left="{attr_t(ln.left)}" '
            f'x="{left}" y="{y}" width="{plot}" height="{lane_h}" fill="#f8f9fb" rx="4"/>')
        layers = [("connecting", 6, lane_h - 12), ("waiting", 4, lane_h - 8), ("present", 4, lane_h - 8),
                  ("hold", 4, lane_h - 8), ("muted", lane_h - 10, 6), ("talking", 9, lane_h - 18),
                  ("talking-muted", 9, lane_h - 18)]
        for kind, dy, h in layers:
            for k, s, e in ln.spans:
                if k != kind:
                    continue
                fill = "url(#hatch)" if kind == "talking-muted" else COLORS[kind]
                add(f'<rect class="span {kind}" {member} data-start="{attr_t(s)}" data-end="{attr_t(e)}" '
                    f'x="{x(s):.1f}" y="{y + dy}" width="{max(x(e) - x(s), 1):.1f}" height="{h}" fill="{fill}" rx="2">'
                    f"<title>{escape(ln.label)}: {kind} {s:.2f}–{e:.2f} s</title></rect>")
        for t, kind, text in ln.marks:
            mark = f'class="mark {kind}" {member} data-t="{attr_t(t)}" data-label="{escape(text)}"'
            if kind == "bad":
                add(f'<path {mark} d="M{x(t) - 5:.1f},{y - 3} L{x(t) + 5:.1f},{y - 3} L{x(t):.1f},{y + 6} Z" fill="#c0392b"/>')
                add(f'<text x="{x(t) + 6:.1f}" y="{y + 2}" font-size="10" fill="#c0392b">{escape(text)}</text>')
            elif kind == "dtmf":
                add(f'<text {mark} x="{x(t):.1f}" y="{y + lane_h + 9}" font-size="10" fill="#555">⌨ {escape(text)}</text>')
            elif kind == "hangup":
                add(f'<text {mark} x="{x(t) - 2:.1f}" y="{y + 2}" font-size="10" text-anchor="end" fill="#2c3e50">☎ {escape(text)}</text>')
        y += lane_h + gap

    # operator lane
    add(f'<text x="{left - 12}" y="{y + 18}" font-size="13" font-weight="bold" text-anchor="end" fill="#222">Operator</text>')
    for t, cmd in model["operator"]:
        add(f'<circle cx="{x(t):.1f}" cy="{y + 14}" r="5" fill="#2c3e50"/>')
        add(f'<text x="{x(t) + 8:.1f}" y="{y + 18}" font-size="11" fill="#2c3e50">conference {escape(cmd)}</text>')
    y += 40

    # recording span and waveform
    add(f'<text x="{left - 12}" y="{y + 14}" font-size="13" font-weight="bold" text-anchor="end" fill="#222">Recording</text>')
    rec = model["rec"]
    if rec:
        s, e = rec
        add(f'<rect class="span recording" data-start="{attr_t(s)}" data-end="{attr_t(e)}" x="{x(s):.1f}" y="{y + 4}" '
            f'width="{max(x(e) - x(s), 1):.1f}" height="14" fill="{COLORS["recording"]}" rx="3"/>')
        dur = len(samples) / rate if samples else e - s
        add(f'<text x="{x(s) + 6:.1f}" y="{y + 15}" font-size="10" fill="#fff">● REC {dur:.1f} s</text>')
    y += 30
    wave_h = 90
    mid = y + wave_h / 2
    add(f'<text x="{left - 12}" y="{mid + 4:.1f}" font-size="11" text-anchor="end" fill="#777">waveform</text>')
    add(f'<line x1="{left}" y1="{mid}" x2="{left + plot}" y2="{mid}" stroke="#d0d4da"/>')
    if rec and samples:
        s0 = rec[0]
        cols = int(max(x(s0 + len(samples) / rate) - x(s0), 1))
        per = max(len(samples) // cols, 1)
        top_pts, bot_pts = [], []
        for c in range(cols):
            chunk = samples[c * per:(c + 1) * per]
            if not chunk:
                break
            hi, lo = max(chunk) / 32768.0, min(chunk) / 32768.0
            px = x(s0) + c
            top_pts.append(f"{px:.1f},{mid - hi * wave_h / 2:.1f}")
            bot_pts.append(f"{px:.1f},{mid - lo * wave_h / 2:.1f}")
        if top_pts:
            add(f'<polygon class="waveform" data-start="{attr_t(s0)}" data-end="{attr_t(s0 + len(samples) / rate)}" '
                f'points="{" ".join(top_pts + bot_pts[::-1])}" fill="{COLORS["wave"]}" opacity="0.85"/>')
    y += wave_h + 50

    # legend
    lx, ly = 20, height - 22
    for kind, text in LEGEND:
        fill = "url(#hatch)" if kind == "talking-muted" else COLORS[kind]
        add(f'<rect x="{lx}" y="{ly - 10}" width="14" height="12" fill="{fill}" rx="2"/>')
        add(f'<text x="{lx + 19}" y="{ly}" font-size="11" fill="#333">{escape(text)}</text>')
        lx += 34 + 6.4 * len(text)
    add("</svg>")
    return "\n".join(out) + "\n"


def summary(model, samples, rate):
    lines = []
    cs, ce = model["conf_start"], model["conf_end"]
    if cs is not None:
        dur = (ce if ce is not None else model["end"]) - cs
        lines.append(f"conference: {dur:.1f} s ({cs:.1f} s → {ce if ce is not None else model['end']:.1f} s)"
                     + (f", ended: {model['end_reason']}" if model["end_reason"] else ""))
    lines.append(f"members: {len(model['lanes'])}")
    for ln in model["lanes"]:
        joined = f"{ln.joined:5.1f} s" if ln.joined is not None else "never"
        left = f"{ln.left:5.1f} s" if ln.left is not None else "  end"
        lines.append(f"  {ln.label:<14} {ln.detail:<12} joined {joined}  left {left}  talked {ln.talk:5.1f} s")
    if samples is not None and rate:
        lines.append(f"recording: {len(samples) / rate:.1f} s at {rate} Hz")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("events", help="events.jsonl written by the reference host")
    ap.add_argument("recording", nargs="?", help="the conference recording (WAV)")
    ap.add_argument("-o", "--output", help="SVG to write (default: none)")
    ap.add_argument("--title", default="huddle demo — weekly planning call")
    ap.add_argument("--summary", action="store_true", help="print a summary")
    a = ap.parse_args()
    model = analyse(load_events(a.events))
    samples, rate = read_wave(a.recording) if a.recording else (None, 0)
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(svg(model, samples, rate, a.title))
    if a.summary:
        print(summary(model, samples, rate))


if __name__ == "__main__":
    main()
