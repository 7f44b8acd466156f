/* fncmds — the commands about functions and templates that talk to a
 * running `stepd serve`: invoke, logs, deploy. `stepd run template.yaml`
 * and `serve --template` share the deploy report's printing (runtpl.c,
 * serve.c). */
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/client_http.h"
#include "cli/cmds.h"
#include "sam/sam.h"

/* A path segment percent-encoded (a function ARN holds ':'). */
static char *curl_escape_name(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out)
        abort();
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '_' || ch == '.' || ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = 0;
    return out;
}

/* A JSON argument: a file's path when one exists, else the text itself. */
char *cli_read_json_arg(const char *arg, size_t *len, const char *what, val_err *err)
{
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISREG(sb.st_mode)) {
        FILE *f = fopen(arg, "rb");
        if (!f) {
            val_err_set(err, VAL_ERR_IO, NULL, "cannot read %s %s: %s", what, arg, strerror(errno));
            return NULL;
        }
        char *buf = malloc((size_t)sb.st_size + 1);
        if (!buf)
            abort();
        size_t n = fread(buf, 1, (size_t)sb.st_size, f);
        fclose(f);
        buf[n] = 0;
        *len = n;
        return buf;
    }
    *len = strlen(arg);
    return strdup(arg);
}

/* ------------------------------------------------------------------ invoke */

static const char *usage_invoke =
    "usage: stepd invoke FUNCTION [--event JSON_OR_PATH] [--log] [--endpoint URL]\n"
    "\n"
    "Invokes a deployed function (RequestResponse) through a running `stepd serve`\n"
    "and prints its response on stdout. FUNCTION is its name (a template's logical\n"
    "ID unless it sets FunctionName) or its ARN.\n"
    "\n"
    "options:\n"
    "  --event JSON_OR_PATH  the event: a file's path, or JSON text (default {})\n"
    "  --log                 also print the invocation's log (its last 4 KB) on stderr\n"
    "  --endpoint URL        the server (default $STEPD_ENDPOINT or http://127.0.0.1:8083)\n"
    "\n"
    "exit status: 0 the function answered; 1 it failed (its error document is\n"
    "printed); 2 bad usage, no such function, or no server.\n";

static char *unb64(const char *s, size_t *n)
{
    size_t l = strlen(s);
    unsigned char *out = malloc(l / 4 * 3 + 4);
    if (!out)
        abort();
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)l);
    if (k < 0)
        k = 0;
    while (k > 0 && l && s[l - 1] == '=') { /* DecodeBlock counts the padding */
        k--;
        l--;
    }
    out[k] = 0;
    *n = (size_t)k;
    return (char *)out;
}

