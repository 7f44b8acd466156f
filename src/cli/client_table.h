/* client_table — `--table` for the client commands: an API answer shown as
 * aligned text columns instead of JSON. Lists (executions, events,
 * stateMachines) become one row per item; any other object becomes key and
 * value rows. Epoch-seconds timestamps are shown as ISO-8601 UTC. */
#ifndef STEPD_CLI_CLIENT_TABLE_H
#define STEPD_CLI_CLIENT_TABLE_H

#include <stdio.h>

#include "json/val.h"

/* Prints answer (borrowed) to f as a table. An object with an "executions",
 * "events" or "stateMachines" array is printed as that list (and a trailing
 * "nextToken: ..." line when the answer has one); an empty object prints
 * nothing; any other value is printed as compact JSON. */
void cli_table_print(FILE *f, const json_t *answer);

/* Prints rows (an array of objects whose members are strings) as a table
 * whose columns are every member name, in the order first seen; a row
 * without a member shows an empty cell. */
void cli_table_rows(FILE *f, const json_t *rows);

/* Formats epoch seconds as "2024-05-01T12:34:56.789Z" into buf (>= 32
 * bytes). */
void cli_table_iso8601(double secs, char *buf, size_t cap);

#endif
