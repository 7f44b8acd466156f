/* items_query — Query and Scan. A table is read in key order straight
 * from the store (a Query is a range of one partition's keys); an index is
 * read by sorting the table's items that carry its keys, since the store
 * keeps no index of its own. Both then go through one page: Limit counts
 * items evaluated before the filter, a page stops at 1 MB, and
 * LastEvaluatedKey is the last evaluated item's key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/av.h"
#include "ddb/expr.h"
#include "ddb/ops_int.h"

/* av.c's strict base64 decoder (not in av.h): begins_with on a binary
 * sort key compares decoded bytes. */
unsigned char *ddbp_b64_decode(const char *s, size_t len, size_t *n, const char **why);

#define PAGE_BYTES (1024 * 1024) /* DynamoDB reads at most 1 MB per page */
#define CHUNK 1000               /* items read from the store at a time */

enum select { SEL_ALL, SEL_PROJECTED, SEL_SPECIFIC, SEL_COUNT };

/* One page being filled. */
struct page {
    const struct ddb_table *t;
    const struct ddb_index *ix; /* NULL: the table */
    struct ddb_exprs *x;
    enum select select;
    int reduce;    /* items are shown as the index projects them */
    int64_t limit; /* 0: none */
    json_t *items;
    int64_t count, scanned;
    size_t bytes;
    json_t *lek;
};

/* item reduced to what the index projects: the table's and the index's
 * keys, plus INCLUDE's attributes. */
static json_t *index_view(const struct page *p, json_t *item)
{
    json_t *o = ddb_key_of(p->t, p->ix, item);
    size_t i;
    json_t *n;
    if (p->ix->proj == DDB_PROJ_INCLUDE)
        json_array_foreach(p->ix->nonkey, i, n) {
            json_t *v = json_is_string(n) ? json_object_get(item, json_string_value(n)) : NULL;
            if (v)
                json_object_set(o, json_string_value(n), v);
        }
    return o;
}

/* Evaluates one item (borrowed) that the key condition selected: 1 to go
 * on, 0 when the page is full (LastEvaluatedKey set), -1 with err. */
