/* client — the `stepd` commands that talk to a running `stepd serve` over
 * the AWS Step Functions JSON 1.0 API (create-state-machine,
 * start-execution, history, ...). Each command turns its options into one
 * request (or a few: all pages of a list, a name resolved to an ARN, polls
 * while --wait follows an execution) and prints the answer as pretty JSON,
 * or as a table with --table. Exit status: 0 done, 1 the server said no or
 * could not be reached, 2 bad usage. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/client_http.h"
#include "cli/client_table.h"
#include "cli/cmds.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:8083"
#define DEFAULT_ROLE_ARN "arn:aws:iam::123456789012:role/stepd"
#define POLL_NS 50000000L /* --wait: 50 ms between polls */
#define FOLLOW_PAGE 100   /* --wait: events per history page while following */

/* Every option any client command takes: id, long name, takes a value. */
#define CLIENT_OPTS(X)                    \
    X(ENDPOINT, "endpoint", 1)            \
    X(TABLE, "table", 0)                  \
    X(HELP, "help", 0)                    \
    X(NAME, "name", 1)                    \
    X(DEFINITION, "definition", 1)        \
    X(TYPE, "type", 1)                    \
    X(ROLE_ARN, "role-arn", 1)            \
    X(UPDATE, "update", 0)                \
    X(STATE_MACHINE, "state-machine", 1)  \
    X(INPUT, "input", 1)                  \
    X(WAIT, "wait", 0)                    \
    X(REVERSE, "reverse", 0)              \
    X(MAX_RESULTS, "max-results", 1)      \
    X(NEXT_TOKEN, "next-token", 1)        \
    X(STATUS, "status", 1)                \
    X(ERROR, "error", 1)                  \
    X(CAUSE, "cause", 1)                  \
    X(TOKEN, "token", 1)                  \
    X(OUTPUT, "output", 1)

enum {
#define X(id, name, arg) OPT_##id,
    CLIENT_OPTS(X)
#undef X
        OPT_COUNT
};

static const struct {
    const char *name;
    int has_arg;
} opt_info[OPT_COUNT] = {
#define X(id, name, arg) {name, arg},
    CLIENT_OPTS(X)
#undef X
};

_Static_assert(OPT_COUNT <= 32, "a command's options are a 32-bit mask");
#define O(id) (1u << OPT_##id)
#define COMMON_OPTS (O(ENDPOINT) | O(TABLE) | O(HELP))

struct ccmd;

/* One invocation: the command, its parsed options (borrowed from argv; a
 * flag that is set holds ""), its positional ARN and the connection. */
struct cctx {
    const struct ccmd *cmd;
    const char *opt[OPT_COUNT];
    const char *pos, *pos2; /* the first and second positional arguments */
    const char *endpoint;
    cli_conn *conn;
};

struct ccmd {
    const char *name;
    int (*run)(struct cctx *c);
    unsigned opts;   /* the options it takes besides COMMON_OPTS */
    const char *arg; /* its positional arguments' names ("TABLE KEY_JSON"), or NULL for none */
    const char *usage;
};

#define COMMON_USAGE                                                                          \
    "  --endpoint URL         the server (default: $STEPD_ENDPOINT, else " DEFAULT_ENDPOINT ")\n" \
    "  --table                print a table instead of the API's JSON answer\n"

/* ------------------------------------------------------------ helpers */

static int usage_error(struct cctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(struct cctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stepd %s: ", c->cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n\n%s", c->cmd->usage);
    va_end(ap);
    return 2;
}

static void print_error(const val_err *e)
{
    if (e->name)
        fprintf(stderr, "stepd: %s: %s\n", e->name, e->cause ? e->cause : "");
    else
        fprintf(stderr, "stepd: %s\n", e->cause ? e->cause : "unknown error");
}

/* Calls op with body (consumed). Returns 0 with *out owned, or -1 with the
 * error printed. */
static int call(struct cctx *c, const char *op, json_t *body, json_t **out)
{
    val_err err = {0};
    int rc = cli_call(c->conn, op, body, out, &err);
    json_decref(body);
    if (rc < 0) {
        print_error(&err);
        val_err_clear(&err);
    }
    return rc;
}

static void emit(struct cctx *c, const json_t *v)
{
    if (c->opt[OPT_TABLE]) {
        cli_table_print(stdout, v);
        return;
    }
    char *s = val_dump_pretty(v);
    puts(s);
    free(s);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        val_obj_set_take(o, k, json_string(v));
}

/* Calls a list operation until it has no nextToken and returns
 * {member: [every page's items]} (owned), or NULL with the error printed.
 * body is consumed. */
