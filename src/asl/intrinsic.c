/* intrinsic — the States.* intrinsic functions of JSONPath mode. A call is
 * parsed once at load time into a small tree (literals, compiled paths,
 * nested calls, at most ten deep); evaluation walks that tree against an
 * asl_env. Run-time failures are States.Runtime with AWS's cause, "The
 * function '<expression as written>' had the following error: ...". */
#include <openssl/evp.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asl/asl.h"

#define INTR_MAX_DEPTH 10    /* AWS: up to 10 nested intrinsic calls per field */
#define INTR_MAX_CHARS 10000 /* Base64Encode/Decode and Hash inputs, in Java chars */
#define INTR_MAX_RANGE 1000  /* ArrayRange result size */
#define INTR_MAX_RENDER 1000 /* nesting rendered by States.Format */

/* id, name after "States.", min args, max args (-1: any number) */
#define INTR_FUNCS(X)                                                                              \
    X(FORMAT, "Format", 1, -1)                                                                     \
    X(STRING_TO_JSON, "StringToJson", 1, 1)                                                        \
    X(JSON_TO_STRING, "JsonToString", 1, 1)                                                        \
    X(ARRAY, "Array", 0, -1)                                                                       \
    X(ARRAY_PARTITION, "ArrayPartition", 2, 2)                                                     \
    X(ARRAY_CONTAINS, "ArrayContains", 2, 2)                                                       \
    X(ARRAY_RANGE, "ArrayRange", 3, 3)                                                             \
    X(ARRAY_GET_ITEM, "ArrayGetItem", 2, 2)                                                        \
    X(ARRAY_LENGTH, "ArrayLength", 1, 1)                                                           \
    X(ARRAY_UNIQUE, "ArrayUnique", 1, 1)                                                           \
    X(BASE64_ENCODE, "Base64Encode", 1, 1)                                                         \
    X(BASE64_DECODE, "Base64Decode", 1, 1)                                                         \
    X(HASH, "Hash", 2, 2)                                                                          \
    X(JSON_MERGE, "JsonMerge", 3, 3)                                                               \
    X(MATH_RANDOM, "MathRandom", 2, 3)                                                             \
    X(MATH_ADD, "MathAdd", 2, 2)                                                                   \
    X(STRING_SPLIT, "StringSplit", 2, 2)                                                           \
    X(UUID, "UUID", 0, 0)

enum intr_fn {
#define X(id, name, lo, hi) F_##id,
    INTR_FUNCS(X)
#undef X
        F_COUNT
};

static const struct {
    const char *name;
    int min, max;
} fn_info[F_COUNT] = {
#define X(id, name, lo, hi) {name, lo, hi},
    INTR_FUNCS(X)
#undef X
};

enum node_kind { N_LIT, N_PATH, N_CALL };

struct node {
    int kind;
    json_t *lit;        /* N_LIT: string, number, true, false or null */
    char *raw;          /* N_LIT string: the text between the quotes, escapes kept,
                           because a Format template reads \{ and \} itself */
    size_t raw_len;
    asl_path *path;     /* N_PATH */
    int fn;             /* N_CALL: enum intr_fn */
    struct node **args; /* N_CALL */
    size_t nargs;
};

struct asl_intrinsic {
    struct node *root;
    char *text; /* as written, for causes */
    int uses_context;
};

/* ------------------------------------------------------------------ parse */

struct parser {
    const char *s;
    size_t pos;
    val_err *err;
    int uses_context;
};

