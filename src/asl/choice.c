/* choice — Choice rules in JSONPath mode: compiled once at load time into a
 * small tree (And/Or/Not over comparisons), evaluated per execution.
 * What AWS does, from its recorded behaviour: a value of the wrong type is a
 * non-match, never an error; a Variable (or …Path operand) that names nothing
 * is States.Runtime, except for IsPresent, whose whole point is to ask. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asl/asl.h"

/* Defined in timestamp.c (module-private). */
int aslp_timestamp_parse_sn(const char *s, size_t len, int64_t *sec, int32_t *nsec);

/* Deeper rules are refused: the tree is compiled, evaluated and freed by
 * recursion, and hostile nesting must not overflow the stack. */
#define CHOICE_MAX_DEPTH 256

enum operand { OP_STRING, OP_NUMBER, OP_BOOL, OP_TIME, OP_MATCH, OP_IS };
enum cmp { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE };
enum is_test { IS_NONE, IS_PRESENT, IS_NULL, IS_NUMERIC, IS_STRING, IS_BOOLEAN, IS_TIMESTAMP };

/* Every comparison operator once: name, operand family, relation, whether
 * the operand is a Reference Path, and for Is* the test it makes. */
#define CHOICE_OPS(X)                                                                              \
    X("StringEquals", OP_STRING, CMP_EQ, 0, IS_NONE)                                               \
    X("StringEqualsPath", OP_STRING, CMP_EQ, 1, IS_NONE)                                           \
    X("StringLessThan", OP_STRING, CMP_LT, 0, IS_NONE)                                             \
    X("StringLessThanPath", OP_STRING, CMP_LT, 1, IS_NONE)                                         \
    X("StringGreaterThan", OP_STRING, CMP_GT, 0, IS_NONE)                                          \
    X("StringGreaterThanPath", OP_STRING, CMP_GT, 1, IS_NONE)                                      \
    X("StringLessThanEquals", OP_STRING, CMP_LE, 0, IS_NONE)                                       \
    X("StringLessThanEqualsPath", OP_STRING, CMP_LE, 1, IS_NONE)                                   \
    X("StringGreaterThanEquals", OP_STRING, CMP_GE, 0, IS_NONE)                                    \
    X("StringGreaterThanEqualsPath", OP_STRING, CMP_GE, 1, IS_NONE)                                \
    X("StringMatches", OP_MATCH, CMP_EQ, 0, IS_NONE)                                               \
    X("NumericEquals", OP_NUMBER, CMP_EQ, 0, IS_NONE)                                              \
    X("NumericEqualsPath", OP_NUMBER, CMP_EQ, 1, IS_NONE)                                          \
    X("NumericLessThan", OP_NUMBER, CMP_LT, 0, IS_NONE)                                            \
    X("NumericLessThanPath", OP_NUMBER, CMP_LT, 1, IS_NONE)                                        \
    X("NumericGreaterThan", OP_NUMBER, CMP_GT, 0, IS_NONE)                                         \
    X("NumericGreaterThanPath", OP_NUMBER, CMP_GT, 1, IS_NONE)                                     \
    X("NumericLessThanEquals", OP_NUMBER, CMP_LE, 0, IS_NONE)                                      \
    X("NumericLessThanEqualsPath", OP_NUMBER, CMP_LE, 1, IS_NONE)                                  \
    X("NumericGreaterThanEquals", OP_NUMBER, CMP_GE, 0, IS_NONE)                                   \
    X("NumericGreaterThanEqualsPath", OP_NUMBER, CMP_GE, 1, IS_NONE)                               \
    X("BooleanEquals", OP_BOOL, CMP_EQ, 0, IS_NONE)                                                \
    X("BooleanEqualsPath", OP_BOOL, CMP_EQ, 1, IS_NONE)                                            \
    X("TimestampEquals", OP_TIME, CMP_EQ, 0, IS_NONE)                                              \
    X("TimestampEqualsPath", OP_TIME, CMP_EQ, 1, IS_NONE)                                          \
    X("TimestampLessThan", OP_TIME, CMP_LT, 0, IS_NONE)                                            \
    X("TimestampLessThanPath", OP_TIME, CMP_LT, 1, IS_NONE)                                        \
    X("TimestampGreaterThan", OP_TIME, CMP_GT, 0, IS_NONE)                                         \
    X("TimestampGreaterThanPath", OP_TIME, CMP_GT, 1, IS_NONE)                                     \
    X("TimestampLessThanEquals", OP_TIME, CMP_LE, 0, IS_NONE)                                      \
    X("TimestampLessThanEqualsPath", OP_TIME, CMP_LE, 1, IS_NONE)                                  \
    X("TimestampGreaterThanEquals", OP_TIME, CMP_GE, 0, IS_NONE)                                   \
    X("TimestampGreaterThanEqualsPath", OP_TIME, CMP_GE, 1, IS_NONE)                               \
    X("IsPresent", OP_IS, CMP_EQ, 0, IS_PRESENT)                                                   \
    X("IsNull", OP_IS, CMP_EQ, 0, IS_NULL)                                                         \
    X("IsNumeric", OP_IS, CMP_EQ, 0, IS_NUMERIC)                                                   \
    X("IsString", OP_IS, CMP_EQ, 0, IS_STRING)                                                     \
    X("IsBoolean", OP_IS, CMP_EQ, 0, IS_BOOLEAN)                                                   \
    X("IsTimestamp", OP_IS, CMP_EQ, 0, IS_TIMESTAMP)

