/* items — the single-item operations (PutItem, GetItem, UpdateItem,
 * DeleteItem) and what every item operation shares: parsed table
 * descriptions (cached), store keys, a request's expressions, item reads
 * and writes, condition failures. Query and Scan are in items_query.c,
 * the batch and transaction calls in items_batch.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/av.h"
#include "ddb/expr.h"
#include "ddb/ops_int.h"

/* ------------------------------------------------------ table descriptions */

/* Parsed descriptions, shared by every store in the process: an entry is
 * used only when the stored text is the text it was parsed from, so a
 * table changed, dropped, recreated or living in another store is never
 * served stale, and ops.c need not tell us anything. Reading the text is
 * one indexed row; parsing it again would be a few microseconds per call
 * on the hottest path (PutItem, GetItem). */
#define CACHE_SLOTS 32
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ddb_table *cache[CACHE_SLOTS];
static unsigned cache_next;

static void table_free(struct ddb_table *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->text);
    free(t->ix);
    json_decref(t->desc);
    free(t);
}

void ddb_table_close(struct ddb_table *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&cache_mu);
    int last = --t->refs == 0;
    pthread_mutex_unlock(&cache_mu);
    if (last)
        table_free(t);
}

/* Reads HASH and RANGE of a KeySchema with their types. */
static void read_schema(json_t *ks, json_t *defs, struct ddb_keydef *pk, struct ddb_keydef *sk)
{
    size_t i;
    json_t *k;
    json_array_foreach(ks, i, k) {
        const char *n = ddb_str(k, "AttributeName"), *kt = ddb_str(k, "KeyType");
        if (!n || !kt)
            continue;
        struct ddb_keydef *d = strcmp(kt, "HASH") == 0 ? pk : sk;
        d->name = n;
        d->type = ddb_attr_type(defs, n);
    }
}

static struct ddb_table *table_parse(const char *name, char *text)
{
    json_t *desc = json_loads(text, 0, NULL);
    json_t *defs = json_object_get(desc, "AttributeDefinitions");
    if (!desc)
        return NULL;
    struct ddb_table *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->refs = 1;
    t->name = strdup(name);
    t->text = text;
    t->desc = desc;
    t->key_schema = json_object_get(desc, "KeySchema");
    read_schema(t->key_schema, defs, &t->pk, &t->sk);
    size_t n = json_array_size(json_object_get(desc, "GlobalSecondaryIndexes")) +
               json_array_size(json_object_get(desc, "LocalSecondaryIndexes"));
    t->ix = calloc(n ? n : 1, sizeof *t->ix);
    if (!t->name || !t->ix)
        abort();
    static const char *kinds[] = {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"};
    for (int g = 0; g < 2; g++) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(desc, kinds[g]), i, o) {
            struct ddb_index *x = &t->ix[t->nix++];
            x->name = ddb_str(o, "IndexName");
            x->global = g == 0;
            x->key_schema = json_object_get(o, "KeySchema");
            read_schema(x->key_schema, defs, &x->pk, &x->sk);
            json_t *p = json_object_get(o, "Projection");
            const char *pt = ddb_str(p, "ProjectionType");
            x->proj = !pt || strcmp(pt, "ALL") == 0 ? DDB_PROJ_ALL
                      : strcmp(pt, "INCLUDE") == 0  ? DDB_PROJ_INCLUDE
                                                    : DDB_PROJ_KEYS_ONLY;
            x->nonkey = json_object_get(p, "NonKeyAttributes");
            if (!x->name)
                t->nix--;
        }
    }
    if (!t->pk.name || !t->pk.type) {
        t->text = NULL;
        table_free(t);
        return NULL;
    }
    return t;
}