static void node_free(struct node *n)
{
    if (!n)
        return;
    json_decref(n->lit);
    free(n->raw);
    asl_path_free(n->path);
    for (size_t i = 0; i < n->nargs; i++)
        node_free(n->args[i]);
    free(n->args);
    free(n);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_ident(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static void skip_ws(struct parser *p)
{
    while (is_ws(p->s[p->pos]))
        p->pos++;
}

static void perr(struct parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* How many bytes of s to echo in a message: at most max, never ending
 * inside a UTF-8 sequence (hostile text can be megabytes). */
static int echo_len(const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return (int)len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

static void perr(struct parser *p, size_t pos, const char *fmt, ...)
{
    /* the first problem wins: nested failures return through every level */
    if (p->err->kind != VAL_ERR_NONE)
        return;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    int shown = echo_len(p->s, 200);
    val_err_set(p->err, VAL_ERR_VALIDATION, NULL, "Invalid intrinsic function call '%.*s%s': %s (at position %zu)",
                shown, p->s, p->s[shown] ? "..." : "", msg ? msg : "", pos);
    free(msg);
}

int asl_is_intrinsic(const char *text)
{
    if (!text)
        return 0;
    while (is_ws(*text))
        text++;
    if (strncmp(text, "States.", 7) != 0)
        return 0;
    text += 7;
    if (!is_ident(*text))
        return 0;
    while (is_ident(*text))
        text++;
    while (is_ws(*text))
        text++;
    return *text == '(';
}

static struct node *parse_call(struct parser *p, int depth);

/* 'text' with the escapes \' \{ \} \\; any other backslash pair is kept as
 * written, so Windows paths and regex-like text survive. */
static struct node *parse_string(struct parser *p)
{
    size_t start = ++p->pos, open = start - 1;
    val_buf b = {0};
    for (;;) {
        char c = p->s[p->pos];
        if (c == 0) {
            val_buf_free(&b);
            perr(p, open, "the string literal is not closed with a single quote");
            return NULL;
        }
        if (c == '\'')
            break;
        if (c == '\\') {
            char e = p->s[p->pos + 1];
            if (e == 0) {
                val_buf_free(&b);
                perr(p, p->pos, "a backslash at the end escapes nothing");
                return NULL;
            }
            if (e == '\'' || e == '{' || e == '}' || e == '\\') {
                val_buf_putc(&b, e);
            } else {
                val_buf_putc(&b, c);
                val_buf_putc(&b, e);
            }
            p->pos += 2;
            continue;
        }
        val_buf_putc(&b, c);
        p->pos++;
    }
    struct node *n = calloc(1, sizeof *n);
    n->kind = N_LIT;
    n->lit = json_stringn(b.p ? b.p : "", b.len);
    val_buf_free(&b);
    n->raw_len = p->pos - start;
    n->raw = strndup(p->s + start, n->raw_len);
    p->pos++; /* closing quote */
    if (!n->lit) {
        node_free(n);
        perr(p, open, "the string literal is not valid UTF-8");
        return NULL;
    }
    return n;
}

/* A path runs to the ',' or ')' that closes the argument; brackets,
 * filter parentheses and quoted names inside them are skipped whole. */
static struct node *parse_path(struct parser *p)
{
    size_t start = p->pos;
    int bracket = 0, paren = 0;
    char quote = 0;
    for (;; p->pos++) {
        char c = p->s[p->pos];
        if (c == 0)
            break;
        if (quote) {
            if (c == '\\' && p->s[p->pos + 1])
                p->pos++;
            else if (c == quote)
                quote = 0;
            continue;
        }
        if (bracket > 0 && (c == '\'' || c == '"')) {
            quote = c;
        } else if (c == '[') {
            bracket++;
        } else if (c == ']') {
            if (bracket > 0)
                bracket--;
        } else if (c == '(') {
            paren++;
        } else if (c == ')') {
            if (paren == 0 && bracket == 0)
                break;
            if (paren > 0)
                paren--;
        } else if (bracket == 0 && paren == 0 && (c == ',' || is_ws(c))) {
            break;
        }
    }
    char *text = strndup(p->s + start, p->pos - start);
    val_err e = {0};
    asl_path *path = asl_path_parse(text, 0, &e);
    if (!path) {
        perr(p, start, "the path '%.*s%s' is not valid: %s", echo_len(text, 100), text,
             text[echo_len(text, 100)] ? "..." : "", e.cause ? e.cause : "parse error");
        val_err_clear(&e);
        free(text);
        return NULL;
    }
    free(text);
    if (asl_path_root(path) == ASL_ROOT_CONTEXT)
        p->uses_context = 1;
    struct node *n = calloc(1, sizeof *n);
    n->kind = N_PATH;
    n->path = path;
    return n;
}

static struct node *parse_number(struct parser *p)
{
    size_t start = p->pos;
    while (strchr("+-.eE0123456789", p->s[p->pos]) && p->s[p->pos])
        p->pos++;
    size_t len = p->pos - start;
    char buf[64];
    if (len == 0 || len >= sizeof buf) {
        perr(p, start, "the number is not valid");
        return NULL;
    }
    memcpy(buf, p->s + start, len);
    buf[len] = 0;
    json_t *v = NULL;
    char *end;
    if (!strpbrk(buf, ".eE")) {
        errno = 0;
        long long ll = strtoll(buf, &end, 10);
        if (*end == 0 && errno == 0)
            v = json_integer(ll);
    }
    if (!v) {
        double d = strtod(buf, &end);
        if (*end != 0 || !isfinite(d) || buf[0] == '.' || buf[0] == '+') {
            perr(p, start, "'%s' is not a valid number", buf);
            return NULL;
        }
        v = json_real(d);
    }
    struct node *n = calloc(1, sizeof *n);
    n->kind = N_LIT;
    n->lit = v;
    return n;
}

static struct node *parse_arg(struct parser *p, int depth)
{
    const char *s = p->s + p->pos;
    if (*s == '\'')
        return parse_string(p);
    if (*s == '$')
        return parse_path(p);
    if (strncmp(s, "States.", 7) == 0) {
        if (depth >= INTR_MAX_DEPTH) {
            perr(p, p->pos, "intrinsic functions are nested more than 10 deep");
            return NULL;
        }
        return parse_call(p, depth + 1);
    }
    if (*s == '-' || (*s >= '0' && *s <= '9'))
        return parse_number(p);
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t wl = strlen(words[i]);
        if (strncmp(s, words[i], wl) == 0 && !is_ident(s[wl])) {
            p->pos += wl;
            struct node *n = calloc(1, sizeof *n);
            n->kind = N_LIT;
            n->lit = i == 0 ? json_true() : i == 1 ? json_false() : json_null();
            return n;
        }
    }
    char what[8] = {*s ? *s : '?', 0};
    if (*s)
        perr(p, p->pos, "unexpected character '%s'", what);
    else
        perr(p, p->pos, "the argument list is not closed");
    return NULL;
}

/* At "States.Name(": parses the call and its arguments. depth counts the
 * calls open around and including this one. */
static struct node *parse_call(struct parser *p, int depth)
{
    size_t at = p->pos;
    p->pos += 7;
    size_t name_at = p->pos;
    while (is_ident(p->s[p->pos]))
        p->pos++;
    size_t name_len = p->pos - name_at;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(name_len < 60 ? name_len : 60), p->s + name_at);
    int fn = -1;
    for (int i = 0; i < F_COUNT; i++)
        if (strlen(fn_info[i].name) == name_len && memcmp(fn_info[i].name, name, name_len) == 0)
            fn = i;
    if (fn < 0) {
        perr(p, at, "the function 'States.%s' is not supported", name);
        return NULL;
    }
    skip_ws(p);
    if (p->s[p->pos] != '(') {
        perr(p, p->pos, "'(' expected after States.%s", name);
        return NULL;
    }
    p->pos++;
    struct node *n = calloc(1, sizeof *n);
    n->kind = N_CALL;
    n->fn = fn;
    size_t cap = 0;
    skip_ws(p);
    if (p->s[p->pos] == ')') {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            struct node *a = parse_arg(p, depth);
            if (!a) {
                node_free(n);
                return NULL;
            }
            if (n->nargs == cap) {
                cap = cap ? cap * 2 : 4;
                n->args = realloc(n->args, cap * sizeof *n->args);
            }
            n->args[n->nargs++] = a;
            skip_ws(p);
            char c = p->s[p->pos];
            if (c == ',') {
                p->pos++;
                continue;
            }
            if (c == ')') {
                p->pos++;
                break;
            }
            node_free(n);
            if (c == 0)
                perr(p, p->pos, "the argument list of States.%s is not closed with ')'", name);
            else
                perr(p, p->pos, "',' or ')' expected after an argument of States.%s", name);
            return NULL;
        }
    }
    int lo = fn_info[fn].min, hi = fn_info[fn].max;
    if ((int)n->nargs < lo || (hi >= 0 && (int)n->nargs > hi)) {
        char msg[128];
        if (lo == hi)
            snprintf(msg, sizeof msg, "States.%s takes %d argument%s, not %zu", name, lo, lo == 1 ? "" : "s",
                     n->nargs);
        else if (hi < 0)
            snprintf(msg, sizeof msg, "States.%s takes at least %d argument%s, not %zu", name, lo,
                     lo == 1 ? "" : "s", n->nargs);
        else
            snprintf(msg, sizeof msg, "States.%s takes %d to %d arguments, not %zu", name, lo, hi, n->nargs);
        perr(p, at, "%s", msg);
        node_free(n);
        return NULL;
    }
    return n;
}

asl_intrinsic *asl_intrinsic_parse(const char *text, val_err *err)
{
    val_err local = {0};
    struct parser p = {text, 0, err ? err : &local, 0};
    if (p.err->kind != VAL_ERR_NONE)
        val_err_clear(p.err); /* perr keeps the first error: start clean */
    if (!asl_is_intrinsic(text)) {
        val_err_set(p.err, VAL_ERR_VALIDATION, NULL, "'%s' is not an intrinsic function call", text ? text : "");
        val_err_clear(&local);
        return NULL;
    }
    skip_ws(&p);
    struct node *root = parse_call(&p, 1);
    if (root) {
        skip_ws(&p);
        if (text[p.pos] != 0) {
            perr(&p, p.pos, "unexpected text after the closing ')'");
            node_free(root);
            root = NULL;
        }
    }
    val_err_clear(&local);
    if (!root)
        return NULL;
    asl_intrinsic *f = calloc(1, sizeof *f);
    f->root = root;
    f->text = strdup(text);
    f->uses_context = p.uses_context;
    return f;
}

void asl_intrinsic_free(asl_intrinsic *f)
{
    if (!f)
        return;
    node_free(f->root);
    free(f->text);
    free(f);
}

int asl_intrinsic_uses_context(const asl_intrinsic *f) { return f ? f->uses_context : 0; }

/* ----------------------------------------------------------------- hashes */

/* Lowercase hex digest of data for AWS's algorithm name, or NULL for a name
 * AWS does not accept. The digests are OpenSSL's (libcrypto, DESIGN.md's
 * choice for hashes). */
static char *hash_hex(const char *alg, const uint8_t *data, size_t len)
{
    static const struct {
        const char *aws;
        const char *evp;
    } algs[] = {{"MD5", "MD5"}, {"SHA-1", "SHA1"}, {"SHA-256", "SHA256"}, {"SHA-384", "SHA384"},
                {"SHA-512", "SHA512"}};
    const EVP_MD *md = NULL;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0] && !md; i++)
        if (strcmp(alg, algs[i].aws) == 0)
            md = EVP_get_digestbyname(algs[i].evp);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!md || !EVP_Digest(data, len, d, &n, md, NULL))
        return NULL;
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * (size_t)n + 1);
    for (unsigned int i = 0; i < n; i++) {
        s[2 * i] = hx[d[i] >> 4];
        s[2 * i + 1] = hx[d[i] & 15];
    }
    s[2 * n] = 0;
    return s;
}

