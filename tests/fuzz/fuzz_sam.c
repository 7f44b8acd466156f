/* fuzz_sam — libFuzzer target for the SAM template loader: any bytes go
 * through sam_load_text as a template (YAML or JSON), which must return a
 * plan or an error naming a place, never crash, leak, recurse without
 * bound or read past the buffer. Relative CodeUri / DefinitionUri paths
 * resolve against the working directory: make fuzz runs it from the
 * checkout, where tests/sam/ holds the fixtures' code. */
#include <stddef.h>
#include <stdint.h>

#include "sam/sam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    val_err err = {0};
    json_t *plan = sam_load_text((const char *)data, size, "tests/sam/fuzz.yaml", NULL, &err);
    json_decref(plan);
    val_err_clear(&err);
    return 0;
}
