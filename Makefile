# pgsteer: one Makefile, everything generated under build/. `make help` lists the targets.

BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH_INC  := /usr/include/$(shell uname -m)-linux-gnu
V         ?= 0
# debian/changelog owns the version (the package's and what the binaries print); a build from a
# git checkout adds the commit it came from: 0.1.0+git.6ac7d9f(-dirty). The package build passes
# VERSION itself (the changelog's, alone).
CHANGELOG_VERSION := $(shell head -n1 debian/changelog | cut -d'(' -f2 | cut -d')' -f1 | cut -d- -f1)
GIT_REV   := $(shell git describe --always --dirty --match none 2>/dev/null)
VERSION   ?= $(CHANGELOG_VERSION)$(if $(GIT_REV),+git.$(GIT_REV))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

PKGS      := libbpf libxdp libnl-3.0 libnl-route-3.0 libcurl libmicrohttpd json-c libsystemd libcrypto
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -O2 -g
# SANITIZE=1: everything built with AddressSanitizer and UndefinedBehaviorSanitizer (check-sanitize).
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifeq ($(SANITIZE),1)
CFLAGS    += -O1 $(SAN_FLAGS)
endif
CFLAGS    += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation \
             -Werror -D_GNU_SOURCE -DPGSTEER_VERSION=\"$(VERSION)\" -I$(BUILD) -Ibpf -Iuserspace $(PKG_CFLAGS)
# Each object depends on the headers it includes (the compiler writes them down beside it, .d)
# and on this Makefile (its flags).
DEPFLAGS  := -MMD -MP
LDLIBS    += $(PKG_LIBS) -lelf -lz -lm
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -mcpu=v3 -I$(ARCH_INC) -Ibpf

BPF_ENTRIES := xdp tc
# bench_fwd: the bench's bare XDP forwarder (scripts/bench.sh), never loaded by pgsteerd.
BPF_OBJS  := $(patsubst %,$(BUILD)/bpf/%.bpf.o,$(BPF_ENTRIES) xdp_pass bench_fwd)
SKELS     := $(patsubst %,$(BUILD)/%.skel.h,$(BPF_ENTRIES) bench_fwd)

