/* c-fail — a test function for the C runtime client's error paths. Each
 * invocation fails with errorType "OrderRejected", after doing what the
 * event asks (in this order, any combination):
 *   {"sleep_ms":N}     sleep N milliseconds first (timeouts);
 *   {"print":"text"}   write the text as a line to stdout and to stderr (logs);
 *   {"crash":true}     exit with status 3 instead of answering (a dead worker);
 *   {"context":true}   succeed instead, with the context as a JSON object.
 * The event is read with a small key lookup, not a JSON parser: enough for
 * the flat objects the tests send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stepd/runtime.h>

/* The value of "key" in the event (after the colon and blanks), or NULL. */
static const char *find_key(const char *event, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = event; (p = strchr(p, '"')) != NULL; p++) {
        if (strncmp(p + 1, key, n) != 0 || p[n + 1] != '"')
            continue;
        const char *v = p + n + 2;
        v += strspn(v, " \t\r\n");
        if (*v != ':')
            continue;
        v++;
        return v + strspn(v, " \t\r\n");
    }
    return NULL;
}

static void put_utf8(char **w, unsigned long cp)
{
    unsigned char *o = (unsigned char *)*w;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xc0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xe0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (unsigned char)(0xf0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *w = (char *)o;
}

static unsigned long hex4(const char *p)
{
    char buf[5] = { 0 };
    for (int i = 0; i < 4; i++) {
        if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
            return 0xfffd;
        buf[i] = p[i];
    }
    return strtoul(buf, NULL, 16);
}

/* Decodes the JSON string at `v` (which starts with '"') into a new
 * string the caller frees; NULL when `v` is not a string. */
static char *json_string_dup(const char *v)
{
    if (*v++ != '"')
        return NULL;
    char *s = malloc(strlen(v) * 2 + 1), *w = s;   /* \uXXXX -> at most 4 bytes */
    if (!s)
        return NULL;
    while (*v && *v != '"') {
        if (*v != '\\') {
            *w++ = *v++;
            continue;
        }
        v++;
        char c = *v ? *v++ : '\0';
        switch (c) {
        case 'n': *w++ = '\n'; break;
        case 't': *w++ = '\t'; break;
        case 'r': *w++ = '\r'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'u': {
            unsigned long cp = hex4(v);
            v += strnlen(v, 4);
            if (cp >= 0xd800 && cp < 0xdc00 && v[0] == '\\' && v[1] == 'u') {
                unsigned long lo = hex4(v + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    v += 2 + strnlen(v + 2, 4);
                }
            }
            put_utf8(&w, cp);
            break;
        }
        case '\0': break;
        default: *w++ = c;     /* \" \\ \/ */
        }
    }
    *w = '\0';
    return s;
}

/* Writes `s` as a JSON string, or null when `s` is NULL. */
static void put_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    putc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            putc(*p, f);
    }
    putc('"', f);
}

static int answer_context(const stepd_context *ctx, stepd_response *out)
{
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    if (!f)
        return -1;
    fputs("{\"request_id\":", f);
    put_json_string(f, ctx->request_id);
    fputs(",\"invoked_function_arn\":", f);
    put_json_string(f, ctx->invoked_function_arn);
    fputs(",\"function_name\":", f);
    put_json_string(f, ctx->function_name);
    fputs(",\"function_version\":", f);
    put_json_string(f, ctx->function_version);
    fprintf(f, ",\"memory_limit_in_mb\":%d", ctx->memory_limit_in_mb);
    fputs(",\"log_group_name\":", f);
    put_json_string(f, ctx->log_group_name);
    fputs(",\"log_stream_name\":", f);
    put_json_string(f, ctx->log_stream_name);
    fputs(",\"trace_id\":", f);
    put_json_string(f, ctx->trace_id);
    fputs(",\"env_trace_id\":", f);
    put_json_string(f, getenv("_X_AMZN_TRACE_ID"));
    /* Both are JSON documents by protocol: embedded as values. */
    fprintf(f, ",\"client_context\":%s", ctx->client_context ? ctx->client_context : "null");
    fprintf(f, ",\"cognito_identity\":%s", ctx->cognito_identity ? ctx->cognito_identity : "null");
    fprintf(f, ",\"deadline_ms\":%lld", (long long)ctx->deadline_ms);
    fprintf(f, ",\"remaining_ms\":%lld}", (long long)stepd_remaining_ms(ctx));
    if (fclose(f) != 0) {
        free(json);
        return -1;
    }
    int rc = stepd_response_setn(out, json, len);
    free(json);
    return rc;
}

static int handle(const char *event, size_t len, const stepd_context *ctx,
                  stepd_response *out)
{
    (void)len;
    const char *v;
    if ((v = find_key(event, "sleep_ms")) != NULL) {
        long ms = strtol(v, NULL, 10);
        if (ms > 0) {
            struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
            while (nanosleep(&ts, &ts) != 0)
                ;
        }
    }
    if ((v = find_key(event, "print")) != NULL) {
        char *text = json_string_dup(v);
        if (text) {
            printf("%s\n", text);
            fprintf(stderr, "%s\n", text);
            free(text);
        }
    }
    if ((v = find_key(event, "crash")) != NULL && strncmp(v, "true", 4) == 0)
        exit(3);
    if ((v = find_key(event, "context")) != NULL && strncmp(v, "true", 4) == 0)
        return answer_context(ctx, out);
    return stepd_response_set_error(out, "OrderRejected", "order rejected by c-fail");
}

int main(void)
{
    return stepd_run(handle) == 0 ? 0 : 1;
}
