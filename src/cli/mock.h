/* mock — task results from a Step Functions Local MockConfigFile:
 * StateMachines -> TestCases -> state -> response name, and
 * MockedResponses -> name -> {"0": {"Return": ...}, "1-2": {"Throw": ...}}
 * numbered per invocation of the state, so retries can see another answer. */
#ifndef STEPD_CLI_MOCK_H
#define STEPD_CLI_MOCK_H

#include "json/val.h"

typedef struct cli_mock cli_mock;

/* Loads FILE and selects test case NAME of machine (or of any machine
 * defining it when machine has none). NULL with err set. */
cli_mock *cli_mock_load(const char *file, const char *case_name, const char *machine, val_err *err);
void cli_mock_free(cli_mock *m);

/* The mocked answer for the attempt-th invocation (0-based) of state.
 * Returns 1 with *ret set (borrowed) for a Return, 2 with *error and *cause
 * (borrowed, may be NULL) for a Throw, 0 when the state is not mocked. */
int cli_mock_answer(const cli_mock *m, const char *state, long attempt, json_t **ret, const char **error,
                    const char **cause);

#endif
