/* stepd/aws.h — calling an AWS JSON API (DynamoDB, Step Functions, ...)
 * from a C Lambda function, as the SDKs do for other languages: the
 * request is signed with Signature Version 4 using the credentials Lambda
 * puts in the environment, and sent to the service's endpoint.
 *
 *     #include <stepd/aws.h>
 *
 *     stepd_aws_answer a;
 *     if (stepd_aws_json("dynamodb", "DynamoDB_20120810.PutItem",
 *                        "{\"TableName\":\"Orders\",\"Item\":{\"id\":{\"S\":\"o-1\"}}}", &a) < 0)
 *         fprintf(stderr, "PutItem: %d %s\n", a.status, a.body);
 *     stepd_aws_answer_free(&a);
 *
 * Part of libstepd-runtime.a, which still needs nothing beyond libc (the
 * SHA-256 and HMAC that SigV4 needs are the library's own). A function that
 * does not call this API does not link it. Thread-safe: the functions keep
 * no state between calls.
 */
#ifndef STEPD_AWS_H
#define STEPD_AWS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a call brought back. */
typedef struct stepd_aws_answer {
    int status;   /* the HTTP status (200 = success), or 0 when the request
                     could not be made or its answer not read */
    char *body;   /* status != 0: the answer's body (for AWS's errors, the
                     JSON document {"__type": "...#Code", "message": "..."});
                     status 0: one line saying what went wrong. Always
                     NUL-terminated and never NULL after a call (possibly
                     ""), malloc'd: free with stepd_aws_answer_free() */
    size_t len;   /* the length of body, without its NUL */
} stepd_aws_answer;

/* Sends one AWS JSON 1.0 request: POST / with
 *     Content-Type: application/x-amz-json-1.0
 *     X-Amz-Target: <target>          e.g. "DynamoDB_20120810.PutItem"
 * and `body` (JSON text; NULL means "{}"), signed with SigV4 (the header
 * form: Authorization, X-Amz-Date, and X-Amz-Security-Token when there is
 * a session token) for `service`, the signing name and endpoint prefix
 * ("dynamodb", "states", ...).
 *
 * Where it goes, first match wins:
 *   $AWS_ENDPOINT_URL_<SERVICE>  (SERVICE upper-cased, '-' -> '_', e.g.
 *                                 AWS_ENDPOINT_URL_DYNAMODB)
 *   $AWS_ENDPOINT_URL            (what stepd gives its functions)
 *   https://<service>.<region>.amazonaws.com
 * Only http:// endpoints are supported: an https:// one (the regional
 * default included) is refused with status 0 and a message saying so.
 * An endpoint URL may carry a port and a path ("http://127.0.0.1:8083").
 *
 * Region: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1.
 * Credentials: $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY (both required)
 * and $AWS_SESSION_TOKEN (optional), as Lambda sets them.
 *
 * One connection per call (Connection: close), with a 30 s limit on each
 * send and receive. `service`, `target` and `out` must not be NULL.
 * Returns 0 when the service answered 2xx, else -1; either way *out is
 * filled (see stepd_aws_answer) and must be freed. */
int stepd_aws_json(const char *service, const char *target, const char *body, stepd_aws_answer *out);

/* The error code of a failed call: the part of the answer's "__type" after
 * its last '#' ("ConditionalCheckFailedException"), copied into buf (at
 * most size bytes with the NUL). Without one, buf gets "RequestError" when
 * no answer came (status 0), else "ServiceException" for a status >= 500
 * and "ClientError" for the others. `a` and `buf` must not be NULL; size
 * 0 leaves buf as it is. Returns buf. */
const char *stepd_aws_error_code(const stepd_aws_answer *a, char *buf, size_t size);

/* Releases a->body and zeroes *a. a may be NULL; a zeroed answer is fine. */
void stepd_aws_answer_free(stepd_aws_answer *a);

#ifdef __cplusplus
}
#endif

#endif
