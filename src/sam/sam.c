/* sam — an AWS SAM template (YAML or JSON) becomes the deploy plan of
 * sam.h. Three stages, in this order in the file: libfyaml's events are
 * read into a small tree of our own that keeps each node's file:line:column
 * (short tags such as !Ref become their long forms on the way); intrinsics
 * are resolved over that tree, with resource names and conditions resolved
 * lazily and marked while in progress so that cycles are errors; the
 * resources, after Globals are merged in, become the plan's entries. */
#include "sam/sam.h"

#include <errno.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAM_TRANSFORM "AWS::Serverless-2016-10-31"
#define SAM_MAX_DEPTH 200      /* YAML nesting a file may have */
#define SAM_MAX_EVAL_DEPTH 400 /* nested intrinsics plus the references they follow */
#define SAM_STACK_UUID "00000000-0000-4000-8000-000000000000"
#define SAM_STREAM_LABEL "1970-01-01T00:00:00.000"

/* ------------------------------------------------------------ the tree */

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

/* One YAML node. Nodes live in the context's arena until sam_load
 * returns, so merged Globals may share subtrees freely. */
struct node {
    enum node_kind kind;
    bool quoted;      /* scalar: quoted, block or !!str, so always a string */
    const char *file; /* one of ctx.files */
    int line, col;    /* 1-based */
    char *text;       /* scalar: len bytes, NUL-terminated */
    size_t len;
    const struct node **kids; /* sequence items, or mapping values */
    const struct node **keys; /* mapping keys (scalars), parallel to kids */
    size_t n, cap;
};

enum res_kind {
    RES_OTHER,         /* declared, not run: a warning and placeholder values */
    RES_FUNCTION,      /* AWS::Serverless::Function */
    RES_STATE_MACHINE, /* AWS::Serverless::StateMachine */
    RES_SIMPLE_TABLE,  /* AWS::Serverless::SimpleTable */
    RES_DDB_TABLE,     /* AWS::DynamoDB::Table */
    RES_ROLE,          /* the IAM role SAM makes for a function or state machine */
    RES_API,           /* ServerlessRestApi / ServerlessHttpApi that SAM makes for events */
};

struct res {
    const char *id;
    const struct node *key, *decl;
    const struct node *props; /* Properties with Globals merged in; may be NULL */
    const struct node *cond;  /* the Condition attribute's value, or NULL */
    const char *type;
    enum res_kind kind;
    struct res *owner; /* RES_ROLE: the function or state machine */
    bool naming;       /* the name is being resolved: seeing it again is a cycle */
    char *name;        /* resolved physical name, or NULL until asked */
};

enum ptype { P_STRING, P_NUMBER, P_LIST, P_NUMBER_LIST };

struct param {
    const char *name;
    const struct node *key, *decl;
    enum ptype type;
    const char *override; /* borrowed from sam_opts */
    json_t *value;        /* a string, or an array of strings for list types */
};

enum cond_state { COND_NEW, COND_BUSY, COND_FALSE, COND_TRUE };

struct cond {
    const char *name;
    const struct node *key, *expr;
    enum cond_state state;
};

struct ctx {
    const char *path; /* the template as the caller named it, for messages */
    char *abs_path, *dir;
    const char *region, *account;
    char *stack_name;
    val_err *err;
    bool failed;

    struct node **nodes; /* the arena */
    size_t n_nodes, cap_nodes;
    char **files; /* names nodes point to */
    size_t n_files;

    const struct node *root, *mappings, *globals_key;
    struct param *params;
    size_t n_params;
    struct cond *conds;
    size_t n_conds;
    struct res *res;
    size_t n_res;
    json_t *param_index, *cond_index, *res_index; /* name -> position */

    json_t *novalue; /* what Ref AWS::NoValue evaluates to: never escapes */
    json_t *warnings;
    int depth;
};

/* ------------------------------------------------------------ helpers */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort(); /* out of memory: nothing sensible to do */
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xrealloc(NULL, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

static bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (streq(s, *list))
            return true;
    return false;
}

static bool is_alnum_id(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static long index_find(const json_t *index, const char *name)
{
    json_t *v = json_object_get(index, name);
    return v ? (long)json_integer_value(v) : -1;
}

/* -------------------------------------------------------------- errors */

/* Keeps the first error only: later ones are usually its consequences. */
static void fail_atv(struct ctx *c, int kind, const char *file, int line, int col, const char *fmt,
                     va_list ap)
{
    if (c->failed)
        return;
    c->failed = true;
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    char *where = line > 0 ? xprintf("%s:%d:%d", file, line, col) : xstrdup(file);
    val_err_set(c->err, kind, "InvalidTemplate", "%s: %s", where, msg);
    val_err_where(c->err, where);
    free(where);
    free(msg);
}

static void fail_at(struct ctx *c, int kind, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void fail_at(struct ctx *c, int kind, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_atv(c, kind, file, line, col, fmt, ap);
    va_end(ap);
}

static void fail(struct ctx *c, const struct node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct ctx *c, const struct node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_atv(c, VAL_ERR_VALIDATION, at->file, at->line, at->col, fmt, ap);
    va_end(ap);
}

static void warn(struct ctx *c, const struct node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(struct ctx *c, const struct node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    char *line = xprintf("%s:%d:%d: %s", at->file, at->line, at->col, msg);
    val_arr_append_take(c->warnings, json_string(line));
    free(line);
    free(msg);
}

/* ------------------------------------------------------------- nodes */

static struct node *node_new(struct ctx *c, enum node_kind kind, const char *file, int line, int col)
{
    struct node *n = xrealloc(NULL, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    if (c->n_nodes == c->cap_nodes) {
        c->cap_nodes = c->cap_nodes ? 2 * c->cap_nodes : 256;
        c->nodes = xrealloc(c->nodes, c->cap_nodes * sizeof *c->nodes);
    }
    c->nodes[c->n_nodes++] = n;
    return n;
}

static void node_push(struct node *parent, const struct node *key, const struct node *val)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? 2 * parent->cap : 4;
        parent->kids = xrealloc(parent->kids, parent->cap * sizeof *parent->kids);
        if (parent->kind == NODE_MAP)
            parent->keys = xrealloc(parent->keys, parent->cap * sizeof *parent->keys);
    }
    if (parent->kind == NODE_MAP)
        parent->keys[parent->n] = key;
    parent->kids[parent->n++] = val;
}

static const char *file_name(struct ctx *c, const char *name)
{
    c->files = xrealloc(c->files, (c->n_files + 1) * sizeof *c->files);
    return c->files[c->n_files++] = xstrdup(name);
}

/* A plain scalar that YAML's core schema reads as null (an empty value too). */
static bool scalar_is_null(const struct node *n)
{
    if (n->kind != NODE_SCALAR || n->quoted)
        return false;
    const char *s = n->text;
    return !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

static long map_find(const struct node *m, const char *key)
{
    if (!m || m->kind != NODE_MAP)
        return -1;
    for (size_t i = 0; i < m->n; i++)
        if (streq(m->keys[i]->text, key))
            return (long)i;
    return -1;
}

/* The value under key, or NULL when absent or null (`Key:` with nothing). */
static const struct node *map_get(const struct node *m, const char *key)
{
    long i = map_find(m, key);
    if (i < 0 || scalar_is_null(m->kids[i]))
        return NULL;
    return m->kids[i];
}

static const struct node *map_key(const struct node *m, const char *key)
{
    long i = map_find(m, key);
    return i < 0 ? NULL : m->keys[i];
}

/* ----------------------------------------------------------- intrinsics */

typedef json_t *intrinsic_fn(struct ctx *c, const struct node *call, const struct node *arg);

static intrinsic_fn fn_ref, fn_getatt, fn_sub, fn_join, fn_if, fn_equals, fn_not, fn_and, fn_or,
    fn_select, fn_split, fn_findinmap, fn_base64, fn_getazs, fn_unresolvable;

/* Every intrinsic stepd knows: its YAML short tag, its long form and how
 * it is evaluated. !Condition has no evaluator: {"Condition": name} only
 * means something inside the condition functions. */
static const struct intrinsic {
    const char *tag;
    const char *name;
    intrinsic_fn *fn;
} intrinsics[] = {
    {"Ref", "Ref", fn_ref},
    {"GetAtt", "Fn::GetAtt", fn_getatt},
    {"Sub", "Fn::Sub", fn_sub},
    {"Join", "Fn::Join", fn_join},
    {"If", "Fn::If", fn_if},
    {"Equals", "Fn::Equals", fn_equals},
    {"Not", "Fn::Not", fn_not},
    {"And", "Fn::And", fn_and},
    {"Or", "Fn::Or", fn_or},
    {"Select", "Fn::Select", fn_select},
    {"Split", "Fn::Split", fn_split},
    {"FindInMap", "Fn::FindInMap", fn_findinmap},
    {"Base64", "Fn::Base64", fn_base64},
    {"GetAZs", "Fn::GetAZs", fn_getazs},
    {"ImportValue", "Fn::ImportValue", fn_unresolvable},
    {"Cidr", "Fn::Cidr", fn_unresolvable},
    {"Condition", "Condition", NULL},
};

#define N_INTRINSICS (sizeof intrinsics / sizeof intrinsics[0])

/* The function name when m is an intrinsic call (a one-key mapping whose
 * key is Ref or Fn::...), else NULL. */
static const char *call_name(const struct node *m)
{
    if (!m || m->kind != NODE_MAP || m->n != 1)
        return NULL;
    const char *k = m->keys[0]->text;
    return streq(k, "Ref") || strncmp(k, "Fn::", 4) == 0 ? k : NULL;
}

static const struct intrinsic *intrinsic_named(const char *name)
{
    for (size_t i = 0; i < N_INTRINSICS; i++)
        if (streq(intrinsics[i].name, name))
            return &intrinsics[i];
    return NULL;
}

/* --------------------------------------------------------------- reader */

struct open {
    struct node *n;
    const struct node *key; /* mapping: the key waiting for its value */
    json_t *seen;           /* mapping: keys so far, to refuse duplicates */
};

struct reader {
    struct ctx *c;
    const char *file;
    bool tags; /* a template: short tags become intrinsics */
    struct open *stack;
    size_t depth, cap;
    struct node *root;
    int docs;
    int line, col; /* the last position seen */
};

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag, (void)user, (void)buf, (void)len;
}

/* Wraps n in {"Fn::X": n} for a short tag; !!str makes a scalar a string. */
static struct node *apply_tag(struct reader *r, struct node *n, struct fy_token *tag)
{
    if (!tag)
        return n;
    struct ctx *c = r->c;
    const char *handle = fy_tag_token_handle0(tag), *suffix = fy_tag_token_suffix0(tag);
    const struct fy_mark *m = fy_token_start_mark(tag);
    int line = m ? m->line + 1 : n->line, col = m ? m->column + 1 : n->col;
    const char *text = fy_token_get_text0(tag);
    if (!handle || !suffix) {
        fail_at(c, VAL_ERR_VALIDATION, r->file, line, col, "unsupported YAML tag %s", text ? text : "");
        return n;
    }
    if (streq(handle, "!!")) {
        static const char *const core[] = {"str", "int", "float", "bool", "null", "map", "seq", NULL};
        if (!in_list(suffix, core))
            fail_at(c, VAL_ERR_VALIDATION, r->file, line, col, "unsupported YAML tag !!%s", suffix);
        else if (streq(suffix, "str") && n->kind == NODE_SCALAR)
            n->quoted = true;
        return n;
    }
    if (streq(handle, "!") && r->tags) {
        for (size_t i = 0; i < N_INTRINSICS; i++) {
            if (!streq(intrinsics[i].tag, suffix))
                continue;
            struct node *call = node_new(c, NODE_MAP, r->file, line, col);
            struct node *key = node_new(c, NODE_SCALAR, r->file, line, col);
            key->text = xstrdup(intrinsics[i].name);
            key->len = strlen(key->text);
            node_push(call, key, n);
            return call;
        }
        fail_at(c, VAL_ERR_VALIDATION, r->file, line, col, "unknown tag %s", text ? text : suffix);
        return n;
    }
    fail_at(c, VAL_ERR_VALIDATION, r->file, line, col,
            r->tags ? "unknown tag %s" : "YAML tag %s is not allowed in a definition file",
            text ? text : suffix);
    return n;
}

static void attach(struct reader *r, struct node *n)
{
    struct ctx *c = r->c;
    if (r->depth == 0) {
        r->root = n;
        return;
    }
    struct open *o = &r->stack[r->depth - 1];
    if (o->n->kind == NODE_SEQ) {
        node_push(o->n, NULL, n);
        return;
    }
    if (o->key) {
        node_push(o->n, o->key, n);
        o->key = NULL;
        return;
    }
    if (n->kind != NODE_SCALAR) {
        fail(c, n, "a mapping key must be a plain string");
        return;
    }
    if (memchr(n->text, 0, n->len)) {
        fail(c, n, "a mapping key must not contain a NUL character");
        return;
    }
    if (json_object_get(o->seen, n->text)) {
        fail(c, n, "duplicate key '%s'", n->text);
        return;
    }
    json_object_set_new(o->seen, n->text, json_null());
    o->key = n;
}

static void push_open(struct reader *r, struct node *n)
{
    if (r->depth == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->stack = xrealloc(r->stack, r->cap * sizeof *r->stack);
    }
    r->stack[r->depth++] = (struct open){.n = n, .seen = n->kind == NODE_MAP ? json_object() : NULL};
}

static void read_event(struct reader *r, struct fy_event *ev)
{
    struct ctx *c = r->c;
    const struct fy_mark *m = ev->type == FYET_SCALAR && ev->scalar.value
                                  ? fy_token_start_mark(ev->scalar.value)
                                  : fy_event_start_mark(ev);
    if (m) {
        r->line = m->line + 1;
        r->col = m->column + 1;
    }
    /* libfyaml marks a quoted scalar's text and an alias's name: point at
     * the quote and the '*' instead, where the node begins */
    enum fy_scalar_style style = ev->type == FYET_SCALAR && ev->scalar.value
                                     ? fy_token_scalar_style(ev->scalar.value)
                                     : FYSS_PLAIN;
    if (m && r->col > 1 &&
        (ev->type == FYET_ALIAS || style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED))
        r->col--;
    switch (ev->type) {
    case FYET_DOCUMENT_START:
        if (r->docs++)
            fail_at(c, VAL_ERR_VALIDATION, r->file, r->line, r->col,
                    "a template holds one YAML document, not several");
        return;
    case FYET_ALIAS:
        fail_at(c, VAL_ERR_VALIDATION, r->file, r->line, r->col,
                "YAML aliases are not allowed in CloudFormation templates");
        return;
    case FYET_SCALAR: {
        struct node *n = node_new(c, NODE_SCALAR, r->file, r->line, r->col);
        size_t len = 0;
        const char *s = ev->scalar.value ? fy_token_get_text(ev->scalar.value, &len) : NULL;
        n->text = s ? xstrndup(s, len) : xstrdup("");
        n->len = s ? len : 0;
        n->quoted = ev->scalar.value && style != FYSS_PLAIN;
        attach(r, apply_tag(r, n, fy_event_get_tag_token(ev)));
        return;
    }
    case FYET_SEQUENCE_START:
    case FYET_MAPPING_START: {
        if (r->depth >= SAM_MAX_DEPTH) {
            fail_at(c, VAL_ERR_VALIDATION, r->file, r->line, r->col, "nesting deeper than %d levels",
                    SAM_MAX_DEPTH);
            return;
        }
        struct node *n = node_new(c, ev->type == FYET_MAPPING_START ? NODE_MAP : NODE_SEQ, r->file,
                                  r->line, r->col);
        attach(r, apply_tag(r, n, fy_event_get_tag_token(ev)));
        push_open(r, n);
        return;
    }
    case FYET_SEQUENCE_END:
    case FYET_MAPPING_END:
        if (r->depth) {
            r->depth--;
            json_decref(r->stack[r->depth].seen);
        }
        return;
    default:
        return;
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && streq(s + n - k, suffix);
}

/* Reads YAML (or JSON, when file ends in .json) into a tree. file names the
 * text in messages. tags: map short tags to intrinsics (a template), or
 * refuse them (a state machine definition). Returns the root or NULL with
 * the context's error set; libfyaml's own diagnostics are collected, never
 * printed, and come back as file:line:column. */
/* The offset of the first byte that is not well-formed UTF-8 (or a NUL,
 * which YAML does not allow either), len when there is none. libfyaml
 * 0.7.12 loops forever on some invalid sequences (found by fuzz_sam: "%"
 * then 0x9c), so the text is checked before it gets there. */
static size_t bad_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char b = s[i];
        size_t n;
        unsigned min;
        if (b == 0)
            return i;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            n = 1;
            min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            n = 2;
            min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            n = 3;
            min = 0x10000;
        } else {
            return i;
        }
        unsigned cp = b & (0x3F >> n);
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

static const struct node *read_yaml_fy(struct ctx *c, const char *text, size_t len, const char *file,
                                       bool tags);

/* Reads text as YAML (JSON when the file says .json) into our tree. */
static const struct node *read_yaml(struct ctx *c, const char *text, size_t len, const char *file,
                                    bool tags)
{
    size_t bad = bad_utf8((const unsigned char *)text, len);
    if (bad < len) {
        int line = 1, col = 1;
        for (size_t i = 0; i < bad; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
                col++;
            }
        }
        fail_at(c, VAL_ERR_VALIDATION, file, line, col,
                text[bad] ? "invalid UTF-8 (byte 0x%02x): a template is Unicode text"
                          : "a NUL byte: a template is Unicode text",
                (unsigned char)text[bad]);
        return NULL;
    }
    return read_yaml_fy(c, text, len, file, tags);
}

static const struct node *read_yaml_fy(struct ctx *c, const char *text, size_t len, const char *file,
                                       bool tags)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_discard;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag)
        abort();
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = {
        .flags = FYPCF_QUIET | (ends_with(file, ".json") ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE),
        .diag = diag,
    };
    struct fy_parser *p = fy_parser_create(&cfg);
    if (!p)
        abort();
    struct reader r = {.c = c, .file = file, .tags = tags, .line = 1, .col = 1};
    if (fy_parser_set_string(p, text, len) != 0) {
        fail_at(c, VAL_ERR_VALIDATION, file, 1, 1, "cannot read the text as YAML");
    } else {
        struct fy_event *ev;
        while (!c->failed && (ev = fy_parser_parse(p))) {
            read_event(&r, ev);
            fy_parser_event_free(p, ev);
        }
    }
    if (!c->failed && (fy_parser_get_stream_error(p) || fy_diag_got_error(diag))) {
        void *it = NULL;
        struct fy_diag_error *de;
        while ((de = fy_diag_errors_iterate(diag, &it)) && de->type < FYET_ERROR)
            ;
        if (de)
            fail_at(c, VAL_ERR_VALIDATION, file, de->line > 0 ? de->line : r.line,
                    de->column > 0 ? de->column : r.col, "invalid YAML: %s", de->msg);
        else
            fail_at(c, VAL_ERR_VALIDATION, file, r.line, r.col, "invalid YAML");
    }
    for (size_t i = 0; i < r.depth; i++)
        json_decref(r.stack[i].seen);
    free(r.stack);
    fy_parser_destroy(p);
    fy_diag_destroy(diag);
    if (c->failed)
        return NULL;
    if (!r.root) {
        fail_at(c, VAL_ERR_VALIDATION, file, 1, 1, "the file is empty");
        return NULL;
    }
    return r.root;
}