static json_t *all_pages(struct cctx *c, const char *op, json_t *body, const char *member)
{
    json_t *items = json_array();
    char *token = NULL;
    for (;;) {
        json_t *req = json_copy(body), *ans;
        set_str(req, "nextToken", token);
        if (call(c, op, req, &ans) < 0) {
            json_decref(items);
            items = NULL;
            break;
        }
        json_array_extend(items, json_object_get(ans, member));
        const char *next = json_string_value(json_object_get(ans, "nextToken"));
        /* A server that hands back the token it was given would loop us forever. */
        if (next && token && strcmp(next, token) == 0) {
            fprintf(stderr, "stepd: %s returned the same nextToken twice; stopping\n", op);
            json_decref(ans);
            json_decref(items);
            items = NULL;
            break;
        }
        free(token);
        token = next ? strdup(next) : NULL;
        json_decref(ans);
        if (!token)
            break;
    }
    free(token);
    json_decref(body);
    if (!items)
        return NULL;
    json_t *r = json_object();
    val_obj_set_take(r, member, items);
    return r;
}

/* The ListStateMachines item named name (new reference), or NULL: not found
 * (*failed 0) or the listing failed (*failed 1, error printed). */
static json_t *find_machine(struct cctx *c, const char *name, int *failed)
{
    json_t *all = all_pages(c, "ListStateMachines", json_object(), "stateMachines");
    *failed = !all;
    json_t *found = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(all, "stateMachines"), i, it)
    {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && strcmp(n, name) == 0) {
            found = json_incref(it);
            break;
        }
    }
    json_decref(all);
    return found;
}

/* --state-machine takes an ARN or a name: a name is looked up among the
 * server's machines. Returns a malloc'd ARN, or NULL with the error printed. */
static char *machine_arn(struct cctx *c, const char *arg)
{
    if (strncmp(arg, "arn:", 4) == 0)
        return strdup(arg);
    int failed;
    json_t *m = find_machine(c, arg, &failed);
    if (!m) {
        if (!failed)
            fprintf(stderr, "stepd: StateMachineDoesNotExist: no state machine named '%s' at %s\n", arg,
                    c->endpoint);
        return NULL;
    }
    const char *arn = json_string_value(json_object_get(m, "stateMachineArn"));
    char *r = arn ? strdup(arn) : NULL;
    if (!r)
        fprintf(stderr, "stepd: ListStateMachines gave '%s' no stateMachineArn\n", arg);
    json_decref(m);
    return r;
}

/* A JSON option (--input, --output) is a file's path ("-": stdin) or JSON
 * text. Returns the text (malloc'd, checked to be JSON and sent as written),
 * or NULL after a usage message. */
static char *json_arg(struct cctx *c, const char *opt, const char *arg)
{
    val_err err = {0};
    struct stat st;
    size_t len;
    char *text;
    int is_file = strcmp(arg, "-") == 0 || (stat(arg, &st) == 0 && S_ISREG(st.st_mode));
    if (is_file) {
        text = val_read_file(arg, &len, &err);
        if (!text) {
            usage_error(c, "--%s %s: %s", opt, arg, err.cause);
            val_err_clear(&err);
            return NULL;
        }
    } else {
        text = strdup(arg);
        len = strlen(arg);
    }
    json_t *v = val_parse(text, len, &err);
    if (!v) {
        if (is_file)
            usage_error(c, "--%s %s: not JSON: %s", opt, arg, err.cause);
        else
            usage_error(c, "--%s is neither a file nor JSON text: %s", opt, err.cause);
        val_err_clear(&err);
        free(text);
        return NULL;
    }
    json_decref(v);
    return text;
}

/* --max-results N: a positive integer. Returns 0, or 2 after a usage message. */
static int max_results(struct cctx *c, json_t *body)
{
    const char *s = c->opt[OPT_MAX_RESULTS];
    if (!s)
        return 0;
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end || n < 1 || n > 1000000)
        return usage_error(c, "--max-results takes a positive integer, not '%s'", s);
    val_obj_set_take(body, "maxResults", json_integer(n));
    return 0;
}

/* ----------------------------------------------------------- commands */