# pgsteerd's own parts (pgsteerd_*.c) link into pgsteerd only.
DAEMON_SRCS := $(wildcard userspace/pgsteerd_*.c)
DAEMON_OBJS := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(DAEMON_SRCS))
# pgsteer's own parts (pgsteer_*.c, the libpq users) link into pgsteer only.
CLI_SRCS  := $(wildcard userspace/pgsteer_*.c)
CLI_OBJS  := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
LIBPQ_CFLAGS = $(shell pkg-config --cflags libpq 2>/dev/null)
LIBPQ_LIBS   = $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
LIB_SRCS  := $(filter-out userspace/pgsteerd.c userspace/pgsteer.c $(DAEMON_SRCS) $(CLI_SRCS),$(wildcard userspace/*.c))
LIB_OBJS  := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libpgsteer.a
BINS      := $(BUILD)/pgsteerd $(BUILD)/pgsteer

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
# Plain C tests that need root and real PostgreSQL/PgBouncer: run with the lab tier.
LABT_SRCS := $(wildcard tests/lab/*.c)
LABT_BINS := $(patsubst tests/lab/%.c,$(BUILD)/tests/%,$(LABT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

.PHONY: san-build install uninstall all bins deps test test-unit test-bpf test-lab test-vagrant test-pkg demo bench bench-failover help clean fuzz fuzz-build check-sanitize
.DELETE_ON_ERROR:
# The skeletons are intermediate files of the BPF objects: keep them between builds.
.SECONDARY: $(SKELS)

## all: build everything (never installs a package: see make deps)
all: $(BPF_OBJS) $(BINS) $(UNIT_BINS) $(BPFT_BINS) $(LABT_BINS) $(TOOL_BINS)

## bins: pgsteerd and pgsteer only (what make install and the Debian package need)
bins: $(BINS)

## deps: install the Debian packages pgsteer needs (root; .ci/run does it on a fresh machine)
deps:
	$(Q)scripts/deps.sh

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c Makefile | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name pgs_$* > $@

# The skeletons exist before anything compiles (a first build has no .d files to say who needs them).
$(BUILD)/obj/%.o: userspace/%.c Makefile | $(BUILD)/obj $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/pgsteerd: userspace/pgsteerd.c $(DAEMON_OBJS) $(LIB) Makefile | $(SKELS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) $< $(DAEMON_OBJS) $(LIB) $(LDLIBS) -o $@

$(CLI_OBJS): CFLAGS += $(LIBPQ_CFLAGS)

$(BUILD)/pgsteer: userspace/pgsteer.c $(CLI_OBJS) $(LIB) Makefile | $(SKELS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(CLI_OBJS) $(LIB) $(LDLIBS) $(LIBPQ_LIBS) -o $@

$(BUILD)/%: userspace/%.c $(LIB) Makefile | $(SKELS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB) Makefile | $(BUILD)/tests $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -Itests $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/bpf/%.c $(LIB) Makefile | $(BUILD)/tests $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -Itests $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/lab/%.c $(LIB) Makefile | $(BUILD)/tests $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -Itests $< $(LIB) $(LDLIBS) -o $@

# The tools that speak to PgBouncer through libpq: the bench's query load (failover timeline) and idle
# sessions, t_synflood.sh's new connections one after another.
LIBPQ_TOOLS := $(BUILD)/tools/pgs_qload $(BUILD)/tools/pgs_idle $(BUILD)/tools/pgs_connloop
$(LIBPQ_TOOLS): CFLAGS += $(LIBPQ_CFLAGS)
$(LIBPQ_TOOLS): LDLIBS += $(LIBPQ_LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIB) Makefile | $(BUILD)/tools $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -Itests $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bpf $(BUILD)/obj $(BUILD)/tests $(BUILD)/tools:
	$(Q)mkdir -p $@

## test: what CI runs: unit, BPF, lab (both attach modes; the XDP pass with the ASan+UBSan build),
##       the sanitized unit and BPF tests, every fuzzer (FUZZ_SECONDS, 15), the bench's quick run,
##       Vagrant (container provider), Debian package (root); ends with ONE "N passed, N failed, N skipped"
test: all san-build fuzz-build
	$(Q)BUILD=$(abspath $(BUILD)) SAN_BUILD=$(abspath $(BUILD)/san) tests/run.sh all

test-unit: all
	$(Q)tests/run.sh unit

test-bpf: all
	$(Q)tests/run.sh bpf

test-lab: all
	$(Q)tests/run.sh lab

test-vagrant: all
	$(Q)tests/run.sh vagrant

test-pkg:
	$(Q)tests/run.sh pkg

# The ASan+UBSan build, under $(BUILD)/san.
san-build:
	$(Q)$(MAKE) --no-print-directory -j$(shell nproc) BUILD=$(BUILD)/san SANITIZE=1 all

## check-sanitize: unit and BPF tests, and pgsteerd in one lab, built with ASan+UBSan; any report fails
check-sanitize: san-build
	$(Q)BUILD=$(abspath $(BUILD)/san) tests/run.sh sanitize

# libFuzzer harnesses: clang, the library rebuilt with coverage and sanitizers under $(BUILD)/fuzz.
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS  := $(patsubst userspace/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS))
FUZZ_CFLAGS = -O1 -g $(SAN_FLAGS) -std=gnu11 -Wall -Werror -Wno-unused-parameter -D_GNU_SOURCE \
              -DPGSTEER_VERSION=\"$(VERSION)\" -I$(BUILD) -Ibpf -Iuserspace -Itests/fuzz $(PKG_CFLAGS)

$(BUILD)/fuzz/obj/%.o: userspace/%.c Makefile | $(BUILD)/fuzz/obj $(SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c $< -o $@

$(BUILD)/fuzz/libpgsteer.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libpgsteer.a Makefile
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEPFLAGS) $< $(BUILD)/fuzz/libpgsteer.a $(LDLIBS) -o $@

$(BUILD)/fuzz/obj:
	$(Q)mkdir -p $@

fuzz-build: $(FUZZ_BINS)

## fuzz: every libFuzzer harness (tests/fuzz) from its seed corpus, FUZZ_SECONDS each (default 20)
fuzz: fuzz-build
	$(Q)BUILD=$(abspath $(BUILD)) FUZZ_SECONDS=$(or $(FUZZ_SECONDS),20) tests/run.sh fuzz

## demo: bring the namespace lab up, steer a short load through the VIP, show the spread, tear down
demo: all
	$(Q)scripts/demo.sh

## bench: direct, pgsteer (XDP, TC), HAProxy, IPVS, kernel NAT, a bare XDP forwarder; ns per packet; plots (build/bench)
bench: all
	$(Q)scripts/bench.sh
	$(Q)scripts/bench_failover.sh

## bench-failover: queries per 100 ms through a PgBouncer kill, an LB crash and a graceful stop, pgsteer vs HAProxy+keepalived
bench-failover: all
	$(Q)scripts/bench_failover.sh

## help: this list
help:
	@echo "pgsteer make targets:"
	@grep -E '^## ' Makefile | sed 's/^## /  /'
	@echo "  V=1 shows full commands"

-include $(wildcard $(BUILD)/*.d $(BUILD)/*/*.d $(BUILD)/*/*/*.d)

# GNU install conventions: pgsteerd in sbin, pgsteer in sbin too (it drives a root daemon: root's
# tools); the BPF programs are embedded through the skeletons, so nothing else is loaded from disk.
PREFIX     ?= /usr/local
DESTDIR    ?=
sbindir    ?= $(PREFIX)/sbin
bindir     ?= $(sbindir)
mandir     ?= $(PREFIX)/share/man
docdir     ?= $(PREFIX)/share/doc/pgsteer
unitdir    ?= $(PREFIX)/lib/systemd/system
completiondir ?= $(PREFIX)/share/bash-completion/completions
INSTALLED  := $(sbindir)/pgsteerd $(bindir)/pgsteer $(mandir)/man8/pgsteerd.8 $(mandir)/man8/pgsteer.8 \
              $(mandir)/man5/pgsteer.conf.5 $(docdir)/pgsteer.conf.example $(unitdir)/pgsteerd.service \
              $(completiondir)/pgsteer

## install: pgsteerd, pgsteer, man pages, example config, systemd unit, bash completion (DESTDIR, PREFIX)
install: $(BINS)
	$(Q)install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5 \
		$(DESTDIR)$(docdir) $(DESTDIR)$(unitdir) $(DESTDIR)$(completiondir)
	$(Q)install -m 644 dist/pgsteer.bash-completion $(DESTDIR)$(completiondir)/pgsteer
	$(Q)install -m 755 $(BUILD)/pgsteerd $(DESTDIR)$(sbindir)/pgsteerd
	$(Q)install -m 755 $(BUILD)/pgsteer $(DESTDIR)$(bindir)/pgsteer
	$(Q)install -m 644 doc/pgsteerd.8 doc/pgsteer.8 $(DESTDIR)$(mandir)/man8/
	$(Q)install -m 644 doc/pgsteer.conf.5 $(DESTDIR)$(mandir)/man5/
	$(Q)install -m 644 doc/pgsteer.conf.example $(DESTDIR)$(docdir)/
	$(Q)sed -e 's|@SBINDIR@|$(sbindir)|g' -e 's|@BINDIR@|$(bindir)|g' dist/pgsteerd.service.in \
		> $(DESTDIR)$(unitdir)/pgsteerd.service && chmod 644 $(DESTDIR)$(unitdir)/pgsteerd.service

## uninstall: remove what install put in place
uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))

## clean: remove build/
clean:
	$(Q)rm -rf $(BUILD)
