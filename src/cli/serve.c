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

#include "api/sfn.h"
#include "cli/cmds.h"
#include "http/http.h"
#include "sched/sched.h"
#include "store/store.h"

static const char *usage_serve =
    "usage: stepd serve [--listen HOST:PORT] [--store PATH]\n"
    "\n"
    "Serves the Step Functions API (AWS JSON 1.0) for the aws CLI, boto3 and\n"
    "the stepd client commands, with STANDARD executions kept durably.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8083; port 0 picks\n"
    "                      a free one); the first line on stdout says where\n"
    "  --store PATH        the SQLite database (default ./.stepd/state.db;\n"
    "                      :memory: keeps nothing)\n"
    "  --quiet             no notices on stderr\n"
    "  --max-loaded N      idle executions kept in memory before the least recently\n"
    "                      used are evicted to their snapshot (default 4096)\n"
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
    const char *listen = "127.0.0.1:8083", *path = ".stepd/state.db";
    int quiet = 0;
    long max_loaded = 0;
    static const struct option longs[] = {{"listen", required_argument, 0, 'l'},
                                          {"store", required_argument, 0, 's'},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"max-loaded", required_argument, 0, 'L'},
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
    store *st = store_sqlite_open(path, &err);
    if (!st) {
        fprintf(stderr, "stepd serve: cannot open the store %s: %s\n", path, err.cause);
        goto out;
    }
    struct sched_opts so = {.quiet = quiet, .max_loaded = (size_t)max_loaded};
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
    const struct http_service services[] = {{API_SFN_PREFIX, api_sfn_handle}};
    const struct http_routes routes = {.services = services, .n_services = 1};
    srv = http_start(host, port, &routes, s, &err);
    if (!srv) {
        fprintf(stderr, "stepd serve: %s\n", err.cause);
        goto out;
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
        fprintf(stderr, "stepd: %ld turns, %ld commits, %ld transitions; stepping %.3f s, writing %.3f s\n",
                stats.turns, stats.commits, stats.transitions, (double)stats.step_ns / 1e9,
                (double)stats.commit_ns / 1e9);
    }
out:
    sched_stop(s); /* last turn committed; sync waiters answered */
    http_stop(srv);
    sched_free(s);
    store_close(st);
    val_err_clear(&err);
    free(host);
    return rc;
}
