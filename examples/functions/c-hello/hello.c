/* hello — an example Lambda function in C for stepd (and AWS Lambda):
 * answers a JSON object with a greeting, the request ID and the time left,
 * and rejects an event that is not a JSON object with a "NotAnObject" error
 * that a state machine's Retry or Catch can match. Built into an executable
 * named `bootstrap` against libstepd-runtime.a (see README.md). */
#include <stdio.h>
#include <string.h>

#include <stepd/runtime.h>

static int handle(const char *event, size_t len, const stepd_context *ctx,
                  stepd_response *out)
{
    size_t skip = strspn(event, " \t\r\n");
    if (skip == len || event[skip] != '{')
        return stepd_response_set_error(out, "NotAnObject", "the event must be a JSON object");

    /* Logs: each line printed goes to the function's log stream. */
    printf("hello: %zu bytes of event for request %s\n", len, ctx->request_id);

    char result[256];
    snprintf(result, sizeof result,
             "{\"greeting\":\"Hello from C!\",\"request_id\":\"%s\",\"remaining_ms\":%lld}",
             ctx->request_id, (long long)stepd_remaining_ms(ctx));
    return stepd_response_set(out, result);
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