/* -------------------------------------------------------- plain values */

/* YAML 1.2 core schema numbers: decimal, 0o and 0x integers and decimal
 * reals. NULL when s is not one (it is then a string). */
static json_t *number_json(const char *s)
{
    char *end;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o') && s[2]) {
        errno = 0;
        long long v = strtoll(s + 2, &end, s[1] == 'x' ? 16 : 8);
        return *end || errno ? NULL : json_integer(v);
    }
    const char *p = s + (*s == '+' || *s == '-');
    size_t int_digits = strspn(p, "0123456789");
    p += int_digits;
    size_t frac_digits = 0;
    bool real = false;
    if (*p == '.') {
        real = true;
        frac_digits = strspn(++p, "0123456789");
        p += frac_digits;
    }
    if (!int_digits && !frac_digits)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        real = true;
        p++;
        p += (*p == '+' || *p == '-');
        size_t exp_digits = strspn(p, "0123456789");
        if (!exp_digits)
            return NULL;
        p += exp_digits;
    }
    if (*p)
        return NULL;
    if (!real) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!errno)
            return json_integer(v);
    }
    double d = strtod(s, &end);
    return isfinite(d) ? json_real(d) : NULL;
}

/* The JSON value of a scalar: a plain one may be null, a boolean or a
 * number (YAML 1.2 core schema); a quoted one is always a string. NULL
 * only for text that is not UTF-8. */
static json_t *scalar_json(const struct node *n)
{
    if (!n->quoted) {
        const char *s = n->text;
        if (scalar_is_null(n))
            return json_null();
        if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE"))
            return json_true();
        if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE"))
            return json_false();
        json_t *num = number_json(s);
        if (num)
            return num;
    }
    return json_stringn(n->text, n->len);
}

/* The tree as JSON with no intrinsic resolved (a definition file, a
 * mapping's value). Depth is bounded by the reader's SAM_MAX_DEPTH. */
static json_t *plain_json(struct ctx *c, const struct node *n)
{
    if (n->kind == NODE_SCALAR) {
        json_t *v = scalar_json(n);
        if (!v)
            fail(c, n, "a string is not valid UTF-8");
        return v;
    }
    json_t *out = n->kind == NODE_SEQ ? json_array() : json_object();
    for (size_t i = 0; i < n->n; i++) {
        json_t *v = plain_json(c, n->kids[i]);
        if (!v) {
            json_decref(out);
            return NULL;
        }
        if (n->kind == NODE_SEQ)
            val_arr_append_take(out, v);
        else
            val_obj_set_take(out, n->keys[i]->text, v);
    }
    return out;
}

/* The text CloudFormation makes of a scalar value: strings as they are,
 * numbers and booleans spelled out. NULL for null, lists and maps. */
static char *json_text(const json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return xstrndup(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return xstrdup(buf);
    case JSON_REAL:
        val_fmt_real(json_real_value(v), buf, sizeof buf);
        return xstrdup(buf);
    case JSON_TRUE:
        return xstrdup("true");
    case JSON_FALSE:
        return xstrdup("false");
    default:
        return NULL;
    }
}

static const char *a_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* ----------------------------------------------------------- evaluation */

static json_t *eval_node(struct ctx *c, const struct node *n);

/* Resolves every intrinsic in n. Returns a new reference, c->novalue
 * (a new reference too) for AWS::NoValue, or NULL with the error set.
 * The depth count makes hostile nesting and long reference chains an
 * error instead of a stack overflow. */
static bool enter(struct ctx *c, const struct node *at)
{
    if (c->failed)
        return false;
    if (++c->depth > SAM_MAX_EVAL_DEPTH) {
        fail(c, at, "intrinsics and the references they follow nest deeper than %d levels",
             SAM_MAX_EVAL_DEPTH);
        c->depth--;
        return false;
    }
    return true;
}

static json_t *eval(struct ctx *c, const struct node *n)
{
    if (!enter(c, n))
        return NULL;
    json_t *v = eval_node(c, n);
    c->depth--;
    return v;
}

static json_t *eval_node(struct ctx *c, const struct node *n)
{
    if (n->kind == NODE_SCALAR) {
        json_t *v = scalar_json(n);
        if (!v)
            fail(c, n, "a string is not valid UTF-8");
        return v;
    }
    const char *fn = call_name(n);
    if (fn) {
        const struct intrinsic *in = intrinsic_named(fn);
        if (!in) {
            fail(c, n->keys[0], "unknown or unsupported intrinsic function %s", fn);
            return NULL;
        }
        return in->fn(c, n, n->kids[0]);
    }
    json_t *out = n->kind == NODE_SEQ ? json_array() : json_object();
    for (size_t i = 0; i < n->n; i++) {
        json_t *v = eval(c, n->kids[i]);
        if (!v) {
            json_decref(out);
            return NULL;
        }
        if (v == c->novalue)
            json_decref(v); /* AWS::NoValue removes the element or the key */
        else if (n->kind == NODE_SEQ)
            val_arr_append_take(out, v);
        else
            val_obj_set_take(out, n->keys[i]->text, v);
    }
    return out;
}

/* Evaluates n to the text CloudFormation would make of it: a plain scalar
 * as written (so 012 and 1.50 keep their spelling), anything else through
 * json_text. Sets *out (malloc'd) and returns 0; *out stays NULL when n is
 * AWS::NoValue. Null, lists and mappings are errors naming what. */
static int eval_text(struct ctx *c, const struct node *n, const char *what, char **out)
{
    *out = NULL;
    if (n->kind == NODE_SCALAR && !scalar_is_null(n)) {
        *out = xstrndup(n->text, n->len);
        return 0;
    }
    json_t *v = eval(c, n);
    if (!v)
        return -1;
    if (v != c->novalue) {
        *out = json_text(v);
        if (!*out)
            fail(c, n, "%s must be a string, not %s", what, a_kind(v));
    }
    json_decref(v);
    return c->failed ? -1 : 0;
}

/* eval_text where AWS::NoValue is an error too. */
static char *eval_str(struct ctx *c, const struct node *n, const char *what)
{
    char *s;
    if (eval_text(c, n, what, &s) < 0)
        return NULL;
    if (!s)
        fail(c, n, "%s cannot be AWS::NoValue", what);
    return s;
}

