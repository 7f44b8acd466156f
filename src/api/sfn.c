/* sfn — see sfn.h. One function per operation, each: read and check the
 * request members, call the scheduler (or read the store under its lock),
 * build AWS's answer. */
#include "api/sfn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"

#define MAX_INPUT 262144 /* bytes: AWS's limit on input and output */

/* ------------------------------------------------------ request members */

/* The request being read: the first problem is answered and every later
 * read is a no-op, so an operation reads all its members then checks
 * r->failed once. */
struct rq {
    json_t *body;
    http_response *resp;
    int failed;
};

static void bad(struct rq *r, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad(struct rq *r, const char *type, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    http_aws_error(r->resp, 400, type, "%s", msg ? msg : "");
    free(msg);
}

/* A string member; NULL when absent (and required: answered). */
static const char *str_m(struct rq *r, const char *name, int required, size_t max_len)
{
    if (r->failed)
        return NULL;
    json_t *v = json_object_get(r->body, name);
    if (!v || json_is_null(v)) {
        if (required)
            bad(r, "ValidationException",
                "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null",
                name);
        return NULL;
    }
    if (!json_is_string(v)) {
        bad(r, "SerializationException", "Value of '%s' must be a string, not %s", name, val_type_name(v));
        return NULL;
    }
    if (max_len && json_string_length(v) > max_len) {
        bad(r, "ValidationException",
            "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length "
            "less than or equal to %zu",
            name, max_len);
        return NULL;
    }
    return json_string_value(v);
}

static int bool_m(struct rq *r, const char *name, int dflt)
{
    if (r->failed)
        return dflt;
    json_t *v = json_object_get(r->body, name);
    if (!v || json_is_null(v))
        return dflt;
    if (!json_is_boolean(v)) {
        bad(r, "SerializationException", "Value of '%s' must be a boolean, not %s", name, val_type_name(v));
        return dflt;
    }
    return json_is_true(v);
}

static long int_m(struct rq *r, const char *name, long lo, long hi, long dflt)
{
    if (r->failed)
        return dflt;
    json_t *v = json_object_get(r->body, name);
    if (!v || json_is_null(v))
        return dflt;
    if (!json_is_integer(v)) {
        bad(r, "SerializationException", "Value of '%s' must be an integer, not %s", name, val_type_name(v));
        return dflt;
    }
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi) {
        bad(r, "ValidationException",
            "1 validation error detected: Value '%" JSON_INTEGER_FORMAT "' at '%s' failed to satisfy constraint: "
            "Member must have value %s %ld",
            i, name, i < lo ? "greater than or equal to" : "less than or equal to", i < lo ? lo : hi);
        return dflt;
    }
    return (long)i;
}

int api_sfn_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 80)
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f || strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *p))
            return 0;
        /* U+007F-U+009F (C1 controls) as UTF-8: C2 80..C2 9F */
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return 0;
    }
    return 1;
}

static const char *name_m(struct rq *r, const char *member, int required)
{
    const char *n = str_m(r, member, required, 0);
    if (n && !api_sfn_name_ok(n)) {
        bad(r, "InvalidName", "Invalid Name: '%s'", n);
        return NULL;
    }
    return n;
}

/* An ARN of the given resource type ("stateMachine", "execution"; an
 * execution ARN may also be "express"). */