static int do_create(struct cctx *c)
{
    const char *name = c->opt[OPT_NAME], *file = c->opt[OPT_DEFINITION], *type = c->opt[OPT_TYPE];
    if (!name || !file)
        return usage_error(c, "--name and --definition are required");
    if (type && strcmp(type, "STANDARD") != 0 && strcmp(type, "EXPRESS") != 0)
        return usage_error(c, "--type must be STANDARD or EXPRESS, not '%s'", type);
    val_err err = {0};
    size_t len;
    char *def = val_read_file(file, &len, &err);
    if (!def) {
        int rc = usage_error(c, "--definition %s: %s", file, err.cause);
        val_err_clear(&err);
        return rc;
    }
    json_t *body = json_object(), *ans = NULL;
    set_str(body, "name", name);
    val_obj_set_take(body, "definition", json_stringn(def, len));
    set_str(body, "roleArn", c->opt[OPT_ROLE_ARN] ? c->opt[OPT_ROLE_ARN] : DEFAULT_ROLE_ARN);
    set_str(body, "type", type);
    int rc = cli_call(c->conn, "CreateStateMachine", body, &ans, &err);
    json_decref(body);
    if (rc == 0) {
        emit(c, ans);
        json_decref(ans);
        free(def);
        return 0;
    }
    if (!c->opt[OPT_UPDATE] || !err.name || strcmp(err.name, "StateMachineAlreadyExists") != 0) {
        print_error(&err);
        val_err_clear(&err);
        free(def);
        return 1;
    }
    /* --update: the machine exists, so its definition (and role, if given)
     * is replaced. The type cannot change: AWS has no way to. */
    int failed;
    json_t *m = find_machine(c, name, &failed);
    const char *arn = json_string_value(json_object_get(m, "stateMachineArn"));
    const char *old_type = json_string_value(json_object_get(m, "type"));
    rc = 1;
    if (!arn) {
        if (!failed)
            print_error(&err);
    } else if (type && old_type && strcmp(type, old_type) != 0) {
        fprintf(stderr, "stepd: state machine '%s' is %s; its type cannot be changed to %s\n", name, old_type, type);
    } else {
        body = json_object();
        set_str(body, "stateMachineArn", arn);
        val_obj_set_take(body, "definition", json_stringn(def, len));
        set_str(body, "roleArn", c->opt[OPT_ROLE_ARN]);
        if (call(c, "UpdateStateMachine", body, &ans) == 0) {
            /* UpdateStateMachine does not repeat the ARN; scripts want it. */
            json_t *out = json_object();
            set_str(out, "stateMachineArn", arn);
            json_object_update(out, ans);
            emit(c, out);
            json_decref(out);
            json_decref(ans);
            rc = 0;
        }
    }
    json_decref(m);
    val_err_clear(&err);
    free(def);
    return rc;
}

/* Where --wait has got to in the history: the token of the last page read
 * (pages fill up while the execution runs, so the last one is read again)
 * and the last event id seen. */
struct follow {
    char *token;
    json_int_t last_id;
    int broken; /* the history could not be read: stop showing progress */
};

/* Prints "→ State" on stderr for each state entered since the last call. */
static void follow_history(struct cctx *c, const char *exec_arn, struct follow *f)
{
    while (!f->broken) {
        json_t *body = json_object(), *ans;
        set_str(body, "executionArn", exec_arn);
        val_obj_set_take(body, "maxResults", json_integer(FOLLOW_PAGE));
        val_obj_set_take(body, "includeExecutionData", json_false()); /* names are enough */
        set_str(body, "nextToken", f->token);
        val_err err = {0};
        int rc = cli_call(c->conn, "GetExecutionHistory", body, &ans, &err);
        json_decref(body);
        if (rc < 0) {
            /* A token may not be reusable: start again from the top (events
             * already shown are skipped by id). */
            if (f->token && err.name) {
                free(f->token);
                f->token = NULL;
            } else {
                f->broken = 1;
            }
            val_err_clear(&err);
            continue;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(ans, "events"), i, ev)
        {
            json_int_t id = json_integer_value(json_object_get(ev, "id"));
            if (id <= f->last_id)
                continue;
            f->last_id = id;
            const char *type = json_string_value(json_object_get(ev, "type"));
            size_t n = type ? strlen(type) : 0;
            if (n < 12 || strcmp(type + n - 12, "StateEntered") != 0)
                continue;
            json_t *d = json_object_get(ev, "stateEnteredEventDetails");
            const char *name = json_string_value(json_object_get(d, "name"));
            if (name)
                fprintf(stderr, "\xe2\x86\x92 %s\n", name);
        }
        const char *next = json_string_value(json_object_get(ans, "nextToken"));
        int more = next && (!f->token || strcmp(next, f->token) != 0);
        if (more) {
            free(f->token);
            f->token = strdup(next);
        }
        json_decref(ans);
        if (!more)
            break;
    }
}

/* Polls until the execution leaves RUNNING; returns DescribeExecution's
 * last answer (owned), or NULL with the error printed. */