/* Checks that arg is a literal list of min..max items. */
static bool args(struct ctx *c, const struct node *call, const struct node *arg, size_t min, size_t max,
                 const char *usage)
{
    if (arg->kind == NODE_SEQ && arg->n >= min && arg->n <= max)
        return true;
    fail(c, arg, "%s takes %s", call->keys[0]->text, usage);
    return false;
}

/* ---------------------------------------------------------- conditions */

static int eval_cond(struct ctx *c, const struct node *n);

/* The value of a named condition: 1 true, 0 false, -1 error. */
static int cond_value(struct ctx *c, const char *name, const struct node *at)
{
    long i = index_find(c->cond_index, name);
    if (i < 0) {
        fail(c, at, "unknown condition '%s'", name);
        return -1;
    }
    struct cond *k = &c->conds[i];
    if (k->state == COND_BUSY) {
        fail(c, at, "circular reference: condition '%s' depends on itself", name);
        return -1;
    }
    if (k->state == COND_NEW) {
        if (!enter(c, at))
            return -1;
        k->state = COND_BUSY;
        int v = eval_cond(c, k->expr);
        c->depth--;
        k->state = v < 0 ? COND_NEW : v ? COND_TRUE : COND_FALSE;
        if (v < 0)
            return -1;
    }
    return k->state == COND_TRUE;
}

/* A condition expression: a condition function or {"Condition": name}. */
static int eval_cond(struct ctx *c, const struct node *n)
{
    if (n->kind == NODE_MAP && n->n == 1 && streq(n->keys[0]->text, "Condition")) {
        const struct node *name = n->kids[0];
        if (name->kind != NODE_SCALAR) {
            fail(c, name, "Condition takes the name of a condition");
            return -1;
        }
        return cond_value(c, name->text, name);
    }
    const char *fn = call_name(n);
    if (!fn || !(streq(fn, "Fn::Equals") || streq(fn, "Fn::Not") || streq(fn, "Fn::And") ||
                 streq(fn, "Fn::Or"))) {
        fail(c, n, "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or a Condition reference");
        return -1;
    }
    json_t *v = eval(c, n);
    if (!v)
        return -1;
    int b = json_is_true(v);
    json_decref(v);
    return b;
}

static json_t *fn_equals(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (!args(c, call, arg, 2, 2, "[value, value]"))
        return NULL;
    json_t *a = eval(c, arg->kids[0]);
    json_t *b = a ? eval(c, arg->kids[1]) : NULL;
    bool eq = false;
    if (b) {
        /* CloudFormation compares strings: "1" equals 1 */
        char *ta = json_text(a), *tb = json_text(b);
        eq = ta && tb ? streq(ta, tb) : val_equal(a, b);
        free(ta);
        free(tb);
    }
    json_decref(a);
    json_decref(b);
    return c->failed ? NULL : json_boolean(eq);
}

static json_t *fn_not(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (!args(c, call, arg, 1, 1, "[condition]"))
        return NULL;
    int v = eval_cond(c, arg->kids[0]);
    return v < 0 ? NULL : json_boolean(!v);
}

/* Fn::And and Fn::Or evaluate every operand, so that an error in any of
 * them is reported whatever the others say. */
static json_t *fn_andor(struct ctx *c, const struct node *call, const struct node *arg, bool and)
{
    if (!args(c, call, arg, 2, 10, "a list of 2 to 10 conditions"))
        return NULL;
    bool acc = and;
    for (size_t i = 0; i < arg->n; i++) {
        int v = eval_cond(c, arg->kids[i]);
        if (v < 0)
            return NULL;
        acc = and ? acc && v : acc || v;
    }
    return json_boolean(acc);
}

static json_t *fn_and(struct ctx *c, const struct node *call, const struct node *arg)
{
    return fn_andor(c, call, arg, true);
}

static json_t *fn_or(struct ctx *c, const struct node *call, const struct node *arg)
{
    return fn_andor(c, call, arg, false);
}

static json_t *fn_if(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (!args(c, call, arg, 3, 3, "[condition name, value if true, value if false]"))
        return NULL;
    const struct node *name = arg->kids[0];
    if (name->kind != NODE_SCALAR) {
        fail(c, name, "Fn::If takes the name of a condition first");
        return NULL;
    }
    int v = cond_value(c, name->text, name);
    return v < 0 ? NULL : eval(c, arg->kids[v ? 1 : 2]);
}

/* ------------------------------------------------------------ resources */

static struct res *res_find(struct ctx *c, const char *id)
{
    long i = index_find(c->res_index, id);
    return i < 0 ? NULL : &c->res[i];
}

/* Whether the resource is created: 1, 0 (its Condition is false), -1 error. */
static int res_included(struct ctx *c, const struct res *r)
{
    if (r->owner)
        return res_included(c, r->owner);
    if (!r->cond)
        return 1;
    return cond_value(c, r->cond->text, r->cond);
}

/* res_included for a reference at `at`: a left-out resource is an error. */
static bool res_usable(struct ctx *c, const struct res *r, const struct node *at)
{
    int v = res_included(c, r);
    if (v == 0) {
        const struct res *o = r->owner ? r->owner : r;
        fail(c, at, "resource '%s' is not created (its Condition '%s' is false) and cannot be referenced",
             r->id, o->cond->text);
    }
    return v > 0;
}

/* How messages name a resource of this kind. */
static const char *res_noun(const struct res *r)
{
    switch (r->kind) {
    case RES_FUNCTION: return "function";
    case RES_STATE_MACHINE: return "state machine";
    case RES_SIMPLE_TABLE:
    case RES_DDB_TABLE: return "table";
    default: return "resource";
    }
}

static const char *name_property(enum res_kind kind)
{
    switch (kind) {
    case RES_FUNCTION: return "FunctionName";
    case RES_STATE_MACHINE: return "Name";
    case RES_SIMPLE_TABLE:
    case RES_DDB_TABLE: return "TableName";
    default: return NULL;
    }
}

/* The physical name: the name property resolved, or the logical ID. The
 * `naming` mark turns a name that depends on itself into an error. */
static const char *res_name(struct ctx *c, struct res *r, const struct node *at)
{
    if (r->name)
        return r->name;
    if (r->naming) {
        fail(c, at, "circular reference: the name of '%s' depends on itself", r->id);
        return NULL;
    }
    const char *prop = name_property(r->kind);
    const struct node *v = prop ? map_get(r->props, prop) : NULL;
    char *name = NULL;
    if (v) {
        r->naming = true;
        int rc = eval_text(c, v, prop, &name);
        r->naming = false;
        if (rc < 0)
            return NULL;
        if (name && !*name) {
            fail(c, v, "%s must not be empty", prop);
            free(name);
            return NULL;
        }
    }
    if (!name)
        name = r->kind == RES_ROLE ? xprintf("%s-%s", c->stack_name, r->id) : xstrdup(r->id);
    return r->name = name;
}

