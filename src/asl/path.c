/* path — JSONPath the way AWS Step Functions reads it (Jayway's dialect):
 * roots `$`, `$$` and `$name`; Reference Paths (ResultPath, Variable, …Path)
 * and general paths (InputPath, OutputPath, `.$`) with wildcards, slices,
 * unions, deep scan and filters. Text is parsed once, iteratively; a
 * definite path is evaluated without allocating; ResultPath writes copy only
 * the objects on the way and only when they are shared. */

#include "asl/asl.h"

#include <errno.h>
#include <stdint.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ model */

enum step_kind {
    ST_KEY,     /* .name or ['name'] */
    ST_INDEX,   /* [n]; negative counts from the end, as Jayway does */
    ST_WILD,    /* .* or [*]: array elements or object values */
    ST_SLICE,   /* [start:end:stride] */
    ST_KEYS,    /* ['a','b'] */
    ST_INDEXES, /* [0,1] */
    ST_FILTER,  /* [?(...)] */
};

struct filter;

struct step {
    int kind;
    int scan;      /* preceded by `..`: applies to every descendant-or-self */
    char *key;     /* ST_KEY */
    long index;    /* ST_INDEX */
    char **keys;   /* ST_KEYS */
    long *indexes; /* ST_INDEXES */
    size_t n;      /* number of keys or indexes */
    long start, end, stride; /* ST_SLICE */
    int has_start, has_end;
    struct filter *filter; /* ST_FILTER */
};

struct asl_path {
    char *text;       /* as written */
    char *normalized; /* Jayway's $['a'][0] */
    char *var;        /* ASL_ROOT_VAR */
    int root;
    int definite;
    struct step *steps;
    size_t n;
};

/* Filters are small trees. Nodes live in one array and refer to each other
 * by index, so freeing never recurses; nesting is capped at parse time so
 * evaluating (which does recurse) is bounded too. */
enum fn_kind { FN_OR, FN_AND, FN_NOT, FN_CMP, FN_EXISTS };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

#define FILTER_MAX_DEPTH 32

struct operand {
    json_t *literal;    /* owned; NULL for a path operand */
    int from_root;      /* `$…` rather than `@…` */
    struct step *steps; /* ST_KEY and ST_INDEX only */
    size_t n;
};

struct fnode {
    int kind;
    int op;
    struct operand a, b;
    size_t *kids; /* FN_OR, FN_AND (n-ary, so long chains stay flat), FN_NOT */
    size_t nkids;
};

struct filter {
    struct fnode *nodes;
    size_t n, cap;
    size_t top;
};

/* ------------------------------------------------------------- freeing */

static void steps_free(struct step *s, size_t n);

static void filter_free(struct filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        struct fnode *nd = &f->nodes[i];
        json_decref(nd->a.literal);
        json_decref(nd->b.literal);
        /* operand steps are KEY/INDEX only: no filters inside, no recursion */
        steps_free(nd->a.steps, nd->a.n);
        steps_free(nd->b.steps, nd->b.n);
        free(nd->kids);
    }
    free(f->nodes);
    free(f);
}

/* Releases what one step owns (not the step itself). */
static void step_clear(struct step *st)
{
    free(st->key);
    for (size_t k = 0; st->kind == ST_KEYS && k < st->n; k++)
        free(st->keys[k]);
    free(st->keys);
    free(st->indexes);
    filter_free(st->filter);
    memset(st, 0, sizeof *st);
}

static void steps_free(struct step *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        step_clear(&s[i]);
    free(s);
}

void asl_path_free(asl_path *p)
{
    if (!p)
        return;
    steps_free(p->steps, p->n);
    free(p->text);
    free(p->normalized);
    free(p->var);
    free(p);
}

/* ---------------------------------------------------------------- memory */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort(); /* out of memory: nothing sensible to do */
    return q;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* --------------------------------------------------------------- parsing */

struct parser {
    const char *s;   /* the text as written */
    size_t pos, len; /* len: end of the text without trailing blanks */
    int flags;
    val_err *err;
    int failed;
    int depth; /* filter nesting */
};

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_ident(char c) { return is_ident_start(c) || is_digit(c); }

static char peek(const struct parser *ps) { return ps->pos < ps->len ? ps->s[ps->pos] : 0; }
static char peek_at(const struct parser *ps, size_t k)
{
    return ps->pos + k < ps->len ? ps->s[ps->pos + k] : 0;
}
static void skip_blanks(struct parser *ps)
{
    while (ps->pos < ps->len && is_blank(ps->s[ps->pos]))
        ps->pos++;
}

/* Records the first problem only: later ones are consequences. */
__attribute__((format(printf, 3, 4))) static void perr(struct parser *ps, size_t at, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = 1;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    val_err_set(ps->err, VAL_ERR_VALIDATION, NULL, "%s at position %zu in '%s'", msg ? msg : "invalid path",
                at, ps->s);
    free(msg);
}

/* An integer of an index or slice, bounded like Jayway's (a Java int). */
static int parse_int(struct parser *ps, long *out)
{
    size_t at = ps->pos;
    int neg = 0;
    if (peek(ps) == '-') {
        neg = 1;
        ps->pos++;
    }
    if (!is_digit(peek(ps))) {
        perr(ps, at, "expected a number");
        return -1;
    }
    long v = 0;
    while (is_digit(peek(ps))) {
        v = v * 10 + (ps->s[ps->pos++] - '0');
        if (v > INT_MAX) {
            perr(ps, at, "index out of range");
            return -1;
        }
    }
    *out = neg ? -v : v;
    return 0;
}

/* A quoted name in brackets. A backslash keeps the next character from
 * closing the name but is not removed: AWS looks up
 * $['Test\""Name"'] as the key Test\""Name" (the corpus shows it). */