static json_t *wait_execution(struct cctx *c, const char *exec_arn)
{
    struct follow f = {.broken = !isatty(STDERR_FILENO)};
    json_t *d = NULL;
    for (;;) {
        json_t *body = json_object();
        set_str(body, "executionArn", exec_arn);
        if (call(c, "DescribeExecution", body, &d) < 0)
            break;
        /* After the describe, so that the last round sees every event. */
        follow_history(c, exec_arn, &f);
        const char *st = json_string_value(json_object_get(d, "status"));
        if (!st || strcmp(st, "RUNNING") != 0)
            break;
        json_decref(d);
        d = NULL;
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
    free(f.token);
    return d;
}

static int do_start(struct cctx *c)
{
    if (!c->opt[OPT_STATE_MACHINE])
        return usage_error(c, "--state-machine is required");
    char *input = NULL;
    if (c->opt[OPT_INPUT] && !(input = json_arg(c, "input", c->opt[OPT_INPUT])))
        return 2;
    char *arn = machine_arn(c, c->opt[OPT_STATE_MACHINE]);
    if (!arn) {
        free(input);
        return 1;
    }
    json_t *body = json_object(), *ans;
    set_str(body, "stateMachineArn", arn);
    set_str(body, "name", c->opt[OPT_NAME]);
    set_str(body, "input", input);
    free(input);
    free(arn);
    if (call(c, "StartExecution", body, &ans) < 0)
        return 1;
    if (!c->opt[OPT_WAIT]) {
        emit(c, ans);
        json_decref(ans);
        return 0;
    }
    const char *exec_arn = json_string_value(json_object_get(ans, "executionArn"));
    json_t *d = NULL;
    if (exec_arn)
        d = wait_execution(c, exec_arn);
    else
        fprintf(stderr, "stepd: StartExecution answered without an executionArn\n");
    json_decref(ans);
    if (!d)
        return 1;
    emit(c, d);
    const char *st = json_string_value(json_object_get(d, "status"));
    int rc = st && strcmp(st, "SUCCEEDED") == 0 ? 0 : 1;
    json_decref(d);
    return rc;
}

/* The commands that are one request and print its answer. */
static int one_call(struct cctx *c, const char *op, json_t *body)
{
    json_t *ans;
    if (call(c, op, body, &ans) < 0)
        return 1;
    emit(c, ans);
    json_decref(ans);
    return 0;
}

static int do_describe(struct cctx *c)
{
    json_t *body = json_object();
    set_str(body, "executionArn", c->pos);
    return one_call(c, "DescribeExecution", body);
}

/* history and list-executions: every page, unless the user asked for one
 * with --max-results or --next-token. */
static int paged(struct cctx *c, const char *op, json_t *body, const char *member)
{
    int rc = max_results(c, body);
    if (rc) {
        json_decref(body);
        return rc;
    }
    if (c->opt[OPT_MAX_RESULTS] || c->opt[OPT_NEXT_TOKEN]) {
        set_str(body, "nextToken", c->opt[OPT_NEXT_TOKEN]);
        return one_call(c, op, body);
    }
    json_t *all = all_pages(c, op, body, member);
    if (!all)
        return 1;
    emit(c, all);
    json_decref(all);
    return 0;
}

static int do_history(struct cctx *c)
{
    json_t *body = json_object();
    set_str(body, "executionArn", c->pos);
    if (c->opt[OPT_REVERSE])
        val_obj_set_take(body, "reverseOrder", json_true());
    return paged(c, "GetExecutionHistory", body, "events");
}

static int do_list_executions(struct cctx *c)
{
    static const char *const statuses[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED",
                                           "PENDING_REDRIVE"};
    const char *status = c->opt[OPT_STATUS];
    if (!c->opt[OPT_STATE_MACHINE])
        return usage_error(c, "--state-machine is required");
    if (status) {
        size_t i = 0;
        while (i < sizeof statuses / sizeof *statuses && strcmp(status, statuses[i]) != 0)
            i++;
        if (i == sizeof statuses / sizeof *statuses)
            return usage_error(c, "--status must be RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED, not '%s'",
                               status);
    }
    char *arn = machine_arn(c, c->opt[OPT_STATE_MACHINE]);
    if (!arn)
        return 1;
    json_t *body = json_object();
    set_str(body, "stateMachineArn", arn);
    set_str(body, "statusFilter", status);
    free(arn);
    return paged(c, "ListExecutions", body, "executions");
}

static int do_stop(struct cctx *c)
{
    json_t *body = json_object();
    set_str(body, "executionArn", c->pos);
    set_str(body, "error", c->opt[OPT_ERROR]);
    set_str(body, "cause", c->opt[OPT_CAUSE]);
    return one_call(c, "StopExecution", body);
}

static int do_task_success(struct cctx *c)
{
    if (!c->opt[OPT_TOKEN] || !c->opt[OPT_OUTPUT])
        return usage_error(c, "--token and --output are required");
    char *output = json_arg(c, "output", c->opt[OPT_OUTPUT]);
    if (!output)
        return 2;
    json_t *body = json_object();
    set_str(body, "taskToken", c->opt[OPT_TOKEN]);
    set_str(body, "output", output);
    free(output);
    return one_call(c, "SendTaskSuccess", body);
}

static int do_task_failure(struct cctx *c)
{
    if (!c->opt[OPT_TOKEN])
        return usage_error(c, "--token is required");
    json_t *body = json_object();
    set_str(body, "taskToken", c->opt[OPT_TOKEN]);
    set_str(body, "error", c->opt[OPT_ERROR]);
    set_str(body, "cause", c->opt[OPT_CAUSE]);
    return one_call(c, "SendTaskFailure", body);
}

/* -------------------------------------------------------------- tables */

#define DDB "DynamoDB_20120810."

/* An AttributeValue as plain text for --table: strings and numbers as they
 * are, sets and documents as compact JSON of their plain values. */
static json_t *av_plain(json_t *av);
static json_t *av_plain_members(json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) val_arr_append_take(a, av_plain(x));
        return a;
    }
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) val_obj_set_take(o, k, av_plain(x));
    return o;
}