static const char *arn_m(struct rq *r, const char *member, const char *type, int required)
{
    const char *a = str_m(r, member, required, 2048);
    if (!a)
        return NULL;
    if (strncmp(a, "arn:", 4) != 0) {
        bad(r, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: %s'", a);
        return NULL;
    }
    /* arn:PARTITION:states:REGION:ACCOUNT:TYPE:... */
    const char *p = a;
    for (int i = 0; i < 5 && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    if (!p || strncmp(a, "arn:aws:states:", 15) != 0) {
        bad(r, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", a);
        return NULL;
    }
    size_t tl = strlen(type);
    int ok = strncmp(p, type, tl) == 0 && p[tl] == ':' && p[tl + 1];
    if (!ok && strcmp(type, "execution") == 0)
        ok = strncmp(p, "express:", 8) == 0 && p[8];
    if (!ok) {
        const char *colon = strchr(p, ':');
        bad(r, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %.*s'",
            (int)(colon ? colon - p : (long)strlen(p)), p);
        return NULL;
    }
    return a;
}

/* Epoch seconds with milliseconds, as AWS's JSON protocol sends dates. */
static json_t *date(int64_t ns) { return json_real((double)(ns / 1000000) / 1000.0); }

static void fail_err(http_response *resp, val_err *err)
{
    if (err->name && strcmp(err->name, "ServiceUnavailable") == 0)
        http_aws_error(resp, 503, err->name, "%s", err->cause ? err->cause : "");
    else if (err->kind == VAL_ERR_STORE || !err->name || strcmp(err->name, "StoreError") == 0)
        http_aws_error(resp, 500, "InternalServerError", "%s", err->cause ? err->cause : "internal error");
    else
        http_aws_error(resp, 400, err->name, "%s", err->cause ? err->cause : "");
    val_err_clear(err);
}

static void answer(http_response *resp, json_t *v)
{
    http_resp_json(resp, 200, v);
    json_decref(v);
}

static int is_express_arn(const char *arn) { return strstr(arn, ":express:") != NULL; }

/* ------------------------------------------------------------- machines */

static json_t *machine_json(const struct store_machine *m)
{
    json_t *o = json_object();
    val_obj_set_take(o, "stateMachineArn", json_string(m->arn));
    val_obj_set_take(o, "name", json_string(m->name));
    val_obj_set_take(o, "status", json_string("ACTIVE"));
    val_obj_set_take(o, "definition", json_string(m->definition));
    val_obj_set_take(o, "roleArn", json_string(m->role_arn ? m->role_arn : ""));
    val_obj_set_take(o, "type", json_string(m->type));
    val_obj_set_take(o, "creationDate", date(m->created_ns));
    val_obj_set_take(o, "loggingConfiguration", json_pack("{s:s,s:b}", "level", "OFF", "includeExecutionData", 0));
    val_obj_set_take(o, "tracingConfiguration", json_pack("{s:b}", "enabled", 0));
    /* AWS: "The first revision ID when you create the state machine is null" */
    if (m->revision_id && m->updated_ns != m->created_ns)
        val_obj_set_take(o, "revisionId", json_string(m->revision_id));
    return o;
}

static const char *type_m(struct rq *r)
{
    const char *t = str_m(r, "type", 0, 0);
    if (!t)
        return "STANDARD";
    if (strcmp(t, "STANDARD") != 0 && strcmp(t, "EXPRESS") != 0) {
        bad(r, "ValidationException",
            "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy "
            "enum value set: [STANDARD, EXPRESS]",
            t);
        return NULL;
    }
    return t;
}

static const char *role_m(struct rq *r, int required)
{
    const char *role = str_m(r, "roleArn", required, 256);
    if (role && strncmp(role, "arn:", 4) != 0) {
        bad(r, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: %s'", role);
        return NULL;
    }
    return role;
}

static void op_create_machine(sched *s, struct rq *r)
{
    const char *name = name_m(r, "name", 1);
    const char *def = str_m(r, "definition", 1, 1048576);
    const char *role = role_m(r, 1);
    const char *type = type_m(r);
    if (r->failed)
        return;
    struct store_machine m;
    val_err err = {0};
    if (sched_machine_create(s, name, def, type, role, &m, &err) < 0)
        return fail_err(r->resp, &err);
    answer(r->resp, json_pack("{s:s,s:o}", "stateMachineArn", m.arn, "creationDate", date(m.created_ns)));
    store_machine_clear(&m);
}

/* Reads one machine / one execution under the lock; -1 when it was
 * answered (AWS's DoesNotExist error, or a store failure). */
static int get_machine(sched *s, struct rq *r, const char *arn, struct store_machine *m)
{
    val_err err = {0};
    store *st = sched_lock(s);
    int rc = st->ops->machine_get(st, arn, m, &err);
    sched_unlock(s);
    if (rc == STORE_NOT_FOUND)
        http_aws_error(r->resp, 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
    else if (rc != STORE_OK)
        fail_err(r->resp, &err);
    return rc == STORE_OK ? 0 : -1;
}

static int get_exec(sched *s, struct rq *r, const char *arn, struct store_exec *x)
{
    val_err err = {0};
    store *st = sched_lock(s);
    int rc = st->ops->exec_get(st, arn, x, &err);
    sched_unlock(s);
    if (rc == STORE_NOT_FOUND)
        http_aws_error(r->resp, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
    else if (rc != STORE_OK)
        fail_err(r->resp, &err);
    return rc == STORE_OK ? 0 : -1;
}

static void op_describe_machine(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "stateMachineArn", "stateMachine", 1);
    if (r->failed)
        return;
    struct store_machine m = {0};
    if (get_machine(s, r, arn, &m) < 0)
        return;
    answer(r->resp, machine_json(&m));
    store_machine_clear(&m);
}

static void op_update_machine(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "stateMachineArn", "stateMachine", 1);
    const char *def = str_m(r, "definition", 0, 1048576);
    const char *role = role_m(r, 0);
    int has_logging = json_object_get(r->body, "loggingConfiguration") != NULL ||
                      json_object_get(r->body, "tracingConfiguration") != NULL;
    if (r->failed)
        return;
    if (!def && !role && !has_logging)
        return http_aws_error(r->resp, 400, "MissingRequiredParameter",
                              "Either the definition, the role ARN, the LoggingConfiguration, or the "
                              "TracingConfiguration must be specified");
    struct store_machine m;
    val_err err = {0};
    if (sched_machine_update(s, arn, def, role, &m, &err) < 0)
        return fail_err(r->resp, &err);
    answer(r->resp, json_pack("{s:o,s:s}", "updateDate", date(m.updated_ns), "revisionId", m.revision_id));
    store_machine_clear(&m);
}

static void op_delete_machine(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "stateMachineArn", "stateMachine", 1);
    if (r->failed)
        return;
    val_err err = {0};
    if (sched_machine_delete(s, arn, &err) < 0)
        return fail_err(r->resp, &err);
    answer(r->resp, json_object());
}

/* nextToken: the store's own tokens, passed through; a token the store did
 * not issue is InvalidToken. */
static void page_error(http_response *resp, val_err *err, const char *token)
{
    if (err->name && strcmp(err->name, "InvalidToken") == 0) {
        http_aws_error(resp, 400, "InvalidToken", "Invalid Token: '%s'", token ? token : "");
        val_err_clear(err);
        return;
    }
    fail_err(resp, err);
}

static void op_list_machines(sched *s, struct rq *r)
{
    long max = int_m(r, "maxResults", 0, 1000, 0);
    const char *token = str_m(r, "nextToken", 0, 1024);
    if (r->failed)
        return;
    struct store_machine_list l = {0};
    val_err err = {0};
    store *st = sched_lock(s);
    int rc = st->ops->machine_list(st, token, (size_t)(max ? max : 100), &l, &err);
    sched_unlock(s);
    if (rc != STORE_OK)
        return page_error(r->resp, &err, token);
    json_t *items = json_array();
    for (size_t i = 0; i < l.n; i++)
        val_arr_append_take(items, json_pack("{s:s,s:s,s:s,s:o}", "stateMachineArn", l.items[i].arn, "name",
                                             l.items[i].name, "type", l.items[i].type, "creationDate",
                                             date(l.items[i].created_ns)));
    json_t *o = json_pack("{s:o}", "stateMachines", items);
    if (l.next_token)
        val_obj_set_take(o, "nextToken", json_string(l.next_token));
    answer(r->resp, o);
    store_machine_list_free(&l);
}

static void op_validate(sched *s, struct rq *r)
{
    (void)s;
    const char *def = str_m(r, "definition", 1, 1048576);
    type_m(r);
    long max = int_m(r, "maxResults", 0, 100, 100);
    if (r->failed)
        return;
    asl_diags d = {0};
    struct asl_machine *m = asl_load(def, strlen(def), &d);
    asl_machine_free(m);
    json_t *diags = json_array();
    for (size_t i = 0; i < d.n && (long)i < (max ? max : 100); i++) {
        json_t *g = json_pack("{s:s,s:s,s:s}", "severity", "ERROR", "code",
                              d.v[i].code ? d.v[i].code : "SCHEMA_VALIDATION_FAILED", "message",
                              d.v[i].message ? d.v[i].message : "");
        if (d.v[i].path && *d.v[i].path)
            val_obj_set_take(g, "location", json_string(d.v[i].path));
        val_arr_append_take(diags, g);
    }
    int truncated = (long)d.n > (max ? max : 100);
    answer(r->resp, json_pack("{s:s,s:o,s:b}", "result", d.n ? "FAIL" : "OK", "diagnostics", diags, "truncated",
                              truncated));
    asl_diags_free(&d);
}

/* ----------------------------------------------------------- executions */

static const char *input_m(struct rq *r)
{
    const char *in = str_m(r, "input", 0, MAX_INPUT);
    if (in) {
        val_err e = {0};
        json_t *v = val_parse(in, strlen(in), &e);
        if (!v) {
            bad(r, "InvalidExecutionInput", "Invalid State Machine Execution Input: '%s'",
                e.cause ? e.cause : "not JSON");
            val_err_clear(&e);
            return NULL;
        }
        json_decref(v);
    }
    return in;
}

static void start_answer(http_response *resp, const struct store_exec *x)
{
    json_t *o = json_pack("{s:s,s:o}", "executionArn", x->arn, "startDate", date(x->start_ns));
    http_resp_json(resp, 200, o);
    json_decref(o);
}

static void started(void *ud, const struct store_exec *x, const val_err *err)
{
    http_response resp = {.status = 200};
    if (x) {
        start_answer(&resp, x);
    } else {
        val_err e = {0};
        val_err_setc(&e, err->kind, err->name, err->cause);
        fail_err(&resp, &e);
    }
    http_defer_finish(ud, &resp);
}

static void op_start(sched *s, struct rq *r, const http_request *req)
{
    const char *arn = arn_m(r, "stateMachineArn", "stateMachine", 1);
    const char *name = name_m(r, "name", 0);
    const char *input = input_m(r);
    str_m(r, "traceHeader", 0, 256);
    if (r->failed)
        return;
    struct store_exec x;
    val_err err = {0};
    http_defer *d = http_defer_begin(req);
    int rc = sched_exec_start(s, arn, name, input, d ? started : NULL, NULL, d, &x, &err);
    if (rc == 1)
        return; /* answered at the group commit that stores it */
    http_response resp = {.status = 200};
    if (rc < 0)
        fail_err(&resp, &err);
    else
        start_answer(&resp, &x);
    store_exec_clear(&x);
    if (d)
        http_defer_finish(d, &resp);
    else
        *r->resp = resp;
}

/* DescribeExecution's members for a row (StartSyncExecution's too). */
static json_t *exec_json(const struct store_exec *x, int with_data)
{
    json_t *o = json_object();
    val_obj_set_take(o, "executionArn", json_string(x->arn));
    val_obj_set_take(o, "stateMachineArn", json_string(x->machine_arn));
    val_obj_set_take(o, "name", json_string(x->name));
    val_obj_set_take(o, "status", json_string(x->status));
    val_obj_set_take(o, "startDate", date(x->start_ns));
    if (x->stop_ns)
        val_obj_set_take(o, "stopDate", date(x->stop_ns));
    if (with_data) {
        val_obj_set_take(o, "input", json_string(x->input ? x->input : "{}"));
        val_obj_set_take(o, "inputDetails", json_pack("{s:b}", "included", 1));
        if (x->output) {
            val_obj_set_take(o, "output", json_string(x->output));
            val_obj_set_take(o, "outputDetails", json_pack("{s:b}", "included", 1));
        }
    }
    /* AWS shows no error or cause for a TIMED_OUT execution */
    if (strcmp(x->status, "TIMED_OUT") != 0) {
        if (x->error)
            val_obj_set_take(o, "error", json_string(x->error));
        if (x->cause)
            val_obj_set_take(o, "cause", json_string(x->cause));
    }
    return o;
}

struct sync_wait {
    http_defer *d;
};

static void sync_done(void *ud, const struct store_exec *x)
{
    struct sync_wait *w = ud;
    http_response resp = {.status = 200};
    if (!x) {
        http_aws_error(&resp, 503, "ServiceUnavailable", "stepd is shutting down");
    } else {
        json_t *o = exec_json(x, 1);
        int64_t ms = (x->stop_ns - x->start_ns) / 1000000;
        int64_t billed = ms < 100 ? 100 : (ms + 99) / 100 * 100;
        val_obj_set_take(o, "billingDetails", json_pack("{s:i,s:I}", "billedMemoryUsedInMB", 64,
                                                        "billedDurationInMilliseconds", (json_int_t)billed));
        http_resp_json(&resp, 200, o);
        json_decref(o);
    }
    http_defer_finish(w->d, &resp);
    free(w);
}

static void op_start_sync(sched *s, struct rq *r, const http_request *req)
{
    const char *arn = arn_m(r, "stateMachineArn", "stateMachine", 1);
    const char *name = name_m(r, "name", 0);
    const char *input = input_m(r);
    str_m(r, "traceHeader", 0, 256);
    if (r->failed)
        return;
    struct sync_wait *w = calloc(1, sizeof *w);
    if (!w)
        return http_aws_error(r->resp, 500, "InternalServerError", "out of memory");
    /* defer first: the execution may end before sched_exec_start returns */
    w->d = http_defer_begin(req);
    if (!w->d) {
        free(w);
        return http_aws_error(r->resp, 400, "ValidationException",
                              "StartSyncExecution needs a connection to answer on");
    }
    struct store_exec x;
    val_err err = {0};
    if (sched_exec_start(s, arn, name, input, NULL, sync_done, w, &x, &err) < 0) {
        http_response resp = {.status = 200};
        fail_err(&resp, &err);
        http_defer_finish(w->d, &resp);
        free(w);
        return;
    }
    store_exec_clear(&x);
}

static void op_describe_exec(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "executionArn", "execution", 1);
    if (r->failed)
        return;
    struct store_exec x = {0};
    if (get_exec(s, r, arn, &x) < 0)
        return;
    json_t *o = exec_json(&x, 1);
    if (!is_express_arn(arn)) {
        val_obj_set_take(o, "redriveCount", json_integer(0));
        val_obj_set_take(o, "redriveStatus", json_string(strcmp(x.status, "RUNNING") == 0 ||
                                                                  strcmp(x.status, "SUCCEEDED") == 0
                                                              ? "NOT_REDRIVABLE"
                                                              : "REDRIVABLE"));
        if (strcmp(x.status, "RUNNING") == 0 || strcmp(x.status, "SUCCEEDED") == 0)
            val_obj_set_take(o, "redriveStatusReason",
                             json_string(strcmp(x.status, "RUNNING") == 0 ? "Execution is RUNNING and cannot be redriven"
                                                                           : "Execution is SUCCEEDED and cannot be redriven"));
    }
    answer(r->resp, o);
    store_exec_clear(&x);
}

static void op_describe_machine_for_exec(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "executionArn", "execution", 1);
    if (r->failed)
        return;
    struct store_exec x = {0};
    struct store_machine m = {0};
    char *def = NULL;
    int first = 0;
    val_err err = {0};
    store *st = sched_lock(s);
    int rc = st->ops->exec_get(st, arn, &x, &err);
    int mr = STORE_NOT_FOUND;
    if (rc == STORE_OK) {
        mr = st->ops->machine_get(st, x.machine_arn, &m, &err);
        if (x.revision_id &&
            st->ops->revision_get(st, x.machine_arn, x.revision_id, &def, &first, NULL) != STORE_OK)
            def = NULL;
    }
    sched_unlock(s);
    if (rc == STORE_NOT_FOUND)
        return http_aws_error(r->resp, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
    if (rc != STORE_OK || (mr != STORE_OK && mr != STORE_NOT_FOUND)) {
        store_exec_clear(&x);
        store_machine_clear(&m);
        free(def);
        return fail_err(r->resp, &err);
    }
    json_t *o = json_object();
    val_obj_set_take(o, "stateMachineArn", json_string(x.machine_arn));
    const char *colon = strrchr(x.machine_arn, ':');
    val_obj_set_take(o, "name", json_string(mr == STORE_OK ? m.name : colon ? colon + 1 : x.machine_arn));
    val_obj_set_take(o, "definition", json_string(def ? def : mr == STORE_OK ? m.definition : ""));
    val_obj_set_take(o, "roleArn", json_string(mr == STORE_OK && m.role_arn ? m.role_arn : ""));
    val_obj_set_take(o, "updateDate", date(mr == STORE_OK ? m.updated_ns : x.start_ns));
    val_obj_set_take(o, "loggingConfiguration", json_pack("{s:s,s:b}", "level", "OFF", "includeExecutionData", 0));
    val_obj_set_take(o, "tracingConfiguration", json_pack("{s:b}", "enabled", 0));
    if (x.revision_id && def && !first)
        val_obj_set_take(o, "revisionId", json_string(x.revision_id));
    answer(r->resp, o);
    store_exec_clear(&x);
    store_machine_clear(&m);
    free(def);
}

static void op_stop(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "executionArn", "execution", 1);
    const char *error = str_m(r, "error", 0, 256);
    const char *cause = str_m(r, "cause", 0, 32768);
    if (r->failed)
        return;
    int64_t stop = 0;
    val_err err = {0};
    if (sched_exec_stop(s, arn, error, cause, &stop, &err) < 0)
        return fail_err(r->resp, &err);
    answer(r->resp, json_pack("{s:o}", "stopDate", date(stop)));
}

static const char *status_filter_m(struct rq *r)
{
    const char *f = str_m(r, "statusFilter", 0, 0);
    static const char *ok[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"};
    if (!f)
        return NULL;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(f, ok[i]) == 0)
            return f;
    bad(r, "ValidationException",
        "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must "
        "satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]",
        f);
    return NULL;
}

static void op_list_execs(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "stateMachineArn", "stateMachine", 0);
    const char *status = status_filter_m(r);
    long max = int_m(r, "maxResults", 0, 1000, 0);
    const char *token = str_m(r, "nextToken", 0, 3096);
    if (!r->failed && !arn && !json_object_get(r->body, "mapRunArn"))
        bad(r, "ValidationException", "Must provide a StateMachine ARN or MapRun ARN");
    if (!r->failed && !arn)
        bad(r, "ResourceNotFound", "Resource not found: map runs are not supported by stepd");
    if (r->failed)
        return;
    struct store_machine m = {0};
    struct store_exec_list l = {0};
    val_err err = {0};
    store *st = sched_lock(s);
    int rc = st->ops->machine_get(st, arn, &m, &err);
    if (rc == STORE_OK && strcmp(m.type, "EXPRESS") == 0)
        rc = STORE_EXISTS; /* AWS lists no EXPRESS executions */
    else if (rc == STORE_OK)
        rc = st->ops->exec_list(st, arn, status, token, (size_t)(max ? max : 100), &l, &err);
    sched_unlock(s);
    store_machine_clear(&m);
    if (rc == STORE_NOT_FOUND)
        return http_aws_error(r->resp, 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
    if (rc == STORE_EXISTS)
        return http_aws_error(r->resp, 400, "StateMachineTypeNotSupported",
                              "This operation is not supported by this type of state machine");
    if (rc != STORE_OK)
        return page_error(r->resp, &err, token);
    json_t *items = json_array();
    for (size_t i = 0; i < l.n; i++) {
        const struct store_exec *x = &l.items[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o}", "executionArn", x->arn, "stateMachineArn", x->machine_arn,
                              "name", x->name, "status", x->status, "startDate", date(x->start_ns));
        if (x->stop_ns)
            val_obj_set_take(o, "stopDate", date(x->stop_ns));
        val_arr_append_take(items, o);
    }
    json_t *o = json_pack("{s:o}", "executions", items);
    if (l.next_token)
        val_obj_set_take(o, "nextToken", json_string(l.next_token));
    answer(r->resp, o);
    store_exec_list_free(&l);
}

