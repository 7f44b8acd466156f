/* ddb — the DynamoDB API (AWS JSON 1.0, X-Amz-Target DynamoDB_20120810.*)
 * over src/ddb: the request is handed to ddb_call with the store locked,
 * the answer or DynamoDB's error shape goes back with the x-amz-crc32 of
 * its exact bytes, as DynamoDB sends it. */
#ifndef STEPD_API_DDB_H
#define STEPD_API_DDB_H

#include "http/http.h"
#include "sched/sched.h"

#define API_DDB_PREFIX "DynamoDB_20120810"
/* DynamoDB's request size limit: a batch of 25 items of 400 KB fits. */
#define API_DDB_MAX_BODY (16 * 1024 * 1024)

/* The http_json_fn of the service; ud is the sched (its store and lock). */
void api_ddb_handle(void *ud, const http_request *req, const char *op, json_t *body, http_response *resp);

#endif