static char *parse_quoted(struct parser *ps)
{
    char q = ps->s[ps->pos];
    size_t at = ps->pos++, start = ps->pos;
    while (ps->pos < ps->len && ps->s[ps->pos] != q) {
        if (ps->s[ps->pos] == '\\' && ps->pos + 1 < ps->len)
            ps->pos++;
        ps->pos++;
    }
    if (ps->pos >= ps->len) {
        perr(ps, at, "unterminated quoted name");
        return NULL;
    }
    char *k = xstrndup(ps->s + start, ps->pos - start);
    ps->pos++;
    return k;
}

/* ------------------------------------------------------------ filters */

static size_t f_new(struct filter *f, int kind)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->nodes = xrealloc(f->nodes, f->cap * sizeof *f->nodes);
    }
    memset(&f->nodes[f->n], 0, sizeof f->nodes[f->n]);
    f->nodes[f->n].kind = kind;
    return f->n++;
}

static void f_add_kid(struct filter *f, size_t node, size_t kid)
{
    struct fnode *nd = &f->nodes[node];
    nd->kids = xrealloc(nd->kids, (nd->nkids + 1) * sizeof *nd->kids);
    nd->kids[nd->nkids++] = kid;
}

static void steps_push(struct step **v, size_t *n, const struct step *st)
{
    /* grow by doubling: *n is a power of two exactly when the array is full */
    if ((*n & (*n - 1)) == 0)
        *v = xrealloc(*v, (*n ? *n * 2 : 1) * sizeof **v);
    (*v)[(*n)++] = *st;
}

/* A name after `.` inside a filter ends where the expression goes on. */
static int filter_name_end(char c)
{
    return !c || is_blank(c) || strchr(".[)=!<>&|,]", c) != NULL;
}

/* `@.a['b'][0]` or `$.a`: only definite steps make sense as operands. */
static int parse_operand_path(struct parser *ps, struct operand *o)
{
    o->from_root = ps->s[ps->pos] == '$';
    ps->pos++;
    for (;;) {
        struct step st = {0};
        size_t at = ps->pos;
        char c = peek(ps);
        if (c == '.') {
            ps->pos++;
            size_t start = ps->pos;
            while (!filter_name_end(peek(ps)) && peek(ps) != '(')
                ps->pos++;
            if (peek(ps) == '(') {
                perr(ps, at, "functions are not supported");
                return -1;
            }
            if (ps->pos == start) {
                perr(ps, at, "expected a name after '.'");
                return -1;
            }
            st.kind = ST_KEY;
            st.key = xstrndup(ps->s + start, ps->pos - start);
        } else if (c == '[') {
            ps->pos++;
            skip_blanks(ps);
            char d = peek(ps);
            if (d == '\'' || d == '"') {
                st.kind = ST_KEY;
                if (!(st.key = parse_quoted(ps)))
                    return -1;
            } else if (d == '-' || is_digit(d)) {
                st.kind = ST_INDEX;
                if (parse_int(ps, &st.index))
                    return -1;
            } else {
                perr(ps, at, "only .name, ['name'] and [index] may follow '@' or '$' in a filter");
                return -1;
            }
            skip_blanks(ps);
            if (peek(ps) != ']') {
                free(st.key);
                perr(ps, ps->pos, "expected ']'");
                return -1;
            }
            ps->pos++;
        } else {
            return 0;
        }
        steps_push(&o->steps, &o->n, &st);
    }
}

/* Unescapes the common sequences of a filter string literal. */
static json_t *parse_string_literal(struct parser *ps)
{
    char q = ps->s[ps->pos];
    size_t at = ps->pos++;
    val_buf b = {0};
    while (ps->pos < ps->len && ps->s[ps->pos] != q) {
        char c = ps->s[ps->pos++];
        if (c == '\\' && ps->pos < ps->len) {
            c = ps->s[ps->pos++];
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            default: break; /* \\ \' \" \/ and anything else: the character */
            }
        }
        val_buf_putc(&b, c);
    }
    if (ps->pos >= ps->len) {
        val_buf_free(&b);
        perr(ps, at, "unterminated string");
        return NULL;
    }
    ps->pos++;
    json_t *v = json_stringn(b.p ? b.p : "", b.len);
    val_buf_free(&b);
    if (!v)
        perr(ps, at, "string is not valid UTF-8");
    return v;
}

static json_t *parse_number_literal(struct parser *ps)
{
    size_t at = ps->pos;
    int real = 0;
    if (peek(ps) == '-' || peek(ps) == '+')
        ps->pos++;
    while (ps->pos < ps->len) {
        char c = ps->s[ps->pos];
        if (c == '.' || c == 'e' || c == 'E')
            real = 1;
        else if (!is_digit(c) && !((c == '-' || c == '+') && (ps->s[ps->pos - 1] | 0x20) == 'e'))
            break;
        ps->pos++;
    }
    char *t = xstrndup(ps->s + at, ps->pos - at);
    char *end;
    json_t *v = NULL;
    errno = 0;
    if (!real) {
        long long n = strtoll(t, &end, 10);
        if (!*end && end != t && errno != ERANGE)
            v = json_integer(n);
        else
            real = 1;
    }
    if (real) {
        double d = strtod(t, &end);
        if (!*end && end != t)
            v = json_real(d);
    }
    free(t);
    if (!v)
        perr(ps, at, "invalid number");
    return v;
}