static int offer(struct page *p, json_t *item, val_err *err)
{
    p->scanned++;
    p->bytes += ddb_item_size(item);
    json_t *seen = p->reduce ? index_view(p, item) : json_incref(item);
    int keep = p->x->filter ? ddb_cond_eval(p->x->filter, seen, err) : 1;
    if (keep < 0) {
        json_decref(seen);
        return -1;
    }
    if (keep) {
        p->count++;
        if (p->select != SEL_COUNT)
            val_arr_append_take(p->items, ddb_exprs_project(p->x, seen));
    }
    json_decref(seen);
    if ((p->limit && p->scanned >= p->limit) || p->bytes >= PAGE_BYTES) {
        p->lek = ddb_key_of(p->t, p->ix, item);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------ key conditions */

/* Whether v (the item's sort key value, may be NULL) starts with pre. */
static int begins(json_t *v, json_t *pre)
{
    const char *ty = ddb_av_type(v), *pty = ddb_av_type(pre);
    if (!ty || !pty || strcmp(ty, pty) != 0 || (ty[0] != 'S' && ty[0] != 'B') || ty[1])
        return 0;
    json_t *a = json_object_get(v, ty), *b = json_object_get(pre, ty);
    size_t na = json_string_length(a), nb = json_string_length(b);
    if (ty[0] == 'S')
        return na >= nb && memcmp(json_string_value(a), json_string_value(b), nb) == 0;
    const char *why;
    size_t da, db;
    unsigned char *ba = ddbp_b64_decode(json_string_value(a), na, &da, &why);
    unsigned char *bb = ddbp_b64_decode(json_string_value(b), nb, &db, &why);
    int r = ba && bb && da >= db && memcmp(ba, bb, db) == 0;
    free(ba);
    free(bb);
    return r;
}

/* Whether the sort key value v (may be NULL) meets the condition. */
static int sk_match(const struct ddb_keycond *kc, json_t *v)
{
    if (!kc->sk_name || kc->op == DDB_SK_NONE)
        return 1;
    if (!v)
        return 0;
    if (kc->op == DDB_SK_BEGINS)
        return begins(v, kc->v1);
    int c;
    if (ddb_av_cmp(v, kc->v1, &c) < 0)
        return 0;
    switch (kc->op) {
    case DDB_SK_EQ: return c == 0;
    case DDB_SK_LT: return c < 0;
    case DDB_SK_LE: return c <= 0;
    case DDB_SK_GT: return c > 0;
    case DDB_SK_GE: return c >= 0;
    case DDB_SK_BETWEEN: {
        int c2;
        return c >= 0 && ddb_av_cmp(v, kc->v2, &c2) == 0 && c2 <= 0;
    }
    default: return 0;
    }
}

static int type_is(json_t *av, char type)
{
    const char *t = ddb_av_type(av);
    return t && t[0] == type && !t[1];
}

/* The key condition's values against the schema's types. */
static int keycond_ok(const struct ddb_keycond *kc, char pk_type, char sk_type, val_err *err)
{
    if (!type_is(kc->pk_value, pk_type) || (kc->sk_name && kc->op != DDB_SK_NONE &&
                                            (!type_is(kc->v1, sk_type) || (kc->v2 && !type_is(kc->v2, sk_type))))) {
        ddb_invalid(err, "One or more parameter values were invalid: Condition parameter type does not match schema "
                         "type");
        return -1;
    }
    if (kc->sk_name && kc->op == DDB_SK_BEGINS && sk_type == 'N') {
        ddb_invalid(err, "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator "
                         "or function: begins_with, operand type: N");
        return -1;
    }
    int c;
    if (kc->sk_name && kc->op == DDB_SK_BETWEEN && ddb_av_cmp(kc->v1, kc->v2, &c) == 0 && c > 0) {
        char *a = val_dump(kc->v1, NULL), *b = val_dump(kc->v2, NULL);
        ddb_invalid(err, "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater "
                         "than or equal to lower bound; lower operand: AttributeValue: %s, upper operand: "
                         "AttributeValue: %s",
                    a, b);
        free(a);
        free(b);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ the table */

/* One bound of a key range read from the store. */
struct bound {
    val_buf b;
    int set, incl;
};

static struct store_bound sb(const struct bound *x)
{
    struct store_bound r = {x->set ? (x->b.p ? (const void *)x->b.p : (const void *)"") : NULL, x->b.len, x->incl};
    return r;
}

static void bound_set(struct bound *x, const void *p, size_t n, int incl)
{
    x->b.len = 0;
    val_buf_putn(&x->b, p, n);
    x->set = 1;
    x->incl = incl;
}

/* b becomes the smallest byte string greater than every string it
 * prefixes; 0 when there is none (all 0xFF: no upper bound). */
static int successor(val_buf *b)
{
    while (b->len && (unsigned char)b->p[b->len - 1] == 0xFF)
        b->len--;
    if (!b->len)
        return 0;
    b->p[b->len - 1]++;
    return 1;
}

/* What a table read does with each item before offering it. */
struct walk {
    const struct ddb_keycond *kc; /* a Query's condition (begins_with is checked per item) */
    int reverse;
    int64_t segment, total; /* a Scan's segment, total 0: the whole table */
};

/* The segment of an item: a hash of its partition key's encoding, so
 * that a partition lives in one segment. */
static int64_t segment_of(const struct ddb_keydef *pk, json_t *item, const unsigned char *key, size_t len,
                          int whole, int64_t total)
{
    uint32_t h;
    if (whole) {
        h = ddb_crc32(key, len);
    } else {
        val_buf b = {0};
        val_err e = {0};
        ddb_key_put(&b, json_object_get(item, pk->name), pk->type, pk->name, &e);
        val_err_clear(&e);
        h = ddb_crc32(b.p ? b.p : "", b.len);
        val_buf_free(&b);
    }
    return (int64_t)(h % (uint32_t)total);
}

/* 1: offer the item; 0: skip it (outside the key condition, or another
 * segment); -1: the range is over. */
static int walk_check(const struct page *p, const struct walk *w, json_t *item, const struct store_item *si)
{
    if (w->total > 1 &&
        segment_of(&p->t->pk, item, si->key, si->key_len, !p->t->sk.name, w->total) != w->segment)
        return 0;
    if (w->kc && w->kc->op == DDB_SK_BEGINS) {
        json_t *v = json_object_get(item, w->kc->sk_name);
        if (begins(v, w->kc->v1))
            return 1;
        /* forward: the matches are behind us; reverse: still above them
         * while the value is greater than the prefix */
        int c;
        if (w->reverse && v && ddb_av_cmp(v, w->kc->v1, &c) == 0 && c > 0)
            return 0;
        return -1;
    }
    return 1;
}

/* Reads [lo, hi] of the table in chunks and offers each item. */
static int walk_table(store *st, struct page *p, const struct walk *w, struct bound *lo, struct bound *hi,
                      val_err *err)
{
    for (;;) {
        size_t chunk = CHUNK;
        if (p->limit && (size_t)(p->limit - p->scanned) < chunk && !w->total && !(w->kc && w->kc->op == DDB_SK_BEGINS))
            chunk = (size_t)(p->limit - p->scanned); /* a Limit 1 query reads one row */
        struct store_item_list l;
        if (st->ops->item_range(st, p->t->name, sb(lo), sb(hi), w->reverse, chunk, &l, err) != STORE_OK)
            return ddb_store_failed(err);
        int r = 1;
        for (size_t i = 0; i < l.n && r == 1; i++) {
            json_t *item = json_loads(l.items[i].json, JSON_ALLOW_NUL, NULL);
            if (!item) {
                val_err_setc(err, VAL_ERR_STORE, "InternalServerError", "a stored item is damaged");
                r = -1;
                break;
            }
            int c = walk_check(p, w, item, &l.items[i]);
            if (c < 0)
                r = 0;
            else if (c > 0)
                r = offer(p, item, err);
            json_decref(item);
        }
        int more = r == 1 && l.n == chunk;
        if (more) { /* on after the last key read */
            struct store_item *last = &l.items[l.n - 1];
            bound_set(w->reverse ? hi : lo, last->key, last->key_len, 0);
        }
        store_item_list_free(&l);
        if (r < 0)
            return -1;
        if (!more)
            return 0;
    }
}

/* -------------------------------------------------------------- indexes */

struct row {
    unsigned char *sort; /* enc(index pk) enc(index sk) table key */
    size_t len;
    json_t *item;
};

static int row_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->sort, y->sort, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The index order's sort bytes of obj (an item or an ExclusiveStartKey):
 * -1 when it lacks one of the keys or has one of another type. */
static int index_sort(const struct ddb_table *t, const struct ddb_index *ix, json_t *obj, val_buf *b)
{
    const struct ddb_keydef *ks[4] = {&ix->pk, &ix->sk, &t->pk, &t->sk};
    val_err e = {0};
    for (int k = 0; k < 4; k++) {
        if (!ks[k]->name)
            continue;
        json_t *v = json_object_get(obj, ks[k]->name);
        if (!type_is(v, ks[k]->type) || ddb_key_put(b, v, ks[k]->type, ks[k]->name, &e) < 0) {
            val_err_clear(&e);
            return -1;
        }
    }
    return 0;
}

/* Reads every item of the table that the index holds and the condition
 * selects, in the index's order, and offers them from after esk. */
static int walk_index(store *st, struct page *p, const struct walk *w, const val_buf *esk, val_err *err)
{
    struct row *rows = NULL;
    size_t n = 0, cap = 0;
    struct bound lo = {0}, hi = {0};
    int r = 0;
    for (int more = 1; more && r == 0;) {
        struct store_item_list l;
        if (st->ops->item_range(st, p->t->name, sb(&lo), sb(&hi), 0, CHUNK, &l, err) != STORE_OK) {
            r = ddb_store_failed(err);
            break;
        }
        for (size_t i = 0; i < l.n; i++) {
            json_t *item = json_loads(l.items[i].json, JSON_ALLOW_NUL, NULL);
            if (!item) {
                val_err_setc(err, VAL_ERR_STORE, "InternalServerError", "a stored item is damaged");
                r = -1;
                break;
            }
            val_buf b = {0};
            int keep = index_sort(p->t, p->ix, item, &b) == 0;
            if (keep && w->kc)
                keep = ddb_av_equal(json_object_get(item, w->kc->pk_name), w->kc->pk_value) &&
                       sk_match(w->kc, w->kc->sk_name ? json_object_get(item, w->kc->sk_name) : NULL);
            if (keep && w->total > 1) {
                val_buf pb = {0};
                val_err e = {0};
                ddb_key_put(&pb, json_object_get(item, p->ix->pk.name), p->ix->pk.type, p->ix->pk.name, &e);
                val_err_clear(&e);
                keep = (int64_t)(ddb_crc32(pb.p ? pb.p : "", pb.len) % (uint32_t)w->total) == w->segment;
                val_buf_free(&pb);
            }
            if (!keep) {
                val_buf_free(&b);
                json_decref(item);
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                rows = realloc(rows, cap * sizeof *rows);
                if (!rows)
                    abort();
            }
            rows[n].len = b.len;
            rows[n].sort = (unsigned char *)val_buf_take(&b);
            rows[n].item = item;
            n++;
        }
        more = l.n == CHUNK;
        if (more)
            bound_set(&lo, l.items[l.n - 1].key, l.items[l.n - 1].key_len, 0);
        store_item_list_free(&l);
    }
    val_buf_free(&lo.b);
    if (r == 0) {
        qsort(rows, n, sizeof *rows, row_cmp);
        size_t start = 0, end = n; /* [start, end) still to offer, in the walk's direction */
        if (esk) {
            struct row key = {(unsigned char *)esk->p, esk->len, NULL};
            /* forward: the first row above esk; reverse: the rows below it */
            size_t a = 0, b = n;
            while (a < b) {
                size_t m = a + (b - a) / 2;
                int c = row_cmp(&rows[m], &key);
                if (c < 0 || (c == 0 && !w->reverse))
                    a = m + 1;
                else
                    b = m;
            }
            if (w->reverse)
                end = a;
            else
                start = a;
        }
        for (size_t k = 0; k < end - start && r == 0; k++) {
            size_t at = w->reverse ? end - 1 - k : start + k;
            int o = offer(p, rows[at].item, err);
            if (o < 0)
                r = -1;
            else if (o == 0)
                break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(rows[i].sort);
        json_decref(rows[i].item);
    }
    free(rows);
    return r;
}

/* ------------------------------------------------------------ arguments */

static int read_select(json_t *req, const struct ddb_index *ix, const struct ddb_exprs *x, enum select *out,
                       val_err *err)
{
    json_t *v = json_object_get(req, "Select");
    int proj = x->proj || x->attrs;
    if (!v || json_is_null(v)) {
        *out = proj ? SEL_SPECIFIC : ix ? SEL_PROJECTED : SEL_ALL;
        return 0;
    }
    const char *s = json_string_value(v);
    if (s && strcmp(s, "ALL_ATTRIBUTES") == 0)
        *out = SEL_ALL;
    else if (s && strcmp(s, "ALL_PROJECTED_ATTRIBUTES") == 0)
        *out = SEL_PROJECTED;
    else if (s && strcmp(s, "SPECIFIC_ATTRIBUTES") == 0)
        *out = SEL_SPECIFIC;
    else if (s && strcmp(s, "COUNT") == 0)
        *out = SEL_COUNT;
    else {
        ddb_invalid(err, "1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member "
                         "must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
                         "ALL_PROJECTED_ATTRIBUTES]",
                    s ? s : "?");
        return -1;
    }
    if (*out == SEL_SPECIFIC && !proj) {
        ddb_invalid(err, "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires a "
                         "ProjectionExpression or AttributesToGet");
        return -1;
    }
    if (*out != SEL_SPECIFIC && proj) {
        ddb_invalid(err, "One or more parameter values were invalid: Cannot specify a ProjectionExpression or "
                         "AttributesToGet with Select %s; use SPECIFIC_ATTRIBUTES",
                    s);
        return -1;
    }
    if (*out == SEL_PROJECTED && !ix) {
        ddb_invalid(err, "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is not "
                         "supported when querying or scanning a table without an IndexName");
        return -1;
    }
    if (*out == SEL_ALL && ix && ix->global && ix->proj != DDB_PROJ_ALL) {
        ddb_invalid(err, "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for "
                         "global secondary index %s because its projection type is not ALL",
                    ix->name);
        return -1;
    }
    return 0;
}

/* A positive integer member (Limit, TotalSegments) or a non-negative one
 * (Segment): -1 with err when out of [min, max]; *out untouched when
 * absent. */
static int read_int(json_t *req, const char *member, const char *lower, int64_t min, int64_t max, int64_t *out,
                    val_err *err)
{
    json_t *v = json_object_get(req, member);
    if (!v || json_is_null(v))
        return 0;
    int64_t n;
    if (!json_is_integer(v) || (n = json_integer_value(v)) < min || n > max) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
        ddb_invalid(err, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must "
                         "have value %s %lld",
                    json_is_integer(v) ? buf : "?", lower,
                    json_is_integer(v) && json_integer_value(v) > max ? "less than or equal to"
                                                                      : "greater than or equal to",
                    (long long)(json_is_integer(v) && json_integer_value(v) > max ? max : min));
        return -1;
    }
    *out = n;
    return 0;
}

/* Checks ExclusiveStartKey (canonical) against the key attributes a page
 * of t (or ix) names, and encodes it: the table key, or the index order's
 * sort bytes. */
static int read_esk(const struct ddb_table *t, const struct ddb_index *ix, json_t *esk, val_buf *b, val_err *err)
{
    size_t want = 1 + (t->sk.name != NULL);
    if (ix) {
        const char *in[2] = {ix->pk.name, ix->sk.name};
        for (int k = 0; k < 2; k++)
            if (in[k] && strcmp(in[k], t->pk.name) != 0 && (!t->sk.name || strcmp(in[k], t->sk.name) != 0))
                want++;
    }
    int bad = json_object_size(esk) != want;
    if (!bad && ix)
        bad = index_sort(t, ix, esk, b) < 0;
    else if (!bad) {
        val_err e = {0};
        bad = ddb_key_encode(t, esk, DDB_KEY_ITEM, b, &e) < 0;
        val_err_clear(&e);
    }
    if (bad) {
        ddb_invalid(err, "The provided starting key is invalid: The provided key element does not match the schema");
        return -1;
    }
    return 0;
}

/* ----------------------------------------------------------- Query, Scan */

json_t *ddb_op_query(store *st, json_t *req, int scan, val_err *err)
{
    struct ddb_exprs x;
    struct ddb_table *t = NULL;
    if (ddb_no_legacy(req, err) < 0 ||
        ddb_exprs_parse(req, DDB_X_FILTER | DDB_X_PROJ | (scan ? 0 : DDB_X_KEYCOND), &x, err) < 0)
        return NULL;
    json_t *out = NULL, *esk = NULL;
    struct page p = {0};
    struct bound lo = {0}, hi = {0};
    val_buf eskb = {0};
    struct ddb_keycond kc = {0};
    struct walk w = {0};
    if (!scan && !x.keycond) {
        ddb_invalid(err, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the "
                         "request.");
        goto done;
    }
    if (ddb_table_open(st, ddb_str(req, "TableName"), &t, err) < 0)
        goto done;
    const char *ixname = ddb_str(req, "IndexName");
    const struct ddb_index *ix = ddb_table_index(t, ixname);
    if (ixname && !ix) {
        ddb_invalid(err, "The table does not have the specified index: %s", ixname);
        goto done;
    }
    int consistent = ddb_bool(req, "ConsistentRead", "consistentRead", 0, err);
    int forward = scan ? 1 : ddb_bool(req, "ScanIndexForward", "scanIndexForward", 1, err);
    if (consistent < 0 || forward < 0)
        goto done;
    if (ix && ix->global && consistent) {
        ddb_invalid(err, "Consistent reads are not supported on global secondary indexes");
        goto done;
    }
    p.t = t;
    p.ix = ix;
    p.x = &x;
    if (read_select(req, ix, &x, &p.select, err) < 0 ||
        read_int(req, "Limit", "limit", 1, INT32_MAX, &p.limit, err) < 0)
        goto done;
    p.reduce = ix && ix->proj != DDB_PROJ_ALL && p.select != SEL_ALL;
    w.reverse = !forward;
    if (scan) {
        int has_seg = json_object_get(req, "Segment") != NULL, has_tot = json_object_get(req, "TotalSegments") != NULL;
        if (has_seg != has_tot) {
            ddb_invalid(err, "The %s parameter is required but was not present in the request when %s parameter is "
                             "present",
                        has_seg ? "TotalSegments" : "Segment", has_seg ? "Segment" : "TotalSegments");
            goto done;
        }
        if (read_int(req, "TotalSegments", "totalSegments", 1, 1000000, &w.total, err) < 0 ||
            read_int(req, "Segment", "segment", 0, 999999, &w.segment, err) < 0)
            goto done;
        if (has_seg && w.segment >= w.total) {
            ddb_invalid(err, "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                             "Segment: %lld is not less than TotalSegments: %lld",
                        (long long)w.segment, (long long)w.total);
            goto done;
        }
    } else {
        const struct ddb_keydef *pk = ix ? &ix->pk : &t->pk, *sk = ix ? &ix->sk : &t->sk;
        if (ddb_keycond_get(x.keycond, ix ? ix->key_schema : t->key_schema, &kc, err) < 0 ||
            keycond_ok(&kc, pk->type, sk->type, err) < 0)
            goto done;
        w.kc = &kc;
    }
    json_t *given = json_object_get(req, "ExclusiveStartKey");
    if (given && !json_is_null(given)) {
        if (!json_is_object(given)) {
            ddb_invalid(err, "The provided starting key is invalid: The provided key element does not match the "
                             "schema");
            goto done;
        }
        if (!(esk = ddb_item_canon(given, err)) || read_esk(t, ix, esk, &eskb, err) < 0)
            goto done;
    }
    p.items = json_array();
    int r;
    if (ix) {
        r = walk_index(st, &p, &w, esk ? &eskb : NULL, err);
    } else {
        if (!scan) {
            /* the partition's range, narrowed by the sort key condition */
            val_buf pre = {0};
            if (ddb_key_put(&pre, kc.pk_value, t->pk.type, t->pk.name, err) < 0) {
                val_buf_free(&pre);
                goto done;
            }
            bound_set(&lo, pre.p, pre.len, 1);
            bound_set(&hi, pre.p, pre.len, 0);
            if (!successor(&hi.b))
                hi.set = 0;
            if (kc.sk_name && kc.op != DDB_SK_NONE) {
                val_buf v1 = {0}, v2 = {0};
                val_buf_putn(&v1, pre.p, pre.len);
                int bad = ddb_key_put(&v1, kc.v1, t->sk.type, t->sk.name, err) < 0;
                if (!bad && kc.op == DDB_SK_BETWEEN) {
                    val_buf_putn(&v2, pre.p, pre.len);
                    bad = ddb_key_put(&v2, kc.v2, t->sk.type, t->sk.name, err) < 0;
                }
                switch (kc.op) {
                case DDB_SK_EQ: bound_set(&lo, v1.p, v1.len, 1), bound_set(&hi, v1.p, v1.len, 1); break;
                case DDB_SK_LT: bound_set(&hi, v1.p, v1.len, 0); break;
                case DDB_SK_LE: bound_set(&hi, v1.p, v1.len, 1); break;
                case DDB_SK_GT: bound_set(&lo, v1.p, v1.len, 0); break;
                case DDB_SK_GE:
                case DDB_SK_BEGINS: bound_set(&lo, v1.p, v1.len, 1); break;
                case DDB_SK_BETWEEN: bound_set(&lo, v1.p, v1.len, 1), bound_set(&hi, v2.p, v2.len, 1); break;
                default: break;
                }
                val_buf_free(&v1);
                val_buf_free(&v2);
                if (bad) {
                    val_buf_free(&pre);
                    goto done;
                }
            }
            val_buf_free(&pre);
        }
        if (esk) { /* resume after it, inside the range */
            struct bound *b = w.reverse ? &hi : &lo;
            size_t n = b->b.len < eskb.len ? b->b.len : eskb.len;
            int c = b->set ? memcmp(eskb.p, b->b.p, n) : 0;
            if (b->set && !c)
                c = (eskb.len > b->b.len) - (eskb.len < b->b.len);
            if (!b->set || (w.reverse ? c <= 0 : c >= 0))
                bound_set(b, eskb.p, eskb.len, 0);
        }
        r = walk_table(st, &p, &w, &lo, &hi, err);
    }
    if (r < 0)
        goto done;
    out = json_object();
    if (p.select != SEL_COUNT)
        val_obj_set_take(out, "Items", json_incref(p.items));
    val_obj_set_take(out, "Count", json_integer(p.count));
    val_obj_set_take(out, "ScannedCount", json_integer(p.scanned));
    if (p.lek)
        val_obj_set_take(out, "LastEvaluatedKey", json_incref(p.lek));
    ddb_consumed(out, req, t->name, p.bytes, 0);
done:
    json_decref(p.items);
    json_decref(p.lek);
    json_decref(esk);
    val_buf_free(&eskb);
    val_buf_free(&lo.b);
    val_buf_free(&hi.b);
    ddb_table_close(t);
    ddb_exprs_free(&x);
    return out;
}