struct choice_op {
    const char *name;
    int operand; /* enum operand */
    int cmp;     /* enum cmp */
    int is_path;
    int is_test; /* enum is_test */
};

static const struct choice_op choice_ops[] = {
#define X(name, operand, cmp, is_path, is_test) {name, operand, cmp, is_path, is_test},
    CHOICE_OPS(X)
#undef X
};

enum node_kind { NODE_AND, NODE_OR, NODE_NOT, NODE_CMP };

struct asl_choice {
    int kind; /* enum node_kind */
    int uses_context;

    /* And / Or / Not */
    asl_choice **kids;
    size_t n_kids;

    /* comparison */
    const struct choice_op *op;
    asl_path *var;
    asl_path *rhs_path; /* …Path operand */
    json_t *rhs;        /* literal operand (owned reference) */
    int64_t ts_sec;     /* literal Timestamp* operand, parsed once */
    int32_t ts_nsec;
    /* StringMatches, compiled: pattern bytes with escapes removed and a
     * parallel flag saying which positions are wildcards. */
    char *pat;
    unsigned char *pat_star;
    size_t pat_len;
};

/* ------------------------------------------------------------ compile */

static const struct choice_op *find_op(const char *key)
{
    for (size_t i = 0; i < sizeof choice_ops / sizeof choice_ops[0]; i++)
        if (!strcmp(choice_ops[i].name, key))
            return &choice_ops[i];
    return NULL;
}

static char *path_join(const char *base, const char *key)
{
    val_buf b = {0};
    val_buf_puts(&b, base ? base : "");
    val_buf_putc(&b, '/');
    val_buf_puts(&b, key);
    return val_buf_take(&b);
}

/* Array members are named the way AWS prints them: ".../And[1]". */
static char *path_index(const char *base, const char *key, size_t i)
{
    val_buf b = {0};
    val_buf_puts(&b, base ? base : "");
    val_buf_printf(&b, "/%s[%zu]", key, i);
    return val_buf_take(&b);
}

/* Parses a Reference Path field (Variable, …Path); NULL with a diag. */
static asl_path *compile_ref(json_t *v, const char *base, const char *key, asl_diags *d)
{
    char *at = path_join(base, key);
    asl_path *p = NULL;
    if (!json_is_string(v)) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Expected value of type String");
    } else {
        val_err e = {0};
        p = asl_path_parse(json_string_value(v), ASL_PATH_REFERENCE, &e);
        if (!p)
            asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Value is not a Reference Path: %s",
                         e.cause ? e.cause : "invalid path");
        val_err_clear(&e);
    }
    free(at);
    return p;
}

/* Removes the escapes of a StringMatches pattern once, at load time: `\*`
 * is a literal star and `\\` a literal backslash. A backslash before any
 * other character escapes that character; a trailing lone backslash stands
 * for itself. */
static void compile_pattern(asl_choice *c, const char *s, size_t n)
{
    c->pat = malloc(n + 1);
    c->pat_star = malloc(n + 1);
    if (!c->pat || !c->pat_star)
        abort(); /* out of memory: nothing sensible to do */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            c->pat[k] = s[++i];
            c->pat_star[k++] = 0;
        } else {
            c->pat[k] = s[i];
            c->pat_star[k++] = s[i] == '*';
        }
    }
    c->pat_len = k;
}

