/* runtime.c — the C runtime client (include/stepd/runtime.h): the Runtime
 * API loop over one keep-alive HTTP/1.1 connection, TCP or Unix socket.
 * Lean on purpose, since every microsecond here is added to each warm
 * invocation: requests are one gather write, responses one read in the
 * common case, headers are parsed in place in the receive buffer, and no
 * memory is allocated once the buffers have grown to the workload.
 * Depends on libc only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memmem, strcasestr */
#endif
#include "stepd/runtime.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RT_PATH "/2018-06-01/runtime"
#define RT_TRACE_VAR "_X_AMZN_TRACE_ID"
#define RT_MAX_HEADER (64 * 1024)                 /* status line + headers */
#define RT_MAX_BODY ((size_t)1 << 30)             /* far above Lambda's 6 MB */
#define RT_RBUF_INIT (16 * 1024)

/* Outcomes of one exchange step. RT_STALE is a connection the server had
 * already closed: the request may be sent again on a new one. */
enum { RT_OK = 0, RT_ERR = -1, RT_STALE = -2 };

/* A growable byte buffer; `p` owned. */
typedef struct rt_buf {
    char *p;
    size_t len, cap;
} rt_buf;

struct stepd_response {
    rt_buf body;      /* the result JSON, or the error document */
    rt_buf type;      /* the errorType for the header, when is_error */
    rt_buf scratch;   /* stepd_response_set_errorf's formatted message */
    int is_set;
    int is_error;
};

/* The response headers the runtime reads, in the order of rt_hdr_names. */
enum {
    H_REQUEST_ID, H_DEADLINE, H_ARN, H_TRACE, H_CLIENT_CONTEXT, H_COGNITO,
    H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_CONNECTION, H_COUNT
};
static const struct { const char *name; size_t len; } rt_hdr_names[H_COUNT] = {
#define RT_H(s) { s, sizeof(s) - 1 }
    RT_H("Lambda-Runtime-Aws-Request-Id"),
    RT_H("Lambda-Runtime-Deadline-Ms"),
    RT_H("Lambda-Runtime-Invoked-Function-Arn"),
    RT_H("Lambda-Runtime-Trace-Id"),
    RT_H("Lambda-Runtime-Client-Context"),
    RT_H("Lambda-Runtime-Cognito-Identity"),
    RT_H("Content-Length"),
    RT_H("Transfer-Encoding"),
    RT_H("Connection"),
#undef RT_H
};

/* A parsed response. Offsets, not pointers, into the connection's receive
 * buffer, which may move while the body is read; values are NUL-terminated
 * in place. */
typedef struct rt_resp {
    int status;
    int close;                 /* the server closes after this response */
    size_t hoff[H_COUNT];      /* value offsets; 0 = header absent */
    size_t body_off, body_len; /* body, NUL-terminated at body_off + body_len */
} rt_resp;

typedef struct rt_conn {
    int fd;                          /* -1 when closed */
    int used;                        /* an exchange has completed on fd */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *rbuf;                      /* received bytes [0, rlen), 1 spare byte */
    size_t rcap, rlen;
    size_t rnext;                    /* where the next response starts */
    int has_saved;                   /* rbuf[rnext] was replaced by the body's NUL */
    char saved;
} rt_conn;

static struct {
    int ready;
    rt_conn conn;
    char api[256];                   /* $AWS_LAMBDA_RUNTIME_API, for messages */
    rt_buf host;                     /* "Host: ...\r\n" */
    rt_buf get_next;                 /* the whole GET next request */
    rt_buf req;                      /* POST request line and headers */
    struct stepd_response resp;
    const char *fn_name, *fn_version, *log_group, *log_stream;
    int memory_mb;
    char *trace;                     /* "_X_AMZN_TRACE_ID=value", given to putenv */
    size_t trace_cap;
} rt = { .conn = { .fd = -1 } };

static void rt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rt_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "stepd-runtime: %s\n", line);
}

/* ---- buffers ------------------------------------------------------------ */