int ddb_table_open(store *st, const char *name, struct ddb_table **out, val_err *err)
{
    *out = NULL;
    if (ddb_table_name_ok(name, "tableName", err) < 0)
        return -1;
    char *text = NULL;
    int r = st->ops->table_get(st, name, &text, err);
    if (r == STORE_NOT_FOUND) {
        val_err_setc(err, VAL_ERR_VALIDATION, "ResourceNotFoundException", "Requested resource not found");
        return -1;
    }
    if (r != STORE_OK)
        return ddb_store_failed(err);
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct ddb_table *c = cache[i];
        if (c && strcmp(c->name, name) == 0 && strcmp(c->text, text) == 0) {
            c->refs++;
            *out = c;
            break;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    if (*out) {
        free(text);
        return 0;
    }
    struct ddb_table *t = table_parse(name, text);
    if (!t) {
        free(text);
        val_err_set(err, VAL_ERR_STORE, "InternalServerError", "the description of table %s is damaged", name);
        return -1;
    }
    /* into the cache: over an older entry of this name, else round robin */
    struct ddb_table *old = NULL;
    pthread_mutex_lock(&cache_mu);
    int slot = -1;
    for (int i = 0; i < CACHE_SLOTS && slot < 0; i++)
        if (cache[i] && strcmp(cache[i]->name, name) == 0)
            slot = i;
    if (slot < 0)
        slot = (int)(cache_next++ % CACHE_SLOTS);
    old = cache[slot];
    if (old && --old->refs > 0)
        old = NULL;
    cache[slot] = t;
    t->refs++;
    pthread_mutex_unlock(&cache_mu);
    table_free(old);
    *out = t;
    return 0;
}

const struct ddb_index *ddb_table_index(const struct ddb_table *t, const char *name)
{
    for (size_t i = 0; name && i < t->nix; i++)
        if (strcmp(t->ix[i].name, name) == 0)
            return &t->ix[i];
    return NULL;
}

/* ------------------------------------------------------------------ keys */

static const char *type_or_null(json_t *av)
{
    const char *t = ddb_av_type(av);
    return t ? t : "NULL";
}

/* Encodes one key attribute of obj; the messages depend on kind. */
static int key_part(const struct ddb_keydef *d, json_t *obj, enum ddb_key_kind kind, int range, val_buf *b,
                    val_err *err)
{
    json_t *av = json_object_get(obj, d->name);
    const char *ty = ddb_av_type(av);
    if (kind == DDB_KEY_ITEM) {
        if (!av) {
            ddb_invalid(err, "One or more parameter values were invalid: Missing the key %s in the item", d->name);
            return -1;
        }
        if (!ty || ty[1] || ty[0] != d->type) {
            ddb_invalid(err, "One or more parameter values were invalid: Type mismatch for key %s expected: %c "
                             "actual: %s",
                        d->name, d->type, type_or_null(av));
            return -1;
        }
    } else if (!ty || ty[1] || ty[0] != d->type) {
        ddb_invalid(err, "The provided key element does not match the schema");
        return -1;
    }
    if (ddb_key_put(b, av, d->type, d->name, err) < 0)
        return -1;
    size_t sz = ddb_av_size(av);
    if (!range && sz > 2048) {
        ddb_invalid(err, "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
                         "limit of2048 bytes");
        return -1;
    }
    if (range && sz > 1024) {
        ddb_invalid(err, "One or more parameter values were invalid: Aggregated size of all range keys has exceeded "
                         "the size limit of 1024 bytes");
        return -1;
    }
    return 0;
}

int ddb_key_encode(const struct ddb_table *t, json_t *obj, enum ddb_key_kind kind, val_buf *b, val_err *err)
{
    if (!json_is_object(obj)) {
        ddb_invalid(err, "The provided key element does not match the schema");
        return -1;
    }
    if (kind == DDB_KEY_KEY && json_object_size(obj) != (t->sk.name ? 2u : 1u)) {
        ddb_invalid(err, "The provided key element does not match the schema");
        return -1;
    }
    if (key_part(&t->pk, obj, kind, 0, b, err) < 0)
        return -1;
    if (t->sk.name && key_part(&t->sk, obj, kind, 1, b, err) < 0)
        return -1;
    return 0;
}

int ddb_index_keys_ok(const struct ddb_table *t, json_t *item, val_err *err)
{
    for (size_t i = 0; i < t->nix; i++) {
        const struct ddb_index *x = &t->ix[i];
        const struct ddb_keydef *ks[2] = {&x->pk, &x->sk};
        for (int k = 0; k < 2; k++) {
            if (!ks[k]->name)
                continue;
            json_t *av = json_object_get(item, ks[k]->name);
            if (!av)
                continue;
            const char *ty = ddb_av_type(av);
            if (!ty || ty[1] || ty[0] != ks[k]->type) {
                ddb_invalid(err, "One or more parameter values were invalid: Type mismatch for Index Key %s Expected: "
                                 "%c Actual: %s IndexName: %s",
                            ks[k]->name, ks[k]->type, type_or_null(av), x->name);
                return -1;
            }
            if ((ty[0] == 'S' || ty[0] == 'B') && json_string_length(json_object_get(av, ty)) == 0) {
                ddb_invalid(err, "One or more parameter values are not valid. A value specified for a secondary "
                                 "index key is not supported. The AttributeValue for a key attribute cannot contain "
                                 "an empty %s value. IndexName: %s, IndexKey: %s",
                            ty[0] == 'S' ? "string" : "binary", x->name, ks[k]->name);
                return -1;
            }
        }
    }
    return 0;
}

json_t *ddb_key_of(const struct ddb_table *t, const struct ddb_index *ix, json_t *item)
{
    json_t *k = json_object();
    const char *names[4] = {t->pk.name, t->sk.name, ix ? ix->pk.name : NULL, ix ? ix->sk.name : NULL};
    for (int i = 0; i < 4; i++) {
        json_t *v = names[i] ? json_object_get(item, names[i]) : NULL;
        if (v)
            json_object_set(k, names[i], v);
    }
    return k;
}

/* ----------------------------------------------------------- expressions */

static const struct {
    unsigned bit;
    const char *member;
    enum ddb_expr_kind kind;
} expr_members[] = {
    {DDB_X_KEYCOND, "KeyConditionExpression", DDB_EXPR_KEY_CONDITION},
    {DDB_X_COND, "ConditionExpression", DDB_EXPR_CONDITION},
    {DDB_X_FILTER, "FilterExpression", DDB_EXPR_CONDITION},
    {DDB_X_UPDATE, "UpdateExpression", DDB_EXPR_UPDATE},
    {DDB_X_PROJ, "ProjectionExpression", DDB_EXPR_PROJECTION},
};

static ddb_expr **expr_slot(struct ddb_exprs *x, unsigned bit)
{
    switch (bit) {
    case DDB_X_KEYCOND: return &x->keycond;
    case DDB_X_COND: return &x->cond;
    case DDB_X_FILTER: return &x->filter;
    case DDB_X_UPDATE: return &x->update;
    default: return &x->proj;
    }
}

void ddb_exprs_free(struct ddb_exprs *x)
{
    if (!x)
        return;
    ddb_expr_free(x->keycond);
    ddb_expr_free(x->cond);
    ddb_expr_free(x->filter);
    ddb_expr_free(x->update);
    ddb_expr_free(x->proj);
    ddb_ctx_free(x->ctx);
    memset(x, 0, sizeof *x);
}

int ddb_exprs_parse(json_t *req, unsigned allowed, struct ddb_exprs *x, val_err *err)
{
    memset(x, 0, sizeof *x);
    json_t *names = json_object_get(req, "ExpressionAttributeNames");
    json_t *values = json_object_get(req, "ExpressionAttributeValues");
    int any = 0;
    for (size_t i = 0; i < sizeof expr_members / sizeof expr_members[0]; i++) {
        json_t *v = (allowed & expr_members[i].bit) ? json_object_get(req, expr_members[i].member) : NULL;
        if (v && !json_is_null(v))
            any = 1;
    }
    if (allowed & DDB_X_PROJ) {
        x->attrs = json_object_get(req, "AttributesToGet");
        if (x->attrs && !json_is_array(x->attrs)) {
            ddb_invalid(err, "AttributesToGet must be a list of attribute names");
            return -1;
        }
        if (x->attrs && json_object_get(req, "ProjectionExpression")) {
            ddb_invalid(err, "Can not use both expression and non-expression parameters in the same request: "
                             "Non-expression parameters: {AttributesToGet} Expression parameters: "
                             "{ProjectionExpression}");
            return -1;
        }
    }
    if (!any) {
        if (names || values) {
            ddb_invalid(err, "%s can only be specified when using expressions",
                        values ? "ExpressionAttributeValues" : "ExpressionAttributeNames");
            return -1;
        }
        return 0;
    }
    if ((names && !json_is_object(names)) || (values && !json_is_object(values))) {
        ddb_invalid(err, "%s must be a map", names && !json_is_object(names) ? "ExpressionAttributeNames"
                                                                            : "ExpressionAttributeValues");
        return -1;
    }
    x->ctx = ddb_ctx_new(names, values, err);
    if (!x->ctx)
        return -1;
    for (size_t i = 0; i < sizeof expr_members / sizeof expr_members[0]; i++) {
        if (!(allowed & expr_members[i].bit))
            continue;
        json_t *v = json_object_get(req, expr_members[i].member);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v)) {
            ddb_invalid(err, "Invalid %s: the expression must be a string", expr_members[i].member);
            goto fail;
        }
        ddb_expr *e = ddb_expr_parse(expr_members[i].kind, json_string_value(v), expr_members[i].member, x->ctx, err);
        if (!e)
            goto fail;
        *expr_slot(x, expr_members[i].bit) = e;
    }
    if (ddb_ctx_check_unused(x->ctx, err) < 0)
        goto fail;
    return 0;
