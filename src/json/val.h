/* val — thin helpers over jansson shared by every module: the one error
 * struct of the program, reference-stealing setters that say "take",
 * parsing with limits and line/column errors, a compact serializer that
 * prints numbers the way AWS does (shortest round-trip), and sizes.
 *
 * Ownership: a json_t you did not just create is read-only (values are
 * shared between states). Functions named *_take consume their argument. */
#ifndef STEPD_VAL_H
#define STEPD_VAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- errors */

enum val_err_kind {
    VAL_ERR_NONE = 0,
    VAL_ERR_VALIDATION, /* bad definition, bad request, bad usage */
    VAL_ERR_RUNTIME,    /* an ASL error raised while executing */
    VAL_ERR_IO,
    VAL_ERR_STORE,
};

/* One error for the whole program: a kind, an ASL error name
 * ("States.Runtime", a user's errorType), an owned cause and where it
 * happened (state name, JSON path or file:line:column). All strings are
 * owned by the struct and may be NULL. */
typedef struct val_err {
    int kind;
    char *name;
    char *cause;
    char *where;
} val_err;

/* Sets err (if err is non-NULL), freeing what it held. cause is printf-style. */
void val_err_set(val_err *err, int kind, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets err with the cause taken as is (no formatting). */
void val_err_setc(val_err *err, int kind, const char *name, const char *cause);
void val_err_where(val_err *err, const char *where);
void val_err_clear(val_err *err); /* frees and zeroes; NULL allowed */
void val_err_move(val_err *dst, val_err *src); /* dst takes src's strings */

/* ------------------------------------------------------------- building */

/* Reference-stealing setters: the call site says what is consumed. Each
 * returns 0 or -1 (jansson's result); on failure v is still released. */
static inline int val_obj_set_take(json_t *o, const char *k, json_t *v) { return json_object_set_new(o, k, v); }
static inline int val_arr_append_take(json_t *a, json_t *v) { return json_array_append_new(a, v); }
static inline json_t *val_ref(json_t *v) { return json_incref(v); }

/* ------------------------------------------------------- parse and dump */

#define VAL_MAX_DEPTH 1000 /* deeper documents are refused with a clear error */

/* Parses JSON text of len bytes (any value, not only objects). Returns a new
 * value or NULL with err set (kind VALIDATION, name "InvalidJson", cause
 * naming line and column). Refuses nesting over VAL_MAX_DEPTH and invalid
 * UTF-8. */
json_t *val_parse(const char *text, size_t len, val_err *err);

/* Reads a whole file (or "-" for stdin). Returns malloc'd bytes, NUL
 * terminated, length in *len; NULL with err set. */
char *val_read_file(const char *path, size_t *len, val_err *err);

/* Serializes compactly (no spaces), keys in insertion order, non-ASCII as
 * UTF-8, reals in the shortest form that reads back equal (AWS's style: 1.5,
 * 0.1, 1.0E20 is printed as 1e+20). Returns a malloc'd NUL-terminated string,
 * length in *len if len is non-NULL. Never NULL for a valid value. */
char *val_dump(const json_t *v, size_t *len);

/* Pretty-prints with two-space indent (for the CLI). malloc'd. */
char *val_dump_pretty(const json_t *v);

/* The number of bytes val_dump would produce, without allocating. */
size_t val_dump_size(const json_t *v);

/* Formats a real the way val_dump does into buf (>= 32 bytes). */
void val_fmt_real(double d, char *buf, size_t cap);

/* ------------------------------------------------------------ compare */

/* Deep equality where numbers compare by value (1 == 1.0). */
int val_equal(const json_t *a, const json_t *b);

/* A number's value as double; 0 for non-numbers. */
static inline double val_num(const json_t *v) { return json_number_value(v); }

/* Whether a number is integral and fits an int64; stores it in *out. */
int val_as_int64(const json_t *v, int64_t *out);

/* -------------------------------------------------------------- copies */

/* Returns v itself (a new reference) when the caller holds the only
 * reference, else a shallow copy: the spine is copied, children shared.
 * Consumes v. Use it before changing an object or array in place. */
json_t *val_own_take(json_t *v);

/* The JSON type name AWS uses in messages ("string", "number", ...). */
const char *val_type_name(const json_t *v);

/* Growable byte buffer used by the serializers and message builders. */
/* printf into a malloc'd string (aborts when out of memory, as the
 * allocation helpers do). */
char *val_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Base64 (RFC 4648, padded) of n bytes: a malloc'd, NUL-terminated string. */
char *val_base64(const void *s, size_t n);

typedef struct val_buf {
    char *p;
    size_t len, cap;
} val_buf;
void val_buf_putn(val_buf *b, const char *s, size_t n);
void val_buf_puts(val_buf *b, const char *s);
void val_buf_putc(val_buf *b, char c);
void val_buf_printf(val_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void val_buf_dump(val_buf *b, const json_t *v); /* appends val_dump(v) */
/* Appends val_dump(v) as a JSON string literal (quotes and escapes
 * included), in one pass: what a history event's "input" member holds. */
void val_buf_dump_literal(val_buf *b, const json_t *v);
char *val_buf_take(val_buf *b); /* returns the NUL-terminated string; b is reset */
void val_buf_free(val_buf *b);

#endif
