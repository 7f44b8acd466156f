/* c-echo — a test function for the C runtime client: answers each
 * invocation with its event, byte for byte (`null` for an empty payload,
 * which is not JSON). */
#include <stepd/runtime.h>

static int handle(const char *event, size_t len, const stepd_context *ctx,
                  stepd_response *out)
{
    (void)ctx;
    return len ? stepd_response_setn(out, event, len) : stepd_response_set(out, "null");
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