static int rt_buf_reserve(rt_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        errno = ENOMEM;
        return -1;
    }
    size_t cap = b->cap ? b->cap * 2 : 256;
    if (cap < b->len + extra)
        cap = b->len + extra;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int rt_buf_add(rt_buf *b, const char *s, size_t n)
{
    if (rt_buf_reserve(b, n + 1) < 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int rt_buf_adds(rt_buf *b, const char *s)
{
    return rt_buf_add(b, s, strlen(s));
}

/* Appends `s` as the inside of a JSON string: quotes, backslashes and
 * control characters escaped, bytes that do not form UTF-8 replaced by
 * U+FFFD so that the server's JSON parser accepts the document. */
static int rt_buf_add_json(rt_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run && rt_buf_add(b, (const char *)run, (size_t)(p - run)) < 0)
            return -1;
        unsigned c = *p;
        if (c == 0)
            break;
        char esc[8];
        size_t n = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, n = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            switch (c) {
            case '\n': esc[1] = 'n', n = 2; break;
            case '\r': esc[1] = 'r', n = 2; break;
            case '\t': esc[1] = 't', n = 2; break;
            case '\b': esc[1] = 'b', n = 2; break;
            case '\f': esc[1] = 'f', n = 2; break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4], esc[5] = hex[c & 15], n = 6;
            }
        } else {
            /* A multi-byte sequence: copy it if it is well-formed UTF-8
             * (no overlong forms, no surrogates, nothing above U+10FFFF). */
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
            unsigned lo = 0x80, hi = 0xbf;
            if (c == 0xe0) lo = 0xa0;
            else if (c == 0xed) hi = 0x9f;
            else if (c == 0xf0) lo = 0x90;
            else if (c == 0xf4) hi = 0x8f;
            else if (c > 0xf4) len = 0;
            size_t i = 1;
            for (; i < len; i++) {
                unsigned k = p[i];
                if (i == 1 ? (k < lo || k > hi) : (k < 0x80 || k > 0xbf))
                    break;
            }
            if (len && i == len) {
                if (rt_buf_add(b, (const char *)p, len) < 0)
                    return -1;
                p += len;
                continue;
            }
            if (rt_buf_add(b, "\\ufffd", 6) < 0)
                return -1;
            p++;
            continue;
        }
        if (rt_buf_add(b, esc, n) < 0)
            return -1;
        p++;
    }
    return 0;
}

/* ---- the response setters ------------------------------------------------ */

int stepd_response_setn(stepd_response *out, const char *json, size_t len)
{
    if (!json) {
        json = "null";
        len = 4;
    }
    out->is_set = out->is_error = 0;
    out->body.len = 0;
    if (rt_buf_add(&out->body, json, len) < 0)
        return -1;
    out->is_set = 1;
    return 0;
}

int stepd_response_set(stepd_response *out, const char *json)
{
    return stepd_response_setn(out, json, json ? strlen(json) : 0);
}

/* The error document goes to out->body, the header copy of the type
 * (control characters made harmless) to out->type. */
int stepd_response_set_error(stepd_response *out, const char *type, const char *message)
{
    if (!type)
        type = "Unhandled";
    if (!message)
        message = "";
    out->is_set = out->is_error = 0;
    out->body.len = out->type.len = 0;
    if (rt_buf_adds(&out->body, "{\"errorMessage\":\"") < 0
        || rt_buf_add_json(&out->body, message) < 0
        || rt_buf_adds(&out->body, "\",\"errorType\":\"") < 0
        || rt_buf_add_json(&out->body, type) < 0
        || rt_buf_adds(&out->body, "\",\"stackTrace\":[]}") < 0
        || rt_buf_adds(&out->type, type) < 0) {
        out->body.len = out->type.len = 0;
        return -1;
    }
    for (size_t i = 0; i < out->type.len; i++) {
        unsigned char c = (unsigned char)out->type.p[i];
        if (c < 0x20 || c == 0x7f)
            out->type.p[i] = '_';
    }
    out->is_set = out->is_error = 1;
    return 0;
}

