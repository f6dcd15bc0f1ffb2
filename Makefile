# hark - passive HTTP audit pipeline.
#
#   make            build the binaries into build/bin
#   make run        install missing packages (as root), build, run the
#                   pipeline on the demo capture and print the audit trail
#   make test       sanitizer build (ASan + UBSan), unit tests, fuzz
#                   regression, end-to-end, live and restart tests
#   make bench      throughput, accuracy and resources on the workload from
#                   ../shared/bench, next to the read limit, tcpdump and
#                   httpry (BENCH_MODE=live: replayed over a veth pair)
#   make fuzz       run every fuzz target for FUZZ_SECONDS each
#   make deps       install the Debian packages hark needs (root)
#   make install    hark and hark-* into PREFIX/bin (/usr/local), the
#                   systemd units into PREFIX/lib/systemd/system
#   make fresh-check  `make run` and `make test` in a new Debian 12 root

.DEFAULT_GOAL := all
# V=1 shows the full commands.
Q := $(if $(filter 1,$(V)),,@)
# Keep objects make would call intermediate (main.o): no rebuild next time.
.SECONDARY:

PKGS     := libpcap libzmq msgpack yaml-0.1 libsodium zlib libcrypto \
            libmicrohttpd
CC       ?= cc
SAN      ?= 0
ifeq ($(FUZZ),1)
# libFuzzer instrumentation for every module; fuzz targets link with
# -fsanitize=fuzzer (scripts/fuzz.sh drives them).
BUILD    ?= build/fuzz
CC       := clang
OPT      := -O1 -fno-omit-frame-pointer \
            -fsanitize=fuzzer-no-link,address,undefined
LDSAN    := -fsanitize=address,undefined
else ifeq ($(SAN),1)
BUILD    ?= build/san
OPT      := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
else
BUILD    ?= build
OPT      := -O2
LDSAN    :=
endif

# snprintf truncation is how hark bounds strings; gcc warns about it,
# clang has no such warning (and rejects the flag).
NO_TRUNC_WARN := $(shell $(CC) -Werror -Wno-format-truncation -E -x c \
                   /dev/null >/dev/null 2>&1 && echo -Wno-format-truncation)

# Goals that install packages first (when root) and then build in a
# sub-make: pkg-config below runs when make reads this file, so the make
# that installs cannot also be the make that links.
INSTALL_GOALS := run test bench fuzz deps check-deps-install fresh-check \
                 clean demo-capture
ifneq ($(filter-out $(INSTALL_GOALS),$(or $(MAKECMDGOALS),all)),)
DEPS_MISSING := $(shell scripts/deps.sh --check 2>&1 >/dev/null)
ifneq ($(DEPS_MISSING),)
$(error $(DEPS_MISSING))
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lleveldb

CFLAGS   ?= -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow \
            -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter $(NO_TRUNC_WARN) -Icommon $(PKG_CFLAGS)
LDFLAGS  += $(LDSAN)
LDLIBS   := $(PKG_LIBS) -lpthread

STAGES   := capture reassemble dispatch correlate logger
BIN      := $(BUILD)/bin
OBJ      := $(BUILD)/obj

