/* http — the HTTP/1.1 server of `stepd serve`, on GNU libmicrohttpd: one
 * poll(2) thread, keep-alive, connection limits and timeouts, request bodies
 * capped before they are read whole. Requests in AWS JSON 1.0 (a POST with
 * `X-Amz-Target: Service.Operation`) are routed by the target's service
 * prefix to a service handler with the body already parsed; every other
 * request goes to one fallback handler (Lambda REST, the runtime API, the
 * console). The Host header is never looked at. Nothing in here knows what
 * an operation means: that is src/api's job. */
#ifndef STEPD_HTTP_H
#define STEPD_HTTP_H

#include <stddef.h>

#include "json/val.h"

#define HTTP_MAX_BODY (1024 * 1024)   /* request bodies over 1 MiB get 413 */
#define HTTP_JSON10 "application/x-amz-json-1.0"

typedef struct http_server http_server;

/* A request as a handler sees it: complete, read-only, valid only during
 * the handler call. */
typedef struct http_request {
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* percent-decoded, without the query: "/2015-03-31/functions/f" */
    const char *raw_path;   /* the path as received (SigV4 signs this) */
    const char *query;      /* the raw query string after '?', "" when none */
    const char *body;       /* the body bytes, NUL-terminated for convenience ("" when empty) */
    size_t body_len;
    const char *request_id; /* the x-amzn-RequestId this answer will carry */
    void *conn;             /* private to src/http */
    void *state;            /* private to src/http */
} http_request;

/* A header's value (name is case-insensitive), borrowed from the request;
 * NULL when absent. The first occurrence wins. */
const char *http_header(const http_request *req, const char *name);

/* A query argument's percent-decoded value, borrowed; NULL when absent. An
 * argument given without '=' has the value "". */
const char *http_query_get(const http_request *req, const char *name);

typedef struct http_kv {
    char *name, *value;
} http_kv;

/* A response, filled by the handler. The server sets status 200 and no body
 * before the call; everything here is owned by the response and freed by the
 * server after sending. Use the helpers below rather than the fields. */
typedef struct http_response {
    int status;
    char *content_type; /* NULL: the route's default (JSON 1.0: HTTP_JSON10; else application/json) */
    char *body;         /* NULL: empty (JSON 1.0: "{}") */
    size_t body_len;
    http_kv *headers;   /* extra headers, in order */
    size_t n_headers, cap_headers;
} http_response;

/* Sets the body, taking a malloc'd buffer of len bytes (freeing any earlier
 * body). body may be NULL for an empty body. */
void http_resp_body_take(http_response *resp, char *body, size_t len);
/* Sets the body to a copy of len bytes. */
void http_resp_bodyn(http_response *resp, const char *body, size_t len);
/* Sets status and the body to v serialized compactly (val_dump). v is
 * borrowed. Content type is left to the route's default. */
void http_resp_json(http_response *resp, int status, const json_t *v);
/* Sets the content type (copied). */
void http_resp_content_type(http_response *resp, const char *type);
/* Adds a response header (both strings copied). Content-Type is set by
 * the server; so is x-amzn-RequestId (the request's id) unless the handler
 * adds its own (Lambda's Invoke answers with the invocation's id). */
void http_resp_header(http_response *resp, const char *name, const char *value);

/* An AWS JSON error: sets status and the body
 * `{"__type":"<type>","message":"<printf(fmt, ...)>"}`, replacing any
 * earlier body. type is e.g. "StateMachineDoesNotExist"; fmt may be NULL
 * (no message member). */
void http_aws_error(http_response *resp, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Deferred answers. A handler that cannot answer at once (it waits for an
 * execution to end) calls http_defer and returns leaving resp untouched:
 * the connection is parked without a thread, and the answer is given
 * later, from any thread, with http_defer_finish, which takes what resp
 * holds (and zeroes it). Every deferred request must be finished exactly
 * once, before http_stop. http_defer_begin returns NULL for a request that
 * did not come through a server (handlers called directly by tests): the
 * handler must then answer at once. */
typedef struct http_defer http_defer;
http_defer *http_defer_begin(const http_request *req);
void http_defer_finish(http_defer *d, http_response *resp);

/* Frees what a response holds and zeroes it (the server does this; exposed
 * for tests of handlers). NULL allowed. */
void http_resp_clear(http_response *resp);

/* A JSON 1.0 service handler. op is the text after the first '.' of
 * X-Amz-Target (never empty); body is the parsed request body, always a JSON
 * object (an empty body reads as {}), borrowed: json_incref it to keep it.
 * Fill resp; a response left untouched is 200 with `{}`. */
typedef void (*http_json_fn)(void *ud, const http_request *req, const char *op, json_t *body,
                             http_response *resp);

/* Any other request (not a POST with X-Amz-Target). */
typedef void (*http_path_fn)(void *ud, const http_request *req, http_response *resp);

struct http_service {
    const char *prefix; /* the service part of X-Amz-Target: "AWSStepFunctions", "DynamoDB_20120810" */
    http_json_fn fn;
    size_t max_body; /* its requests' body limit (DynamoDB's 16 MB); 0: the server's max_body */
};

/* The routing table. http_start copies it (strings too). */
struct http_routes {
    const struct http_service *services;
    size_t n_services;
    http_path_fn fallback; /* NULL: 404 UnknownOperationException for other requests */
    void *fallback_ud;     /* the fallback's ud; NULL: the server's */
    size_t fallback_max_body; /* body limit of fallback requests (Lambda's 6 MB payloads); 0: max_body */
};

/* Everything http_start leaves at its default; 0 in a field means "the
 * default". */
struct http_opts {
    size_t max_body;          /* bytes; default HTTP_MAX_BODY */
    unsigned conn_limit;      /* concurrent connections; default 4096 */
    unsigned conn_timeout_s;  /* idle or stalled connection dropped after; default 30 */
    unsigned threads;         /* MHD threads (each polling); default 1. Above 1, handlers
                                 run concurrently and ud must be thread-safe. */
};

/* Starts listening on host:port (host: an address or name, NULL =
 * "127.0.0.1"; port 0 picks a free port, see http_port) and serving on the
 * server's own thread. Handlers are called on that thread, one at a time
 * (with threads = 1), with ud; they must not block for long. routes is
 * copied. Returns the server or NULL with err set (kind VAL_ERR_IO). */
http_server *http_start(const char *host, int port, const struct http_routes *routes, void *ud,
                        val_err *err);
/* The same with every option; opts may be NULL. */
http_server *http_start_opts(const char *host, int port, const struct http_routes *routes, void *ud,
                             const struct http_opts *opts, val_err *err);

/* The port actually bound. */
int http_port(const http_server *srv);

/* Stops listening, closes every connection, waits for the server thread and
 * frees the server. No handler runs after it returns. NULL allowed. */
void http_stop(http_server *srv);

/* Writes a fresh random (version 4) UUID, lowercase, into out (37 bytes). */
void http_uuid(char out[37]);

#endif
