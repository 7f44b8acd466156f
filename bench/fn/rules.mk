# bench/fn/rules.mk — the functions of the fn-invoke and fn-order benches
# (bench/fn.sh). Include after runtimes/c/rules.mk (it uses RUNTIME_C_LIB).
#   $(BUILD)/bench/fn/c/{validate,charge,record}/bootstrap
#                          the order workflow's functions in C (bench/fn/c/),
#                          against libstepd-runtime.a and libc only
#   $(BUILD)/bench/fn/c/identity/bootstrap
#                          a copy of $(BUILD)/functions/c-echo/bootstrap
#                          (the C identity function), in a CodeUri directory
#                          of its own
#   FN_BENCH_BINS          all of them, for `make bench`

FN_BENCH_GOAL := $(.DEFAULT_GOAL)

FN_BENCH_ORDER := $(BUILD)/bench/fn/c/validate/bootstrap $(BUILD)/bench/fn/c/charge/bootstrap \
                  $(BUILD)/bench/fn/c/record/bootstrap
FN_BENCH_BINS := $(FN_BENCH_ORDER) $(BUILD)/bench/fn/c/identity/bootstrap

$(BUILD)/bench/fn/c/%/bootstrap: bench/fn/c/%.c bench/fn/c/minijson.h include/stepd/runtime.h $(RUNTIME_C_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(RUNTIME_C_LIB)

$(BUILD)/bench/fn/c/identity/bootstrap: $(BUILD)/functions/c-echo/bootstrap
	@mkdir -p $(@D)
	cp $< $@

.PHONY: bench-fn-bins
bench-fn-bins: $(FN_BENCH_BINS)

.DEFAULT_GOAL := $(FN_BENCH_GOAL)
