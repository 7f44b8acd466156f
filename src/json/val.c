/* val — the program-wide error struct and the JSON helpers every module
 * shares: parsing with limits, a compact serializer with AWS-style numbers,
 * value equality with numeric comparison, and copy-on-write helpers. */
#include "json/val.h"

#include <openssl/evp.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

void val_err_clear(val_err *err)
{
    if (!err)
        return;
    free(err->name);
    free(err->cause);
    free(err->where);
    memset(err, 0, sizeof *err);
}

void val_err_setc(val_err *err, int kind, const char *name, const char *cause)
{
    if (!err)
        return;
    val_err_clear(err);
    err->kind = kind;
    err->name = name ? strdup(name) : NULL;
    err->cause = cause ? strdup(cause) : NULL;
}

void val_err_set(val_err *err, int kind, const char *name, const char *fmt, ...)
{
    if (!err)
        return;
    char *cause = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&cause, fmt, ap) < 0)
            cause = NULL;
        va_end(ap);
    }
    val_err_clear(err);
    err->kind = kind;
    err->name = name ? strdup(name) : NULL;
    err->cause = cause;
}

void val_err_where(val_err *err, const char *where)
{
    if (!err)
        return;
    free(err->where);
    err->where = where ? strdup(where) : NULL;
}

void val_err_move(val_err *dst, val_err *src)
{
    if (!dst) {
        val_err_clear(src);
        return;
    }
    val_err_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

/* --------------------------------------------------------------- buffer */

static void buf_grow(val_buf *b, size_t need)
{
    if (b->len + need + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        abort(); /* out of memory: nothing sensible to do */
    b->p = p;
    b->cap = cap;
}

void val_buf_putn(val_buf *b, const char *s, size_t n)
{
    buf_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void val_buf_puts(val_buf *b, const char *s) { val_buf_putn(b, s, strlen(s)); }

void val_buf_putc(val_buf *b, char c)
{
    buf_grow(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}

void val_buf_printf(val_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof tmp) {
        val_buf_putn(b, tmp, (size_t)n);
    } else {
        buf_grow(b, (size_t)n);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

char *val_buf_take(val_buf *b)
{
    if (!b->p)
        return strdup("");
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void val_buf_free(val_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- parse */

json_t *val_parse(const char *text, size_t len, val_err *err)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        val_err_set(err, VAL_ERR_VALIDATION, "InvalidJson", "%s at line %d, column %d", je.text,
                    je.line, je.column);
        return NULL;
    }
    return v;
}

char *val_read_file(const char *path, size_t *len, val_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        val_err_set(err, VAL_ERR_IO, "IOError", "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    val_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        val_buf_putn(&b, chunk, n);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        val_buf_free(&b);
        val_err_set(err, VAL_ERR_IO, "IOError", "cannot read %s", path);
        return NULL;
    }
    *len = b.len;
    return val_buf_take(&b);
}

/* ----------------------------------------------------------------- dump */

void val_fmt_real(double d, char *buf, size_t cap)
{
    if (!isfinite(d)) {
        snprintf(buf, cap, "null");
        return;
    }
    /* the shortest precision that reads back equal */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    /* keep it a real: 1 -> 1.0, as Java and jansson print integral doubles */
    if (!strpbrk(buf, ".eEn")) {
        size_t n = strlen(buf);
        if (n + 3 <= cap)
            memcpy(buf + n, ".0", 3);
    }
}

static const char hexd[] = "0123456789abcdef";

/* Which bytes need an escape: control characters, '"' and '\\'. */
static const unsigned char esc_tab[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, ['\\'] = 1,
};

/* Strings are most of what history events hold (inputs and outputs are
 * JSON text inside JSON, full of quotes), so this writes straight into the
 * buffer, byte by byte: room for the worst case (every byte a \u00XX
 * escape) is made once. */
static void dump_str(val_buf *b, const char *s, size_t n)
{
    buf_grow(b, 6 * n + 2);
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!esc_tab[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    *o++ = '"';
    *o = 0;
    b->len = (size_t)(o - b->p);
}

/* An integer in decimal, without printf. */
static void dump_int(val_buf *b, json_int_t v)
{
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    val_buf_putn(b, p, (size_t)(e - p));
}

/* Writes a string (a value or a key) as dump() needs it. */
typedef void (*str_writer)(val_buf *b, const char *s, size_t n);

static void dump(val_buf *b, const json_t *v, int indent, int level, str_writer str)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_NULL: val_buf_putn(b, "null", 4); break;
    case JSON_TRUE: val_buf_putn(b, "true", 4); break;
    case JSON_FALSE: val_buf_putn(b, "false", 5); break;
    case JSON_INTEGER: dump_int(b, json_integer_value(v)); break;
    case JSON_REAL:
        val_fmt_real(json_real_value(v), num, sizeof num);
        val_buf_puts(b, num);
        break;
    case JSON_STRING: str(b, json_string_value(v), json_string_length(v)); break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        val_buf_putc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                val_buf_putc(b, ',');
            if (indent) {
                val_buf_putc(b, '\n');
                for (int k = 0; k < (level + 1) * indent; k++)
                    val_buf_putc(b, ' ');
            }
            dump(b, json_array_get(v, i), indent, level + 1, str);
        }
        if (indent && n) {
            val_buf_putc(b, '\n');
            for (int k = 0; k < level * indent; k++)
                val_buf_putc(b, ' ');
        }
        val_buf_putc(b, ']');
        break;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        val_buf_putc(b, '{');
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first)
                val_buf_putc(b, ',');
            first = 0;
            if (indent) {
                val_buf_putc(b, '\n');
                for (int i = 0; i < (level + 1) * indent; i++)
                    val_buf_putc(b, ' ');
            }
            str(b, k, strlen(k));
            val_buf_putc(b, ':');
            if (indent)
                val_buf_putc(b, ' ');
            dump(b, x, indent, level + 1, str);
        }
        if (indent && !first) {
            val_buf_putc(b, '\n');
            for (int i = 0; i < level * indent; i++)
                val_buf_putc(b, ' ');
        }
        val_buf_putc(b, '}');
        break;
    }
    }
}