static int cmd_invoke(int argc, char **argv)
{
    const char *endpoint = NULL, *event = NULL;
    int log = 0;
    static const struct option longs[] = {{"event", required_argument, 0, 'e'},
                                          {"payload", required_argument, 0, 'e'},
                                          {"endpoint", required_argument, 0, 'E'},
                                          {"log", no_argument, 0, 'l'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'e': event = optarg; break;
        case 'E': endpoint = optarg; break;
        case 'l': log = 1; break;
        case 'h': fputs(usage_invoke, stdout); return 0;
        default: fputs(usage_invoke, stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "stepd invoke: name one function\n\n%s", usage_invoke);
        return 2;
    }
    const char *name = argv[optind];
    val_err err = {0};
    size_t len = 0;
    char *payload = event ? cli_read_json_arg(event, &len, "the event", &err) : strdup("{}");
    if (!payload) {
        fprintf(stderr, "stepd invoke: %s\n", err.cause);
        val_err_clear(&err);
        return 2;
    }
    if (event && len) {
        json_t *v = val_parse(payload, len, &err);
        if (!v) {
            fprintf(stderr, "stepd invoke: the event is not JSON: %s\n", err.cause);
            val_err_clear(&err);
            free(payload);
            return 2;
        }
        json_decref(v);
    }
    cli_conn *conn = cli_conn_new(cli_endpoint(endpoint));
    char *esc = curl_escape_name(name);
    char path[1200];
    snprintf(path, sizeof path, "/2015-03-31/functions/%s/invocations", esc);
    free(esc);
    const char *hdrs[] = {"X-Amz-Invocation-Type: RequestResponse", log ? "X-Amz-Log-Type: Tail" : NULL, NULL};
    struct cli_rest_resp r;
    int rc = 2;
    if (cli_rest(conn, "POST", path, hdrs, payload, len, &r, &err) < 0) {
        fprintf(stderr, "stepd invoke: %s\n", err.cause);
        goto out;
    }
    if (r.status != 200) {
        cli_rest_error(&r, &err);
        fprintf(stderr, "stepd invoke: %s: %s\n", err.name ? err.name : "error", err.cause ? err.cause : "");
        cli_rest_clear(&r);
        goto out;
    }
    if (log && r.log_result) {
        size_t n;
        char *t = unb64(r.log_result, &n);
        fwrite(t, 1, n, stderr);
        free(t);
    }
    fwrite(r.body, 1, r.len, stdout);
    fputc('\n', stdout);
    rc = r.function_error ? 1 : 0;
    cli_rest_clear(&r);
out:
    val_err_clear(&err);
    cli_conn_free(conn);
    free(payload);
    return rc;
}

/* -------------------------------------------------------------------- logs */

static const char *usage_logs =
    "usage: stepd logs FUNCTION [--follow] [--endpoint URL]\n"
    "\n"
    "Prints a function's log as a running `stepd serve` keeps it: what its workers\n"
    "printed, with Lambda's START, END and REPORT lines (duration, memory).\n"
    "\n"
    "options:\n"
    "  --follow, -f     keep printing new lines until interrupted\n"
    "  --tail BYTES     start this many bytes before the end (default: the beginning)\n"
    "  --endpoint URL   the server (default $STEPD_ENDPOINT or http://127.0.0.1:8083)\n";

static int cmd_logs(int argc, char **argv)
{
    const char *endpoint = NULL;
    int follow = 0;
    long long offset = 0;
    static const struct option longs[] = {{"follow", no_argument, 0, 'f'},
                                          {"tail", required_argument, 0, 't'},
                                          {"endpoint", required_argument, 0, 'E'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hf", longs, NULL)) != -1) {
        switch (c) {
        case 'f': follow = 1; break;
        case 't': offset = -llabs(strtoll(optarg, NULL, 10)); break;
        case 'E': endpoint = optarg; break;
        case 'h': fputs(usage_logs, stdout); return 0;
        default: fputs(usage_logs, stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "stepd logs: name one function\n\n%s", usage_logs);
        return 2;
    }
    cli_conn *conn = cli_conn_new(cli_endpoint(endpoint));
    char *esc = curl_escape_name(argv[optind]);
    val_err err = {0};
    int rc = 0;
    for (;;) {
        char path[1300];
        snprintf(path, sizeof path, "/stepd/functions/%s/logs?offset=%lld", esc, offset);
        struct cli_rest_resp r;
        if (cli_rest(conn, "GET", path, NULL, NULL, 0, &r, &err) < 0) {
            fprintf(stderr, "stepd logs: %s\n", err.cause);
            rc = 2;
            break;
        }
        if (r.status != 200) {
            cli_rest_error(&r, &err);
            fprintf(stderr, "stepd logs: %s: %s\n", err.name ? err.name : "error", err.cause ? err.cause : "");
            cli_rest_clear(&r);
            rc = 2;
            break;
        }
        fwrite(r.body, 1, r.len, stdout);
        fflush(stdout);
        long long next = r.log_offset ? strtoll(r.log_offset, NULL, 10) : offset + (long long)r.len;
        size_t got = r.len;
        cli_rest_clear(&r);
        offset = next;
        if (got)
            continue; /* more may be there right away */
        if (!follow)
            break;
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
    }
    val_err_clear(&err);
    free(esc);
    cli_conn_free(conn);
    return rc;
}

/* ------------------------------------------------------------------ deploy */

void cli_print_deploy(FILE *out, const json_t *report)
{
    static const struct {
        const char *key, *label;
    } kinds[] = {{"functions", "function"}, {"state_machines", "state machine"}, {"tables", "table"}};
    for (size_t k = 0; k < 3; k++) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(report, kinds[k].key), i, o) {
            const char *act = json_string_value(json_object_get(o, "action"));
            fprintf(out, "  %-13s %-28s %-9s %s\n", kinds[k].label,
                    json_string_value(json_object_get(o, "logical_id"))
                        ? json_string_value(json_object_get(o, "logical_id"))
                        : json_string_value(json_object_get(o, "name")),
                    act ? act : "", json_string_value(json_object_get(o, "arn")) ? json_string_value(json_object_get(o, "arn")) : "");
        }
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(report, "warnings"), i, w) fprintf(out, "warning: %s\n", json_string_value(w));
    json_t *outs = json_object_get(report, "outputs");
    if (json_array_size(outs)) {
        fprintf(out, "Outputs:\n");
        json_array_foreach(outs, i, w) {
            fprintf(out, "  %s = %s\n", json_string_value(json_object_get(w, "key")),
                    json_string_value(json_object_get(w, "value")) ? json_string_value(json_object_get(w, "value")) : "");
        }
    }
}

static const char *usage_deploy =
    "usage: stepd deploy [TEMPLATE] [options]\n"
    "\n"
    "Deploys an AWS SAM template (YAML or JSON, default ./template.yaml) into a\n"
    "running `stepd serve`: its functions (a changed one restarts its workers),\n"
    "state machines (a changed definition updates the machine) and tables; then\n"
    "prints the template's Outputs. Nothing is built or uploaded: CodeUri\n"
    "directories run in place.\n"
    "\n"
    "options:\n"
    "  --parameter-overrides K=V ...  template parameters (repeatable, or several\n"
    "                                 after one flag, as `sam deploy` takes them)\n"
    "  --stack-name NAME              AWS::StackName (default: the template's directory)\n"
    "  --region REGION                AWS::Region (default us-east-1)\n"
    "  --json                         print the deploy report as JSON\n"
    "  --endpoint URL                 the server (default $STEPD_ENDPOINT or\n"
    "                                 http://127.0.0.1:8083)\n";

const char *cli_default_template(void)
{
    static const char *names[] = {"template.yaml", "template.yml", "template.json"};
    for (size_t i = 0; i < 3; i++)
        if (access(names[i], R_OK) == 0)
            return names[i];
    return "template.yaml";
}

/* Reads --parameter-overrides values: each argument after the flag that
 * looks like K=V (sam's form), until the next option. */
int cli_collect_overrides(int argc, char **argv, int *i, const char ***list, size_t *n)
{
    int got = 0;
    while (*i + 1 < argc && argv[*i + 1][0] != '-' && strchr(argv[*i + 1], '=')) {
        /* "K=V K2=V2" in one argument is split on spaces, as sam does */
        char *copy = strdup(argv[++*i]);
        for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            *list = realloc(*list, (*n + 1) * sizeof **list);
            if (!*list)
                abort();
            (*list)[(*n)++] = strdup(tok);
        }
        free(copy);
        got++;
    }
    return got;
}

