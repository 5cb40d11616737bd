#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test huddle:
# the Opus and libclang development files (audiopus_sys, bindgen), the C and
# C++ compilers the harness uses, clang's sanitizer and libFuzzer runtimes
# (the scenario parser's fuzz corpus runs under them), valgrind, and the audio tools the demo uses
# (espeak-ng, sox, python3), for the Janus plugin Debian's Janus, its
# headers and demos, and Chromium, and for the SIP front libre (its SIP stack),
# SIPp and tcpdump (its tests and the FreeSWITCH test), and what builds and
# checks the Debian packages (binutils, dpkg-dev, debhelper, lintian). Idempotent: installs nothing when everything is
# there, and runs `apt-get update` once, only when something is missing.
# Works as root, or through `sudo -n` otherwise (no prompt: CI has no stdin).
# Shared by scripts/test.sh and the demo.
set -euo pipefail

# package:command — the package counts as present when dpkg has it installed or, for
# tools that may come from elsewhere (pyenv's python3, a hand-built sox), when
# the command is on PATH. An empty command means "dpkg only".
WANTED=(
    "libopus-dev:"
    "libclang-dev:"
    "clang:clang"
    "libclang-rt-dev:"
    "pkg-config:pkg-config"
    "gcc:cc"
    "g++:g++"
    "valgrind:valgrind"
    "espeak-ng:espeak-ng"
    "sox:sox"
    "python3:python3"
    # tests/webhooks.rs makes its test CAs and certificates with the openssl CLI.
    "openssl:openssl"
    # janus.plugin.huddle (ffi/janus) and its tests: Debian's Janus, its
    # headers and demo page, janus.js, and headless Chromium.
    "make:make"
    "libglib2.0-dev:"
    "libjansson-dev:"
    "janus:janus"
    "janus-dev:"
    "janus-demos:"
    "libjs-janus-gateway:"
    "libjs-webrtc-adapter:"
    "chromium:chromium"
    "libre-dev:"
    "sip-tester:sipp"
    # spandsp's G.722, the independent reference huddle-sip's G.722 is
    # tested against (loaded at run time; no development package needed),
    # and baresip, a real UA that calls huddle-sip with G.722 in the test.
    "libspandsp2:"
    "baresip-core:baresip"
    "tcpdump:tcpdump"
    # conf/kamailio/kamailio.cfg and scripts/test-kamailio.sh (scale-out).
    "kamailio:kamailio"
    "binutils:readelf"
    "dpkg-dev:dpkg-buildpackage"
    "debhelper:dh"
    "lintian:lintian"
)

# `dpkg -s` alone also succeeds for a removed package whose config files
# remain, so look at the status it prints.
installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

missing=()
for entry in "${WANTED[@]}"; do
    pkg="${entry%%:*}"
    cmd="${entry#*:}"
    if installed "$pkg"; then
        continue
    fi
    if [[ -n "$cmd" ]] && command -v "$cmd" >/dev/null 2>&1; then
        continue
    fi
    missing+=("$pkg")
done

if ((${#missing[@]} > 0)); then
    echo "deps: installing ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "deps: no apt-get on this machine; install these by hand: ${missing[*]}" >&2
        exit 1
    fi
    if [[ "$(id -u)" -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo -n)
    else
        echo "deps: not root and no sudo; install these by hand: ${missing[*]}" >&2
        exit 1
    fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "deps: system packages present"
fi

# The Rust side: rustfmt and clippy are rustup components, absent from a
# minimal toolchain.
if ! command -v cargo >/dev/null 2>&1; then
    echo "deps: cargo not found; install Rust (https://rustup.rs) first" >&2
    exit 1
fi
for component in rustfmt clippy; do
    probe=(cargo fmt --version)
    [[ "$component" == clippy ]] && probe=(cargo clippy --version)
    if ! "${probe[@]}" >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            echo "deps: adding the $component component"
            rustup component add "$component"
        else
            echo "deps: $component missing and no rustup to add it" >&2
            exit 1
        fi
    fi
done