/* A plausible service for an ARN of a resource stepd does not run. */
static char *other_service(const char *type)
{
    const char *s = strstr(type, "::");
    s = s ? s + 2 : type;
    size_t n = strcspn(s, ":");
    char *svc = xstrndup(s, n);
    for (char *p = svc; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (streq(svc, "serverless")) {
        free(svc);
        svc = xstrdup("lambda");
    }
    return svc;
}

static char *res_arn(struct ctx *c, struct res *r, const struct node *at)
{
    if (r->kind == RES_OTHER || r->kind == RES_API) {
        char *svc = other_service(r->type);
        char *arn = xprintf("arn:aws:%s:%s:%s:%s", svc, c->region, c->account, r->id);
        free(svc);
        return arn;
    }
    const char *name = res_name(c, r, at);
    if (!name)
        return NULL;
    switch (r->kind) {
    case RES_FUNCTION: return xprintf("arn:aws:lambda:%s:%s:function:%s", c->region, c->account, name);
    case RES_STATE_MACHINE:
        return xprintf("arn:aws:states:%s:%s:stateMachine:%s", c->region, c->account, name);
    case RES_SIMPLE_TABLE:
    case RES_DDB_TABLE: return xprintf("arn:aws:dynamodb:%s:%s:table/%s", c->region, c->account, name);
    default: return xprintf("arn:aws:iam::%s:role/%s", c->account, name);
    }
}

static json_t *string_take(char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    free(s);
    return v;
}

/* What Ref gives: a function's or table's name, a state machine's ARN, a
 * role's name, and the logical ID of anything stepd does not run. */
static json_t *res_ref(struct ctx *c, struct res *r, const struct node *at)
{
    switch (r->kind) {
    case RES_STATE_MACHINE: return string_take(res_arn(c, r, at));
    case RES_FUNCTION:
    case RES_SIMPLE_TABLE:
    case RES_DDB_TABLE:
    case RES_ROLE: {
        const char *name = res_name(c, r, at);
        return name ? json_string(name) : NULL;
    }
    default: return json_string(r->id);
    }
}

static json_t *res_getatt(struct ctx *c, struct res *r, const char *attr, const struct node *at)
{
    const char *has = "Arn";
    switch (r->kind) {
    case RES_FUNCTION:
    case RES_ROLE:
        if (streq(attr, "Arn"))
            return string_take(res_arn(c, r, at));
        break;
    case RES_STATE_MACHINE:
        has = "Arn, Name";
        if (streq(attr, "Arn"))
            return string_take(res_arn(c, r, at));
        if (streq(attr, "Name")) {
            const char *name = res_name(c, r, at);
            return name ? json_string(name) : NULL;
        }
        break;
    case RES_SIMPLE_TABLE:
    case RES_DDB_TABLE:
        has = "Arn, StreamArn";
        if (streq(attr, "Arn"))
            return string_take(res_arn(c, r, at));
        if (streq(attr, "StreamArn")) {
            char *arn = res_arn(c, r, at);
            char *s = arn ? xprintf("%s/stream/%s", arn, SAM_STREAM_LABEL) : NULL;
            free(arn);
            return string_take(s);
        }
        break;
    default: /* not run by stepd: its warning was given where it is declared */
        return ends_with(attr, "Arn") ? string_take(res_arn(c, r, at)) : json_string(r->id);
    }
    fail(c, at, "Fn::GetAtt: %s '%s' has no attribute '%s' (it has %s)", r->type, r->id, attr, has);
    return NULL;
}

static json_t *pseudo_value(struct ctx *c, const char *name, const struct node *at)
{
    if (streq(name, "AWS::Region"))
        return json_string(c->region);
    if (streq(name, "AWS::AccountId"))
        return json_string(c->account);
    if (streq(name, "AWS::Partition"))
        return json_string("aws");
    if (streq(name, "AWS::StackName"))
        return json_string(c->stack_name);
    if (streq(name, "AWS::URLSuffix"))
        return json_string("amazonaws.com");
    if (streq(name, "AWS::NoValue"))
        return json_incref(c->novalue);
    if (streq(name, "AWS::NotificationARNs"))
        return json_array();
    if (streq(name, "AWS::StackId"))
        return string_take(xprintf("arn:aws:cloudformation:%s:%s:stack/%s/" SAM_STACK_UUID, c->region,
                                   c->account, c->stack_name));
    fail(c, at, "unknown pseudo parameter '%s'", name);
    return NULL;
}

/* Ref by name: a parameter, a pseudo parameter or a resource. what begins
 * the message when the name is unknown ("Ref to"). */
static json_t *ref_value(struct ctx *c, const char *name, const struct node *at, const char *what)
{
    long i = index_find(c->param_index, name);
    if (i >= 0)
        return json_incref(c->params[i].value);
    if (strncmp(name, "AWS::", 5) == 0)
        return pseudo_value(c, name, at);
    struct res *r = res_find(c, name);
    if (!r) {
        fail(c, at, "%s unknown resource or parameter '%s'", what, name);
        return NULL;
    }
    return res_usable(c, r, at) ? res_ref(c, r, at) : NULL;
}

static json_t *fn_ref(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (arg->kind != NODE_SCALAR || scalar_is_null(arg)) {
        fail(c, arg, "Ref takes the name of a parameter or resource");
        return NULL;
    }
    return ref_value(c, arg->text, arg, "Ref to");
}

/* GetAtt of resource id, attribute attr, for a reference at `at`. */
static json_t *getatt_value(struct ctx *c, const char *id, const char *attr, const struct node *at,
                            const char *what)
{
    struct res *r = res_find(c, id);
    if (!r) {
        if (index_find(c->param_index, id) >= 0)
            fail(c, at, "%s '%s', which is a parameter, not a resource", what, id);
        else
            fail(c, at, "%s unknown resource '%s'", what, id);
        return NULL;
    }
    return res_usable(c, r, at) ? res_getatt(c, r, attr, at) : NULL;
}

static json_t *fn_getatt(struct ctx *c, const struct node *call, const struct node *arg)
{
    const char *usage = "Resource.Attribute or [Resource, Attribute]";
    char *id = NULL, *attr = NULL;
    if (arg->kind == NODE_SCALAR) {
        const char *dot = strchr(arg->text, '.');
        if (dot && dot > arg->text && dot[1]) {
            id = xstrndup(arg->text, (size_t)(dot - arg->text));
            attr = xstrdup(dot + 1);
        }
    } else if (arg->kind == NODE_SEQ && arg->n == 2 && arg->kids[0]->kind == NODE_SCALAR) {
        id = xstrdup(arg->kids[0]->text);
        attr = eval_str(c, arg->kids[1], "the attribute of Fn::GetAtt");
        if (!attr) {
            free(id);
            return NULL;
        }
    }
    if (!id) {
        fail(c, arg, "Fn::GetAtt takes %s", usage);
        return NULL;
    }
    json_t *v = getatt_value(c, id, attr, arg, "Fn::GetAtt of");
    free(id);
    free(attr);
    return v;
}

/* ---------------------------------------------------------------- Sub */

/* The text of one ${name} of Fn::Sub: a variable of the map form, a
 * resource attribute (Res.Attr), or what Ref gives. */
static char *sub_var(struct ctx *c, const char *name, const struct node *vars, const struct node *at)
{
    const struct node *var = vars ? map_get(vars, name) : NULL;
    if (var)
        return eval_str(c, var, "a variable of Fn::Sub");
    json_t *v;
    const char *dot = strchr(name, '.');
    if (dot && dot > name && index_find(c->param_index, name) < 0) {
        char *id = xstrndup(name, (size_t)(dot - name));
        v = getatt_value(c, id, dot + 1, at, "Fn::Sub refers to");
        free(id);
    } else {
        v = ref_value(c, name, at, "Fn::Sub refers to");
    }
    if (!v)
        return NULL;
    char *s = v == c->novalue ? NULL : json_text(v);
    if (!s)
        fail(c, at, "Fn::Sub: ${%s} is %s, not a string%s", name,
             v == c->novalue ? "AWS::NoValue" : a_kind(v),
             json_is_array(v) ? " (use Fn::Join for a list)" : "");
    json_decref(v);
    return s;
}

static json_t *fn_sub(struct ctx *c, const struct node *call, const struct node *arg)
{
    const struct node *tmpl = arg, *vars = NULL;
    if (arg->kind == NODE_SEQ && arg->n == 2 && arg->kids[1]->kind == NODE_MAP) {
        tmpl = arg->kids[0];
        vars = arg->kids[1];
    }
    if (tmpl->kind != NODE_SCALAR) {
        fail(c, arg, "Fn::Sub takes a string or [string, {variables}]");
        return NULL;
    }
    val_buf b = {0};
    const char *p = tmpl->text;
    for (;;) {
        const char *open = strstr(p, "${");
        const char *close = open ? strchr(open + 2, '}') : NULL;
        if (!close) { /* no more variables: an unclosed ${ stays as it is */
            val_buf_puts(&b, p);
            break;
        }
        val_buf_putn(&b, p, (size_t)(open - p));
        if (open[2] == '!') { /* ${!Literal} is written as ${Literal} */
            val_buf_puts(&b, "${");
            p = open + 3;
            continue;
        }
        char *name = xstrndup(open + 2, (size_t)(close - open - 2));
        char *s = sub_var(c, name, vars, tmpl);
        free(name);
        if (!s) {
            val_buf_free(&b);
            return NULL;
        }
        val_buf_puts(&b, s);
        free(s);
        p = close + 1;
    }
    return string_take(val_buf_take(&b));
}

/* --------------------------------------------------------------- lists */

static json_t *fn_join(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (!args(c, call, arg, 2, 2, "[delimiter, [values]]"))
        return NULL;
    char *delim = eval_str(c, arg->kids[0], "the delimiter of Fn::Join");
    json_t *list = delim ? eval(c, arg->kids[1]) : NULL;
    if (list && !json_is_array(list))
        fail(c, arg->kids[1], "Fn::Join joins a list, not %s", a_kind(list));
    val_buf b = {0};
    size_t i;
    json_t *item;
    if (!c->failed) {
        json_array_foreach(list, i, item) {
            char *s = json_text(item);
            if (!s) {
                fail(c, arg->kids[1], "Fn::Join: item %zu is %s, not a string", i + 1, a_kind(item));
                break;
            }
            if (i)
                val_buf_puts(&b, delim);
            val_buf_puts(&b, s);
            free(s);
        }
    }
    free(delim);
    json_decref(list);
    if (c->failed) {
        val_buf_free(&b);
        return NULL;
    }
    return string_take(val_buf_take(&b));
}

/* A whole number from a node (a number or numeric text); -1 on error. */
static int eval_long(struct ctx *c, const struct node *n, const char *what, long *out)
{
    char *s = eval_str(c, n, what);
    if (!s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno) {
        fail(c, n, "%s must be a whole number, not '%s'", what, s);
        free(s);
        return -1;
    }
    free(s);
    *out = v;
    return 0;
}

static json_t *fn_select(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (!args(c, call, arg, 2, 2, "[index, [values]]"))
        return NULL;
    long idx;
    if (eval_long(c, arg->kids[0], "the index of Fn::Select", &idx) < 0)
        return NULL;
    json_t *list = eval(c, arg->kids[1]);
    if (!list)
        return NULL;
    json_t *v = NULL;
    if (!json_is_array(list))
        fail(c, arg->kids[1], "Fn::Select selects from a list, not %s", a_kind(list));
    else if (idx < 0 || (size_t)idx >= json_array_size(list))
        fail(c, arg->kids[0], "Fn::Select: index %ld is out of range (the list has %zu items)", idx,
             json_array_size(list));
    else
        v = json_incref(json_array_get(list, (size_t)idx));
    json_decref(list);
    return v;
}

static json_t *fn_split(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (!args(c, call, arg, 2, 2, "[delimiter, string]"))
        return NULL;
    char *delim = eval_str(c, arg->kids[0], "the delimiter of Fn::Split");
    if (delim && !*delim)
        fail(c, arg->kids[0], "Fn::Split: the delimiter must not be empty");
    char *s = c->failed ? NULL : eval_str(c, arg->kids[1], "the source of Fn::Split");
    json_t *out = NULL;
    if (s) {
        out = json_array();
        size_t dl = strlen(delim);
        const char *p = s;
        for (const char *q; (q = strstr(p, delim)); p = q + dl)
            val_arr_append_take(out, json_stringn(p, (size_t)(q - p)));
        val_arr_append_take(out, json_string(p));
    }
    free(delim);
    free(s);
    return out;
}

static json_t *fn_findinmap(struct ctx *c, const struct node *call, const struct node *arg)
{
    if (!args(c, call, arg, 3, 3, "[MapName, TopLevelKey, SecondLevelKey]"))
        return NULL;
    char *k[3] = {0};
    const struct node *v = c->mappings;
    for (int i = 0; i < 3 && v; i++) {
        k[i] = eval_str(c, arg->kids[i], "a key of Fn::FindInMap");
        if (!k[i]) {
            v = NULL;
            break;
        }
        const struct node *next = v->kind == NODE_MAP ? map_get(v, k[i]) : NULL;
        if (!next) {
            if (i == 0)
                fail(c, arg->kids[0], "Fn::FindInMap: no mapping '%s' in Mappings", k[0]);
            else if (i == 1)
                fail(c, arg->kids[1], "Fn::FindInMap: mapping '%s' has no key '%s'", k[0], k[1]);
            else
                fail(c, arg->kids[2], "Fn::FindInMap: mapping '%s' has no key '%s' under '%s'", k[0],
                     k[2], k[1]);
        }
        v = next;
    }
    if (!c->mappings)
        fail(c, arg, "Fn::FindInMap: the template has no Mappings");
    for (int i = 0; i < 3; i++)
        free(k[i]);
    return c->failed ? NULL : plain_json(c, v);
}

static json_t *fn_base64(struct ctx *c, const struct node *call, const struct node *arg)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *s = eval_str(c, arg, "the argument of Fn::Base64");
    if (!s)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    val_buf b = {0};
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        val_buf_putc(&b, abc[v >> 18 & 63]);
        val_buf_putc(&b, abc[v >> 12 & 63]);
        val_buf_putc(&b, i + 1 < n ? abc[v >> 6 & 63] : '=');
        val_buf_putc(&b, i + 2 < n ? abc[v & 63] : '=');
    }
    free(s);
    return string_take(val_buf_take(&b));
}

/* Three zones, as a fresh account has: the region with a, b and c. */
static json_t *fn_getazs(struct ctx *c, const struct node *call, const struct node *arg)
{
    char *region;
    if (eval_text(c, arg, "the region of Fn::GetAZs", &region) < 0)
        return NULL;
    const char *r = region && *region ? region : c->region;
    json_t *out = json_array();
    for (char z = 'a'; z <= 'c'; z++)
        val_arr_append_take(out, string_take(xprintf("%s%c", r, z)));
    free(region);
    return out;
}

static json_t *fn_unresolvable(struct ctx *c, const struct node *call, const struct node *arg)
{
    const char *fn = call->keys[0]->text;
    if (streq(fn, "Fn::ImportValue"))
        fail(c, call, "Fn::ImportValue cannot be resolved locally: stepd runs one stack, with no "
                      "exports from others (pass the value as a parameter instead)");
    else
        fail(c, call, "%s cannot be resolved locally (pass the value as a parameter instead)", fn);
    return NULL;
}

/* ----------------------------------------------------------- parameters */

/* Splits a list parameter's text at commas ("" is the empty list). */
static json_t *split_list(const char *s)
{
    json_t *out = json_array();
    if (!*s)
        return out;
    for (const char *p = s;; p++) {
        const char *q = strchr(p, ',');
        val_arr_append_take(out, json_stringn(p, q ? (size_t)(q - p) : strlen(p)));
        if (!q)
            break;
        p = q;
    }
    return out;
}

/* AllowedPattern is a Java regular expression; the common escapes become
 * their POSIX forms and the pattern must match the whole value. */
static char *pattern_to_ere(const char *pat)
{
    val_buf b = {0};
    val_buf_puts(&b, "^(");
    bool in_class = false;
    for (const char *p = pat; *p; p++) {
        if (*p == '\\' && p[1]) {
            char e = *++p;
            const char *cls = e == 'd' ? "0-9" : e == 's' ? "[:space:]" : e == 'w' ? "[:alnum:]_" : NULL;
            const char *neg = e == 'D' ? "[^0-9]" : e == 'S' ? "[^[:space:]]" : e == 'W' ? "[^[:alnum:]_]" : NULL;
            if (cls && in_class) {
                val_buf_puts(&b, cls);
            } else if (cls) {
                val_buf_printf(&b, "[%s]", cls);
            } else if (neg && !in_class) {
                val_buf_puts(&b, neg);
            } else {
                val_buf_putc(&b, '\\');
                val_buf_putc(&b, e);
            }
            continue;
        }
        if (!in_class && *p == '(' && p[1] == '?' && p[2] == ':') {
            val_buf_putc(&b, '(');
            p += 2;
            continue;
        }
        if (*p == '[' && !in_class) {
            in_class = true;
            val_buf_putc(&b, '[');
            if (p[1] == '^')
                val_buf_putc(&b, *++p);
            if (p[1] == ']')
                val_buf_putc(&b, *++p);
            continue;
        }
        if (*p == ']' && in_class)
            in_class = false;
        val_buf_putc(&b, *p);
    }
    val_buf_puts(&b, ")$");
    return val_buf_take(&b);
}

/* A number from a constraint such as MinValue; NAN when absent, -1 error. */
static int constraint_num(struct ctx *c, const struct param *p, const char *key, double *out)
{
    *out = NAN;
    const struct node *n = map_get(p->decl, key);
    if (!n)
        return 0;
    char *s = eval_str(c, n, key);
    if (!s)
        return -1;
    char *end;
    double d = strtod(s, &end);
    if (!*s || *end)
        fail(c, n, "parameter '%s': %s must be a number, not '%s'", p->name, key, s);
    free(s);
    *out = d;
    return c->failed ? -1 : 0;
}

