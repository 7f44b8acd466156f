/* fuzz_api — libFuzzer target for the Step Functions and DynamoDB API
 * handlers: the input is "Operation\nbody" ("DynamoDB_20120810.PutItem\n..."
 * for DynamoDB), the body handed to api_sfn_handle or api_ddb_handle as
 * the HTTP layer would (any JSON object). A table "fz" (keys id S, n N)
 * holds an item. The handlers run against a scheduler
 * over a :memory: store that already holds a machine, a running execution
 * waiting for a callback, and a finished one, so that lookups, stops and
 * callbacks reach real state; the loop thread is not started (executions
 * started here stay queued; stops and callbacks run their turn inline).
 * Every answer must be a status 200-599 with a JSON body; nothing may
 * crash or leak. StartSyncExecution is left out: it parks an HTTP
 * connection. Built and run by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/ddb.h"
#include "api/sfn.h"
#include "sched/sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store *st;
static sched *sc;

#define DDB API_DDB_PREFIX "."

/* One request to the handler its operation names. */
static void handle(const char *op, const http_request *req, json_t *b, http_response *resp)
{
    if (strncmp(op, DDB, strlen(DDB)) == 0)
        api_ddb_handle(sc, req, op + strlen(DDB), b, resp);
    else
        api_sfn_handle(sc, req, op, b, resp);
}

static void call(const char *op, const char *body)
{
    json_t *b = json_loads(body, 0, NULL);
    http_request req = {.method = "POST", .path = "/", .raw_path = "/", .query = "", .body = body,
                        .body_len = strlen(body), .request_id = "fuzz"};
    http_response resp = {.status = 200};
    if (json_is_object(b))
        handle(op, &req, b, &resp);
    json_decref(b);
    http_resp_clear(&resp);
}

static void setup(void)
{
    val_err err = {0};
    st = store_sqlite_open(":memory:", &err);
    struct sched_opts o = {.quiet = 1};
    sc = st ? sched_new(st, &o, &err) : NULL;
    if (!sc)
        abort();
    call("CreateStateMachine",
         "{\"name\":\"m\",\"roleArn\":\"arn:aws:iam::123456789012:role/r\",\"definition\":"
         "\"{\\\"StartAt\\\":\\\"T\\\",\\\"States\\\":{\\\"T\\\":{\\\"Type\\\":\\\"Task\\\","
         "\\\"Resource\\\":\\\"arn:aws:states:::sqs:sendMessage.waitForTaskToken\\\","
         "\\\"Parameters\\\":{\\\"t.$\\\":\\\"$$.Task.Token\\\"},\\\"End\\\":true}}}\"}");
    call("StartExecution", "{\"stateMachineArn\":\"arn:aws:states:us-east-1:123456789012:stateMachine:m\","
                           "\"name\":\"e1\",\"input\":\"{}\"}");
    call("StartExecution", "{\"stateMachineArn\":\"arn:aws:states:us-east-1:123456789012:stateMachine:m\","
                           "\"name\":\"e2\",\"input\":\"{}\"}");
    call("StopExecution", "{\"executionArn\":\"arn:aws:states:us-east-1:123456789012:execution:m:e2\"}");
    call(DDB "CreateTable", "{\"TableName\":\"fz\",\"BillingMode\":\"PAY_PER_REQUEST\",\"KeySchema\":["
                            "{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"n\","
                            "\"KeyType\":\"RANGE\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"id\","
                            "\"AttributeType\":\"S\"},{\"AttributeName\":\"n\",\"AttributeType\":\"N\"}]}");
    call(DDB "PutItem", "{\"TableName\":\"fz\",\"Item\":{\"id\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"},"
                        "\"l\":{\"L\":[{\"N\":\"2\"},{\"M\":{\"x\":{\"SS\":[\"p\"]}}}]}}}");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sc)
        setup();
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || nl == data || (size_t)(nl - data) > 64)
        return 0;
    char op[65];
    memcpy(op, data, (size_t)(nl - data));
    op[nl - data] = 0;
    if (strcmp(op, "StartSyncExecution") == 0)
        return 0;
    size_t blen = size - (size_t)(nl - data) - 1;
    char *body = malloc(blen + 1);
    memcpy(body, nl + 1, blen);
    body[blen] = 0;
    json_t *b = json_loadb(body, blen, 0, NULL);
    if (json_is_object(b)) {
        http_request req = {.method = "POST", .path = "/", .raw_path = "/", .query = "", .body = body,
                            .body_len = blen, .request_id = "fuzz"};
        http_response resp = {.status = 200};
        handle(op, &req, b, &resp);
        if (resp.status < 200 || resp.status > 599)
            abort();
        if (resp.body) {
            json_t *out = json_loadb(resp.body, resp.body_len, 0, NULL);
            if (!json_is_object(out))
                abort();
            json_decref(out);
        }
        http_resp_clear(&resp);
    }
    json_decref(b);
    free(body);
    return 0;
}
