# runtimes/c/rules.mk — the C runtime client and the C test functions.
# Included by the top Makefile after BUILD, CC, CPPFLAGS, CFLAGS and LDFLAGS
# are set (targets here expand $(BUILD) when read).
#   $(BUILD)/libstepd-runtime.a          runtimes/c/runtime.c (the Runtime API
#                                        loop) and aws.c (stepd_aws_json), libc only
#   $(BUILD)/functions/<name>/bootstrap  a function directory for SAM's
#                                        `Runtime: provided.al2023`
#   RUNTIME_FUNCTIONS                    those bootstraps, for `make test`

# Rules in this file must not become the default goal when it is included
# before `all`.
RUNTIME_C_GOAL := $(.DEFAULT_GOAL)

RUNTIME_C_OBJ := $(BUILD)/runtimes/c/runtime.o $(BUILD)/runtimes/c/aws.o
RUNTIME_C_LIB := $(BUILD)/libstepd-runtime.a

$(RUNTIME_C_LIB): $(RUNTIME_C_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

# Functions link the library and libc, nothing from $(LDLIBS).
$(BUILD)/functions/c-echo/bootstrap: tests/functions/c/echo.c $(RUNTIME_C_LIB)
$(BUILD)/functions/c-fail/bootstrap: tests/functions/c/fail.c $(RUNTIME_C_LIB)
$(BUILD)/functions/c-hello/bootstrap: examples/functions/c-hello/hello.c $(RUNTIME_C_LIB)
$(BUILD)/functions/c-echo/bootstrap $(BUILD)/functions/c-fail/bootstrap \
$(BUILD)/functions/c-hello/bootstrap: include/stepd/runtime.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(RUNTIME_C_LIB)

RUNTIME_FUNCTIONS := $(BUILD)/functions/c-echo/bootstrap $(BUILD)/functions/c-fail/bootstrap \
                     $(BUILD)/functions/c-hello/bootstrap

-include $(RUNTIME_C_OBJ:.o=.d)

.DEFAULT_GOAL := $(RUNTIME_C_GOAL)