int stepd_response_set_errorf(stepd_response *out, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->scratch.p, out->scratch.cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= out->scratch.cap) {
        out->scratch.len = 0;
        if (rt_buf_reserve(&out->scratch, (size_t)n + 1) < 0)
            return -1;
        va_start(ap, fmt);
        vsnprintf(out->scratch.p, out->scratch.cap, fmt, ap);
        va_end(ap);
    }
    return stepd_response_set_error(out, type, out->scratch.p);
}

int64_t stepd_remaining_ms(const stepd_context *ctx)
{
    if (ctx->deadline_ms == 0)
        return INT64_MAX;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return ctx->deadline_ms > now ? ctx->deadline_ms - now : 0;
}

/* ---- the connection -------------------------------------------------------- */

static void rt_close(rt_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->used = 0;
    c->rlen = c->rnext = 0;
    c->has_saved = 0;
}

static int rt_connect_addr(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (sa->sa_family != AF_UNIX) {
        /* Requests are single writes that must leave at once: Nagle would
         * hold the POST back until the previous segment is acknowledged. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static int rt_connect(rt_conn *c)
{
    /* Whatever a closed connection left in rbuf is stale now. */
    c->rlen = c->rnext = 0;
    c->has_saved = 0;
    c->used = 0;
    c->fd = rt_connect_addr((const struct sockaddr *)&c->addr, c->addrlen);
    if (c->fd < 0) {
        rt_log("cannot connect to %s: %s", rt.api, strerror(errno));
        return -1;
    }
    return 0;
}

/* Parses $AWS_LAMBDA_RUNTIME_API into c->addr and the Host header, and
 * opens the first connection (for TCP, to the first address that accepts
 * it, which later reconnections reuse). */
static int rt_open(rt_conn *c, const char *api)
{
    if (strncmp(api, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&c->addr;
        const char *path = api + 5;
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof un->sun_path) {
            rt_log("AWS_LAMBDA_RUNTIME_API: bad Unix socket path in \"%s\"", api);
            return -1;
        }
        memset(un, 0, sizeof *un);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, n + 1);
        c->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        if (rt_buf_adds(&rt.host, "Host: localhost\r\n") < 0)
            return -1;
        return rt_connect(c);
    }

    char host[256];
    const char *port;
    if (api[0] == '[') {
        const char *end = strchr(api, ']');
        if (!end || end[1] != ':' || (size_t)(end - api - 1) >= sizeof host)
            goto bad;
        memcpy(host, api + 1, (size_t)(end - api - 1));
        host[end - api - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(api, ':');
        if (!colon || (size_t)(colon - api) >= sizeof host)
            goto bad;
        memcpy(host, api, (size_t)(colon - api));
        host[colon - api] = '\0';
        port = colon + 1;
    }
    if (!host[0] || !port[0] || strspn(port, "0123456789") != strlen(port))
        goto bad;
    if (rt_buf_adds(&rt.host, "Host: ") < 0 || rt_buf_adds(&rt.host, api) < 0
        || rt_buf_adds(&rt.host, "\r\n") < 0)
        return -1;

    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        rt_log("AWS_LAMBDA_RUNTIME_API: %s: %s", api, gai_strerror(rc));
        return -1;
    }
    int err = 0;
    for (a = ai; a; a = a->ai_next) {
        if (a->ai_addrlen > sizeof c->addr)
            continue;
        c->fd = rt_connect_addr(a->ai_addr, a->ai_addrlen);
        if (c->fd >= 0) {
            memcpy(&c->addr, a->ai_addr, a->ai_addrlen);
            c->addrlen = a->ai_addrlen;
            break;
        }
        err = errno;
    }
    freeaddrinfo(ai);
    if (c->fd < 0) {
        rt_log("cannot connect to %s: %s", api, strerror(err ? err : EADDRNOTAVAIL));
        return -1;
    }
    return 0;
bad:
    rt_log("AWS_LAMBDA_RUNTIME_API: expected host:port or unix:/path, got \"%s\"", api);
    return -1;
}

/* Writes the whole request with sendmsg (writev with MSG_NOSIGNAL: a
 * closed connection is an EPIPE to handle, not a signal that kills the
 * worker). `iov` is consumed. */
