#!/usr/bin/env python3
"""Sends one SIP request (or junk) over UDP to 127.0.0.1:PORT and prints
the final response code it gets, or "none" after TIMEOUT seconds.

  sipprobe.py PORT KIND [USER]
    options          OPTIONS keep-alive
    invite-nosdp     INVITE without a body
    invite-g729      INVITE offering only G.729 (no codec in common)
    invite-badsdp    INVITE whose body is not SDP at all
    invite-se1       INVITE asking for a 1 s session interval (RFC 4028)
    order            INVITE offering PCMA then PCMU: prints the code and the
                     answer's payload types ("200 8 0")
    opus             INVITE offering Opus then PCMU; sends 2 s of Opus silence
                     packets (PT 111) and prints the code, the answer's payload
                     types and how many Opus packets came back ("200 111 rx=95")
    invite           INVITE offering PCMU (then CANCEL before the answer is
                     not attempted: a 2xx is ACKed and BYEd)
    junk             bytes that are not SIP, then an OPTIONS that must still
                     be answered (prints that OPTIONS' code)
"""
import random
import socket
import sys
import time

TIMEOUT = 5.0


def request(method, port, user, lport, callid, body=b"", ctype=None, cseq=1, to_tag="", extra=()):
    lines = [
        "%s sip:%s@127.0.0.1:%d SIP/2.0" % (method, user, port),
        "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%x;rport" % (lport, random.getrandbits(48)),
        "From: <sip:probe@127.0.0.1:%d>;tag=p%x" % (lport, hash(callid) & 0xFFFFFF),
        "To: <sip:%s@127.0.0.1:%d>%s" % (user, port, (";tag=" + to_tag) if to_tag else ""),
        "Call-ID: %s" % callid,
        "CSeq: %d %s" % (cseq, method),
        "Contact: <sip:probe@127.0.0.1:%d>" % lport,
        "Max-Forwards: 70",
    ]
    lines.extend(extra)
    if ctype:
        lines.append("Content-Type: " + ctype)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sdp(lport, formats):
    rtpmaps = "".join("a=rtpmap:%s\r\n" % f for f in formats)
    pts = " ".join(f.split()[0] for f in formats)
    return ("v=0\r\no=probe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP %s\r\n%s" % (lport + 2, pts, rtpmaps)).encode()


def final_response(sock, callid):
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            break
        text = data.decode(errors="replace")
        if not text.startswith("SIP/2.0 ") or ("Call-ID: %s" % callid) not in text:
            continue
        code = int(text[8:11])
        if code >= 200:
            return code, text
    return None, ""


def opus_exchange(local_port, remote_port):
    """Sends 2 s of Opus packets (a 20 ms CELT silence frame, TOC 0xF8)
    as PT 111 and counts the PT 111 packets that come back."""
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", local_port))
    rtp.setblocking(False)
    got, seq, ts = 0, 1, 0
    start = time.monotonic()
    for n in range(100):
        hdr = bytes([0x80, 111]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big") + (0x0B05).to_bytes(4, "big")
        rtp.sendto(hdr + bytes([0xF8, 0xFF, 0xFE]), ("127.0.0.1", remote_port))
        seq, ts = seq + 1, ts + 960
        while True:
            try:
                data = rtp.recv(2048)
            except BlockingIOError:
                break
            if len(data) > 12 and data[1] & 0x7F == 111:
                got += 1
        time.sleep(max(0.0, start + (n + 1) * 0.02 - time.monotonic()))
    return got


def main():
    port, kind = int(sys.argv[1]), sys.argv[2]
    user = sys.argv[3] if len(sys.argv) > 3 else "1234"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    lport = sock.getsockname()[1]
    callid = "probe-%x@127.0.0.1" % random.getrandbits(64)
    dst = ("127.0.0.1", port)
    if kind == "junk":
        sock.sendto(bytes(random.getrandbits(8) for _ in range(700)), dst)
        sock.sendto(b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n", dst)
        sock.sendto(b"\r\n\r\n" + b"A" * 3000, dst)
        kind = "options"
    if kind == "options":
        msg = request("OPTIONS", port, user, lport, callid)
    elif kind == "invite-nosdp":
        msg = request("INVITE", port, user, lport, callid)
    elif kind == "invite-g729":
        msg = request("INVITE", port, user, lport, callid, sdp(lport, ["18 G729/8000"]), "application/sdp")
    elif kind == "invite-badsdp":
        msg = request("INVITE", port, user, lport, callid, b"this is not SDP\r\n", "application/sdp")
    elif kind == "invite-se1":
        msg = request("INVITE", port, user, lport, callid, sdp(lport, ["0 PCMU/8000"]), "application/sdp",
                      extra=("Supported: timer", "Session-Expires: 1"))
    elif kind == "order":
        msg = request("INVITE", port, user, lport, callid, sdp(lport, ["8 PCMA/8000", "0 PCMU/8000"]), "application/sdp")
    elif kind == "opus":
        msg = request("INVITE", port, user, lport, callid,
                      sdp(lport, ["111 opus/48000/2", "0 PCMU/8000"]), "application/sdp")
    elif kind == "invite":
        msg = request("INVITE", port, user, lport, callid, sdp(lport, ["0 PCMU/8000"]), "application/sdp")
    else:
        sys.exit(__doc__)
    sock.sendto(msg, dst)
    code, text = final_response(sock, callid)
    extra = ""
    if kind in ("order", "opus") and code == 200:
        body = text.split("\r\n\r\n", 1)[1]
        mline = [l for l in body.split("\r\n") if l.startswith("m=audio ")][0].split()
        extra = " " + " ".join(p for p in mline[3:] if p != "101")
        if kind == "opus":
            extra += " rx=%d" % opus_exchange(lport + 2, int(mline[1]))
    if code is not None and (kind.startswith("invite") or kind in ("order", "opus")):
        to_tag = ""
        for line in text.split("\r\n"):
            if line.lower().startswith("to:") and "tag=" in line:
                to_tag = line.split("tag=")[1].split(";")[0].strip()
        sock.sendto(request("ACK", port, user, lport, callid, to_tag=to_tag), dst)
        if code < 300:
            sock.sendto(request("BYE", port, user, lport, callid, cseq=2, to_tag=to_tag), dst)
            final_response(sock, callid)
    print((str(code) if code is not None else "none") + extra)


if __name__ == "__main__":
    main()