/* Checks one value (one item for list types) against the constraints. */
static void check_item(struct ctx *c, const struct param *p, const char *v, const struct node *at)
{
    const struct node *cd = map_get(p->decl, "ConstraintDescription");
    char *why = NULL;
    bool numeric = p->type == P_NUMBER || p->type == P_NUMBER_LIST;
    char *end;
    double d = strtod(v, &end);
    if (numeric && (!*v || *end || !isfinite(d))) {
        why = xprintf("'%s' is not a number", v);
        goto out;
    }
    double min, max;
    if (numeric) {
        if (constraint_num(c, p, "MinValue", &min) < 0 || constraint_num(c, p, "MaxValue", &max) < 0)
            goto out;
        if (d < min)
            why = xprintf("%s is less than MinValue %g", v, min);
        else if (d > max)
            why = xprintf("%s is greater than MaxValue %g", v, max);
    } else if (p->type == P_STRING) {
        if (constraint_num(c, p, "MinLength", &min) < 0 || constraint_num(c, p, "MaxLength", &max) < 0)
            goto out;
        size_t len = strlen(v);
        if ((double)len < min)
            why = xprintf("'%s' is shorter than MinLength %g", v, min);
        else if ((double)len > max)
            why = xprintf("'%s' is longer than MaxLength %g", v, max);
    }
    const struct node *pat = map_get(p->decl, "AllowedPattern");
    if (!why && pat && !numeric) {
        if (pat->kind != NODE_SCALAR) {
            fail(c, pat, "parameter '%s': AllowedPattern must be a string", p->name);
            goto out;
        }
        char *ere = pattern_to_ere(pat->text);
        regex_t re;
        if (regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) != 0) {
            fail(c, pat, "parameter '%s': AllowedPattern '%s' is not a regular expression stepd can read",
                 p->name, pat->text);
        } else {
            if (regexec(&re, v, 0, NULL, 0) != 0)
                why = xprintf("'%s' does not match AllowedPattern '%s'", v, pat->text);
            regfree(&re);
        }
        free(ere);
    }
    const struct node *allowed = map_get(p->decl, "AllowedValues");
    if (!why && !c->failed && allowed) {
        if (allowed->kind != NODE_SEQ) {
            fail(c, allowed, "parameter '%s': AllowedValues must be a list", p->name);
            goto out;
        }
        bool ok = false;
        val_buf list = {0};
        for (size_t i = 0; i < allowed->n; i++) {
            const struct node *a = allowed->kids[i];
            if (a->kind != NODE_SCALAR)
                continue;
            char *aend;
            double ad = strtod(a->text, &aend);
            if (streq(a->text, v) || (numeric && *a->text && !*aend && ad == d))
                ok = true;
            val_buf_printf(&list, "%s%s", i ? ", " : "", a->text);
        }
        if (!ok)
            why = xprintf("'%s' is not one of the AllowedValues (%s)", v, list.p ? list.p : "");
        val_buf_free(&list);
    }
out:
    if (why)
        fail(c, at, "parameter '%s': %s%s%s%s", p->name, why, cd && cd->kind == NODE_SCALAR ? " (" : "",
             cd && cd->kind == NODE_SCALAR ? cd->text : "", cd && cd->kind == NODE_SCALAR ? ")" : "");
    free(why);
}

static int param_type(const char *t, enum ptype *out)
{
    if (streq(t, "String"))
        *out = P_STRING;
    else if (streq(t, "Number"))
        *out = P_NUMBER;
    else if (streq(t, "CommaDelimitedList"))
        *out = P_LIST;
    else if (streq(t, "List<Number>"))
        *out = P_NUMBER_LIST;
    else if (strncmp(t, "List<AWS::", 10) == 0 ||
             strncmp(t, "AWS::SSM::Parameter::Value<List<", 32) == 0 ||
             streq(t, "AWS::SSM::Parameter::Value<CommaDelimitedList>"))
        *out = P_LIST; /* AWS-specific types: their value is used as given */
    else if (strncmp(t, "AWS::", 5) == 0)
        *out = P_STRING;
    else
        return -1;
    return 0;
}

static void read_parameters(struct ctx *c, const struct node *sec, const struct node *sec_key,
                            const struct sam_opts *o)
{
    size_t n = sec ? sec->n : 0;
    c->params = xrealloc(NULL, n * sizeof *c->params);
    for (size_t i = 0; i < n && !c->failed; i++) {
        const struct node *key = sec->keys[i], *decl = sec->kids[i];
        struct param *p = &c->params[c->n_params];
        *p = (struct param){.name = key->text, .key = key, .decl = decl};
        if (!is_alnum_id(key->text)) {
            fail(c, key, "parameter name '%s' must be alphanumeric", key->text);
            return;
        }
        if (decl->kind != NODE_MAP) {
            fail(c, key, "parameter '%s' must be a mapping with a Type", key->text);
            return;
        }
        const struct node *type = map_get(decl, "Type");
        if (!type || type->kind != NODE_SCALAR) {
            fail(c, key, "parameter '%s' has no Type", key->text);
            return;
        }
        if (param_type(type->text, &p->type) < 0) {
            fail(c, type, "parameter '%s' has an unknown Type '%s'", key->text, type->text);
            return;
        }
        json_object_set_new(c->param_index, key->text, json_integer((json_int_t)c->n_params));
        c->n_params++;
    }
    const struct node *at = sec_key ? sec_key : c->root;
    for (size_t i = 0; i < (o ? o->n_overrides : 0) && !c->failed; i++) {
        const char *s = o->overrides[i];
        const char *eq = s ? strchr(s, '=') : NULL;
        if (!eq || eq == s) {
            fail(c, at, "parameter override '%s' is not Key=Value", s ? s : "(null)");
            return;
        }
        char *name = xstrndup(s, (size_t)(eq - s));
        long k = index_find(c->param_index, name);
        if (k < 0)
            fail(c, at, "parameter override '%s' names no parameter of the template", name);
        else
            c->params[k].override = eq + 1;
        free(name);
    }
    for (size_t i = 0; i < c->n_params && !c->failed; i++) {
        struct param *p = &c->params[i];
        const struct node *def = map_get(p->decl, "Default");
        const struct node *at_value = p->override ? p->key : def;
        char *text = NULL;
        if (p->override) {
            text = xstrdup(p->override);
        } else if (def) {
            if (def->kind != NODE_SCALAR) {
                fail(c, def, "parameter '%s': Default must be a string", p->name);
                return;
            }
            text = xstrdup(def->text);
        } else {
            fail(c, p->key, "parameter '%s' has no Default and no override (give %s=VALUE)", p->name,
                 p->name);
            return;
        }
        if (p->type == P_LIST || p->type == P_NUMBER_LIST) {
            p->value = split_list(text);
            size_t k;
            json_t *item;
            json_array_foreach(p->value, k, item) {
                check_item(c, p, json_string_value(item), at_value);
                if (c->failed)
                    break;
            }
        } else {
            check_item(c, p, text, at_value);
            p->value = json_string(text); /* Ref gives a Number parameter as text too */
        }
        free(text);
        if (!p->value)
            fail(c, at_value, "parameter '%s': the value is not valid UTF-8", p->name);
    }
}

/* -------------------------------------------------------------- Globals */

/* Merges a Globals section into a resource's properties, as SAM does: the
 * resource's value wins, mappings merge key by key, lists concatenate,
 * and an intrinsic counts as a scalar. Depth is bounded by the reader. */
static const struct node *merge(struct ctx *c, const struct node *g, const struct node *l)
{
    if (!g)
        return l;
    if (!l)
        return g;
    if (g->kind == NODE_MAP && l->kind == NODE_MAP && !call_name(g) && !call_name(l)) {
        struct node *m = node_new(c, NODE_MAP, l->file, l->line, l->col);
        for (size_t i = 0; i < g->n; i++) {
            long j = map_find(l, g->keys[i]->text);
            node_push(m, j >= 0 ? l->keys[j] : g->keys[i], merge(c, g->kids[i], j >= 0 ? l->kids[j] : NULL));
        }
        for (size_t i = 0; i < l->n; i++)
            if (map_find(g, l->keys[i]->text) < 0)
                node_push(m, l->keys[i], l->kids[i]);
        return m;
    }
    if (g->kind == NODE_SEQ && l->kind == NODE_SEQ) {
        struct node *s = node_new(c, NODE_SEQ, l->file, l->line, l->col);
        for (size_t i = 0; i < g->n; i++)
            node_push(s, NULL, g->kids[i]);
        for (size_t i = 0; i < l->n; i++)
            node_push(s, NULL, l->kids[i]);
        return s;
    }
    return l;
}

/* The Globals section for a resource kind, without the properties its
 * IgnoreGlobals attribute names ("*" ignores them all). */
static const struct node *globals_for(struct ctx *c, const struct node *sec, const struct node *ignore)
{
    if (!sec || !ignore)
        return sec;
    if (ignore->kind == NODE_SCALAR && streq(ignore->text, "*"))
        return NULL;
    struct node *g = node_new(c, NODE_MAP, sec->file, sec->line, sec->col);
    for (size_t i = 0; i < sec->n; i++) {
        bool skip = false;
        for (size_t j = 0; ignore->kind == NODE_SEQ && j < ignore->n; j++)
            skip = skip || streq(ignore->kids[j]->text ? ignore->kids[j]->text : "", sec->keys[i]->text);
        if (ignore->kind == NODE_SCALAR)
            skip = streq(ignore->text, sec->keys[i]->text);
        if (!skip)
            node_push(g, sec->keys[i], sec->kids[i]);
    }
    return g;
}

struct globals {
    const struct node *function, *state_machine, *simple_table;
};

static void read_globals(struct ctx *c, const struct node *sec, struct globals *g)
{
    static const char *const not_global[] = {"Role", "Policies", "FunctionName", "Events", NULL};
    static const char *const ignored[] = {"Api", "HttpApi", "LayerVersion", NULL};
    for (size_t i = 0; sec && i < sec->n && !c->failed; i++) {
        const struct node *key = sec->keys[i], *v = sec->kids[i];
        const char *name = key->text;
        const char *only = NULL;
        const struct node **slot = NULL;
        if (streq(name, "Function"))
            slot = &g->function;
        else if (streq(name, "StateMachine"))
            slot = &g->state_machine, only = "PropagateTags";
        else if (streq(name, "SimpleTable"))
            slot = &g->simple_table, only = "SSESpecification";
        else if (!in_list(name, ignored)) {
            fail(c, key, "unknown Globals section '%s' (SAM has Function, StateMachine, SimpleTable, "
                         "Api, HttpApi and LayerVersion)", name);
            return;
        }
        if (scalar_is_null(v))
            continue;
        if (v->kind != NODE_MAP) {
            fail(c, key, "Globals.%s must be a mapping", name);
            return;
        }
        if (!slot) {
            warn(c, key, "Globals.%s is ignored: stepd does not run %s resources", name, name);
            continue;
        }
        for (size_t j = 0; j < v->n; j++) {
            const char *prop = v->keys[j]->text;
            if (only && !streq(prop, only)) {
                fail(c, v->keys[j], "Globals.%s cannot set %s (only %s)", name, prop, only);
                return;
            }
            if (!only && in_list(prop, not_global)) {
                fail(c, v->keys[j], "Globals.%s cannot set %s (set it on each function)", name, prop);
                return;
            }
        }
        *slot = v;
    }
}

/* ------------------------------------------------------------ resources */

static enum res_kind res_kind_of(const char *type)
{
    if (streq(type, "AWS::Serverless::Function"))
        return RES_FUNCTION;
    if (streq(type, "AWS::Serverless::StateMachine"))
        return RES_STATE_MACHINE;
    if (streq(type, "AWS::Serverless::SimpleTable"))
        return RES_SIMPLE_TABLE;
    if (streq(type, "AWS::DynamoDB::Table"))
        return RES_DDB_TABLE;
    return RES_OTHER;
}

/* c->res is sized once by read_resources, so pointers into it stay valid. */
static void add_res(struct ctx *c, struct res r)
{
    json_object_set_new(c->res_index, r.id, json_integer((json_int_t)c->n_res));
    c->res[c->n_res++] = r;
}

/* Whether any function has an event of this type SAM serves from an API
 * it makes itself (no RestApiId / ApiId given). */
static bool needs_implicit_api(struct ctx *c, const char *event_type, const char *api_prop)
{
    for (size_t i = 0; i < c->n_res; i++) {
        const struct node *events = c->res[i].kind == RES_FUNCTION ? map_get(c->res[i].props, "Events") : NULL;
        for (size_t j = 0; events && events->kind == NODE_MAP && j < events->n; j++) {
            const struct node *ev = events->kids[j];
            const struct node *t = map_get(ev, "Type");
            const struct node *props = map_get(ev, "Properties");
            if (t && t->kind == NODE_SCALAR && streq(t->text, event_type) && !map_get(props, api_prop))
                return true;
        }
    }
    return false;
}

