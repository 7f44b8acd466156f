/* Charge, in C: the second step of the order workflow. Simulates charging
 * the customer: the payment's id is derived from the order's ("pay-" +
 * order_id), so charging the same order twice gives the same payment.
 * Built into this directory's `bootstrap` (see ../../README.md). */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <stepd/runtime.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

static int respond(stepd_response *out, json_t *value)
{
    char *text = json_dumps(value, DUMP_FLAGS);
    json_decref(value);
    if (!text)
        return -1;
    int rc = stepd_response_set(out, text);
    free(text);
    return rc;
}

static int handle(const char *event, size_t len, const stepd_context *ctx, stepd_response *out)
{
    (void)ctx;
    json_t *order = json_loadb(event, len, 0, NULL);
    const char *id = json_string_value(json_object_get(order, "order_id"));
    if (!id) {
        json_decref(order);
        return stepd_response_set_error(out, "InvalidOrderError", "the order has no order_id");
    }
    json_t *payment_id = json_sprintf("pay-%s", id);
    if (!payment_id) {
        json_decref(order);
        return -1;
    }
    printf("charged order %s: %s\n", id, json_string_value(payment_id));
    json_object_set_new(order, "payment_id", payment_id);
    json_object_set_new(order, "charged", json_true());
    return respond(out, order);
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