fail:
    ddb_exprs_free(x);
    return -1;
}

json_t *ddb_exprs_project(const struct ddb_exprs *x, json_t *item)
{
    if (x->proj)
        return ddb_project(x->proj, item);
    if (x->attrs) {
        json_t *o = json_object();
        size_t i;
        json_t *n;
        json_array_foreach(x->attrs, i, n) {
            json_t *v = json_is_string(n) ? json_object_get(item, json_string_value(n)) : NULL;
            if (v)
                json_object_set(o, json_string_value(n), v);
        }
        return o;
    }
    return json_incref(item);
}

/* ----------------------------------------------------------- item access */

int ddb_item_load(store *st, const char *table, const val_buf *key, json_t **item, val_err *err)
{
    *item = NULL;
    char *text = NULL;
    int r = st->ops->item_get(st, table, key->p, key->len, &text, err);
    if (r == STORE_NOT_FOUND)
        return 0;
    if (r != STORE_OK)
        return ddb_store_failed(err);
    *item = json_loads(text, JSON_ALLOW_NUL, NULL);
    free(text);
    if (!*item) {
        val_err_setc(err, VAL_ERR_STORE, "InternalServerError", "a stored item is damaged");
        return -1;
    }
    return 0;
}

int ddb_item_save(store *st, const char *table, const val_buf *key, json_t *item, const char *too_big,
                  val_err *err)
{
    size_t size = ddb_item_size(item);
    if (size > DDB_MAX_ITEM) {
        ddb_invalid(err, "%s", too_big);
        return -1;
    }
    size_t len;
    char *text = val_dump(item, &len);
    int r = st->ops->item_put(st, table, key->p, key->len, text, len, (int64_t)size, err);
    free(text);
    if (r == STORE_NOT_FOUND) { /* dropped since we looked: as DynamoDB would say */
        val_err_setc(err, VAL_ERR_VALIDATION, "ResourceNotFoundException", "Requested resource not found");
        return -1;
    }
    return r == STORE_OK ? 0 : ddb_store_failed(err);
}

