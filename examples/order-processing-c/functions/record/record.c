/* Record, in C: the last step of the order workflow. Saves the order (id,
 * amount, payment id, time) in the DynamoDB table named by ORDERS_TABLE
 * with a PutItem request (stepd_aws_json: signed with SigV4 from the
 * function's credentials, sent to $AWS_ENDPOINT_URL), and returns the
 * order with "status": "RECORDED". The table's key is the order id, so
 * recording the same order again overwrites one item instead of adding one.
 * Built into this directory's `bootstrap` (see ../../README.md). */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <stepd/aws.h>
#include <stepd/runtime.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

static const char *table_name;

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

/* A JSON number as DynamoDB's N wants it: decimal text, the shortest that
 * reads back as the same double (42.5, not 42.500000000000000). */
static void number_text(json_t *n, char *buf, size_t size)
{
    if (json_is_integer(n)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
        return;
    }
    double v = json_real_value(n);
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static const char *str(json_t *order, const char *key)
{
    const char *s = json_string_value(json_object_get(order, key));
    return s ? s : "";
}

static int handle(const char *event, size_t len, const stepd_context *ctx, stepd_response *out)
{
    (void)ctx;
    json_t *order = json_loadb(event, len, 0, NULL);
    const char *id = json_string_value(json_object_get(order, "order_id"));
    json_t *amount = json_object_get(order, "amount");
    if (!id || !json_is_number(amount)) {
        json_decref(order);
        return stepd_response_set_error(out, "InvalidOrderError", "the order has no order_id or amount");
    }

    char amount_text[64], recorded_at[32];
    number_text(amount, amount_text, sizeof amount_text);
    time_t now = time(NULL);
    struct tm tm;
    strftime(recorded_at, sizeof recorded_at, "%Y-%m-%dT%H:%M:%S+00:00", gmtime_r(&now, &tm));

    json_t *request = json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
                                "TableName", table_name, "Item",
                                "id", "S", id,
                                "customer", "S", str(order, "customer"),
                                "amount", "N", amount_text,
                                "currency", "S", str(order, "currency"),
                                "payment_id", "S", str(order, "payment_id"),
                                "recorded_at", "S", recorded_at);
    char *body = request ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (!body) {
        json_decref(order);
        return -1;
    }
    stepd_aws_answer answer;
    int rc = stepd_aws_json("dynamodb", "DynamoDB_20120810.PutItem", body, &answer);
    free(body);
    if (rc < 0) {
        /* The service's error code (ResourceNotFoundException, ...) is the
         * step's Error, its answer the message. */
        char code[128];
        stepd_aws_error_code(&answer, code, sizeof code);
        rc = stepd_response_set_errorf(out, code, "PutItem into %s failed: %s", table_name, answer.body);
        stepd_aws_answer_free(&answer);
        json_decref(order);
        return rc;
    }
    stepd_aws_answer_free(&answer);
    printf("recorded order %s in %s\n", id, table_name);
    json_object_set_new(order, "status", json_string("RECORDED"));
    return respond(out, order);
}

int main(void)
{
    table_name = getenv("ORDERS_TABLE");
    if (!table_name || !*table_name) {
        stepd_init_error("Runtime.ConfigurationError", "ORDERS_TABLE is not set: the table's name comes from the template");
        return 1;
    }
    return stepd_run(handle) == 0 ? 0 : 1;
}