static int rt_send(rt_conn *c, struct iovec *iov, int n)
{
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
    while (m.msg_iovlen > 0) {
        ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return RT_STALE;
            rt_log("send to %s: %s", rt.api, strerror(errno));
            return RT_ERR;
        }
        while (m.msg_iovlen > 0 && (size_t)w >= m.msg_iov->iov_len) {
            w -= (ssize_t)m.msg_iov->iov_len;
            m.msg_iov++;
            m.msg_iovlen--;
        }
        if (m.msg_iovlen > 0) {
            m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + w;
            m.msg_iov->iov_len -= (size_t)w;
        }
    }
    return RT_OK;
}

/* Makes room for `need` bytes in the receive buffer plus the spare byte a
 * NUL may take. */
static int rt_rbuf_reserve(rt_conn *c, size_t need)
{
    if (need < c->rcap)
        return 0;
    size_t cap = c->rcap ? c->rcap : RT_RBUF_INIT;
    while (cap <= need)
        cap *= 2;
    char *p = realloc(c->rbuf, cap);
    if (!p) {
        rt_log("out of memory");
        return RT_ERR;
    }
    c->rbuf = p;
    c->rcap = cap;
    return 0;
}

/* Reads what the server has sent so far (at least one byte; blocks).
 * Returns RT_OK, RT_STALE on EOF or reset, RT_ERR on anything else. */
static int rt_fill(rt_conn *c)
{
    if (c->rlen + 1 >= c->rcap && rt_rbuf_reserve(c, c->rlen + 4096) < 0)
        return RT_ERR;
    for (;;) {
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1, 0);
        if (r > 0) {
            c->rlen += (size_t)r;
            return RT_OK;
        }
        if (r == 0 || errno == ECONNRESET)
            return RT_STALE;
        if (errno != EINTR) {
            rt_log("recv from %s: %s", rt.api, strerror(errno));
            return RT_ERR;
        }
    }
}

/* Reads until rbuf holds `need` bytes; EOF there is an error. */
static int rt_fill_to(rt_conn *c, size_t need)
{
    if (rt_rbuf_reserve(c, need) < 0)
        return RT_ERR;
    while (c->rlen < need) {
        int rc = rt_fill(c);
        if (rc == RT_STALE) {
            rt_log("%s closed the connection in the middle of a response", rt.api);
            return RT_ERR;
        }
        if (rc < 0)
            return rc;
    }
    return RT_OK;
}

/* The offset of the next CRLF at or after `from`, reading more as needed
 * (a chunked body's size and trailer lines); -1 on error. */
static long rt_find_crlf(rt_conn *c, size_t from)
{
    for (;;) {
        if (c->rlen > from) {
            char *p = memmem(c->rbuf + from, c->rlen - from, "\r\n", 2);
            if (p)
                return p - c->rbuf;
        }
        if (c->rlen - from > 4096) {
            rt_log("%s sent a malformed chunked body", rt.api);
            return -1;
        }
        if (rt_fill_to(c, c->rlen + 1) < 0)
            return -1;
    }
}

/* Decodes a chunked body in place: chunk data is moved down over the size
 * lines, so the body ends up contiguous at `start`. */
static int rt_read_chunked(rt_conn *c, rt_resp *r, size_t start)
{
    size_t p = start, w = start;
    for (;;) {
        long eol = rt_find_crlf(c, p);
        if (eol < 0)
            return RT_ERR;
        size_t size = 0, i = p;
        int digits = 0;
        for (; i < (size_t)eol; i++, digits++) {
            int ch = c->rbuf[i], v;
            if (ch >= '0' && ch <= '9') v = ch - '0';
            else if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
            else if (ch >= 'A' && ch <= 'F') v = ch - 'A' + 10;
            else break;
            if (size > RT_MAX_BODY)
                break;
            size = size * 16 + (size_t)v;
        }
        if (!digits || size > RT_MAX_BODY || w - start + size > RT_MAX_BODY
            || (i < (size_t)eol && c->rbuf[i] != ';' && c->rbuf[i] != ' ')) {
            rt_log("%s sent a malformed chunked body", rt.api);
            return RT_ERR;
        }
        p = (size_t)eol + 2;
        if (size == 0) {
            for (;;) {     /* trailers, up to the empty line */
                eol = rt_find_crlf(c, p);
                if (eol < 0)
                    return RT_ERR;
                size_t line = (size_t)eol - p;
                p = (size_t)eol + 2;
                if (line == 0)
                    break;
            }
            break;
        }
        if (rt_fill_to(c, p + size + 2) < 0)
            return RT_ERR;
        if (memcmp(c->rbuf + p + size, "\r\n", 2) != 0) {
            rt_log("%s sent a malformed chunked body", rt.api);
            return RT_ERR;
        }
        memmove(c->rbuf + w, c->rbuf + p, size);
        w += size;
        p += size + 2;
    }
    r->body_off = start;
    r->body_len = w - start;
    c->rnext = p;
    return RT_OK;
}