static void read_resources(struct ctx *c, const struct node *sec, const struct globals *g)
{
    static const char *const attributes[] = {
        "Type", "Properties", "Condition", "DependsOn", "Metadata", "DeletionPolicy",
        "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy", "IgnoreGlobals", "Connectors", NULL};
    /* room for every resource, a role for each, and the two implicit APIs */
    c->res = xrealloc(NULL, (2 * sec->n + 2) * sizeof *c->res);
    for (size_t i = 0; i < sec->n && !c->failed; i++) {
        const struct node *key = sec->keys[i], *decl = sec->kids[i];
        const char *id = key->text;
        if (!is_alnum_id(id)) {
            fail(c, key, "logical ID '%s' must be alphanumeric (A-Z, a-z, 0-9)", id);
            return;
        }
        if (decl->kind != NODE_MAP) {
            fail(c, key, "resource %s must be a mapping with a Type", id);
            return;
        }
        for (size_t j = 0; j < decl->n; j++) {
            if (!in_list(decl->keys[j]->text, attributes)) {
                fail(c, decl->keys[j], "resource %s: unknown attribute '%s'", id, decl->keys[j]->text);
                return;
            }
        }
        const struct node *type = map_get(decl, "Type");
        if (!type) {
            fail(c, key, "resource %s has no Type", id);
            return;
        }
        if (type->kind != NODE_SCALAR) {
            fail(c, type, "resource %s: Type must be a string", id);
            return;
        }
        const struct node *props = map_get(decl, "Properties");
        if (props && props->kind != NODE_MAP) {
            fail(c, props, "resource %s: Properties must be a mapping", id);
            return;
        }
        const struct node *cond = map_get(decl, "Condition");
        if (cond && (cond->kind != NODE_SCALAR || index_find(c->cond_index, cond->text) < 0)) {
            fail(c, cond, "resource %s: unknown condition '%s'", id,
                 cond->kind == NODE_SCALAR ? cond->text : "");
            return;
        }
        const struct node *deps = map_get(decl, "DependsOn");
        for (size_t j = 0; deps && j < (deps->kind == NODE_SEQ ? deps->n : 1); j++) {
            const struct node *d = deps->kind == NODE_SEQ ? deps->kids[j] : deps;
            if (d->kind != NODE_SCALAR || map_find(sec, d->text) < 0) {
                fail(c, d, "resource %s: DependsOn names unknown resource '%s'", id,
                     d->kind == NODE_SCALAR ? d->text : "");
                return;
            }
        }
        enum res_kind kind = res_kind_of(type->text);
        const struct node *gsec = kind == RES_FUNCTION        ? g->function
                                  : kind == RES_STATE_MACHINE ? g->state_machine
                                  : kind == RES_SIMPLE_TABLE  ? g->simple_table
                                                              : NULL;
        const struct node *merged = merge(c, globals_for(c, gsec, map_get(decl, "IgnoreGlobals")), props);
        if (merged && merged->kind != NODE_MAP)
            merged = NULL;
        add_res(c, (struct res){.id = id, .key = key, .decl = decl, .props = merged, .cond = cond,
                                .type = type->text, .kind = kind});
    }
    /* what SAM makes behind the template's back: a role per function or
     * state machine without one, and the API its events are served by */
    size_t declared = c->n_res;
    for (size_t i = 0; i < declared && !c->failed; i++) {
        struct res *r = &c->res[i];
        if ((r->kind != RES_FUNCTION && r->kind != RES_STATE_MACHINE) || map_get(r->props, "Role"))
            continue;
        char *rid = xprintf("%sRole", r->id);
        if (!res_find(c, rid)) {
            const char *id = file_name(c, rid); /* kept until the end, like a node */
            add_res(c, (struct res){.id = id, .key = r->key, .decl = r->decl, .owner = r,
                                    .type = "AWS::IAM::Role", .kind = RES_ROLE});
        }
        free(rid);
    }
    static const char *const apis[][3] = {{"ServerlessRestApi", "Api", "RestApiId"},
                                          {"ServerlessHttpApi", "HttpApi", "ApiId"}};
    for (size_t i = 0; i < 2; i++)
        if (!res_find(c, apis[i][0]) && needs_implicit_api(c, apis[i][1], apis[i][2]))
            add_res(c, (struct res){.id = apis[i][0], .key = c->root, .decl = c->root,
                                    .type = i ? "AWS::Serverless::HttpApi" : "AWS::Serverless::Api",
                                    .kind = RES_API});
}

/* -------------------------------------------------------- plan entries */

static const struct node *prop(const struct res *r, const char *key) { return map_get(r->props, key); }

/* An integer property in [min, max] (a number or numeric text), def when
 * absent. Returns -1 on error. */
static int prop_long(struct ctx *c, const struct res *r, const char *key, long def, long min, long max,
                     long *out)
{
    const struct node *v = prop(r, key);
    *out = def;
    if (!v)
        return 0;
    char *s;
    if (eval_text(c, v, key, &s) < 0)
        return -1;
    if (!s)
        return 0; /* AWS::NoValue */
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (!*s || *end || errno)
        fail(c, v, "%s %s: %s must be a whole number, not '%s'", res_noun(r), r->id, key, s);
    else if (n < min || n > max)
        fail(c, v, "%s %s: %s must be between %ld and %ld, not %ld", res_noun(r), r->id, key, min, max, n);
    free(s);
    *out = n;
    return c->failed ? -1 : 0;
}

static void warn_unknown_props(struct ctx *c, const struct res *r, const char *const *known)
{
    for (size_t i = 0; r->props && i < r->props->n; i++)
        if (!in_list(r->props->keys[i]->text, known))
            warn(c, r->props->keys[i], "%s %s: unknown property '%s' is ignored", res_noun(r), r->id,
                 r->props->keys[i]->text);
}

static void warn_events(struct ctx *c, const struct res *r, const char *what, const char *instead)
{
    const struct node *events = prop(r, "Events");
    if (!events)
        return;
    if (events->kind != NODE_MAP) {
        fail(c, events, "%s %s: Events must be a mapping", what, r->id);
        return;
    }
    for (size_t i = 0; i < events->n; i++) {
        const struct node *t = map_get(events->kids[i], "Type");
        warn(c, events->keys[i], "%s %s: event %s (%s) is not delivered by stepd; %s", what, r->id,
             events->keys[i]->text, t && t->kind == NODE_SCALAR ? t->text : "no Type", instead);
    }
}

/* A name used once per kind: two functions named alike would clash. */
static bool name_unique(struct ctx *c, json_t *seen, const struct res *r, const char *name, const char *what)
{
    json_t *other = json_object_get(seen, name);
    if (other) {
        const struct node *at = prop(r, name_property(r->kind));
        fail(c, at ? at : r->key, "%s name '%s' is already used by %s", what, name, json_string_value(other));
        return false;
    }
    json_object_set_new(seen, name, json_string(r->id));
    return true;
}

static bool name_ok(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s)))
            return false;
    return true;
}

/* The absolute path of a directory or file named relative to the template. */
static char *rel_path(struct ctx *c, const char *p)
{
    return p[0] == '/' ? xstrdup(p) : xprintf("%s/%s", c->dir, p);
}

static json_t *plan_function(struct ctx *c, struct res *r, json_t *names)
{
    static const char *const known[] = {
        "Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
        "AutoPublishCodeSha256", "CodeSigningConfigArn", "CodeUri", "DeadLetterQueue",
        "DeploymentPreference", "Description", "Environment", "EphemeralStorage", "EventInvokeConfig",
        "Events", "FileSystemConfigs", "FunctionName", "FunctionUrlConfig", "Handler", "ImageConfig",
        "ImageUri", "InlineCode", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType",
        "PermissionsBoundary", "Policies", "PropagateTags", "ProvisionedConcurrencyConfig",
        "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath", "Runtime",
        "RuntimeManagementConfig", "SnapStart", "SourceKMSKeyArn", "Tags", "Timeout", "Tracing",
        "VersionDescription", "VpcConfig", NULL};
    const struct node *pkg = prop(r, "PackageType");
    if (pkg || prop(r, "ImageUri")) {
        char *t = NULL;
        if (pkg && eval_text(c, pkg, "PackageType", &t) < 0)
            return NULL;
        bool image = !pkg || (t && streq(t, "Image"));
        free(t);
        if (image) {
            fail(c, pkg ? pkg : map_key(r->props, "ImageUri"),
                 "function %s: PackageType Image is not supported: stepd runs functions from a CodeUri "
                 "directory", r->id);
            return NULL;
        }
    }
    if (prop(r, "InlineCode")) {
        fail(c, map_key(r->props, "InlineCode"), "function %s: InlineCode is not supported; use CodeUri",
             r->id);
        return NULL;
    }
    const struct node *handler = prop(r, "Handler"), *runtime = prop(r, "Runtime");
    const struct node *code = prop(r, "CodeUri");
    if (!code || !handler || !runtime) {
        fail(c, r->key, "function %s has no %s", r->id, !code ? "CodeUri" : !handler ? "Handler" : "Runtime");
        return NULL;
    }
    if (code->kind == NODE_MAP && !call_name(code)) {
        fail(c, code, "function %s: CodeUri must be a local directory; an S3 location is not supported",
             r->id);
        return NULL;
    }
    warn_unknown_props(c, r, known);
    json_t *fn = json_object();
    char *code_dir = NULL;
    char *uri = eval_str(c, code, "CodeUri");
    char *h = uri ? eval_str(c, handler, "Handler") : NULL;
    char *rt = h ? eval_str(c, runtime, "Runtime") : NULL;
    if (rt) {
        char *full = rel_path(c, uri);
        char *real = realpath(full, NULL);
        struct stat st;
        if (strncmp(uri, "s3://", 5) == 0)
            fail(c, code, "function %s: CodeUri must be a local directory; an S3 location is not "
                          "supported", r->id);
        else if (!real)
            fail(c, code, "function %s: CodeUri '%s' does not exist (looked for %s)", r->id, uri, full);
        else if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
            fail(c, code, "function %s: CodeUri '%s' is not a directory", r->id, uri);
        else
            code_dir = xstrdup(real);
        free(real);
        free(full);
    }
    const char *name = c->failed ? NULL : res_name(c, r, r->key);
    if (name && prop(r, "FunctionName") && !name_ok(name, 1, 64, "-_"))
        fail(c, prop(r, "FunctionName"), "function %s: FunctionName '%s' must be 1 to 64 letters, digits, "
             "'-' or '_'", r->id, name);
    long timeout = 0, memory = 0, conc = -1;
    if (name && !c->failed && name_unique(c, names, r, name, "function") &&
        prop_long(c, r, "Timeout", 3, 1, 900, &timeout) == 0 &&
        prop_long(c, r, "MemorySize", 128, 128, 10240, &memory) == 0 &&
        prop_long(c, r, "ReservedConcurrentExecutions", -1, 0, 1000000, &conc) == 0) {
        val_obj_set_take(fn, "logical_id", json_string(r->id));
        val_obj_set_take(fn, "name", json_string(name));
        val_obj_set_take(fn, "arn", string_take(res_arn(c, r, r->key)));
        val_obj_set_take(fn, "code_dir", json_string(code_dir));
        val_obj_set_take(fn, "handler", json_string(h));
        val_obj_set_take(fn, "runtime", json_string(rt));
        val_obj_set_take(fn, "timeout", json_integer(timeout));
        val_obj_set_take(fn, "memory", json_integer(memory));
        if (conc >= 0)
            val_obj_set_take(fn, "concurrency", json_integer(conc));
    }
    free(code_dir);
    free(uri);
    free(h);
    free(rt);
    if (c->failed) {
        json_decref(fn);
        return NULL;
    }
    /* Environment.Variables: every value resolved and made text */
    json_t *env = json_object();
    val_obj_set_take(fn, "environment", env);
    const struct node *e = prop(r, "Environment");
    if (e && (e->kind != NODE_MAP || call_name(e))) {
        fail(c, e, "function %s: Environment must be a mapping with Variables", r->id);
    } else if (e) {
        const struct node *vars = map_get(e, "Variables");
        if (vars && (vars->kind != NODE_MAP || call_name(vars)))
            fail(c, vars, "function %s: Environment.Variables must be a mapping", r->id);
        for (size_t i = 0; vars && !c->failed && i < vars->n; i++) {
            const char *k = vars->keys[i]->text;
            if (!name_ok(k, 1, 1024, "_") || (k[0] >= '0' && k[0] <= '9')) {
                fail(c, vars->keys[i], "function %s: environment variable name '%s' must be letters, "
                     "digits and '_', not starting with a digit", r->id, k);
                break;
            }
            char *v;
            char *what = xprintf("environment variable %s", k);
            if (eval_text(c, vars->kids[i], what, &v) == 0 && v)
                val_obj_set_take(env, k, string_take(v));
            free(what);
        }
    }
    warn_events(c, r, "function", "invoke the function directly");
    if (c->failed) {
        json_decref(fn);
        return NULL;
    }
    return fn;
}

/* The first node in t (a key or a scalar) whose text holds needle, for an
 * error's position; walked with an explicit stack. */
static const struct node *find_text(const struct node *t, const char *needle)
{
    const struct node **stack = xrealloc(NULL, sizeof *stack);
    size_t n = 0, cap = 1;
    stack[n++] = t;
    const struct node *found = NULL;
    while (n && !found) {
        const struct node *x = stack[--n];
        if (x->kind == NODE_SCALAR) {
            if (strstr(x->text, needle))
                found = x;
            continue;
        }
        if (n + 2 * x->n > cap) {
            cap = n + 2 * x->n;
            stack = xrealloc(stack, cap * sizeof *stack);
        }
        for (size_t i = x->n; i-- > 0;) { /* pushed in reverse: popped in document order */
            stack[n++] = x->kids[i];
            if (x->kind == NODE_MAP)
                stack[n++] = x->keys[i];
        }
    }
    free(stack);
    return found;
}

/* The definition text with every ${key} replaced by its substitution, as
 * plain text (SAM does not quote it). A ${key} without one is an error. */
