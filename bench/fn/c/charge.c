/* Charge (fn-order bench), in C: the event plus payment_id = "pay-" +
 * order.id and charged = true (replacing members of those names).
 * shared/bench/handlers.mjs semantics. */
#include <stdlib.h>

#include <stepd/runtime.h>

#include "minijson.h"

static mj_buf buf;

static int handle(const char *event, size_t len, const stepd_context *ctx, stepd_response *out)
{
    (void)ctx;
    const char *e = event + len, *o, *oe, *id, *ide;
    if (!mj_get(event, e, "order", &o, &oe) || !mj_get(o, oe, "id", &id, &ide) ||
        !(*id == '"' || *id == '-' || (*id >= '0' && *id <= '9')))
        return stepd_response_set_error(out, "TypeError", "the event has no order.id (a string or a number)");
    static const char *const drop[] = {"payment_id", "charged", NULL};
    buf.len = 0;
    mj_puts(&buf, "{");
    int n = mj_copy_members(&buf, mj_ws(event, e), e, 0, drop);
    if (n < 0)
        return stepd_response_set_error(out, "TypeError", "the event is not a JSON object");
    mj_puts(&buf, n ? ",\"payment_id\":\"pay-" : "\"payment_id\":\"pay-");
    if (*id == '"')
        mj_put(&buf, id + 1, (size_t)(ide - id - 2)); /* the raw string: escapes stay valid */
    else
        mj_put(&buf, id, (size_t)(ide - id));
    mj_puts(&buf, "\",\"charged\":true}");
    if (buf.oom)
        return -1;
    return stepd_response_setn(out, buf.p, buf.len);
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
