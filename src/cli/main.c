/* stepd — the command line. `stepd run` executes one definition in process
 * (no server) and prints {"status","output","error","cause"[,"history"]};
 * `stepd validate` checks a definition the way CreateStateMachine does. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "asl/asl.h"
#include "cli/cmds.h"
#include "cli/mock.h"
#include "engine/engine.h"

static const char *usage_main =
    "usage: stepd <command> [options]\n"
    "\n"
    "commands:\n"
    "  run        run one execution of a state machine definition in process\n"
    "             (or `stepd run template.yaml`: a SAM template with its functions)\n"
    "  validate   check a definition the way CreateStateMachine does\n"
    "  serve      the server: Step Functions, Lambda and DynamoDB APIs, durable\n"
    "\n"
    "client commands (talk to a running `stepd serve`: --endpoint URL or\n"
    "STEPD_ENDPOINT, default http://127.0.0.1:8083):\n"
    CLIENT_USAGE_LINES
    "\n"
    "Run 'stepd <command> --help' for a command's options.\n";

static const char *usage_run =
    "usage: stepd run --definition FILE --input JSON_OR_PATH [options]\n"
    "\n"
    "Runs one execution in this process and prints one JSON object:\n"
    "  {\"status\", \"output\", \"error\", \"cause\"} (+ \"history\" with --history)\n"
    "\n"
    "options:\n"
    "  --definition FILE      the state machine definition (Amazon States Language, JSON)\n"
    "  --input JSON_OR_PATH   the execution input: a file's path, or JSON text (default {})\n"
    "  --type STANDARD|EXPRESS  execution type (default STANDARD: fails at 25,000 events)\n"
    "  --history              add the execution history (GetExecutionHistory's events)\n"
    "  --no-wait              virtual clock: Wait states, retry intervals and timeouts\n"
    "                         take no real time; the history reads as if they had\n"
    "  --mock FILE            a Step Functions Local MockConfigFile with task results\n"
    "  --mock-case NAME       the test case of the MockConfigFile to use\n"
    "  --name NAME            the execution's name (default: a UUID)\n"
    "  --state-machine-name NAME  the machine's name (default: the file's base name)\n"
    "  --repeat N             run N executions and add timing figures under \"bench\"\n"
    "  --seed N               seed for UUIDs, tokens, MathRandom and jitter\n"
    "  --payload-limit BYTES  raise the 256 KiB payload limit (States.DataLimitExceeded);\n"
    "                         for benchmarks whose data AWS itself would refuse\n"
    "\n"
    "exit status: 0 SUCCEEDED; 1 FAILED, TIMED_OUT or ABORTED; 2 bad usage or a\n"
    "rejected definition (the AWS error code and message on stderr).\n";

static const char *usage_validate =
    "usage: stepd validate FILE\n"
    "\n"
    "Prints OK, or every problem AWS would report (InvalidDefinition), and\n"
    "exits 0 or 2.\n";

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(int64_t due)
{
    for (;;) {
        int64_t now = wall_ns();
        if (now >= due)
            return;
        int64_t d = due - now;
        struct timespec ts = {(time_t)(d / 1000000000LL), (long)(d % 1000000000LL)};
        nanosleep(&ts, NULL);
    }
}

/* Loads a definition file; prints AWS's error and returns NULL when it is
 * rejected. */
static struct asl_machine *load_definition(const char *path)
{
    val_err err = {0};
    size_t len;
    char *text = val_read_file(path, &len, &err);
    if (!text) {
        fprintf(stderr, "stepd: %s\n", err.cause);
        val_err_clear(&err);
        return NULL;
    }
    asl_diags d = {0};
    struct asl_machine *m = asl_load(text, len, &d);
    free(text);
    if (!m) {
        char *msg = asl_diags_message(&d);
        fprintf(stderr, "InvalidDefinition: %s\n", msg);
        free(msg);
    }
    asl_diags_free(&d);
    return m;
}

/* --input takes a file's path or JSON text. */
static json_t *load_input(const char *arg)
{
    val_err err = {0};
    struct stat st;
    json_t *v;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        size_t len;
        char *text = val_read_file(arg, &len, &err);
        v = text ? val_parse(text, len, &err) : NULL;
        free(text);
        if (!v)
            fprintf(stderr, "InvalidExecutionInput: %s: %s\n", arg, err.cause);
    } else {
        v = val_parse(arg, strlen(arg), &err);
        if (!v)
            fprintf(stderr,
                    "InvalidExecutionInput: --input is neither a file nor valid JSON: %s\n", err.cause);
    }
    val_err_clear(&err);
    return v;
}