static char *substitute(struct ctx *c, const char *text, const json_t *subs, const struct node *tree,
                        const struct node *at, const char *id)
{
    val_buf b = {0};
    const char *p = text;
    for (;;) {
        const char *open = strstr(p, "${");
        const char *close = open ? strchr(open + 2, '}') : NULL;
        if (!close) {
            val_buf_puts(&b, p);
            break;
        }
        val_buf_putn(&b, p, (size_t)(open - p));
        char *key = xstrndup(open + 2, (size_t)(close - open - 2));
        json_t *v = json_object_get(subs, key);
        if (!v) {
            char *token = xprintf("${%s}", key);
            const struct node *where = tree ? find_text(tree, token) : NULL;
            fail(c, where ? where : at,
                 "state machine %s: %s in the definition has no DefinitionSubstitutions entry", id, token);
            free(token);
            free(key);
            val_buf_free(&b);
            return NULL;
        }
        val_buf_puts(&b, json_string_value(v));
        free(key);
        p = close + 1;
    }
    return val_buf_take(&b);
}

/* The display name of a file next to the template: the template's
 * directory as the caller named it, then the relative path. */
static char *display_path(struct ctx *c, const char *rel)
{
    if (rel[0] == '/')
        return xstrdup(rel);
    const char *slash = strrchr(c->path, '/');
    return slash ? xprintf("%.*s/%s", (int)(slash - c->path), c->path, rel) : xstrdup(rel);
}

/* The definition of a state machine as a tree and as JSON: inline (with
 * intrinsics resolved) or from DefinitionUri (read as it is). */
static json_t *read_definition(struct ctx *c, struct res *r, const struct node **tree)
{
    const struct node *inl = prop(r, "Definition"), *uri = prop(r, "DefinitionUri");
    *tree = NULL;
    if (inl && uri) {
        fail(c, map_key(r->props, "DefinitionUri"),
             "state machine %s: Definition and DefinitionUri cannot both be given", r->id);
        return NULL;
    }
    if (!inl && !uri) {
        fail(c, r->key, "state machine %s has neither Definition nor DefinitionUri", r->id);
        return NULL;
    }
    if (inl) {
        if (inl->kind != NODE_MAP) {
            fail(c, inl, "state machine %s: Definition must be a mapping", r->id);
            return NULL;
        }
        *tree = inl;
        json_t *def = eval(c, inl);
        if (def == c->novalue) {
            json_decref(def);
            fail(c, inl, "state machine %s: Definition cannot be AWS::NoValue", r->id);
            return NULL;
        }
        return def;
    }
    if (uri->kind == NODE_MAP && !call_name(uri)) {
        fail(c, uri, "state machine %s: DefinitionUri must be a local file; an S3 location is not "
                     "supported", r->id);
        return NULL;
    }
    char *rel = eval_str(c, uri, "DefinitionUri");
    if (!rel)
        return NULL;
    if (strncmp(rel, "s3://", 5) == 0) {
        fail(c, uri, "state machine %s: DefinitionUri must be a local file; an S3 location is not "
                     "supported", r->id);
        free(rel);
        return NULL;
    }
    char *full = rel_path(c, rel);
    val_err ioerr = {0};
    size_t len;
    struct stat st;
    char *text = NULL;
    json_t *def = NULL;
    if (stat(full, &st) != 0)
        fail(c, uri, "state machine %s: DefinitionUri '%s' does not exist (looked for %s)", r->id, rel,
             full);
    else if (!(text = val_read_file(full, &len, &ioerr))) {
        const struct node *at = uri;
        fail_at(c, VAL_ERR_IO, at->file, at->line, at->col, "state machine %s: DefinitionUri '%s': %s",
                r->id, rel, ioerr.cause ? ioerr.cause : "cannot read");
    } else if (!c->failed) {
        char *shown = display_path(c, rel);
        const char *file = file_name(c, shown);
        free(shown);
        *tree = read_yaml(c, text, len, file, false);
        if (*tree && (*tree)->kind != NODE_MAP)
            fail(c, *tree, "a state machine definition must be a mapping");
        else if (*tree)
            def = plain_json(c, *tree);
    }
    val_err_clear(&ioerr);
    free(text);
    free(full);
    free(rel);
    return def;
}

static json_t *plan_state_machine(struct ctx *c, struct res *r, json_t *names)
{
    static const char *const known[] = {
        "AutoPublishAlias", "Definition", "DefinitionSubstitutions", "DefinitionUri",
        "DeploymentPreference", "Events", "Logging", "Name", "PermissionsBoundary", "Policies",
        "PropagateTags", "Role", "RolePath", "Tags", "Tracing", "Type", "UseAliasAsEventTarget", NULL};
    warn_unknown_props(c, r, known);
    const char *name = res_name(c, r, r->key);
    if (!name || !name_unique(c, names, r, name, "state machine"))
        return NULL;
    if (prop(r, "Name") && !name_ok(name, 1, 80, "-_."))
        fail(c, prop(r, "Name"), "state machine %s: Name '%s' must be 1 to 80 letters, digits, '-', '_' "
             "or '.'", r->id, name);
    char *type = NULL, *role = NULL;
    const struct node *tn = prop(r, "Type"), *rn = prop(r, "Role");
    if (!c->failed && tn && eval_text(c, tn, "Type", &type) == 0 && type && !streq(type, "STANDARD") &&
        !streq(type, "EXPRESS"))
        fail(c, tn, "state machine %s: Type must be STANDARD or EXPRESS, not '%s'", r->id, type);
    if (!c->failed && rn)
        eval_text(c, rn, "Role", &role);
    const struct node *tree = NULL;
    json_t *def = c->failed ? NULL : read_definition(c, r, &tree);
    json_t *subs = json_object();
    const struct node *sn = prop(r, "DefinitionSubstitutions");
    if (def && sn && (sn->kind != NODE_MAP || call_name(sn)))
        fail(c, sn, "state machine %s: DefinitionSubstitutions must be a mapping", r->id);
    for (size_t i = 0; def && sn && !c->failed && i < sn->n; i++) {
        char *v;
        if (eval_text(c, sn->kids[i], "a DefinitionSubstitutions value", &v) == 0 && v)
            val_obj_set_take(subs, sn->keys[i]->text, string_take(v));
    }
    char *text = def && !c->failed ? val_dump(def, NULL) : NULL;
    const struct node *def_at = prop(r, "Definition") ? prop(r, "Definition") : prop(r, "DefinitionUri");
    char *final = text ? substitute(c, text, subs, tree, def_at, r->id) : NULL;
    if (final) {
        val_err perr = {0};
        json_t *check = val_parse(final, strlen(final), &perr);
        if (!check)
            fail(c, sn ? sn : r->key,
                 "state machine %s: the definition is not valid JSON after DefinitionSubstitutions: %s",
                 r->id, perr.cause ? perr.cause : "");
        json_decref(check);
        val_err_clear(&perr);
    }
    warn_events(c, r, "state machine", "start executions directly");
    json_t *sm = NULL;
    if (!c->failed) {
        sm = json_object();
        val_obj_set_take(sm, "logical_id", json_string(r->id));
        val_obj_set_take(sm, "name", json_string(name));
        val_obj_set_take(sm, "arn", string_take(res_arn(c, r, r->key)));
        val_obj_set_take(sm, "type", json_string(type ? type : "STANDARD"));
        val_obj_set_take(sm, "role_arn",
                         role ? json_string(role)
                              : string_take(xprintf("arn:aws:iam::%s:role/%s-%sRole", c->account,
                                                    c->stack_name, r->id)));
        val_obj_set_take(sm, "definition", json_string(final));
    }
    free(type);
    free(role);
    free(text);
    free(final);
    json_decref(def);
    json_decref(subs);
    return sm;
}

/* ProvisionedThroughput with its numbers as numbers (CloudFormation
 * accepts "5" where CreateTable wants 5). Consumes v. */
static json_t *throughput_take(struct ctx *c, json_t *v, const struct node *at)
{
    if (!json_is_object(v)) {
        fail(c, at, "ProvisionedThroughput must be a mapping");
        json_decref(v);
        return NULL;
    }
    v = val_own_take(v);
    const char *keys[] = {"ReadCapacityUnits", "WriteCapacityUnits"};
    for (int i = 0; i < 2; i++) {
        json_t *n = json_object_get(v, keys[i]);
        if (json_is_string(n)) {
            char *end;
            long long x = strtoll(json_string_value(n), &end, 10);
            if (*end || !*json_string_value(n)) {
                fail(c, at, "ProvisionedThroughput.%s must be a number", keys[i]);
                json_decref(v);
                return NULL;
            }
            val_obj_set_take(v, keys[i], json_integer(x));
        }
    }
    return v;
}

static json_t *plan_table_entry(struct ctx *c, struct res *r, const char *name, json_t *create)
{
    json_t *t = json_object();
    val_obj_set_take(t, "logical_id", json_string(r->id));
    val_obj_set_take(t, "name", json_string(name));
    val_obj_set_take(t, "arn", string_take(res_arn(c, r, r->key)));
    val_obj_set_take(t, "resource_type", json_string(r->type));
    val_obj_set_take(t, "create_table", create);
    return t;
}

static json_t *plan_simple_table(struct ctx *c, struct res *r, json_t *names)
{
    static const char *const known[] = {"PointInTimeRecoverySpecification", "PrimaryKey",
                                        "ProvisionedThroughput", "SSESpecification", "TableName",
                                        "Tags", NULL};
    warn_unknown_props(c, r, known);
    const char *name = res_name(c, r, r->key);
    if (!name || !name_unique(c, names, r, name, "table"))
        return NULL;
    if (prop(r, "TableName") && !name_ok(name, 3, 255, "-_."))
        fail(c, prop(r, "TableName"), "table %s: TableName '%s' must be 3 to 255 letters, digits, '-', "
             "'_' or '.'", r->id, name);
    char *key = NULL, *ktype = NULL;
    const struct node *pk = prop(r, "PrimaryKey");
    if (pk && (pk->kind != NODE_MAP || call_name(pk)))
        fail(c, pk, "table %s: PrimaryKey must be a mapping with Name and Type", r->id);
    const struct node *kn = pk ? map_get(pk, "Name") : NULL, *kt = pk ? map_get(pk, "Type") : NULL;
    if (!c->failed && kn)
        key = eval_str(c, kn, "PrimaryKey.Name");
    if (!c->failed && kt && (ktype = eval_str(c, kt, "PrimaryKey.Type")) && !streq(ktype, "String") &&
        !streq(ktype, "Number") && !streq(ktype, "Binary"))
        fail(c, kt, "table %s: PrimaryKey.Type must be String, Number or Binary, not '%s'", r->id, ktype);
    json_t *create = NULL;
    if (!c->failed) {
        const char *k = key ? key : "id", *t = ktype ? ktype : "String";
        create = json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "TableName", name,
                           "AttributeDefinitions", "AttributeName", k, "AttributeType",
                           streq(t, "Number") ? "N" : streq(t, "Binary") ? "B" : "S", "KeySchema",
                           "AttributeName", k, "KeyType", "HASH");
        const struct node *tp = prop(r, "ProvisionedThroughput");
        json_t *through = tp ? eval(c, tp) : NULL;
        if (through == c->novalue) {
            json_decref(through);
            through = NULL;
        }
        if (through && (through = throughput_take(c, through, tp))) {
            val_obj_set_take(create, "BillingMode", json_string("PROVISIONED"));
            val_obj_set_take(create, "ProvisionedThroughput", through);
        } else {
            val_obj_set_take(create, "BillingMode", json_string("PAY_PER_REQUEST"));
        }
        const struct node *sse = prop(r, "SSESpecification");
        json_t *s = sse && !c->failed ? eval(c, sse) : NULL;
        if (s && s != c->novalue)
            val_obj_set_take(create, "SSESpecification", json_incref(s));
        json_decref(s);
    }
    free(key);
    free(ktype);
    if (c->failed) {
        json_decref(create);
        return NULL;
    }
    return plan_table_entry(c, r, name, create);
}

