/* runtpl — `stepd run TEMPLATE`: one command, no server of the user's.
 * The template is deployed into a store of its own in a temporary
 * directory, with everything `stepd serve` has (the scheduler, the
 * function pool, the APIs on a loopback port so that boto3 inside a
 * function reaches stepd), one execution runs with the real functions,
 * and its result is printed as `stepd run` prints it. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/lambda.h"
#include "api/sfn.h"
#include "cli/cmds.h"
#include "fn/fn.h"
#include "http/http.h"
#include "sam/sam.h"
#include "sched/sched.h"
#include "store/store.h"

static const char *usage_run_template =
    "usage: stepd run TEMPLATE [--state-machine LOGICAL_ID] [--input JSON_OR_PATH] [options]\n"
    "\n"
    "Deploys an AWS SAM template (YAML or JSON) into a temporary store, runs one\n"
    "execution of its state machine with the template's real functions, and\n"
    "prints one JSON object: {\"status\", \"output\", \"error\", \"cause\"}\n"
    "(+ \"history\" with --history). What the functions print goes to stderr.\n"
    "\n"
    "options:\n"
    "  --state-machine ID    the state machine's logical ID (or name); needed when\n"
    "                        the template has more than one\n"
    "  --input JSON_OR_PATH  the execution input: a file's path, or JSON text (default {})\n"
    "  --history             add the execution history (GetExecutionHistory's events)\n"
    "  --name NAME           the execution's name (default: a UUID)\n"
    "  --parameter-overrides K=V ...  template parameters\n"
    "  --quiet               do not copy the functions' logs to stderr\n"
    "  --progress            show each state on stderr as it is entered (STANDARD)\n"
    "  --show-tables         add \"tables\": every table of the template and its items\n"
    "                        at the end of the run, as plain JSON (Scan, unmarshalled)\n"
    "\n"
    "exit status: 0 SUCCEEDED; 1 FAILED, TIMED_OUT or ABORTED; 2 a bad template,\n"
    "input or usage.\n";

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

struct express_wait {
    int done;
    json_t *result; /* status, output, error, cause */
};

static json_t *result_of(const struct store_exec *x)
{
    json_t *r = json_object();
    val_obj_set_take(r, "status", json_string(x->status));
    json_t *out = x->output ? val_parse(x->output, strlen(x->output), NULL) : NULL;
    val_obj_set_take(r, "output", out ? out : json_null());
    val_obj_set_take(r, "error", x->error ? json_string(x->error) : json_null());
    val_obj_set_take(r, "cause", x->cause ? json_string(x->cause) : json_null());
    return r;
}