/* ------------------------------------------------------------ text helpers */

/* Length in Java chars (UTF-16 units): AWS's 10,000-character limits count
 * what String.length() counts. s is valid UTF-8. */
static size_t java_length(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            units += c >= 0xF0 ? 2 : 1;
    }
    return units;
}

/* Bytes of the UTF-8 sequence starting with lead byte c (valid input). */
static size_t utf8_seq_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

/* Copies b into out, replacing each ill-formed byte with U+FFFD as Java's
 * new String(bytes, UTF_8) does, so decoded Base64 always makes a string. */
static void utf8_sanitize(const uint8_t *b, size_t n, val_buf *out)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = b[i];
        size_t need = 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            val_buf_putc(out, (char)c);
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        }
        int ok = need > 0 && i + need < n;
        if (ok && (b[i + 1] < lo || b[i + 1] > hi))
            ok = 0;
        for (size_t k = 2; ok && k <= need; k++)
            if ((b[i + k] & 0xC0) != 0x80)
                ok = 0;
        if (!ok) {
            val_buf_puts(out, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        val_buf_putn(out, (const char *)b + i, need + 1);
        i += need + 1;
    }
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const uint8_t *s, size_t n, val_buf *out)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        char q[4] = {b64_alphabet[v >> 18 & 63], b64_alphabet[v >> 12 & 63],
                     i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=', i + 2 < n ? b64_alphabet[v & 63] : '='};
        val_buf_putn(out, q, 4);
    }
}

