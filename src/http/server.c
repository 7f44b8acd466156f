/* server — the libmicrohttpd daemon behind http.h: one poll(2) thread, a
 * per-request state that collects the body (refusing it past the limit
 * without buffering it), and the routing of AWS JSON 1.0 requests by
 * X-Amz-Target to service handlers, everything else to the fallback. */
#include "http/http.h"

#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *d;
    int deferred; /* deferred requests not completed yet (atomic) */
    int port;
    size_t max_body, fallback_max_body;
    struct http_service *services; /* prefixes owned */
    size_t n_services;
    http_path_fn fallback;
    void *ud, *fallback_ud;
    int loopback; /* listening on loopback only: requests must name a loopback host */
};

/* One request's state: created when MHD reads the request line (the URI
 * log callback, the only place MHD shows the raw URI with its query),
 * freed when the request completes or its connection dies. */
struct req_state {
    char *raw_path; /* malloc'd; the query follows it in the same block */
    const char *query;
    char id[37];
    int started;   /* the handler saw the headers */
    int responded; /* a response is queued */
    int too_big;   /* the body passed max_body: no longer buffered */
    size_t limit;  /* this request's body limit */
    int deferred;  /* the handler called http_defer_begin */
    int suspended; /* MHD_suspend_connection was called */
    int finished;  /* http_defer_finish gave the answer in dresp */
    int json10;    /* the route's content type is JSON 1.0 */
    http_response dresp;
    struct MHD_Connection *conn;
    struct http_server *srv;
    pthread_mutex_t mu; /* deferred answers: finished/dresp cross threads */
    size_t seen;   /* body bytes received, kept or not */
    val_buf body;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)c;
    struct req_state *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t n = strlen(uri);
    r->raw_path = malloc(n + 2);
    if (!r->raw_path) {
        free(r);
        return NULL;
    }
    memcpy(r->raw_path, uri, n + 1);
    char *q = strchr(r->raw_path, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    } else {
        r->raw_path[n + 1] = '\0';
        r->query = r->raw_path + n + 1;
    }
    http_uuid(r->id);
    r->conn = c;
    r->srv = cls;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req_state *r = *con_cls;
    if (!r)
        return;
    if (r->deferred)
        __atomic_sub_fetch(&r->srv->deferred, 1, __ATOMIC_SEQ_CST);
    val_buf_free(&r->body);
    http_resp_clear(&r->dresp);
    pthread_mutex_destroy(&r->mu);
    free(r->raw_path);
    free(r);
    *con_cls = NULL;
}

const char *http_header(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query_get(const http_request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v)
        return v;
    /* MHD stores "?flag" with a NULL value, which lookup cannot tell from
     * absent; MHD_lookup_connection_value_n can. */
    const char *vn = NULL;
    size_t vlen = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &vn,
                                      &vlen) == MHD_YES)
        return vn ? vn : "";
    return NULL;
}

/* Sends resp (consuming what it owns) with the headers every answer
 * carries. def_ct is the route's default content type. */
static enum MHD_Result send_resp(struct MHD_Connection *c, struct req_state *r, http_response *resp,
                                 const char *def_ct, int json10)
{
    struct MHD_Response *m;
    if (!resp->body && json10)
        http_resp_bodyn(resp, "{}", 2);
    if (resp->body) {
        m = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (m)
            resp->body = NULL; /* MHD frees it now */
    } else {
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!m) {
        http_resp_clear(resp);
        return MHD_NO;
    }
    MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : def_ct);
    int own_id = 0; /* a handler may answer with the id of what it did (Lambda's invocation) */
    for (size_t i = 0; i < resp->n_headers; i++)
        own_id |= strcasecmp(resp->headers[i].name, "x-amzn-RequestId") == 0;
    if (!own_id)
        MHD_add_response_header(m, "x-amzn-RequestId", r->id);
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(m, resp->headers[i].name, resp->headers[i].value);
    /* A handler's bug must not make MHD refuse the answer and drop the
     * connection: anything but a real status reads as a server error. */
    unsigned status = resp->status >= 100 && resp->status <= 599 ? (unsigned)resp->status : 500;
    enum MHD_Result ret = MHD_queue_response(c, status, m);
    MHD_destroy_response(m);
    http_resp_clear(resp);
    r->responded = 1;
    return ret;
}

