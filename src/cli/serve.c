/* serve — `stepd serve`: opens the store, recovers the running executions,
 * starts the scheduler and the HTTP server, and waits for SIGTERM/SIGINT
 * to shut down in order (no new sync waits, the loop's last turn
 * committed, connections closed, the store closed). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libgen.h>
#include <sys/stat.h>

#include "api/lambda.h"
#include "api/sfn.h"
#include "cli/cmds.h"
#include "fn/fn.h"
#include "http/http.h"
#include "sam/sam.h"
#include "sched/sched.h"
#include "store/store.h"

static const char *usage_serve =
    "usage: stepd serve [--listen HOST:PORT] [--store PATH] [--template FILE]\n"
    "\n"
    "Serves the Step Functions API (AWS JSON 1.0), the DynamoDB API (tables,\n"
    "items, queries, batches, transactions) and the Lambda API (Invoke,\n"
    "GetFunction, ListFunctions) for the aws CLI, boto3 and the stepd client\n"
    "commands, with STANDARD executions and tables kept durably and functions\n"
    "run by warm worker processes through the Lambda Runtime API.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8083; port 0 picks\n"
    "                      a free one); the first line on stdout says where\n"
    "  --store PATH        the SQLite database (default ./.stepd/state.db;\n"
    "                      :memory: keeps nothing)\n"
    "  --quiet             no notices on stderr\n"
    "  --max-loaded N      idle executions kept in memory before the least recently\n"
    "                      used are evicted to their snapshot (default 4096)\n"
    "  --template FILE     deploy this SAM template at start (as `stepd deploy`)\n"
    "  --parameter-overrides K=V ...  its parameters\n"
    "  --idle-timeout S    stop a function's worker after S idle seconds (default 300)\n"
    "  --concurrency N     workers per function when the template reserves none\n"
    "                      (default 8; more invocations wait for a free worker)\n"
    "\n"
    "Function logs are kept beside the store, in logs/FUNCTION.log (`stepd logs`).\n"
    "\n"
    "SIGTERM or SIGINT stops it cleanly; running executions continue at the\n"
    "next start.\n";

/* Splits HOST:PORT (IPv6 as [addr]:port); host is malloc'd. */
static int parse_listen(const char *arg, char **host, int *port)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || !colon[1])
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    const char *h = arg;
    size_t hl = (size_t)(colon - arg);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    *host = hl ? strndup(h, hl) : strdup("127.0.0.1");
    *port = (int)p;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8083", *path = ".stepd/state.db", *template = NULL;
    int quiet = 0, idle_s = 0, conc = 0;
    long max_loaded = 0;
    const char **ov = NULL;
    size_t n_ov = 0;
    static const struct option longs[] = {{"listen", required_argument, 0, 'l'},
                                          {"store", required_argument, 0, 's'},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"max-loaded", required_argument, 0, 'L'},
                                          {"template", required_argument, 0, 't'},
                                          {"parameter-overrides", required_argument, 0, 'P'},
                                          {"idle-timeout", required_argument, 0, 'I'},
                                          {"concurrency", required_argument, 0, 'C'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 's': path = optarg; break;
        case 'q': quiet = 1; break;
        case 'L': {
            char *end;
            max_loaded = strtol(optarg, &end, 10);
            if (*end || max_loaded < 1) {
                fprintf(stderr, "stepd serve: --max-loaded wants a count of 1 or more, not '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 't': template = optarg; break;
        case 'P': {
            int i = optind - 2; /* optarg is argv[optind - 1] */
            if (i < 0 || argv[i + 1] != optarg)
                i = optind - 1, optind--; /* --parameter-overrides=K=V */
            cli_collect_overrides(argc, argv, &i, &ov, &n_ov);
            optind = i + 1;
            break;
        }
        case 'I':
        case 'C': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "stepd serve: --%s wants a number of 1 or more, not '%s'\n",
                        c == 'I' ? "idle-timeout" : "concurrency", optarg);
                return 2;
            }
            *(c == 'I' ? &idle_s : &conc) = (int)v;
            break;
        }
        case 'h': fputs(usage_serve, stdout); return 0;
        default: fputs(usage_serve, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stepd serve: unexpected argument '%s'\n\n%s", argv[optind], usage_serve);
        return 2;
    }
    char *host = NULL;
    int port = 0;
    if (parse_listen(listen, &host, &port) < 0) {
        fprintf(stderr, "stepd serve: --listen wants HOST:PORT, not '%s'\n", listen);
        return 2;
    }

    /* Every thread started from here on inherits the blocked signals; the
     * main thread alone waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* A connection is a descriptor: take the hard limit, not the shell's
     * usual 1,024, so that a thousand clients can connect at once. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    val_err err = {0};
    int rc = 1;
    sched *s = NULL;
    http_server *srv = NULL;
    fn_pool *fn = NULL;
    json_t *plan = NULL;
    char *logdir = NULL;
    store *st = NULL;
    if (template) {
        /* a broken template refuses to start, before anything listens */
        struct sam_opts sop = {.overrides = ov, .n_overrides = n_ov};
        plan = sam_load(template, &sop, &err);
        if (!plan) {
            fprintf(stderr, "stepd serve: %s\n", err.cause ? err.cause : "cannot read the template");
            goto out;
        }
    }
    st = store_sqlite_open(path, &err);
    if (!st) {
        fprintf(stderr, "stepd serve: cannot open the store %s: %s\n", path, err.cause);
        goto out;
    }
    if (strcmp(path, ":memory:") != 0) {
        char *copy = strdup(path);
        if (asprintf(&logdir, "%s/logs", dirname(copy)) < 0)
            logdir = NULL;
        free(copy);
    }
    /* the pool holds its workers until the server's port is known (they
     * are told where stepd's APIs are); recovered tasks queue meanwhile */
    struct fn_opts fo = {.log_dir = logdir, .quiet = quiet, .hold = 1, .idle_s = idle_s,
                         .default_concurrency = conc};
    fn = fn_new(&fo, &err);
    if (!fn) {
        fprintf(stderr, "stepd serve: %s\n", err.cause);
        goto out;
    }
    int restored = api_functions_restore(st, fn, &err);
    if (restored < 0) {
        fprintf(stderr, "stepd serve: cannot read the deployed functions: %s\n", err.cause);
        goto out;
    }
    struct sched_opts so = {.quiet = quiet, .max_loaded = (size_t)max_loaded, .fn = fn};
    s = sched_new(st, &so, &err);
    if (!s) {
        fprintf(stderr, "stepd serve: recovery failed: %s\n", err.cause);
        goto out;
    }
    struct sched_stats stats;
    sched_stats_get(s, &stats);
    if (stats.recovered && !quiet)
        fprintf(stderr, "stepd: recovered %ld running execution%s from %s\n", stats.recovered,
                stats.recovered == 1 ? "" : "s", path);
    if (sched_start(s, &err) < 0) {
        fprintf(stderr, "stepd serve: %s\n", err.cause);
        goto out;
    }
    struct api_lambda al = {.s = s, .fn = fn};
    srv = api_serve(host, port, &al, &err);
    if (!srv) {
        fprintf(stderr, "stepd serve: %s\n", err.cause);
        goto out;
    }
    {
        /* functions reach stepd on loopback when it listens on every address */
        const char *h = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ? "127.0.0.1" : host;
        char url[300];
        snprintf(url, sizeof url, "http://%s%s%s:%d", strchr(h, ':') ? "[" : "", h, strchr(h, ':') ? "]" : "",
                 http_port(srv));
        fn_set_endpoint(fn, url);
    }
    if (plan) {
        json_t *report = api_deploy(&al, plan, &err);
        if (!report) {
            fprintf(stderr, "stepd serve: cannot deploy %s: %s\n", template, err.cause ? err.cause : "");
            goto out;
        }
        if (!quiet) {
            fprintf(stderr, "stepd: deployed %s\n", template);
            cli_print_deploy(stderr, report);
        }
        json_decref(report);
    }
    printf("stepd: listening on http://%s%s%s:%d\n", strchr(host, ':') ? "[" : "", host,
           strchr(host, ':') ? "]" : "", http_port(srv));
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    if (!quiet)
        fprintf(stderr, "stepd: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
    if (getenv("STEPD_STATS")) {
        sched_stats_get(s, &stats);
        fprintf(stderr, "stepd: %ld turns, %ld commits, %ld transitions; stepping %.3f s, writing %.3f s; "
                        "%ld DynamoDB writes in %ld group commits\n",
                stats.turns, stats.commits, stats.transitions, (double)stats.step_ns / 1e9,
                (double)stats.commit_ns / 1e9, stats.ddb_writes, stats.ddb_commits);
    }
out:
    sched_stop(s); /* last turn committed; sync waiters answered */
    fn_stop(fn);   /* Invokes waiting on the HTTP side answered; tasks' results find the scheduler
                      stopped: recovery re-issues them */
    http_stop(srv);
    fn_free(fn);
    sched_free(s);
    store_close(st);
    json_decref(plan);
    free(logdir);
    for (size_t i = 0; i < n_ov; i++)
        free((char *)ov[i]);
    free(ov);
    val_err_clear(&err);
    free(host);
    return rc;
}
