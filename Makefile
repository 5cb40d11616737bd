# Builds huddle and installs it like a system library (README "Install").
#
#   make                                   the library, the reference host, the sounds
#   make install [PREFIX=/usr/local] [LIBDIR=...] [DESTDIR=/tmp/stage]   (after make)
#   make uninstall                         (the same variables as install)
#   make deb [DEB_OUT=dir]                 libhuddle0, libhuddle-dev, huddle-tools (+ the
#                                          Janus and SIP hosts once they are in the tree)
#
# The library is cargo's release build (target/release/libhuddle.so, the one
# scripts/demo.sh and scripts/test.sh build), so `make` after either costs a
# second. build.rs gives it its SONAME; this file reads it back from the ELF
# file instead of deciding it a second time.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= $(PREFIX)/etc
LOCALSTATEDIR ?= $(PREFIX)/var
DESTDIR ?=

CARGO ?= cargo
CFLAGS ?= -O2 -g
INSTALL ?= install
CARGO_TARGET_DIR ?= target
BUILD := $(CARGO_TARGET_DIR)/release
LIB := $(BUILD)/libhuddle.so
REFHOST := $(BUILD)/huddle-refhost
DEB_OUT ?= ..

VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
# The real file is <SONAME>.<minor>.<patch>, those two from Cargo.toml.
VERSION_TAIL := $(word 2,$(subst ., ,$(VERSION))).$(word 3,$(subst ., ,$(VERSION)))
SONAME = $(shell objdump -p $(LIB) | awk '$$1 == "SONAME" { print $$2 }')

# The installed config finds the installed sounds and records under
# LOCALSTATEDIR; everything else is the sample as committed.
CONF_PATHS := -e 's|^sounds_dir = .*|sounds_dir = "$(DATADIR)/huddle/sounds"|' \
	-e 's|^recordings_dir = .*|recordings_dir = "$(LOCALSTATEDIR)/lib/huddle/recordings"|'

.PHONY: all lib sounds install uninstall deb clean FORCE

all: lib $(REFHOST) sounds

# cargo decides what is stale and leaves a fresh library untouched, so what
# depends on the file is rebuilt only when the library really changed.
lib: $(LIB)
$(LIB): FORCE
	$(CARGO) build --release --lib
FORCE:

# The installed host dlopens the library by its SONAME, through the
# dynamic linker's search path, instead of the in-tree path.
$(REFHOST): $(LIB) ffi/refhost/refhost.c ffi/refhost/scenario.c ffi/refhost/audio.c \
		ffi/refhost/scenario.h ffi/refhost/audio.h ffi/huddle_host.h include/huddle.h
	$(CC) -std=c11 -Wall -Wextra -Werror -pedantic $(CPPFLAGS) $(CFLAGS) -Iinclude -Iffi \
		-DREFHOST_DEFAULT_LIB='"$(SONAME)"' \
		ffi/refhost/refhost.c ffi/refhost/scenario.c ffi/refhost/audio.c \
		$(LDFLAGS) -o $@ -ldl -lopus -lm -lpthread

# The prompts and hold music are generated (espeak-ng, sox), not committed.
sounds:
	sh scripts/make-clips.sh

