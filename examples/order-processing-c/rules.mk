# examples/order-processing-c/rules.mk — builds the C example's functions
# where its template's CodeUri looks for them: each function directory's
# `bootstrap`, from the .c file beside it, against libstepd-runtime.a and a
# static jansson (so the executable needs nothing but libc, as on
# provided.al2023). Included by the top Makefile after runtimes/c/rules.mk;
# `make`, `make test` and `make demo` build them, `make clean` removes
# them. The bootstraps are git-ignored.
#   ORDER_C_FUNCTIONS   the three bootstraps

ORDER_C_GOAL := $(.DEFAULT_GOAL)

ORDER_C_DIR := examples/order-processing-c/functions
ORDER_C_FUNCTIONS := $(ORDER_C_DIR)/validate/bootstrap $(ORDER_C_DIR)/charge/bootstrap \
                     $(ORDER_C_DIR)/record/bootstrap
ORDER_C_JANSSON := -Wl,-Bstatic $(shell pkg-config --libs jansson 2>/dev/null) -Wl,-Bdynamic

$(ORDER_C_DIR)/validate/bootstrap: $(ORDER_C_DIR)/validate/validate.c
$(ORDER_C_DIR)/charge/bootstrap: $(ORDER_C_DIR)/charge/charge.c
$(ORDER_C_DIR)/record/bootstrap: $(ORDER_C_DIR)/record/record.c include/stepd/aws.h
$(ORDER_C_FUNCTIONS): include/stepd/runtime.h $(RUNTIME_C_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(RUNTIME_C_LIB) $(ORDER_C_JANSSON)

all: $(ORDER_C_FUNCTIONS)
RUNTIME_FUNCTIONS += $(ORDER_C_FUNCTIONS)

.PHONY: clean-order-processing-c
clean: clean-order-processing-c
clean-order-processing-c:
	rm -f $(ORDER_C_FUNCTIONS)

.DEFAULT_GOAL := $(ORDER_C_GOAL)
