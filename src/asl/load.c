/* load — the validator/compiler: a definition (JSONPath mode) becomes a
 * struct asl_machine, or a list of every problem AWS's CreateStateMachine
 * would report, each with AWS's code, wording and location. Three passes per
 * machine: name the states, compile each state's fields, then check the
 * transition graph (missing targets, terminal state, reachability). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"

#define SVF "SCHEMA_VALIDATION_FAILED"
#define MTT "MISSING_TRANSITION_TARGET"

/* Nested machines (Parallel branches, Map processors) deeper than this are
 * refused: the loader and the engine recurse per level, and no real
 * workflow comes close. */
#define ASL_MAX_NESTING 100
#define ASL_MAX_STATE_NAME 80 /* characters, AWS's limit */
#define ASL_MAX_LABEL 40
#define ASL_MAX_SECONDS 99999999LL

/* ------------------------------------------------------------ small maps */

/* Open-addressing map from a borrowed string to an int: state names are
 * looked up once per transition, so large machines must not go quadratic. */
struct strmap {
    const char **keys;
    int *vals;
    size_t cap, n;
};

static size_t str_hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int map_get(const struct strmap *m, const char *k)
{
    if (!m->cap)
        return -1;
    for (size_t i = str_hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return -1;
        if (strcmp(m->keys[i], k) == 0)
            return m->vals[i];
    }
}

/* Inserts k -> v unless k is there; returns the existing value or -1. */
static int map_put(struct strmap *m, const char *k, int v)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        const char **keys = calloc(cap, sizeof *keys);
        int *vals = calloc(cap, sizeof *vals);
        if (!keys || !vals)
            abort(); /* out of memory: nothing sensible to do */
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = str_hash(m->keys[i]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t i = str_hash(k) & (m->cap - 1);
    for (; m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (strcmp(m->keys[i], k) == 0)
            return m->vals[i];
    m->keys[i] = k;
    m->vals[i] = v;
    m->n++;
    return -1;
}

static void map_free(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- loader */

struct ld {
    asl_diags *d;
    int depth;           /* nested machines above the one being loaded */
    struct strmap names; /* every state name in the document: unique overall */
    struct strmap labels;
};

static char *cat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cat(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

static const char *jtype_name(json_type t)
{
    switch (t) {
    case JSON_STRING: return "STRING";
    case JSON_INTEGER: return "INTEGER";
    case JSON_REAL: return "NUMBER";
    case JSON_TRUE:
    case JSON_FALSE: return "BOOLEAN";
    case JSON_OBJECT: return "OBJECT";
    case JSON_ARRAY: return "ARRAY";
    default: return "NULL";
    }
}

/* Whether v has type t (booleans either way); adds AWS's type message at
 * path when it has not. */
static int want(struct ld *L, json_t *v, json_type t, const char *path)
{
    int ok;
    if (t == JSON_TRUE || t == JSON_FALSE)
        ok = json_is_boolean(v);
    else if (t == JSON_REAL)
        ok = json_is_number(v);
    else
        ok = json_typeof(v) == t;
    if (!ok)
        asl_diag_add(L->d, SVF, path, "Expected value of type [%s]", jtype_name(t));
    return ok;
}

/* Adds "Field 'X' is not supported" for every key of o not in allowed
 * (NULL-terminated). AWS places it at the object, not at the key. */
static void only_fields(struct ld *L, json_t *o, const char *const *allowed, const char *path)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok)
            asl_diag_add(L->d, SVF, path, "Field '%s' is not supported", k);
    }
}

static void required(struct ld *L, const char *what, const char *path)
{
    asl_diag_add(L->d, SVF, path, "These fields are required: [%s]", what);
}

static void only_one(struct ld *L, const char *a, const char *b, const char *path)
{
    asl_diag_add(L->d, SVF, path, "There should only be one of the following fields: [%s, %s]", a, b);
}

/* Reads an integer field into *out: an integral number within [min, max].
 * 1.5, strings and out-of-range values get AWS's messages. */
static int get_int(struct ld *L, json_t *v, const char *path, long long min, long long max,
                   double *out)
{
    if (!json_is_number(v)) {
        want(L, v, JSON_INTEGER, path);
        return -1;
    }
    double x = json_number_value(v);
    if (json_is_real(v) && (x != x || x - (double)(long long)x != 0.0 || x > 9.2e18 || x < -9.2e18)) {
        /* a fractional or huge real: not an integer AWS would take */
        if (x == x && x < (double)min) {
            asl_diag_add(L->d, SVF, path, "Minimum value is %lld", min);
            return -1;
        }
        if (x == x && x > (double)max) {
            asl_diag_add(L->d, SVF, path, "Maximum value is %lld", max);
            return -1;
        }
        asl_diag_add(L->d, SVF, path, "Expected value of type [INTEGER]");
        return -1;
    }
    long long n = json_is_integer(v) ? json_integer_value(v) : (long long)x;
    if (n < min) {
        asl_diag_add(L->d, SVF, path, "Minimum value is %lld", min);
        return -1;
    }
    if (n > max) {
        asl_diag_add(L->d, SVF, path, "Maximum value is %lld", max);
        return -1;
    }
    *out = (double)n;
    return 0;
}

/* Compiles a path field. null is allowed when null_ok (sets *is_null).
 * Reference Paths that do not parse get AWS's "Value is not a Reference
 * Path"; general paths name the parser's complaint. */
static asl_path *get_path(struct ld *L, json_t *v, const char *path, int flags, int null_ok,
                          int *is_null)
{
    if (json_is_null(v) && null_ok) {
        if (is_null)
            *is_null = 1;
        return NULL;
    }
    if (!want(L, v, JSON_STRING, path))
        return NULL;
    val_err err = {0};
    asl_path *p = asl_path_parse(json_string_value(v), flags, &err);
    if (!p) {
        if (flags & ASL_PATH_REFERENCE)
            asl_diag_add(L->d, SVF, path, "Value is not a Reference Path%s%s",
                         err.cause ? ": " : "", err.cause ? err.cause : "");
        else
            asl_diag_add(L->d, SVF, path, "Value is not a valid JSONPath%s%s",
                         err.cause ? ": " : "", err.cause ? err.cause : "");
    }
    val_err_clear(&err);
    return p;
}

static int path_ctx(const asl_path *p) { return p && asl_path_root(p) == ASL_ROOT_CONTEXT; }

/* A template field (Parameters, ResultSelector, ItemSelector, Assign...). */
static asl_template *get_template(struct ld *L, json_t *v, const char *path, int *uses_ctx)
{
    asl_template *t = asl_template_compile(v, path, L->d);
    if (t && asl_template_uses_context(t))
        *uses_ctx = 1;
    return t;
}

/* Validates a template nobody keeps (ItemReader Parameters, BatchInput):
 * a bad `.$` there is still a bad definition. */
static void check_template(struct ld *L, json_t *v, const char *path)
{
    int dummy = 0;
    asl_template_free(get_template(L, v, path, &dummy));
}

/* Counts UTF-8 code points (jansson has already checked the encoding). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---------------------------------------------------------- field tables */

#define B(id) (1u << ASL_##id)
#define ALL_T ((1u << ASL_STATE_TYPE_COUNT) - 1)
#define FLOW_T (ALL_T & ~(B(CHOICE) | B(SUCCEED) | B(FAIL)))
#define WORK_T (B(TASK) | B(PARALLEL) | B(MAP))