/* Reads one response: status line, headers (values NUL-terminated in
 * place), then the body by Content-Length, chunked, or to EOF. */
static int rt_read_response(rt_conn *c, rt_resp *r)
{
    if (c->has_saved)
        c->rbuf[c->rnext] = c->saved;
    c->has_saved = 0;
    if (c->rnext) {
        memmove(c->rbuf, c->rbuf + c->rnext, c->rlen - c->rnext);
        c->rlen -= c->rnext;
        c->rnext = 0;
    }
    int fresh = c->rlen == 0;

again:;
    size_t scan = 0, hend;
    for (;;) {
        char *e = c->rlen > scan ? memmem(c->rbuf + scan, c->rlen - scan, "\r\n\r\n", 4) : NULL;
        if (e) {
            hend = (size_t)(e - c->rbuf) + 4;
            break;
        }
        if (c->rlen > RT_MAX_HEADER) {
            rt_log("%s sent headers over %d bytes", rt.api, RT_MAX_HEADER);
            return RT_ERR;
        }
        scan = c->rlen > 3 ? c->rlen - 3 : 0;
        int rc = rt_fill(c);
        if (rc == RT_STALE && !(fresh && c->rlen == 0)) {
            rt_log("%s closed the connection in the middle of a response", rt.api);
            return RT_ERR;
        }
        if (rc < 0)
            return rc;
    }

    char *b = c->rbuf;
    memset(r, 0, sizeof *r);
    if (hend < 14 || memcmp(b, "HTTP/1.", 7) != 0 || b[8] != ' '
        || b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' || b[11] < '0' || b[11] > '9') {
        rt_log("%s did not answer with HTTP/1.x", rt.api);
        return RT_ERR;
    }
    r->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    int http10 = b[7] == '0', keep_alive = 0;

    size_t line = (size_t)((char *)memchr(b, '\n', hend) - b) + 1;
    while (line < hend - 2) {
        char *nl = memchr(b + line, '\n', hend - line);
        size_t eol = (size_t)(nl - b), next = eol + 1;
        char *colon = memchr(b + line, ':', eol - line);
        if (colon) {
            size_t nlen = (size_t)(colon - (b + line));
            size_t v = (size_t)(colon - b) + 1, ve = eol;
            while (v < ve && (b[v] == ' ' || b[v] == '\t'))
                v++;
            while (ve > v && (b[ve - 1] == '\r' || b[ve - 1] == ' ' || b[ve - 1] == '\t'))
                ve--;
            for (int h = 0; h < H_COUNT; h++) {
                if (rt_hdr_names[h].len == nlen
                    && strncasecmp(b + line, rt_hdr_names[h].name, nlen) == 0) {
                    r->hoff[h] = v;
                    b[ve] = '\0';
                    break;
                }
            }
        }
        line = next;
    }

    if (r->status < 200) {          /* 100 Continue and friends: skip */
        memmove(c->rbuf, c->rbuf + hend, c->rlen - hend);
        c->rlen -= hend;
        c->rnext = 0;
        goto again;
    }
    if (r->hoff[H_CONNECTION]) {
        const char *v = b + r->hoff[H_CONNECTION];
        if (strcasestr(v, "close"))
            r->close = 1;
        else if (strcasestr(v, "keep-alive"))
            keep_alive = 1;
    }
    if (http10 && !keep_alive)
        r->close = 1;

    int rc;
    if (r->status == 204 || r->status == 304) {
        r->body_off = hend;
        r->body_len = 0;
        c->rnext = hend;
    } else if (r->hoff[H_TRANSFER_ENCODING]
               && strcasestr(b + r->hoff[H_TRANSFER_ENCODING], "chunked")) {
        if ((rc = rt_read_chunked(c, r, hend)) < 0)
            return rc;
    } else if (r->hoff[H_CONTENT_LENGTH]) {
        const char *v = b + r->hoff[H_CONTENT_LENGTH];
        size_t n = 0;
        if (!*v)
            goto bad_length;
        for (; *v; v++) {
            if (*v < '0' || *v > '9' || n > RT_MAX_BODY)
                goto bad_length;
            n = n * 10 + (size_t)(*v - '0');
        }
        if (n > RT_MAX_BODY)
            goto bad_length;
        if ((rc = rt_fill_to(c, hend + n)) < 0)
            return rc;
        r->body_off = hend;
        r->body_len = n;
        c->rnext = hend + n;
    } else {
        /* No length: the body runs to EOF, and so does the connection. */
        for (;;) {
            if (c->rlen - hend > RT_MAX_BODY) {
                rt_log("%s sent a body over %zu bytes", rt.api, RT_MAX_BODY);
                return RT_ERR;
            }
            rc = rt_fill(c);
            if (rc == RT_STALE)
                break;
            if (rc < 0)
                return rc;
        }
        r->body_off = hend;
        r->body_len = c->rlen - hend;
        c->rnext = c->rlen;
        r->close = 1;
    }

    /* NUL-terminate the body; a following response's first byte is kept
     * aside and put back before that response is read. */
    size_t end = r->body_off + r->body_len;
    if (end == c->rnext && end < c->rlen) {
        c->saved = c->rbuf[end];
        c->has_saved = 1;
    }
    c->rbuf[end] = '\0';
    return RT_OK;

bad_length:
    rt_log("%s sent a bad Content-Length", rt.api);
    return RT_ERR;
}

