/* lambda — see lambda.h. The Lambda API speaks rest-json: the operation
 * is the method and path, errors carry x-amzn-ErrorType and a
 * {"Type", "Message"} body, and Invoke's body is the raw payload. */
#include "api/ddb.h"
#include "api/lambda.h"
#include "api/sfn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FUNCTIONS "/2015-03-31/functions"
#define LOG_CHUNK (1024 * 1024)

/* A rest-json error as Lambda sends it. */
static void lerr(http_response *resp, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void lerr(http_response *resp, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    json_t *o = json_object();
    val_obj_set_take(o, "Type", json_string(status >= 500 ? "Service" : "User"));
    val_obj_set_take(o, "Message", json_string(msg ? msg : ""));
    http_resp_json(resp, status, o);
    json_decref(o);
    http_resp_header(resp, "x-amzn-ErrorType", type);
    free(msg);
}

static void not_found(struct api_lambda *a, http_response *resp, const char *name)
{
    char *arn = fn_arn(a->fn, name);
    lerr(resp, 404, "ResourceNotFoundException", "Function not found: %s", arn);
    free(arn);
}

/* ------------------------------------------------------------------ Invoke */

/* Fills resp with an invocation's result. */
static void invoke_answer(struct api_lambda *a, http_response *resp, const struct fn_result *r)
{
    switch (r->status) {
    case FN_NOT_FOUND:
        lerr(resp, 404, "ResourceNotFoundException", "%s", r->message ? r->message : "Function not found");
        return;
    case FN_SERVICE_ERROR:
        lerr(resp, 500, "ServiceException", "%s", r->message ? r->message : "stepd could not run the function");
        return;
    }
    (void)a;
    resp->status = 200;
    if (r->request_id)
        http_resp_header(resp, "x-amzn-RequestId", r->request_id);
    http_resp_bodyn(resp, r->payload, r->len);
    http_resp_header(resp, "X-Amz-Executed-Version", "$LATEST");
    if (r->status == FN_FUNCTION_ERROR)
        http_resp_header(resp, "X-Amz-Function-Error", "Unhandled");
    if (r->log_tail) {
        char *t = val_base64(r->log_tail, strlen(r->log_tail));
        http_resp_header(resp, "X-Amz-Log-Result", t);
        free(t);
    }
}

struct pending_invoke {
    struct api_lambda *a;
    http_defer *d;
};

static void invoke_done(void *ud, const struct fn_result *r)
{
    struct pending_invoke *w = ud;
    http_response resp = {.status = 200};
    invoke_answer(w->a, &resp, r);
    http_defer_finish(w->d, &resp);
    free(w);
}

static void op_invoke(struct api_lambda *a, const http_request *req, const char *name, http_response *resp)
{
    const char *q = http_query_get(req, "Qualifier");
    char *full = NULL;
    if (q && *q && strcmp(q, "$LATEST") != 0) {
        if (asprintf(&full, "%s:%s", name, q) < 0)
            full = NULL;
        not_found(a, resp, full ? full : name);
        free(full);
        return;
    }
    const char *type = http_header(req, "X-Amz-Invocation-Type");
    if (!type || !*type)
        type = "RequestResponse";
    if (strcmp(type, "RequestResponse") != 0 && strcmp(type, "Event") != 0 && strcmp(type, "DryRun") != 0)
        return lerr(resp, 400, "InvalidParameterValueException",
                    "1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: "
                    "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
                    type);
    if (req->body_len) {
        json_t *v = val_parse(req->body, req->body_len, NULL);
        if (!v)
            return lerr(resp, 400, "InvalidRequestContentException", "Could not parse request body into json");
        json_decref(v);
    }
    if (!fn_exists(a->fn, name))
        return not_found(a, resp, name);
    if (req->body_len > FN_MAX_REQUEST)
        return lerr(resp, 413, "RequestTooLargeException",
                    "Request must be smaller than %d bytes for the InvokeFunction operation", FN_MAX_REQUEST);
    if (strcmp(type, "DryRun") == 0) {
        resp->status = 204;
        return;
    }
    if (strcmp(type, "Event") == 0) {
        if (fn_invoke(a->fn, name, req->body, req->body_len, 0, NULL, NULL) < 0)
            return lerr(resp, 503, "ServiceException", "stepd is stopping");
        resp->status = 202;
        return;
    }
    const char *lt = http_header(req, "X-Amz-Log-Type");
    int tail = lt && strcmp(lt, "Tail") == 0;
    http_defer *d = http_defer_begin(req);
    if (!d)
        return lerr(resp, 500, "ServiceException", "a RequestResponse invocation needs a connection to answer on");
    struct pending_invoke *w = malloc(sizeof *w);
    if (!w)
        abort();
    w->a = a;
    w->d = d;
    if (fn_invoke(a->fn, name, req->body, req->body_len, tail ? FN_INVOKE_TAIL : 0, invoke_done, w) < 0) {
        http_response r = {.status = 200};
        lerr(&r, 503, "ServiceException", "stepd is stopping");
        http_defer_finish(d, &r);
        free(w);
    }
}

/* ------------------------------------------------------- functions, list */

static json_t *public_config(json_t *c)
{
    /* stepd's own members (the code directory) stay out of Lambda's shape */
    json_object_del(c, "_CodeDir");
    json_object_del(c, "_ReservedConcurrentExecutions");
    return c;
}

static void op_get(struct api_lambda *a, const char *name, int config_only, http_response *resp)
{
    json_t *c = fn_describe(a->fn, name);
    if (!c)
        return not_found(a, resp, name);
    json_t *dir = json_incref(json_object_get(c, "_CodeDir"));
    json_t *conc = json_incref(json_object_get(c, "_ReservedConcurrentExecutions"));
    public_config(c);
    if (config_only) {
        http_resp_json(resp, 200, c);
        json_decref(c);
        json_decref(dir);
        json_decref(conc);
        return;
    }
    json_t *o = json_object();
    val_obj_set_take(o, "Configuration", c);
    json_t *code = json_object();
    val_obj_set_take(code, "RepositoryType", json_string("FS"));
    val_obj_set_take(code, "Location", dir ? dir : json_string(""));
    val_obj_set_take(o, "Code", code);
    val_obj_set_take(o, "Tags", json_object());
    if (conc) {
        json_t *cc = json_object();
        val_obj_set_take(cc, "ReservedConcurrentExecutions", conc);
        val_obj_set_take(o, "Concurrency", cc);
    }
    http_resp_json(resp, 200, o);
    json_decref(o);
}

static void op_list(struct api_lambda *a, const http_request *req, http_response *resp)
{
    json_t *all = fn_list(a->fn);
    const char *marker = http_query_get(req, "Marker");
    const char *mi = http_query_get(req, "MaxItems");
    long max = mi && *mi ? strtol(mi, NULL, 10) : 50;
    if (max < 1 || max > 10000)
        return json_decref(all),
               lerr(resp, 400, "InvalidParameterValueException", "MaxItems must be between 1 and 10000");
    size_t start = 0, n = json_array_size(all);
    if (marker && *marker) {
        char *end;
        unsigned long m = strtoul(marker, &end, 10);
        if (*end || m > n) {
            json_decref(all);
            return lerr(resp, 400, "InvalidParameterValueException", "Marker '%s' is not one stepd gave", marker);
        }
        start = m;
    }
    json_t *page = json_array();
    size_t i;
    for (i = start; i < n && (long)(i - start) < max; i++)
        val_arr_append_take(page, public_config(json_incref(json_array_get(all, i))));
    json_t *o = json_object();
    val_obj_set_take(o, "Functions", page);
    if (i < n) {
        char m[32];
        snprintf(m, sizeof m, "%zu", i);
        val_obj_set_take(o, "NextMarker", json_string(m));
    }
    http_resp_json(resp, 200, o);
    json_decref(o);
    json_decref(all);
}

/* -------------------------------------------------------- stepd's routes */

static void op_logs(struct api_lambda *a, const http_request *req, const char *name, http_response *resp)
{
    char *path = fn_log_path(a->fn, name);
    if (!path) {
        if (!fn_exists(a->fn, name))
            return not_found(a, resp, name);
        return lerr(resp, 404, "ResourceNotFoundException", "stepd keeps no log for %s", name);
    }
    const char *o = http_query_get(req, "offset");
    long long off = o && *o ? strtoll(o, NULL, 10) : 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        off = 0;
        sb.st_size = 0;
    }
    if (off < 0)
        off = sb.st_size + off < 0 ? 0 : sb.st_size + off; /* negative: the last -offset bytes */
    if (off > sb.st_size)
        off = sb.st_size; /* the log was cleared: from its end */
    size_t want = (size_t)(sb.st_size - off) < LOG_CHUNK ? (size_t)(sb.st_size - off) : LOG_CHUNK;
    char *buf = malloc(want + 1);
    if (!buf)
        abort();
    ssize_t got = want && fd >= 0 ? pread(fd, buf, want, off) : 0;
    if (fd >= 0)
        close(fd);
    if (got < 0)
        got = 0;
    http_resp_body_take(resp, buf, (size_t)got);
    http_resp_content_type(resp, "text/plain; charset=utf-8");
    char next[32];
    snprintf(next, sizeof next, "%lld", off + (long long)got);
    http_resp_header(resp, "X-Stepd-Log-Offset", next);
}

