/* cmds — the subcommands that live outside main.c. */
#ifndef STEPD_CLI_CMDS_H
#define STEPD_CLI_CMDS_H

/* `stepd serve` (serve.c). argv[0] is "serve". Returns the exit status. */
int cmd_serve(int argc, char **argv);

/* The client commands (client.c): cmd is argv[0] of the subcommand. Returns
 * the exit status, or -1 when cmd is not a client command. */
int cmd_client(const char *cmd, int argc, char **argv);

/* The server a client command talks to: --endpoint's value when given,
 * else $STEPD_ENDPOINT, else http://127.0.0.1:8083 (client.c). */
const char *cli_endpoint(const char *flag);

/* invoke, logs, deploy (fncmds.c): -1 when cmd is none of them. */
int cmd_fn(const char *cmd, int argc, char **argv);

/* `stepd run TEMPLATE ...` (runtpl.c): argv[0] is "run". */
int cmd_run_template(int argc, char **argv);

/* Helpers the template commands share (fncmds.c). */
#include <stdio.h>
#include "json/val.h"
void cli_print_deploy(FILE *out, const json_t *report);
const char *cli_default_template(void);
int cli_collect_overrides(int argc, char **argv, int *i, const char ***list, size_t *n);
char *cli_read_json_arg(const char *arg, size_t *len, const char *what, val_err *err);

/* One line per client command for `stepd --help` (client.c keeps it). */
#define CLIENT_USAGE_LINES \
    "  create-state-machine  create (or update with --update) a state machine\n" \
    "  start-execution       start an execution (--wait: follow it to its end)\n" \
    "  describe-execution    an execution's status, input and output\n" \
    "  history               an execution's event history\n" \
    "  list-executions       a state machine's executions\n" \
    "  stop-execution        stop a running execution\n" \
    "  send-task-success     answer a .waitForTaskToken task with its output\n" \
    "  send-task-failure     fail a .waitForTaskToken task\n" \
    "  deploy                deploy a SAM template (functions, state machines, tables)\n" \
    "  invoke                invoke a deployed function\n" \
    "  logs                  a function's log (--follow)\n" \
    "  tables                the tables (--table: keys and item counts)\n" \
    "  scan                  every item of a table\n" \
    "  get-item              one item of a table, by its key\n"

#endif
