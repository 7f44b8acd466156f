/* client_http — one AWS JSON 1.0 call to a running `stepd serve` over
 * libcurl: POST the body to the endpoint with X-Amz-Target
 * AWSStepFunctions.<Operation>, and turn the answer into a value or an
 * error that names the AWS error code (or the endpoint that did not
 * answer). One connection is kept open across calls, so polling reuses it. */
#ifndef STEPD_CLI_CLIENT_HTTP_H
#define STEPD_CLI_CLIENT_HTTP_H

#include "json/val.h"

typedef struct cli_conn cli_conn;

/* Opens a client for endpoint (a URL such as http://127.0.0.1:8083; copied).
 * Calls curl_global_init the first time. Returns NULL only when libcurl
 * cannot start (out of memory). Free with cli_conn_free. */
cli_conn *cli_conn_new(const char *endpoint);

/* Closes the connection; NULL allowed. */
void cli_conn_free(cli_conn *c);

/* Calls AWSStepFunctions.<op> with body (borrowed); an op holding a dot
 * is a whole target ("DynamoDB_20120810.Scan"). Returns 0 with *out set
 * to the parsed answer (owned by the caller; {} for an empty body), or -1
 * with err set:
 *   - an AWS error answer: kind VAL_ERR_VALIDATION (4xx) or VAL_ERR_RUNTIME
 *     (5xx), name = the error code ("StateMachineAlreadyExists", without
 *     the "namespace#" prefix), cause = its message (may be empty);
 *   - no answer (cannot connect, timeout, not JSON): kind VAL_ERR_IO, name
 *     NULL, cause = a sentence naming the endpoint. */
int cli_call(cli_conn *c, const char *op, const json_t *body, json_t **out, val_err *err);

/* A rest-json or plain HTTP call (the Lambda API, stepd's own routes):
 * method and path on the endpoint, with extra "Name: value" headers
 * (NULL-terminated list, may be NULL) and a raw body. The answer,
 * whatever its status, is in *out (free with cli_rest_clear). Returns 0
 * when an answer came, -1 with err set (kind VAL_ERR_IO) when none did. */
struct cli_rest_resp {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    char *error_type;     /* x-amzn-ErrorType */
    char *function_error; /* X-Amz-Function-Error */
    char *log_result;     /* X-Amz-Log-Result (base64) */
    char *log_offset;     /* X-Stepd-Log-Offset */
};
int cli_rest(cli_conn *c, const char *method, const char *path, const char *const *headers, const char *body,
             size_t len, struct cli_rest_resp *out, val_err *err);
void cli_rest_clear(struct cli_rest_resp *r);
/* The error an answer carries (its status is not 2xx), as cli_call sets it. */
void cli_rest_error(const struct cli_rest_resp *r, val_err *err);

#endif