/* Which state types take which fields in JSONPath mode (FEATURES.md 2-3). */
static const struct {
    const char *name;
    unsigned types;
} state_fields[] = {
    {"Type", ALL_T},
    {"Comment", ALL_T},
    {"QueryLanguage", ALL_T},
    {"Next", FLOW_T},
    {"End", FLOW_T},
    {"InputPath", ALL_T & ~B(FAIL)},
    {"OutputPath", ALL_T & ~B(FAIL)},
    {"Parameters", WORK_T | B(PASS)},
    {"ResultSelector", WORK_T},
    {"ResultPath", WORK_T | B(PASS)},
    {"Result", B(PASS)},
    {"Retry", WORK_T},
    {"Catch", WORK_T},
    {"Assign", ALL_T & ~(B(SUCCEED) | B(FAIL))},
    {"Resource", B(TASK)},
    {"TimeoutSeconds", B(TASK)},
    {"TimeoutSecondsPath", B(TASK)},
    {"HeartbeatSeconds", B(TASK)},
    {"HeartbeatSecondsPath", B(TASK)},
    {"Credentials", B(TASK)},
    {"Choices", B(CHOICE)},
    {"Default", B(CHOICE)},
    {"Seconds", B(WAIT)},
    {"Timestamp", B(WAIT)},
    {"SecondsPath", B(WAIT)},
    {"TimestampPath", B(WAIT)},
    {"Error", B(FAIL)},
    {"ErrorPath", B(FAIL)},
    {"Cause", B(FAIL)},
    {"CausePath", B(FAIL)},
    {"Branches", B(PARALLEL)},
    {"ItemProcessor", B(MAP)},
    {"Iterator", B(MAP)},
    {"ItemsPath", B(MAP)},
    {"ItemSelector", B(MAP)},
    {"MaxConcurrency", B(MAP)},
    {"MaxConcurrencyPath", B(MAP)},
    {"ToleratedFailureCount", B(MAP)},
    {"ToleratedFailureCountPath", B(MAP)},
    {"ToleratedFailurePercentage", B(MAP)},
    {"ToleratedFailurePercentagePath", B(MAP)},
    {"Label", B(MAP)},
    {"ItemReader", B(MAP)},
    {"ItemBatcher", B(MAP)},
    {"ResultWriter", B(MAP)},
};

/* Fields only JSONata states take; AWS words their presence differently. */
static const char *const jsonata_only[] = {"Output", "Arguments", "Items", NULL};

static int field_allowed(const char *k, int type)
{
    if (type < 0 || type >= ASL_STATE_TYPE_COUNT)
        return 0;
    for (size_t i = 0; i < sizeof state_fields / sizeof *state_fields; i++)
        if (strcmp(state_fields[i].name, k) == 0)
            return (state_fields[i].types >> type) & 1u;
    return 0;
}

static int is_jsonata_only(const char *k)
{
    for (const char *const *a = jsonata_only; *a; a++)
        if (strcmp(*a, k) == 0)
            return 1;
    return 0;
}

static int type_from_name(const char *s)
{
#define X(id, name)                                                                                \
    if (strcmp(s, name) == 0)                                                                      \
        return ASL_##id;
    ASL_STATE_TYPES(X)
#undef X
    return -1;
}

const char *asl_state_type_name(int type)
{
    switch (type) {
#define X(id, name)                                                                                \
    case ASL_##id: return name;
        ASL_STATE_TYPES(X)
#undef X
    default: return "Unknown";
    }
}

/* -------------------------------------------------------- retry / catch */

static const char *const retry_fields[] = {"ErrorEquals", "IntervalSeconds", "MaxAttempts",
                                           "BackoffRate", "MaxDelaySeconds", "JitterStrategy",
                                           "Comment", NULL};
static const char *const catch_fields[] = {"ErrorEquals", "Next", "ResultPath", "Assign", "Comment",
                                           NULL};

/* ErrorEquals: a non-empty array of strings; States.ALL alone, and only in
 * the last retrier or catcher (last says whether this one is last). */
static void get_errlist(struct ld *L, json_t *e, const char *epath, int last,
                        struct asl_errlist *out)
{
    json_t *ee = json_object_get(e, "ErrorEquals");
    if (!ee) {
        required(L, "ErrorEquals", epath);
        return;
    }
    char *p = cat("%s/ErrorEquals", epath);
    if (!want(L, ee, JSON_ARRAY, p)) {
        free(p);
        return;
    }
    size_t n = json_array_size(ee);
    if (n == 0)
        asl_diag_add(L->d, SVF, p, "Value cannot be empty");
    out->names = calloc(n ? n : 1, sizeof *out->names);
    int bad_all = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(ee, i);
        if (!json_is_string(x)) {
            char *xp = cat("%s[%zu]", p, i);
            want(L, x, JSON_STRING, xp);
            free(xp);
            continue;
        }
        const char *name = json_string_value(x);
        out->names[out->n++] = strdup(name);
        if (strcmp(name, "States.ALL") == 0) {
            out->all = 1;
            if (n > 1 || !last)
                bad_all = 1;
        }
    }
    if (bad_all)
        asl_diag_add(L->d, SVF, p, "States.ALL must appear alone and at end of list");
    free(p);
}

static void errlist_free(struct asl_errlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

static void get_retry(struct ld *L, struct asl_state *s, json_t *arr, const char *spath)
{
    char *ap = cat("%s/Retry", spath);
    if (!want(L, arr, JSON_ARRAY, ap)) {
        free(ap);
        return;
    }
    size_t n = json_array_size(arr);
    s->retry = calloc(n ? n : 1, sizeof *s->retry);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        char *ep = cat("%s[%zu]", ap, i);
        struct asl_retrier *r = &s->retry[s->n_retry++];
        r->interval_seconds = 1;
        r->max_attempts = 3;
        r->backoff_rate = 2.0;
        if (!want(L, e, JSON_OBJECT, ep)) {
            free(ep);
            continue;
        }
        only_fields(L, e, retry_fields, ep);
        get_errlist(L, e, ep, i + 1 == n, &r->errors);
        json_t *v;
        double x;
        char *fp;
        if ((v = json_object_get(e, "IntervalSeconds"))) {
            fp = cat("%s/IntervalSeconds", ep);
            if (get_int(L, v, fp, 0, ASL_MAX_SECONDS, &x) == 0)
                r->interval_seconds = x;
            free(fp);
        }
        if ((v = json_object_get(e, "MaxAttempts"))) {
            fp = cat("%s/MaxAttempts", ep);
            if (get_int(L, v, fp, 0, ASL_MAX_SECONDS, &x) == 0)
                r->max_attempts = (long)x;
            free(fp);
        }
        if ((v = json_object_get(e, "BackoffRate"))) {
            fp = cat("%s/BackoffRate", ep);
            if (want(L, v, JSON_REAL, fp)) {
                if (json_number_value(v) < 1.0)
                    asl_diag_add(L->d, SVF, fp, "Minimum value is 1.0");
                else
                    r->backoff_rate = json_number_value(v);
            }
            free(fp);
        }
        if ((v = json_object_get(e, "MaxDelaySeconds"))) {
            fp = cat("%s/MaxDelaySeconds", ep);
            if (get_int(L, v, fp, 1, 31622400, &x) == 0)
                r->max_delay_seconds = x;
            free(fp);
        }
        if ((v = json_object_get(e, "JitterStrategy"))) {
            fp = cat("%s/JitterStrategy", ep);
            if (want(L, v, JSON_STRING, fp)) {
                const char *j = json_string_value(v);
                if (strcmp(j, "FULL") == 0)
                    r->jitter_full = 1;
                else if (strcmp(j, "NONE") != 0)
                    asl_diag_add(L->d, SVF, fp, "Value should be one of the following: [NONE, FULL]");
            }
            free(fp);
        }
        free(ep);
    }
    free(ap);
}

