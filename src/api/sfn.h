/* sfn — the Step Functions API (AWS JSON 1.0, X-Amz-Target
 * AWSStepFunctions.*): each operation checks its request the way AWS does
 * (required members, types, names, ARNs, limits), calls the scheduler, and
 * answers in AWS's shapes (epoch-second dates, members left out until they
 * apply) and error codes. */
#ifndef STEPD_API_SFN_H
#define STEPD_API_SFN_H

#include "http/http.h"
#include "sched/sched.h"

#define API_SFN_PREFIX "AWSStepFunctions"

/* The http_json_fn of the service; ud is the sched. */
void api_sfn_handle(void *ud, const http_request *req, const char *op, json_t *body,
                    http_response *resp);

/* AWS's name rule (1-80 characters; no whitespace, control characters,
 * brackets, wildcards or the punctuation AWS lists). */
int api_sfn_name_ok(const char *name);

#endif