int ddb_cond_failed(val_err *err, json_t **extra, json_t *old, int want_old)
{
    val_err_setc(err, VAL_ERR_VALIDATION, "ConditionalCheckFailedException", "The conditional request failed");
    if (extra && want_old && old) {
        *extra = json_object();
        json_object_set(*extra, "Item", old);
    }
    return -1;
}

int ddb_rv_on_fail(json_t *req, val_err *err)
{
    json_t *v = json_object_get(req, "ReturnValuesOnConditionCheckFailure");
    if (!v || json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    if (s && strcmp(s, "ALL_OLD") == 0)
        return 1;
    if (s && strcmp(s, "NONE") == 0)
        return 0;
    ddb_invalid(err, "1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to "
                     "satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
                s ? s : "?");
    return -1;
}

int ddb_bool(json_t *req, const char *k, const char *member, int dflt, val_err *err)
{
    json_t *v = json_object_get(req, k);
    if (!v || json_is_null(v))
        return dflt;
    if (json_is_boolean(v))
        return json_is_true(v);
    char *text = val_dump(v, NULL);
    ddb_invalid(err, "1 validation error detected: Value '%.64s' at '%s' failed to satisfy constraint: Member must "
                     "be a boolean",
                text, member);
    free(text);
    return -1;
}

int ddb_no_legacy(json_t *req, val_err *err)
{
    static const char *const legacy[][2] = {
        {"Expected", "ConditionExpression"},   {"KeyConditions", "KeyConditionExpression"},
        {"QueryFilter", "FilterExpression"},   {"ScanFilter", "FilterExpression"},
        {"AttributeUpdates", "UpdateExpression"}, {"ConditionalOperator", "ConditionExpression"},
    };
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++)
        if (json_object_get(req, legacy[i][0])) {
            ddb_invalid(err, "The legacy parameter %s is not supported by stepd; use %s instead", legacy[i][0],
                        legacy[i][1]);
            return -1;
        }
    return 0;
}

