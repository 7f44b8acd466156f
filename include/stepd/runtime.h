/* stepd/runtime.h — the C runtime client for AWS Lambda's Runtime API.
 *
 * A C Lambda function is a program named `bootstrap` (SAM `Runtime:
 * provided.al2023`, `Handler: bootstrap`) whose main() hands one handler to
 * stepd_run(). The library speaks the Runtime API 2018-06-01 to the server
 * named by AWS_LAMBDA_RUNTIME_API, so the same binary runs under stepd and
 * on AWS Lambda. It needs nothing beyond libc: link libstepd-runtime.a.
 *
 *     #include <stepd/runtime.h>
 *
 *     static int handle(const char *event, size_t len,
 *                       const stepd_context *ctx, stepd_response *out)
 *     {
 *         (void)ctx;
 *         return stepd_response_setn(out, event, len);   // echo the event
 *     }
 *
 *     int main(void) { return stepd_run(handle) == 0 ? 0 : 1; }
 *
 * To call AWS APIs from a handler (DynamoDB's PutItem, ...), see
 * <stepd/aws.h>: stepd_aws_json() in the same library.
 *
 * Threads: the library keeps one connection and one set of buffers per
 * process. Call stepd_run() and stepd_init_error() from one thread; the
 * handler may start threads of its own, but must not call this API from
 * them.
 */
#ifndef STEPD_RUNTIME_H
#define STEPD_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the handler knows about the invocation it is serving. Passed
 * read-only to the handler; every string is owned by the library and valid
 * until the handler returns (copy what you keep). Strings are never NULL
 * unless their comment says so; a field the server or the environment did
 * not provide is "". */
typedef struct stepd_context {
    const char *request_id;           /* Lambda-Runtime-Aws-Request-Id: printable
                                         ASCII without blanks, quotes, backslashes,
                                         '/', '?', '#' or '%' (checked), so it can
                                         go into JSON text or a URL as is */
    const char *invoked_function_arn; /* Lambda-Runtime-Invoked-Function-Arn */
    const char *function_name;        /* $AWS_LAMBDA_FUNCTION_NAME */
    const char *function_version;     /* $AWS_LAMBDA_FUNCTION_VERSION, e.g. "$LATEST" */
    int memory_limit_in_mb;           /* $AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 0 when unset */
    const char *log_group_name;       /* $AWS_LAMBDA_LOG_GROUP_NAME */
    const char *log_stream_name;      /* $AWS_LAMBDA_LOG_STREAM_NAME */
    const char *trace_id;             /* Lambda-Runtime-Trace-Id, also exported as
                                         $_X_AMZN_TRACE_ID; NULL when not sent */
    const char *client_context;       /* Lambda-Runtime-Client-Context, JSON text
                                         as received; NULL when not sent */
    const char *cognito_identity;     /* Lambda-Runtime-Cognito-Identity, JSON text
                                         as received; NULL when not sent */
    int64_t deadline_ms;              /* Lambda-Runtime-Deadline-Ms: the time the
                                         invocation is cut off, in ms since the
                                         Unix epoch; 0 when not sent */
} stepd_context;

/* Milliseconds left before the invocation's deadline, never below 0 (the
 * `getRemainingTimeInMillis()` of the other runtimes). Reads the realtime
 * clock. `ctx` must not be NULL. Returns INT64_MAX when the server sent no
 * deadline. */
int64_t stepd_remaining_ms(const stepd_context *ctx);

/* The handler's answer, owned by the library. The handler fills it with one
 * of the setters below; a later call replaces an earlier one. */
typedef struct stepd_response stepd_response;

/* Sets the result: `json` is JSON text (an object, a string, a number...),
 * sent as the body of POST /invocation/{id}/response exactly as given, so it
 * must be valid JSON. The bytes are copied; the caller keeps ownership of
 * `json`. stepd_response_set() takes a NUL-terminated string,
 * stepd_response_setn() the `len` bytes at `json` (no NUL needed). `json`
 * NULL is treated as "null".
 * Returns 0, or -1 when memory ran out (the response is then left empty). */