# install builds nothing: `sudo make install` may not find the user's
# cargo, and would leave root-owned files in target/.
install:
	@for f in $(LIB) $(REFHOST) conf/sounds/hold.wav; do \
		[ -f "$$f" ] || { echo "install: $$f is missing: run make first" >&2; exit 1; }; \
	done
	@soname='$(SONAME)'; [ -n "$$soname" ] || { echo "$(LIB) has no SONAME" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/huddle \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSCONFDIR)/huddle \
		$(DESTDIR)$(DATADIR)/huddle/sounds
	$(INSTALL) -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/$(SONAME).$(VERSION_TAIL)
	ln -sf $(SONAME).$(VERSION_TAIL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libhuddle.so
	$(INSTALL) -m 0644 include/huddle.h ffi/huddle_host.h $(DESTDIR)$(INCLUDEDIR)/huddle/
	sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' packaging/huddle.pc.in \
		>$(DESTDIR)$(LIBDIR)/pkgconfig/huddle.pc
	$(INSTALL) -m 0755 $(REFHOST) $(DESTDIR)$(BINDIR)/huddle-refhost
	$(INSTALL) -m 0644 packaging/huddle-refhost.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 conf/sounds/*.wav $(DESTDIR)$(DATADIR)/huddle/sounds/
	@# A config edited in place is kept; the new sample goes next to it.
	sed $(CONF_PATHS) conf/huddle.conf >$(BUILD)/huddle.conf
	grep -q '^sounds_dir = "$(DATADIR)/huddle/sounds"$$' $(BUILD)/huddle.conf
	grep -q '^recordings_dir = "$(LOCALSTATEDIR)/lib/huddle/recordings"$$' $(BUILD)/huddle.conf
	@conf=$(DESTDIR)$(SYSCONFDIR)/huddle/huddle.conf; \
	if [ -e "$$conf" ] && ! cmp -s $(BUILD)/huddle.conf "$$conf"; then \
		echo "install: keeping the edited $$conf; the new sample is $$conf.new"; \
		$(INSTALL) -m 0644 $(BUILD)/huddle.conf "$$conf.new"; \
	else \
		$(INSTALL) -m 0644 $(BUILD)/huddle.conf "$$conf"; \
	fi

# Removes what install wrote. An edited config stays (said so), like a
# package's conffile.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libhuddle.so $(DESTDIR)$(LIBDIR)/libhuddle.so.[0-9]* \
		$(DESTDIR)$(LIBDIR)/pkgconfig/huddle.pc \
		$(DESTDIR)$(INCLUDEDIR)/huddle/huddle.h $(DESTDIR)$(INCLUDEDIR)/huddle/huddle_host.h \
		$(DESTDIR)$(BINDIR)/huddle-refhost $(DESTDIR)$(MANDIR)/man1/huddle-refhost.1 \
		$(DESTDIR)$(SYSCONFDIR)/huddle/huddle.conf.new
	rm -rf $(DESTDIR)$(DATADIR)/huddle/sounds
	@conf=$(DESTDIR)$(SYSCONFDIR)/huddle/huddle.conf; \
	if [ -e "$$conf" ]; then \
		sed $(CONF_PATHS) conf/huddle.conf | cmp -s - "$$conf" && rm -f "$$conf" \
		|| echo "uninstall: keeping the edited $$conf"; \
	fi
	-rmdir $(DESTDIR)$(INCLUDEDIR)/huddle $(DESTDIR)$(DATADIR)/huddle \
		$(DESTDIR)$(SYSCONFDIR)/huddle 2>/dev/null

# The Janus plugin and the SIP front are packaged when their Makefiles are in
# the tree; without them the build profile leaves their packages out.
DEB_PROFILES := $(strip $(if $(wildcard ffi/janus/Makefile),,pkg.huddle.nojanus) \
	$(if $(wildcard ffi/sip/Makefile),,pkg.huddle.nosip))
comma := ,
empty :=
space := $(empty) $(empty)

deb:
	mkdir -p $(DEB_OUT)
	HUDDLE_DEB_OUT=$(abspath $(DEB_OUT)) dpkg-buildpackage -b -uc -us $(DEB_BUILDPACKAGE_FLAGS) \
		$(if $(DEB_PROFILES),-P$(subst $(space),$(comma),$(DEB_PROFILES))) \
		--buildinfo-file=$(abspath $(DEB_OUT))/huddle_$(VERSION)_$(shell dpkg --print-architecture).buildinfo \
		--changes-file=$(abspath $(DEB_OUT))/huddle_$(VERSION)_$(shell dpkg --print-architecture).changes \
		--buildinfo-option=-u$(abspath $(DEB_OUT)) --changes-option=-u$(abspath $(DEB_OUT))

# cargo's own cache stays: `cargo clean` empties it.
clean:
	rm -f $(REFHOST) $(BUILD)/huddle.conf