void ddb_consumed(json_t *out, json_t *req, const char *table, size_t bytes, int write)
{
    const char *rc = ddb_str(req, "ReturnConsumedCapacity");
    if (!rc || strcmp(rc, "NONE") == 0)
        return;
    double units;
    if (write)
        units = bytes ? (double)((bytes + 1023) / 1024) : 1.0;
    else {
        size_t blocks = bytes ? (bytes + 4095) / 4096 : 1;
        units = (double)blocks * (json_is_true(json_object_get(req, "ConsistentRead")) ? 1.0 : 0.5);
    }
    json_t *cc = json_object();
    val_obj_set_take(cc, "TableName", json_string(table));
    val_obj_set_take(cc, "CapacityUnits", json_real(units));
    if (strcmp(rc, "INDEXES") == 0)
        val_obj_set_take(cc, "Table", json_pack("{s:f}", "CapacityUnits", units));
    val_obj_set_take(out, "ConsumedCapacity", cc);
}

/* ------------------------------------------------------ return values */

enum rv { RV_NONE, RV_ALL_OLD, RV_UPDATED_OLD, RV_ALL_NEW, RV_UPDATED_NEW };

/* ReturnValues; update says which values the operation allows (all for
 * UpdateItem, NONE and ALL_OLD otherwise). */