/* Java's basic decoder: the standard alphabet, padding optional but exact
 * when present, nothing after it. Returns 0 and the bytes in out, or -1. */
static int b64_decode(const char *s, size_t n, val_buf *out)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *at = s[i] ? strchr(b64_alphabet, s[i]) : NULL;
        if (!at)
            return -1;
        acc = acc << 6 | (uint32_t)(at - b64_alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            val_buf_putc(out, (char)(acc >> bits & 0xFF));
        }
    }
    return 0;
}

/* ------------------------------------------------------------ java parity */

/* Math.round: half rounds up (toward +inf), as the corpus shows for
 * States.MathAdd (-2.5 -> -2, 2.5 -> 3). */
static double java_round(double d)
{
    double f = floor(d);
    return d - f >= 0.5 ? f + 1 : f;
}

/* java.util.Random, so a seeded States.MathRandom gives one answer for a
 * seed everywhere (and most likely the one AWS's Java runtime gives). */
#define JRAND_MASK ((1ULL << 48) - 1)

static int32_t jrand_next31(uint64_t *st)
{
    *st = (*st * 0x5DEECE66DULL + 0xBULL) & JRAND_MASK;
    return (int32_t)(*st >> 17);
}

static int32_t jrand_next_int(uint64_t *st, int32_t bound)
{
    int32_t r = jrand_next31(st);
    int32_t m = bound - 1;
    if ((bound & m) == 0)
        return (int32_t)(((int64_t)bound * r) >> 31);
    /* Java's rejection test relies on int overflow: do it in uint32 */
    for (int32_t u = r; (int32_t)((uint32_t)u - (uint32_t)(r = u % bound) + (uint32_t)m) < 0;
         u = jrand_next31(st))
        ;
    return r;
}

/* ------------------------------------------------------------- evaluation */

struct ectx {
    const struct asl_env *env;
    const char *text; /* the whole expression, as AWS names it in causes */
    val_err *err;
};