static void get_catch(struct ld *L, struct asl_state *s, json_t *arr, const char *spath,
                      const struct strmap *local)
{
    char *ap = cat("%s/Catch", spath);
    if (!want(L, arr, JSON_ARRAY, ap)) {
        free(ap);
        return;
    }
    size_t n = json_array_size(arr);
    s->catch_ = calloc(n ? n : 1, sizeof *s->catch_);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        char *ep = cat("%s[%zu]", ap, i);
        struct asl_catcher *c = &s->catch_[s->n_catch++];
        c->next = -1;
        if (!want(L, e, JSON_OBJECT, ep)) {
            free(ep);
            continue;
        }
        const char *k;
        json_t *v;
        json_object_foreach(e, k, v)
        {
            int ok = 0;
            for (const char *const *a = catch_fields; *a && !ok; a++)
                ok = strcmp(*a, k) == 0;
            if (ok)
                continue;
            if (strcmp(k, "Output") == 0)
                asl_diag_add(L->d, SVF, ep,
                             "The QueryLanguage is set to 'JSONPath', but field '%s' is only "
                             "supported for the 'JSONata' QueryLanguage", k);
            else
                asl_diag_add(L->d, SVF, ep, "Field '%s' is not supported", k);
        }
        get_errlist(L, e, ep, i + 1 == n, &c->errors);
        char *fp;
        if (!(v = json_object_get(e, "Next"))) {
            required(L, "Next", ep);
        } else {
            fp = cat("%s/Next", ep);
            if (want(L, v, JSON_STRING, fp))
                c->next = map_get(local, json_string_value(v)); /* missing: graph pass */
            free(fp);
        }
        if ((v = json_object_get(e, "ResultPath"))) {
            fp = cat("%s/ResultPath", ep);
            c->result_path =
                get_path(L, v, fp, ASL_PATH_REFERENCE | ASL_PATH_NO_VARS | ASL_PATH_NO_CONTEXT, 1,
                         &c->result_path_null);
            free(fp);
        }
        if ((v = json_object_get(e, "Assign"))) {
            fp = cat("%s/Assign", ep);
            if (want(L, v, JSON_OBJECT, fp))
                c->assign = get_template(L, v, fp, &s->uses_context);
            free(fp);
        }
        free(ep);
    }
    free(ap);
}

/* ------------------------------------------------------------- states */

enum { M_TOP, M_BRANCH, M_PROCESSOR };
static struct asl_machine *load_machine(struct ld *L, json_t *mj, const char *prefix, int kind,
                                        struct asl_machine *parent);

/* A literal/Path pair (TimeoutSeconds / TimeoutSecondsPath, ...). is_real
 * takes any number (percentages); path_flags are the Path form's. */
static void get_intfield(struct ld *L, json_t *sj, const char *spath, const char *lit,
                         long long min, long long max, int is_real, int path_flags,
                         struct asl_intfield *out, int *uses_ctx)
{
    char pname[64];
    snprintf(pname, sizeof pname, "%sPath", lit);
    json_t *v = json_object_get(sj, lit);
    json_t *pv = json_object_get(sj, pname);
    char *fp = cat("%s/%s", spath, lit);
    if (v && pv) {
        only_one(L, lit, pname, fp);
    } else if (v) {
        if (is_real) {
            if (want(L, v, JSON_REAL, fp)) {
                double x = json_number_value(v);
                if (x < (double)min)
                    asl_diag_add(L->d, SVF, fp, "Minimum value is %lld.0", min);
                else if (x > (double)max)
                    asl_diag_add(L->d, SVF, fp, "Maximum value is %lld.0", max);
                else {
                    out->set = 1;
                    out->value = x;
                }
            }
        } else if (get_int(L, v, fp, min, max, &out->value) == 0) {
            out->set = 1;
        }
    } else if (pv) {
        char *pp = cat("%s/%s", spath, pname);
        out->path = get_path(L, pv, pp, path_flags, 0, NULL);
        if (out->path) {
            out->set = 1;
            if (path_ctx(out->path))
                *uses_ctx = 1;
        }
        free(pp);
    }
    free(fp);
}

/* A transition field of a state (Next, Default): the index is looked up
 * here; a name that matches nothing is reported by the graph pass. */
static int get_target(struct ld *L, json_t *v, const char *path, const struct strmap *local)
{
    if (!want(L, v, JSON_STRING, path))
        return -1;
    return map_get(local, json_string_value(v));
}

static void compile_task(struct ld *L, struct asl_state *s, json_t *sj, const char *spath)
{
    json_t *v = json_object_get(sj, "Resource");
    char *fp = cat("%s/Resource", spath);
    if (!v)
        required(L, "Resource", spath);
    else if (want(L, v, JSON_STRING, fp)) {
        if (strncmp(json_string_value(v), "arn:", 4) != 0)
            asl_diag_add(L->d, SVF, fp, "Value is not a valid resource ARN");
        else
            s->resource = strdup(json_string_value(v));
    }
    free(fp);

    get_intfield(L, sj, spath, "TimeoutSeconds", 1, ASL_MAX_SECONDS, 0, ASL_PATH_REFERENCE,
                 &s->timeout_seconds, &s->uses_context);
    get_intfield(L, sj, spath, "HeartbeatSeconds", 1, ASL_MAX_SECONDS, 0, ASL_PATH_REFERENCE,
                 &s->heartbeat_seconds, &s->uses_context);
    if (s->timeout_seconds.set && !s->timeout_seconds.path && s->heartbeat_seconds.set &&
        !s->heartbeat_seconds.path && s->heartbeat_seconds.value >= s->timeout_seconds.value) {
        fp = cat("%s/HeartbeatSeconds", spath);
        asl_diag_add(L->d, SVF, fp, "HeartbeatSeconds must be smaller than TimeoutSeconds");
        free(fp);
    }

    if ((v = json_object_get(sj, "Credentials"))) {
        fp = cat("%s/Credentials", spath);
        if (want(L, v, JSON_OBJECT, fp)) {
            static const char *const cred_fields[] = {"RoleArn", "RoleArn.$", NULL};
            only_fields(L, v, cred_fields, fp);
            json_t *r = json_object_get(v, "RoleArn");
            json_t *rp = json_object_get(v, "RoleArn.$");
            if (!r && !rp)
                asl_diag_add(L->d, SVF, fp, "The field 'RoleArn' is required but was missing");
            else if (r && rp)
                only_one(L, "RoleArn", "RoleArn.$", fp);
            else if (r) {
                char *rpath = cat("%s/RoleArn", fp);
                want(L, r, JSON_STRING, rpath);
                free(rpath);
            } else {
                check_template(L, v, fp);
            }
        }
        free(fp);
    }
}

static void compile_choice(struct ld *L, struct asl_state *s, json_t *sj, const char *spath,
                           const struct strmap *local)
{
    json_t *v = json_object_get(sj, "Choices");
    char *cp = cat("%s/Choices", spath);
    if (!v) {
        required(L, "Choices", spath);
    } else if (want(L, v, JSON_ARRAY, cp)) {
        size_t n = json_array_size(v);
        if (n == 0)
            asl_diag_add(L->d, SVF, cp, "Value cannot be empty");
        s->choices = calloc(n ? n : 1, sizeof *s->choices);
        for (size_t i = 0; i < n; i++) {
            json_t *rule = json_array_get(v, i);
            char *rp = cat("%s[%zu]", cp, i);
            struct asl_choice_branch *b = &s->choices[s->n_choices++];
            b->next = -1;
            if (!want(L, rule, JSON_OBJECT, rp)) {
                free(rp);
                continue;
            }
            json_t *x;
            char *fp;
            if (!(x = json_object_get(rule, "Next"))) {
                required(L, "Next", rp);
            } else {
                fp = cat("%s/Next", rp);
                b->next = get_target(L, x, fp, local);
                free(fp);
            }
            if ((x = json_object_get(rule, "Assign"))) {
                fp = cat("%s/Assign", rp);
                if (want(L, x, JSON_OBJECT, fp))
                    b->assign = get_template(L, x, fp, &s->uses_context);
                free(fp);
            }
            if (json_object_get(rule, "Output"))
                asl_diag_add(L->d, SVF, rp,
                             "The QueryLanguage is set to 'JSONPath', but field 'Output' is only "
                             "supported for the 'JSONata' QueryLanguage");
            b->cond = asl_choice_compile(rule, 1, rp, L->d);
            if (b->cond && asl_choice_uses_context(b->cond))
                s->uses_context = 1;
            free(rp);
        }
    }
    free(cp);
    if ((v = json_object_get(sj, "Default"))) {
        char *fp = cat("%s/Default", spath);
        s->default_next = get_target(L, v, fp, local);
        free(fp);
    }
}

