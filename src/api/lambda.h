/* lambda — the Lambda API (rest-json: Invoke, GetFunction,
 * GetFunctionConfiguration, ListFunctions) and stepd's own routes beside it
 * (/stepd/deploy, /stepd/functions/NAME/logs, /stepd/stats), served as
 * the HTTP fallback of `stepd serve`. And the deploy itself: a plan made
 * by src/sam becomes functions, state machines and recorded tables. */
#ifndef STEPD_API_LAMBDA_H
#define STEPD_API_LAMBDA_H

#include "fn/fn.h"
#include "http/http.h"
#include "sched/sched.h"

struct api_lambda {
    sched *s;
    fn_pool *fn;
    const char *region, *account;
};

/* The http_path_fn for every request that is not AWS JSON 1.0; ud is a
 * struct api_lambda. */
void api_lambda_handle(void *ud, const http_request *req, http_response *resp);

/* Starts the HTTP server with every API stepd serves on it: Step Functions
 * (AWS JSON 1.0), the Lambda API and stepd's own routes (the fallback,
 * with Lambda's 6 MB payloads). a must outlive the server. */
http_server *api_serve(const char *host, int port, struct api_lambda *a, val_err *err);

/* Applies a deploy plan (sam.h's shape): functions are created or
 * replaced in the pool and kept in the store (a restart runs them
 * again), state machines created or updated (a changed type replaces the
 * machine, as CloudFormation does), tables recorded. Returns a report (a
 * new reference): {"functions"|"state_machines"|"tables": [{"logical_id",
 * "name", "arn", "action": "created"|"updated"|"unchanged"|"replaced"|
 * "recorded"}], "outputs", "warnings"}; NULL with err set when something
 * in the plan is refused (what came before it stays deployed). */
json_t *api_deploy(struct api_lambda *a, json_t *plan, val_err *err);

/* Registers the functions a store holds (the ones deployed before a
 * restart) with the pool; call it before the scheduler recovers, so that
 * recovered tasks find their functions. Returns how many, or -1 with err
 * set. */
int api_functions_restore(store *st, fn_pool *fn, val_err *err);

#endif