static int parse_operand(struct parser *ps, struct operand *o)
{
    skip_blanks(ps);
    size_t at = ps->pos;
    char c = peek(ps);
    if (c == '@' || c == '$')
        return parse_operand_path(ps, o);
    if (c == '\'' || c == '"')
        return (o->literal = parse_string_literal(ps)) ? 0 : -1;
    if (c == '-' || c == '+' || is_digit(c))
        return (o->literal = parse_number_literal(ps)) ? 0 : -1;
    static const struct {
        const char *word;
        json_t *(*make)(void);
    } words[] = {{"true", json_true}, {"false", json_false}, {"null", json_null}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i].word);
        if (ps->len - ps->pos >= n && !memcmp(ps->s + ps->pos, words[i].word, n) &&
            !is_ident(peek_at(ps, n))) {
            ps->pos += n;
            o->literal = words[i].make();
            return 0;
        }
    }
    perr(ps, at, "expected '@', '$', a string, a number, true, false or null");
    return -1;
}

static int parse_op(struct parser *ps)
{
    skip_blanks(ps);
    char a = peek(ps), b = peek_at(ps, 1);
    if (a == '=' && b == '=') {
        ps->pos += 2;
        return OP_EQ;
    }
    if (a == '!' && b == '=') {
        ps->pos += 2;
        return OP_NE;
    }
    if (a == '<' || a == '>') {
        int eq = b == '=';
        ps->pos += 1 + eq;
        return a == '<' ? (eq ? OP_LE : OP_LT) : (eq ? OP_GE : OP_GT);
    }
    if (a == '=' && b == '~') {
        perr(ps, ps->pos, "regular expressions (=~) are not supported");
        return -2;
    }
    if (is_ident_start(a)) {
        size_t e = ps->pos;
        while (e < ps->len && is_ident(ps->s[e]))
            e++;
        perr(ps, ps->pos, "operator '%.*s' is not supported", (int)(e - ps->pos), ps->s + ps->pos);
        return -2;
    }
    return -1; /* no operator: an existence test */
}

static size_t f_or(struct parser *ps, struct filter *f);

static size_t f_primary(struct parser *ps, struct filter *f)
{
    skip_blanks(ps);
    size_t at = ps->pos;
    char c = peek(ps);
    if (c == '!' || c == '(') {
        if (++ps->depth > FILTER_MAX_DEPTH) {
            perr(ps, at, "filter nested too deeply");
            return SIZE_MAX;
        }
        ps->pos++;
        size_t r;
        if (c == '!') {
            size_t kid = f_primary(ps, f);
            if (kid == SIZE_MAX)
                return SIZE_MAX;
            r = f_new(f, FN_NOT);
            f_add_kid(f, r, kid);
        } else {
            r = f_or(ps, f);
            if (r == SIZE_MAX)
                return SIZE_MAX;
            skip_blanks(ps);
            if (peek(ps) != ')') {
                perr(ps, ps->pos, "expected ')'");
                return SIZE_MAX;
            }
            ps->pos++;
        }
        ps->depth--;
        return r;
    }
    struct operand a = {0}, b = {0};
    if (parse_operand(ps, &a))
        goto fail;
    int op = parse_op(ps);
    if (op == -2)
        goto fail;
    if (op == -1) {
        if (a.literal) {
            perr(ps, at, "a value alone is not a condition");
            goto fail;
        }
        size_t r = f_new(f, FN_EXISTS);
        f->nodes[r].a = a;
        return r;
    }
    if (parse_operand(ps, &b))
        goto fail;
    size_t r = f_new(f, FN_CMP);
    f->nodes[r].op = op;
    f->nodes[r].a = a;
    f->nodes[r].b = b;
    return r;
fail:
    json_decref(a.literal);
    json_decref(b.literal);
    steps_free(a.steps, a.n);
    steps_free(b.steps, b.n);
    return SIZE_MAX;
}

/* `x && y && z` and `x || y` become one n-ary node each, so a long chain
 * costs no depth. */
static size_t f_chain(struct parser *ps, struct filter *f, int kind)
{
    char ch = kind == FN_OR ? '|' : '&';
    size_t first = kind == FN_OR ? f_chain(ps, f, FN_AND) : f_primary(ps, f);
    if (first == SIZE_MAX)
        return SIZE_MAX;
    size_t node = SIZE_MAX;
    for (;;) {
        skip_blanks(ps);
        if (!(peek(ps) == ch && peek_at(ps, 1) == ch))
            return node == SIZE_MAX ? first : node;
        ps->pos += 2;
        if (node == SIZE_MAX) {
            node = f_new(f, kind);
            f_add_kid(f, node, first);
        }
        size_t next = kind == FN_OR ? f_chain(ps, f, FN_AND) : f_primary(ps, f);
        if (next == SIZE_MAX)
            return SIZE_MAX;
        f_add_kid(f, node, next);
    }
}

static size_t f_or(struct parser *ps, struct filter *f) { return f_chain(ps, f, FN_OR); }

/* After `[?`: `(expr)` then `]`. */
static struct filter *parse_filter(struct parser *ps)
{
    size_t at = ps->pos;
    skip_blanks(ps);
    if (peek(ps) != '(') {
        perr(ps, at, "expected '(' after '[?'");
        return NULL;
    }
    ps->pos++;
    struct filter *f = xrealloc(NULL, sizeof *f);
    memset(f, 0, sizeof *f);
    ps->depth = 0;
    f->top = f_or(ps, f);
    if (f->top != SIZE_MAX) {
        skip_blanks(ps);
        if (peek(ps) != ')')
            perr(ps, ps->pos, "expected ')' or an operator");
        else
            ps->pos++;
    }
    if (ps->failed) {
        filter_free(f);
        return NULL;
    }
    return f;
}

/* ------------------------------------------------------------ brackets */