static void compile_wait(struct ld *L, struct asl_state *s, json_t *sj, const char *spath)
{
    static const char *const names[] = {"Seconds", "Timestamp", "SecondsPath", "TimestampPath"};
    int count = 0;
    for (int i = 0; i < 4; i++)
        count += json_object_get(sj, names[i]) != NULL;
    if (count == 0) {
        asl_diag_add(L->d, SVF, spath,
                     "This object should have only one of the following fields: [SecondsPath, "
                     "Seconds, TimestampPath, Timestamp]");
        return;
    }
    if (count > 1) {
        asl_diag_add(L->d, SVF, spath,
                     "There should only be one of the following fields: [SecondsPath, Seconds, "
                     "TimestampPath, Timestamp]");
        return;
    }
    json_t *v;
    char *fp;
    if ((v = json_object_get(sj, "Seconds")) || json_object_get(sj, "SecondsPath")) {
        get_intfield(L, sj, spath, "Seconds", 0, ASL_MAX_SECONDS, 0, ASL_PATH_REFERENCE,
                     &s->wait_seconds, &s->uses_context);
    } else if ((v = json_object_get(sj, "Timestamp"))) {
        fp = cat("%s/Timestamp", spath);
        if (want(L, v, JSON_STRING, fp)) {
            int64_t ns;
            if (asl_timestamp_parse(json_string_value(v), &ns) < 0)
                asl_diag_add(L->d, SVF, fp, "Value is not a valid timestamp: '%s'",
                             json_string_value(v));
            else
                s->wait_timestamp = strdup(json_string_value(v));
        }
        free(fp);
    } else if ((v = json_object_get(sj, "TimestampPath"))) {
        fp = cat("%s/TimestampPath", spath);
        s->wait_timestamp_path = get_path(L, v, fp, ASL_PATH_REFERENCE, 0, NULL);
        if (path_ctx(s->wait_timestamp_path))
            s->uses_context = 1;
        free(fp);
    }
}

/* Fail: Error/ErrorPath and Cause/CausePath, each pair exclusive. */
static void fail_pair(struct ld *L, struct asl_state *s, json_t *sj, const char *spath,
                      const char *lit, char **out, asl_expr **out_expr)
{
    char pname[32];
    snprintf(pname, sizeof pname, "%sPath", lit);
    json_t *v = json_object_get(sj, lit);
    json_t *pv = json_object_get(sj, pname);
    char *fp = cat("%s/%s", spath, v ? lit : pname);
    if (v && pv)
        only_one(L, lit, pname, fp);
    else if (v && want(L, v, JSON_STRING, fp))
        *out = strdup(json_string_value(v));
    else if (pv && want(L, pv, JSON_STRING, fp)) {
        *out_expr = asl_expr_compile(json_string_value(pv), fp, L->d);
        if (*out_expr && asl_expr_uses_context(*out_expr))
            s->uses_context = 1;
    }
    free(fp);
}

/* A Map or Parallel's nested machine; NULL when it is unusable. */
static struct asl_machine *nested(struct ld *L, json_t *mj, const char *mpath, int kind,
                                  struct asl_machine *parent)
{
    if (!want(L, mj, JSON_OBJECT, mpath))
        return NULL;
    return load_machine(L, mj, mpath, kind, parent);
}

static void compile_parallel(struct ld *L, struct asl_state *s, json_t *sj, const char *spath,
                             struct asl_machine *m)
{
    json_t *v = json_object_get(sj, "Branches");
    char *bp = cat("%s/Branches", spath);
    if (!v)
        required(L, "Branches", spath);
    else if (want(L, v, JSON_ARRAY, bp)) {
        size_t n = json_array_size(v);
        if (n == 0)
            asl_diag_add(L->d, SVF, bp, "Value cannot be empty");
        s->branches = calloc(n ? n : 1, sizeof *s->branches);
        for (size_t i = 0; i < n; i++) {
            char *mp = cat("%s[%zu]", bp, i);
            s->branches[s->n_branches++] = nested(L, json_array_get(v, i), mp, M_BRANCH, m);
            free(mp);
        }
    }
    free(bp);
}

/* Label: at most 40 characters, none of the characters AWS keeps out of
 * execution names (the label becomes part of child execution names). */
static void check_label(struct ld *L, struct asl_state *s, json_t *v, const char *fp)
{
    if (!want(L, v, JSON_STRING, fp))
        return;
    const char *lab = json_string_value(v);
    if (utf8_len(lab) > ASL_MAX_LABEL || !*lab) {
        asl_diag_add(L->d, "INVALID_LABEL_NAME", fp,
                     "A Label must be between 1 and %d characters long", ASL_MAX_LABEL);
        return;
    }
    for (const unsigned char *c = (const unsigned char *)lab; *c; c++) {
        if (*c <= 0x20 || *c == 0x7f || strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *c)) {
            asl_diag_add(L->d, "INVALID_LABEL_NAME", fp,
                         "A Label must not contain whitespace, brackets, wildcards, control "
                         "characters or any of \" # %% \\ ^ | ~ ` $ & , ; : /");
            return;
        }
    }
    if (map_put(&L->labels, lab, 0) >= 0) {
        asl_diag_add(L->d, "DUPLICATE_LABEL_NAME", fp, "Label '%s' is used more than once", lab);
        return;
    }
    s->label = strdup(lab);
}

static int is_enum(struct ld *L, json_t *v, const char *fp, const char *const *vals,
                   const char *listed)
{
    if (!want(L, v, JSON_STRING, fp))
        return -1;
    for (int i = 0; vals[i]; i++)
        if (strcmp(vals[i], json_string_value(v)) == 0)
            return i;
    asl_diag_add(L->d, SVF, fp, "Value should be one of the following: [%s]", listed);
    return -1;
}

/* An s3 integration ARN in any partition ("arn:aws:states:::s3:getObject"). */
static int s3_resource(const char *r, const char *op)
{
    if (strncmp(r, "arn:", 4) != 0)
        return 0;
    const char *tail = strstr(r, ":states:::s3:");
    return tail && strcmp(tail + strlen(":states:::s3:"), op) == 0;
}

