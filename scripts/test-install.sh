#!/usr/bin/env bash
# huddle installed the two ways README "Install" describes, checked as a C
# host author and a packager see it:
#   1. `make install` into a DESTDIR: the SONAME and the real file's name,
#      exports (huddle_* only, each one in debian/libhuddle0.symbols), then
#      tests/install/two_members.c built with `pkg-config --cflags --libs
#      huddle` against that DESTDIR alone, linked with -lhuddle and run: a
#      2-member room on the manual timer where each member hears the other.
#      The installed reference host plays a call through the installed
#      sample config and sounds.
#   2. `make deb`: lintian on every package; the packages unpacked with
#      `dpkg -x` into a scratch root, and the same program built and run
#      against that root alone.
#   3. `make uninstall` leaves the DESTDIR empty.
# The library is cargo's release build, which scripts/test.sh's demo step
# has already made, so this takes about 15 s. Usage: scripts/test-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
work="$target_dir/test-install"
rm -rf "$work"
mkdir -p "$work"
note() { printf -- '-- %s\n' "$*"; }
fail() {
    echo "test-install: $*" >&2
    exit 1
}

# The SONAME follows the ABI version (README "Install"): derived here from
# the header, independently of build.rs.
abi=$(sed -n 's/^#define HUDDLE_HOST_ABI_VERSION \([0-9]*\)u$/\1/p' ffi/huddle_host.h)
[[ -n "$abi" ]] || fail "no HUDDLE_HOST_ABI_VERSION in ffi/huddle_host.h"
want_soname="libhuddle.so.$((abi - 1))"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
want_real="$want_soname.${version#*.}"

