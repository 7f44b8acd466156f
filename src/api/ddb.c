/* ddb — see ddb.h. */
#include "api/ddb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/ops.h"

/* Sets the body and its CRC32 header (botocore checks it when present). */
static void answer(http_response *resp, int status, json_t *v)
{
    size_t len;
    char *text = val_dump(v, &len);
    resp->status = status;
    http_resp_body_take(resp, text, len);
    char crc[16];
    snprintf(crc, sizeof crc, "%u", ddb_crc32(text, len));
    http_resp_header(resp, "x-amz-crc32", crc);
}

/* DynamoDB's error shape: the code with its namespace, as DynamoDB (and
 * moto) send it; botocore keeps what follows '#'. */
static void fail(http_response *resp, const val_err *err, json_t *extra)
{
    const char *code = err->name ? err->name : "InternalServerError";
    int server = err->kind == VAL_ERR_STORE || strcmp(code, "InternalServerError") == 0;
    const char *ns = strcmp(code, "ValidationException") == 0 ? "com.amazon.coral.validate#"
                     : strcmp(code, "UnknownOperationException") == 0 ? "com.amazon.coral.service#"
                                                                        : "com.amazonaws.dynamodb.v20120810#";
    char type[200];
    snprintf(type, sizeof type, "%s%s", ns, code);
    json_t *o = json_object();
    val_obj_set_take(o, "__type", json_string(type));
    /* TransactionCanceledException carries "Message" (its model says so) */
    val_obj_set_take(o, strcmp(code, "TransactionCanceledException") == 0 ? "Message" : "message",
                     json_string(err->cause ? err->cause : ""));
    if (extra)
        json_object_update(o, extra);
    answer(resp, server ? 500 : 400, o);
    json_decref(o);
}

void api_ddb_handle(void *ud, const http_request *req, const char *op, json_t *body, http_response *resp)
{
    (void)req;
    sched *s = ud;
    struct ddb_env env = {.region = sched_region(s), .account = sched_account(s), .now_ns = sched_now()};
    val_err err = {0};
    json_t *extra = NULL;
    store *st = sched_lock(s);
    json_t *r = ddb_call(st, op, body, &env, &extra, &err);
    sched_unlock(s);
    if (r)
        answer(resp, 200, r);
    else
        fail(resp, &err, extra);
    json_decref(r);
    json_decref(extra);
    val_err_clear(&err);
}
