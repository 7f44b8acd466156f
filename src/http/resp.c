/* resp — building responses: bodies, extra headers, AWS's JSON error shape
 * ({"__type","message"}), and the random UUIDs that name each request. */
#include "http/http.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void http_resp_body_take(http_response *resp, char *body, size_t len)
{
    free(resp->body);
    resp->body = body;
    resp->body_len = body ? len : 0;
}

void http_resp_bodyn(http_response *resp, const char *body, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        abort(); /* as jansson and val_buf: out of memory is not survivable here */
    if (len)
        memcpy(p, body, len);
    p[len] = '\0';
    http_resp_body_take(resp, p, len);
}

void http_resp_json(http_response *resp, int status, const json_t *v)
{
    size_t len = 0;
    char *text = val_dump(v, &len);
    resp->status = status;
    http_resp_body_take(resp, text, len);
}

void http_resp_content_type(http_response *resp, const char *type)
{
    free(resp->content_type);
    resp->content_type = type ? strdup(type) : NULL;
}

void http_resp_header(http_response *resp, const char *name, const char *value)
{
    if (resp->n_headers == resp->cap_headers) {
        size_t cap = resp->cap_headers ? resp->cap_headers * 2 : 4;
        http_kv *h = realloc(resp->headers, cap * sizeof *h);
        if (!h)
            abort();
        resp->headers = h;
        resp->cap_headers = cap;
    }
    resp->headers[resp->n_headers].name = strdup(name);
    resp->headers[resp->n_headers].value = strdup(value ? value : "");
    resp->n_headers++;
}

void http_aws_error(http_response *resp, int status, const char *type, const char *fmt, ...)
{
    json_t *o = json_object();
    val_obj_set_take(o, "__type", json_string(type ? type : "InternalServerError"));
    if (fmt) {
        char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
        /* json_string refuses invalid UTF-8 (a message quoting bad input):
         * keep the shape and lose only the text. */
        json_t *m = msg ? json_string(msg) : NULL;
        val_obj_set_take(o, "message", m ? m : json_string("(message not valid UTF-8)"));
        free(msg);
    }
    http_resp_json(resp, status, o);
    json_decref(o);
}

void http_resp_clear(http_response *resp)
{
    if (!resp)
        return;
    free(resp->content_type);
    free(resp->body);
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
    memset(resp, 0, sizeof *resp);
}

/* splitmix64 over a per-thread state seeded once from getrandom (the
 * clock and a counter when that fails): request ids need to be unique, not
 * secret, and a getrandom system call per answer showed in profiles. */
static uint64_t next64(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local int seeded;
    if (!seeded) {
        static _Atomic uint64_t counter;
        if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            state = ((uint64_t)ts.tv_sec * 1000000007ULL + (uint64_t)ts.tv_nsec) ^
                    atomic_fetch_add(&counter, 0x9e3779b97f4a7c15ULL);
        }
        seeded = 1;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void http_uuid(char out[37])
{
    unsigned char b[16];
    uint64_t x = next64(), y = next64();
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}