static json_t *av_plain(json_t *av)
{
    const char *t = json_object_size(av) == 1 ? json_object_iter_key(json_object_iter(av)) : NULL;
    json_t *v = t ? json_object_get(av, t) : NULL;
    if (!t)
        return json_null();
    if (strcmp(t, "M") == 0 || strcmp(t, "L") == 0)
        return av_plain_members(v);
    if (strcmp(t, "N") == 0 && json_is_string(v)) {
        /* a JSON number when it keeps the value exactly, else its text */
        const char *n = json_string_value(v);
        char *end;
        errno = 0;
        long long i = strtoll(n, &end, 10);
        if (!*end && *n && !errno && i > -(1LL << 53) && i < (1LL << 53))
            return json_integer(i);
        double d = strtod(n, &end);
        char back[40];
        val_fmt_real(d, back, sizeof back);
        if (!*end && strcmp(back, n) == 0)
            return json_real(d);
    }
    return json_incref(v); /* S, B, BOOL, NULL, sets: the member as it is */
}

static char *av_text(json_t *av)
{
    const char *t = json_object_size(av) == 1 ? json_object_iter_key(json_object_iter(av)) : "";
    json_t *v = json_object_get(av, t);
    if ((strcmp(t, "S") == 0 || strcmp(t, "N") == 0 || strcmp(t, "B") == 0) && json_is_string(v))
        return strdup(json_string_value(v));
    json_t *p = av_plain(av);
    char *s = val_dump(p, NULL);
    json_decref(p);
    return s;
}

/* Items as --table rows: the key attributes first (keys, a KeySchema),
 * then the others. */
static void print_items(json_t *items, json_t *keys)
{
    json_t *rows = json_array();
    size_t i, j;
    json_t *it, *k;
    json_array_foreach(items, i, it) {
        json_t *row = json_object();
        json_array_foreach(keys, j, k) {
            const char *n = json_string_value(json_object_get(k, "AttributeName"));
            json_t *av = n ? json_object_get(it, n) : NULL;
            if (av) {
                char *s = av_text(av);
                val_obj_set_take(row, n, json_string_nocheck(s));
                free(s);
            }
        }
        const char *n;
        json_t *av;
        json_object_foreach(it, n, av) {
            if (!json_object_get(row, n)) {
                char *s = av_text(av);
                val_obj_set_take(row, n, json_string_nocheck(s));
                free(s);
            }
        }
        val_arr_append_take(rows, row);
    }
    cli_table_rows(stdout, rows);
    json_decref(rows);
}

/* The table's KeySchema (new reference), or NULL with the error printed. */
static json_t *key_schema(struct cctx *c, const char *table)
{
    json_t *ans;
    if (call(c, DDB "DescribeTable", json_pack("{s:s}", "TableName", table), &ans) < 0)
        return NULL;
    json_t *ks = json_incref(json_object_get(json_object_get(ans, "Table"), "KeySchema"));
    json_decref(ans);
    return ks ? ks : json_array();
}