static char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = strdup(b);
    char *dot = strstr(s, ".asl.json");
    if (!dot)
        dot = strrchr(s, '.');
    if (dot && dot != s)
        *dot = 0;
    return s;
}

struct run_opts {
    const char *definition, *input, *mock_file, *mock_case, *name, *machine_name;
    int type, history, no_wait;
    long repeat;
    int repeat_given;
    size_t payload_limit;
    uint64_t seed;
    int seeded;
};

struct task_call {
    uint64_t id;
    char *state, *resource;
    json_t *input;
    long attempt;
};

struct timer {
    uint64_t id;
    int64_t due;
};

static const char *function_name_of(const struct task_call *t)
{
    if (strncmp(t->resource, "arn:aws:lambda:", 15) == 0) {
        const char *p = strstr(t->resource, ":function:");
        return p ? p + 10 : t->resource;
    }
    json_t *fn = json_object_get(t->input, "FunctionName");
    return json_is_string(fn) ? json_string_value(fn) : NULL;
}

/* Answers one task: from the mock file, else with the error AWS gives for
 * a function that does not exist. */
static void answer_task(eng_exec *x, const cli_mock *mock, const struct task_call *t, int64_t now,
                        const char *region, const char *account)
{
    struct eng_event ev = {.id = t->id, .now_ns = now};
    json_t *ret = NULL;
    const char *error = NULL, *cause = NULL;
    int r = mock ? cli_mock_answer(mock, t->state, t->attempt, &ret, &error, &cause) : 0;
    char *owned = NULL;
    if (r == 1) {
        ev.kind = ENG_EV_TASK_SUCCEEDED;
        ev.output = ret;
    } else if (r == 2) {
        ev.kind = ENG_EV_TASK_FAILED;
        ev.error = error;
        ev.cause = cause;
    } else {
        ev.kind = ENG_EV_TASK_FAILED;
        int is_lambda = strncmp(t->resource, "arn:aws:lambda:", 15) == 0 ||
                        strncmp(t->resource, "arn:aws:states:::lambda:", 24) == 0;
        const char *fn = function_name_of(t);
        if (is_lambda && fn) {
            char arn[600];
            if (strncmp(fn, "arn:", 4) == 0)
                snprintf(arn, sizeof arn, "%s", fn);
            else
                snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", region, account, fn);
            ev.error = "Lambda.ResourceNotFoundException";
            if (asprintf(&owned,
                         "Function not found: %s (Service: AWSLambda; Status Code: 404; Error Code: "
                         "ResourceNotFoundException; Request ID: 00000000-0000-0000-0000-000000000000; Proxy: null)",
                         arn) < 0)
                owned = NULL;
        } else {
            ev.error = "States.TaskFailed";
            if (asprintf(&owned,
                         "stepd run has no result for the Task state '%s' (resource %s): give one with "
                         "--mock FILE --mock-case NAME",
                         t->state, t->resource) < 0)
                owned = NULL;
        }
        ev.cause = owned;
    }
    eng_step(x, &ev);
    free(owned);
}