/* Called under the scheduler's lock when an EXPRESS execution ends. */
static void express_done(void *ud, const struct store_exec *x)
{
    struct express_wait *w = ud;
    if (x)
        w->result = result_of(x);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

static json_t *history_of(sched *s, const char *arn)
{
    json_t *h = json_array();
    int64_t after = 0;
    for (;;) {
        struct store_event_list page = {0};
        val_err err = {0};
        store *st = sched_lock(s);
        int r = st->ops->history_page(st, arn, after, 1000, 0, &page, &err);
        sched_unlock(s);
        val_err_clear(&err);
        if (r != STORE_OK)
            break;
        for (size_t i = 0; i < page.n; i++) {
            json_t *ev = val_parse(page.items[i].json, strlen(page.items[i].json), NULL);
            val_arr_append_take(h, ev ? ev : json_string("unparsable event"));
            after = page.items[i].id;
        }
        int more = page.more;
        store_event_list_free(&page);
        if (!more)
            break;
    }
    return h;
}

/* Prints "→ State" on stderr for each state entered after event *after. */
static void show_progress(sched *s, const char *arn, int64_t *after)
{
    for (;;) {
        struct store_event_list page = {0};
        val_err err = {0};
        store *st = sched_lock(s);
        int r = st->ops->history_page(st, arn, *after, 1000, 0, &page, &err);
        sched_unlock(s);
        val_err_clear(&err);
        if (r != STORE_OK)
            return;
        for (size_t i = 0; i < page.n; i++) {
            *after = page.items[i].id;
            json_t *ev = val_parse(page.items[i].json, strlen(page.items[i].json), NULL);
            const char *type = json_string_value(json_object_get(ev, "type"));
            size_t n = type ? strlen(type) : 0;
            const char *name = json_string_value(
                json_object_get(json_object_get(ev, "stateEnteredEventDetails"), "name"));
            if (n >= 12 && strcmp(type + n - 12, "StateEntered") == 0 && name)
                fprintf(stderr, "\xe2\x86\x92 %s\n", name);
            json_decref(ev);
        }
        int more = page.more;
        store_event_list_free(&page);
        if (!more)
            return;
    }
}

/* An AttributeValue as plain JSON (what boto3's resource API gives):
 * S, B as strings, N as a number, BOOL, NULL, M, L, sets as arrays. */
static json_t *av_plain(json_t *av, int depth)
{
    const char *k = json_object_size(av) == 1 ? json_object_iter_key(json_object_iter(av)) : NULL;
    json_t *v = k ? json_object_get(av, k) : NULL;
    if (!k || depth > 40)
        return json_incref(av);
    if (strcmp(k, "N") == 0 && json_is_string(v)) {
        json_t *n = val_parse(json_string_value(v), json_string_length(v), NULL);
        if (json_is_number(n))
            return n;
        json_decref(n);
        return json_incref(v);
    }
    if (strcmp(k, "NULL") == 0)
        return json_null();
    if (strcmp(k, "NS") == 0 || strcmp(k, "L") == 0) {
        json_t *a = json_array(), *e;
        size_t i;
        json_array_foreach(v, i, e) {
            json_t *one = strcmp(k, "NS") == 0 ? json_pack("{s:O}", "N", e) : json_incref(e);
            val_arr_append_take(a, av_plain(one, depth + 1));
            json_decref(one);
        }
        return a;
    }
    if (strcmp(k, "M") == 0) {
        json_t *m = json_object(), *e;
        const char *name;
        json_object_foreach(v, name, e) val_obj_set_take(m, name, av_plain(e, depth + 1));
        return m;
    }
    return json_incref(v); /* S, B, BOOL, SS, BS */
}

/* {table name: [items]} for every table of the plan, read with Scan. */
static json_t *tables_of(sched *s, json_t *plan)
{
    json_t *all = json_object(), *t;
    size_t i;
    json_array_foreach(json_object_get(plan, "tables"), i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name)
            continue;
        json_t *items = json_array(), *start = NULL;
        for (;;) {
            json_t *req = json_pack("{s:s}", "TableName", name);
            if (start)
                val_obj_set_take(req, "ExclusiveStartKey", start);
            val_err err = {0};
            json_t *ans = sched_ddb_now(s, "Scan", req, NULL, &err);
            json_decref(req);
            if (!ans) {
                json_decref(items);
                items = json_pack("{s:s}", "error", err.cause ? err.cause : "Scan failed");
                val_err_clear(&err);
                break;
            }
            json_t *it;
            size_t j;
            json_array_foreach(json_object_get(ans, "Items"), j, it) {
                json_t *plain = json_object(), *av;
                const char *attr;
                json_object_foreach(it, attr, av) val_obj_set_take(plain, attr, av_plain(av, 0));
                val_arr_append_take(items, plain);
            }
            start = json_object_get(ans, "LastEvaluatedKey");
            start = start ? json_incref(start) : NULL;
            json_decref(ans);
            if (!start)
                break;
        }
        val_obj_set_take(all, name, items);
    }
    return all;
}

static json_t *pick_machine(json_t *plan, const char *want, val_err *err)
{
    json_t *sms = json_object_get(plan, "state_machines");
    size_t i;
    json_t *o;
    if (!want) {
        if (json_array_size(sms) == 1)
            return json_array_get(sms, 0);
        if (!json_array_size(sms)) {
            val_err_set(err, VAL_ERR_VALIDATION, NULL, "the template declares no AWS::Serverless::StateMachine");
            return NULL;
        }
    } else {
        json_array_foreach(sms, i, o) {
            const char *lid = json_string_value(json_object_get(o, "logical_id"));
            const char *name = json_string_value(json_object_get(o, "name"));
            if ((lid && strcmp(lid, want) == 0) || (name && strcmp(name, want) == 0))
                return o;
        }
    }
    char list[1024] = "";
    size_t n = 0;
    json_array_foreach(sms, i, o) {
        const char *lid = json_string_value(json_object_get(o, "logical_id"));
        n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", i ? ", " : "", lid ? lid : "?");
        if (n >= sizeof list)
            break;
    }
    if (want)
        val_err_set(err, VAL_ERR_VALIDATION, NULL, "the template has no state machine '%s' (it has: %s)", want, list);
    else
        val_err_set(err, VAL_ERR_VALIDATION, NULL,
                    "the template has several state machines (%s): choose one with --state-machine", list);
    return NULL;
}