# build_and_run ROOTFS LIBDIR NAME: builds two_members.c in a scratch directory
# with the flags pkg-config finds under ROOTFS alone and runs it with the
# library from ROOTFS.
build_and_run() {
    local rootfs=$1 libdir=$2 name=$3
    local dir="$work/$name"
    mkdir -p "$dir"
    cp tests/install/two_members.c "$dir/"
    local flags
    # PKG_CONFIG_LIBDIR replaces the default search path, so no other
    # huddle.pc can answer; the sysroot prefixes its paths with ROOTFS.
    # Debian's libdir is a system directory, which pkg-config would drop.
    flags=$(env PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$rootfs$libdir/pkgconfig" \
        PKG_CONFIG_SYSROOT_DIR="$rootfs" PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 \
        PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 pkg-config --cflags --libs huddle)
    note "$name: pkg-config --cflags --libs huddle: $flags"
    local word
    for word in $flags; do
        case "$word" in
        -I"$rootfs"/* | -L"$rootfs"/* | -l*) ;;
        *) fail "$name: pkg-config gives '$word', which is not under $rootfs" ;;
        esac
    done
    [[ "$flags" == *-lhuddle* ]] || fail "$name: pkg-config gives no -lhuddle"
    # shellcheck disable=SC2086 # the flags are words
    (cd "$dir" && cc -std=c11 -Wall -Wextra -Werror -pedantic two_members.c $flags -lm \
        -o two_members)
    readelf -d "$dir/two_members" | grep -q "(NEEDED).*\[$want_soname\]" ||
        fail "$name: two_members does not record $want_soname"
    ! readelf -d "$dir/two_members" | grep -Eq 'RPATH|RUNPATH' ||
        fail "$name: two_members carries a library path"
    local resolved
    resolved=$(LD_LIBRARY_PATH="$rootfs$libdir" ldd "$dir/two_members" |
        awk -v s="$want_soname" '$1 == s { print $3 }')
    [[ "$resolved" == "$rootfs$libdir/$want_soname" ]] ||
        fail "$name: $want_soname resolves to '$resolved', not into $rootfs"
    LD_LIBRARY_PATH="$rootfs$libdir" timeout 60 "$dir/two_members" "$dir" \
        "$rootfs/usr/share/huddle/sounds" 2>&1 | sed "s/^/   /"
}

# run_refhost ROOTFS LIBDIR NAME: the installed reference host, with the
# installed sample config (its sounds_dir moved under ROOTFS, on the manual
# timer) and the installed sounds: a caller alone in the sample's room
# "meeting" hears the hold music, and huddle warns about nothing.
run_refhost() {
    local rootfs=$1 libdir=$2 name=$3
    local dir="$work/$name/refhost"
    mkdir -p "$dir"
    sed -e 's|^timer = .*|timer = "manual"|' -e "s|^sounds_dir = \"|sounds_dir = \"$rootfs|" \
        "$rootfs/etc/huddle/huddle.conf" >"$dir/huddle.conf"
    printf '%s\n' 'config huddle.conf' 'leg ann name="Ann"' 'at 0.5 ann dial meeting' 'at 6 end' \
        >"$dir/alone.scn"
    LD_LIBRARY_PATH="$rootfs$libdir" timeout 60 "$rootfs/usr/bin/huddle-refhost" \
        --out "$dir/out" "$dir/alone.scn" >"$dir/run.log" 2>&1 || {
        cat "$dir/run.log"
        fail "$name: the installed huddle-refhost failed"
    }
    grep -q "loaded from $want_soname" "$dir/run.log" ||
        fail "$name: huddle-refhost did not load $want_soname by default: $(head -3 "$dir/run.log")"
    if grep -E '\b(WARN|ERROR)\b' "$dir/out/module.log"; then
        fail "$name: huddle warned with the installed config and sounds (above)"
    fi
    # From 1 s on, once the hold music runs: sox measures what Ann heard.
    local rms
    rms=$(sox "$dir/out/ann.wav" -n trim 1 stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }')
    note "$name: huddle-refhost: Ann alone in 'meeting' hears RMS $rms (hold music)"
    python3 -c "import sys; sys.exit(0 if float('$rms') > 0.01 else 1)" ||
        fail "$name: Ann heard silence (RMS $rms) instead of the installed hold music"
}

note "1. make install into a DESTDIR"
stage="$work/stage"
prefix=/usr
libdir=/usr/lib/huddle-test # not the default, so LIBDIR is seen honoured
make -s >"$work/install.log" 2>&1 || {
    cat "$work/install.log"
    fail "make failed"
}
make -s install DESTDIR="$stage" PREFIX=$prefix LIBDIR=$libdir SYSCONFDIR=/etc \
    LOCALSTATEDIR=/var >>"$work/install.log" 2>&1 || {
    cat "$work/install.log"
    fail "make install failed"
}
real="$stage$libdir/$want_real"
[[ -f "$real" && ! -L "$real" ]] || fail "no real file $want_real in $stage$libdir"
[[ "$(readlink "$stage$libdir/$want_soname")" == "$want_real" ]] ||
    fail "$want_soname does not link to $want_real"
[[ "$(readlink "$stage$libdir/libhuddle.so")" == "$want_soname" ]] ||
    fail "libhuddle.so does not link to $want_soname"
soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
note "readelf -d: SONAME $soname"
[[ "$soname" == "$want_soname" ]] || fail "SONAME is '$soname', expected $want_soname (ABI $abi)"
# Every defined dynamic symbol: objdump -T flags them with a section,
# *UND* for the ones the library imports.
exports=$(objdump -T "$real" | awk '$NF ~ /^[A-Za-z_]/ && $0 !~ /\*UND\*/ && NF >= 6 { print $NF }' | sort)
note "objdump -T: $(wc -l <<<"$exports") exports"
grep -qx huddle_module_interface <<<"$exports" || fail "huddle_module_interface is not exported"
if grep -v '^huddle_' <<<"$exports"; then
    fail "the library exports symbols outside huddle_ (above)"
fi
listed=$(sed -n 's/^ \([a-z_]*\)@Base .*/\1/p' debian/libhuddle0.symbols | sort)
if [[ "$exports" != "$listed" ]]; then
    diff <(echo "$listed") <(echo "$exports") || true
    fail "exports differ from debian/libhuddle0.symbols (< listed, > exported): a new export gets a line there"
fi
for f in include/huddle/huddle.h include/huddle/huddle_host.h bin/huddle-refhost \
    share/man/man1/huddle-refhost.1 share/huddle/sounds/hold.wav share/huddle/sounds/pin.wav; do
    [[ -s "$stage$prefix/$f" ]] || fail "make install did not install $prefix/$f"
done
conf="$stage/etc/huddle/huddle.conf"
grep -qx "sounds_dir = \"$prefix/share/huddle/sounds\"" "$conf" ||
    fail "the installed config does not find the installed sounds"
build_and_run "$stage" "$libdir" make-install
run_refhost "$stage" "$libdir" make-install

note "2. make deb, lintian, dpkg -x"
deb_version=$(dpkg-parsechangelog -SVersion)
[[ "$deb_version" == "$version" ]] ||
    fail "debian/changelog is at $deb_version, Cargo.toml at $version: add a changelog entry (dch -v $version)"
debs="$work/debs"
# -d: the Rust toolchain may come from rustup, which dpkg does not know.
timeout 600 make -s deb DEB_OUT="$debs" DEB_BUILDPACKAGE_FLAGS=-d >"$work/deb.log" 2>&1 || {
    tail -40 "$work/deb.log"
    fail "make deb failed"
}
expected=(libhuddle0 libhuddle-dev huddle-tools)
[[ -f ffi/janus/Makefile ]] && expected+=(janus-huddle)
[[ -f ffi/sip/Makefile ]] && expected+=(huddle-sip)
for pkg in "${expected[@]}"; do
    [[ -f "$debs/${pkg}_${version}_$(dpkg --print-architecture).deb" ]] ||
        fail "make deb built no $pkg package"
done
note "built: $(cd "$debs" && echo *.deb)"
# Any tag fails, down to pedantic, except those README "Install" explains.
lintian --fail-on error,warning,info,pedantic --display-info --pedantic \
    --suppress-tags hardening-no-fortify-functions,spelling-error-in-binary,package-supports-alternative-init-but-no-init.d-script "$debs"/*.deb >"$work/lintian.log" 2>&1 || {
    cat "$work/lintian.log"
    fail "lintian has tags on the packages (above)"
}
note "lintian --display-info --pedantic: no tags"
debroot="$work/debroot"
for deb in "$debs"/*.deb; do
    [[ "$deb" == *-dbgsym_* ]] || dpkg -x "$deb" "$debroot"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
soname=$(readelf -d "$debroot/usr/lib/$multiarch/$want_real" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
[[ "$soname" == "$want_soname" ]] || fail "the packaged library's SONAME is '$soname'"
build_and_run "$debroot" "/usr/lib/$multiarch" debs
run_refhost "$debroot" "/usr/lib/$multiarch" debs

note "3. make uninstall"
make -s uninstall DESTDIR="$stage" PREFIX=$prefix LIBDIR=$libdir SYSCONFDIR=/etc \
    LOCALSTATEDIR=/var >>"$work/install.log" 2>&1
left=$(find "$stage" -type f -o -type l)
[[ -z "$left" ]] || fail "make uninstall left: $left"
note "OK: installed, packaged, linked and heard; uninstall left nothing"