/* Runs one execution to its end. Returns the execution (caller frees). */
static eng_exec *run_one(const struct asl_machine *m, const struct eng_config *cfg, json_t *input, uint64_t seed,
                         const cli_mock *mock, int no_wait, long *transitions)
{
    eng_exec *x = eng_exec_new(m, cfg, input, seed);
    int64_t now = wall_ns();
    struct task_call *tasks = NULL;
    size_t n_tasks = 0, cap_tasks = 0, t_head = 0;
    struct timer *timers = NULL;
    size_t n_timers = 0, cap_timers = 0;
    struct eng_event ev = {.kind = ENG_EV_START, .now_ns = now};
    *transitions += eng_step(x, &ev);
    while (eng_status(x) == ENG_RUNNING) {
        size_t n;
        const struct eng_effect *effs = eng_effects(x, &n);
        for (size_t i = 0; i < n; i++) {
            const struct eng_effect *e = &effs[i];
            if (e->kind == ENG_EFF_INVOKE) {
                if (n_tasks == cap_tasks) {
                    cap_tasks = cap_tasks ? cap_tasks * 2 : 8;
                    tasks = realloc(tasks, cap_tasks * sizeof *tasks);
                }
                tasks[n_tasks++] = (struct task_call){e->id, strdup(e->state), strdup(e->resource),
                                                      json_incref(e->input), e->attempt};
            } else {
                if (n_timers == cap_timers) {
                    cap_timers = cap_timers ? cap_timers * 2 : 8;
                    timers = realloc(timers, cap_timers * sizeof *timers);
                }
                timers[n_timers++] = (struct timer){e->id, e->due_ns};
            }
        }
        if (t_head < n_tasks) {
            struct task_call *t = &tasks[t_head++];
            if (!no_wait)
                now = wall_ns();
            answer_task(x, mock, t, now, cfg->region, cfg->account);
            free(t->state);
            free(t->resource);
            json_decref(t->input);
            if (t_head == n_tasks)
                t_head = n_tasks = 0;
            continue;
        }
        if (!n_timers)
            break; /* nothing can move: cannot happen with a well-formed engine */
        size_t best = 0;
        for (size_t i = 1; i < n_timers; i++)
            if (timers[i].due < timers[best].due)
                best = i;
        struct timer tm = timers[best];
        timers[best] = timers[--n_timers];
        if (no_wait) {
            if (tm.due > now)
                now = tm.due;
        } else {
            sleep_until(tm.due);
            now = wall_ns();
        }
        struct eng_event tev = {.kind = ENG_EV_TIMER, .id = tm.id, .now_ns = now};
        *transitions += eng_step(x, &tev);
    }
    for (size_t i = t_head; i < n_tasks; i++) {
        free(tasks[i].state);
        free(tasks[i].resource);
        json_decref(tasks[i].input);
    }
    free(tasks);
    free(timers);
    return x;
}

static json_t *result_json(eng_exec *x, int with_history)
{
    json_t *r = json_object();
    val_obj_set_take(r, "status", json_string(eng_status_name(eng_status(x))));
    json_t *out = eng_output(x);
    val_obj_set_take(r, "output", out ? json_incref(out) : json_null());
    val_obj_set_take(r, "error", eng_error(x) ? json_string(eng_error(x)) : json_null());
    val_obj_set_take(r, "cause", eng_cause(x) ? json_string(eng_cause(x)) : json_null());
    if (with_history) {
        /* recorded as text, the form the durable store keeps, and parsed
         * back here: the cases and the conformance corpus check that form */
        size_t len;
        long first, n;
        char *text = eng_history_take_text(x, &len, &first, &n);
        json_t *h = json_array();
        for (char *p = text, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
            json_t *ev = val_parse(p, (size_t)(nl - p), NULL);
            val_arr_append_take(h, ev ? ev : json_string("unparsable event"));
        }
        free(text);
        val_obj_set_take(r, "history", h);
    }
    return r;
}