/* Checks the literal operand of op; 0 when usable. */
static int check_literal(asl_choice *c, json_t *v, const char *at, asl_diags *d)
{
    const struct choice_op *op = c->op;
    switch (op->operand) {
    case OP_STRING:
    case OP_MATCH:
        if (!json_is_string(v))
            break;
        if (op->operand == OP_MATCH)
            compile_pattern(c, json_string_value(v), json_string_length(v));
        return 0;
    case OP_TIME:
        if (!json_is_string(v))
            break;
        if (aslp_timestamp_parse_sn(json_string_value(v), json_string_length(v), &c->ts_sec,
                                    &c->ts_nsec)) {
            asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at,
                         "String does not match RFC3339 timestamp");
            return -1;
        }
        return 0;
    case OP_NUMBER:
        if (json_is_number(v))
            return 0;
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Expected value of type Number");
        return -1;
    case OP_BOOL:
    case OP_IS:
        if (json_is_boolean(v))
            return 0;
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Expected value of type Boolean");
        return -1;
    }
    asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Expected value of type String");
    return -1;
}

static int is_caller_key(const char *key)
{
    return !strcmp(key, "Next") || !strcmp(key, "Assign") || !strcmp(key, "Output");
}

static asl_choice *compile_rule(json_t *rule, int top_level, const char *path, int depth,
                                asl_diags *d);

/* And/Or: a non-empty array of rules. */
static int compile_list(asl_choice *c, json_t *v, const char *path, const char *key, int depth,
                        asl_diags *d)
{
    char *at = path_join(path, key);
    int bad = 0;
    if (!json_is_array(v)) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Expected value of type Array");
        bad = 1;
    } else if (json_array_size(v) == 0) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Array must not be empty");
        bad = 1;
    } else {
        c->kids = calloc(json_array_size(v), sizeof *c->kids);
        if (!c->kids)
            abort();
        for (size_t i = 0; i < json_array_size(v); i++) {
            char *ip = path_index(path, key, i);
            asl_choice *k = compile_rule(json_array_get(v, i), 0, ip, depth + 1, d);
            free(ip);
            if (!k) {
                bad = 1;
                continue;
            }
            c->uses_context |= k->uses_context;
            c->kids[c->n_kids++] = k;
        }
    }
    free(at);
    return bad ? -1 : 0;
}

static asl_choice *compile_rule(json_t *rule, int top_level, const char *path, int depth,
                                asl_diags *d)
{
    if (!json_is_object(rule)) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path, "Expected value of type Object");
        return NULL;
    }
    if (depth > CHOICE_MAX_DEPTH) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path,
                     "Choice rule is nested deeper than %d levels", CHOICE_MAX_DEPTH);
        return NULL;
    }

    asl_choice *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    int bad = 0, n_ops = 0;
    json_t *var = NULL, *operand = NULL, *boolop = NULL;
    const char *boolkey = NULL;

    const char *key;
    json_t *v;
    json_object_foreach(rule, key, v) {
        const struct choice_op *op = NULL;
        if (!strcmp(key, "Comment"))
            continue; /* allowed on every rule, top level or nested */
        if (top_level && is_caller_key(key))
            continue;
        if (!strcmp(key, "Variable")) {
            var = v;
            continue;
        }
        if (!strcmp(key, "And") || !strcmp(key, "Or") || !strcmp(key, "Not")) {
            n_ops++;
            boolop = v;
            boolkey = key;
            continue;
        }
        if ((op = find_op(key))) {
            n_ops++;
            c->op = op;
            operand = v;
            continue;
        }
        char *at = path_join(path, key);
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at, "Field '%s' is not supported", key);
        free(at);
        bad = 1;
    }

    if (n_ops == 0) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path,
                     "Choice rule must have exactly one comparison operator or And, Or, Not");
        bad = 1;
    } else if (n_ops > 1) {
        asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path,
                     "Choice rule must have exactly one comparison operator or And, Or, Not, "
                     "found %d",
                     n_ops);
        bad = 1;
    } else if (boolop) {
        if (var) {
            char *at = path_join(path, "Variable");
            asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", at,
                         "Field 'Variable' is not supported with '%s'", boolkey);
            free(at);
            bad = 1;
        }
        if (!strcmp(boolkey, "Not")) {
            char *at = path_join(path, "Not");
            c->kind = NODE_NOT;
            c->kids = calloc(1, sizeof *c->kids);
            if (!c->kids)
                abort();
            asl_choice *k = compile_rule(boolop, 0, at, depth + 1, d);
            free(at);
            if (k) {
                c->kids[c->n_kids++] = k;
                c->uses_context |= k->uses_context;
            } else {
                bad = 1;
            }
        } else {
            c->kind = !strcmp(boolkey, "And") ? NODE_AND : NODE_OR;
            if (compile_list(c, boolop, path, boolkey, depth, d))
                bad = 1;
        }
    } else {
        c->kind = NODE_CMP;
        if (!var) {
            asl_diag_add(d, "SCHEMA_VALIDATION_FAILED", path,
                         "Choice rule with '%s' must have a 'Variable' field", c->op->name);
            bad = 1;
        } else if (!(c->var = compile_ref(var, path, "Variable", d))) {
            bad = 1;
        } else if (asl_path_root(c->var) == ASL_ROOT_CONTEXT) {
            c->uses_context = 1;
        }
        char *at = path_join(path, c->op->name);
        if (c->op->is_path) {
            if (!(c->rhs_path = compile_ref(operand, path, c->op->name, d)))
                bad = 1;
            else if (asl_path_root(c->rhs_path) == ASL_ROOT_CONTEXT)
                c->uses_context = 1;
        } else if (check_literal(c, operand, at, d)) {
            bad = 1;
        } else {
            c->rhs = json_incref(operand);
        }
        free(at);
    }

    if (bad) {
        asl_choice_free(c);
        return NULL;
    }
    return c;
}