static int do_tables(struct cctx *c)
{
    json_t *names = json_array();
    char *after = NULL;
    int rc = 0;
    for (;;) {
        json_t *req = json_object(), *ans;
        set_str(req, "ExclusiveStartTableName", after);
        if (call(c, DDB "ListTables", req, &ans) < 0) {
            rc = 1;
            break;
        }
        json_array_extend(names, json_object_get(ans, "TableNames"));
        const char *last = json_string_value(json_object_get(ans, "LastEvaluatedTableName"));
        free(after);
        after = last ? strdup(last) : NULL;
        json_decref(ans);
        if (!after)
            break;
    }
    free(after);
    if (rc == 0 && c->opt[OPT_TABLE]) {
        /* one row per table: its key and how many items it holds */
        json_t *rows = json_array();
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n) {
            json_t *ans;
            if (call(c, DDB "DescribeTable", json_pack("{s:O}", "TableName", n), &ans) < 0) {
                rc = 1;
                break;
            }
            json_t *t = json_object_get(ans, "Table"), *k;
            val_buf key = {0};
            size_t j;
            json_array_foreach(json_object_get(t, "KeySchema"), j, k) {
                const char *an = json_string_value(json_object_get(k, "AttributeName"));
                char type = 0;
                size_t d;
                json_t *def;
                json_array_foreach(json_object_get(t, "AttributeDefinitions"), d, def) {
                    if (an && json_is_string(json_object_get(def, "AttributeName")) &&
                        strcmp(json_string_value(json_object_get(def, "AttributeName")), an) == 0)
                        type = json_string_value(json_object_get(def, "AttributeType"))[0];
                }
                val_buf_printf(&key, "%s%s (%c)", j ? ", " : "", an ? an : "?", type ? type : '?');
            }
            char count[32];
            snprintf(count, sizeof count, "%lld", (long long)json_integer_value(json_object_get(t, "ItemCount")));
            char *ks = val_buf_take(&key);
            val_arr_append_take(rows, json_pack("{s:O,s:s,s:s}", "TABLE", n, "KEY", ks ? ks : "", "ITEMS", count));
            free(ks);
            json_decref(ans);
        }
        if (rc == 0)
            cli_table_rows(stdout, rows);
        json_decref(rows);
    } else if (rc == 0) {
        json_t *o = json_pack("{s:O}", "TableNames", names);
        emit(c, o);
        json_decref(o);
    }
    json_decref(names);
    return rc;
}

static int do_scan(struct cctx *c)
{
    json_t *items = json_array(), *start = NULL;
    int rc = 0;
    for (;;) {
        json_t *req = json_pack("{s:s}", "TableName", c->pos), *ans;
        if (start)
            val_obj_set_take(req, "ExclusiveStartKey", start);
        start = NULL;
        if (call(c, DDB "Scan", req, &ans) < 0) {
            rc = 1;
            break;
        }
        json_array_extend(items, json_object_get(ans, "Items"));
        start = json_incref(json_object_get(ans, "LastEvaluatedKey"));
        json_decref(ans);
        if (!start)
            break;
    }
    if (rc == 0 && c->opt[OPT_TABLE]) {
        json_t *ks = key_schema(c, c->pos);
        if (!ks)
            rc = 1;
        else
            print_items(items, ks);
        json_decref(ks);
    } else if (rc == 0) {
        json_t *o = json_pack("{s:O,s:I}", "Items", items, "Count", (json_int_t)json_array_size(items));
        emit(c, o);
        json_decref(o);
    }
    json_decref(items);
    return rc;
}

static int do_get_item(struct cctx *c)
{
    val_err err = {0};
    json_t *key = val_parse(c->pos2, strlen(c->pos2), &err);
    if (!json_is_object(key)) {
        json_decref(key);
        int rc = usage_error(c, "KEY_JSON must be a JSON object such as '{\"id\": {\"S\": \"o-1\"}}'%s%s",
                             err.cause ? ": " : "", err.cause ? err.cause : "");
        val_err_clear(&err);
        return rc;
    }
    json_t *ans;
    if (call(c, DDB "GetItem", json_pack("{s:s,s:o}", "TableName", c->pos, "Key", key), &ans) < 0)
        return 1;
    json_t *item = json_object_get(ans, "Item");
    int rc = 0;
    if (!item) {
        fprintf(stderr, "stepd: no item with that key in %s\n", c->pos);
        rc = 1;
    } else if (c->opt[OPT_TABLE]) {
        json_t *ks = key_schema(c, c->pos);
        json_t *one = json_pack("[O]", item);
        if (ks)
            print_items(one, ks);
        else
            rc = 1;
        json_decref(one);
        json_decref(ks);
    } else {
        emit(c, ans);
    }
    json_decref(ans);
    return rc;
}