/* One request and its response, on the open connection or a new one. A
 * keep-alive connection the server has closed in the meantime shows up as
 * EPIPE or an EOF before any byte of the response: the request is then sent
 * once more on a fresh connection. `iov` is consumed. */
static int rt_exchange(struct iovec *iov, int n, rt_resp *r)
{
    rt_conn *c = &rt.conn;
    struct iovec copy[4];
    memcpy(copy, iov, (size_t)n * sizeof *iov);
    for (int attempt = 0;; attempt++) {
        if (c->fd < 0 && rt_connect(c) < 0)
            return RT_ERR;
        int reused = c->used;
        int rc = rt_send(c, iov, n);
        if (rc == RT_OK)
            rc = rt_read_response(c, r);
        if (rc == RT_OK) {
            c->used = 1;
            if (r->close) {
                /* Keep the bytes: the body lives in rbuf until the next
                 * exchange. Only the socket goes. */
                close(c->fd);
                c->fd = -1;
                c->used = 0;
            }
            return RT_OK;
        }
        rt_close(c);
        if (rc != RT_STALE || !reused || attempt > 0) {
            if (rc == RT_STALE)
                rt_log("%s closed the connection", rt.api);
            return RT_ERR;
        }
        memcpy(iov, copy, (size_t)n * sizeof *iov);
    }
}

/* ---- the loop -------------------------------------------------------------- */

static const char *rt_env(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "";
}

static int rt_init(void)
{
    if (rt.ready)
        return 0;
    /* Logs must reach the server line by line, not when 4 KB have
     * gathered; stdout is a pipe, fully buffered by default. */
    fflush(stdout);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api || !*api) {
        rt_log("AWS_LAMBDA_RUNTIME_API is not set");
        return -1;
    }
    snprintf(rt.api, sizeof rt.api, "%s", api);
    if (rt_open(&rt.conn, api) < 0)
        return -1;
    if (rt_buf_adds(&rt.get_next, "GET " RT_PATH "/invocation/next HTTP/1.1\r\n") < 0
        || rt_buf_add(&rt.get_next, rt.host.p, rt.host.len) < 0
        || rt_buf_adds(&rt.get_next, "\r\n") < 0
        || rt_buf_reserve(&rt.req, 512) < 0) {
        rt_log("out of memory");
        return -1;
    }
    rt.fn_name = rt_env("AWS_LAMBDA_FUNCTION_NAME");
    rt.fn_version = rt_env("AWS_LAMBDA_FUNCTION_VERSION");
    rt.log_group = rt_env("AWS_LAMBDA_LOG_GROUP_NAME");
    rt.log_stream = rt_env("AWS_LAMBDA_LOG_STREAM_NAME");
    rt.memory_mb = atoi(rt_env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
    rt.ready = 1;
    return 0;
}