static void check_item_reader(struct ld *L, json_t *v, const char *fp)
{
    static const char *const fields[] = {"Resource", "Parameters", "ReaderConfig", NULL};
    static const char *const cfg_fields[] = {"InputType",  "CSVHeaderLocation", "CSVHeaders",
                                             "CSVDelimiter", "MaxItems",        "MaxItemsPath",
                                             "ManifestType", NULL};
    static const char *const input_types[] = {"CSV", "JSON", "JSONL", "MANIFEST", "PARQUET", NULL};
    static const char *const header_locs[] = {"FIRST_ROW", "GIVEN", NULL};
    if (!want(L, v, JSON_OBJECT, fp))
        return;
    only_fields(L, v, fields, fp);
    json_t *x = json_object_get(v, "Resource");
    char *p = cat("%s/Resource", fp);
    if (!x)
        required(L, "Resource", fp);
    else if (want(L, x, JSON_STRING, p) && !s3_resource(json_string_value(x), "getObject") &&
             !s3_resource(json_string_value(x), "listObjectsV2"))
        asl_diag_add(L->d, SVF, p,
                     "Value is not a supported ItemReader resource: use "
                     "arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2");
    free(p);
    if ((x = json_object_get(v, "Parameters"))) {
        p = cat("%s/Parameters", fp);
        if (want(L, x, JSON_OBJECT, p))
            check_template(L, x, p);
        free(p);
    }
    json_t *cfg = json_object_get(v, "ReaderConfig");
    if (!cfg)
        return;
    char *cp = cat("%s/ReaderConfig", fp);
    if (want(L, cfg, JSON_OBJECT, cp)) {
        only_fields(L, cfg, cfg_fields, cp);
        if ((x = json_object_get(cfg, "InputType"))) {
            p = cat("%s/InputType", cp);
            is_enum(L, x, p, input_types, "CSV, JSON, JSONL, MANIFEST, PARQUET");
            free(p);
        }
        if ((x = json_object_get(cfg, "CSVHeaderLocation"))) {
            p = cat("%s/CSVHeaderLocation", cp);
            is_enum(L, x, p, header_locs, "FIRST_ROW, GIVEN");
            free(p);
        }
        if ((x = json_object_get(cfg, "CSVHeaders"))) {
            p = cat("%s/CSVHeaders", cp);
            if (want(L, x, JSON_ARRAY, p))
                for (size_t i = 0; i < json_array_size(x); i++)
                    if (!json_is_string(json_array_get(x, i))) {
                        char *ip = cat("%s[%zu]", p, i);
                        want(L, json_array_get(x, i), JSON_STRING, ip);
                        free(ip);
                    }
            free(p);
        }
        if ((x = json_object_get(cfg, "CSVDelimiter"))) {
            p = cat("%s/CSVDelimiter", cp);
            want(L, x, JSON_STRING, p);
            free(p);
        }
        struct asl_intfield mi = {0};
        int dummy = 0;
        get_intfield(L, cfg, cp, "MaxItems", 0, 100000000, 0,
                     ASL_PATH_REFERENCE | ASL_PATH_NO_CONTEXT, &mi, &dummy);
        asl_path_free(mi.path);
    }
    free(cp);
}

static void check_item_batcher(struct ld *L, json_t *v, const char *fp)
{
    static const char *const fields[] = {"MaxItemsPerBatch",      "MaxItemsPerBatchPath",
                                         "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath",
                                         "BatchInput",            NULL};
    if (!want(L, v, JSON_OBJECT, fp))
        return;
    only_fields(L, v, fields, fp);
    struct asl_intfield f = {0};
    int dummy = 0;
    get_intfield(L, v, fp, "MaxItemsPerBatch", 0, 100000000, 0,
                 ASL_PATH_REFERENCE | ASL_PATH_NO_CONTEXT, &f, &dummy);
    asl_path_free(f.path);
    memset(&f, 0, sizeof f);
    get_intfield(L, v, fp, "MaxInputBytesPerBatch", 0, 262144, 0,
                 ASL_PATH_REFERENCE | ASL_PATH_NO_CONTEXT, &f, &dummy);
    asl_path_free(f.path);
    json_t *x = json_object_get(v, "BatchInput");
    if (x) {
        char *p = cat("%s/BatchInput", fp);
        if (want(L, x, JSON_OBJECT, p))
            check_template(L, x, p);
        free(p);
    }
}

static void check_result_writer(struct ld *L, json_t *v, const char *fp)
{
    static const char *const fields[] = {"Resource", "Parameters", "WriterConfig", NULL};
    static const char *const wfields[] = {"OutputType", "Transformation", NULL};
    static const char *const out_types[] = {"JSON", "JSONL", NULL};
    static const char *const transforms[] = {"NONE", "COMPACT", "FLATTEN", NULL};
    if (!want(L, v, JSON_OBJECT, fp))
        return;
    only_fields(L, v, fields, fp);
    json_t *res = json_object_get(v, "Resource");
    json_t *par = json_object_get(v, "Parameters");
    json_t *wc = json_object_get(v, "WriterConfig");
    char *p;
    if (!res && !wc)
        required(L, "Resource", fp);
    if (res) {
        p = cat("%s/Resource", fp);
        if (want(L, res, JSON_STRING, p) && !s3_resource(json_string_value(res), "putObject"))
            asl_diag_add(L->d, SVF, p,
                         "Value is not a supported ResultWriter resource: use "
                         "arn:aws:states:::s3:putObject");
        free(p);
        if (!par)
            required(L, "Parameters", fp);
    }
    if (par) {
        p = cat("%s/Parameters", fp);
        if (want(L, par, JSON_OBJECT, p)) {
            /* Bucket and Prefix are strings when written literally */
            static const char *const keys[] = {"Bucket", "Prefix", NULL};
            for (int i = 0; keys[i]; i++) {
                json_t *x = json_object_get(par, keys[i]);
                if (x) {
                    char *kp = cat("%s/%s", p, keys[i]);
                    want(L, x, JSON_STRING, kp);
                    free(kp);
                }
            }
            check_template(L, par, p);
        }
        free(p);
    }
    if (wc) {
        p = cat("%s/WriterConfig", fp);
        if (want(L, wc, JSON_OBJECT, p)) {
            only_fields(L, wc, wfields, p);
            json_t *ot = json_object_get(wc, "OutputType");
            json_t *tr = json_object_get(wc, "Transformation");
            if (!ot || !tr) {
                required(L, "OutputType, Transformation", p);
            } else {
                char *q = cat("%s/OutputType", p);
                is_enum(L, ot, q, out_types, "JSON, JSONL");
                free(q);
                q = cat("%s/Transformation", p);
                is_enum(L, tr, q, transforms, "NONE, COMPACT, FLATTEN");
                free(q);
            }
        }
        free(p);
    }
}

static void compile_map(struct ld *L, struct asl_state *s, json_t *sj, const char *spath,
                        struct asl_machine *m)
{
    json_t *ip = json_object_get(sj, "ItemProcessor");
    json_t *it = json_object_get(sj, "Iterator");
    json_t *v;
    char *fp;
    if (ip && it) {
        fp = cat("%s/ItemProcessor", spath);
        only_one(L, "ItemProcessor", "Iterator", fp);
        free(fp);
    } else if (!ip && !it) {
        required(L, "ItemProcessor", spath);
    } else {
        const char *key = ip ? "ItemProcessor" : "Iterator";
        json_t *pj = ip ? ip : it;
        char *mp = cat("%s/%s", spath, key);
        s->processor = nested(L, pj, mp, M_PROCESSOR, m);
        json_t *cfg = json_is_object(pj) ? json_object_get(pj, "ProcessorConfig") : NULL;
        if (cfg) {
            static const char *const cfg_fields[] = {"Mode", "ExecutionType", NULL};
            static const char *const modes[] = {"INLINE", "DISTRIBUTED", NULL};
            static const char *const types[] = {"STANDARD", "EXPRESS", NULL};
            char *cp = cat("%s/ProcessorConfig", mp);
            if (want(L, cfg, JSON_OBJECT, cp)) {
                only_fields(L, cfg, cfg_fields, cp);
                json_t *x;
                int mode = 0;
                if ((x = json_object_get(cfg, "Mode"))) {
                    fp = cat("%s/Mode", cp);
                    mode = is_enum(L, x, fp, modes, "INLINE, DISTRIBUTED");
                    free(fp);
                }
                s->distributed = mode == 1;
                if ((x = json_object_get(cfg, "ExecutionType"))) {
                    fp = cat("%s/ExecutionType", cp);
                    is_enum(L, x, fp, types, "STANDARD, EXPRESS");
                    free(fp);
                } else if (mode == 1) {
                    required(L, "ExecutionType", cp);
                }
            }
            free(cp);
        }
        free(mp);
    }

