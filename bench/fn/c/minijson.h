/* minijson.h — just enough JSON for the fn-order bench's C functions
 * (validate.c, charge.c, record.c beside it): find a member of an object,
 * skip a value, walk an object's members, over the raw text. The functions
 * link libstepd-runtime.a and libc only, as a C Lambda function would.
 * Keys are compared byte for byte with their raw text (no unescaping):
 * enough for the keys the bench's workflow uses. Header-only. */
#ifndef BENCH_FN_MINIJSON_H
#define BENCH_FN_MINIJSON_H

#include <stddef.h>
#include <string.h>

static inline const char *mj_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The end of the string starting at p ('"'), after its closing quote; NULL
 * when it is not closed. */
static inline const char *mj_str_end(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* The end of the value starting at p (whitespace skipped first); NULL
 * when it is malformed. Literals and numbers are taken as the run of
 * characters that may make them up. */
static inline const char *mj_skip(const char *p, const char *e)
{
    p = mj_ws(p, e);
    if (p >= e)
        return NULL;
    if (*p == '"')
        return mj_str_end(p, e);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; p < e; p++) {
            if (*p == '"') {
                p = mj_str_end(p, e);
                if (!p)
                    return NULL;
                p--;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
        }
        return NULL;
    }
    const char *s = p;
    while (p < e && (strchr("+-.eE", *p) || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')))
        p++;
    return p > s ? p : NULL;
}

/* Walks an object's members: *it starts at the object's '{'. Each call
 * sets the key (raw, without quotes) and the value [v, ve) and returns 1;
 * 0 at the end, -1 when malformed. */
static inline int mj_next(const char **it, const char *e, const char **k, size_t *klen,
                          const char **v, const char **ve)
{
    const char *p = mj_ws(*it, e);
    if (p >= e)
        return -1;
    if (*p == '{') {
        p = mj_ws(p + 1, e);
        if (p < e && *p == '}')
            return *it = p + 1, 0;
    } else if (*p == ',') {
        p = mj_ws(p + 1, e);
    } else if (*p == '}') {
        return *it = p + 1, 0;
    } else {
        return -1;
    }
    if (p >= e || *p != '"')
        return -1;
    const char *kend = mj_str_end(p, e);
    if (!kend)
        return -1;
    *k = p + 1;
    *klen = (size_t)(kend - p - 2);
    p = mj_ws(kend, e);
    if (p >= e || *p != ':')
        return -1;
    *v = mj_ws(p + 1, e);
    *ve = mj_skip(*v, e);
    if (!*ve)
        return -1;
    *it = *ve;
    return 1;
}

/* The value of member `key` of the object at [p, e): 1 and [v, ve) when
 * found, 0 when absent or when p is not an object. */
static inline int mj_get(const char *p, const char *e, const char *key, const char **v, const char **ve)
{
    p = mj_ws(p, e);
    if (p >= e || *p != '{')
        return 0;
    size_t n = strlen(key), klen;
    const char *k;
    int r;
    while ((r = mj_next(&p, e, &k, &klen, v, ve)) == 1)
        if (klen == n && memcmp(k, key, n) == 0)
            return 1;
    return 0;
}

static inline int mj_is_key(const char *k, size_t klen, const char *key)
{
    return strlen(key) == klen && memcmp(k, key, klen) == 0;
}

/* A growing output buffer. */
typedef struct mj_buf {
    char *p;
    size_t len, cap;
    int oom;
} mj_buf;

#include <stdlib.h>

static inline void mj_put(mj_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static inline void mj_puts(mj_buf *b, const char *s)
{
    mj_put(b, s, strlen(s));
}

/* Copies the members of the object at [p, e) into b (after b's own '{' or
 * last member: a ',' is put first when `comma`), leaving out the keys in
 * `drop` (NULL-terminated). Returns the number copied, -1 when malformed. */
static inline int mj_copy_members(mj_buf *b, const char *p, const char *e, int comma,
                                  const char *const *drop)
{
    const char *k, *v, *ve;
    size_t klen;
    int r, n = 0;
    while ((r = mj_next(&p, e, &k, &klen, &v, &ve)) == 1) {
        int skip = 0;
        for (const char *const *d = drop; d && *d; d++)
            skip |= mj_is_key(k, klen, *d);
        if (skip)
            continue;
        if (comma || n)
            mj_puts(b, ",");
        mj_put(b, k - 1, klen + 2);
        mj_puts(b, ":");
        mj_put(b, v, (size_t)(ve - v));
        n++;
    }
    return r < 0 ? -1 : n;
}

#endif