int stepd_response_set(stepd_response *out, const char *json);
int stepd_response_setn(stepd_response *out, const char *json, size_t len);

/* Makes the invocation fail: the library sends
 *     {"errorMessage":<message>,"errorType":<type>,"stackTrace":[]}
 * to POST /invocation/{id}/error with the header
 * `Lambda-Runtime-Function-Error-Type: <type>`. In a state machine, `type`
 * is the Error that Retry and Catch match (e.g. "OrderRejected"), and the
 * document above is the Cause. Both are plain text, JSON-escaped here
 * (bytes that are not UTF-8 become U+FFFD; control characters in the header
 * copy of `type` become '_'). NULL `type` means "Unhandled", NULL `message`
 * means "". Both are copied. Returns 0, or -1 when memory ran out.
 * stepd_response_set_errorf() formats the message as printf(3) does. */
int stepd_response_set_error(stepd_response *out, const char *type, const char *message);
int stepd_response_set_errorf(stepd_response *out, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The handler. Called once per invocation with
 *   event  the raw request body (the invocation's payload, normally JSON),
 *          NUL-terminated at event[len] for convenience; owned by the
 *          library, valid until the handler returns;
 *   len    its length in bytes, without the NUL;
 *   ctx    the invocation's context, read-only, valid until return;
 *   out    where the handler puts its answer (see the setters above).
 * What is sent:
 *   - an error, if the handler set one (whatever it returns);
 *   - otherwise, when it returns nonzero, an error of type "HandlerError"
 *     with the message "handler returned <n>";
 *   - otherwise the result it set, or `null` when it set none.
 * The handler may write to stdout and stderr: stdout is line-buffered (and
 * flushed after each invocation), so each line reaches the logs as written.
 * A handler that crashes or calls exit() ends the worker; the server then
 * reports the invocation as failed. */
typedef int stepd_handler(const char *event, size_t len, const stepd_context *ctx,
                          stepd_response *out);

/* The runtime loop: forever, GET /2018-06-01/runtime/invocation/next, call
 * `handler`, then POST the result to /invocation/{id}/response or the error
 * to /invocation/{id}/error. Before each call $_X_AMZN_TRACE_ID is set from
 * Lambda-Runtime-Trace-Id (removed when the server sent none).
 *
 * The server is $AWS_LAMBDA_RUNTIME_API: `host:port` (`[v6addr]:port` for
 * IPv6) over TCP, or `unix:/path/to.sock` for the same HTTP on a Unix
 * socket. One keep-alive HTTP/1.1 connection is used for everything and
 * reopened when the server closes it.
 *
 * Returns only on a fatal error, -1, after writing one line about it to
 * stderr: $AWS_LAMBDA_RUNTIME_API is missing or malformed; the server
 * cannot be reached (also when it went away: a worker outlives no server);
 * it answers GET next with anything but 200, or a POST with 5xx (Lambda's
 * signal that the runtime must exit); it sends something that is not
 * HTTP/1.x or a request ID that is not safe (see stepd_context); memory
 * ran out. An answer of 4xx to a response or error POST (an invocation the
 * server has already timed out, a result too large) is written to stderr
 * and the loop goes on. The library's lines on stderr start with
 * "stepd-runtime: ". `handler` must not be NULL. */
int stepd_run(stepd_handler *handler);

/* Reports a failed initialisation (a missing configuration, a resource
 * that cannot be opened) with POST /2018-06-01/runtime/init/error, the body
 * and header as for stepd_response_set_error() (same NULL rules). Call it
 * instead of stepd_run(), then exit with a nonzero status: the server
 * fails the pending invocation with this error. Returns 0 when the server
 * accepted the report (202), -1 otherwise (with a line on stderr). */
int stepd_init_error(const char *type, const char *message);

#ifdef __cplusplus
}
#endif

#endif