/* Points $_X_AMZN_TRACE_ID at `value` (NULL removes it). The variable is a
 * buffer of ours handed to putenv and rewritten in place: setenv would
 * keep every value ever set, which grows without bound over millions of
 * invocations. */
static int rt_set_trace(const char *value)
{
    const size_t pre = sizeof RT_TRACE_VAR;      /* "_X_AMZN_TRACE_ID=" */
    int ours = rt.trace && getenv(RT_TRACE_VAR) == rt.trace + pre;
    if (!value) {
        if (ours)
            unsetenv(RT_TRACE_VAR);
        return 0;
    }
    size_t n = strlen(value);
    if (ours && pre + n < rt.trace_cap) {
        memcpy(rt.trace + pre, value, n + 1);
        return 0;
    }
    if (pre + n >= rt.trace_cap) {
        size_t cap = pre + n + 1 < 256 ? 256 : pre + n + 1;
        char *p = malloc(cap);
        if (!p)
            return -1;
        memcpy(p, RT_TRACE_VAR "=", pre);
        memcpy(p + pre, value, n + 1);
        if (putenv(p) != 0) {
            free(p);
            return -1;
        }
        free(rt.trace);     /* no longer in environ */
        rt.trace = p;
        rt.trace_cap = cap;
        return 0;
    }
    memcpy(rt.trace + pre, value, n + 1);
    return putenv(rt.trace);
}

/* A request ID goes into a URL path, and handlers may put it into JSON as
 * is (the header promises they can): refuse anything that would change
 * the meaning of either. */
static int rt_id_ok(const char *id)
{
    if (!*id)
        return 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == '?' || *p == '#' || *p == '%'
            || *p == '"' || *p == '\\')
            return 0;
    return 1;
}

/* POSTs `body` to RT_PATH + `path` (+ `path2` + `path3`), with the error
 * type header when `type` is not NULL. Returns the HTTP status, or -1. */
static int rt_post(const char *path, const char *path2, const char *path3,
                   const char *type, const char *body, size_t len, rt_resp *r)
{
    char num[24], *d = num + sizeof num;
    size_t v = len;
    do
        *--d = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    rt_buf *q = &rt.req;
    q->len = 0;
    if (rt_buf_adds(q, "POST " RT_PATH) < 0 || rt_buf_adds(q, path) < 0
        || rt_buf_adds(q, path2) < 0 || rt_buf_adds(q, path3) < 0
        || rt_buf_adds(q, " HTTP/1.1\r\n") < 0
        || rt_buf_add(q, rt.host.p, rt.host.len) < 0
        || (type && (rt_buf_adds(q, "Lambda-Runtime-Function-Error-Type: ") < 0
                     || rt_buf_adds(q, type) < 0 || rt_buf_adds(q, "\r\n") < 0))
        || rt_buf_adds(q, "Content-Length: ") < 0
        || rt_buf_add(q, d, (size_t)(num + sizeof num - d)) < 0
        || rt_buf_adds(q, "\r\n\r\n") < 0) {
        rt_log("out of memory");
        return -1;
    }
    struct iovec iov[2] = {
        { .iov_base = q->p, .iov_len = q->len },
        { .iov_base = (void *)body, .iov_len = len },
    };
    if (rt_exchange(iov, len ? 2 : 1, r) < 0)
        return -1;
    return r->status;
}

/* Judges the answer to a response or error POST: 4xx is the server's
 * word on this one invocation (timed out already, result too large), so
 * the loop goes on; anything else but 2xx means the runtime must exit. */
