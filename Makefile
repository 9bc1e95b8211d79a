# insitu: GNU make, pkg-config for every library.
#   make            build ./insitu and ./insitu-sim
#   make check      build and run every test (unit tests with Check, shell and tmux tests)
#   make run        build and start insitu
#   make asan       the tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      measured numbers (speed, memory)
#   make install PREFIX=...   binary, man pages, layouts, contrib
#   make clean
# When pkg-config misses a dependency the first target runs contrib/install-deps.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BUILD     ?= build
PKGS      := ncursesw readline libserialport fftw3 netcdf udunits gsl libcerf zlib
TEST_PKGS := check
TOOLS     := ncdump tmux

CC        ?= cc
OPT       ?= -O2 -g
WARN      := -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes \
             -Wmissing-prototypes -Wno-unused-parameter
ifneq ($(WERROR),)
WARN      += -Werror
endif
SAN       ?=

HAVE_DEPS := $(shell pkg-config --exists $(PKGS) $(TEST_PKGS) 2>/dev/null && \
               for t in $(TOOLS); do command -v $$t >/dev/null || exit 1; done && echo yes)

GOALS := $(if $(MAKECMDGOALS),$(MAKECMDGOALS),all)

ifneq ($(HAVE_DEPS),yes)
ifeq ($(DEPS_TRIED),)
# Dependencies missing: install them, then make the same goals again with a fresh pkg-config view.
.PHONY: $(GOALS) deps
$(GOALS): deps
	@$(MAKE) --no-print-directory DEPS_TRIED=1 $@
deps:
	@echo "insitu: some build dependencies are missing; running contrib/install-deps" >&2
	@contrib/install-deps
else
.PHONY: $(GOALS)
$(GOALS):
	@echo "insitu: still missing after contrib/install-deps:" \
	  $(foreach p,$(PKGS) $(TEST_PKGS),$(if $(shell pkg-config --exists $(p) && echo y),,$(p))) \
	  $(foreach t,$(TOOLS),$(if $(shell command -v $(t)),,$(t))) >&2; exit 1
endif
else

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) -lm
CHECK_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS))
CHECK_LIBS   := $(shell pkg-config --libs $(TEST_PKGS))

CPPFLAGS  += -Iinclude -D_GNU_SOURCE -DINSITU_VERSION='"$(VERSION)"' \
             -DINSITU_DATADIR='"$(PREFIX)/share/insitu"'
CFLAGS    := -std=c11 $(OPT) $(WARN) $(SAN) -MMD -MP $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS   += $(SAN)

LIB_SRC   := $(sort $(wildcard src/core/*.c src/dev/*.c src/engine/*.c src/archive/*.c \
                               src/cmd/*.c src/ui/*.c))
SIM_SRC   := $(sort $(wildcard src/sim/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/*.c))
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ   := $(SIM_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ  := $(UNIT_SRC:%.c=$(BUILD)/%.o)
LIBA      := $(BUILD)/libinsitu.a

.PHONY: all check unit shtest run asan bench install clean fuzz
all: insitu $(if $(SIM_SRC),insitu-sim)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/insitu: $(BUILD)/src/main.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/insitu-sim: $(SIM_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The programs live at the top so that ./insitu works right after make.
insitu: $(BUILD)/insitu
	@ln -sf $< $@
insitu-sim: $(BUILD)/insitu-sim
	@ln -sf $< $@

$(BUILD)/check_insitu: $(UNIT_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

check: all $(BUILD)/check_insitu
	@echo "== unit tests"
	@CK_FORK=yes INSITU_SHARED=$(CURDIR)/../shared $(BUILD)/check_insitu
	@echo "== shell tests"
	@INSITU=$(CURDIR)/$(BUILD)/insitu INSITU_SIM=$(CURDIR)/$(BUILD)/insitu-sim \
	  INSITU_SHARED=$(CURDIR)/../shared tests/sh/run-all

run: all
	./insitu

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" check

bench: all $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
	@for b in $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%); do echo "== $$b"; $$b || exit 1; done
	@for b in $(wildcard tests/bench/*.sh); do echo "== $$b"; INSITU=$(CURDIR)/$(BUILD)/insitu $$b || exit 1; done

# libFuzzer harnesses (clang): make fuzz FUZZ=parse RUNS=100000
fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -g" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libinsitu.a
	@mkdir -p build-fuzz/fuzz $(patsubst tests/fuzz/%.c,tests/fuzz/corpus/%,$(wildcard tests/fuzz/*.c))
	@for f in $(if $(FUZZ),tests/fuzz/$(FUZZ).c,$(wildcard tests/fuzz/*.c)); do \
	  n=$$(basename $$f .c); \
	  clang $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
	    $$f build-fuzz/libinsitu.a $(PKG_LIBS) -o build-fuzz/fuzz/$$n || exit 1; \
	  build-fuzz/fuzz/$$n -runs=$(or $(RUNS),20000) -max_total_time=$(or $(SECS),60) \
	    tests/fuzz/corpus/$$n 2>&1 | tail -n 3 || exit 1; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/insitu/layouts \
	  $(DESTDIR)$(PREFIX)/share/insitu/contrib
	install -m 755 $(BUILD)/insitu $(DESTDIR)$(PREFIX)/bin/insitu
	$(if $(SIM_SRC),install -m 755 $(BUILD)/insitu-sim $(DESTDIR)$(PREFIX)/bin/insitu-sim)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5
	$(if $(wildcard layouts/*),install -m 644 $(wildcard layouts/*) $(DESTDIR)$(PREFIX)/share/insitu/layouts)
	cp -R contrib/. $(DESTDIR)$(PREFIX)/share/insitu/contrib/

clean:
	rm -rf build build-asan build-fuzz insitu insitu-sim

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
endif