/* -------------------------------------------------------------- table */

static const struct ccmd ccmds[] = {
    {"create-state-machine", do_create, O(NAME) | O(DEFINITION) | O(TYPE) | O(ROLE_ARN) | O(UPDATE), NULL,
     "usage: stepd create-state-machine --name NAME --definition FILE [options]\n"
     "\n"
     "Creates a state machine (CreateStateMachine) and prints its ARN.\n"
     "\n"
     "options:\n"
     "  --name NAME            the state machine's name\n"
     "  --definition FILE      its definition (Amazon States Language, JSON; - for stdin)\n"
     "  --type STANDARD|EXPRESS  (default STANDARD)\n"
     "  --role-arn ARN         (default " DEFAULT_ROLE_ARN ")\n"
     "  --update               when NAME exists, replace its definition (UpdateStateMachine);\n"
     "                         the answer then also holds stateMachineArn\n" COMMON_USAGE},
    {"start-execution", do_start, O(STATE_MACHINE) | O(INPUT) | O(NAME) | O(WAIT), NULL,
     "usage: stepd start-execution --state-machine ARN_OR_NAME [options]\n"
     "\n"
     "Starts an execution (StartExecution) and prints its ARN; with --wait, follows\n"
     "it to its end and prints DescribeExecution's answer.\n"
     "\n"
     "options:\n"
     "  --state-machine ARN_OR_NAME  the state machine (a name is looked up)\n"
     "  --input JSON_OR_PATH   the input: a file's path (- for stdin) or JSON text\n"
     "  --name NAME            the execution's name (default: the server picks one)\n"
     "  --wait                 wait until it ends; on a terminal, show each state entered\n" COMMON_USAGE
     "\n"
     "exit status with --wait: 0 SUCCEEDED; 1 FAILED, TIMED_OUT or ABORTED.\n"},
    {"describe-execution", do_describe, 0, "EXECUTION_ARN",
     "usage: stepd describe-execution EXECUTION_ARN [options]\n"
     "\n"
     "Prints an execution's status, input, output, error and cause (DescribeExecution).\n"
     "\n"
     "options:\n" COMMON_USAGE},
    {"history", do_history, O(REVERSE) | O(MAX_RESULTS) | O(NEXT_TOKEN), "EXECUTION_ARN",
     "usage: stepd history EXECUTION_ARN [options]\n"
     "\n"
     "Prints an execution's events (GetExecutionHistory), every page as one\n"
     "{\"events\": [...]}; --table shows id, time, type and state.\n"
     "\n"
     "options:\n"
     "  --reverse              newest event first\n"
     "  --max-results N        one page of at most N events (with its nextToken)\n"
     "  --next-token TOKEN     the page that a nextToken names\n" COMMON_USAGE},
    {"list-executions", do_list_executions, O(STATE_MACHINE) | O(STATUS) | O(MAX_RESULTS) | O(NEXT_TOKEN), NULL,
     "usage: stepd list-executions --state-machine ARN_OR_NAME [options]\n"
     "\n"
     "Prints a state machine's executions (ListExecutions), every page.\n"
     "\n"
     "options:\n"
     "  --state-machine ARN_OR_NAME  the state machine (a name is looked up)\n"
     "  --status STATUS        only RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED ones\n"
     "  --max-results N        one page of at most N executions (with its nextToken)\n"
     "  --next-token TOKEN     the page that a nextToken names\n" COMMON_USAGE},
    {"stop-execution", do_stop, O(ERROR) | O(CAUSE), "EXECUTION_ARN",
     "usage: stepd stop-execution EXECUTION_ARN [options]\n"
     "\n"
     "Stops a running execution (StopExecution): it ends ABORTED.\n"
     "\n"
     "options:\n"
     "  --error ERROR          the error code to record\n"
     "  --cause CAUSE          a longer explanation\n" COMMON_USAGE},
    {"send-task-success", do_task_success, O(TOKEN) | O(OUTPUT), NULL,
     "usage: stepd send-task-success --token TOKEN --output JSON_OR_PATH [options]\n"
     "\n"
     "Completes the task waiting on TOKEN (.waitForTaskToken) with OUTPUT (SendTaskSuccess).\n"
     "\n"
     "options:\n"
     "  --token TOKEN          the task token ($$.Task.Token)\n"
     "  --output JSON_OR_PATH  the task's result: a file's path (- for stdin) or JSON text\n" COMMON_USAGE},
    {"send-task-failure", do_task_failure, O(TOKEN) | O(ERROR) | O(CAUSE), NULL,
     "usage: stepd send-task-failure --token TOKEN [options]\n"
     "\n"
     "Fails the task waiting on TOKEN (.waitForTaskToken) (SendTaskFailure).\n"
     "\n"
     "options:\n"
     "  --token TOKEN          the task token ($$.Task.Token)\n"
     "  --error ERROR          the error code (what Retry and Catch match)\n"
     "  --cause CAUSE          a longer explanation\n" COMMON_USAGE},
    {"tables", do_tables, 0, NULL,
     "usage: stepd tables [options]\n"
     "\n"
     "Lists the tables (ListTables, every page); --table shows each one's key and\n"
     "item count.\n"
     "\n"
     "options:\n" COMMON_USAGE},
    {"scan", do_scan, 0, "TABLE",
     "usage: stepd scan TABLE [options]\n"
     "\n"
     "Prints every item of TABLE (Scan, every page) in DynamoDB JSON; --table\n"
     "shows one row per item, key attributes first, values as plain text.\n"
     "\n"
     "options:\n" COMMON_USAGE},
    {"get-item", do_get_item, 0, "TABLE KEY_JSON",
     "usage: stepd get-item TABLE KEY_JSON [options]\n"
     "\n"
     "Prints the item of TABLE whose key is KEY_JSON (GetItem), a key in DynamoDB\n"
     "JSON such as '{\"id\": {\"S\": \"o-1\"}}'. Exit status 1 when there is none.\n"
     "\n"
     "options:\n" COMMON_USAGE},
};

