/* ddb — see ddb.h. */
#include "api/ddb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/ops.h"

/* Sets the body and its CRC32 header (botocore checks it when present). */
static void answer_with(http_response *resp, int status, json_t *v)
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
    answer_with(resp, server ? 500 : 400, o);
    json_decref(o);
}

/* Where sched_ddb's answer goes: the handler's response while the handler
 * runs, else the parked request's deferred answer. */
struct ddb_reply {
    const http_request *req;
    http_response *resp; /* NULL once parked */
    http_defer *d;
};

static int park(void *ud)
{
    struct ddb_reply *r = ud;
    r->d = http_defer_begin(r->req);
    if (!r->d)
        return 0; /* called directly (tests, fuzzing): answered at once */
    r->resp = NULL;
    return 1;
}

static void replied(void *ud, json_t *answer, json_t *extra, const val_err *err)
{
    struct ddb_reply *r = ud;
    http_response parked = {.status = 200};
    http_response *resp = r->resp ? r->resp : &parked;
    if (answer)
        answer_with(resp, 200, answer);
    else
        fail(resp, err, extra);
    if (!r->resp)
        http_defer_finish(r->d, resp);
    free(r);
}

void api_ddb_handle(void *ud, const http_request *req, const char *op, json_t *body, http_response *resp)
{
    struct ddb_reply *r = malloc(sizeof *r);
    if (!r)
        abort();
    *r = (struct ddb_reply){.req = req, .resp = resp};
    sched_ddb(ud, op, body, replied, park, r); /* replied frees r */
}