static json_t *efail(const struct ectx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets AWS's cause: "The function '<whole expression>' had the following
 * error: <detail>". Returns NULL for the caller to return. */
static json_t *efail(const struct ectx *c, const char *fmt, ...)
{
    char *detail = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&detail, fmt, ap) < 0)
        detail = NULL;
    va_end(ap);
    val_err_set(c->err, VAL_ERR_RUNTIME, "States.Runtime", "The function '%s' had the following error: %s",
                c->text, detail ? detail : "");
    free(detail);
    return NULL;
}

static json_t *invalid(const struct ectx *c, int fn)
{
    return efail(c, "Invalid arguments in States.%s", fn_info[fn].name);
}

enum { NUM_ROUND, NUM_TRUNC };

/* A number argument as an int32 after AWS's conversion (Math.round for most
 * functions, truncation for MathRandom bounds). 0, or -1 when v is not a
 * number or is out of the int range. */
static int arg_int32(const json_t *v, int mode, int32_t *out)
{
    if (!json_is_number(v))
        return -1;
    double d;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < INT32_MIN || i > INT32_MAX)
            return -1;
        *out = (int32_t)i;
        return 0;
    }
    d = json_real_value(v);
    d = mode == NUM_ROUND ? java_round(d) : trunc(d);
    if (!(d >= INT32_MIN && d <= INT32_MAX))
        return -1;
    *out = (int32_t)d;
    return 0;
}

/* Renders a States.Format argument as Java's toString would: strings raw,
 * objects as {k=v, k2=v2}, arrays as [a, b] (the corpus pins the object
 * form). Numbers use the program's serializer. -1 when nested too deep. */
static int render_java(val_buf *b, const json_t *v, int depth)
{
    if (depth > INTR_MAX_RENDER)
        return -1;
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING: val_buf_putn(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: val_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL:
        val_fmt_real(json_real_value(v), num, sizeof num);
        val_buf_puts(b, num);
        break;
    case JSON_TRUE: val_buf_puts(b, "true"); break;
    case JSON_FALSE: val_buf_puts(b, "false"); break;
    case JSON_NULL: val_buf_puts(b, "null"); break;
    case JSON_ARRAY:
        val_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                val_buf_puts(b, ", ");
            if (render_java(b, json_array_get(v, i), depth + 1) < 0)
                return -1;
        }
        val_buf_putc(b, ']');
        break;
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        val_buf_putc(b, '{');
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first)
                val_buf_puts(b, ", ");
            first = 0;
            val_buf_puts(b, k);
            val_buf_putc(b, '=');
            if (render_java(b, x, depth + 1) < 0)
                return -1;
        }
        val_buf_putc(b, '}');
        break;
    }
    }
    return 0;
}

/* Walks a Format template: \' \{ \} \\ are escapes, "{}" a placeholder.
 * With out NULL only counts placeholders. Returns the count, or -1 for a
 * '{' that does not open "{}". */
static long format_walk(const char *t, size_t n, val_buf *out, json_t **args, size_t nargs)
{
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '\\' && i + 1 < n && strchr("'{}\\", t[i + 1])) {
            if (out)
                val_buf_putc(out, t[i + 1]);
            i++;
        } else if (c == '{') {
            if (i + 1 >= n || t[i + 1] != '}')
                return -1;
            if (out && (size_t)count < nargs && render_java(out, args[count], 0) < 0)
                return -1;
            count++;
            i++;
        } else if (out) {
            val_buf_putc(out, c);
        }
    }
    return count;
}

static json_t *fn_format(const struct ectx *c, const struct node *call, json_t **a, size_t n)
{
    if (!json_is_string(a[0]))
        return invalid(c, F_FORMAT);
    const struct node *t = call->args[0];
    /* a literal template is read as written, so its \{ and \} stay escapes */
    const char *tmpl = t->kind == N_LIT ? t->raw : json_string_value(a[0]);
    size_t tlen = t->kind == N_LIT ? t->raw_len : json_string_length(a[0]);
    long count = format_walk(tmpl, tlen, NULL, NULL, 0);
    if (count < 0)
        return efail(c, "Invalid template in States.Format: matching '}' not found for '{'.");
    if ((size_t)count != n - 1)
        return efail(c, "Invalid arguments in States.Format: number of arguments do not match the "
                        "occurrences of {}.");
    val_buf b = {0};
    if (format_walk(tmpl, tlen, &b, a + 1, n - 1) < 0) {
        val_buf_free(&b);
        return invalid(c, F_FORMAT);
    }
    json_t *r = json_stringn(b.p ? b.p : "", b.len);
    val_buf_free(&b);
    return r ? r : invalid(c, F_FORMAT);
}

