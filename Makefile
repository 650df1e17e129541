# ipc.h — build, test, fuzz, bench. `make help` lists the targets.
# Every target installs the Debian packages it needs when they are missing.

CC          ?= gcc
CLANG       ?= clang
PREFIX      ?= /usr/local
FUZZ_SECONDS ?= 60
SMOKE_SECONDS ?= 4
B           := build

WARN        := -Wall -Wextra -Wpedantic -Werror
UNIT_CFLAGS := -std=c11 -g -O1 $(WARN) -DIPC_TEST_HOOKS -I.
SAN         := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
PACKAGES    := clang libclang-rt-14-dev llvm afl++ bats bats-support bats-assert bats-file libcriterion-dev

TESTS       := $(wildcard tests/test_*.c)
HARNESSES   := $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
EXAMPLES    := $(basename $(notdir $(wildcard examples/*.c)))
BENCHES     := $(basename $(notdir $(wildcard bench/*.c)))

.PHONY: all help deps test unit tsan check quickstart replay fuzz-smoke bats fuzz fuzz-afl bench demo install fmt clean

all: $(EXAMPLES:%=$(B)/examples/%) $(B)/gcc/unit

help:
	@echo "make demo       run the example: framed messages between two processes"
	@echo "make test       every test: unit (gcc, clang, ASan+UBSan, TSan), header check, fuzz"
	@echo "                corpus replay, a short fuzz smoke, bats; ends 'N passed, N failed'"
	@echo "make check      ipc.h alone compiles clean: gcc/clang, c99/c11, two TUs, C++"
	@echo "make fuzz       each libFuzzer harness for FUZZ_SECONDS (default 60)"
	@echo "make fuzz-afl   the same harnesses under afl-fuzz; fails on any saved crash"
	@echo "make bench      codec throughput beside memcpy; the ring beside pipes, sockets and memcpy"
	@echo "make install    ipc.h to \$$(PREFIX)/include"
	@echo "make fmt        clang-format every C file"

# Installs what is missing, from Debian's packages.
deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

# ---- unit tests: one Criterion binary per compiler --------------------------
$(B)/gcc/unit: $(TESTS) tests/impl.c tests/helpers.h ipc.h | deps
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -o $@ $(TESTS) tests/impl.c -lcriterion -pthread
$(B)/clang/unit: $(TESTS) tests/impl.c tests/helpers.h ipc.h | deps
	@mkdir -p $(@D)
	$(CLANG) $(UNIT_CFLAGS) -o $@ $(TESTS) tests/impl.c -lcriterion -pthread
$(B)/asan/unit: $(TESTS) tests/impl.c tests/helpers.h ipc.h | deps
	@mkdir -p $(@D)
	$(CLANG) $(UNIT_CFLAGS) $(SAN) -o $@ $(TESTS) tests/impl.c -lcriterion -pthread

# ---- examples and benchmarks ------------------------------------------------
$(B)/examples/%: examples/%.c ipc.h $(wildcard examples/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 $(WARN) -I. -o $@ $< -pthread
$(B)/bench/%: bench/%.c ipc.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 $(WARN) -I. -o $@ $< -pthread

# ---- fuzz harnesses, three ways ---------------------------------------------
# replay: a plain main (fuzz/replay.c) feeding the corpus and past crashes.
# FUZZ_H: the headers the harnesses share (fuzz/fuzz_common.h, ...).
FUZZ_H      := $(wildcard fuzz/*.h)
$(B)/replay/%: fuzz/%.c fuzz/replay.c ipc.h $(FUZZ_H) | deps
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -g -O1 $(WARN) $(SAN) -I. -o $@ $< fuzz/replay.c
# UBSan must stop the run, as in replay, or libFuzzer never sees its finding.
$(B)/fuzz/%: fuzz/%.c ipc.h $(FUZZ_H) | deps
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -o $@ $<
$(B)/afl/%: fuzz/%.c ipc.h $(FUZZ_H) | deps
	@mkdir -p $(@D)
	AFL_QUIET=1 afl-clang-fast -std=c11 -g -O1 -fsanitize=fuzzer -I. -o $@ $<

# ---- make test --------------------------------------------------------------
STEP := tests/step.sh

test: deps
	@rm -rf $(B)/results && mkdir -p $(B)/results
	@$(MAKE) --no-print-directory -k unit tsan check quickstart replay fuzz-smoke bats || true
	@tests/summary.sh

unit: $(B)/gcc/unit $(B)/clang/unit $(B)/asan/unit
	@$(STEP) criterion unit-gcc $(B)/gcc/unit --jobs 2
	@$(STEP) criterion unit-clang $(B)/clang/unit --jobs 2
	@ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/lsan.supp $(STEP) criterion unit-asan $(B)/asan/unit --jobs 2

# ThreadSanitizer: threads stand in for processes around the shared ring.
TSAN_PROGS  := $(basename $(notdir $(wildcard tests/tsan_*.c)))
$(B)/tsan/%: tests/%.c ipc.h | deps
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -g -O1 $(WARN) -fsanitize=thread -I. -o $@ $< -pthread
tsan: $(TSAN_PROGS:%=$(B)/tsan/%)
	@for t in $(TSAN_PROGS); do TSAN_OPTIONS=halt_on_error=1 $(STEP) counts $$t $(B)/tsan/$$t; done

check: | deps
	@$(STEP) single check tests/check.sh

quickstart: | deps
	@mkdir -p $(B)
	@sed -n '/QUICKSTART-BEGIN/,/QUICKSTART-END/p' ipc.h | sed '1d;$$d' > $(B)/quickstart.c
	@$(STEP) single quickstart sh -c '$(CC) -std=c99 $(WARN) -I. -o $(B)/quickstart $(B)/quickstart.c && timeout 10 $(B)/quickstart'

replay: $(HARNESSES:%=$(B)/replay/%)
	@for h in $(HARNESSES); do \
	    $(STEP) counts replay-$$h $(B)/replay/$$h fuzz/corpus/$$h fuzz/regressions/$$h; done

fuzz-smoke: $(HARNESSES:%=$(B)/fuzz/%)
	@for h in $(HARNESSES); do \
	    rm -rf $(B)/fuzz/smoke-$$h && mkdir -p $(B)/fuzz/smoke-$$h && \
	    $(STEP) single smoke-$$h $(B)/fuzz/$$h -max_total_time=$(SMOKE_SECONDS) \
	        $$( [ -f fuzz/$$h.dict ] && echo -dict=fuzz/$$h.dict ) \
	        -artifact_prefix=$(B)/fuzz/smoke-$$h/ $(B)/fuzz/smoke-$$h fuzz/corpus/$$h; done

bats: $(EXAMPLES:%=$(B)/examples/%) | deps
	@IPC_BUILD=$(CURDIR)/$(B) $(STEP) tap bats bats --formatter tap bats/

# ---- long fuzzing -----------------------------------------------------------
# New inputs go to build/, crashes to fuzz/regressions/NAME/ (commit them:
# make test replays them forever).
# make's shell is /bin/sh (dash here): no PIPESTATUS, so the exit status is
# taken before the log is filtered. Every harness runs even after a finding.
fuzz: $(HARNESSES:%=$(B)/fuzz/%)
	@fail=0; for h in $(HARNESSES); do \
	    mkdir -p $(B)/fuzz/corpus-$$h fuzz/regressions/$$h; \
	    echo "== $$h ($(FUZZ_SECONDS) s)"; \
	    $(B)/fuzz/$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $$( [ -f fuzz/$$h.dict ] && echo -dict=fuzz/$$h.dict ) \
	        -artifact_prefix=fuzz/regressions/$$h/ $(B)/fuzz/corpus-$$h fuzz/corpus/$$h \
	        >$(B)/fuzz/$$h.log 2>&1; rc=$$?; \
	    grep -aE '^(Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY|.*CHECK failed)' $(B)/fuzz/$$h.log; \
	    [ $$rc -eq 0 ] || { echo "$$h: FOUND A CRASH (fuzz/regressions/$$h, log $(B)/fuzz/$$h.log)"; fail=1; }; \
	done; exit $$fail

# afl-fuzz exits 0 even when it saved crashes: count them ourselves.
# -t 1000+: a hang is a run over 1 s (AFL's own guess, 5x the calibrated
# time, calls a merely slow input of the I/O harness a hang); seeds that
# time out are skipped, as are seeds that crash (fuzz/regressions has those).
fuzz-afl: $(HARNESSES:%=$(B)/afl/%)
	@fail=0; for h in $(HARNESSES); do \
	    out=$(B)/afl/out-$$h; rm -rf $$out; \
	    echo "== $$h under afl-fuzz ($(FUZZ_SECONDS) s)"; \
	    AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	        afl-fuzz -i fuzz/corpus/$$h -o $$out -V $(FUZZ_SECONDS) -t 1000+ \
	        $$( [ -f fuzz/$$h.dict ] && echo -x fuzz/$$h.dict ) -- $(B)/afl/$$h >$$out.log 2>&1; \
	    execs=$$(awk -F: '/^execs_done/ {gsub(/ /,"",$$2); print $$2}' $$out/default/fuzzer_stats 2>/dev/null); \
	    crashes=$$(ls $$out/default/crashes 2>/dev/null | grep -c '^id' || true); \
	    hangs=$$(ls $$out/default/hangs 2>/dev/null | grep -c '^id' || true); \
	    echo "$$h: $${execs:-0} execs, $$crashes crashes, $$hangs hangs"; \
	    if [ -z "$$execs" ]; then echo "$$h: afl-fuzz did not run, see $$out.log"; fail=1; fi; \
	    if [ "$$crashes" -gt 0 ] || [ "$$hangs" -gt 0 ]; then \
	        mkdir -p fuzz/regressions/$$h; \
	        for f in $$out/default/crashes/id* $$out/default/hangs/id*; do \
	            [ -f "$$f" ] && cp "$$f" fuzz/regressions/$$h/afl-$$(sha1sum < "$$f" | cut -c1-16); done; \
	        fail=1; fi; \
	done; exit $$fail

# ---- the rest ---------------------------------------------------------------
bench: $(BENCHES:%=$(B)/bench/%)
	@for b in $(BENCHES); do $(B)/bench/$$b; done

demo: $(B)/examples/pipe_demo
	$(B)/examples/pipe_demo

install:
	install -d $(DESTDIR)$(PREFIX)/include
	install -m 644 ipc.h $(DESTDIR)$(PREFIX)/include/ipc.h

fmt:
	clang-format -i ipc.h $(wildcard tests/*.c tests/*.h fuzz/*.c examples/*.c bench/*.c)

clean:
	rm -rf $(B)
