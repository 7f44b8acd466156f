/* asl — a definition (Amazon States Language, JSONPath mode) becomes a
 * compiled machine. Everything that can be parsed is parsed once here, at
 * load time: paths, payload templates, intrinsic calls, choice rules. The
 * engine only evaluates what this module compiled.
 *
 * Pieces, one file each: path.c (JSONPath and Reference Paths), intrinsic.c
 * (States.* functions), choice.c (Choice rules), timestamp.c (ISO-8601),
 * template.c (payload templates and `.$` expressions), load.c (the
 * validator/compiler), diag.c (InvalidDefinition diagnostics). */
#ifndef STEPD_ASL_H
#define STEPD_ASL_H

#include <stddef.h>
#include <stdint.h>

#include "json/val.h"

/* ------------------------------------------------------------ diagnostics */

/* One problem found in a definition: an AWS code (SCHEMA_VALIDATION_FAILED,
 * MISSING_TRANSITION_TARGET, ...), a message and the JSON-pointer-like path
 * AWS prints ("/States/A/Next"). */
struct asl_diag {
    char *code;
    char *message;
    char *path;
};

typedef struct asl_diags {
    struct asl_diag *v;
    size_t n, cap;
} asl_diags;

/* Adds one problem; message is printf-style. d may be NULL (ignored). */
void asl_diag_add(asl_diags *d, const char *code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void asl_diags_free(asl_diags *d);
/* AWS's whole message: "Invalid State Machine Definition: 'CODE: msg at
 * /path, CODE: msg at /path'". malloc'd. */
char *asl_diags_message(const asl_diags *d);

/* ------------------------------------------------------------ evaluation */

/* What an expression can see. input is `$`, context is `$$` (may be NULL
 * when the state does not use it: see asl_state.uses_context), vars holds
 * the variables visible here (an object, may be NULL). rng is the random
 * state the engine hands out (States.UUID, States.MathRandom without a
 * seed); the callee advances it. All values are borrowed. */
struct asl_env {
    json_t *input;
    json_t *context;
    json_t *vars;
    uint64_t *rng;
};

/* Draws 64 random bits from *rng (splitmix64). */
uint64_t asl_rand(uint64_t *rng);

/* ------------------------------------------------------------------ paths */

/* A compiled JSONPath. Roots: `$` (the input), `$$` (the context object)
 * or `$name` (a variable, with an optional path after it). */
typedef struct asl_path asl_path;

enum asl_path_root { ASL_ROOT_INPUT, ASL_ROOT_CONTEXT, ASL_ROOT_VAR };

enum asl_path_flags {
    ASL_PATH_REFERENCE = 1, /* Reference Path: only .name, ['name'], [index] */
    ASL_PATH_NO_VARS = 2,   /* `$name` roots are not allowed here */
    ASL_PATH_NO_CONTEXT = 4 /* `$$` is not allowed here (ResultPath) */
};

/* Parses text. Returns NULL with err set (kind VALIDATION, cause a readable
 * message) when it is not a valid path for flags. */
asl_path *asl_path_parse(const char *text, int flags, val_err *err);
void asl_path_free(asl_path *p); /* NULL allowed */

const char *asl_path_text(const asl_path *p);   /* as written */
int asl_path_root(const asl_path *p);            /* enum asl_path_root */
const char *asl_path_var(const asl_path *p);     /* variable name for ASL_ROOT_VAR */
int asl_path_is_definite(const asl_path *p);     /* no wildcard, slice, filter, `..` */
int asl_path_is_root(const asl_path *p);         /* exactly "$" */
/* Jayway's normalized form for messages: $['a']['b'][0]. Borrowed. */
const char *asl_path_normalized(const asl_path *p);

/* Evaluates p. A definite path returns the value it names (a new
 * reference) or NULL when it names nothing. An indefinite path returns a
 * new array of the matches, possibly empty. Never sets an error for a
 * missing value: callers word the error for their field. A `$name` root
 * whose variable does not exist returns NULL. */
json_t *asl_path_eval(const asl_path *p, const struct asl_env *env);

/* Jayway's explanation of why the definite path p names nothing in env:
 * the text AWS puts after "Invalid path '<text>' : ", e.g.
 *   "No results for path: $['a']['b']"   the last step is missing
 *   "Missing property in path $['a']"    a key before the last is missing
 * Returns a malloc'd string, or NULL when p names a value or is indefinite
 * (an indefinite path never fails: it yields an array). */
char *asl_path_miss_cause(const asl_path *p, const struct asl_env *env);

/* ResultPath: returns root with value placed at p (a Reference Path rooted
 * at `$`), creating missing objects on the way. Consumes root and value.
 * Objects on the way are changed in place when the caller holds the only
 * reference and copied otherwise (copy the spine, share the rest). "$"
 * returns value. On failure (a step into a non-object, an index out of
 * range) returns NULL with err set (States.ReferencePathConflict, as AWS
 * names it, with AWS's cause) and releases both. */
json_t *asl_path_set(const asl_path *p, json_t *root, json_t *value, val_err *err);

/* ------------------------------------------------------------- intrinsics */

typedef struct asl_intrinsic asl_intrinsic;

/* Whether text looks like an intrinsic call ("States.X(" after spaces). */
int asl_is_intrinsic(const char *text);

/* Parses "States.Format('x {}', $.a)" and nested calls; checks the function
 * name and argument counts that are fixed. NULL with err set on failure. */
asl_intrinsic *asl_intrinsic_parse(const char *text, val_err *err);
void asl_intrinsic_free(asl_intrinsic *f);

/* Whether the call reads `$$` anywhere in its arguments. */
int asl_intrinsic_uses_context(const asl_intrinsic *f);

/* Evaluates; returns a new value, or NULL with err set (kind RUNTIME, name
 * States.IntrinsicFailure or States.Runtime as AWS raises it, cause AWS's
 * text). field names the payload-template key for messages ("x.$"). */
json_t *asl_intrinsic_eval(const asl_intrinsic *f, const struct asl_env *env, const char *field,
                           val_err *err);

/* ---------------------------------------------------------------- choices */

typedef struct asl_choice asl_choice;

/* Compiles one Choice rule (top level or nested). The top-level keys Next,
 * Assign, Comment and Output are the caller's and are ignored here; every
 * other problem is added to d at path (e.g. "/States/C/Choices/0").
 * Returns NULL when the rule cannot be used. */
asl_choice *asl_choice_compile(json_t *rule, int top_level, const char *path, asl_diags *d);
void asl_choice_free(asl_choice *c);
int asl_choice_uses_context(const asl_choice *c);

/* 1 matched, 0 not matched, -1 error (err set, e.g. States.Runtime with
 * AWS's cause when a Variable path is missing). */
int asl_choice_eval(const asl_choice *c, const struct asl_env *env, val_err *err);

/* ------------------------------------------------------------- timestamps */

/* Parses an RFC 3339 / ISO-8601 timestamp with 'T' and a zone ('Z' or
 * +hh:mm); fractional seconds of any length. Returns 0 and nanoseconds
 * since the epoch in *ns, or -1. */
int asl_timestamp_parse(const char *s, int64_t *ns);

/* Formats ns since the epoch as "2024-01-02T03:04:05.678Z" (millis). */
void asl_timestamp_format(int64_t ns, char *buf, size_t cap);

/* ---------------------------------------------------- templates and exprs */

/* A `.$` value: a path (`$`, `$$`, `$var`) or an intrinsic call. */
typedef struct asl_expr asl_expr;

/* Compiles the text of a `.$` value (or of ErrorPath/CausePath, which take
 * the same forms). NULL with a diag at path on failure. */
asl_expr *asl_expr_compile(const char *text, const char *path, asl_diags *d);
void asl_expr_free(asl_expr *e);
int asl_expr_uses_context(const asl_expr *e);
/* Evaluates; field is the key for messages ("x.$", "ErrorPath"). Returns a
 * new value, or NULL with err set (States.Runtime with AWS's "The JSONPath
 * '…' specified for the field '…' could not be found in the input '…'"). */
json_t *asl_expr_eval(const asl_expr *e, const struct asl_env *env, const char *field, val_err *err);

/* A payload template (Parameters, ResultSelector, ItemSelector, Assign):
 * literal parts are kept as shared JSON, `.$` keys compiled. */
typedef struct asl_template asl_template;

asl_template *asl_template_compile(json_t *tmpl, const char *path, asl_diags *d);
void asl_template_free(asl_template *t);
int asl_template_uses_context(const asl_template *t);
/* Builds the value (a new reference) or NULL with err set. */
json_t *asl_template_eval(const asl_template *t, const struct asl_env *env, val_err *err);

/* ---------------------------------------------------------------- machine */

#define ASL_STATE_TYPES(X)                                                                          \
    X(TASK, "Task")                                                                                \
    X(PASS, "Pass")                                                                                \
    X(CHOICE, "Choice")                                                                            \
    X(WAIT, "Wait")                                                                                \
    X(SUCCEED, "Succeed")                                                                          \
    X(FAIL, "Fail")                                                                                \
    X(PARALLEL, "Parallel")                                                                        \
    X(MAP, "Map")

enum asl_state_type {
#define X(id, name) ASL_##id,
    ASL_STATE_TYPES(X)
#undef X
        ASL_STATE_TYPE_COUNT
};

const char *asl_state_type_name(int type);

/* An integer field that is either a literal or a Reference Path read at
 * run time (TimeoutSeconds / TimeoutSecondsPath, ...). set is 0 when the
 * definition has neither. */
struct asl_intfield {
    int set;
    double value; /* literal (may be fractional for percentages) */
    asl_path *path;
};

struct asl_errlist {
    char **names;
    size_t n;
    int all;         /* contains States.ALL */
};

struct asl_retrier {
    struct asl_errlist errors;
    double interval_seconds;  /* default 1 */
    long max_attempts;        /* default 3 */
    double backoff_rate;      /* default 2.0 */
    double max_delay_seconds; /* 0 = none */
    int jitter_full;          /* JitterStrategy FULL */
};

struct asl_catcher {
    struct asl_errlist errors;
    int next;                /* state index */
    asl_path *result_path;   /* NULL with result_path_null=0 means "$" */
    int result_path_null;
    asl_template *assign;
};

struct asl_choice_branch {
    asl_choice *cond;
    int next;
    asl_template *assign;
};

struct asl_machine;

struct asl_state {
    char *name;
    int type;           /* enum asl_state_type */
    int next;           /* index of Next, or -1 */
    int end;            /* End: true (or terminal type) */
    int uses_context;   /* some field reads `$$`: build the context object */

    asl_path *input_path;    /* NULL: "$" unless input_path_null */
    int input_path_null;
    asl_path *output_path;
    int output_path_null;
    asl_path *result_path;   /* NULL: "$" unless result_path_null */
    int result_path_null;
    asl_template *parameters;      /* Parameters (or Map's ItemSelector) */
    asl_template *result_selector;
    asl_template *assign;
    json_t *result;                /* Pass Result, literal */

    struct asl_retrier *retry;
    size_t n_retry;
    struct asl_catcher *catch_;
    size_t n_catch;

    /* Task */
    char *resource;
    struct asl_intfield timeout_seconds;
    struct asl_intfield heartbeat_seconds;

    /* Choice */
    struct asl_choice_branch *choices;
    size_t n_choices;
    int default_next; /* -1 when absent */

    /* Wait: exactly one of these */
    struct asl_intfield wait_seconds;
    char *wait_timestamp;       /* literal, validated */
    asl_path *wait_timestamp_path;

    /* Fail */
    char *error, *cause;
    asl_expr *error_path, *cause_path;

    /* Parallel */
    struct asl_machine **branches;
    size_t n_branches;

    /* Map */
    struct asl_machine *processor;
    asl_path *items_path;           /* NULL: "$" */
    json_t *items;                  /* literal Items array (JSONata-era field), or NULL */
    struct asl_intfield max_concurrency;
    struct asl_intfield tolerated_failure_count;
    struct asl_intfield tolerated_failure_percentage;
    int distributed;                /* ProcessorConfig.Mode DISTRIBUTED */
    char *label;
    json_t *item_reader, *item_batcher, *result_writer; /* accepted, kept as is */
};

struct asl_machine {
    struct asl_state *states;
    size_t n_states;
    int start;
    long timeout_seconds;   /* 0 = none */
    json_t *definition;     /* the parsed document (owned) */
    struct asl_machine *parent; /* enclosing machine for branches/processors */
};

/* Parses and validates a definition, collecting every problem AWS would
 * report. Returns the machine, or NULL with every problem in d (and the
 * malformed-JSON case as INVALID_JSON_DESCRIPTION). */
struct asl_machine *asl_load(const char *text, size_t len, asl_diags *d);
/* Same from an already parsed value (borrowed). */
struct asl_machine *asl_load_json(json_t *def, asl_diags *d);
void asl_machine_free(struct asl_machine *m);

/* Index of the state called name in m, or -1. */
int asl_state_index(const struct asl_machine *m, const char *name);

/* Whether an error name is matched by an ErrorEquals list, with AWS's
 * rules: States.Runtime is never matched (not even by its own name);
 * States.ALL matches everything else, States.DataLimitExceeded of a task
 * result included; States.TaskFailed matches everything but States.Timeout,
 * States.Runtime and States.DataLimitExceeded. */
int asl_errlist_match(const struct asl_errlist *l, const char *error);

#endif