static int return_values(json_t *req, int update, enum rv *out, val_err *err)
{
    static const char *const names[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"};
    json_t *v = json_object_get(req, "ReturnValues");
    *out = RV_NONE;
    if (!v || json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            if (!update && i != RV_NONE && i != RV_ALL_OLD) {
                ddb_invalid(err, "Return values set to invalid value");
                return -1;
            }
            *out = (enum rv)i;
            return 0;
        }
    ddb_invalid(err, "1 validation error detected: Value '%s' at 'returnValues' failed to satisfy constraint: Member "
                     "must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
                s ? s : "?");
    return -1;
}

/* Adds "Attributes": v (taken) to out unless v is NULL or empty. */
static void set_attributes(json_t *out, json_t *v)
{
    if (v && json_object_size(v))
        val_obj_set_take(out, "Attributes", v);
    else
        json_decref(v);
}

/* ------------------------------------------------ single-item operations */

/* What every single-item call starts with: the table and the request's
 * expressions. */
struct call {
    struct ddb_table *t;
    struct ddb_exprs x;
    val_buf key;
};

static int call_open(store *st, json_t *req, unsigned exprs, struct call *c, val_err *err)
{
    memset(c, 0, sizeof *c);
    if (ddb_no_legacy(req, err) < 0 || ddb_exprs_parse(req, exprs, &c->x, err) < 0)
        return -1;
    if (ddb_table_open(st, ddb_str(req, "TableName"), &c->t, err) < 0) {
        ddb_exprs_free(&c->x);
        return -1;
    }
    return 0;
}

static void call_close(struct call *c)
{
    ddb_table_close(c->t);
    ddb_exprs_free(&c->x);
    val_buf_free(&c->key);
}

/* Canonicalises the Key member and encodes it into c->key; *key gets the
 * canonical Key (a new reference). */
static int read_key(struct call *c, json_t *req, json_t **key, val_err *err)
{
    json_t *k = json_object_get(req, "Key");
    if (!json_is_object(k)) {
        ddb_invalid(err, "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must "
                         "not be null");
        return -1;
    }
    *key = ddb_item_canon(k, err);
    if (!*key)
        return -1;
    if (ddb_key_encode(c->t, *key, DDB_KEY_KEY, &c->key, err) < 0) {
        json_decref(*key);
        *key = NULL;
        return -1;
    }
    return 0;
}

/* Runs the call's condition on old (NULL: no item): 0 when it holds (or
 * there is none), -1 with err (ConditionalCheckFailedException and
 * *extra per ReturnValuesOnConditionCheckFailure, or an evaluation error). */
static int check_condition(struct call *c, json_t *old, int want_old, json_t **extra, val_err *err)
{
    if (!c->x.cond)
        return 0;
    int ok = ddb_cond_eval(c->x.cond, old, err);
    if (ok < 0)
        return -1;
    return ok ? 0 : ddb_cond_failed(err, extra, old, want_old);
}

static json_t *op_put(store *st, json_t *req, json_t **extra, val_err *err)
{
    struct call c;
    enum rv rv;
    int want_old = ddb_rv_on_fail(req, err);
    if (want_old < 0 || return_values(req, 0, &rv, err) < 0 || call_open(st, req, DDB_X_COND, &c, err) < 0)
        return NULL;
    json_t *out = NULL, *item = NULL, *old = NULL;
    json_t *given = json_object_get(req, "Item");
    if (!json_is_object(given)) {
        ddb_invalid(err, "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must "
                         "not be null");
        goto done;
    }
    item = ddb_item_canon(given, err);
    if (!item || ddb_key_encode(c.t, item, DDB_KEY_ITEM, &c.key, err) < 0 || ddb_index_keys_ok(c.t, item, err) < 0)
        goto done;
    /* the old item only when something needs it: a plain put stays one write */
    if ((c.x.cond || rv == RV_ALL_OLD) && ddb_item_load(st, c.t->name, &c.key, &old, err) < 0)
        goto done;
    if (check_condition(&c, old, want_old, extra, err) < 0 ||
        ddb_item_save(st, c.t->name, &c.key, item, "Item size has exceeded the maximum allowed size", err) < 0)
        goto done;
    out = json_object();
    if (rv == RV_ALL_OLD && old)
        json_object_set(out, "Attributes", old);
    if (json_object_get(req, "ReturnConsumedCapacity"))
        ddb_consumed(out, req, c.t->name, ddb_item_size(item), 1);
done:
    json_decref(item);
    json_decref(old);
    call_close(&c);
    return out;
}

static json_t *op_get(store *st, json_t *req, val_err *err)
{
    struct call c;
    if (ddb_bool(req, "ConsistentRead", "consistentRead", 0, err) < 0 || call_open(st, req, DDB_X_PROJ, &c, err) < 0)
        return NULL;
    json_t *out = NULL, *key = NULL, *item = NULL;
    if (read_key(&c, req, &key, err) < 0 || ddb_item_load(st, c.t->name, &c.key, &item, err) < 0)
        goto done;
    out = json_object();
    if (item)
        val_obj_set_take(out, "Item", ddb_exprs_project(&c.x, item));
    if (json_object_get(req, "ReturnConsumedCapacity"))
        ddb_consumed(out, req, c.t->name, item ? ddb_item_size(item) : 0, 0);
done:
    json_decref(key);
    json_decref(item);
    call_close(&c);
    return out;
}

static json_t *op_delete(store *st, json_t *req, json_t **extra, val_err *err)
{
    struct call c;
    enum rv rv;
    int want_old = ddb_rv_on_fail(req, err);
    if (want_old < 0 || return_values(req, 0, &rv, err) < 0 || call_open(st, req, DDB_X_COND, &c, err) < 0)
        return NULL;
    json_t *out = NULL, *key = NULL, *old = NULL;
    if (read_key(&c, req, &key, err) < 0)
        goto done;
    if ((c.x.cond || rv == RV_ALL_OLD) && ddb_item_load(st, c.t->name, &c.key, &old, err) < 0)
        goto done;
    if (check_condition(&c, old, want_old, extra, err) < 0)
        goto done;
    int r = st->ops->item_delete(st, c.t->name, c.key.p, c.key.len, err);
    if (r != STORE_OK && r != STORE_NOT_FOUND) {
        ddb_store_failed(err);
        goto done;
    }
    out = json_object();
    if (rv == RV_ALL_OLD && old)
        json_object_set(out, "Attributes", old);
    if (json_object_get(req, "ReturnConsumedCapacity"))
        ddb_consumed(out, req, c.t->name, old ? ddb_item_size(old) : 0, 1);
done:
    json_decref(key);
    json_decref(old);
    call_close(&c);
    return out;
}

/* The new item of an UpdateItem: old's copy (or the key alone for a new
 * item) with the update applied. NULL with err. Shared with
 * TransactWriteItems through ddb_update_new. */
json_t *ddb_update_new(const struct ddb_table *t, const ddb_expr *update, json_t *key, json_t *old, val_err *err)
{
    json_t *item = old ? json_deep_copy(old) : json_deep_copy(key);
    if (!item)
        abort();
    if (update && ddb_update_apply(update, item, t->key_schema, err) < 0) {
        json_decref(item);
        return NULL;
    }
    if (ddb_index_keys_ok(t, item, err) < 0) {
        json_decref(item);
        return NULL;
    }
    return item;
}

static json_t *op_update(store *st, json_t *req, json_t **extra, val_err *err)
{
    struct call c;
    enum rv rv;
    int want_old = ddb_rv_on_fail(req, err);
    if (want_old < 0 || return_values(req, 1, &rv, err) < 0 ||
        call_open(st, req, DDB_X_COND | DDB_X_UPDATE, &c, err) < 0)
        return NULL;
    json_t *out = NULL, *key = NULL, *old = NULL, *item = NULL;
    if (read_key(&c, req, &key, err) < 0 || ddb_item_load(st, c.t->name, &c.key, &old, err) < 0 ||
        check_condition(&c, old, want_old, extra, err) < 0)
        goto done;
    item = ddb_update_new(c.t, c.x.update, key, old, err);
    if (!item ||
        ddb_item_save(st, c.t->name, &c.key, item, "Item size to update has exceeded the maximum allowed size",
                      err) < 0)
        goto done;
    out = json_object();
    switch (rv) {
    case RV_NONE: break;
    case RV_ALL_OLD: set_attributes(out, json_incref(old)); break;
    case RV_ALL_NEW: set_attributes(out, json_incref(item)); break;
    case RV_UPDATED_OLD: set_attributes(out, old && c.x.update ? ddb_update_project(c.x.update, old) : NULL); break;
    case RV_UPDATED_NEW: set_attributes(out, c.x.update ? ddb_update_project(c.x.update, item) : NULL); break;
    }
    if (json_object_get(req, "ReturnConsumedCapacity"))
        ddb_consumed(out, req, c.t->name, ddb_item_size(item), 1);
done:
    json_decref(key);
    json_decref(old);
    json_decref(item);
    call_close(&c);
    return out;
}

/* ------------------------------------------------------------- dispatch */

/* Runs one single-item operation in one store transaction: its reads
 * (the description, the old item) and its write then cost one lock round
 * instead of one per statement, and a write goes through the store's
 * commit, which keeps the WAL checkpointed. */
static json_t *in_tx(store *st, json_t *(*fn)(store *, json_t *, json_t **, val_err *), json_t *req,
                     const struct ddb_env *env, json_t **extra, val_err *err)
{
    if (ddb_tx_begin(st, env, err) < 0)
        return NULL;
    json_t *out = fn(st, req, extra, err);
    if (!out)
        ddb_tx_undo(st, env);
    else if (ddb_tx_commit(st, env, err) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *ddb_items_call(store *st, const char *op, json_t *req, const struct ddb_env *env, json_t **extra,
                       val_err *err)
{
    if (strcmp(op, "PutItem") == 0)
        return in_tx(st, op_put, req, env, extra, err);
    if (strcmp(op, "GetItem") == 0)
        return op_get(st, req, err);
    if (strcmp(op, "UpdateItem") == 0)
        return in_tx(st, op_update, req, env, extra, err);
    if (strcmp(op, "DeleteItem") == 0)
        return in_tx(st, op_delete, req, env, extra, err);
    if (strcmp(op, "Query") == 0)
        return ddb_op_query(st, req, 0, err);
    if (strcmp(op, "Scan") == 0)
        return ddb_op_query(st, req, 1, err);
    if (strcmp(op, "BatchWriteItem") == 0)
        return ddb_op_batch_write(st, req, env, err);
    if (strcmp(op, "BatchGetItem") == 0)
        return ddb_op_batch_get(st, req, err);
    if (strcmp(op, "TransactWriteItems") == 0)
        return ddb_op_transact_write(st, req, env, extra, err);
    if (strcmp(op, "TransactGetItems") == 0)
        return ddb_op_transact_get(st, req, err);
    return NULL;
}
