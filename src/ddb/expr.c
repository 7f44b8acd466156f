/* expr — DynamoDB's expression languages: a tokenizer, one recursive
 * descent parser (bounded depth) for conditions/filters, key conditions,
 * updates and projections, the checks DynamoDB makes while parsing (with
 * its ValidationException texts), and evaluation on items in DynamoDB
 * JSON. Trees live in a per-expression arena freed in one sweep. */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/av.h"
#include "ddb/expr.h"

/* Defined in av.c (strict base64); av.h is frozen while items.c is
 * written against it. */
unsigned char *ddbp_b64_decode(const char *s, size_t len, size_t *n, const char **why);

#define EXPR_MAX_SIZE 4096 /* bytes per expression, DynamoDB's limit */
#define EXPR_MAX_DEPTH 100 /* parentheses, NOT chains, nested function calls */
#define EXPR_MAX_PATH 64   /* elements of one document path */
#define EXPR_MAX_IN 100    /* operands of IN, DynamoDB's limit */

/* err = ValidationException with a printf-style message (val_err_set does
 * the formatting and accepts a NULL err). */
#define fail(err, ...) val_err_set((err), VAL_ERR_VALIDATION, "ValidationException", __VA_ARGS__)

/* --------------------------------------------------------------- reserved */

static const char *const RESERVED[] = {
#define DDB_RESERVED(w) w,
#include "ddb/reserved.def"
#undef DDB_RESERVED
};