    if ((v = json_object_get(sj, "ItemsPath"))) {
        fp = cat("%s/ItemsPath", spath);
        s->items_path = get_path(L, v, fp, ASL_PATH_REFERENCE, 0, NULL);
        if (path_ctx(s->items_path))
            s->uses_context = 1;
        free(fp);
    }
    json_t *sel = json_object_get(sj, "ItemSelector");
    json_t *par = json_object_get(sj, "Parameters");
    if (sel && par) {
        fp = cat("%s/ItemSelector", spath);
        only_one(L, "ItemSelector", "Parameters", fp);
        free(fp);
    } else if (sel || par) {
        fp = cat("%s/%s", spath, sel ? "ItemSelector" : "Parameters");
        s->parameters = get_template(L, sel ? sel : par, fp, &s->uses_context);
        free(fp);
    }
    const int npath = ASL_PATH_REFERENCE | ASL_PATH_NO_CONTEXT;
    get_intfield(L, sj, spath, "MaxConcurrency", 0, INT64_MAX, 0, npath, &s->max_concurrency,
                 &s->uses_context);
    get_intfield(L, sj, spath, "ToleratedFailureCount", 0, INT64_MAX, 0, npath,
                 &s->tolerated_failure_count, &s->uses_context);
    get_intfield(L, sj, spath, "ToleratedFailurePercentage", 0, 100, 1, npath,
                 &s->tolerated_failure_percentage, &s->uses_context);
    if ((v = json_object_get(sj, "Label"))) {
        fp = cat("%s/Label", spath);
        check_label(L, s, v, fp);
        free(fp);
    }
    if ((v = json_object_get(sj, "ItemReader"))) {
        fp = cat("%s/ItemReader", spath);
        check_item_reader(L, v, fp);
        s->item_reader = json_incref(v);
        free(fp);
    }
    if ((v = json_object_get(sj, "ItemBatcher"))) {
        fp = cat("%s/ItemBatcher", spath);
        check_item_batcher(L, v, fp);
        s->item_batcher = json_incref(v);
        free(fp);
    }
    if ((v = json_object_get(sj, "ResultWriter"))) {
        fp = cat("%s/ResultWriter", spath);
        check_result_writer(L, v, fp);
        s->result_writer = json_incref(v);
        free(fp);
    }
}

/* Whether a per-state QueryLanguage lets the state be compiled here. JSONata
 * evaluation does not exist yet, so a JSONata state is refused clearly. */
static int state_language_ok(struct ld *L, json_t *sj, const char *spath)
{
    json_t *q = json_object_get(sj, "QueryLanguage");
    if (!q)
        return 1;
    char *fp = cat("%s/QueryLanguage", spath);
    int ok = 0;
    if (want(L, q, JSON_STRING, fp)) {
        const char *s = json_string_value(q);
        if (strcmp(s, "JSONPath") == 0)
            ok = 1;
        else if (strcmp(s, "JSONata") == 0)
            asl_diag_add(L->d, SVF, fp,
                         "QueryLanguage 'JSONata' is not supported by stepd yet: only JSONPath "
                         "states can be loaded");
        else
            asl_diag_add(L->d, SVF, fp, "Value should be one of the following: [JSONPath, JSONata]");
    }
    free(fp);
    return ok;
}

/* Compiles the fields of state s (raw object sj) of machine m. */
static void compile_state(struct ld *L, struct asl_machine *m, struct asl_state *s, json_t *sj,
                          const char *spath, const struct strmap *local)
{
    json_t *tv = json_object_get(sj, "Type");
    char *fp = cat("%s/Type", spath);
    if (!tv) {
        required(L, "Type", spath);
    } else if (want(L, tv, JSON_STRING, fp)) {
        s->type = type_from_name(json_string_value(tv));
        if (s->type < 0)
            asl_diag_add(L->d, SVF, fp,
                         "Value should be one of the following: [Task, Pass, Choice, Wait, "
                         "Succeed, Fail, Parallel, Map]");
    }
    free(fp);
    if (!state_language_ok(L, sj, spath) || s->type < 0)
        return;

    const char *k;
    json_t *v;
    json_object_foreach(sj, k, v)
    {
        if (field_allowed(k, s->type))
            continue;
        if (is_jsonata_only(k))
            asl_diag_add(L->d, SVF, spath,
                         "The QueryLanguage is set to 'JSONPath', but field '%s' is only supported "
                         "for the 'JSONata' QueryLanguage", k);
        else
            asl_diag_add(L->d, SVF, spath, "Field '%s' is not supported", k);
    }

    if ((v = json_object_get(sj, "Comment"))) {
        fp = cat("%s/Comment", spath);
        want(L, v, JSON_STRING, fp);
        free(fp);
    }

    /* Next / End: exactly one on the states that move on */
    if (field_allowed("Next", s->type)) {
        json_t *nv = json_object_get(sj, "Next");
        json_t *ev = json_object_get(sj, "End");
        int end = 0;
        if (ev) {
            fp = cat("%s/End", spath);
            if (want(L, ev, JSON_TRUE, fp))
                end = json_is_true(ev);
            free(fp);
        }
        if (nv && end) {
            asl_diag_add(L->d, SVF, spath,
                         "There should only be one of the following fields: [Next, End]");
        } else if (!nv && !end && !(ev && !json_is_boolean(ev))) {
            asl_diag_add(L->d, SVF, spath,
                         "This object should have only one of the following fields: [Next, End]");
        } else if (nv) {
            fp = cat("%s/Next", spath);
            s->next = get_target(L, nv, fp, local);
            free(fp);
        }
        s->end = end && !nv;
    }
    if (s->type == ASL_SUCCEED || s->type == ASL_FAIL)
        s->end = 1;

    /* the data-flow fields every type that has them shares */
    if ((v = json_object_get(sj, "InputPath")) && field_allowed("InputPath", s->type)) {
        fp = cat("%s/InputPath", spath);
        s->input_path = get_path(L, v, fp, 0, 1, &s->input_path_null);
        if (path_ctx(s->input_path))
            s->uses_context = 1;
        free(fp);
    }
    if ((v = json_object_get(sj, "OutputPath")) && field_allowed("OutputPath", s->type)) {
        fp = cat("%s/OutputPath", spath);
        s->output_path = get_path(L, v, fp, 0, 1, &s->output_path_null);
        if (path_ctx(s->output_path))
            s->uses_context = 1;
        free(fp);
    }
    if ((v = json_object_get(sj, "ResultPath")) && field_allowed("ResultPath", s->type)) {
        fp = cat("%s/ResultPath", spath);
        s->result_path =
            get_path(L, v, fp, ASL_PATH_REFERENCE | ASL_PATH_NO_VARS | ASL_PATH_NO_CONTEXT, 1,
                     &s->result_path_null);
        free(fp);
    }
    /* Map reads Parameters as its legacy ItemSelector (compile_map) */
    if ((v = json_object_get(sj, "Parameters")) && field_allowed("Parameters", s->type) &&
        s->type != ASL_MAP) {
        fp = cat("%s/Parameters", spath);
        s->parameters = get_template(L, v, fp, &s->uses_context);
        free(fp);
    }
    if ((v = json_object_get(sj, "ResultSelector")) && field_allowed("ResultSelector", s->type)) {
        fp = cat("%s/ResultSelector", spath);
        s->result_selector = get_template(L, v, fp, &s->uses_context);
        free(fp);
    }
    if ((v = json_object_get(sj, "Assign")) && field_allowed("Assign", s->type)) {
        fp = cat("%s/Assign", spath);
        if (want(L, v, JSON_OBJECT, fp))
            s->assign = get_template(L, v, fp, &s->uses_context);
        free(fp);
    }
    if ((v = json_object_get(sj, "Retry")) && field_allowed("Retry", s->type))
        get_retry(L, s, v, spath);
    if ((v = json_object_get(sj, "Catch")) && field_allowed("Catch", s->type))
        get_catch(L, s, v, spath, local);

    switch (s->type) {
    case ASL_TASK: compile_task(L, s, sj, spath); break;
    case ASL_PASS:
        if ((v = json_object_get(sj, "Result")))
            s->result = json_incref(v);
        break;
    case ASL_CHOICE: compile_choice(L, s, sj, spath, local); break;
    case ASL_WAIT: compile_wait(L, s, sj, spath); break;
    case ASL_FAIL:
        fail_pair(L, s, sj, spath, "Error", &s->error, &s->error_path);
        fail_pair(L, s, sj, spath, "Cause", &s->cause, &s->cause_path);
        break;
    case ASL_PARALLEL: compile_parallel(L, s, sj, spath, m); break;
    case ASL_MAP: compile_map(L, s, sj, spath, m); break;
    default: break;
    }
}

