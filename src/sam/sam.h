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
 * TableName) is named by its logical ID.
 *
 * What the plan holds, in detail:
 * - Arrays are in template order; a resource whose Condition is false is
 *   left out (and referring to it is an error).
 * - "environment" values are text: numbers and booleans written plainly
 *   in the template keep their spelling (012 stays "012", 1.50 "1.50").
 * - "definition" is compact JSON: an inline Definition with its
 *   intrinsics resolved, or the DefinitionUri file (JSON or YAML) as it
 *   is; then every ${key} is replaced by its DefinitionSubstitutions value
 *   as plain text, as SAM does. A ${key} without a value is an error.
 * - "create_table": SimpleTable gives KeySchema HASH on PrimaryKey
 *   (default id/String), BillingMode PAY_PER_REQUEST unless
 *   ProvisionedThroughput is given. DynamoDB::Table copies
 *   AttributeDefinitions, KeySchema, BillingMode (default PROVISIONED when
 *   ProvisionedThroughput is given, else PAY_PER_REQUEST),
 *   ProvisionedThroughput (numbers made numbers), Global/LocalSecondary-
 *   Indexes, SSESpecification and StreamSpecification (with
 *   "StreamEnabled": true added, as CreateTable wants).
 * - "warnings": resources stepd does not run (Ref gives their logical ID,
 *   GetAtt a placeholder), Events it does not deliver, Transforms other
 *   than AWS::Serverless-2016-10-31, ignored Globals sections (Api,
 *   HttpApi, LayerVersion) and unknown properties of SAM resources.
 * - Properties stepd does not use (Policies, Role of a function, Layers,
 *   Events, Tags...) are accepted and not resolved, so an ImportValue in
 *   them is no error.
 *
 * Limits: YAML nesting deeper than 200 levels, and intrinsics plus the
 * references they follow (names, conditions) deeper than 400, are
 * errors; recursion is bounded by these (under 128 KB of stack). YAML
 * aliases are refused, as CloudFormation does. */
#ifndef STEPD_SAM_H
#define STEPD_SAM_H

#include "json/val.h"

struct sam_opts {
    const char *region;     /* NULL: us-east-1 */
    const char *account;    /* NULL: 123456789012 */
    const char *stack_name; /* NULL: the template directory's name */
    /* "Key=Value" parameter overrides, split at the first '='; a later one
     * wins. Naming no parameter of the template is an error. Borrowed. */
    const char *const *overrides;
    size_t n_overrides;
};

/* Loads the template at path. Returns the plan (a new reference) or NULL
 * with err set: kind VAL_ERR_VALIDATION (or VAL_ERR_IO when the file
 * cannot be read), name "InvalidTemplate", cause a message that starts
 * with "path:line:column: " wherever the problem has a place in the
 * file, and err->where set to "path:line:column". Every validation error
 * has a place (a bad override points at Parameters, or 1:1); a problem
 * inside a DefinitionUri file names that file ("dir/order.asl.json:5:44:
 * ..."). An unreadable template gives "path: cannot open ..." and
 * err->where = path. o may be NULL; err may be NULL. */
json_t *sam_load(const char *path, const struct sam_opts *o, val_err *err);

/* The same from text in memory (path names it in messages and anchors
 * relative CodeUri / DefinitionUri; NULL means "template.yaml" in the
 * current directory). The file need not exist. text need not be
 * NUL-terminated; it is not kept. */
json_t *sam_load_text(const char *text, size_t len, const char *path, const struct sam_opts *o,
                      val_err *err);

#endif