static int is_reserved(const char *s, size_t n)
{
    char up[32];
    if (n >= sizeof up)
        return 0; /* the longest reserved word is 14 letters */
    for (size_t i = 0; i < n; i++)
        up[i] = (char)toupper((unsigned char)s[i]);
    up[n] = 0;
    size_t lo = 0, hi = sizeof RESERVED / sizeof RESERVED[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(up, RESERVED[mid]);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- context */

struct ddb_expr_ctx {
    json_t *names;  /* borrowed */
    json_t *values; /* canonical copies, owned */
    json_t *used_names, *used_values;
};

static int key_ok(const char *k, char lead)
{
    if (k[0] != lead || !k[1])
        return 0;
    for (const char *p = k + 1; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

ddb_expr_ctx *ddb_ctx_new(json_t *names, json_t *values, val_err *err)
{
    if (json_is_null(names))
        names = NULL;
    if (json_is_null(values))
        values = NULL;
    const char *k;
    json_t *v;
    if (names) {
        if (!json_is_object(names)) {
            fail(err, "ExpressionAttributeNames must be a map of placeholders to attribute names");
            return NULL;
        }
        if (json_object_size(names) == 0) {
            fail(err, "ExpressionAttributeNames must not be empty");
            return NULL;
        }
        json_object_foreach(names, k, v)
        {
            if (!key_ok(k, '#')) {
                fail(err, "ExpressionAttributeNames contains invalid key: Syntax error; key: \"%s\"", k);
                return NULL;
            }
            if (!json_is_string(v)) {
                fail(err, "ExpressionAttributeNames contains invalid value: the name for key %s is not a string", k);
                return NULL;
            }
            if (!*json_string_value(v)) {
                /* an item may not have an attribute named "" */
                fail(err, "ExpressionAttributeNames contains invalid value: Empty attribute name for key %s", k);
                return NULL;
            }
        }
    }
    json_t *canon = json_object();
    if (values) {
        if (!json_is_object(values)) {
            json_decref(canon);
            fail(err, "ExpressionAttributeValues must be a map of placeholders to AttributeValues");
            return NULL;
        }
        if (json_object_size(values) == 0) {
            json_decref(canon);
            fail(err, "ExpressionAttributeValues must not be empty");
            return NULL;
        }
        json_object_foreach(values, k, v)
        {
            if (!key_ok(k, ':')) {
                json_decref(canon);
                fail(err, "ExpressionAttributeValues contains invalid key: Syntax error; key: \"%s\"", k);
                return NULL;
            }
        }
        json_object_foreach(values, k, v)
        {
            val_err e = {0};
            json_t *c = ddb_av_canon(v, &e);
            if (!c) {
                fail(err, "ExpressionAttributeValues contains invalid value: %s for key %s", e.cause ? e.cause : "",
                     k);
                val_err_clear(&e);
                json_decref(canon);
                return NULL;
            }
            val_obj_set_take(canon, k, c);
        }
    }
    ddb_expr_ctx *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->names = names;
    c->values = canon;
    c->used_names = json_object();
    c->used_values = json_object();
    return c;
}

void ddb_ctx_free(ddb_expr_ctx *c)
{
    if (!c)
        return;
    json_decref(c->values);
    json_decref(c->used_names);
    json_decref(c->used_values);
    free(c);
}

static int unused(json_t *all, json_t *used, const char *what, val_err *err)
{
    val_buf b = {0};
    const char *k;
    json_t *v;
    json_object_foreach(all, k, v)
    {
        if (json_object_get(used, k))
            continue;
        val_buf_puts(&b, b.len ? ", " : "");
        val_buf_puts(&b, k);
    }
    if (!b.len)
        return 0;
    fail(err, "Value provided in %s unused in expressions: keys: {%s}", what, b.p);
    val_buf_free(&b);
    return -1;
}

int ddb_ctx_check_unused(ddb_expr_ctx *c, val_err *err)
{
    if (!c)
        return 0;
    if (c->names && unused(c->names, c->used_names, "ExpressionAttributeNames", err) < 0)
        return -1;
    return unused(c->values, c->used_values, "ExpressionAttributeValues", err);
}

/* ------------------------------------------------------------------ trees */

enum node_kind { N_PATH, N_VALUE, N_FUNC, N_CMP, N_BETWEEN, N_IN, N_AND, N_OR, N_NOT, N_PLUS, N_MINUS };
enum func_id { F_UNKNOWN, F_EXISTS, F_NOT_EXISTS, F_TYPE, F_BEGINS, F_CONTAINS, F_SIZE, F_IF_NOT_EXISTS, F_APPEND };

struct pel {
    const char *name; /* NULL: a list index */
    long index;
};

struct path {
    int n;
    struct pel *el;
};

struct node {
    int kind;
    int op; /* N_CMP: a token type; N_FUNC: a func_id */
    int parens;
    int nargs;
    struct node **args;
    struct path *path;   /* N_PATH */
    json_t *val;         /* N_VALUE: borrowed from the context */
    const char *fname;   /* N_FUNC: as written */
};

enum action_kind { A_SET, A_REMOVE, A_ADD, A_DELETE };

struct action {
    int kind;
    struct path *path;
    struct node *val;
};

struct keycond {
    const char *name;
    int op; /* enum ddb_sk_op */
    json_t *v1, *v2;
};

struct ddb_expr {
    enum ddb_expr_kind kind;
    char *member;
    struct node *root;
    struct action *acts;
    int nacts;
    struct path **paths; /* projections */
    int npaths;
    struct keycond *kcs;
    int nkcs;
    void **allocs;
    size_t nallocs, capallocs;
};

static void *ar_alloc(ddb_expr *e, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    if (e->nallocs == e->capallocs) {
        e->capallocs = e->capallocs ? e->capallocs * 2 : 64;
        e->allocs = realloc(e->allocs, e->capallocs * sizeof *e->allocs);
        if (!e->allocs)
            abort();
    }
    e->allocs[e->nallocs++] = p;
    return p;
}

static char *ar_strndup(ddb_expr *e, const char *s, size_t n)
{
    char *p = ar_alloc(e, n + 1);
    memcpy(p, s, n);
    return p;
}

void ddb_expr_free(ddb_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nallocs; i++)
        free(e->allocs[i]);
    free(e->allocs);
    free(e->member);
    free(e);
}

/* "[a, b, [0]]" as DynamoDB prints paths in its messages. */
static void path_text(val_buf *b, const struct path *p)
{
    val_buf_putc(b, '[');
    for (int i = 0; i < p->n; i++) {
        if (i)
            val_buf_puts(b, ", ");
        if (p->el[i].name)
            val_buf_puts(b, p->el[i].name);
        else
            val_buf_printf(b, "[%ld]", p->el[i].index);
    }
    val_buf_putc(b, ']');
}

/* ------------------------------------------------------------- tokenizer */

enum tok_type {
    T_EOF,
    T_NAME,
    T_HASH,
    T_VALUE,
    T_INT,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_COMMA,
    T_DOT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_BAD,
};

struct tok {
    int t;
    int start, end;
};

static int is_ident(int c) { return isalnum(c) || c == '_'; }

/* Splits text into tokens ending with T_EOF; a character that starts no
 * token becomes T_BAD, which the parser reports as a syntax error. */
static struct tok *tokenize(const char *s, int len, int *ntok)
{
    struct tok *t = malloc(((size_t)len + 1) * sizeof *t);
    if (!t)
        abort();
    int n = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        int st = i, type;
        if (isalpha(c) || c == '_') {
            while (i < len && is_ident((unsigned char)s[i]))
                i++;
            type = T_NAME;
        } else if (isdigit(c)) {
            while (i < len && isdigit((unsigned char)s[i]))
                i++;
            type = T_INT;
        } else if ((c == '#' || c == ':') && i + 1 < len && is_ident((unsigned char)s[i + 1])) {
            i++;
            while (i < len && is_ident((unsigned char)s[i]))
                i++;
            type = c == '#' ? T_HASH : T_VALUE;
        } else {
            i++;
            switch (c) {
            case '(': type = T_LP; break;
            case ')': type = T_RP; break;
            case '[': type = T_LB; break;
            case ']': type = T_RB; break;
            case ',': type = T_COMMA; break;
            case '.': type = T_DOT; break;
            case '=': type = T_EQ; break;
            case '+': type = T_PLUS; break;
            case '-': type = T_MINUS; break;
            case '<':
                type = T_LT;
                if (i < len && s[i] == '=')
                    type = T_LE, i++;
                else if (i < len && s[i] == '>')
                    type = T_NE, i++;
                break;
            case '>':
                type = T_GT;
                if (i < len && s[i] == '=')
                    type = T_GE, i++;
                break;
            default:
                type = T_BAD;
                /* The whole UTF-8 character, for the message. */
                while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
                    i++;
            }
        }
        t[n++] = (struct tok){type, st, i};
    }
    t[n++] = (struct tok){T_EOF, len, len};
    *ntok = n;
    return t;
}

/* ------------------------------------------------------------------ parser */

struct ps {
    const char *s;
    struct tok *toks;
    int ntok, pos;
    int depth;
    ddb_expr *e;
    ddb_expr_ctx *c;
    int kind;
    int failed;       /* a syntax error is in err */
    val_err *err;
    int sem_prio;     /* the first semantic error of the best priority */
    char *sem_msg;
    struct path **tpaths; /* update/projection targets, for overlap checks */
    int ntpaths, captpaths;
};

/* Semantic errors are collected while parsing and the most important one
 * is reported once the text parsed, in DynamoDB's order. */
enum {
    P_PARENS = 1,
    P_RESERVED,
    P_FUNCNAME,
    P_MISUSED,
    P_SECTION,
    P_UNDEF,
    P_OVERLAP,
    P_OPERANDS,
    P_DISTINCT,
    P_TYPE,
    P_KEYCOND,
};

static void sem(struct ps *p, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sem(struct ps *p, int prio, const char *fmt, ...)
{
    if (p->sem_msg && p->sem_prio <= prio)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;
    free(p->sem_msg);
    p->sem_msg = msg;
    p->sem_prio = prio;
}

static struct tok *cur(struct ps *p) { return &p->toks[p->pos]; }

static int peek(struct ps *p) { return p->toks[p->pos].t; }

static int tok_is_word(struct ps *p, int i, const char *w)
{
    struct tok *t = &p->toks[i];
    size_t n = (size_t)(t->end - t->start);
    return t->t == T_NAME && strlen(w) == n && strncasecmp(p->s + t->start, w, n) == 0;
}

static int peek_word(struct ps *p, const char *w) { return tok_is_word(p, p->pos, w); }

/* DynamoDB's "Syntax error; token: "X", near: "W X Y"": the text from the
 * token before to the token after. */
static void syntax(struct ps *p)
{
    if (p->failed)
        return;
    p->failed = 1;
    int i = p->pos;
    struct tok *t = &p->toks[i];
    int a = i > 0 ? p->toks[i - 1].start : t->start;
    int b = t->t == T_EOF ? (i > 0 ? p->toks[i - 1].end : t->end)
                          : (p->toks[i + 1].t == T_EOF ? t->end : p->toks[i + 1].end);
    if (t->t == T_EOF)
        fail(p->err, "Invalid %s: Syntax error; token: \"<EOF>\", near: \"%.*s\"", p->e->member, b - a, p->s + a);
    else
        fail(p->err, "Invalid %s: Syntax error; token: \"%.*s\", near: \"%.*s\"", p->e->member, t->end - t->start,
             p->s + t->start, b - a, p->s + a);
}

static int expect(struct ps *p, int type)
{
    if (p->failed)
        return -1;
    if (peek(p) != type) {
        syntax(p);
        return -1;
    }
    p->pos++;
    return 0;
}

static int enter(struct ps *p)
{
    if (p->failed)
        return -1;
    if (++p->depth > EXPR_MAX_DEPTH) {
        p->failed = 1;
        fail(p->err, "Invalid %s: The expression has too many nested levels; the maximum is %d", p->e->member,
             EXPR_MAX_DEPTH);
        return -1;
    }
    return 0;
}

static int is_keyword(struct ps *p, int i)
{
    static const char *const cond[] = {"AND", "OR", "NOT", "BETWEEN", "IN"};
    static const char *const upd[] = {"SET", "REMOVE", "ADD", "DELETE"};
    if (p->kind == DDB_EXPR_UPDATE) {
        for (size_t k = 0; k < 4; k++)
            if (tok_is_word(p, i, upd[k]))
                return 1;
        return 0;
    }
    if (p->kind == DDB_EXPR_PROJECTION)
        return 0;
    for (size_t k = 0; k < 5; k++)
        if (tok_is_word(p, i, cond[k]))
            return 1;
    return 0;
}

static struct node *new_node(struct ps *p, int kind, int nargs)
{
    struct node *n = ar_alloc(p->e, sizeof *n);
    n->kind = kind;
    n->nargs = nargs;
    if (nargs)
        n->args = ar_alloc(p->e, (size_t)nargs * sizeof *n->args);
    return n;
}

/* One element name: a bare name (checked against the reserved words) or
 * a #placeholder resolved through the context. */
static const char *path_name(struct ps *p)
{
    struct tok *t = cur(p);
    const char *s = p->s + t->start;
    int n = t->end - t->start;
    if (t->t == T_NAME && !is_keyword(p, p->pos)) {
        if (is_reserved(s, (size_t)n))
            sem(p, P_RESERVED, "Attribute name is a reserved keyword; reserved keyword: %.*s", n, s);
        p->pos++;
        return ar_strndup(p->e, s, (size_t)n);
    }
    if (t->t == T_HASH) {
        p->pos++;
        char *key = ar_strndup(p->e, s, (size_t)n);
        json_t *v = p->c && p->c->names ? json_object_get(p->c->names, key) : NULL;
        if (!v) {
            sem(p, P_UNDEF,
                "An expression attribute name used in the document path is not defined; attribute name: %s", key);
            return key;
        }
        json_object_set_new(p->c->used_names, key, json_true());
        return ar_strndup(p->e, json_string_value(v), json_string_length(v));
    }
    syntax(p);
    return NULL;
}

static struct path *parse_path(struct ps *p)
{
    struct pel el[EXPR_MAX_PATH];
    int n = 0;
    const char *name = path_name(p);
    if (!name)
        return NULL;
    el[n++] = (struct pel){name, 0};
    for (;;) {
        if (peek(p) == T_DOT) {
            p->pos++;
            name = path_name(p);
            if (!name)
                return NULL;
            if (n == EXPR_MAX_PATH)
                goto deep;
            el[n++] = (struct pel){name, 0};
        } else if (peek(p) == T_LB) {
            p->pos++;
            struct tok *t = cur(p);
            if (t->t != T_INT) {
                syntax(p);
                return NULL;
            }
            long ix = 0;
            for (int i = t->start; i < t->end; i++) {
                ix = ix * 10 + (p->s[i] - '0');
                if (ix > INT_MAX) {
                    syntax(p);
                    return NULL;
                }
            }
            p->pos++;
            if (expect(p, T_RB) < 0)
                return NULL;
            if (n == EXPR_MAX_PATH)
                goto deep;
            el[n++] = (struct pel){NULL, ix};
        } else {
            break;
        }
    }
    struct path *path = ar_alloc(p->e, sizeof *path);
    path->n = n;
    path->el = ar_alloc(p->e, (size_t)n * sizeof *path->el);
    memcpy(path->el, el, (size_t)n * sizeof *el);
    return path;
deep:
    p->failed = 1;
    fail(p->err, "Invalid %s: The document path has too many nesting levels; nesting levels: %d", p->e->member, n + 1);
    return NULL;
}

static struct node *parse_value(struct ps *p)
{
    struct tok *t = cur(p);
    char *key = ar_strndup(p->e, p->s + t->start, (size_t)(t->end - t->start));
    p->pos++;
    struct node *n = new_node(p, N_VALUE, 0);
    n->val = p->c ? json_object_get(p->c->values, key) : NULL;
    if (!n->val)
        sem(p, P_UNDEF, "An expression attribute value used in expression is not defined; attribute value: %s", key);
    else
        json_object_set_new(p->c->used_values, key, json_true());
    return n;
}

static const struct {
    const char *name;
    int id, nargs, update; /* update: 1 = an update function, 0 = a condition one */
} FUNCS[] = {
    {"attribute_exists", F_EXISTS, 1, 0}, {"attribute_not_exists", F_NOT_EXISTS, 1, 0},
    {"attribute_type", F_TYPE, 2, 0},     {"begins_with", F_BEGINS, 2, 0},
    {"contains", F_CONTAINS, 2, 0},       {"size", F_SIZE, 1, 0},
    {"if_not_exists", F_IF_NOT_EXISTS, 2, 1}, {"list_append", F_APPEND, 2, 1},
};

static const char *av_type_of(struct node *n) { return n && n->kind == N_VALUE ? ddb_av_type(n->val) : NULL; }

static int same_path(const struct path *a, const struct path *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++) {
        if (!a->el[i].name != !b->el[i].name)
            return 0;
        if (a->el[i].name ? strcmp(a->el[i].name, b->el[i].name) != 0 : a->el[i].index != b->el[i].index)
            return 0;
    }
    return 1;
}

static void check_distinct(struct ps *p, const char *op, struct node *a, struct node *b)
{
    if (a->kind == N_PATH && b->kind == N_PATH && same_path(a->path, b->path)) {
        val_buf t = {0};
        path_text(&t, a->path);
        sem(p, P_DISTINCT,
            "The first operand must be distinct from the remaining operands for this operator or function; operator: "
            "%s, first operand: %s",
            op, t.p);
        val_buf_free(&t);
    }
}

/* A condition function used as a value (size is the one that is a value). */
static void check_misused(struct ps *p, struct node *n)
{
    if (n->kind == N_FUNC && n->op != F_SIZE && n->op != F_UNKNOWN && p->kind != DDB_EXPR_UPDATE)
        sem(p, P_MISUSED, "The function is not allowed to be used this way in an expression; function: %s", n->fname);
}

static void check_function(struct ps *p, struct node *f)
{
    if (f->op == F_UNKNOWN) {
        sem(p, P_FUNCNAME, "Invalid function name; function: %s", f->fname);
        return;
    }
    int want = 0;
    for (size_t i = 0; i < sizeof FUNCS / sizeof FUNCS[0]; i++)
        if (FUNCS[i].id == f->op)
            want = FUNCS[i].nargs;
    if (f->nargs != want) {
        sem(p, P_OPERANDS,
            "Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d",
            f->fname, f->nargs);
        return;
    }
    if (p->kind != DDB_EXPR_UPDATE)
        for (int i = 0; i < f->nargs; i++)
            check_misused(p, f->args[i]);
    if (f->nargs == 2)
        check_distinct(p, f->fname, f->args[0], f->args[1]);
    const char *t;
    switch (f->op) {
    case F_EXISTS:
    case F_NOT_EXISTS:
    case F_IF_NOT_EXISTS:
        if (f->args[0]->kind != N_PATH)
            sem(p, P_TYPE, "Operator or function requires a document path; operator or function: %s", f->fname);
        break;
    case F_TYPE:
        if (f->args[0]->kind != N_PATH) {
            sem(p, P_TYPE, "Operator or function requires a document path; operator or function: %s", f->fname);
            break;
        }
        t = av_type_of(f->args[1]);
        if (!t || strcmp(t, "S") != 0) {
            sem(p, P_TYPE, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
                f->fname, t ? t : "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
            break;
        }
        {
            const char *name = json_string_value(json_object_get(f->args[1]->val, "S"));
            static const char *const ok[] = {"S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"};
            int found = 0;
            for (size_t i = 0; i < 10; i++)
                found |= strcmp(name, ok[i]) == 0;
            if (!found)
                sem(p, P_TYPE, "Invalid attribute type name found; type: %s, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                    name);
        }
        break;
    case F_BEGINS:
        for (int i = 0; i < 2; i++) {
            t = av_type_of(f->args[i]);
            if (t && strcmp(t, "S") != 0 && strcmp(t, "B") != 0) {
                sem(p, P_TYPE,
                    "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
                    f->fname, t);
                break;
            }
        }
        break;
    case F_SIZE:
        t = av_type_of(f->args[0]);
        if (t && (strcmp(t, "N") == 0 || strcmp(t, "BOOL") == 0 || strcmp(t, "NULL") == 0))
            sem(p, P_TYPE, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
                f->fname, t);
        break;
    case F_APPEND:
        for (int i = 0; i < 2; i++) {
            t = av_type_of(f->args[i]);
            if (t && strcmp(t, "L") != 0) {
                sem(p, P_TYPE,
                    "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
                    f->fname, t);
                break;
            }
        }
        break;
    }
}

static struct node *parse_operand(struct ps *p);

/* name ( operand, ... ) */
static struct node *parse_call(struct ps *p)
{
    struct tok *t = cur(p);
    const char *fname = ar_strndup(p->e, p->s + t->start, (size_t)(t->end - t->start));
    p->pos += 2; /* name ( */
    if (enter(p) < 0)
        return NULL;
    struct node *tmp[EXPR_MAX_IN + 2];
    int n = 0;
    for (;;) {
        struct node *a = parse_operand(p);
        if (!a)
            return NULL;
        if (n < EXPR_MAX_IN + 1)
            tmp[n++] = a;
        if (peek(p) == T_COMMA) {
            p->pos++;
            continue;
        }
        break;
    }
    if (expect(p, T_RP) < 0)
        return NULL;
    p->depth--;
    struct node *f = new_node(p, N_FUNC, n);
    memcpy(f->args, tmp, (size_t)n * sizeof *tmp);
    f->fname = fname;
    f->op = F_UNKNOWN;
    for (size_t i = 0; i < sizeof FUNCS / sizeof FUNCS[0]; i++)
        if (strcmp(FUNCS[i].name, fname) == 0 && FUNCS[i].update == (p->kind == DDB_EXPR_UPDATE))
            f->op = FUNCS[i].id;
    check_function(p, f);
    return f;
}

/* A path, a :value or a function call. */
static struct node *parse_atom(struct ps *p)
{
    if (p->failed)
        return NULL;
    int t = peek(p);
    if (t == T_NAME && p->toks[p->pos + 1].t == T_LP && !is_keyword(p, p->pos))
        return parse_call(p);
    if (t == T_VALUE)
        return parse_value(p);
    if (t == T_NAME || t == T_HASH) {
        struct path *path = parse_path(p);
        if (!path)
            return NULL;
        struct node *n = new_node(p, N_PATH, 0);
        n->path = path;
        return n;
    }
    syntax(p);
    return NULL;
}

/* An operand, possibly in parentheses ("((a))" is redundant). */
static struct node *parse_operand(struct ps *p)
{
    if (p->failed)
        return NULL;
    if (peek(p) != T_LP)
        return parse_atom(p);
    if (enter(p) < 0)
        return NULL;
    p->pos++;
    struct node *n = parse_operand(p);
    if (!n || expect(p, T_RP) < 0)
        return NULL;
    p->depth--;
    if (n->parens && p->kind != DDB_EXPR_UPDATE)
        sem(p, P_PARENS, "The expression has redundant parentheses;");
    n->parens = 1;
    return n;
}

static int is_cond(const struct node *n)
{
    if (n->kind == N_FUNC)
        return n->op != F_SIZE;
    return n->kind >= N_CMP && n->kind <= N_NOT;
}

/* n must be a condition: size() is DynamoDB's "not allowed this way", a
 * path or a value a syntax error at the current token. */
static int need_cond(struct ps *p, struct node *n)
{
    if (!n)
        return -1;
    if (n->kind == N_FUNC && n->op == F_SIZE) {
        sem(p, P_MISUSED, "The function is not allowed to be used this way in an expression; function: %s", n->fname);
        return 0;
    }
    if (!is_cond(n)) {
        syntax(p);
        return -1;
    }
    return 0;
}

static const char *cmp_text(int t)
{
    switch (t) {
    case T_EQ: return "=";
    case T_NE: return "<>";
    case T_LT: return "<";
    case T_LE: return "<=";
    case T_GT: return ">";
    default: return ">=";
    }
}

static struct node *parse_or(struct ps *p);

/* A comparison, BETWEEN or IN after its first operand x, or x itself. */
static struct node *parse_tail(struct ps *p, struct node *x)
{
    int t = peek(p);
    if (t >= T_EQ && t <= T_GE) {
        p->pos++;
        struct node *y = parse_operand(p);
        if (!y)
            return NULL;
        check_misused(p, x);
        check_misused(p, y);
        check_distinct(p, cmp_text(t), x, y);
        struct node *n = new_node(p, N_CMP, 2);
        n->op = t;
        n->args[0] = x;
        n->args[1] = y;
        return n;
    }
    if (peek_word(p, "BETWEEN")) {
        p->pos++;
        struct node *lo = parse_operand(p);
        if (!lo)
            return NULL;
        if (!peek_word(p, "AND")) {
            syntax(p);
            return NULL;
        }
        p->pos++;
        struct node *hi = parse_operand(p);
        if (!hi)
            return NULL;
        check_misused(p, x);
        check_misused(p, lo);
        check_misused(p, hi);
        const char *ta = av_type_of(lo), *tb = av_type_of(hi);
        if (ta && tb) {
            int c;
            char *a = val_dump(json_object_iter_value(json_object_iter(lo->val)), NULL);
            char *b = val_dump(json_object_iter_value(json_object_iter(hi->val)), NULL);
            /* DynamoDB prints the bare value: {N:1}, {S:abc}. */
            const char *as = json_is_string(json_object_iter_value(json_object_iter(lo->val)))
                                 ? json_string_value(json_object_iter_value(json_object_iter(lo->val)))
                                 : a;
            const char *bs = json_is_string(json_object_iter_value(json_object_iter(hi->val)))
                                 ? json_string_value(json_object_iter_value(json_object_iter(hi->val)))
                                 : b;
            if (strcmp(ta, tb) != 0)
                sem(p, P_TYPE,
                    "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: "
                    "AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}",
                    ta, as, tb, bs);
            else if (ddb_av_cmp(lo->val, hi->val, &c) == 0 && c > 0)
                sem(p, P_TYPE,
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound "
                    "operand: AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}",
                    ta, as, tb, bs);
            free(a);
            free(b);
        }
        struct node *n = new_node(p, N_BETWEEN, 3);
        n->args[0] = x;
        n->args[1] = lo;
        n->args[2] = hi;
        return n;
    }
    if (peek_word(p, "IN")) {
        p->pos++;
        if (expect(p, T_LP) < 0)
            return NULL;
        struct node *tmp[EXPR_MAX_IN + 1];
        int n = 0, total = 0;
        for (;;) {
            struct node *a = parse_operand(p);
            if (!a)
                return NULL;
            check_misused(p, a);
            total++;
            if (n < EXPR_MAX_IN)
                tmp[n++] = a;
            if (peek(p) == T_COMMA) {
                p->pos++;
                continue;
            }
            break;
        }
        if (expect(p, T_RP) < 0)
            return NULL;
        check_misused(p, x);
        if (total > EXPR_MAX_IN)
            sem(p, P_OPERANDS, "The IN operator is provided with too many operands; number of operands: %d", total);
        struct node *in = new_node(p, N_IN, n + 1);
        in->args[0] = x;
        memcpy(in->args + 1, tmp, (size_t)n * sizeof *tmp);
        return in;
    }
    return x;
}

static struct node *parse_primary(struct ps *p)
{
    if (p->failed)
        return NULL;
    struct node *x;
    if (peek(p) == T_LP) {
        if (enter(p) < 0)
            return NULL;
        p->pos++;
        x = parse_or(p);
        if (!x || expect(p, T_RP) < 0)
            return NULL;
        p->depth--;
        if (x->parens)
            sem(p, P_PARENS, "The expression has redundant parentheses;");
        x->parens = 1;
        if (is_cond(x))
            return x;
    } else {
        x = parse_atom(p);
        if (!x)
            return NULL;
    }
    return parse_tail(p, x);
}

static struct node *parse_not(struct ps *p)
{
    if (p->failed)
        return NULL;
    if (!peek_word(p, "NOT"))
        return parse_primary(p);
    if (enter(p) < 0)
        return NULL;
    p->pos++;
    struct node *x = parse_not(p);
    if (need_cond(p, x) < 0)
        return NULL;
    p->depth--;
    struct node *n = new_node(p, N_NOT, 1);
    n->args[0] = x;
    return n;
}

/* A left-associative chain of operand (word operand)...: AND over NOT
 * terms, OR over AND chains, so AND binds tighter than OR; a loop, so long
 * chains cost no stack. */
static struct node *parse_chain(struct ps *p, const char *word, int kind, struct node *(*operand)(struct ps *))
{
    struct node *x = operand(p);
    while (x && peek_word(p, word)) {
        if (need_cond(p, x) < 0)
            return NULL;
        p->pos++;
        struct node *y = operand(p);
        if (need_cond(p, y) < 0)
            return NULL;
        struct node *n = new_node(p, kind, 2);
        n->args[0] = x;
        n->args[1] = y;
        x = n;
    }
    return x;
}

static struct node *parse_and(struct ps *p) { return parse_chain(p, "AND", N_AND, parse_not); }

static struct node *parse_or(struct ps *p) { return parse_chain(p, "OR", N_OR, parse_and); }

/* ------------------------------------------------- key condition checks */

static void keycond_collect(struct ps *p, struct node *n, struct keycond *out, int *nout, int cap)
{
    if (n->kind == N_AND) {
        keycond_collect(p, n->args[0], out, nout, cap);
        keycond_collect(p, n->args[1], out, nout, cap);
        return;
    }
    if (n->kind == N_OR || n->kind == N_NOT || n->kind == N_IN || (n->kind == N_CMP && n->op == T_NE)) {
        const char *w = n->kind == N_OR ? "OR" : n->kind == N_NOT ? "NOT" : n->kind == N_IN ? "IN" : "<>";
        sem(p, P_KEYCOND, "Invalid operator used in KeyConditionExpression: %s", w);
        return;
    }
    if (n->kind == N_FUNC && n->op != F_BEGINS) {
        if (n->op == F_SIZE)
            sem(p, P_KEYCOND, "KeyConditionExpressions cannot contain nested operations");
        else
            sem(p, P_KEYCOND, "Invalid operator used in KeyConditionExpression: %s", n->fname);
        return;
    }
    if ((n->kind == N_BETWEEN || n->kind == N_FUNC) && n->args[0]->kind != N_PATH) {
        sem(p, P_KEYCOND,
            "Invalid condition in KeyConditionExpression: %s operator must have the key attribute as its first operand",
            n->kind == N_BETWEEN ? "BETWEEN" : n->fname);
        return;
    }
    const char *name = NULL;
    int at = 0;
    for (int i = 0; i < n->nargs; i++) {
        struct node *a = n->args[i];
        if (a->kind == N_PATH) {
            if (name) {
                sem(p, P_KEYCOND, "Invalid condition in KeyConditionExpression: Multiple attribute names used in one "
                                  "condition");
                return;
            }
            if (a->path->n > 1) {
                sem(p, P_KEYCOND, "KeyConditionExpressions cannot have conditions on nested attributes");
                return;
            }
            name = a->path->el[0].name;
            at = i;
        } else if (a->kind != N_VALUE) {
            sem(p, P_KEYCOND, "KeyConditionExpressions cannot contain nested operations");
            return;
        }
    }
    if (!name) {
        sem(p, P_KEYCOND, "Invalid condition in KeyConditionExpression: No key attribute specified");
        return;
    }
    for (int i = 0; i < *nout; i++)
        if (strcmp(out[i].name, name) == 0) {
            sem(p, P_KEYCOND, "KeyConditionExpressions must only contain one condition per key");
            return;
        }
    if (*nout >= cap)
        return;
    struct keycond k = {.name = name};
    if (n->kind == N_BETWEEN) {
        k.op = DDB_SK_BETWEEN;
        k.v1 = n->args[1]->val;
        k.v2 = n->args[2]->val;
    } else if (n->kind == N_FUNC) {
        k.op = DDB_SK_BEGINS;
        k.v1 = n->args[1]->val;
    } else {
        /* ":v < k" is "k > :v". */
        int op = n->op;
        if (at == 1)
            op = op == T_LT ? T_GT : op == T_LE ? T_GE : op == T_GT ? T_LT : op == T_GE ? T_LE : op;
        k.op = op == T_EQ ? DDB_SK_EQ : op == T_LT ? DDB_SK_LT : op == T_LE ? DDB_SK_LE : op == T_GT ? DDB_SK_GT : DDB_SK_GE;
        k.v1 = n->args[at == 0 ? 1 : 0]->val;
    }
    out[(*nout)++] = k;
}

/* ------------------------------------------------- update and projection */

static void add_target(struct ps *p, struct path *path)
{
    for (int i = 0; i < p->ntpaths; i++) {
        struct path *a = p->tpaths[i];
        int k, conflict = 0;
        for (k = 0; k < a->n && k < path->n; k++) {
            if (!a->el[k].name != !path->el[k].name) {
                conflict = 1;
                break;
            }
            if (a->el[k].name ? strcmp(a->el[k].name, path->el[k].name) != 0 : a->el[k].index != path->el[k].index)
                break;
        }
        if (conflict || k == a->n || k == path->n) {
            val_buf t = {0};
            val_buf_puts(&t, conflict ? "Two document paths conflict with each other"
                                      : "Two document paths overlap with each other");
            val_buf_puts(&t, "; must remove or rewrite one of these paths; path one: ");
            path_text(&t, a);
            val_buf_puts(&t, ", path two: ");
            path_text(&t, path);
            sem(p, P_OVERLAP, "%s", t.p);
            val_buf_free(&t);
            break;
        }
    }
    if (p->ntpaths == p->captpaths) {
        p->captpaths = p->captpaths ? p->captpaths * 2 : 16;
        p->tpaths = realloc(p->tpaths, (size_t)p->captpaths * sizeof *p->tpaths);
        if (!p->tpaths)
            abort();
    }
    p->tpaths[p->ntpaths++] = path;
}

/* An update operand: a path, a value, a function, in parentheses or not
 * (parse_operand does all of that with update functions). */
static struct node *parse_set_value(struct ps *p)
{
    struct node *x;
    if (peek(p) == T_LP) {
        if (enter(p) < 0)
            return NULL;
        p->pos++;
        x = parse_set_value(p);
        if (!x || expect(p, T_RP) < 0)
            return NULL;
        p->depth--;
        if (x->kind == N_PLUS || x->kind == N_MINUS) {
            x->parens = 1;
            return x; /* "(a + b) + c" is refused below by the caller seeing '+' */
        }
    } else {
        x = parse_operand(p);
        if (!x)
            return NULL;
    }
    int t = peek(p);
    if (t == T_PLUS || t == T_MINUS) {
        if (x->kind == N_PLUS || x->kind == N_MINUS) {
            syntax(p);
            return NULL;
        }
        p->pos++;
        struct node *y = parse_operand(p);
        if (!y)
            return NULL;
        const char *op = t == T_PLUS ? "+" : "-";
        for (int i = 0; i < 2; i++) {
            const char *ty = av_type_of(i ? y : x);
            if (ty && strcmp(ty, "N") != 0) {
                sem(p, P_TYPE,
                    "Incorrect operand type for operator or function; operator or function: %s, operand type: %s", op,
                    ty);
                break;
            }
        }
        struct node *n = new_node(p, t == T_PLUS ? N_PLUS : N_MINUS, 2);
        n->args[0] = x;
        n->args[1] = y;
        return n;
    }
    return x;
}

static const char *upper_type(const char *t)
{
    if (!t)
        return "UNKNOWN";
    if (!strcmp(t, "S"))
        return "STRING";
    if (!strcmp(t, "N"))
        return "NUMBER";
    if (!strcmp(t, "B"))
        return "BINARY";
    if (!strcmp(t, "BOOL"))
        return "BOOLEAN";
    if (!strcmp(t, "NULL"))
        return "NULL";
    if (!strcmp(t, "L"))
        return "LIST";
    if (!strcmp(t, "M"))
        return "MAP";
    return t;
}

static int parse_update(struct ps *p)
{
    static const char *const names[] = {"SET", "REMOVE", "ADD", "DELETE"};
    int seen[4] = {0};
    int cap = 16;
    p->e->acts = NULL;
    struct action *acts = malloc((size_t)cap * sizeof *acts);
    int n = 0;
    if (!acts)
        abort();
    do {
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (peek_word(p, names[i]))
                k = i;
        if (k < 0) {
            syntax(p);
            break;
        }
        if (seen[k]++)
            sem(p, P_SECTION, "The \"%s\" section can only be used once in an update expression;", names[k]);
        p->pos++;
        for (;;) {
            struct action a = {.kind = k};
            a.path = parse_path(p);
            if (!a.path)
                break;
            if (k == A_SET) {
                if (expect(p, T_EQ) < 0)
                    break;
                a.val = parse_set_value(p);
                if (!a.val)
                    break;
            } else if (k == A_ADD || k == A_DELETE) {
                if (peek(p) != T_VALUE) {
                    syntax(p);
                    break;
                }
                a.val = parse_value(p);
                const char *t = av_type_of(a.val);
                int ok = !t || (k == A_ADD && strcmp(t, "N") == 0) || strcmp(t, "SS") == 0 || strcmp(t, "NS") == 0 ||
                         strcmp(t, "BS") == 0;
                if (!ok)
                    sem(p, P_TYPE,
                        "Incorrect operand type for operator or function; operator: %s, operand type: %s, typeSet: "
                        "ALLOWED_FOR_%s_OPERAND",
                        names[k], upper_type(t), names[k]);
            }
            add_target(p, a.path);
            if (n == cap) {
                cap *= 2;
                acts = realloc(acts, (size_t)cap * sizeof *acts);
                if (!acts)
                    abort();
            }
            acts[n++] = a;
            if (peek(p) != T_COMMA)
                break;
            p->pos++;
        }
    } while (!p->failed && peek(p) != T_EOF);
    p->e->acts = ar_alloc(p->e, (size_t)n * sizeof *acts);
    memcpy(p->e->acts, acts, (size_t)n * sizeof *acts);
    p->e->nacts = n;
    free(acts);
    return p->failed ? -1 : 0;
}

static int parse_projection(struct ps *p)
{
    for (;;) {
        struct path *path = parse_path(p);
        if (!path)
            return -1;
        add_target(p, path);
        if (peek(p) != T_COMMA)
            break;
        p->pos++;
    }
    if (peek(p) != T_EOF) {
        syntax(p);
        return -1;
    }
    p->e->paths = ar_alloc(p->e, (size_t)p->ntpaths * sizeof *p->e->paths);
    memcpy(p->e->paths, p->tpaths, (size_t)p->ntpaths * sizeof *p->tpaths);
    p->e->npaths = p->ntpaths;
    return 0;
}

ddb_expr *ddb_expr_parse(enum ddb_expr_kind kind, const char *text, const char *member, ddb_expr_ctx *c,
                         val_err *err)
{
    if (!member)
        member = kind == DDB_EXPR_CONDITION       ? "ConditionExpression"
                 : kind == DDB_EXPR_KEY_CONDITION ? "KeyConditionExpression"
                 : kind == DDB_EXPR_UPDATE        ? "UpdateExpression"
                                                  : "ProjectionExpression";
    if (!text || !*text) {
        fail(err, "Invalid %s: The expression can not be empty;", member);
        return NULL;
    }
    size_t len = strlen(text);
    if (len > EXPR_MAX_SIZE) {
        fail(err, "Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %zu", member,
             len);
        return NULL;
    }
    ddb_expr *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->kind = kind;
    e->member = strdup(member);
    struct ps p = {.s = text, .e = e, .c = c, .kind = kind, .err = err};
    p.toks = tokenize(text, (int)len, &p.ntok);
    int r;
    if (kind == DDB_EXPR_UPDATE) {
        r = parse_update(&p);
    } else if (kind == DDB_EXPR_PROJECTION) {
        r = parse_projection(&p);
    } else {
        e->root = parse_or(&p);
        r = need_cond(&p, e->root);
        if (r == 0 && peek(&p) != T_EOF) {
            syntax(&p);
            r = -1;
        }
        /* Key conditions are taken apart only from a tree with no other
         * error: a function may have the wrong number of operands. */
        if (r == 0 && kind == DDB_EXPR_KEY_CONDITION && !p.sem_msg) {
            int cap = 8;
            e->kcs = ar_alloc(e, (size_t)cap * sizeof *e->kcs);
            /* Past cap conditions stop being kept: more than two is
             * refused by ddb_keycond_get either way. */
            keycond_collect(&p, e->root, e->kcs, &e->nkcs, cap);
        }
    }
    if (r == 0 && p.sem_msg) {
        fail(err, "Invalid %s: %s", member, p.sem_msg);
        r = -1;
    }
    free(p.sem_msg);
    free(p.toks);
    free(p.tpaths);
    if (r < 0) {
        if (err && err->kind == VAL_ERR_NONE)
            fail(err, "Invalid %s: Syntax error", member);
        ddb_expr_free(e);
        return NULL;
    }
    return e;
}

/* ------------------------------------------------------------ evaluation */

static json_t *av_payload(json_t *av, const char *type)
{
    const char *t = ddb_av_type(av);
    return t && strcmp(t, type) == 0 ? json_object_get(av, type) : NULL;
}

/* The value at path in item (borrowed), NULL when there is none. */
static json_t *path_get(json_t *item, const struct path *path)
{
    if (!item || !path->el[0].name)
        return NULL;
    json_t *v = json_object_get(item, path->el[0].name);
    for (int i = 1; v && i < path->n; i++) {
        if (path->el[i].name) {
            json_t *m = av_payload(v, "M");
            v = m ? json_object_get(m, path->el[i].name) : NULL;
        } else {
            json_t *l = av_payload(v, "L");
            v = l ? json_array_get(l, (size_t)path->el[i].index) : NULL;
        }
    }
    return v;
}

static unsigned char *bytes_of(json_t *av, const char *type, size_t *n)
{
    json_t *s = av_payload(av, type);
    if (!json_is_string(s))
        return NULL;
    if (type[0] == 'S') {
        *n = json_string_length(s);
        unsigned char *c = malloc(*n + 1);
        if (!c)
            abort();
        memcpy(c, json_string_value(s), *n);
        return c;
    }
    const char *why;
    return ddbp_b64_decode(json_string_value(s), json_string_length(s), n, &why);
}

static json_t *num_av(size_t n)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", n);
    return json_pack("{s:s}", "N", buf);
}

/* size(): S in UTF-8 bytes, B in decoded bytes, sets, lists and maps in
 * members; other types have no size (the comparison is then false). */
static json_t *size_of(json_t *v)
{
    const char *t = ddb_av_type(v);
    if (!t)
        return NULL;
    json_t *p = json_object_get(v, t);
    if (!strcmp(t, "S"))
        return num_av(json_string_length(p));
    if (!strcmp(t, "B"))
        return num_av(ddb_av_size(v));
    if (!strcmp(t, "M"))
        return num_av(json_object_size(p));
    if (!strcmp(t, "L") || !strcmp(t, "SS") || !strcmp(t, "NS") || !strcmp(t, "BS"))
        return num_av(json_array_size(p));
    return NULL;
}

/* A condition operand's value: a new reference, NULL when missing. */
static json_t *cond_operand(const struct node *n, json_t *item)
{
    switch (n->kind) {
    case N_PATH:
        return json_incref(path_get(item, n->path));
    case N_VALUE:
        return json_incref(n->val);
    case N_FUNC:
        if (n->op == F_SIZE) {
            json_t *v = cond_operand(n->args[0], item);
            json_t *s = v ? size_of(v) : NULL;
            json_decref(v);
            return s;
        }
        return NULL;
    }
    return NULL;
}

/* Where member m (a JSON string) is in the set array arr of set type
 * settype, or -1. Strings and base64 (strict, so one text per byte
 * string) compare as text, numbers by value. */
static long set_index(const char *settype, json_t *arr, json_t *m)
{
    ddb_num x, y;
    int num = settype[0] == 'N' && json_is_string(m) && ddb_num_parse(json_string_value(m), &x, NULL) == 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (num ? json_is_string(v) && ddb_num_parse(json_string_value(v), &y, NULL) == 0 && ddb_num_cmp(&x, &y) == 0
                : json_equal(v, m))
            return (long)i;
    }
    return -1;
}

static int begins_with(json_t *a, json_t *b)
{
    const char *ta = ddb_av_type(a), *tb = ddb_av_type(b);
    if (!ta || !tb || strcmp(ta, tb) != 0 || (strcmp(ta, "S") != 0 && strcmp(ta, "B") != 0))
        return 0;
    size_t na, nb;
    unsigned char *x = bytes_of(a, ta, &na), *y = bytes_of(b, tb, &nb);
    int r = x && y && nb <= na && memcmp(x, y, nb) == 0;
    free(x);
    free(y);
    return r;
}

static int contains(json_t *a, json_t *b)
{
    const char *ta = ddb_av_type(a), *tb = ddb_av_type(b);
    if (!ta || !tb)
        return 0;
    if ((!strcmp(ta, "S") && !strcmp(tb, "S")) || (!strcmp(ta, "B") && !strcmp(tb, "B"))) {
        size_t na, nb;
        unsigned char *x = bytes_of(a, ta, &na), *y = bytes_of(b, tb, &nb);
        int r = x && y && (nb == 0 || memmem(x, na, y, nb) != NULL);
        free(x);
        free(y);
        return r;
    }
    json_t *arr = json_object_get(a, ta);
    if (!strcmp(ta, "L")) {
        for (size_t i = 0; i < json_array_size(arr); i++)
            if (ddb_av_equal(json_array_get(arr, i), b))
                return 1;
        return 0;
    }
    if ((!strcmp(ta, "SS") && !strcmp(tb, "S")) || (!strcmp(ta, "NS") && !strcmp(tb, "N")) ||
        (!strcmp(ta, "BS") && !strcmp(tb, "B")))
        return set_index(ta, arr, json_object_get(b, tb)) >= 0;
    return 0;
}

static int cond_eval(const ddb_expr *e, const struct node *n, json_t *item, val_err *err)
{
    int r = 0, c;
    json_t *a = NULL, *b = NULL, *x = NULL;
    switch (n->kind) {
    case N_AND:
        r = cond_eval(e, n->args[0], item, err);
        return r == 1 ? cond_eval(e, n->args[1], item, err) : r;
    case N_OR:
        r = cond_eval(e, n->args[0], item, err);
        return r == 0 ? cond_eval(e, n->args[1], item, err) : r;
    case N_NOT:
        r = cond_eval(e, n->args[0], item, err);
        return r < 0 ? r : !r;
    case N_CMP:
        a = cond_operand(n->args[0], item);
        b = cond_operand(n->args[1], item);
        if (n->op == T_EQ)
            r = a && b && ddb_av_equal(a, b);
        else if (n->op == T_NE)
            r = !(a && b && ddb_av_equal(a, b));
        else if (a && b && ddb_av_cmp(a, b, &c) == 0)
            r = n->op == T_LT ? c < 0 : n->op == T_LE ? c <= 0 : n->op == T_GT ? c > 0 : c >= 0;
        break;
    case N_BETWEEN:
        x = cond_operand(n->args[0], item);
        a = cond_operand(n->args[1], item);
        b = cond_operand(n->args[2], item);
        if (a && b && ddb_av_cmp(a, b, &c) == 0 && c > 0) {
            char *sa = val_dump(a, NULL), *sb = val_dump(b, NULL);
            fail(err,
                 "Invalid %s: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                 "lower bound operand: AttributeValue: %s, upper bound operand: AttributeValue: %s",
                 e->member, sa, sb);
            free(sa);
            free(sb);
            r = -1;
            break;
        }
        if (x && a && b) {
            int c2;
            r = ddb_av_cmp(x, a, &c) == 0 && ddb_av_cmp(x, b, &c2) == 0 && c >= 0 && c2 <= 0;
        }
        break;
    case N_IN:
        x = cond_operand(n->args[0], item);
        for (int i = 1; x && i < n->nargs && !r; i++) {
            json_t *v = cond_operand(n->args[i], item);
            r = v && ddb_av_equal(x, v);
            json_decref(v);
        }
        break;
    case N_FUNC:
        a = cond_operand(n->args[0], item);
        switch (n->op) {
        case F_EXISTS:
            r = a != NULL;
            break;
        case F_NOT_EXISTS:
            r = a == NULL;
            break;
        case F_TYPE:
            b = cond_operand(n->args[1], item);
            if (a && b) {
                const char *t = ddb_av_type(a);
                json_t *want = av_payload(b, "S");
                r = t && json_is_string(want) && strcmp(t, json_string_value(want)) == 0;
            }
            break;
        case F_BEGINS:
            b = cond_operand(n->args[1], item);
            r = a && b && begins_with(a, b);
            break;
        case F_CONTAINS:
            b = cond_operand(n->args[1], item);
            r = a && b && contains(a, b);
            break;
        default:
            r = 0;
        }
        break;
    default:
        r = 0;
    }
    json_decref(a);
    json_decref(b);
    json_decref(x);
    return r;
}

int ddb_cond_eval(const ddb_expr *e, json_t *item, val_err *err)
{
    if (!e || !e->root)
        return 1;
    return cond_eval(e, e->root, item, err);
}

/* --------------------------------------------------------- key conditions */

int ddb_keycond_get(const ddb_expr *e, json_t *key_schema, struct ddb_keycond *out, val_err *err)
{
    const char *hash = NULL, *range = NULL;
    size_t i;
    json_t *k;
    json_array_foreach(key_schema, i, k)
    {
        const char *name = json_string_value(json_object_get(k, "AttributeName"));
        const char *type = json_string_value(json_object_get(k, "KeyType"));
        if (!name || !type)
            continue;
        if (!strcmp(type, "HASH"))
            hash = name;
        else if (!strcmp(type, "RANGE"))
            range = name;
    }
    memset(out, 0, sizeof *out);
    if (!e || e->kind != DDB_EXPR_KEY_CONDITION || !hash) {
        fail(err, "Query key condition not supported");
        return -1;
    }
    if (e->nkcs > 2) {
        fail(err, "Conditions can be of length 1 or 2 only");
        return -1;
    }
    const struct keycond *h = NULL, *r = NULL;
    for (int j = 0; j < e->nkcs; j++) {
        if (!strcmp(e->kcs[j].name, hash))
            h = &e->kcs[j];
        else if (range && !strcmp(e->kcs[j].name, range))
            r = &e->kcs[j];
        else {
            fail(err, "Query condition missed key schema element: %s", range ? range : hash);
            return -1;
        }
    }
    if (!h) {
        fail(err, "Query condition missed key schema element: %s", hash);
        return -1;
    }
    if (h->op != DDB_SK_EQ) {
        fail(err, "Query key condition not supported");
        return -1;
    }
    out->pk_name = h->name;
    out->pk_value = h->v1;
    out->op = DDB_SK_NONE;
    if (r) {
        out->sk_name = r->name;
        out->op = (enum ddb_sk_op)r->op;
        out->v1 = r->v1;
        out->v2 = r->v2;
    }
    return 0;
}

/* ---------------------------------------------------------------- updates */

/* An update operand's value (new reference) or NULL with err. Evaluated
 * against the item as it was before the update. */
static json_t *upd_operand(const struct node *n, json_t *item, val_err *err)
{
    json_t *a, *b, *r;
    switch (n->kind) {
    case N_VALUE:
        return json_incref(n->val);
    case N_PATH:
        a = path_get(item, n->path);
        if (!a)
            fail(err, "The provided expression refers to an attribute that does not exist in the item");
        return json_incref(a);
    case N_FUNC:
        if (n->op == F_IF_NOT_EXISTS) {
            a = n->args[0]->kind == N_PATH ? path_get(item, n->args[0]->path) : NULL;
            return a ? json_incref(a) : upd_operand(n->args[1], item, err);
        }
        if (n->op == F_APPEND) {
            a = upd_operand(n->args[0], item, err);
            b = a ? upd_operand(n->args[1], item, err) : NULL;
            r = NULL;
            if (a && b) {
                json_t *la = av_payload(a, "L"), *lb = av_payload(b, "L");
                if (!la || !lb) {
                    fail(err, "An operand in the update expression has an incorrect data type");
                } else {
                    json_t *l = json_array();
                    json_array_extend(l, la);
                    json_array_extend(l, lb);
                    r = json_object();
                    val_obj_set_take(r, "L", l);
                }
            }
            json_decref(a);
            json_decref(b);
            return r;
        }
        fail(err, "Invalid UpdateExpression: Invalid function name; function: %s", n->fname);
        return NULL;
    case N_PLUS:
    case N_MINUS:
        a = upd_operand(n->args[0], item, err);
        b = a ? upd_operand(n->args[1], item, err) : NULL;
        r = NULL;
        if (a && b) {
            json_t *na = av_payload(a, "N"), *nb = av_payload(b, "N");
            ddb_num x, y, z;
            if (!na || !nb) {
                fail(err, "An operand in the update expression has an incorrect data type");
            } else if (ddb_num_parse(json_string_value(na), &x, err) == 0 &&
                       ddb_num_parse(json_string_value(nb), &y, err) == 0 &&
                       (n->kind == N_PLUS ? ddb_num_add(&x, &y, &z, err) : ddb_num_sub(&x, &y, &z, err)) == 0) {
                char *t = ddb_num_format(&z);
                r = json_pack("{s:s}", "N", t);
                free(t);
            }
        }
        json_decref(a);
        json_decref(b);
        return r;
    }
    fail(err, "An operand in the update expression has an incorrect data type");
    return NULL;
}

/* Makes the container value at slot (key in an object, or index in an
 * array) the only reference, copying it when shared, and returns it:
 * values in an item may be shared with other items (the caller's copy of
 * the old item), which must not change. */
static json_t *own_in_object(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v && v->refcount > 1) {
        v = json_copy(v);
        json_object_set_new(obj, key, v);
    }
    return v;
}

static json_t *own_in_array(json_t *arr, size_t i)
{
    json_t *v = json_array_get(arr, i);
    if (v && v->refcount > 1) {
        v = json_copy(v);
        json_array_set_new(arr, i, v);
    }
    return v;
}

/* The container (an item/map object or a list array) holding the last
 * element of path, made private along the way; NULL when the path does
 * not lead to one of the right type. */
static json_t *parent_for_write(json_t *item, const struct path *path)
{
    json_t *cont = item;
    for (int i = 0; i < path->n - 1; i++) {
        const struct pel *el = &path->el[i];
        json_t *av = el->name ? (json_is_object(cont) ? own_in_object(cont, el->name) : NULL)
                              : (json_is_array(cont) ? own_in_array(cont, (size_t)el->index) : NULL);
        if (!av)
            return NULL;
        const char *want = path->el[i + 1].name ? "M" : "L";
        if (!av_payload(av, want))
            return NULL;
        cont = own_in_object(av, want);
    }
    return cont;
}

static int key_touched(const ddb_expr *e, json_t *key_schema, val_err *err)
{
    size_t i;
    json_t *k;
    json_array_foreach(key_schema, i, k)
    {
        const char *name = json_string_value(json_object_get(k, "AttributeName"));
        if (!name)
            continue;
        for (int j = 0; j < e->nacts; j++)
            if (!strcmp(e->acts[j].path->el[0].name, name)) {
                fail(err, "One or more parameter values were invalid: Cannot update attribute %s. This attribute is "
                          "part of the key",
                     name);
                return -1;
            }
    }
    return 0;
}

static int apply_one(const struct action *a, json_t *value, json_t *item, val_err *err)
{
    const struct path *path = a->path;
    json_t *cont = parent_for_write(item, path);
    const struct pel *last = &path->el[path->n - 1];
    if (!cont || (last->name ? !json_is_object(cont) : !json_is_array(cont))) {
        fail(err, "The document path provided in the update expression is invalid for update");
        return -1;
    }
    json_t *cur = last->name ? json_object_get(cont, last->name) : json_array_get(cont, (size_t)last->index);
    json_t *next = NULL;
    switch (a->kind) {
    case A_SET:
        next = json_incref(value);
        break;
    case A_REMOVE:
        if (last->name)
            json_object_del(cont, last->name);
        else if ((size_t)last->index < json_array_size(cont))
            json_array_remove(cont, (size_t)last->index);
        return 0;
    case A_ADD:
    case A_DELETE: {
        const char *tv = ddb_av_type(value), *tc = cur ? ddb_av_type(cur) : NULL;
        if (cur && (!tc || strcmp(tc, tv) != 0)) {
            fail(err, "An operand in the update expression has an incorrect data type");
            return -1;
        }
        if (a->kind == A_ADD && !strcmp(tv, "N")) {
            ddb_num x = {0}, y, z;
            if (cur && ddb_num_parse(json_string_value(json_object_get(cur, "N")), &x, err) < 0)
                return -1;
            if (ddb_num_parse(json_string_value(json_object_get(value, "N")), &y, err) < 0 ||
                ddb_num_add(&x, &y, &z, err) < 0)
                return -1;
            char *t = ddb_num_format(&z);
            next = json_pack("{s:s}", "N", t);
            free(t);
        } else if (a->kind == A_ADD) {
            json_t *arr = json_array(), *add = json_object_get(value, tv);
            if (cur)
                json_array_extend(arr, json_object_get(cur, tv));
            for (size_t i = 0; i < json_array_size(add); i++)
                if (set_index(tv, arr, json_array_get(add, i)) < 0)
                    json_array_append(arr, json_array_get(add, i));
            next = json_object();
            val_obj_set_take(next, tv, arr);
        } else {
            if (!cur)
                return 0;
            json_t *arr = json_array(), *had = json_object_get(cur, tv), *del = json_object_get(value, tv);
            for (size_t i = 0; i < json_array_size(had); i++)
                if (set_index(tv, del, json_array_get(had, i)) < 0)
                    json_array_append(arr, json_array_get(had, i));
            if (json_array_size(arr) == 0) {
                json_decref(arr);
                if (last->name)
                    json_object_del(cont, last->name);
                else
                    json_array_remove(cont, (size_t)last->index);
                return 0;
            }
            next = json_object();
            val_obj_set_take(next, tv, arr);
        }
        break;
    }
    }
    if (last->name)
        json_object_set_new(cont, last->name, next);
    else if ((size_t)last->index < json_array_size(cont))
        json_array_set_new(cont, (size_t)last->index, next);
    else
        json_array_append_new(cont, next); /* past the end: appended, as DynamoDB does */
    return 0;
}

/* Removes run in descending path order (list indexes compared as
 * numbers): removing l[i] shifts only paths through l at an index above
 * i, and those sort before it, so each path names what it named in the
 * item before the update ("REMOVE l[0], l[2][0]" in either order). Paths
 * never prefix one another (overlaps are refused when parsing). */
static int remove_order(const void *x, const void *y)
{
    const struct path *a = (*(const struct action *const *)x)->path;
    const struct path *b = (*(const struct action *const *)y)->path;
    for (int i = 0; i < a->n && i < b->n; i++) {
        const struct pel *ea = &a->el[i], *eb = &b->el[i];
        int c;
        if (!ea->name != !eb->name)
            c = ea->name ? 1 : -1; /* a list and a map at once: one of them fails either way */
        else if (ea->name)
            c = strcmp(ea->name, eb->name);
        else
            c = (ea->index > eb->index) - (ea->index < eb->index);
        if (c)
            return -c;
    }
    return (a->n < b->n) - (a->n > b->n);
}

/* How many M/L containers nest in av (av itself included), counted no
 * further than one past the limit. */
static int av_depth(json_t *av, int level)
{
    json_t *m = av_payload(av, "M"), *l = av_payload(av, "L");
    if (!m && !l)
        return level;
    if (level + 1 > DDB_MAX_DEPTH)
        return level + 1;
    int deepest = level + 1;
    const char *k;
    json_t *v;
    if (m)
        json_object_foreach(m, k, v)
        {
            int d = av_depth(v, level + 1);
            deepest = d > deepest ? d : deepest;
        }
    for (size_t i = 0; l && i < json_array_size(l); i++) {
        int d = av_depth(json_array_get(l, i), level + 1);
        deepest = d > deepest ? d : deepest;
    }
    return deepest;
}

int ddb_update_apply(const ddb_expr *e, json_t *item, json_t *key_schema, val_err *err)
{
    if (!e || e->kind != DDB_EXPR_UPDATE || !json_is_object(item)) {
        fail(err, "Invalid UpdateExpression: not an update expression");
        return -1;
    }
    if (key_schema && key_touched(e, key_schema, err) < 0)
        return -1;
    /* Every right-hand side sees the item as it was. */
    json_t **vals = calloc((size_t)e->nacts + 1, sizeof *vals);
    const struct action **removes = calloc((size_t)e->nacts + 1, sizeof *removes);
    if (!vals || !removes)
        abort();
    int r = 0, nrem = 0;
    for (int i = 0; i < e->nacts && r == 0; i++) {
        const struct action *a = &e->acts[i];
        if (a->kind == A_SET) {
            vals[i] = upd_operand(a->val, item, err);
            if (!vals[i])
                r = -1;
        } else if (a->kind != A_REMOVE) {
            vals[i] = json_incref(a->val->val);
        }
    }
    for (int i = 0; i < e->nacts && r == 0; i++) {
        if (e->acts[i].kind == A_REMOVE)
            removes[nrem++] = &e->acts[i];
        else
            r = apply_one(&e->acts[i], vals[i], item, err);
    }
    /* List elements are removed from the highest index down, so each index
     * names the element it named in the original list. */
    qsort(removes, (size_t)nrem, sizeof *removes, remove_order);
    for (int i = 0; i < nrem && r == 0; i++)
        r = apply_one(removes[i], NULL, item, err);
    /* A value set deep inside a document can push it past 32 levels. */
    for (int i = 0; i < e->nacts && r == 0; i++) {
        if (e->acts[i].kind == A_SET && e->acts[i].path->n > 1 &&
            av_depth(json_object_get(item, e->acts[i].path->el[0].name), 0) > DDB_MAX_DEPTH) {
            fail(err, "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
                      "supported limit");
            r = -1;
        }
    }
    for (int i = 0; i < e->nacts; i++)
        json_decref(vals[i]);
    free(vals);
    free(removes);
    return r;
}

/* ------------------------------------------------------------ projections */

/* Projections are built in a scratch tree where a list is an object
 * marked LIST_MARK whose keys are zero-padded indexes (so they sort), then
 * turned into DynamoDB JSON. */
#define LIST_MARK "\x01L"

/* Scratch nodes we built are objects with exactly one member "M" or
 * LIST_MARK; values copied from the item are shared as they are. The
 * scratch maps are told apart by pointer: they are in `built`. */
static json_t *proj_convert(json_t *scratch, json_t *built, int depth);

static int key_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static json_t *proj_av(json_t *v, json_t *built, int depth)
{
    char addr[32];
    snprintf(addr, sizeof addr, "%p", (void *)v);
    if (!json_object_get(built, addr))
        return json_incref(v);
    json_t *l = json_object_get(v, LIST_MARK);
    if (l) {
        size_t n = json_object_size(l), i = 0;
        const char **keys = malloc((n + 1) * sizeof *keys);
        if (!keys)
            abort();
        const char *k;
        json_t *x;
        json_object_foreach(l, k, x) keys[i++] = k;
        qsort(keys, n, sizeof *keys, key_cmp);
        json_t *arr = json_array();
        for (i = 0; i < n; i++)
            val_arr_append_take(arr, proj_av(json_object_get(l, keys[i]), built, depth + 1));
        free(keys);
        json_t *r = json_object();
        val_obj_set_take(r, "L", arr);
        return r;
    }
    json_t *r = json_object();
    val_obj_set_take(r, "M", proj_convert(json_object_get(v, "M"), built, depth + 1));
    return r;
}

static json_t *proj_convert(json_t *scratch, json_t *built, int depth)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(scratch, k, v) val_obj_set_take(out, k, proj_av(v, built, depth));
    return out;
}

