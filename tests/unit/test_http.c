/* test_http — the HTTP layer over real sockets: a server on 127.0.0.1 with
 * a free port, an echo service and a fallback, driven by a tiny blocking
 * HTTP/1.1 client written here (JSON 1.0 routing, AWS error shapes, body
 * limits, many connections at once, a stalled client, keep-alive). */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

/* ------------------------------------------------------------ services */

static _Atomic int echo_calls;

/* Echo: answers {"op": op, "body": body, "host": Host header}. */
static void echo_fn(void *ud, const http_request *req, const char *op, json_t *body,
                    http_response *resp)
{
    (void)ud;
    echo_calls++;
    json_t *o = json_object();
    val_obj_set_take(o, "op", json_string(op));
    val_obj_set_take(o, "body", val_ref(body));
    const char *host = http_header(req, "host");
    if (host)
        val_obj_set_take(o, "host", json_string(host));
    http_resp_json(resp, 200, o);
    json_decref(o);
}

/* A second service that always fails the AWS way, with an extra header. */
static void fail_fn(void *ud, const http_request *req, const char *op, json_t *body,
                    http_response *resp)
{
    (void)ud;
    (void)req;
    (void)body;
    http_resp_header(resp, "X-Extra", "yes");
    http_aws_error(resp, 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", op);
}

/* Fallback: echoes what the handler sees of a non-JSON-1.0 request. */
static void path_fn(void *ud, const http_request *req, http_response *resp)
{
    (void)ud;
    json_t *o = json_object();
    val_obj_set_take(o, "method", json_string(req->method));
    val_obj_set_take(o, "path", json_string(req->path));
    val_obj_set_take(o, "raw_path", json_string(req->raw_path));
    val_obj_set_take(o, "query", json_string(req->query));
    const char *ql = http_query_get(req, "Qualifier");
    val_obj_set_take(o, "qualifier", ql ? json_string(ql) : json_null());
    const char *fl = http_query_get(req, "flag");
    val_obj_set_take(o, "flag", fl ? json_string(fl) : json_null());
    const char *xc = http_header(req, "x-custom");
    val_obj_set_take(o, "custom", xc ? json_string(xc) : json_null());
    val_obj_set_take(o, "body", json_stringn(req->body, req->body_len));
    http_resp_json(resp, 202, o);
    json_decref(o);
    http_resp_header(resp, "X-Amz-Executed-Version", "$LATEST");
}

/* ------------------------------------------------------------- client */

struct cli {
    int fd;
    val_buf in; /* bytes read but not yet consumed */
};

struct reply {
    int status;
    char *head; /* the header block, NUL-terminated */
    char *body;
    size_t body_len;
};

static void reply_free(struct reply *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int cli_open(struct cli *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void cli_close(struct cli *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    val_buf_free(&c->in);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends one request; target NULL leaves X-Amz-Target out. */
static int cli_send(struct cli *c, const char *method, const char *path, const char *target,
                    const char *extra_headers, const char *body, size_t len)
{
    val_buf b = {0};
    val_buf_printf(&b, "%s %s HTTP/1.1\r\nHost: sync-localhost:1\r\n", method, path);
    if (target)
        val_buf_printf(&b, "Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: %s\r\n",
                       target);
    if (extra_headers)
        val_buf_puts(&b, extra_headers);
    val_buf_printf(&b, "Content-Length: %zu\r\n\r\n", len);
    if (len)
        val_buf_putn(&b, body, len);
    int rc = send_all(c->fd, b.p, b.len);
    val_buf_free(&b);
    return rc;
}

static int fill(struct cli *c)
{
    char chunk[65536];
    ssize_t n;
    do
        n = recv(c->fd, chunk, sizeof chunk, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    val_buf_putn(&c->in, chunk, (size_t)n);
    return 0;
}

static void consume(struct cli *c, size_t n)
{
    memmove(c->in.p, c->in.p + n, c->in.len - n);
    c->in.len -= n;
}

/* A header's value in a reply (case-insensitive name), copied into out. */
static int reply_header(const struct reply *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *l = strstr(r->head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ')
                h++;
            const char *e = strstr(h, "\r\n");
            size_t vl = e ? (size_t)(e - h) : strlen(h);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, h, vl);
            out[vl] = '\0';
            return 0;
        }
    }
    return -1;
}

/* Reads one response (Content-Length framed, as this server sends). */
static int cli_read(struct cli *c, struct reply *r)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!c->in.p || !(end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4)))
        if (fill(c) != 0)
            return -1;
    size_t hl = (size_t)(end - c->in.p) + 2;
    r->head = strndup(c->in.p, hl);
    consume(c, hl + 2);
    if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    char cl[32];
    size_t len = reply_header(r, "Content-Length", cl, sizeof cl) == 0 ? strtoul(cl, NULL, 10) : 0;
    while (c->in.len < len)
        if (fill(c) != 0)
            return -1;
    r->body = strndup(c->in.p ? c->in.p : "", len);
    r->body_len = len;
    consume(c, len);
    return 0;
}

