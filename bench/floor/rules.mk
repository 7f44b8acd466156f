# bench/floor/rules.mk — the Runtime API floor: a trivial responder, a bare
# client, and the C runtime client (runtimes/c) driven by the same
# responder. Include after runtimes/c/rules.mk; `bench/floor/run.sh BUILD`
# runs them (it builds nothing).

FLOOR_C_GOAL := $(.DEFAULT_GOAL)

FLOOR_BINS := $(BUILD)/bench/floor-responder $(BUILD)/bench/floor-client $(BUILD)/bench/floor-crt

$(BUILD)/bench/floor-responder: bench/floor/responder.c
$(BUILD)/bench/floor-client: bench/floor/client.c
$(BUILD)/bench/floor-crt: bench/floor/crt.c $(RUNTIME_C_LIB) include/stepd/runtime.h
$(FLOOR_BINS): bench/floor/floor.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^)

.PHONY: bench-floor
bench-floor: $(FLOOR_BINS)
	@bash bench/floor/run.sh $(BUILD)

.DEFAULT_GOAL := $(FLOOR_C_GOAL)