static json_t *lat_json(const struct fn_lat *l)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f}", "n", (json_int_t)l->n, "p50_us", (double)l->p50 / 1e3, "p90_us",
                     (double)l->p90 / 1e3, "p99_us", (double)l->p99 / 1e3, "max_us", (double)l->max / 1e3);
}

static void op_stats(struct api_lambda *a, const http_request *req, http_response *resp)
{
    const char *r = http_query_get(req, "reset");
    struct fn_stats fs;
    fn_stats_get(a->fn, &fs, r != NULL);
    struct sched_stats ss;
    sched_stats_get(a->s, &ss);
    json_t *o = json_object();
    json_t *f = json_object();
    val_obj_set_take(f, "python", lat_json(&fs.python));
    val_obj_set_take(f, "provided", lat_json(&fs.provided));
    val_obj_set_take(f, "invocations", json_integer(fs.invocations));
    val_obj_set_take(f, "cold_starts", json_integer(fs.cold_starts));
    val_obj_set_take(f, "workers", json_integer(fs.workers));
    val_obj_set_take(o, "functions", f);
    val_obj_set_take(o, "executions",
                     json_pack("{s:I,s:I,s:I,s:I,s:I}", "loaded", (json_int_t)ss.loaded, "known",
                               (json_int_t)ss.known, "turns", (json_int_t)ss.turns, "commits",
                               (json_int_t)ss.commits, "transitions", (json_int_t)ss.transitions));
    val_obj_set_take(o, "tables", json_pack("{s:I,s:I}", "group_writes", (json_int_t)ss.ddb_writes, "group_commits",
                                            (json_int_t)ss.ddb_commits));
    http_resp_json(resp, 200, o);
    json_decref(o);
}

