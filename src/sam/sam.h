/* sam — an AWS SAM template (YAML or JSON, libfyaml) becomes a deploy plan:
 * the functions, state machines and tables it declares, with every
 * intrinsic resolved the way CloudFormation resolves it (Ref gives a
 * function's name, a table's name, a state machine's ARN), and the
 * Outputs. Nothing here starts anything: the plan is plain JSON that
 * `stepd deploy` sends to a server and `stepd run template.yaml` /
 * `serve --template` apply in process.
 *
 * The plan (every member present, arrays possibly empty):
 *
 * {"template": "/abs/path/template.yaml", "stack_name": "...",
 *  "region": "...", "account": "...",
 *  "functions": [{"logical_id", "name", "arn", "code_dir" (absolute),
 *                 "handler", "runtime", "timeout" (s, default 3),
 *                 "memory" (MB, default 128), "concurrency" (only when
 *                 ReservedConcurrentExecutions is set),
 *                 "environment": {"K": "V", ...} (strings)}],
 *  "state_machines": [{"logical_id", "name", "arn", "type" (STANDARD|EXPRESS),
 *                      "role_arn", "definition" (JSON text, substitutions
 *                      applied)}],
 *  "tables": [{"logical_id", "name", "arn", "resource_type",
 *              "create_table": <a DynamoDB CreateTable request body>}],
 *  "outputs": [{"key", "value" (string), "description" (when given)}],
 *  "warnings": ["template.yaml:40:3: ...", ...]}
 *
 * Names: a resource without an explicit name (FunctionName, Name,
 * TableName) is named by its logical ID. */
#ifndef STEPD_SAM_H
#define STEPD_SAM_H

#include "json/val.h"

struct sam_opts {
    const char *region;     /* NULL: us-east-1 */
    const char *account;    /* NULL: 123456789012 */
    const char *stack_name; /* NULL: the template directory's name */
    const char *const *overrides; /* "Key=Value" parameter overrides */
    size_t n_overrides;
};

/* Loads the template at path. Returns the plan (a new reference) or NULL
 * with err set: kind VAL_ERR_VALIDATION (or VAL_ERR_IO when the file
 * cannot be read), name "InvalidTemplate", cause a message that starts
 * with "path:line:column: " wherever the problem has a place in the
 * file, and err->where set to "path:line:column". */
json_t *sam_load(const char *path, const struct sam_opts *o, val_err *err);

/* The same from text in memory (path names it in messages and anchors
 * relative CodeUri / DefinitionUri). */
json_t *sam_load_text(const char *text, size_t len, const char *path, const struct sam_opts *o,
                      val_err *err);

#endif
