/* fuzz_load — libFuzzer target for the definition loader: any bytes go
 * through asl_load, which must either return a machine or a list of
 * diagnostics, never crash, leak or read past the buffer (the bytes are
 * not NUL terminated on purpose). Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "asl/asl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    asl_diags diags = {0};
    struct asl_machine *m = asl_load((const char *)data, size, &diags);
    if (!m) {
        /* The message is what users see: build it too, so its formatting
         * is fuzzed along with the checks that produced it. */
        char *msg = asl_diags_message(&diags);
        free(msg);
    }
    asl_machine_free(m);
    asl_diags_free(&diags);
    return 0;
}