static void op_deploy(struct api_lambda *a, const http_request *req, http_response *resp)
{
    val_err err = {0};
    json_t *plan = val_parse(req->body, req->body_len, &err);
    if (!plan || !json_is_object(plan)) {
        lerr(resp, 400, "InvalidRequestContentException", "the deploy plan is not a JSON object%s%s",
             err.cause ? ": " : "", err.cause ? err.cause : "");
        json_decref(plan);
        val_err_clear(&err);
        return;
    }
    json_t *report = api_deploy(a, plan, &err);
    json_decref(plan);
    if (!report) {
        lerr(resp, err.kind == VAL_ERR_STORE ? 500 : 400, err.name ? err.name : "InvalidParameterValueException",
             "%s", err.cause ? err.cause : "deploy failed");
        val_err_clear(&err);
        return;
    }
    http_resp_json(resp, 200, report);
    json_decref(report);
}

/* ------------------------------------------------------------------- routes */

http_server *api_serve(const char *host, int port, struct api_lambda *a, val_err *err)
{
    const struct http_service services[] = {{API_SFN_PREFIX, api_sfn_handle, 0},
                                            {API_DDB_PREFIX, api_ddb_handle, API_DDB_MAX_BODY}};
    const struct http_routes routes = {.services = services,
                                       .n_services = 2,
                                       .fallback = api_lambda_handle,
                                       .fallback_ud = a,
                                       .fallback_max_body = FN_MAX_PAYLOAD + 1024};
    return http_start(host, port, &routes, a->s, err);
}

void api_lambda_handle(void *ud, const http_request *req, http_response *resp)
{
    struct api_lambda *a = ud;
    const char *p = req->path;
    int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strncmp(p, FUNCTIONS, sizeof FUNCTIONS - 1) == 0) {
        const char *rest = p + sizeof FUNCTIONS - 1;
        if ((!*rest || strcmp(rest, "/") == 0) && get)
            return op_list(a, req, resp);
        if (*rest == '/') {
            rest++;
            const char *slash = strchr(rest, '/');
            char *name = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
            if (!name)
                abort();
            const char *what = slash ? slash + 1 : "";
            if (post && strcmp(what, "invocations") == 0)
                op_invoke(a, req, name, resp);
            else if (get && (!*what))
                op_get(a, name, 0, resp);
            else if (get && strcmp(what, "configuration") == 0)
                op_get(a, name, 1, resp);
            else
                lerr(resp, 404, "UnknownOperationException", "stepd does not serve %s %s", req->method, p);
            free(name);
            return;
        }
    }
    if (strcmp(p, "/stepd/deploy") == 0 && post)
        return op_deploy(a, req, resp);
    if (strcmp(p, "/stepd/stats") == 0 && get)
        return op_stats(a, req, resp);
    static const char lp[] = "/stepd/functions/";
    if (get && strncmp(p, lp, sizeof lp - 1) == 0) {
        const char *name = p + sizeof lp - 1;
        const char *slash = strchr(name, '/');
        if (slash && strcmp(slash, "/logs") == 0) {
            char *n = strndup(name, (size_t)(slash - name));
            if (!n)
                abort();
            op_logs(a, req, n, resp);
            free(n);
            return;
        }
    }
    lerr(resp, 404, "UnknownOperationException", "stepd does not serve %s %s", req->method, p);
}