static json_t *project_paths(struct path **paths, int n, json_t *item)
{
    json_t *scratch = json_object(), *built = json_object();
    for (int i = 0; i < n; i++) {
        const struct path *path = paths[i];
        json_t *v = path_get(item, path);
        if (!v)
            continue;
        json_t *cont = scratch;
        for (int j = 0; j < path->n && cont; j++) {
            const struct pel *el = &path->el[j];
            char key[24];
            const char *k = el->name;
            if (!k) {
                snprintf(key, sizeof key, "%020ld", el->index);
                k = key;
            }
            if (j == path->n - 1) {
                if (!json_object_get(cont, k))
                    json_object_set(cont, k, v);
                break;
            }
            json_t *child = json_object_get(cont, k);
            const char *want = path->el[j + 1].name ? "M" : LIST_MARK;
            char addr[32];
            if (!child) {
                child = json_object();
                val_obj_set_take(child, want, json_object());
                json_object_set_new(cont, k, child);
                snprintf(addr, sizeof addr, "%p", (void *)child);
                json_object_set_new(built, addr, json_true());
            }
            snprintf(addr, sizeof addr, "%p", (void *)child);
            cont = json_object_get(built, addr) ? json_object_get(child, want) : NULL;
        }
    }
    json_t *out = proj_convert(scratch, built, 0);
    json_decref(scratch);
    json_decref(built);
    return out;
}

json_t *ddb_project(const ddb_expr *e, json_t *item)
{
    if (!e || e->kind != DDB_EXPR_PROJECTION || !json_is_object(item))
        return json_object();
    return project_paths(e->paths, e->npaths, item);
}

json_t *ddb_update_project(const ddb_expr *e, json_t *item)
{
    if (!e || e->kind != DDB_EXPR_UPDATE || !json_is_object(item) || e->nacts == 0)
        return json_object();
    struct path **paths = malloc((size_t)e->nacts * sizeof *paths);
    if (!paths)
        abort();
    for (int i = 0; i < e->nacts; i++)
        paths[i] = e->acts[i].path;
    json_t *r = project_paths(paths, e->nacts, item);
    free(paths);
    return r;
}