static int cmd_deploy(int argc, char **argv)
{
    const char *endpoint = NULL, *path = NULL, *stack = NULL, *region = NULL;
    const char **ov = NULL;
    size_t n_ov = 0;
    int json_out = 0, rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_deploy, stdout);
            return 0;
        } else if (strcmp(a, "--parameter-overrides") == 0) {
            if (!cli_collect_overrides(argc, argv, &i, &ov, &n_ov)) {
                fprintf(stderr, "stepd deploy: --parameter-overrides wants KEY=VALUE arguments\n");
                goto out;
            }
        } else if ((strcmp(a, "--endpoint") == 0 || strcmp(a, "--stack-name") == 0 || strcmp(a, "--region") == 0) &&
                   i + 1 < argc) {
            const char **slot = a[2] == 'e' ? &endpoint : a[2] == 's' ? &stack : &region;
            *slot = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json_out = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "stepd deploy: unknown option '%s'\n\n%s", a, usage_deploy);
            goto out;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "stepd deploy: one template at a time ('%s')\n", a);
            goto out;
        }
    }
    if (!path)
        path = cli_default_template();
    val_err err = {0};
    struct sam_opts so = {.region = region, .stack_name = stack, .overrides = ov, .n_overrides = n_ov};
    json_t *plan = sam_load(path, &so, &err);
    if (!plan) {
        fprintf(stderr, "stepd deploy: %s\n", err.cause ? err.cause : "cannot read the template");
        val_err_clear(&err);
        goto out;
    }
    size_t len;
    char *text = val_dump(plan, &len);
    json_decref(plan);
    cli_conn *conn = cli_conn_new(cli_endpoint(endpoint));
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    struct cli_rest_resp r;
    if (cli_rest(conn, "POST", "/stepd/deploy", hdrs, text, len, &r, &err) < 0) {
        fprintf(stderr, "stepd deploy: %s\n", err.cause);
    } else if (r.status != 200) {
        cli_rest_error(&r, &err);
        fprintf(stderr, "stepd deploy: %s: %s\n", err.name ? err.name : "error", err.cause ? err.cause : "");
        rc = 1;
    } else {
        json_t *rep = val_parse(r.body, r.len, NULL);
        if (json_out) {
            char *s = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(s ? s : "{}");
            free(s);
        } else {
            printf("stepd: deployed %s\n", path);
            cli_print_deploy(stdout, rep);
        }
        json_decref(rep);
        rc = 0;
    }
    if (r.status)
        cli_rest_clear(&r);
    val_err_clear(&err);
    cli_conn_free(conn);
    free(text);
out:
    for (size_t i = 0; i < n_ov; i++)
        free((char *)ov[i]);
    free(ov);
    return rc;
}

int cmd_fn(const char *cmd, int argc, char **argv)
{
    if (strcmp(cmd, "invoke") == 0)
        return cmd_invoke(argc, argv);
    if (strcmp(cmd, "logs") == 0)
        return cmd_logs(argc, argv);
    if (strcmp(cmd, "deploy") == 0)
        return cmd_deploy(argc, argv);
    return -1;
}