static json_t *plan_ddb_table(struct ctx *c, struct res *r, json_t *names)
{
    static const char *const copied[] = {"AttributeDefinitions", "KeySchema", "BillingMode",
                                         "ProvisionedThroughput", "GlobalSecondaryIndexes",
                                         "LocalSecondaryIndexes", "StreamSpecification",
                                         "SSESpecification", NULL};
    const char *name = res_name(c, r, r->key);
    if (!name || !name_unique(c, names, r, name, "table"))
        return NULL;
    if (prop(r, "TableName") && !name_ok(name, 3, 255, "-_."))
        fail(c, prop(r, "TableName"), "table %s: TableName '%s' must be 3 to 255 letters, digits, '-', "
             "'_' or '.'", r->id, name);
    if (!c->failed && !prop(r, "KeySchema"))
        fail(c, r->key, "table %s has no KeySchema", r->id);
    if (!c->failed && !prop(r, "AttributeDefinitions"))
        fail(c, r->key, "table %s has no AttributeDefinitions", r->id);
    json_t *create = json_object();
    val_obj_set_take(create, "TableName", json_string(name));
    for (size_t i = 0; copied[i] && !c->failed; i++) {
        const struct node *n = prop(r, copied[i]);
        json_t *v = n ? eval(c, n) : NULL;
        if (!v || v == c->novalue) {
            json_decref(v);
            continue;
        }
        if (streq(copied[i], "ProvisionedThroughput")) {
            v = throughput_take(c, v, n);
        } else if (streq(copied[i], "GlobalSecondaryIndexes") && json_is_array(v)) {
            v = val_own_take(v);
            for (size_t k = 0; k < json_array_size(v) && !c->failed; k++) {
                json_t *gsi = json_array_get(v, k);
                json_t *pt = json_object_get(gsi, "ProvisionedThroughput");
                if (json_is_object(gsi) && pt) {
                    gsi = val_own_take(json_incref(gsi));
                    json_t *fixed = throughput_take(c, json_incref(pt), n);
                    if (fixed)
                        val_obj_set_take(gsi, "ProvisionedThroughput", fixed);
                    json_array_set_new(v, k, gsi);
                }
            }
        } else if (streq(copied[i], "StreamSpecification") && json_is_object(v)) {
            /* CloudFormation names the view type only; CreateTable wants the switch too */
            v = val_own_take(v);
            val_obj_set_take(v, "StreamEnabled", json_true());
        }
        if (v && !c->failed)
            val_obj_set_take(create, copied[i], v);
        else
            json_decref(v);
    }
    if (!c->failed && !json_object_get(create, "BillingMode"))
        val_obj_set_take(create, "BillingMode",
                         json_string(json_object_get(create, "ProvisionedThroughput") ? "PROVISIONED"
                                                                                      : "PAY_PER_REQUEST"));
    if (c->failed) {
        json_decref(create);
        return NULL;
    }
    return plan_table_entry(c, r, name, create);
}

/* -------------------------------------------------------------- Outputs */

static json_t *plan_outputs(struct ctx *c, const struct node *sec)
{
    json_t *out = json_array();
    for (size_t i = 0; sec && i < sec->n && !c->failed; i++) {
        const struct node *key = sec->keys[i], *decl = sec->kids[i];
        if (!is_alnum_id(key->text)) {
            fail(c, key, "output name '%s' must be alphanumeric", key->text);
            break;
        }
        if (decl->kind != NODE_MAP) {
            fail(c, key, "output %s must be a mapping with a Value", key->text);
            break;
        }
        const struct node *cond = map_get(decl, "Condition");
        if (cond) {
            if (cond->kind != NODE_SCALAR) {
                fail(c, cond, "output %s: Condition must be the name of a condition", key->text);
                break;
            }
            int v = cond_value(c, cond->text, cond);
            if (v <= 0)
                continue;
        }
        const struct node *vn = map_get(decl, "Value");
        if (!vn) {
            fail(c, key, "output %s has no Value", key->text);
            break;
        }
        json_t *v = eval(c, vn);
        if (!v)
            break;
        char *text = NULL;
        if (json_is_array(v)) {
            val_buf b = {0};
            size_t k;
            json_t *item;
            json_array_foreach(v, k, item) {
                char *s = json_text(item);
                if (!s) {
                    fail(c, vn, "output %s: item %zu of the Value is %s, not a string", key->text, k + 1,
                         a_kind(item));
                    break;
                }
                val_buf_printf(&b, "%s%s", k ? "," : "", s);
                free(s);
            }
            text = val_buf_take(&b);
        } else if (v != c->novalue) {
            text = json_text(v);
        }
        if (!text && !c->failed)
            fail(c, vn, "output %s: Value must be a string or a list, not %s", key->text,
                 v == c->novalue ? "AWS::NoValue" : a_kind(v));
        json_decref(v);
        char *desc = NULL;
        const struct node *dn = map_get(decl, "Description");
        if (!c->failed && dn)
            desc = eval_str(c, dn, "Description");
        if (!c->failed) {
            json_t *o = json_object();
            val_obj_set_take(o, "key", json_string(key->text));
            val_obj_set_take(o, "value", json_string(text));
            if (desc)
                val_obj_set_take(o, "description", json_string(desc));
            val_arr_append_take(out, o);
        }
        free(text);
        free(desc);
    }
    return out;
}

/* ------------------------------------------------------------ the plan */

static const struct node *section(struct ctx *c, const char *name, const struct node **key_out)
{
    if (key_out)
        *key_out = map_key(c->root, name);
    const struct node *s = map_get(c->root, name);
    if (s && (s->kind != NODE_MAP || call_name(s))) {
        fail(c, map_key(c->root, name), "%s must be a mapping", name);
        return NULL;
    }
    return s;
}

static void check_transform(struct ctx *c)
{
    const struct node *t = map_get(c->root, "Transform");
    for (size_t i = 0; t && i < (t->kind == NODE_SEQ ? t->n : 1); i++) {
        const struct node *x = t->kind == NODE_SEQ ? t->kids[i] : t;
        if (x->kind != NODE_SCALAR)
            warn(c, x, "a Transform that is not a name is not applied by stepd");
        else if (!streq(x->text, SAM_TRANSFORM))
            warn(c, x, "Transform '%s' is not applied by stepd (only %s is)", x->text, SAM_TRANSFORM);
    }
}

static void read_conditions(struct ctx *c, const struct node *sec)
{
    size_t n = sec ? sec->n : 0;
    c->conds = xrealloc(NULL, n * sizeof *c->conds);
    for (size_t i = 0; i < n; i++) {
        c->conds[i] = (struct cond){.name = sec->keys[i]->text, .key = sec->keys[i], .expr = sec->kids[i]};
        json_object_set_new(c->cond_index, sec->keys[i]->text, json_integer((json_int_t)i));
    }
    c->n_conds = n;
}

static json_t *build_plan(struct ctx *c, const struct sam_opts *o)
{
    static const char *const sections[] = {"AWSTemplateFormatVersion", "Description", "Metadata",
                                           "Transform", "Parameters", "Mappings", "Conditions", "Rules",
                                           "Globals", "Resources", "Outputs", NULL};
    if (c->root->kind != NODE_MAP) {
        fail(c, c->root, "a template must be a mapping of sections");
        return NULL;
    }
    for (size_t i = 0; i < c->root->n; i++) {
        if (!in_list(c->root->keys[i]->text, sections)) {
            fail(c, c->root->keys[i], "unknown template section '%s'", c->root->keys[i]->text);
            return NULL;
        }
    }
    check_transform(c);
    if (map_get(c->root, "Rules"))
        warn(c, map_key(c->root, "Rules"), "Rules are not checked by stepd");
    const struct node *params_key, *globals_key, *resources_key;
    const struct node *params = section(c, "Parameters", &params_key);
    c->mappings = section(c, "Mappings", NULL);
    const struct node *conds = section(c, "Conditions", NULL);
    const struct node *globals = section(c, "Globals", &globals_key);
    const struct node *resources = section(c, "Resources", &resources_key);
    const struct node *outputs = section(c, "Outputs", NULL);
    if (!c->failed && !resources)
        fail(c, resources_key ? resources_key : c->root, "the template has no Resources");
    if (c->failed)
        return NULL;
    read_parameters(c, params, params_key, o);
    read_conditions(c, conds);
    for (size_t i = 0; i < c->n_conds && !c->failed; i++)
        cond_value(c, c->conds[i].name, c->conds[i].key);
    struct globals g = {0};
    if (!c->failed)
        read_globals(c, globals, &g);
    if (!c->failed)
        read_resources(c, resources, &g);
    if (c->failed)
        return NULL;

    json_t *functions = json_array(), *machines = json_array(), *tables = json_array();
    json_t *fn_names = json_object(), *sm_names = json_object(), *table_names = json_object();
    for (size_t i = 0; i < c->n_res && !c->failed; i++) {
        struct res *r = &c->res[i];
        if (r->kind == RES_ROLE || r->kind == RES_API)
            continue;
        int inc = res_included(c, r);
        if (inc <= 0)
            continue;
        switch (r->kind) {
        case RES_FUNCTION: val_arr_append_take(functions, plan_function(c, r, fn_names)); break;
        case RES_STATE_MACHINE: val_arr_append_take(machines, plan_state_machine(c, r, sm_names)); break;
        case RES_SIMPLE_TABLE: val_arr_append_take(tables, plan_simple_table(c, r, table_names)); break;
        case RES_DDB_TABLE: val_arr_append_take(tables, plan_ddb_table(c, r, table_names)); break;
        default:
            warn(c, r->key, "resource %s (%s) is not run by stepd: Ref gives '%s' and Fn::GetAtt a "
                 "placeholder", r->id, r->type, r->id);
        }
    }
    json_t *outs = c->failed ? NULL : plan_outputs(c, outputs);
    json_decref(fn_names);
    json_decref(sm_names);
    json_decref(table_names);
    if (c->failed) {
        json_decref(functions);
        json_decref(machines);
        json_decref(tables);
        json_decref(outs);
        return NULL;
    }
    json_t *plan = json_object();
    val_obj_set_take(plan, "template", json_string(c->abs_path));
    val_obj_set_take(plan, "stack_name", json_string(c->stack_name));
    val_obj_set_take(plan, "region", json_string(c->region));
    val_obj_set_take(plan, "account", json_string(c->account));
    val_obj_set_take(plan, "functions", functions);
    val_obj_set_take(plan, "state_machines", machines);
    val_obj_set_take(plan, "tables", tables);
    val_obj_set_take(plan, "outputs", outs);
    val_obj_set_take(plan, "warnings", json_incref(c->warnings));
    return plan;
}

/* The template's absolute path. Only the directory is resolved: a
 * symlinked template.yaml keeps its own directory as the base of relative
 * CodeUri, as SAM does, and sam_load_text may name a file that is not there. */
static char *absolute(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    const char *base = slash ? slash + 1 : path;
    char *real = realpath(dir, NULL);
    char *abs;
    if (real) {
        abs = xprintf("%s/%s", streq(real, "/") ? "" : real, base);
    } else if (path[0] == '/') {
        abs = xstrdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);
        while (path[0] == '.' && path[1] == '/')
            path += 2;
        abs = xprintf("%s/%s", cwd ? cwd : ".", path);
        free(cwd);
    }
    free(real);
    free(dir);
    return abs;
}

static void ctx_free(struct ctx *c)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        free(c->nodes[i]->text);
        free(c->nodes[i]->kids);
        free(c->nodes[i]->keys);
        free(c->nodes[i]);
    }
    free(c->nodes);
    for (size_t i = 0; i < c->n_files; i++)
        free(c->files[i]);
    free(c->files);
    for (size_t i = 0; i < c->n_params; i++)
        json_decref(c->params[i].value);
    free(c->params);
    free(c->conds);
    for (size_t i = 0; i < c->n_res; i++)
        free(c->res[i].name);
    free(c->res);
    json_decref(c->param_index);
    json_decref(c->cond_index);
    json_decref(c->res_index);
    json_decref(c->novalue);
    json_decref(c->warnings);
    free(c->abs_path);
    free(c->dir);
    free(c->stack_name);
}

json_t *sam_load_text(const char *text, size_t len, const char *path, const struct sam_opts *o,
                      val_err *err)
{
    if (!path)
        path = "template.yaml";
    struct ctx c = {
        .path = path,
        .region = o && o->region ? o->region : "us-east-1",
        .account = o && o->account ? o->account : "123456789012",
        .err = err,
        .param_index = json_object(),
        .cond_index = json_object(),
        .res_index = json_object(),
        .novalue = json_object(),
        .warnings = json_array(),
    };
    c.abs_path = absolute(path);
    char *slash = strrchr(c.abs_path, '/');
    c.dir = slash == c.abs_path ? xstrdup("/") : xstrndup(c.abs_path, (size_t)(slash - c.abs_path));
    if (o && o->stack_name) {
        c.stack_name = xstrdup(o->stack_name);
    } else {
        const char *base = strrchr(c.dir, '/');
        c.stack_name = xstrdup(base && base[1] ? base + 1 : "stack");
    }
    json_t *plan = NULL;
    c.root = read_yaml(&c, text, len, file_name(&c, path), true);
    if (c.root)
        plan = build_plan(&c, o);
    ctx_free(&c);
    return plan;
}

json_t *sam_load(const char *path, const struct sam_opts *o, val_err *err)
{
    size_t len;
    val_err ioerr = {0};
    char *text = val_read_file(path, &len, &ioerr);
    if (!text) {
        val_err_set(err, VAL_ERR_IO, "InvalidTemplate", "%s: %s", path, ioerr.cause ? ioerr.cause : "cannot read");
        val_err_where(err, path);
        val_err_clear(&ioerr);
        return NULL;
    }
    json_t *plan = sam_load_text(text, len, path, o, err);
    free(text);
    return plan;
}