static int cmd_run(int argc, char **argv)
{
    struct run_opts o = {.type = ENG_STANDARD, .repeat = 1};
    static const struct option longs[] = {
        {"definition", required_argument, 0, 'd'}, {"input", required_argument, 0, 'i'},
        {"type", required_argument, 0, 't'},       {"history", no_argument, 0, 'H'},
        {"no-wait", no_argument, 0, 'W'},          {"mock", required_argument, 0, 'm'},
        {"mock-case", required_argument, 0, 'c'},  {"name", required_argument, 0, 'n'},
        {"repeat", required_argument, 0, 'r'},     {"seed", required_argument, 0, 's'},
        {"state-machine-name", required_argument, 0, 'M'}, {"payload-limit", required_argument, 0, 'P'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'd': o.definition = optarg; break;
        case 'i': o.input = optarg; break;
        case 't':
            if (strcmp(optarg, "STANDARD") == 0)
                o.type = ENG_STANDARD;
            else if (strcmp(optarg, "EXPRESS") == 0)
                o.type = ENG_EXPRESS;
            else {
                fprintf(stderr, "ValidationException: --type must be STANDARD or EXPRESS, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'H': o.history = 1; break;
        case 'W': o.no_wait = 1; break;
        case 'm': o.mock_file = optarg; break;
        case 'c': o.mock_case = optarg; break;
        case 'n': o.name = optarg; break;
        case 'M': o.machine_name = optarg; break;
        case 'P': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || v < 1) {
                fprintf(stderr, "stepd run: --payload-limit takes a positive number of bytes\n");
                return 2;
            }
            o.payload_limit = (size_t)v;
            break;
        }
        case 'r': {
            char *end;
            o.repeat = strtol(optarg, &end, 10);
            o.repeat_given = 1;
            if (*end || o.repeat < 1) {
                fprintf(stderr, "stepd run: --repeat takes a positive integer\n");
                return 2;
            }
            break;
        }
        case 's':
            o.seed = strtoull(optarg, NULL, 10);
            o.seeded = 1;
            break;
        case 'h': fputs(usage_run, stdout); return 0;
        default: fputs(usage_run, stderr); return 2;
        }
    }
    if (!o.definition || optind < argc) {
        fputs(usage_run, stderr);
        return 2;
    }
    if (!!o.mock_file != !!o.mock_case) {
        fprintf(stderr, "stepd run: --mock and --mock-case go together\n");
        return 2;
    }
    struct asl_machine *m = load_definition(o.definition);
    if (!m)
        return 2;
    json_t *input = o.input ? load_input(o.input) : json_object();
    if (!input) {
        asl_machine_free(m);
        return 2;
    }
    char *mname = o.machine_name ? strdup(o.machine_name) : base_name(o.definition);
    cli_mock *mock = NULL;
    if (o.mock_file) {
        val_err err = {0};
        mock = cli_mock_load(o.mock_file, o.mock_case, mname, &err);
        if (!mock) {
            fprintf(stderr, "stepd run: %s\n", err.cause);
            val_err_clear(&err);
            json_decref(input);
            asl_machine_free(m);
            free(mname);
            return 2;
        }
    }
    uint64_t seed = o.seeded ? o.seed : (uint64_t)wall_ns() ^ ((uint64_t)getpid() << 32);
    struct eng_config cfg = {.region = "us-east-1", .account = "123456789012", .machine_name = mname, .execution_name = o.name, .type = o.type,
                             .record_history = o.history ? ENG_HISTORY_TEXT : ENG_HISTORY_NONE, .max_payload = o.payload_limit};
    eng_exec *x = NULL;
    long transitions = 0;
    double t0 = mono_s();
    for (long i = 0; i < o.repeat; i++) {
        eng_exec_free(x);
        x = run_one(m, &cfg, input, seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL, mock, o.no_wait, &transitions);
    }
    double secs = mono_s() - t0;
    json_t *r = result_json(x, o.history);
    if (o.repeat_given) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        json_t *b = json_object();
        val_obj_set_take(b, "executions", json_integer(o.repeat));
        val_obj_set_take(b, "transitions", json_integer(transitions));
        val_obj_set_take(b, "seconds", json_real(secs));
        val_obj_set_take(b, "transitions_per_second", json_real(secs > 0 ? (double)transitions / secs : 0));
        val_obj_set_take(b, "executions_per_second", json_real(secs > 0 ? (double)o.repeat / secs : 0));
        val_obj_set_take(b, "max_rss_kb", json_integer(ru.ru_maxrss));
        val_obj_set_take(r, "bench", b);
    }
    char *txt = val_dump(r, NULL);
    puts(txt);
    free(txt);
    int status = eng_status(x);
    json_decref(r);
    eng_exec_free(x);
    cli_mock_free(mock);
    json_decref(input);
    asl_machine_free(m);
    free(mname);
    return status == ENG_SUCCEEDED ? 0 : 1;
}

static int cmd_validate(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_validate, argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    struct asl_machine *m = load_definition(argv[1]);
    if (!m)
        return 2;
    puts("OK");
    asl_machine_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) {
        /* `stepd run template.yaml ...`: a SAM template, run with its functions */
        if (argc > 2 && argv[2][0] != '-')
            return cmd_run_template(argc - 1, argv + 1);
        return cmd_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    int rc = cmd_client(cmd, argc - 1, argv + 1);
    if (rc >= 0)
        return rc;
    rc = cmd_fn(cmd, argc - 1, argv + 1);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "stepd: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