http_defer *http_defer_begin(const http_request *req)
{
    struct req_state *r = req->state;
    if (!r)
        return NULL; /* not a request of this server (a handler's test): answer at once */
    r->deferred = 1;
    __atomic_add_fetch(&r->srv->deferred, 1, __ATOMIC_SEQ_CST);
    return (http_defer *)r;
}

void http_defer_finish(http_defer *d, http_response *resp)
{
    struct req_state *r = (struct req_state *)d;
    pthread_mutex_lock(&r->mu);
    r->dresp = *resp;
    memset(resp, 0, sizeof *resp);
    r->finished = 1;
    int suspended = r->suspended;
    pthread_mutex_unlock(&r->mu);
    if (suspended)
        MHD_resume_connection(r->conn);
}

static void too_big_error(http_response *resp, size_t max, unsigned long long declared)
{
    if (declared)
        http_aws_error(resp, 413, "RequestEntityTooLargeException",
                       "Request body of %llu bytes exceeds the maximum of %zu bytes", declared, max);
    else
        http_aws_error(resp, 413, "RequestEntityTooLargeException",
                       "Request body exceeds the maximum of %zu bytes", max);
}

/* The host part of "host:port", "[v6]:port" or "scheme://host:port/...",
 * lowercased into out. */
static void host_part(const char *v, char *out, size_t n)
{
    const char *p = strstr(v, "://");
    p = p ? p + 3 : v;
    size_t k = 0;
    if (*p == '[') {
        p++;
        while (*p && *p != ']' && k + 1 < n)
            out[k++] = (char)tolower((unsigned char)*p++);
    } else {
        while (*p && *p != ':' && *p != '/' && k + 1 < n)
            out[k++] = (char)tolower((unsigned char)*p++);
    }
    out[k] = 0;
}

static int is_loopback_name(const char *h)
{
    if (strncmp(h, "sync-", 5) == 0) /* StartSyncExecution's host prefix */
        h += 5;
    size_t n = strlen(h);
    /* 127.x.y.z as an address only: "127.0.0.1.evil.example" is a name
     * its owner can point anywhere */
    int v4 = strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") == n;
    return strcmp(h, "localhost") == 0 || (n > 10 && strcmp(h + n - 10, ".localhost") == 0) || v4 ||
           strcmp(h, "::1") == 0;
}

/* A browser must not be able to drive stepd: a page of another origin
 * (Origin names a different host than Host) is refused, and so is a page
 * that rebinds its own name to 127.0.0.1 (Host is then that name, not a
 * loopback one). The aws CLI and the SDKs send no Origin and a Host of
 * the endpoint URL. Returns NULL when the request may go on, else why. */
static const char *refused(http_server *s, struct MHD_Connection *c, char *why, size_t n)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    char h[256] = "";
    if (host)
        host_part(host, h, sizeof h);
    if (s->loopback && host && !is_loopback_name(h)) {
        snprintf(why, n, "stepd listens on loopback and answers requests for a loopback host only, not '%.200s'",
                 host);
        return why;
    }
    if (origin) {
        /* same origin: the Origin's authority (host:port) is the Host */
        const char *a = strstr(origin, "://");
        a = a ? a + 3 : origin;
        size_t an = strcspn(a, "/"), hn = host ? strlen(host) : 0;
        if (!host || an != hn || strncasecmp(a, host, an) != 0) {
            snprintf(why, n, "stepd refuses cross-origin requests (Origin: %.200s)", origin);
            return why;
        }
    }
    return NULL;
}

/* The service an X-Amz-Target names ("Service.Operation"), or NULL. */
static const struct http_service *service_of(const http_server *s, const char *target)
{
    const char *dot = strchr(target, '.');
    if (!dot || !dot[1])
        return NULL;
    size_t n = (size_t)(dot - target);
    for (size_t i = 0; i < s->n_services; i++)
        if (strlen(s->services[i].prefix) == n && memcmp(s->services[i].prefix, target, n) == 0)
            return &s->services[i];
    return NULL;
}

/* AWS JSON 1.0: the service part of the target picks the handler, the body
 * must be a JSON object (an empty body counts as {}). */