static json_t *fn_string_to_json(const struct ectx *c, json_t *s)
{
    if (!json_is_string(s))
        return invalid(c, F_STRING_TO_JSON);
    const char *t = json_string_value(s);
    size_t n = json_string_length(s), i = 0;
    while (i < n && is_ws(t[i]))
        i++;
    if (i == n)
        return json_null(); /* AWS: a blank string parses to null */
    val_err e = {0};
    json_t *v = val_parse(t, n, &e);
    val_err_clear(&e);
    return v ? v : invalid(c, F_STRING_TO_JSON);
}

static json_t *fn_array_partition(const struct ectx *c, json_t *arr, json_t *size)
{
    int32_t k;
    if (!json_is_array(arr) || arg_int32(size, NUM_ROUND, &k) < 0 || k <= 0)
        return invalid(c, F_ARRAY_PARTITION);
    json_t *out = json_array();
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i += (size_t)k) {
        json_t *chunk = json_array();
        for (size_t j = i; j < n && j < i + (size_t)k; j++)
            json_array_append(chunk, json_array_get(arr, j));
        val_arr_append_take(out, chunk);
    }
    return out;
}

static json_t *fn_array_range(const struct ectx *c, json_t *const *a)
{
    int32_t start, end, step;
    if (arg_int32(a[0], NUM_ROUND, &start) < 0 || arg_int32(a[1], NUM_ROUND, &end) < 0 ||
        arg_int32(a[2], NUM_ROUND, &step) < 0 || step == 0)
        return invalid(c, F_ARRAY_RANGE);
    int64_t count = 0;
    if ((step > 0 && start <= end) || (step < 0 && start >= end))
        count = ((int64_t)end - start) / step + 1;
    if (count > INTR_MAX_RANGE)
        return invalid(c, F_ARRAY_RANGE);
    json_t *out = json_array();
    for (int64_t i = 0; i < count; i++)
        val_arr_append_take(out, json_integer((json_int_t)start + i * step));
    return out;
}

static json_t *fn_array_get_item(const struct ectx *c, json_t *arr, json_t *idx)
{
    int32_t i;
    if (!json_is_array(arr) || arg_int32(idx, NUM_ROUND, &i) < 0 || i < 0 ||
        (size_t)i >= json_array_size(arr))
        return invalid(c, F_ARRAY_GET_ITEM);
    return json_incref(json_array_get(arr, (size_t)i));
}

/* A structural hash that agrees with val_equal: numbers hash by value,
 * objects regardless of key order. Depth is bounded by the parser's. */
static uint64_t hash_value(const json_t *v)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL * (uint64_t)(json_typeof(v) == JSON_INTEGER ? JSON_REAL : json_typeof(v));
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const unsigned char *s = (const unsigned char *)json_string_value(v);
        for (size_t i = 0; i < json_string_length(v); i++)
            h = (h ^ s[i]) * 0x100000001b3ULL;
        return h;
    }
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_number_value(v);
        if (d == 0)
            d = 0; /* -0.0 equals 0 */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return h ^ (bits * 0xff51afd7ed558ccdULL);
    }
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(v); i++)
            h = (h ^ hash_value(json_array_get(v, i))) * 0x100000001b3ULL;
        return h;
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        uint64_t sum = 0;
        json_object_foreach((json_t *)v, k, x)
        {
            uint64_t kh = 0xcbf29ce484222325ULL;
            for (const char *p = k; *p; p++)
                kh = (kh ^ (unsigned char)*p) * 0x100000001b3ULL;
            sum += kh * 31 + hash_value(x);
        }
        return h ^ sum;
    }
    default: return h;
    }
}

/* Keeps first occurrences. Hashing keeps hostile arrays (100k items) from
 * turning into a quadratic scan. */
static json_t *fn_array_unique(const struct ectx *c, json_t *arr)
{
    if (!json_is_array(arr))
        return invalid(c, F_ARRAY_UNIQUE);
    size_t n = json_array_size(arr), cap = 16;
    while (cap < n * 2)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot); /* index + 1 into out, 0 = empty */
    memset(slot, 0, cap * sizeof *slot);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        uint64_t h = hash_value(v);
        h ^= h >> 33; /* spread the high bits down: table slots use the low ones */
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        size_t at = (size_t)h & (cap - 1);
        int dup = 0;
        while (slot[at]) {
            if (val_equal(json_array_get(out, slot[at] - 1), v)) {
                dup = 1;
                break;
            }
            at = (at + 1) & (cap - 1);
        }
        if (!dup) {
            json_array_append(out, v);
            slot[at] = json_array_size(out);
        }
    }
    free(slot);
    return out;
}