/* Parses argv against the options cmd takes. Returns -1 to go on, else the
 * exit status (0 after --help, 2 after a usage error). */
static int parse(struct cctx *c, int argc, char **argv)
{
    unsigned allowed = c->cmd->opts | COMMON_OPTS;
    struct option longs[OPT_COUNT + 1];
    size_t n = 0;
    for (int i = 0; i < OPT_COUNT; i++)
        if (allowed & (1u << i))
            longs[n++] = (struct option){opt_info[i].name, opt_info[i].has_arg ? required_argument : no_argument,
                                         NULL, 256 + i};
    longs[n] = (struct option){0, 0, 0, 0};
    const char *bad = NULL;
    int missing = 0, ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        if (ch == 'h')
            c->opt[OPT_HELP] = "";
        else if (ch >= 256)
            c->opt[ch - 256] = opt_info[ch - 256].has_arg ? optarg : "";
        else if (!bad) {
            bad = argv[optind - 1];
            missing = ch == ':';
        }
    }
    if (c->opt[OPT_HELP]) {
        fputs(c->cmd->usage, stdout);
        return 0;
    }
    if (bad)
        return usage_error(c, missing ? "%s needs a value" : "unknown option '%s'", bad);
    int npos = argc - optind, want = 0;
    for (const char *a = c->cmd->arg; a && *a; a += strcspn(a, " "), a += strspn(a, " "))
        want++;
    if (want && npos != want)
        return usage_error(c, !npos ? "%s is required" : want == 1 ? "takes one %s" : "takes %s", c->cmd->arg);
    if (!want && npos)
        return usage_error(c, "unexpected argument '%s'", argv[optind]);
    c->pos = want ? argv[optind] : NULL;
    c->pos2 = want > 1 ? argv[optind + 1] : NULL;
    c->endpoint = cli_endpoint(c->opt[OPT_ENDPOINT]);
    if (!*c->endpoint)
        return usage_error(c, "--endpoint needs a URL");
    return -1;
}

const char *cli_endpoint(const char *flag)
{
    if (flag)
        return flag;
    const char *env = getenv("STEPD_ENDPOINT");
    return env && *env ? env : DEFAULT_ENDPOINT;
}

int cmd_client(const char *cmd, int argc, char **argv)
{
    const struct ccmd *found = NULL;
    for (size_t i = 0; i < sizeof ccmds / sizeof ccmds[0] && !found; i++)
        if (strcmp(cmd, ccmds[i].name) == 0)
            found = &ccmds[i];
    if (!found)
        return -1;
    struct cctx c = {.cmd = found};
    int rc = parse(&c, argc, argv);
    if (rc >= 0)
        return rc;
    c.conn = cli_conn_new(c.endpoint);
    if (!c.conn) {
        fprintf(stderr, "stepd: cannot start libcurl\n");
        return 1;
    }
    rc = found->run(&c);
    cli_conn_free(c.conn);
    if (fflush(stdout) != 0 && rc == 0)
        rc = 1;
    return rc;
}