/* ---------------------------------------------------------- graph pass */

struct adj {
    int *v;
    size_t n, cap;
};

static void adj_push(struct adj *a, int x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        if (!a->v)
            abort();
    }
    a->v[a->n++] = x;
}

/* One transition read from the raw definition: reports a target that names
 * no state of this machine (AWS says 'Next' whatever the field is). */
static void edge(struct ld *L, const struct strmap *local, struct adj *a, json_t *v,
                 const char *path)
{
    if (!json_is_string(v))
        return; /* the schema pass has said so */
    int i = map_get(local, json_string_value(v));
    if (i < 0)
        asl_diag_add(L->d, MTT, path, "Missing 'Next' target: %s", json_string_value(v));
    else if (a)
        adj_push(a, i);
}

/* Missing targets, the terminal state (top level only) and reachability,
 * read from the raw JSON so that a state whose fields failed to compile
 * still takes part. */
static void check_graph(struct ld *L, struct asl_machine *m, json_t *states, json_t *start,
                        const char *prefix, int top, const struct strmap *local, char **spaths)
{
    size_t n = m->n_states;
    struct adj *adj = calloc(n ? n : 1, sizeof *adj);
    if (start) {
        char *p = cat("%s/StartAt", prefix);
        edge(L, local, NULL, start, p);
        free(p);
    }
    int terminal = 0, unsure = 0;
    size_t i = 0;
    const char *k;
    json_t *sj;
    json_object_foreach(states, k, sj)
    {
        int t = m->states[i].type;
        const char *sp = spaths[i];
        if (!json_is_object(sj)) {
            unsure = 1;
            i++;
            continue;
        }
        json_t *v;
        char *p;
        json_t *end = json_object_get(sj, "End");
        if (t == ASL_SUCCEED || t == ASL_FAIL || json_is_true(end))
            terminal = 1;
        /* a state whose shape is broken may have been meant as the end */
        if (t < 0 || (end && !json_is_boolean(end)) ||
            (field_allowed("Next", t) && !json_is_true(end) && !json_object_get(sj, "Next")))
            unsure = 1;
        /* an untyped state still has its transitions read, so that the
         * states it leads to are not called unreachable */
        if ((t < 0 || field_allowed("Next", t)) && (v = json_object_get(sj, "Next"))) {
            p = cat("%s/Next", sp);
            edge(L, local, &adj[i], v, p);
            free(p);
        }
        if (t == ASL_CHOICE || t < 0) {
            json_t *ch = json_object_get(sj, "Choices");
            for (size_t j = 0; json_is_array(ch) && j < json_array_size(ch); j++) {
                json_t *r = json_array_get(ch, j);
                if (json_is_object(r) && (v = json_object_get(r, "Next"))) {
                    p = cat("%s/Choices[%zu]/Next", sp, j);
                    edge(L, local, &adj[i], v, p);
                    free(p);
                }
            }
            if ((v = json_object_get(sj, "Default"))) {
                p = cat("%s/Default", sp);
                edge(L, local, &adj[i], v, p);
                free(p);
            }
        }
        json_t *ca = t < 0 || field_allowed("Catch", t) ? json_object_get(sj, "Catch") : NULL;
        for (size_t j = 0; json_is_array(ca) && j < json_array_size(ca); j++) {
            json_t *c = json_array_get(ca, j);
            if (json_is_object(c) && (v = json_object_get(c, "Next"))) {
                p = cat("%s/Catch[%zu]/Next", sp, j);
                edge(L, local, &adj[i], v, p);
                free(p);
            }
        }
        i++;
    }

    if (top && !terminal && !unsure && n > 0) {
        /* AWS reports this alone, without the reachability walk */
        asl_diag_add(L->d, "MISSING_END_STATE", NULL, "Workflow has no terminal state");
    } else {
        char *seen = calloc(n ? n : 1, 1);
        int *queue = malloc((n ? n : 1) * sizeof *queue);
        size_t qh = 0, qt = 0;
        if (m->start >= 0) {
            seen[m->start] = 1;
            queue[qt++] = m->start;
        }
        while (qh < qt) {
            int s = queue[qh++];
            for (size_t j = 0; j < adj[s].n; j++)
                if (!seen[adj[s].v[j]]) {
                    seen[adj[s].v[j]] = 1;
                    queue[qt++] = adj[s].v[j];
                }
        }
        for (size_t j = 0; j < n; j++)
            if (!seen[j] && m->states[j].name)
                asl_diag_add(L->d, MTT, spaths[j], "State \"%s\" is not reachable.",
                             m->states[j].name);
        free(seen);
        free(queue);
    }
    for (size_t j = 0; j < n; j++)
        free(adj[j].v);
    free(adj);
}

/* ------------------------------------------------------------- machines */

static const char *const top_fields[] = {"StartAt",        "States",        "Comment", "Version",
                                         "TimeoutSeconds", "QueryLanguage", NULL};
static const char *const branch_fields[] = {"StartAt", "States", "Comment", NULL};
static const char *const processor_fields[] = {"StartAt", "States", "Comment", "ProcessorConfig",
                                               NULL};

/* Loads one machine: the document (top) or a branch/processor at prefix
 * ("/States/P/Branches[0]"). Returns the machine even when it has problems;
 * the caller decides from the diagnostics. */
static struct asl_machine *load_machine(struct ld *L, json_t *mj, const char *prefix, int kind,
                                        struct asl_machine *parent)
{
    if (L->depth >= ASL_MAX_NESTING) {
        asl_diag_add(L->d, "TOO_DEEPLY_NESTED", prefix,
                     "The states are too deeply nested: more than %d levels of Parallel and Map",
                     ASL_MAX_NESTING);
        return NULL;
    }
    struct asl_machine *m = calloc(1, sizeof *m);
    m->start = -1;
    m->parent = parent;
    m->definition = json_incref(mj);

    only_fields(L, mj, kind == M_TOP ? top_fields : kind == M_PROCESSOR ? processor_fields
                                                                          : branch_fields,
                prefix);
    int top = kind == M_TOP;

    json_t *v;
    char *fp;
    if ((v = json_object_get(mj, "Comment"))) {
        fp = cat("%s/Comment", prefix);
        want(L, v, JSON_STRING, fp);
        free(fp);
    }
    if (top && (v = json_object_get(mj, "Version"))) {
        fp = cat("%s/Version", prefix);
        if (want(L, v, JSON_STRING, fp) && strcmp(json_string_value(v), "1.0") != 0)
            asl_diag_add(L->d, SVF, fp, "Value should be one of the following: [1.0]");
        free(fp);
    }
    if (top && (v = json_object_get(mj, "TimeoutSeconds"))) {
        double x;
        fp = cat("%s/TimeoutSeconds", prefix);
        if (get_int(L, v, fp, 0, ASL_MAX_SECONDS, &x) == 0)
            m->timeout_seconds = (long)x;
        free(fp);
    }
    json_t *start = json_object_get(mj, "StartAt");
    if (!start)
        required(L, "StartAt", prefix);
    else {
        fp = cat("%s/StartAt", prefix);
        if (!want(L, start, JSON_STRING, fp))
            start = NULL;
        free(fp);
    }
    json_t *states = json_object_get(mj, "States");
    fp = cat("%s/States", prefix);
    if (!states) {
        required(L, "States", prefix);
        free(fp);
        return m;
    }
    if (!want(L, states, JSON_OBJECT, fp)) {
        free(fp);
        return m;
    }
    if (json_object_size(states) == 0)
        asl_diag_add(L->d, SVF, fp, "Value cannot be empty");
    free(fp);