/* One request on a fresh connection. */
static int call(int port, const char *target, const char *body, struct reply *r)
{
    struct cli c;
    if (cli_open(&c, port) != 0)
        return -1;
    int rc = cli_send(&c, "POST", "/", target, NULL, body, strlen(body));
    if (rc == 0)
        rc = cli_read(&c, r);
    cli_close(&c);
    return rc;
}

static json_t *reply_json(const struct reply *r)
{
    return r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* -------------------------------------------------------------- tests */

static void test_json10(int port)
{
    struct reply r;
    CHECK(call(port, "Echo.StartExecution", "{\"a\":[1,2],\"b\":\"x\"}", &r) == 0);
    CHECK(r.status == 200);
    json_t *v = reply_json(&r);
    CHECK_JSON(v, "{\"op\":\"StartExecution\",\"body\":{\"a\":[1,2],\"b\":\"x\"},"
                  "\"host\":\"sync-localhost:1\"}");
    json_decref(v);
    char h[128];
    CHECK(reply_header(&r, "Content-Type", h, sizeof h) == 0 && strcmp(h, HTTP_JSON10) == 0);
    CHECK(reply_header(&r, "x-amzn-RequestId", h, sizeof h) == 0 && strlen(h) == 36 &&
          h[14] == '4' && h[8] == '-' && h[23] == '-');
    reply_free(&r);

    /* An empty body reads as {} (botocore always sends one, curl may not). */
    CHECK(call(port, "Echo.ListThings", "", &r) == 0);
    v = reply_json(&r);
    CHECK(r.status == 200);
    CHECK_JSON(json_object_get(v, "body"), "{}");
    json_decref(v);
    reply_free(&r);

    /* A service's own AWS error, with an extra header. */
    CHECK(call(port, "DynamoDB_20120810.GetItem", "{}", &r) == 0);
    CHECK(r.status == 400);
    v = reply_json(&r);
    CHECK_JSON(v, "{\"__type\":\"StateMachineDoesNotExist\","
                  "\"message\":\"State Machine Does Not Exist: 'GetItem'\"}");
    json_decref(v);
    CHECK(reply_header(&r, "X-Extra", h, sizeof h) == 0 && strcmp(h, "yes") == 0);
    CHECK(reply_header(&r, "x-amzn-RequestId", h, sizeof h) == 0);
    CHECK(reply_header(&r, "Content-Type", h, sizeof h) == 0 && strcmp(h, HTTP_JSON10) == 0);
    reply_free(&r);
}

static void expect_error(int port, const char *target, const char *body, int status,
                         const char *type)
{
    struct reply r;
    int before = echo_calls;
    CHECK(call(port, target, body, &r) == 0);
    CHECK_MSG(r.status == status, "%s %s: status %d", target, body, r.status);
    json_t *v = reply_json(&r);
    const char *t = json_string_value(json_object_get(v, "__type"));
    CHECK_MSG(t && strcmp(t, type) == 0, "%s %s: %s", target, body, r.body);
    CHECK(json_is_string(json_object_get(v, "message")));
    CHECK(echo_calls == before); /* refused before the handler */
    char h[64];
    CHECK(reply_header(&r, "x-amzn-RequestId", h, sizeof h) == 0);
    json_decref(v);
    reply_free(&r);
}

static void test_errors(int port)
{
    expect_error(port, "Echo.Op", "{\"a\":", 400, "SerializationException");
    expect_error(port, "Echo.Op", "not json", 400, "SerializationException");
    expect_error(port, "Echo.Op", "[1,2]", 400, "SerializationException");
    expect_error(port, "Echo.Op", "\"s\"", 400, "SerializationException");
    expect_error(port, "Echo.Op", "{\"a\":\"\xff\"}", 400, "SerializationException");
    expect_error(port, "Nope.Op", "{}", 400, "UnknownOperationException");
    expect_error(port, "Echo", "{}", 400, "UnknownOperationException");
    expect_error(port, "Echo.", "{}", 400, "UnknownOperationException");
    expect_error(port, "", "{}", 400, "UnknownOperationException");
    expect_error(port, "EchoX.Op", "{}", 400, "UnknownOperationException");
}

static void test_fallback(int port)
{
    struct cli c;
    struct reply r;
    CHECK(cli_open(&c, port) == 0);
    CHECK(cli_send(&c, "POST", "/2015-03-31/functions/my%3Afn/invocations?Qualifier=v%201&flag",
                   NULL, "X-Custom: hello\r\n", "raw payload", 11) == 0);
    CHECK(cli_read(&c, &r) == 0);
    CHECK(r.status == 202);
    json_t *v = reply_json(&r);
    CHECK_JSON(v, "{\"method\":\"POST\",\"path\":\"/2015-03-31/functions/my:fn/invocations\","
                  "\"raw_path\":\"/2015-03-31/functions/my%3Afn/invocations\","
                  "\"query\":\"Qualifier=v%201&flag\",\"qualifier\":\"v 1\",\"flag\":\"\","
                  "\"custom\":\"hello\",\"body\":\"raw payload\"}");
    json_decref(v);
    char h[64];
    CHECK(reply_header(&r, "Content-Type", h, sizeof h) == 0 && strcmp(h, "application/json") == 0);
    CHECK(reply_header(&r, "X-Amz-Executed-Version", h, sizeof h) == 0 &&
          strcmp(h, "$LATEST") == 0);
    CHECK(reply_header(&r, "x-amzn-RequestId", h, sizeof h) == 0);
    reply_free(&r);
    cli_close(&c);
}

static void test_no_fallback(void)
{
    static const struct http_service svc[] = {{"Echo", echo_fn, 0}};
    struct http_routes routes = {.services = svc, .n_services = 1};
    val_err err = {0};
    http_server *s = http_start("127.0.0.1", 0, &routes, NULL, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    struct cli c;
    struct reply r;
    CHECK(cli_open(&c, http_port(s)) == 0);
    CHECK(cli_send(&c, "GET", "/nothing", NULL, NULL, "", 0) == 0);
    CHECK(cli_read(&c, &r) == 0 && r.status == 404);
    json_t *v = reply_json(&r);
    CHECK_JSON(json_object_get(v, "__type"), "\"UnknownOperationException\"");
    json_decref(v);
    reply_free(&r);
    /* POST / without a target is a JSON 1.0 call missing its operation. */
    CHECK(cli_send(&c, "POST", "/", NULL, NULL, "{}", 2) == 0);
    CHECK(cli_read(&c, &r) == 0 && r.status == 400);
    v = reply_json(&r);
    CHECK_JSON(json_object_get(v, "__type"), "\"UnknownOperationException\"");
    json_decref(v);
    reply_free(&r);
    cli_close(&c);

    /* The port is taken: a clear error, not a crash. */
    http_server *s2 = http_start("127.0.0.1", http_port(s), &routes, NULL, &err);
    CHECK(s2 == NULL && err.kind == VAL_ERR_IO && err.cause && strstr(err.cause, "cannot listen"));
    val_err_clear(&err);
    http_stop(s2);
    s2 = http_start("no-such-host.invalid", 0, &routes, NULL, &err);
    CHECK(s2 == NULL && err.kind == VAL_ERR_IO);
    val_err_clear(&err);
    http_stop(s);
}

/* A body of `len` bytes that is a JSON object: {"s":"xxx..."}. */
static char *big_body(size_t len)
{
    char *b = malloc(len + 1);
    memcpy(b, "{\"s\":\"", 6);
    memset(b + 6, 'x', len - 8);
    memcpy(b + len - 2, "\"}", 3);
    return b;
}

static void test_limits(int port)
{
    struct reply r;
    /* Exactly 1 MiB is allowed. */
    char *ok = big_body(HTTP_MAX_BODY);
    CHECK(call(port, "Echo.Big", ok, &r) == 0);
    CHECK(r.status == 200);
    reply_free(&r);
    free(ok);

    /* 2 MiB with its Content-Length: refused at the headers, before the
     * body is read; the client gets the answer while still sending. */
    size_t big = 2u << 20;
    char *body = big_body(big);
    struct cli c;
    CHECK(cli_open(&c, port) == 0);
    int before = echo_calls;
    val_buf hb = {0};
    val_buf_printf(&hb, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Echo.Big\r\n"
                        "Content-Length: %zu\r\n\r\n", big);
    CHECK(send_all(c.fd, hb.p, hb.len) == 0);
    val_buf_free(&hb);
    CHECK(send_all(c.fd, body, 65536) == 0);
    CHECK(cli_read(&c, &r) == 0);
    CHECK(r.status == 413);
    json_t *v = reply_json(&r);
    CHECK_JSON(json_object_get(v, "__type"), "\"RequestEntityTooLargeException\"");
    const char *msg = json_string_value(json_object_get(v, "message"));
    CHECK_MSG(msg && strstr(msg, "2097152") && strstr(msg, "1048576"), "%s", r.body);
    json_decref(v);
    char h[64];
    CHECK(reply_header(&r, "x-amzn-RequestId", h, sizeof h) == 0);
    CHECK(echo_calls == before);
    reply_free(&r);
    cli_close(&c);

    /* Chunked, with no length up front: counted as it arrives, refused at
     * the end, never kept whole. */
    CHECK(cli_open(&c, port) == 0);
    const char *head = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Echo.Big\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    CHECK(send_all(c.fd, head, strlen(head)) == 0);
    int sent_ok = 1;
    for (size_t off = 0; off < big && sent_ok; off += 65536) {
        char ch[16];
        snprintf(ch, sizeof ch, "%x\r\n", 65536);
        sent_ok = send_all(c.fd, ch, strlen(ch)) == 0 && send_all(c.fd, body + off, 65536) == 0 &&
                  send_all(c.fd, "\r\n", 2) == 0;
    }
    CHECK(sent_ok && send_all(c.fd, "0\r\n\r\n", 5) == 0);
    CHECK(cli_read(&c, &r) == 0);
    CHECK(r.status == 413);
    CHECK(echo_calls == before);
    reply_free(&r);
    cli_close(&c);
    free(body);

    /* ...and the server keeps serving. */
    CHECK(call(port, "Echo.After", "{}", &r) == 0 && r.status == 200);
    reply_free(&r);
}

#ifndef NCONC
#define NCONC 200
#endif

/* One raw request with the given extra headers; the status of the answer. */
static int raw_status(int port, const char *headers)
{
    struct cli c;
    struct reply r;
    if (cli_open(&c, port) != 0)
        return -1;
    val_buf hb = {0};
    val_buf_printf(&hb, "POST / HTTP/1.1\r\n%sX-Amz-Target: Echo.Op\r\nContent-Length: 2\r\n\r\n{}", headers);
    int st = -1;
    if (send_all(c.fd, hb.p, hb.len) == 0 && cli_read(&c, &r) == 0) {
        st = r.status;
        reply_free(&r);
    }
    val_buf_free(&hb);
    cli_close(&c);
    return st;
}

/* A browser must not drive the server: another origin is refused, and so
 * is a name that is not loopback (DNS rebinding); the clients' own
 * requests (a loopback Host, no Origin) and same-origin ones pass. */
static void test_browser_guard(int port)
{
    char h[200];
    CHECK(raw_status(port, "Host: 127.0.0.1\r\n") == 200);
    snprintf(h, sizeof h, "Host: localhost:%d\r\n", port);
    CHECK(raw_status(port, h) == 200);
    snprintf(h, sizeof h, "Host: sync-localhost:%d\r\n", port); /* StartSyncExecution's prefix */
    CHECK(raw_status(port, h) == 200);
    snprintf(h, sizeof h, "Host: [::1]:%d\r\n", port);
    CHECK(raw_status(port, h) == 200);
    snprintf(h, sizeof h, "Host: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n", port, port);
    CHECK(raw_status(port, h) == 200);
    snprintf(h, sizeof h, "Host: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\n", port);
    CHECK(raw_status(port, h) == 403);
    snprintf(h, sizeof h, "Host: 127.0.0.1:%d\r\nOrigin: null\r\n", port);
    CHECK(raw_status(port, h) == 403);
    snprintf(h, sizeof h, "Host: evil.example:%d\r\n", port);
    CHECK(raw_status(port, h) == 403);
    snprintf(h, sizeof h, "Host: 127.0.0.1.evil.example:%d\r\n", port);
    CHECK(raw_status(port, h) == 403); /* a name that only starts like an address */
}

static void test_concurrent(int port)
{
    static struct cli cs[NCONC];
    int opened = 0, answered = 0, right = 0;
    for (int i = 0; i < NCONC; i++)
        if (cli_open(&cs[i], port) == 0)
            opened++;
    CHECK(opened == NCONC);
    /* Every connection holds a request before any answer is read. */
    for (int i = 0; i < NCONC; i++) {
        char target[32], body[64];
        snprintf(target, sizeof target, "Echo.Op%d", i);
        snprintf(body, sizeof body, "{\"i\":%d}", i);
        if (cs[i].fd >= 0)
            cli_send(&cs[i], "POST", "/", target, NULL, body, strlen(body));
    }
    for (int i = NCONC - 1; i >= 0; i--) {
        struct reply r;
        if (cs[i].fd >= 0 && cli_read(&cs[i], &r) == 0) {
            answered += r.status == 200;
            json_t *v = reply_json(&r);
            json_t *n = json_object_get(json_object_get(v, "body"), "i");
            right += json_is_integer(n) && json_integer_value(n) == i;
            json_decref(v);
            reply_free(&r);
        }
        cli_close(&cs[i]);
    }
    CHECK_MSG(answered == NCONC, "%d of %d answered", answered, NCONC);
    CHECK(right == NCONC);
}

static void test_keepalive(int port)
{
    struct cli c;
    struct reply r1, r2;
    char id1[64] = "", id2[64] = "";
    CHECK(cli_open(&c, port) == 0);
    CHECK(cli_send(&c, "POST", "/", "Echo.One", NULL, "{\"n\":1}", 7) == 0);
    CHECK(cli_read(&c, &r1) == 0 && r1.status == 200);
    CHECK(cli_send(&c, "POST", "/", "Echo.Two", NULL, "{\"n\":2}", 7) == 0);
    CHECK(cli_read(&c, &r2) == 0 && r2.status == 200);
    json_t *v = reply_json(&r2);
    CHECK_JSON(json_object_get(v, "op"), "\"Two\"");
    json_decref(v);
    reply_header(&r1, "x-amzn-RequestId", id1, sizeof id1);
    reply_header(&r2, "x-amzn-RequestId", id2, sizeof id2);
    CHECK(id1[0] && id2[0] && strcmp(id1, id2) != 0);
    /* An error keeps the connection too. */
    reply_free(&r1);
    reply_free(&r2);
    CHECK(cli_send(&c, "POST", "/", "Echo.Three", NULL, "{bad", 4) == 0);
    CHECK(cli_read(&c, &r1) == 0 && r1.status == 400);
    CHECK(cli_send(&c, "POST", "/", "Echo.Four", NULL, "{}", 2) == 0);
    CHECK(cli_read(&c, &r2) == 0 && r2.status == 200);
    reply_free(&r1);
    reply_free(&r2);
    cli_close(&c);
}

/* A client that sends half a request and stalls: others are served at once,
 * and the server drops it after its connection timeout (2 s here). */
static void test_stalled(int port)
{
    struct cli st, st2;
    CHECK(cli_open(&st, port) == 0);
    const char *half = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Echo.Op\r\n"
                       "Content-Length: 100\r\n\r\n{\"a\":";
    CHECK(send_all(st.fd, half, strlen(half)) == 0);
    CHECK(cli_open(&st2, port) == 0);
    CHECK(send_all(st2.fd, "POST / HTTP/1.1\r\nHos", 20) == 0); /* stalls in its headers */
    double t0 = now_s();
    struct reply r;
    for (int i = 0; i < 5; i++) {
        CHECK(call(port, "Echo.Other", "{}", &r) == 0 && r.status == 200);
        reply_free(&r);
    }
    CHECK_MSG(now_s() - t0 < 1.0, "others waited %.2f s", now_s() - t0);

    /* The stalled ones are closed by the server, without an answer or with
     * an error, within the timeout plus slack. */
    struct pollfd p[2] = {{.fd = st.fd, .events = POLLIN}, {.fd = st2.fd, .events = POLLIN}};
    int closed = 0;
    for (int k = 0; k < 2; k++) {
        if (poll(&p[k], 1, 6000) == 1) {
            char buf[4096];
            ssize_t n;
            while ((n = recv(p[k].fd, buf, sizeof buf, 0)) > 0) {
            }
            closed += n == 0 || (n < 0 && errno == ECONNRESET);
        }
    }
    CHECK_MSG(closed == 2, "%d of 2 stalled connections dropped after %.1f s", closed,
              now_s() - t0);
    cli_close(&st);
    cli_close(&st2);
}

int main(void)
{
    static const struct http_service svc[] = {
        {"Echo", echo_fn, 0},
        {"DynamoDB_20120810", fail_fn, 0},
    };
    struct http_routes routes = {.services = svc, .n_services = 2, .fallback = path_fn};
    struct http_opts opts = {.conn_timeout_s = 2};
    val_err err = {0};
    http_server *s = http_start_opts("127.0.0.1", 0, &routes, NULL, &opts, &err);
    CHECK_MSG(s != NULL, "%s", err.cause ? err.cause : "");
    if (!s)
        TEST_DONE();
    int port = http_port(s);
    CHECK(port > 0 && port < 65536);

    test_json10(port);
    test_errors(port);
    test_fallback(port);
    test_limits(port);
    test_browser_guard(port);
    test_concurrent(port);
    test_keepalive(port);
    test_stalled(port);

    /* Stopping with a connection still open and idle. */
    struct cli idle;
    CHECK(cli_open(&idle, port) == 0);
    http_stop(s);
    cli_close(&idle);
    http_stop(NULL);

    test_no_fallback();

    char u1[37], u2[37];
    http_uuid(u1);
    http_uuid(u2);
    CHECK(strlen(u1) == 36 && strcmp(u1, u2) != 0 && u1[14] == '4');
    TEST_DONE();
}