static json_t *fn_base64(const struct ectx *c, int fn, json_t *s)
{
    if (!json_is_string(s))
        return invalid(c, fn);
    const char *t = json_string_value(s);
    size_t n = json_string_length(s);
    if (java_length(t, n) > INTR_MAX_CHARS)
        return invalid(c, fn);
    val_buf b = {0};
    json_t *r = NULL;
    if (fn == F_BASE64_ENCODE) {
        b64_encode((const uint8_t *)t, n, &b);
        r = json_stringn(b.p ? b.p : "", b.len);
    } else {
        val_buf raw = {0};
        if (b64_decode(t, n, &raw) == 0) {
            utf8_sanitize((const uint8_t *)(raw.p ? raw.p : ""), raw.len, &b);
            r = json_stringn(b.p ? b.p : "", b.len);
        }
        val_buf_free(&raw);
    }
    val_buf_free(&b);
    return r ? r : invalid(c, fn);
}

static json_t *fn_hash(const struct ectx *c, json_t *data, json_t *alg)
{
    if (!json_is_string(data) || !json_is_string(alg) ||
        java_length(json_string_value(data), json_string_length(data)) > INTR_MAX_CHARS)
        return invalid(c, F_HASH);
    char *hex = hash_hex(json_string_value(alg), (const uint8_t *)json_string_value(data),
                         json_string_length(data));
    if (!hex)
        return invalid(c, F_HASH);
    json_t *r = json_string(hex);
    free(hex);
    return r;
}

static json_t *fn_json_merge(const struct ectx *c, json_t *const *a)
{
    /* deep merge is not supported by AWS: the flag must be false */
    if (!json_is_object(a[0]) || !json_is_object(a[1]) || !json_is_false(a[2]))
        return invalid(c, F_JSON_MERGE);
    json_t *out = json_copy(a[0]); /* shallow: children stay shared */
    json_object_update(out, a[1]);
    return out;
}

static uint64_t fallback_rng;

static json_t *fn_math_random(const struct ectx *c, json_t *const *a, size_t n)
{
    int32_t start, end;
    if (arg_int32(a[0], NUM_TRUNC, &start) < 0 || arg_int32(a[1], NUM_TRUNC, &end) < 0 || start >= end)
        return invalid(c, F_MATH_RANDOM);
    int64_t bound = (int64_t)end - start;
    if (bound > INT32_MAX) /* Java's int end - start would overflow */
        return invalid(c, F_MATH_RANDOM);
    int64_t r;
    if (n == 3) {
        if (!json_is_number(a[2]))
            return invalid(c, F_MATH_RANDOM);
        double d = trunc(json_number_value(a[2]));
        int64_t seed;
        if (json_is_integer(a[2]))
            seed = json_integer_value(a[2]);
        else if (d >= -9.2e18 && d <= 9.2e18)
            seed = (int64_t)d;
        else
            return invalid(c, F_MATH_RANDOM);
        uint64_t st = ((uint64_t)seed ^ 0x5DEECE66DULL) & JRAND_MASK;
        r = jrand_next_int(&st, (int32_t)bound);
    } else {
        uint64_t *rng = c->env->rng;
        if (!rng) { /* no engine state: still random, not constant */
            if (!fallback_rng)
                fallback_rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&fallback_rng;
            rng = &fallback_rng;
        }
        r = (int64_t)(asl_rand(rng) % (uint64_t)bound);
    }
    return json_integer((json_int_t)(start + r));
}

static json_t *fn_math_add(const struct ectx *c, json_t *x, json_t *y)
{
    int32_t a, b;
    if (arg_int32(x, NUM_ROUND, &a) < 0 || arg_int32(y, NUM_ROUND, &b) < 0)
        return invalid(c, F_MATH_ADD);
    int64_t sum = (int64_t)a + b;
    if (sum < INT32_MIN || sum > INT32_MAX)
        return invalid(c, F_MATH_ADD);
    return json_integer((json_int_t)sum);
}

/* Java's StringTokenizer: every character of delims separates, and empty
 * tokens are dropped (the corpus: ",,,," splits to []). */
static json_t *fn_string_split(const struct ectx *c, json_t *str, json_t *delims)
{
    if (!json_is_string(str) || !json_is_string(delims))
        return invalid(c, F_STRING_SPLIT);
    const char *s = json_string_value(str), *d = json_string_value(delims);
    size_t n = json_string_length(str), dn = json_string_length(delims);
    json_t *out = json_array();
    size_t tok = 0, i = 0;
    while (i < n) {
        size_t len = utf8_seq_len((unsigned char)s[i]);
        if (i + len > n)
            len = n - i;
        int sep = 0;
        for (size_t j = 0; j < dn && !sep;) {
            size_t dl = utf8_seq_len((unsigned char)d[j]);
            if (j + dl > dn)
                dl = dn - j;
            sep = dl == len && memcmp(d + j, s + i, len) == 0;
            j += dl;
        }
        if (sep) {
            if (i > tok)
                val_arr_append_take(out, json_stringn(s + tok, i - tok));
            tok = i + len;
        }
        i += len;
    }
    if (n > tok)
        val_arr_append_take(out, json_stringn(s + tok, n - tok));
    return out;
}