static int rt_status_ok(int status, const rt_resp *r)
{
    if (status >= 200 && status < 300)
        return 0;
    const char *line = rt.req.p;      /* "POST /2018-06-01/... HTTP/1.1" */
    int n = (int)(strchr(line + 5, ' ') - line);
    const char *body = rt.conn.rbuf + r->body_off;
    int fatal = status < 400 || status >= 500;
    rt_log("%.*s: HTTP %d%s%.200s%s", n, line, status, *body ? " " : "", body,
           fatal ? "; exiting" : "");
    return fatal ? -1 : 0;
}

int stepd_run(stepd_handler *handler)
{
    if (rt_init() < 0)
        return -1;
    stepd_response *out = &rt.resp;
    rt_resp r;
    for (;;) {
        struct iovec iov = { .iov_base = rt.get_next.p, .iov_len = rt.get_next.len };
        if (rt_exchange(&iov, 1, &r) < 0)
            return -1;
        char *b = rt.conn.rbuf;
        if (r.status != 200) {
            const char *body = b + r.body_off;
            rt_log("GET next: HTTP %d%s%.200s; exiting", r.status, *body ? " " : "", body);
            return -1;
        }
        const char *id = r.hoff[H_REQUEST_ID] ? b + r.hoff[H_REQUEST_ID] : "";
        if (!rt_id_ok(id)) {
            rt_log("GET next: missing or malformed Lambda-Runtime-Aws-Request-Id \"%.100s\"", id);
            return -1;
        }
#define RT_HDR(h) (r.hoff[h] ? b + r.hoff[h] : NULL)
        stepd_context ctx = {
            .request_id = id,
            .invoked_function_arn = r.hoff[H_ARN] ? b + r.hoff[H_ARN] : "",
            .function_name = rt.fn_name,
            .function_version = rt.fn_version,
            .memory_limit_in_mb = rt.memory_mb,
            .log_group_name = rt.log_group,
            .log_stream_name = rt.log_stream,
            .trace_id = RT_HDR(H_TRACE),
            .client_context = RT_HDR(H_CLIENT_CONTEXT),
            .cognito_identity = RT_HDR(H_COGNITO),
            .deadline_ms = r.hoff[H_DEADLINE] ? strtoll(b + r.hoff[H_DEADLINE], NULL, 10) : 0,
        };
#undef RT_HDR
        if (rt_set_trace(ctx.trace_id) < 0) {
            rt_log("out of memory");
            return -1;
        }

        out->is_set = out->is_error = 0;
        int rc = handler(b + r.body_off, r.body_len, &ctx, out);
        fflush(stdout);
        if (!out->is_error && rc != 0
            && stepd_response_set_errorf(out, "HandlerError", "handler returned %d", rc) < 0) {
            rt_log("out of memory");
            return -1;
        }

        /* The request ID lives in rbuf, which the POST's answer will
         * overwrite: the request line is built (copied) before that. */
        int status;
        if (out->is_error)
            status = rt_post("/invocation/", id, "/error", out->type.p,
                             out->body.p, out->body.len, &r);
        else if (out->is_set)
            status = rt_post("/invocation/", id, "/response", NULL,
                             out->body.p, out->body.len, &r);
        else
            status = rt_post("/invocation/", id, "/response", NULL, "null", 4, &r);
        if (status < 0 || rt_status_ok(status, &r) < 0)
            return -1;
    }
}

int stepd_init_error(const char *type, const char *message)
{
    if (rt_init() < 0)
        return -1;
    stepd_response *out = &rt.resp;
    if (stepd_response_set_error(out, type, message) < 0) {
        rt_log("out of memory");
        return -1;
    }
    rt_resp r;
    int status = rt_post("/init/error", "", "", out->type.p, out->body.p, out->body.len, &r);
    if (status < 0)
        return -1;
    if (status < 200 || status >= 300) {
        const char *body = rt.conn.rbuf + r.body_off;
        rt_log("POST init/error: HTTP %d%s%.200s", status, *body ? " " : "", body);
        return -1;
    }
    return 0;
}