/* History page tokens: "<direction><last id>.<execution ARN's length>". */
static char *history_token(int reverse, int64_t last, const char *arn)
{
    char *t = NULL;
    if (asprintf(&t, "%c%" PRId64 ".%zu", reverse ? 'r' : 'f', last, strlen(arn)) < 0)
        abort();
    return t;
}

static int history_token_parse(const char *t, int reverse, const char *arn, int64_t *last)
{
    char dir;
    long long id;
    size_t len;
    int used = 0;
    if (sscanf(t, "%c%lld.%zu%n", &dir, &id, &len, &used) != 3 || t[used] || id < 0 ||
        dir != (reverse ? 'r' : 'f') || len != strlen(arn))
        return -1;
    *last = id;
    return 0;
}

static void strip_data(json_t *ev)
{
    const char *k;
    json_t *v;
    json_object_foreach(ev, k, v)
    {
        size_t n = strlen(k);
        if (json_is_object(v) && n > 12 && strcmp(k + n - 12, "EventDetails") == 0) {
            json_object_del(v, "input");
            json_object_del(v, "output");
            json_object_del(v, "inputDetails");
            json_object_del(v, "outputDetails");
        }
    }
}

static void op_history(sched *s, struct rq *r)
{
    const char *arn = arn_m(r, "executionArn", "execution", 1);
    long max = int_m(r, "maxResults", 0, 1000, 0);
    int reverse = bool_m(r, "reverseOrder", 0);
    const char *token = str_m(r, "nextToken", 0, 3096);
    int data = bool_m(r, "includeExecutionData", 1);
    if (r->failed)
        return;
    int64_t after = 0;
    if (token && history_token_parse(token, reverse, arn, &after) < 0)
        return http_aws_error(r->resp, 400, "InvalidToken", "Invalid Token: '%s'", token);
    if (is_express_arn(arn))
        return http_aws_error(r->resp, 400, "StateMachineTypeNotSupported",
                              "This operation is not supported by this type of state machine");
    struct store_event_list l = {0};
    val_err err = {0};
    store *st = sched_lock(s);
    int rc = st->ops->history_page(st, arn, after, (size_t)(max ? max : 100), reverse, &l, &err);
    sched_unlock(s);
    if (rc == STORE_NOT_FOUND)
        return http_aws_error(r->resp, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
    if (rc != STORE_OK)
        return fail_err(r->resp, &err);
    /* the events are stored as JSON text: splice them, parsing only when
     * data must be left out */
    val_buf b = {0};
    val_buf_puts(&b, "{\"events\":[");
    for (size_t i = 0; i < l.n; i++) {
        if (i)
            val_buf_putc(&b, ',');
        if (data) {
            val_buf_puts(&b, l.items[i].json);
        } else {
            json_t *ev = val_parse(l.items[i].json, strlen(l.items[i].json), NULL);
            if (ev) {
                strip_data(ev);
                val_buf_dump(&b, ev);
                json_decref(ev);
            } else {
                val_buf_puts(&b, l.items[i].json);
            }
        }
    }
    val_buf_putc(&b, ']');
    if (l.more && l.n) {
        char *t = history_token(reverse, l.items[l.n - 1].id, arn);
        val_buf_printf(&b, ",\"nextToken\":\"%s\"", t);
        free(t);
    }
    val_buf_putc(&b, '}');
    size_t len = b.len;
    http_resp_body_take(r->resp, val_buf_take(&b), len);
    store_event_list_free(&l);
}

static void op_callback(sched *s, struct rq *r, int kind)
{
    const char *token = str_m(r, "taskToken", 1, 2048);
    const char *output = kind == SCHED_TASK_SUCCESS ? str_m(r, "output", 1, MAX_INPUT) : NULL;
    const char *error = kind == SCHED_TASK_FAILURE ? str_m(r, "error", 0, 256) : NULL;
    const char *cause = kind == SCHED_TASK_FAILURE ? str_m(r, "cause", 0, 32768) : NULL;
    if (r->failed)
        return;
    val_err err = {0};
    if (sched_task_callback(s, token, kind, output, error, cause, &err) < 0)
        return fail_err(r->resp, &err);
    answer(r->resp, json_object());
}

/* ------------------------------------------------------------- routing */

void api_sfn_handle(void *ud, const http_request *req, const char *op, json_t *body, http_response *resp)
{
    sched *s = ud;
    struct rq r = {.body = body, .resp = resp};
    if (strcmp(op, "CreateStateMachine") == 0)
        op_create_machine(s, &r);
    else if (strcmp(op, "DescribeStateMachine") == 0)
        op_describe_machine(s, &r);
    else if (strcmp(op, "UpdateStateMachine") == 0)
        op_update_machine(s, &r);
    else if (strcmp(op, "DeleteStateMachine") == 0)
        op_delete_machine(s, &r);
    else if (strcmp(op, "ListStateMachines") == 0)
        op_list_machines(s, &r);
    else if (strcmp(op, "ValidateStateMachineDefinition") == 0)
        op_validate(s, &r);
    else if (strcmp(op, "StartExecution") == 0)
        op_start(s, &r, req);
    else if (strcmp(op, "StartSyncExecution") == 0)
        op_start_sync(s, &r, req);
    else if (strcmp(op, "DescribeExecution") == 0)
        op_describe_exec(s, &r);
    else if (strcmp(op, "DescribeStateMachineForExecution") == 0)
        op_describe_machine_for_exec(s, &r);
    else if (strcmp(op, "StopExecution") == 0)
        op_stop(s, &r);
    else if (strcmp(op, "ListExecutions") == 0)
        op_list_execs(s, &r);
    else if (strcmp(op, "GetExecutionHistory") == 0)
        op_history(s, &r);
    else if (strcmp(op, "SendTaskSuccess") == 0)
        op_callback(s, &r, SCHED_TASK_SUCCESS);
    else if (strcmp(op, "SendTaskFailure") == 0)
        op_callback(s, &r, SCHED_TASK_FAILURE);
    else if (strcmp(op, "SendTaskHeartbeat") == 0)
        op_callback(s, &r, SCHED_TASK_HEARTBEAT);
    else
        http_aws_error(resp, 400, "UnknownOperationException", "Unknown operation: AWSStepFunctions.%s", op);
}