asl_choice *asl_choice_compile(json_t *rule, int top_level, const char *path, asl_diags *d)
{
    return compile_rule(rule, top_level, path, 0, d);
}

void asl_choice_free(asl_choice *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_kids; i++)
        asl_choice_free(c->kids[i]);
    free(c->kids);
    asl_path_free(c->var);
    asl_path_free(c->rhs_path);
    json_decref(c->rhs);
    free(c->pat);
    free(c->pat_star);
    free(c);
}

int asl_choice_uses_context(const asl_choice *c)
{
    return c ? c->uses_context : 0;
}

/* ------------------------------------------------------------ evaluate */

/* Decodes one UTF-8 sequence (jansson guarantees valid UTF-8). */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char b = s[*i];
    int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
    for (int k = 1; k < len && *i + (size_t)k < n; k++)
        cp = (cp << 6) | (s[*i + (size_t)k] & 0x3Fu);
    *i += (size_t)len;
    return cp;
}

/* The first UTF-16 code unit of a code point. */
static uint32_t utf16_lead(uint32_t cp)
{
    return cp < 0x10000 ? cp : 0xD800 + ((cp - 0x10000) >> 10);
}

/* Java's String.compareTo: order by UTF-16 code units, which differs from
 * code point (and UTF-8 byte) order when a character above U+FFFF meets
 * one in U+E000..U+FFFF. */
static int utf16_compare(const char *a, size_t an, const char *b, size_t bn)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        uint32_t ca = utf8_next(x, an, &i), cb = utf8_next(y, bn, &j);
        if (ca == cb)
            continue;
        uint32_t la = utf16_lead(ca), lb = utf16_lead(cb);
        if (la != lb)
            return la < lb ? -1 : 1;
        /* same lead surrogate: the trail surrogates order as the code points */
        return ca < cb ? -1 : 1;
    }
    if (i < an)
        return 1;
    if (j < bn)
        return -1;
    return 0;
}

/* Exact comparison of two JSON numbers: integers as integers (no rounding
 * through double above 2^53), an integer against a real without the
 * integer being rounded first. */
static int num_compare(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_real(a) && json_is_real(b)) {
        double x = json_real_value(a), y = json_real_value(b);
        return x < y ? -1 : x > y;
    }
    int flip = json_is_real(a); /* put the integer first */
    json_int_t i = json_integer_value(flip ? b : a);
    double r = json_real_value(flip ? a : b);
    int res;
    if (r >= 9223372036854775808.0)
        res = -1;
    else if (r < -9223372036854775808.0)
        res = 1;
    else {
        /* r is in int64 range: compare with its integral part, then the fraction */
        json_int_t t = (json_int_t)r; /* truncates toward zero */
        double frac = r - (double)t;
        if (i != t)
            res = i < t ? -1 : 1;
        else
            res = frac > 0 ? -1 : frac < 0 ? 1 : 0;
    }
    return flip ? -res : res;
}

static int apply_cmp(int cmp, int r)
{
    switch (cmp) {
    case CMP_EQ: return r == 0;
    case CMP_LT: return r < 0;
    case CMP_GT: return r > 0;
    case CMP_LE: return r <= 0;
    case CMP_GE: return r >= 0;
    }
    return 0;
}

/* Wildcard match over bytes: `*` matches any run. Valid UTF-8 literals can
 * only line up on character boundaries, so bytes are enough. Backtracks
 * only to the last star, so the cost stays O(n*m) at worst. */
