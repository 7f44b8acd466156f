/* Validate, in C: the first step of the order workflow. An order must have
 * an order_id and an amount greater than 0; a valid order goes on with
 * "validated": true, an invalid one fails the step with the error
 * InvalidOrderError (the same as the Python version's).
 * Built into this directory's `bootstrap` (see ../../README.md). */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <stepd/runtime.h>

/* 15 significant digits: 19.99 stays 19.99 (jansson's default of 17 would
 * print 19.989999999999998). */
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

/* Sets `value` (taken) as the function's result. */
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
    if (!json_is_object(order)) {
        json_decref(order);
        return stepd_response_set_error(out, "InvalidOrderError", "the order must be a JSON object");
    }
    const char *id = json_string_value(json_object_get(order, "order_id"));
    json_t *amount = json_object_get(order, "amount");
    int rc;
    if (!id || !*id) {
        rc = stepd_response_set_error(out, "InvalidOrderError", "the order has no order_id");
    } else if (!json_is_number(amount)) {
        rc = stepd_response_set_errorf(out, "InvalidOrderError", "order %s: amount must be a number", id);
    } else if (!(json_number_value(amount) > 0)) {
        char *shown = json_dumps(amount, DUMP_FLAGS);
        rc = stepd_response_set_errorf(out, "InvalidOrderError",
                                       "order %s: amount must be greater than 0, got %s", id,
                                       shown ? shown : "?");
        free(shown);
    } else {
        printf("order %s is valid: %g\n", id, json_number_value(amount));
        json_object_set_new(order, "validated", json_true());
        return respond(out, order);
    }
    json_decref(order);
    return rc;
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