/* `[` … `]`: names, an index, indexes, a slice, `*` or a filter. */
static int parse_bracket(struct parser *ps, struct step *st)
{
    size_t at = ps->pos;
    ps->pos++;
    skip_blanks(ps);
    char c = peek(ps);
    if (c == '\'' || c == '"') {
        for (;;) {
            skip_blanks(ps);
            if (peek(ps) != '\'' && peek(ps) != '"') {
                perr(ps, ps->pos, "expected a quoted name");
                return -1;
            }
            char *k = parse_quoted(ps);
            if (!k)
                return -1;
            st->keys = xrealloc(st->keys, (st->n + 1) * sizeof *st->keys);
            st->keys[st->n++] = k;
            st->kind = ST_KEYS; /* so steps_free releases the names on failure */
            skip_blanks(ps);
            if (peek(ps) == ',') {
                ps->pos++;
                continue;
            }
            break;
        }
        if (st->n == 1) {
            st->kind = ST_KEY;
            st->key = st->keys[0];
            free(st->keys);
            st->keys = NULL;
            st->n = 0;
        }
    } else if (c == '*') {
        ps->pos++;
        st->kind = ST_WILD;
    } else if (c == '?') {
        ps->pos++;
        st->kind = ST_FILTER;
        if (!(st->filter = parse_filter(ps)))
            return -1;
    } else if (c == '-' || c == ':' || is_digit(c)) {
        long first = 0;
        int has_first = c != ':';
        if (has_first && parse_int(ps, &first))
            return -1;
        skip_blanks(ps);
        if (peek(ps) == ':') {
            st->kind = ST_SLICE;
            st->has_start = has_first;
            st->start = first;
            st->stride = 1;
            ps->pos++;
            skip_blanks(ps);
            if (peek(ps) == '-' || is_digit(peek(ps))) {
                st->has_end = 1;
                if (parse_int(ps, &st->end))
                    return -1;
                skip_blanks(ps);
            }
            if (peek(ps) == ':') {
                ps->pos++;
                skip_blanks(ps);
                if (peek(ps) == '-' || is_digit(peek(ps))) {
                    size_t sat = ps->pos;
                    if (parse_int(ps, &st->stride))
                        return -1;
                    if (st->stride == 0) {
                        perr(ps, sat, "slice step must not be 0");
                        return -1;
                    }
                    skip_blanks(ps);
                }
            }
        } else if (peek(ps) == ',') {
            st->kind = ST_INDEXES;
            st->indexes = xrealloc(NULL, sizeof *st->indexes);
            st->indexes[st->n++] = first;
            while (peek(ps) == ',') {
                ps->pos++;
                skip_blanks(ps);
                long v;
                if (parse_int(ps, &v))
                    return -1;
                st->indexes = xrealloc(st->indexes, (st->n + 1) * sizeof *st->indexes);
                st->indexes[st->n++] = v;
                skip_blanks(ps);
            }
        } else {
            st->kind = ST_INDEX;
            st->index = first;
        }
    } else {
        perr(ps, at, "expected a quoted name, an index, a slice, '*' or '?(' after '['");
        return -1;
    }
    skip_blanks(ps);
    if (peek(ps) != ']') {
        perr(ps, ps->pos, "expected ']'");
        return -1;
    }
    ps->pos++;
    return 0;
}

/* A name after `.`: Jayway takes everything up to the next `.` or `[`, but
 * refuses blanks (bracket notation is for those) and `(` (functions). */
static int parse_dot_name(struct parser *ps, struct step *st)
{
    size_t start = ps->pos;
    while (ps->pos < ps->len && ps->s[ps->pos] != '.' && ps->s[ps->pos] != '[') {
        char c = ps->s[ps->pos];
        if (is_blank(c)) {
            perr(ps, ps->pos, "use bracket notation ['my prop'] for names with blanks");
            return -1;
        }
        if (c == '(') {
            perr(ps, ps->pos, "functions are not supported");
            return -1;
        }
        ps->pos++;
    }
    if (ps->pos == start) {
        perr(ps, start, "expected a name");
        return -1;
    }
    st->kind = ST_KEY;
    st->key = xstrndup(ps->s + start, ps->pos - start);
    return 0;
}

static const char *step_what(const struct step *st)
{
    if (st->scan)
        return "deep scan '..'";
    switch (st->kind) {
    case ST_WILD: return "wildcard '*'";
    case ST_SLICE: return "slice";
    case ST_KEYS: return "union of names";
    case ST_INDEXES: return "union of indexes";
    case ST_FILTER: return "filter";
    default: return "step";
    }
}