common_SRC := $(wildcard common/*.c)
common_OBJ := $(common_SRC:%.c=$(OBJ)/%.o)
COMMON_LIB := $(BUILD)/libhark-common.a

# Each stage: main.c makes the process; its other modules form a library
# that unit tests link too. The front end `hark` lives in hark/.
define stage_rules
$(1)_MODS := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c))
$(1)_LIB  := $(BUILD)/lib$(1).a
$$($(1)_LIB): $$($(1)_MODS:%.c=$(OBJ)/%.o)
	@mkdir -p $$(@D)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach s,$(STAGES) hark,$(eval $(call stage_rules,$(s))))

# `hark serve`'s page (hark/web/) is built into the binary: serve_web.S
# pulls each file in with .incbin, so the page needs nothing on disk.
WEB_FILES := $(wildcard hark/web/*)
$(hark_LIB): $(OBJ)/hark/serve_web.o
$(OBJ)/hark/serve_web.o: hark/serve_web.S $(WEB_FILES)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(OPT) -c $< -o $@

STAGE_BINS := $(STAGES:%=$(BIN)/hark-%)
ALL_BINS   := $(STAGE_BINS) $(BIN)/hark
STAGE_LIBS := $(foreach s,$(STAGES) hark,$($(s)_LIB))

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
TOOL_BINS  := $(patsubst tests/tools/%.c,$(BIN)/tools/%,$(wildcard tests/tools/*.c))
FUZZ_BINS  = $(patsubst tests/fuzz/%.c,$(BIN)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BIN)/tests/%)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all run test units tools fuzz fuzzers bench deps clean \
        check-deps-install demo-capture fresh-check install examples
all: $(ALL_BINS)

deps:
	@scripts/deps.sh --install

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -I$(dir $<) -MMD -MP -c $< -o $@

$(COMMON_LIB): $(common_OBJ)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN)/hark-%: $(OBJ)/%/main.o $(BUILD)/lib%.a $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/hark: $(OBJ)/hark/main.o $(hark_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# A unit test named test_<area>_<module>.c links the modules of <area>
# (a stage, hark, or common) and common, never a main.o.
test_libs = $(foreach s,$(STAGES) hark,$(if $(filter test_$(s)_%,$(1)),$($(s)_LIB)))
.SECONDEXPANSION:
$(BIN)/tests/%: $(OBJ)/tests/unit/%.o $$(call test_libs,$$*) $(COMMON_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# The tap consumers of examples/ (libzmq and msgpack only, no hark code).
EXAMPLE_BINS := $(patsubst examples/%.c,$(BIN)/examples/%,$(wildcard examples/*.c))
examples: $(EXAMPLE_BINS)
$(BIN)/examples/%: examples/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LDLIBS) -o $@

# Test helpers the end-to-end tests run (tests/tools/*.c).
$(BIN)/tools/%: $(OBJ)/tests/tools/%.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/fuzz/%: $(OBJ)/tests/fuzz/%.o $(STAGE_LIBS) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) -fsanitize=fuzzer,address,undefined $< -Wl,--start-group \
	    $(STAGE_LIBS) $(COMMON_LIB) -Wl,--end-group $(LDLIBS) -o $@

fuzzers: $(FUZZ_BINS)

$(OBJ)/tests/fuzz/%.o: CFLAGS += -Ireassemble -Idispatch -Icorrelate \
                                 -Ilogger -Icapture -Ihark -Itests/tools
$(OBJ)/tests/unit/%.o: CFLAGS += -Ireassemble -Idispatch -Icorrelate \
                                 -Ilogger -Icapture -Ihark -Itests/unit \
                                 -Itests/tools

run:
	@scripts/deps.sh --install-if-root build
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BIN)

check-deps-install:
	@scripts/deps.sh --install-if-root test

# The test suite runs on the sanitizer build.
test: check-deps-install
	$(MAKE) SAN=1 all units tools examples
	scripts/run-tests.sh build/san

units: $(UNIT_BINS)

tools: $(TOOL_BINS)

fuzz: check-deps-install
	scripts/fuzz.sh run $(or $(FUZZ_SECONDS),60)

# BENCH_PRESET=large, BENCH_RUNS=N, BENCH_MODE=live: scripts/bench.sh.
bench:
	@scripts/deps.sh --install-if-root bench
	@$(MAKE) --no-print-directory all $(BIN)/tools/read_limit
	scripts/bench.sh $(BIN)

demo-capture:
	tests/data/make-demo.sh

# The README's two commands in a new Debian 12 root (debootstrap, chroot).
fresh-check:
	scripts/fresh-check.sh

# The units name PREFIX/bin; DESTDIR stages the whole tree elsewhere.
PREFIX ?= /usr/local
UNITS  := $(wildcard contrib/systemd/*.service)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system \
	    $(DESTDIR)$(PREFIX)/share/doc/hark
	install -m 0755 $(ALL_BINS) $(DESTDIR)$(PREFIX)/bin/
	for u in $(UNITS); do \
	    sed 's|/usr/local/|$(PREFIX)/|g' $$u \
	        >$(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u) || exit 1; \
	done
	install -m 0644 README.md hark.yaml $(DESTDIR)$(PREFIX)/share/doc/hark/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