static int pattern_match(const asl_choice *c, const char *s, size_t n)
{
    size_t i = 0, j = 0, mark = 0, star = (size_t)-1;
    while (i < n) {
        if (j < c->pat_len && c->pat_star[j]) {
            star = j++;
            mark = i;
        } else if (j < c->pat_len && c->pat[j] == s[i]) {
            i++;
            j++;
        } else if (star != (size_t)-1) {
            j = star + 1;
            i = ++mark;
        } else {
            return 0;
        }
    }
    while (j < c->pat_len && c->pat_star[j])
        j++;
    return j == c->pat_len;
}

static int str_ts(const json_t *v, int64_t *sec, int32_t *nsec)
{
    return json_is_string(v) &&
           !aslp_timestamp_parse_sn(json_string_value(v), json_string_length(v), sec, nsec);
}

static int missing(const asl_path *p, val_err *err)
{
    val_err_set(err, VAL_ERR_RUNTIME, "States.Runtime",
                "Invalid path '%s': The choice state's condition path references an invalid "
                "value.",
                asl_path_text(p));
    return -1;
}

static int eval_cmp(const asl_choice *c, const struct asl_env *env, val_err *err)
{
    const struct choice_op *op = c->op;
    json_t *v = asl_path_eval(c->var, env);

    if (op->is_test == IS_PRESENT) {
        int present = v != NULL;
        json_decref(v);
        return present == json_is_true(c->rhs);
    }
    if (!v)
        return missing(c->var, err);

    if (op->operand == OP_IS) {
        int r = 0;
        int64_t s;
        int32_t ns;
        switch (op->is_test) {
        case IS_NULL: r = json_is_null(v); break;
        case IS_NUMERIC: r = json_is_number(v); break;
        case IS_STRING: r = json_is_string(v); break;
        case IS_BOOLEAN: r = json_is_boolean(v); break;
        case IS_TIMESTAMP: r = str_ts(v, &s, &ns); break;
        }
        json_decref(v);
        return r == json_is_true(c->rhs);
    }

    json_t *rhs = c->rhs;
    json_t *owned = NULL;
    if (op->is_path) {
        owned = rhs = asl_path_eval(c->rhs_path, env);
        if (!rhs) {
            json_decref(v);
            return missing(c->rhs_path, err);
        }
    }

    int res = 0;
    switch (op->operand) {
    case OP_STRING:
        if (json_is_string(v) && json_is_string(rhs)) {
            if (op->cmp == CMP_EQ)
                res = json_string_length(v) == json_string_length(rhs) &&
                      !memcmp(json_string_value(v), json_string_value(rhs), json_string_length(v));
            else
                res = apply_cmp(op->cmp, utf16_compare(json_string_value(v), json_string_length(v),
                                                       json_string_value(rhs),
                                                       json_string_length(rhs)));
        }
        break;
    case OP_MATCH:
        if (json_is_string(v))
            res = pattern_match(c, json_string_value(v), json_string_length(v));
        break;
    case OP_NUMBER:
        if (json_is_number(v) && json_is_number(rhs))
            res = apply_cmp(op->cmp, num_compare(v, rhs));
        break;
    case OP_BOOL:
        if (json_is_boolean(v) && json_is_boolean(rhs))
            res = json_is_true(v) == json_is_true(rhs);
        break;
    case OP_TIME: {
        int64_t as, bs;
        int32_t an, bn;
        if (!str_ts(v, &as, &an))
            break;
        if (op->is_path) {
            if (!str_ts(rhs, &bs, &bn))
                break;
        } else {
            bs = c->ts_sec;
            bn = c->ts_nsec;
        }
        int r = as != bs ? (as < bs ? -1 : 1) : an != bn ? (an < bn ? -1 : 1) : 0;
        res = apply_cmp(op->cmp, r);
        break;
    }
    }
    json_decref(v);
    json_decref(owned);
    return res;
}

int asl_choice_eval(const asl_choice *c, const struct asl_env *env, val_err *err)
{
    switch (c->kind) {
    case NODE_CMP:
        return eval_cmp(c, env, err);
    case NODE_NOT: {
        int r = asl_choice_eval(c->kids[0], env, err);
        return r < 0 ? r : !r;
    }
    case NODE_AND:
    case NODE_OR: {
        /* Short-circuits: a later rule's missing path does not matter once
         * the answer is known. */
        int want = c->kind == NODE_OR;
        for (size_t i = 0; i < c->n_kids; i++) {
            int r = asl_choice_eval(c->kids[i], env, err);
            if (r < 0)
                return r;
            if (r == want)
                return want;
        }
        return !want;
    }
    }
    return 0;
}