/* The root: `$`, `$$` or `$name`. */
static int parse_root(struct parser *ps, asl_path *p)
{
    if (peek(ps) != '$') {
        perr(ps, ps->pos, "a path must start with '$'");
        return -1;
    }
    ps->pos++;
    if (peek(ps) == '$') {
        ps->pos++;
        if (ps->flags & ASL_PATH_NO_CONTEXT) {
            perr(ps, 0, "the context object '$$' is not allowed here");
            return -1;
        }
        p->root = ASL_ROOT_CONTEXT;
    } else if (is_ident_start(peek(ps))) {
        size_t start = ps->pos;
        while (is_ident(peek(ps)))
            ps->pos++;
        if (ps->flags & ASL_PATH_NO_VARS) {
            perr(ps, 0, "variables are not allowed here");
            return -1;
        }
        p->root = ASL_ROOT_VAR;
        p->var = xstrndup(ps->s + start, ps->pos - start);
    } else {
        p->root = ASL_ROOT_INPUT;
    }
    char c = peek(ps);
    if (c && c != '.' && c != '[') {
        perr(ps, ps->pos, "unexpected character '%c' after the root", c);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- normalized form */

static void put_index(val_buf *b, long i) { val_buf_printf(b, "%ld", i); }

/* Jayway's fragment for one step: ['a'], [0], [*], [1:5], ['a','b'], [?]. */
static void put_step(val_buf *b, const struct step *st)
{
    if (st->scan)
        val_buf_puts(b, "..");
    switch (st->kind) {
    case ST_KEY:
        val_buf_puts(b, "['");
        val_buf_puts(b, st->key);
        val_buf_puts(b, "']");
        break;
    case ST_INDEX:
        val_buf_putc(b, '[');
        put_index(b, st->index);
        val_buf_putc(b, ']');
        break;
    case ST_WILD: val_buf_puts(b, "[*]"); break;
    case ST_SLICE:
        val_buf_putc(b, '[');
        if (st->has_start)
            put_index(b, st->start);
        val_buf_putc(b, ':');
        if (st->has_end)
            put_index(b, st->end);
        if (st->stride != 1) {
            val_buf_putc(b, ':');
            put_index(b, st->stride);
        }
        val_buf_putc(b, ']');
        break;
    case ST_KEYS:
        val_buf_putc(b, '[');
        for (size_t i = 0; i < st->n; i++) {
            val_buf_puts(b, i ? ",'" : "'");
            val_buf_puts(b, st->keys[i]);
            val_buf_putc(b, '\'');
        }
        val_buf_putc(b, ']');
        break;
    case ST_INDEXES:
        val_buf_putc(b, '[');
        for (size_t i = 0; i < st->n; i++) {
            if (i)
                val_buf_putc(b, ',');
            put_index(b, st->indexes[i]);
        }
        val_buf_putc(b, ']');
        break;
    case ST_FILTER: val_buf_puts(b, "[?]"); break;
    }
}

static void put_root(val_buf *b, const asl_path *p)
{
    val_buf_putc(b, '$');
    if (p->root == ASL_ROOT_CONTEXT)
        val_buf_putc(b, '$');
    else if (p->root == ASL_ROOT_VAR)
        val_buf_puts(b, p->var);
}

/* ------------------------------------------------------------ the parse */

asl_path *asl_path_parse(const char *text, int flags, val_err *err)
{
    if (!text) {
        val_err_set(err, VAL_ERR_VALIDATION, NULL, "a path must be a string");
        return NULL;
    }
    asl_path *p = xrealloc(NULL, sizeof *p);
    memset(p, 0, sizeof *p);
    p->text = strdup(text);
    if (!p->text)
        abort();

    /* Jayway trims blanks around the whole path. */
    struct parser ps = {.s = text, .len = strlen(text), .flags = flags, .err = err};
    while (ps.len && is_blank(text[ps.len - 1]))
        ps.len--;
    skip_blanks(&ps);

    if (parse_root(&ps, p))
        goto fail;

    size_t cap = 0;
    while (!ps.failed && ps.pos < ps.len) {
        struct step st = {0};
        size_t at = ps.pos;
        int rc;
        if (peek(&ps) == '.') {
            ps.pos++;
            if (peek(&ps) == '.') {
                st.scan = 1;
                ps.pos++;
            }
            char c = peek(&ps);
            if (!c) {
                perr(&ps, at, "a path must not end with '.' or '..'");
                goto fail;
            }
            if (c == '.') {
                perr(&ps, ps.pos, "unexpected '.'");
                goto fail;
            }
            if (c == '[') {
                rc = parse_bracket(&ps, &st);
            } else if (c == '*') {
                ps.pos++;
                st.kind = ST_WILD;
                rc = 0;
                if (peek(&ps) && peek(&ps) != '.' && peek(&ps) != '[') {
                    perr(&ps, ps.pos, "unexpected character after '*'");
                    rc = -1;
                }
            } else {
                rc = parse_dot_name(&ps, &st);
            }
        } else if (peek(&ps) == '[') {
            rc = parse_bracket(&ps, &st);
        } else {
            perr(&ps, at, "expected '.' or '[' after a step");
            rc = -1;
        }
        if (rc) {
            step_clear(&st);
            goto fail;
        }
        if ((flags & ASL_PATH_REFERENCE) && (st.scan || (st.kind != ST_KEY && st.kind != ST_INDEX))) {
            perr(&ps, at, "a %s is not allowed in a Reference Path (only .name, ['name'] and [index])",
                 step_what(&st));
            step_clear(&st);
            goto fail;
        }
        if (p->n == cap) {
            cap = cap ? cap * 2 : 4;
            p->steps = xrealloc(p->steps, cap * sizeof *p->steps);
        }
        p->steps[p->n++] = st;
    }
    if (ps.failed)
        goto fail;

    p->definite = 1;
    for (size_t i = 0; i < p->n; i++) {
        const struct step *st = &p->steps[i];
        int leaf_merge = st->kind == ST_KEYS && i == p->n - 1; /* Jayway: one merged object */
        if (st->scan || (st->kind != ST_KEY && st->kind != ST_INDEX && !leaf_merge))
            p->definite = 0;
    }
    val_buf b = {0};
    put_root(&b, p);
    for (size_t i = 0; i < p->n; i++)
        put_step(&b, &p->steps[i]);
    p->normalized = val_buf_take(&b);
    return p;

fail:
    asl_path_free(p);
    return NULL;
}

/* --------------------------------------------------------------- getters */

const char *asl_path_text(const asl_path *p) { return p->text; }
int asl_path_root(const asl_path *p) { return p->root; }
const char *asl_path_var(const asl_path *p) { return p->var; }
int asl_path_is_definite(const asl_path *p) { return p->definite; }
int asl_path_is_root(const asl_path *p) { return p->root == ASL_ROOT_INPUT && p->n == 0; }
const char *asl_path_normalized(const asl_path *p) { return p->normalized; }

/* ------------------------------------------------------------ evaluation */

static json_t *root_value(const asl_path *p, const struct asl_env *env)
{
    switch (p->root) {
    case ASL_ROOT_CONTEXT: return env->context;
    case ASL_ROOT_VAR: return json_is_object(env->vars) ? json_object_get(env->vars, p->var) : NULL;
    default: return env->input;
    }
}

/* A key or index step on one value; NULL when it names nothing. */
static json_t *step_get(const struct step *st, const json_t *cur)
{
    if (st->kind == ST_KEY)
        return json_is_object(cur) ? json_object_get(cur, st->key) : NULL;
    if (!json_is_array(cur))
        return NULL;
    long n = (long)json_array_size(cur), i = st->index < 0 ? st->index + n : st->index;
    return i >= 0 && i < n ? json_array_get(cur, (size_t)i) : NULL;
}

static json_t *operand_value(const struct operand *o, json_t *cur, json_t *root)
{
    if (o->literal)
        return o->literal;
    json_t *v = o->from_root ? root : cur;
    for (size_t i = 0; v && i < o->n; i++)
        v = step_get(&o->steps[i], v);
    return v;
}

static int str_cmp(const json_t *a, const json_t *b)
{
    size_t la = json_string_length(a), lb = json_string_length(b);
    int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

/* Jayway compares a number with a string holding a number by value. */
static int num_str_eq(const json_t *num, const json_t *str)
{
    const char *s = json_string_value(str);
    char *end;
    if (!*s)
        return 0;
    double d = strtod(s, &end);
    return !*end && d == json_number_value(num);
}

/* Jayway's relational operators: a missing operand matches nothing but
 * `!=`; ordering only between two numbers or two strings. */
static int cmp_apply(int op, const json_t *a, const json_t *b)
{
    if (op == OP_NE)
        return !cmp_apply(OP_EQ, a, b);
    if (!a || !b)
        return 0;
    if (op == OP_EQ) {
        if (json_is_number(a) && json_is_string(b))
            return num_str_eq(a, b);
        if (json_is_string(a) && json_is_number(b))
            return num_str_eq(b, a);
        return val_equal(a, b);
    }
    int c;
    if (json_is_number(a) && json_is_number(b))
        c = num_cmp(a, b);
    else if (json_is_string(a) && json_is_string(b))
        c = str_cmp(a, b);
    else
        return 0;
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Recursion is bounded by FILTER_MAX_DEPTH (checked at parse time). */
static int f_eval(const struct filter *f, size_t i, json_t *cur, json_t *root)
{
    const struct fnode *nd = &f->nodes[i];
    switch (nd->kind) {
    case FN_OR:
        for (size_t k = 0; k < nd->nkids; k++)
            if (f_eval(f, nd->kids[k], cur, root))
                return 1;
        return 0;
    case FN_AND:
        for (size_t k = 0; k < nd->nkids; k++)
            if (!f_eval(f, nd->kids[k], cur, root))
                return 0;
        return 1;
    case FN_NOT: return !f_eval(f, nd->kids[0], cur, root);
    case FN_EXISTS: return operand_value(&nd->a, cur, root) != NULL;
    default: return cmp_apply(nd->op, operand_value(&nd->a, cur, root), operand_value(&nd->b, cur, root));
    }
}

struct nodes {
    json_t **v;
    size_t n, cap;
};

static void nodes_push(struct nodes *l, json_t *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = v;
}

/* Where matches go: borrowed into the next list, or (for the last step)
 * into the result array as new references. */
struct sink {
    struct nodes *next;
    json_t *result;
};

static void emit(struct sink *sk, json_t *v)
{
    if (sk->result)
        json_array_append(sk->result, v);
    else
        nodes_push(sk->next, v);
}

static void slice_apply(const struct step *st, json_t *arr, struct sink *sk)
{
    long n = (long)json_array_size(arr), s = st->stride;
    long lo, hi;
    /* Python's slice rules; they agree with Jayway's for start:end */
    if (s > 0) {
        lo = st->has_start ? (st->start < 0 ? st->start + n : st->start) : 0;
        hi = st->has_end ? (st->end < 0 ? st->end + n : st->end) : n;
        if (lo < 0)
            lo = 0;
        if (hi > n)
            hi = n;
        for (long i = lo; i < hi; i += s)
            emit(sk, json_array_get(arr, (size_t)i));
    } else {
        lo = st->has_start ? (st->start < 0 ? st->start + n : st->start) : n - 1;
        hi = st->has_end ? (st->end < 0 ? st->end + n : st->end) : -1;
        if (lo > n - 1)
            lo = n - 1;
        if (hi < -1)
            hi = -1;
        for (long i = lo; i > hi; i += s)
            emit(sk, json_array_get(arr, (size_t)i));
    }
}

/* One step on one value, in the indefinite evaluator. */
static void step_apply(const struct step *st, json_t *cur, json_t *root, int leaf, struct sink *sk)
{
    switch (st->kind) {
    case ST_KEY:
    case ST_INDEX: {
        json_t *v = step_get(st, cur);
        if (v)
            emit(sk, v);
        break;
    }
    case ST_WILD:
        if (json_is_array(cur)) {
            for (size_t i = 0; i < json_array_size(cur); i++)
                emit(sk, json_array_get(cur, i));
        } else if (json_is_object(cur)) {
            const char *k;
            json_t *v;
            json_object_foreach(cur, k, v) emit(sk, v);
        }
        break;
    case ST_SLICE:
        if (json_is_array(cur))
            slice_apply(st, cur, sk);
        break;
    case ST_KEYS:
        if (!json_is_object(cur))
            break;
        if (leaf) {
            /* Jayway merges a final union of names into one object */
            json_t *m = json_object();
            for (size_t i = 0; i < st->n; i++) {
                json_t *v = json_object_get(cur, st->keys[i]);
                if (v)
                    json_object_set(m, st->keys[i], v);
            }
            json_array_append_new(sk->result, m);
        } else {
            for (size_t i = 0; i < st->n; i++) {
                json_t *v = json_object_get(cur, st->keys[i]);
                if (v)
                    emit(sk, v);
            }
        }
        break;
    case ST_INDEXES:
        if (json_is_array(cur)) {
            long n = (long)json_array_size(cur);
            for (size_t i = 0; i < st->n; i++) {
                long k = st->indexes[i] < 0 ? st->indexes[i] + n : st->indexes[i];
                if (k >= 0 && k < n)
                    emit(sk, json_array_get(cur, (size_t)k));
            }
        }
        break;
    case ST_FILTER:
        /* on an array the filter picks elements; on an object it tests the
         * object itself (Jayway's PredicatePathToken) */
        if (json_is_array(cur)) {
            for (size_t i = 0; i < json_array_size(cur); i++) {
                json_t *e = json_array_get(cur, i);
                if (f_eval(st->filter, st->filter->top, e, root))
                    emit(sk, e);
            }
        } else if (json_is_object(cur) && f_eval(st->filter, st->filter->top, cur, root)) {
            emit(sk, cur);
        }
        break;
    }
}

/* `..step`: every descendant-or-self in document order (pre-order), with
 * an explicit stack so deep documents cannot exhaust the C stack. */
static void scan_apply(const struct step *st, json_t *start, json_t *root, int leaf, struct sink *sk)
{
    struct nodes stack = {0};
    nodes_push(&stack, start);
    while (stack.n) {
        json_t *x = stack.v[--stack.n];
        /* Jayway's scan tests a filter on each object itself and never
         * on array elements directly: they are visited on their own */
        if (st->kind != ST_FILTER || json_is_object(x))
            step_apply(st, x, root, leaf, sk);
        size_t mark = stack.n;
        if (json_is_array(x)) {
            for (size_t i = 0; i < json_array_size(x); i++)
                nodes_push(&stack, json_array_get(x, i));
        } else if (json_is_object(x)) {
            const char *k;
            json_t *v;
            json_object_foreach(x, k, v) nodes_push(&stack, v);
        }
        for (size_t i = mark, j = stack.n; i + 1 < j; i++, j--) {
            json_t *t = stack.v[i];
            stack.v[i] = stack.v[j - 1];
            stack.v[j - 1] = t;
        }
    }
    free(stack.v);
}

static json_t *eval_definite(const asl_path *p, json_t *cur)
{
    size_t n = p->n;
    int merge = n && p->steps[n - 1].kind == ST_KEYS;
    for (size_t i = 0; cur && i < n - (size_t)merge; i++)
        cur = step_get(&p->steps[i], cur);
    if (!cur)
        return NULL;
    if (merge) {
        if (!json_is_object(cur))
            return NULL;
        const struct step *st = &p->steps[n - 1];
        json_t *m = json_object();
        for (size_t i = 0; i < st->n; i++) {
            json_t *v = json_object_get(cur, st->keys[i]);
            if (v)
                json_object_set(m, st->keys[i], v);
        }
        return m;
    }
    return json_incref(cur);
}

json_t *asl_path_eval(const asl_path *p, const struct asl_env *env)
{
    json_t *root = root_value(p, env);
    if (!root)
        return NULL;
    if (p->definite)
        return eval_definite(p, root);

    /* Breadth-first, one step at a time: concatenating each value's matches
     * in order gives the same order as Jayway's depth-first walk. */
    json_t *result = json_array();
    struct nodes cur = {0}, next = {0};
    nodes_push(&cur, root);
    for (size_t i = 0; i < p->n && cur.n; i++) {
        const struct step *st = &p->steps[i];
        int leaf = i == p->n - 1;
        struct sink sk = {.next = &next, .result = leaf ? result : NULL};
        next.n = 0;
        for (size_t k = 0; k < cur.n; k++) {
            if (st->scan)
                scan_apply(st, cur.v[k], root, leaf, &sk);
            else
                step_apply(st, cur.v[k], root, leaf, &sk);
        }
        struct nodes t = cur;
        cur = next;
        next = t;
    }
    free(cur.v);
    free(next.v);
    return result;
}

/* --------------------------------------------------------- miss causes */

/* The Java class Jayway names when a key step meets a non-object. */
static const char *java_class(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY: return "java.util.ArrayList";
    case JSON_STRING: return "java.lang.String";
    case JSON_INTEGER: return "java.lang.Integer";
    case JSON_REAL: return "java.lang.Double";
    case JSON_TRUE:
    case JSON_FALSE: return "java.lang.Boolean";
    default: return "java.util.LinkedHashMap";
    }
}

char *asl_path_miss_cause(const asl_path *p, const struct asl_env *env)
{
    if (!p->definite)
        return NULL;
    json_t *cur = root_value(p, env);
    val_buf at = {0}, msg = {0};
    put_root(&at, p);
    if (!cur) {
        val_buf_printf(&msg, "No results for path: %s", p->normalized);
        goto done;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct step *st = &p->steps[i];
        int leaf = i == p->n - 1;
        if (st->kind == ST_KEY || st->kind == ST_KEYS) {
            if (!json_is_object(cur)) {
                val_buf_puts(&msg, "Expected to find an object with property ");
                put_step(&msg, st);
                val_buf_printf(&msg,
                               " in path %s but found '%s'. This is not a json object according to the "
                               "JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'.",
                               at.p, json_is_null(cur) ? "null" : java_class(cur));
                goto done;
            }
            if (st->kind == ST_KEYS)
                break; /* a final union always yields its merged object */
            put_step(&at, st);
            cur = json_object_get(cur, st->key);
            if (!cur) {
                if (leaf) {
                    val_buf_printf(&msg, "No results for path: %s", p->normalized);
                } else {
                        val_buf_printf(&msg, "Missing property in path %s", at.p);
                }
                goto done;
            }
        } else {
            if (json_is_null(cur)) {
                val_buf_printf(&msg, "The path %s is null", at.p);
                goto done;
            }
            if (!json_is_array(cur)) {
                val_buf_puts(&msg, "Filter: ");
                put_step(&msg, st);
                val_buf_puts(&msg, " can only be applied to arrays. Current context is: ");
                val_buf_dump(&msg, cur);
                goto done;
            }
            put_step(&at, st);
            cur = step_get(st, cur);
            if (!cur) {
                val_buf_printf(&msg, "No results for path: %s", p->normalized);
                goto done;
            }
        }
    }
done:
    val_buf_free(&at);
    return msg.len ? val_buf_take(&msg) : (val_buf_free(&msg), NULL);
}

/* ------------------------------------------------------------ ResultPath */

/* AWS's words when ResultPath cannot be applied (error
 * States.ReferencePathConflict, as real executions report it): the whole
 * path when the input itself is not a container, else the step whose
 * existing value cannot take the rest of the path (bad). */
static json_t *set_fail(const asl_path *p, const struct step *bad, json_t *root, json_t *value,
                        val_err *err)
{
    if (err) {
        val_buf b = {0};
        if (!bad)
            val_buf_printf(&b, "Unable to apply ReferencePath %s to input ", p->text);
        else if (bad->kind == ST_KEY)
            val_buf_printf(&b, "Unable to apply step \"%s\" to input ", bad->key);
        else
            val_buf_printf(&b, "Unable to apply step \"[%ld]\" to input ", bad->index);
        if (root)
            val_buf_dump(&b, root);
        else
            val_buf_puts(&b, "null");
        char *cause = val_buf_take(&b);
        val_err_setc(err, VAL_ERR_RUNTIME, "States.ReferencePathConflict", cause);
        free(cause);
    }
    json_decref(root);
    json_decref(value);
    return NULL;
}

/* The child of parent at step st, made safe to change: a shared child is
 * replaced by a shallow copy (its own children stay shared). parent is
 * already ours alone. */
static json_t *own_child(json_t *parent, const struct step *st, json_t *child, size_t idx)
{
    if (child->refcount == 1)
        return child;
    json_t *c = json_copy(child);
    if (!c)
        abort(); /* out of memory */
    if (st->kind == ST_KEY)
        json_object_set_new(parent, st->key, c);
    else
        json_array_set_new(parent, idx, c);
    return c;
}

static int fits(const struct step *st, const json_t *v)
{
    return st->kind == ST_KEY ? json_is_object(v) : json_is_array(v);
}

json_t *asl_path_set(const asl_path *p, json_t *root, json_t *value, val_err *err)
{
    int reference = p->root == ASL_ROOT_INPUT;
    for (size_t i = 0; i < p->n; i++)
        if (p->steps[i].scan || (p->steps[i].kind != ST_KEY && p->steps[i].kind != ST_INDEX))
            reference = 0;
    if (!reference) {
        val_err_set(err, VAL_ERR_VALIDATION, NULL, "ResultPath must be a Reference Path on '$': %s",
                    p->text);
        json_decref(root);
        json_decref(value);
        return NULL;
    }
    if (p->n == 0) {
        json_decref(root);
        return value;
    }
    if (!root || !fits(&p->steps[0], root))
        return set_fail(p, NULL, root, value, err);

    /* Failures come only from existing values of the wrong kind, so check
     * the whole spine before changing anything: nothing is half-written
     * and the cause shows the input as it came. */
    json_t *cur = root;
    for (size_t i = 0; i + 1 < p->n; i++) {
        const struct step *st = &p->steps[i], *nx = &p->steps[i + 1];
        json_t *next = step_get(st, cur);
        if (!next) {
            if (st->kind == ST_INDEX)
                return set_fail(p, st, root, value, err); /* index out of range */
            /* a missing key becomes an object, which cannot take an index */
            for (size_t j = i + 1; j < p->n; j++)
                if (p->steps[j].kind != ST_KEY)
                    return set_fail(p, st, root, value, err);
            break;
        }
        if (!fits(nx, next))
            return set_fail(p, st, root, value, err);
        cur = next;
    }
    const struct step *lst = &p->steps[p->n - 1];
    if (lst->kind == ST_INDEX && !step_get(lst, cur) && fits(lst, cur))
        return set_fail(p, lst, root, value, err);

    root = val_own_take(root);
    cur = root;
    for (size_t i = 0; i < p->n; i++) {
        const struct step *st = &p->steps[i];
        int last = i == p->n - 1;
        if (st->kind == ST_INDEX) {
            long n = (long)json_array_size(cur);
            size_t idx = (size_t)(st->index < 0 ? st->index + n : st->index);
            if (last) {
                json_array_set_new(cur, idx, value);
                break;
            }
            cur = own_child(cur, st, json_array_get(cur, idx), idx);
            continue;
        }
        if (last) {
            json_object_set_new(cur, st->key, value);
            break;
        }
        json_t *child = json_object_get(cur, st->key);
        if (!child) {
            child = json_object();
            json_object_set_new(cur, st->key, child);
        } else {
            child = own_child(cur, st, child, 0);
        }
        cur = child;
    }
    return root;
}
