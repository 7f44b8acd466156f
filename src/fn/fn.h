/* fn — functions: the registry, the Lambda Runtime API, the worker pool.
 *
 * A function is what SAM says it is: a directory of code, a handler, a
 * runtime, an environment, a timeout, a memory size, a concurrency bound.
 * Invoking it hands the payload to a warm worker process through the Lambda
 * Runtime API (GET /2018-06-01/runtime/invocation/next, POST .../response,
 * .../error, /runtime/init/error), so code written for Lambda runs
 * unchanged: python3.* through runtimes/python/bootstrap.py, provided* through
 * the code directory's own `bootstrap` executable (our C runtime client is
 * one).
 *
 * Each worker gets its own loopback listening port (AWS_LAMBDA_RUNTIME_API),
 * so the server always knows which process asks for work: a timeout kills
 * exactly the worker that holds the invocation, and a worker that exits
 * fails exactly its own invocation (Runtime.ExitError). Workers stay warm
 * and are reused, at most `concurrency` per function (invocations beyond it
 * queue), and are reaped after being idle for a while. Worker stdout/stderr
 * go to a per-function log with Lambda's START/END/REPORT lines.
 *
 * Threads: one thread of the pool's own runs an epoll loop over every
 * listening socket, connection, output pipe and process; the functions
 * below are thread-safe. Results are delivered on the pool's thread,
 * never inline and never with a lock of the pool held. */
#ifndef STEPD_FN_H
#define STEPD_FN_H

#include <stddef.h>
#include <stdint.h>

#include "json/val.h"

#define FN_MAX_PAYLOAD 6291556 /* bytes: Lambda's limit on a synchronous response (6 MB) */
#define FN_MAX_REQUEST 6291456 /* bytes: and on an Invoke request's payload */
#define FN_TAIL_BYTES 4096     /* X-Amz-Log-Result: the last 4 KB of an invocation's log */

typedef struct fn_pool fn_pool;

struct fn_opts {
    const char *region;       /* default us-east-1 */
    const char *account;      /* default 123456789012 */
    const char *endpoint_url; /* AWS_ENDPOINT_URL given to workers (stepd's own API); NULL: none */
    const char *runtime_dir;  /* holds python/bootstrap.py; NULL: found beside the executable */
    const char *log_dir;      /* <log_dir>/<function>.log; NULL: no log files */
    int echo_fd;              /* also copy every log line here, prefixed "[name] " (-1: no; 0 counts as stdin: use -1) */
    int idle_s;               /* an idle worker is stopped after this long; default 300 */
    int default_concurrency;  /* workers per function when not reserved; default 8 */
    int quiet;                /* no notices on stderr */
    int hold;                 /* start no worker until fn_set_endpoint (the server's port is not
                                 known yet); invocations queue meanwhile */
};

/* A function's configuration; strings are copied by fn_put. */
struct fn_config {
    const char *name;
    const char *code_dir;     /* absolute path of the code directory */
    const char *handler;      /* python: module.function; provided: informational */
    const char *runtime;      /* python3.x, provided, provided.al2, provided.al2023 (others are
                                 accepted; their invocations fail with Runtime.InvalidRuntime) */
    int timeout_s;            /* 0: 3 */
    int memory_mb;            /* 0: 128 */
    int concurrency;          /* ReservedConcurrentExecutions; 0: the pool's default */
    json_t *environment;      /* object of string values (borrowed, copied); NULL: none */
};

/* Starts the pool's thread. NULL with err set when it cannot. */
fn_pool *fn_new(const struct fn_opts *o, val_err *err);
/* Fails what is queued or running (FN_SERVICE_ERROR: stepd is stopping,
 * delivered before it returns), stops every worker and joins the thread.
 * From then on fn_invoke refuses. Safe to call twice; NULL allowed. */
void fn_stop(fn_pool *p);
/* Stops (if needed) and frees the pool. NULL allowed. */
void fn_free(fn_pool *p);

/* Sets AWS_ENDPOINT_URL for workers started from now on and releases a
 * pool created with hold. url may be NULL (no endpoint). */
void fn_set_endpoint(fn_pool *p, const char *url);

/* Checks a configuration the way fn_put does, changing nothing. 0, or -1
 * with err set. */
int fn_check(const struct fn_config *c, val_err *err);
/* Creates or replaces a function. A changed configuration (or a changed
 * file in its code directory: its path, size or modification time) stops the
 * function's workers (a busy one after its invocation) so that the next
 * invocation starts the new code. Returns 1 when created or changed, 0
 * when unchanged, -1 with err set (InvalidParameterValueException: a
 * missing name, code directory or handler). */
int fn_put(fn_pool *p, const struct fn_config *c, val_err *err);
/* Deletes a function; queued invocations fail as not found. 0, or -1
 * when there is none. */
int fn_delete(fn_pool *p, const char *name);
/* Whether a function is known under name (a name, name:$LATEST, or a full
 * or partial ARN). */
int fn_exists(fn_pool *p, const char *name);
/* Lambda's FunctionConfiguration of a function (a new reference), NULL
 * when there is none. */
json_t *fn_describe(fn_pool *p, const char *name);
/* Every function's FunctionConfiguration, by name (a new array). */
json_t *fn_list(fn_pool *p);
/* The log file of a function (malloc'd path), NULL when unknown or no
 * logs are kept. */
char *fn_log_path(fn_pool *p, const char *name);
/* The function ARN for a name or ARN (malloc'd). */
char *fn_arn(fn_pool *p, const char *name);

/* ----------------------------------------------------------- invocations */

enum fn_status {
    FN_OK,             /* payload is the function's response */
    FN_FUNCTION_ERROR, /* payload is the error document {errorMessage, errorType, ...} */
    FN_NOT_FOUND,      /* no such function (message says which) */
    FN_SERVICE_ERROR,  /* stepd could not run it (stopping, out of resources) */
};

struct fn_result {
    int status;              /* enum fn_status */
    const char *payload;     /* FN_OK / FN_FUNCTION_ERROR: the bytes (NUL-terminated) */
    size_t len;
    const char *error_type;  /* FN_FUNCTION_ERROR: errorType (never NULL there) */
    const char *message;     /* FN_NOT_FOUND / FN_SERVICE_ERROR: AWS's message */
    const char *log_tail;    /* FN_INVOKE_TAIL: the invocation's log (at most 4 KB), else NULL */
    const char *request_id;
    const char *function_arn;
};

/* Called exactly once per fn_invoke, on the pool's thread; everything in r
 * is borrowed for the call. */
typedef void (*fn_done_fn)(void *ud, const struct fn_result *r);

enum { FN_INVOKE_TAIL = 1 };

/* Invokes the function called name (a name, name:$LATEST, or a full or
 * partial ARN; the region and account of an ARN are not checked) with
 * payload (len bytes, copied; empty means {}). done may be NULL (an Event
 * invocation nobody waits for). Returns 0, and done is called later
 * (never inline); or -1 once the pool has stopped (fn_stop), and done is
 * never called. */
int fn_invoke(fn_pool *p, const char *name, const char *payload, size_t len, int flags,
              fn_done_fn done, void *ud);

/* The round trips of warm invocations, timed inside the pool from writing
 * the event to a worker's waiting GET next to reading the worker's
 * complete response: percentiles in ns over the samples kept since the
 * last reset, for Python workers and for provided (bootstrap) workers. */
struct fn_lat {
    long n;
    int64_t p50, p90, p99, max;
};
struct fn_stats {
    struct fn_lat python, provided;
    long invocations, cold_starts, workers;
};
void fn_stats_get(fn_pool *p, struct fn_stats *out, int reset);

#endif