    /* pass 1: names, so that every Next can be resolved in pass 2 */
    size_t n = json_object_size(states);
    m->states = calloc(n ? n : 1, sizeof *m->states);
    m->n_states = n;
    char **spaths = calloc(n ? n : 1, sizeof *spaths);
    struct strmap local = {0};
    size_t i = 0;
    const char *k;
    json_t *sj;
    json_object_foreach(states, k, sj)
    {
        struct asl_state *s = &m->states[i];
        s->name = strdup(k);
        s->type = -1;
        s->next = -1;
        s->default_next = -1;
        spaths[i] = cat("%s/States/%s", prefix, k);
        map_put(&local, s->name, (int)i);
        if (map_put(&L->names, s->name, 0) >= 0)
            asl_diag_add(L->d, "DUPLICATE_STATE_NAME", spaths[i],
                         "Duplicate State name: '%s' is already used in this state machine", k);
        size_t len = utf8_len(k);
        if (len == 0 || len > ASL_MAX_STATE_NAME)
            asl_diag_add(L->d, "INVALID_STATE_NAME", spaths[i],
                         "A State name must be between 1 and %d characters long",
                         ASL_MAX_STATE_NAME);
        i++;
    }
    if (start)
        m->start = map_get(&local, json_string_value(start));

    /* pass 2: each state's fields */
    L->depth++;
    i = 0;
    json_object_foreach(states, k, sj)
    {
        if (want(L, sj, JSON_OBJECT, spaths[i]))
            compile_state(L, m, &m->states[i], sj, spaths[i], &local);
        i++;
    }
    L->depth--;

    /* pass 3: the transition graph */
    check_graph(L, m, states, start, prefix, top, &local, spaths);

    for (i = 0; i < n; i++)
        free(spaths[i]);
    free(spaths);
    map_free(&local);
    return m;
}

struct asl_machine *asl_load_json(json_t *def, asl_diags *d)
{
    asl_diags local = {0};
    struct ld L = {.d = d ? d : &local};
    size_t before = L.d->n;
    struct asl_machine *m = NULL;

    if (!def) {
        asl_diag_add(L.d, "MISSING_DESCRIPTION", NULL, "Received a null or empty workflow input");
    } else if (want(&L, def, JSON_OBJECT, "")) {
        json_t *q = json_object_get(def, "QueryLanguage");
        int lang_ok = 1;
        if (q) {
            lang_ok = 0;
            if (want(&L, q, JSON_STRING, "/QueryLanguage")) {
                const char *s = json_string_value(q);
                if (strcmp(s, "JSONPath") == 0)
                    lang_ok = 1;
                else if (strcmp(s, "JSONata") == 0)
                    asl_diag_add(L.d, SVF, "/QueryLanguage",
                                 "QueryLanguage 'JSONata' is not supported by stepd yet: only "
                                 "JSONPath state machines can be loaded");
                else
                    asl_diag_add(L.d, SVF, "/QueryLanguage",
                                 "Value should be one of the following: [JSONPath, JSONata]");
            }
        }
        /* a JSONata document checked by JSONPath's rules would only add noise */
        if (lang_ok)
            m = load_machine(&L, def, "", M_TOP, NULL);
    }
    map_free(&L.names);
    map_free(&L.labels);
    if (L.d->n != before) {
        asl_machine_free(m);
        m = NULL;
    }
    asl_diags_free(&local);
    return m;
}

struct asl_machine *asl_load(const char *text, size_t len, asl_diags *d)
{
    size_t i = 0;
    while (text && i < len && strchr(" \t\r\n", text[i]))
        i++;
    if (!text || i == len) {
        asl_diag_add(d, "MISSING_DESCRIPTION", NULL, "Received a null or empty workflow input");
        return NULL;
    }
    val_err err = {0};
    json_t *def = val_parse(text, len, &err);
    if (!def) {
        asl_diag_add(d, "INVALID_JSON_DESCRIPTION", NULL, "%s",
                     err.cause ? err.cause : "The definition is not valid JSON");
        val_err_clear(&err);
        return NULL;
    }
    struct asl_machine *m = asl_load_json(def, d);
    json_decref(def);
    return m;
}

/* --------------------------------------------------------------- freeing */

static void state_free(struct asl_state *s)
{
    free(s->name);
    asl_path_free(s->input_path);
    asl_path_free(s->output_path);
    asl_path_free(s->result_path);
    asl_template_free(s->parameters);
    asl_template_free(s->result_selector);
    asl_template_free(s->assign);
    json_decref(s->result);
    for (size_t i = 0; i < s->n_retry; i++)
        errlist_free(&s->retry[i].errors);
    free(s->retry);
    for (size_t i = 0; i < s->n_catch; i++) {
        errlist_free(&s->catch_[i].errors);
        asl_path_free(s->catch_[i].result_path);
        asl_template_free(s->catch_[i].assign);
    }
    free(s->catch_);
    free(s->resource);
    asl_path_free(s->timeout_seconds.path);
    asl_path_free(s->heartbeat_seconds.path);
    for (size_t i = 0; i < s->n_choices; i++) {
        asl_choice_free(s->choices[i].cond);
        asl_template_free(s->choices[i].assign);
    }
    free(s->choices);
    asl_path_free(s->wait_seconds.path);
    free(s->wait_timestamp);
    asl_path_free(s->wait_timestamp_path);
    free(s->error);
    free(s->cause);
    asl_expr_free(s->error_path);
    asl_expr_free(s->cause_path);
    for (size_t i = 0; i < s->n_branches; i++)
        asl_machine_free(s->branches[i]);
    free(s->branches);
    asl_machine_free(s->processor);
    asl_path_free(s->items_path);
    json_decref(s->items);
    asl_path_free(s->max_concurrency.path);
    asl_path_free(s->tolerated_failure_count.path);
    asl_path_free(s->tolerated_failure_percentage.path);
    free(s->label);
    json_decref(s->item_reader);
    json_decref(s->item_batcher);
    json_decref(s->result_writer);
}

/* Recursion depth here is bounded by ASL_MAX_NESTING: deeper machines are
 * never built. */
void asl_machine_free(struct asl_machine *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_states; i++)
        state_free(&m->states[i]);
    free(m->states);
    json_decref(m->definition);
    free(m);
}

/* ---------------------------------------------------------------- lookup */

int asl_state_index(const struct asl_machine *m, const char *name)
{
    if (!m || !name)
        return -1;
    for (size_t i = 0; i < m->n_states; i++)
        if (m->states[i].name && strcmp(m->states[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* AWS's matching rules, checked against the conformance corpus:
 * - States.Runtime is never caught, not even by its own name
 *   (scenarios test_catch_states_runtime);
 * - States.ALL catches everything else, States.DataLimitExceeded included when
 *   a task result is too big (error_handling test_task_lambda_catch_state_all_
 *   data_limit_exceeded...): an engine that raises it for an oversized state
 *   output, which AWS documents as terminal, must not consult catchers;
 * - States.TaskFailed catches everything but States.Timeout (FEATURES.md
 *   section 8, AWS's docs); the corpus says nothing of DataLimitExceeded under
 *   TaskFailed, so it keeps the stricter reading and does not match it. */
int asl_errlist_match(const struct asl_errlist *l, const char *error)
{
    if (!l || !error || strcmp(error, "States.Runtime") == 0)
        return 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *n = l->names[i];
        if (strcmp(n, error) == 0 || strcmp(n, "States.ALL") == 0)
            return 1;
        if (strcmp(n, "States.TaskFailed") == 0 && strcmp(error, "States.Timeout") != 0 &&
            strcmp(error, "States.DataLimitExceeded") != 0)
            return 1;
    }
    return 0;
}