static void route_json(http_server *s, const http_request *q, const char *target,
                       http_response *resp)
{
    const struct http_service *svc = service_of(s, target);
    if (!svc) {
        http_aws_error(resp, 400, "UnknownOperationException",
                       "Unknown operation: X-Amz-Target '%s'", target);
        return;
    }
    json_t *body;
    if (q->body_len == 0) {
        body = json_object();
    } else {
        val_err err = {0};
        body = val_parse(q->body, q->body_len, &err);
        if (!body) {
            http_aws_error(resp, 400, "SerializationException",
                           "Request body is not valid JSON: %s", err.cause ? err.cause : "");
            val_err_clear(&err);
            return;
        }
        if (!json_is_object(body)) {
            http_aws_error(resp, 400, "SerializationException",
                           "Request body must be a JSON object, not %s", val_type_name(body));
            json_decref(body);
            return;
        }
    }
    svc->fn(s->ud, q, strchr(target, '.') + 1, body, resp);
    json_decref(body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    http_server *s = cls;
    struct req_state *r = *con_cls;
    if (!r)
        return MHD_NO; /* the URI callback could not allocate */
    if (r->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->deferred) {
        /* called again after the resume (or spuriously while parked) */
        pthread_mutex_lock(&r->mu);
        int finished = r->finished;
        pthread_mutex_unlock(&r->mu);
        if (!finished)
            return MHD_YES;
        return send_resp(c, r, &r->dresp, r->json10 ? HTTP_JSON10 : "application/json", r->json10);
    }
    if (!r->started) {
        r->started = 1;
        char why[400];
        if (refused(s, c, why, sizeof why)) {
            http_response resp = {.status = 200};
            http_aws_error(&resp, 403, "AccessDeniedException", "%s", why);
            return send_resp(c, r, &resp, HTTP_JSON10, 1);
        }
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        const char *target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
        const struct http_service *svc = target ? service_of(s, target) : NULL;
        r->limit = svc && svc->max_body ? svc->max_body : target || !s->fallback ? s->max_body : s->fallback_max_body;
        if (declared > r->limit) {
            /* Answer before reading a byte of the body; MHD then closes
             * the connection instead of draining it. */
            http_response resp = {.status = 200};
            too_big_error(&resp, r->limit, declared);
            return send_resp(c, r, &resp, HTTP_JSON10, 1);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->seen += n;
        if (!r->too_big && r->seen > r->limit) {
            r->too_big = 1; /* chunked bodies: from here on counted, not kept */
            val_buf_free(&r->body);
        }
        if (!r->too_big)
            val_buf_putn(&r->body, upload_data, n);
        /* A chunked body that never ends would keep the connection busy
         * forever at no memory cost; cut it off well past the limit. */
        if (r->seen / 16 > r->limit)
            return MHD_NO;
        return MHD_YES;
    }

    http_request q = {
        .method = method,
        .path = url,
        .raw_path = r->raw_path,
        .query = r->query,
        .body = r->body.p ? r->body.p : "",
        .body_len = r->body.len,
        .request_id = r->id,
        .conn = c,
        .state = r,
    };
    http_response resp = {.status = 200};
    const char *target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
    int json10 = target && strcmp(method, "POST") == 0;
    if (r->too_big) {
        too_big_error(&resp, r->limit, 0);
        json10 = 1;
    } else if (json10) {
        route_json(s, &q, target, &resp);
    } else if (s->fallback) {
        s->fallback(s->fallback_ud ? s->fallback_ud : s->ud, &q, &resp);
    } else {
        json10 = 1;
        if (strcmp(method, "POST") == 0 && strcmp(url, "/") == 0)
            http_aws_error(&resp, 400, "UnknownOperationException",
                           "Missing X-Amz-Target header");
        else
            http_aws_error(&resp, 404, "UnknownOperationException", "No route for %s %s", method,
                           url);
    }
    if (r->deferred) {
        /* The answer comes from another thread; park the connection
         * unless it has come already. */
        http_resp_clear(&resp);
        r->json10 = json10;
        pthread_mutex_lock(&r->mu);
        int finished = r->finished;
        if (!finished) {
            MHD_suspend_connection(c);
            r->suspended = 1;
        }
        pthread_mutex_unlock(&r->mu);
        if (finished)
            return send_resp(c, r, &r->dresp, json10 ? HTTP_JSON10 : "application/json", json10);
        return MHD_YES;
    }
    return send_resp(c, r, &resp, json10 ? HTTP_JSON10 : "application/json", json10);
}

http_server *http_start(const char *host, int port, const struct http_routes *routes, void *ud,
                        val_err *err)
{
    return http_start_opts(host, port, routes, ud, NULL, err);
}

static void server_free(http_server *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_services; i++)
        free((char *)s->services[i].prefix);
    free(s->services);
    free(s);
}

http_server *http_start_opts(const char *host, int port, const struct http_routes *routes, void *ud,
                             const struct http_opts *opts, val_err *err)
{
    struct http_opts o = opts ? *opts : (struct http_opts){0};
    if (!o.max_body)
        o.max_body = HTTP_MAX_BODY;
    if (!o.conn_limit)
        o.conn_limit = 4096;
    if (!o.conn_timeout_s)
        o.conn_timeout_s = 30;
    if (!o.threads)
        o.threads = 1;
    if (!host)
        host = "127.0.0.1";
    if (port < 0 || port > 65535) {
        val_err_set(err, VAL_ERR_IO, "InvalidPort", "port %d is out of range 0-65535", port);
        return NULL;
    }

    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        val_err_setc(err, VAL_ERR_IO, "OutOfMemory", "out of memory");
        return NULL;
    }
    s->max_body = o.max_body;
    s->ud = ud;
    {
        char h[256];
        host_part(host, h, sizeof h);
        s->loopback = strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0;
    }
    if (routes) {
        s->fallback = routes->fallback;
        s->fallback_ud = routes->fallback_ud;
        s->fallback_max_body = routes->fallback_max_body > o.max_body ? routes->fallback_max_body : o.max_body;
        s->services = calloc(routes->n_services ? routes->n_services : 1, sizeof *s->services);
        if (!s->services) {
            server_free(s);
            val_err_setc(err, VAL_ERR_IO, "OutOfMemory", "out of memory");
            return NULL;
        }
        for (size_t i = 0; i < routes->n_services; i++) {
            s->services[i].prefix = strdup(routes->services[i].prefix);
            s->services[i].fn = routes->services[i].fn;
            s->services[i].max_body = routes->services[i].max_body;
            s->n_services++;
        }
    }

    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        val_err_set(err, VAL_ERR_IO, "ListenFailed", "cannot resolve listen address '%s': %s", host,
                    gai_strerror(gai));
        server_free(s);
        return NULL;
    }

    /* poll(2), not epoll: with epoll, libmicrohttpd 0.9.75 (Debian 12)
     * stalls for its whole idle timeout when one wait returns its maximum
     * of 128 events while deferred answers wait to be resumed (seen with
     * 128 clients keeping a request each in flight: the server idle, every
     * connection waiting). poll costs a pass over the descriptors per
     * wake-up, which is small next to everything else a request costs. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem items[] = {
        {MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o.conn_limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o.conn_timeout_s, NULL},
        /* A burst of connects (1,000 clients at once) must queue, not be
         * refused, while the one thread accepts them. */
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL},
        /* MHD zeroes a connection's memory pool for every request on it:
         * 16 KiB (its default is 32) holds any client's headers and halves
         * that cost. Bodies are buffered by us, not in the pool. */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16384, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)o.threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (o.threads == 1)
        items[5].option = MHD_OPTION_END; /* no pool: the single thread */
    errno = 0;
    s->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_ARRAY, items, MHD_OPTION_END);
    int saved = errno;
    freeaddrinfo(ai);
    if (!s->d) {
        val_err_set(err, VAL_ERR_IO, "ListenFailed", "cannot listen on %s:%d: %s", host, port,
                    saved ? strerror(saved) : "libmicrohttpd refused to start");
        server_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    return s;
}

int http_port(const http_server *srv)
{
    return srv ? srv->port : 0;
}

void http_stop(http_server *srv)
{
    if (!srv)
        return;
    if (srv->d) {
        /* No new connections; answers already given to deferred requests
         * (shutdown errors included) get up to 3 s to go out before every
         * connection is closed. */
        MHD_socket lsock = MHD_quiesce_daemon(srv->d);
        for (int i = 0; i < 300 && __atomic_load_n(&srv->deferred, __ATOMIC_SEQ_CST) > 0; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(srv->d);
        if (lsock != MHD_INVALID_SOCKET)
            close(lsock); /* ours after a quiesce, closed once the threads are gone */
    }
    server_free(srv);
}
