/* floor-crt — the C runtime client (libstepd-runtime.a) as the floor's
 * worker: an identity handler under stepd_run(), so the difference from
 * floor-client is the library's own cost. The server is
 * $AWS_LAMBDA_RUNTIME_API; it runs until the server goes away. */
#include <stepd/runtime.h>

static int identity(const char *event, size_t len, const stepd_context *ctx,
                    stepd_response *out)
{
    (void)ctx;
    return stepd_response_setn(out, event, len);
}

int main(void)
{
    return stepd_run(identity) == 0 ? 0 : 1;
}