void val_buf_dump(val_buf *b, const json_t *v) { dump(b, v, 0, 0, dump_str); }

/* A string inside the literal: its escapes escaped once more. */
static void dump_str_lit(val_buf *b, const char *s, size_t n)
{
    buf_grow(b, 7 * n + 4);
    char *o = b->p + b->len;
    *o++ = '\\';
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!esc_tab[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    *o++ = '\\';
    *o++ = '"';
    *o = 0;
    b->len = (size_t)(o - b->p);
}

/* dump(), written as the inside of a JSON string literal in one pass: the
 * same walk with every string's escapes escaped again. */
void val_buf_dump_literal(val_buf *b, const json_t *v)
{
    val_buf_putc(b, '"');
    dump(b, v, 0, 0, dump_str_lit);
    val_buf_putc(b, '"');
}

char *val_dump(const json_t *v, size_t *len)
{
    val_buf b = {0};
    dump(&b, v, 0, 0, dump_str);
    if (len)
        *len = b.len;
    return val_buf_take(&b);
}

char *val_dump_pretty(const json_t *v)
{
    val_buf b = {0};
    dump(&b, v, 2, 0, dump_str);
    return val_buf_take(&b);
}

static size_t str_size(const char *s, size_t n)
{
    size_t sz = n + 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            sz += 1;
        else if (c < 0x20)
            sz += 5;
    }
    return sz;
}

size_t val_dump_size(const json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_NULL: return 4;
    case JSON_TRUE: return 4;
    case JSON_FALSE: return 5;
    case JSON_INTEGER: return (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: val_fmt_real(json_real_value(v), num, sizeof num); return strlen(num);
    case JSON_STRING: return str_size(json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        size_t n = json_array_size(v), sz = 2 + (n ? n - 1 : 0);
        for (size_t i = 0; i < n; i++)
            sz += val_dump_size(json_array_get(v, i));
        return sz;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        size_t n = json_object_size(v), sz = 2 + (n ? n - 1 : 0);
        json_object_foreach((json_t *)v, k, x) sz += str_size(k, strlen(k)) + 1 + val_dump_size(x);
        return sz;
    }
    }
    return 0;
}

/* -------------------------------------------------------------- compare */

int val_equal(const json_t *a, const json_t *b)
{
    if (a == b)
        return 1;
    if (!a || !b)
        return 0;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!val_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)a, k, x)
        {
            if (!val_equal(x, json_object_get(b, k)))
                return 0;
        }
        return 1;
    }
    default: return 1; /* null, true, false: same type is equal */
    }
}

int val_as_int64(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
            *out = (int64_t)d;
            return 1;
        }
    }
    return 0;
}

/* --------------------------------------------------------------- copies */

json_t *val_own_take(json_t *v)
{
    if (!v || v->refcount == 1)
        return v;
    json_t *c = json_copy(v);
    json_decref(v);
    return c;
}

const char *val_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

char *val_base64(const void *s, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        abort();
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

char *val_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}