int cmd_run_template(int argc, char **argv)
{
    const char *path = NULL, *want = NULL, *input_arg = NULL, *name = NULL;
    const char **ov = NULL;
    size_t n_ov = 0;
    int history = 0, quiet = 0, progress = 0, show_tables = 0, rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_run_template, stdout);
            return 0;
        } else if (strcmp(a, "--parameter-overrides") == 0) {
            if (!cli_collect_overrides(argc, argv, &i, &ov, &n_ov)) {
                fprintf(stderr, "stepd run: --parameter-overrides wants KEY=VALUE arguments\n");
                goto free_ov;
            }
        } else if ((strcmp(a, "--state-machine") == 0 || strcmp(a, "--input") == 0 || strcmp(a, "--name") == 0) &&
                   i + 1 < argc) {
            const char **slot = a[2] == 's' ? &want : a[2] == 'i' ? &input_arg : &name;
            *slot = argv[++i];
        } else if (strcmp(a, "--history") == 0) {
            history = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--progress") == 0) {
            progress = 1;
        } else if (strcmp(a, "--show-tables") == 0) {
            show_tables = 1;
        } else if (a[0] == '-' || path) {
            fprintf(stderr, "stepd run: unexpected argument '%s'\n\n%s", a, usage_run_template);
            goto free_ov;
        } else {
            path = a;
        }
    }
    val_err err = {0};
    struct sam_opts so = {.overrides = ov, .n_overrides = n_ov};
    json_t *plan = sam_load(path, &so, &err);
    char *input = NULL;
    size_t ilen = 0;
    if (!plan) {
        fprintf(stderr, "stepd run: %s\n", err.cause ? err.cause : "cannot read the template");
        val_err_clear(&err);
        goto free_ov;
    }
    json_t *sm = pick_machine(plan, want, &err);
    if (!sm) {
        fprintf(stderr, "stepd run: %s: %s\n", path, err.cause);
        val_err_clear(&err);
        json_decref(plan);
        goto free_ov;
    }
    input = input_arg ? cli_read_json_arg(input_arg, &ilen, "the input", &err) : strdup("{}");
    if (!input) {
        fprintf(stderr, "stepd run: %s\n", err.cause);
        val_err_clear(&err);
        json_decref(plan);
        goto free_ov;
    }

    /* SIGINT/SIGTERM end the run in order (workers stopped, the temporary
     * store removed): blocked here, before any thread starts, and polled */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/stepd-run-XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s/stepd-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(dirbuf);
    if (!d)
        d = mkdtemp(dir);
    if (!d) {
        fprintf(stderr, "stepd run: cannot make a temporary directory: %s\n", strerror(errno));
        json_decref(plan);
        free(input);
        goto free_ov;
    }
    char dbpath[4200], logdir[4200];
    snprintf(dbpath, sizeof dbpath, "%s/state.db", d);
    snprintf(logdir, sizeof logdir, "%s/logs", d);

    store *st = NULL;
    sched *s = NULL;
    fn_pool *fn = NULL;
    http_server *srv = NULL;
    json_t *result = NULL;
    struct express_wait ew = {0};
    struct fn_opts fo = {.log_dir = logdir, .echo_fd = quiet ? -1 : 2, .hold = 1, .quiet = quiet};
    fn = fn_new(&fo, &err);
    if (!fn)
        goto fail;
    st = store_sqlite_open(dbpath, &err);
    if (!st)
        goto fail;
    struct sched_opts sopts = {.fn = fn, .quiet = 1};
    s = sched_new(st, &sopts, &err);
    if (!s || sched_start(s, &err) < 0)
        goto fail;
    struct api_lambda al = {.s = s, .fn = fn};
    srv = api_serve("127.0.0.1", 0, &al, &err);
    if (!srv)
        goto fail;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", http_port(srv));
    fn_set_endpoint(fn, url);
    json_t *report = api_deploy(&al, plan, &err);
    if (!report)
        goto fail;
    size_t wi;
    json_t *w;
    json_array_foreach(json_object_get(report, "warnings"), wi, w) fprintf(stderr, "stepd: warning: %s\n",
                                                                           json_string_value(w));
    json_decref(report);

    const char *arn = json_string_value(json_object_get(sm, "arn"));
    const char *type = json_string_value(json_object_get(sm, "type"));
    int express = type && strcmp(type, "EXPRESS") == 0;
    if (express && history)
        fprintf(stderr, "stepd run: --history: an EXPRESS execution keeps no history (on AWS it goes to "
                        "CloudWatch Logs); `stepd run --definition FILE --type EXPRESS --history` shows one\n");
    struct store_exec x = {0};
    if (sched_exec_start(s, arn, name, input, NULL, express ? express_done : NULL, &ew, &x, &err) < 0)
        goto fail;
    char *exec_arn = strdup(x.arn);
    store_exec_clear(&x);
    if (express) {
        while (!__atomic_load_n(&ew.done, __ATOMIC_ACQUIRE)) {
            struct timespec ts = {0, 1000000L};
            if (sigtimedwait(&sigs, NULL, &ts) > 0) {
                free(exec_arn);
                goto interrupted;
            }
        }
        result = ew.result ? ew.result : json_pack("{s:s,s:n,s:s,s:s}", "status", "FAILED", "output", "error",
                                                   "ServiceUnavailable", "cause", "stepd stopped");
    } else {
        /* poll the row: the loop commits the end with the last turn */
        long wait_ns = 200000;
        int64_t shown = 0;
        for (;;) {
            if (progress)
                show_progress(s, exec_arn, &shown);
            struct store_exec row = {0};
            store *q = sched_lock(s);
            int r = q->ops->exec_get(q, exec_arn, &row, &err);
            sched_unlock(s);
            if (r != STORE_OK) {
                free(exec_arn);
                goto fail;
            }
            if (strcmp(row.status, "RUNNING") != 0) {
                if (progress)
                    show_progress(s, exec_arn, &shown);
                result = result_of(&row);
                store_exec_clear(&row);
                break;
            }
            store_exec_clear(&row);
            struct timespec ts = {0, wait_ns};
            if (sigtimedwait(&sigs, NULL, &ts) > 0) {
                free(exec_arn);
                goto interrupted;
            }
            if (wait_ns < 20000000)
                wait_ns += wait_ns / 4;
        }
        if (history)
            val_obj_set_take(result, "history", history_of(s, exec_arn));
    }
    free(exec_arn);
    if (show_tables)
        val_obj_set_take(result, "tables", tables_of(s, plan));
    char *txt = val_dump(result, NULL);
    puts(txt);
    fflush(stdout);
    free(txt);
    const char *status = json_string_value(json_object_get(result, "status"));
    rc = status && strcmp(status, "SUCCEEDED") == 0 ? 0 : 1;
    goto done;
interrupted:
    fprintf(stderr, "stepd run: interrupted: the functions are stopped and the temporary store removed\n");
    rc = 130;
    goto done;
fail:
    fprintf(stderr, "stepd run: %s%s%s\n", err.name && err.kind != VAL_ERR_IO ? err.name : "",
            err.name && err.kind != VAL_ERR_IO ? ": " : "", err.cause ? err.cause : "failed");
    rc = 2;
done:
    sched_stop(s);
    fn_stop(fn);
    http_stop(srv);
    fn_free(fn);
    sched_free(s);
    store_close(st);
    json_decref(result);
    json_decref(plan);
    free(input);
    val_err_clear(&err);
    nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
free_ov:
    for (size_t i = 0; i < n_ov; i++)
        free((char *)ov[i]);
    free(ov);
    return rc;
}
