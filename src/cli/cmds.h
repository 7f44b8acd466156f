/* cmds — the subcommands that live outside main.c. */
#ifndef STEPD_CLI_CMDS_H
#define STEPD_CLI_CMDS_H

/* `stepd serve` (serve.c). argv[0] is "serve". Returns the exit status. */
int cmd_serve(int argc, char **argv);

/* The client commands (client.c): cmd is argv[0] of the subcommand. Returns
 * the exit status, or -1 when cmd is not a client command. */
int cmd_client(const char *cmd, int argc, char **argv);

/* One line per client command for `stepd --help` (client.c keeps it). */
#define CLIENT_USAGE_LINES \
    "  create-state-machine  create (or update with --update) a state machine\n" \
    "  start-execution       start an execution (--wait: follow it to its end)\n" \
    "  describe-execution    an execution's status, input and output\n" \
    "  history               an execution's event history\n" \
    "  list-executions       a state machine's executions\n" \
    "  stop-execution        stop a running execution\n" \
    "  send-task-success     answer a .waitForTaskToken task with its output\n" \
    "  send-task-failure     fail a .waitForTaskToken task\n"

#endif
