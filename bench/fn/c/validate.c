/* Validate (fn-order bench), in C: order.amount must be a number > 0,
 * else the error ValidationError (the workflow's Catch matches it); the
 * answer is the event unchanged. shared/bench/handlers.mjs semantics. */
#include <stdlib.h>

#include <stepd/runtime.h>

#include "minijson.h"

static int handle(const char *event, size_t len, const stepd_context *ctx, stepd_response *out)
{
    (void)ctx;
    const char *e = event + len, *o, *oe, *a, *ae;
    if (mj_get(event, e, "order", &o, &oe) && mj_get(o, oe, "amount", &a, &ae) &&
        (*a == '-' || (*a >= '0' && *a <= '9')) && strtod(a, NULL) > 0)
        return stepd_response_setn(out, event, len);
    return stepd_response_set_error(out, "ValidationError", "order.amount must be > 0");
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
