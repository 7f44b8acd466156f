# stepd — GNU Makefile. pkg-config finds every dependency.
#   make            build build/stepd
#   make test       build, unit tests, data-driven cases (tests/cases),
#                   integration tests of `stepd serve` (tests/integration)
#   make asan       the same suites under AddressSanitizer + UBSan
#   make conformance  the AWS-recorded corpus in ../shared/conformance
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS (60) each
#   make bench      side-by-side benchmarks against the peers (not in CI)
#   make deps       install the Debian packages the build and tests need
#   make demo       deps, build, run the order workflow (examples/order-processing)
#   make build-all / asan-build   build what test / asan run (for make -j)

PKGS     := jansson sqlite3 libmicrohttpd libcrypto libcurl libzstd libfyaml
CC       ?= gcc
BUILD    ?= build
OPT      ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
ifdef CI
WARN     += -Werror
endif
CPPFLAGS += -D_GNU_SOURCE -Isrc -Iinclude
CFLAGS   += $(OPT) $(WARN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

LIB_SRC  := $(wildcard src/json/*.c src/asl/*.c src/engine/*.c src/store/*.c src/http/*.c src/sched/*.c src/fn/*.c src/ddb/*.c src/sam/*.c src/api/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

include runtimes/c/rules.mk
include examples/order-processing-c/rules.mk
include bench/floor/rules.mk
include bench/fn/rules.mk

.PHONY: all test unit cases integration conformance conformance-fn asan build-all asan-build fuzz fuzz-bins bench deps demo demo-run clean
all: $(BUILD)/stepd

$(BUILD)/libstepd.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/stepd: $(CLI_OBJ) $(BUILD)/libstepd.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libstepd.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libstepd.a $(LDLIBS)

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

cases: $(BUILD)/stepd
	python3 tests/run-cases.py --stepd $(BUILD)/stepd tests/cases

# `stepd serve` driven by the aws CLI, boto3, the stepd client commands and
# raw HTTP; crash recovery under SIGKILL (tests/integration/).
integration: $(BUILD)/stepd $(RUNTIME_FUNCTIONS)
	python3 tests/integration/run.py --stepd $(BUILD)/stepd

CONFORMANCE ?= ../shared/conformance
conformance: $(BUILD)/stepd
	python3 $(CONFORMANCE)/check.py --needs pure --without jsonata --history --jobs 2 --quiet \
	  --baseline tests/conformance-baseline \
	  --engine "$(BUILD)/stepd run --no-wait --history --type {type} --definition {definition} --input {input}"

# The corpus cases that call functions: tests/conformance/fn_case.py turns
# each case's described functions into a SAM template with our own Python
# code and runs it with `stepd run TEMPLATE` (real workers).
conformance-fn: $(BUILD)/stepd
	python3 $(CONFORMANCE)/check.py --needs pure --needs lambda --needing lambda --without jsonata \
	  --history --jobs 2 --quiet --baseline tests/conformance-fn-baseline \
	  --engine "python3 tests/conformance/fn_case.py --stepd $(BUILD)/stepd --case {case} --definition {definition} --input {input}"

# `make test` works on a fresh machine too: the packages first (quiet when
# nothing is missing), then the build and the suites.
test:
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory all $(RUNTIME_FUNCTIONS) unit cases integration

ASAN_MAKE = $(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined"
asan:
	+$(ASAN_MAKE) test

# Everything `test` runs, built only: `make -j2 build-all` (or asan-build)
# uses both cores, and the suites then run one at a time (CI does this).
build-all: all $(UNIT_BIN) $(RUNTIME_FUNCTIONS)
asan-build:
	+$(ASAN_MAKE) build-all

# libFuzzer targets: the library is rebuilt with clang and the fuzzer's
# coverage hooks into build/fuzz/ (a recursive make, as asan does), each
# tests/fuzz/fuzz_*.c is linked against it, and tools/fuzz.sh runs them.
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
fuzz:
	@sh tools/deps.sh
	$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang \
	  OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tools/fuzz.sh $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

fuzz-bins: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/%)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libstepd.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libstepd.a $(LDLIBS)

# Workloads, the peer (aws-local-stepfunctions, installed with npm into
# bench/peers/) and the side-by-side table. Not run in CI.
bench:
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory all $(FLOOR_BINS) $(FN_BENCH_BINS)
	@BUILD=$(BUILD) STEPD=$(BUILD)/stepd bash bench/run.sh

# The seed's order workflow (examples/order-processing: Validate -> Charge ->
# Record into a DynamoDB table), from a fresh machine: packages, build, then
# `stepd run TEMPLATE` with a good order (its states, its output, the item it
# recorded) and a bad one, which fails at Validate as it should (so the demo
# still succeeds). `make demo-run` is the runs alone. DEMO_SHOW prints
# stepd run's JSON for a reader.
DEMO_APP := examples/order-processing
DEMO_RUN := $(BUILD)/stepd run $(DEMO_APP)/template.yaml --quiet --progress
DEMO_SHOW = python3 -c 'import json, sys; r = json.load(sys.stdin); \
  cause = r.get("cause") or ""; \
  why = json.loads(cause).get("errorMessage", cause) if cause.startswith("{") else cause; \
  print("status:", r["status"]); \
  r["output"] is not None and print("output:", json.dumps(r["output"], indent=2)); \
  r["error"] and print("error: ", r["error"]) is None and print("cause: ", why); \
  [print("table %s:" % name + "".join("\n  " + json.dumps(i) for i in items)) for name, items in r.get("tables", {}).items()]'
demo:
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory demo-run

# The demo's runs alone (tests/integration/test_readme.py runs them too).
demo-run:
	@echo; echo "== stepd demo: the order workflow of $(DEMO_APP)/ (Validate -> Charge -> Record) =="
	@echo; echo "-- a good order: $$(tr -s ' \n' ' ' < $(DEMO_APP)/events/order.json)"
	@echo "\$$ $(DEMO_RUN) --input $(DEMO_APP)/events/order.json --show-tables"
	@$(DEMO_RUN) --input $(DEMO_APP)/events/order.json --show-tables > $(BUILD)/demo-order.json; \
	  rc=$$?; $(DEMO_SHOW) < $(BUILD)/demo-order.json && exit $$rc
	@echo; echo "-- a bad order, which Validate rejects: $$(tr -s ' \n' ' ' < $(DEMO_APP)/events/bad-order.json)"
	@echo "\$$ $(DEMO_RUN) --input $(DEMO_APP)/events/bad-order.json"
	@$(DEMO_RUN) --input $(DEMO_APP)/events/bad-order.json > $(BUILD)/demo-bad-order.json; \
	  rc=$$?; $(DEMO_SHOW) < $(BUILD)/demo-bad-order.json && test $$rc -eq 1
	@echo; echo "The same application with its functions in C: examples/order-processing-c/ (see its README.md)."

deps:
	@sh tools/deps.sh

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