static json_t *fn_uuid(const struct ectx *c)
{
    uint64_t *rng = c->env->rng;
    if (!rng) {
        if (!fallback_rng)
            fallback_rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&fallback_rng;
        rng = &fallback_rng;
    }
    uint8_t b[16];
    uint64_t hi = asl_rand(rng), lo = asl_rand(rng);
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(hi >> (8 * i));
        b[8 + i] = (uint8_t)(lo >> (8 * i));
    }
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    char s[37];
    snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return json_string(s);
}

static json_t *eval_node(const struct node *nd, const struct ectx *c);

static json_t *eval_call(const struct node *nd, const struct ectx *c)
{
    json_t *stack[8], **a = nd->nargs <= 8 ? stack : malloc(nd->nargs * sizeof *a);
    size_t got = 0;
    json_t *r = NULL;
    for (; got < nd->nargs; got++) {
        a[got] = eval_node(nd->args[got], c);
        if (!a[got])
            goto done;
    }
    switch (nd->fn) {
    case F_FORMAT: r = fn_format(c, nd, a, nd->nargs); break;
    case F_STRING_TO_JSON: r = fn_string_to_json(c, a[0]); break;
    case F_JSON_TO_STRING: {
        size_t len;
        char *s = val_dump(a[0], &len);
        r = json_stringn(s, len);
        free(s);
        break;
    }
    case F_ARRAY:
        r = json_array();
        for (size_t i = 0; i < nd->nargs; i++)
            json_array_append(r, a[i]);
        break;
    case F_ARRAY_PARTITION: r = fn_array_partition(c, a[0], a[1]); break;
    case F_ARRAY_CONTAINS:
        if (!json_is_array(a[0])) {
            r = invalid(c, nd->fn);
            break;
        }
        r = json_false();
        for (size_t i = 0; i < json_array_size(a[0]); i++)
            if (val_equal(json_array_get(a[0], i), a[1])) {
                r = json_true();
                break;
            }
        break;
    case F_ARRAY_RANGE: r = fn_array_range(c, a); break;
    case F_ARRAY_GET_ITEM: r = fn_array_get_item(c, a[0], a[1]); break;
    case F_ARRAY_LENGTH:
        r = json_is_array(a[0]) ? json_integer((json_int_t)json_array_size(a[0])) : invalid(c, nd->fn);
        break;
    case F_ARRAY_UNIQUE: r = fn_array_unique(c, a[0]); break;
    case F_BASE64_ENCODE:
    case F_BASE64_DECODE: r = fn_base64(c, nd->fn, a[0]); break;
    case F_HASH: r = fn_hash(c, a[0], a[1]); break;
    case F_JSON_MERGE: r = fn_json_merge(c, a); break;
    case F_MATH_RANDOM: r = fn_math_random(c, a, nd->nargs); break;
    case F_MATH_ADD: r = fn_math_add(c, a[0], a[1]); break;
    case F_STRING_SPLIT: r = fn_string_split(c, a[0], a[1]); break;
    case F_UUID: r = fn_uuid(c); break;
    default: r = efail(c, "unknown function"); break; /* unreachable: parse checked the name */
    }
done:
    for (size_t i = 0; i < got; i++)
        json_decref(a[i]);
    if (a != stack)
        free(a);
    return r;
}

static json_t *eval_node(const struct node *nd, const struct ectx *c)
{
    if (nd->kind == N_LIT)
        return json_incref(nd->lit);
    if (nd->kind == N_CALL)
        return eval_call(nd, c);
    json_t *v = asl_path_eval(nd->path, c->env);
    if (v)
        return v;
    /* AWS names a `$$` argument as the path into the context object and
     * still prints the state input (Step Functions Local's wording) */
    const char *text = asl_path_text(nd->path);
    const char *shown = asl_path_root(nd->path) == ASL_ROOT_CONTEXT ? text + 1 : text;
    char *in = c->env->input ? val_dump(c->env->input, NULL) : strdup("null");
    efail(c, "The JsonPath argument for the field '%s' could not be found in the input '%s'", shown, in);
    free(in);
    return NULL;
}

json_t *asl_intrinsic_eval(const asl_intrinsic *f, const struct asl_env *env, const char *field,
                           val_err *err)
{
    (void)field; /* AWS's cause names the expression, not the field */
    struct ectx c = {env, f->text, err};
    return eval_node(f->root, &c);
}
